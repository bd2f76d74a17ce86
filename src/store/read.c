/*
 * read.c
 *	  The direct reads of the hot path: a row found through an index under a
 *	  fresh snapshot, taken apart once, and the wallet row as an operation reads
 *	  it, without the lock or locked.
 */
#include "store/store.h"

/* ---- direct reads ----
 *
 * The unlocked reads of the hot path (the wallet row, its currency's policy
 * and bonus rules, the payee, the idempotency key) go straight to the index and the
 * heap instead of through the executor: a statement's planning-cache check,
 * executor start-up and shut-down cost more than the lookup itself. They take
 * a fresh snapshot after a command counter increment, exactly as SPI does for
 * each statement of a volatile function, so they see what a query would.
 */

/*
 * direct_begin/direct_end nest: reads done together share one snapshot. The
 * depth starts at 0 with every operation (op_begin): an error mid-way leaves
 * it behind, and the transaction's abort takes the snapshot away.
 */
static int	direct_depth;

void
direct_begin(void)
{
	if (direct_depth++ == 0)
	{
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
}

void
direct_end(void)
{
	if (--direct_depth == 0)
		PopActiveSnapshot();
}

/* key_int8 / key_text fill a scan key on a heap column (equality). */
void
key_int8(ScanKey k, AttrNumber att, int64 v)
{
	ScanKeyInit(k, att, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(v));
}

void
key_text(ScanKey k, AttrNumber att, const char *v)
{
	ScanKeyEntryInitialize(k, 0, att, BTEqualStrategyNumber, InvalidOid, DEFAULT_COLLATION_OID,
						   F_TEXTEQ, CStringGetTextDatum(v));
}

/*
 * fetch_one returns a copy of the visible row of rel matching the keys,
 * found through the named index, or NULL.
 */
HeapTuple
fetch_one(Relation rel, const char *index, int nkeys, ScanKey keys)
{
	SysScanDesc scan = systable_beginscan(rel, rel_of(index), true, GetActiveSnapshot(), nkeys, keys);
	HeapTuple	tup = systable_getnext(scan);

	if (tup)
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	return tup;
}

void
row_of(Row *row, Relation rel, HeapTuple tup)
{
	TupleDesc	td = RelationGetDescr(rel);

	row->rel = rel;
	row->values = palloc(td->natts * sizeof(Datum));
	row->nulls = palloc(td->natts * sizeof(bool));
	heap_deform_tuple(tup, td, row->values, row->nulls);
}

void
row_free(Row *row)
{
	pfree(row->values);
	pfree(row->nulls);
}

Datum
getattr(const Row *row, const char *name, bool *isnull)
{
	AttrNumber	a = att_of(row->rel, name);

	*isnull = row->nulls[a - 1];
	return row->values[a - 1];
}

/* fetch_wallet returns a copy of wallet wallet_id's visible row of rel (wallet.wallet), or NULL. */
HeapTuple
fetch_wallet(Relation rel, int64 wallet_id)
{
	ScanKeyData k;

	key_int8(&k, att_of(rel, "wallet_id"), wallet_id);
	return fetch_one(rel, "wallet_pkey", 1, &k);
}

/*
 * lock_latest locks FOR UPDATE the latest version of row tup of rel, found
 * under the active snapshot: table_tuple_lock following the update chain,
 * as ExecLockRows does for SELECT ... FOR UPDATE under READ COMMITTED (under
 * REPEATABLE READ and SERIALIZABLE the table AM raises the serialization
 * failure for a row changed since the snapshot, as the statement would).
 * Returns a copy of the locked version (its t_self names it), or NULL if the
 * row was deleted meanwhile.
 */
HeapTuple
lock_latest(Relation rel, HeapTuple tup)
{
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TM_FailureData tmfd;
	TM_Result	res;
	HeapTuple	locked = NULL;

	res = table_tuple_lock(rel, &tup->t_self, GetActiveSnapshot(), slot, GetCurrentCommandId(false),
						   LockTupleExclusive, LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
	if (res == TM_Ok)
	{
		locked = ExecCopySlotHeapTuple(slot);
		locked->t_self = slot->tts_tid;
	}
	else if (res != TM_Deleted)
		elog(ERROR, "could not lock a row of %s (%d)", RelationGetRelationName(rel), (int) res);
	ExecDropSingleTupleTableSlot(slot);
	return locked;
}

/*
 * credits_waiting: has wallet wallet_id payee credits waiting to be rolled up
 * (a row of wallet.payee_credit)? One look into their primary key (wallet_id,
 * credit_id) under a fresh snapshot, as the statement that takes them would
 * see them; that statement (rollup_credits) then runs only when there are
 * any, not for every operation of a wallet that is paid nothing.
 */
bool
credits_waiting(int64 wallet_id)
{
	Relation	rel;
	ScanKeyData k;
	SysScanDesc scan;
	Snapshot	snap;
	bool		any;

	/* as the statement would: credits this transaction wrote directly, in this command too, count */
	CommandCounterIncrement();
	rel = table_open(rel_of("payee_credit"), AccessShareLock);
	key_int8(&k, att_of(rel, "wallet_id"), wallet_id);
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, rel_of("payee_credit_pkey"), true, snap, 1, &k);
	any = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, NoLock);
	return any;
}

