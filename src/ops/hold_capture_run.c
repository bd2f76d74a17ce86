/*
 * hold_capture_run.c
 *	  The capture of a hold, shared by capture_hold and a group payment's
 *	  last join: a charge of what the hold reserves in spending order, a
 *	  spend for everything that follows (its journal row carries a spend's
 *	  result and pieces, so reverse_spend takes its txn_id; the hold's payee is
 *	  credited less commission), the rest given back when final.
 */
#include "ops/holds.h"

/*
 * hold_capture_try captures amount (-1: all that remains) of hold h of wallet
 * w at clk, and with final gives back the rest. Journaled as capture_hold
 * with key and req, or without a key when key is NULL (the wallet's row then
 * written apart). Locked (w and h read under their row locks), it refuses a
 * hold that is not open or has expired, a frozen wallet and more than remains
 * (WL008, WL002). Without the locks (read as of the same snapshot, every
 * change of a hold writing its wallet's row too) it makes the plain capture
 * only, written under the wallet's version check, and leaves anything else
 * to the locks (OP_NEED_LOCK, nothing done); OP_NOT_WRITTEN: the key was
 * taken or the wallet's row moved on (after_no_write tells which).
 */
OpTry
hold_capture_try(WalletRow *w, HoldRow *h, int64 amount, bool final, TimestampTz clk, const char *key,
				 Jsonb *req, bool locked, CaptureDone *out)
{
	JB			jb;
	LotBuilder *b = lotset_unpack(w->lots);
	LotBuilder *pieces;
	int64		left[WALLET_NBUCKETS];
	int64		remaining = engine_hold_remaining(b, h->hold_id, left);
	int64		comm = 0;
	ReversalOut back;
	Postings	legs;
	Jsonb	   *res;
	Reward		rw;
	bool		remote;

	memset(out, 0, sizeof(*out));
	if (!locked && (w->frozen || !hold_plain(h, remaining, amount, clk)))
		return OP_NEED_LOCK;
	refuse_unless_open(h, clk, "captured");
	refuse_frozen(w, "A frozen wallet's hold can be released, not captured.");
	out->captured = hold_share(w, h, remaining, amount, "capture");
	pieces = engine_capture(b, h->hold_id, out->captured, out->used);
	memset(&back, 0, sizeof(back));
	if (final && remaining > out->captured)
	{
		out->released = remaining - out->captured;
		engine_release(b, h->hold_id, out->released, clk, &back);
	}
	out->remaining = remaining - out->captured - out->released;
	out->status = hold_status_after(h->captured + out->captured, out->remaining);
	if (h->has_payee)
		comm = rate_of(out->captured, w->commission_rate);
	postings_init(&legs);
	remote = h->has_payee && !shard_local(h->payee);
	post_capture(&legs, w->id, out->captured, h->has_payee, remote ? 0 : h->payee, comm);
	if (out->released > 0)
		post_release(&legs, w->id, &back, out->released);
	out->txn_id = nextval_internal(plans.txn_seq, false);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", out->txn_id);
	jb_int(&jb, "hold_id", h->hold_id);
	jb_int(&jb, "charged", out->captured);
	jb_int_if(&jb, true, "bonus_used", out->used[BUCKET_BONUS]);
	jb_int_if(&jb, true, "cash_used", out->used[BUCKET_CASH]);
	jb_int_if(&jb, true, "earnings_used", out->used[BUCKET_EARNINGS]);
	jb_int_if(&jb, true, "released", out->released);
	jb_int_if(&jb, true, "breakage", back.breakage);
	jb_int_if(&jb, true, "remaining", out->remaining);
	jb_text_if(&jb, true, "scene", h->scene);
	jb_text_if(&jb, true, "order_ref", h->order_ref);
	if (h->has_payee)
	{
		jb_int(&jb, "payee", h->payee);
		jb_int(&jb, "payee_credit", out->captured - comm);
		jb_int(&jb, "commission", comm);
	}
	/* a capture earns reward points as a spend does (none, and no statement, without a rule) */
	(void) reward_plan(w, h->scene, out->captured, clk, &rw);
	reward_json(&jb, &rw);
	res = jb_end(&jb);
	/* the limits' usage: what a final capture releases is given back (what it captured stays counted) */
	limits_give_back(w, LIMIT_SPEND, out->released, h->captured + out->captured == 0 && out->remaining == 0 ? 1 : 0,
					 h->created_at, clk);
	/* without a key (a group payment's share), the journal row has none */
	if (!write_op(w, b, out->txn_id, "capture_hold", out->captured, clk, key, h->hold_txn, req, res,
				  legs_of(&legs, "capture_hold"), lotset_pack(pieces)))
	{
		if (!locked)
			return OP_NOT_WRITTEN;
		elog(ERROR, "wallet %lld changed under its lock", (long long) w->id);
	}
	hold_change(h, out->status, out->captured, out->released, h->expires_at);
	if (h->has_payee && !remote)
		credit_payee(h->payee, out->captured - comm, out->txn_id);
	else if (remote && out->captured - comm > 0)	/* by the outbox: CONTRACT.md section 23 */
		(void) outbox_send(w->id, out->txn_id, h->payee, w->currency, out->captured - comm, "payee", clk);
	reward_credit(&rw, out->txn_id, clk);
	out->points = rw.points;
	out->points_exponent = rw.exponent;
	return OP_MADE;
}

/* hold_capture_locked is hold_capture_try of locked wallet w and hold h. */
void
hold_capture_locked(WalletRow *w, HoldRow *h, int64 amount, bool final, TimestampTz clk, const char *key,
					Jsonb *req, CaptureDone *out)
{
	(void) hold_capture_try(w, h, amount, final, clk, key, req, true, out);
}
