/*
 * ops.c
 *	  The hot operations, top_up and spend, in C: read the wallet row (and its
 *	  currency's policy and rules) straight from index and heap, run the engine
 *	  over its lots, and write the idempotency key, the row under its version
 *	  check and the journal row: straight to heap and indexes (write_direct), or
 *	  in one statement prepared once per backend where that would skip something.
 */
#include "wallet.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "access/attmap.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/partcache.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "nodes/nodeFuncs.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

PG_FUNCTION_INFO_V1(wallet_top_up);
PG_FUNCTION_INFO_V1(wallet_spend);

#define ERRCODE_WL(c) MAKE_SQLSTATE('W', 'L', '0', '0', c)

/* After this many lost version races an operation takes the row lock. */
#define OPTIMISTIC_TRIES 3

/* Plans kept for the backend's life; re-prepared if the schema is recreated. */
static struct
{
	Oid			nsp;
	Oid			lotset_type;
	Oid			posting_type;
	Oid			posting_array;
	Oid			txn_seq;
	Oid			key_rel;		/* wallet.txn_key; InvalidOid on a 0.1 schema */
	Oid			credit_seq;		/* wallet.payee_credit's identity sequence */
	SPIPlanPtr	wallet_read;
	SPIPlanPtr	wallet_lock;
	SPIPlanPtr	replay;
	SPIPlanPtr	update_wallet;
	SPIPlanPtr	insert_txn;
	SPIPlanPtr	write;
	SPIPlanPtr	drop_key;
	SPIPlanPtr	credit;
	SPIPlanPtr	has_pending;
	SPIPlanPtr	rollup;
	SPIPlanPtr	coupon_check;
	SPIPlanPtr	redeem;
	SPIPlanPtr	auto_issue;
	SPIPlanPtr	replay_coupons;
} plans;

/* A currency's configuration as the hot path keeps it (see currency_conf). */
typedef struct ConfRule
{
	int64		rule_id;
	char	   *campaign;		/* NULL = base tiers */
	bool		has_starts;
	TimestampTz starts;
	bool		has_ends;
	TimestampTz ends;
	int64		min_amount;		/* minor units of the currency */
	int64		fixed;
	Numeric		rate;
	bool		has_cap;
	int64		cap;
	bool		has_valid_for;
	Interval	valid_for;
	char	   *scope;			/* comma-joined, NULL = everywhere */
	Numeric		fee;			/* refund_fee_rate, NULL = none */
} ConfRule;

typedef struct CurrencyConf
{
	char	   *currency;
	int			exponent;
	Interval	refund_window;
	Numeric		commission_rate;
	bool		topup_templates;
	int			nrules;
	ConfRule   *rules;			/* by rule_id */
} CurrencyConf;

static CurrencyConf *currency_conf(const char *currency, int exponent);

/* A wallet row as the operations read it. */
typedef struct WalletRow
{
	int64		id;
	char	   *currency;
	int			exponent;
	bool		frozen;
	char	   *frozen_reason;
	LotSet	   *lots;
	int64		version;
	Datum		refund_window;	/* interval */
	Numeric		commission_rate;
	HeapTuple	tup;			/* the row as read without the lock; else NULL */
	CurrencyConf *conf;			/* its currency's configuration, read with the policy without the lock */
} WalletRow;

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
static int *pin_slot;

