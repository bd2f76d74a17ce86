/*
 * coupon.c
 *	  Coupon codes: 17 symbols from the server's strong random source (84 bits)
 *	  in an alphabet without look-alike characters, plus a check symbol that
 *	  tells a mistyped code from an unknown one. Printed in groups of six.
 */
#include "wallet.h"

#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(wallet_coupon_code_new);
PG_FUNCTION_INFO_V1(wallet_coupon_code_check);

/*
 * 31 symbols: digits 2-9 and letters without I, L and O (no 0/O, 1/I/L). 31 is
 * prime, so a check symbol weighted by position catches every single wrong
 * symbol and every swap of two neighbours.
 */
static const char alphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

#define NSYMBOLS 31
#define CODE_RANDOM 17			/* 17 * log2(31) = 84.2 bits */
#define CODE_LEN (CODE_RANDOM + 1)
#define GROUP 6

/* symbol_value returns a symbol's value, or -1 if it is not in the alphabet. */
static int
symbol_value(char c)
{
	const char *p;

	if (c >= 'a' && c <= 'z')
		c = c - 'a' + 'A';
	p = strchr(alphabet, c);
	return (c != '\0' && p != NULL) ? (int) (p - alphabet) : -1;
}

/* check_symbol computes the check value of n symbol values (weights 1..n). */
static int
check_value(const int *v, int n)
{
	int			sum = 0;

	for (int i = 0; i < n; i++)
		sum = (sum + (i + 1) * v[i]) % NSYMBOLS;
	return (NSYMBOLS - sum) % NSYMBOLS;
}

/* format_code writes the 18 symbols as XXXXXX-XXXXXX-XXXXXX. */
static text *
format_code(const int *v)
{
	char		buf[CODE_LEN + CODE_LEN / GROUP + 1];
	int			k = 0;

	for (int i = 0; i < CODE_LEN; i++)
	{
		if (i > 0 && i % GROUP == 0)
			buf[k++] = '-';
		buf[k++] = alphabet[v[i]];
	}
	buf[k] = '\0';
	return cstring_to_text(buf);
}

/* coupon_code_new returns a fresh code with its check symbol. */
text *
coupon_code_new(void)
{
	int			v[CODE_LEN];
	int			n = 0;

	/* rejection sampling keeps every symbol uniform: 248 = 8 * 31 */
	while (n < CODE_RANDOM)
	{
		uint8		bytes[32];

		if (!pg_strong_random(bytes, sizeof(bytes)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random coupon code")));
		for (int i = 0; i < (int) sizeof(bytes) && n < CODE_RANDOM; i++)
			if (bytes[i] < 248)
				v[n++] = bytes[i] % NSYMBOLS;
	}
	v[CODE_RANDOM] = check_value(v, CODE_RANDOM);
	return format_code(v);
}

/* wallet.coupon_code_new() returns a fresh code with its check symbol (coupon_code_new). */
Datum
wallet_coupon_code_new(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(coupon_code_new());
}

/*
 * coupon_code_canonical returns a code (s, len bytes) in canonical form
 * (upper case, grouped) when it is well formed with a right check symbol, and
 * NULL when it is mistyped: a wrong length, a symbol outside the alphabet, or
 * a wrong check symbol. Spaces and hyphens are ignored; case does not matter.
 */
text *
coupon_code_canonical(const char *s, int len)
{
	int			v[CODE_LEN];
	int			n = 0;

	for (int i = 0; i < len; i++)
	{
		int			x;

		if (s[i] == '-' || s[i] == ' ')
			continue;
		if (n == CODE_LEN)
			return NULL;
		x = symbol_value(s[i]);
		if (x < 0)
			return NULL;
		v[n++] = x;
	}
	if (n != CODE_LEN || check_value(v, CODE_RANDOM) != v[CODE_RANDOM])
		return NULL;
	return format_code(v);
}

/* wallet.coupon_code_check(code text) is coupon_code_canonical, NULL when mistyped. */
Datum
wallet_coupon_code_check(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	text	   *canonical = coupon_code_canonical(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

	if (canonical == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(canonical);
}
