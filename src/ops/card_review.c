/*
 * card_review.c
 *	  wallet.review_intake: an intake sent to review by settle_intake paid
 *	  (approve: its cards' payouts credited to the earnings) or rejected
 *	  (nothing paid; its secrets are no longer counted, so its cards may be
 *	  submitted again), on the shared pipeline (CONTRACT.md section 19).
 */
#include "ops/cards.h"

PG_FUNCTION_INFO_V1(wallet_review_intake);

static OpPlan intake_total = OP_PLAN(
	"SELECT count(*) FILTER (WHERE status = 'verified'), "
	"coalesce(sum(payout) FILTER (WHERE status = 'verified'), 0)::bigint "
	"FROM wallet.card_item WHERE intake_id = $1",
	1, INT8OID);

static OpPlan intake_reject = OP_PLAN(
	"WITH i AS (UPDATE wallet.card_item SET counted = false WHERE intake_id = $1 AND counted) "
	"UPDATE wallet.card_intake SET status = 'rejected', reviewer = $2, review_note = $3, reviewed_at = $4 "
	"WHERE intake_id = $1",
	4, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID);

static OpPlan intake_reviewed = OP_PLAN(
	"UPDATE wallet.card_intake SET reviewer = $2, review_note = $3, reviewed_at = $4 WHERE intake_id = $1",
	4, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID);

/*
 * wallet.review_intake(intake_id, approve, reviewer, note) returns the
 * intake's new status: review -> paid | rejected. Repeating a transition
 * already made returns its status; a conflicting one is WL008.
 */
static Datum
review_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int64		intake_id = op_int8_arg(fcinfo, 0, "intake_id");
	bool		approve;
	char	   *reviewer;
	char	   *note;
	WalletRow	w;
	IntakeRow	k;
	const char *status;

	check_not_null(fcinfo, 1, "approve");
	approve = PG_GETARG_BOOL(1);
	reviewer = check_text(fcinfo, 2, "reviewer", 200, true);
	note = check_text(fcinfo, 3, "note", 1000, false);
	op_start();
	pin_key_lookups();
	intake_lock(intake_id, &w, &k);
	if (strcmp(k.status, "review") == 0)
	{
		Datum		args[4] = {Int64GetDatum(intake_id), CStringGetTextDatum(reviewer),
		note ? CStringGetTextDatum(note) : (Datum) 0, TimestampTzGetDatum(clk)};
		char		nulls[4] = {' ', ' ', note ? ' ' : 'n', ' '};
		JB			jb;
		Jsonb	   *req;

		jb_begin(&jb);
		jb_int(&jb, "intake_id", intake_id);
		jb_bool(&jb, "approve", approve);
		jb_text(&jb, "reviewer", reviewer);
		req = jb_end(&jb);
		if (approve)
		{
			bool		isnull;
			int32		items_paid;
			int64		total;

			if (run_plan(op_plan(&intake_total), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "could not read the cards of intake %lld", (long long) intake_id);
			items_paid = (int32) DatumGetInt64(getcol(1, &isnull));
			total = DatumGetInt64(getcol(2, &isnull));
			(void) intake_pay(&w, &k, total, items_paid, "review_intake", NULL, req, clk);
			if (run_plan(op_plan(&intake_reviewed), args, nulls, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not record the review of intake %lld", (long long) intake_id);
			status = "paid";
		}
		else
		{
			Postings	legs;

			if (run_plan(op_plan(&intake_reject), args, nulls, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not reject intake %lld", (long long) intake_id);
			postings_init(&legs);
			jb_begin(&jb);
			jb_int(&jb, "intake_id", intake_id);
			jb_text(&jb, "status", "rejected");
			journal_op(&w, nextval_internal(plans.txn_seq, false), "review_intake", 0, clk, k.submit_txn, req,
					   jb_end(&jb), legs_of(&legs, "review_intake"));
			status = "rejected";
		}
	}
	else if (approve ? strcmp(k.status, "paid") == 0 : strcmp(k.status, "rejected") == 0)
		status = k.status;
	else
		intake_refuse(&k, approve ? "Only an intake in review can be approved." :
					  "Only an intake in review can be rejected.");
	op_leave(caller);
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

Datum
wallet_review_intake(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(review_body, fcinfo);
}
