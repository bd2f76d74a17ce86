/*
 * journal.c
 *	  One pass over the journal for reconciliation and archival: an aggregate
 *	  that sums every posting per (currency, account, wallet, bucket) and
 *	  reports each transaction whose postings do not sum to zero.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(wallet_journal_sums_trans);
PG_FUNCTION_INFO_V1(wallet_journal_sums_final);

/* A group: names are interned (index into JournalState.names, -1 = NULL). */
typedef struct JournalKey
{
	int64		wallet_id;
	int16		currency;
	int16		account;
	int16		bucket;
	int16		wallet_null;
} JournalKey;

typedef struct JournalEntry
{
	JournalKey	key;
	int64		amount;
} JournalEntry;

/* A transaction whose postings do not sum to zero. */
typedef struct Unbalanced
{
	int64		txn_id;
	int64		wallet_id;
	int64		amount;
	int16		currency;
	bool		txn_null;
	bool		wallet_null;
} Unbalanced;

typedef struct JournalState
{
	MemoryContext cxt;
	HTAB	   *groups;
	TupleDesc	posting;		/* the element type of the postings array */
	Oid			posting_type;
	char	  **names;
	int		   *lens;
	int			nnames;
	int			maxnames;
	int16		last[3];		/* last name found per role: a cheap cache */
	Unbalanced *bad;
	int			nbad;
	int			maxbad;
} JournalState;

/* journal_state_new sets up an empty state in the aggregate's context. */
static JournalState *
journal_state_new(MemoryContext cxt)
{
	JournalState *st = MemoryContextAllocZero(cxt, sizeof(JournalState));
	HASHCTL		ctl;

	st->cxt = cxt;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(JournalKey);
	ctl.entrysize = sizeof(JournalEntry);
	ctl.hcxt = cxt;
	st->groups = hash_create("wallet journal sums", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	st->maxnames = 16;
	st->names = MemoryContextAlloc(cxt, st->maxnames * sizeof(char *));
	st->lens = MemoryContextAlloc(cxt, st->maxnames * sizeof(int));
	st->last[0] = st->last[1] = st->last[2] = -1;
	return st;
}

/*
 * intern returns the index of a name (a text datum), adding it when new; -1 for
 * NULL. Names are kept in the state's context; a detoasted copy, if any, lives in
 * the caller's (per-row) context.
 */
static int16
intern(JournalState *st, Datum d, bool isnull, int role)
{
	text	   *t;
	const char *p;
	int			len;
	int			i;

	if (isnull)
		return -1;
	t = (text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));
	p = VARDATA_ANY(t);
	len = VARSIZE_ANY_EXHDR(t);
	i = st->last[role];
	if (i >= 0 && st->lens[i] == len && memcmp(st->names[i], p, len) == 0)
		return i;
	for (i = 0; i < st->nnames; i++)
		if (st->lens[i] == len && memcmp(st->names[i], p, len) == 0)
			return st->last[role] = i;
	if (st->nnames >= PG_INT16_MAX)
		elog(ERROR, "too many distinct names in the journal's postings");
	if (st->nnames == st->maxnames)
	{
		st->maxnames *= 2;
		st->names = repalloc(st->names, st->maxnames * sizeof(char *));
		st->lens = repalloc(st->lens, st->maxnames * sizeof(int));
	}
	st->names[st->nnames] = MemoryContextAlloc(st->cxt, len + 1);
	memcpy(st->names[st->nnames], p, len);
	st->names[st->nnames][len] = '\0';
	st->lens[st->nnames] = len;
	return st->last[role] = st->nnames++;
}

/* add_checked adds b to *a, or raises an error on overflow. */
static inline void
add_checked(int64 *a, int64 b)
{
	if (pg_add_s64_overflow(*a, b, a))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sum of journal postings out of range")));
}

/*
 * wallet._journal_sums(txn_id, wallet_id, currency, postings) transition:
 * adds one journal row's postings to the groups and remembers the row when its
 * postings do not sum to zero. Legs with a NULL amount are skipped.
 */
