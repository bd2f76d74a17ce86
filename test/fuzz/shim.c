/*
 * shim.c
 *	  What the backend provides to src/lotset/*.c, src/money.c and src/engine/*.c,
 *	  re-implemented so they run in a libFuzzer process outside the server:
 *	  palloc (malloc'd blocks freed together at the end of each input),
 *	  ereport (ERROR becomes a longjmp back to shim_call: a clean rejection),
 *	  the UTC timestamp arithmetic, the pq_* binary helpers, text helpers and
 *	  just enough of funcapi to form composite results.
 *
 * StringInfo, pg_snprintf and qsort_arg come from libpgcommon.a / libpgport.a
 * (the frontend builds shipped in /usr/lib/postgresql/15/lib). Everything here
 * is written for this harness; where the backend's behaviour matters (the
 * calendar, the pq_getmsg* limits, error codes) it is written to match it, and
 * run.sh checks the calendar against known dates before fuzzing.
 */
#include "postgres.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "shim.h"

/* Interrupts: the fuzz driver never raises one, so CHECK_FOR_INTERRUPTS() is a no-op. */
volatile sig_atomic_t InterruptPending = false;

void
ProcessInterrupts(void)
{
}

/* state of the ERROR being raised (see errstart) */
static sigjmp_buf *error_jmp;
static int	err_level;
static int	err_code;
static char err_message[1024];
static char err_detail[1024];

/* ---- palloc: an arena of malloc'd blocks, so ASan sees every overrun ---- */

static void **blocks;
static long nblocks;
static long cap_blocks;

static void
track(void *p)
{
	if (nblocks == cap_blocks)
	{
		cap_blocks = cap_blocks ? cap_blocks * 2 : 1024;
		blocks = realloc(blocks, sizeof(void *) * cap_blocks);
		if (blocks == NULL)
			abort();
	}
	blocks[nblocks++] = p;
}

/* untrack forgets p and returns its slot, searching from the newest block. */
static long
find_block(void *p)
{
	for (long i = nblocks - 1; i >= 0; i--)
		if (blocks[i] == p)
			return i;
	shim_fail("pfree/repalloc of a pointer palloc did not return (%p)", p);
}

