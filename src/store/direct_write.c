/*
 * direct_write.c
 *	  The write of top_up and spend without the executor: the key row, the
 *	  wallet row and the journal row (and a payee's credit) put straight into
 *	  heap and indexes with the executor's own routines, or nothing written
 *	  where the prepared statement must write instead.
 */
#include "store/store.h"

/*
 * Started through the executor, the write statement costs more than its
 * writing: plan-cache check, executor start-up of three nodes, and an index
 * descent to find again the wallet row the operation has just read.
 * write_direct does what the statement (store/plans.c, plans.write) does, the
 * way COPY and logical replication's apply do it, with the executor's own
 * routines. Step by step, what the executor would do for the statement, and
 * what this file does instead (PostgreSQL 15; compare at each major version):
 *
 *  1. rewrite: rules on the tables (CREATE RULE) -> none may exist, and the
 *     statement could not run under one either: every operation refuses
 *     them first (refuse_rules, store/rules.c, in ensure_plans), the same
 *     way in every backend.
 *  2. InitPlan -> ExecCheckRTPerms: privileges on the tables -> direct_ok.c
 *     (may: the whole table's privileges, else the statement).
 *  3. ExecInsert, speculative branch (ON CONFLICT DO NOTHING), for the key
 *     row: ExecCheckIndexConstraints, SpeculativeInsertionLockAcquire,
 *     table_tuple_insert_speculative, ExecInsertIndexTuples(noDupErr),
 *     table_tuple_complete_speculative, retry on a clash -> the same calls,
 *     the pre-check only from the second attempt on (see the loop).
 *  4. ExecUpdate -> ExecUpdateAct -> table_tuple_update of the wallet row,
 *     found by an index scan, EvalPlanQual on a concurrent update -> the
 *     same table_tuple_update on the tid the operation read; a row updated
 *     since is a lost race (the version check of the statement finds the
 *     same), DW_NOTHING; index entries by ExecInsertIndexTuples when the
 *     update is not HOT, as ExecUpdateEpilogue.
 *  5. ExecInsert of the journal row: partition routing
 *     (ExecFindPartition) -> journal_leaf (get_partition_for_tuple's range
 *     search) opens the month's partition directly; anything else is routed
 *     by ExecSetupPartitionTupleRouting and ExecFindPartition with a
 *     ModifyTableState stand-in, as CopyFrom does.
 *  6. ExecConstraints (NOT NULL, CHECK) on every row -> check_row, the same
 *     call, before anything is written; the CHECK expressions compiled once
 *     per backend (checks.c) instead of by ExecRelCheck at every call.
 *  7. ExecComputeStoredGenerated, ExecWithCheckOptions (row security),
 *     BEFORE and AFTER row and statement triggers, transition tables ->
 *     none may exist (direct_ok.c: plain_target), except a foreign key's
 *     triggers on an update that leaves its columns alone, which would do
 *     nothing (as RI_FKey_pk_upd_check_required finds).
 *  8. table_tuple_insert and ExecInsertIndexTuples of the journal row ->
 *     insert_row, with TABLE_INSERT_SKIP_FSM (JOURNAL_APPEND).
 *  9. ExecOpenIndices and ExecCloseIndices of each table written ->
 *     open_indexes and close_indexes (indexes.c): the same, with each
 *     index's IndexInfo kept for the backend and its lock kept to the end of
 *     the transaction.
 *
 * A table that fails any of these checks is left to the statement
 * (DW_UNSUPPORTED), decided before anything is written. credit_direct (a
 * payee's credit) inserts one row as ExecSimpleRelationInsert
 * (execReplication.c, the entry point logical replication's apply uses) does
 * on a table without triggers or generated columns: insert_checked, with the
 * CHECK expressions of step 6 compiled once. A hold's row is written the same
 * way (direct_hold.c).
 */

/* set_col sets one column of a row being built, by name. */
void
set_col(TupleTableSlot *slot, Relation rel, bool *given, const char *name, Datum v, bool isnull)
{
	AttrNumber	a = att_of(rel, name);

	slot->tts_values[a - 1] = v;
	slot->tts_isnull[a - 1] = isnull;
	given[a - 1] = true;
}

/*
 * row_ready stores a built row. A live column not given is NULL, as the
 * statement would store it, unless it has a default, an identity or a
 * generation expression: then false (the statement must write the row).
 */
