/*
 * spend_split.c
 *	  wallet.spend_split: one order paid to several payees (a marketplace
 *	  basket, CONTRACT.md section 17). What is charged is split over the
 *	  payees in proportion to their shares (engine_split), each credited its
 *	  part less commission; otherwise it is a spend, on the same pipeline
 *	  (spend_core.c), reversed by reverse_spend.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_spend_split);

/* The most payees one split payment may name. */
#define SPLIT_MAX_PAYEES 100

static char *
amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

/* split_array deconstructs array argument argno (one dimension, no NULL), refusing NULL. */
static int
split_array(FunctionCallInfo fcinfo, int argno, const char *argname, Oid type, Datum **elems)
{
	ArrayType  *arr;
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		byval;
	char		align;

	check_not_null(fcinfo, argno, argname);
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", argname)));
	get_typlenbyvalalign(type, &typlen, &byval, &align);
	deconstruct_array(arr, type, typlen, byval, align, elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain NULL", argname)));
	return n;
}

/*
 * split_args reads spend_split's arguments after the key and the wallet:
 * amount, payees (1 to SPLIT_MAX_PAYEES distinct wallets), shares (one
 * amount per payee, adding up to amount), scene, coupon and order_ref.
 */
static void
split_args(FunctionCallInfo fcinfo, const WalletRow *w, SpendAsk *ask)
{
	Datum	   *pe;
	Datum	   *se;
	int			n;
	int			ns;
	int64		sum = 0;
	char	   *order_ref;
	JB			jb;

	ask->amount = op_amount(fcinfo, 1, w);
	n = split_array(fcinfo, 3, "payees", INT8OID, &pe);
	if (n < 1 || n > SPLIT_MAX_PAYEES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payees must name 1 to %d wallets", SPLIT_MAX_PAYEES),
				 errdetail("Got %d.", n)));
	ns = split_array(fcinfo, 4, "shares", NUMERICOID, &se);
	if (ns != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shares must have one amount per payee"),
				 errdetail("Got %d payees and %d shares.", n, ns)));
	ask->npayees = n;
	ask->payees = palloc(sizeof(int64) * n);
	ask->shares = palloc(sizeof(int64) * n);
	for (int i = 0; i < n; i++)
	{
		ask->payees[i] = DatumGetInt64(pe[i]);
		for (int j = 0; j < i; j++)
			if (ask->payees[j] == ask->payees[i])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("payees must be distinct"),
						 errdetail("Wallet %lld is named twice.", (long long) ask->payees[i])));
		ask->shares[i] = numeric_to_minor(DatumGetNumeric(se[i]), w->exponent, "shares");
		sum = checked_add(sum, ask->shares[i]);
	}
	if (sum != ask->amount)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shares must add up to amount"),
				 errdetail("The shares add up to %s; amount is %s.", amount_text(sum, w->exponent),
						   amount_text(ask->amount, w->exponent))));
	if (!PG_ARGISNULL(5))
	{
		ask->scene = text_to_cstring(PG_GETARG_TEXT_PP(5));
		check_scene(ask->scene, "scene");
	}
	ask->coupon = check_text(fcinfo, 6, "coupon", 64, false);
	order_ref = check_text(fcinfo, 7, "order_ref", 200, false);
	jb_begin(&jb);
	jb_int(&jb, "amount", ask->amount);
	jb_int_array(&jb, "payees", ask->payees, n);
	jb_int_array(&jb, "shares", ask->shares, n);
	jb_text_if(&jb, true, "scene", ask->scene);
	jb_text_if(&jb, true, "coupon", ask->coupon);
	jb_text_if(&jb, true, "order_ref", order_ref);
	ask->req = jb_end(&jb);
}

/*
 * wallet.spend_split(wallet_id, amount, idempotency_key, payees, shares,
 * scene, coupon, order_ref) charges amount as spend does (never partly) and
 * returns spend's row, (txn_id, charged, discount, bonus_used, cash_used,
 * earnings_used, shortfall, replayed).
 */
static Datum
spend_split_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	MemoryContext caller = CurrentMemoryContext;
	SpendOut	out;
	int			exponent = 0;

	spend_run(fcinfo, "spend_split", key, true, split_args, &out, &exponent);
	op_leave(caller);
	PG_RETURN_DATUM(spend_result_row(fcinfo, &out, exponent));
}

Datum
wallet_spend_split(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(spend_split_body, fcinfo);
}
