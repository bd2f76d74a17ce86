/*
 * direct_ok.c
 *	  Whether a direct write may write a table as the statement would: nothing
 *	  it would skip (triggers, row security, generated columns, column
 *	  privileges; a trigger the direct write does the work of itself, the
 *	  refund's audit, aside), the answer remembered per relation and role until
 *	  either changes.
 */
#include "store/store.h"

/* constraint_touches: does foreign key conoid involve any of rel's columns cols? */
static bool
constraint_touches(Oid conoid, Relation rel, const AttrNumber *cols, int ncols)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	Form_pg_constraint con;
	bool		touches = false;

	if (!HeapTupleIsValid(tup))
		return true;
	con = (Form_pg_constraint) GETSTRUCT(tup);
	if (con->contype != CONSTRAINT_FOREIGN)
		touches = true;
	for (int side = 0; side < 2 && !touches; side++)
	{
		Oid			relid = side == 0 ? con->conrelid : con->confrelid;
		bool		isnull;
		Datum		d;
		Datum	   *keys;
		int			nkeys;

		if (relid != RelationGetRelid(rel))
			continue;
		d = SysCacheGetAttr(CONSTROID, tup, side == 0 ? Anum_pg_constraint_conkey : Anum_pg_constraint_confkey,
							&isnull);
		if (isnull)
		{
			touches = true;
			break;
		}
		deconstruct_array(DatumGetArrayTypeP(d), INT2OID, 2, true, TYPALIGN_SHORT, &keys, NULL, &nkeys);
		for (int i = 0; i < nkeys; i++)
			for (int j = 0; j < ncols; j++)
				if (DatumGetInt16(keys[i]) == cols[j])
					touches = true;
	}
	ReleaseSysCache(tup);
	return touches;
}

/*
 * plain_target: would inserting into rel (update: updating columns changed
 * of it) do nothing but write the heap and its indexes?
 */
static bool
plain_target(Relation rel, bool update, const AttrNumber *changed, int nchanged)
{
	TriggerDesc *td = rel->trigdesc;
	TupleConstr *c = RelationGetDescr(rel)->constr;

	if (rel->rd_rel->relrowsecurity)
		return false;
	if (c != NULL && c->has_generated_stored)
		return false;
	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (!(update ? TRIGGER_FOR_UPDATE(t->tgtype) : TRIGGER_FOR_INSERT(t->tgtype)))
			continue;
		/* the refund's own audit: the direct change writes its row (refund_change_direct) */
		if (update && refund_audit_trigger(rel, t))
			continue;
		if (update && t->tgnattr > 0)
		{
			/* UPDATE OF columns: fires only if one of them is set */
			bool		fires = false;

			for (int a = 0; a < t->tgnattr; a++)
				for (int j = 0; j < nchanged; j++)
					fires |= t->tgattr[a] == changed[j];
			if (!fires)
				continue;
		}
		/*
		 * An update fires a foreign key's triggers, but they act only when
		 * the key's columns change (and a deferrable key is checked later
		 * when the row was inserted in this transaction: not ours to skip).
		 */
		if (!update || !t->tgisinternal || t->tgdeferrable ||
			RI_FKey_trigger_type(t->tgfoid) == RI_TRIGGER_NONE ||
			constraint_touches(t->tgconstraint, rel, changed, nchanged))
			return false;
	}
	return true;
}

/* may: does the current user hold every privilege of mode on the whole table? */
static bool
may(Relation rel, AclMode mode)
{
	static const AclMode each[] = {ACL_SELECT, ACL_INSERT, ACL_UPDATE};

	for (int i = 0; i < (int) lengthof(each); i++)
		if ((mode & each[i]) && pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), each[i]) != ACLCHECK_OK)
			return false;
	return true;
}

/*
 * direct_ok: may a direct write insert into rel (update: update columns
 * changed of it) with the privileges of mode, doing what the statement would
 * do (plain_target and may)? The answer is remembered per relation, role and
 * question until the relation changes (relcache invalidation: triggers,
 * policies, constraints, columns, grants) or any role does.
 */
typedef struct DirectOk
{
	Oid			rel;
	Oid			root;
	Oid			user;
	AclMode		mode;
	bool		update;
	int			nchanged;
	AttrNumber	changed[4];
	bool		ok;
	bool		user_code;		/* its constraints or indexes call functions not built in */
} DirectOk;

static DirectOk direct_ok_cache[16];
static int	n_direct_ok;
static uint64 direct_ok_gen;	/* counts the changes that empty the cache */

static void
forget_direct_ok_rel(Datum arg, Oid relid)
{
	(void) arg;
	/* an answer about a partition also depends on its root's layout */
	for (int i = 0; i < n_direct_ok; i++)
		if (!OidIsValid(relid) || direct_ok_cache[i].rel == relid || direct_ok_cache[i].root == relid)
		{
			n_direct_ok = 0;
			direct_ok_gen++;
			return;
		}
}

