/*
 * fuzz_money.c
 *	  libFuzzer target: the amount parser numeric_to_minor (src/money.c).
 *
 * numeric_to_minor works on the text numeric_out prints for the amount. The
 * backend's numeric code cannot be linked here, so the shim's numeric_out
 * returns the fuzz text instead (and numeric_is_nan / numeric_is_inf read
 * it): the parser sees exactly what it would see for a numeric that prints
 * that way. Input: one byte for the currency exponent, then the text.
 *
 * Every text must give 22023 or a value; no other error, no crash. When the
 * text is one numeric_out can print (-?digits[.digits], NaN, Infinity,
 * -Infinity, no leading zeros), the result must match an exact decimal
 * oracle: refused (22023, naming the argument) when NaN or infinite, not
 * above zero, with more decimals than the exponent, or above 10^15 minor
 * units; else exactly value * 10^exponent.
 */
#include "common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct MoneyCall
{
	int			exponent;
	int64		result;
} MoneyCall;

static void
call_to_minor(void *arg)
{
	MoneyCall  *c = arg;
	Numeric		dummy = palloc0(16);	/* never read: the stubs use the text */

	c->result = numeric_to_minor(dummy, c->exponent, "amount");
}

/*
 * oracle returns true and sets *expect when text (numeric_out's grammar) is
 * accepted, false when it must be refused; *grammar says whether text is in
 * that grammar at all.
 */
static bool
oracle(const char *text, int exponent, int64 *expect, bool *grammar)
{
	const char *p = text;
	bool		neg = false;
	const char *ip,
			   *fp = NULL;
	int			ilen = 0,
				flen = 0;
	char		digits[64];
	int			n = 0;

	*grammar = false;
	if (strcmp(text, "NaN") == 0 || strcmp(text, "Infinity") == 0 || strcmp(text, "-Infinity") == 0)
	{
		*grammar = true;
		return false;
	}
	if (*p == '-')
		neg = true, p++;
	ip = p;
	while (*p >= '0' && *p <= '9')
		p++, ilen++;
	if (ilen == 0 || (ilen > 1 && ip[0] == '0'))
		return false;
	if (*p == '.')
	{
		fp = ++p;
		while (*p >= '0' && *p <= '9')
			p++, flen++;
		if (flen == 0)
			return false;
	}
	if (*p != '\0')
		return false;
	*grammar = true;

	if (exponent < 0 || exponent > 6)
		return false;
	/* decimals that count: up to the last non-zero one */
	while (flen > 0 && fp[flen - 1] == '0')
		flen--;
	if (flen > exponent)
		return false;
	/* minor units as a digit string without leading zeros */
	for (int i = 0; i < ilen; i++)
		if (n > 0 || ip[i] != '0')
		{
			if (n >= 20)
				return false;	/* far above 10^15 */
			digits[n++] = ip[i];
		}
	for (int i = 0; i < exponent; i++)
	{
		char		d = i < flen ? fp[i] : '0';

		if (n > 0 || d != '0')
		{
			if (n >= 20)
				return false;
			digits[n++] = d;
		}
	}
	digits[n] = '\0';
	if (n == 0 || neg)
		return false;			/* zero, or below zero */
	if (n > 16 || (n == 16 && strcmp(digits, "1000000000000000") > 0))
		return false;			/* above 10^15 minor units */
	*expect = strtoll(digits, NULL, 10);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MoneyCall	c;
	char	   *text;
	int			code;
	int64		expect = 0;
	bool		grammar;
	bool		ok;
	char		st[6];

	if (size < 1 || memchr(data + 1, '\0', size - 1) != NULL || size > 4096)
		return -1;
	/* mostly 0..6; 240..255 give -5..10 */
	c.exponent = data[0] < 240 ? data[0] % 7 : data[0] - 245;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	shim_numeric_text = text;

	code = shim_call(call_to_minor, &c);
	if (code != 0 && code != ERRCODE_INVALID_PARAMETER_VALUE)
		shim_fail("numeric_to_minor(\"%s\", %d) failed with %s: %s", text, c.exponent,
				  shim_sqlstate(code, st), shim_errmsg());
	ok = oracle(text, c.exponent, &expect, &grammar);
	/* text numeric_out cannot print may give any value: only memory safety counts there */
	if (grammar)
	{
		if (code == 0 && (c.result <= 0 || c.result > WALLET_MAX_MINOR))
			shim_fail("numeric_to_minor(\"%s\", %d) = " INT64_FORMAT ", outside 1..10^15", text, c.exponent,
					  c.result);
		if (ok && code != 0)
			shim_fail("numeric_to_minor(\"%s\", %d) refused (%s), expected " INT64_FORMAT, text,
					  c.exponent, shim_errmsg(), expect);
		if (!ok && code == 0)
			shim_fail("numeric_to_minor(\"%s\", %d) = " INT64_FORMAT ", expected a refusal", text,
					  c.exponent, c.result);
		if (ok && c.result != expect)
			shim_fail("numeric_to_minor(\"%s\", %d) = " INT64_FORMAT ", expected " INT64_FORMAT, text,
					  c.exponent, c.result, expect);
		/* a refused amount names the argument (CONTRACT section 1) */
		if (!ok && c.exponent >= 0 && c.exponent <= 6 && strstr(shim_errmsg(), "amount") == NULL)
			shim_fail("refusal of \"%s\" does not name the argument: %s", text, shim_errmsg());
	}
	if (getenv("WALLET_FUZZ_VERBOSE"))
		fprintf(stderr, "\"%s\" exp %d -> %s " INT64_FORMAT " (grammar %d)\n", text, c.exponent,
				code ? shim_sqlstate(code, st) : "ok", code ? 0 : c.result, grammar);
	shim_numeric_text = NULL;
	free(text);
	shim_reset();
	return 0;
}
