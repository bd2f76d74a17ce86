/*
 * hold.c
 *	  wallet.hold: money reserved in spending order for a later capture
 *	  (CONTRACT.md section 14), on the shared pipeline. The reserved pieces
 *	  stay in the wallet's lot set (engine/holds.c); the hold's row says
 *	  what it is for and how it ends.
 */
#include "ops/holds.h"

PG_FUNCTION_INFO_V1(wallet_hold);

static OpPlan hold_row = OP_PLAN(
	"INSERT INTO wallet.hold (hold_id, wallet_id, status, amount, captured, released, expires_at, created_at, "
	"hold_txn, scene, payee, order_ref) VALUES ($1, $2, $10, $3, 0, 0, $4, $5, $6, $7, $8, $9)",
	10, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID);

/* The outcome of a hold, in minor units, kept across SPI_finish. */
typedef struct HoldOut
{
	int64		hold_id;
	int64		held;
	int64		used[WALLET_NBUCKETS];
	int64		shortfall;
	TimestampTz expires_at;
	bool		replayed;
} HoldOut;

/*
 * wallet.hold(wallet_id, amount, idempotency_key, scene, ttl, allow_partial,
 * payee, order_ref, max_charge) returns (hold_id, held, bonus_held,
 * cash_held, earnings_held, shortfall, expires_at, replayed).
 */