static void
forget_direct_ok(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	n_direct_ok = 0;
	direct_ok_gen++;
}

/*
 * direct_ok_init registers the callbacks that forget the answers: a change to
 * a relation, or to any role or role membership (called by _PG_init).
 */
void
direct_ok_init(void)
{
	CacheRegisterRelcacheCallback(forget_direct_ok_rel, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, forget_direct_ok, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, forget_direct_ok, (Datum) 0);
}

static bool direct_ok_answer(Relation rel, Relation root, bool update, const AttrNumber *changed, int nchanged,
							 AclMode mode, bool *user_code);

static bool
is_user_function(Oid fn, void *context)
{
	(void) context;
	return fn >= FirstNormalObjectId;
}

static bool
user_code_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, is_user_function, context))
		return true;
	return expression_tree_walker(node, user_code_walker, context);
}

/* expr_calls_user_code: does an expression call a function not built into PostgreSQL? */
bool
expr_calls_user_code(Node *node)
{
	return user_code_walker(node, NULL);
}

/*
 * runs_user_code: would writing a row of rel call a function that is not
 * built into PostgreSQL (in a CHECK constraint, an index expression or
 * predicate, or an index's support functions)? Such a function looks names
 * up under the search path in force, which must be the pinned one.
 */
static bool
runs_user_code(Relation rel)
{
	TupleConstr *c = RelationGetDescr(rel)->constr;
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	for (int i = 0; c != NULL && i < c->num_check && !found; i++)
		found = user_code_walker(stringToNode(c->check[i].ccbin), NULL);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	ir;
		int			nprocs;

		if (found)
			break;
		ir = index_open(lfirst_oid(lc), AccessShareLock);
		nprocs = IndexRelationGetNumberOfKeyAttributes(ir) * ir->rd_indam->amsupport;
		for (int i = 0; i < nprocs && !found; i++)
			found = ir->rd_support[i] >= FirstNormalObjectId;
		found = found || user_code_walker((Node *) RelationGetIndexExpressions(ir), NULL) ||
			user_code_walker((Node *) RelationGetIndexPredicate(ir), NULL);
		index_close(ir, AccessShareLock);
	}
	list_free(indexes);
	return found;
}

/*
 * direct_ok: may this backend write rel (a partition of root, if root is
 * given) directly, as the statement would? Remembered per table and role.
 * Where it may and the write runs user code, the search path is pinned.
 */
bool
direct_ok(Relation rel, Relation root, bool update, const AttrNumber *changed, int nchanged, AclMode mode)
{
	bool		user_code = false;
	bool		ok = direct_ok_answer(rel, root, update, changed, nchanged, mode, &user_code);

	if (ok && user_code)
		pin_path();
	return ok;
}

static bool
direct_ok_answer(Relation rel, Relation root, bool update, const AttrNumber *changed, int nchanged, AclMode mode,
				 bool *user_code)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			rootid = root ? RelationGetRelid(root) : InvalidOid;
	Oid			user = GetUserId();
	uint64		gen = direct_ok_gen;
	DirectOk   *e;
	bool		ok;

	for (int i = 0; i < n_direct_ok; i++)
	{
		e = &direct_ok_cache[i];
		if (e->rel == relid && e->root == rootid && e->user == user && e->mode == mode && e->update == update &&
			e->nchanged == nchanged &&
			(nchanged == 0 || memcmp(e->changed, changed, sizeof(AttrNumber) * nchanged) == 0))
		{
			*user_code = e->user_code;
			return e->ok;
		}
	}
	ok = plain_target(rel, update, changed, nchanged) && may(rel, mode);
	*user_code = ok && runs_user_code(rel);
	if (ok && root != NULL)
	{
		/* a partition: its rows must be laid out as root's (no conversion) */
		AttrMap    *map = build_attrmap_by_name_if_req(RelationGetDescr(root), RelationGetDescr(rel));

		if (map != NULL)
		{
			free_attrmap(map);
			ok = false;
		}
	}

	/* remembered only if nothing changed while it was worked out */
	if (gen == direct_ok_gen && nchanged <= (int) lengthof(e->changed))
	{
		if (n_direct_ok == lengthof(direct_ok_cache))
			n_direct_ok = 0;	/* full: start over */
		e = &direct_ok_cache[n_direct_ok++];
		e->rel = relid;
		e->root = rootid;
		e->user = user;
		e->mode = mode;
		e->update = update;
		e->nchanged = nchanged;
		if (nchanged > 0)
			memcpy(e->changed, changed, sizeof(AttrNumber) * nchanged);
		e->ok = ok;
		e->user_code = *user_code;
	}
	return ok;
}
