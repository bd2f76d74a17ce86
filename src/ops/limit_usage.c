/*
 * limit_usage.c
 *	  wallet.limit_usage: where a wallet stands with each limit rule that
 *	  applies to it (CONTRACT.md section 20), read from the usage counters
 *	  of its row and the rules of the configuration cache; changes nothing.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_limit_usage);

/*
 * wallet.limit_usage(wallet_id) returns, per rule that applies to the wallet
 * (by rule_id), (rule_id, operation, period, period_start, used_amount,
 * used_count, remaining_amount, remaining_count): period_start is the first
 * instant of the day or month in limit_time_zone (NULL for a rule of each
 * operation alone, whose used columns are 0); remaining is NULL where the
 * rule has no such maximum.
 */
Datum
wallet_limit_usage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	WalletRow	w;
	LimitConf	lc;
	LimitUsage	u;
	int32		day;
	int32		month;
	int			exponent;
	Datum	   *rows;
	bool	   *rnulls;
	TimestampTz day_start = 0;
	TimestampTz month_start = 0;
	MemoryContext old;

	InitMaterializedSRF(fcinfo, 0);
	read_wallet(op_begin(fcinfo), false, false, &w);
	exponent = w.exponent;
	currency_limits(w.currency, w.exponent, w.id, &lc);
	usage_decode(plans.usage_att != InvalidAttrNumber ? w.usage_raw : NULL, &u);
	limit_period(lc.time_zone, clk, &day, &month);
	engine_limit_roll(&u, day, month);
	if (lc.n > 0)
	{
		day_start = limit_period_start(lc.time_zone, day, month, false);
		month_start = limit_period_start(lc.time_zone, day, month, true);
	}
	/* the rows' values, in the caller's memory (SPI's goes with op_leave) */
	old = MemoryContextSwitchTo(caller);
	rows = palloc(sizeof(Datum) * 8 * Max(lc.n, 1));
	rnulls = palloc0(sizeof(bool) * 8 * Max(lc.n, 1));
	for (int i = 0; i < lc.n; i++)
	{
		const LimitRule *r = &lc.rules[i];
		Datum	   *v = rows + 8 * i;
		bool	   *nl = rnulls + 8 * i;
		LimitHit	h;

		engine_limit_standing(&u, r, &h);
		v[0] = Int64GetDatum(r->rule_id);
		v[1] = CStringGetTextDatum(limit_op_name(r->op));
		v[2] = CStringGetTextDatum(limit_period_name(r->period));
		v[3] = TimestampTzGetDatum(r->period == LIMIT_PER_MONTH ? month_start : day_start);
		nl[3] = r->period == LIMIT_PER_OPERATION;
		v[4] = major(h.used_amount, exponent);
		v[5] = Int64GetDatum(h.used_count);
		v[6] = r->has_amount ? major(h.remaining_amount, exponent) : (Datum) 0;
		nl[6] = !r->has_amount;
		v[7] = Int64GetDatum(h.remaining_count);
		nl[7] = !r->has_count;
	}
	MemoryContextSwitchTo(old);
	op_leave(caller);
	for (int i = 0; i < lc.n; i++)
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, rows + 8 * i, rnulls + 8 * i);
	return (Datum) 0;
}
