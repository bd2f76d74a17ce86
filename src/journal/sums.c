/*
 * sums.c
 *	  One pass over the journal for reconciliation and archival: an aggregate
 *	  that sums every posting per (currency, account, wallet, bucket) and
 *	  reports each transaction whose postings do not sum to zero.
 *
 *	  The aggregate reads each postings array where it lies (no copy unless it
 *	  is compressed or out of line) and walks its wallet.posting elements with
 *	  their known layout, checking every length and offset, instead of
 *	  deforming them generically; groups live in an open-addressing table
 *	  keyed on 16 bytes (wallet id and interned names).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(wallet_journal_sums_trans);
PG_FUNCTION_INFO_V1(wallet_journal_sums_final);

/*
 * A group: names are interned (index into JournalState.names, -1 = NULL). The
 * key is 16 bytes; flags holds KEY_WALLET_NULL and KEY_USED (an occupied slot).
 */
typedef struct JournalKey
{
	int64		wallet_id;
	int16		currency;
	int16		account;
	int16		bucket;
	uint16		flags;
} JournalKey;

#define KEY_WALLET_NULL 0x0001
#define KEY_USED		0x0002

typedef struct JournalEntry
{
	JournalKey	key;
	int64		amount;
} JournalEntry;

/* A leg read but not yet added to its group: its group, amount and key hash. */
typedef struct JournalLeg
{
	JournalKey	key;
	int64		amount;
	uint64		hash;
} JournalLeg;

/* A transaction whose postings do not sum to zero. */
typedef struct Unbalanced
{
	int64		txn_id;
	int64		wallet_id;
	int64		amount;
	int16		currency;
	bool		txn_null;
	bool		wallet_null;
} Unbalanced;

typedef struct JournalState
{
	MemoryContext cxt;
	/* the groups: open addressing, linear probing, a power of two of slots */
	JournalEntry *slots;
	uint64		mask;
	uint64		ngroups;
	TupleDesc	posting;		/* the element type of the postings array */
	Oid			posting_type;
	char		posting_align;
	char	  **names;
	int		   *lens;
	int			nnames;
	int			maxnames;
	int16		last[3];		/* last name found per role: a cheap cache */
	/* legs read, not yet added to their groups (see legs_flush) */
	JournalLeg *legs;
	int			nlegs;
	int			maxlegs;
	Unbalanced *bad;
	int			nbad;
	int			maxbad;
} JournalState;

#define GROUPS_INITIAL	1024
/* legs are added to their groups in batches of about this many, ... */
#define LEGS_BATCH		256
/* ... the group of a leg this many legs ahead being prefetched */
#define LEGS_PREFETCH	16

#if defined(__GNUC__) || defined(__clang__)
#define prefetch_slot(p) __builtin_prefetch(p, 1)
#else
#define prefetch_slot(p) ((void) (p))
#endif

