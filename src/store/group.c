/*
 * group.c
 *	  A group payment's row (wallet.group_pay), read straight from its primary
 *	  key and locked FOR UPDATE (lock_latest), and its participants
 *	  (wallet.group_pay_member) in wallet-id order.
 */
#include "store/store.h"

static const char *const group_statuses[] = {"open", "paid", "cancelled", "expired"};

static const char *
group_status(const char *s)
{
	for (int i = 0; i < (int) lengthof(group_statuses); i++)
		if (strcmp(s, group_statuses[i]) == 0)
			return group_statuses[i];
	elog(ERROR, "group payment status \"%s\" is unknown", s);
	return NULL;				/* keep the compiler quiet */
}

/* read_group reads and locks group payment group_id: false if there is none. */
bool
read_group(int64 group_id, GroupRow *g)
{
	Relation	rel;
	ScanKeyData k;
	HeapTuple	tup;
	bool		found = false;

	g->group_id = group_id;
	if (!OidIsValid(get_relname_relid("group_pay", plans.nsp)))
		return false;
	direct_begin();
	rel = table_open(rel_of("group_pay"), RowShareLock);
	key_int8(&k, att_of(rel, "group_id"), group_id);
	tup = fetch_one(rel, "group_pay_pkey", 1, &k);
	if (tup != NULL)
	{
		HeapTuple	locked = lock_latest(rel, tup);

		heap_freetuple(tup);
		tup = locked;
	}
	if (tup != NULL)
	{
		Row			row;
		bool		isnull;
		Datum		d;

		row_of(&row, rel, tup);
		g->payee = DatumGetInt64(getattr(&row, "payee", &isnull));
		g->currency = TextDatumGetCString(getattr(&row, "currency", &isnull));
		g->amount = DatumGetInt64(getattr(&row, "amount", &isnull));
		g->status = group_status(TextDatumGetCString(getattr(&row, "status", &isnull)));
		g->expires_at = DatumGetTimestampTz(getattr(&row, "expires_at", &isnull));
		d = getattr(&row, "order_ref", &isnull);
		g->order_ref = isnull ? NULL : TextDatumGetCString(d);
		g->create_txn = DatumGetInt64(getattr(&row, "create_txn", &isnull));
		row_free(&row);
		g->tid = tup->t_self;
		heap_freetuple(tup);
		found = true;
	}
	table_close(rel, NoLock);
	direct_end();
	return found;
}

static int
cmp_member(const void *a, const void *b)
{
	int64		x = ((const GroupMember *) a)->wallet_id;
	int64		y = ((const GroupMember *) b)->wallet_id;

	return (x > y) - (x < y);
}

/* group_members returns group_id's participants in wallet-id order and how many there are. */
int
group_members(int64 group_id, GroupMember **out)
{
	Relation	rel;
	ScanKeyData k;
	SysScanDesc scan;
	HeapTuple	tup;
	int			n = 0;
	int			cap = 8;
	GroupMember *m = palloc(sizeof(GroupMember) * cap);

	direct_begin();
	rel = table_open(rel_of("group_pay_member"), AccessShareLock);
	key_int8(&k, att_of(rel, "group_id"), group_id);
	scan = systable_beginscan(rel, rel_of("group_pay_member_pkey"), true, GetActiveSnapshot(), 1, &k);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		TupleDesc	td = RelationGetDescr(rel);
		bool		isnull;
		Datum		d;

		if (n == cap)
			m = repalloc(m, sizeof(GroupMember) * (cap *= 2));
		m[n].wallet_id = DatumGetInt64(heap_getattr(tup, att_of(rel, "wallet_id"), td, &isnull));
		m[n].share = DatumGetInt64(heap_getattr(tup, att_of(rel, "share"), td, &isnull));
		d = heap_getattr(tup, att_of(rel, "hold_id"), td, &isnull);
		m[n].hold_id = isnull ? 0 : DatumGetInt64(d);
		n++;
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
	direct_end();
	qsort(m, n, sizeof(GroupMember), cmp_member);
	*out = m;
	return n;
}
