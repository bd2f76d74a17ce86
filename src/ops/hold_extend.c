/*
 * hold_extend.c
 *	  wallet.extend_hold: a hold's expiry moved later, on the shared
 *	  pipeline: to clock + ttl, never earlier than it was, at most 30 days
 *	  after the hold was made. The hold's reserved pieces carry the new
 *	  expiry in the wallet's lots; no money moves (a journal row without
 *	  postings).
 */
#include "ops/holds.h"

PG_FUNCTION_INFO_V1(wallet_extend_hold);

/*
 * wallet.extend_hold(hold_id, ttl, idempotency_key) returns (expires_at,
 * replayed).
 */
static Datum
extend_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	int64		hold_id = op_int8_arg(fcinfo, 0, "hold_id");
	Interval   *ttl = hold_ttl(fcinfo, 1);
	WalletRow	w;
	HoldRow		h;
	Jsonb	   *req;
	Jsonb	   *prior;
	JB			jb;
	TimestampTz expires_at;
	bool		replayed = false;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	op_start();
	hold_lock(hold_id, &w, &h);
	jb_begin(&jb);
	jb_int(&jb, "hold_id", hold_id);
	jb_text(&jb, "ttl", ttl_text(ttl));
	req = jb_end(&jb);
	prior = find_replay(&w, key, "extend_hold", req);
	if (prior != NULL)
	{
		expires_at = jsonb_time(prior, "expires_at");
		replayed = true;
	}
	else
	{
		LotBuilder *b = lotset_unpack(w.lots);
		TimestampTz latest = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																	 TimestampTzGetDatum(h.created_at),
																	 IntervalPGetDatum(&hold_ttl_max)));
		Postings	legs;
		int64		txn_id;

		refuse_unless_open(&h, clk, "extended");
		expires_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(clk),
															 IntervalPGetDatum(ttl)));
		expires_at = Min(Max(expires_at, h.expires_at), Max(latest, h.expires_at));
		engine_hold_extend(b, hold_id, expires_at);
		txn_id = nextval_internal(plans.txn_seq, false);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		jb_time(&jb, "expires_at", expires_at);
		postings_init(&legs);
		if (!write_op(&w, b, txn_id, "extend_hold", 0, clk, key, h.hold_txn, req, jb_end(&jb),
					  legs_of(&legs, "extend_hold"), NULL))
			elog(ERROR, "wallet %lld changed under its lock", (long long) w.id);
		hold_change(&h, "open", 0, 0, expires_at);
	}
	op_leave(caller);
	values[0] = TimestampTzGetDatum(expires_at);
	values[1] = BoolGetDatum(replayed);
	{
		static const Oid types[2] = {TIMESTAMPTZOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_extend_hold(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(extend_body, fcinfo);
}
