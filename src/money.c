/*
 * money.c
 *	  Amounts across the API: numeric in major units in, bigint minor units
 *	  stored, nothing ever rounded silently; rates rounded half away from zero.
 */
#include "wallet.h"

#include <ctype.h>

#include "common/int.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(wallet_to_minor);
PG_FUNCTION_INFO_V1(wallet_to_major);
PG_FUNCTION_INFO_V1(wallet_rate_amount);
PG_FUNCTION_INFO_V1(wallet_bonus_amount);

static inline void
check_exponent(int exponent)
{
	if (exponent < 0 || exponent > 6)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("currency exponent must be between 0 and 6"),
				 errdetail("Got %d.", exponent)));
}

/*
 * numeric_to_minor converts an amount in major units to minor units of a
 * currency with the given exponent, refusing (22023, naming argname) NULL-like
 * values, NaN and infinities, amounts not above zero, more decimals than the
 * currency has, and more than 10^15 minor units.
 */
int64
numeric_to_minor(Numeric num, int exponent, const char *argname)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	const char *p = text;
	int64		v = 0;
	int			decimals = 0;
	bool		negative = false;
	bool		nonzero = false;
	const char *frac;
	int			fraclen;

	check_exponent(exponent);
	if (numeric_is_nan(num) || numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", argname),
				 errdetail("Got %s.", text)));
	if (*p == '-')
	{
		negative = true;
		p++;
	}
	/* integer part */
	for (; isdigit((unsigned char) *p); p++)
	{
		if (v > WALLET_MAX_MINOR)
			break;
		v = v * 10 + (*p - '0');
		if (*p != '0')
			nonzero = true;
	}
	/* skip any remaining integer digits: the amount is too large anyway */
	while (isdigit((unsigned char) *p))
		p++;
	frac = (*p == '.') ? p + 1 : p;
	fraclen = (*p == '.') ? (int) strlen(frac) : 0;
	/* decimals that count are those up to the last non-zero one */
	for (int i = 0; i < fraclen; i++)
		if (frac[i] != '0')
		{
			decimals = i + 1;
			nonzero = true;
		}
	if (negative && nonzero)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than zero", argname),
				 errdetail("Got %s.", text)));
	if (!nonzero)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than zero", argname),
				 errdetail("Got %s.", text)));
	if (decimals > exponent)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has more decimals than its currency allows", argname),
				 errdetail("Got %s; the currency has %d decimal%s.", text, exponent,
						   exponent == 1 ? "" : "s")));
	for (int i = 0; i < exponent; i++)
	{
		if (v > WALLET_MAX_MINOR)
			break;
		v = v * 10 + (i < fraclen ? frac[i] - '0' : 0);
	}
	if (v > WALLET_MAX_MINOR)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too large", argname),
				 errdetail("Got %s; at most 10^15 minor units are accepted.", text)));
	pfree(text);
	return v;
}

/* minor_to_numeric returns minor units as an exact numeric in major units. */
Numeric
minor_to_numeric(int64 minor, int exponent)
{
	check_exponent(exponent);
	/* minor / 10^exponent, with exactly exponent decimals (as numeric_in would give) */
	return int64_div_fast_to_numeric(minor, exponent);
}

/* checked_add adds two amounts, refusing overflow. */
int64
checked_add(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("amount out of range")));
	return r;
}

/*
 * rate_of returns amount * rate rounded to the minor unit half away from
 * zero. The rate must be a finite number, not below zero.
 */
int64
rate_of(int64 amount, Numeric rate)
{
	Datum		prod;
	Datum		rounded;

	if (numeric_is_nan(rate) || numeric_is_inf(rate) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(rate),
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(0)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate must be a finite number not below zero")));
	prod = DirectFunctionCall2(numeric_mul,
							   DirectFunctionCall1(int8_numeric, Int64GetDatum(amount)),
							   NumericGetDatum(rate));
	/* numeric round() rounds half away from zero */
	rounded = DirectFunctionCall2(numeric_round, prod, Int32GetDatum(0));
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, rounded));
}

/* wallet.to_minor(amount numeric, exponent int, argname text) returns bigint */
Datum
wallet_to_minor(PG_FUNCTION_ARGS)
{
	char	   *argname = PG_ARGISNULL(2) ? "amount" : text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (PG_ARGISNULL(1))
		elog(ERROR, "currency exponent must not be null");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", argname)));
	PG_RETURN_INT64(numeric_to_minor(PG_GETARG_NUMERIC(0), PG_GETARG_INT32(1), argname));
}

/* wallet.to_major(minor bigint, exponent int) returns numeric */
Datum
wallet_to_major(PG_FUNCTION_ARGS)
{
	PG_RETURN_NUMERIC(minor_to_numeric(PG_GETARG_INT64(0), PG_GETARG_INT32(1)));
}

/* wallet.rate_amount(amount bigint, rate numeric) returns bigint */
Datum
wallet_rate_amount(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(rate_of(PG_GETARG_INT64(0), PG_GETARG_NUMERIC(1)));
}

/*
 * wallet.bonus_amount(amount bigint, fixed bigint, rate numeric, cap bigint)
 * returns the bonus of one rule: fixed + amount * rate (half away from zero),
 * capped by cap when it is not NULL.
 */
