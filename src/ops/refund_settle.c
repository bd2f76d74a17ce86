/*
 * refund_settle.c
 *	  wallet.settle_refund: the payment gateway's answer for an approved
 *	  refund: succeeded (the hold is paid out) or failed (it is given back),
 *	  both by refund_move.c, on the shared pipeline.
 */
#include "ops/refund.h"

PG_FUNCTION_INFO_V1(wallet_settle_refund);

static OpPlan settle_update = {
	.sql = "UPDATE wallet.refund SET status = $2, gateway_ref = $3, settled_at = $4 WHERE refund_id = $1",
	.nargs = 4,
	.types = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

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
		refund_move(&w, &r, "settle_refund", status, !succeeded, jb_end(&jb), clk);
		{
			Datum		args[4] = {Int64GetDatum(refund_id), CStringGetTextDatum(status),
				gateway_ref ? CStringGetTextDatum(gateway_ref) : (Datum) 0, TimestampTzGetDatum(clk)};
			char		nulls[4] = {' ', ' ', gateway_ref ? ' ' : 'n', ' '};

			if (run_plan(op_plan(&settle_update), args, nulls, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not update refund %lld", (long long) refund_id);
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