static void
pin_path(void)
{
	if (pin_slot == NULL || *pin_slot != 0)
		return;
	*pin_slot = NewGUCNestLevel();
	(void) set_config_option("search_path", WALLET_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* run_plan runs a prepared statement under the pinned path (SPI_execute_plan's arguments). */
static int
run_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only, long count)
{
	pin_path();
	return SPI_execute_plan(plan, values, nulls, read_only, count);
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

static void forget_relations(void);

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
static bool schema_callbacks_set;

static void
schema_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	schema_seen = false;
	n_rel_cache = 0;
}

static void
watch_schema(void)
{
	if (!schema_callbacks_set)
	{
		CacheRegisterSyscacheCallback(RELNAMENSP, schema_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACENAME, schema_changed, (Datum) 0);
		schema_callbacks_set = true;
	}
}

/*
 * ensure_plans prepares the plans once per backend (and again after a
 * reinstall). Every C operation starts here: a rule on a table it writes is
 * refused first (refuse_rules), before a statement is prepared.
 */
static void
ensure_plans(void)
{
	Oid			nsp;
	SPIPlanPtr *all[] = {&plans.wallet_read, &plans.wallet_lock, &plans.replay,
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
	watch_schema();
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
	if (!OidIsValid(plans.lotset_type) || !OidIsValid(plans.txn_seq) || !OidIsValid(plans.posting_array))
		elog(ERROR, "wallet schema is incomplete");
	{
		Oid			t1[] = {INT8OID};
		Oid			t4[] = {INT8OID, plans.lotset_type, TIMESTAMPTZOID, INT8OID};
		Oid			t5[] = {INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID,
		JSONBOID, JSONBOID, plans.posting_array, plans.lotset_type};
		Oid			t6[] = {INT8OID, INT8OID, INT8OID};
		const char *read =
			"SELECT w.currency, w.exponent, w.frozen, w.frozen_reason, w.lots, w.version, "
			"coalesce(p.refund_window, interval '30 days'), coalesce(p.commission_rate, 0) "
			"FROM wallet.wallet w LEFT JOIN wallet.policy p ON p.currency = w.currency "
			"WHERE w.wallet_id = $1";

		plans.wallet_read = prepare(read, 1, t1);
		plans.wallet_lock = prepare(psprintf("%s FOR UPDATE OF w", read), 1, t1);
		{
			Oid			tk[] = {INT8OID, TIMESTAMPTZOID};

			plans.replay = prepare("SELECT kind, request, result FROM wallet.txn "
								   "WHERE txn_id = $1 AND created_at = $2", 2, tk);
		}
		plans.update_wallet = prepare("UPDATE wallet.wallet SET lots = $2, next_expiry = $3, "
									  "version = version + 1 WHERE wallet_id = $1 AND version = $4",
									  4, t4);
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
												"postings, pieces) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
												"$9, $10, $11)", key_cte), 11, t5);
		}
		{
			Oid			tw[] = {INT8OID, plans.lotset_type, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID,
				INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, JSONBOID, plans.posting_array,
			plans.lotset_type};

			/* the row update, the key and the journal row in one statement, as the floor does */
			if (OidIsValid(plans.key_rel))
				/*
				 * The key goes in first (nothing if it is taken), the row is
				 * updated only if the key went in and the version still holds,
				 * and the journal row only if the row was updated.
				 */
				plans.write = prepare("WITH k AS (INSERT INTO wallet.txn_key (wallet_id, idempotency_key, "
									  "txn_id, created_at) VALUES ($1, $10, $5, $9) ON CONFLICT DO NOTHING "
									  "RETURNING wallet_id), "
									  "u AS (UPDATE wallet.wallet w SET lots = $2, next_expiry = $3, "
									  "version = w.version + 1 FROM k WHERE w.wallet_id = k.wallet_id "
									  "AND w.version = $4 RETURNING w.wallet_id) "
									  "INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, "
									  "created_at, idempotency_key, request, result, postings, pieces) "
									  "SELECT $5, u.wallet_id, $6, $7, $8, $9, $10, $11, $12, "
									  "$13, $14 FROM u", 14, tw);
			else
				plans.write = prepare("WITH u AS (UPDATE wallet.wallet SET lots = $2, next_expiry = $3, "
									  "version = version + 1 WHERE wallet_id = $1 AND version = $4 "
									  "RETURNING wallet_id) "
									  "INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, "
									  "created_at, idempotency_key, request, result, postings, pieces) "
									  "SELECT $5, u.wallet_id, $6, $7, $8, $9, $10, $11, $12, "
									  "$13, $14 FROM u", 14, tw);
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

/* ---- argument checks ---- */

/*
 * check_text checks text argument argno as every text argument is checked
 * (check_text_arg, which wallet._text calls too); it returns the C string or
 * NULL.
 */
static char *
check_text(FunctionCallInfo fcinfo, int argno, const char *argname, int maxlen, bool required)
{
	return check_text_arg(PG_ARGISNULL(argno) ? NULL : PG_GETARG_TEXT_PP(argno), argname, maxlen, required);
}

/* ---- SPI helpers ---- */

static Datum
getcol(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/* ---- direct reads ----
 *
 * The unlocked reads of the hot path (the wallet row, its currency's policy
 * and bonus rules, the payee, the idempotency key) go straight to the index and the
 * heap instead of through the executor: a statement's planning-cache check,
 * executor start-up and shut-down cost more than the lookup itself. They take
 * a fresh snapshot after a command counter increment, exactly as SPI does for
 * each statement of a volatile function, so they see what a query would.
 */

/*
 * rel_of returns the oid of a relation (table or index) of the wallet schema,
 * remembered by name until pg_class changes (any relation created, renamed or
 * dropped anywhere).
 */
static Oid
rel_of(const char *name)
{
	Oid			r;

	for (int i = 0; i < n_rel_cache; i++)
		if (rel_cache[i].name == name)
			return rel_cache[i].rel;
	watch_schema();
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

/*
 * att_of returns the attribute number of a column, by name, remembered per
 * relation (numbers never change for a relation's oid: dropped columns keep
 * theirs, added ones get new ones).
 */
typedef struct AttCache
{
	Oid			rel;
	const char *name;
	AttrNumber	att;
} AttCache;

static AttCache att_cache[64];
static int	n_att_cache;

/*
 * In front of it, a direct-mapped table by name pointer and relation: a
 * spend asks for some twenty columns, and a scan of the list took about 200
 * instructions each. Cleared with the list.
 */
static AttCache att_fast[256];

static inline AttCache *
att_fast_slot(Oid relid, const char *name)
{
	uintptr_t	h = ((uintptr_t) name >> 3) ^ ((uintptr_t) name >> 11) ^ (relid * 2654435761u);

	return &att_fast[(h ^ (h >> 8)) & (lengthof(att_fast) - 1)];
}

static AttrNumber
att_of(Relation rel, const char *name)
{
	Oid			relid = RelationGetRelid(rel);
	AttCache   *fast = att_fast_slot(relid, name);
	AttrNumber	a;

	/* names are string literals: the same literal is the same pointer */
	if (fast->name == name && fast->rel == relid)
		return fast->att;
	for (int i = 0; i < n_att_cache; i++)
		if (att_cache[i].name == name && att_cache[i].rel == relid)
		{
			*fast = att_cache[i];
			return fast->att;
		}
	for (int i = 0; i < n_att_cache; i++)
		if (att_cache[i].rel == relid && strcmp(att_cache[i].name, name) == 0)
			return att_cache[i].att;
	a = get_attnum(relid, name);
	if (a == InvalidAttrNumber)
		elog(ERROR, "wallet schema is incomplete: column \"%s\" of \"%s\" is missing",
			 name, RelationGetRelationName(rel));
	if (n_att_cache == lengthof(att_cache))
	{
		n_att_cache = 0;		/* full: start over */
		memset(att_fast, 0, sizeof(att_fast));
	}
	att_cache[n_att_cache].rel = relid;
	att_cache[n_att_cache].name = name;	/* always a string literal */
	att_cache[n_att_cache].att = a;
	*fast = att_cache[n_att_cache];
	n_att_cache++;
	return a;
}

/*
 * direct_begin/direct_end nest: reads done together share one snapshot. The
 * depth starts at 0 with every operation (op_begin): an error mid-way leaves
 * it behind, and the transaction's abort takes the snapshot away.
 */
static int	direct_depth;

/* forget_relations drops what was remembered about the schema's relations. */
static void
forget_relations(void)
{
	n_att_cache = 0;
	memset(att_fast, 0, sizeof(att_fast));
	n_rel_cache = 0;
}

static void
direct_begin(void)
{
	if (direct_depth++ == 0)
	{
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
}

static void
direct_end(void)
{
	if (--direct_depth == 0)
		PopActiveSnapshot();
}

/* key_int8 / key_text fill a scan key on a heap column (equality). */
static void
key_int8(ScanKey k, AttrNumber att, int64 v)
{
	ScanKeyInit(k, att, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(v));
}

static void
key_text(ScanKey k, AttrNumber att, const char *v)
{
	ScanKeyEntryInitialize(k, 0, att, BTEqualStrategyNumber, InvalidOid, DEFAULT_COLLATION_OID,
						   F_TEXTEQ, CStringGetTextDatum(v));
}

/*
 * fetch_one returns a copy of the visible row of rel matching the keys,
 * found through the named index, or NULL.
 */
static HeapTuple
fetch_one(Relation rel, const char *index, int nkeys, ScanKey keys)
{
	SysScanDesc scan = systable_beginscan(rel, rel_of(index), true, GetActiveSnapshot(), nkeys, keys);
	HeapTuple	tup = systable_getnext(scan);

	if (tup)
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	return tup;
}

/*
 * A fetched row taken apart once (heap_getattr walks the row from its start
 * for every column after the first variable-length one): row_of takes it
 * apart, getattr returns a column by name. The values point into the tuple.
 */
typedef struct Row
{
	Relation	rel;
	Datum	   *values;
	bool	   *nulls;
} Row;

static void
row_of(Row *row, Relation rel, HeapTuple tup)
{
	TupleDesc	td = RelationGetDescr(rel);

	row->rel = rel;
	row->values = palloc(td->natts * sizeof(Datum));
	row->nulls = palloc(td->natts * sizeof(bool));
	heap_deform_tuple(tup, td, row->values, row->nulls);
}

static void
row_free(Row *row)
{
	pfree(row->values);
	pfree(row->nulls);
}

static Datum
getattr(const Row *row, const char *name, bool *isnull)
{
	AttrNumber	a = att_of(row->rel, name);

	*isnull = row->nulls[a - 1];
	return row->values[a - 1];
}

/*
 * read_wallet reads (and with lock, locks) a wallet row, or raises WL006;
 * with policy, also what its currency's policy says (refund window and
 * commission rate), which a spend without a payee does not need.
 */
static void
read_wallet(int64 wallet_id, bool lock, bool policy, WalletRow *w)
{
	bool		isnull;
	Datum		reason;

	w->id = wallet_id;
	if (lock)
	{
		Datum		args[1] = {Int64GetDatum(wallet_id)};

		if (run_plan(plans.wallet_lock, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read wallet %lld", (long long) wallet_id);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_WL('6')),
					 errmsg("wallet %lld does not exist", (long long) wallet_id)));
		w->currency = TextDatumGetCString(getcol(1, &isnull));
		w->exponent = DatumGetInt16(getcol(2, &isnull));
		w->frozen = DatumGetBool(getcol(3, &isnull));
		reason = getcol(4, &isnull);
		w->frozen_reason = isnull ? NULL : TextDatumGetCString(reason);
		w->lots = DatumGetLotSetP(getcol(5, &isnull));
		w->version = DatumGetInt64(getcol(6, &isnull));
		w->refund_window = getcol(7, &isnull);
		w->commission_rate = DatumGetNumeric(getcol(8, &isnull));
		w->tup = NULL;
		w->conf = NULL;
		return;
	}
	else
	{
		Relation	rel;
		ScanKeyData k;
		HeapTuple	tup;
		Row			row;

		direct_begin();
		rel = table_open(rel_of("wallet"), AccessShareLock);
		key_int8(&k, att_of(rel, "wallet_id"), wallet_id);
		tup = fetch_one(rel, "wallet_pkey", 1, &k);
		if (tup == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_WL('6')),
					 errmsg("wallet %lld does not exist", (long long) wallet_id)));
		row_of(&row, rel, tup);
		w->currency = TextDatumGetCString(getattr(&row, "currency", &isnull));
		w->exponent = DatumGetInt16(getattr(&row, "exponent", &isnull));
		w->frozen = DatumGetBool(getattr(&row, "frozen", &isnull));
		reason = getattr(&row, "frozen_reason", &isnull);
		w->frozen_reason = isnull ? NULL : TextDatumGetCString(reason);
		/* detoasted (if it must be) under the snapshot */
		w->lots = DatumGetLotSetP(getattr(&row, "lots", &isnull));
		w->version = DatumGetInt64(getattr(&row, "version", &isnull));
		row_free(&row);
		w->tup = tup;
		table_close(rel, NoLock);
		w->refund_window = (Datum) 0;
		w->commission_rate = NULL;
		w->conf = NULL;
		if (policy)
		{
			w->conf = currency_conf(w->currency, w->exponent);
			w->refund_window = IntervalPGetDatum(&w->conf->refund_window);
			w->commission_rate = w->conf->commission_rate;
		}
		direct_end();
	}
}

/* One applied bonus rule of a top-up. */
typedef struct PlanRule
{
	int64		rule_id;
	char	   *campaign;		/* NULL = base tiers */
	int64		bonus;
	TimestampTz expires;		/* WALLET_NO_TIME = never */
	char	   *scope;			/* comma-joined, NULL = everywhere */
	Numeric		fee;			/* refund_fee_rate, NULL = none */
} PlanRule;

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
 * The currency's configuration the hot path reads: its policy (refund window,
 * commission rate), its bonus rules and whether coupon templates are issued on
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
static Oid	conf_rels[3];		/* policy, bonus_rule, coupon_template */
static bool conf_callback_set;

static void
conf_forget(Datum arg, Oid relid)
{
	(void) arg;
	if (OidIsValid(relid) && relid != conf_rels[0] && relid != conf_rels[1] && relid != conf_rels[2])
		return;
	conf_gen++;
	n_confs = 0;
	if (conf_cxt != NULL)
		MemoryContextReset(conf_cxt);
}

static int
conf_rule_cmp(const void *a, const void *b)
{
	int64		x = ((const ConfRule *) a)->rule_id;
	int64		y = ((const ConfRule *) b)->rule_id;

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

/* conf_copy copies a configuration into the current memory context. */
static CurrencyConf *
conf_copy(const CurrencyConf *c)
{
	CurrencyConf *d = palloc(sizeof(CurrencyConf));

	*d = *c;
	d->currency = pstrdup(c->currency);
	d->commission_rate = numeric_copy(c->commission_rate);
	d->rules = palloc(sizeof(ConfRule) * Max(c->nrules, 1));
	for (int i = 0; i < c->nrules; i++)
	{
		d->rules[i] = c->rules[i];
		d->rules[i].campaign = str_copy(c->rules[i].campaign);
		d->rules[i].rate = numeric_copy(c->rules[i].rate);
		d->rules[i].scope = str_copy(c->rules[i].scope);
		d->rules[i].fee = numeric_copy(c->rules[i].fee);
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

/* conf_read reads a currency's configuration from its tables (relations locked). */
static CurrencyConf *
conf_read(Relation prel, Relation rrel, Relation trel, const char *currency, int exponent)
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

	/* the policy (its defaults when the currency has no row) */
	c->refund_window.day = 30;
	c->commission_rate = int64_to_numeric(0);
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
	}

	/* coupon templates issued on top-ups */
	key_text(&k[0], att_of(trel, "issue_on"), "top_up");
	key_text(&k[1], att_of(trel, "currency"), currency);
	c->topup_templates = fetch_one(trel, "coupon_template_auto", 2, k) != NULL;

	/* the bonus rules, all of them (which are active depends on the clock) */
	for (int i = 0; i < exponent; i++)
		pow10 *= 10;
	scale = int64_to_numeric(pow10);
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
	return c;
}

/* currency_conf returns (a copy of) a currency's configuration, from the cache if it can. */
static CurrencyConf *
currency_conf(const char *currency, int exponent)
{
	bool		keep = !IsolationUsesXactSnapshot();
	Relation	prel;
	Relation	rrel;
	Relation	trel;
	uint64		gen;
	CurrencyConf *c;

	if (!conf_callback_set)
	{
		CacheRegisterRelcacheCallback(conf_forget, (Datum) 0);
		conf_callback_set = true;
	}
	AcceptInvalidationMessages();
	if (keep)
		for (int i = 0; i < n_confs; i++)
			if (confs[i]->exponent == exponent && strcmp(confs[i]->currency, currency) == 0)
				return conf_copy(confs[i]);

	prel = table_open(rel_of("policy"), AccessShareLock);
	rrel = table_open(rel_of("bonus_rule"), AccessShareLock);
	trel = table_open(rel_of("coupon_template"), AccessShareLock);
	conf_rels[0] = RelationGetRelid(prel);
	conf_rels[1] = RelationGetRelid(rrel);
	conf_rels[2] = RelationGetRelid(trel);
	AcceptInvalidationMessages();
	gen = conf_gen;
	/* a snapshot taken now sees every change whose invalidation came in */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	c = conf_read(prel, rrel, trel, currency, exponent);
	PopActiveSnapshot();
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
 * bonus_plan evaluates the bonus rules of a currency active at clk for a
 * top-up of amt (minor units), as wallet._bonus_plan does: in each group
 * (campaign, NULL for the base tiers) the rule with the greatest min_amount
 * not above amt applies (on a tie the later rule_id). Returns the applied
 * rules that grant a bonus, base first then by campaign.
 */
static int
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

/*
 * probe_key looks up the journal row of (wallet, key): false if the key is
 * free; else its kind, request (NULL if none) and result. The key table is
 * read straight from its primary key; the journal row (rare: a replay) by a
 * query, which prunes to its month's partition. A key whose month has been
 * archived is refused (WL008): it must not be charged again.
 */
static bool
probe_key(int64 wallet_id, const char *key, int64 *txn_out, char **kind, Jsonb **request, Jsonb **result)
{
	Relation	rel;
	ScanKeyData k[2];
	HeapTuple	tup;
	bool		isnull;
	int64		txn_id;
	Datum		created;
	Datum		args[2];
	Datum		d;

	direct_begin();
	if (!OidIsValid(plans.key_rel))
	{
		/* a 0.1 schema: the journal (not partitioned) holds the keys in a unique index */
		rel = table_open(rel_of("txn"), AccessShareLock);
		key_int8(&k[0], att_of(rel, "wallet_id"), wallet_id);
		key_text(&k[1], att_of(rel, "idempotency_key"), key);
		tup = fetch_one(rel, "txn_wallet_key", 2, k);
		if (tup)
		{
			Row			row;

			row_of(&row, rel, tup);
			*txn_out = DatumGetInt64(getattr(&row, "txn_id", &isnull));
			*kind = TextDatumGetCString(getattr(&row, "kind", &isnull));
			d = getattr(&row, "request", &isnull);
			*request = isnull ? NULL : DatumGetJsonbP(d);
			*result = DatumGetJsonbP(getattr(&row, "result", &isnull));
		}
		table_close(rel, NoLock);
		direct_end();
		return tup != NULL;
	}
	rel = table_open(plans.key_rel, AccessShareLock);
	key_int8(&k[0], att_of(rel, "wallet_id"), wallet_id);
	key_text(&k[1], att_of(rel, "idempotency_key"), key);
	tup = fetch_one(rel, "txn_key_pkey", 2, k);
	if (tup)
	{
		Row			row;

		row_of(&row, rel, tup);
		txn_id = DatumGetInt64(getattr(&row, "txn_id", &isnull));
		created = getattr(&row, "created_at", &isnull);
	}
	table_close(rel, NoLock);
	direct_end();
	if (tup == NULL)
		return false;
	*txn_out = txn_id;
	if (kind == NULL)
		return true;			/* only the key asked for */

	args[0] = Int64GetDatum(txn_id);
	args[1] = created;
	if (run_plan(plans.replay, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the journal");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("the operation of idempotency key \"%s\" has been archived", key),
				 errdetail("Key \"%s\" of wallet %lld names transaction %lld of %s, in an archived month of the journal.",
						   key, (long long) wallet_id, (long long) txn_id,
						   DatumGetCString(DirectFunctionCall1(timestamptz_out, created)))));
	*kind = TextDatumGetCString(getcol(1, &isnull));
	d = getcol(2, &isnull);
	*request = isnull ? NULL : DatumGetJsonbP(d);
	*result = DatumGetJsonbP(getcol(3, &isnull));
	return true;
}

/* select_datum runs a one-column plan and returns its first value, 0 if none or NULL. */
static Datum
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
 * jsonb_member_int returns the integer member key of a journal result; a
 * missing member is an error where required, 0 otherwise.
 */
static int64
jsonb_member_int(Jsonb *j, const char *key, bool required)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&j->root, JB_FOBJECT, &k);
	if (v == NULL && !required)
		return 0;
	if (v == NULL || v->type != jbvNumeric)
		elog(ERROR, "journal result lacks \"%s\"", key);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

/* jsonb_int returns the integer member key of a journal result. */
static int64
jsonb_int(Jsonb *j, const char *key)
{
	return jsonb_member_int(j, key, true);
}

/*
 * jsonb_int_or_zero returns the integer member key of a journal result, or 0
 * where the member is left out (a spend's result leaves out its zero amounts).
 */
static int64
jsonb_int_or_zero(Jsonb *j, const char *key)
{
	return jsonb_member_int(j, key, false);
}

/*
 * find_replay looks up an earlier operation of this wallet with key: NULL if
 * none, its stored result if it was the same operation with the same
 * arguments, WL003 otherwise.
 */
static Jsonb *
find_replay(WalletRow *w, const char *key, const char *op, Jsonb *request)
{
	char	   *kind;
	Jsonb	   *stored;
	Jsonb	   *result;
	int64		txn_id;
	bool		same;

	if (!probe_key(w->id, key, &txn_id, &kind, &stored, &result))
		return NULL;
	/*
	 * A request leaves out its null arguments; one stored with them (written
	 * by 0.1 or an earlier 0.2) names the same arguments.
	 */
	same = stored != NULL && strcmp(kind, op) == 0 &&
		(DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(stored), JsonbPGetDatum(request))) ||
		 DatumGetBool(DirectFunctionCall2(jsonb_eq,
										  DirectFunctionCall1(jsonb_strip_nulls, JsonbPGetDatum(stored)),
										  JsonbPGetDatum(request))));
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_WL('3')),
				 errmsg("idempotency key reused with different arguments"),
				 errdetail("Key \"%s\" of wallet %lld was used by %s with %s.", key, (long long) w->id,
						   kind, stored ? JsonbToCString(NULL, &stored->root, VARSIZE(stored)) : "null")));
	return result;
}

