/*
 * journal_read.c
 *	  Journal rows found by transaction id or by the transaction they name
 *	  (ref_txn), read straight from each partition's index instead of through
 *	  a statement over the partitioned table.
 *
 *	  A statement that finds a journal row by txn_id alone cannot prune the
 *	  partitions (they are ranges of created_at): its plan is an Append of one
 *	  index scan per month, and starting and ending that executor cost more
 *	  than the look-ups themselves (a reversal spent a third of its server
 *	  time there). journal_lookup does what that plan does: for each leaf
 *	  partition, as the executor's partition descriptor lists them, an index
 *	  scan of the partition's btree index on the column, under a fresh
 *	  snapshot (direct_begin). A partition without such an index makes it
 *	  return false before it reads anything, and the caller runs its
 *	  statement instead.
 */
#include "store/store.h"

#include "access/nbtree.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "nodes/primnodes.h"
#include "optimizer/optimizer.h"

/*
 * usable_index tells whether index idx of a partition finds every row whose
 * column att equals a value: a valid btree index whose first key is the
 * column itself, without a predicate or with only "column IS NOT NULL" (the
 * ref_txn index), which an equality with a value implies.
 */
static bool
usable_index(Relation idx, AttrNumber att)
{
	Form_pg_index ix = idx->rd_index;
	List	   *pred;

	if (idx->rd_rel->relam != BTREE_AM_OID || !ix->indisvalid || !ix->indisready || !ix->indislive ||
		ix->indnkeyatts < 1 || ix->indkey.values[0] != att ||
		!heap_attisnull(idx->rd_indextuple, Anum_pg_index_indexprs, NULL))
		return false;
	if (heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL))
		return true;
	pred = RelationGetIndexPredicate(idx);
	if (list_length(pred) == 1 && IsA(linitial(pred), NullTest))
	{
		NullTest   *nt = (NullTest *) linitial(pred);

		return nt->nulltesttype == IS_NOT_NULL && !nt->argisrow && IsA(nt->arg, Var) &&
			((Var *) nt->arg)->varattno == att;
	}
	return false;
}

/*
 * index_for returns the index partition part is read through on column, or
 * InvalidOid. Looked up on every call, as the planner does: an index being
 * dropped concurrently stops being usable (indisready) before its pg_class
 * row goes.
 */
static Oid
index_for(Relation part, const char *column)
{
	AttrNumber	att = att_of(part, column);
	List	   *indexes = RelationGetIndexList(part);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		bool		ok = usable_index(idx, att);

		index_close(idx, NoLock);
		if (ok)
		{
			found = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);
	return found;
}

/*
 * journal_lookup calls fn for each journal row whose column (an int8 column
 * named by a string literal: "txn_id" or "ref_txn") equals value, in no
 * particular order, the row taken apart (Row, valid during the call); fn
 * returns false to stop. Returns false, having read nothing, where a
 * partition cannot be read so (see above) or the journal is not partitioned
 * as the extension makes it.
 */
bool
journal_lookup(const char *column, int64 value, JournalRowFn fn, void *arg)
{
	Relation	jrel = table_open(rel_of("txn"), AccessShareLock);
	PartitionDesc pd;
	Relation   *parts;
	Oid		   *indexes;
	bool		go = true;

	if (jrel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
	{
		table_close(jrel, AccessShareLock);
		return false;
	}
	/* the partitions the executor would scan: detached ones only for snapshot isolation */
	pd = RelationGetPartitionDesc(jrel, !IsolationUsesXactSnapshot());
	parts = palloc(sizeof(Relation) * Max(pd->nparts, 1));
	indexes = palloc(sizeof(Oid) * Max(pd->nparts, 1));
	for (int i = 0; i < pd->nparts; i++)
	{
		parts[i] = NULL;
		if (!pd->is_leaf[i])
			go = false;
	}
	for (int i = 0; go && i < pd->nparts; i++)
	{
		parts[i] = table_open(pd->oids[i], AccessShareLock);
		indexes[i] = index_for(parts[i], column);
		if (!OidIsValid(indexes[i]) || parts[i]->rd_rel->relkind != RELKIND_RELATION)
			go = false;
	}
	if (go)
	{
		direct_begin();
		for (int i = 0; go && i < pd->nparts; i++)
		{
			ScanKeyData k;
			SysScanDesc scan;
			HeapTuple	tup;

			key_int8(&k, att_of(parts[i], column), value);
			scan = systable_beginscan(parts[i], indexes[i], true, GetActiveSnapshot(), 1, &k);
			while (go && (tup = systable_getnext(scan)) != NULL)
			{
				Row			row;

				row_of(&row, parts[i], tup);
				go = fn(&row, arg);
				row_free(&row);
			}
			systable_endscan(scan);
		}
		direct_end();
		go = true;
	}
	for (int i = 0; i < pd->nparts; i++)
		if (parts[i] != NULL)
			table_close(parts[i], NoLock);
	table_close(jrel, NoLock);
	pfree(parts);
	pfree(indexes);
	return go;
}

/* journal_kind_is tells whether a journal row (read by journal_lookup) is of kind. */
bool
journal_kind_is(Row *row, const char *kind)
{
	bool		isnull;
	text	   *t = DatumGetTextPP(getattr(row, "kind", &isnull));

	return !isnull && VARSIZE_ANY_EXHDR(t) == strlen(kind) &&
		memcmp(VARDATA_ANY(t), kind, strlen(kind)) == 0;
}
