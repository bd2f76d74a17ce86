/*
 * journal_expired.c
 *	  wallet._journal_expired: the journal rows of one expiry sweep batch,
 *	  appended at the journal's end as direct_write.c writes.
 */
#include "store/store.h"

/*
 * wallet._journal_expired(wallet_ids, currencies, amounts, lots, at) appends
 * the journal rows of one expiry sweep batch (expire_bonus), one per wallet in
 * the order given, as its INSERT would: txn_id from the journal's identity,
 * kind expire_bonus, result {"lots": n}, postings wallet/bonus -amount and
 * breakage +amount (post_expiry). The rows go to the end of the journal (see
 * insert_row); where they cannot be written so (a trigger, row security, a
 * partition laid out otherwise...), a statement inserts them, one by one in
 * the same order. Returns true.
 */
PG_FUNCTION_INFO_V1(wallet_journal_expired);

static OpPlan expired_row = OP_PLAN(
	"INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, result, postings) "
	"VALUES ($1, 'expire_bonus', $2, $3, $4, $5, $6)",
	6, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, JSONBOID, OP_POSTINGS);

/* expired_postings is the journal row's legs and result of wallet_id's expired amount. */
static Datum
expired_postings(int64 wallet_id, int64 amount)
{
	Postings	legs;

	postings_init(&legs);
	post_expiry(&legs, wallet_id, amount);
	return legs_of(&legs, "expire_bonus");
}

static Jsonb *
expired_result(int32 lots)
{
	JB			jb;

	jb_begin(&jb);
	jb_int(&jb, "lots", lots);
	return jb_end(&jb);
}
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
		goto statement;
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
		open_indexes(leaf, false);
		slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(jrel), &TTSOpsVirtual);
		for (int i = 0; i < n; i++)
		{
			int64		wallet_id = DatumGetInt64(elems[0][i]);
			int64		amount = DatumGetInt64(elems[2][i]);
			MemoryContext prev;

			ResetPerTupleExprContext(estate);
			prev = MemoryContextSwitchTo(rowcxt);
			ExecClearTuple(slot);
			memset(given, 0, sizeof(bool) * RelationGetDescr(jrel)->natts);
			set_col(slot, jrel, given, "txn_id", Int64GetDatum(nextval_internal(plans.txn_seq, false)), false);
			set_col(slot, jrel, given, "wallet_id", Int64GetDatum(wallet_id), false);
			set_col(slot, jrel, given, "kind", CStringGetTextDatum("expire_bonus"), false);
			set_col(slot, jrel, given, "amount", Int64GetDatum(amount), false);
			set_col(slot, jrel, given, "currency", elems[1][i], false);
			set_col(slot, jrel, given, "created_at", TimestampTzGetDatum(at), false);
			set_col(slot, jrel, given, "idempotency_key", (Datum) 0, true);
			set_col(slot, jrel, given, "ref_txn", (Datum) 0, true);
			set_col(slot, jrel, given, "request", (Datum) 0, true);
			set_col(slot, jrel, given, "result", JsonbPGetDatum(expired_result(DatumGetInt32(elems[3][i]))),
					false);
			set_col(slot, jrel, given, "postings", expired_postings(wallet_id, amount), false);
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
		close_indexes(leaf);
	}
	direct_end_estate(estate, old);
	table_close(leafrel, NoLock);

statement:
	table_close(jrel, NoLock);
	for (int i = 0; !written && i < n; i++)
	{
		Datum		args[6] = {elems[0][i], elems[2][i], elems[1][i], TimestampTzGetDatum(at),
			JsonbPGetDatum(expired_result(DatumGetInt32(elems[3][i]))),
		expired_postings(DatumGetInt64(elems[0][i]), DatumGetInt64(elems[2][i]))};

		if (run_plan(op_plan(&expired_row), args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not journal the expiry of wallet %lld", (long long) DatumGetInt64(elems[0][i]));
	}
	SPI_finish();
	PG_RETURN_BOOL(true);
}
