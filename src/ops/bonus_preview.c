/*
 * bonus_preview.c
 *	  wallet.bonus_preview: what a top-up of an amount in a currency would
 *	  get now, one row per rule group, from the same rules top_up applies
 *	  (bonus_plan). It changes nothing.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_bonus_preview);

static OpPlan currency_row = OP_PLAN(
	"SELECT exponent FROM wallet.currency WHERE code = $1",
	1, TEXTOID);

/* scope_array is a comma-joined scope as text[] (scenes never hold a comma). */
static Datum
scope_array(const char *scope)
{
	List	   *parts = NIL;
	char	   *copy = pstrdup(scope);
	char	   *p = copy;
	Datum	   *elems;
	int			n = 0;
	ListCell   *lc;

	for (;;)
	{
		char	   *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		parts = lappend(parts, p);
		if (!comma)
			break;
		p = comma + 1;
	}
	elems = palloc(sizeof(Datum) * list_length(parts));
	foreach(lc, parts)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * wallet.bonus_preview(currency text, amount numeric) returns (campaign,
 * bonus, expires_at, scope): base tiers first, then the campaigns by name.
 * The amount is refused as a top-up would refuse it.
 */
Datum
wallet_bonus_preview(PG_FUNCTION_ARGS)
{
	char	   *currency = check_text(fcinfo, 0, "currency", 3, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		args[1];
	bool		isnull;
	int			exponent;
	int64		amt;
	PlanRule   *plan;
	int			n;

	op_start();
	args[0] = CStringGetTextDatum(currency);
	if (run_plan(op_plan(&currency_row), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read currency \"%s\"", currency);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown currency \"%s\"", currency)));
	exponent = DatumGetInt32(getcol(1, &isnull));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be null")));
	amt = numeric_to_minor(PG_GETARG_NUMERIC(1), exponent, "amount");
	n = bonus_plan(currency_conf(currency, exponent), amt, clk, &plan);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {plan[i].campaign == NULL, false, plan[i].expires == WALLET_NO_TIME,
		plan[i].scope == NULL};

		values[0] = plan[i].campaign ? CStringGetTextDatum(plan[i].campaign) : (Datum) 0;
		values[1] = major(plan[i].bonus, exponent);
		values[2] = TimestampTzGetDatum(plan[i].expires);
		values[3] = plan[i].scope ? scope_array(plan[i].scope) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	op_leave(caller);
	return (Datum) 0;
}
