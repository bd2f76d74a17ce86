/*
 * limits.c
 *	  The rules of limits (CONTRACT.md section 20), pure: no table access.
 *	  A debit is checked against every rule of its currency and wallet that
 *	  covers its class (a `debit` rule covers spend, transfer, withdraw and
 *	  exchange together); a refusing rule broken refuses, else a step-up rule
 *	  broken asks for a grant. Usage counters roll over with the local day
 *	  and month and are given back only within the period they were counted in.
 */
#include "engine/engine.h"
#include "engine/limits.h"

static const char *const op_names[] = {"spend", "transfer", "withdraw", "exchange", "card_payout", "debit"};
static const char *const period_names[] = {"operation", "day", "month"};

const char *
limit_op_name(LimitOp op)
{
	return op_names[op];
}

const char *
limit_period_name(LimitPeriod p)
{
	return period_names[p];
}

/* engine_limit_applies tells whether rule r covers a debit of class op. */
bool
engine_limit_applies(const LimitRule *r, LimitOp op)
{
	if (r->op == op)
		return true;
	return r->op == LIMIT_DEBIT && op != LIMIT_CARD_PAYOUT;
}

/*
 * engine_limit_roll brings usage u to local day and month: the counters of a
 * day (a month) that is over start again at zero.
 */
void
engine_limit_roll(LimitUsage *u, int32 day, int32 month)
{
	if (u->day != day)
	{
		for (int i = 0; i < LIMIT_NOPS; i++)
			u->amount[i][0] = u->count[i][0] = 0;
		u->day = day;
	}
	if (u->month != month)
	{
		for (int i = 0; i < LIMIT_NOPS; i++)
			u->amount[i][1] = u->count[i][1] = 0;
		u->month = month;
	}
}

/*
 * engine_limit_used sets what usage u (rolled to now) counts for rule r: the
 * amount and count of its class (of the four debit classes for `debit`) in
 * its period; 0 for a rule of each operation alone.
 */
void
engine_limit_used(const LimitUsage *u, const LimitRule *r, int64 *amount, int64 *count)
{
	int			p = r->period == LIMIT_PER_MONTH ? 1 : 0;

	*amount = 0;
	*count = 0;
	if (r->period == LIMIT_PER_OPERATION)
		return;
	for (int i = 0; i < LIMIT_NOPS; i++)
		if (engine_limit_applies(r, (LimitOp) i))
		{
			*amount = checked_add(*amount, u->amount[i][p]);
			*count = checked_add(*count, u->count[i][p]);
		}
}

/* engine_limit_standing fills hit with where usage u stands with rule r. */
void
engine_limit_standing(const LimitUsage *u, const LimitRule *r, LimitHit *hit)
{
	hit->rule = r;
	engine_limit_used(u, r, &hit->used_amount, &hit->used_count);
	hit->remaining_amount = r->has_amount ? Max(r->max_amount - hit->used_amount, 0) : -1;
	hit->remaining_count = r->has_count ? Max((int64) r->max_count - hit->used_count, 0) : -1;
}

/* broken tells whether a debit of amt breaks rule r, usage u standing as it does. */
static bool
broken(const LimitRule *r, const LimitUsage *u, int64 amt, LimitHit *hit)
{
	engine_limit_standing(u, r, hit);
	if (r->has_amount && checked_add(hit->used_amount, amt) > r->max_amount)
		return true;
	return r->has_count && r->period != LIMIT_PER_OPERATION && hit->used_count + 1 > r->max_count;
}

/*
 * engine_limit_check judges a debit of amt (minor units, > 0) of class op
 * against the n rules (by rule_id) with usage u rolled to now: LIMIT_REFUSE
 * when a refusing rule is broken (the first), else LIMIT_STEP_UP when a
 * step-up rule is (the first), else LIMIT_OK. hit names the rule and where
 * the wallet stands with it.
 */
LimitVerdict
engine_limit_check(const LimitRule *rules, int n, const LimitUsage *u, LimitOp op, int64 amt, LimitHit *hit)
{
	LimitHit	step;
	bool		any_step = false;

	memset(hit, 0, sizeof(*hit));
	for (int i = 0; i < n; i++)
	{
		LimitHit	h;

		if (!engine_limit_applies(&rules[i], op) || !broken(&rules[i], u, amt, &h))
			continue;
		if (!rules[i].step_up)
		{
			*hit = h;
			return LIMIT_REFUSE;
		}
		if (!any_step)
		{
			step = h;
			any_step = true;
		}
	}
	if (!any_step)
		return LIMIT_OK;
	*hit = step;
	return LIMIT_STEP_UP;
}

/* engine_limit_add counts a debit of amt of class op in usage u (rolled to now). */
void
engine_limit_add(LimitUsage *u, LimitOp op, int64 amt)
{
	for (int p = 0; p < 2; p++)
	{
		u->amount[op][p] = checked_add(u->amount[op][p], amt);
		u->count[op][p] = checked_add(u->count[op][p], 1);
	}
}

/*
 * engine_limit_give_back takes amt and count back from usage u (rolled to
 * now) for a debit of class op counted on local day and month: from the
 * day's counters if that day is u's, from the month's if that month is u's;
 * a period that is over keeps what it counted. Never below zero.
 */
void
engine_limit_give_back(LimitUsage *u, LimitOp op, int64 amt, int32 count, int32 day, int32 month)
{
	for (int p = 0; p < 2; p++)
	{
		if ((p == 0 && day != u->day) || (p == 1 && month != u->month))
			continue;
		u->amount[op][p] = Max(u->amount[op][p] - amt, 0);
		u->count[op][p] = Max(u->count[op][p] - count, 0);
	}
}
