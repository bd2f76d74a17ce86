/*
 * indexes.c
 *	  The indexes of a table a direct write inserts into, opened as
 *	  ExecOpenIndices opens them, with each index's IndexInfo kept for the
 *	  backend instead of built again at every call.
 *
 *	  ExecOpenIndices builds every index's IndexInfo anew (BuildIndexInfo,
 *	  BuildSpeculativeIndexInfo for a key's unique index), and
 *	  ExecInsertIndexTuples then compiles a partial index's predicate into
 *	  it (ExecPrepareQual) and checks it on first use
 *	  (ExecInterpExprStillValid); ExecCloseIndices releases each index's
 *	  lock. A spend paid about 10,000 instructions for that, a capture of a
 *	  hold about 35,000: the same work on the same indexes at every call.
 *	  open_indexes does what ExecOpenIndices does, taking each IndexInfo
 *	  from this cache, its predicate compiled once; close_indexes closes the
 *	  indexes and keeps their locks to the end of the transaction, as the
 *	  tables' locks are kept.
 *
 *	  Invariant: an entry is the IndexInfo BuildIndexInfo (and, once asked
 *	  for, BuildSpeculativeIndexInfo) made of its index as it is now, its
 *	  predicate compiled as ExecPrepareQual compiles it. Kept only for btree
 *	  indexes without expressions or exclusion constraints whose predicate
 *	  calls nothing but functions built into PostgreSQL: what an index
 *	  insertion writes into an IndexInfo is then its compiled predicate
 *	  (already there) and the update hint of index_unchanged_by_update, which
 *	  open_indexes clears at every call. A relcache invalidation of an index
 *	  or its table (or of every relation) marks the cache stale; a stale
 *	  cache's memory is handed to the transaction (freed when it ends, never
 *	  while a write of it may still hold one of its entries) and the cache
 *	  starts over at the next look-up.
 */
#include "store/store.h"

#include "access/nbtree.h"
#include "catalog/index.h"
#include "optimizer/optimizer.h"

typedef struct IndexEntry
{
	Oid			index;
	Oid			heap;
	IndexInfo  *info;
} IndexEntry;

static IndexEntry index_cache[64];
static int	n_index_cache;
static bool indexes_stale;
static MemoryContext indexes_cxt;

static void
indexes_forget(Datum arg, Oid relid)
{
	(void) arg;
	for (int i = 0; i < n_index_cache && !indexes_stale; i++)
		if (!OidIsValid(relid) || index_cache[i].index == relid || index_cache[i].heap == relid)
			indexes_stale = true;
}

/* indexes_init registers the callback that forgets the kept IndexInfos (called by _PG_init). */
void
indexes_init(void)
{
	CacheRegisterRelcacheCallback(indexes_forget, (Datum) 0);
}

/* indexes_retire empties the cache; its memory lives until the transaction ends. */
static void
indexes_retire(void)
{
	n_index_cache = 0;
	indexes_stale = false;
	if (indexes_cxt != NULL)
	{
		MemoryContextSetParent(indexes_cxt, TopTransactionContext);
		indexes_cxt = NULL;
	}
}

/* keepable: may index's IndexInfo ii be kept across calls (see the invariant above)? */
static bool
keepable(Relation index, const IndexInfo *ii)
{
	return index->rd_rel->relam == BTREE_AM_OID && ii->ii_Expressions == NIL && ii->ii_ExclusionOps == NULL &&
		!expr_calls_user_code((Node *) ii->ii_Predicate);
}

/*
 * index_info returns the IndexInfo of open, locked index, kept for the
 * backend where it may be (speculative: with what a speculative insertion
 * needs), built into the current memory context as ExecOpenIndices builds it
 * otherwise.
 */
static IndexInfo *
index_info(Relation index, bool speculative)
{
	Oid			oid = RelationGetRelid(index);
	IndexInfo  *ii;
	MemoryContext old;

	if (indexes_stale)
		indexes_retire();
	for (int i = 0; i < n_index_cache; i++)
		if (index_cache[i].index == oid)
		{
			ii = index_cache[i].info;
			if (speculative && ii->ii_Unique && ii->ii_UniqueOps == NULL)
			{
				old = MemoryContextSwitchTo(indexes_cxt);
				BuildSpeculativeIndexInfo(index, ii);
				MemoryContextSwitchTo(old);
			}
			/* index_unchanged_by_update's answer is for one update's columns */
			ii->ii_CheckedUnchanged = false;
			ii->ii_IndexUnchanged = false;
			return ii;
		}

	ii = BuildIndexInfo(index);
	if (!keepable(index, ii))
	{
		if (speculative && ii->ii_Unique)
			BuildSpeculativeIndexInfo(index, ii);
		return ii;
	}
	if (n_index_cache == lengthof(index_cache))
		indexes_retire();		/* full: start over */
	if (indexes_cxt == NULL)
		indexes_cxt = AllocSetContextCreate(TopMemoryContext, "wallet index infos", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(indexes_cxt);
	ii = BuildIndexInfo(index);
	if (speculative && ii->ii_Unique)
		BuildSpeculativeIndexInfo(index, ii);
	/* as ExecInsertIndexTuples compiles it (ExecPrepareQual being these two steps) */
	if (ii->ii_Predicate != NIL)
		ii->ii_PredicateState = ExecInitQual((List *) expression_planner((Expr *) copyObject(ii->ii_Predicate)),
											 NULL);
	MemoryContextSwitchTo(old);
	index_cache[n_index_cache].index = oid;
	index_cache[n_index_cache].heap = index->rd_index->indrelid;
	index_cache[n_index_cache].info = ii;
	n_index_cache++;
	return ii;
}

/*
 * open_indexes opens the indexes of rri's relation (open and locked) for
 * inserting, as ExecOpenIndices(rri, speculative) does, their IndexInfos from
 * the cache.
 */
void
open_indexes(ResultRelInfo *rri, bool speculative)
{
	Relation	rel = rri->ri_RelationDesc;
	List	   *oids;
	ListCell   *l;
	int			i = 0;

	rri->ri_NumIndices = 0;
	if (!RelationGetForm(rel)->relhasindex)
		return;
	oids = RelationGetIndexList(rel);
	if (oids == NIL)
		return;
	rri->ri_IndexRelationDescs = palloc(list_length(oids) * sizeof(Relation));
	rri->ri_IndexRelationInfo = palloc(list_length(oids) * sizeof(IndexInfo *));
	rri->ri_NumIndices = list_length(oids);
	foreach(l, oids)
	{
		/* the lock first: an invalidation it brings is seen before the look-up */
		Relation	index = index_open(lfirst_oid(l), RowExclusiveLock);

		rri->ri_IndexRelationDescs[i] = index;
		rri->ri_IndexRelationInfo[i] = index_info(index, speculative);
		i++;
	}
	list_free(oids);
}

/*
 * close_indexes closes the indexes open_indexes opened; their locks are kept
 * until the transaction ends, as its tables' are.
 */
void
close_indexes(ResultRelInfo *rri)
{
	for (int i = 0; i < rri->ri_NumIndices; i++)
		if (rri->ri_IndexRelationDescs[i] != NULL)
			index_close(rri->ri_IndexRelationDescs[i], NoLock);
	rri->ri_NumIndices = 0;
}
