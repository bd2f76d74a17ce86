/*
 * limit_usage.c
 *	  The limits' usage counters as the wallet row keeps them (column
 *	  limit_usage, bytea), and the local day and month of a time in a
 *	  currency's limit_time_zone, computed in C from the zone's rules
 *	  (pg_tzset), never from the session's TimeZone.
 *
 *	  The layout (docs/limits.md): a format byte (1); the day and the month
 *	  the counters are of, zigzag varints; a byte with one bit per counted
 *	  class (spend, transfer, withdraw, exchange, card_payout) that has
 *	  anything counted; for each, four varints: the day's amount and count,
 *	  the month's amount and count. A wallet that only spends stores some
 *	  fifteen bytes.
 *
 *	  The last day computed is kept per zone (its bounds as timestamps), so
 *	  the hot path finds the day and month of the clock with two comparisons.
 */
#include "store/store.h"

#include "pgtime.h"
#include "utils/datetime.h"

#define USAGE_FORMAT 1

/* put_varint appends v (unsigned LEB128) at *p. */
static void
put_varint(uint8 **p, uint64 v)
{
	while (v >= 0x80)
	{
		*(*p)++ = (uint8) (v | 0x80);
		v >>= 7;
	}
	*(*p)++ = (uint8) v;
}

static uint64
zigzag(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

static int64
unzigzag(uint64 v)
{
	return (int64) (v >> 1) ^ -(int64) (v & 1);
}

/* get_varint reads a varint at *p before end; a value cut short is corrupt data. */
static uint64
get_varint(const uint8 **p, const uint8 *end)
{
	uint64		v = 0;

	for (int shift = 0; shift < 64; shift += 7)
	{
		uint8		c;

		if (*p >= end)
			break;
		c = *(*p)++;
		v |= (uint64) (c & 0x7f) << shift;
		if ((c & 0x80) == 0)
			return v;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("wallet limit_usage value is corrupt")));
	return 0;					/* keep the compiler quiet */
}

/* usage_decode reads the counters raw (NULL: none counted yet) into u. */
void
usage_decode(const bytea *raw, LimitUsage *u)
{
	const uint8 *p;
	const uint8 *end;
	uint8		mask;

	memset(u, 0, sizeof(*u));
	if (raw == NULL)
		return;
	p = (const uint8 *) VARDATA_ANY(raw);
	end = p + VARSIZE_ANY_EXHDR(raw);
	if (end - p < 2 || *p != USAGE_FORMAT)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wallet limit_usage value is corrupt")));
	p++;
	u->day = (int32) unzigzag(get_varint(&p, end));
	u->month = (int32) unzigzag(get_varint(&p, end));
	if (p >= end)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wallet limit_usage value is corrupt")));
	mask = *p++;
	for (int i = 0; i < LIMIT_NOPS; i++)
	{
		if ((mask & (1 << i)) == 0)
			continue;
		u->amount[i][0] = (int64) get_varint(&p, end);
		u->count[i][0] = (int64) get_varint(&p, end);
		u->amount[i][1] = (int64) get_varint(&p, end);
		u->count[i][1] = (int64) get_varint(&p, end);
	}
}

/* usage_encode is the counters u as the row keeps them. */
bytea *
usage_encode(const LimitUsage *u)
{
	/* format, two zigzag varints, the mask, 4 varints per class: 10 bytes each at most */
	bytea	   *out = palloc(VARHDRSZ + 1 + 10 * 2 + 1 + LIMIT_NOPS * 4 * 10);
	uint8	   *start = (uint8 *) VARDATA(out);
	uint8	   *p = start;
	uint8	   *maskp;

	*p++ = USAGE_FORMAT;
	put_varint(&p, zigzag(u->day));
	put_varint(&p, zigzag(u->month));
	maskp = p++;
	*maskp = 0;
	for (int i = 0; i < LIMIT_NOPS; i++)
	{
		if (u->amount[i][0] == 0 && u->count[i][0] == 0 && u->amount[i][1] == 0 && u->count[i][1] == 0)
			continue;
		*maskp |= (uint8) (1 << i);
		put_varint(&p, (uint64) u->amount[i][0]);
		put_varint(&p, (uint64) u->count[i][0]);
		put_varint(&p, (uint64) u->amount[i][1]);
		put_varint(&p, (uint64) u->count[i][1]);
	}
	SET_VARSIZE(out, VARHDRSZ + (p - start));
	return out;
}

/* The last day computed in one zone: its bounds, its day and month. */
typedef struct ZoneDay
{
	char		name[TZ_STRLEN_MAX + 1];
	pg_tz	   *tz;
	TimestampTz from;			/* the day's first instant */
	TimestampTz until;			/* the next day's first instant */
	int32		day;
	int32		month;
} ZoneDay;

static ZoneDay zone_days[4];
static int	n_zone_days;

/* zone_of returns the zone named name (a name policy checks: PostgreSQL knows it). */
static pg_tz *
zone_of(const char *name)
{
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Set policy.limit_time_zone to a name of pg_timezone_names.")));
	return tz;
}

/* local_midnight is the first instant of local date (y, m, d) in tz. */
static TimestampTz
local_midnight(pg_tz *tz, int y, int m, int d)
{
	struct pg_tm tm;
	int			off;
	TimestampTz t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y;
	tm.tm_mon = m;
	tm.tm_mday = d;
	off = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, 0, &off, &t) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return t;
}

/* zone_day fills z with the local day of t in z's zone. */
static void
zone_day(ZoneDay *z, TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			off;
	int			y;
	int			m;
	int			d;

	if (timestamp2tm(t, &off, &tm, &fsec, NULL, z->tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	z->day = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
	z->month = tm.tm_year * 12 + tm.tm_mon - 1;
	z->from = local_midnight(z->tz, tm.tm_year, tm.tm_mon, tm.tm_mday);
	j2date(z->day + 1 + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	z->until = local_midnight(z->tz, y, m, d);
}

/*
 * limit_period sets the local day (days since 2000-01-01) and month (year *
 * 12 + month - 1) of t in time zone zone.
 */
void
limit_period(const char *zone, TimestampTz t, int32 *day, int32 *month)
{
	ZoneDay    *z = NULL;

	for (int i = 0; i < n_zone_days; i++)
		if (strcmp(zone_days[i].name, zone) == 0)
		{
			z = &zone_days[i];
			break;
		}
	if (z == NULL)
	{
		if (strlen(zone) > TZ_STRLEN_MAX)
			(void) zone_of(zone);	/* no zone has so long a name */
		if (n_zone_days == lengthof(zone_days))
			n_zone_days = 0;	/* full: start over */
		z = &zone_days[n_zone_days++];
		strlcpy(z->name, zone, sizeof(z->name));
		z->tz = zone_of(zone);
		z->from = z->until = 0;
	}
	if (!(t >= z->from && t < z->until))
		zone_day(z, t);
	*day = z->day;
	*month = z->month;
}

/*
 * limit_period_start is the first instant of local day `day` (of_month:
 * of local month `month`) in zone.
 */
TimestampTz
limit_period_start(const char *zone, int32 day, int32 month, bool of_month)
{
	pg_tz	   *tz = zone_of(zone);
	int			y;
	int			m;
	int			d;

	if (of_month)
		return local_midnight(tz, month / 12, month % 12 + 1, 1);
	j2date(day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	return local_midnight(tz, y, m, d);
}
