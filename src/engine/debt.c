/*
 * debt.c
 *	  A payee's debt: the part of a credit that repays it.
 */
#include "engine/engine.h"

PG_FUNCTION_INFO_V1(wallet_debt_repaid);

/* ---- payee debt ---- */

/*
 * engine_debt_repaid returns how much of a credit goes to a wallet's debt: a
 * credit to a wallet in debt repays the debt first, all of it up to the debt
 * (CONTRACT.md section 5). Every path that credits a wallet (payee credits
 * when they are rolled up, and any later crediting operation) asks this.
 */
int64
engine_debt_repaid(int64 debt, int64 credit)
{
	if (debt < 0 || credit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("debt and credit must not be negative")));
	return Min(debt, credit);
}

/*
 * engine_debt_flag_crossed tells whether adding `added` to a debt, now
 * debt_after (minor units of a currency of exponent), took it above the
 * currency's payee_debt_flag (major units, compared exactly): true once per
 * crossing, not again while the debt stays above.
 */
bool
engine_debt_flag_crossed(int64 debt_after, int64 added, Numeric flag, int exponent)
{
	Datum		limit = NumericGetDatum(flag);
	Datum		after = NumericGetDatum(minor_to_numeric(debt_after, exponent));
	Datum		before = NumericGetDatum(minor_to_numeric(debt_after - added, exponent));

	return DatumGetBool(DirectFunctionCall2(numeric_gt, after, limit)) &&
		DatumGetBool(DirectFunctionCall2(numeric_le, before, limit));
}

/*
 * wallet.debt_repaid(debt bigint, credit bigint) returns the part of a credit
 * (minor units) that repays a debt (engine_debt_repaid).
 */
Datum
wallet_debt_repaid(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(engine_debt_repaid(PG_GETARG_INT64(0), PG_GETARG_INT64(1)));
}
