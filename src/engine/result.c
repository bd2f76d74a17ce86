/*
 * result.c
 *	  The row types the engine's SQL functions return, checked against what
 *	  they were made with.
 */
#include "engine/engine.h"

/*
 * wallet_result_desc returns the result row type of fcinfo's function,
 * blessed, for a row formed at once (before any lock is taken or catalog
 * change taken in). What the function returns is worked out once per backend
 * and function (a statement run again is a new call site) and kept in the
 * call site's fn_extra for the rows after: a query calling a function for
 * every wallet, or a client calling spend again and again, would otherwise
 * work it out every time.
 * - OUT columns: they never change while the function's oid stays, so their
 *   row type is built and registered once.
 * - A named composite type (spend and top_up return one: the executor then
 *   takes their row type from the type cache, where OUT columns make it build
 *   one from the function's catalog row at every call): ALTER TYPE can change
 *   it under the same function, so it is read from the type cache, which
 *   follows such changes, at every call.
 */
typedef struct KnownResult
{
	Oid			fn;
	Oid			type;			/* RECORDOID for OUT columns */
	TupleDesc	td;				/* OUT columns only */
} KnownResult;

TupleDesc
wallet_result_desc(FunctionCallInfo fcinfo)
{
	static KnownResult known[32];
	static int	nknown;
	FmgrInfo   *flinfo = fcinfo->flinfo;
	KnownResult *k = flinfo != NULL ? (KnownResult *) flinfo->fn_extra : NULL;
	TupleDesc	td;

	for (int i = 0; k == NULL && flinfo != NULL && i < nknown; i++)
		if (known[i].fn == flinfo->fn_oid)
			k = (KnownResult *) (flinfo->fn_extra = &known[i]);
	if (k == NULL)
	{
		Oid			type;
		MemoryContext old;

		if (get_call_result_type(fcinfo, &type, &td) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "function returning record called in context that cannot accept type record");
		if (flinfo == NULL)
			return BlessTupleDesc(td);
		/* kept for the backend's life; when the table is full (functions recreated), per call site */
		old = MemoryContextSwitchTo(nknown < (int) lengthof(known) ? TopMemoryContext : flinfo->fn_mcxt);
		k = nknown < (int) lengthof(known) ? &known[nknown++] : palloc(sizeof(KnownResult));
		k->fn = flinfo->fn_oid;
		k->type = type;
		k->td = type == RECORDOID ? BlessTupleDesc(CreateTupleDescCopy(td)) : NULL;
		MemoryContextSwitchTo(old);
		flinfo->fn_extra = k;
	}
	if (k->td != NULL)
		return k->td;
	/* the type cache keeps its own reference until the type changes */
	td = lookup_rowtype_tupdesc(k->type, -1);
	ReleaseTupleDesc(td);
	return td;
}

/* result_tuple forms the composite result of fcinfo's function. */
Datum
result_tuple(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	return HeapTupleGetDatum(heap_form_tuple(wallet_result_desc(fcinfo), values, nulls));
}
