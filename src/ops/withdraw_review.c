/*
 * withdraw_review.c
 *	  wallet.review_withdrawal: a pending withdrawal approved (no money moves)
 *	  or rejected (its amount back to the earnings), on the shared pipeline
 *	  (withdraw_move.c).
 */
#include "ops/withdraw.h"

PG_FUNCTION_INFO_V1(wallet_review_withdrawal);

/*
 * wallet.review_withdrawal(withdrawal_id bigint, approve boolean, reviewer
 * text, note text) returns the withdrawal's new status: pending -> approved |
 * rejected. Repeating a transition already made (approving one approved or
 * settled since, rejecting one rejected) returns its status; a conflicting
 * one is WL008.
 */
static Datum
review_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int64		withdrawal_id;
	bool		approve;
	char	   *reviewer;
	char	   *note;
	WalletRow	w;
	WithdrawalRow r;
	const char *status;

	check_not_null(fcinfo, 0, "withdrawal_id");
	check_not_null(fcinfo, 1, "approve");
	withdrawal_id = PG_GETARG_INT64(0);
	approve = PG_GETARG_BOOL(1);
	reviewer = check_text(fcinfo, 2, "reviewer", 200, true);
	note = check_text(fcinfo, 3, "note", 1000, false);
	op_start();
	pin_key_lookups();
	withdrawal_lock(withdrawal_id, &w, &r);
	if (strcmp(r.status, "pending") == 0)
	{
		JB			jb;
		WithdrawChange c = {.status = approve ? "approved" : "rejected", .step = STEP_REVIEW,
		.reviewer = reviewer, .note = note};

		jb_begin(&jb);
		jb_int(&jb, "withdrawal_id", withdrawal_id);
		jb_bool(&jb, "approve", approve);
		jb_text(&jb, "reviewer", reviewer);
		withdrawal_move(&w, &r, "review_withdrawal", &c, jb_end(&jb), clk);
		status = c.status;
	}
	else if (approve ? strcmp(r.status, "rejected") != 0 : strcmp(r.status, "rejected") == 0)
		status = r.status;		/* approved (and perhaps settled or returned since), or rejected */
	else
		withdrawal_refuse_step(&r, approve ? "A rejected withdrawal cannot be approved." :
							   "Only a pending withdrawal can be rejected.");
	op_leave(caller);
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

Datum
wallet_review_withdrawal(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(review_body, fcinfo);
}
