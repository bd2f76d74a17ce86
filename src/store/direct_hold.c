/*
 * direct_hold.c
 *	  A hold's row (wallet.hold) written straight into heap and indexes, as
 *	  direct_write.c writes the rows of top_up and spend: made by
 *	  hold_row_direct, changed by hold_change_direct. Each returns false
 *	  (nothing written) where the statement must write instead.
 *
 * What the executor would do, and what this file does instead (PostgreSQL 15;
 * compare at each major version):
 *
 *  - INSERT (ExecInsert): privileges, triggers, row security, generated
 *    columns -> direct_ok (none may exist); ExecConstraints -> check_row, the
 *    CHECK expressions compiled once per backend (checks.c); heap and index
 *    entries -> insert_row. This is ExecSimpleRelationInsert
 *    (execReplication.c), the entry point of logical replication's apply,
 *    without its per-call compile of the CHECK constraints (insert_checked).
 *  - UPDATE ... WHERE ctid = $1 (ExecUpdate): the row version the caller
 *    locked (read_hold with lock, its tid) is read by its tid
 *    (table_tuple_fetch_row_version, as TidScan does), the new version built
 *    from it with the changed columns, checked (check_row), and written by
 *    table_tuple_update on that tid; index entries by ExecInsertIndexTuples
 *    when the update is not HOT, as ExecUpdateEpilogue. As ExecSimpleRelationUpdate
 *    does; the hold is locked, so a version updated since is an error, never a
 *    retry.
 */
#include "store/store.h"

/*
 * hold_row_direct writes a hold's row (wallet.hold) as credit_direct writes
 * a credit: false (nothing written) where the statement must. values are by
 * column name (HoldInsert); the identity is the caller's.
 */
bool
hold_row_direct(const HoldInsert *h)
{
	Relation	rel = table_open(rel_of("hold"), RowExclusiveLock);
	EState	   *estate;
	MemoryContext old;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	bool	   *given;
	bool		wrote = false;

	estate = direct_begin_estate(&old);
	ExecInitRangeTable(estate, list_make1(rt_entry(rel, ACL_INSERT, all_columns(rel), NULL)));
	rri = result_rel(rel, 1);
	if (rel->rd_rel->relkind == RELKIND_RELATION && direct_ok(rel, NULL, false, NULL, 0, ACL_INSERT))
	{
		CheckValidResultRel(rri, CMD_INSERT);
		slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
		given = palloc0(sizeof(bool) * RelationGetDescr(rel)->natts);
		ExecClearTuple(slot);
		set_col(slot, rel, given, "hold_id", Int64GetDatum(h->hold_id), false);
		set_col(slot, rel, given, "wallet_id", Int64GetDatum(h->wallet_id), false);
		set_col(slot, rel, given, "status", CStringGetTextDatum(h->status), false);
		set_col(slot, rel, given, "amount", Int64GetDatum(h->amount), false);
		set_col(slot, rel, given, "captured", Int64GetDatum(0), false);
		set_col(slot, rel, given, "released", Int64GetDatum(0), false);
		set_col(slot, rel, given, "expires_at", TimestampTzGetDatum(h->expires_at), false);
		set_col(slot, rel, given, "created_at", TimestampTzGetDatum(h->created_at), false);
		set_col(slot, rel, given, "hold_txn", Int64GetDatum(h->hold_txn), false);
		set_col(slot, rel, given, "scene", h->scene ? CStringGetTextDatum(h->scene) : (Datum) 0, h->scene == NULL);
		set_col(slot, rel, given, "payee", Int64GetDatum(h->payee), !h->has_payee);
		set_col(slot, rel, given, "order_ref", h->order_ref ? CStringGetTextDatum(h->order_ref) : (Datum) 0,
				h->order_ref == NULL);
		set_col(slot, rel, given, "group_id", Int64GetDatum(h->group_id), h->group_id == 0);
		if (row_ready(slot, given))
		{
			ExecOpenIndices(rri, false);
			/* constraints, heap, index entries (no triggers: direct_ok) */
			insert_checked(rri, slot, estate);
			wrote = true;
		}
	}
	ExecCloseIndices(rri);
	direct_end_estate(estate, old);
	table_close(rel, NoLock);
	return wrote;
}

