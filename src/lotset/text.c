/*
 * text.c
 *	  The lot set's text form (for pg_dump, COPY and psql), output and input.
 *
 * Text form:  next=3; (1 cash 10000 txn=5 at=2026-11-22T00:00:00Z until=...);
 *             (2 bonus 1000 txn=5 at=... until=... scope=game,mall)
 * and after the lots the reservations of open holds, each a piece of a lot:
 *             [hold=42 expires=2026-11-29T00:00:00Z (1 cash 500 txn=5 at=... until=...)]
 */
#include "lotset/lotset_int.h"

PG_FUNCTION_INFO_V1(lotset_in);
PG_FUNCTION_INFO_V1(lotset_out);

/* append_time writes a timestamp as ISO 8601 in UTC. */
static void
append_time(StringInfo buf, TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	appendStringInfo(buf, "%04d-%02d-%02dT%02d:%02d:%02d",
					 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (fsec != 0)
		appendStringInfo(buf, ".%06d", (int) fsec);
	appendStringInfoChar(buf, 'Z');
}

/* append_lot writes one lot in parentheses. */
static void
append_lot(StringInfo buf, const WalletLot *l, const char *scope)
{
	appendStringInfo(buf, "(%d %s " INT64_FORMAT, l->id, bucket_name(l->bucket), l->amount);
	if (l->held)
		appendStringInfo(buf, " held=" INT64_FORMAT, l->held);
	appendStringInfo(buf, " txn=" INT64_FORMAT " at=", l->txn);
	append_time(buf, l->granted);
	if (!TIMESTAMP_NOT_FINITE(l->until))
	{
		appendStringInfoString(buf, " until=");
		append_time(buf, l->until);
	}
	if (l->owed)
		appendStringInfo(buf, " owed=" INT64_FORMAT, l->owed);
	if (l->clawed)
		appendStringInfo(buf, " clawed=" INT64_FORMAT, l->clawed);
	if (scope)
		appendStringInfo(buf, " scope=%s", scope);
	appendStringInfoChar(buf, ')');
}

Datum
lotset_out(PG_FUNCTION_ARGS)
{
	LotBuilder *ls = lotset_unpack(PG_GETARG_LOTSET_P(0));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "next=%d", ls->next_id);
	for (int i = 0; i < ls->nlots; i++)
	{
		appendStringInfoString(&buf, "; ");
		append_lot(&buf, &ls->lots[i], ls->scopes[i]);
	}
	for (int i = 0; i < ls->nres; i++)
	{
		appendStringInfo(&buf, "; [hold=" INT64_FORMAT " expires=", ls->res[i].hold);
		append_time(&buf, ls->res[i].expires);
		appendStringInfoChar(&buf, ' ');
		append_lot(&buf, &ls->res[i].lot, ls->res[i].scope);
		appendStringInfoChar(&buf, ']');
	}
	PG_RETURN_CSTRING(buf.data);
}

/* Parser state for lotset_in: the whole input and the current position. */
typedef struct LotParser
{
	const char *input;
	const char *p;
} LotParser;

static void pg_attribute_noreturn()
parse_fail(LotParser *ps, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type lotset: \"%s\"", ps->input),
			 errdetail("%s at character %d.", what, (int) (ps->p - ps->input) + 1)));
}

static void
skip_space(LotParser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static void
expect_char(LotParser *ps, char c, const char *what)
{
	skip_space(ps);
	if (*ps->p != c)
		parse_fail(ps, what);
	ps->p++;
}

/* parse_int64 reads an optionally signed decimal integer. */
static int64
parse_int64(LotParser *ps, const char *what)
{
	int64		v = 0;
	bool		neg = false;
	const char *start;

	skip_space(ps);
	if (*ps->p == '-')
	{
		neg = true;
		ps->p++;
	}
	start = ps->p;
	while (isdigit((unsigned char) *ps->p))
	{
		int			d = *ps->p - '0';

		if (v > (PG_INT64_MAX - d) / 10)
			parse_fail(ps, "number out of range");
		v = v * 10 + d;
		ps->p++;
	}
	if (ps->p == start)
		parse_fail(ps, what);
	return neg ? -v : v;
}

/* parse_digits reads exactly n digits. */
static int
parse_digits(LotParser *ps, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) *ps->p))
			parse_fail(ps, "malformed timestamp (expected YYYY-MM-DDTHH:MM:SS[.ffffff]Z)");
		v = v * 10 + (*ps->p++ - '0');
	}
	return v;
}

/* parse_time reads YYYY-MM-DDTHH:MM:SS[.ffffff]Z. */
static TimestampTz
parse_time(LotParser *ps)
{
	struct pg_tm tm;
	fsec_t		fsec = 0;
	TimestampTz t;
	int			tz = 0;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = parse_digits(ps, 4);
	expect_char(ps, '-', "malformed timestamp");
	tm.tm_mon = parse_digits(ps, 2);
	expect_char(ps, '-', "malformed timestamp");
	tm.tm_mday = parse_digits(ps, 2);
	expect_char(ps, 'T', "malformed timestamp");
	tm.tm_hour = parse_digits(ps, 2);
	expect_char(ps, ':', "malformed timestamp");
	tm.tm_min = parse_digits(ps, 2);
	expect_char(ps, ':', "malformed timestamp");
	tm.tm_sec = parse_digits(ps, 2);
	if (*ps->p == '.')
	{
		int			n = 0;

		ps->p++;
		while (isdigit((unsigned char) *ps->p) && n < 6)
		{
			fsec = fsec * 10 + (*ps->p++ - '0');
			n++;
		}
		if (n == 0 || isdigit((unsigned char) *ps->p))
			parse_fail(ps, "malformed fractional seconds");
		for (; n < 6; n++)
			fsec *= 10;
	}
	if (*ps->p != 'Z')
		parse_fail(ps, "timestamp must end in Z (UTC)");
	ps->p++;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59 ||
		tm.tm_year < 1 || tm2timestamp(&tm, fsec, &tz, &t) != 0)
		parse_fail(ps, "timestamp out of range");
	return t;
}

