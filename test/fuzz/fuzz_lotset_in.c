/*
 * fuzz_lotset_in.c
 *	  libFuzzer target: wallet.lotset text input (lotset_in).
 *
 * Every input is what a client could send as a literal: NUL-free UTF-8
 * (anything else is not kept in the corpus). It must be refused with
 * 22P02 (malformed) or 54000 (too many lots), or accepted as a value that is
 * well formed and survives text -> value -> text -> value and send -> recv
 * unchanged.
 */
#include "common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text;
	LotSet	   *v;
	int			code;
	char		st[6];

	if (!valid_utf8(data, size))
		return -1;				/* a server never passes this to lotset_in */
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	code = ls_in(text, &v);
	if (getenv("WALLET_FUZZ_VERBOSE"))
		fprintf(stderr, "%s -> %s\n", text, code ? shim_sqlstate(code, st) : ls_out(v));
	if (code == SQLSTATE_OK)
	{
		check_value(v);
		roundtrip(v);
	}
	else if (code != ERRCODE_INVALID_TEXT_REPRESENTATION && code != ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		shim_fail("lotset_in refused with %s (%s), expected 22P02 or 54000", shim_sqlstate(code, st),
				  shim_errmsg());
	free(text);
	shim_reset();
	return 0;
}
