/*
 * config.c
 *	  A currency's configuration as the hot path reads it (policy, bonus rules,
 *	  whether coupons are issued on top-ups, reward rules), kept per backend and forgotten on
 *	  the invalidation that wallet._config_changed sends.
 */
#include "store/store.h"

/*
 * The currency's configuration the hot path reads: its policy (refund window,
 * commission rate, the refund fee rate, auto-approval and limit), its bonus rules and whether coupon templates are issued on
 * its top-ups. Kept per backend, because reading it costs a top-up three index
 * probes, and forgotten whenever one of those tables changes: a statement
 * trigger on each (wallet._config_changed) sends a relcache invalidation for
 * it, which every backend receives, as PostgreSQL's own catalog caches do. To
 * stay exact:
 * - invalidations are taken in before each look-up, so a change committed
 *   before an operation started is seen by it;
 * - a configuration is read after its tables are locked (which takes in the
 *   invalidations queued so far), under a snapshot taken after that, and kept
 *   only if no invalidation arrived while it was read;
 * - transactions that see one snapshot throughout (repeatable read,
 *   serializable) read the tables and keep nothing;
 * - a look-up returns a copy: the cache may be emptied at any lock taken later.
 */
static MemoryContext conf_cxt;
static CurrencyConf *confs[8];
static int	n_confs;
static uint64 conf_gen;			/* counts the invalidations that emptied the cache */
static Oid	conf_rels[5];		/* policy, bonus_rule, coupon_template, reward_rule, limit_rule */

static void
conf_forget(Datum arg, Oid relid)
{
	(void) arg;
	if (OidIsValid(relid) && relid != conf_rels[0] && relid != conf_rels[1] && relid != conf_rels[2] &&
		relid != conf_rels[3] && relid != conf_rels[4])
		return;
	conf_gen++;
	n_confs = 0;
	if (conf_cxt != NULL)
		MemoryContextReset(conf_cxt);
}

/* config_init registers the callback that empties the cache (called by _PG_init). */
void
config_init(void)
{
	CacheRegisterRelcacheCallback(conf_forget, (Datum) 0);
}

static int
conf_rule_cmp(const void *a, const void *b)
{
	int64		x = ((const ConfRule *) a)->rule_id;
	int64		y = ((const ConfRule *) b)->rule_id;

	return x < y ? -1 : x > y;
}

static int
limit_rule_cmp(const void *a, const void *b)
{
	int64		x = ((const LimitRule *) a)->rule_id;
	int64		y = ((const LimitRule *) b)->rule_id;

	return x < y ? -1 : x > y;
}

static Numeric
numeric_copy(Numeric n)
{
	return n ? DatumGetNumeric(datumCopy(NumericGetDatum(n), false, -1)) : NULL;
}