bool
row_ready(TupleTableSlot *slot, const bool *given)
{
	TupleDesc	td = slot->tts_tupleDescriptor;

	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);

		if (att->attisdropped)
			slot->tts_isnull[i] = true;
		else if (!given[i])
		{
			if (att->atthasdef || att->attidentity || att->attgenerated)
				return false;
			slot->tts_values[i] = (Datum) 0;
			slot->tts_isnull[i] = true;
		}
	}
	ExecStoreVirtualTuple(slot);
	return true;
}

/*
 * check_row checks a row against its table's NOT NULL and CHECK constraints,
 * with ExecConstraints; the CHECK constraints compiled once for the backend
 * (checks.c) where they can be.
 */
void
check_row(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate)
{
	if (RelationGetDescr(rri->ri_RelationDesc)->constr == NULL)
		return;
	if (rri->ri_ConstraintExprs == NULL)
		rri->ri_ConstraintExprs = compiled_checks(rri->ri_RelationDesc);
	ExecConstraints(rri, slot, estate);
}

/* rt_entry is a range table entry for rel, as the statement's would be. */
RangeTblEntry *
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
Bitmapset *
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
EState *
direct_begin_estate(MemoryContext *old)
{
	EState	   *estate = CreateExecutorState();

	*old = MemoryContextSwitchTo(estate->es_query_cxt);
	estate->es_snapshot = GetActiveSnapshot();
	estate->es_output_cid = GetCurrentCommandId(true);
	return estate;
}

void
direct_end_estate(EState *estate, MemoryContext old)
{
	ExecResetTupleTable(estate->es_tupleTable, false);
	MemoryContextSwitchTo(old);
	FreeExecutorState(estate);
}

/* result_rel is the result relation rti (its range table entry) of a direct write. */
ResultRelInfo *
result_rel(Relation rel, Index rti)
{
	ResultRelInfo *rri = makeNode(ResultRelInfo);

	InitResultRelInfo(rri, rel, rti, NULL, 0);
	return rri;
}

void
insert_row(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate, int options)
{
	table_tuple_insert(rri->ri_RelationDesc, slot, estate->es_output_cid, options, NULL);
	if (rri->ri_NumIndices > 0)
		list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));
}

/*
 * insert_checked inserts a row as ExecSimpleRelationInsert does for a table
 * without triggers or generated columns (direct_ok): its constraints checked
 * (check_row: the CHECK constraints compiled once for the backend, not at
 * every call), then the heap and the index entries.
 */
void
insert_checked(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate)
{
	check_row(rri, slot, estate);
	if (rri->ri_RelationDesc->rd_rel->relispartition)
		ExecPartitionCheck(rri, slot, estate, true);
	insert_row(rri, slot, estate, 0);
}

/*
 * journal_leaf opens the partition of the journal that a row created at `at`
 * belongs in, found as the executor's routing finds it (range partitions on
 * created_at, the default partition otherwise), or returns NULL where the
 * routing is not that simple (the executor then routes the row). The range
 * search is get_partition_for_tuple's (execPartition.c, PARTITION_STRATEGY_RANGE):
 * the bound found by partition_range_datum_bsearch, the partition after it,
 * the default partition where there is none.
 */
Relation
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

/*
 * write_direct writes, as the write statement would: the key row (none when
 * key is NULL), the wallet row's new lots, next expiry and version if the row
 * is still the version read (none when lots is 0: a journal row alone) and the
 * journal row. DW_NOTHING: the key was taken or the race lost, nothing
 * written; DW_UNSUPPORTED: nothing written, the statement must write.
 */
