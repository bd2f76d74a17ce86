/*
 * hold_release.c
 *	  wallet.release_hold: what a hold reserves given back, all of it or a
 *	  part, on the shared pipeline: each piece returns to the lot it came
 *	  from (engine_release), bonus past its own expiry written off. A frozen
 *	  wallet's hold is released too: the money stays in the wallet.
 *	  hold_release_locked is the release itself, which cancel_group_pay runs
 *	  for every share too.
 */
#include "ops/holds.h"

PG_FUNCTION_INFO_V1(wallet_release_hold);

/*
 * hold_release_try gives back amount (-1: all that remains) of hold h of
 * wallet w at clk, journaled as release_hold with key and req, or without a
 * key when key is NULL (the wallet's row then written apart). Locked, it
 * refuses a hold that is not open or has expired and more than remains
 * (WL008); without the locks it makes the plain release only, as
 * hold_capture_try makes the plain capture.
 */
static OpTry
hold_release_try(WalletRow *w, HoldRow *h, int64 amount, TimestampTz clk, const char *key, Jsonb *req,
				 bool locked, ReleaseDone *out)
{
	LotBuilder *b = lotset_unpack(w->lots);
	int64		left[WALLET_NBUCKETS];
	int64		remaining = engine_hold_remaining(b, h->hold_id, left);
	ReversalOut back;
	Postings	legs;
	Jsonb	   *res;
	JB			jb;

	if (!locked && !hold_plain(h, remaining, amount, clk))
		return OP_NEED_LOCK;
	refuse_unless_open(h, clk, "released");
	out->released = hold_share(w, h, remaining, amount, "release");
	engine_release(b, h->hold_id, out->released, clk, &back);
	out->remaining = remaining - out->released;
	out->status = hold_status_after(h->captured, out->remaining);
	postings_init(&legs);
	post_release(&legs, w->id, &back, out->released);
	out->txn_id = nextval_internal(plans.txn_seq, false);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", out->txn_id);
	jb_int(&jb, "released", out->released);
	jb_int_if(&jb, true, "breakage", back.breakage);
	jb_int_if(&jb, true, "remaining", out->remaining);
	jb_int_if(&jb, true, "captured_before", h->captured);
	res = jb_end(&jb);
	/* the limits' usage: what is released, and the hold's count if it ends having captured nothing */
	limits_give_back(w, LIMIT_SPEND, out->released, h->captured == 0 && out->remaining == 0 ? 1 : 0,
					 h->created_at, clk);
	/* without a key (a group payment's share), the journal row has none */
	if (!write_op(w, b, out->txn_id, "release_hold", out->released, clk, key, h->hold_txn, req, res,
				  legs_of(&legs, "release_hold"), NULL))
	{
		if (!locked)
			return OP_NOT_WRITTEN;
		elog(ERROR, "wallet %lld changed under its lock", (long long) w->id);
	}
	hold_change(h, out->status, 0, out->released, h->expires_at);
	return OP_MADE;
}

/* hold_release_locked is hold_release_try of locked wallet w and hold h. */
void
hold_release_locked(WalletRow *w, HoldRow *h, int64 amount, TimestampTz clk, const char *key, Jsonb *req,
					ReleaseDone *out)
{
	(void) hold_release_try(w, h, amount, clk, key, req, true, out);
}

/* A call of wallet.release_hold. */
typedef struct ReleaseCall
{
	HoldMove	m;				/* first: hold_move_read reads it */
	ReleaseDone out;
} ReleaseCall;

/*
 * release_make makes the release: under the locks, refused unless the hold
 * is open, in time and no group payment's share; without them, the plain one
 * only (hold_release_try).
 */
static OpTry
release_make(OpOptimistic *op, bool lock)
{
	ReleaseCall *c = op->state;
	HoldMove   *m = &c->m;
	OpTry		t;

	hold_move_refuse(m, lock, "released");
	t = hold_release_try(&m->w, &m->h, m->amount, m->clk, op->key, op->req, lock, &c->out);
	op->txn_id = c->out.txn_id;
	return t;
}

/*
 * wallet.release_hold(hold_id, idempotency_key, amount) returns (txn_id,
 * released, remaining, status, replayed); a NULL amount releases all that
 * remains. The plain release is made without the locks, as a capture is.
 */
static Datum
release_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	ReleaseCall c = {.m = {.fcinfo = fcinfo, .final = -1, .clk = wallet_clock()}};
	OpOptimistic op = {.kind = "release_hold", .state = &c, .read = hold_move_read, .make = release_make};
	ReleaseDone out;
	Jsonb	   *prior;
	int			exponent;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	op.key = check_text(fcinfo, 1, "idempotency_key", 200, true);
	c.m.hold_id = op_int8_arg(fcinfo, 0, "hold_id");
	op_start();
	prior = op_optimistic(&op);
	out = c.out;
	if (prior != NULL)
	{
		out.txn_id = jsonb_int(prior, "txn_id");
		out.released = jsonb_int(prior, "released");
		out.remaining = jsonb_int_or_zero(prior, "remaining");
		out.status = hold_status_after(jsonb_int_or_zero(prior, "captured_before"), out.remaining);
	}
	exponent = c.m.w.exponent;
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.released, exponent);
	values[2] = major(out.remaining, exponent);
	values[3] = CStringGetTextDatum(out.status);
	values[4] = BoolGetDatum(prior != NULL);
	{
		static const Oid types[5] = {INT8OID, NUMERICOID, NUMERICOID, TEXTOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_release_hold(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(release_body, fcinfo);
}
