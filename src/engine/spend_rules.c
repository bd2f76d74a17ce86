/*
 * spend_rules.c
 *	  How much of a balance one payment may use (CONTRACT.md section 15), for
 *	  a spend and a hold alike: the policy's min_balance_use and
 *	  use_all_below, and what a wallet has available for a payment in a scene
 *	  (earnings only where the policy's earnings_scope lets them be spent).
 */
#include "engine/engine.h"

/* engine_earnings_usable tells whether earnings may be spent in scene under earnings_scope (NULL: anywhere). */
bool
engine_earnings_usable(const char *earnings_scope, const char *scene)
{
	return earnings_scope == NULL || (scene != NULL && scope_allows(earnings_scope, scene));
}

/*
 * engine_available returns what b can pay in scene at now: bonus usable
 * there, cash, and earnings where they may be spent (reserved money is not
 * in the lots).
 */
int64
engine_available(LotBuilder *b, const char *scene, TimestampTz now, bool earnings)
{
	int64		a = 0;

	for (int i = 0; i < b->nlots; i++)
		if (payable(b, i, scene, now, earnings))
			a = checked_add(a, b->lots[i].amount);
	return a;
}

/*
 * engine_spend_rule returns the rule a payment breaks, or NULL. n is the
 * order (its amount less a coupon's discount), a what the wallet has
 * available for it, c what the wallet would pay; x the currency's
 * min_balance_use and y its use_all_below (minor units, 0: no rule).
 *
 * - min_balance_use: c must be at least min(x, n), unless c = a (the wallet
 *   pays all it has);
 * - use_all_below: while a < y, a payment that uses the balance (c > 0) must
 *   use all of it (c = a): an order below a, or a max_charge below a, is
 *   refused.
 */
const char *
engine_spend_rule(int64 n, int64 a, int64 c, int64 x, int64 y)
{
	if (x > 0 && c != a && c < Min(x, n))
		return "min_balance_use";
	if (y > 0 && a < y && c > 0 && c != a)
		return "use_all_below";
	return NULL;
}
