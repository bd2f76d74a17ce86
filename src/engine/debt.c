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
 * wallet.debt_repaid(debt bigint, credit bigint) returns the part of a credit
 * (minor units) that repays a debt (engine_debt_repaid).
 */
Datum
wallet_debt_repaid(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(engine_debt_repaid(PG_GETARG_INT64(0), PG_GETARG_INT64(1)));
}
