/*
 * common.h
 *	  Helpers shared by the fuzz targets: the lot set's four I/O functions
 *	  called as the server calls them, a structural check of a packed value,
 *	  and the round-trip property every valid value must have.
 */
#ifndef WALLET_FUZZ_COMMON_H
#define WALLET_FUZZ_COMMON_H

#include "wallet.h"

#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "shim.h"

extern Datum lotset_in(PG_FUNCTION_ARGS);
extern Datum lotset_out(PG_FUNCTION_ARGS);
extern Datum lotset_recv(PG_FUNCTION_ARGS);
extern Datum lotset_send(PG_FUNCTION_ARGS);

#define SQLSTATE_OK 0

/* ---- calling the I/O functions inside shim_call ---- */

typedef struct IoCall
{
	const char *text;			/* in: text for lotset_in */
	StringInfo	msg;			/* in: message for lotset_recv */
	LotSet	   *value;			/* in (out, send) / out (in, recv) */
	char	   *out;			/* out: lotset_out's text */
	bytea	   *bin;			/* out: lotset_send's bytes */
} IoCall;

static void
io_in(void *arg)
{
	IoCall	   *c = arg;
	Datum		a[3] = {CStringGetDatum(c->text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)};

	c->value = (LotSet *) DatumGetPointer(shim_fmgr(lotset_in, 3, a, NULL, 0, NULL));
}

static void
io_out(void *arg)
{
	IoCall	   *c = arg;
	Datum		a[1] = {PointerGetDatum(c->value)};

	c->out = DatumGetCString(shim_fmgr(lotset_out, 1, a, NULL, 0, NULL));
}

static void
io_send(void *arg)
{
	IoCall	   *c = arg;
	Datum		a[1] = {PointerGetDatum(c->value)};

	c->bin = DatumGetByteaPP(shim_fmgr(lotset_send, 1, a, NULL, 0, NULL));
}

static void
io_recv(void *arg)
{
	IoCall	   *c = arg;
	Datum		a[3] = {PointerGetDatum(c->msg), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)};

	c->value = (LotSet *) DatumGetPointer(shim_fmgr(lotset_recv, 3, a, NULL, 0, NULL));
	/* the caller (COPY, bind) refuses bytes the function left unread */
	if (c->msg->cursor != c->msg->len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("incorrect binary data format")));
}

/* ls_in runs lotset_in(text); returns the SQLSTATE (0: accepted, *out set). */
static inline int
ls_in(const char *text, LotSet **out)
{
	IoCall		c = {0};
	int			code;

	c.text = text;
	code = shim_call(io_in, &c);
	*out = code ? NULL : c.value;
	return code;
}

/* ls_recv runs lotset_recv over len bytes as the server does (a NUL-terminated copy). */
static inline int
ls_recv(const char *data, int len, LotSet **out)
{
	IoCall		c = {0};
	StringInfoData msg;
	int			code;

	msg.data = palloc(len + 1);
	memcpy(msg.data, data, len);
	msg.data[len] = '\0';
	msg.len = len;
	msg.maxlen = len + 1;
	msg.cursor = 0;
	c.msg = &msg;
	code = shim_call(io_recv, &c);
	*out = code ? NULL : c.value;
	return code;
}

/* ls_out and ls_send must not fail for a valid value. */
static inline char *
ls_out(LotSet *v)
{
	IoCall		c = {0};
	int			code;
	char		st[6];

	c.value = v;
	code = shim_call(io_out, &c);
	if (code)
		shim_fail("lotset_out failed (%s: %s) for a value the type accepted", shim_sqlstate(code, st),
				  shim_errmsg());
	return c.out;
}

static inline bytea *
ls_send(LotSet *v)
{
	IoCall		c = {0};
	int			code;
	char		st[6];

	c.value = v;
	code = shim_call(io_send, &c);
	if (code)
		shim_fail("lotset_send failed (%s: %s)", shim_sqlstate(code, st), shim_errmsg());
	return c.bin;
}