/*
 * read_keyed reads the row of relation relname whose bigint primary key
 * (index, on column keycol) is id: false if there is none. The row is found
 * straight through the index under the active snapshot; with lock, its latest
 * version is then locked FOR UPDATE (lock_latest) and read as locked. take
 * takes the row apart into out; *tid names the version read (locked: the
 * version locked), which the statement or the direct write that changes the
 * row finds by ctid.
 */
bool
read_keyed(const char *relname, const char *index, const char *keycol, int64 id, bool lock, RowTaker take,
		   void *out, ItemPointer tid)
{
	Relation	rel;
	ScanKeyData k;
	HeapTuple	tup;
	bool		found = false;

	ItemPointerSetInvalid(tid);
	direct_begin();
	rel = table_open(rel_of(relname), lock ? RowShareLock : AccessShareLock);
	key_int8(&k, att_of(rel, keycol), id);
	tup = fetch_one(rel, index, 1, &k);
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
		take(&row, out);
		row_free(&row);
		*tid = tup->t_self;
		heap_freetuple(tup);
		found = true;
	}
	table_close(rel, NoLock);
	direct_end();
	return found;
}

/*
 * relock_keyed locks FOR UPDATE the latest version of the row of relname
 * that read_keyed read unlocked (*tid: the version it saw) and reads it again
 * from the version locked (take, into out; *tid then names it): the row found
 * again by following its update chain, not by another look-up in its index.
 * Its keycol must still be id. False if the row is gone.
 */
bool
relock_keyed(const char *relname, const char *keycol, int64 id, RowTaker take, void *out, ItemPointer tid)
{
	Relation	rel;
	HeapTupleData seen;
	HeapTuple	tup;
	bool		found = false;

	if (!ItemPointerIsValid(tid))
		return false;
	direct_begin();
	rel = table_open(rel_of(relname), RowShareLock);
	seen.t_self = *tid;
	tup = lock_latest(rel, &seen);
	if (tup != NULL)
	{
		Row			row;
		bool		isnull;

		row_of(&row, rel, tup);
		if (DatumGetInt64(getattr(&row, keycol, &isnull)) != id || isnull)
			elog(ERROR, "%s " INT64_FORMAT " moved under its lock", relname, id);
		take(&row, out);
		row_free(&row);
		*tid = tup->t_self;
		heap_freetuple(tup);
		found = true;
	}
	table_close(rel, NoLock);
	direct_end();
	return found;
}

/*
 * status_const returns status s as the constant of statuses (n of them) it
 * equals, a string that outlives SPI's memory; what names the table in the
 * error for a status the extension does not know.
 */
const char *
status_const(const char *s, const char *const *statuses, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, statuses[i]) == 0)
			return statuses[i];
	elog(ERROR, "%s status \"%s\" is unknown", what, s);
	return NULL;				/* keep the compiler quiet */
}

/*
 * read_wallet reads (and with lock, locks FOR UPDATE: lock_latest) a wallet
 * row, or raises WL006; with policy, also what its currency's policy says
 * (refund window and commission rate), which a spend without a payee does not
 * need. w->tup is the row as read (locked: the version locked), the tuple
 * the write step updates directly (write_direct).
 */
void
read_wallet(int64 wallet_id, bool lock, bool policy, WalletRow *w)
{
	Relation	rel;
	HeapTuple	tup;
	Row			row;
	bool		isnull;
	Datum		reason;

	w->id = wallet_id;
	direct_begin();
	rel = table_open(rel_of("wallet"), lock ? RowShareLock : AccessShareLock);
	tup = fetch_wallet(rel, wallet_id);
	if (tup != NULL && lock)
	{
		HeapTuple	locked = lock_latest(rel, tup);

		heap_freetuple(tup);
		tup = locked;
	}
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld does not exist", (long long) wallet_id)));
	row_of(&row, rel, tup);
	w->currency = TextDatumGetCString(getattr(&row, "currency", &isnull));
	w->exponent = DatumGetInt16(getattr(&row, "exponent", &isnull));
	w->frozen = DatumGetBool(getattr(&row, "frozen", &isnull));
	reason = getattr(&row, "frozen_reason", &isnull);
	w->frozen_reason = isnull ? NULL : TextDatumGetCString(reason);
	/* detoasted (if it must be) under the snapshot */
	w->lots = DatumGetLotSetP(getattr(&row, "lots", &isnull));
	w->version = DatumGetInt64(getattr(&row, "version", &isnull));
	/* the limits' usage counters (a schema before limits has none): points into w->tup */
	w->usage_raw = NULL;
	if (plans.usage_att != InvalidAttrNumber && !row.nulls[plans.usage_att - 1])
		w->usage_raw = DatumGetByteaPP(row.values[plans.usage_att - 1]);
	w->usage = NULL;
	w->usage_dirty = false;
	row_free(&row);
	w->tup = tup;
	table_close(rel, NoLock);
	w->refund_window = (Datum) 0;
	w->commission_rate = NULL;
	w->conf = NULL;
	if (policy)
	{
		w->conf = currency_conf(w->currency, w->exponent);
		w->refund_window = IntervalPGetDatum(&w->conf->refund_window);
		w->commission_rate = w->conf->commission_rate;
	}
	direct_end();
}