/* groups_alloc returns nslots empty slots in the state's context. */
static JournalEntry *
groups_alloc(JournalState *st, uint64 nslots)
{
	if (nslots > MaxAllocHugeSize / sizeof(JournalEntry))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct groups in the journal's postings")));
	return MemoryContextAllocExtended(st->cxt, nslots * sizeof(JournalEntry),
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/* key_hash mixes the two words of a key (the splitmix64 finalizer). */
static inline uint64
key_hash(const JournalKey *key)
{
	uint64		a;
	uint64		b;
	uint64		h;

	memcpy(&a, key, sizeof(a));
	memcpy(&b, (const char *) key + sizeof(a), sizeof(b));
	h = a ^ (b * UINT64CONST(0x9e3779b97f4a7c15));
	h ^= h >> 30;
	h *= UINT64CONST(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64CONST(0x94d049bb133111eb);
	h ^= h >> 31;
	return h;
}

static inline bool
key_equal(const JournalKey *a, const JournalKey *b)
{
	return memcmp(a, b, sizeof(JournalKey)) == 0;
}

/* groups_grow doubles the table and moves every group over. */
static void
groups_grow(JournalState *st)
{
	JournalEntry *old = st->slots;
	uint64		oldn = st->mask + 1;
	uint64		newn = oldn * 2;
	uint64		i;

	st->slots = groups_alloc(st, newn);
	st->mask = newn - 1;
	for (i = 0; i < oldn; i++)
	{
		uint64		j;

		if (!(old[i].key.flags & KEY_USED))
			continue;
		j = key_hash(&old[i].key) & st->mask;
		while (st->slots[j].key.flags & KEY_USED)
			j = (j + 1) & st->mask;
		st->slots[j] = old[i];
	}
	pfree(old);
}

/*
 * group_find returns the group of a key (flags with KEY_USED) whose key_hash is
 * hash, adding it with 0 when new.
 */
static inline JournalEntry *
group_find(JournalState *st, const JournalKey *key, uint64 hash)
{
	uint64		j = hash & st->mask;

	for (;;)
	{
		JournalEntry *e = &st->slots[j];

		if (!(e->key.flags & KEY_USED))
		{
			/* at most 3/4 full */
			if ((st->ngroups + 1) * 4 > (st->mask + 1) * 3)
			{
				groups_grow(st);
				return group_find(st, key, hash);
			}
			e->key = *key;
			e->amount = 0;
			st->ngroups++;
			return e;
		}
		if (key_equal(&e->key, key))
			return e;
		j = (j + 1) & st->mask;
	}
}

/* journal_state_new sets up an empty state in the aggregate's context. */
static JournalState *
journal_state_new(MemoryContext cxt)
{
	JournalState *st = MemoryContextAllocZero(cxt, sizeof(JournalState));

	st->cxt = cxt;
	st->slots = groups_alloc(st, GROUPS_INITIAL);
	st->mask = GROUPS_INITIAL - 1;
	st->maxnames = 16;
	st->names = MemoryContextAlloc(cxt, st->maxnames * sizeof(char *));
	st->lens = MemoryContextAlloc(cxt, st->maxnames * sizeof(int));
	st->last[0] = st->last[1] = st->last[2] = -1;
	st->maxlegs = LEGS_BATCH * 2;
	st->legs = MemoryContextAlloc(cxt, st->maxlegs * sizeof(JournalLeg));
	return st;
}

/* intern_bytes returns the index of a name, adding it when new. */
static int16
intern_bytes(JournalState *st, const char *p, int len, int role)
{
	int			i = st->last[role];

	if (i >= 0 && st->lens[i] == len && memcmp(st->names[i], p, len) == 0)
		return i;
	for (i = 0; i < st->nnames; i++)
		if (st->lens[i] == len && memcmp(st->names[i], p, len) == 0)
			return st->last[role] = i;
	if (st->nnames >= PG_INT16_MAX)
		elog(ERROR, "too many distinct names in the journal's postings");
	if (st->nnames == st->maxnames)
	{
		st->maxnames *= 2;
		st->names = repalloc(st->names, st->maxnames * sizeof(char *));
		st->lens = repalloc(st->lens, st->maxnames * sizeof(int));
	}
	st->names[st->nnames] = MemoryContextAlloc(st->cxt, len + 1);
	memcpy(st->names[st->nnames], p, len);
	st->names[st->nnames][len] = '\0';
	st->lens[st->nnames] = len;
	return st->last[role] = st->nnames++;
}

/*
 * intern returns the index of a name (a text datum), adding it when new; -1 for
 * NULL. Names are kept in the state's context; a detoasted copy, if any, lives in
 * the caller's (per-row) context.
 */
static int16
intern(JournalState *st, Datum d, bool isnull, int role)
{
	text	   *t;

	if (isnull)
		return -1;
	t = (text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));
	return intern_bytes(st, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), role);
}

/* add_checked adds b to *a, or raises an error on overflow. */
static inline void
add_checked(int64 *a, int64 b)
{
	if (pg_add_s64_overflow(*a, b, a))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sum of journal postings out of range")));
}

static void
corrupt_postings(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt postings array in the journal")));
}

/* legs_add returns a free slot for one more leg (the n-th of st->legs). */
static inline JournalLeg *
legs_add(JournalState *st, int n)
{
	if (n == st->maxlegs)
	{
		if (st->maxlegs >= (int) (MaxAllocSize / sizeof(JournalLeg) / 2))
			corrupt_postings();
		st->maxlegs *= 2;
		st->legs = repalloc(st->legs, st->maxlegs * sizeof(JournalLeg));
	}
	return &st->legs[n];
}

/*
 * read_name reads a text attribute of a posting at data offset *off (the data
 * being dlen bytes at tp), aligned as heap_deform_tuple aligns it, and interns
 * it. A compressed value is decompressed (in the per-row context); an external
 * one cannot be in an array element (arrays hold flattened values) and is an
 * error, like any length that does not fit.
 */
static inline int16
read_name(JournalState *st, const char *tp, uint32 dlen, uint32 *off, int role)
{
	uint32		o = *off;
	const char *p;
	uint32		len;
	uint32		hdr;

	if (o >= dlen)
		corrupt_postings();
	if (tp[o] == 0)				/* not a 1-byte header: padding or an aligned 4-byte header */
		o = INTALIGN(o);
	if (o >= dlen)
		corrupt_postings();
	p = tp + o;
	if (VARATT_IS_1B(p))
	{
		if (VARATT_IS_1B_E(p))
			corrupt_postings();
		len = VARSIZE_1B(p);
		hdr = VARHDRSZ_SHORT;
	}
	else
	{
		uint32		h;

		if (dlen - o < VARHDRSZ)
			corrupt_postings();
		memcpy(&h, p, sizeof(h));
		len = VARSIZE_4B(&h);
		hdr = VARHDRSZ;
	}
	if (len < hdr || len > dlen - o)
		corrupt_postings();
	*off = o + len;
	if (hdr == VARHDRSZ && VARATT_IS_4B_C(p))
	{
		struct varlena *c;
		struct varlena *t;

		if (len < VARHDRSZ_COMPRESSED)
			corrupt_postings();
		c = palloc(len);
		memcpy(c, p, len);
		t = pg_detoast_datum_packed(c);
		return intern_bytes(st, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), role);
	}
	return intern_bytes(st, p + hdr, len - hdr, role);
}

