/*
 * plans.c
 *	  The statements top_up and spend prepare once per backend, the oids of the
 *	  schema's relations by name, and the search path they run statements under.
 *	  Both caches are forgotten on any change to pg_class or pg_namespace.
 */
#include "store/store.h"

WalletPlans plans;

/*
 * The search path of top_up and spend. The SQL functions of the extension pin
 * theirs with SET search_path; these two pin it themselves, and only where a
 * name is looked up under it: before a statement is prepared or run (a
 * statement, and what it fires, is planned and replanned under the path in
 * force), and before a direct write runs user code (a CHECK constraint or an
 * index expression calling a function not built into PostgreSQL). A call
 * that does neither (the common spend and top-up) saves the two changes of
 * the setting (about 4 % of a spend's server time): the setting, and every
 * statement's search path check after it, are otherwise done again per call.
 *
 * pin_slot is the running operation's GUC nest level of the pinned path (0:
 * not pinned); with_compressed_wal, which runs every operation, owns it and
 * puts the caller's path back when the operation returns. An error unwinds
 * it with the transaction, as for SET search_path.
 */
#define WALLET_SEARCH_PATH "pg_catalog, wallet, pg_temp"
int *pin_slot;

void
pin_path(void)
{
	if (pin_slot == NULL || *pin_slot != 0)
		return;
	*pin_slot = NewGUCNestLevel();
	(void) set_config_option("search_path", WALLET_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * pin_key_lookups keeps the running operation's statements from scanning a
 * whole table for a row they name by key (enable_seqscan off, pinned with
 * the search path and put back with it). A table the planner believes empty
 * (wallet.refund, analyzed before its first row) gets a sequential scan for
 * "refund_id = $1" or "ctid = $1" in the plan an operation keeps for the
 * backend's life, and that scan grows with the table until the next
 * ANALYZE: measured, a refund's review took 150 us with it against 60 us
 * without. Only operations whose statements find rows by key call it.
 */
void
pin_key_lookups(void)
{
	pin_path();
	if (pin_slot == NULL || *pin_slot == 0 || !enable_seqscan)
		return;
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* run_plan runs a prepared statement under the pinned path (SPI_execute_plan's arguments). */
int
run_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only, long count)
{
	pin_path();
	return SPI_execute_plan(plan, values, nulls, read_only, count);
}

/*
 * Every (re)preparation of the shared plans starts a new generation: an
 * operation's own statement (op_plan) prepared in an older one is prepared
 * again before it runs.
 */
static uint64 plans_generation = 1;

/* usage_att_args is n, and one more (the usage counters) where the wallet row has them. */
static int
usage_att_args(int n)
{
	return plans.usage_att != InvalidAttrNumber ? n + 1 : n;
}

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan;

	pin_path();
	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep plan");
	return plan;
}

/*
 * What is remembered of the schema between calls: that ensure_plans checked
 * it (schema_seen) and the oids of its relations by name (rel_of). Any change
 * to pg_class or pg_namespace forgets both (a syscache callback).
 */
typedef struct RelCache
{
	const char *name;			/* always a string literal */
	Oid			rel;
} RelCache;

static RelCache rel_cache[32];
static int	n_rel_cache;
static bool schema_seen;

static void
schema_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	schema_seen = false;
	n_rel_cache = 0;
}

/* plans_init registers the callbacks that forget the schema (called by _PG_init). */
void
plans_init(void)
{
	CacheRegisterSyscacheCallback(RELNAMENSP, schema_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACENAME, schema_changed, (Datum) 0);
}

/*
 * rel_of returns the oid of a relation (table or index) of the wallet schema,
 * remembered by name until pg_class changes (any relation created, renamed or
 * dropped anywhere).
 */
Oid
rel_of(const char *name)
{
	Oid			r;

	for (int i = 0; i < n_rel_cache; i++)
		if (rel_cache[i].name == name)
			return rel_cache[i].rel;
	r = get_relname_relid(name, plans.nsp);
	if (!OidIsValid(r))
		elog(ERROR, "wallet schema is incomplete: \"%s\" is missing", name);
	if (n_rel_cache == lengthof(rel_cache))
		n_rel_cache = 0;		/* full: start over */
	rel_cache[n_rel_cache].name = name;
	rel_cache[n_rel_cache].rel = r;
	n_rel_cache++;
	return r;
}

/* forget_relations drops what was remembered about the schema's relations. */
static void
forget_relations(void)
{
	forget_columns();
	n_rel_cache = 0;
}
/*
 * ensure_plans prepares the plans once per backend (and again after a
 * reinstall). Every C operation starts here: a rule on a table it writes is
 * refused first (refuse_rules), before a statement is prepared.
 */
void
ensure_plans(void)
{
	Oid			nsp;
	SPIPlanPtr *all[] = {&plans.replay,
		&plans.update_wallet, &plans.insert_txn, &plans.write, &plans.drop_key, &plans.credit,
	&plans.has_pending, &plans.rollup, &plans.coupon_check, &plans.redeem, &plans.auto_issue,
	&plans.replay_coupons};
	Oid			seq;
	Oid			keys;

	refuse_rules();

	/*
	 * The schema may change under a live backend (ALTER EXTENSION UPDATE):
	 * the relations the plans and direct reads name are checked again after
	 * any change to pg_class or pg_namespace, and everything is prepared
	 * again when one of them changed.
	 */
	if (schema_seen && plans.replay_coupons != NULL)
		return;
	/* set first: a change seen while the plans are prepared clears it again */
	schema_seen = true;
	nsp = get_namespace_oid("wallet", false);
	seq = get_relname_relid("txn_txn_id_seq", nsp);
	keys = get_relname_relid("txn_key", nsp);
	if (plans.nsp == nsp && plans.txn_seq == seq && plans.key_rel == keys && plans.replay_coupons != NULL)
		return;
	for (int i = 0; i < (int) lengthof(all); i++)
	{
		if (*all[i])
			SPI_freeplan(*all[i]);
		*all[i] = NULL;
	}
	forget_relations();
	plans_generation++;
	plans.nsp = nsp;
	plans.lotset_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum("lotset"), ObjectIdGetDatum(nsp));
	plans.posting_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										 CStringGetDatum("posting"), ObjectIdGetDatum(nsp));
	plans.posting_array = get_array_type(plans.posting_type);
	plans.txn_seq = seq;
	plans.key_rel = keys;
	{
		Oid			credits = get_relname_relid("payee_credit", nsp);
		AttrNumber	id = OidIsValid(credits) ? get_attnum(credits, "credit_id") : InvalidAttrNumber;

		plans.credit_seq = id != InvalidAttrNumber ? getIdentitySequence(credits, id, true) : InvalidOid;
	}
	{
		Oid			refunds = get_relname_relid("refund", nsp);
		AttrNumber	id = OidIsValid(refunds) ? get_attnum(refunds, "refund_id") : InvalidAttrNumber;

		plans.refund_seq = id != InvalidAttrNumber ? getIdentitySequence(refunds, id, true) : InvalidOid;
	}
	{
		Oid			holds = get_relname_relid("hold", nsp);
		AttrNumber	id = OidIsValid(holds) ? get_attnum(holds, "hold_id") : InvalidAttrNumber;

		plans.hold_seq = id != InvalidAttrNumber ? getIdentitySequence(holds, id, true) : InvalidOid;
	}
	{
		Oid			groups = get_relname_relid("group_pay", nsp);
		AttrNumber	id = OidIsValid(groups) ? get_attnum(groups, "group_id") : InvalidAttrNumber;

		plans.group_seq = id != InvalidAttrNumber ? getIdentitySequence(groups, id, true) : InvalidOid;
	}
	{
		Oid			withdrawals = get_relname_relid("withdrawal", nsp);
		AttrNumber	id = OidIsValid(withdrawals) ? get_attnum(withdrawals, "withdrawal_id") : InvalidAttrNumber;

		plans.withdrawal_seq = id != InvalidAttrNumber ? getIdentitySequence(withdrawals, id, true) : InvalidOid;
	}
	{
		Oid			wallets = get_relname_relid("wallet", nsp);

		plans.usage_att = OidIsValid(wallets) ? get_attnum(wallets, "limit_usage") : InvalidAttrNumber;
	}
	if (!OidIsValid(plans.lotset_type) || !OidIsValid(plans.txn_seq) || !OidIsValid(plans.posting_array))
		elog(ERROR, "wallet schema is incomplete");
	{
		Oid			t1[] = {INT8OID};
		Oid			t4[] = {INT8OID, plans.lotset_type, TIMESTAMPTZOID, INT8OID, BYTEAOID};
		/* the limits' usage counters, written with the lots where the schema has them (NULL: unchanged) */
		const char *usage_set = plans.usage_att != InvalidAttrNumber ?
			", limit_usage = coalesce($5, limit_usage)" : "";
		const char *usage_set_w = plans.usage_att != InvalidAttrNumber ?
			", limit_usage = coalesce($16, w.limit_usage)" : "";
		Oid			t5[] = {INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID,
		JSONBOID, JSONBOID, plans.posting_array, plans.lotset_type, INT8OID};
		Oid			t6[] = {INT8OID, INT8OID, INT8OID};
		{
			Oid			tk[] = {INT8OID, TIMESTAMPTZOID};

			plans.replay = prepare("SELECT kind, request, result FROM wallet.txn "
								   "WHERE txn_id = $1 AND created_at = $2", 2, tk);
		}
		plans.update_wallet = prepare(psprintf("UPDATE wallet.wallet SET lots = $2, next_expiry = $3, "
											   "version = version + 1%s WHERE wallet_id = $1 AND version = $4",
											   usage_set), usage_att_args(4), t4);
		/*
		 * Keys go to wallet.txn_key in the same statement. A 0.1 schema (the
		 * library updated, ALTER EXTENSION UPDATE not run yet) has no key
		 * table: its journal's unique index holds the keys.
		 */
		{
			const char *key_cte = OidIsValid(plans.key_rel) ?
				"WITH k AS (INSERT INTO wallet.txn_key (wallet_id, idempotency_key, txn_id, created_at) "
				"VALUES ($2, $7, $1, $6)) " : "";

			plans.insert_txn = prepare(psprintf("%sINSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, "
												"currency, created_at, idempotency_key, request, result, "
												"postings, pieces, ref_txn) VALUES ($1, $2, $3, $4, $5, $6, "
												"$7, $8, $9, $10, $11, $12)", key_cte), 12, t5);
		}
		{
			Oid			tw[] = {INT8OID, plans.lotset_type, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID,
				INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, JSONBOID, plans.posting_array,
			plans.lotset_type, INT8OID, BYTEAOID};

			/* the row update, the key and the journal row in one statement, as the floor does */
			if (OidIsValid(plans.key_rel))
				/*
				 * The key goes in first (nothing if it is taken), the row is
				 * updated only if the key went in and the version still holds,
				 * and the journal row only if the row was updated.
				 */
				plans.write = prepare(psprintf("WITH k AS (INSERT INTO wallet.txn_key (wallet_id, idempotency_key, "
											   "txn_id, created_at) VALUES ($1, $10, $5, $9) ON CONFLICT DO NOTHING "
											   "RETURNING wallet_id), "
											   "u AS (UPDATE wallet.wallet w SET lots = $2, next_expiry = $3, "
											   "version = w.version + 1%s FROM k WHERE w.wallet_id = k.wallet_id "
											   "AND w.version = $4 RETURNING w.wallet_id) "
											   "INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, "
											   "created_at, idempotency_key, request, result, postings, pieces, "
											   "ref_txn) SELECT $5, u.wallet_id, $6, $7, $8, $9, $10, $11, "
											   "$12, $13, $14, $15 FROM u", usage_set_w), usage_att_args(15), tw);
			else
				plans.write = prepare("WITH u AS (UPDATE wallet.wallet SET lots = $2, next_expiry = $3, "
									  "version = version + 1 WHERE wallet_id = $1 AND version = $4 "
									  "RETURNING wallet_id) "
									  "INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, "
									  "created_at, idempotency_key, request, result, postings, pieces, "
									  "ref_txn) SELECT $5, u.wallet_id, $6, $7, $8, $9, $10, $11, "
									  "$12, $13, $14, $15 FROM u", 15, tw);
			if (OidIsValid(plans.key_rel))
			{
				Oid			td[] = {INT8OID, TEXTOID, INT8OID};

				plans.drop_key = prepare("DELETE FROM wallet.txn_key WHERE wallet_id = $1 "
										 "AND idempotency_key = $2 AND txn_id = $3", 3, td);
			}
		}
		plans.credit = prepare("INSERT INTO wallet.payee_credit (wallet_id, amount, txn_id) "
							   "VALUES ($1, $2, $3)", 3, t6);
		plans.has_pending = prepare("SELECT 1 FROM wallet.payee_credit WHERE wallet_id = $1 LIMIT 1", 1, t1);
		/*
		 * The roll-up of a wallet's pending payee credits is wallet._rollup's
		 * (a credit repays the wallet's debt first); a 0.1 schema has neither
		 * debt nor that function, and its credits go straight to earnings.
		 */
		if (OidIsValid(plans.key_rel))
			plans.rollup = prepare("SELECT wallet._rollup_wallet($1)", 1, t1);
		else
			plans.rollup = prepare("WITH d AS (DELETE FROM wallet.payee_credit WHERE wallet_id = $1 "
								   "RETURNING amount, txn_id) SELECT sum(amount)::bigint, max(txn_id) FROM d",
								   1, t1);
		{
			Oid			tc[] = {TEXTOID, INT8OID, TEXTOID, INT4OID, INT8OID, TEXTOID, TIMESTAMPTZOID};
			Oid			tr[] = {TEXTOID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID};
			Oid			ta[] = {INT8OID, INT8OID, INT8OID, TEXTOID};

			plans.coupon_check = prepare("SELECT valid, discount, reason, canonical "
										 "FROM wallet._coupon_check($1, $2, $3, $4, $5, $6, $7)", 7, tc);
			plans.redeem = prepare("SELECT wallet._redeem($1, $2, $3, $4, $5)", 5, tr);
			plans.auto_issue = prepare("SELECT wallet._auto_issue($1, 'top_up', $2, $3) "
									   "WHERE EXISTS (SELECT 1 FROM wallet.coupon_template "
									   "WHERE issue_on = 'top_up' AND currency = $4)", 4, ta);
			plans.replay_coupons = prepare("SELECT array(SELECT jsonb_array_elements_text(result->'coupons') "
										   "FROM wallet.txn WHERE txn_id = $1)", 1, t1);
		}
	}
}

