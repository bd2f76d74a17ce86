/*
 * direct_row.c
 *	  One row inserted, or one row changed by the tid of the version the
 *	  operation locked, straight in heap and indexes: what the statements
 *	  `INSERT INTO rel (...) VALUES (...)` and `UPDATE rel SET col = ... WHERE
 *	  ctid = $1` do, with the executor's own routines, as
 *	  ExecSimpleRelationInsert and ExecSimpleRelationUpdate
 *	  (execReplication.c, logical replication's apply) do them. Used for a
 *	  hold's row (direct_hold.c) and a refund's (refund.c).
 *
 * INSERT: privileges, triggers, row security, generated columns -> direct_ok
 * (none may exist); ExecConstraints -> check_row (CHECK expressions compiled
 * once per backend); heap and index entries -> insert_row (insert_checked).
 *
 * UPDATE, what the executor would do, and what this file does instead
 * (PostgreSQL 15; compare at each major version):
 *
 *  1. ExecCheckRTPerms, triggers, row security, generated columns ->
 *     direct_ok (none may exist but those the caller handles: a foreign key's
 *     whose columns the update leaves alone, and the extension's own audit of
 *     a refund, whose row the caller writes, audit.c).
 *  2. TidScan: the version at the tid -> table_tuple_fetch_row_version, the
 *     same call; the caller holds its lock, so it is the latest version, and
 *     a version changed since is an error, never an EvalPlanQual retry.
 *  3. the new version: the old one with the SET columns -> the same, built
 *     in a virtual slot; ExecConstraints -> check_row (CHECK expressions
 *     compiled once per backend).
 *  4. ExecUpdateAct -> table_tuple_update on that tid; ExecUpdateEpilogue ->
 *     ExecInsertIndexTuples when the update is not HOT.
 */
#include "store/store.h"

/*
 * insert_direct inserts one row into relation relname: columns names set to
 * values (nulls), an identity column not given its next value, any other
 * column not given NULL (row_ready), as the statement would. False (nothing
 * written) where the statement must write instead.
 */
bool
insert_direct(const char *relname, int n, const char *const *names, const Datum *values, const bool *nulls)
{
	Relation	rel = table_open(rel_of(relname), RowExclusiveLock);
	EState	   *estate;
	MemoryContext old;
	ResultRelInfo *rri;
	bool		wrote = false;

	estate = direct_begin_estate(&old);
	ExecInitRangeTable(estate, list_make1(rt_entry(rel, ACL_INSERT, all_columns(rel), NULL)));
	rri = result_rel(rel, 1);
	if (rel->rd_rel->relkind == RELKIND_RELATION && direct_ok(rel, NULL, false, NULL, 0, ACL_INSERT))
	{
		TupleTableSlot *slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
		bool	   *given = palloc0(sizeof(bool) * RelationGetDescr(rel)->natts);

		TupleDesc	td = RelationGetDescr(rel);

		CheckValidResultRel(rri, CMD_INSERT);
		ExecClearTuple(slot);
		for (int i = 0; i < n; i++)
			set_col(slot, rel, given, names[i], values[i], nulls[i]);
		/* an identity not given takes its sequence's next value, as its default would (no privilege needed) */
		for (int i = 0; i < td->natts; i++)
			if (!given[i] && !TupleDescAttr(td, i)->attisdropped && TupleDescAttr(td, i)->attidentity &&
				TupleDescAttr(td, i)->atttypid == INT8OID)
			{
				Oid			seq = getIdentitySequence(RelationGetRelid(rel), i + 1, false);

				slot->tts_values[i] = Int64GetDatum(nextval_internal(seq, false));
				slot->tts_isnull[i] = false;
				given[i] = true;
			}
		if (row_ready(slot, given))
		{
			open_indexes(rri, false);
			/* constraints, heap, index entries (no triggers: direct_ok) */
			insert_checked(rri, slot, estate);
			wrote = true;
		}
	}
	close_indexes(rri);
	direct_end_estate(estate, old);
	table_close(rel, NoLock);
	return wrote;
}