/* the columns hold_change_direct sets */
static const char *const changed_names[] = {"status", "captured", "released", "expires_at"};

/*
 * hold_change_direct changes the version of hold h that read_hold locked
 * (h->tid): status, captured and released increased by captured and
 * released, expires_at, as the statement `UPDATE wallet.hold SET status = ...,
 * captured = captured + ..., released = released + ..., expires_at = ...
 * WHERE ctid = ...` would. False (nothing written) where the statement must.
 */
bool
hold_change_direct(const HoldRow *h, const char *status, int64 captured, int64 released,
				   TimestampTz expires_at)
{
	Relation	rel = table_open(rel_of("hold"), RowExclusiveLock);
	EState	   *estate;
	MemoryContext old;
	ResultRelInfo *rri;
	AttrNumber	changed[lengthof(changed_names)];
	Bitmapset  *updated = NULL;
	bool		wrote = false;

	for (int i = 0; i < (int) lengthof(changed_names); i++)
	{
		changed[i] = att_of(rel, changed_names[i]);
		updated = bms_add_member(updated, changed[i] - FirstLowInvalidHeapAttributeNumber);
	}
	estate = direct_begin_estate(&old);
	ExecInitRangeTable(estate, list_make1(rt_entry(rel, ACL_UPDATE | ACL_SELECT, NULL, updated)));
	rri = result_rel(rel, 1);
	if (ItemPointerIsValid(&h->tid) && rel->rd_rel->relkind == RELKIND_RELATION &&
		direct_ok(rel, NULL, true, changed, lengthof(changed), ACL_UPDATE | ACL_SELECT))
	{
		TupleTableSlot *oldslot = table_slot_create(rel, NULL);
		TupleTableSlot *slot;
		TupleDesc	td = RelationGetDescr(rel);
		ItemPointerData tid = h->tid;
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		bool		update_indexes;
		TM_Result	r;
		bool		isnull;

		CheckValidResultRel(rri, CMD_UPDATE);
		if (!table_tuple_fetch_row_version(rel, &tid, SnapshotAny, oldslot))
			elog(ERROR, "hold %lld is not where it was locked", (long long) h->hold_id);
		slot_getallattrs(oldslot);
		slot = ExecInitExtraTupleSlot(estate, td, &TTSOpsVirtual);
		ExecClearTuple(slot);
		memcpy(slot->tts_values, oldslot->tts_values, sizeof(Datum) * td->natts);
		memcpy(slot->tts_isnull, oldslot->tts_isnull, sizeof(bool) * td->natts);
		if (DatumGetInt64(slot_getattr(oldslot, att_of(rel, "hold_id"), &isnull)) != h->hold_id || isnull)
			elog(ERROR, "hold %lld is not where it was locked", (long long) h->hold_id);
		slot->tts_values[changed[0] - 1] = CStringGetTextDatum(status);
		slot->tts_isnull[changed[0] - 1] = false;
		slot->tts_values[changed[1] - 1] =
			Int64GetDatum(checked_add(DatumGetInt64(slot_getattr(oldslot, changed[1], &isnull)), captured));
		slot->tts_isnull[changed[1] - 1] = isnull;
		slot->tts_values[changed[2] - 1] =
			Int64GetDatum(checked_add(DatumGetInt64(slot_getattr(oldslot, changed[2], &isnull)), released));
		slot->tts_isnull[changed[2] - 1] = isnull;
		slot->tts_values[changed[3] - 1] = TimestampTzGetDatum(expires_at);
		slot->tts_isnull[changed[3] - 1] = false;
		ExecStoreVirtualTuple(slot);
		check_row(rri, slot, estate);
		r = table_tuple_update(rel, &tid, slot, estate->es_output_cid, estate->es_snapshot, InvalidSnapshot, true,
							   &tmfd, &lockmode, &update_indexes);
		if (r != TM_Ok)
			elog(ERROR, "could not change hold %lld (%d)", (long long) h->hold_id, (int) r);
		if (update_indexes)
		{
			ExecOpenIndices(rri, false);
			list_free(ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL));
		}
		ExecDropSingleTupleTableSlot(oldslot);
		wrote = true;
	}
	ExecCloseIndices(rri);
	direct_end_estate(estate, old);
	table_close(rel, NoLock);
	return wrote;
}
