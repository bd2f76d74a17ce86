/*
 * layout.c
 *	  The lot set type: a wallet's live lots packed in one varlena value (the
 *	  stored layouts, packing and unpacking, the builder), and the lot rules its
 *	  input functions share. Its text form is in text.c, its binary form in
 *	  binary.c.
 *
 * Text form:  next=3; (1 cash 10000 txn=5 at=2026-11-22T00:00:00Z until=...);
 *             (2 bonus 1000 txn=5 at=... until=... scope=game,mall)
 */
#include "lotset/lotset_int.h"

#include <ctype.h>

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "miscadmin.h"
#include "utils/datetime.h"



static const char *const bucket_names[WALLET_NBUCKETS] = {"cash", "bonus", "earnings"};

/* bucket_name returns the SQL name of a bucket. */
const char *
bucket_name(int bucket)
{
	if (bucket < 0 || bucket >= WALLET_NBUCKETS)
		elog(ERROR, "invalid bucket %d", bucket);
	return bucket_names[bucket];
}

/* bucket_from_name returns the bucket called name, or -1 when missing_ok. */
int
bucket_from_name(const char *name, bool missing_ok)
{
	for (int i = 0; i < WALLET_NBUCKETS; i++)
		if (strcmp(name, bucket_names[i]) == 0)
			return i;
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown bucket \"%s\"", name)));
	return -1;
}

/*
 * scope_allows tells whether bonus with the given comma-joined scope may be
 * spent in scene. No scope means anywhere; a NULL scene allows unscoped only.
 */
bool
scope_allows(const char *scope, const char *scene)
{
	size_t		n;
	const char *p;

	if (scope == NULL)
		return true;
	if (scene == NULL)
		return false;
	n = strlen(scene);
	p = scope;
	while (*p)
	{
		const char *end = strchr(p, ',');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		if (len == n && strncmp(p, scene, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* valid_scope_text tells whether s is a comma-joined list of scene names. */
bool
valid_scope_text(const char *s)
{
	int			run = 0;

	if (*s == '\0' || strlen(s) > WALLET_MAX_SCOPE_LEN)
		return false;
	for (; *s; s++)
	{
		if (*s == ',')
		{
			if (run == 0)
				return false;
			run = 0;
		}
		else if (isalnum((unsigned char) *s) || *s == '_' || *s == '-' || *s == '.' || *s == ':')
		{
			if (++run > WALLET_MAX_SCENE_LEN)
				return false;
		}
		else
			return false;
	}
	return run > 0;
}

/*
 * check_lot refuses a lot whose fields are out of range; `where` names the
 * source (text input, binary input or the engine) for the message.
 */
static void
check_lot(const WalletLot *l, const char *scope, int32 next_id, const char *where)
{
	const char *problem = NULL;

	if (l->id <= 0 || l->id >= next_id)
		problem = "lot id out of range";
	else if (l->bucket >= WALLET_NBUCKETS)
		problem = "unknown bucket";
	else if (l->amount < 0 || l->amount > LOT_VALUE_MAX ||
			 l->held < 0 || l->held > LOT_VALUE_MAX ||
			 l->owed < 0 || l->owed > LOT_VALUE_MAX ||
			 l->clawed < 0 || l->clawed > LOT_VALUE_MAX)
		problem = "amount out of range";
	else if (l->txn <= 0)
		problem = "source transaction must be positive";
	else if (l->granted < LOT_TIME_MIN || l->granted > LOT_TIME_MAX)
		problem = "grant time must be in years 1 to 9999";
	else if (l->until != WALLET_NO_TIME && (l->until < LOT_TIME_MIN || l->until > LOT_TIME_MAX))
		problem = "expiry must be in years 1 to 9999, or none";
	else if (l->bucket != BUCKET_CASH && (l->owed != 0 || l->clawed != 0))
		problem = "only cash lots carry netting counters";
	else if (l->bucket != BUCKET_BONUS && scope != NULL)
		problem = "only bonus lots have a scope";
	else if (scope != NULL && !valid_scope_text(scope))
		problem = "malformed scope";
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid lot set: %s", problem),
				 errdetail("In %s, lot %d.", where, l->id)));
}

/*
 * check_reservation refuses a reservation whose fields are out of range: its
 * lot's fields as check_lot has them (id: a lot this set has given out), a
 * reserved amount above zero, a hold id and an expiry.
 */
static void
check_reservation(const Reservation *r, int32 next_id, const char *where)
{
	const char *problem = NULL;

	if (r->lot.amount <= 0)
		problem = "a reservation must reserve more than 0";
	else if (r->lot.held != 0 || r->lot.owed != 0 || r->lot.clawed != 0)
		problem = "a reservation carries no counters";
	else if (r->hold <= 0)
		problem = "a reservation's hold id must be positive";
	else if (r->expires < LOT_TIME_MIN || r->expires > LOT_TIME_MAX)
		problem = "a reservation's expiry must be in years 1 to 9999";
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid lot set: %s", problem),
				 errdetail("In %s, hold " INT64_FORMAT ", lot %d.", where, r->hold, r->lot.id)));
	check_lot(&r->lot, r->scope, next_id, where);
}