/*
 * after_no_write sorts out a write that wrote nothing (write_op false): the
 * key was taken (a replay: its stored result, or WL003) or the row had moved
 * on (a lost race: NULL, after taking back the key row this attempt wrote).
 */
static Jsonb *
after_no_write(WalletRow *w, const char *key, const char *op, Jsonb *request, int64 my_txn)
{
	int64		txn_id;

	if (!OidIsValid(plans.key_rel) || !probe_key(w->id, key, &txn_id, NULL, NULL, NULL))
		return NULL;
	if (txn_id == my_txn)
	{
		Datum		args[3] = {Int64GetDatum(w->id), CStringGetTextDatum(key), Int64GetDatum(my_txn)};

		if (run_plan(plans.drop_key, args, NULL, false, 0) != SPI_OK_DELETE || SPI_processed != 1)
			elog(ERROR, "could not take back idempotency key \"%s\"", key);
		return NULL;
	}
	return find_replay(w, key, op, request);
}

/* save_wallet writes the lots back if the row is still at w->version. */
static bool
save_wallet(WalletRow *w, LotBuilder *b)
{
	TimestampTz next = engine_next_expiry(b);
	Datum		args[4] = {Int64GetDatum(w->id), PointerGetDatum(lotset_pack(b)),
	TimestampTzGetDatum(next), Int64GetDatum(w->version)};
	char		nulls[4] = {' ', ' ', next == WALLET_NO_TIME ? 'n' : ' ', ' '};

	if (run_plan(plans.update_wallet, args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update wallet %lld", (long long) w->id);
	return SPI_processed == 1;
}

/* Journal legs, built as a wallet.posting[] value in memory. */
typedef struct Legs
{
	int			n;
	int			cap;
	Datum	   *rows;
} Legs;

static void
legs_init(Legs *l)
{
	l->n = 0;
	l->cap = 8;
	l->rows = palloc(sizeof(Datum) * l->cap);
}

/* leg appends one posting unless its amount is zero; wallet_id 0 = none. */
static void
leg(Legs *l, const char *account, int64 wallet_id, const char *bucket, int64 amount)
{
	TupleDesc	td;
	Datum		values[4];
	bool		nulls[4] = {false, wallet_id == 0, bucket == NULL, false};

	if (amount == 0)
		return;
	if (l->n == l->cap)
	{
		l->cap *= 2;
		l->rows = repalloc(l->rows, sizeof(Datum) * l->cap);
	}
	values[0] = CStringGetTextDatum(account);
	values[1] = Int64GetDatum(wallet_id);
	values[2] = bucket ? CStringGetTextDatum(bucket) : (Datum) 0;
	values[3] = Int64GetDatum(amount);
	td = lookup_rowtype_tupdesc(plans.posting_type, -1);
	l->rows[l->n++] = HeapTupleGetDatum(heap_form_tuple(td, values, nulls));
	ReleaseTupleDesc(td);
}

static Datum
legs_done(Legs *l)
{
	return PointerGetDatum(construct_array(l->rows, l->n, plans.posting_type, -1, false, TYPALIGN_DOUBLE));
}

/*
 * Journal request and result values are built as jsonb in memory (no text
 * to parse): a JB collects one object, possibly with nested arrays.
 */
typedef struct JB
{
	JsonbParseState *st;
} JB;

static void
jb_push(JB *j, JsonbIteratorToken tok, JsonbValue *v)
{
	(void) pushJsonbValue(&j->st, tok, v);
}

static void
jb_begin(JB *j)
{
	j->st = NULL;
	jb_push(j, WJB_BEGIN_OBJECT, NULL);
}

static void
jb_key(JB *j, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	jb_push(j, WJB_KEY, &k);
}

/* jb_value adds a value: a member's after jb_key, or an array element */
static void
jb_value(JB *j, bool elem, JsonbValue *v)
{
	jb_push(j, elem ? WJB_ELEM : WJB_VALUE, v);
}

static void
jb_text(JB *j, const char *key, const char *val)
{
	JsonbValue	v;

	if (key)
		jb_key(j, key);
	if (val)
	{
		v.type = jbvString;
		v.val.string.val = (char *) val;
		v.val.string.len = strlen(val);
	}
	else
		v.type = jbvNull;
	jb_value(j, key == NULL, &v);
}

static void
jb_numeric(JB *j, const char *key, Numeric val)
{
	JsonbValue	v;

	jb_key(j, key);
	v.type = jbvNumeric;
	v.val.numeric = val;
	jb_value(j, false, &v);
}

static void
jb_int(JB *j, const char *key, int64 val)
{
	jb_numeric(j, key, int64_to_numeric(val));
}

/* jb_int_or_null adds an integer member, or null when absent */
static void
jb_int_or_null(JB *j, const char *key, bool present, int64 val)
{
	JsonbValue	v;

	if (present)
	{
		jb_int(j, key, val);
		return;
	}
	jb_key(j, key);
	v.type = jbvNull;
	jb_value(j, false, &v);
}

/* jb_text_if adds a text member, unless it is null and compact */
static void
jb_text_if(JB *j, bool compact, const char *key, const char *val)
{
	if (val != NULL || !compact)
		jb_text(j, key, val);
}

/* jb_int_if adds an integer member, unless it is zero and compact */
static void
jb_int_if(JB *j, bool compact, const char *key, int64 val)
{
	if (val != 0 || !compact)
		jb_int(j, key, val);
}

static void
jb_bool(JB *j, const char *key, bool val)
{
	JsonbValue	v;

	jb_key(j, key);
	v.type = jbvBool;
	v.val.boolean = val;
	jb_value(j, false, &v);
}

static Jsonb *
jb_end(JB *j)
{
	return JsonbValueToJsonb(pushJsonbValue(&j->st, WJB_END_OBJECT, NULL));
}

/* insert_txn appends one journal row. */
static void
insert_txn(int64 txn_id, WalletRow *w, const char *kind, int64 amount, TimestampTz at,
		   const char *key, Jsonb *request, Jsonb *result, Datum postings,
		   LotSet *pieces)
{
	Datum		args[11] = {Int64GetDatum(txn_id), Int64GetDatum(w->id), CStringGetTextDatum(kind),
		Int64GetDatum(amount), CStringGetTextDatum(w->currency), TimestampTzGetDatum(at),
		CStringGetTextDatum(key), JsonbPGetDatum(request), JsonbPGetDatum(result),
	postings, PointerGetDatum(pieces)};
	char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', pieces ? ' ' : 'n'};

	if (run_plan(plans.insert_txn, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not append to the journal");
}

/* ---- the write without the executor ---- */

/*
 * Started through the executor, the write statement costs more than its
 * writing: plan-cache check, executor start-up of three nodes, and an index
 * descent to find again the wallet row the operation has just read.
 * write_direct does what the statement does the way COPY and logical
 * replication's apply do it, with the executor's own routines for indexes
 * and partitions:
 * - the key row by speculative insertion, as ON CONFLICT DO NOTHING does;
 * - the wallet row updated by its tid, the version read: a row that moved on
 *   since it was read is a lost race, exactly what the version check finds;
 * - the journal row routed to its month's partition.
 * Constraints (NOT NULL, CHECK) are checked by ExecConstraints, as the
 * statement checks them. It writes only where the result is the statement's:
 * a table whose write would fire triggers (other than foreign keys on columns
 * it leaves alone), has generated or unknown columns, row security, or
 * privileges short of the whole table's is left to the statement
 * (DW_UNSUPPORTED, before anything is written). Rules, which neither this
 * path nor the statements (INSERT ... ON CONFLICT) can honour, never get
 * this far: every operation refuses them first (refuse_rules, in
 * ensure_plans), so a rule is refused the same way in every backend.
 */
typedef enum DirectWrite
{
	DW_WROTE,
	DW_NOTHING,					/* the key was taken or the race lost */
	DW_UNSUPPORTED				/* nothing written: the statement must do it */
} DirectWrite;

/* constraint_touches: does foreign key conoid involve any of rel's columns cols? */
static bool
constraint_touches(Oid conoid, Relation rel, const AttrNumber *cols, int ncols)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	Form_pg_constraint con;
	bool		touches = false;

	if (!HeapTupleIsValid(tup))
		return true;
	con = (Form_pg_constraint) GETSTRUCT(tup);
	if (con->contype != CONSTRAINT_FOREIGN)
		touches = true;
	for (int side = 0; side < 2 && !touches; side++)
	{
		Oid			relid = side == 0 ? con->conrelid : con->confrelid;
		bool		isnull;
		Datum		d;
		Datum	   *keys;
		int			nkeys;

		if (relid != RelationGetRelid(rel))
			continue;
		d = SysCacheGetAttr(CONSTROID, tup, side == 0 ? Anum_pg_constraint_conkey : Anum_pg_constraint_confkey,
							&isnull);
		if (isnull)
		{
			touches = true;
			break;
		}
		deconstruct_array(DatumGetArrayTypeP(d), INT2OID, 2, true, TYPALIGN_SHORT, &keys, NULL, &nkeys);
		for (int i = 0; i < nkeys; i++)
			for (int j = 0; j < ncols; j++)
				if (DatumGetInt16(keys[i]) == cols[j])
					touches = true;
	}
	ReleaseSysCache(tup);
	return touches;
}

/*
 * plain_target: would inserting into rel (update: updating columns changed
 * of it) do nothing but write the heap and its indexes?
 */
static bool
plain_target(Relation rel, bool update, const AttrNumber *changed, int nchanged)
{
	TriggerDesc *td = rel->trigdesc;
	TupleConstr *c = RelationGetDescr(rel)->constr;

	if (rel->rd_rel->relrowsecurity)
		return false;
	if (c != NULL && c->has_generated_stored)
		return false;
	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (!(update ? TRIGGER_FOR_UPDATE(t->tgtype) : TRIGGER_FOR_INSERT(t->tgtype)))
			continue;
		if (update && t->tgnattr > 0)
		{
			/* UPDATE OF columns: fires only if one of them is set */
			bool		fires = false;

			for (int a = 0; a < t->tgnattr; a++)
				for (int j = 0; j < nchanged; j++)
					fires |= t->tgattr[a] == changed[j];
			if (!fires)
				continue;
		}
		/*
		 * An update fires a foreign key's triggers, but they act only when
		 * the key's columns change (and a deferrable key is checked later
		 * when the row was inserted in this transaction: not ours to skip).
		 */
		if (!update || !t->tgisinternal || t->tgdeferrable ||
			RI_FKey_trigger_type(t->tgfoid) == RI_TRIGGER_NONE ||
			constraint_touches(t->tgconstraint, rel, changed, nchanged))
			return false;
	}
	return true;
}

/* may: does the current user hold every privilege of mode on the whole table? */
static bool
may(Relation rel, AclMode mode)
{
	static const AclMode each[] = {ACL_SELECT, ACL_INSERT, ACL_UPDATE};

	for (int i = 0; i < (int) lengthof(each); i++)
		if ((mode & each[i]) && pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), each[i]) != ACLCHECK_OK)
			return false;
	return true;
}

