/*
 * hold_capture.c
 *	  wallet.capture_hold: a charge of what a hold reserves, in spending
 *	  order, on the shared pipeline (hold_capture_run.c). A final capture
 *	  gives back what is left.
 */
#include "ops/holds.h"

PG_FUNCTION_INFO_V1(wallet_capture_hold);

/*
 * wallet.capture_hold(hold_id, idempotency_key, amount, final) returns
 * (txn_id, captured, bonus_used, cash_used, earnings_used, released,
 * remaining, status, replayed, points): points last, where the declared row
 * has them (a schema before section 18 returns the first nine columns).
 */
static Datum
capture_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 1, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	int64		hold_id = op_int8_arg(fcinfo, 0, "hold_id");
	bool		final;
	int64		amt;
	WalletRow	w;
	HoldRow		h;
	Jsonb	   *req;
	Jsonb	   *prior;
	CaptureDone out;
	bool		replayed = false;
	bool		must_lock = false;
	int			exponent;
	Datum		values[10];
	bool		nulls[10] = {false, false, false, false, false, false, false, false, false, false};
	static const Oid types[10] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
	NUMERICOID, TEXTOID, BOOLOID, NUMERICOID};
	TupleDesc	td;
	int			live = 0;

	check_not_null(fcinfo, 3, "final");
	final = PG_GETARG_BOOL(3);
	memset(&out, 0, sizeof(out));
	op_start();
	/*
	 * As a spend: the plain capture is made from the hold and its wallet read
	 * without their locks, written under the wallet's version check (a lost
	 * race reads again, and after OPTIMISTIC_TRIES takes the locks), its key's
	 * insert finding a replay; anything else is decided under the locks, the
	 * key looked up first, so that an error never hides a replay.
	 */
	for (int attempt = 0;; attempt++)
	{
		bool		lock = must_lock || attempt >= OPTIMISTIC_TRIES;
		HoldTry		t;

		req = hold_request(fcinfo, hold_id, final, lock, &w, &h, &amt);
		prior = lock ? find_replay(&w, key, "capture_hold", req) : NULL;
		if (prior == NULL)
		{
			if (lock)
			{
				refuse_unless_open(&h, clk, "captured");
				refuse_group_hold(&h);
			}
			t = hold_capture_try(&w, &h, amt, final, clk, key, req, lock, &out);
			if (t == HOLD_MADE)
				break;
			if (t == HOLD_NEED_LOCK)
			{
				must_lock = true;
				continue;
			}
			prior = after_no_write(&w, key, "capture_hold", req, out.txn_id);
			if (prior == NULL)
				continue;		/* lost a race: read again */
		}
		out.txn_id = jsonb_int(prior, "txn_id");
		out.captured = jsonb_int(prior, "charged");
		out.used[BUCKET_BONUS] = jsonb_int_or_zero(prior, "bonus_used");
		out.used[BUCKET_CASH] = jsonb_int_or_zero(prior, "cash_used");
		out.used[BUCKET_EARNINGS] = jsonb_int_or_zero(prior, "earnings_used");
		out.released = jsonb_int_or_zero(prior, "released");
		out.remaining = jsonb_int_or_zero(prior, "remaining");
		out.status = hold_status_after(1, out.remaining);
		out.points = jsonb_int_or_zero(prior, "points");
		out.points_exponent = (int) jsonb_int_or_zero(prior, "points_exponent");
		replayed = true;
		break;
	}
	exponent = w.exponent;
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.captured, exponent);
	values[2] = major(out.used[BUCKET_BONUS], exponent);
	values[3] = major(out.used[BUCKET_CASH], exponent);
	values[4] = major(out.used[BUCKET_EARNINGS], exponent);
	values[5] = major(out.released, exponent);
	values[6] = major(out.remaining, exponent);
	values[7] = CStringGetTextDatum(out.status);
	values[8] = BoolGetDatum(replayed);
	values[9] = major(out.points, out.points_exponent);
	td = wallet_result_desc(fcinfo);
	for (int i = 0; i < td->natts; i++)
		if (!TupleDescAttr(td, i)->attisdropped)
			live++;
	PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, live >= 10 ? 10 : 9));
}

Datum
wallet_capture_hold(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(capture_body, fcinfo);
}
