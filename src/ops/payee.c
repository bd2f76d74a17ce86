/*
 * payee.c
 *	  The payee of a spend or a hold: an existing wallet of the payer's
 *	  currency, not the payer itself. Checked without a lock (a wallet is
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
	ScanKeyData k;
	HeapTuple	tup;
	bool		isnull;

	*currency = NULL;
	direct_begin();
	rel = table_open(rel_of("wallet"), AccessShareLock);
	key_int8(&k, att_of(rel, "wallet_id"), payee);
	tup = fetch_one(rel, "wallet_pkey", 1, &k);
	if (tup)
	{
		Row			row;

		row_of(&row, rel, tup);
		*currency = TextDatumGetCString(getattr(&row, "currency", &isnull));
		row_free(&row);
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

/* payee_refuse raises the error of a payee_problem. */
void
payee_refuse(PayeeProblem p, const WalletRow *w, int64 payee, const char *currency)
{
	switch (p)
	{
		case PAYEE_OK:
			return;
		case PAYEE_MISSING:
			ereport(ERROR,
					(errcode(ERRCODE_WL('6')),
					 errmsg("payee wallet %lld does not exist", (long long) payee)));
			break;
		case PAYEE_CURRENCY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("payee must be a wallet of the same currency"),
					 errdetail("Wallet %lld holds %s, payee %lld holds %s.", (long long) w->id,
							   w->currency, (long long) payee, currency)));
			break;
		case PAYEE_SELF:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("payee must be another wallet")));
			break;
	}
}
