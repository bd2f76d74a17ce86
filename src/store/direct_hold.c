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
 *  - INSERT (ExecInsert): insert_direct (direct_row.c).
 *  - UPDATE ... WHERE ctid = $1 (ExecUpdate): update_direct (direct_row.c)
 *    on the version the caller locked.
 */
#include "store/store.h"

/*
 * hold_row_direct writes a hold's row (wallet.hold) as credit_direct writes
 * a credit: false (nothing written) where the statement must. values are by
 * column name (HoldInsert); the identity is the caller's; swept false, as its
 * default would (only the expiry sweep sets it).
 */
bool
hold_row_direct(const HoldInsert *h)
{
	static const char *const names[] = {"hold_id", "wallet_id", "status", "amount", "captured", "released",
	"expires_at", "created_at", "hold_txn", "scene", "payee", "order_ref", "group_id", "swept"};
	Datum		values[lengthof(names)] = {Int64GetDatum(h->hold_id), Int64GetDatum(h->wallet_id),
		CStringGetTextDatum(h->status), Int64GetDatum(h->amount), Int64GetDatum(0), Int64GetDatum(0),
		TimestampTzGetDatum(h->expires_at), TimestampTzGetDatum(h->created_at), Int64GetDatum(h->hold_txn),
		h->scene ? CStringGetTextDatum(h->scene) : (Datum) 0, Int64GetDatum(h->payee),
	h->order_ref ? CStringGetTextDatum(h->order_ref) : (Datum) 0, Int64GetDatum(h->group_id),
	BoolGetDatum(false)};
	bool		nulls[lengthof(names)] = {false, false, false, false, false, false, false, false, false,
	h->scene == NULL, !h->has_payee, h->order_ref == NULL, h->group_id == 0, false};

	return insert_direct("hold", lengthof(names), names, values, nulls);
}

/*
 * hold_change_direct changes the version of hold h that read_hold or
 * lock_hold locked (h->tid, read from that version): status, captured and
 * released increased by captured and released, expires_at, as the statement
 * `UPDATE wallet.hold SET status = ..., captured = captured + ..., released =
 * released + ..., expires_at = ... WHERE ctid = ...` would (update_direct).
 * False (nothing written) where the statement must.
 */
bool
hold_change_direct(const HoldRow *h, const char *status, int64 captured, int64 released,
				   TimestampTz expires_at)
{
	static const char *const names[] = {"status", "captured", "released", "expires_at"};
	Datum		values[lengthof(names)] = {CStringGetTextDatum(status), Int64GetDatum(checked_add(h->captured, captured)),
		Int64GetDatum(checked_add(h->released, released)), TimestampTzGetDatum(expires_at)};
	bool		nulls[lengthof(names)] = {false, false, false, false};
	Relation	rel = table_open(rel_of("hold"), RowExclusiveLock);
	bool		wrote;

	wrote = update_direct(rel, &h->tid, "hold_id", h->hold_id, lengthof(names), names, values, nulls, NULL, NULL);
	table_close(rel, NoLock);
	return wrote;
}
