/*
 * bonus_plan.c
 *	  What a top-up gets: the bonus rules of its currency active at its time,
 *	  one applied rule per group (engine_bonus_pick), for top_up and the
 *	  preview that says it before.
 */
#include "ops/ops.h"

/* campaign order of the result: base (NULL) first, then by name in the default collation */
static int
plan_cmp(const void *a, const void *b)
{
	const char *x = ((const PlanRule *) a)->campaign;
	const char *y = ((const PlanRule *) b)->campaign;

	if (x == NULL || y == NULL)
		return (x != NULL) - (y != NULL);
	return varstr_cmp(x, strlen(x), y, strlen(y), DEFAULT_COLLATION_OID);
}

/*
 * bonus_plan evaluates the bonus rules of a currency active at clk for a
 * top-up of amt (minor units), for top_up and bonus_preview: in each group
 * (campaign, NULL for the base tiers) the rule with the greatest min_amount
 * not above amt applies (on a tie the later rule_id). Returns the applied
 * rules that grant a bonus, base first then by campaign.
 */
int
bonus_plan(const CurrencyConf *conf, int64 amt, TimestampTz clk, PlanRule **out)
{
	int			n = 0,
				found;
	BonusRule  *rules;
	ConfRule  **live;
	int		   *picked;
	int64	   *bonus;
	PlanRule   *plan;

	rules = palloc0(sizeof(BonusRule) * Max(conf->nrules, 1));
	live = palloc(sizeof(ConfRule *) * Max(conf->nrules, 1));
	for (int i = 0; i < conf->nrules; i++)
	{
		ConfRule   *r = &conf->rules[i];

		if ((r->has_starts && r->starts > clk) || (r->has_ends && r->ends <= clk))
			continue;
		live[n] = r;
		if (r->campaign)
		{
			rules[n].grp = r->campaign;
			rules[n].grp_len = strlen(r->campaign);
		}
		rules[n].min_amount = r->min_amount;
		rules[n].fixed = r->fixed;
		rules[n].rate = r->rate;
		rules[n].has_cap = r->has_cap;
		rules[n].cap = r->cap;
		n++;
	}
	picked = palloc(sizeof(int) * Max(n, 1));
	bonus = palloc(sizeof(int64) * Max(n, 1));
	found = engine_bonus_pick(amt, n, rules, picked, bonus);
	plan = palloc(sizeof(PlanRule) * Max(found, 1));
	for (int j = 0; j < found; j++)
	{
		ConfRule   *r = live[picked[j]];

		plan[j].rule_id = r->rule_id;
		plan[j].campaign = r->campaign;
		plan[j].bonus = bonus[j];
		plan[j].expires = r->has_valid_for ?
			DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(clk),
													IntervalPGetDatum(&r->valid_for))) : WALLET_NO_TIME;
		plan[j].scope = r->scope;
		plan[j].fee = r->fee;
	}
	if (found > 1)
		qsort(plan, found, sizeof(PlanRule), plan_cmp);
	*out = plan;
	return found;
}

