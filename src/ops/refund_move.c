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
 * The wallet row written back, the refund row's change and the journal row,
 * in one statement (no key): $14 on is the refund's, for a review or for a
 * settlement.
 */
#define MOVE_WALLET \
	"WITH u AS (UPDATE wallet.wallet SET lots = $2, next_expiry = $3, version = version + 1 " \
	"WHERE wallet_id = $1 AND version = $4 RETURNING wallet_id), "
#define MOVE_JOURNAL \
	"INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, ref_txn, request, " \
	"result, postings) SELECT $5, u.wallet_id, $6, $7, $8, $9, $10, $11, $12, $13 FROM u"
#define MOVE_TYPES \
	INT8OID, OP_LOTSET, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, \
	INT8OID, JSONBOID, JSONBOID, OP_POSTINGS

static OpPlan move_review = {
	.sql = MOVE_WALLET
	"r AS (UPDATE wallet.refund SET status = $15, reviewer = $16, review_note = $17, reviewed_at = $9 "
	"WHERE ctid = $14) " MOVE_JOURNAL,
	.nargs = 17,
	.types = {MOVE_TYPES, TIDOID, TEXTOID, TEXTOID, TEXTOID}
};

static OpPlan move_settle = {
	.sql = MOVE_WALLET
	"r AS (UPDATE wallet.refund SET status = $15, gateway_ref = $16, settled_at = $9 "
	"WHERE ctid = $14) " MOVE_JOURNAL,
	.nargs = 16,
	.types = {MOVE_TYPES, TIDOID, TEXTOID, TEXTOID}
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
	TimestampTz next;
	Datum		args[17];
	char		nulls[17];

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
	next = engine_next_expiry(b);
	memset(nulls, ' ', sizeof(nulls));
	args[0] = Int64GetDatum(w->id);
	args[1] = PointerGetDatum(lotset_pack(b));
	args[2] = TimestampTzGetDatum(next);
	nulls[2] = next == WALLET_NO_TIME ? 'n' : ' ';
	args[3] = Int64GetDatum(w->version);
	args[4] = Int64GetDatum(nextval_internal(plans.txn_seq, false));
	args[5] = CStringGetTextDatum(kind);
	args[6] = Int64GetDatum(r->amount);
	args[7] = CStringGetTextDatum(w->currency);
	args[8] = TimestampTzGetDatum(clk);
	args[9] = Int64GetDatum(r->topup_txn);
	args[10] = JsonbPGetDatum(request);
	args[11] = JsonbPGetDatum(jb_end(&jb));
	args[12] = legs_of(&legs, kind);
	args[13] = PointerGetDatum(&r->tid);
	args[14] = CStringGetTextDatum(change->status);
	if (change->review)
	{
		args[15] = CStringGetTextDatum(change->reviewer);
		args[16] = change->note ? CStringGetTextDatum(change->note) : (Datum) 0;
		nulls[16] = change->note ? ' ' : 'n';
	}
	else
	{
		args[15] = change->gateway_ref ? CStringGetTextDatum(change->gateway_ref) : (Datum) 0;
		nulls[15] = change->gateway_ref ? ' ' : 'n';
	}
	/* the wallet is locked: its version holds */
	if (run_plan(op_plan(change->review ? &move_review : &move_settle), args, nulls, false, 0) != SPI_OK_INSERT ||
		SPI_processed != 1)
		elog(ERROR, "could not write wallet %lld", (long long) w->id);
}

/* refund_status_result is a refund's status as review_refund and settle_refund return it. */
Datum
refund_status_result(const char *status)
{
	return PointerGetDatum(cstring_to_text(status));
}
