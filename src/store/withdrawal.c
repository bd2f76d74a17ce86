/*
 * withdrawal.c
 *	  What the withdrawal operations read: a withdrawal's row, unlocked
 *	  (straight from its primary key) or locked (FOR UPDATE), and what a
 *	  wallet asked to withdraw in the day of the clock.
 */
#include "store/store.h"

/* the statuses of wallet.withdrawal, as constants that outlive SPI's memory */
static const char *const withdrawal_statuses[] = {"pending", "approved", "rejected", "succeeded", "failed",
"returned"};

static const char *
withdrawal_status(const char *s)
{
	for (int i = 0; i < (int) lengthof(withdrawal_statuses); i++)
		if (strcmp(s, withdrawal_statuses[i]) == 0)
			return withdrawal_statuses[i];
	elog(ERROR, "withdrawal status \"%s\" is unknown", s);
	return NULL;				/* keep the compiler quiet */
}

/* withdrawal_of takes a withdrawal row apart into r. */
static void
withdrawal_of(const Row *row, WithdrawalRow *r)
{
	bool		isnull;

	r->wallet_id = DatumGetInt64(getattr(row, "wallet_id", &isnull));
	r->request_txn = DatumGetInt64(getattr(row, "request_txn", &isnull));
	r->amount = DatumGetInt64(getattr(row, "amount", &isnull));
	r->fee = DatumGetInt64(getattr(row, "fee", &isnull));
	r->net = DatumGetInt64(getattr(row, "net", &isnull));
	r->status = withdrawal_status(TextDatumGetCString(getattr(row, "status", &isnull)));
}

/*
 * read_withdrawal reads withdrawal withdrawal_id: false if there is none.
 * As read_refund does: straight through its primary key under a fresh
 * snapshot; with lock, its latest version locked FOR UPDATE and read as
 * locked, r->tid naming that version.
 */
bool
read_withdrawal(int64 withdrawal_id, bool lock, WithdrawalRow *r)
{
	Relation	rel;
	ScanKeyData k;
	HeapTuple	tup;
	bool		found = false;

	r->withdrawal_id = withdrawal_id;
	ItemPointerSetInvalid(&r->tid);
	direct_begin();
	rel = table_open(rel_of("withdrawal"), lock ? RowShareLock : AccessShareLock);
	key_int8(&k, att_of(rel, "withdrawal_id"), withdrawal_id);
	tup = fetch_one(rel, "withdrawal_pkey", 1, &k);
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
		withdrawal_of(&row, r);
		row_free(&row);
		if (lock)
			r->tid = tup->t_self;
		heap_freetuple(tup);
		found = true;
	}
	table_close(rel, NoLock);
	direct_end();
	return found;
}

/*
 * What a wallet asked to withdraw in the calendar day of $2 in time zone $3
 * (never the session's TimeZone: the day's bounds are reckoned as local
 * times of that zone), its requests that were not rejected, failed or
 * returned. Read through the index on (wallet_id, requested_at).
 */
static OpPlan day_total = OP_PLAN(
	"SELECT coalesce(sum(d.amount), 0)::bigint FROM wallet.withdrawal d "
	"WHERE d.wallet_id = $1 AND d.status IN ('pending', 'approved', 'succeeded') "
	"AND d.requested_at >= (date_trunc('day', $2 AT TIME ZONE $3) AT TIME ZONE $3) "
	"AND d.requested_at < ((date_trunc('day', $2 AT TIME ZONE $3) + interval '1 day') AT TIME ZONE $3)",
	3, INT8OID, TIMESTAMPTZOID, TEXTOID);

/*
 * withdrawals_today is what wallet_id asked to withdraw in the day of clk in
 * time_zone (minor units); read_only under the caller's snapshot (a quote).
 */
int64
withdrawals_today(int64 wallet_id, TimestampTz clk, const char *time_zone, bool read_only)
{
	Datum		args[3] = {Int64GetDatum(wallet_id), TimestampTzGetDatum(clk), CStringGetTextDatum(time_zone)};
	bool		isnull;

	if (run_plan(op_plan(&day_total), args, NULL, read_only, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the withdrawals of wallet %lld", (long long) wallet_id);
	return DatumGetInt64(getcol(1, &isnull));
}
