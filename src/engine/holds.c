/*
 * holds.c
 *	  Holds (authorizations): money reserved from a wallet's lots and kept in
 *	  the same lot set, beside the lots, as reservations (wallet.h). A hold
 *	  takes in spending order, as a spend does, and the pieces it takes stay
 *	  reserved until it is captured (a spend of the reserved pieces), released
 *	  or expires. Given back, a piece returns to the lot it came from as a
 *	  reversal's piece does (engine_reverse): bonus past its own expiry is
 *	  written off, cash rejoins its top-up's lot.
 *
 *	  Bonus reserved by a hold counts as used by its top-up from the hold on
 *	  (owed, as a spend's), so a refund of that top-up cannot take back money
 *	  whose bonus is promised to a merchant; given back, it is owed no more.
 *
 *	  An expired hold reserves nothing: engine_reserved counts its pieces as
 *	  available where they would go back, before anything is written. The
 *	  next operation that writes the wallet gives them back for good
 *	  (engine_due_hold names them) and journals it.
 */
#include "engine/engine.h"

/*
 * engine_hold reserves up to want from b in spending order at now for scene
 * (earnings only if `earnings`), for hold `hold` until expires. It fills used[bucket] and returns the
 * shortfall.
 */
int64
engine_hold(LotBuilder *b, int64 want, const char *scene, TimestampTz now, bool earnings, int64 hold,
			TimestampTz expires, int64 used[WALLET_NBUCKETS])
{
	LotBuilder *taken;
	int64		shortfall = engine_spend_in(b, want, scene, now, earnings, used, &taken);

	for (int i = 0; i < taken->nlots; i++)
	{
		Reservation *v;

		if (taken->lots[i].amount == 0)
			continue;
		v = builder_add_reservation(b);
		v->lot = taken->lots[i];
		v->scope = taken->scopes[i];
		v->hold = hold;
		v->expires = expires;
	}
	return shortfall;
}

