/*
 * hold_capture.c
 *	  wallet.capture_hold: a charge of what a hold reserves, in spending
 *	  order, on the shared pipeline. A capture is a spend for everything
 *	  that follows: its journal row carries a spend's result and pieces, so
 *	  reverse_spend takes its txn_id, and the hold's payee is credited now,
 *	  less commission. A final capture gives back what is left.
 */
#include "ops/holds.h"

PG_FUNCTION_INFO_V1(wallet_capture_hold);

/* The outcome of a capture, in minor units, kept across SPI_finish. */
typedef struct CaptureOut
{
	int64		txn_id;
	int64		captured;
	int64		used[WALLET_NBUCKETS];
	int64		released;
	int64		remaining;
	const char *status;
	bool		replayed;
} CaptureOut;

/*
 * wallet.capture_hold(hold_id, idempotency_key, amount, final) returns
 * (txn_id, captured, bonus_used, cash_used, earnings_used, released,
 * remaining, status, replayed).
 */
static Datum
capture_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 1, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	int64		hold_id = op_int8_arg(fcinfo, 0, "hold_id");
	bool		final;
	bool		has_amount = !PG_ARGISNULL(2);
	int64		amt = 0;
	WalletRow	w;
	HoldRow		h;
	Jsonb	   *req;
	Jsonb	   *prior;
	JB			jb;
	CaptureOut	out;
	int			exponent;
	Datum		values[9];
	bool		nulls[9] = {false, false, false, false, false, false, false, false, false};

	check_not_null(fcinfo, 3, "final");
	final = PG_GETARG_BOOL(3);
	memset(&out, 0, sizeof(out));
	op_start();
	hold_lock(hold_id, &w, &h);
	exponent = w.exponent;
	if (has_amount)
		amt = numeric_to_minor(PG_GETARG_NUMERIC(2), w.exponent, "amount");
	jb_begin(&jb);
	jb_int(&jb, "hold_id", hold_id);
	if (has_amount)
		jb_int(&jb, "amount", amt);
	jb_bool(&jb, "final", final);
	req = jb_end(&jb);
	prior = find_replay(&w, key, "capture_hold", req);
	if (prior != NULL)
	{
		out.txn_id = jsonb_int(prior, "txn_id");
		out.captured = jsonb_int(prior, "charged");
		out.used[BUCKET_BONUS] = jsonb_int_or_zero(prior, "bonus_used");
		out.used[BUCKET_CASH] = jsonb_int_or_zero(prior, "cash_used");
		out.used[BUCKET_EARNINGS] = jsonb_int_or_zero(prior, "earnings_used");
		out.released = jsonb_int_or_zero(prior, "released");
		out.remaining = jsonb_int_or_zero(prior, "remaining");
		out.status = hold_status_after(1, out.remaining);
		out.replayed = true;
	}
	else
	{
		LotBuilder *b = lotset_unpack(w.lots);
		LotBuilder *pieces;
		int64		left[WALLET_NBUCKETS];
		int64		remaining = engine_hold_remaining(b, hold_id, left);
		int64		comm = 0;
		ReversalOut back;
		Postings	legs;
		Jsonb	   *res;

		refuse_unless_open(&h, clk, "captured");
		if (w.frozen)
			ereport(ERROR,
					(errcode(ERRCODE_WL('2')),
					 errmsg("wallet %lld is frozen", (long long) w.id),
					 w.frozen_reason ? errdetail_internal("%s", w.frozen_reason) : 0,
					 errhint("A frozen wallet's hold can be released, not captured.")));
		if (remaining != h.amount - h.captured - h.released)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("hold %lld reserves %lld in its wallet's lots but its row says %lld",
							(long long) hold_id, (long long) remaining,
							(long long) (h.amount - h.captured - h.released))));
		out.captured = has_amount ? amt : remaining;
		if (out.captured > remaining)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("capture of %s is more than hold %lld has left",
							DatumGetCString(DirectFunctionCall1(numeric_out, major(out.captured, w.exponent))),
							(long long) hold_id),
					 errdetail("It has %s left.",
							   DatumGetCString(DirectFunctionCall1(numeric_out, major(remaining, w.exponent))))));
		pieces = engine_capture(b, hold_id, out.captured, out.used);
		memset(&back, 0, sizeof(back));
		if (final && remaining > out.captured)
		{
			out.released = remaining - out.captured;
			engine_release(b, hold_id, out.released, clk, &back);
		}
		out.remaining = remaining - out.captured - out.released;
		out.status = hold_status_after(h.captured + out.captured, out.remaining);
		if (h.has_payee)
			comm = rate_of(out.captured, w.commission_rate);
		postings_init(&legs);
		post_capture(&legs, w.id, out.captured, h.has_payee, h.payee, comm);
		if (out.released > 0)
			post_release(&legs, w.id, &back, out.released);
		out.txn_id = nextval_internal(plans.txn_seq, false);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", out.txn_id);
		jb_int(&jb, "hold_id", hold_id);
		jb_int(&jb, "charged", out.captured);
		jb_int_if(&jb, true, "bonus_used", out.used[BUCKET_BONUS]);
		jb_int_if(&jb, true, "cash_used", out.used[BUCKET_CASH]);
		jb_int_if(&jb, true, "earnings_used", out.used[BUCKET_EARNINGS]);
		jb_int_if(&jb, true, "released", out.released);
		jb_int_if(&jb, true, "breakage", back.breakage);
		jb_int_if(&jb, true, "remaining", out.remaining);
		jb_text_if(&jb, true, "scene", h.scene);
		jb_text_if(&jb, true, "order_ref", h.order_ref);
		if (h.has_payee)
		{
			jb_int(&jb, "payee", h.payee);
			jb_int(&jb, "payee_credit", out.captured - comm);
			jb_int(&jb, "commission", comm);
		}
		res = jb_end(&jb);
		if (!write_op(&w, b, out.txn_id, "capture_hold", out.captured, clk, key, h.hold_txn, req, res,
					  legs_of(&legs, "capture_hold"), lotset_pack(pieces)))
			elog(ERROR, "wallet %lld changed under its lock", (long long) w.id);
		hold_change(&h, out.status, out.captured, out.released, h.expires_at);
		if (h.has_payee && out.captured - comm > 0)
		{
			Datum		cargs[3] = {Int64GetDatum(h.payee), Int64GetDatum(out.captured - comm),
			Int64GetDatum(out.txn_id)};

			if (!credit_direct(h.payee, out.captured - comm, out.txn_id) &&
				run_plan(plans.credit, cargs, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not credit payee");
		}
	}
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.captured, exponent);
	values[2] = major(out.used[BUCKET_BONUS], exponent);
	values[3] = major(out.used[BUCKET_CASH], exponent);
	values[4] = major(out.used[BUCKET_EARNINGS], exponent);
	values[5] = major(out.released, exponent);
	values[6] = major(out.remaining, exponent);
	values[7] = CStringGetTextDatum(out.status);
	values[8] = BoolGetDatum(out.replayed);
	{
		static const Oid types[9] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
		NUMERICOID, TEXTOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_capture_hold(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(capture_body, fcinfo);
}
