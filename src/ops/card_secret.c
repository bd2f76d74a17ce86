/*
 * card_secret.c
 *	  The secrets of submitted cards (CONTRACT.md section 19): never stored,
 *	  never in a statement the extension runs, never in a message. A secret is
 *	  normalized (blanks and hyphens dropped), checked, and kept only as its
 *	  HMAC-SHA256 under the database's key (wallet.card_key, one row made by
 *	  CREATE EXTENSION from the server's strong random source, readable by the
 *	  extension's owner alone) and its last four characters. The hash is
 *	  computed here, in C, from the argument's bytes: the key travels to this
 *	  backend by one SELECT, the secret to no statement at all.
 */
#include "ops/cards.h"

PG_FUNCTION_INFO_V1(wallet_card_key_new);

#define CARD_KEY_LEN 32
#define SECRET_MIN 8
#define SECRET_MAX 128

static OpPlan key_read = OP_PLAN("SELECT hmac_key FROM wallet.card_key WHERE key_id = 1", 0, InvalidOid);

/* a database restored without the key's row (a schema-only dump) makes a new one on first use */
static OpPlan key_make = OP_PLAN(
	"INSERT INTO wallet.card_key (key_id, hmac_key) VALUES (1, wallet._card_key_new()) "
	"ON CONFLICT (key_id) DO NOTHING",
	0, InvalidOid);

/* wallet._card_key_new() returns 32 bytes of the server's strong random source. */
Datum
wallet_card_key_new(PG_FUNCTION_ARGS)
{
	bytea	   *key = palloc(VARHDRSZ + CARD_KEY_LEN);

	SET_VARSIZE(key, VARHDRSZ + CARD_KEY_LEN);
	if (!pg_strong_random(VARDATA(key), CARD_KEY_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random key")));
	PG_RETURN_BYTEA_P(key);
}

/* card_key copies the database's key (CARD_KEY_LEN bytes) into key. */
void
card_key(uint8 *key)
{
	bool		isnull;
	bytea	   *k;

	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (run_plan(op_plan(&key_read), NULL, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the card key");
		if (SPI_processed == 1)
		{
			k = DatumGetByteaPP(getcol(1, &isnull));
			if (isnull || VARSIZE_ANY_EXHDR(k) != CARD_KEY_LEN)
				elog(ERROR, "the card key is malformed");
			memcpy(key, VARDATA_ANY(k), CARD_KEY_LEN);
			return;
		}
		if (run_plan(op_plan(&key_make), NULL, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not make the card key");
	}
	elog(ERROR, "the card key is missing");
}

/* refuse_secret refuses card_secrets[position] (22023) for why, never showing the secret. */
static void
refuse_secret(int position, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("card_secrets[%d] %s", position, why),
			 errhint("A card secret is %d to %d printable ASCII characters; blanks and hyphens are ignored.",
					 SECRET_MIN, SECRET_MAX)));
}

/*
 * card_secret_hash normalizes secret (card_secrets[position], 1-based in
 * messages): blanks and hyphens dropped, at most SECRET_MAX bytes read of
 * it, the rest SECRET_MIN to SECRET_MAX printable ASCII characters (22023
 * otherwise, without the secret). Writes its HMAC-SHA256 under key (with
 * ctx, made by pg_hmac_create(PG_SHA256) for the whole batch) into hash
 * and its last four characters, NUL-terminated, into last4.
 */
void
card_secret_hash(pg_hmac_ctx *ctx, const uint8 *key, text *secret, int position, uint8 *hash, char *last4)
{
	const char *s = VARDATA_ANY(secret);
	int			len = VARSIZE_ANY_EXHDR(secret);
	char		norm[SECRET_MAX];
	int			n = 0;

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == ' ' || c == '\t' || c == '-')
			continue;
		if (c < 0x21 || c > 0x7e)
			refuse_secret(position, "may hold only printable ASCII characters");
		if (n == SECRET_MAX)
			refuse_secret(position, "is too long");
		norm[n++] = (char) c;
	}
	if (n < SECRET_MIN)
		refuse_secret(position, "is too short");
	if (pg_hmac_init(ctx, key, CARD_KEY_LEN) < 0 || pg_hmac_update(ctx, (const uint8 *) norm, n) < 0 ||
		pg_hmac_final(ctx, hash, CARD_HASH_LEN) < 0)
	{
		explicit_bzero(norm, sizeof(norm));
		elog(ERROR, "could not hash a card secret: %s", pg_hmac_error(ctx));
	}
	memcpy(last4, norm + n - 4, 4);
	last4[4] = '\0';
	explicit_bzero(norm, sizeof(norm));
}
