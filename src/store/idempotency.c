/*
 * idempotency.c
 *	  Idempotency keys: the probe of (wallet, key), the replay of a stored
 *	  result (or WL003 for other arguments), and what a write that wrote nothing
 *	  means. Also the readers of a stored result's members.
 */
#include "store/store.h"

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

/*
 * jsonb_member returns member key of a journal row's jsonb object (NULL if j
 * is NULL, not an object, or has no such member).
 */
JsonbValue *
jsonb_member(Jsonb *j, const char *key)
{
	JsonbValue	k;

	if (j == NULL || !JB_ROOT_IS_OBJECT(j))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&j->root, JB_FOBJECT, &k);
}

/*
 * jsonb_member_int returns the integer member key of a journal result; a
 * missing member is an error where required, 0 otherwise.
 */
static int64
jsonb_member_int(Jsonb *j, const char *key, bool required)
{
	JsonbValue *v = jsonb_member(j, key);

	if (v == NULL && !required)
		return 0;
	if (v == NULL || v->type != jbvNumeric)
		elog(ERROR, "journal result lacks \"%s\"", key);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

/* jsonb_int returns the integer member key of a journal result. */
int64
jsonb_int(Jsonb *j, const char *key)
{
	return jsonb_member_int(j, key, true);
}

/*
 * jsonb_int_or_zero returns the integer member key of a journal result, or 0
 * where the member is left out (a spend's result leaves out its zero amounts).
 */
int64
jsonb_int_or_zero(Jsonb *j, const char *key)
{
	return jsonb_member_int(j, key, false);
}

/*
 * jsonb_int_array returns the integer array member key of a journal result
 * (jb_int_array), its length in *n.
 */
int64 *
jsonb_int_array(Jsonb *j, const char *key, int *n)
{
	JsonbValue *v = jsonb_member(j, key);
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int64	   *out;
	int			cap = 8;

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		elog(ERROR, "journal result has no array \"%s\"", key);
	out = palloc(sizeof(int64) * cap);
	*n = 0;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (e.type != jbvNumeric)
			elog(ERROR, "journal result array \"%s\" holds a non-number", key);
		if (*n == cap)
		{
			cap *= 2;
			out = repalloc(out, sizeof(int64) * cap);
		}
		out[(*n)++] = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(e.val.numeric)));
	}
	return out;
}

/* jsonb_time returns the timestamp member key of a journal result (jb_time). */
TimestampTz
jsonb_time(Jsonb *j, const char *key)
{
	JsonbValue *v = jsonb_member(j, key);

	if (v == NULL || v->type != jbvString)
		elog(ERROR, "journal result has no timestamp \"%s\"", key);
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(pnstrdup(v->val.string.val, v->val.string.len)),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * jsonb_bool_or_false returns the boolean member key of a journal result, or
 * false where the member is missing (a result written before it was kept).
 */
bool
jsonb_bool_or_false(Jsonb *j, const char *key)
{
	JsonbValue *v = jsonb_member(j, key);

	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvBool)
		elog(ERROR, "journal result member \"%s\" is not a boolean", key);
	return v->val.boolean;
}

/*
 * find_replay looks up an earlier operation of this wallet with key: NULL if
 * none, its stored result if it was the same operation with the same
 * arguments, WL003 otherwise.
 */
Jsonb *
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

/* key_taken tells whether (wallet_id, key) names an operation already. */
bool
key_taken(int64 wallet_id, const char *key)
{
	int64		txn_id;

	return probe_key(wallet_id, key, &txn_id, NULL, NULL, NULL);
}

/*
 * after_no_write sorts out a write that wrote nothing (write_op false): the
 * key was taken (a replay: its stored result, or WL003) or the row had moved
 * on (a lost race: NULL, after taking back the key row this attempt wrote).
 */
Jsonb *
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