Datum
wallet_bonus_amount(PG_FUNCTION_ARGS)
{
	int64		amount,
				bonus;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	amount = PG_GETARG_INT64(0);
	bonus = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	if (!PG_ARGISNULL(2))
		bonus = checked_add(bonus, rate_of(amount, PG_GETARG_NUMERIC(2)));
	if (!PG_ARGISNULL(3) && bonus > PG_GETARG_INT64(3))
		bonus = PG_GETARG_INT64(3);
	if (bonus < 0)
		bonus = 0;
	PG_RETURN_INT64(bonus);
}

PG_FUNCTION_INFO_V1(wallet_bonus_pick);

/* array_int64 deconstructs a bigint[] (NULL elements allowed, reported in nulls). */
static int
array_int64(ArrayType *arr, Datum **values, bool **nulls)
{
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule arrays must be one-dimensional")));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, values, nulls, &n);
	return n;
}

/* same_group tells whether two rules are in the same group (NULL = base), bytewise. */
static bool
same_group(const BonusRule *a, const BonusRule *b)
{
	if (a->grp == NULL || b->grp == NULL)
		return a->grp == NULL && b->grp == NULL;
	return a->grp_len == b->grp_len && memcmp(a->grp, b->grp, a->grp_len) == 0;
}

/*
 * engine_bonus_pick evaluates tiered bonus rules for a top-up of amount (all
 * money in minor units). Rules are grouped by grp (NULL is the base group); in
 * each group the rule with the greatest min_amount not above amount applies
 * (on a tie, the later one) and grants fixed + amount * rate (half away from
 * zero), capped by cap when has_cap. For each group whose bonus is not zero it
 * stores the applied rule's index in picked[] and the bonus in bonus[], and
 * returns how many it stored.
 */
int
engine_bonus_pick(int64 amount, int n, const BonusRule *rules, int *picked, int64 *bonus)
{
	int			found = 0;

	for (int i = 0; i < n; i++)
	{
		if (rules[i].min_amount <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_amount of rule %d must be greater than zero", i + 1)));
		if (rules[i].fixed < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bonus_fixed of rule %d must not be negative", i + 1)));
	}
	for (int i = 0; i < n; i++)
	{
		int			pick = -1;
		bool		seen = false;

		/* handle each group at its first rule only */
		for (int j = 0; j < i && !seen; j++)
			seen = same_group(&rules[i], &rules[j]);
		if (seen)
			continue;
		for (int j = i; j < n; j++)
		{
			if (!same_group(&rules[i], &rules[j]) || rules[j].min_amount > amount)
				continue;
			if (pick < 0 || rules[j].min_amount >= rules[pick].min_amount)
				pick = j;
		}
		if (pick >= 0)
		{
			int64		b = rules[pick].fixed;

			if (rules[pick].rate != NULL)
				b = checked_add(b, rate_of(amount, rules[pick].rate));
			if (rules[pick].has_cap && b > rules[pick].cap)
				b = Max(rules[pick].cap, 0);
			if (b > 0)
			{
				picked[found] = pick;
				bonus[found] = b;
				found++;
			}
		}
	}
	return found;
}

/*
 * wallet.bonus_pick(amount bigint, grp text[], min_amount bigint[], fixed bigint[],
 * rate numeric[], cap bigint[]) is engine_bonus_pick for SQL: it returns (idx,
 * bonus) for each group whose bonus is not zero, idx being the 1-based position
 * of the applied rule.
 */
Datum
wallet_bonus_pick(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		amount = PG_GETARG_INT64(0);
	Datum	   *grp,
			   *mins,
			   *fixed,
			   *rate,
			   *cap;
	bool	   *grp_null,
			   *mins_null,
			   *fixed_null,
			   *rate_null,
			   *cap_null;
	int			n,
				n2,
				n3,
				n4,
				n5,
				found;
	BonusRule  *rules;
	int		   *picked;
	int64	   *bonus;

	InitMaterializedSRF(fcinfo, 0);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &grp, &grp_null, &n);
	n2 = array_int64(PG_GETARG_ARRAYTYPE_P(2), &mins, &mins_null);
	n3 = array_int64(PG_GETARG_ARRAYTYPE_P(3), &fixed, &fixed_null);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(4), NUMERICOID, -1, false, TYPALIGN_INT, &rate, &rate_null, &n4);
	n5 = array_int64(PG_GETARG_ARRAYTYPE_P(5), &cap, &cap_null);
	if (n != n2 || n != n3 || n != n4 || n != n5)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule arrays must have the same length")));
	rules = palloc0(sizeof(BonusRule) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (mins_null[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_amount of rule %d must not be null", i + 1)));
		if (!grp_null[i])
		{
			text	   *g = DatumGetTextPP(grp[i]);

			rules[i].grp = VARDATA_ANY(g);
			rules[i].grp_len = VARSIZE_ANY_EXHDR(g);
		}
		rules[i].min_amount = DatumGetInt64(mins[i]);
		rules[i].fixed = fixed_null[i] ? 0 : DatumGetInt64(fixed[i]);
		rules[i].rate = rate_null[i] ? NULL : DatumGetNumeric(rate[i]);
		rules[i].has_cap = !cap_null[i];
		rules[i].cap = cap_null[i] ? 0 : DatumGetInt64(cap[i]);
	}
	picked = palloc(sizeof(int) * Max(n, 1));
	bonus = palloc(sizeof(int64) * Max(n, 1));
	found = engine_bonus_pick(amount, n, rules, picked, bonus);
	for (int k = 0; k < found; k++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int32GetDatum(picked[k] + 1);
		values[1] = Int64GetDatum(bonus[k]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
