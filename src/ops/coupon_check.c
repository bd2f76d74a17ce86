/*
 * coupon_check.c
 *	  Whether a coupon may be redeemed by a wallet on an order in a scene, and
 *	  its discount (engine_coupon_discount): for spend (through
 *	  wallet._coupon_check) and validate_coupon. Another wallet's code is
 *	  reported exactly as an unknown one.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_coupon_validity);

static OpPlan coupon_row = OP_PLAN(
	"SELECT c.template_id, c.voided_at IS NOT NULL, c.redeemed_txn IS NOT NULL, "
	"c.valid_from > $3, c.valid_until <= $3, "
	"t.currency, t.scope, t.min_order, t.per_wallet_limit, t.kind, t.value, t.max_discount "
	"FROM wallet.coupon c JOIN wallet.coupon_template t ON t.template_id = c.template_id "
	"WHERE c.code = $1 AND c.wallet_id = $2",
	3, TEXTOID, INT8OID, TIMESTAMPTZOID);
static OpPlan redeemed = OP_PLAN(
	"SELECT count(*)::int FROM wallet.coupon "
	"WHERE wallet_id = $1 AND template_id = $2 AND redeemed_txn IS NOT NULL",
	2, INT8OID, TEXTOID);

/* in_scope tells whether scene is one of a scope's scenes (text[]). */
static bool
in_scope(Datum scope, const char *scene)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (scene == NULL)
		return false;
	deconstruct_array(DatumGetArrayTypeP(scope), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && strcmp(TextDatumGetCString(elems[i]), scene) == 0)
			return true;
	return false;
}

/*
 * coupon_validity checks code for wallet wallet_id (currency, exponent), an
 * order of order_minor in scene at clk: NULL and its discount when it may be
 * redeemed, else the reason it may not. canonical is the code's canonical
 * form (NULL when mistyped). Runs inside an operation (SPI connected).
 */
const char *
coupon_validity(const char *code, int64 wallet_id, const char *currency, int exponent, int64 order_minor,
				const char *scene, TimestampTz clk, int64 *discount, char **canonical)
{
	Datum		args[3];
	bool		isnull;
	char	   *template_id;
	Datum		scope;
	bool		has_scope;
	Datum		d;
	int32		limit;

	text	   *c = coupon_code_canonical(code, strlen(code));

	*discount = 0;
	*canonical = NULL;
	if (c == NULL)
		return "mistyped";
	*canonical = text_to_cstring(c);
	args[0] = CStringGetTextDatum(*canonical);
	args[1] = Int64GetDatum(wallet_id);
	args[2] = TimestampTzGetDatum(clk);
	if (run_plan(op_plan(&coupon_row), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read coupon");
	if (SPI_processed == 0)
		return "unknown";
	template_id = TextDatumGetCString(getcol(1, &isnull));
	if (strcmp(TextDatumGetCString(getcol(6, &isnull)), currency) != 0)
		return "wrong currency";
	if (DatumGetBool(getcol(2, &isnull)))
		return "voided";
	if (DatumGetBool(getcol(3, &isnull)))
		return "already used";
	d = getcol(4, &isnull);
	if (!isnull && DatumGetBool(d))
		return "not yet valid";
	d = getcol(5, &isnull);
	if (!isnull && DatumGetBool(d))
		return "expired";
	scope = getcol(7, &has_scope);
	has_scope = !has_scope;
	if (has_scope && !in_scope(scope, scene))
		return "wrong scene";
	if (engine_below_minimum(order_minor, DatumGetNumeric(getcol(8, &isnull)), exponent))
		return "below minimum order";
	limit = DatumGetInt32(getcol(9, &isnull));
	{
		bool		percent = strcmp(TextDatumGetCString(getcol(10, &isnull)), "percent") == 0;
		Numeric		value = DatumGetNumeric(getcol(11, &isnull));
		Numeric		cap;
		int32		used;

		d = getcol(12, &isnull);
		cap = isnull ? NULL : DatumGetNumeric(d);
		args[0] = Int64GetDatum(wallet_id);
		args[1] = CStringGetTextDatum(template_id);
		if (run_plan(op_plan(&redeemed), args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not count redeemed coupons");
		used = DatumGetInt32(getcol(1, &isnull));
		if (used >= limit)
			return "limit reached";
		*discount = engine_coupon_discount(percent, value, cap, exponent, order_minor);
	}
	return NULL;
}

/*
 * wallet._coupon_check(code text, wid bigint, cur text, e int, order_minor
 * bigint, scene text, clk timestamptz, OUT valid boolean, OUT discount
 * bigint, OUT reason text, OUT canonical text) is coupon_validity as a row.
 */
Datum
wallet_coupon_validity(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	const char *reason;
	int64		discount;
	char	   *canonical;
	TupleDesc	td;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	for (int i = 0; i < 7; i++)
		if (i != 5 && PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("wallet._coupon_check: only scene may be null")));
	if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "wallet._coupon_check must return a row");
	op_start();
	reason = coupon_validity(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_INT64(1),
							 text_to_cstring(PG_GETARG_TEXT_PP(2)), PG_GETARG_INT32(3), PG_GETARG_INT64(4),
							 PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5)),
							 PG_GETARG_TIMESTAMPTZ(6), &discount, &canonical);
	MemoryContextSwitchTo(caller);
	values[0] = BoolGetDatum(reason == NULL);
	values[1] = Int64GetDatum(discount);
	values[2] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[2] = reason == NULL;
	values[3] = canonical ? CStringGetTextDatum(canonical) : (Datum) 0;
	nulls[3] = canonical == NULL;
	td = BlessTupleDesc(td);
	{
		HeapTuple	tup = heap_form_tuple(td, values, nulls);

		op_leave(caller);
		PG_RETURN_DATUM(HeapTupleGetDatum(tup));
	}
}
