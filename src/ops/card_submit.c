/*
 * card_submit.c
 *	  wallet.submit_cards: one intake of 1 to 10,000 cards of one type
 *	  (CONTRACT.md section 19), on the shared pipeline. The secrets are
 *	  hashed here (card_secret.c) and every card's row is built in memory and
 *	  written by one statement over arrays, never a statement per card. A
 *	  secret already counted by another intake (the unique index on the hash
 *	  among counted cards: not duplicates, intakes not rejected) makes its
 *	  card a duplicate; so does a second copy within the batch. Two intakes
 *	  racing for one secret: the second waits on the first's index entry and
 *	  gets its card as a duplicate once the first commits (or the card, if it
 *	  rolls back).
 */
#include "ops/cards.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(wallet_submit_cards);

/* The cards, their rows built here; a secret already counted by another intake is skipped. */
#define ITEMS_INSERT \
	"INSERT INTO wallet.card_item (intake_id, position, face_value, secret_hash, last4, status, rate, counted) " \
	"SELECT $1, u.p, u.f, u.h, u.l, CASE WHEN u.d THEN 'duplicate' ELSE 'pending' END, u.r, NOT u.d " \
	"FROM unnest($2::int4[], $3::int8[], $4::bytea[], $5::text[], $6::numeric[], $7::bool[]) AS u(p, f, h, l, r, d) "

static OpPlan items_insert = OP_PLAN(
	ITEMS_INSERT "ON CONFLICT (secret_hash) WHERE counted DO NOTHING",
	7, INT8OID, INT4ARRAYOID, INT8ARRAYOID, BYTEAARRAYOID, TEXTARRAYOID, NUMERICARRAYOID, BOOLARRAYOID);

/* the positions an intake's insert wrote (read only when some card was skipped) */
static OpPlan items_written = OP_PLAN(
	"SELECT position FROM wallet.card_item WHERE intake_id = $1",
	1, INT8OID);

static OpPlan intake_seq = OP_PLAN(
	"SELECT nextval(pg_catalog.pg_get_serial_sequence('wallet.card_intake', 'intake_id'))",
	0, InvalidOid);

static OpPlan intake_insert = OP_PLAN(
	"INSERT INTO wallet.card_intake (intake_id, wallet_id, card_type, currency, submit_txn, quote_id, batch_ref, "
	"fee_rate, items, duplicates, quoted_total, status, submitted_at) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12)",
	12, INT8OID, INT8OID, TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID, NUMERICOID, INT4OID, INT4OID, INT8OID,
	TIMESTAMPTZOID);

static OpPlan quote_lock = OP_PLAN(
	"SELECT card_type, wallet_id, face_value, quantity, rate, fee_rate, valid_until, intake_id "
	"FROM wallet.card_quotes WHERE quote_id = $1 FOR UPDATE",
	1, INT8OID);

static OpPlan quote_use = OP_PLAN(
	"UPDATE wallet.card_quotes SET intake_id = $2 WHERE quote_id = $1",
	2, INT8OID, INT8OID);

/* One submission's cards, as checked and hashed. */
typedef struct Batch
{
	int			n;
	int64	   *faces;			/* minor units */
	uint8	   *hashes;			/* n * CARD_HASH_LEN */
	char	  (*last4)[5];
	bool	   *dup;			/* a duplicate (within the batch, or counted elsewhere) */
	Datum	   *rates;			/* numeric, each card's locked rate */
	int64	   *payouts;
} Batch;

/* The outcome of a submission. */
typedef struct SubmitOut
{
	int64		intake_id;
	int32		items;
	int32		duplicates;
	int64		quoted_total;
	bool		replayed;
} SubmitOut;

/* batch_array deconstructs argument argno, a one-dimensional array of 1 to CARD_BATCH_MAX elements. */
static int
batch_array(FunctionCallInfo fcinfo, int argno, const char *argname, Oid elemtype, Datum **v, bool **nl)
{
	ArrayType  *a;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			n;

	check_not_null(fcinfo, argno, argname);
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be one-dimensional", argname)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, v, nl, &n);
	if (n < 1 || n > CARD_BATCH_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an intake holds 1 to %d cards", CARD_BATCH_MAX),
				 errdetail("%s has %d elements.", argname, n),
				 errhint("Submit a larger batch as several intakes.")));
	return n;
}

