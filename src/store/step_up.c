/*
 * step_up.c
 *	  Step-up grants (CONTRACT.md section 20) as the tables keep them: a
 *	  token of 128 bits from the server's strong random source, of which
 *	  wallet.step_up_grant stores only the SHA-256 digest; a grant found by
 *	  its token (and locked, so that two payments cannot both use it) and
 *	  marked used by the payment it allowed.
 */
#include "store/store.h"

#include "common/cryptohash.h"
#include "common/sha2.h"

#define TOKEN_BYTES 16

static OpPlan grant_by_hash = OP_PLAN(
	"SELECT grant_id, wallet_id, operation, max_amount, expires_at, used_txn "
	"FROM wallet.step_up_grant WHERE token_hash = $1 FOR UPDATE",
	1, BYTEAOID);

static OpPlan grant_used = OP_PLAN(
	"UPDATE wallet.step_up_grant SET used_at = $3, used_txn = $2 WHERE grant_id = $1 AND used_txn IS NULL",
	3, INT8OID, INT8OID, TIMESTAMPTZOID);

/* step_up_token returns a new token: "su_" and 32 hex digits of pg_strong_random. */
char *
step_up_token(void)
{
	uint8		bytes[TOKEN_BYTES];
	char	   *token = palloc(3 + TOKEN_BYTES * 2 + 1);
	static const char hex[] = "0123456789abcdef";

	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random step-up token")));
	memcpy(token, "su_", 3);
	for (int i = 0; i < TOKEN_BYTES; i++)
	{
		token[3 + 2 * i] = hex[bytes[i] >> 4];
		token[3 + 2 * i + 1] = hex[bytes[i] & 15];
	}
	token[3 + TOKEN_BYTES * 2] = '\0';
	return token;
}

/* step_up_hash is the SHA-256 digest of token, as wallet.step_up_grant keeps it. */
bytea *
step_up_hash(const char *token)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	bytea	   *out = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) token, strlen(token)) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(out), PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not hash a step-up token");
	pg_cryptohash_free(ctx);
	SET_VARSIZE(out, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	return out;
}

/*
 * step_up_find reads (and locks FOR UPDATE) the grant of token into g: false
 * when no grant has that token.
 */
bool
step_up_find(const char *token, StepUpGrant *g)
{
	Datum		args[1] = {PointerGetDatum(step_up_hash(token))};
	bool		isnull;
	Datum		d;

	pin_key_lookups();
	if (run_plan(op_plan(&grant_by_hash), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read step-up grants");
	if (SPI_processed == 0)
		return false;
	g->grant_id = DatumGetInt64(getcol(1, &isnull));
	g->wallet_id = DatumGetInt64(getcol(2, &isnull));
	g->operation = TextDatumGetCString(getcol(3, &isnull));
	g->max_amount = DatumGetInt64(getcol(4, &isnull));
	g->expires_at = DatumGetTimestampTz(getcol(5, &isnull));
	d = getcol(6, &isnull);
	g->used = !isnull;
	g->used_txn = isnull ? 0 : DatumGetInt64(d);
	return true;
}

/* step_up_use marks grant grant_id (locked by step_up_find) used by journal row txn_id at clk. */
void
step_up_use(int64 grant_id, int64 txn_id, TimestampTz clk)
{
	Datum		args[3] = {Int64GetDatum(grant_id), Int64GetDatum(txn_id), TimestampTzGetDatum(clk)};

	if (run_plan(op_plan(&grant_used), args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not mark step-up grant %lld used", (long long) grant_id);
}