/* hold_cmp orders a hold's reservations for capture: spending order, expiry of bonus ignored. */
static int
hold_cmp(const void *a, const void *b, void *arg)
{
	const Reservation *res = (const Reservation *) arg;
	const WalletLot *x = &res[*(const int *) a].lot;
	const WalletLot *y = &res[*(const int *) b].lot;

	if (x->bucket != y->bucket)
	{
		static const int rank[WALLET_NBUCKETS] = {1, 0, 2};

		return rank[x->bucket] - rank[y->bucket];
	}
	if (x->bucket == BUCKET_BONUS && x->until != y->until)
		return x->until < y->until ? -1 : 1;
	if (x->granted != y->granted)
		return x->granted < y->granted ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* add_piece appends to `to` a piece of reservation v carrying amount (its lot's id). */
static void
add_piece(LotBuilder *to, const Reservation *v, int64 amount)
{
	int32		save = to->next_id;
	WalletLot  *p;

	to->next_id = v->lot.id;
	p = builder_add(to, v->scope);
	to->next_id = Max(save, v->lot.id + 1);
	p->bucket = v->lot.bucket;
	p->amount = amount;
	p->txn = v->lot.txn;
	p->granted = v->lot.granted;
	p->until = v->lot.until;
}

/*
 * take_reserved takes up to want from hold's reservations, in spending order
 * (reverse: the other way round), and returns the pieces taken as lots of a
 * builder whose ids run below b's; used[bucket] says how much of each.
 */
static LotBuilder *
take_reserved(LotBuilder *b, int64 hold, int64 want, bool reverse, int64 used[WALLET_NBUCKETS])
{
	LotBuilder *t = new_builder(b->next_id);
	int		   *order = palloc(sizeof(int) * Max(b->nres, 1));
	int			n = 0;

	for (int k = 0; k < WALLET_NBUCKETS; k++)
		used[k] = 0;
	for (int i = 0; i < b->nres; i++)
		if (b->res[i].hold == hold)
			order[n++] = i;
	qsort_arg(order, n, sizeof(int), hold_cmp, b->res);
	for (int k = 0; k < n && want > 0; k++)
	{
		Reservation *v = &b->res[order[reverse ? n - 1 - k : k]];
		int64		take = Min(want, v->lot.amount);

		v->lot.amount -= take;
		want -= take;
		used[v->lot.bucket] += take;
		add_piece(t, v, take);
	}
	pfree(order);
	for (int i = b->nres - 1; i >= 0; i--)
		if (b->res[i].hold == hold && b->res[i].lot.amount == 0)
			builder_remove_reservation(b, i);
	return t;
}

/* engine_hold_remaining returns what hold still reserves in b, per bucket in left. */
int64
engine_hold_remaining(const LotBuilder *b, int64 hold, int64 left[WALLET_NBUCKETS])
{
	int64		total = 0;

	for (int k = 0; k < WALLET_NBUCKETS; k++)
		left[k] = 0;
	for (int i = 0; i < b->nres; i++)
		if (b->res[i].hold == hold)
		{
			left[b->res[i].lot.bucket] = checked_add(left[b->res[i].lot.bucket], b->res[i].lot.amount);
			total = checked_add(total, b->res[i].lot.amount);
		}
	return total;
}

/*
 * engine_capture charges want (at most what hold reserves) from hold's
 * reservations in spending order, bonus past its expiry included (it was
 * reserved in time). used[bucket] says how it was funded; the pieces, as a
 * spend's, are returned for a reversal.
 */
LotBuilder *
engine_capture(LotBuilder *b, int64 hold, int64 want, int64 used[WALLET_NBUCKETS])
{
	int64		left[WALLET_NBUCKETS];

	if (want < 0 || want > engine_hold_remaining(b, hold, left))
		elog(ERROR, "capture of " INT64_FORMAT " is more than hold " INT64_FORMAT " reserves", want, hold);
	return take_reserved(b, hold, want, false, used);
}

/*
 * engine_release gives back want (at most what hold reserves) of hold's
 * reservations, the last in spending order first (earnings, the newest cash,
 * the bonus that expires last), to the lots they came from (engine_reverse):
 * out says where it went, bonus past its expiry to breakage.
 */
void
engine_release(LotBuilder *b, int64 hold, int64 want, TimestampTz now, ReversalOut *out)
{
	int64		left[WALLET_NBUCKETS];
	int64		used[WALLET_NBUCKETS];
	LotBuilder *pieces;

	if (want < 0 || want > engine_hold_remaining(b, hold, left))
		elog(ERROR, "release of " INT64_FORMAT " is more than hold " INT64_FORMAT " reserves", want, hold);
	pieces = take_reserved(b, hold, want, true, used);
	engine_reverse(b, pieces, now, out);
}

/*
 * engine_due_hold returns the id of a hold of b expired at now, or 0: the
 * holds an operation gives back before its own work.
 */
int64
engine_due_hold(const LotBuilder *b, TimestampTz now)
{
	for (int i = 0; i < b->nres; i++)
		if (b->res[i].expires <= now)
			return b->res[i].hold;
	return 0;
}

/*
 * engine_reserved adds up b's reservations at now: held, what open holds
 * reserve; avail[bucket], what holds past their expiry reserve no more and
 * is available again (bonus only where it is usable in scene and not itself
 * expired); stored[bucket], every reservation, expired or not, as the books
 * have it until the give-back is journaled.
 */
void
engine_reserved(const LotBuilder *b, const char *scene, TimestampTz now, int64 *held,
				int64 avail[WALLET_NBUCKETS], int64 *stored)
{
	*held = 0;
	*stored = 0;
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		avail[k] = 0;
	for (int i = 0; i < b->nres; i++)
	{
		const Reservation *v = &b->res[i];

		*stored = checked_add(*stored, v->lot.amount);
		if (v->expires > now)
			*held = checked_add(*held, v->lot.amount);
		else if (v->lot.bucket != BUCKET_BONUS ||
				 (!expired(&v->lot, now) && scope_allows(v->scope, scene)))
			avail[v->lot.bucket] = checked_add(avail[v->lot.bucket], v->lot.amount);
	}
}

/* engine_hold_extend sets the expiry of every piece hold reserves. */
void
engine_hold_extend(LotBuilder *b, int64 hold, TimestampTz expires)
{
	for (int i = 0; i < b->nres; i++)
		if (b->res[i].hold == hold)
			b->res[i].expires = expires;
}

/*
 * engine_topup_bonus_reserved returns a hold that reserves bonus of top-up
 * txn in b, or 0. That bonus counts as used by the top-up (owed) while it is
 * reserved; a refund of the top-up meanwhile would claw back bonus the hold
 * may yet give back, so the refund waits for the hold to end.
 */
int64
engine_topup_bonus_reserved(const LotBuilder *b, int64 txn)
{
	for (int i = 0; i < b->nres; i++)
		if (b->res[i].lot.bucket == BUCKET_BONUS && b->res[i].lot.txn == txn)
			return b->res[i].hold;
	return 0;
}
