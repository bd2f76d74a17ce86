/*
 * clock.c
 *	  The one clock every time rule reads: the transaction timestamp, unless
 *	  the superuser-only setting wallet.now replaces it for tests and replays.
 */
#include "wallet.h"

#include "access/xact.h"
#include "utils/datetime.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(wallet_clock_sql);

static char *wallet_now_text = NULL;
static bool wallet_now_set = false;
static TimestampTz wallet_now_value = 0;

/* check_wallet_now parses wallet.now like timestamptz input, without throwing. */
static bool
check_wallet_now(char **newval, void **extra, GucSource source)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf,
				dtype,
				tz,
				dterr;
	struct pg_tm tm;
	fsec_t		fsec;
	TimestampTz result;
	TimestampTz *parsed;

	if (*newval == NULL || **newval == '\0')
	{
		*extra = NULL;
		return true;
	}
	if (strlen(*newval) >= MAXDATELEN)
	{
		GUC_check_errdetail("The value is too long for a timestamp.");
		return false;
	}
	dterr = ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf);
	if (dterr == 0)
		dterr = DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz);
	if (dterr != 0 || dtype != DTK_DATE || tm2timestamp(&tm, fsec, &tz, &result) != 0)
	{
		GUC_check_errdetail("wallet.now must be a finite timestamp with time zone, or empty.");
		return false;
	}
	if (!clock_in_range(result))
	{
		GUC_check_errdetail("wallet.now must lie in the years 1 to %d.", WALLET_CLOCK_END_YEAR - 1);
		return false;
	}
	parsed = malloc(sizeof(TimestampTz));
	if (parsed == NULL)
		return false;
	*parsed = result;
	*extra = parsed;
	return true;
}

static void
assign_wallet_now(const char *newval, void *extra)
{
	wallet_now_set = (extra != NULL);
	wallet_now_value = extra ? *(TimestampTz *) extra : 0;
}

/* clock_init defines the setting wallet.now (called by _PG_init). */
void
clock_init(void)
{
	DefineCustomStringVariable("wallet.now",
							   "Replaces the wallet clock (transaction timestamp) for tests and replays.",
							   "Empty means the transaction timestamp. Superuser only.",
							   &wallet_now_text,
							   "",
							   PGC_SUSET,
							   0,
							   check_wallet_now,
							   assign_wallet_now,
							   NULL);
	MarkGUCPrefixReserved("wallet");
}

/* wallet_clock returns the time every wallet rule reads. */
TimestampTz
wallet_clock(void)
{
	if (wallet_now_set)
		return wallet_now_value;
	return GetCurrentTransactionStartTimestamp();
}

/* wallet.clock() returns timestamptz */
Datum
wallet_clock_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(wallet_clock());
}