static char *
str_copy(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

/* reward_copy copies n reward rules into the current memory context (NULL when none). */
static RewardRule *
reward_copy(const RewardRule *src, int n)
{
	RewardRule *d;

	if (n == 0)
		return NULL;
	d = palloc(sizeof(RewardRule) * n);
	for (int i = 0; i < n; i++)
	{
		d[i] = src[i];
		d[i].scene = str_copy(src[i].scene);
		d[i].points_currency = pstrdup(src[i].points_currency);
		d[i].per_unit = numeric_copy(src[i].per_unit);
	}
	return d;
}

/* conf_copy copies a configuration into the current memory context. */
static CurrencyConf *
conf_copy(const CurrencyConf *c)
{
	CurrencyConf *d = palloc(sizeof(CurrencyConf));

	*d = *c;
	d->currency = pstrdup(c->currency);
	d->commission_rate = numeric_copy(c->commission_rate);
	d->refund_fee_rate = numeric_copy(c->refund_fee_rate);
	d->refund_auto_approve_max = numeric_copy(c->refund_auto_approve_max);
	d->earnings_scope = str_copy(c->earnings_scope);
	d->transfer_fee_rate = numeric_copy(c->transfer_fee_rate);
	d->withdraw.fee_rate = numeric_copy(c->withdraw.fee_rate);
	d->limit_time_zone = str_copy(c->limit_time_zone);
	d->rules = palloc(sizeof(ConfRule) * Max(c->nrules, 1));
	for (int i = 0; i < c->nrules; i++)
	{
		d->rules[i] = c->rules[i];
		d->rules[i].campaign = str_copy(c->rules[i].campaign);
		d->rules[i].rate = numeric_copy(c->rules[i].rate);
		d->rules[i].scope = str_copy(c->rules[i].scope);
		d->rules[i].fee = numeric_copy(c->rules[i].fee);
	}
	d->rewards = reward_copy(c->rewards, c->nrewards);
	d->limits = NULL;
	if (c->nlimits > 0)
	{
		d->limits = palloc(sizeof(LimitRule) * c->nlimits);
		memcpy(d->limits, c->limits, sizeof(LimitRule) * c->nlimits);
	}
	return d;
}

/* to_minor_rule converts a rule's amount to minor units as (v * 10^e)::bigint does */
static int64
to_minor_rule(Numeric v, Numeric scale)
{
	return DatumGetInt64(DirectFunctionCall1(numeric_int8,
											 DirectFunctionCall2(numeric_mul, NumericGetDatum(v),
																 NumericGetDatum(scale))));
}

/*
 * policy_attr returns column name of a policy row, or NULL as isnull when the
 * table has no such column (a schema the update has not reached yet).
 */
static Datum
policy_attr(Row *row, const char *name, bool *isnull)
{
	if (get_attnum(RelationGetRelid(row->rel), name) == InvalidAttrNumber)
	{
		*isnull = true;
		return (Datum) 0;
	}
	return getattr(row, name, isnull);
}

/*
 * policy_minor reads money column name of a policy row in minor units (scale
 * is 10^exponent): false if it is NULL or missing.
 */
static bool
policy_minor(Row *row, const char *name, Numeric scale, int64 *out)
{
	bool		isnull;
	Datum		d = policy_attr(row, name, &isnull);

	if (!isnull)
		*out = to_minor_rule(DatumGetNumeric(d), scale);
	return !isnull;
}

/* conf_read_withdraw reads the withdrawal rules and the limits' time zone of a policy row. */
static void
conf_read_withdraw(Row *row, Numeric scale, CurrencyConf *c)
{
	WithdrawRules *r = &c->withdraw;
	bool		isnull;
	Datum		d;

	(void) policy_minor(row, "withdraw_min", scale, &r->min);
	d = policy_attr(row, "withdraw_fee_rate", &isnull);
	if (!isnull)
		r->fee_rate = numeric_copy(DatumGetNumeric(d));
	(void) policy_minor(row, "withdraw_fee_fixed", scale, &r->fee_fixed);
	(void) policy_minor(row, "withdraw_fee_min", scale, &r->fee_min);
	r->has_fee_max = policy_minor(row, "withdraw_fee_max", scale, &r->fee_max);
	r->has_daily_max = policy_minor(row, "withdraw_daily_max", scale, &r->daily_max);
	(void) policy_minor(row, "withdraw_auto_approve_max", scale, &r->auto_approve_max);
	r->has_review_daily = policy_minor(row, "withdraw_review_daily", scale, &r->review_daily);
	d = policy_attr(row, "limit_time_zone", &isnull);
	if (!isnull)
		c->limit_time_zone = TextDatumGetCString(d);
}

/*
 * conf_read_rewards reads a currency's reward rules (CONTRACT.md section 18)
 * from wallet.reward_rule (locked), each with its points currency's exponent.
 */
static void
conf_read_rewards(Relation wrel, Numeric scale, CurrencyConf *c)
{
	Relation	crel = table_open(rel_of("currency"), AccessShareLock);
	ScanKeyData k[1];
	SysScanDesc scan;
	HeapTuple	tup;
	int			cap = 0;

	key_text(&k[0], att_of(wrel, "currency"), c->currency);
	scan = systable_beginscan(wrel, rel_of("reward_rule_currency"), true, GetActiveSnapshot(), 1, k);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		RewardRule *r;
		Row			row;
		Datum		d;
		bool		isnull;
		ScanKeyData ck;
		HeapTuple	ctup;

		if (c->nrewards == cap)
		{
			cap = cap ? cap * 2 : 4;
			c->rewards = c->rewards ? repalloc(c->rewards, sizeof(RewardRule) * cap) :
				palloc(sizeof(RewardRule) * cap);
		}
		r = &c->rewards[c->nrewards++];
		memset(r, 0, sizeof(RewardRule));
		row_of(&row, wrel, tup);
		r->rule_id = DatumGetInt64(getattr(&row, "rule_id", &isnull));
		d = getattr(&row, "scene", &isnull);
		r->scene = isnull ? NULL : TextDatumGetCString(d);
		r->points_currency = TextDatumGetCString(getattr(&row, "points_currency", &isnull));
		r->per_unit = numeric_copy(DatumGetNumeric(getattr(&row, "points_per_unit", &isnull)));
		r->min_spend = to_minor_rule(DatumGetNumeric(getattr(&row, "min_spend", &isnull)), scale);
		d = getattr(&row, "valid_for", &isnull);
		r->has_valid_for = !isnull;
		if (!isnull)
			r->valid_for = *DatumGetIntervalP(d);
		d = getattr(&row, "starts_at", &isnull);
		r->has_starts = !isnull;
		r->starts = isnull ? 0 : DatumGetTimestampTz(d);
		d = getattr(&row, "ends_at", &isnull);
		r->has_ends = !isnull;
		r->ends = isnull ? 0 : DatumGetTimestampTz(d);
		row_free(&row);
		key_text(&ck, att_of(crel, "code"), r->points_currency);
		ctup = fetch_one(crel, "currency_pkey", 1, &ck);
		if (ctup == NULL)
			elog(ERROR, "points currency \"%s\" does not exist", r->points_currency);
		r->points_exponent = DatumGetInt32(heap_getattr(ctup, att_of(crel, "exponent"), RelationGetDescr(crel),
														&isnull));
	}
	systable_endscan(scan);
	table_close(crel, NoLock);
}