static void *
shim_alloc(Size size, bool zero)
{
	void	   *p;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	p = zero ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
	if (p == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	track(p);
	return p;
}

void *
palloc(Size size)
{
	return shim_alloc(size, false);
}

void *
palloc0(Size size)
{
	return shim_alloc(size, true);
}

void *
palloc_extended(Size size, int flags)
{
	return shim_alloc(size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void *
repalloc(void *pointer, Size size)
{
	long		i = find_block(pointer);
	void	   *p;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	p = realloc(pointer, size ? size : 1);
	if (p == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	blocks[i] = p;
	return p;
}

void
pfree(void *pointer)
{
	long		i = find_block(pointer);

	free(pointer);
	blocks[i] = blocks[--nblocks];
}

char *
pstrdup(const char *in)
{
	size_t		n = strlen(in);
	char	   *p = palloc(n + 1);

	memcpy(p, in, n + 1);
	return p;
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *p;

	len = strnlen(in, len);
	p = palloc(len + 1);
	memcpy(p, in, len);
	p[len] = '\0';
	return p;
}

void
shim_reset(void)
{
	for (long i = 0; i < nblocks; i++)
		free(blocks[i]);
	nblocks = 0;
	err_message[0] = '\0';
	err_detail[0] = '\0';
}

long
shim_live_blocks(void)
{
	return nblocks;
}

/* ---- ereport: ERROR longjmps to the innermost shim_call ---- */


bool
errstart(int elevel, const char *domain)
{
	if (elevel < ERROR)
		return false;			/* WARNING, NOTICE, ...: nothing to do */
	err_level = elevel;
	err_code = ERRCODE_INTERNAL_ERROR;	/* the backend's default for ERROR */
	err_message[0] = '\0';
	err_detail[0] = '\0';
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

int
errcode(int sqlerrcode)
{
	err_code = sqlerrcode;
	return 0;
}

#define FORMAT_INTO(buf, fmt) \
	do { \
		va_list		ap_; \
		va_start(ap_, fmt); \
		pg_vsnprintf(buf, sizeof(buf), fmt, ap_); \
		va_end(ap_); \
	} while (0)

int
errmsg(const char *fmt,...)
{
	FORMAT_INTO(err_message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	FORMAT_INTO(err_message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	FORMAT_INTO(err_detail, fmt);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	FORMAT_INTO(err_detail, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (err_level >= FATAL)
		shim_fail("FATAL/PANIC at %s:%d (%s): %s", filename, lineno, funcname, err_message);
	if (error_jmp == NULL)
		shim_fail("ERROR outside shim_call at %s:%d (%s): %s", filename, lineno, funcname, err_message);
	siglongjmp(*error_jmp, 1);
}

void
ExceptionalCondition(const char *conditionName, const char *errorType,
					 const char *fileName, int lineNumber)
{
	shim_fail("assertion %s (%s) failed at %s:%d", conditionName, errorType, fileName, lineNumber);
}

int
shim_call(void (*fn) (void *), void *arg)
{
	sigjmp_buf	jb;
	sigjmp_buf *volatile saved = error_jmp;

	if (sigsetjmp(jb, 0) == 0)
	{
		error_jmp = &jb;
		fn(arg);
		error_jmp = saved;
		return 0;
	}
	error_jmp = saved;
	return err_code;
}

const char *
shim_errmsg(void)
{
	return err_message;
}

const char *
shim_sqlstate(int code, char *buf)
{
	for (int i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(code);
		code >>= 6;
	}
	buf[5] = '\0';
	return buf;
}

void
shim_fail(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "\n*** wallet fuzz: property violated: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (err_message[0])
		fprintf(stderr, "*** last ERROR raised for this input: %s (%s)\n", err_message, err_detail);
	abort();
}

/* ---- calendar: UTC only, as src/lotset/ asks for (no time zone argument) ---- */

const int	day_tab[2][13] =
{
	{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0},
	{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0}
};

/*
 * date2j returns the Julian day number of a proleptic Gregorian date (the
 * backend's convention: date2j(2000, 1, 1) = 2451545). Days are counted from
 * 1 March of year y + 4800 (so that February is the last month of a
 * "year"): 365 a year, the leap days, and 153 days per 5 months.
 */
int
date2j(int y, int m, int d)
{
	int64		yy = (int64) y + 4800 - (m <= 2 ? 1 : 0);
	int64		mm = m <= 2 ? m + 9 : m - 3;	/* March = 0 */
	int64		days;

	days = yy * 365 + yy / 4 - yy / 100 + yy / 400 + (153 * mm + 2) / 5 + d - 32045;
	return (int) days;
}

/* j2date inverts date2j for Julian day numbers >= 0. */
void
j2date(int jd, int *year, int *month, int *day)
{
	int64		a = (int64) jd + 32044;
	int64		b = (4 * a + 3) / 146097;
	int64		c = a - 146097 * b / 4;
	int64		d = (4 * c + 3) / 1461;
	int64		e = c - 1461 * d / 4;
	int64		m = (5 * e + 2) / 153;

	*day = (int) (e - (153 * m + 2) / 5 + 1);
	*month = (int) (m + 3 - 12 * (m / 10));
	*year = (int) (100 * b + d - 4800 + m / 10);
}

/* timestamp2tm, without time zone conversion (tzp and attimezone NULL only). */
int
timestamp2tm(Timestamp dt, int *tzp, struct pg_tm *tm, fsec_t *fsec, const char **tzn,
			 pg_tz *attimezone)
{
	Timestamp	date;
	Timestamp	time;

	if (tzp != NULL || attimezone != NULL)
		shim_fail("timestamp2tm: the shim does no time zone conversion");
	date = dt / USECS_PER_DAY;
	time = dt - date * USECS_PER_DAY;
	if (time < 0)
	{
		time += USECS_PER_DAY;
		date -= 1;
	}
	date += POSTGRES_EPOCH_JDATE;
	if (date < 0 || date > (Timestamp) INT_MAX)
		return -1;
	j2date((int) date, &tm->tm_year, &tm->tm_mon, &tm->tm_mday);
	tm->tm_hour = (int) (time / USECS_PER_HOUR);
	time -= tm->tm_hour * USECS_PER_HOUR;
	tm->tm_min = (int) (time / USECS_PER_MINUTE);
	time -= tm->tm_min * USECS_PER_MINUTE;
	tm->tm_sec = (int) (time / USECS_PER_SEC);
	*fsec = (fsec_t) (time - tm->tm_sec * USECS_PER_SEC);
	tm->tm_isdst = -1;
	tm->tm_gmtoff = 0;
	tm->tm_zone = NULL;
	if (tzn)
		*tzn = NULL;
	return 0;
}

/* tm2timestamp, with the backend's range checks; *tzp is seconds west of UTC. */
int
tm2timestamp(struct pg_tm *tm, fsec_t fsec, int *tzp, Timestamp *result)
{
	int64		date;
	int64		time;

	*result = 0;
	if (!IS_VALID_JULIAN(tm->tm_year, tm->tm_mon, tm->tm_mday))
		return -1;
	date = (int64) date2j(tm->tm_year, tm->tm_mon, tm->tm_mday) - POSTGRES_EPOCH_JDATE;
	time = (((((int64) tm->tm_hour * MINS_PER_HOUR) + tm->tm_min) * SECS_PER_MINUTE) + tm->tm_sec)
		* USECS_PER_SEC + fsec;
	if (__builtin_mul_overflow(date, USECS_PER_DAY, result) ||
		__builtin_add_overflow(*result, time, result))
	{
		*result = 0;
		return -1;
	}
	if (tzp != NULL)
		*result += (int64) (*tzp) * USECS_PER_SEC;
	if (!IS_VALID_TIMESTAMP(*result))
	{
		*result = 0;
		return -1;
	}
	return 0;
}

/* ---- pq_* binary helpers (the backend's limits and error codes) ---- */

void
pq_begintypsend(StringInfo buf)
{
	initStringInfo(buf);
	appendBinaryStringInfo(buf, "\0\0\0\0", 4);	/* room for the varlena header */
}

bytea *
pq_endtypsend(StringInfo buf)
{
	bytea	   *result = (bytea *) buf->data;

	SET_VARSIZE(result, buf->len);
	return result;
}

void
pq_sendbytes(StringInfo buf, const char *data, int datalen)
{
	appendBinaryStringInfo(buf, data, datalen);
}

static void
copy_bytes(StringInfo msg, char *buf, int datalen)
{
	if (datalen < 0 || datalen > (msg->len - msg->cursor))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("insufficient data left in message")));
	memcpy(buf, &msg->data[msg->cursor], datalen);
	msg->cursor += datalen;
}

int
pq_getmsgbyte(StringInfo msg)
{
	if (msg->cursor >= msg->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("no data left in message")));
	return (unsigned char) msg->data[msg->cursor++];
}

unsigned int
pq_getmsgint(StringInfo msg, int b)
{
	uint8		n8;
	uint16		n16;
	uint32		n32;

	switch (b)
	{
		case 1:
			copy_bytes(msg, (char *) &n8, 1);
			return n8;
		case 2:
			copy_bytes(msg, (char *) &n16, 2);
			return pg_ntoh16(n16);
		case 4:
			copy_bytes(msg, (char *) &n32, 4);
			return pg_ntoh32(n32);
		default:
			elog(ERROR, "unsupported integer size %d", b);
	}
	return 0;
}

int64
pq_getmsgint64(StringInfo msg)
{
	uint64		n64;

	copy_bytes(msg, (char *) &n64, 8);
	return (int64) pg_ntoh64(n64);
}

const char *
pq_getmsgbytes(StringInfo msg, int datalen)
{
	const char *result;

	if (datalen < 0 || datalen > (msg->len - msg->cursor))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("insufficient data left in message")));
	result = &msg->data[msg->cursor];
	msg->cursor += datalen;
	return result;
}

/* ---- varlena and text ---- */

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (VARATT_IS_EXTENDED(datum))
		shim_fail("the shim cannot detoast (a value with a short or external header)");
	return datum;
}

struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	if (VARATT_IS_COMPRESSED(datum) || VARATT_IS_EXTERNAL(datum))
		shim_fail("the shim cannot detoast (a compressed or external value)");
	return datum;
}

text *
cstring_to_text(const char *s)
{
	size_t		len = strlen(s);
	text	   *t = palloc(VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), s, len);
	return t;
}

