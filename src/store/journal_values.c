/*
 * journal_values.c
 *	  A journal row's values built in memory: its postings as a
 *	  wallet.posting[] value (legs_of, from the engine's Postings) and its request and result as jsonb (JB),
 *	  with no text to parse.
 */
#include "store/store.h"

/*
 * legs_of is an operation's legs (the engine's account rules, checked to
 * balance) as the journal row's wallet.posting[] value; operation names it
 * in the error if they do not balance.
 */
Datum
legs_of(const Postings *ps, const char *operation)
{
	TupleDesc	td;
	Datum	   *rows = palloc(sizeof(Datum) * Max(ps->n, 1));

	postings_done(ps, operation);
	td = lookup_rowtype_tupdesc(plans.posting_type, -1);
	for (int i = 0; i < ps->n; i++)
	{
		const Posting *p = &ps->p[i];
		Datum		values[4];
		bool		nulls[4] = {false, p->wallet_id == 0, p->bucket == NULL, false};

		values[0] = CStringGetTextDatum(p->account);
		values[1] = Int64GetDatum(p->wallet_id);
		values[2] = p->bucket ? CStringGetTextDatum(p->bucket) : (Datum) 0;
		values[3] = Int64GetDatum(p->amount);
		rows[i] = HeapTupleGetDatum(heap_form_tuple(td, values, nulls));
	}
	ReleaseTupleDesc(td);
	return PointerGetDatum(construct_array(rows, ps->n, plans.posting_type, -1, false, TYPALIGN_DOUBLE));
}

void
jb_push(JB *j, JsonbIteratorToken tok, JsonbValue *v)
{
	(void) pushJsonbValue(&j->st, tok, v);
}

void
jb_begin(JB *j)
{
	j->st = NULL;
	jb_push(j, WJB_BEGIN_OBJECT, NULL);
}

void
jb_key(JB *j, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	jb_push(j, WJB_KEY, &k);
}

/* jb_value adds a value: a member's after jb_key, or an array element */
void
jb_value(JB *j, bool elem, JsonbValue *v)
{
	jb_push(j, elem ? WJB_ELEM : WJB_VALUE, v);
}

void
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

void
jb_numeric(JB *j, const char *key, Numeric val)
{
	JsonbValue	v;

	jb_key(j, key);
	v.type = jbvNumeric;
	v.val.numeric = val;
	jb_value(j, false, &v);
}

void
jb_int(JB *j, const char *key, int64 val)
{
	jb_numeric(j, key, int64_to_numeric(val));
}

/* jb_int_array adds an array of n integers */
void
jb_int_array(JB *j, const char *key, const int64 *vals, int n)
{
	jb_key(j, key);
	jb_push(j, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue	v;

		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(vals[i]);
		jb_value(j, true, &v);
	}
	jb_push(j, WJB_END_ARRAY, NULL);
}

/* jb_int_or_null adds an integer member, or null when absent */
void
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
void
jb_text_if(JB *j, bool compact, const char *key, const char *val)
{
	if (val != NULL || !compact)
		jb_text(j, key, val);
}

/* jb_int_if adds an integer member, unless it is zero and compact */
void
jb_int_if(JB *j, bool compact, const char *key, int64 val)
{
	if (val != 0 || !compact)
		jb_int(j, key, val);
}

void
jb_bool(JB *j, const char *key, bool val)
{
	JsonbValue	v;

	jb_key(j, key);
	v.type = jbvBool;
	v.val.boolean = val;
	jb_value(j, false, &v);
}

/*
 * jb_time adds a timestamp as ISO 8601 in UTC ("2026-11-29T00:00:00Z"), which
 * reads back (jsonb_time) the same whatever the session's DateStyle and
 * TimeZone.
 */
void
jb_time(JB *j, const char *key, TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	jb_text(j, key, fsec != 0 ?
			psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour,
					 tm.tm_min, tm.tm_sec, (int) fsec) :
			psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour,
					 tm.tm_min, tm.tm_sec));
}

Jsonb *
jb_end(JB *j)
{
	return JsonbValueToJsonb(pushJsonbValue(&j->st, WJB_END_OBJECT, NULL));
}
