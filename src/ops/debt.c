/*
 * debt.c
 *	  The one check that a wallet in debt takes no money out (CONTRACT.md
 *	  section 5), for the operations in C and, through wallet._refuse_in_debt,
 *	  in SQL.
 */
#include "ops/ops.h"

/*
 * refuse_in_debt refuses an operation that takes money out of a wallet (a
 * withdrawal, a transfer or an exchange out) while the wallet is in debt
 * (WL008). debt is in minor units of the wallet's currency; operation names
 * what was asked, as in "withdraw".
 */
void
refuse_in_debt(int64 wallet_id, int64 debt, int exponent, const char *operation)
{
	if (debt <= 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_WL('8')),
			 errmsg("wallet %lld is in debt", (long long) wallet_id),
			 errdetail("It owes %s; a wallet in debt cannot %s.",
					   DatumGetCString(DirectFunctionCall1(numeric_out, major(debt, exponent))), operation),
			 errhint("Credits to the wallet repay its debt first; once it is repaid, try again.")));
}

/*
 * wallet._refuse_in_debt(wallet_id bigint, debt bigint, exponent int,
 * operation text) is refuse_in_debt for the SQL operations.
 */
PG_FUNCTION_INFO_V1(wallet_refuse_in_debt);
Datum
wallet_refuse_in_debt(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet_id, debt, exponent and operation must not be null")));
	refuse_in_debt(PG_GETARG_INT64(0), PG_GETARG_INT64(1), PG_GETARG_INT32(2),
				   text_to_cstring(PG_GETARG_TEXT_PP(3)));
	PG_RETURN_VOID();
}
