/*
 * refund_move.c
 *	  What review_refund and settle_refund share: a refund row read with its
 *	  wallet locked first, and the end of the refund's hold, journaled
 *	  (refund_move). A release (rejected, failed) gives back exactly what the
 *	  request took: the held cash and bonus, the coupons it voided (those past
 *	  their validity show as expired) and the coupon discount it clawed back
 *	  (owed again by the top-up). A settlement (succeeded) pays the net out,
 *	  keeps the fee, and posts the clawback back to bonus_expense and the
 *	  coupons' clawback to coupon_expense, where their discount was posted when
 *	  they were redeemed.
 */
#include "ops/refund.h"

/*
 * The refund row's change, by the statement where it cannot be direct
 * (refund_change_direct): $1 the version locked, $2 on what a review or a
 * settlement sets.
 */
static OpPlan change_review = OP_PLAN(
	"UPDATE wallet.refund SET status = $2, reviewer = $3, review_note = $4, reviewed_at = $5 WHERE ctid = $1",
	5, TIDOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID);

static OpPlan change_settle = OP_PLAN(
	"UPDATE wallet.refund SET status = $2, gateway_ref = $3, settled_at = $4 WHERE ctid = $1",
	4, TIDOID, TEXTOID, TEXTOID, TIMESTAMPTZOID);

static const char *const review_columns[] = {"status", "reviewer", "review_note", "reviewed_at"};
static const char *const settle_columns[] = {"status", "gateway_ref", "settled_at"};

/*
 * refund_change sets what a review or a settlement changes in refund r's
 * row (locked), directly or by the statement; its audit row is written
 * either way (the trigger, or refund_change_direct in its stead).
 */
void
refund_change(const RefundRow *r, const RefundChange *change, TimestampTz clk)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int			n;

	values[0] = CStringGetTextDatum(change->status);
	if (change->review)
	{
		values[1] = CStringGetTextDatum(change->reviewer);
		values[2] = change->note ? CStringGetTextDatum(change->note) : (Datum) 0;
		nulls[2] = change->note == NULL;
		values[3] = TimestampTzGetDatum(clk);
		n = lengthof(review_columns);
	}
	else
	{
		values[1] = change->gateway_ref ? CStringGetTextDatum(change->gateway_ref) : (Datum) 0;
		nulls[1] = change->gateway_ref == NULL;
		values[2] = TimestampTzGetDatum(clk);
		n = lengthof(settle_columns);
	}
	if (!refund_change_direct(r, n, change->review ? review_columns : settle_columns, values, nulls))
		change_by_statement(change->review ? &change_review : &change_settle, &r->tid, n, values, nulls, "refund",
							r->refund_id);
}

/* A released refund gives the top-up's coupons back: those it voided, those it clawed back. */
static OpPlan coupons_back = {
	.sql = "UPDATE wallet.coupon c "
	"SET voided_at = CASE WHEN c.void_refund = $1 THEN NULL ELSE c.voided_at END, "
	"void_refund = CASE WHEN c.void_refund = $1 THEN NULL ELSE c.void_refund END, "
	"clawback_refund = CASE WHEN c.clawback_refund = $1 THEN NULL ELSE c.clawback_refund END "
	"WHERE c.wallet_id = $2 AND (c.void_refund = $1 OR c.clawback_refund = $1)",
	.nargs = 2,
	.types = {INT8OID, INT8OID}
};

/*
 * refund_lock reads refund refund_id (WL006 if there is none), locks its
 * wallet and then the refund row (FOR UPDATE), in that order, as every
 * operation that changes a refund does: the row read under the lock is the
 * refund's status now.
 */
void
refund_lock(int64 refund_id, WalletRow *w, RefundRow *r)
{
	if (!read_refund(refund_id, false, r))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("refund %lld does not exist", (long long) refund_id)));
	read_wallet(r->wallet_id, true, false, w);
	if (!lock_refund(r))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("refund %lld does not exist", (long long) refund_id)));
}

/*
 * refund_move ends refund r's hold in wallet w, locked by refund_lock:
 * released (release) or settled, journaled as kind with the given request and
 * result {"status": change->status}, and the refund's row changed.
 */
void
refund_move(WalletRow *w, const RefundRow *r, const char *kind, const RefundChange *change, bool release,
			Jsonb *request, TimestampTz clk)
{
	int64		take = checked_add(checked_add(r->amount, r->clawback), r->coupon_clawback);
	LotBuilder *b = lotset_unpack(w->lots);
	Postings	legs;
	JB			jb;

	engine_refund_end(b, r->topup_txn, take, r->clawback, r->bonus_void, clk, release);
	postings_init(&legs);
	post_refund_end(&legs, w->id, release, take, r->bonus_void, r->net, r->fee, r->clawback, r->coupon_clawback);
	if (release)
	{
		Datum		cargs[2] = {Int64GetDatum(r->refund_id), Int64GetDatum(w->id)};

		if (run_plan(op_plan(&coupons_back), cargs, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not give back the coupons of refund %lld", (long long) r->refund_id);
	}
	jb_begin(&jb);
	jb_text(&jb, "status", change->status);
	/* the wallet is locked: its version holds */
	if (!write_op(w, b, nextval_internal(plans.txn_seq, false), kind, r->amount, clk, NULL, r->topup_txn, request,
				  jb_end(&jb), legs_of(&legs, kind), NULL))
		elog(ERROR, "wallet %lld changed under its lock", (long long) w->id);
	refund_change(r, change, clk);
}

/* refund_status_result is a refund's status as review_refund and settle_refund return it. */
Datum
refund_status_result(const char *status)
{
	return PointerGetDatum(cstring_to_text(status));
}
