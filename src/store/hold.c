/*
 * hold.c
 *	  A hold's row (wallet.hold), read straight from its primary key,
 *	  unlocked or locked FOR UPDATE (lock_latest), as a refund's row is.
 */
#include "store/store.h"

/* the statuses of wallet.hold, as constants that outlive SPI's memory */
static const char *const hold_statuses[] = {"open", "captured", "released", "expired"};

/* text_or_null returns a text column as a C string, or NULL. */
static char *
text_or_null(const Row *row, const char *name)
{
	bool		isnull;
	Datum		d = getattr(row, name, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* hold_of takes a hold row apart into h (a HoldRow). */
static void
hold_of(const Row *row, void *out)
{
	HoldRow    *h = (HoldRow *) out;
	bool		isnull;
	Datum		d;

	h->wallet_id = DatumGetInt64(getattr(row, "wallet_id", &isnull));
	h->status = status_const(TextDatumGetCString(getattr(row, "status", &isnull)), hold_statuses,
							 lengthof(hold_statuses), "hold");
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
 * read_hold reads hold hold_id (read_keyed): false if there is none. With
 * lock, its latest version is locked FOR UPDATE and read as locked; h->tid
 * names the version read.
 */
bool
read_hold(int64 hold_id, bool lock, HoldRow *h)
{
	h->hold_id = hold_id;
	ItemPointerSetInvalid(&h->tid);
	/* a 0.1 schema has no holds (nor their identity's sequence: ensure_plans) */
	if (!OidIsValid(plans.hold_seq))
		return false;
	return read_keyed("hold", "hold_pkey", "hold_id", hold_id, lock, hold_of, h, &h->tid);
}

/*
 * lock_hold locks FOR UPDATE the latest version of hold h, which read_hold
 * read unlocked (h->tid: the version it saw), and reads h again from the
 * version locked (relock_keyed). False if the hold is gone.
 */
bool
lock_hold(HoldRow *h)
{
	return relock_keyed("hold", "hold_id", h->hold_id, hold_of, h, &h->tid);
}