/* parse_word reads [a-z]+ as a key or bucket name into buf. */
static void
parse_word(LotParser *ps, char *buf, int size)
{
	int			n = 0;

	skip_space(ps);
	while (*ps->p >= 'a' && *ps->p <= 'z')
	{
		if (n >= size - 1)
			parse_fail(ps, "word too long");
		buf[n++] = *ps->p++;
	}
	buf[n] = '\0';
	if (n == 0)
		parse_fail(ps, "expected a word");
}

/*
 * parse_lot_body reads a lot after its id: bucket, amount and the fields up
 * to the closing parenthesis.
 */
static void
parse_lot_body(LotParser *ps, WalletLot *l, char **scope)
{
	char		word[16];
	bool		have_txn = false,
				have_at = false;

	parse_word(ps, word, sizeof(word));
	if (bucket_from_name(word, true) < 0)
		parse_fail(ps, "unknown bucket (expected cash, bonus or earnings)");
	l->bucket = (uint8) bucket_from_name(word, true);
	l->amount = parse_int64(ps, "expected an amount");
	for (;;)
	{
		skip_space(ps);
		if (*ps->p == ')')
		{
			ps->p++;
			break;
		}
		parse_word(ps, word, sizeof(word));
		expect_char(ps, '=', "expected \"=\"");
		if (strcmp(word, "held") == 0)
			l->held = parse_int64(ps, "expected a held amount");
		else if (strcmp(word, "txn") == 0)
		{
			l->txn = parse_int64(ps, "expected a transaction id");
			have_txn = true;
		}
		else if (strcmp(word, "at") == 0)
		{
			l->granted = parse_time(ps);
			have_at = true;
		}
		else if (strcmp(word, "until") == 0)
			l->until = parse_time(ps);
		else if (strcmp(word, "owed") == 0)
			l->owed = parse_int64(ps, "expected an owed amount");
		else if (strcmp(word, "clawed") == 0)
			l->clawed = parse_int64(ps, "expected a clawed amount");
		else if (strcmp(word, "scope") == 0)
		{
			const char *start = ps->p;

			while (*ps->p && *ps->p != ')' && *ps->p != ' ' && *ps->p != ';')
				ps->p++;
			*scope = pnstrdup(start, ps->p - start);
			if (!valid_scope_text(*scope))
				parse_fail(ps, "malformed scope (comma-separated scene names)");
		}
		else
			parse_fail(ps, "unknown lot field");
	}
	if (!have_txn || !have_at)
		parse_fail(ps, "a lot needs txn= and at=");
}

Datum
lotset_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	LotParser	ps = {str, str};
	LotBuilder	b = {0};
	char		word[16];
	int32		next_id;
	LotSet	   *ls;

	b.cap = 8;
	b.lots = palloc(sizeof(WalletLot) * b.cap);
	b.scopes = palloc0(sizeof(char *) * b.cap);

	parse_word(&ps, word, sizeof(word));
	if (strcmp(word, "next") != 0)
		parse_fail(&ps, "expected \"next=\"");
	expect_char(&ps, '=', "expected \"=\"");
	{
		/* parse once: Min/Max are macros that evaluate their arguments twice */
		int64		n = parse_int64(&ps, "expected the next lot id");

		if (n < 1 || n > PG_INT32_MAX)
			parse_fail(&ps, "next lot id must be between 1 and 2147483647");
		next_id = (int32) n;
	}
	b.next_id = next_id;

	for (;;)
	{
		int64		id;

		CHECK_FOR_INTERRUPTS();
		skip_space(&ps);
		if (*ps.p == '\0')
			break;
		expect_char(&ps, ';', "expected \";\" between lots");
		skip_space(&ps);
		if (*ps.p == '[')
		{
			/* a reservation: [hold=H expires=T (lot)] */
			Reservation *v = builder_add_reservation(&b);

			ps.p++;
			parse_word(&ps, word, sizeof(word));
			if (strcmp(word, "hold") != 0)
				parse_fail(&ps, "expected \"hold=\"");
			expect_char(&ps, '=', "expected \"=\"");
			v->hold = parse_int64(&ps, "expected a hold id");
			parse_word(&ps, word, sizeof(word));
			if (strcmp(word, "expires") != 0)
				parse_fail(&ps, "expected \"expires=\"");
			expect_char(&ps, '=', "expected \"=\"");
			v->expires = parse_time(&ps);
			expect_char(&ps, '(', "expected \"(\" to open the reserved piece");
			id = parse_int64(&ps, "expected a lot id");
			if (id <= 0 || id >= next_id)
				parse_fail(&ps, "lot id must be positive and below next");
			v->lot.id = (int32) id;
			parse_lot_body(&ps, &v->lot, &v->scope);
			expect_char(&ps, ']', "expected \"]\" to close a reservation");
			continue;
		}
		if (b.nres > 0)
			parse_fail(&ps, "lots come before reservations");
		expect_char(&ps, '(', "expected \"(\" to open a lot");
		id = parse_int64(&ps, "expected a lot id");
		if (id <= 0 || id >= next_id)
			parse_fail(&ps, "lot id must be positive and below next");
		b.next_id = (int32) id;
		builder_add(&b, NULL);
		b.next_id = next_id;
		parse_lot_body(&ps, &b.lots[b.nlots - 1], &b.scopes[b.nlots - 1]);
	}

	ls = lotset_pack(&b);
	PG_RETURN_LOTSET_P(ls);
}
