/*
 * withdraw_return.c
 *	  wallet.return_withdrawal: the bank sent a paid-out withdrawal back; the
 *	  whole amount (the fee too) is credited to the earnings again, on the
 *	  shared pipeline (withdraw_move.c).
 */
#include "ops/withdraw.h"

PG_FUNCTION_INFO_V1(wallet_return_withdrawal);

/*
 * wallet.return_withdrawal(withdrawal_id bigint, gateway_ref text, reason
 * text) returns the withdrawal's new status: succeeded -> returned. A
 * withdrawal returned already returns its status; any other is WL008.
 */
static Datum
return_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int64		withdrawal_id;
	char	   *gateway_ref;
	char	   *reason;
	WalletRow	w;
	WithdrawalRow r;

	check_not_null(fcinfo, 0, "withdrawal_id");
	withdrawal_id = PG_GETARG_INT64(0);
	gateway_ref = check_text(fcinfo, 1, "gateway_ref", 200, false);
	reason = check_text(fcinfo, 2, "reason", 1000, true);
	op_start();
	pin_key_lookups();
	withdrawal_lock(withdrawal_id, &w, &r);
	if (strcmp(r.status, "succeeded") == 0)
	{
		JB			jb;
		WithdrawChange c = {.status = "returned", .step = STEP_RETURN, .gateway_ref = gateway_ref,
		.reason = reason};

		jb_begin(&jb);
		jb_int(&jb, "withdrawal_id", withdrawal_id);
		jb_text(&jb, "gateway_ref", gateway_ref);
		jb_text(&jb, "reason", reason);
		withdrawal_move(&w, &r, "return_withdrawal", &c, jb_end(&jb), clk);
	}
	else if (strcmp(r.status, "returned") != 0)
		withdrawal_refuse_step(&r, "Only a withdrawal paid out can be returned.");
	op_leave(caller);
	PG_RETURN_TEXT_P(cstring_to_text("returned"));
}

Datum
wallet_return_withdrawal(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(return_body, fcinfo);
}