/* hash_cmp orders card positions by their hash, then by position (the first copy first). */
static int
hash_cmp(const void *a, const void *b, void *arg)
{
	const uint8 *h = arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;
	int			c = memcmp(h + (size_t) i * CARD_HASH_LEN, h + (size_t) j * CARD_HASH_LEN, CARD_HASH_LEN);

	if (c != 0)
		return c;
	return i < j ? -1 : (i > j ? 1 : 0);
}

/* mark_batch_duplicates marks every copy of a secret after its first in the batch. */
static void
mark_batch_duplicates(Batch *b)
{
	int		   *order = palloc(sizeof(int) * b->n);

	for (int i = 0; i < b->n; i++)
		order[i] = i;
	qsort_arg(order, b->n, sizeof(int), hash_cmp, b->hashes);
	for (int k = 1; k < b->n; k++)
		if (memcmp(b->hashes + (size_t) order[k] * CARD_HASH_LEN,
				   b->hashes + (size_t) order[k - 1] * CARD_HASH_LEN, CARD_HASH_LEN) == 0)
			b->dup[order[k]] = true;
	pfree(order);
}

/*
 * batch_digest is the request's fingerprint of the cards: SHA-256 over the
 * card type, the face values and the secrets' keyed hashes, in hex. It names
 * the same cards again on a replay and reveals no secret.
 */
static char *
batch_digest(const char *card_type, const Batch *b)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		d[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) card_type, strlen(card_type) + 1) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) b->faces, sizeof(int64) * b->n) < 0 ||
		pg_cryptohash_update(ctx, b->hashes, (size_t) CARD_HASH_LEN * b->n) < 0 ||
		pg_cryptohash_final(ctx, d, sizeof(d)) < 0)
		elog(ERROR, "could not compute the digest of a batch");
	pg_cryptohash_free(ctx);
	hex[hex_encode((const char *) d, sizeof(d), hex)] = '\0';
	return hex;
}

/*
 * quote_apply prices every card of b at quote quote_id's locked rate, after
 * checking it may be used: it exists (WL006), is unused and still valid at
 * clk (WL008), and is for this wallet (or none), this card type, these face
 * values and at least its quantity (22023). Marks it used by intake_id and
 * returns its fee rate.
 */
