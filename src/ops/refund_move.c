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

/* The wallet row written back and the journal row, in one statement (no key). */
static OpPlan move_write = {
	.sql = "WITH u AS (UPDATE wallet.wallet SET lots = $2, next_expiry = $3, version = version + 1 "
	"WHERE wallet_id = $1 AND version = $4 RETURNING wallet_id) "
	"INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, ref_txn, request, "
	"result, postings) SELECT $5, u.wallet_id, $6, $7, $8, $9, $10, $11, $12, $13 FROM u",
	.nargs = 13,
	.types = {INT8OID, OP_LOTSET, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID,
		TIMESTAMPTZOID, INT8OID, JSONBOID, JSONBOID, OP_POSTINGS}
};

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
	if (!read_refund(refund_id, true, r))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("refund %lld does not exist", (long long) refund_id)));
}

/*
 * refund_move ends refund r's hold in wallet w, locked by refund_lock:
 * released (release) or settled, journaled as kind with the given request and
 * result {"status": status}.
 */
void
refund_move(WalletRow *w, const RefundRow *r, const char *kind, const char *status, bool release,
			Jsonb *request, TimestampTz clk)
{
	int64		take = checked_add(checked_add(r->amount, r->clawback), r->coupon_clawback);
	int64		held = checked_add(take, r->bonus_void);
	LotBuilder *b = lotset_unpack(w->lots);
	Legs		legs;
	JB			jb;
	TimestampTz next;
	int64		txn_id;

	engine_refund_end(b, r->topup_txn, take, r->clawback, r->bonus_void, clk, release);
	legs_init(&legs);
	leg(&legs, "wallet", w->id, "held", -held);
	if (release)
	{
		leg(&legs, "wallet", w->id, "cash", take);
		leg(&legs, "wallet", w->id, "bonus", r->bonus_void);
	}
	else
	{
		leg(&legs, "refund_payout", 0, NULL, r->net);
		leg(&legs, "fee_income", 0, NULL, r->fee);
		leg(&legs, "bonus_expense", 0, NULL, checked_add(r->clawback, r->bonus_void));
		leg(&legs, "coupon_expense", 0, NULL, r->coupon_clawback);
	}
	if (release)
	{
		Datum		args[2] = {Int64GetDatum(r->refund_id), Int64GetDatum(w->id)};

		if (run_plan(op_plan(&coupons_back), args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not give back the coupons of refund %lld", (long long) r->refund_id);
	}
	jb_begin(&jb);
	jb_text(&jb, "status", status);
	next = engine_next_expiry(b);
	txn_id = nextval_internal(plans.txn_seq, false);
	{
		Datum		args[13] = {Int64GetDatum(w->id), PointerGetDatum(lotset_pack(b)),
			TimestampTzGetDatum(next), Int64GetDatum(w->version), Int64GetDatum(txn_id),
			CStringGetTextDatum(kind), Int64GetDatum(r->amount), CStringGetTextDatum(w->currency),
			TimestampTzGetDatum(clk), Int64GetDatum(r->topup_txn), JsonbPGetDatum(request),
		JsonbPGetDatum(jb_end(&jb)), legs_done(&legs)};
		char		nulls[13] = {' ', ' ', next == WALLET_NO_TIME ? 'n' : ' ', ' ', ' ', ' ', ' ', ' ', ' ',
		' ', ' ', ' ', ' '};

		/* the wallet is locked: its version holds */
		if (run_plan(op_plan(&move_write), args, nulls, false, 0) != SPI_OK_INSERT || SPI_processed != 1)
			elog(ERROR, "could not write wallet %lld", (long long) w->id);
	}
}

/* refund_status_result is a refund's status as review_refund and settle_refund return it. */
Datum
refund_status_result(const char *status)
{
	return PointerGetDatum(cstring_to_text(status));
}