static Datum
hold_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	int64		wallet_id;
	WalletRow	w;
	int64		amt;
	int64		want;
	char	   *scene = NULL;
	char	   *order_ref;
	Interval   *ttl;
	bool		partial;
	bool		has_payee = !PG_ARGISNULL(6);
	int64		payee = has_payee ? PG_GETARG_INT64(6) : 0;
	bool		has_max = !PG_ARGISNULL(8);
	int64		max_charge = 0;
	Jsonb	   *req;
	Jsonb	   *prior;
	JB			jb;
	HoldOut		out;
	int			exponent;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};

	memset(&out, 0, sizeof(out));
	wallet_id = op_begin(fcinfo);
	read_wallet(wallet_id, true, false, &w);
	exponent = w.exponent;
	amt = op_amount(fcinfo, 1, &w);
	if (!PG_ARGISNULL(3))
	{
		scene = text_to_cstring(PG_GETARG_TEXT_PP(3));
		check_scene(scene, "scene");
	}
	ttl = hold_ttl(fcinfo, 4);
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("allow_partial must not be null")));
	partial = PG_GETARG_BOOL(5);
	order_ref = check_text(fcinfo, 7, "order_ref", 200, false);
	if (has_max)
		max_charge = numeric_to_minor(PG_GETARG_NUMERIC(8), w.exponent, "max_charge");
	jb_begin(&jb);
	jb_int(&jb, "amount", amt);
	jb_text_if(&jb, true, "scene", scene);
	jb_text(&jb, "ttl", ttl_text(ttl));
	jb_bool(&jb, "allow_partial", partial);
	if (has_payee)
		jb_int(&jb, "payee", payee);
	jb_text_if(&jb, true, "order_ref", order_ref);
	if (has_max)
		jb_int(&jb, "max_charge", max_charge);
	req = jb_end(&jb);

	prior = find_replay(&w, key, "hold", req);
	if (prior != NULL)
	{
		out.hold_id = jsonb_int(prior, "hold_id");
		out.held = jsonb_int(prior, "held");
		out.used[BUCKET_BONUS] = jsonb_int_or_zero(prior, "bonus_held");
		out.used[BUCKET_CASH] = jsonb_int_or_zero(prior, "cash_held");
		out.used[BUCKET_EARNINGS] = jsonb_int_or_zero(prior, "earnings_held");
		out.shortfall = jsonb_int_or_zero(prior, "shortfall");
		out.expires_at = jsonb_time(prior, "expires_at");
		out.replayed = true;
	}
	else
	{
		LotBuilder *b;
		Postings	legs;
		int64		txn_id;
		Jsonb	   *res;
		CurrencyConf *conf;
		bool		earnings;
		int64		available;

		if (w.frozen)
			ereport(ERROR,
					(errcode(ERRCODE_WL('2')),
					 errmsg("wallet %lld is frozen", (long long) w.id),
					 w.frozen_reason ? errdetail_internal("%s", w.frozen_reason) : 0));
		if (has_payee)
		{
			char	   *pcur;
			PayeeProblem pp = payee_problem(&w, payee, &pcur);

			payee_refuse(pp, &w, payee, pcur);
		}
		if (!OidIsValid(plans.hold_seq))
			elog(ERROR, "wallet.hold is missing: update the extension");
		conf = currency_conf(w.currency, w.exponent);
		earnings = engine_earnings_usable(conf->earnings_scope, scene);
		b = lotset_unpack(w.lots);
		(void) rollup_credits(w.id, b, clk);
		holds_give_back_due(&w, b, clk);
		available = engine_available(b, scene, clk, earnings);
		out.hold_id = nextval_internal(plans.hold_seq, false);
		out.expires_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																 TimestampTzGetDatum(clk),
																 IntervalPGetDatum(ttl)));
		want = has_max ? Min(amt, max_charge) : amt;
		out.shortfall = amt - want;
		out.shortfall += engine_hold(b, want, scene, clk, earnings, out.hold_id, out.expires_at, out.used);
		out.held = amt - out.shortfall;
		if (out.shortfall > 0 && !partial && !has_max)
			ereport(ERROR,
					(errcode(ERRCODE_WL('1')),
					 errmsg("insufficient funds"),
					 errdetail("Wallet %lld can hold %s of %s%s.", (long long) w.id,
							   DatumGetCString(DirectFunctionCall1(numeric_out, major(out.held, w.exponent))),
							   DatumGetCString(DirectFunctionCall1(numeric_out, major(amt, w.exponent))),
							   scene ? psprintf(" in scene \"%s\"", scene) : ""),
					 errhint("Pass allow_partial => true to hold what is available and collect the rest elsewhere.")));
		spend_rule_refuse(engine_spend_rule(amt, available, out.held, conf->min_balance_use, conf->use_all_below),
						  &w, conf, available);
		postings_init(&legs);
		post_hold(&legs, w.id, out.used);
		txn_id = nextval_internal(plans.txn_seq, false);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		jb_int(&jb, "hold_id", out.hold_id);
		jb_int(&jb, "held", out.held);
		jb_int_if(&jb, true, "bonus_held", out.used[BUCKET_BONUS]);
		jb_int_if(&jb, true, "cash_held", out.used[BUCKET_CASH]);
		jb_int_if(&jb, true, "earnings_held", out.used[BUCKET_EARNINGS]);
		jb_int_if(&jb, true, "shortfall", out.shortfall);
		jb_time(&jb, "expires_at", out.expires_at);
		res = jb_end(&jb);
		if (!write_op(&w, b, txn_id, "hold", out.held, clk, key, NO_REF_TXN, req, res, legs_of(&legs, "hold"),
					  NULL))
			elog(ERROR, "wallet %lld changed under its lock", (long long) w.id);
		{
			/* a hold that reserved nothing (allow_partial) is recorded as released at once */
			Datum		args[10] = {Int64GetDatum(out.hold_id), Int64GetDatum(w.id), Int64GetDatum(out.held),
				TimestampTzGetDatum(out.expires_at), TimestampTzGetDatum(clk), Int64GetDatum(txn_id),
				scene ? CStringGetTextDatum(scene) : (Datum) 0, Int64GetDatum(payee),
				order_ref ? CStringGetTextDatum(order_ref) : (Datum) 0,
			CStringGetTextDatum(hold_status_after(0, out.held))};
			char		hnulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', scene ? ' ' : 'n', has_payee ? ' ' : 'n',
			order_ref ? ' ' : 'n', ' '};

			if (run_plan(op_plan(&hold_row), args, hnulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record hold %lld", (long long) out.hold_id);
		}
	}
	op_leave(caller);
	values[0] = Int64GetDatum(out.hold_id);
	values[1] = major(out.held, exponent);
	values[2] = major(out.used[BUCKET_BONUS], exponent);
	values[3] = major(out.used[BUCKET_CASH], exponent);
	values[4] = major(out.used[BUCKET_EARNINGS], exponent);
	values[5] = major(out.shortfall, exponent);
	values[6] = TimestampTzGetDatum(out.expires_at);
	values[7] = BoolGetDatum(out.replayed);
	{
		static const Oid types[8] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
		TIMESTAMPTZOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_hold(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(hold_body, fcinfo);
}