/*
 * read_debt returns what wallet wallet_id owes now (minor units), read from
 * its row as a statement of this command would see it (the operation's own
 * changes included), and its currency (when currency is not NULL). WL006 if
 * there is no such wallet.
 */
int64
read_debt(int64 wallet_id, char **currency)
{
	Relation	rel;
	HeapTuple	tup;
	bool		isnull;
	Datum		d;
	int64		debt;

	direct_begin();
	rel = table_open(rel_of("wallet"), AccessShareLock);
	tup = fetch_wallet(rel, wallet_id);
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld does not exist", (long long) wallet_id)));
	d = heap_getattr(tup, att_of(rel, "debt"), RelationGetDescr(rel), &isnull);
	debt = isnull ? 0 : DatumGetInt64(d);
	if (currency != NULL)
		*currency = TextDatumGetCString(heap_getattr(tup, att_of(rel, "currency"), RelationGetDescr(rel), &isnull));
	heap_freetuple(tup);
	table_close(rel, NoLock);
	direct_end();
	return debt;
}

/*
 * wallet_row_debt is what locked wallet w owes (minor units): the debt in the
 * row version it holds (as locked, or as refresh_wallet_tuple found it after
 * a roll-up repaid some), else read again.
 */
int64
wallet_row_debt(const WalletRow *w)
{
	Relation	rel;
	bool		isnull;
	Datum		d;

	if (w->tup == NULL)
		return read_debt(w->id, NULL);
	rel = table_open(rel_of("wallet"), AccessShareLock);
	d = heap_getattr(w->tup, att_of(rel, "debt"), RelationGetDescr(rel), &isnull);
	table_close(rel, NoLock);
	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * sibling_wallet returns the id of the wallet that the owner of wallet w
 * (read with its row, w->tup) has in currency, or 0 if there is none: the
 * unique (owner, currency) index, read under a fresh snapshot as a statement
 * would read it.
 */
int64
sibling_wallet(const WalletRow *w, const char *currency)
{
	Relation	rel;
	ScanKeyData k[2];
	HeapTuple	tup;
	bool		isnull;
	Datum		owner;
	int64		id = 0;

	if (w->tup == NULL)
		elog(ERROR, "wallet %lld was not read", (long long) w->id);
	direct_begin();
	rel = table_open(rel_of("wallet"), AccessShareLock);
	owner = heap_getattr(w->tup, att_of(rel, "owner"), RelationGetDescr(rel), &isnull);
	if (isnull)
		elog(ERROR, "wallet %lld has no owner", (long long) w->id);
	ScanKeyEntryInitialize(&k[0], 0, att_of(rel, "owner"), BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ, owner);
	key_text(&k[1], att_of(rel, "currency"), currency);
	tup = fetch_one(rel, "wallet_owner_currency_key", 2, k);
	if (tup != NULL)
	{
		id = DatumGetInt64(heap_getattr(tup, att_of(rel, "wallet_id"), RelationGetDescr(rel), &isnull));
		heap_freetuple(tup);
	}
	table_close(rel, NoLock);
	direct_end();
	return id;
}

/*
 * refresh_wallet_tuple points w->tup at the wallet row's current version,
 * after a statement of the operation itself changed the row under its lock
 * without changing its lots or version (a debt repaid by a credit): the
 * direct write updates that version. If the version is not w->version, w->tup
 * is NULL and the write is left to the prepared statement.
 */
void
refresh_wallet_tuple(WalletRow *w)
{
	Relation	rel;
	HeapTuple	tup;
	bool		isnull;

	direct_begin();
	rel = table_open(rel_of("wallet"), AccessShareLock);
	tup = fetch_wallet(rel, w->id);
	w->tup = NULL;
	if (tup != NULL &&
		DatumGetInt64(heap_getattr(tup, att_of(rel, "version"), RelationGetDescr(rel), &isnull)) == w->version)
		w->tup = tup;
	table_close(rel, NoLock);
	direct_end();
}

/* direct_reset starts an operation with no direct read open (see direct_begin). */
void
direct_reset(void)
{
	direct_depth = 0;
}