char *
text_to_cstring(const text *t)
{
	text	   *tunpacked = pg_detoast_datum_packed(unconstify(text *, t));
	int			len = VARSIZE_ANY_EXHDR(tunpacked);
	char	   *result = palloc(len + 1);

	memcpy(result, VARDATA_ANY(tunpacked), len);
	result[len] = '\0';
	return result;
}

/* ---- fmgr and composite results ---- */

static int	result_natts;
static long srf_rows;

TypeFuncClass
get_call_result_type(FunctionCallInfo fcinfo, Oid *resultTypeId, TupleDesc *resultTupleDesc)
{
	TupleDesc	td;

	if (result_natts <= 0)
		shim_fail("a function formed a composite result but the harness expected a scalar");
	td = palloc0(offsetof(TupleDescData, attrs));
	td->natts = result_natts;
	if (resultTypeId)
		*resultTypeId = RECORDOID;
	if (resultTupleDesc)
		*resultTupleDesc = td;
	return TYPEFUNC_COMPOSITE;
}

TupleDesc
BlessTupleDesc(TupleDesc tupdesc)
{
	return tupdesc;
}

/* pure functions return OUT columns (RECORDOID): the type cache is never asked */
TupleDesc
lookup_rowtype_tupdesc(Oid type_id, int32 typmod)
{
	(void) type_id;
	(void) typmod;
	shim_fail("a pure function looked up a named row type");
	return NULL;
}

