/*
 * withdraw_quote.c
 *	  wallet.withdraw_quote: what a withdrawal of an amount would be now,
 *	  computed by the rules request_withdrawal uses (withdraw_common.c). It
 *	  changes nothing: a STABLE function, whose statements read under the
 *	  caller's snapshot.
 */
#include "ops/withdraw.h"

PG_FUNCTION_INFO_V1(wallet_withdraw_quote);

/* the wallet row and its payee credits not rolled up yet, under the caller's snapshot */
static OpPlan wallet_read = OP_PLAN(
	"SELECT w.currency, w.exponent, w.lots, w.debt, w.frozen, "
	"coalesce((SELECT sum(c.amount) FROM wallet.payee_credit c "
	"WHERE c.wallet_id = w.wallet_id AND c.bucket = 'earnings'), 0)::bigint "
	"FROM wallet.wallet w WHERE w.wallet_id = $1",
	1, INT8OID);

/*
 * wallet.withdraw_quote(wallet_id bigint, amount numeric) returns (amount,
 * fee, net, review, daily_used, daily_remaining, refusal): the earnings it
 * weighs are what balance calls withdrawable (the lots' earnings, those a
 * hold past its expiry gives back, payee credits not rolled up yet less the
 * part that repays a debt); refusal names what request_withdrawal would
 * refuse (frozen, in_debt, below_minimum, net_not_positive,
 * insufficient_earnings, daily_maximum), NULL when it would go through.
 */
Datum
wallet_withdraw_quote(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	WalletRow	w;
	WithdrawQuote q;
	TimestampTz clk = wallet_clock();
	Datum		args[1];
	bool		isnull;
	LotBuilder *b;
	int64		debt;
	int64		pending;
	int64		repaid;
	int64		withdrawable;
	bool		frozen;
	int64		amount;
	const char *refusal;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	memset(&w, 0, sizeof(w));
	w.id = op_begin(fcinfo);
	args[0] = Int64GetDatum(w.id);
	if (run_plan(op_plan(&wallet_read), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read wallet %lld", (long long) w.id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld does not exist", (long long) w.id)));
	w.currency = TextDatumGetCString(getcol(1, &isnull));
	w.exponent = DatumGetInt16(getcol(2, &isnull));
	b = lotset_unpack(DatumGetLotSetP(getcol(3, &isnull)));
	debt = DatumGetInt64(getcol(4, &isnull));
	frozen = DatumGetBool(getcol(5, &isnull));
	pending = DatumGetInt64(getcol(6, &isnull));
	amount = op_amount(fcinfo, 1, &w);

	/* the earnings as balance shows them */
	withdrawable = engine_earnings(b);
	if (b->nres > 0)
	{
		int64		held;
		int64		back[WALLET_NBUCKETS];
		int64		stored;

		engine_reserved(b, NULL, clk, &held, back, &stored);
		withdrawable = checked_add(withdrawable, back[BUCKET_EARNINGS]);
	}
	repaid = engine_debt_repaid(debt, pending);
	withdrawable = checked_add(withdrawable, pending - repaid);
	debt -= repaid;

	withdraw_quote_now(&w, amount, withdrawable, clk, true, &q);
	refusal = frozen ? "frozen" : debt > 0 ? "in_debt" : withdraw_refusal_name(q.refusal);

	op_leave(caller);
	values[0] = major(q.amount, w.exponent);
	values[1] = major(q.fee, w.exponent);
	values[2] = major(q.net, w.exponent);
	values[3] = BoolGetDatum(q.review);
	values[4] = major(q.daily_used, w.exponent);
	values[5] = q.has_remaining ? major(q.daily_remaining, w.exponent) : (Datum) 0;
	nulls[5] = !q.has_remaining;
	values[6] = refusal ? CStringGetTextDatum(refusal) : (Datum) 0;
	nulls[6] = refusal == NULL;
	{
		static const Oid types[7] = {NUMERICOID, NUMERICOID, NUMERICOID, BOOLOID, NUMERICOID, NUMERICOID,
		TEXTOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}
