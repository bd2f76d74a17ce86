/*
 * split.c
 *	  The proportional split of an amount over several parts (CONTRACT.md
 *	  section 17): a split payment's charge over its payees, and a reversal
 *	  of it over what each payee has left unreversed. Largest remainder first,
 *	  so the parts add up exactly.
 */
#include "engine/engine.h"

/* A part's remainder, for the order in which the leftover units go. */
typedef struct SplitRem
{
	int			i;
	int64		rem;
} SplitRem;

/* larger remainder first; on a tie, the earlier part */
static int
split_rem_cmp(const void *a, const void *b)
{
	const SplitRem *x = (const SplitRem *) a;
	const SplitRem *y = (const SplitRem *) b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return x->i - y->i;
}

/*
 * engine_split splits total over n parts in proportion to weights (each at
 * least 0, their sum greater than 0 unless total is 0): each part gets the
 * whole units of total * weight / sum, and the units left over go one each to
 * the parts with the largest remainders, the earlier part first on a tie. The
 * parts add up to total, and none exceeds its weight when total does not
 * exceed the sum of the weights.
 */
void
engine_split(int64 total, const int64 *weights, int n, int64 *parts)
{
	int64		sum = 0;
	int64		given = 0;
	SplitRem   *rems;

	if (total < 0 || n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a split needs a total of at least 0 and at least one part")));
	for (int i = 0; i < n; i++)
	{
		if (weights[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a split's weights must not be negative")));
		sum = checked_add(sum, weights[i]);
	}
	if (sum == 0)
	{
		if (total != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a split of a total greater than 0 needs a weight greater than 0")));
		for (int i = 0; i < n; i++)
			parts[i] = 0;
		return;
	}
	rems = palloc(sizeof(SplitRem) * n);
	for (int i = 0; i < n; i++)
	{
		__int128	q = (__int128) total * weights[i];

		parts[i] = (int64) (q / sum);
		rems[i].i = i;
		rems[i].rem = (int64) (q % sum);
		given += parts[i];
	}
	/* what is left is less than n: one unit each to the largest remainders */
	qsort(rems, n, sizeof(SplitRem), split_rem_cmp);
	for (int k = 0; given < total; k++)
	{
		parts[rems[k].i]++;
		given++;
	}
	pfree(rems);
}