/*
 * Two stored layouts.
 *
 * Version 0.1 (LotSetV1): a header, the lots as fixed 72-byte structs, then a
 * pool of NUL-terminated scope strings referenced by offset. Still read, so
 * that rows written by 0.1 stay valid; never written.
 *
 * Compact (written since 0.2): after the varlena header, int32 tag | nlots and
 * int32 next_id (both unaligned-safe, read with memcpy), then per lot a byte
 * of bucket and presence bits followed by variable-length integers (LEB128;
 * signed ones zigzag-encoded): id, amount, txn, granted, then if present
 * until - granted (wrapping), held, owed, clawed, and the scope as a length
 * and its bytes. A typical lot takes about 25 bytes instead of 72, which
 * keeps wallet rows and journal rows small (less I/O and WAL per operation).
 * Still read; written by 0.2 before the delta layout.
 *
 * Delta (written now): the compact layout with DELTA_TAG also set in the
 * first word, and each lot's id, txn and granted written as the difference
 * from the lot before it (the first from 0): lots are kept in id order and a
 * top-up adds its cash and bonus lots together, so these are mostly one byte
 * where the compact layout spent three to nine. until - granted is written in
 * whole seconds when it is one (LOT_UNTIL_SECS in the lot's byte), as refund
 * windows and bonus validity periods are. The benchmark's wallets after three
 * top-ups (three cash and four bonus lots, one scoped) average 94 bytes of
 * lots instead of 153. All
 * differences wrap in 64 bits, as until - granted always did, so any values
 * the engine accepts round-trip.
 */
typedef struct LotSetV1
{
	int32		vl_len_;
	int32		nlots;
	int32		next_id;
	int32		pool_len;
	WalletLot	lots[FLEXIBLE_ARRAY_MEMBER];
} LotSetV1;

#define V1_HDRSZ offsetof(LotSetV1, lots)

/*
 * Reservations (RES_TAG in the first word, delta layout only): after the
 * lots, their count, then per reservation a byte of bucket and presence
 * bits (LOT_HAS_UNTIL, LOT_UNTIL_SECS, LOT_HAS_SCOPE) and variable-length
 * integers: hold id, expiry, lot id, amount, source transaction, grant
 * time, until - granted if present, and the scope. A set without
 * reservations (nearly every wallet) is written exactly as before.
 */
#define RES_TAG 0x10000000
#define COMPACT_TAG 0x40000000
#define DELTA_TAG 0x20000000
#define COMPACT_HDRSZ (VARHDRSZ + 8)

#define LOT_HAS_UNTIL 0x04
#define LOT_HAS_HELD 0x08
#define LOT_HAS_OWED 0x10
#define LOT_HAS_CLAWED 0x20
#define LOT_HAS_SCOPE 0x40
#define LOT_UNTIL_SECS 0x80		/* delta layout: until - granted in seconds */

static void pg_attribute_noreturn()
corrupt(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt lot set value: %s", what)));
}

/*
 * lotset_pack writes a lot's numbers straight into room made for the most
 * they can take (appending byte by byte cost a spend some 2,000 instructions).
 */
#define VARINT_MAX 10

static inline unsigned char *
write_varint(unsigned char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (unsigned char) ((v & 0x7f) | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char) v;
	return p;
}

static inline unsigned char *
write_svarint(unsigned char *p, int64 v)
{
	return write_varint(p, ((uint64) v << 1) ^ (uint64) (v >> 63));
}

typedef struct LotReader
{
	const unsigned char *p;
	const unsigned char *end;
} LotReader;

