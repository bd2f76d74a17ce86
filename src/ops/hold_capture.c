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
/* A call of wallet.capture_hold. */
typedef struct CaptureCall
{
	HoldMove	m;				/* first: hold_move_read reads it */
	CaptureDone out;
} CaptureCall;

/*
 * capture_make makes the capture: under the locks, refused unless the hold is
 * open, in time and no group payment's share; without them, the plain one
 * only (hold_capture_try).
 */
static OpTry
capture_make(OpOptimistic *op, bool lock)
{
	CaptureCall *c = op->state;
	HoldMove   *m = &c->m;
	OpTry		t;

	hold_move_refuse(m, lock, "captured");
	t = hold_capture_try(&m->w, &m->h, m->amount, m->final, m->clk, op->key, op->req, lock, &c->out);
	op->txn_id = c->out.txn_id;
	return t;
}

static Datum
capture_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	CaptureCall c = {.m = {.fcinfo = fcinfo, .clk = wallet_clock()}};
	OpOptimistic op = {.kind = "capture_hold", .state = &c, .read = hold_move_read, .make = capture_make};
	CaptureDone out;
	Jsonb	   *prior;
	int			exponent;
	Datum		values[10];
	bool		nulls[10] = {false, false, false, false, false, false, false, false, false, false};
	static const Oid types[10] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
	NUMERICOID, TEXTOID, BOOLOID, NUMERICOID};
	TupleDesc	td;
	int			live = 0;

	op.key = check_text(fcinfo, 1, "idempotency_key", 200, true);
	c.m.hold_id = op_int8_arg(fcinfo, 0, "hold_id");
	check_not_null(fcinfo, 3, "final");
	c.m.final = PG_GETARG_BOOL(3);
	op_start();
	/* as a spend: the plain capture without the locks (the wallet's version checked at the write) */
	prior = op_optimistic(&op);
	out = c.out;
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
		out.points = jsonb_int_or_zero(prior, "points");
		out.points_exponent = (int) jsonb_int_or_zero(prior, "points_exponent");
	}
	exponent = c.m.w.exponent;
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.captured, exponent);
	values[2] = major(out.used[BUCKET_BONUS], exponent);
	values[3] = major(out.used[BUCKET_CASH], exponent);
	values[4] = major(out.used[BUCKET_EARNINGS], exponent);
	values[5] = major(out.released, exponent);
	values[6] = major(out.remaining, exponent);
	values[7] = CStringGetTextDatum(out.status);
	values[8] = BoolGetDatum(prior != NULL);
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