/* read_int8 reads a bigint attribute of a posting at data offset *off. */
static inline int64
read_int8(const char *tp, uint32 dlen, uint32 *off)
{
	uint32		o = DOUBLEALIGN(*off);
	int64		v;

	if (o > dlen || dlen - o < sizeof(int64))
		corrupt_postings();
	memcpy(&v, tp + o, sizeof(v));
	*off = o + sizeof(int64);
	return v;
}

/*
 * read_posting reads one wallet.posting (account text, wallet_id bigint, bucket
 * text, amount bigint) as heap_deform_tuple would, but checking every offset
 * against the size: the tuple is len bytes counting a 4-byte varlena header,
 * data points just past that header (possibly unaligned: every multi-byte read
 * is a memcpy). Attributes beyond the tuple's own count are NULL. Returns false
 * for a NULL amount (the leg is skipped), else fills leg.
 */
static bool
read_posting(JournalState *st, const char *data, uint32 len, JournalLeg *leg)
{
	uint8		hoff;
	uint16		infomask;
	uint16		infomask2;
	int			natts;
	bits8		bits = 0x0F;
	const char *tp;
	uint32		dlen;
	uint32		o = 0;

#define TH(field) (data + offsetof(HeapTupleHeaderData, field) - VARHDRSZ)

	if (len < SizeofHeapTupleHeader)
		corrupt_postings();
	hoff = *(const uint8 *) TH(t_hoff);
	memcpy(&infomask, TH(t_infomask), sizeof(infomask));
	memcpy(&infomask2, TH(t_infomask2), sizeof(infomask2));
	if (hoff < SizeofHeapTupleHeader || hoff > len)
		corrupt_postings();
	natts = infomask2 & HEAP_NATTS_MASK;
	if (infomask & HEAP_HASNULL)
	{
		if (hoff < offsetof(HeapTupleHeaderData, t_bits) + BITMAPLEN(natts))
			corrupt_postings();
		if (natts > 0)
			bits = *(const bits8 *) TH(t_bits);
	}
	if (natts < 4)
		bits &= (1 << natts) - 1;
#undef TH

	tp = data + hoff - VARHDRSZ;
	dlen = len - hoff;
	leg->key.account = (bits & 1) ? read_name(st, tp, dlen, &o, 1) : -1;
	leg->key.wallet_id = (bits & 2) ? read_int8(tp, dlen, &o) : 0;
	leg->key.bucket = (bits & 4) ? read_name(st, tp, dlen, &o, 2) : -1;
	if (!(bits & 8))
		return false;
	leg->amount = read_int8(tp, dlen, &o);
	leg->key.flags = KEY_USED | ((bits & 2) ? 0 : KEY_WALLET_NULL);
	return true;
}