/*
 * conf_read_limits reads a currency's limit rules (CONTRACT.md section 20),
 * the wallets' own rows too, from wallet.limit_rule (locked), by rule_id.
 */
static void
conf_read_limits(Relation lrel, Numeric scale, CurrencyConf *c)
{
	static const char *const ops[] = {"spend", "transfer", "withdraw", "exchange", "card_payout", "debit"};
	static const char *const periods[] = {"operation", "day", "month"};
	ScanKeyData k[1];
	SysScanDesc scan;
	HeapTuple	tup;
	int			cap = 0;

	key_text(&k[0], att_of(lrel, "currency"), c->currency);
	scan = systable_beginscan(lrel, rel_of("limit_rule_currency"), true, GetActiveSnapshot(), 1, k);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		LimitRule  *r;
		Row			row;
		Datum		d;
		bool		isnull;
		char	   *op;
		char	   *period;

		if (c->nlimits == cap)
		{
			cap = cap ? cap * 2 : 4;
			c->limits = c->limits ? repalloc(c->limits, sizeof(LimitRule) * cap) :
				palloc(sizeof(LimitRule) * cap);
		}
		r = &c->limits[c->nlimits++];
		memset(r, 0, sizeof(LimitRule));
		row_of(&row, lrel, tup);
		r->rule_id = DatumGetInt64(getattr(&row, "rule_id", &isnull));
		d = getattr(&row, "wallet_id", &isnull);
		r->wallet_id = isnull ? 0 : DatumGetInt64(d);
		op = TextDatumGetCString(getattr(&row, "operation", &isnull));
		r->op = LIMIT_DEBIT;
		for (int i = 0; i < (int) lengthof(ops); i++)
			if (strcmp(op, ops[i]) == 0)
				r->op = (LimitOp) i;
		period = TextDatumGetCString(getattr(&row, "period", &isnull));
		r->period = LIMIT_PER_OPERATION;
		for (int i = 0; i < (int) lengthof(periods); i++)
			if (strcmp(period, periods[i]) == 0)
				r->period = (LimitPeriod) i;
		d = getattr(&row, "max_amount", &isnull);
		r->has_amount = !isnull;
		r->max_amount = isnull ? 0 : to_minor_rule(DatumGetNumeric(d), scale);
		d = getattr(&row, "max_count", &isnull);
		r->has_count = !isnull;
		r->max_count = isnull ? 0 : DatumGetInt32(d);
		r->step_up = strcmp(TextDatumGetCString(getattr(&row, "action", &isnull)), "step_up") == 0;
		row_free(&row);
	}
	systable_endscan(scan);
	if (c->nlimits > 1)
		qsort(c->limits, c->nlimits, sizeof(LimitRule), limit_rule_cmp);
}