/*
 * direct_ok: may a direct write insert into rel (update: update columns
 * changed of it) with the privileges of mode, doing what the statement would
 * do (plain_target and may)? The answer is remembered per relation, role and
 * question until the relation changes (relcache invalidation: triggers,
 * policies, constraints, columns, grants) or any role does.
 */
typedef struct DirectOk
{
	Oid			rel;
	Oid			root;
	Oid			user;
	AclMode		mode;
	bool		update;
	int			nchanged;
	AttrNumber	changed[4];
	bool		ok;
	bool		user_code;		/* its constraints or indexes call functions not built in */
} DirectOk;

static DirectOk direct_ok_cache[16];
static int	n_direct_ok;
static uint64 direct_ok_gen;	/* counts the changes that empty the cache */
static bool direct_ok_callbacks_set;

static void
forget_direct_ok_rel(Datum arg, Oid relid)
{
	(void) arg;
	/* an answer about a partition also depends on its root's layout */
	for (int i = 0; i < n_direct_ok; i++)
		if (!OidIsValid(relid) || direct_ok_cache[i].rel == relid || direct_ok_cache[i].root == relid)
		{
			n_direct_ok = 0;
			direct_ok_gen++;
			return;
		}
}

static void
forget_direct_ok(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	n_direct_ok = 0;
	direct_ok_gen++;
}

static bool direct_ok_answer(Relation rel, Relation root, bool update, const AttrNumber *changed, int nchanged,
							 AclMode mode, bool *user_code);

static bool
is_user_function(Oid fn, void *context)
{
	(void) context;
	return fn >= FirstNormalObjectId;
}

static bool
user_code_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, is_user_function, context))
		return true;
	return expression_tree_walker(node, user_code_walker, context);
}

/*
 * runs_user_code: would writing a row of rel call a function that is not
 * built into PostgreSQL (in a CHECK constraint, an index expression or
 * predicate, or an index's support functions)? Such a function looks names
 * up under the search path in force, which must be the pinned one.
 */
static bool
runs_user_code(Relation rel)
{
	TupleConstr *c = RelationGetDescr(rel)->constr;
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	for (int i = 0; c != NULL && i < c->num_check && !found; i++)
		found = user_code_walker(stringToNode(c->check[i].ccbin), NULL);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	ir;
		int			nprocs;

		if (found)
			break;
		ir = index_open(lfirst_oid(lc), AccessShareLock);
		nprocs = IndexRelationGetNumberOfKeyAttributes(ir) * ir->rd_indam->amsupport;
		for (int i = 0; i < nprocs && !found; i++)
			found = ir->rd_support[i] >= FirstNormalObjectId;
		found = found || user_code_walker((Node *) RelationGetIndexExpressions(ir), NULL) ||
			user_code_walker((Node *) RelationGetIndexPredicate(ir), NULL);
		index_close(ir, AccessShareLock);
	}
	list_free(indexes);
	return found;
}

/*
 * direct_ok: may this backend write rel (a partition of root, if root is
 * given) directly, as the statement would? Remembered per table and role.
 * Where it may and the write runs user code, the search path is pinned.
 */
static bool
direct_ok(Relation rel, Relation root, bool update, const AttrNumber *changed, int nchanged, AclMode mode)
{
	bool		user_code = false;
	bool		ok = direct_ok_answer(rel, root, update, changed, nchanged, mode, &user_code);

	if (ok && user_code)
		pin_path();
	return ok;
}

static bool
direct_ok_answer(Relation rel, Relation root, bool update, const AttrNumber *changed, int nchanged, AclMode mode,
				 bool *user_code)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			rootid = root ? RelationGetRelid(root) : InvalidOid;
	Oid			user = GetUserId();
	uint64		gen = direct_ok_gen;
	DirectOk   *e;
	bool		ok;

	if (!direct_ok_callbacks_set)
	{
		CacheRegisterRelcacheCallback(forget_direct_ok_rel, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, forget_direct_ok, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, forget_direct_ok, (Datum) 0);
		direct_ok_callbacks_set = true;
	}
	for (int i = 0; i < n_direct_ok; i++)
	{
		e = &direct_ok_cache[i];
		if (e->rel == relid && e->root == rootid && e->user == user && e->mode == mode && e->update == update &&
			e->nchanged == nchanged &&
			(nchanged == 0 || memcmp(e->changed, changed, sizeof(AttrNumber) * nchanged) == 0))
		{
			*user_code = e->user_code;
			return e->ok;
		}
	}
	ok = plain_target(rel, update, changed, nchanged) && may(rel, mode);
	*user_code = ok && runs_user_code(rel);
	if (ok && root != NULL)
	{
		/* a partition: its rows must be laid out as root's (no conversion) */
		AttrMap    *map = build_attrmap_by_name_if_req(RelationGetDescr(root), RelationGetDescr(rel));

		if (map != NULL)
		{
			free_attrmap(map);
			ok = false;
		}
	}

	/* remembered only if nothing changed while it was worked out */
	if (gen == direct_ok_gen && nchanged <= (int) lengthof(e->changed))
	{
		if (n_direct_ok == lengthof(direct_ok_cache))
			n_direct_ok = 0;	/* full: start over */
		e = &direct_ok_cache[n_direct_ok++];
		e->rel = relid;
		e->root = rootid;
		e->user = user;
		e->mode = mode;
		e->update = update;
		e->nchanged = nchanged;
		if (nchanged > 0)
			memcpy(e->changed, changed, sizeof(AttrNumber) * nchanged);
		e->ok = ok;
		e->user_code = *user_code;
	}
	return ok;
}

/* set_col sets one column of a row being built, by name. */
static void
set_col(TupleTableSlot *slot, Relation rel, bool *given, const char *name, Datum v, bool isnull)
{
	AttrNumber	a = att_of(rel, name);

	slot->tts_values[a - 1] = v;
	slot->tts_isnull[a - 1] = isnull;
	given[a - 1] = true;
}

/* row_ready stores a built row: false if a live column was not given. */
static bool
row_ready(TupleTableSlot *slot, const bool *given)
{
	TupleDesc	td = slot->tts_tupleDescriptor;

	for (int i = 0; i < td->natts; i++)
	{
		if (TupleDescAttr(td, i)->attisdropped)
			slot->tts_isnull[i] = true;
		else if (!given[i])
			return false;
	}
	ExecStoreVirtualTuple(slot);
	return true;
}

/* check_row checks a row against its table's NOT NULL and CHECK constraints. */
static void
check_row(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate)
{
	if (RelationGetDescr(rri->ri_RelationDesc)->constr != NULL)
		ExecConstraints(rri, slot, estate);
}

/* rt_entry is a range table entry for rel, as the statement's would be. */
static RangeTblEntry *
rt_entry(Relation rel, AclMode perms, Bitmapset *inserted, Bitmapset *updated)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = perms;
	rte->insertedCols = inserted;
	rte->updatedCols = updated;
	return rte;
}

/* all_columns is the set of rel's live columns, as a range table entry holds them. */
static Bitmapset *
all_columns(Relation rel)
{
	Bitmapset  *cols = NULL;
	TupleDesc	td = RelationGetDescr(rel);

	for (int i = 0; i < td->natts; i++)
		if (!TupleDescAttr(td, i)->attisdropped)
			cols = bms_add_member(cols, i + 1 - FirstLowInvalidHeapAttributeNumber);
	return cols;
}

/*
 * direct_begin_estate starts the executor state of a direct write; its
 * memory is current until direct_end_estate, which frees it.
 */
static EState *
direct_begin_estate(MemoryContext *old)
{
	EState	   *estate = CreateExecutorState();

	*old = MemoryContextSwitchTo(estate->es_query_cxt);
	estate->es_snapshot = GetActiveSnapshot();
	estate->es_output_cid = GetCurrentCommandId(true);
	return estate;
}

static void
direct_end_estate(EState *estate, MemoryContext old)
{
	ExecResetTupleTable(estate->es_tupleTable, false);
	MemoryContextSwitchTo(old);
	FreeExecutorState(estate);
}

/* result_rel is the result relation rti (its range table entry) of a direct write. */
static ResultRelInfo *
result_rel(Relation rel, Index rti)
{
	ResultRelInfo *rri = makeNode(ResultRelInfo);

	InitResultRelInfo(rri, rel, rti, NULL, 0);
	return rri;
}

