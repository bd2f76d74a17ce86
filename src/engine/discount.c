/*
 * discount.c
 *	  A coupon's discount on an order: money off (kind amount) or a percentage
 *	  of the order rounded half away from zero, capped by max_discount (kind
 *	  percent); never more than the order. Template amounts are in major units
 *	  of the currency (exponent), the order and the discount in minor units.
 */
#include "engine/engine.h"

/* minor_of is a template amount (major units) in minor units, rounded as numeric_int8 rounds. */
static int64
minor_of(Numeric major, int exponent)
{
	int64		pow10 = 1;

	for (int i = 0; i < exponent; i++)
		pow10 *= 10;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8,
											 DirectFunctionCall2(numeric_mul, NumericGetDatum(major),
																 NumericGetDatum(int64_to_numeric(pow10)))));
}

/* engine_coupon_discount is the discount on an order of order_minor (see above). */
int64
engine_coupon_discount(bool percent, Numeric value, Numeric max_discount, int exponent, int64 order_minor)
{
	int64		d;

	if (!percent)
		d = minor_of(value, exponent);
	else
	{
		Numeric		rate = DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(value),
															   NumericGetDatum(int64_to_numeric(100))));

		d = rate_of(order_minor, rate);
		if (max_discount != NULL)
			d = Min(d, minor_of(max_discount, exponent));
	}
	return Min(d, order_minor);
}

/*
 * engine_below_minimum tells whether an order (minor units) is below a
 * template's min_order (major units), compared exactly.
 */
bool
engine_below_minimum(int64 order_minor, Numeric min_order, int exponent)
{
	int64		pow10 = 1;

	for (int i = 0; i < exponent; i++)
		pow10 *= 10;
	return DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(int64_to_numeric(order_minor)),
											DirectFunctionCall2(numeric_mul, NumericGetDatum(min_order),
																NumericGetDatum(int64_to_numeric(pow10)))));
}
