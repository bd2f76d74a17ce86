/*
 * limits.c
 *	  The limits of CONTRACT.md section 20 in the pipeline: one call per
 *	  debit (limits_apply) judges it against the rules of its currency and
 *	  wallet (engine_limit_check, rules from the configuration cache), refuses
 *	  it (WL007) or asks for a step-up grant (WL009), takes a grant that
 *	  allows it, and counts it in the usage counters of the wallet row, which
 *	  the operation's own write of that row writes; one call per give-back
 *	  (limits_give_back) takes back what a reversal, release, expiry or
 *	  failed withdrawal returns, within the period it was counted in.
 */
#include "ops/ops.h"

static char *
amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

/* usage_now returns w's usage counters rolled to clk's day and month in zone (decoded once per read). */
static LimitUsage *
usage_now(WalletRow *w, const char *zone, TimestampTz clk)
{
	int32		day;
	int32		month;

	if (w->usage == NULL)
	{
		w->usage = palloc(sizeof(LimitUsage));
		usage_decode(w->usage_raw, w->usage);
	}
	limit_period(zone, clk, &day, &month);
	engine_limit_roll(w->usage, day, month);
	return w->usage;
}

/*
 * limits_day_amount is what wallet w debited in class op in the day of clk
 * (days in zone), as its usage counters hold it, or -1 when its row has none
 * (nothing counted since the counters came: the caller counts otherwise).
 */
int64
limits_day_amount(WalletRow *w, LimitOp op, const char *zone, TimestampTz clk)
{
	if (w->usage_raw == NULL || plans.usage_att == InvalidAttrNumber)
		return -1;
	return usage_now(w, zone, clk)->amount[op][0];
}

/* rule_text describes rule r for a detail: its id, operation, period, maxima and action. */
static char *
rule_text(const LimitRule *r, int exponent, const char *zone)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "limit_rule %lld (%s, %s%s", (long long) r->rule_id, limit_op_name(r->op),
					 r->period == LIMIT_PER_OPERATION ? "each operation" : "per ", 
					 r->period == LIMIT_PER_OPERATION ? "" : limit_period_name(r->period));
	if (r->has_amount)
		appendStringInfo(&s, ", at most %s", amount_text(r->max_amount, exponent));
	if (r->has_count)
		appendStringInfo(&s, "%s %d operations", r->has_amount ? " and" : ", at most", r->max_count);
	if (r->wallet_id != 0)
		appendStringInfoString(&s, ", this wallet's own");
	if (r->period != LIMIT_PER_OPERATION)
		appendStringInfo(&s, ", days in %s", zone);
	appendStringInfoChar(&s, ')');
	return s.data;
}

/* hit_text describes where the wallet stands with the rule hit and the debit of amt (what: its operation). */
static char *
hit_text(const LimitHit *hit, int exponent, const char *zone, const char *what, int64 amt)
{
	StringInfoData s;
	const LimitRule *r = hit->rule;

	initStringInfo(&s);
	appendStringInfo(&s, "%s: ", rule_text(r, exponent, zone));
	if (r->period != LIMIT_PER_OPERATION)
	{
		appendStringInfo(&s, "used %s in %lld operation%s %s", amount_text(hit->used_amount, exponent),
						 (long long) hit->used_count, hit->used_count == 1 ? "" : "s",
						 r->period == LIMIT_PER_DAY ? "today" : "this month");
		if (r->has_amount)
			appendStringInfo(&s, ", %s remaining", amount_text(hit->remaining_amount, exponent));
		if (r->has_count)
			appendStringInfo(&s, ", %lld operations remaining", (long long) hit->remaining_count);
		appendStringInfoString(&s, "; ");
	}
	appendStringInfo(&s, "this %s is %s.", what, amount_text(amt, exponent));
	return s.data;
}

/* step_up_hint is how to obtain a grant for the debit and retry. */
static char *
step_up_hint(const WalletRow *w, LimitOp op, int64 amt)
{
	return psprintf("Verify the customer; a wallet_verifier calls wallet.grant_step_up(%lld, '%s', %s, verifier), "
					"then make the same call again with the same idempotency_key and step_up => the token.",
					(long long) w->id, limit_op_name(op), amount_text(amt, w->exponent));
}