static uint64
get_varint(LotReader *r)
{
	uint64		v = 0;

	for (int shift = 0;; shift += 7)
	{
		unsigned char c;

		if (r->p >= r->end || shift > 63)
			corrupt("truncated or overlong number");
		c = *r->p++;
		v |= (uint64) (c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
}

static int64
get_svarint(LotReader *r)
{
	uint64		u = get_varint(r);

	return (int64) (u >> 1) ^ -(int64) (u & 1);
}

static LotBuilder *
builder_for(int nlots, int32 next_id)
{
	LotBuilder *b = palloc0(sizeof(LotBuilder));

	b->nlots = nlots;
	b->cap = Max(nlots + 8, 16);
	b->next_id = next_id;
	b->lots = palloc0(sizeof(WalletLot) * b->cap);
	b->scopes = palloc0(sizeof(char *) * b->cap);
	return b;
}

static LotBuilder *
unpack_v1(const LotSet *value)
{
	const LotSetV1 *ls = (const LotSetV1 *) value;
	Size		size = VARSIZE(value);
	LotBuilder *b;
	const char *pool;

	if (size < V1_HDRSZ || ls->nlots < 0 || ls->nlots > WALLET_MAX_LOTS || ls->pool_len < 0 ||
		V1_HDRSZ + sizeof(WalletLot) * (Size) ls->nlots + (Size) ls->pool_len != size)
		corrupt("bad size");
	b = builder_for(ls->nlots, ls->next_id);
	pool = (const char *) &ls->lots[ls->nlots];
	if (ls->pool_len > 0 && pool[ls->pool_len - 1] != '\0')
		corrupt("scope pool not terminated");
	for (int i = 0; i < ls->nlots; i++)
	{
		b->lots[i] = ls->lots[i];
		b->lots[i].scope = -1;
		if (ls->lots[i].scope >= 0)
		{
			if (ls->lots[i].scope >= ls->pool_len)
				corrupt("scope offset out of range");
			b->scopes[i] = pstrdup(pool + ls->lots[i].scope);
		}
	}
	return b;
}

/* read_scope reads a scope's length and bytes. */
static char *
read_scope(LotReader *r)
{
	uint64		len = get_varint(r);
	char	   *sc;

	if (len == 0 || len > WALLET_MAX_SCOPE_LEN || len > (uint64) (r->end - r->p))
		corrupt("bad scope length");
	if (memchr(r->p, '\0', len) != NULL)
		corrupt("NUL in scope");
	sc = palloc(len + 1);
	memcpy(sc, r->p, len);
	sc[len] = '\0';
	r->p += len;
	return sc;
}

/* unpack_reservations reads the reservations after the lots (RES_TAG). */
static void
unpack_reservations(LotBuilder *b, LotReader *r)
{
	uint64		n = get_varint(r);

	if (n == 0 || n > WALLET_MAX_LOTS)
		corrupt("bad reservation count");
	for (uint64 k = 0; k < n; k++)
	{
		Reservation *v = builder_add_reservation(b);
		unsigned char head;
		uint64		id;

		if (r->p >= r->end)
			corrupt("truncated");
		head = *r->p++;
		if ((head & 0x03) >= WALLET_NBUCKETS ||
			(head & ~(0x03 | LOT_HAS_UNTIL | LOT_UNTIL_SECS | LOT_HAS_SCOPE)) != 0 ||
			((head & LOT_UNTIL_SECS) && !(head & LOT_HAS_UNTIL)))
			corrupt("bad reservation header");
		v->lot.bucket = head & 0x03;
		v->hold = get_svarint(r);
		v->expires = get_svarint(r);
		id = get_varint(r);
		if (id > PG_INT32_MAX)
			corrupt("lot id out of range");
		v->lot.id = (int32) id;
		v->lot.amount = get_svarint(r);
		v->lot.txn = get_svarint(r);
		v->lot.granted = get_svarint(r);
		if (head & LOT_HAS_UNTIL)
		{
			int64		until = get_svarint(r);

			if (head & LOT_UNTIL_SECS)
			{
				if (until > PG_INT64_MAX / USECS_PER_SEC || until < PG_INT64_MIN / USECS_PER_SEC)
					corrupt("expiry out of range");
				until *= USECS_PER_SEC;
			}
			v->lot.until = (TimestampTz) ((uint64) v->lot.granted + (uint64) until);
		}
		if (head & LOT_HAS_SCOPE)
			v->scope = read_scope(r);
	}
}

/* lotset_unpack copies a packed value into a builder the engine can change. */
LotBuilder *
lotset_unpack(const LotSet *value)
{
	Size		size = VARSIZE(value);
	int32		word;
	int32		next_id;
	int			nlots;
	bool		delta;
	bool		has_res;
	uint64		prev_id = 0;
	uint64		prev_txn = 0;
	uint64		prev_granted = 0;
	LotBuilder *b;
	LotReader	r;

	if (size < COMPACT_HDRSZ)
		corrupt("too short");
	memcpy(&word, value->data, sizeof(int32));
	if ((word & COMPACT_TAG) == 0)
		return unpack_v1(value);
	memcpy(&next_id, value->data + 4, sizeof(int32));
	delta = (word & DELTA_TAG) != 0;
	has_res = (word & RES_TAG) != 0;
	if (has_res && !delta)
		corrupt("reservations outside the delta layout");
	nlots = word & ~(COMPACT_TAG | DELTA_TAG | RES_TAG);
	if (nlots < 0 || nlots > WALLET_MAX_LOTS)
		corrupt("bad lot count");
	b = builder_for(nlots, next_id);
	r.p = (const unsigned char *) value + COMPACT_HDRSZ;
	r.end = (const unsigned char *) value + size;
	for (int i = 0; i < nlots; i++)
	{
		WalletLot  *l = &b->lots[i];
		unsigned char head;
		uint64		id;
		int64		until;

		if (r.p >= r.end)
			corrupt("truncated");
		head = *r.p++;
		if ((head & 0x03) >= WALLET_NBUCKETS || ((head & LOT_UNTIL_SECS) && !(delta && (head & LOT_HAS_UNTIL))))
			corrupt("bad lot header");
		l->bucket = head & 0x03;
		l->scope = -1;
		id = get_varint(&r);
		if (delta)
		{
			if (id > PG_INT32_MAX - prev_id)
				corrupt("lot id out of range");
			id += prev_id;
			prev_id = id;
		}
		if (id > PG_INT32_MAX)
			corrupt("lot id out of range");
		l->id = (int32) id;
		l->amount = get_svarint(&r);
		l->txn = get_svarint(&r);
		l->granted = get_svarint(&r);
		if (delta)
		{
			l->txn = (int64) (prev_txn += (uint64) l->txn);
			l->granted = (TimestampTz) (prev_granted += (uint64) l->granted);
		}
		if (head & LOT_HAS_UNTIL)
		{
			until = get_svarint(&r);
			if (head & LOT_UNTIL_SECS)
			{
				if (until > PG_INT64_MAX / USECS_PER_SEC || until < PG_INT64_MIN / USECS_PER_SEC)
					corrupt("expiry out of range");
				until *= USECS_PER_SEC;
			}
			l->until = (TimestampTz) ((uint64) l->granted + (uint64) until);
		}
		else
			l->until = WALLET_NO_TIME;
		l->held = (head & LOT_HAS_HELD) ? get_svarint(&r) : 0;
		l->owed = (head & LOT_HAS_OWED) ? get_svarint(&r) : 0;
		l->clawed = (head & LOT_HAS_CLAWED) ? get_svarint(&r) : 0;
		if (head & LOT_HAS_SCOPE)
		{
			uint64		len = get_varint(&r);
			char	   *sc;

			if (len == 0 || len > WALLET_MAX_SCOPE_LEN || len > (uint64) (r.end - r.p))
				corrupt("bad scope length");
			if (memchr(r.p, '\0', len) != NULL)
				corrupt("NUL in scope");
			sc = palloc(len + 1);
			memcpy(sc, r.p, len);
			sc[len] = '\0';
			r.p += len;
			b->scopes[i] = sc;
		}
	}
	if (has_res)
		unpack_reservations(b, &r);
	if (r.p != r.end)
		corrupt("trailing bytes");
	return b;
}

/* builder_add appends an empty lot with a fresh id and returns it. */
WalletLot *
builder_add(LotBuilder *b, const char *scope)
{
	WalletLot  *l;

	if (b->next_id >= PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a wallet's lot ids are used up")));
	if (b->nlots >= WALLET_MAX_LOTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a wallet may hold at most %d lots", WALLET_MAX_LOTS)));
	if (b->nlots == b->cap)
	{
		b->cap *= 2;
		b->lots = repalloc(b->lots, sizeof(WalletLot) * b->cap);
		b->scopes = repalloc(b->scopes, sizeof(char *) * b->cap);
	}
	l = &b->lots[b->nlots];
	memset(l, 0, sizeof(WalletLot));
	l->id = b->next_id++;
	l->scope = -1;
	l->granted = 0;
	l->until = WALLET_NO_TIME;
	b->scopes[b->nlots] = scope ? pstrdup(scope) : NULL;
	b->nlots++;
	return l;
}

/* builder_remove drops lot i, keeping the others in order. */
void
builder_remove(LotBuilder *b, int i)
{
	memmove(&b->lots[i], &b->lots[i + 1], sizeof(WalletLot) * (b->nlots - i - 1));
	memmove(&b->scopes[i], &b->scopes[i + 1], sizeof(char *) * (b->nlots - i - 1));
	b->nlots--;
}

/*
 * builder_add_reservation appends an empty reservation (no expiry on its lot)
 * and returns it.
 */
Reservation *
builder_add_reservation(LotBuilder *b)
{
	Reservation *v;

	if (b->nres >= WALLET_MAX_LOTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a wallet may hold at most %d reserved pieces", WALLET_MAX_LOTS)));
	if (b->nres == b->rescap)
	{
		b->rescap = Max(8, b->rescap * 2);
		b->res = b->res ? repalloc(b->res, sizeof(Reservation) * b->rescap) :
			palloc(sizeof(Reservation) * b->rescap);
	}
	v = &b->res[b->nres++];
	memset(v, 0, sizeof(Reservation));
	v->lot.scope = -1;
	v->lot.until = WALLET_NO_TIME;
	return v;
}

/* builder_remove_reservation drops reservation i, keeping the others in order. */
void
builder_remove_reservation(LotBuilder *b, int i)
{
	memmove(&b->res[i], &b->res[i + 1], sizeof(Reservation) * (b->nres - i - 1));
	b->nres--;
}

/* cmp_reservation orders reservations by hold, then lot id. */
static int
cmp_reservation(const void *a, const void *b)
{
	const Reservation *x = (const Reservation *) a;
	const Reservation *y = (const Reservation *) b;

	if (x->hold != y->hold)
		return x->hold < y->hold ? -1 : 1;
	return (x->lot.id > y->lot.id) - (x->lot.id < y->lot.id);
}

static int
cmp_lot_id(const void *a, const void *b)
{
	int32		x = ((const WalletLot *) a)->id;
	int32		y = ((const WalletLot *) b)->id;

	return (x > y) - (x < y);
}

/* pack_reservations appends b's reservations (ordered by hold and lot) to buf. */
static void
pack_reservations(LotBuilder *b, StringInfo buf)
{
	unsigned char *start;
	unsigned char *p;

	qsort(b->res, b->nres, sizeof(Reservation), cmp_reservation);
	enlargeStringInfo(buf, VARINT_MAX);
	start = p = (unsigned char *) buf->data + buf->len;
	p = write_varint(p, (uint64) b->nres);
	buf->len += (int) (p - start);
	for (int i = 0; i < b->nres; i++)
	{
		Reservation *v = &b->res[i];
		const WalletLot *l = &v->lot;
		unsigned char head = l->bucket;
		int64		until = 0;
		size_t		slen = v->scope != NULL ? strlen(v->scope) : 0;

		if (i > 0 && cmp_reservation(&b->res[i - 1], v) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid lot set: hold " INT64_FORMAT " reserves lot %d twice", v->hold, l->id)));
		check_reservation(v, b->next_id, "lot set");
		if (l->until != WALLET_NO_TIME)
		{
			head |= LOT_HAS_UNTIL;
			until = (int64) ((uint64) l->until - (uint64) l->granted);
			if (until % USECS_PER_SEC == 0)
			{
				head |= LOT_UNTIL_SECS;
				until /= USECS_PER_SEC;
			}
		}
		if (v->scope != NULL)
			head |= LOT_HAS_SCOPE;
		enlargeStringInfo(buf, 1 + 8 * VARINT_MAX + (int) slen);
		start = p = (unsigned char *) buf->data + buf->len;
		*p++ = head;
		p = write_svarint(p, v->hold);
		p = write_svarint(p, v->expires);
		p = write_varint(p, (uint64) l->id);
		p = write_svarint(p, l->amount);
		p = write_svarint(p, l->txn);
		p = write_svarint(p, l->granted);
		if (head & LOT_HAS_UNTIL)
			p = write_svarint(p, until);
		if (v->scope != NULL)
		{
			p = write_varint(p, slen);
			memcpy(p, v->scope, slen);
			p += slen;
		}
		buf->len += (int) (p - start);
		buf->data[buf->len] = '\0';
	}
}

/*
 * lotset_pack validates a builder and packs it (delta layout), lots ordered
 * by id.
 */
LotSet *
lotset_pack(LotBuilder *b)
{
	StringInfoData buf;
	char	  **sorted;
	int32		word;

	/* order lots by id, carrying their scopes along */
	for (int i = 0; i < b->nlots; i++)
		b->lots[i].scope = i;	/* remember the original index */
	qsort(b->lots, b->nlots, sizeof(WalletLot), cmp_lot_id);
	sorted = palloc(sizeof(char *) * Max(b->nlots, 1));
	for (int i = 0; i < b->nlots; i++)
		sorted[i] = b->scopes[b->lots[i].scope];
	memcpy(b->scopes, sorted, sizeof(char *) * b->nlots);
	pfree(sorted);

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, "\0\0\0\0", VARHDRSZ);
	word = COMPACT_TAG | DELTA_TAG | b->nlots | (b->nres > 0 ? RES_TAG : 0);
	appendBinaryStringInfo(&buf, (char *) &word, sizeof(int32));
	appendBinaryStringInfo(&buf, (char *) &b->next_id, sizeof(int32));
	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];
		const WalletLot *prev = i > 0 ? &b->lots[i - 1] : NULL;
		const char *s = b->scopes[i];
		unsigned char head = l->bucket;
		int64		until = 0;

		l->scope = -1;
		if (prev != NULL && l->id == prev->id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid lot set: duplicate lot id %d", l->id)));
		check_lot(l, s, b->next_id, "lot set");
		if (l->until != WALLET_NO_TIME)
		{
			head |= LOT_HAS_UNTIL;
			until = (int64) ((uint64) l->until - (uint64) l->granted);
			if (until % USECS_PER_SEC == 0)
			{
				head |= LOT_UNTIL_SECS;
				until /= USECS_PER_SEC;
			}
		}
		if (l->held != 0)
			head |= LOT_HAS_HELD;
		if (l->owed != 0)
			head |= LOT_HAS_OWED;
		if (l->clawed != 0)
			head |= LOT_HAS_CLAWED;
		if (s != NULL)
			head |= LOT_HAS_SCOPE;
		{
			size_t		slen = s != NULL ? strlen(s) : 0;
			unsigned char *start;
			unsigned char *p;

			/* the byte, id, seven numbers, the scope's length and its bytes */
			enlargeStringInfo(&buf, 1 + 9 * VARINT_MAX + (int) slen);
			start = p = (unsigned char *) buf.data + buf.len;
			*p++ = head;
			/* ids ascend (checked above and by check_lot): the difference is positive */
			p = write_varint(p, (uint64) (l->id - (prev ? prev->id : 0)));
			p = write_svarint(p, l->amount);
			p = write_svarint(p, (int64) ((uint64) l->txn - (uint64) (prev ? prev->txn : 0)));
			p = write_svarint(p, (int64) ((uint64) l->granted - (uint64) (prev ? prev->granted : 0)));
			if (head & LOT_HAS_UNTIL)
				p = write_svarint(p, until);
			if (head & LOT_HAS_HELD)
				p = write_svarint(p, l->held);
			if (head & LOT_HAS_OWED)
				p = write_svarint(p, l->owed);
			if (head & LOT_HAS_CLAWED)
				p = write_svarint(p, l->clawed);
			if (s != NULL)
			{
				p = write_varint(p, slen);
				memcpy(p, s, slen);
				p += slen;
			}
			buf.len += (int) (p - start);
			buf.data[buf.len] = '\0';
		}
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	if (b->nres > 0)
		pack_reservations(b, &buf);
	SET_VARSIZE(buf.data, buf.len);
	return (LotSet *) buf.data;
}