/* conf_read reads a currency's configuration from its tables (relations locked). */
static CurrencyConf *
conf_read(Relation prel, Relation rrel, Relation trel, Relation wrel, Relation lrel, const char *currency,
		  int exponent)
{
	CurrencyConf *c = palloc0(sizeof(CurrencyConf));
	ScanKeyData k[2];
	HeapTuple	tup;
	SysScanDesc scan;
	bool		isnull;
	int			cap = 0;
	int64		pow10 = 1;
	Numeric		scale;

	c->currency = pstrdup(currency);
	c->exponent = exponent;
	for (int i = 0; i < exponent; i++)
		pow10 *= 10;
	scale = int64_to_numeric(pow10);

	/* the policy (its defaults when the currency has no row) */
	c->refund_window.day = 30;
	c->commission_rate = int64_to_numeric(0);
	c->refund_fee_rate = int64_to_numeric(0);
	c->refund_auto_approve_max = int64_to_numeric(0);
	c->max_refunds_per_30_days = 3;
	c->transfer_fee_rate = int64_to_numeric(0);
	c->withdraw.fee_rate = int64_to_numeric(0);
	c->limit_time_zone = pstrdup("UTC");
	key_text(&k[0], att_of(prel, "currency"), currency);
	tup = fetch_one(prel, "policy_pkey", 1, k);
	if (tup)
	{
		Row			row;
		Datum		d;

		row_of(&row, prel, tup);
		d = getattr(&row, "refund_window", &isnull);
		if (!isnull)
			c->refund_window = *DatumGetIntervalP(d);
		d = getattr(&row, "commission_rate", &isnull);
		if (!isnull)
			c->commission_rate = DatumGetNumeric(d);
		d = getattr(&row, "refund_fee_rate", &isnull);
		if (!isnull)
			c->refund_fee_rate = DatumGetNumeric(d);
		d = getattr(&row, "refund_auto_approve_max", &isnull);
		if (!isnull)
			c->refund_auto_approve_max = DatumGetNumeric(d);
		d = getattr(&row, "max_refunds_per_30_days", &isnull);
		if (!isnull)
			c->max_refunds_per_30_days = DatumGetInt32(d);
		d = policy_attr(&row, "min_balance_use", &isnull);
		if (!isnull)
			c->min_balance_use = to_minor_rule(DatumGetNumeric(d), scale);
		d = policy_attr(&row, "use_all_below", &isnull);
		if (!isnull)
			c->use_all_below = to_minor_rule(DatumGetNumeric(d), scale);
		d = policy_attr(&row, "earnings_scope", &isnull);
		if (!isnull)
			c->earnings_scope = scope_from_array(DatumGetArrayTypeP(d));
		d = policy_attr(&row, "transfer_fee_rate", &isnull);
		if (!isnull)
			c->transfer_fee_rate = DatumGetNumeric(d);
		d = policy_attr(&row, "transfer_fee_fixed", &isnull);
		if (!isnull)
			c->transfer_fee_fixed = to_minor_rule(DatumGetNumeric(d), scale);
		conf_read_withdraw(&row, scale, c);
	}

	/* coupon templates issued on top-ups */
	key_text(&k[0], att_of(trel, "issue_on"), "top_up");
	key_text(&k[1], att_of(trel, "currency"), currency);
	c->topup_templates = fetch_one(trel, "coupon_template_auto", 2, k) != NULL;

	/* the bonus rules, all of them (which are active depends on the clock) */
	key_text(&k[0], att_of(rrel, "currency"), currency);
	scan = systable_beginscan(rrel, rel_of("bonus_rule_currency"), true, GetActiveSnapshot(), 1, k);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		ConfRule   *r;
		Row			row;
		Datum		d;

		if (c->nrules == cap)
		{
			cap = cap ? cap * 2 : 8;
			c->rules = c->rules ? repalloc(c->rules, sizeof(ConfRule) * cap) : palloc(sizeof(ConfRule) * cap);
		}
		r = &c->rules[c->nrules++];
		memset(r, 0, sizeof(ConfRule));
		row_of(&row, rrel, tup);
		r->rule_id = DatumGetInt64(getattr(&row, "rule_id", &isnull));
		d = getattr(&row, "campaign", &isnull);
		r->campaign = isnull ? NULL : TextDatumGetCString(d);
		d = getattr(&row, "starts_at", &isnull);
		r->has_starts = !isnull;
		r->starts = isnull ? 0 : DatumGetTimestampTz(d);
		d = getattr(&row, "ends_at", &isnull);
		r->has_ends = !isnull;
		r->ends = isnull ? 0 : DatumGetTimestampTz(d);
		r->min_amount = to_minor_rule(DatumGetNumeric(getattr(&row, "min_amount", &isnull)), scale);
		r->fixed = to_minor_rule(DatumGetNumeric(getattr(&row, "bonus_fixed", &isnull)), scale);
		r->rate = numeric_copy(DatumGetNumeric(getattr(&row, "bonus_rate", &isnull)));
		d = getattr(&row, "max_bonus", &isnull);
		r->has_cap = !isnull;
		r->cap = isnull ? 0 : to_minor_rule(DatumGetNumeric(d), scale);
		d = getattr(&row, "valid_for", &isnull);
		r->has_valid_for = !isnull;
		if (!isnull)
			r->valid_for = *DatumGetIntervalP(d);
		d = getattr(&row, "scope", &isnull);
		r->scope = isnull ? NULL : scope_from_array(DatumGetArrayTypeP(d));
		d = getattr(&row, "refund_fee_rate", &isnull);
		r->fee = isnull ? NULL : numeric_copy(DatumGetNumeric(d));
		row_free(&row);
	}
	systable_endscan(scan);
	if (c->nrules > 1)
		qsort(c->rules, c->nrules, sizeof(ConfRule), conf_rule_cmp);
	if (wrel != NULL)
		conf_read_rewards(wrel, scale, c);
	if (lrel != NULL)
		conf_read_limits(lrel, scale, c);
	return c;
}