Datum
wallet_journal_sums_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	JournalState *st;
	ArrayType  *arr;
	ArrayIterator it;
	Datum		elem;
	bool		elem_null;
	int16		cur;
	int64		txn_sum = 0;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "wallet_journal_sums_trans called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : (JournalState *) PG_GETARG_POINTER(0);
	if (st == NULL)
		st = journal_state_new(aggcxt);
	if (PG_ARGISNULL(4))
		PG_RETURN_POINTER(st);

	arr = PG_GETARG_ARRAYTYPE_P(4);
	if (st->posting == NULL)
	{
		old = MemoryContextSwitchTo(aggcxt);
		st->posting_type = ARR_ELEMTYPE(arr);
		st->posting = lookup_rowtype_tupdesc_copy(st->posting_type, -1);
		MemoryContextSwitchTo(old);
		if (st->posting->natts != 4 ||
			TupleDescAttr(st->posting, 0)->atttypid != TEXTOID ||
			TupleDescAttr(st->posting, 1)->atttypid != INT8OID ||
			TupleDescAttr(st->posting, 2)->atttypid != TEXTOID ||
			TupleDescAttr(st->posting, 3)->atttypid != INT8OID)
			elog(ERROR, "postings must be (account text, wallet_id bigint, bucket text, amount bigint)");
	}
	else if (ARR_ELEMTYPE(arr) != st->posting_type)
		elog(ERROR, "postings of different types in one aggregate");

	cur = intern(st, PG_GETARG_DATUM(3), PG_ARGISNULL(3), 0);

	it = array_create_iterator(arr, 0, NULL);
	while (array_iterate(it, &elem, &elem_null))
	{
		HeapTupleHeader th;
		HeapTupleData tup;
		Datum		v[4];
		bool		n[4];
		JournalKey	key;
		JournalEntry *e;
		bool		found;

		if (elem_null)
			continue;
		th = DatumGetHeapTupleHeader(elem);
		tup.t_len = HeapTupleHeaderGetDatumLength(th);
		ItemPointerSetInvalid(&tup.t_self);
		tup.t_tableOid = InvalidOid;
		tup.t_data = th;
		heap_deform_tuple(&tup, st->posting, v, n);
		if (n[3])
			continue;

		memset(&key, 0, sizeof(key));
		key.currency = cur;
		key.account = intern(st, v[0], n[0], 1);
		key.bucket = intern(st, v[2], n[2], 2);
		key.wallet_null = n[1];
		key.wallet_id = n[1] ? 0 : DatumGetInt64(v[1]);

		e = hash_search(st->groups, &key, HASH_ENTER, &found);
		if (!found)
			e->amount = 0;
		add_checked(&e->amount, DatumGetInt64(v[3]));
		add_checked(&txn_sum, DatumGetInt64(v[3]));
	}
	array_free_iterator(it);

	if (txn_sum != 0)
	{
		Unbalanced *u;

		if (st->nbad == st->maxbad)
		{
			st->maxbad = st->maxbad ? st->maxbad * 2 : 16;
			st->bad = st->bad ? repalloc(st->bad, st->maxbad * sizeof(Unbalanced))
				: MemoryContextAlloc(aggcxt, st->maxbad * sizeof(Unbalanced));
		}
		u = &st->bad[st->nbad++];
		u->txn_null = PG_ARGISNULL(1);
		u->txn_id = u->txn_null ? 0 : PG_GETARG_INT64(1);
		u->wallet_null = PG_ARGISNULL(2);
		u->wallet_id = u->wallet_null ? 0 : PG_GETARG_INT64(2);
		u->currency = cur;
		u->amount = txn_sum;
	}
	PG_RETURN_POINTER(st);
}

/* name_datum returns an interned name as text, or marks it NULL. */
static Datum
name_datum(JournalState *st, int16 i, bool *isnull)
{
	*isnull = (i < 0);
	return i < 0 ? (Datum) 0 : PointerGetDatum(cstring_to_text_with_len(st->names[i], st->lens[i]));
}

/*
 * wallet._journal_sums final: an array of wallet.journal_sum, one element per
 * group (txn_id NULL; wallet_id, currency, account, bucket of the legs; amount
 * their sum) and one per transaction that does not sum to zero (txn_id, the
 * transaction's wallet_id and currency; account and bucket NULL; amount its sum).
 */