/*
 * limits_refusal says what the limits would say of a debit of amt of class
 * op (what: its operation) by wallet w at clk, changing nothing: NULL if
 * they allow it, else "limit: ..." (it would be refused, WL007) or
 * "step_up: ..." (it needs a grant, WL009), with the rule and where the
 * wallet stands. A checkout page's preview shows it.
 */
char *
limits_refusal(WalletRow *w, LimitOp op, const char *what, int64 amt, TimestampTz clk)
{
	LimitConf	lc;
	LimitUsage *u;
	LimitHit	hit;
	LimitVerdict v;

	if (amt <= 0 || plans.usage_att == InvalidAttrNumber)
		return NULL;
	currency_limits(w->currency, w->exponent, w->id, &lc);
	if (lc.n == 0)
		return NULL;
	u = usage_now(w, lc.time_zone, clk);
	v = engine_limit_check(lc.rules, lc.n, u, op, amt, &hit);
	if (v == LIMIT_OK)
		return NULL;
	return psprintf("%s: %s", v == LIMIT_REFUSE ? "limit" : "step_up",
					hit_text(&hit, w->exponent, lc.time_zone, what, amt));
}

/*
 * grant_take finds the grant of token for a debit of amt of class op by
 * locked wallet w at clk, locked until the transaction ends, and returns its
 * id; a grant that does not allow it is WL009 with the reason. Another
 * wallet's token is reported exactly as an unknown one.
 */
static int64
grant_take(const WalletRow *w, LimitOp op, const char *what, int64 amt, const char *token, TimestampTz clk,
		   const char *rule)
{
	StepUpGrant g;
	char	   *why = NULL;

	if (!step_up_find(token, &g) || g.wallet_id != w->id)
		why = pstrdup("No grant of this wallet has that token.");
	else if (g.used)
		why = psprintf("The grant was used by transaction %lld.", (long long) g.used_txn);
	else if (g.expires_at <= clk)
		why = psprintf("The grant expired at %s.",
					   DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(g.expires_at))));
	else if (strcmp(g.operation, limit_op_name(op)) != 0)
		why = psprintf("The grant is for %s, not %s.", g.operation, limit_op_name(op));
	else if (amt > g.max_amount)
		why = psprintf("The grant allows up to %s; this %s is %s.", amount_text(g.max_amount, w->exponent), what,
					   amount_text(amt, w->exponent));
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WL('9')),
				 errmsg("step-up grant does not allow this payment"),
				 errdetail("%s It was asked for by %s.", why, rule),
				 errhint("%s", step_up_hint(w, op, amt))));
	return g.grant_id;
}

/*
 * limits_apply judges a debit of amt (minor units) of class op, made by the
 * operation what of wallet w at clk, and counts it in w's usage (written
 * with the row: w->usage_dirty). A refusing rule broken is WL007; a step-up
 * rule broken is WL009 unless step_up is the token of a grant that allows
 * it, whose id goes to *grant_id (0: none needed). Without locked (an
 * unlocked read, written under the version check) a debit that is not
 * plainly within the limits is left to be decided under the lock: false,
 * nothing counted. Nothing happens for an amount of zero.
 */
