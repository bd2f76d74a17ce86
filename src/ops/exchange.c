/*
 * exchange.c
 *	  wallet.exchange and wallet.exchange_quote (CONTRACT.md section 18):
 *	  earnings of one wallet exchanged into another wallet of the same owner
 *	  in another currency, at the rate in force (wallet.fx_rate), its fee kept
 *	  in the source currency; into a points currency it lands as bonus that
 *	  never expires. The fee and rounding rules are engine_exchange's
 *	  (src/engine/exchange.c). Both wallets are locked, in wallet-id order.
 *	  Each currency has its own journal row, so each sums to zero: the source
 *	  side (kind exchange, the key's) posts wallet earnings -amount /
 *	  fee_income +fee / fx +(amount - fee); the target side (kind exchange,
 *	  ref_txn the source side) wallet +to_amount / fx -to_amount.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_exchange);
PG_FUNCTION_INFO_V1(wallet_exchange_quote);

/* The rate in force: the latest valid_from at or before the clock, not yet past its valid_until. */
static OpPlan rate_in_force = OP_PLAN(
	"SELECT rate, fee_rate, valid_until FROM wallet.fx_rate "
	"WHERE from_currency = $1 AND to_currency = $2 AND valid_from <= $3 "
	"AND (valid_until IS NULL OR valid_until > $3) ORDER BY valid_from DESC LIMIT 1",
	3, TEXTOID, TEXTOID, TIMESTAMPTZOID);
static OpPlan currency_of = OP_PLAN(
	"SELECT exponent, points FROM wallet.currency WHERE code = $1",
	1, TEXTOID);
static OpPlan owners = OP_PLAN(
	"SELECT a.owner = b.owner, c.points FROM wallet.wallet a, wallet.wallet b, wallet.currency c "
	"WHERE a.wallet_id = $1 AND b.wallet_id = $2 AND c.code = b.currency",
	2, INT8OID, INT8OID);

/* A rate in force, copied into the caller's memory. */
typedef struct FxRate
{
	Numeric		rate;
	Numeric		fee_rate;
	bool		has_until;
	TimestampTz until;
} FxRate;

/* The outcome of an exchange, in minor units of each side's currency. */
typedef struct ExchangeOut
{
	int64		txn_id;
	int64		fee;
	int64		to_amount;
	bool		replayed;
} ExchangeOut;

static char *
amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

/*
 * fx_rate_read reads the rate in force from one currency into another at
 * clk into fx (its numbers in memory context keep), or refuses with WL008.
 */
static void
fx_rate_read(const char *from, const char *to, TimestampTz clk, MemoryContext keep, FxRate *fx)
{
	Datum		args[3] = {CStringGetTextDatum(from), CStringGetTextDatum(to), TimestampTzGetDatum(clk)};
	bool		isnull;
	Datum		d;
	MemoryContext old;

	if (run_plan(op_plan(&rate_in_force), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the exchange rates");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("no exchange rate from %s to %s is in force", from, to),
				 errhint("An administrator sets rates with wallet.set_fx_rate.")));
	old = MemoryContextSwitchTo(keep);
	fx->rate = DatumGetNumeric(datumCopy(getcol(1, &isnull), false, -1));
	fx->fee_rate = DatumGetNumeric(datumCopy(getcol(2, &isnull), false, -1));
	MemoryContextSwitchTo(old);
	d = getcol(3, &isnull);
	fx->has_until = !isnull;
	fx->until = isnull ? 0 : DatumGetTimestampTz(d);
}

/* currency_read reads a currency's exponent and points flag, or refuses an unknown one (22023). */
static void
currency_read(const char *code, int *exponent, bool *points)
{
	Datum		args[1] = {CStringGetTextDatum(code)};
	bool		isnull;

	if (run_plan(op_plan(&currency_of), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the currencies");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown currency \"%s\"", code),
				 errhint("Currencies are listed in wallet.currency.")));
	*exponent = DatumGetInt32(getcol(1, &isnull));
	*points = DatumGetBool(getcol(2, &isnull));
}

/*
 * wallet.exchange_quote(from_currency, to_currency, amount) returns (rate,
 * fee, to_amount, valid_until): what an exchange of amount would give now,
 * at the rate in force (WL008 when none). It changes nothing; a to_amount of
 * 0, which exchange refuses, is shown as it is.
 */