Datum
wallet_journal_sums_final(PG_FUNCTION_ARGS)
{
	JournalState *st = PG_ARGISNULL(0) ? NULL : (JournalState *) PG_GETARG_POINTER(0);
	Oid			elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	TupleDesc	desc;
	Datum	   *elems;
	int			n = 0;
	int			total;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	HASH_SEQ_STATUS seq;
	JournalEntry *e;
	int			i;

	if (!OidIsValid(elemtype))
		elog(ERROR, "wallet._journal_sums must return an array");
	desc = lookup_rowtype_tupdesc_copy(elemtype, -1);
	BlessTupleDesc(desc);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	if (st == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(elemtype));

	total = (int) hash_get_num_entries(st->groups) + st->nbad;
	elems = palloc(Max(total, 1) * sizeof(Datum));
	hash_seq_init(&seq, st->groups);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		v[6];
		bool		nl[6];

		v[0] = (Datum) 0;
		nl[0] = true;
		v[1] = Int64GetDatum(e->key.wallet_id);
		nl[1] = e->key.wallet_null;
		v[2] = name_datum(st, e->key.currency, &nl[2]);
		v[3] = name_datum(st, e->key.account, &nl[3]);
		v[4] = name_datum(st, e->key.bucket, &nl[4]);
		v[5] = Int64GetDatum(e->amount);
		nl[5] = false;
		elems[n++] = HeapTupleGetDatum(heap_form_tuple(desc, v, nl));
	}
	for (i = 0; i < st->nbad; i++)
	{
		Unbalanced *u = &st->bad[i];
		Datum		v[6];
		bool		nl[6] = {u->txn_null, u->wallet_null, false, true, true, false};

		v[0] = Int64GetDatum(u->txn_id);
		v[1] = Int64GetDatum(u->wallet_id);
		v[2] = name_datum(st, u->currency, &nl[2]);
		v[3] = v[4] = (Datum) 0;
		v[5] = Int64GetDatum(u->amount);
		elems[n++] = HeapTupleGetDatum(heap_form_tuple(desc, v, nl));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, elemtype, typlen, typbyval, typalign));
}

PG_FUNCTION_INFO_V1(wallet_journal_partition_ddl);

/*
 * wallet._journal_partition_ddl(action text, month date): runs one statement on
 * the journal partition of a month, wallet.txn_YYYY_MM holding [first of the month,
 * first of the next) in UTC. The statement is built here from the month alone (the
 * action picks one of a fixed set), so no SQL text comes from a caller:
 *   create  CREATE TABLE wallet.txn_YYYY_MM (LIKE wallet.txn INCLUDING DEFAULTS), with the
 *           TRUNCATE guard of the journal (statement triggers are not inherited)
 *   attach  ALTER TABLE wallet.txn ATTACH PARTITION ... FOR VALUES FROM ... TO ...
 *   detach  ALTER TABLE wallet.txn DETACH PARTITION ...
 *   lock    LOCK TABLE ... IN SHARE MODE (no row is added while it is summed)
 */
Datum
wallet_journal_partition_ddl(PG_FUNCTION_ARGS)
{
	char	   *action;
	DateADT		month;
	int			y,
				m,
				d,
				ny,
				nm;
	char		name[32];
	char	   *sql;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("action and month must not be null")));
	action = text_to_cstring(PG_GETARG_TEXT_PP(0));
	month = PG_GETARG_DATEADT(1);
	if (DATE_NOT_FINITE(month))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("month must be finite")));
	j2date(month + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	if (y < 1 || y > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("month must be in the years 1 to 9999"),
				 errdetail("Got year %d.", y)));
	ny = (m == 12) ? y + 1 : y;
	nm = (m == 12) ? 1 : m + 1;
	snprintf(name, sizeof(name), "txn_%04d_%02d", y, m);

	if (strcmp(action, "create") == 0)
		sql = psprintf("CREATE TABLE wallet.%s (LIKE wallet.txn INCLUDING DEFAULTS); "
					   "CREATE TRIGGER txn_no_truncate BEFORE TRUNCATE ON wallet.%s "
					   "FOR EACH STATEMENT EXECUTE FUNCTION wallet._journal_append_only()", name, name);
	else if (strcmp(action, "attach") == 0)
		sql = psprintf("ALTER TABLE wallet.txn ATTACH PARTITION wallet.%s FOR VALUES "
					   "FROM ('%04d-%02d-01 00:00:00+00') TO ('%04d-%02d-01 00:00:00+00')",
					   name, y, m, ny, nm);
	else if (strcmp(action, "detach") == 0)
		sql = psprintf("ALTER TABLE wallet.txn DETACH PARTITION wallet.%s", name);
	else if (strcmp(action, "lock") == 0)
		sql = psprintf("LOCK TABLE wallet.%s IN SHARE MODE", name);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown journal partition action \"%s\"", action)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not run: %s", sql);
	SPI_finish();
	PG_RETURN_VOID();
}