/*
 * read_postings reads the legs of a postings array in place, without copying it
 * or deforming its elements generically: the array is data (size bytes, after its
 * varlena header, so possibly unaligned), its elements wallet.posting tuples.
 * Every offset is checked against the sizes: a corrupt array is an error, never
 * a read out of bounds. Appends the legs (NULL elements and legs with a NULL
 * amount skipped) to st->legs from index first on; returns the new count.
 */
static int
read_postings(JournalState *st, const char *data, uint32 size, int16 cur, int first)
{
	int32		ndim;
	int32		dataoffset;
	Oid			elemtype;
	int64		nitems = 1;
	uint32		total = size + VARHDRSZ;	/* offsets below count the header too */
	uint32		hdrend;
	uint32		off;
	const char *bitmap = NULL;
	int64		i;
	int			n = first;

#define AT(o) (data + ((o) - VARHDRSZ))

	if (size < sizeof(ArrayType) - VARHDRSZ)
		corrupt_postings();
	memcpy(&ndim, AT(offsetof(ArrayType, ndim)), sizeof(ndim));
	memcpy(&dataoffset, AT(offsetof(ArrayType, dataoffset)), sizeof(dataoffset));
	memcpy(&elemtype, AT(offsetof(ArrayType, elemtype)), sizeof(elemtype));
	if (elemtype != st->posting_type)
		elog(ERROR, "postings of different types in one aggregate");
	if (ndim < 0 || ndim > MAXDIM)
		corrupt_postings();
	hdrend = sizeof(ArrayType) + 2 * sizeof(int) * ndim;
	if (hdrend > total)
		corrupt_postings();
	if (ndim == 0)
		return n;
	for (i = 0; i < ndim; i++)
	{
		int32		dim;

		memcpy(&dim, AT(sizeof(ArrayType) + i * sizeof(int)), sizeof(dim));
		if (dim < 0)
			corrupt_postings();
		nitems *= dim;
		if (nitems > (int64) MaxArraySize)
			corrupt_postings();
	}
	if (dataoffset == 0)
		off = ARR_OVERHEAD_NONULLS(ndim);
	else
	{
		if (dataoffset < 0 || (uint32) dataoffset > total ||
			(uint32) dataoffset < hdrend + (uint32) ((nitems + 7) / 8))
			corrupt_postings();
		bitmap = AT(hdrend);
		off = dataoffset;
	}
	if (off > total)
		corrupt_postings();

	for (i = 0; i < nitems; i++)
	{
		const char *p;
		uint32		len;
		JournalLeg *leg;

		if (bitmap && !(bitmap[i / 8] & (1 << (i % 8))))
			continue;
		off = att_align_nominal(off, st->posting_align);
		if (off >= total)
			corrupt_postings();
		p = AT(off);
		leg = legs_add(st, n);
		if (VARATT_IS_1B(p))
		{
			/* a short header (never written so, but readable) */
			if (VARATT_IS_1B_E(p))
				corrupt_postings();
			len = VARSIZE_1B(p);
			if (len < VARHDRSZ_SHORT || len > total - off)
				corrupt_postings();
			off += len;
			if (!read_posting(st, p + VARHDRSZ_SHORT, len - VARHDRSZ_SHORT + VARHDRSZ, leg))
				continue;
		}
		else
		{
			uint32		h;

			if (total - off < VARHDRSZ)
				corrupt_postings();
			memcpy(&h, p, sizeof(h));
			len = VARSIZE_4B(&h);
			if (len < VARHDRSZ || len > total - off)
				corrupt_postings();
			off += len;
			if (VARATT_IS_4B_C(&h))
			{
				/* compressed (never written so either): decompress, then read */
				struct varlena *c;
				struct varlena *t;

				if (len < VARHDRSZ_COMPRESSED)
					corrupt_postings();
				c = palloc(len);
				memcpy(c, p, len);
				t = pg_detoast_datum(c);
				if (!read_posting(st, VARDATA(t), VARSIZE(t), leg))
					continue;
			}
			else if (!read_posting(st, p + VARHDRSZ, len, leg))
				continue;
		}
		leg->key.currency = cur;
		n++;
	}
#undef AT
	return n;
}