/*
 * insert_row inserts a checked row and its index entries (indexes open).
 * JOURNAL_APPEND as options puts the row on the table's last page (or a new
 * one): the journal is appended to, never updated, so the only free space
 * its free space map knows of is the tail of each full page, left there
 * because the next row did not fit; a smaller row sent there (an expiry's)
 * dirties, and after a checkpoint logs whole, a page that was finished long
 * ago. Sweeping 250,000 wallets of a journal whose pages had such tails:
 * 442 MB of WAL and 7.4 s with the map, 279 MB and 4.0 s without it.
 */
#define JOURNAL_APPEND TABLE_INSERT_SKIP_FSM

static void
insert_row(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate, int options)
{
	table_tuple_insert(rri->ri_RelationDesc, slot, estate->es_output_cid, options, NULL);
	if (rri->ri_NumIndices > 0)
		list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));
}

/*
 * journal_leaf opens the partition of the journal that a row created at `at`
 * belongs in, found as the executor's routing finds it (range partitions on
 * created_at, the default partition otherwise), or returns NULL where the
 * routing is not that simple (the executor then routes the row).
 */
static Relation
journal_leaf(Relation jrel, TimestampTz at)
{
	PartitionKey key = RelationGetPartitionKey(jrel);
	PartitionDesc pd;
	PartitionBoundInfo bi;
	Datum		v = TimestampTzGetDatum(at);
	bool		equal;
	int			idx = -1;

	if (key == NULL || key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		key->partattrs[0] != att_of(jrel, "created_at"))
		return NULL;
	/* as the executor's routing: partitions being detached only for snapshot isolation */
	pd = RelationGetPartitionDesc(jrel, !IsolationUsesXactSnapshot());
	bi = pd->boundinfo;
	if (pd->nparts == 0 || bi == NULL)
		return NULL;
	if (bi->ndatums > 0)
	{
		int			offset = partition_range_datum_bsearch(key->partsupfunc, key->partcollation, bi, 1, &v, &equal);

		/* the bound at offset is <= v: the one after it is the partition's upper bound */
		idx = bi->indexes[offset + 1];
	}
	if (idx < 0)
		idx = bi->default_index;
	if (idx < 0 || idx >= pd->nparts || !pd->is_leaf[idx])
		return NULL;
	return table_open(pd->oids[idx], RowExclusiveLock);
}

static DirectWrite
write_direct(WalletRow *w, Datum lots, TimestampTz next, int64 txn_id, const char *kind, int64 amount,
			 TimestampTz at, const char *key, Jsonb *request, Jsonb *result, Datum postings,
			 LotSet *pieces)
{
	static const char *const changed_names[] = {"lots", "next_expiry", "version"};
	AttrNumber	changed[lengthof(changed_names)];
	Bitmapset  *updated = NULL;
	Relation	krel;
	Relation	wrel;
	Relation	jrel;
	EState	   *estate;
	MemoryContext old;
	ResultRelInfo *krri;
	ResultRelInfo *wrri;
	ResultRelInfo *jrri;
	ResultRelInfo *leaf = NULL;
	Relation	leafrel = NULL;
	ModifyTableState *mt;
	PartitionTupleRouting *proute = NULL;
	TupleTableSlot *kslot;
	TupleTableSlot *wslot;
	TupleTableSlot *jslot;
	bool	   *given;
	CommandId	cid;
	DirectWrite outcome = DW_UNSUPPORTED;
	Datum		wallet_id = Int64GetDatum(w->id);
	Datum		key_text = CStringGetTextDatum(key);

	if (w->tup == NULL || !OidIsValid(plans.key_rel))
		return DW_UNSUPPORTED;
	krel = table_open(plans.key_rel, RowExclusiveLock);
	wrel = table_open(rel_of("wallet"), RowExclusiveLock);
	jrel = table_open(rel_of("txn"), RowExclusiveLock);
	for (int i = 0; i < (int) lengthof(changed_names); i++)
	{
		changed[i] = att_of(wrel, changed_names[i]);
		updated = bms_add_member(updated, changed[i] - FirstLowInvalidHeapAttributeNumber);
	}

	estate = direct_begin_estate(&old);
	ExecInitRangeTable(estate, list_make3(rt_entry(wrel, ACL_UPDATE | ACL_SELECT, NULL, updated),
										  rt_entry(jrel, ACL_INSERT, all_columns(jrel), NULL),
										  rt_entry(krel, ACL_INSERT | ACL_SELECT, all_columns(krel), NULL)));
	wrri = result_rel(wrel, 1);
	jrri = result_rel(jrel, 2);
	krri = result_rel(krel, 3);
	/* a stand-in for the statement's node, as COPY makes one for routing */
	mt = makeNode(ModifyTableState);
	mt->ps.plan = NULL;
	mt->ps.state = estate;
	mt->operation = CMD_INSERT;
	mt->mt_nrels = 1;
	mt->resultRelInfo = jrri;
	mt->rootResultRelInfo = jrri;

	if (krel->rd_rel->relkind != RELKIND_RELATION || wrel->rd_rel->relkind != RELKIND_RELATION ||
		jrel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE ||
		!direct_ok(krel, NULL, false, NULL, 0, ACL_INSERT | ACL_SELECT) ||
		!direct_ok(wrel, NULL, true, changed, lengthof(changed), ACL_UPDATE | ACL_SELECT) ||
		!direct_ok(jrel, NULL, false, NULL, 0, ACL_INSERT))
		goto done;
	CheckValidResultRel(krri, CMD_INSERT);
	CheckValidResultRel(wrri, CMD_UPDATE);

	/* the rows, all checked before anything is written */
	kslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(krel), &TTSOpsVirtual);
	given = palloc0(sizeof(bool) * RelationGetDescr(krel)->natts);
	ExecClearTuple(kslot);
	set_col(kslot, krel, given, "wallet_id", wallet_id, false);
	set_col(kslot, krel, given, "idempotency_key", key_text, false);
	set_col(kslot, krel, given, "txn_id", Int64GetDatum(txn_id), false);
	set_col(kslot, krel, given, "created_at", TimestampTzGetDatum(at), false);
	if (!row_ready(kslot, given))
		goto done;

	wslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(wrel), &TTSOpsVirtual);
	ExecClearTuple(wslot);
	heap_deform_tuple(w->tup, RelationGetDescr(wrel), wslot->tts_values, wslot->tts_isnull);
	wslot->tts_values[changed[0] - 1] = lots;
	wslot->tts_isnull[changed[0] - 1] = false;
	wslot->tts_values[changed[1] - 1] = TimestampTzGetDatum(next);
	wslot->tts_isnull[changed[1] - 1] = next == WALLET_NO_TIME;
	wslot->tts_values[changed[2] - 1] = Int64GetDatum(w->version + 1);
	wslot->tts_isnull[changed[2] - 1] = false;
	ExecStoreVirtualTuple(wslot);

	jslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(jrel), &TTSOpsVirtual);
	given = palloc0(sizeof(bool) * RelationGetDescr(jrel)->natts);
	ExecClearTuple(jslot);
	set_col(jslot, jrel, given, "txn_id", Int64GetDatum(txn_id), false);
	set_col(jslot, jrel, given, "wallet_id", wallet_id, false);
	set_col(jslot, jrel, given, "kind", CStringGetTextDatum(kind), false);
	set_col(jslot, jrel, given, "amount", Int64GetDatum(amount), false);
	set_col(jslot, jrel, given, "currency", CStringGetTextDatum(w->currency), false);
	set_col(jslot, jrel, given, "created_at", TimestampTzGetDatum(at), false);
	set_col(jslot, jrel, given, "idempotency_key", key_text, false);
	set_col(jslot, jrel, given, "ref_txn", (Datum) 0, true);
	set_col(jslot, jrel, given, "request", JsonbPGetDatum(request), false);
	set_col(jslot, jrel, given, "result", JsonbPGetDatum(result), false);
	set_col(jslot, jrel, given, "postings", postings, false);
	set_col(jslot, jrel, given, "pieces", PointerGetDatum(pieces), pieces == NULL);
	if (!row_ready(jslot, given))
		goto done;
	/*
	 * The journal row's partition: opened directly when it is a plain table
	 * laid out as the journal, else routed as the statement routes it.
	 */
	leafrel = journal_leaf(jrel, at);
	if (leafrel != NULL && leafrel->rd_rel->relkind == RELKIND_RELATION &&
		direct_ok(leafrel, jrel, false, NULL, 0, 0))
	{
		leaf = makeNode(ResultRelInfo);
		InitResultRelInfo(leaf, leafrel, 0, jrri, 0);
		CheckValidResultRel(leaf, CMD_INSERT);
		ExecOpenIndices(leaf, false);
	}
	else
	{
		if (leafrel != NULL)
			table_close(leafrel, NoLock);
		leafrel = NULL;
		/* routing may evaluate partition key expressions */
		pin_path();
		proute = ExecSetupPartitionTupleRouting(estate, jrel);
		leaf = ExecFindPartition(mt, jrri, proute, jslot, estate);
		if (leaf->ri_RelationDesc->rd_rel->relkind != RELKIND_RELATION ||
			!direct_ok(leaf->ri_RelationDesc, NULL, false, NULL, 0, 0))
			goto done;
		if (leaf->ri_RootToPartitionMap != NULL)
			jslot = execute_attr_map_slot(leaf->ri_RootToPartitionMap->attrMap, jslot, leaf->ri_PartitionTupleSlot);
	}
	/* the constraints, as the statement checks them (errors, not a fallback) */
	check_row(krri, kslot, estate);
	check_row(wrri, wslot, estate);
	check_row(leaf, jslot, estate);

	/* the key: nothing more to do if it is taken */
	cid = estate->es_output_cid;
	ExecOpenIndices(krri, true);
	for (int attempt = 0;; attempt++)
	{
		ItemPointerData conflict;
		uint32		token;
		bool		clash = false;

		/*
		 * ExecInsert looks for a conflict before inserting, which costs an
		 * index descent more; a key is rarely taken, so the first attempt
		 * goes straight to the speculative insertion, which finds a conflict
		 * as well (and takes itself back). After one, look first: that waits
		 * for a transaction still inserting the key.
		 */
		if (attempt > 0 && !ExecCheckIndexConstraints(krri, kslot, estate, &conflict, NIL))
		{
			outcome = DW_NOTHING;
			goto done;
		}
		token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
		table_tuple_insert_speculative(krel, kslot, cid, 0, NULL, token);
		list_free(ExecInsertIndexTuples(krri, kslot, estate, false, true, &clash, NIL));
		table_tuple_complete_speculative(krel, kslot, token, !clash);
		SpeculativeInsertionLockRelease(GetCurrentTransactionId());
		if (!clash)
			break;
	}

	/* the wallet row, if it is still the one read */
	{
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		bool		update_indexes;
		TM_Result	r;

		r = table_tuple_update(wrel, &w->tup->t_self, wslot, cid, estate->es_snapshot, InvalidSnapshot, true,
							   &tmfd, &lockmode, &update_indexes);
		if (r == TM_Updated || r == TM_Deleted)
		{
			outcome = DW_NOTHING;	/* the caller takes the key back */
			goto done;
		}
		if (r != TM_Ok)
			elog(ERROR, "could not update wallet %lld (%d)", (long long) w->id, (int) r);
		if (update_indexes)
		{
			ExecOpenIndices(wrri, false);
			list_free(ExecInsertIndexTuples(wrri, wslot, estate, true, false, NULL, NIL));
		}
	}

	/* the journal row */
	insert_row(leaf, jslot, estate, JOURNAL_APPEND);
	outcome = DW_WROTE;