/*
 * cached_conf returns the cache's entry for a currency, or NULL: none, or a
 * transaction that must read its own snapshot. It takes in the invalidations
 * first.
 */
static CurrencyConf *
cached_conf(const char *currency, int exponent)
{
	AcceptInvalidationMessages();
	if (!IsolationUsesXactSnapshot())
		for (int i = 0; i < n_confs; i++)
			if (confs[i]->exponent == exponent && strcmp(confs[i]->currency, currency) == 0)
				return confs[i];
	return NULL;
}

/* currency_conf returns (a copy of) a currency's configuration, from the cache if it can. */
CurrencyConf *
currency_conf(const char *currency, int exponent)
{
	bool		keep = !IsolationUsesXactSnapshot();
	Relation	prel;
	Relation	rrel;
	Relation	trel;
	Relation	wrel = NULL;
	Relation	lrel = NULL;
	Oid			reward_rel = get_relname_relid("reward_rule", plans.nsp);
	Oid			limit_rel = get_relname_relid("limit_rule", plans.nsp);
	uint64		gen;
	CurrencyConf *c = cached_conf(currency, exponent);

	if (c != NULL)
		return conf_copy(c);

	prel = table_open(rel_of("policy"), AccessShareLock);
	rrel = table_open(rel_of("bonus_rule"), AccessShareLock);
	trel = table_open(rel_of("coupon_template"), AccessShareLock);
	/* reward rules, where the schema has them (a schema before 0.2's exchange has none) */
	if (OidIsValid(reward_rel))
		wrel = table_open(reward_rel, AccessShareLock);
	/* limit rules, where the schema has them */
	if (OidIsValid(limit_rel))
		lrel = table_open(limit_rel, AccessShareLock);
	conf_rels[0] = RelationGetRelid(prel);
	conf_rels[1] = RelationGetRelid(rrel);
	conf_rels[2] = RelationGetRelid(trel);
	conf_rels[3] = reward_rel;
	conf_rels[4] = limit_rel;
	AcceptInvalidationMessages();
	gen = conf_gen;
	/* a snapshot taken now sees every change whose invalidation came in */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	c = conf_read(prel, rrel, trel, wrel, lrel, currency, exponent);
	PopActiveSnapshot();
	if (lrel != NULL)
		table_close(lrel, NoLock);
	if (wrel != NULL)
		table_close(wrel, NoLock);
	table_close(trel, NoLock);
	table_close(rrel, NoLock);
	table_close(prel, NoLock);
	if (keep && gen == conf_gen)
	{
		MemoryContext old;

		if (conf_cxt == NULL)
			conf_cxt = AllocSetContextCreate(TopMemoryContext, "wallet currency configuration",
											 ALLOCSET_SMALL_SIZES);
		if (n_confs == lengthof(confs))
		{
			n_confs = 0;		/* full: start over */
			MemoryContextReset(conf_cxt);
		}
		old = MemoryContextSwitchTo(conf_cxt);
		confs[n_confs++] = conf_copy(c);
		MemoryContextSwitchTo(old);
	}
	return c;
}

