/*
 * check.c
 *	  Argument and setting checks shared by the C operations and the SQL
 *	  functions: the one definition of a text argument (length, control
 *	  characters), and the bounds of a setting's interval and time.
 */
#include "wallet.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

PG_FUNCTION_INFO_V1(wallet_text_check);
PG_FUNCTION_INFO_V1(wallet_check_interval);
PG_FUNCTION_INFO_V1(wallet_check_time);

/*
 * is_control tells whether a Unicode code point is a control character for
 * a text argument: C0 controls (U+0000-U+001F), DEL (U+007F), C1 controls
 * (U+0080-U+009F) and the bidirectional embeddings, overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069), which make a key or a note read
 * differently from what it holds.
 */
static inline bool
is_control(pg_wchar c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) ||
		(c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * first_control returns the code point of the first control character of s
 * (len bytes, server encoding) and its position (1-based, in characters), or
 * false. Text in another encoding than UTF-8 is converted to UTF-8 first;
 * under SQL_ASCII, bytes above 127 have no known meaning and only ASCII
 * controls are found.
 */
static bool
first_control(const char *s, int len, pg_wchar *cp, int *pos)
{
	int			enc = GetDatabaseEncoding();
	const unsigned char *p;
	const unsigned char *end;
	int			n = 0;

	if (enc == PG_SQL_ASCII)
	{
		for (int i = 0; i < len; i++)
			if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] == 0x7f)
			{
				*cp = (unsigned char) s[i];
				*pos = i + 1;
				return true;
			}
		return false;
	}
	if (enc != PG_UTF8)
	{
		char	   *u = pg_server_to_any(s, len, PG_UTF8);

		if (u != s)
			len = strlen(u);
		s = u;
	}
	p = (const unsigned char *) s;
	end = p + len;
	while (p < end)
	{
		int			l = pg_utf_mblen(p);
		pg_wchar	c;

		if (l > end - p)
			break;
		c = utf8_to_unicode(p);
		n++;
		if (is_control(c))
		{
			*cp = c;
			*pos = n;
			return true;
		}
		p += l;
	}
	return false;
}

/*
 * check_text_arg checks a text argument (t NULL when the argument is NULL):
 * refused with 22023 when NULL or empty and required, longer than maxlen
 * characters, or holding a control character (is_control). It returns the
 * value as a C string, or NULL for NULL.
 */
char *
check_text_arg(text *t, const char *argname, int maxlen, bool required)
{
	char	   *s;
	int			bytes;
	int			len;
	pg_wchar	cp;
	int			pos;

	if (t == NULL)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not be null", argname)));
		return NULL;
	}
	s = text_to_cstring(t);
	bytes = strlen(s);
	if (bytes == 0 && required)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname)));
	len = pg_mbstrlen_with_len(s, bytes);
	if (len > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", argname),
				 errdetail("Got %d characters; at most %d are allowed.", len, maxlen)));
	if (first_control(s, bytes, &cp, &pos))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not contain control characters", argname),
				 errdetail("Character %d is U+%04X.", pos, (unsigned int) cp),
				 errhint("Control characters are U+0000 to U+001F, U+007F to U+009F, "
						 "U+202A to U+202E and U+2066 to U+2069.")));
	return s;
}

/*
 * wallet._text(val text, argname text, maxlen int, required boolean)
 * returns val, or refuses it as check_text_arg does.
 */
Datum
wallet_text_check(PG_FUNCTION_ARGS)
{
	char	   *argname;
	char	   *s;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet._text: argname, maxlen and required must not be null")));
	argname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	s = check_text_arg(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), argname, PG_GETARG_INT32(2),
					   PG_GETARG_BOOL(3));
	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(s));
}

/* year_start is midnight UTC of January 1st of year y. */
static Timestamp
year_start(int y)
{
	return (Timestamp) (date2j(y, 1, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
}

/* clock_in_range tells whether t lies in the years the wallet clock may show. */
bool
clock_in_range(TimestampTz t)
{
	return t >= year_start(1) && t < year_start(WALLET_CLOCK_END_YEAR);
}

/*
 * wallet._check_interval(v interval, argname text) refuses (22023) an
 * interval setting with a negative part, or one that adds more than
 * WALLET_SETTING_MAX_YEARS years: added to any time the clock may show
 * (before WALLET_CLOCK_END_YEAR), it stays in the years lots may hold
 * (to 9999). NULL passes.
 */
Datum
wallet_check_interval(PG_FUNCTION_ARGS)
{
	Interval   *v;
	char	   *argname;
	bool		too_long;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	if (PG_ARGISNULL(1))
		elog(ERROR, "wallet._check_interval: argname must not be null");
	v = PG_GETARG_INTERVAL_P(0);
	argname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (v->month < 0 || v->day < 0 || v->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not have a negative part", argname),
				 errdetail("Got %s.", DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(v)))),
				 errhint("Write the interval with its months, days and time all zero or more.")));
	/* bounded first, so that the sum below cannot overflow */
	too_long = v->month > WALLET_SETTING_MAX_YEARS * MONTHS_PER_YEAR ||
		v->day > WALLET_SETTING_MAX_YEARS * 366 ||
		v->time > (int64) WALLET_SETTING_MAX_YEARS * 366 * USECS_PER_DAY;
	if (!too_long)
	{
		Timestamp	from = year_start(WALLET_CLOCK_END_YEAR);
		Timestamp	to = DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval, TimestampGetDatum(from),
															  IntervalPGetDatum(v)));

		too_long = to > year_start(WALLET_CLOCK_END_YEAR + WALLET_SETTING_MAX_YEARS);
	}
	if (too_long)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", argname),
				 errdetail("Got %s; at most %d years are allowed.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(v))),
						   WALLET_SETTING_MAX_YEARS),
				 errhint("The wallet clock runs to the year %d and expiries to the year 9999.",
						 WALLET_CLOCK_END_YEAR - 1)));
	PG_RETURN_VOID();
}

/*
 * wallet._check_time(v timestamptz, argname text) refuses (22023) a time
 * setting the wallet clock can never reach (year WALLET_CLOCK_END_YEAR or
 * later, or before the year 1): "never" and "always" are infinity and
 * -infinity, or NULL. NULL and infinities pass.
 */
Datum
wallet_check_time(PG_FUNCTION_ARGS)
{
	TimestampTz t;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	if (PG_ARGISNULL(1))
		elog(ERROR, "wallet._check_time: argname must not be null");
	t = PG_GETARG_TIMESTAMPTZ(0);
	if (!TIMESTAMP_NOT_FINITE(t) && !clock_in_range(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is out of range", text_to_cstring(PG_GETARG_TEXT_PP(1))),
				 errdetail("Got %s; the wallet clock runs from the year 1 to the year %d.",
						   DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(t))),
						   WALLET_CLOCK_END_YEAR - 1),
				 errhint("Use infinity or -infinity (or NULL) for an open end.")));
	PG_RETURN_VOID();
}
