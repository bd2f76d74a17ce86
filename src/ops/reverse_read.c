/*
 * reverse_read.c
 *	  What reverse_spend reads before it reverses: the spend (a spend, a
 *	  hold's capture or a split payment) from its journal row, the earlier
 *	  reversals of it added up, and its wallets (the spender's, its payees',
 *	  the points wallet its reward went to) locked in wallet-id order.
 */
#include "ops/reversal.h"

static OpPlan spend_row = OP_PLAN(
	"SELECT wallet_id, result, pieces, created_at, kind = 'capture_hold' FROM wallet.txn WHERE txn_id = $1 "
	"AND kind IN ('spend', 'capture_hold', 'spend_split')",
	1, INT8OID);
static OpPlan earlier = OP_PLAN(
	"SELECT amount, pieces, result FROM wallet.txn WHERE ref_txn = $1 AND kind = 'reverse_spend'",
	1, INT8OID);
/* spend_of takes a spend's journal result apart. */
static void
spend_of(SpendTxn *sp, Jsonb *res)
{
	JsonbValue *v;

	sp->charged = jsonb_int(res, "charged");
	sp->hold_id = jsonb_int_or_zero(res, "hold_id");
	sp->discount = jsonb_int_or_zero(res, "discount");
	sp->given[BUCKET_BONUS] = jsonb_int_or_zero(res, "bonus_used");
	sp->given[BUCKET_CASH] = jsonb_int_or_zero(res, "cash_used");
	sp->given[BUCKET_EARNINGS] = jsonb_int_or_zero(res, "earnings_used");
	sp->points = jsonb_int_or_zero(res, "points");
	sp->points_wallet = jsonb_int_or_zero(res, "points_wallet");
	sp->split = jsonb_member(res, "payees") != NULL;
	if (sp->split)
	{
		int			np;
		int			nc;

		sp->payees = jsonb_int_array(res, "payees", &sp->npayees);
		sp->parts = jsonb_int_array(res, "parts", &np);
		sp->credits = jsonb_int_array(res, "payee_credits", &nc);
		if (np != sp->npayees || nc != sp->npayees)
			elog(ERROR, "the payees of spend %lld do not match their parts", (long long) sp->txn_id);
		return;
	}
	/* a spend without a payee leaves the member out, or (0.1) stores null */
	v = jsonb_member(res, "payee");
	sp->npayees = v != NULL && v->type == jbvNumeric ? 1 : 0;
	sp->payees = palloc(sizeof(int64));
	sp->parts = palloc(sizeof(int64));
	sp->credits = palloc(sizeof(int64));
	sp->payees[0] = sp->npayees > 0 ?
		DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric))) : 0;
	sp->parts[0] = sp->charged;
	sp->credits[0] = jsonb_int_or_zero(res, "payee_credit");
}

/* found_spend keeps the spend's row (journal_lookup on txn_id). */
static bool
found_spend(Row *row, void *arg)
{
	SpendTxn   *sp = (SpendTxn *) arg;
	bool		isnull;
	Datum		d;

	/* a capture of a hold, and a split payment, are spends for their reversal */
	if (!journal_kind_is(row, "spend") && !journal_kind_is(row, "capture_hold") &&
		!journal_kind_is(row, "spend_split"))
		return true;
	sp->wallet_id = DatumGetInt64(getattr(row, "wallet_id", &isnull));
	sp->counted_at = DatumGetTimestampTz(getattr(row, "created_at", &isnull));
	sp->capture = journal_kind_is(row, "capture_hold");
	spend_of(sp, DatumGetJsonbPCopy(getattr(row, "result", &isnull)));
	d = getattr(row, "pieces", &isnull);
	sp->pieces = isnull ? NULL : (LotSet *) PG_DETOAST_DATUM_COPY(d);
	sp->found = true;
	return false;
}

/* read_spend reads spend txn_id's journal row, or raises WL006. */
void
read_spend(int64 txn_id, SpendTxn *sp)
{
	sp->txn_id = txn_id;
	sp->found = false;
	sp->pieces = NULL;
	if (!journal_lookup("txn_id", txn_id, found_spend, sp))
	{
		Datum		args[1] = {Int64GetDatum(txn_id)};
		bool		isnull;
		Datum		d;

		if (run_plan(op_plan(&spend_row), args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the journal");
		if (SPI_processed > 0)
		{
			sp->found = true;
			sp->wallet_id = DatumGetInt64(getcol(1, &isnull));
			sp->counted_at = DatumGetTimestampTz(getcol(4, &isnull));
			sp->capture = DatumGetBool(getcol(5, &isnull));
			spend_of(sp, DatumGetJsonbP(getcol(2, &isnull)));
			d = getcol(3, &isnull);
			sp->pieces = isnull ? NULL : DatumGetLotSetP(d);
		}
	}
	if (!sp->found)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("spend %lld does not exist", (long long) txn_id)));
	if (sp->pieces == NULL)
		sp->pieces = lotset_pack(new_builder(1));
	if (sp->capture)
	{
		/* the limits counted a capture's money when its hold was made */
		HoldRow		h;

		if (sp->hold_id != 0 && read_hold(sp->hold_id, false, &h))
			sp->counted_at = h.created_at;
	}
}

