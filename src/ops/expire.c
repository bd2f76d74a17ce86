/*
 * expire.c
 *	  wallet.expire_bonus: one batch of the expiry sweep. The due wallets
 *	  nobody else holds are locked, their lots expired in C (lots_expire) and
 *	  written back (the next expiry moves on even when nothing was left to
 *	  expire), in one statement; the wallets that lost bonus get one
 *	  expire_bonus journal row each, appended at the journal's end
 *	  (wallet._journal_expired, its legs the account rules').
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_expire_bonus);

/*
 * The batch's rows are written back through the primary key: a hash or
 * merge join would read the whole wallet table for every batch (a batch of
 * 10,000 of 200,000 wallets: 245 ms with the hash join the planner picks,
 * 141 ms through the key); the function's SET clauses turn them off.
 */
static OpPlan sweep = OP_PLAN(
	"WITH l AS MATERIALIZED ("
	" SELECT x.wallet_id, x.currency, x.lots FROM wallet.wallet x"
	" WHERE x.next_expiry <= $1 ORDER BY x.next_expiry LIMIT $2 FOR UPDATE SKIP LOCKED),"
	" s AS MATERIALIZED ("
	" SELECT l.wallet_id, l.currency, e.lots AS ls, e.expired, e.lots_expired"
	" FROM l CROSS JOIN LATERAL wallet.lots_expire(l.lots, $1) e),"
	" u AS ("
	" UPDATE wallet.wallet w SET lots = s.ls, next_expiry = (wallet.lots_totals(s.ls, NULL, $1)).next_expiry,"
	" version = w.version + 1 FROM s WHERE w.wallet_id = s.wallet_id)"
	" SELECT array_agg(s.wallet_id ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),"
	" array_agg(s.currency ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),"
	" array_agg(s.expired ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),"
	" array_agg(s.lots_expired ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),"
	" (count(*) FILTER (WHERE s.expired > 0))::int, coalesce(sum(s.lots_expired), 0)::int FROM s",
	2, TIMESTAMPTZOID, INT4OID);
static OpPlan journal = OP_PLAN(
	"SELECT wallet._journal_expired($1, $2, $3, $4, $5)",
	5, INT8ARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT4ARRAYOID, TIMESTAMPTZOID);

/*
 * wallet.expire_bonus(batch_size int) sweeps one batch of at most batch_size
 * due wallets and returns (wallets, lots): the wallets that lost bonus and
 * the lots expired.
 */
static Datum
expire_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	Datum		args[5];
	bool		isnull;
	int32		wallets;
	int32		lots;

	args[1] = Int32GetDatum(op_count_arg(fcinfo, 0, "batch_size", 1000000));
	op_start();
	args[0] = TimestampTzGetDatum(clk);
	if (run_plan(op_plan(&sweep), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not sweep expired bonus");
	wallets = DatumGetInt32(getcol(5, &isnull));
	lots = DatumGetInt32(getcol(6, &isnull));
	(void) getcol(1, &isnull);
	if (!isnull)
	{
		for (int i = 0; i < 4; i++)
			args[i] = getcol(i + 1, &isnull);
		args[4] = TimestampTzGetDatum(clk);
		if (run_plan(op_plan(&journal), args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not journal expired bonus");
	}
	op_leave(caller);
	{
		Datum		values[2] = {Int32GetDatum(wallets), Int32GetDatum(lots)};
		bool		nulls[2] = {false, false};
		static const Oid types[2] = {INT4OID, INT4OID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_expire_bonus(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(expire_body, fcinfo);
}
