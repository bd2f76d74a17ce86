/*
 * spend_preview.c
 *	  wallet.spend_preview: what a spend would do now, for a checkout page,
 *	  changing nothing (CONTRACT.md section 15). The same rules as spend: a
 *	  coupon's discount (coupon_validity), the spending order with earnings
 *	  only where earnings_scope lets them be spent, max_charge, the spend
 *	  rules (engine_spend_rule), the limits (limits_refusal: section 20); the
 *	  money reserved by open holds is not
 *	  available, that of holds past their expiry is. Read under the caller's
 *	  snapshot. What is not covered is the shortfall, to be collected
 *	  elsewhere (as a spend with allow_partial); refusal says why the payment
 *	  would be refused, NULL when it would go through.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_spend_preview);

static OpPlan wallet_read = OP_PLAN(
	"SELECT currency, exponent, lots, frozen, debt, limit_usage FROM wallet.wallet WHERE wallet_id = $1",
	1, INT8OID);
static OpPlan pending_read = OP_PLAN(
	"SELECT coalesce(sum(amount) FILTER (WHERE bucket = 'earnings'), 0)::bigint, "
	"coalesce(sum(amount) FILTER (WHERE bucket = 'bonus' AND (expires_at IS NULL OR expires_at > $2)), 0)::bigint "
	"FROM wallet.payee_credit WHERE wallet_id = $1",
	2, INT8OID, TIMESTAMPTZOID);

/*
 * wallet.spend_preview(wallet_id, amount, scene, coupon, max_charge) returns
 * (charged, discount, bonus_used, cash_used, earnings_used, shortfall,
 * refusal).
 */
Datum
wallet_spend_preview(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int64		wallet_id;
	char	   *scene = NULL;
	char	   *coupon;
	char	   *currency;
	int			exponent;
	bool		frozen;
	int64		debt;
	int64		pending;
	bool		isnull;
	LotBuilder *b;
	SpendRules	conf;
	bool		earnings;
	int64		amt;
	int64		discount = 0;
	int64		used[WALLET_NBUCKETS] = {0, 0, 0};
	int64		order;
	int64		want;
	int64		shortfall;
	int64		charged;
	char	   *refusal = NULL;
	WalletRow	w;
	int64		hold;
	Datum		args[1];
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	wallet_id = op_begin(fcinfo);
	args[0] = Int64GetDatum(wallet_id);
	if (run_plan(op_plan(&wallet_read), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read wallet %lld", (long long) wallet_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld does not exist", (long long) wallet_id)));
	currency = TextDatumGetCString(getcol(1, &isnull));
	exponent = DatumGetInt16(getcol(2, &isnull));
	b = lotset_unpack(DatumGetLotSetP(getcol(3, &isnull)));
	frozen = DatumGetBool(getcol(4, &isnull));
	debt = DatumGetInt64(getcol(5, &isnull));
	/* what the limits need of the wallet: its id, currency and usage counters */
	memset(&w, 0, sizeof(w));
	w.id = wallet_id;
	w.currency = currency;
	w.exponent = exponent;
	{
		Datum		u = getcol(6, &isnull);

		w.usage_raw = isnull ? NULL : DatumGetByteaPCopy(u);
	}
	/*
	 * payee credits not rolled up yet are earnings, and reward points bonus
	 * usable everywhere, less what repays a debt (as a spend rolls them up)
	 */
	{
		Datum		pargs[2] = {args[0], TimestampTzGetDatum(clk)};
		int64		pending_bonus;
		int64		repaid;

		if (run_plan(op_plan(&pending_read), pargs, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read the payee credits of wallet %lld", (long long) wallet_id);
		pending = DatumGetInt64(getcol(1, &isnull));
		pending_bonus = DatumGetInt64(getcol(2, &isnull));
		repaid = engine_debt_repaid(debt, pending);
		pending -= repaid;
		pending_bonus -= engine_debt_repaid(debt - repaid, pending_bonus);
		if (pending > 0)
			engine_add(b, BUCKET_EARNINGS, pending, 1, clk, WALLET_NO_TIME, NULL);
		if (pending_bonus > 0)
			engine_add(b, BUCKET_BONUS, pending_bonus, 1, clk, WALLET_NO_TIME, NULL);
	}
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be null")));
	amt = numeric_to_minor(PG_GETARG_NUMERIC(1), exponent, "amount");
	if (!PG_ARGISNULL(2))
	{
		scene = text_to_cstring(PG_GETARG_TEXT_PP(2));
		check_scene(scene, "scene");
	}
	coupon = check_text(fcinfo, 3, "coupon", 64, false);
	want = PG_ARGISNULL(4) ? -1 : numeric_to_minor(PG_GETARG_NUMERIC(4), exponent, "max_charge");
	currency_spend_rules(currency, exponent, &conf);
	earnings = engine_earnings_usable(conf.earnings_scope, scene);

	if (coupon != NULL)
	{
		char	   *canonical;
		const char *reason = coupon_validity(coupon, wallet_id, currency, exponent, amt, scene, clk, &discount,
											 &canonical);

		if (reason != NULL)
		{
			refusal = psprintf("coupon not valid: %s", reason);
			discount = 0;
		}
	}
	/* holds past their expiry reserve nothing: their pieces are spent as the lots they came from */
	while ((hold = engine_due_hold(b, clk)) != 0)
	{
		ReversalOut out;
		int64		left[WALLET_NBUCKETS];

		engine_release(b, hold, engine_hold_remaining(b, hold, left), clk, &out);
	}
	order = amt - discount;
	want = want < 0 ? order : Min(order, want);
	shortfall = engine_spend_in(b, want, scene, clk, earnings, used, NULL);
	charged = want - shortfall;
	shortfall = order - charged;
	if (refusal == NULL && frozen)
		refusal = psprintf("wallet %lld is frozen", (long long) wallet_id);
	if (refusal == NULL)
	{
		const char *rule = engine_spend_rule(order, checked_add(charged, engine_available(b, scene, clk, earnings)),
											 charged, conf.min_balance_use, conf.use_all_below);

		if (rule != NULL)
			refusal = pstrdup(rule);
	}
	if (refusal == NULL)
		refusal = limits_refusal(&w, LIMIT_SPEND, "spend", charged, clk);
	if (refusal != NULL)
		refusal = MemoryContextStrdup(caller, refusal);
	op_leave(caller);
	values[0] = major(charged, exponent);
	values[1] = major(discount, exponent);
	values[2] = major(used[BUCKET_BONUS], exponent);
	values[3] = major(used[BUCKET_CASH], exponent);
	values[4] = major(used[BUCKET_EARNINGS], exponent);
	values[5] = major(shortfall, exponent);
	if (refusal != NULL)
		values[6] = CStringGetTextDatum(refusal);
	else
		nulls[6] = true;
	{
		static const Oid types[7] = {NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
		TEXTOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}
