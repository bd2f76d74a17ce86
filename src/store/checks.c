/*
 * checks.c
 *	  The CHECK constraints of the tables the direct write writes, compiled
 *	  once per backend and relation instead of once per call. ExecConstraints
 *	  compiles them into each new ResultRelInfo (ExecRelCheck: stringToNode
 *	  and ExecPrepareExpr of every constraint), and the direct write makes its
 *	  ResultRelInfos anew for every operation.
 *
 *	  Invariant: an entry holds the compiled form of its relation's current
 *	  constraints, in the order of the relation's TupleConstr; a relcache
 *	  invalidation of the relation (or of every relation) marks the cache
 *	  stale, and a stale cache is emptied at the next look-up, never while a
 *	  write may still hold one of its expressions. Only constraints that call
 *	  nothing but functions built into PostgreSQL are kept: a function of the
 *	  database may be replaced under a compiled expression.
 */
#include "store/store.h"

#include "optimizer/optimizer.h"

typedef struct CheckCache
{
	Oid			rel;
	int			n;
	ExprState **exprs;			/* NULL: not kept (a constraint calls user code) */
} CheckCache;

static CheckCache check_cache[8];
static int	n_check_cache;
static bool checks_stale;
static MemoryContext checks_cxt;

static void
checks_forget(Datum arg, Oid relid)
{
	(void) arg;
	for (int i = 0; i < n_check_cache; i++)
		if (!OidIsValid(relid) || check_cache[i].rel == relid)
			checks_stale = true;
}

/* checks_init registers the callback that forgets compiled constraints (called by _PG_init). */
void
checks_init(void)
{
	CacheRegisterRelcacheCallback(checks_forget, (Datum) 0);
}

/*
 * compiled_checks returns rel's CHECK constraints compiled as ExecRelCheck
 * compiles them (the same expressions, in the same order), kept for the
 * backend; NULL where they are not kept (a constraint calls a function of the
 * database: that answer is remembered too), and ExecConstraints then compiles
 * them itself.
 */
ExprState **
compiled_checks(Relation rel)
{
	TupleConstr *c = RelationGetDescr(rel)->constr;
	Oid			relid = RelationGetRelid(rel);
	Node	  **nodes;
	ExprState **exprs;
	MemoryContext old;

	if (c == NULL || c->num_check == 0)
		return NULL;
	if (checks_stale)
	{
		n_check_cache = 0;
		if (checks_cxt != NULL)
			MemoryContextReset(checks_cxt);
		checks_stale = false;
	}
	for (int i = 0; i < n_check_cache; i++)
		if (check_cache[i].rel == relid && check_cache[i].n == c->num_check)
			return check_cache[i].exprs;

	if (n_check_cache == lengthof(check_cache))
	{
		n_check_cache = 0;		/* full: start over */
		if (checks_cxt != NULL)
			MemoryContextReset(checks_cxt);
	}
	nodes = palloc(sizeof(Node *) * c->num_check);
	exprs = NULL;
	for (int i = 0; i < c->num_check; i++)
	{
		nodes[i] = stringToNode(c->check[i].ccbin);
		if (expr_calls_user_code(nodes[i]))
			goto remember;		/* not kept, and not looked at again until it changes */
	}
	if (checks_cxt == NULL)
		checks_cxt = AllocSetContextCreate(TopMemoryContext, "wallet compiled check constraints",
										   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(checks_cxt);
	exprs = palloc(sizeof(ExprState *) * c->num_check);
	/* as ExecRelCheck does it (execMain.c), ExecPrepareExpr being these two steps */
	for (int i = 0; i < c->num_check; i++)
		exprs[i] = ExecInitExpr(expression_planner((Expr *) copyObject(nodes[i])), NULL);
	MemoryContextSwitchTo(old);
remember:
	check_cache[n_check_cache].rel = relid;
	check_cache[n_check_cache].n = c->num_check;
	check_cache[n_check_cache].exprs = exprs;
	n_check_cache++;
	return exprs;
}
