/*
 * hold.c
 *	  A hold's row (wallet.hold), read straight from its primary key,
 *	  unlocked or locked FOR UPDATE (lock_latest), as a refund's row is.
 */
#include "store/store.h"

/* the statuses of wallet.hold, as constants that outlive SPI's memory */
static const char *const hold_statuses[] = {"open", "captured", "released", "expired"};

static const char *
hold_status(const char *s)
{
	for (int i = 0; i < (int) lengthof(hold_statuses); i++)
		if (strcmp(s, hold_statuses[i]) == 0)
			return hold_statuses[i];
	elog(ERROR, "hold status \"%s\" is unknown", s);
	return NULL;				/* keep the compiler quiet */
}

/* text_or_null returns a text column as a C string, or NULL. */
static char *
text_or_null(const Row *row, const char *name)
{
	bool		isnull;
	Datum		d = getattr(row, name, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* hold_of takes a hold row apart into h. */
static void
hold_of(const Row *row, HoldRow *h)
{
	bool		isnull;
	Datum		d;

	h->wallet_id = DatumGetInt64(getattr(row, "wallet_id", &isnull));
	h->status = hold_status(TextDatumGetCString(getattr(row, "status", &isnull)));
	h->amount = DatumGetInt64(getattr(row, "amount", &isnull));
	h->captured = DatumGetInt64(getattr(row, "captured", &isnull));
	h->released = DatumGetInt64(getattr(row, "released", &isnull));
	h->expires_at = DatumGetTimestampTz(getattr(row, "expires_at", &isnull));
	h->created_at = DatumGetTimestampTz(getattr(row, "created_at", &isnull));
	h->hold_txn = DatumGetInt64(getattr(row, "hold_txn", &isnull));
	h->scene = text_or_null(row, "scene");
	d = getattr(row, "payee", &isnull);
	h->has_payee = !isnull;
	h->payee = isnull ? 0 : DatumGetInt64(d);
	h->order_ref = text_or_null(row, "order_ref");
	d = getattr(row, "group_id", &isnull);
	h->group_id = isnull ? 0 : DatumGetInt64(d);
}

/*
 * read_hold reads hold hold_id: false if there is none. With lock, its
 * latest version is locked FOR UPDATE and read as locked, and h->tid names
 * that version.
 */
bool
read_hold(int64 hold_id, bool lock, HoldRow *h)
{
	Relation	rel;
	ScanKeyData k;
	HeapTuple	tup;
	bool		found = false;

	h->hold_id = hold_id;
	ItemPointerSetInvalid(&h->tid);
	if (!OidIsValid(get_relname_relid("hold", plans.nsp)))
		return false;
	direct_begin();
	rel = table_open(rel_of("hold"), lock ? RowShareLock : AccessShareLock);
	key_int8(&k, att_of(rel, "hold_id"), hold_id);
	tup = fetch_one(rel, "hold_pkey", 1, &k);
	if (tup != NULL && lock)
	{
		HeapTuple	locked = lock_latest(rel, tup);

		heap_freetuple(tup);
		tup = locked;
	}
	if (tup != NULL)
	{
		Row			row;

		row_of(&row, rel, tup);
		hold_of(&row, h);
		row_free(&row);
		h->tid = tup->t_self;
		heap_freetuple(tup);
		found = true;
	}
	table_close(rel, NoLock);
	direct_end();
	return found;
}

/*
 * lock_hold locks FOR UPDATE the latest version of hold h, which read_hold
 * read unlocked (h->tid: the version it saw), and reads h again from the
 * version locked: the row found again by following its update chain
 * (lock_latest), not by another look-up in its index. False if the hold is
 * gone.
 */
bool
lock_hold(HoldRow *h)
{
	Relation	rel;
	HeapTupleData seen;
	HeapTuple	tup;
	bool		found = false;

	if (!ItemPointerIsValid(&h->tid))
		return false;
	direct_begin();
	rel = table_open(rel_of("hold"), RowShareLock);
	seen.t_self = h->tid;
	tup = lock_latest(rel, &seen);
	if (tup != NULL)
	{
		Row			row;
		bool		isnull;

		row_of(&row, rel, tup);
		if (DatumGetInt64(getattr(&row, "hold_id", &isnull)) != h->hold_id)
			elog(ERROR, "hold %lld moved under its lock", (long long) h->hold_id);
		hold_of(&row, h);
		row_free(&row);
		h->tid = tup->t_self;
		heap_freetuple(tup);
		found = true;
	}
	table_close(rel, NoLock);
	direct_end();
	return found;
}
