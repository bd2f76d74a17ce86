/*
 * fuzz_coupon.c
 *	  libFuzzer target: coupon codes (src/coupon.c), typed by customers.
 *
 * Input: one flag byte, then either the bytes pg_strong_random hands to
 * coupon_code_new (flag bit 0) or a code as a customer might type it.
 *  - coupon_code_check(text) returns the canonical code exactly when the text,
 *    ignoring '-' and ' ' and case, is 18 symbols of the alphabet whose check
 *    symbol is right (an independent re-computation decides), and NULL else;
 *    the canonical code checks to itself.
 *  - coupon_code_new() gives XXXXXX-XXXXXX-XXXXXX in the alphabet, which
 *    checks to itself; every single wrong symbol and every swap of two
 *    different neighbours is told apart (checks to NULL); and a failing
 *    random source is an ERROR, not a weak code.
 */
#include "common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern Datum wallet_coupon_code_new(PG_FUNCTION_ARGS);
extern Datum wallet_coupon_code_check(PG_FUNCTION_ARGS);

static const char alphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

typedef struct CouponCall
{
	const char *in;				/* NULL: coupon_code_new */
	bool		isnull;
	char	   *out;
} CouponCall;

static void
do_coupon(void *arg)
{
	CouponCall *c = arg;
	Datum		a[1];
	Datum		r;

	if (c->in == NULL)
		r = shim_fmgr_nullable(wallet_coupon_code_new, 0, a, &c->isnull);
	else
	{
		a[0] = PointerGetDatum(cstring_to_text(c->in));
		r = shim_fmgr_nullable(wallet_coupon_code_check, 1, a, &c->isnull);
	}
	c->out = c->isnull ? NULL : text_to_cstring((text *) DatumGetPointer(r));
}

/* check runs coupon_code_check; returns its result or NULL */
static char *
check(const char *code)
{
	CouponCall	c = {code};
	int			rc = shim_call(do_coupon, &c);
	char		st[6];

	if (rc)
		shim_fail("coupon_code_check(\"%s\") raised %s: %s", code, shim_sqlstate(rc, st), shim_errmsg());
	return c.out;
}

/* oracle: the canonical code for text, or false when it is not a right code */
static bool
oracle(const char *text, char *canon)
{
	int			v[18];
	int			n = 0,
				sum = 0,
				k = 0;

	for (const char *p = text; *p; p++)
	{
		char		c = *p;
		const char *a;

		if (c == '-' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		a = strchr(alphabet, c);
		if (a == NULL || n == 18)
			return false;
		v[n++] = (int) (a - alphabet);
	}
	if (n != 18)
		return false;
	for (int i = 0; i < 17; i++)
		sum += (i + 1) * v[i];
	if ((31 - sum % 31) % 31 != v[17])
		return false;
	for (int i = 0; i < 18; i++)
	{
		if (i > 0 && i % 6 == 0)
			canon[k++] = '-';
		canon[k++] = alphabet[v[i]];
	}
	canon[k] = '\0';
	return true;
}

static void
fuzz_new(const uint8_t *data, size_t size, bool fail)
{
	CouponCall	c = {NULL};
	int			rc;
	char		st[6];
	char		canon[32];
	char	   *r;
	size_t		len;

	shim_random_bytes = data;
	shim_random_len = size;
	shim_random_fail = fail;
	rc = shim_call(do_coupon, &c);
	shim_random_fail = false;
	shim_random_len = 0;
	if (fail)
	{
		if (rc == 0)
			shim_fail("coupon_code_new made a code while the random source failed: %s", c.out);
		return;
	}
	if (rc)
		shim_fail("coupon_code_new raised %s: %s", shim_sqlstate(rc, st), shim_errmsg());
	len = strlen(c.out);
	if (len != 20 || c.out[6] != '-' || c.out[13] != '-' || !oracle(c.out, canon) || strcmp(canon, c.out) != 0)
		shim_fail("coupon_code_new made \"%s\"", c.out);
	r = check(c.out);
	if (r == NULL || strcmp(r, c.out) != 0)
		shim_fail("a new code does not check to itself: %s -> %s", c.out, r ? r : "NULL");
	/* every single wrong symbol is caught */
	for (int i = 0; i < 20; i++)
	{
		char		saved = c.out[i];

		if (saved == '-')
			continue;
		for (const char *a = alphabet; *a; a++)
		{
			if (*a == saved)
				continue;
			c.out[i] = *a;
			if (check(c.out) != NULL)
				shim_fail("a wrong symbol at %d passes: %s", i, c.out);
		}
		c.out[i] = saved;
	}
	/* every swap of two different neighbouring symbols is caught */
	for (int i = 0; i < 19; i++)
	{
		int			j = c.out[i + 1] == '-' ? i + 2 : i + 1;
		char		t;

		if (c.out[i] == '-' || c.out[i] == c.out[j])
			continue;
		t = c.out[i], c.out[i] = c.out[j], c.out[j] = t;
		if (check(c.out) != NULL)
			shim_fail("a swap at %d/%d passes: %s", i, j, c.out);
		t = c.out[i], c.out[i] = c.out[j], c.out[j] = t;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text;
	char		canon[32];
	char	   *r;
	bool		ok;

	if (size < 1 || size > 256)
		return -1;
	if (data[0] & 1)
	{
		fuzz_new(data + 1, size - 1, (data[0] & 6) == 6);
		shim_reset();
		return 0;
	}
	if (!valid_utf8(data + 1, size - 1))
		return -1;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	r = check(text);
	ok = oracle(text, canon);
	if (getenv("WALLET_FUZZ_VERBOSE"))
		fprintf(stderr, "\"%s\" -> %s\n", text, r ? r : "NULL");
	if (ok != (r != NULL) || (ok && strcmp(r, canon) != 0))
		shim_fail("coupon_code_check(\"%s\") = %s, expected %s", text, r ? r : "NULL", ok ? canon : "NULL");
	if (r && (check(r) == NULL || strcmp(check(r), r) != 0))
		shim_fail("canonical code %s does not check to itself", r);
	free(text);
	shim_reset();
	return 0;
}
