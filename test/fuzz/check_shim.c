/*
 * check_shim.c
 *	  Checks the shim's calendar (date2j, j2date, timestamp2tm, tm2timestamp)
 *	  against the backend's constants: the fixed points its headers define,
 *	  every day from 4714 BC to 10100 AD in order, and the timestamp range
 *	  ends. run.sh runs it before fuzzing; it prints nothing when all agrees.
 */
#include "postgres.h"

#include <stdio.h>

#include "datatype/timestamp.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "shim.h"

static int	failures;

#define CHECK(cond, ...) \
	do { if (!(cond)) { fprintf(stderr, "check_shim: " __VA_ARGS__); fprintf(stderr, "\n"); failures++; } } while (0)

static void
check_tm(Timestamp t, int y, int m, int d, int hh, int mi, int ss, int us)
{
	struct pg_tm tm;
	fsec_t		fsec;
	Timestamp	back;

	CHECK(timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) == 0, "timestamp2tm(" INT64_FORMAT ") failed", t);
	CHECK(tm.tm_year == y && tm.tm_mon == m && tm.tm_mday == d && tm.tm_hour == hh && tm.tm_min == mi &&
		  tm.tm_sec == ss && fsec == us, "timestamp2tm(" INT64_FORMAT ") = %d-%d-%d %d:%d:%d.%d", t,
		  tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fsec);
	CHECK(tm2timestamp(&tm, fsec, NULL, &back) == 0 && back == t, "tm2timestamp does not invert " INT64_FORMAT, t);
}

int
main(void)
{
	int			jd = date2j(JULIAN_MINYEAR, JULIAN_MINMONTH, JULIAN_MINDAY);
	struct pg_tm tm;
	fsec_t		fsec;
	Timestamp	t;

	/* fixed points from datatype/timestamp.h */
	CHECK(date2j(2000, 1, 1) == POSTGRES_EPOCH_JDATE, "date2j(2000-01-01)");
	CHECK(date2j(1970, 1, 1) == UNIX_EPOCH_JDATE, "date2j(1970-01-01)");
	CHECK(date2j(294277, 1, 1) == TIMESTAMP_END_JULIAN, "date2j(294277-01-01)");
	CHECK(date2j(JULIAN_MAXYEAR, 1, 1) == DATE_END_JULIAN, "date2j(JULIAN_MAXYEAR-01-01)");
	CHECK(jd == 0, "date2j(JULIAN_MIN) = %d", jd);

	/* every day in order from the Julian minimum to 10100 AD, and back */
	for (int y = JULIAN_MINYEAR; y <= 10100; y++)
		for (int m = 1; m <= 12; m++)
		{
			if (y == JULIAN_MINYEAR && m < JULIAN_MINMONTH)
				continue;
			for (int d = 1; d <= day_tab[isleap(y)][m - 1]; d++)
			{
				int			yy,
							mm,
							dd;

				if (y == JULIAN_MINYEAR && m == JULIAN_MINMONTH && d < JULIAN_MINDAY)
					continue;
				if (date2j(y, m, d) != jd)
				{
					CHECK(false, "date2j(%d-%d-%d) = %d, expected %d", y, m, d, date2j(y, m, d), jd);
					return 1;
				}
				j2date(jd, &yy, &mm, &dd);
				if (yy != y || mm != m || dd != d)
				{
					CHECK(false, "j2date(%d) = %d-%d-%d, expected %d-%d-%d", jd, yy, mm, dd, y, m, d);
					return 1;
				}
				jd++;
			}
		}

	/* timestamps: the epoch, the range ends, a leap day, a negative fraction */
	check_tm(0, 2000, 1, 1, 0, 0, 0, 0);
	check_tm(MIN_TIMESTAMP, JULIAN_MINYEAR, JULIAN_MINMONTH, JULIAN_MINDAY, 0, 0, 0, 0);
	check_tm(END_TIMESTAMP - 1, 294276, 12, 31, 23, 59, 59, 999999);
	check_tm((Timestamp) (date2j(2024, 2, 29) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY + 1, 2024, 2, 29, 0, 0, 0, 1);
	check_tm(-1, 1999, 12, 31, 23, 59, 59, 999999);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 294277;
	tm.tm_mon = 1;
	tm.tm_mday = 1;
	CHECK(tm2timestamp(&tm, 0, NULL, &t) != 0, "tm2timestamp accepts 294277-01-01");
	/* like the backend: any Julian day up to INT_MAX converts, earlier than day 0 does not */
	CHECK(timestamp2tm(PG_INT64_MAX - 1, NULL, &tm, &fsec, NULL, NULL) == 0 && tm.tm_year == 294277,
		  "timestamp2tm(INT64_MAX-1)");
	CHECK(timestamp2tm(PG_INT64_MIN + 1, NULL, &tm, &fsec, NULL, NULL) != 0, "timestamp2tm accepts INT64_MIN+1");
	return failures != 0;
}
