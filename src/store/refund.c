/*
 * refund.c
 *	  What the refund operations read: the top-up a refund names (its journal
 *	  row), the coupons that top-up issued, and a refund row, unlocked (straight
 *	  from its primary key) or locked (FOR UPDATE).
 */
#include "store/store.h"

/* the statuses of wallet.refund, as constants that outlive SPI's memory */
static const char *const refund_statuses[] = {"pending", "approved", "rejected", "succeeded", "failed"};


/*
 * The journal row of a top-up. Its month is not known (a refund names the
 * top-up by txn_id only), so every partition's primary key is probed.
 */
static OpPlan topup_read = {
	.sql = "SELECT wallet_id, result FROM wallet.txn WHERE txn_id = $1 AND kind = 'top_up'",
	.nargs = 1,
	.types = {INT8OID}
};

/* A top-up looked up by journal_lookup. */
typedef struct TopUpFound
{
	TopUpRow   *t;
	bool		found;
} TopUpFound;

/* found_topup keeps a top-up's row (journal_lookup on txn_id). */
static bool
found_topup(Row *row, void *arg)
{
	TopUpFound *f = (TopUpFound *) arg;
	bool		isnull;
	Datum		d;

	if (!journal_kind_is(row, "top_up"))
		return true;
	f->t->wallet_id = DatumGetInt64(getattr(row, "wallet_id", &isnull));
	d = getattr(row, "result", &isnull);
	f->t->result = isnull ? NULL : DatumGetJsonbPCopy(d);
	f->found = true;
	return false;
}

/*
 * read_topup reads top-up txn_id: false if there is none (or txn_id names
 * another kind of transaction). read_only for a STABLE caller: the statement
 * then reads under the caller's snapshot; otherwise each partition's index
 * is read directly (journal_lookup) under a fresh one, as the statement would.
 */
