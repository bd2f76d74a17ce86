/*
 * fuzz_lotset_recv.c
 *	  libFuzzer target: wallet.lotset binary input (lotset_recv), as COPY
 *	  (FORMAT binary) or a binary bind parameter would call it.
 *
 * Any bytes must be refused with 22P03 (invalid binary representation),
 * 08P01 (the message ran short) or 22P02 (a field out of range, reported by
 * the shared validation), or accepted as a well-formed value that survives
 * send -> recv and out -> in unchanged (pg_dump writes the text form).
 */
#include "common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LotSet	   *v;
	int			code;
	char		st[6];

	if (size > 1 << 20)
		return -1;
	code = ls_recv((const char *) data, (int) size, &v);
	if (getenv("WALLET_FUZZ_VERBOSE"))
		fprintf(stderr, "%zu bytes -> %s %s\n", size, code ? shim_sqlstate(code, st) : ls_out(v),
				code ? shim_errmsg() : "");
	if (code == SQLSTATE_OK)
	{
		check_value(v);
		roundtrip(v);
	}
	else if (code != ERRCODE_INVALID_BINARY_REPRESENTATION && code != ERRCODE_PROTOCOL_VIOLATION &&
			 code != ERRCODE_INVALID_TEXT_REPRESENTATION)
		shim_fail("lotset_recv refused with %s (%s)", shim_sqlstate(code, st), shim_errmsg());
	shim_reset();
	return 0;
}