/*
 * legs_flush adds the pending legs to their groups, in the order they were read
 * (so a sum overflows exactly where it would leg by leg). The groups are spread
 * over a table far bigger than the CPU caches: each leg's slot is prefetched a
 * few legs ahead rather than waited for.
 */
static void
legs_flush(JournalState *st)
{
	int			n = st->nlegs;
	int			i;

	for (i = 0; i < n; i++)
	{
		st->legs[i].hash = key_hash(&st->legs[i].key);
		if (i < LEGS_PREFETCH)
			prefetch_slot(&st->slots[st->legs[i].hash & st->mask]);
	}
	for (i = 0; i < n; i++)
	{
		JournalLeg *leg = &st->legs[i];
		JournalEntry *e;

		if (i + LEGS_PREFETCH < n)
			prefetch_slot(&st->slots[st->legs[i + LEGS_PREFETCH].hash & st->mask]);
		e = group_find(st, &leg->key, leg->hash);
		add_checked(&e->amount, leg->amount);
	}
	st->nlegs = 0;
}

/*
 * wallet._journal_sums(txn_id, wallet_id, currency, postings) transition:
 * adds one journal row's postings to the groups and remembers the row when its
 * postings do not sum to zero. Legs with a NULL amount are skipped.
 */
Datum
wallet_journal_sums_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	JournalState *st;
	struct varlena *raw;
	int16		cur;
	int64		txn_sum = 0;
	int			first;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "wallet_journal_sums_trans called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : (JournalState *) PG_GETARG_POINTER(0);
	if (st == NULL)
		st = journal_state_new(aggcxt);
	if (PG_ARGISNULL(4))
		PG_RETURN_POINTER(st);

	/* the array where it lies, unless it is compressed or out of line */
	raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(4));
	if (VARATT_IS_EXTERNAL(raw) || VARATT_IS_COMPRESSED(raw))
		raw = pg_detoast_datum_packed(raw);

	if (st->posting_type == InvalidOid)
	{
		MemoryContext old;
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Oid			elemtype;

		if (VARSIZE_ANY_EXHDR(raw) < sizeof(ArrayType) - VARHDRSZ)
			corrupt_postings();
		memcpy(&elemtype, VARDATA_ANY(raw) + offsetof(ArrayType, elemtype) - VARHDRSZ, sizeof(elemtype));
		old = MemoryContextSwitchTo(aggcxt);
		st->posting = lookup_rowtype_tupdesc_copy(elemtype, -1);
		MemoryContextSwitchTo(old);
		if (st->posting->natts != 4 ||
			TupleDescAttr(st->posting, 0)->atttypid != TEXTOID ||
			TupleDescAttr(st->posting, 1)->atttypid != INT8OID ||
			TupleDescAttr(st->posting, 2)->atttypid != TEXTOID ||
			TupleDescAttr(st->posting, 3)->atttypid != INT8OID)
			elog(ERROR, "postings must be (account text, wallet_id bigint, bucket text, amount bigint)");
		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		if (typlen != -1)
			elog(ERROR, "postings must be (account text, wallet_id bigint, bucket text, amount bigint)");
		st->posting_align = typalign;
		st->posting_type = elemtype;
	}

	cur = intern(st, PG_GETARG_DATUM(3), PG_ARGISNULL(3), 0);
	first = st->nlegs;
	st->nlegs = read_postings(st, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), cur, first);
	for (i = first; i < st->nlegs; i++)
		add_checked(&txn_sum, st->legs[i].amount);
	if (st->nlegs >= LEGS_BATCH)
		legs_flush(st);

	if (txn_sum != 0)
	{
		Unbalanced *u;

		if (st->nbad == st->maxbad)
		{
			st->maxbad = st->maxbad ? st->maxbad * 2 : 16;
			st->bad = st->bad ? repalloc(st->bad, st->maxbad * sizeof(Unbalanced))
				: MemoryContextAlloc(aggcxt, st->maxbad * sizeof(Unbalanced));
		}
		u = &st->bad[st->nbad++];
		u->txn_null = PG_ARGISNULL(1);
		u->txn_id = u->txn_null ? 0 : PG_GETARG_INT64(1);
		u->wallet_null = PG_ARGISNULL(2);
		u->wallet_id = u->wallet_null ? 0 : PG_GETARG_INT64(2);
		u->currency = cur;
		u->amount = txn_sum;
	}
	PG_RETURN_POINTER(st);
}

