/*
 * refund_review.c
 *	  wallet.review_refund: a pending refund approved (no money moves) or
 *	  rejected (its hold given back: refund_move.c), on the shared pipeline.
 */
#include "ops/refund.h"

PG_FUNCTION_INFO_V1(wallet_review_refund);

/*
 * wallet.review_refund(refund_id bigint, approve boolean, reviewer text, note
 * text) returns the refund's new status: pending -> approved | rejected.
 * Repeating a transition already made (or approving a refund already
 * settled) returns the status; a conflicting one is WL008.
 */
static Datum
review_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	int64		refund_id;
	bool		approve;
	char	   *reviewer;
	char	   *note;
	WalletRow	w;
	RefundRow	r;
	TimestampTz clk = wallet_clock();
	const char *status;

	check_not_null(fcinfo, 0, "refund_id");
	check_not_null(fcinfo, 1, "approve");
	refund_id = PG_GETARG_INT64(0);
	approve = PG_GETARG_BOOL(1);
	reviewer = check_text(fcinfo, 2, "reviewer", 200, true);
	note = check_text(fcinfo, 3, "note", 1000, false);
	op_start();
	pin_key_lookups();
	refund_lock(refund_id, &w, &r);
	if (strcmp(r.status, "pending") == 0)
	{
		JB			jb;
		Jsonb	   *request;

		status = approve ? "approved" : "rejected";
		jb_begin(&jb);
		jb_int(&jb, "refund_id", refund_id);
		jb_bool(&jb, "approve", approve);
		jb_text(&jb, "reviewer", reviewer);
		request = jb_end(&jb);
		if (approve)
		{
			/* no money moves: the journal row and the refund's row, the wallet's unchanged */
			RefundChange change = {.status = status, .review = true, .reviewer = reviewer, .note = note};
			Postings	none;

			postings_init(&none);
			jb_begin(&jb);
			jb_text(&jb, "status", status);
			journal_op(&w, nextval_internal(plans.txn_seq, false), "review_refund", r.amount, clk, r.topup_txn,
					   request, jb_end(&jb), legs_of(&none, "review_refund"));
			refund_change(&r, &change, clk);
		}
		else
		{
			RefundChange change = {.status = status, .review = true, .reviewer = reviewer, .note = note};

			refund_move(&w, &r, "review_refund", &change, true, request, clk);
		}
	}
	else if ((approve && (strcmp(r.status, "approved") == 0 || strcmp(r.status, "succeeded") == 0 ||
						  strcmp(r.status, "failed") == 0)) ||
			 (!approve && strcmp(r.status, "rejected") == 0))
		status = r.status;
	else
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("refund %lld is %s", (long long) refund_id, r.status),
				 errdetail("It cannot be %s now.", approve ? "approved" : "rejected")));
	op_leave(caller);
	return refund_status_result(status);
}

Datum
wallet_review_refund(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(review_body, fcinfo);
}
