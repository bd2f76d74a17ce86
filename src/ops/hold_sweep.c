/*
 * hold_sweep.c
 *	  wallet.expire_holds: the holds whose time has passed given back and
 *	  journaled (holds_give_back_due), for wallets no operation has touched
 *	  since. A hold past its expiry already reserves nothing (engine_reserved);
 *	  the sweep only writes it down. Wallets locked by others are skipped and
 *	  taken by the next run, as the bonus sweep does. On a shard of several it
 *	  then writes down the group payments past their time
 *	  (groups_expire_due), whose shares held on other shards it releases.
 *
 *	  The sweep finds them by the index of holds it has still to visit
 *	  (hold_due: expires_at, where not swept), which a capture or a release
 *	  leaves alone so that their update of the hold's row is a HOT one. A hold
 *	  closed before its time therefore stays in that index until its time
 *	  passes; the sweep then marks it swept (mark_swept), which takes it out.
 */
#include "ops/holds.h"

PG_FUNCTION_INFO_V1(wallet_expire_holds);

/* the wallets with an open hold past its expiry, soonest first, batch_size holds at most */
static OpPlan due = OP_PLAN(
	"SELECT wallet_id FROM (SELECT h.wallet_id, min(h.expires_at) AS first FROM "
	"(SELECT wallet_id, expires_at FROM wallet.hold WHERE NOT swept AND status = 'open' AND expires_at <= $1 "
	"ORDER BY expires_at LIMIT $2) h GROUP BY h.wallet_id) d ORDER BY first, wallet_id",
	2, TIMESTAMPTZOID, INT4OID);

/* batch_size holds at most, closed and past their time, marked swept (skipping rows locked by others) */
static OpPlan swept = OP_PLAN(
	"UPDATE wallet.hold SET swept = true WHERE hold_id IN (SELECT hold_id FROM wallet.hold "
	"WHERE NOT swept AND status <> 'open' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 "
	"FOR UPDATE SKIP LOCKED)",
	2, TIMESTAMPTZOID, INT4OID);

/*
 * mark_swept marks swept every hold closed and past its time at clk, batch
 * at a time until a batch comes back short (the rest, locked by others, is
 * the next run's): a capture or a release before the hold's time leaves
 * that to this sweep. Returns how many it marked.
 */
static uint64
mark_swept(TimestampTz clk, int32 batch)
{
	Datum		args[2] = {TimestampTzGetDatum(clk), Int32GetDatum(batch)};
	uint64		n = 0;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (run_plan(op_plan(&swept), args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not mark the holds past their time");
		n += SPI_processed;
		if (SPI_processed < (uint64) batch)
			return n;
	}
}

/* wallet.expire_holds(batch_size int) returns (holds int): how many it gave back. */
static Datum
sweep_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int32		batch;
	int			n = 0;
	int64	   *wallets;
	uint64		nw;

	batch = op_count_arg(fcinfo, 0, "batch_size", PG_INT32_MAX);
	op_start();
	wallets = sweep_due(&due, clk, batch, "holds", &nw);
	for (uint64 i = 0; i < nw; i++)
	{
		WalletRow	w;
		LotBuilder *b;
		int			ended;

		if (!sweep_lock_wallet(wallets[i]))
			continue;			/* locked by another: the next run takes it */
		read_wallet(wallets[i], true, false, &w);
		b = lotset_unpack(w.lots);
		ended = holds_give_back_due(&w, b, clk);
		n += ended;
	}
	/* those closed before their time, and those just given back */
	(void) mark_swept(clk, batch);
	(void) groups_expire_due(clk, batch);
	op_leave(caller);
	/* RETURNS TABLE of one column: the value itself */
	PG_RETURN_INT32(n);
}

Datum
wallet_expire_holds(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(sweep_body, fcinfo);
}
