/*
 * step_up.c
 *	  wallet.grant_step_up: a step-up verification granted by the service
 *	  that checked the customer's second factor (role wallet_verifier, never
 *	  the payment application): a single-use token for one wallet, one
 *	  operation and up to an amount, expiring after ttl (CONTRACT.md section
 *	  20). Only the token's digest is stored (store/step_up.c).
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_grant_step_up);

static OpPlan grant_insert = OP_PLAN(
	"INSERT INTO wallet.step_up_grant (wallet_id, operation, max_amount, verifier, token_hash, created_at, "
	"expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
	7, INT8OID, TEXTOID, INT8OID, TEXTOID, BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID);

/* the operations a grant may be for: the classes of limit_rule a payment is checked under */
static const char *const grant_ops[] = {"spend", "transfer", "withdraw", "exchange"};

/* step_up_arg returns the optional step_up argument argno (NULL: none, or a declaration without it). */
char *
step_up_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno)
		return NULL;
	return check_text(fcinfo, argno, "step_up", 100, false);
}

/*
 * wallet.grant_step_up(wallet_id, operation, max_amount, verifier, ttl)
 * returns the token: one payment of `operation` (spend, which holds are too,
 * transfer, withdraw or exchange) of wallet_id of at most max_amount may pass
 * the step-up limit rules with it until clock + ttl (1 second to 1 day).
 */
Datum
wallet_grant_step_up(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	WalletRow	w;
	char	   *op;
	char	   *verifier;
	int64		max_amount;
	Interval   *ttl;
	Interval	lo = {.time = USECS_PER_SEC, .day = 0, .month = 0};
	Interval	hi = {.time = 0, .day = 1, .month = 0};
	TimestampTz expires;
	char	   *token;
	bool		known = false;
	text	   *out;

	op = check_text(fcinfo, 1, "operation", 32, true);
	for (int i = 0; i < (int) lengthof(grant_ops); i++)
		if (strcmp(op, grant_ops[i]) == 0)
			known = true;
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("operation must be spend, transfer, withdraw or exchange"),
				 errdetail("Got \"%s\".", op),
				 errhint("A hold is a spend for limits: grant spend.")));
	verifier = check_text(fcinfo, 3, "verifier", 200, true);
	check_not_null(fcinfo, 4, "ttl");
	ttl = PG_GETARG_INTERVAL_P(4);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(ttl), IntervalPGetDatum(&lo))) ||
		DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(ttl), IntervalPGetDatum(&hi))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must be between 1 second and 1 day"),
				 errdetail("Got %s.", DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(ttl))))));
	read_wallet(op_begin(fcinfo), false, false, &w);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_amount must not be null")));
	max_amount = numeric_to_minor(PG_GETARG_NUMERIC(2), w.exponent, "max_amount");
	expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(clk),
													  IntervalPGetDatum(ttl)));
	token = step_up_token();
	{
		Datum		args[7] = {Int64GetDatum(w.id), CStringGetTextDatum(op), Int64GetDatum(max_amount),
			CStringGetTextDatum(verifier), PointerGetDatum(step_up_hash(token)), TimestampTzGetDatum(clk),
		TimestampTzGetDatum(expires)};

		if (run_plan(op_plan(&grant_insert), args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record a step-up grant");
	}
	op_leave(caller);
	out = cstring_to_text(token);
	PG_RETURN_TEXT_P(out);
}
