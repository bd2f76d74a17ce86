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

/* withdrawal_of takes a withdrawal row apart into r (a WithdrawalRow). */
static void
withdrawal_of(const Row *row, void *out)
{
	WithdrawalRow *r = (WithdrawalRow *) out;
	bool		isnull;

	r->wallet_id = DatumGetInt64(getattr(row, "wallet_id", &isnull));
	r->request_txn = DatumGetInt64(getattr(row, "request_txn", &isnull));
	r->amount = DatumGetInt64(getattr(row, "amount", &isnull));
	r->fee = DatumGetInt64(getattr(row, "fee", &isnull));
	r->net = DatumGetInt64(getattr(row, "net", &isnull));
	r->requested_at = DatumGetTimestampTz(getattr(row, "requested_at", &isnull));
	r->status = status_const(TextDatumGetCString(getattr(row, "status", &isnull)), withdrawal_statuses,
							 lengthof(withdrawal_statuses), "withdrawal");
}

/*
 * read_withdrawal reads withdrawal withdrawal_id (read_keyed): false if
 * there is none. With lock, its latest version is locked FOR UPDATE and read
 * as locked, r->tid naming that version.
 */
bool
read_withdrawal(int64 withdrawal_id, bool lock, WithdrawalRow *r)
{
	r->withdrawal_id = withdrawal_id;
	return read_keyed("withdrawal", "withdrawal_pkey", "withdrawal_id", withdrawal_id, lock, withdrawal_of, r,
					  &r->tid);
}

/* lock_withdrawal locks and reads again withdrawal r, read unlocked (relock_keyed, as lock_hold). */
bool
lock_withdrawal(WithdrawalRow *r)
{
	return relock_keyed("withdrawal", "withdrawal_id", r->withdrawal_id, withdrawal_of, r, &r->tid);
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

	/* by the index on (wallet_id, requested_at), never a scan of the table (see pin_key_lookups) */
	pin_key_lookups();
	if (run_plan(op_plan(&day_total), args, NULL, read_only, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the withdrawals of wallet %lld", (long long) wallet_id);
	return DatumGetInt64(getcol(1, &isnull));
}