/*
 * update_direct changes the version at *tid of rel, whose column keycol must
 * be key (the row the caller locked), setting columns names to values
 * (nulls). With before and after, copies of the row as it was and as it is
 * now (in the caller's memory). False (nothing written) where the statement
 * must write instead.
 */
bool
update_direct(Relation rel, const ItemPointerData *tid, const char *keycol, int64 key, int n,
			  const char *const *names, const Datum *values, const bool *nulls, HeapTuple *before,
			  HeapTuple *after)
{
	MemoryContext caller = CurrentMemoryContext;
	EState	   *estate;
	MemoryContext old;
	ResultRelInfo *rri;
	AttrNumber *changed = palloc(sizeof(AttrNumber) * n);
	Bitmapset  *updated = NULL;
	bool		wrote = false;

	for (int i = 0; i < n; i++)
	{
		changed[i] = att_of(rel, names[i]);
		updated = bms_add_member(updated, changed[i] - FirstLowInvalidHeapAttributeNumber);
	}
	estate = direct_begin_estate(&old);
	ExecInitRangeTable(estate, list_make1(rt_entry(rel, ACL_UPDATE | ACL_SELECT, NULL, updated)));
	rri = result_rel(rel, 1);
	if (ItemPointerIsValid(tid) && rel->rd_rel->relkind == RELKIND_RELATION &&
		direct_ok(rel, NULL, true, changed, n, ACL_UPDATE | ACL_SELECT))
	{
		TupleTableSlot *oldslot = table_slot_create(rel, NULL);
		TupleTableSlot *slot;
		TupleDesc	td = RelationGetDescr(rel);
		ItemPointerData at = *tid;
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		bool		update_indexes;
		TM_Result	r;
		bool		isnull;
		Datum		k;

		CheckValidResultRel(rri, CMD_UPDATE);
		if (!table_tuple_fetch_row_version(rel, &at, SnapshotAny, oldslot))
			elog(ERROR, "%s " INT64_FORMAT " is not where it was locked", RelationGetRelationName(rel), key);
		slot_getallattrs(oldslot);
		k = slot_getattr(oldslot, att_of(rel, keycol), &isnull);
		if (isnull || DatumGetInt64(k) != key)
			elog(ERROR, "%s " INT64_FORMAT " is not where it was locked", RelationGetRelationName(rel), key);
		slot = ExecInitExtraTupleSlot(estate, td, &TTSOpsVirtual);
		ExecClearTuple(slot);
		memcpy(slot->tts_values, oldslot->tts_values, sizeof(Datum) * td->natts);
		memcpy(slot->tts_isnull, oldslot->tts_isnull, sizeof(bool) * td->natts);
		for (int i = 0; i < n; i++)
		{
			slot->tts_values[changed[i] - 1] = values[i];
			slot->tts_isnull[changed[i] - 1] = nulls[i];
		}
		ExecStoreVirtualTuple(slot);
		check_row(rri, slot, estate);
		if (before != NULL)
		{
			MemoryContext here = MemoryContextSwitchTo(caller);

			*before = ExecCopySlotHeapTuple(oldslot);
			MemoryContextSwitchTo(here);
		}
		r = table_tuple_update(rel, &at, slot, estate->es_output_cid, estate->es_snapshot, InvalidSnapshot, true,
							   &tmfd, &lockmode, &update_indexes);
		if (r != TM_Ok)
			elog(ERROR, "could not change %s " INT64_FORMAT " (%d)", RelationGetRelationName(rel), key, (int) r);
		if (update_indexes)
		{
			open_indexes(rri, false);
			list_free(ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL));
		}
		if (after != NULL)
		{
			MemoryContext here = MemoryContextSwitchTo(caller);

			*after = ExecCopySlotHeapTuple(slot);
			MemoryContextSwitchTo(here);
		}
		ExecDropSingleTupleTableSlot(oldslot);
		wrote = true;
	}
	close_indexes(rri);
	direct_end_estate(estate, old);
	pfree(changed);
	return wrote;
}