Datum
getcol(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/* select_datum runs a one-column plan and returns its first value, 0 if none or NULL. */
Datum
select_datum(SPIPlanPtr plan, int nargs, Datum *args)
{
	bool		isnull;
	Datum		d;

	(void) nargs;
	if (run_plan(plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not run a wallet query");
	if (SPI_processed == 0)
		return (Datum) 0;
	d = getcol(1, &isnull);
	return isnull ? (Datum) 0 : d;
}

/*
 * op_plan returns an operation's own statement, prepared once per backend
 * and again after the schema changed (ensure_plans starts a new generation).
 * An operation keeps its statements in static OpPlans of its own file, next
 * to the code that runs them; the statement's argument types are fixed types
 * or the schema's lotset type (OP_LOTSET) or posting array (OP_POSTINGS). Call it after
 * ensure_plans (op_begin).
 */
SPIPlanPtr
op_plan(OpPlan *p)
{
	Oid			types[OP_PLAN_MAX_ARGS];

	if (p->plan != NULL && p->generation == plans_generation)
		return p->plan;
	if (p->plan != NULL)
		SPI_freeplan(p->plan);
	p->plan = NULL;
	Assert(p->nargs <= OP_PLAN_MAX_ARGS);
	for (int i = 0; i < p->nargs; i++)
		types[i] = p->types[i] == OP_LOTSET ? plans.lotset_type :
			p->types[i] == OP_POSTINGS ? plans.posting_array : p->types[i];
	p->plan = prepare(p->sql, p->nargs, types);
	p->generation = plans_generation;
	return p->plan;
}