bool
read_topup(int64 txn_id, bool read_only, TopUpRow *t)
{
	Datum		args[1] = {Int64GetDatum(txn_id)};
	bool		isnull;
	Datum		d;
	TopUpFound	f = {.t = t, .found = false};

	t->txn_id = txn_id;
	if (!read_only && journal_lookup("txn_id", txn_id, found_topup, &f))
		return f.found;
	if (run_plan(op_plan(&topup_read), args, NULL, read_only, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read top-up %lld", (long long) txn_id);
	if (SPI_processed == 0)
		return false;
	t->txn_id = txn_id;
	t->wallet_id = DatumGetInt64(getcol(1, &isnull));
	d = getcol(2, &isnull);
	t->result = isnull ? NULL : DatumGetJsonbP(d);
	return true;
}

/*
 * The coupons top-up t issued (the codes its journal row recorded) that a
 * refund of it takes at $3: those still available (voided by the refund) and
 * those redeemed whose discount no refund has clawed back yet (clawed back,
 * with that discount).
 */
static OpPlan coupons_read = {
	.sql = "SELECT c.code, c.redeemed_txn IS NULL, "
	"CASE WHEN c.redeemed_txn IS NULL THEN 0 ELSE coalesce(c.discount, 0) END "
	"FROM wallet.coupon c "
	"WHERE c.wallet_id = $1 "
	"AND c.code IN (SELECT jsonb_array_elements_text(coalesce($2->'coupons', '[]'))) "
	"AND c.voided_at IS NULL "
	"AND ((c.redeemed_txn IS NULL AND (c.valid_until IS NULL OR c.valid_until > $3)) "
	"OR (c.redeemed_txn IS NOT NULL AND c.clawback_refund IS NULL)) "
	"ORDER BY c.code",
	.nargs = 3,
	.types = {INT8OID, JSONBOID, TIMESTAMPTZOID}
};

/*
 * topup_coupons lists the coupons of top-up t that a refund takes at clk
 * (TopUpCoupon, in code order) and returns how many. A top-up that issued
 * none (its result lists no coupons) is not looked up.
 */
int
topup_coupons(const TopUpRow *t, TimestampTz clk, bool read_only, TopUpCoupon **out)
{
	JsonbValue *v = NULL;
	Datum		args[3];
	TopUpCoupon *c;

	*out = NULL;
	if (t->result == NULL)
		return 0;
	v = jsonb_member(t->result, "coupons");
	if (v == NULL || v->type == jbvNull ||
		(v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		 JsonContainerSize(v->val.binary.data) == 0))
		return 0;

	args[0] = Int64GetDatum(t->wallet_id);
	args[1] = JsonbPGetDatum(t->result);
	args[2] = TimestampTzGetDatum(clk);
	if (run_plan(op_plan(&coupons_read), args, NULL, read_only, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the coupons of top-up %lld", (long long) t->txn_id);
	if (SPI_processed == 0)
		return 0;
	c = palloc(sizeof(TopUpCoupon) * SPI_processed);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;

		c[i].code = TextDatumGetCString(SPI_getbinval(row, td, 1, &isnull));
		c[i].void_it = DatumGetBool(SPI_getbinval(row, td, 2, &isnull));
		c[i].discount = DatumGetInt64(SPI_getbinval(row, td, 3, &isnull));
	}
	*out = c;
	return (int) SPI_processed;
}

/* refund_of takes a refund row apart into r (a RefundRow). */
static void
refund_of(const Row *row, void *out)
{
	RefundRow  *r = (RefundRow *) out;
	bool		isnull;

	r->wallet_id = DatumGetInt64(getattr(row, "wallet_id", &isnull));
	r->topup_txn = DatumGetInt64(getattr(row, "topup_txn", &isnull));
	r->amount = DatumGetInt64(getattr(row, "amount", &isnull));
	r->fee = DatumGetInt64(getattr(row, "fee", &isnull));
	r->net = DatumGetInt64(getattr(row, "net", &isnull));
	r->clawback = DatumGetInt64(getattr(row, "clawback", &isnull));
	r->bonus_void = DatumGetInt64(getattr(row, "bonus_void", &isnull));
	r->coupon_clawback = DatumGetInt64(getattr(row, "coupon_clawback", &isnull));
	r->coupons_voided = DatumGetInt32(getattr(row, "coupons_voided", &isnull));
	r->status = status_const(TextDatumGetCString(getattr(row, "status", &isnull)), refund_statuses,
							 lengthof(refund_statuses), "refund");
}

/*
 * read_refund reads refund refund_id (read_keyed): false if there is none.
 * With lock, its latest version is locked FOR UPDATE and read as locked, and
 * r->tid names that version: the statement that changes the row finds it by
 * ctid, whatever the table's statistics would have the planner do with a
 * look-up by refund_id. The status is one of the constant strings of
 * refund_statuses.
 */
bool
read_refund(int64 refund_id, bool lock, RefundRow *r)
{
	r->refund_id = refund_id;
	return read_keyed("refund", "refund_pkey", "refund_id", refund_id, lock, refund_of, r, &r->tid);
}

/* lock_refund locks and reads again refund r, read unlocked (relock_keyed, as lock_hold). */
bool
lock_refund(RefundRow *r)
{
	return relock_keyed("refund", "refund_id", r->refund_id, refund_of, r, &r->tid);
}

/*
 * refund_in_progress tells whether top-up txn has a refund still open
 * (pending or approved), read through the refunds' index on topup_txn.
 */
bool
refund_in_progress(int64 topup_txn)
{
	Relation	rel;
	ScanKeyData k;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		open = false;

	direct_begin();
	rel = table_open(rel_of("refund"), AccessShareLock);
	key_int8(&k, att_of(rel, "topup_txn"), topup_txn);
	scan = systable_beginscan(rel, rel_of("refund_topup"), true, GetActiveSnapshot(), 1, &k);
	while (!open && (tup = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		char	   *st = TextDatumGetCString(heap_getattr(tup, att_of(rel, "status"), RelationGetDescr(rel),
														  &isnull));

		open = strcmp(st, "pending") == 0 || strcmp(st, "approved") == 0;
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
	direct_end();
	return open;
}

/*
 * refunds_requested counts wallet_id's refund requests of the 30 days up to
 * clk (requested after clk - 30 days, in the session's time zone as SQL's
 * timestamptz - interval reckons days, and at or before clk) that count
 * toward its limit: all but those the limit itself rejected (reviewer
 * 'limit'). Read through the refunds' index on (wallet_id, requested_at).
 */
int32
refunds_requested(int64 wallet_id, TimestampTz clk)
{
	Interval	days = {.time = 0, .day = 30, .month = 0};
	TimestampTz from = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
															   TimestampTzGetDatum(clk),
															   IntervalPGetDatum(&days)));
	Relation	rel;
	ScanKeyData k[3];
	SysScanDesc scan;
	HeapTuple	tup;
	AttrNumber	at;
	AttrNumber	reviewer;
	int32		n = 0;

	direct_begin();
	rel = table_open(rel_of("refund"), AccessShareLock);
	at = att_of(rel, "requested_at");
	reviewer = att_of(rel, "reviewer");
	key_int8(&k[0], att_of(rel, "wallet_id"), wallet_id);
	ScanKeyInit(&k[1], at, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT, TimestampTzGetDatum(from));
	ScanKeyInit(&k[2], at, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE, TimestampTzGetDatum(clk));
	scan = systable_beginscan(rel, rel_of("refund_wallet"), true, GetActiveSnapshot(), 3, k);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, reviewer, RelationGetDescr(rel), &isnull);

		if (isnull || strcmp(TextDatumGetCString(d), "limit") != 0)
			n++;
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
	direct_end();
	return n;
}

/*
 * refund_change_direct changes the version of refund r that read_refund
 * locked (r->tid): columns names set to values (nulls), as the statement
 * `UPDATE wallet.refund SET ... WHERE ctid = ...` would (update_direct),
 * and, where the refund's audit trigger would fire, its audit row written as
 * the trigger writes it. False (nothing written) where the statement must.
 */
bool
refund_change_direct(const RefundRow *r, int n, const char *const *names, const Datum *values, const bool *nulls)
{
	Relation	rel;
	TriggerDesc *td;
	bool		audited = false;
	HeapTuple	before = NULL;
	HeapTuple	after = NULL;
	bool		wrote;

	/* under session_replication_role = replica the trigger would not fire: the statement decides */
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return false;
	rel = table_open(rel_of("refund"), RowExclusiveLock);
	td = rel->trigdesc;
	for (int i = 0; td != NULL && i < td->numtriggers; i++)
		audited |= refund_audit_trigger(rel, &td->triggers[i]);
	wrote = update_direct(rel, &r->tid, "refund_id", r->refund_id, n, names, values, nulls, &before, &after);
	if (wrote && audited && refund_audit_due(before, after, RelationGetDescr(rel)))
		refund_audit_row(before, after, RelationGetDescr(rel));
	if (before != NULL)
		heap_freetuple(before);
	if (after != NULL)
		heap_freetuple(after);
	table_close(rel, NoLock);
	return wrote;
}
