/*
 * exchange.c
 *	  The money rules of CONTRACT.md section 18: an exchange's fee and what it
 *	  gives in the target currency, and the reward points a spend earns (which
 *	  rule applies, how many points).
 */
#include "engine/engine.h"

/* pow10_numeric is 10^e as a numeric (e between 0 and 8). */
static Datum
pow10_numeric(int e)
{
	int64		p = 1;

	for (int i = 0; i < e; i++)
		p *= 10;
	return DirectFunctionCall1(int8_numeric, Int64GetDatum(p));
}

/*
 * engine_convert_down converts amount (minor units of a currency of
 * from_exponent) times factor into minor units of a currency of to_exponent,
 * rounded down: the receiver never gets a fraction of a minor unit more.
 * A result above 10^15 minor units is refused (22023).
 */
int64
engine_convert_down(int64 amount, int from_exponent, Numeric factor, int to_exponent)
{
	Datum		v;
	Datum		floored;

	if (amount < 0)
		elog(ERROR, "a converted amount must not be negative");
	v = DirectFunctionCall2(numeric_mul, DirectFunctionCall1(int8_numeric, Int64GetDatum(amount)),
							NumericGetDatum(factor));
	if (to_exponent > from_exponent)
		v = DirectFunctionCall2(numeric_mul, v, pow10_numeric(to_exponent - from_exponent));
	else if (to_exponent < from_exponent)
		v = DirectFunctionCall2(numeric_div, v, pow10_numeric(from_exponent - to_exponent));
	floored = DirectFunctionCall1(numeric_floor, v);
	if (DatumGetBool(DirectFunctionCall2(numeric_gt, floored,
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(WALLET_MAX_MINOR)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the converted amount exceeds 10^15 minor units")));
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, floored));
}

/*
 * engine_exchange computes an exchange of amount (minor units of the source
 * currency): fee = amount * fee_rate, half away from zero, in the source
 * currency; to_amount = (amount - fee) * rate, rounded down to the target's
 * minor unit.
 */
void
engine_exchange(int64 amount, int from_exponent, int to_exponent, Numeric rate, Numeric fee_rate,
				int64 *fee, int64 *to_amount)
{
	*fee = rate_of(amount, fee_rate);
	if (*fee > amount)
		*fee = amount;
	*to_amount = engine_convert_down(amount - *fee, from_exponent, rate, to_exponent);
}

/*
 * engine_reward_pick returns the reward rule that applies to a spend that
 * charged charged in scene at now (-1: none): among the rules in force whose
 * scene is NULL or the spend's and whose min_spend it reaches, the one with
 * the greatest min_spend; on a tie, a rule of the scene before one of any
 * scene, then the newest rule. Nothing charged earns nothing.
 */
int
engine_reward_pick(const RewardRule *rules, int n, int64 charged, const char *scene, TimestampTz now)
{
	int			best = -1;

	if (charged <= 0)
		return -1;
	for (int i = 0; i < n; i++)
	{
		const RewardRule *r = &rules[i];

		if ((r->has_starts && r->starts > now) || (r->has_ends && r->ends <= now))
			continue;
		if (r->scene != NULL && (scene == NULL || strcmp(r->scene, scene) != 0))
			continue;
		if (r->min_spend > charged)
			continue;
		if (best >= 0)
		{
			const RewardRule *b = &rules[best];

			if (r->min_spend < b->min_spend)
				continue;
			if (r->min_spend == b->min_spend)
			{
				if (b->scene != NULL && r->scene == NULL)
					continue;
				if ((b->scene == NULL) == (r->scene == NULL) && r->rule_id < b->rule_id)
					continue;
			}
		}
		best = i;
	}
	return best;
}

/*
 * engine_reward_points is what rule r gives for charged (minor units of a
 * currency of exponent): floor(charged * points_per_unit) in the points
 * currency's minor units.
 */
int64
engine_reward_points(const RewardRule *r, int64 charged, int exponent)
{
	return engine_convert_down(charged, exponent, r->per_unit, r->points_exponent);
}
