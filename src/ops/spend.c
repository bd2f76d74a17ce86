/*
 * spend.c
 *	  wallet.spend: an order charged in spending order (after a coupon's
 *	  discount), its payee credited less commission, on the shared pipeline
 *	  (the spend itself: spend_core.c).
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_spend);

/*
 * spend_args reads spend's arguments after the key and the wallet: amount,
 * scene, coupon, allow_partial, payee, order_ref and max_charge.
 */
static void
spend_args(FunctionCallInfo fcinfo, const WalletRow *w, SpendAsk *ask)
{
	char	   *order_ref;
	JB			jb;

	ask->amount = op_amount(fcinfo, 1, w);
	if (!PG_ARGISNULL(3))
	{
		ask->scene = text_to_cstring(PG_GETARG_TEXT_PP(3));
		check_scene(ask->scene, "scene");
	}
	ask->coupon = check_text(fcinfo, 4, "coupon", 64, false);
	order_ref = check_text(fcinfo, 7, "order_ref", 200, false);
	ask->has_max = PG_NARGS() > 8 && !PG_ARGISNULL(8);
	if (ask->has_max)
		ask->max_charge = numeric_to_minor(PG_GETARG_NUMERIC(8), w->exponent, "max_charge");
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("allow_partial must not be null")));
	ask->partial = PG_GETARG_BOOL(5);
	if (!PG_ARGISNULL(6))
	{
		ask->npayees = 1;
		ask->payees = palloc(sizeof(int64));
		ask->payees[0] = PG_GETARG_INT64(6);
	}
	jb_begin(&jb);
	jb_int(&jb, "amount", ask->amount);
	jb_text_if(&jb, ask->compact, "scene", ask->scene);
	jb_text_if(&jb, ask->compact, "coupon", ask->coupon);
	jb_bool(&jb, "allow_partial", ask->partial);
	if (ask->npayees > 0 || !ask->compact)
		jb_int_or_null(&jb, "payee", ask->npayees > 0, ask->npayees > 0 ? ask->payees[0] : 0);
	jb_text_if(&jb, ask->compact, "order_ref", order_ref);
	if (ask->has_max)
		jb_int(&jb, "max_charge", ask->max_charge);
	ask->req = jb_end(&jb);
	ask->step_up = step_up_arg(fcinfo, 9);
}

/*
 * wallet.spend(wallet_id, amount, idempotency_key, scene, coupon,
 * allow_partial, payee, order_ref, max_charge, step_up) charges amount in spending
 * order (bonus usable in scene, soonest expiry first; cash oldest first;
 * earnings where the currency's earnings_scope lets them be spent), the
 * wallet paying at most max_charge (the rest is shortfall), under the
 * currency's spend rules (engine_spend_rule) and limits (limits_apply), and returns (txn_id, charged,
 * discount, bonus_used, cash_used, earnings_used, shortfall, replayed).
 */
static Datum
spend_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	MemoryContext caller = CurrentMemoryContext;
	SpendOut	out;
	int			exponent = 0;

	spend_run(fcinfo, "spend", key, !PG_ARGISNULL(6), spend_args, &out, &exponent);
	op_leave(caller);
	PG_RETURN_DATUM(spend_result_row(fcinfo, &out, exponent));
}

Datum
wallet_spend(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(spend_body, fcinfo);
}
