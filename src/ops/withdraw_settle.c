/*
 * withdraw_settle.c
 *	  wallet.settle_withdrawal: the payout's answer for an approved
 *	  withdrawal: succeeded (the net paid out, the fee kept) or failed (the
 *	  amount back to the earnings), on the shared pipeline (withdraw_move.c).
 */
#include "ops/withdraw.h"

PG_FUNCTION_INFO_V1(wallet_settle_withdrawal);

/*
 * wallet.settle_withdrawal(withdrawal_id bigint, succeeded boolean,
 * gateway_ref text) returns the withdrawal's new status: approved ->
 * succeeded | failed. Repeating the transition made returns the status
 * (returned, for a success the bank sent back since); any other is WL008.
 */
static Datum
settle_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int64		withdrawal_id;
	bool		succeeded;
	char	   *gateway_ref;
	WalletRow	w;
	WithdrawalRow r;
	const char *status;

	check_not_null(fcinfo, 0, "withdrawal_id");
	check_not_null(fcinfo, 1, "succeeded");
	withdrawal_id = PG_GETARG_INT64(0);
	succeeded = PG_GETARG_BOOL(1);
	gateway_ref = check_text(fcinfo, 2, "gateway_ref", 200, false);
	op_start();
	pin_key_lookups();
	withdrawal_lock(withdrawal_id, &w, &r);
	status = succeeded ? "succeeded" : "failed";
	if (strcmp(r.status, "approved") == 0)
	{
		JB			jb;
		WithdrawChange c = {.status = status, .step = STEP_SETTLE, .gateway_ref = gateway_ref};

		jb_begin(&jb);
		jb_int(&jb, "withdrawal_id", withdrawal_id);
		jb_bool(&jb, "succeeded", succeeded);
		jb_text(&jb, "gateway_ref", gateway_ref);
		withdrawal_move(&w, &r, "settle_withdrawal", &c, jb_end(&jb), clk);
	}
	else if (strcmp(r.status, status) == 0 || (succeeded && strcmp(r.status, "returned") == 0))
		status = r.status;
	else
		withdrawal_refuse_step(&r, "Only an approved withdrawal can be settled.");
	op_leave(caller);
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

Datum
wallet_settle_withdrawal(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(settle_body, fcinfo);
}