/*
 * one_reversal adds up an earlier reversal (res: its journal result): a
 * reversal of a split payment names what it took of each payee's part and
 * from each payee; of a spend's one payee, its amount and payee_back.
 */
static void
one_reversal(Reversed *rv, int64 amount, Datum pieces, bool no_pieces, Jsonb *res)
{
	rv->n++;
	rv->done = checked_add(rv->done, amount);
	rv->points_done = checked_add(rv->points_done, jsonb_int_or_zero(res, "points_back"));
	if (!no_pieces)
		engine_lots_minus(rv->remaining, lotset_unpack(DatumGetLotSetP(pieces)));
	if (jsonb_member(res, "payee_parts") != NULL)
	{
		int			np;
		int			nb;
		int64	   *parts = jsonb_int_array(res, "payee_parts", &np);
		int64	   *backs = jsonb_int_array(res, "payee_backs", &nb);

		if (np != rv->npayees || nb != rv->npayees)
			elog(ERROR, "a reversal names other payees than its spend");
		for (int i = 0; i < rv->npayees; i++)
		{
			rv->part_done[i] = checked_add(rv->part_done[i], parts[i]);
			rv->back_done[i] = checked_add(rv->back_done[i], backs[i]);
		}
	}
	else if (rv->npayees > 0)
	{
		rv->part_done[0] = checked_add(rv->part_done[0], amount);
		rv->back_done[0] = checked_add(rv->back_done[0], jsonb_int_or_zero(res, "payee_back"));
	}
}

/* found_reversal adds up a reversal of the spend (journal_lookup on ref_txn). */
static bool
found_reversal(Row *row, void *arg)
{
	Reversed   *rv = (Reversed *) arg;
	bool		isnull;
	bool		no_pieces;
	Datum		pieces;

	if (!journal_kind_is(row, "reverse_spend"))
		return true;
	pieces = getattr(row, "pieces", &no_pieces);
	one_reversal(rv, DatumGetInt64(getattr(row, "amount", &isnull)), pieces, no_pieces,
				 DatumGetJsonbP(getattr(row, "result", &isnull)));
	return true;
}

/* read_reversed adds up the spend's earlier reversals. */
void
read_reversed(const SpendTxn *sp, Reversed *rv)
{
	Datum		args[1] = {Int64GetDatum(sp->txn_id)};
	SPITupleTable *tt;

	rv->remaining = lotset_unpack(sp->pieces);
	rv->n = 0;
	rv->done = 0;
	rv->points_done = 0;
	rv->npayees = sp->npayees;
	rv->part_done = palloc0(sizeof(int64) * Max(sp->npayees, 1));
	rv->back_done = palloc0(sizeof(int64) * Max(sp->npayees, 1));
	if (journal_lookup("ref_txn", sp->txn_id, found_reversal, rv))
		return;
	if (run_plan(op_plan(&earlier), args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the journal");
	tt = SPI_tuptable;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bool		no_pieces;
		Datum		pieces = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &no_pieces);

		one_reversal(rv, DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull)), pieces, no_pieces,
					 DatumGetJsonbP(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull)));
	}
}

/*
 * reversal_lock reads the spender's wallet (w; locked with lock) and locks
 * and reads each payee's (pw, in the spend's order of payees) and the points
 * wallet its reward went to (ptw), every wallet in wallet-id order.
 */
void
reversal_lock(const SpendTxn *sp, bool lock, WalletRow *w, WalletRow *pw, WalletRow *ptw)
{
	int			n = sp->npayees + 1 + (sp->points > 0 ? 1 : 0);
	int64	   *ids = palloc(sizeof(int64) * n);

	ids[0] = sp->wallet_id;
	for (int i = 0; i < sp->npayees; i++)
		ids[i + 1] = sp->payees[i];
	if (sp->points > 0)
		ids[n - 1] = sp->points_wallet;
	/* few wallets: an insertion sort */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ids[j] < ids[j - 1]; j--)
		{
			int64		t = ids[j];

			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	for (int k = 0; k < n; k++)
	{
		if (ids[k] == sp->wallet_id)
		{
			read_wallet(sp->wallet_id, lock, false, w);
			continue;
		}
		if (sp->points > 0 && ids[k] == sp->points_wallet)
		{
			read_wallet(ids[k], true, false, ptw);
			continue;
		}
		for (int i = 0; i < sp->npayees; i++)
			if (sp->payees[i] == ids[k] && shard_local(ids[k]))	/* else asked back by message */
				read_wallet(ids[k], true, false, &pw[i]);
	}
}