DirectWrite
write_direct(WalletRow *w, Datum lots, TimestampTz next, int64 txn_id, const char *kind, int64 amount,
			 TimestampTz at, const char *key, int64 ref_txn, Jsonb *request, Jsonb *result,
			 Datum postings, LotSet *pieces)
{
	static const char *const changed_names[] = {"lots", "next_expiry", "version", "limit_usage"};
	AttrNumber	changed[lengthof(changed_names)];
	/* the limits' usage counters are written with the lots when an operation changed them */
	int			nchanged = w->usage_dirty ? lengthof(changed_names) : lengthof(changed_names) - 1;
	Bitmapset  *updated = NULL;
	Relation	krel = NULL;
	Relation	wrel;
	Relation	jrel;
	EState	   *estate;
	MemoryContext old;
	ResultRelInfo *krri = NULL;
	ResultRelInfo *wrri;
	ResultRelInfo *jrri;
	ResultRelInfo *leaf = NULL;
	Relation	leafrel = NULL;
	ModifyTableState *mt;
	PartitionTupleRouting *proute = NULL;
	TupleTableSlot *kslot = NULL;
	TupleTableSlot *wslot = NULL;
	TupleTableSlot *jslot;
	bool	   *given;
	CommandId	cid;
	DirectWrite outcome = DW_UNSUPPORTED;
	Datum		wallet_id = Int64GetDatum(w->id);
	Datum		key_text = key ? CStringGetTextDatum(key) : (Datum) 0;
	List	   *rtable;

	/* a journal row alone needs no wallet row (another wallet's: a reward's points wallet) */
	if ((lots != (Datum) 0 && w->tup == NULL) || !OidIsValid(plans.key_rel))
		return DW_UNSUPPORTED;
	if (key != NULL)
		krel = table_open(plans.key_rel, RowExclusiveLock);
	wrel = table_open(rel_of("wallet"), RowExclusiveLock);
	jrel = table_open(rel_of("txn"), RowExclusiveLock);
	for (int i = 0; i < nchanged; i++)
	{
		changed[i] = att_of(wrel, changed_names[i]);
		updated = bms_add_member(updated, changed[i] - FirstLowInvalidHeapAttributeNumber);
	}

	estate = direct_begin_estate(&old);
	rtable = list_make2(rt_entry(wrel, ACL_UPDATE | ACL_SELECT, NULL, updated),
						rt_entry(jrel, ACL_INSERT, all_columns(jrel), NULL));
	if (krel != NULL)
		rtable = lappend(rtable, rt_entry(krel, ACL_INSERT | ACL_SELECT, all_columns(krel), NULL));
	ExecInitRangeTable(estate, rtable);
	wrri = result_rel(wrel, 1);
	jrri = result_rel(jrel, 2);
	if (krel != NULL)
		krri = result_rel(krel, 3);
	/* a stand-in for the statement's node, as COPY makes one for routing */
	mt = makeNode(ModifyTableState);
	mt->ps.plan = NULL;
	mt->ps.state = estate;
	mt->operation = CMD_INSERT;
	mt->mt_nrels = 1;
	mt->resultRelInfo = jrri;
	mt->rootResultRelInfo = jrri;

	if ((krel != NULL && (krel->rd_rel->relkind != RELKIND_RELATION ||
						  !direct_ok(krel, NULL, false, NULL, 0, ACL_INSERT | ACL_SELECT))) ||
		wrel->rd_rel->relkind != RELKIND_RELATION ||
		jrel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE ||
		!direct_ok(wrel, NULL, true, changed, nchanged, ACL_UPDATE | ACL_SELECT) ||
		!direct_ok(jrel, NULL, false, NULL, 0, ACL_INSERT))
		goto done;
	CheckValidResultRel(wrri, CMD_UPDATE);

	/* the rows, all checked before anything is written */
	if (krel != NULL)
	{
		CheckValidResultRel(krri, CMD_INSERT);
		kslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(krel), &TTSOpsVirtual);
		given = palloc0(sizeof(bool) * RelationGetDescr(krel)->natts);
		ExecClearTuple(kslot);
		set_col(kslot, krel, given, "wallet_id", wallet_id, false);
		set_col(kslot, krel, given, "idempotency_key", key_text, false);
		set_col(kslot, krel, given, "txn_id", Int64GetDatum(txn_id), false);
		set_col(kslot, krel, given, "created_at", TimestampTzGetDatum(at), false);
		if (!row_ready(kslot, given))
			goto done;
	}

	if (lots != (Datum) 0)
	{
		wslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(wrel), &TTSOpsVirtual);
		ExecClearTuple(wslot);
		heap_deform_tuple(w->tup, RelationGetDescr(wrel), wslot->tts_values, wslot->tts_isnull);
		wslot->tts_values[changed[0] - 1] = lots;
		wslot->tts_isnull[changed[0] - 1] = false;
		wslot->tts_values[changed[1] - 1] = TimestampTzGetDatum(next);
		wslot->tts_isnull[changed[1] - 1] = next == WALLET_NO_TIME;
		wslot->tts_values[changed[2] - 1] = Int64GetDatum(w->version + 1);
		wslot->tts_isnull[changed[2] - 1] = false;
		if (w->usage_dirty)
		{
			wslot->tts_values[changed[3] - 1] = PointerGetDatum(usage_encode(w->usage));
			wslot->tts_isnull[changed[3] - 1] = false;
		}
		ExecStoreVirtualTuple(wslot);
	}

	jslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(jrel), &TTSOpsVirtual);
	given = palloc0(sizeof(bool) * RelationGetDescr(jrel)->natts);
	ExecClearTuple(jslot);
	set_col(jslot, jrel, given, "txn_id", Int64GetDatum(txn_id), false);
	set_col(jslot, jrel, given, "wallet_id", wallet_id, false);
	set_col(jslot, jrel, given, "kind", CStringGetTextDatum(kind), false);
	set_col(jslot, jrel, given, "amount", Int64GetDatum(amount), false);
	set_col(jslot, jrel, given, "currency", CStringGetTextDatum(w->currency), false);
	set_col(jslot, jrel, given, "created_at", TimestampTzGetDatum(at), false);
	set_col(jslot, jrel, given, "idempotency_key", key_text, key == NULL);
	set_col(jslot, jrel, given, "ref_txn", Int64GetDatum(ref_txn), ref_txn == NO_REF_TXN);
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
		open_indexes(leaf, false);
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
	if (krel != NULL)
		check_row(krri, kslot, estate);
	if (wslot != NULL)
		check_row(wrri, wslot, estate);
	check_row(leaf, jslot, estate);

	/* the key: nothing more to do if it is taken */
	cid = estate->es_output_cid;
	if (krel != NULL)
		open_indexes(krri, true);
	for (int attempt = 0; krel != NULL; attempt++)
	{
		ItemPointerData conflict;
		uint32		token;
		bool		clash = false;

		/*
		 * Mirrors ExecInsert's speculative branch (nodeModifyTable.c).
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

	/* the wallet row, if it is still the one read (ExecUpdateAct -> table_tuple_update) */
	if (wslot != NULL)
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
			open_indexes(wrri, false);
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
		close_indexes(leaf);
		table_close(leafrel, NoLock);
	}
	if (krri != NULL)
		close_indexes(krri);
	close_indexes(wrri);
	direct_end_estate(estate, old);
	table_close(jrel, NoLock);
	table_close(wrel, NoLock);
	if (krel != NULL)
		table_close(krel, NoLock);
	return outcome;
}