done:
	if (proute != NULL)
		ExecCleanupTupleRouting(mt, proute);
	if (leafrel != NULL)
	{
		ExecCloseIndices(leaf);
		table_close(leafrel, NoLock);
	}
	ExecCloseIndices(krri);
	ExecCloseIndices(wrri);
	direct_end_estate(estate, old);
	table_close(jrel, NoLock);
	table_close(wrel, NoLock);
	table_close(krel, NoLock);
	return outcome;
}

/*
 * credit_direct appends a payee's credit to wallet.payee_credit as
 * write_direct writes: false (nothing written) where the statement must.
 */
static bool
credit_direct(int64 payee, int64 amount, int64 txn_id)
{
	Relation	rel = table_open(rel_of("payee_credit"), RowExclusiveLock);
	EState	   *estate;
	MemoryContext old;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	bool	   *given;
	bool		wrote = false;

	estate = direct_begin_estate(&old);
	ExecInitRangeTable(estate, list_make1(rt_entry(rel, ACL_INSERT, all_columns(rel), NULL)));
	rri = result_rel(rel, 1);
	if (rel->rd_rel->relkind == RELKIND_RELATION && OidIsValid(plans.credit_seq) &&
		direct_ok(rel, NULL, false, NULL, 0, ACL_INSERT))
	{
		CheckValidResultRel(rri, CMD_INSERT);
		slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
		given = palloc0(sizeof(bool) * RelationGetDescr(rel)->natts);
		ExecClearTuple(slot);
		set_col(slot, rel, given, "wallet_id", Int64GetDatum(payee), false);
		set_col(slot, rel, given, "amount", Int64GetDatum(amount), false);
		set_col(slot, rel, given, "txn_id", Int64GetDatum(txn_id), false);
		/* the identity's next value, as its default would take it (no privilege needed) */
		set_col(slot, rel, given, "credit_id", Int64GetDatum(nextval_internal(plans.credit_seq, false)), false);
		if (row_ready(slot, given))
		{
			check_row(rri, slot, estate);
			ExecOpenIndices(rri, false);
			insert_row(rri, slot, estate, 0);
			wrote = true;
		}
	}
	ExecCloseIndices(rri);
	direct_end_estate(estate, old);
	table_close(rel, NoLock);
	return wrote;
}

/*
 * wallet._journal_expired(wallet_ids, currencies, amounts, lots, at) appends
 * the journal rows of one expiry sweep batch (expire_bonus), one per wallet in
 * the order given, as its INSERT would: txn_id from the journal's identity,
 * kind expire_bonus, result {"lots": n}, postings wallet/bonus -amount and
 * breakage +amount. The rows go to the end of the journal (see insert_row).
 * Returns false, having written nothing, where the statement must write them
 * (a trigger, row security, a partition laid out otherwise...).
 */
PG_FUNCTION_INFO_V1(wallet_journal_expired);
Datum
wallet_journal_expired(PG_FUNCTION_ARGS)
{
	static const char *const argnames[] = {"wallet_ids", "currencies", "amounts", "lots"};
	static const Oid elemtypes[] = {INT8OID, TEXTOID, INT8OID, INT4OID};
	Datum	   *elems[4];
	int			n = -1;
	TimestampTz at;
	Relation	jrel;
	Relation	leafrel;
	EState	   *estate;
	MemoryContext old;
	ResultRelInfo *jrri;
	ResultRelInfo *leaf;
	TupleTableSlot *slot;
	bool		written = false;

	for (int a = 0; a < 5; a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("wallet._journal_expired: argument %d must not be null", a + 1)));
	for (int a = 0; a < 4; a++)
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(a);
		int16		len;
		bool		byval;
		char		align;
		bool	   *nulls;
		int			count;

		if (ARR_ELEMTYPE(arr) != elemtypes[a] || ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("wallet._journal_expired: %s must be a one-dimensional array of %s",
							argnames[a], format_type_be(elemtypes[a]))));
		get_typlenbyvalalign(elemtypes[a], &len, &byval, &align);
		deconstruct_array(arr, elemtypes[a], len, byval, align, &elems[a], &nulls, &count);
		for (int i = 0; i < count; i++)
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("wallet._journal_expired: %s must not hold nulls", argnames[a])));
		if (n >= 0 && count != n)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("wallet._journal_expired: the arrays must be of one length")));
		n = count;
	}
	for (int i = 0; i < n; i++)
		if (DatumGetInt64(elems[2][i]) <= 0 || DatumGetInt32(elems[3][i]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("wallet._journal_expired: an amount must be positive and a lot count not negative")));
	at = PG_GETARG_TIMESTAMPTZ(4);
	if (n == 0)
		PG_RETURN_BOOL(true);

	SPI_connect();
	ensure_plans();
	jrel = table_open(rel_of("txn"), RowExclusiveLock);
	leafrel = jrel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? journal_leaf(jrel, at) : NULL;
	if (leafrel == NULL)
	{
		table_close(jrel, NoLock);
		SPI_finish();
		PG_RETURN_BOOL(false);
	}
	estate = direct_begin_estate(&old);
	ExecInitRangeTable(estate, list_make1(rt_entry(jrel, ACL_INSERT, all_columns(jrel), NULL)));
	jrri = result_rel(jrel, 1);
	leaf = makeNode(ResultRelInfo);
	InitResultRelInfo(leaf, leafrel, 0, jrri, 0);
	if (leafrel->rd_rel->relkind == RELKIND_RELATION &&
		direct_ok(jrel, NULL, false, NULL, 0, ACL_INSERT) &&
		direct_ok(leafrel, jrel, false, NULL, 0, 0))
	{
		bool	   *given = palloc0(sizeof(bool) * RelationGetDescr(jrel)->natts);
		MemoryContext rowcxt = GetPerTupleMemoryContext(estate);

		CheckValidResultRel(leaf, CMD_INSERT);
		ExecOpenIndices(leaf, false);
		slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(jrel), &TTSOpsVirtual);
		for (int i = 0; i < n; i++)
		{
			int64		wallet_id = DatumGetInt64(elems[0][i]);
			int64		amount = DatumGetInt64(elems[2][i]);
			MemoryContext prev;
			Legs		legs;
			JB			jb;

			ResetPerTupleExprContext(estate);
			prev = MemoryContextSwitchTo(rowcxt);
			ExecClearTuple(slot);
			memset(given, 0, sizeof(bool) * RelationGetDescr(jrel)->natts);
			legs_init(&legs);
			leg(&legs, "wallet", wallet_id, "bonus", -amount);
			leg(&legs, "breakage", 0, NULL, amount);
			jb_begin(&jb);
			jb_int(&jb, "lots", DatumGetInt32(elems[3][i]));
			set_col(slot, jrel, given, "txn_id", Int64GetDatum(nextval_internal(plans.txn_seq, false)), false);
			set_col(slot, jrel, given, "wallet_id", Int64GetDatum(wallet_id), false);
			set_col(slot, jrel, given, "kind", CStringGetTextDatum("expire_bonus"), false);
			set_col(slot, jrel, given, "amount", Int64GetDatum(amount), false);
			set_col(slot, jrel, given, "currency", elems[1][i], false);
			set_col(slot, jrel, given, "created_at", TimestampTzGetDatum(at), false);
			set_col(slot, jrel, given, "idempotency_key", (Datum) 0, true);
			set_col(slot, jrel, given, "ref_txn", (Datum) 0, true);
			set_col(slot, jrel, given, "request", (Datum) 0, true);
			set_col(slot, jrel, given, "result", JsonbPGetDatum(jb_end(&jb)), false);
			set_col(slot, jrel, given, "postings", legs_done(&legs), false);
			set_col(slot, jrel, given, "pieces", (Datum) 0, true);
			if (!row_ready(slot, given))
			{
				/* a column this function does not know of: before the first row only */
				if (i > 0)
					elog(ERROR, "journal layout changed during a sweep batch");
				MemoryContextSwitchTo(prev);
				break;
			}
			check_row(leaf, slot, estate);
			insert_row(leaf, slot, estate, JOURNAL_APPEND);
			MemoryContextSwitchTo(prev);
			written = i == n - 1;
		}
		ExecCloseIndices(leaf);
	}
	direct_end_estate(estate, old);
	table_close(leafrel, NoLock);
	table_close(jrel, NoLock);
	SPI_finish();
	PG_RETURN_BOOL(written);
}

/*
 * write_op takes the idempotency key, writes the lots back if the row is still
 * at w->version and appends the journal row, in one statement; false (nothing
 * written) when the key was taken or the race was lost (after_no_write tells
 * which).
 */
static bool
write_op(WalletRow *w, LotBuilder *b, int64 txn_id, const char *kind, int64 amount, TimestampTz at,
		 const char *key, Jsonb *request, Jsonb *result, Datum postings,
		 LotSet *pieces)
{
	TimestampTz next = engine_next_expiry(b);
	Datum		lots = PointerGetDatum(lotset_pack(b));

	switch (write_direct(w, lots, next, txn_id, kind, amount, at, key, request, result, postings, pieces))
	{
		case DW_WROTE:
			return true;
		case DW_NOTHING:
			return false;
		case DW_UNSUPPORTED:
			break;
	}
	/* the statement's parameters are built only when the statement writes */
	{
		Datum		args[14] = {Int64GetDatum(w->id), lots, TimestampTzGetDatum(next), Int64GetDatum(w->version),
			Int64GetDatum(txn_id), CStringGetTextDatum(kind), Int64GetDatum(amount),
			CStringGetTextDatum(w->currency), TimestampTzGetDatum(at), CStringGetTextDatum(key),
		JsonbPGetDatum(request), JsonbPGetDatum(result), postings, PointerGetDatum(pieces)};
		char		nulls[14] = {' ', ' ', next == WALLET_NO_TIME ? 'n' : ' ', ' ', ' ', ' ', ' ', ' ', ' ',
		' ', ' ', ' ', ' ', pieces ? ' ' : 'n'};

		if (run_plan(plans.write, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write wallet %lld", (long long) w->id);
		return SPI_processed == 1;
	}
}

static Datum
major(int64 minor, int exponent)
{
	return NumericGetDatum(minor_to_numeric(minor, exponent));
}

/*
 * op_begin starts an operation: it refuses a NULL wallet_id (argument 0),
 * returns it, and connects to SPI with the plans ready.
 */
static int64
op_begin(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet_id must not be null")));
	direct_depth = 0;
	SPI_connect();
	ensure_plans();
	return PG_GETARG_INT64(0);
}

/* op_amount returns argument argno as minor units of the wallet's currency. */
static int64
op_amount(FunctionCallInfo fcinfo, int argno, const WalletRow *w)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be null")));
	return numeric_to_minor(PG_GETARG_NUMERIC(argno), w->exponent, "amount");
}

/*
 * op_leave leaves SPI, whose memory goes with it: the result must be built
 * after it, in the caller's memory.
 */
static void
op_leave(MemoryContext caller)
{
	SPI_finish();
	MemoryContextSwitchTo(caller);
}

/*
 * op_row forms the result row of the n columns of the given types, its row
 * type looked up here (see wallet_result_desc). That is a type of the schema,
 * which ALTER TYPE can change: columns dropped from it are left null, and a
 * type that no longer has these columns in this order is refused, never read
 * past the values or misread.
 */
static Datum
op_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls, const Oid *types, int n)
{
	TupleDesc	td = wallet_result_desc(fcinfo);
	Datum	   *v = values;
	bool	   *nl = nulls;
	int			j = 0;
	bool		same = true;

	if (td->natts != n)
	{
		v = palloc0(sizeof(Datum) * td->natts);
		nl = palloc(sizeof(bool) * td->natts);
	}
	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);

		if (att->attisdropped)
		{
			v[i] = (Datum) 0;
			nl[i] = true;
			continue;
		}
		if (j >= n || att->atttypid != types[j])
		{
			same = false;
			break;
		}
		v[i] = values[j];
		nl[i] = nulls[j];
		j++;
	}
	/* a column more, or another type, stops the loop; a column less leaves j short */
	if (!same || j != n)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the row type %s has been altered",
						format_type_extended(td->tdtypeid, -1, FORMAT_TYPE_FORCE_QUALIFY)),
				 errhint("Undo the ALTER TYPE: the operation returns the columns the extension made it with.")));
	return HeapTupleGetDatum(heap_form_tuple(td, v, nl));
}