void
DecrTupleDescRefCount(TupleDesc tupdesc)
{
	(void) tupdesc;
	shim_fail("a pure function released a type cache row type");
}

/* the harness calls functions without an FmgrInfo: nothing is kept across calls */
MemoryContext CurrentMemoryContext = NULL;
MemoryContext TopMemoryContext = NULL;

TupleDesc
CreateTupleDescCopy(TupleDesc tupdesc)
{
	TupleDesc	td = palloc0(offsetof(TupleDescData, attrs));

	td->natts = tupdesc->natts;
	return td;
}

HeapTuple
heap_form_tuple(TupleDesc tupleDescriptor, Datum *values, bool *isnull)
{
	HeapTuple	tup = palloc0(sizeof(HeapTupleData));
	ShimTuple  *st = palloc0(sizeof(ShimTuple));

	if (tupleDescriptor->natts > (int) lengthof(st->values))
		shim_fail("too many result columns");
	st->natts = tupleDescriptor->natts;
	memcpy(st->values, values, sizeof(Datum) * st->natts);
	memcpy(st->isnull, isnull, sizeof(bool) * st->natts);
	tup->t_data = (HeapTupleHeader) st;
	return tup;
}

Datum
HeapTupleHeaderGetDatum(HeapTupleHeader tuple)
{
	return PointerGetDatum(tuple);
}

void
InitMaterializedSRF(FunctionCallInfo fcinfo, bits32 flags)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (rsinfo == NULL)
		shim_fail("set-returning function called without a ReturnSetInfo");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = NULL;
	rsinfo->setDesc = NULL;
}

void
tuplestore_putvalues(Tuplestorestate *state, TupleDesc tdesc, Datum *values, bool *isnull)
{
	srf_rows++;
}

ArrayType *
construct_array(Datum *elems, int nelems, Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	/* only lots_list builds arrays (of scope names): check them and return a stand-in */
	ArrayType  *a = palloc0(sizeof(ArrayType));

	for (int i = 0; i < nelems; i++)
	{
		text	   *t = (text *) DatumGetPointer(elems[i]);

		if (VARSIZE_ANY_EXHDR(t) == 0)
			shim_fail("lots_list made an empty scope element");
	}
	SET_VARSIZE(a, sizeof(ArrayType));
	a->ndim = 1;
	a->elemtype = elmtype;
	return a;
}

void
deconstruct_array(ArrayType *array, Oid elmtype, int elmlen, bool elmbyval, char elmalign,
				  Datum **elemsp, bool **nullsp, int *nelemsp)
{
	shim_fail("deconstruct_array is not available in the fuzz shim");
}

