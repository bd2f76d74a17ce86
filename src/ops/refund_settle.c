/*
 * refund_settle.c
 *	  wallet.settle_refund: the payment gateway's answer for an approved
 *	  refund: succeeded (the hold is paid out) or failed (it is given back),
 *	  both by refund_move.c, on the shared pipeline.
 */
#include "ops/refund.h"

PG_FUNCTION_INFO_V1(wallet_settle_refund);

/*
 * wallet.settle_refund(refund_id bigint, succeeded boolean, gateway_ref text)
 * returns the refund's new status: approved -> succeeded | failed. Repeating
 * the transition made returns the status; any other is WL008.
 */
static Datum
settle_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	int64		refund_id;
	bool		succeeded;
	char	   *gateway_ref;
	WalletRow	w;
	RefundRow	r;
	TimestampTz clk = wallet_clock();
	const char *status;

	check_not_null(fcinfo, 0, "refund_id");
	check_not_null(fcinfo, 1, "succeeded");
	refund_id = PG_GETARG_INT64(0);
	succeeded = PG_GETARG_BOOL(1);
	gateway_ref = check_text(fcinfo, 2, "gateway_ref", 200, false);
	op_start();
	pin_key_lookups();
	refund_lock(refund_id, &w, &r);
	status = succeeded ? "succeeded" : "failed";
	if (strcmp(r.status, status) != 0)
	{
		JB			jb;

		if (strcmp(r.status, "approved") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("refund %lld is %s", (long long) refund_id, r.status),
					 errdetail("Only an approved refund can be settled.")));
		jb_begin(&jb);
		jb_bool(&jb, "succeeded", succeeded);
		jb_text(&jb, "gateway_ref", gateway_ref);
		jb_int(&jb, "refund_id", refund_id);
		{
			RefundChange change = {.status = status, .review = false, .gateway_ref = gateway_ref};

			refund_move(&w, &r, "settle_refund", &change, !succeeded, jb_end(&jb), clk);
		}
	}
	op_leave(caller);
	return refund_status_result(status);
}

Datum
wallet_settle_refund(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(settle_body, fcinfo);
}
