/*
 * cards.c
 *	  Card intake's rules (CONTRACT.md section 19), once: which rate row
 *	  applies to a card (face tiers, batch tiers, a member's own rows,
 *	  validity windows), the market weighting of the rate with its clamp, and
 *	  a card's payout and fee. No table access.
 */
#include "engine/engine.h"
#include "engine/cards.h"

#include "utils/numeric.h"

/* in_force tells whether rate row r applies at now: valid_from <= now < valid_until (NULL: open). */
static bool
in_force(const CardRate *r, TimestampTz now)
{
	return (!r->has_from || r->valid_from <= now) && (!r->has_until || now < r->valid_until);
}

/*
 * better tells whether row a wins over row b, both matching: the greater
 * min_face, then the greater min_quantity, then the later valid_from (none:
 * the earliest), then the later row (the greater rate_id).
 */
static bool
better(const CardRate *a, const CardRate *b)
{
	if (a->min_face != b->min_face)
		return a->min_face > b->min_face;
	if (a->min_quantity != b->min_quantity)
		return a->min_quantity > b->min_quantity;
	if (a->has_from != b->has_from)
		return a->has_from;
	if (a->has_from && a->valid_from != b->valid_from)
		return a->valid_from > b->valid_from;
	return a->rate_id > b->rate_id;
}

/*
 * engine_card_pick returns the index of the rate row that applies to a card
 * of face value face (minor units) in a batch of quantity cards at now, or -1
 * when none does. Among the rows in force with min_face <= face and
 * min_quantity <= quantity, the member's own rows if any match, else the
 * general rows; of those the best (see better).
 */
int
engine_card_pick(const CardRate *rows, int n, int64 face, int32 quantity, TimestampTz now)
{
	int			best = -1;
	bool		best_member = false;

	for (int i = 0; i < n; i++)
	{
		const CardRate *r = &rows[i];

		if (!in_force(r, now) || r->min_face > face || r->min_quantity > quantity)
			continue;
		if (best < 0 || (r->member && !best_member) ||
			(r->member == best_member && better(r, &rows[best])))
		{
			best = i;
			best_member = r->member;
		}
	}
	return best;
}

static Numeric
num(int64 v)
{
	return int64_to_numeric(v);
}

static Numeric
mul(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a), NumericGetDatum(b)));
}

static Numeric
add(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

static Numeric
sub(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(a), NumericGetDatum(b)));
}

static int
cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static Numeric
round_to(Numeric a, int scale)
{
	/* numeric round() rounds half away from zero */
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(a), Int32GetDatum(scale)));
}

/*
 * engine_card_rate is the rate quoted for a card whose table rate is
 * table_rate: (1 - weight) * table_rate + weight * realized, where realized is
 * sum(item rate * verified face) / sum(declared face) of the type's last paid
 * items (with no history: the table rate), clamped to [floor, cap] and
 * rounded half away from zero to 4 decimals.
 */
Numeric
engine_card_rate(Numeric table_rate, const CardMarket *m)
{
	Numeric		rate = table_rate;

	if (m->has_history && m->face_declared > 0 && cmp(m->weight, num(0)) > 0)
	{
		Numeric		realized = DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(m->rate_face),
																   NumericGetDatum(num(m->face_declared))));

		rate = add(mul(sub(num(1), m->weight), table_rate), mul(m->weight, realized));
	}
	if (cmp(rate, m->floor) < 0)
		rate = m->floor;
	if (cmp(rate, m->cap) > 0)
		rate = m->cap;
	return round_to(rate, 4);
}

/*
 * engine_card_payout computes what a card of face value face (minor units)
 * pays at rate: fee = face * rate * fee_rate and payout = face * rate - fee,
 * each product rounded half away from zero to the minor unit.
 */
void
engine_card_payout(int64 face, Numeric rate, Numeric fee_rate, int64 *payout, int64 *fee)
{
	Numeric		gross = mul(num(face), rate);
	int64		g = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(round_to(gross, 0))));
	int64		f = DatumGetInt64(DirectFunctionCall1(numeric_int8,
													  NumericGetDatum(round_to(mul(gross, fee_rate), 0))));

	if (f > g)
		f = g;
	*fee = f;
	*payout = g - f;
}