bool
limits_apply(WalletRow *w, LimitOp op, const char *what, int64 amt, const char *step_up, TimestampTz clk,
			 bool locked, int64 *grant_id)
{
	LimitConf	lc;
	LimitUsage *u;
	LimitHit	hit;
	LimitVerdict v = LIMIT_OK;

	*grant_id = 0;
	if (amt <= 0 || plans.usage_att == InvalidAttrNumber)
		return true;
	currency_limits(w->currency, w->exponent, w->id, &lc);
	u = usage_now(w, lc.time_zone, clk);
	if (lc.n > 0)
		v = engine_limit_check(lc.rules, lc.n, u, op, amt, &hit);
	if (v != LIMIT_OK && !locked)
		return false;
	if (v == LIMIT_REFUSE)
		ereport(ERROR,
				(errcode(ERRCODE_WL('7')),
				 errmsg("limit exceeded"),
				 errdetail_internal("%s", hit_text(&hit, w->exponent, lc.time_zone, what, amt)),
				 errhint("wallet.limit_usage(%lld) shows what is used and what remains.", (long long) w->id)));
	if (v == LIMIT_STEP_UP)
	{
		char	   *text = hit_text(&hit, w->exponent, lc.time_zone, what, amt);

		if (step_up == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_WL('9')),
					 errmsg("step-up verification required"),
					 errdetail_internal("%s", text),
					 errhint("%s", step_up_hint(w, op, amt))));
		*grant_id = grant_take(w, op, what, amt, step_up, clk, rule_text(hit.rule, w->exponent, lc.time_zone));
	}
	engine_limit_add(u, op, amt);
	w->usage_dirty = true;
	return true;
}

/*
 * limits_allow tells whether a debit of amt of class op by wallet w at clk
 * is within every limit rule (no refusal, no step-up), counting nothing:
 * what auto_withdraw asks before it requests.
 */
bool
limits_allow(WalletRow *w, LimitOp op, int64 amt, TimestampTz clk)
{
	LimitConf	lc;
	LimitUsage *u;
	LimitHit	hit;

	if (amt <= 0 || plans.usage_att == InvalidAttrNumber)
		return true;
	currency_limits(w->currency, w->exponent, w->id, &lc);
	if (lc.n == 0)
		return true;
	u = usage_now(w, lc.time_zone, clk);
	return engine_limit_check(lc.rules, lc.n, u, op, amt, &hit) == LIMIT_OK;
}

/*
 * limits_count counts a credit of amt of class op of wallet w at clk without
 * judging it: a card intake's payout a reviewer approved.
 */
void
limits_count(WalletRow *w, LimitOp op, int64 amt, TimestampTz clk)
{
	LimitConf	lc;

	if (amt <= 0 || plans.usage_att == InvalidAttrNumber)
		return;
	currency_limits(w->currency, w->exponent, w->id, &lc);
	engine_limit_add(usage_now(w, lc.time_zone, clk), op, amt);
	w->usage_dirty = true;
}

/*
 * limits_used records that grant grant_id (0: none) allowed journal row
 * txn_id, once that row is written: the grant is used.
 */
void
limits_used(int64 grant_id, int64 txn_id, TimestampTz clk)
{
	if (grant_id != 0)
		step_up_use(grant_id, txn_id, clk);
}

/* limits_json names in a journal result the grant (0: none) that allowed the payment. */
void
limits_json(JB *jb, int64 grant_id)
{
	if (grant_id != 0)
		jb_int(jb, "step_up_grant", grant_id);
}

/*
 * limits_give_back takes amt and count back from w's usage for a debit of
 * class op counted at counted_at (a reversal, a release, an expiry, a
 * withdrawal rejected, failed or returned): from the counters of its day and
 * month if they are still the current ones at clk; a period that is over
 * keeps what it counted. The row's write writes them.
 */
void
limits_give_back(WalletRow *w, LimitOp op, int64 amt, int32 count, TimestampTz counted_at, TimestampTz clk)
{
	LimitConf	lc;
	LimitUsage *u;
	LimitUsage	before;
	int32		day;
	int32		month;

	if (plans.usage_att == InvalidAttrNumber || (amt <= 0 && count <= 0) ||
		(w->usage_raw == NULL && w->usage == NULL))
		return;
	currency_limits(w->currency, w->exponent, w->id, &lc);
	u = usage_now(w, lc.time_zone, clk);
	before = *u;
	limit_period(lc.time_zone, counted_at, &day, &month);
	engine_limit_give_back(u, op, Max(amt, 0), Max(count, 0), day, month);
	if (memcmp(&before, u, sizeof(before)) != 0)
		w->usage_dirty = true;
}
