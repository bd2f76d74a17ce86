/*
 * shim.h
 *	  What the fuzz targets need from test/fuzz/shim.c: the per-iteration
 *	  allocation arena, ERROR caught as a longjmp ("clean rejection"), and
 *	  helpers to call the extension's fmgr functions outside the server.
 */
#ifndef WALLET_FUZZ_SHIM_H
#define WALLET_FUZZ_SHIM_H

#include "postgres.h"
#include "fmgr.h"

/* shim_call runs fn(arg); returns 0, or the SQLSTATE (MAKE_SQLSTATE form) of the ERROR it raised. */
extern int	shim_call(void (*fn) (void *), void *arg);

/* Message of the last ERROR caught by shim_call. */
extern const char *shim_errmsg(void);

/* shim_sqlstate writes code as five characters into buf[6]. */
extern const char *shim_sqlstate(int code, char *buf);

/* shim_reset frees everything palloc'd since the last reset. */
extern void shim_reset(void);

/* Number of live palloc'd blocks (for leak checks inside one iteration). */
extern long shim_live_blocks(void);

/*
 * shim_fail reports a property violation (not a clean rejection) and aborts,
 * so libFuzzer saves the input as a crash.
 */
extern void shim_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* Text that the numeric_out stub returns (see fuzz_money.c); NULL = not set. */
extern const char *shim_numeric_text;

/* The composite result of a function called through shim_fmgr(). */
typedef struct ShimTuple
{
	int			natts;
	Datum		values[16];
	bool		isnull[16];
} ShimTuple;

/*
 * shim_fmgr calls a V1 function with nargs arguments (nulls may be NULL); a
 * composite result is returned as a ShimTuple pointer (natts says how many
 * result columns to expect, 0 for a scalar). rows (for set-returning
 * functions) receives the number of rows they emitted.
 */
extern Datum shim_fmgr(PGFunction fn, int nargs, const Datum *args, const bool *nulls, int natts,
					   long *rows);

/* shim_fmgr for a function that may return NULL (sets *isnull). */
extern Datum shim_fmgr_nullable(PGFunction fn, int nargs, const Datum *args, bool *isnull);

/*
 * Bytes pg_strong_random hands out (then a fixed pseudo-random sequence);
 * shim_random_fail makes it report failure.
 */
extern const uint8 *shim_random_bytes;
extern size_t shim_random_len;
extern bool shim_random_fail;

/* cstring_to_text and text_to_cstring as the backend has them. */
extern text *cstring_to_text(const char *s);
extern char *text_to_cstring(const text *t);

#endif