/* ---- top_up ---- */

/*
 * wallet.top_up(wallet_id bigint, amount numeric, idempotency_key text,
 * method text, external_ref text) returns (txn_id, bonus, replayed): one cash
 * lot refundable until clock + the refund window, and one bonus lot per rule
 * group whose applied rule grants a non-zero bonus.
 */
static Datum
top_up_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	int64		wallet_id;
	TimestampTz clk = wallet_clock();
	WalletRow	w;
	int64		amt = 0;
	char	   *method = NULL;
	char	   *ext = NULL;
	Jsonb	   *req = NULL;
	JB			jb;
	int64		txn_id = 0;
	int64		total = 0;
	bool		replayed = false;
	bool		compact = true;
	int			exponent = 0;
	Datum		coupons = (Datum) 0;
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};


	wallet_id = op_begin(fcinfo);
	for (int attempt = 0;; attempt++)
	{
		bool		lock = attempt >= OPTIMISTIC_TRIES;
		Jsonb	   *prior;
		LotBuilder *b;
		Legs		legs;
		Jsonb	   *res;
		Numeric		campaign_fee = NULL;
		TimestampTz until;
		int			nrules;
		PlanRule   *plan;
		bool		auto_issue;

		read_wallet(wallet_id, lock, true, &w);
		exponent = w.exponent;
		if (attempt == 0)
		{
			amt = op_amount(fcinfo, 1, &w);
			method = check_text(fcinfo, 3, "method", 64, false);
			ext = check_text(fcinfo, 4, "external_ref", 200, false);
			/* null arguments are left out, as a spend's (not on a 0.1 schema) */
			compact = OidIsValid(plans.key_rel);
			jb_begin(&jb);
			jb_int(&jb, "amount", amt);
			jb_text_if(&jb, compact, "method", method);
			jb_text_if(&jb, compact, "external_ref", ext);
			req = jb_end(&jb);
		}
		b = lotset_unpack(w.lots);

		/*
		 * The key is looked up first only where the write cannot take it in
		 * the same statement (under the row lock, on a 0.1 schema, with coupons
		 * to issue) or where the wallet is near its lot limit (an error that
		 * must not hide a replay); otherwise the write's own key insert finds
		 * a replay (after_no_write).
		 */
		/* the coupon templates and bonus rules, read with the policy */
		if (w.conf == NULL)
			w.conf = currency_conf(w.currency, w.exponent);
		auto_issue = w.conf->topup_templates;
		nrules = bonus_plan(w.conf, amt, clk, &plan);
		prior = NULL;
		if (lock || auto_issue || !OidIsValid(plans.key_rel) || b->nlots > WALLET_MAX_LOTS - 64)
			prior = find_replay(&w, key, "top_up", req);
		if (prior == NULL)
		{
			txn_id = nextval_internal(plans.txn_seq, false);
			until = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															TimestampTzGetDatum(clk), w.refund_window));
			engine_add(b, BUCKET_CASH, amt, txn_id, clk, until, NULL);
			legs_init(&legs);
			leg(&legs, "wallet", w.id, "cash", amt);
			leg(&legs, "funding", 0, NULL, -amt);

			/* the rules of the currency active now, one applied rule per group */
			total = 0;
			for (int k = 0; k < nrules; k++)
			{
				PlanRule   *r = &plan[k];

				engine_add(b, BUCKET_BONUS, r->bonus, txn_id, clk, r->expires, r->scope);
				leg(&legs, "wallet", w.id, "bonus", r->bonus);
				leg(&legs, "bonus_expense", 0, NULL, -r->bonus);
				total = checked_add(total, r->bonus);
				if (r->campaign != NULL && r->fee != NULL &&
					(campaign_fee == NULL ||
					 DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(r->fee),
													  NumericGetDatum(campaign_fee)))))
					campaign_fee = r->fee;
			}
			/*
			 * Coupons issued on qualifying top-ups need the row lock the update
			 * takes and go into the result: then the update and the journal row
			 * are two statements. Otherwise one.
			 */
			if (auto_issue)
			{
				Datum		aargs[4] = {Int64GetDatum(w.id), Int64GetDatum(amt), Int64GetDatum(txn_id),
				CStringGetTextDatum(w.currency)};

				if (!save_wallet(&w, b))
					continue;		/* lost a race: read again */
				coupons = select_datum(plans.auto_issue, 4, aargs);
			}

			/*
			 * The result leaves out an empty list of coupons and a campaign
			 * fee rate of none (readers take them as empty and 0), except on a
			 * 0.1 schema.
			 */
			jb_begin(&jb);
			jb_int(&jb, "txn_id", txn_id);
			jb_int(&jb, "bonus", total);
			if (coupons || !compact)
			{
				jb_key(&jb, "coupons");
				jb_push(&jb, WJB_BEGIN_ARRAY, NULL);
				if (coupons)
				{
					Datum	   *elems;
					bool	   *enulls;
					int			ne;

					deconstruct_array(DatumGetArrayTypeP(coupons), TEXTOID, -1, false, TYPALIGN_INT,
									  &elems, &enulls, &ne);
					for (int k = 0; k < ne; k++)
						jb_text(&jb, NULL, enulls[k] ? NULL : TextDatumGetCString(elems[k]));
				}
				jb_push(&jb, WJB_END_ARRAY, NULL);
			}
			jb_key(&jb, "rules");
			jb_push(&jb, WJB_BEGIN_ARRAY, NULL);
			for (int k = 0; k < nrules; k++)
			{
				jb_push(&jb, WJB_BEGIN_OBJECT, NULL);
				jb_int(&jb, "rule_id", plan[k].rule_id);
				jb_text(&jb, "campaign", plan[k].campaign);
				jb_int(&jb, "bonus", plan[k].bonus);
				jb_push(&jb, WJB_END_OBJECT, NULL);
			}
			jb_push(&jb, WJB_END_ARRAY, NULL);
			if (campaign_fee || !compact)
				jb_numeric(&jb, "campaign_fee_rate", campaign_fee ? campaign_fee : int64_to_numeric(0));
			jb_text(&jb, "refundable_until",
					JsonEncodeDateTime(NULL, TimestampTzGetDatum(until), TIMESTAMPTZOID, NULL));
			res = jb_end(&jb);
			if (auto_issue)
			{
				insert_txn(txn_id, &w, "top_up", amt, clk, key, req, res, legs_done(&legs), NULL);
				break;
			}
			if (write_op(&w, b, txn_id, "top_up", amt, clk, key, req, res, legs_done(&legs), NULL))
				break;
			prior = after_no_write(&w, key, "top_up", req, txn_id);
			if (prior == NULL)
				continue;			/* lost a race: read again */
		}
		/* a replay: the stored result */
		txn_id = jsonb_int(prior, "txn_id");
		total = jsonb_int(prior, "bonus");
		replayed = true;
		coupons = select_datum(plans.replay_coupons, 1, (Datum[]) {Int64GetDatum(txn_id)});
		break;
	}
	if (coupons)
		coupons = SPI_datumTransfer(coupons, false, -1);
	op_leave(caller);
	values[0] = Int64GetDatum(txn_id);
	values[1] = major(total, exponent);
	values[2] = BoolGetDatum(replayed);
	values[3] = coupons ? coupons : PointerGetDatum(construct_empty_array(TEXTOID));
	{
		static const Oid types[4] = {INT8OID, NUMERICOID, BOOLOID, TEXTARRAYOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

/* ---- spend ---- */

/* The outcome of a spend, in minor units, kept across SPI_finish. */
typedef struct SpendOut
{
	int64		txn_id;
	int64		charged;
	int64		discount;
	int64		used[WALLET_NBUCKETS];
	int64		shortfall;
	bool		replayed;
} SpendOut;

/*
 * wallet.spend(wallet_id, amount, idempotency_key, scene, coupon,
 * allow_partial, payee, order_ref) charges amount in spending order (bonus
 * usable in scene, soonest expiry first; cash oldest first; earnings) and
 * returns (txn_id, charged, discount, bonus_used, cash_used, earnings_used,
 * shortfall, replayed). A payee's credit waits in wallet.payee_credit, so
 * concurrent spends paying one payee never queue on its row.
 */
static Datum
spend_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	int64		wallet_id;
	TimestampTz clk = wallet_clock();
	WalletRow	w;
	int64		amt = 0;
	char	   *scene = NULL;
	char	   *coupon = NULL;
	char	   *order_ref = NULL;
	bool		partial = false;
	bool		has_payee = !PG_ARGISNULL(6);
	int64		payee = has_payee ? PG_GETARG_INT64(6) : 0;
	Jsonb	   *req = NULL;
	JB			jb;
	SpendOut	out;
	int			exponent = 0;
	bool		must_lock = false;
	bool		probed;
	char	   *canonical = NULL;
	bool		compact = true;
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};

	memset(&out, 0, sizeof(out));
	wallet_id = op_begin(fcinfo);
	for (int attempt = 0;; attempt++)
	{
		bool		lock = must_lock || attempt >= OPTIMISTIC_TRIES;
		Jsonb	   *prior;
		LotBuilder *b;
		LotBuilder *taken;
		Legs		legs;
		Jsonb	   *res;
		int64		comm = 0;
		Numeric		payee_rate = NULL;

		read_wallet(wallet_id, lock, has_payee, &w);
		exponent = w.exponent;
		if (attempt == 0)
		{
			amt = op_amount(fcinfo, 1, &w);
			if (!PG_ARGISNULL(3))
			{
				scene = text_to_cstring(PG_GETARG_TEXT_PP(3));
				check_scene(scene, "scene");
			}
			coupon = check_text(fcinfo, 4, "coupon", 64, false);
			order_ref = check_text(fcinfo, 7, "order_ref", 200, false);
			if (PG_ARGISNULL(5))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("allow_partial must not be null")));
			partial = PG_GETARG_BOOL(5);
			jb_begin(&jb);
			/*
			 * Null arguments are left out (a spend's journal row is the one
			 * written most), except on a 0.1 schema, whose SQL reads every
			 * member.
			 */
			compact = OidIsValid(plans.key_rel);
			jb_int(&jb, "amount", amt);
			jb_text_if(&jb, compact, "scene", scene);
			jb_text_if(&jb, compact, "coupon", coupon);
			jb_bool(&jb, "allow_partial", partial);
			if (has_payee || !compact)
				jb_int_or_null(&jb, "payee", has_payee, payee);
			jb_text_if(&jb, compact, "order_ref", order_ref);
			req = jb_end(&jb);
		}
		/*
		 * The key is looked up first under the row lock and on a 0.1 schema;
		 * otherwise only before an error (which must not hide a replay) or
		 * when the write's own key insert finds the key taken.
		 */
		prior = NULL;
		probed = false;
		if (lock || !OidIsValid(plans.key_rel))
		{
			prior = find_replay(&w, key, "spend", req);
			probed = true;
		}
		if (prior == NULL)
		{
#define REPLAY_FIRST() \
	do { \
		if (!probed) \
		{ \
			probed = true; \
			prior = find_replay(&w, key, "spend", req); \
			if (prior) \
				goto replay; \
		} \
	} while (0)

		if (w.frozen)
		{
			REPLAY_FIRST();
			ereport(ERROR,
					(errcode(ERRCODE_WL('2')),
					 errmsg("wallet %lld is frozen", (long long) w.id),
					 w.frozen_reason ? errdetail_internal("%s", w.frozen_reason) : 0));
		}
		if (has_payee)
		{
			Relation	rel;
			ScanKeyData k;
			HeapTuple	tup;
			bool		isnull;
			char	   *pcur = NULL;

			direct_begin();
			rel = table_open(rel_of("wallet"), AccessShareLock);
			key_int8(&k, att_of(rel, "wallet_id"), payee);
			tup = fetch_one(rel, "wallet_pkey", 1, &k);
			if (tup)
			{
				Row			row;

				row_of(&row, rel, tup);
				pcur = TextDatumGetCString(getattr(&row, "currency", &isnull));
			}
			table_close(rel, NoLock);
			direct_end();
			if (pcur == NULL)
			{
				REPLAY_FIRST();
				ereport(ERROR,
						(errcode(ERRCODE_WL('6')),
						 errmsg("payee wallet %lld does not exist", (long long) payee)));
			}
			/* the same currency (checked next), so the same policy */
			payee_rate = w.commission_rate;
			if (strcmp(pcur, w.currency) != 0)
			{
				REPLAY_FIRST();
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("payee must be a wallet of the same currency"),
						 errdetail("Wallet %lld holds %s, payee %lld holds %s.", (long long) w.id,
								   w.currency, (long long) payee, pcur)));
			}
			if (payee == w.id)
			{
				REPLAY_FIRST();
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("payee must be another wallet")));
			}
		}

		/* a coupon takes its discount off first; the rest is charged */
		out.discount = 0;
		canonical = NULL;
		if (coupon != NULL)
		{
			Datum		cargs[7] = {CStringGetTextDatum(coupon), Int64GetDatum(w.id),
				CStringGetTextDatum(w.currency), Int32GetDatum(w.exponent), Int64GetDatum(amt),
			scene ? CStringGetTextDatum(scene) : (Datum) 0, TimestampTzGetDatum(clk)};
			char		cnulls[7] = {' ', ' ', ' ', ' ', ' ', scene ? ' ' : 'n', ' '};
			bool		isnull;

			if (run_plan(plans.coupon_check, cargs, cnulls, false, 1) != SPI_OK_SELECT ||
				SPI_processed != 1)
				elog(ERROR, "could not check coupon");
			if (!DatumGetBool(getcol(1, &isnull)))
			{
				char	   *reason = TextDatumGetCString(getcol(3, &isnull));

				REPLAY_FIRST();
				ereport(ERROR,
						(errcode(ERRCODE_WL('5')),
						 errmsg("coupon not valid"),
						 errdetail_internal("%s", reason)));
			}
			out.discount = DatumGetInt64(getcol(2, &isnull));
			canonical = TextDatumGetCString(getcol(4, &isnull));
		}

		b = lotset_unpack(w.lots);
		out.shortfall = engine_spend(b, amt - out.discount, scene, clk, out.used, &taken);
		if (out.shortfall > 0 && !lock)
		{
			/*
			 * Too little is decided under the row lock only: the unlocked read may
			 * predate a top-up or a roll-up of payee credits committed since.
			 */
			must_lock = true;
			continue;
		}
		if (out.shortfall > 0)
		{
			Datum		hargs[1] = {Int64GetDatum(w.id)};

			if (run_plan(plans.has_pending, hargs, NULL, false, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read payee credits");
			if (SPI_processed > 0)
			{
				bool		isnull;
				int64		credit;
				int64		last_txn;

				if (run_plan(plans.rollup, hargs, NULL, false, 0) != SPI_OK_SELECT)
					elog(ERROR, "could not roll up payee credits");
				credit = DatumGetInt64(getcol(1, &isnull));
				last_txn = DatumGetInt64(getcol(2, &isnull));
				b = lotset_unpack(w.lots);
				engine_add(b, BUCKET_EARNINGS, credit, last_txn, clk, WALLET_NO_TIME, NULL);
				out.shortfall = engine_spend(b, amt - out.discount, scene, clk, out.used, &taken);
			}
		}
		if (out.shortfall > 0 && !partial)
		{
			REPLAY_FIRST();
			ereport(ERROR,
					(errcode(ERRCODE_WL('1')),
					 errmsg("insufficient funds"),
					 errdetail("Wallet %lld can pay %s of %s%s.", (long long) w.id,
							   DatumGetCString(DirectFunctionCall1(numeric_out,
																   major(amt - out.discount - out.shortfall, w.exponent))),
							   DatumGetCString(DirectFunctionCall1(numeric_out, major(amt - out.discount, w.exponent))),
							   scene ? psprintf(" in scene \"%s\"", scene) : ""),
					 errhint("Pass allow_partial => true to charge what is available and collect the rest elsewhere.")));
		}

		out.charged = amt - out.discount - out.shortfall;
		out.txn_id = nextval_internal(plans.txn_seq, false);
		legs_init(&legs);
		leg(&legs, "wallet", w.id, "bonus", -out.used[BUCKET_BONUS]);
		leg(&legs, "wallet", w.id, "cash", -out.used[BUCKET_CASH]);
		leg(&legs, "wallet", w.id, "earnings", -out.used[BUCKET_EARNINGS]);
		if (has_payee)
		{
			comm = rate_of(out.charged, payee_rate);
			leg(&legs, "wallet", payee, "earnings", out.charged - comm);
			leg(&legs, "commission", 0, NULL, comm);
		}
		/* the sale is revenue at its full price; the coupon's part is its expense */
		leg(&legs, "revenue", 0, NULL, (has_payee ? 0 : out.charged) + out.discount);
		leg(&legs, "coupon_expense", 0, NULL, -out.discount);

		/*
		 * The result: txn_id and charged always, the other amounts where not
		 * zero, the payee's members where there is one (readers take a missing
		 * amount as 0); every member on a 0.1 schema. A spend's journal row
		 * is 38 % narrower so.
		 */
		jb_begin(&jb);
		jb_int(&jb, "txn_id", out.txn_id);
		jb_int(&jb, "charged", out.charged);
		jb_int_if(&jb, compact, "discount", out.discount);
		jb_int_if(&jb, compact, "bonus_used", out.used[BUCKET_BONUS]);
		jb_int_if(&jb, compact, "cash_used", out.used[BUCKET_CASH]);
		jb_int_if(&jb, compact, "earnings_used", out.used[BUCKET_EARNINGS]);
		jb_int_if(&jb, compact, "shortfall", out.shortfall);
		if (has_payee || !compact)
		{
			jb_int_or_null(&jb, "payee", has_payee, payee);
			jb_int(&jb, "payee_credit", has_payee ? out.charged - comm : 0);
			jb_int(&jb, "commission", comm);
		}
		res = jb_end(&jb);
		if (!write_op(&w, b, out.txn_id, "spend", out.charged, clk, key, req, res,
					  legs_done(&legs), lotset_pack(taken)))
		{
			prior = after_no_write(&w, key, "spend", req, out.txn_id);
			if (prior == NULL)
				continue;		/* lost a race: read again */
			goto replay;
		}
		if (canonical != NULL)
		{
			Datum		rargs[5] = {CStringGetTextDatum(canonical), Int64GetDatum(w.id),
				Int64GetDatum(out.txn_id), Int64GetDatum(out.discount),
			TimestampTzGetDatum(clk)};

			if (run_plan(plans.redeem, rargs, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not redeem coupon");
		}
		if (has_payee && out.charged - comm > 0)
		{
			Datum		cargs[3] = {Int64GetDatum(payee), Int64GetDatum(out.charged - comm),
			Int64GetDatum(out.txn_id)};

			if (!credit_direct(payee, out.charged - comm, out.txn_id) &&
				run_plan(plans.credit, cargs, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not credit payee");
		}
		break;
#undef REPLAY_FIRST
		}
replay:
		/* a replay: the stored result */
		out.txn_id = jsonb_int(prior, "txn_id");
		out.charged = jsonb_int(prior, "charged");
		out.discount = jsonb_int_or_zero(prior, "discount");
		out.used[BUCKET_BONUS] = jsonb_int_or_zero(prior, "bonus_used");
		out.used[BUCKET_CASH] = jsonb_int_or_zero(prior, "cash_used");
		out.used[BUCKET_EARNINGS] = jsonb_int_or_zero(prior, "earnings_used");
		out.shortfall = jsonb_int_or_zero(prior, "shortfall");
		out.replayed = true;
		break;
	}
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.charged, exponent);
	values[2] = major(out.discount, exponent);
	values[3] = major(out.used[BUCKET_BONUS], exponent);
	values[4] = major(out.used[BUCKET_CASH], exponent);
	values[5] = major(out.used[BUCKET_EARNINGS], exponent);
	values[6] = major(out.shortfall, exponent);
	values[7] = BoolGetDatum(out.replayed);
	{
		static const Oid types[8] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
		NUMERICOID, NUMERICOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

/* ---- the functions ---- */

/*
 * with_compressed_wal runs an operation with the full-page images of its WAL
 * compressed (lz4), as expire_bonus does for the sweep: a wallet row, a key
 * index leaf or a journal page touched for the first time after a checkpoint
 * is logged whole (8 kB), which in the benchmark made up a quarter to a half
 * of a spend's WAL, and every commit waits for WAL to reach the disk. Only
 * where the owner of the function (the role it runs as) may set
 * wal_compression, since that setting is reserved (compressed sizes can tell
 * about the data), and only for the call: the setting is put back however the
 * call ends.
 */
static Datum
with_compressed_wal(PGFunction body, FunctionCallInfo fcinfo)
{
	int			saved = wal_compression;
	int		   *saved_slot = pin_slot;
	int			pinned = 0;
	Datum		result;

#ifdef USE_LZ4
	if (saved == WAL_COMPRESSION_NONE &&
		(superuser() || pg_parameter_aclcheck("wal_compression", GetUserId(), ACL_SET) == ACLCHECK_OK))
		wal_compression = WAL_COMPRESSION_LZ4;
#endif
	pin_slot = &pinned;
	PG_TRY();
	{
		result = body(fcinfo);
	}
	PG_FINALLY();
	{
		wal_compression = saved;
		pin_slot = saved_slot;
	}
	PG_END_TRY();
	/* the caller's search path again (an error leaves that to the abort) */
	if (pinned != 0)
		AtEOXact_GUC(true, pinned);
	return result;
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

Datum
wallet_top_up(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(top_up_body, fcinfo);
}

Datum
wallet_spend(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(spend_body, fcinfo);
}
