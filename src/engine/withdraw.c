/*
 * withdraw.c
 *	  Withdrawals of earnings (CONTRACT.md section 16): the fee, what a
 *	  request of an amount would be (its refusal, its review), and the hold a
 *	  request places on the earnings and its end. Each rule is here once:
 *	  withdraw_quote, request_withdrawal and auto_withdraw (src/ops/withdraw_*.c)
 *	  call these functions.
 */
#include "engine/engine.h"

/*
 * engine_withdraw_fee is the fee of withdrawing amount: least(greatest(
 * amount * fee_rate + fee_fixed, fee_min), fee_max), the product rounded half
 * away from zero (the other terms are whole minor units already).
 */
int64
engine_withdraw_fee(int64 amount, const WithdrawRules *r)
{
	int64		fee = checked_add(rate_of(amount, r->fee_rate), r->fee_fixed);

	if (fee < r->fee_min)
		fee = r->fee_min;
	if (r->has_fee_max && fee > r->fee_max)
		fee = r->fee_max;
	return fee;
}

/*
 * engine_withdraw_quote fills q with what a withdrawal of amount would be,
 * with withdrawable earnings and daily_used already asked for today (requests
 * not rejected, failed or returned): its fee and net, whether it waits for
 * review (above auto_approve_max, or the day's total above review_daily), the
 * day's maximum left, and the first refusal of its amount: below the minimum,
 * a net of nothing, more than the earnings, past the day's maximum.
 */
void
engine_withdraw_quote(int64 amount, int64 withdrawable, int64 daily_used, const WithdrawRules *r,
					  WithdrawQuote *q)
{
	int64		day_total = checked_add(daily_used, amount);

	memset(q, 0, sizeof(WithdrawQuote));
	q->amount = amount;
	q->fee = engine_withdraw_fee(amount, r);
	q->net = amount - q->fee;
	q->withdrawable = withdrawable;
	q->daily_used = daily_used;
	q->has_remaining = r->has_daily_max;
	if (r->has_daily_max)
		q->daily_remaining = Max(r->daily_max - daily_used, 0);
	q->review = amount > r->auto_approve_max || (r->has_review_daily && day_total > r->review_daily);
	if (amount < r->min)
		q->refusal = WITHDRAW_BELOW_MINIMUM;
	else if (q->net <= 0)
		q->refusal = WITHDRAW_NET_NOT_POSITIVE;
	else if (amount > withdrawable)
		q->refusal = WITHDRAW_SHORT;
	else if (r->has_daily_max && day_total > r->daily_max)
		q->refusal = WITHDRAW_DAILY_MAX;
	else
		q->refusal = WITHDRAW_OK;
}

/*
 * engine_withdraw_counts_day says whether the day's requests so far change
 * what engine_withdraw_quote decides for a request under r: only a daily
 * maximum or a daily review threshold counts them.
 */
bool
engine_withdraw_counts_day(const WithdrawRules *r)
{
	return r->has_daily_max || r->has_review_daily;
}

/* withdraw_refusal_name names a refusal as withdraw_quote reports it (NULL: none). */
const char *
withdraw_refusal_name(WithdrawRefusal r)
{
	switch (r)
	{
		case WITHDRAW_OK:
			return NULL;
		case WITHDRAW_BELOW_MINIMUM:
			return "below_minimum";
		case WITHDRAW_NET_NOT_POSITIVE:
			return "net_not_positive";
		case WITHDRAW_SHORT:
			return "insufficient_earnings";
		case WITHDRAW_DAILY_MAX:
			return "daily_maximum";
	}
	return NULL;
}

/*
 * engine_withdraw_hold holds amount of the earnings for a withdrawal: it
 * moves from the earnings lots' amount (oldest first) to their held counter.
 */
void
engine_withdraw_hold(LotBuilder *b, int64 amount, TimestampTz now)
{
	int64		want = amount;

	if (amount <= 0 || amount > engine_earnings(b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("withdrawal hold exceeds the earnings")));
	for (int i = 0; i < b->nlots && want > 0; i++)
	{
		WalletLot  *l = &b->lots[i];
		int64		take;

		if (l->bucket != BUCKET_EARNINGS)
			continue;
		take = Min(want, l->amount);
		l->amount -= take;
		l->held = checked_add(l->held, take);
		want -= take;
	}
	compact(b, now);
}

/*
 * engine_withdraw_end ends a withdrawal's hold of amount: released (rejected,
 * failed), it goes back to the earnings; otherwise (succeeded) it leaves.
 */
void
engine_withdraw_end(LotBuilder *b, int64 amount, TimestampTz now, bool release)
{
	int64		want = amount;

	if (amount <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("withdrawal hold amount out of range")));
	for (int i = 0; i < b->nlots && want > 0; i++)
	{
		WalletLot  *l = &b->lots[i];
		int64		take;

		if (l->bucket != BUCKET_EARNINGS)
			continue;
		take = Min(want, l->held);
		l->held -= take;
		if (release)
			l->amount = checked_add(l->amount, take);
		want -= take;
	}
	if (want > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the withdrawal's hold is not in the wallet's earnings"),
				 errdetail("The earnings hold " INT64_FORMAT " less than the " INT64_FORMAT " to end.", want,
						   amount)));
	compact(b, now);
}