/*
 * credit_direct appends a payee's credit to wallet.payee_credit as
 * write_direct writes (bonus: a bonus credit expiring at until,
 * WALLET_NO_TIME: never): false (nothing written) where the statement must.
 */
bool
credit_direct(int64 payee, int64 amount, int64 txn_id, bool bonus, TimestampTz until)
{
	static const char *const names[] = {"wallet_id", "amount", "txn_id", "credit_id", "bucket", "expires_at"};
	Datum		values[lengthof(names)];
	bool		nulls[lengthof(names)] = {false, false, false, false, false, !bonus || until == WALLET_NO_TIME};
	int			n = lengthof(names);

	if (!OidIsValid(plans.credit_seq))
		return false;
	/* bucket and expiry, where the table has them (a schema before them has earnings credits only) */
	if (get_attnum(rel_of("payee_credit"), "bucket") == InvalidAttrNumber)
	{
		if (bonus)
			elog(ERROR, "wallet.payee_credit has no bucket column: update the extension");
		n = 4;
	}
	values[0] = Int64GetDatum(payee);
	values[1] = Int64GetDatum(amount);
	values[2] = Int64GetDatum(txn_id);
	/* the identity's next value, as its default would take it (no privilege needed) */
	values[3] = Int64GetDatum(nextval_internal(plans.credit_seq, false));
	values[4] = CStringGetTextDatum(bonus ? "bonus" : "earnings");
	values[5] = TimestampTzGetDatum(until);
	return insert_direct("payee_credit", n, names, values, nulls);
}
