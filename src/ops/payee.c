/*
 * payee.c
 *	  The payee of a spend or a hold, the receiver of a transfer: an existing
 *	  wallet of the payer's currency, not the payer itself. Checked without a lock (a wallet is
 *	  never deleted and never changes currency); the refusal is raised apart,
 *	  so that a spend can first look for a replay of its key.
 */
#include "ops/ops.h"

/*
 * payee_problem returns what is wrong with payee for wallet w (PAYEE_OK if
 * nothing); *currency is the payee's currency when it exists.
 */
PayeeProblem
payee_problem(const WalletRow *w, int64 payee, char **currency)
{
	Relation	rel;
	HeapTuple	tup;
	bool		isnull;

	*currency = NULL;
	direct_begin();
	rel = table_open(rel_of("wallet"), AccessShareLock);
	tup = fetch_wallet(rel, payee);
	if (tup)
	{
		*currency = TextDatumGetCString(heap_getattr(tup, att_of(rel, "currency"), RelationGetDescr(rel), &isnull));
		heap_freetuple(tup);
	}
	table_close(rel, NoLock);
	direct_end();
	if (*currency == NULL)
		return PAYEE_MISSING;
	if (strcmp(*currency, w->currency) != 0)
		return PAYEE_CURRENCY;
	if (payee == w->id)
		return PAYEE_SELF;
	return PAYEE_OK;
}

/*
 * counterparty_refuse raises the error of a payee_problem for the wallet
 * that argument argname names (a spend's payee, a transfer's to_wallet);
 * noun names it when it does not exist ("payee wallet").
 */
void
counterparty_refuse(PayeeProblem p, const WalletRow *w, int64 id, const char *currency, const char *argname,
					const char *noun)
{
	switch (p)
	{
		case PAYEE_OK:
			return;
		case PAYEE_MISSING:
			ereport(ERROR,
					(errcode(ERRCODE_WL('6')),
					 errmsg("%s %lld does not exist", noun, (long long) id)));
			break;
		case PAYEE_CURRENCY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be a wallet of the same currency", argname),
					 errdetail("Wallet %lld holds %s, %s %lld holds %s.", (long long) w->id,
							   w->currency, argname, (long long) id, currency)));
			break;
		case PAYEE_SELF:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be another wallet", argname)));
			break;
	}
}

/* payee_refuse raises the error of a payee_problem of a spend's or a hold's payee. */
void
payee_refuse(PayeeProblem p, const WalletRow *w, int64 payee, const char *currency)
{
	counterparty_refuse(p, w, payee, currency, "payee", "payee wallet");
}
