/*
 * card_quote.c
 *	  wallet.card_quote: what a card of a type and face value pays, for a
 *	  batch of quantity cards and (a member's rate) a wallet, its rate locked
 *	  for policy.card_quote_valid_for (CONTRACT.md section 19). The quote is
 *	  a row of wallet.card_quotes that submit_cards may use once.
 */
#include "ops/cards.h"

PG_FUNCTION_INFO_V1(wallet_card_quote);

static OpPlan quote_insert = OP_PLAN(
	"INSERT INTO wallet.card_quotes (card_type, wallet_id, face_value, quantity, rate, rate_id, fee_rate, "
	"payout_each, fee_each, created_at, valid_until) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10 + $11) RETURNING quote_id, valid_until",
	11, TEXTOID, INT8OID, INT8OID, INT4OID, NUMERICOID, INT8OID, NUMERICOID, INT8OID, INT8OID, TIMESTAMPTZOID,
	INTERVALOID);


/*
 * wallet.card_quote(card_type, face_value, quantity, wallet_id) returns
 * (quote_id, rate, payout_each, fee_each, payout_total, valid_until).
 */
static Datum
card_quote_body(PG_FUNCTION_ARGS)
{
	char	   *type_name = check_text(fcinfo, 0, "card_type", 64, true);
	int32		quantity = op_count_arg(fcinfo, 2, "quantity", CARD_BATCH_MAX);
	bool		has_wallet = !PG_ARGISNULL(3);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	CardType	t;
	CardPolicy	pol;
	CardPrice	p;
	int64		face;
	int64		quote_id;
	TimestampTz valid_until;
	int			exponent;
	Numeric		rate;
	int64		payout_total;
	bool		isnull;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	check_not_null(fcinfo, 1, "face_value");
	op_start();
	card_type_read(type_name, &t);
	if (has_wallet)
	{
		WalletRow	w;

		read_wallet(PG_GETARG_INT64(3), false, false, &w);
		if (strcmp(w.currency, t.currency) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("wallet %lld holds %s; card type \"%s\" is bought in %s", (long long) w.id, w.currency,
							t.card_type, t.currency)));
	}
	face = numeric_to_minor(PG_GETARG_NUMERIC(1), t.exponent, "face_value");
	card_face_check(&t, face, 0);
	card_rates_read(&t, has_wallet ? PG_GETARG_INT64(3) : 0);
	card_market_read(&t);
	card_price(&t, face, quantity, clk, &p);
	card_policy(t.currency, t.exponent, &pol);
	{
		Datum		args[11] = {CStringGetTextDatum(t.card_type), has_wallet ? PG_GETARG_DATUM(3) : (Datum) 0,
			Int64GetDatum(face), Int32GetDatum(quantity), NumericGetDatum(p.rate), Int64GetDatum(p.rate_id),
			NumericGetDatum(t.fee_rate), Int64GetDatum(p.payout), Int64GetDatum(p.fee), TimestampTzGetDatum(clk),
		IntervalPGetDatum(&pol.quote_valid_for)};
		char		n[11] = {' ', has_wallet ? ' ' : 'n', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

		if (run_plan(op_plan(&quote_insert), args, n, false, 0) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "could not record the quote");
		quote_id = DatumGetInt64(getcol(1, &isnull));
		valid_until = DatumGetTimestampTz(getcol(2, &isnull));
	}
	payout_total = p.payout * (int64) quantity;	/* at most 10^15 * 10^4: no overflow */
	exponent = t.exponent;
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		rate = DatumGetNumeric(datumCopy(NumericGetDatum(p.rate), false, -1));
		MemoryContextSwitchTo(spi);
	}
	op_leave(caller);
	values[0] = Int64GetDatum(quote_id);
	values[1] = NumericGetDatum(rate);
	values[2] = major(p.payout, exponent);
	values[3] = major(p.fee, exponent);
	values[4] = major(payout_total, exponent);
	values[5] = TimestampTzGetDatum(valid_until);
	{
		static const Oid types[6] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, TIMESTAMPTZOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_card_quote(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(card_quote_body, fcinfo);
}