static Numeric
quote_apply(int64 quote_id, const WalletRow *w, const CardType *t, Batch *b, int64 intake_id, TimestampTz clk)
{
	Datum		args[2] = {Int64GetDatum(quote_id), Int64GetDatum(intake_id)};
	bool		isnull;
	Datum		d;
	int64		face;
	int32		quantity;
	Datum		rate;
	Numeric		fee_rate;
	int64		payout,
				fee;

	if (run_plan(op_plan(&quote_lock), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read quote %lld", (long long) quote_id);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("quote %lld does not exist", (long long) quote_id)));
	d = getcol(8, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("quote %lld was used", (long long) quote_id),
				 errdetail("Intake %lld used it.", (long long) DatumGetInt64(d)),
				 errhint("Ask for a new quote.")));
	if (DatumGetTimestampTz(getcol(7, &isnull)) <= clk)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("quote %lld has expired", (long long) quote_id),
				 errdetail("It was valid until %s.", timestamptz_to_str(DatumGetTimestampTz(getcol(7, &isnull)))),
				 errhint("Ask for a new quote.")));
	if (strcmp(TextDatumGetCString(getcol(1, &isnull)), t->card_type) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quote %lld is for card type \"%s\"", (long long) quote_id,
						TextDatumGetCString(getcol(1, &isnull)))));
	d = getcol(2, &isnull);
	if (!isnull && DatumGetInt64(d) != w->id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quote %lld is for wallet %lld", (long long) quote_id, (long long) DatumGetInt64(d))));
	face = DatumGetInt64(getcol(3, &isnull));
	quantity = DatumGetInt32(getcol(4, &isnull));
	rate = getcol(5, &isnull);
	fee_rate = DatumGetNumeric(getcol(6, &isnull));
	for (int i = 0; i < b->n; i++)
		if (b->faces[i] != face)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("quote %lld is for a face value of %s", (long long) quote_id,
							card_amount_text(face, t->exponent)),
					 errdetail("face_values[%d] is %s.", i + 1, card_amount_text(b->faces[i], t->exponent))));
	if (b->n < quantity)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quote %lld is for at least %d cards", (long long) quote_id, quantity),
				 errdetail("The batch has %d.", b->n)));
	engine_card_payout(face, DatumGetNumeric(rate), fee_rate, &payout, &fee);
	for (int i = 0; i < b->n; i++)
	{
		b->rates[i] = rate;
		b->payouts[i] = payout;
	}
	if (run_plan(op_plan(&quote_use), args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not use quote %lld", (long long) quote_id);
	return fee_rate;
}

/*
 * price_now prices every card of b now, for the whole batch's quantity and
 * wallet w (a member's rate): each distinct face value once.
 */
static void
price_now(const WalletRow *w, CardType *t, Batch *b, TimestampTz clk)
{
	int			last = -1;		/* the card priced last: the likeliest face of the next */

	card_rates_read(t, w->id);
	card_market_read(t);
	for (int i = 0; i < b->n; i++)
	{
		int			j = -1;

		/* a face seen before keeps its price (most batches have one or a few face values) */
		if (last >= 0 && b->faces[last] == b->faces[i])
			j = last;
		else
			for (int k = 0; k < i && j < 0; k++)
				if (b->faces[k] == b->faces[i])
					j = k;
		if (j >= 0)
		{
			b->rates[i] = b->rates[j];
			b->payouts[i] = b->payouts[j];
		}
		else
		{
			CardPrice	p;

			card_price(t, b->faces[i], b->n, clk, &p);
			b->rates[i] = NumericGetDatum(p.rate);
			b->payouts[i] = p.payout;
		}
		last = i;
	}
}

/*
 * items_write writes the cards of intake intake_id in one statement and marks
 * in b->dup those whose secret another intake already counts. Returns the
 * number of those.
 */
static int
items_write(int64 intake_id, Batch *b)
{
	Datum	   *pos = palloc(sizeof(Datum) * b->n);
	Datum	   *face = palloc(sizeof(Datum) * b->n);
	Datum	   *hash = palloc(sizeof(Datum) * b->n);
	Datum	   *last4 = palloc(sizeof(Datum) * b->n);
	Datum	   *dup = palloc(sizeof(Datum) * b->n);
	bytea	   *hashes = palloc((size_t) (VARHDRSZ + CARD_HASH_LEN) * b->n);
	Datum		args[7];
	int			skipped = 0;

	for (int i = 0; i < b->n; i++)
	{
		bytea	   *h = (bytea *) ((char *) hashes + (size_t) (VARHDRSZ + CARD_HASH_LEN) * i);

		SET_VARSIZE(h, VARHDRSZ + CARD_HASH_LEN);
		memcpy(VARDATA(h), b->hashes + (size_t) i * CARD_HASH_LEN, CARD_HASH_LEN);
		pos[i] = Int32GetDatum(i + 1);
		face[i] = Int64GetDatum(b->faces[i]);
		hash[i] = PointerGetDatum(h);
		last4[i] = CStringGetTextDatum(b->last4[i]);
		dup[i] = BoolGetDatum(b->dup[i]);
	}
	args[0] = Int64GetDatum(intake_id);
	args[1] = PointerGetDatum(construct_array(pos, b->n, INT4OID, 4, true, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(face, b->n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[3] = PointerGetDatum(construct_array(hash, b->n, BYTEAOID, -1, false, TYPALIGN_INT));
	args[4] = PointerGetDatum(construct_array(last4, b->n, TEXTOID, -1, false, TYPALIGN_INT));
	args[5] = PointerGetDatum(construct_array(b->rates, b->n, NUMERICOID, -1, false, TYPALIGN_INT));
	args[6] = PointerGetDatum(construct_array(dup, b->n, BOOLOID, 1, true, TYPALIGN_CHAR));
	if (run_plan(op_plan(&items_insert), args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the cards of intake %lld", (long long) intake_id);
	if (SPI_processed == (uint64) b->n)
		return 0;

	/* some secrets are counted by other intakes: those cards go in again as duplicates */
	{
		bool	   *written = palloc0(sizeof(bool) * b->n);
		int			m = 0;

		if (run_plan(op_plan(&items_written), args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the cards of intake %lld", (long long) intake_id);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			int32		p = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));

			if (p >= 1 && p <= b->n)
				written[p - 1] = true;
		}
		for (int i = 0; i < b->n; i++)
			if (!written[i])
			{
				b->dup[i] = true;
				skipped++;
				pos[m] = pos[i];
				face[m] = face[i];
				hash[m] = hash[i];
				last4[m] = last4[i];
				b->rates[m] = b->rates[i];
				dup[m] = BoolGetDatum(true);
				m++;
			}
		args[1] = PointerGetDatum(construct_array(pos, m, INT4OID, 4, true, TYPALIGN_INT));
		args[2] = PointerGetDatum(construct_array(face, m, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[3] = PointerGetDatum(construct_array(hash, m, BYTEAOID, -1, false, TYPALIGN_INT));
		args[4] = PointerGetDatum(construct_array(last4, m, TEXTOID, -1, false, TYPALIGN_INT));
		args[5] = PointerGetDatum(construct_array(b->rates, m, NUMERICOID, -1, false, TYPALIGN_INT));
		args[6] = PointerGetDatum(construct_array(dup, m, BOOLOID, 1, true, TYPALIGN_CHAR));
		if (run_plan(op_plan(&items_insert), args, NULL, false, 0) != SPI_OK_INSERT || SPI_processed != (uint64) m)
			elog(ERROR, "could not record the duplicate cards of intake %lld", (long long) intake_id);
	}
	return skipped;
}

/*
 * submit_locked records the intake of batch b (checked and hashed) for
 * locked wallet w: priced (by quote quote_id, or now), its cards written,
 * the intake's row and its journal row (no money moves) with key and req.
 */
static void
submit_locked(WalletRow *w, CardType *t, Batch *b, bool has_quote, int64 quote_id, const char *batch_ref,
			  const char *key, Jsonb *req, TimestampTz clk, SubmitOut *out)
{
	int64		txn_id;
	Numeric		fee_rate = t->fee_rate;
	LotBuilder *lots;
	Postings	legs;
	JB			jb;
	int			in_batch = 0;

	for (int i = 0; i < b->n; i++)
		in_batch += b->dup[i] ? 1 : 0;
	if (run_plan(op_plan(&intake_seq), NULL, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not number the intake");
	{
		bool		isnull;

		out->intake_id = DatumGetInt64(getcol(1, &isnull));
	}
	if (has_quote)
		fee_rate = quote_apply(quote_id, w, t, b, out->intake_id, clk);
	else
		price_now(w, t, b, clk);
	out->duplicates = in_batch + items_write(out->intake_id, b);
	out->items = b->n;
	out->quoted_total = 0;
	for (int i = 0; i < b->n; i++)
		if (!b->dup[i])
			out->quoted_total = checked_add(out->quoted_total, b->payouts[i]);

	txn_id = nextval_internal(plans.txn_seq, false);
	{
		Datum		args[12] = {Int64GetDatum(out->intake_id), Int64GetDatum(w->id), CStringGetTextDatum(t->card_type),
			CStringGetTextDatum(t->currency), Int64GetDatum(txn_id), Int64GetDatum(quote_id),
			batch_ref ? CStringGetTextDatum(batch_ref) : (Datum) 0, NumericGetDatum(fee_rate),
			Int32GetDatum(out->items), Int32GetDatum(out->duplicates), Int64GetDatum(out->quoted_total),
		TimestampTzGetDatum(clk)};
		char		nulls[12] = {' ', ' ', ' ', ' ', ' ', has_quote ? ' ' : 'n', batch_ref ? ' ' : 'n', ' ', ' ', ' ',
		' ', ' '};

		if (run_plan(op_plan(&intake_insert), args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record intake %lld", (long long) out->intake_id);
	}
	lots = lotset_unpack(w->lots);
	postings_init(&legs);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", txn_id);
	jb_int(&jb, "intake_id", out->intake_id);
	jb_int(&jb, "items", out->items);
	jb_int(&jb, "duplicates", out->duplicates);
	jb_int(&jb, "quoted_total", out->quoted_total);
	jb_text(&jb, "status", "pending");
	/* the key was free under the lock: taken now, it is a concurrent writer's (WL003) */
	if (!write_op(w, lots, txn_id, "submit_cards", 0, clk, key, NO_REF_TXN, req, jb_end(&jb),
				  legs_of(&legs, "submit_cards"), NULL))
	{
		(void) after_no_write(w, key, "submit_cards", req, txn_id);
		elog(ERROR, "could not write wallet %lld", (long long) w->id);
	}
}

/*
 * wallet.submit_cards(wallet_id, card_type, face_values, card_secrets,
 * idempotency_key, quote_id, batch_ref) returns (intake_id, items,
 * duplicates, quoted_total, status, replayed).
 */
static Datum
submit_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 4, "idempotency_key", 200, true);
	int64		wallet_id = op_int8_arg(fcinfo, 0, "wallet_id");
	char	   *type_name = check_text(fcinfo, 1, "card_type", 64, true);
	bool		has_quote = !PG_ARGISNULL(5);
	int64		quote_id = has_quote ? PG_GETARG_INT64(5) : 0;
	char	   *batch_ref = check_text(fcinfo, 6, "batch_ref", 200, false);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	Datum	   *fv,
			   *sv;
	bool	   *fn,
			   *sn;
	int			n;
	WalletRow	w;
	CardType	t;
	Batch		b;
	uint8		hkey[32];
	pg_hmac_ctx *hctx;
	JB			jb;
	Jsonb	   *req;
	Jsonb	   *prior;
	SubmitOut	out;
	int			exponent;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	memset(&out, 0, sizeof(out));
	n = batch_array(fcinfo, 2, "face_values", NUMERICOID, &fv, &fn);
	if (batch_array(fcinfo, 3, "card_secrets", TEXTOID, &sv, &sn) != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("face_values and card_secrets must have the same length")));
	op_start();
	read_wallet(wallet_id, true, false, &w);
	exponent = w.exponent;
	card_type_read(type_name, &t);
	if (strcmp(w.currency, t.currency) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet %lld holds %s; card type \"%s\" is bought in %s", (long long) w.id, w.currency,
						t.card_type, t.currency)));

	b.n = n;
	b.faces = palloc(sizeof(int64) * n);
	b.hashes = palloc((size_t) CARD_HASH_LEN * n);
	b.last4 = palloc(sizeof(*b.last4) * n);
	b.dup = palloc0(sizeof(bool) * n);
	b.rates = palloc(sizeof(Datum) * n);
	b.payouts = palloc(sizeof(int64) * n);
	for (int i = 0; i < n; i++)
	{
		if (fn[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("face_values[%d] must not be null", i + 1)));
		b.faces[i] = numeric_to_minor(DatumGetNumeric(fv[i]), t.exponent, "face_values");
		card_face_check(&t, b.faces[i], i + 1);
	}
	card_key(hkey);
	hctx = pg_hmac_create(PG_SHA256);
	if (hctx == NULL)
		elog(ERROR, "out of memory");
	for (int i = 0; i < n; i++)
	{
		if (sn[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("card_secrets[%d] must not be null", i + 1)));
		card_secret_hash(hctx, hkey, DatumGetTextPP(sv[i]), i + 1, b.hashes + (size_t) i * CARD_HASH_LEN,
						 b.last4[i]);
	}
	pg_hmac_free(hctx);
	explicit_bzero(hkey, sizeof(hkey));

	jb_begin(&jb);
	jb_text(&jb, "card_type", t.card_type);
	jb_int(&jb, "cards", n);
	jb_text(&jb, "digest", batch_digest(t.card_type, &b));
	if (has_quote)
		jb_int(&jb, "quote_id", quote_id);
	jb_text_if(&jb, true, "batch_ref", batch_ref);
	req = jb_end(&jb);

	prior = find_replay(&w, key, "submit_cards", req);
	if (prior != NULL)
	{
		out.intake_id = jsonb_int(prior, "intake_id");
		out.items = (int32) jsonb_int(prior, "items");
		out.duplicates = (int32) jsonb_int(prior, "duplicates");
		out.quoted_total = jsonb_int(prior, "quoted_total");
		out.replayed = true;
	}
	else
	{
		mark_batch_duplicates(&b);
		submit_locked(&w, &t, &b, has_quote, quote_id, batch_ref, key, req, clk, &out);
	}
	op_leave(caller);
	values[0] = Int64GetDatum(out.intake_id);
	values[1] = Int32GetDatum(out.items);
	values[2] = Int32GetDatum(out.duplicates);
	values[3] = major(out.quoted_total, exponent);
	values[4] = CStringGetTextDatum("pending");
	values[5] = BoolGetDatum(out.replayed);
	{
		static const Oid types[6] = {INT8OID, INT4OID, INT4OID, NUMERICOID, TEXTOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_submit_cards(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(submit_body, fcinfo);
}
