/*
 * columns.c
 *	  Column numbers of the schema's tables by name, remembered per relation,
 *	  for the direct reads and writes.
 */
#include "store/store.h"

/*
 * att_of returns the attribute number of a column, by name, remembered per
 * relation (numbers never change for a relation's oid: dropped columns keep
 * theirs, added ones get new ones).
 */
typedef struct AttCache
{
	Oid			rel;
	const char *name;
	AttrNumber	att;
} AttCache;

static AttCache att_cache[64];
static int	n_att_cache;

/*
 * In front of it, a direct-mapped table by name pointer and relation: a
 * spend asks for some twenty columns, and a scan of the list took about 200
 * instructions each. Cleared with the list.
 */
static AttCache att_fast[256];

static inline AttCache *
att_fast_slot(Oid relid, const char *name)
{
	uintptr_t	h = ((uintptr_t) name >> 3) ^ ((uintptr_t) name >> 11) ^ (relid * 2654435761u);

	return &att_fast[(h ^ (h >> 8)) & (lengthof(att_fast) - 1)];
}

AttrNumber
att_of(Relation rel, const char *name)
{
	Oid			relid = RelationGetRelid(rel);
	AttCache   *fast = att_fast_slot(relid, name);
	AttrNumber	a;

	/* names are string literals: the same literal is the same pointer */
	if (fast->name == name && fast->rel == relid)
		return fast->att;
	for (int i = 0; i < n_att_cache; i++)
		if (att_cache[i].name == name && att_cache[i].rel == relid)
		{
			*fast = att_cache[i];
			return fast->att;
		}
	for (int i = 0; i < n_att_cache; i++)
		if (att_cache[i].rel == relid && strcmp(att_cache[i].name, name) == 0)
			return att_cache[i].att;
	a = get_attnum(relid, name);
	if (a == InvalidAttrNumber)
		elog(ERROR, "wallet schema is incomplete: column \"%s\" of \"%s\" is missing",
			 name, RelationGetRelationName(rel));
	if (n_att_cache == lengthof(att_cache))
	{
		n_att_cache = 0;		/* full: start over */
		memset(att_fast, 0, sizeof(att_fast));
	}
	att_cache[n_att_cache].rel = relid;
	att_cache[n_att_cache].name = name;	/* always a string literal */
	att_cache[n_att_cache].att = a;
	*fast = att_cache[n_att_cache];
	n_att_cache++;
	return a;
}

/* forget_columns drops every remembered column number (the schema changed). */
void
forget_columns(void)
{
	n_att_cache = 0;
	memset(att_fast, 0, sizeof(att_fast));
}
