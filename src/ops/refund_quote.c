/*
 * refund_quote.c
 *	  wallet.refund_quote: what a refund of a top-up would be now, computed by
 *	  the netting request_refund uses (refund_topup.c). It changes nothing: a
 *	  STABLE function, whose statements read under the caller's snapshot.
 */
#include "ops/refund.h"

PG_FUNCTION_INFO_V1(wallet_refund_quote);

/* the wallet row, under the caller's snapshot */
static OpPlan wallet_read = {
	.sql = "SELECT currency, exponent, lots FROM wallet.wallet WHERE wallet_id = $1",
	.nargs = 1,
	.types = {INT8OID}
};

/*
 * wallet.refund_quote(topup_txn_id bigint, reason text) returns (max_amount,
 * bonus_clawback, bonus_void, fee_rate, refundable_until, coupon_clawback,
 * coupons_voided): at most c - u is refundable; what would be clawed back and
 * voided is shown only while something is refundable.
 */
Datum
wallet_refund_quote(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TopUpRow	t;
	RefundNetting n;
	TopUpCoupon *coupons;
	bool		platform;
	bool		isnull;
	char	   *currency;
	int			exponent;
	TimestampTz clk;
	Datum		args[1];
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	bool		some;

	check_not_null(fcinfo, 0, "topup_txn_id");
	op_start();
	refund_topup(PG_GETARG_INT64(0), true, &t);
	platform = refund_reason(fcinfo, 1);
	args[0] = Int64GetDatum(t.wallet_id);
	if (run_plan(op_plan(&wallet_read), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read wallet %lld", (long long) t.wallet_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld does not exist", (long long) t.wallet_id)));
	currency = TextDatumGetCString(getcol(1, &isnull));
	exponent = DatumGetInt16(getcol(2, &isnull));
	clk = wallet_clock();
	(void) refund_netting(&t, lotset_unpack(DatumGetLotSetP(getcol(3, &isnull))), clk, true, &n, &coupons);
	some = n.refundable > 0;

	/* the row's values in the caller's memory: SPI's goes with SPI_finish */
	{
		Numeric		rate = refund_fee_rate(&t, currency_conf(currency, exponent), platform);
		char	   *until = n.in_window ? NULL : topup_refundable_until(&t);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		values[0] = major(n.refundable, exponent);
		values[1] = major(some ? n.owed : 0, exponent);
		values[2] = major(some ? n.bonus_live : 0, exponent);
		values[3] = datumCopy(NumericGetDatum(rate), false, -1);
		if (n.in_window)
			values[4] = TimestampTzGetDatum(n.until);
		else if (until != NULL)
			values[4] = DirectFunctionCall3(timestamptz_in, CStringGetDatum(until),
											ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		else
			nulls[4] = true;
		values[5] = major(some ? n.coupon_owed : 0, exponent);
		values[6] = Int32GetDatum(some ? n.coupons_live : 0);
		MemoryContextSwitchTo(spi);
	}
	op_leave(caller);
	{
		static const Oid types[7] = {NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, TIMESTAMPTZOID,
		NUMERICOID, INT4OID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}