Datum
wallet_exchange_quote(PG_FUNCTION_ARGS)
{
	char	   *from = check_text(fcinfo, 0, "from_currency", 3, true);
	char	   *to = check_text(fcinfo, 1, "to_currency", 3, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	int			fe;
	int			te;
	bool		fpoints;
	bool		tpoints;
	int64		amt;
	int64		fee;
	int64		to_amount;
	FxRate		fx;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	static const Oid types[4] = {NUMERICOID, NUMERICOID, NUMERICOID, TIMESTAMPTZOID};

	op_start();
	currency_read(from, &fe, &fpoints);
	currency_read(to, &te, &tpoints);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be null")));
	amt = numeric_to_minor(PG_GETARG_NUMERIC(2), fe, "amount");
	fx_rate_read(from, to, clk, caller, &fx);
	engine_exchange(amt, fe, te, fx.rate, fx.fee_rate, &fee, &to_amount);
	op_leave(caller);
	values[0] = NumericGetDatum(fx.rate);
	values[1] = major(fee, fe);
	values[2] = major(to_amount, te);
	values[3] = TimestampTzGetDatum(fx.until);
	nulls[3] = !fx.has_until;
	PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
}

/*
 * exchange_locked exchanges amt of locked wallet fw's earnings into locked
 * wallet tw at clk, journaled with key and req. Refuses another owner's
 * wallet (22023), a frozen sender (WL002), no rate in force and a sender in
 * debt (WL008), an amount that gives nothing (22023) and too little (WL001).
 */
static void
exchange_locked(WalletRow *fw, WalletRow *tw, int64 amt, TimestampTz clk, const char *key, Jsonb *req,
				const char *step_up, MemoryContext caller, FxRate *fx, ExchangeOut *out)
{
	int64		grant;
	Datum		args[2] = {Int64GetDatum(fw->id), Int64GetDatum(tw->id)};
	bool		isnull;
	bool		points;
	int			bucket;
	LotBuilder *b;
	LotBuilder *tb;
	int64		earnings;
	int64		in_txn;
	Postings	legs;
	JB			jb;
	Jsonb	   *res;

	if (run_plan(op_plan(&owners), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the owners of wallets %lld and %lld", (long long) fw->id, (long long) tw->id);
	if (!DatumGetBool(getcol(1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to_wallet must belong to the owner of from_wallet"),
				 errdetail("Wallets %lld and %lld have different owners.", (long long) fw->id, (long long) tw->id),
				 errhint("An exchange moves money between one owner's wallets; wallet.transfer moves it to others.")));
	points = DatumGetBool(getcol(2, &isnull));
	bucket = points ? BUCKET_BONUS : BUCKET_EARNINGS;
	if (strcmp(fw->currency, tw->currency) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to_wallet must hold another currency")));
	refuse_frozen(fw, NULL);
	fx_rate_read(fw->currency, tw->currency, clk, caller, fx);
	b = lotset_unpack(fw->lots);
	/* what the sender has: holds past their expiry given back, its pending credits rolled up */
	holds_give_back_due(fw, b, clk);
	if (rollup_credits(fw->id, b, clk))
		refresh_wallet_tuple(fw);
	refuse_in_debt(fw->id, wallet_row_debt(fw), fw->exponent, "exchange");
	engine_exchange(amt, fw->exponent, tw->exponent, fx->rate, fx->fee_rate, &out->fee, &out->to_amount);
	if (out->to_amount <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount is too small to exchange"),
				 errdetail("%s %s less a fee of %s gives less than one minor unit of %s.",
						   amount_text(amt, fw->exponent), fw->currency, amount_text(out->fee, fw->exponent),
						   tw->currency)));
	earnings = engine_earnings(b);
	if (amt > earnings)
		ereport(ERROR,
				(errcode(ERRCODE_WL('1')),
				 errmsg("insufficient funds"),
				 errdetail("Wallet %lld can exchange %s of earnings; the exchange needs %s.", (long long) fw->id,
						   amount_text(earnings, fw->exponent), amount_text(amt, fw->exponent)),
				 errhint("Only earnings can be exchanged: never bonus, and cash leaves a wallet only by spending or a refund.")));
	if (engine_take(b, BUCKET_EARNINGS, amt, clk, false) != amt)
		elog(ERROR, "wallet %lld could not give the earnings it has", (long long) fw->id);
	/* the limits: the amount taken from the source wallet counts */
	(void) limits_apply(fw, LIMIT_EXCHANGE, "exchange", amt, step_up, clk, true, &grant);

	/* the source side, under the key */
	out->txn_id = nextval_internal(plans.txn_seq, false);
	in_txn = nextval_internal(plans.txn_seq, false);
	postings_init(&legs);
	post_exchange_out(&legs, fw->id, amt, out->fee);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", out->txn_id);
	jb_numeric(&jb, "rate", fx->rate);
	jb_int(&jb, "fee", out->fee);
	jb_int(&jb, "to_amount", out->to_amount);
	jb_int(&jb, "to_exponent", tw->exponent);
	jb_int(&jb, "in_txn", in_txn);
	limits_json(&jb, grant);
	res = jb_end(&jb);
	if (!write_op(fw, b, out->txn_id, "exchange", amt, clk, key, NO_REF_TXN, req, res,
				  legs_of(&legs, "exchange"), NULL))
		elog(ERROR, "wallet %lld changed under its lock", (long long) fw->id);
	limits_used(grant, out->txn_id, clk);

	/* the target side: a credit (its debt repaid first), as bonus that never expires for points */
	tb = lotset_unpack(tw->lots);
	credit_lot(tw->id, tb, bucket, out->to_amount, WALLET_NO_TIME, in_txn, clk);
	if (!save_wallet(tw, tb))
		elog(ERROR, "wallet %lld changed under its lock", (long long) tw->id);
	postings_init(&legs);
	post_exchange_in(&legs, tw->id, bucket_name(bucket), out->to_amount);
	jb_begin(&jb);
	jb_int(&jb, "from_wallet", fw->id);
	jb_int(&jb, "amount", amt);
	req = jb_end(&jb);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", in_txn);
	jb_numeric(&jb, "rate", fx->rate);
	jb_int(&jb, "to_amount", out->to_amount);
	jb_text(&jb, "bucket", bucket_name(bucket));
	res = jb_end(&jb);
	insert_txn_keyless(in_txn, tw, "exchange", out->to_amount, clk, out->txn_id, req, res,
					   legs_of(&legs, "exchange"), NULL);
}

/*
 * wallet.exchange(from_wallet, to_wallet, amount, idempotency_key, step_up) exchanges
 * amount of from_wallet's earnings into to_wallet (same owner, another
 * currency) and returns (txn_id, rate, fee, to_amount, replayed). The key
 * belongs to from_wallet.
 */
static Datum
exchange_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 3, "idempotency_key", 200, true);
	int64		from = op_int8_arg(fcinfo, 0, "from_wallet");
	int64		to = op_int8_arg(fcinfo, 1, "to_wallet");
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	WalletRow	fw;
	WalletRow	tw;
	int64		amt;
	JB			jb;
	Jsonb	   *req;
	Jsonb	   *prior;
	ExchangeOut out;
	FxRate		fx;
	int			fe;
	int			te;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	static const Oid types[5] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, BOOLOID};

	memset(&out, 0, sizeof(out));
	memset(&fx, 0, sizeof(fx));
	if (from == to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to_wallet must be another wallet")));
	op_start();
	/* both wallets locked, in wallet-id order */
	if (from < to)
	{
		read_wallet(from, true, false, &fw);
		read_wallet(to, true, false, &tw);
	}
	else
	{
		read_wallet(to, true, false, &tw);
		read_wallet(from, true, false, &fw);
	}
	fe = fw.exponent;
	te = tw.exponent;
	amt = op_amount(fcinfo, 2, &fw);
	jb_begin(&jb);
	jb_int(&jb, "to_wallet", to);
	jb_int(&jb, "amount", amt);
	req = jb_end(&jb);

	prior = find_replay(&fw, key, "exchange", req);
	if (prior != NULL)
	{
		JsonbValue *r = jsonb_member(prior, "rate");
		MemoryContext old = MemoryContextSwitchTo(caller);

		if (r == NULL || r->type != jbvNumeric)
			elog(ERROR, "exchange %lld has no rate", (long long) jsonb_int(prior, "txn_id"));
		fx.rate = DatumGetNumeric(datumCopy(NumericGetDatum(r->val.numeric), false, -1));
		MemoryContextSwitchTo(old);
		out.txn_id = jsonb_int(prior, "txn_id");
		out.fee = jsonb_int(prior, "fee");
		out.to_amount = jsonb_int(prior, "to_amount");
		te = (int) jsonb_int(prior, "to_exponent");
		out.replayed = true;
	}
	else
		exchange_locked(&fw, &tw, amt, clk, key, req, step_up_arg(fcinfo, 4), caller, &fx, &out);
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = NumericGetDatum(fx.rate);
	values[2] = major(out.fee, fe);
	values[3] = major(out.to_amount, te);
	values[4] = BoolGetDatum(out.replayed);
	PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
}

Datum
wallet_exchange(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(exchange_body, fcinfo);
}