/*
 * wallet._config_changed(), a statement trigger on the tables the currency
 * configuration cache reads: every backend forgets what it kept of them once
 * the change commits (or, in this backend, at once; and again if it aborts).
 */
PG_FUNCTION_INFO_V1(wallet_config_changed);
Datum
wallet_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("wallet._config_changed() must be called as a trigger")));
	CacheInvalidateRelcache(td->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * currency_spend_rules fills r with the spend rules of a currency's policy
 * (CONTRACT.md section 15), from the same cache as currency_conf but without
 * copying the whole configuration: what every spend reads.
 */
void
currency_spend_rules(const char *currency, int exponent, SpendRules *r)
{
	CurrencyConf *c = cached_conf(currency, exponent);

	if (c == NULL)
		c = currency_conf(currency, exponent);
	r->min_balance_use = c->min_balance_use;
	r->use_all_below = c->use_all_below;
	r->earnings_scope = c->earnings_scope ? pstrdup(c->earnings_scope) : NULL;
}

/*
 * currency_reward_rules returns the number of reward rules of a currency
 * (CONTRACT.md section 18) and, when there are any, a copy of them in *out,
 * from the same cache as currency_conf: a spend of a currency without reward
 * rules reads nothing more and copies nothing.
 */
int
currency_reward_rules(const char *currency, int exponent, RewardRule **out)
{
	CurrencyConf *c = cached_conf(currency, exponent);

	if (c == NULL)
		c = currency_conf(currency, exponent);
	*out = reward_copy(c->rewards, c->nrewards);
	return c->nrewards;
}

/*
 * currency_limits fills out with the limit rules of a currency that apply to
 * wallet wallet_id (the currency's rows and the wallet's own, by rule_id)
 * and the time zone its days and months are counted in, from the same cache
 * as currency_conf: a debit reads no table to find them.
 */
void
currency_limits(const char *currency, int exponent, int64 wallet_id, LimitConf *out)
{
	CurrencyConf *c = cached_conf(currency, exponent);

	if (c == NULL)
		c = currency_conf(currency, exponent);
	out->time_zone = pstrdup(c->limit_time_zone);
	out->n = 0;
	out->rules = NULL;
	for (int i = 0; i < c->nlimits; i++)
	{
		if (c->limits[i].wallet_id != 0 && c->limits[i].wallet_id != wallet_id)
			continue;
		if (out->rules == NULL)
			out->rules = palloc(sizeof(LimitRule) * c->nlimits);
		out->rules[out->n++] = c->limits[i];
	}
}