/* name_datum returns an interned name as text, or marks it NULL. */
static Datum
name_datum(JournalState *st, int16 i, bool *isnull)
{
	*isnull = (i < 0);
	return i < 0 ? (Datum) 0 : PointerGetDatum(cstring_to_text_with_len(st->names[i], st->lens[i]));
}

/*
 * wallet._journal_sums final: an array of wallet.journal_sum, one element per
 * group (txn_id NULL; wallet_id, currency, account, bucket of the legs; amount
 * their sum) and one per transaction that does not sum to zero (txn_id, the
 * transaction's wallet_id and currency; account and bucket NULL; amount its sum).
 */
Datum
wallet_journal_sums_final(PG_FUNCTION_ARGS)
{
	JournalState *st = PG_ARGISNULL(0) ? NULL : (JournalState *) PG_GETARG_POINTER(0);
	Oid			elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	TupleDesc	desc;
	Datum	   *elems;
	int			n = 0;
	int64		total;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	uint64		j;
	int			i;

	if (!OidIsValid(elemtype))
		elog(ERROR, "wallet._journal_sums must return an array");
	desc = lookup_rowtype_tupdesc_copy(elemtype, -1);
	BlessTupleDesc(desc);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	if (st == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(elemtype));

	/* the state is not changed but for adding what was read (calling this again gives the same) */
	legs_flush(st);
	total = (int64) st->ngroups + st->nbad;
	if (total > (int64) MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many journal sums for one array")));
	elems = palloc(Max(total, 1) * sizeof(Datum));
	for (j = 0; j <= st->mask; j++)
	{
		JournalEntry *e = &st->slots[j];
		Datum		v[6];
		bool		nl[6];

		if (!(e->key.flags & KEY_USED))
			continue;
		v[0] = (Datum) 0;
		nl[0] = true;
		v[1] = Int64GetDatum(e->key.wallet_id);
		nl[1] = (e->key.flags & KEY_WALLET_NULL) != 0;
		v[2] = name_datum(st, e->key.currency, &nl[2]);
		v[3] = name_datum(st, e->key.account, &nl[3]);
		v[4] = name_datum(st, e->key.bucket, &nl[4]);
		v[5] = Int64GetDatum(e->amount);
		nl[5] = false;
		elems[n++] = HeapTupleGetDatum(heap_form_tuple(desc, v, nl));
	}
	for (i = 0; i < st->nbad; i++)
	{
		Unbalanced *u = &st->bad[i];
		Datum		v[6];
		bool		nl[6] = {u->txn_null, u->wallet_null, false, true, true, false};

		v[0] = Int64GetDatum(u->txn_id);
		v[1] = Int64GetDatum(u->wallet_id);
		v[2] = name_datum(st, u->currency, &nl[2]);
		v[3] = v[4] = (Datum) 0;
		v[5] = Int64GetDatum(u->amount);
		elems[n++] = HeapTupleGetDatum(heap_form_tuple(desc, v, nl));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, elemtype, typlen, typbyval, typalign));
}