static inline bool
ls_equal(const LotSet *a, const LotSet *b)
{
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

/*
 * check_value checks a packed value: it unpacks (bounds-checked), its lots
 * are ordered by id below next with fields in range and scopes only on bonus
 * lots, and packing it again gives the same bytes (one encoding per value).
 */
static inline void
check_value(const LotSet *v)
{
	LotBuilder *b = lotset_unpack(v);
	LotSet	   *again;

	if (b->nlots < 0 || b->nlots > WALLET_MAX_LOTS || b->next_id < 1)
		shim_fail("bad header: nlots %d next %d", b->nlots, b->next_id);
	for (int i = 0; i < b->nlots; i++)
	{
		const WalletLot *l = &b->lots[i];

		if (l->id <= 0 || l->id >= b->next_id || (i > 0 && l->id <= b->lots[i - 1].id))
			shim_fail("lot %d: id out of order or range", i);
		if (l->bucket >= WALLET_NBUCKETS || l->flags != 0 || l->pad != 0 || l->pad2 != 0)
			shim_fail("lot %d: bucket %d flags %d pad %d/%d", l->id, l->bucket, l->flags, l->pad, l->pad2);
		if (l->amount < 0 || l->held < 0 || l->owed < 0 || l->clawed < 0 || l->txn <= 0)
			shim_fail("lot %d: negative counter or txn", l->id);
		if (b->scopes[i] != NULL && l->bucket != BUCKET_BONUS)
			shim_fail("lot %d: scope on a %s lot", l->id, bucket_name(l->bucket));
	}
	again = lotset_pack(b);
	if (!ls_equal(v, again))
		shim_fail("packing the unpacked value gives other bytes");
}

/*
 * Known bugs (test/fuzz/README.md) the targets step around unless
 * WALLET_FUZZ_STRICT is set, so fuzzing can go on looking for new ones. Each
 * is reported once per process on stderr.
 */
static inline void
known_bug(const char *id, const char *what)
{
	static char seen[16][8];
	static int	nseen;

	if (getenv("WALLET_FUZZ_STRICT"))
		shim_fail("known bug %s: %s", id, what);
	for (int i = 0; i < nseen; i++)
		if (strcmp(seen[i], id) == 0)
			return;
	if (nseen < 16)
		strlcpy(seen[nseen++], id, sizeof(seen[0]));
	fprintf(stderr, "wallet fuzz: known bug %s seen (reported once): %s\n", id, what);
}

/* Times the text form can write and read back: 0001-01-01 to 9999-12-31 in UTC. */
#define TEXT_TIME_MIN ((TimestampTz) (1721426 - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)
#define TEXT_TIME_END ((TimestampTz) (5373485 - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)

/*
 * text_representable tells whether every time in v can be written by
 * lotset_out and read back by lotset_in (every accepted value must be: this
 * was known bug K1, fixed).
 */
static inline bool
text_representable(const LotSet *value)
{
	LotBuilder *v = lotset_unpack(value);

	for (int i = 0; i < v->nlots; i++)
	{
		const WalletLot *l = &v->lots[i];

		if (l->granted < TEXT_TIME_MIN || l->granted >= TEXT_TIME_END)
			return false;
		if (l->until != DT_NOEND && (l->until < TEXT_TIME_MIN || l->until >= TEXT_TIME_END))
			return false;
	}
	return true;
}

/*
 * roundtrip checks that a valid value reads back exactly through its text
 * form (and that the text form is canonical) and through its binary form.
 */
static inline void
roundtrip(LotSet *v)
{
	char	   *t;
	LotSet	   *v2;
	bytea	   *b;
	int			code;
	char		st[6];

	if (!text_representable(v))
		shim_fail("a value with a time the text form cannot hold was accepted (was known bug K1)");
	t = ls_out(v);
	code = ls_in(t, &v2);
	if (code)
		shim_fail("the text form of a valid value is refused (%s: %s): %s", shim_sqlstate(code, st),
				  shim_errmsg(), t);
	if (!ls_equal(v, v2))
		shim_fail("text round trip changed the value: %s -> %s", t, ls_out(v2));
	if (strcmp(ls_out(v2), t) != 0)
		shim_fail("text form not canonical: %s -> %s", t, ls_out(v2));

	b = ls_send(v);
	code = ls_recv(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &v2);
	if (code)
		shim_fail("the binary form of a valid value is refused (%s: %s), text %s", shim_sqlstate(code, st),
				  shim_errmsg(), t ? t : "(not representable)");
	if (!ls_equal(v, v2))
		shim_fail("binary round trip changed the value: %s", t ? t : "(not representable)");
}

/* valid_utf8 tells whether s[0..len) is NUL-free UTF-8 (what a server cstring can hold). */
static inline bool
valid_utf8(const uint8 *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		uint8		c = s[i];
		int			n;
		uint32		cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			n = 1, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			n = 2, cp = c & 0x0F;
		else if ((c & 0xF8) == 0xF0)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (int k = 1; k <= n; k++)
		{
			if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
			cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

#endif