Datum
shim_fmgr(PGFunction fn, int nargs, const Datum *args, const bool *nulls, int natts, long *rows)
{
	LOCAL_FCINFO(fcinfo, 8);
	ReturnSetInfo rsinfo;
	Datum		result;

	if (nargs > 8)
		shim_fail("shim_fmgr: too many arguments");
	InitFunctionCallInfoData(*fcinfo, NULL, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls ? nulls[i] : false;
	}
	memset(&rsinfo, 0, sizeof(rsinfo));
	rsinfo.type = T_ReturnSetInfo;
	if (rows)
	{
		fcinfo->resultinfo = (Node *) &rsinfo;
		srf_rows = 0;
	}
	result_natts = natts;
	result = fn(fcinfo);
	result_natts = 0;
	if (rows)
		*rows = srf_rows;
	else if (fcinfo->isnull)
		elog(ERROR, "function returned NULL");
	return result;
}

Datum
shim_fmgr_nullable(PGFunction fn, int nargs, const Datum *args, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 8);
	Datum		result;

	if (nargs > 8)
		shim_fail("shim_fmgr_nullable: too many arguments");
	InitFunctionCallInfoData(*fcinfo, NULL, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = false;
	}
	result = fn(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/* ---- pg_strong_random: the harness's bytes, then xorshift ---- */

const uint8 *shim_random_bytes = NULL;
size_t		shim_random_len = 0;
bool		shim_random_fail = false;

bool
pg_strong_random(void *buf, size_t len)
{
	static uint64 x = 88172645463325252ULL;
	uint8	   *out = buf;

	if (shim_random_fail)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (shim_random_len > 0)
		{
			out[i] = *shim_random_bytes++;
			shim_random_len--;
			continue;
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (uint8) x;
	}
	return true;
}

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	Datum		a[1] = {arg1};

	return shim_fmgr(func, 1, a, NULL, 0, NULL);
}

Datum
DirectFunctionCall2Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2)
{
	Datum		a[2] = {arg1, arg2};

	return shim_fmgr(func, 2, a, NULL, 0, NULL);
}

Datum
DirectFunctionCall3Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2, Datum arg3)
{
	Datum		a[3] = {arg1, arg2, arg3};

	return shim_fmgr(func, 3, a, NULL, 0, NULL);
}

/* ---- numeric: only what numeric_to_minor needs, driven by shim_numeric_text ---- */

const char *shim_numeric_text = NULL;

static const char *
numeric_text(void)
{
	if (shim_numeric_text == NULL)
		shim_fail("numeric function called but the harness set no numeric text");
	return shim_numeric_text;
}

/* numeric_out returns the harness's text (what the backend would print for the value). */
Datum
numeric_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(pstrdup(numeric_text()));
}

bool
numeric_is_nan(Numeric num)
{
	return strcmp(numeric_text(), "NaN") == 0;
}

bool
numeric_is_inf(Numeric num)
{
	return strcmp(numeric_text(), "Infinity") == 0 || strcmp(numeric_text(), "-Infinity") == 0;
}

#define NOT_IN_SHIM(name) \
	Datum name(PG_FUNCTION_ARGS); \
	Datum name(PG_FUNCTION_ARGS) { shim_fail(#name " is not available in the fuzz shim"); }

NOT_IN_SHIM(numeric_in)
NOT_IN_SHIM(numeric_int8)
NOT_IN_SHIM(numeric_lt)
NOT_IN_SHIM(numeric_mul)
NOT_IN_SHIM(numeric_round)
NOT_IN_SHIM(int8_numeric)
/* the refund fee rate and the auto-approval compare (engine/refund.c), not fuzzed */
NOT_IN_SHIM(numeric_add)
NOT_IN_SHIM(numeric_gt)
NOT_IN_SHIM(numeric_le)
NOT_IN_SHIM(numeric_floor)
/* a coupon's percentage (engine/discount.c), not fuzzed */
NOT_IN_SHIM(numeric_div)
/* a card's rate and market weighting (engine/cards.c), not fuzzed */
NOT_IN_SHIM(numeric_sub)
NOT_IN_SHIM(numeric_cmp)

Numeric
int64_to_numeric(int64 val)
{
	(void) val;
	shim_fail("int64_to_numeric is not available in the fuzz shim");
}

Numeric
int64_div_fast_to_numeric(int64 val1, int log10val2)
{
	(void) val1;
	(void) log10val2;
	shim_fail("int64_div_fast_to_numeric is not available in the fuzz shim");
}
