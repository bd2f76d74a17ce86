/*
 * allocation.c
 *	  Spending order: bonus usable in the scene (soonest expiry first), cash,
 *	  earnings, oldest first; and the takes, expiry and differences of lot
 *	  sets built on it.
 */
#include "engine/engine.h"

PG_FUNCTION_INFO_V1(wallet_lots_spend);
PG_FUNCTION_INFO_V1(wallet_lots_expire);
PG_FUNCTION_INFO_V1(wallet_lots_take);
PG_FUNCTION_INFO_V1(wallet_lots_minus);

/*
 * spend_cmp orders lots for spending: bonus (soonest expiry first, no expiry
 * last, then oldest grant), then cash (oldest first), then earnings.
 */
int
spend_cmp(const void *a, const void *b, void *arg)
{
	const WalletLot *lots = (const WalletLot *) arg;
	const WalletLot *x = &lots[*(const int *) a];
	const WalletLot *y = &lots[*(const int *) b];

	if (x->bucket != y->bucket)
	{
		/* bonus (1) sorts before cash (0), before earnings (2) */
		static const int rank[WALLET_NBUCKETS] = {1, 0, 2};

		return rank[x->bucket] - rank[y->bucket];
	}
	if (x->bucket == BUCKET_BONUS && x->until != y->until)
		return x->until < y->until ? -1 : 1;
	if (x->granted != y->granted)
		return x->granted < y->granted ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* usable tells whether lot i may be spent in scene at now. */
bool
usable(LotBuilder *b, int i, const char *scene, TimestampTz now)
{
	WalletLot  *l = &b->lots[i];

	if (l->amount <= 0)
		return false;
	if (l->bucket == BUCKET_BONUS)
		return !expired(l, now) && scope_allows(b->scopes[i], scene);
	return true;
}

/*
 * payable tells whether lot i may pay in scene at now, earnings only with
 * `earnings` (the currency's earnings_scope reaches the scene).
 */
bool
payable(LotBuilder *b, int i, const char *scene, TimestampTz now, bool earnings)
{
	return usable(b, i, scene, now) && (earnings || b->lots[i].bucket != BUCKET_EARNINGS);
}

/* copy_piece appends to `to` a copy of from's lot i carrying amount. */
void
copy_piece(LotBuilder *to, LotBuilder *from, int i, int64 amount)
{
	WalletLot  *src = &from->lots[i];
	int32		save = to->next_id;
	WalletLot  *p;

	to->next_id = src->id;
	p = builder_add(to, from->scopes[i]);
	to->next_id = Max(save, src->id + 1);
	p->bucket = src->bucket;
	p->amount = amount;
	p->txn = src->txn;
	p->granted = src->granted;
	p->until = src->until;
}

/*
 * engine_spend takes up to want from b in spending order at now, for scene
 * (NULL: unscoped bonus only). It fills used[bucket], returns the shortfall
 * and, when taken is not NULL, the pieces taken (as lots) for a reversal.
 * Bonus taken from a top-up still in its refund window is owed by that top-up.
 */
int64
engine_spend(LotBuilder *b, int64 want, const char *scene, TimestampTz now,
			 int64 used[WALLET_NBUCKETS], LotBuilder **taken)
{
	return engine_spend_in(b, want, scene, now, true, used, taken);
}

/*
 * engine_spend_in is engine_spend with earnings left out unless `earnings`
 * (the currency's earnings_scope does not reach the scene).
 */
int64
engine_spend_in(LotBuilder *b, int64 want, const char *scene, TimestampTz now, bool earnings,
				int64 used[WALLET_NBUCKETS], LotBuilder **taken)
{
	int		   *order;
	int			n = 0;
	LotBuilder *t = new_builder(b->next_id);

	if (want < 0)
		elog(ERROR, "spend amount must not be negative");
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		used[k] = 0;
	order = palloc(sizeof(int) * Max(b->nlots, 1));
	for (int i = 0; i < b->nlots; i++)
		if (payable(b, i, scene, now, earnings))
			order[n++] = i;
	qsort_arg(order, n, sizeof(int), spend_cmp, b->lots);

	for (int k = 0; k < n && want > 0; k++)
	{
		WalletLot  *l = &b->lots[order[k]];
		int64		take = Min(want, l->amount);

		l->amount -= take;
		want -= take;
		used[l->bucket] += take;
		copy_piece(t, b, order[k], take);
		if (l->bucket == BUCKET_BONUS)
		{
			int			c = find_topup_cash(b, l->txn, false);

			if (c >= 0 && in_window(&b->lots[c], now))
				b->lots[c].owed = checked_add(b->lots[c].owed, take);
		}
	}
	pfree(order);
	compact(b, now);
	if (taken)
		*taken = t;
	return want;
}

/*
 * wallet.lots_spend(lots, amount bigint, scene text, now timestamptz) takes up
 * to amount in spending order and returns (lots, taken, bonus, cash, earnings,
 * shortfall). `taken` holds the pieces, as lots, for a later reversal.
 */
Datum
wallet_lots_spend(PG_FUNCTION_ARGS)
{
	LotBuilder *b;
	LotBuilder *taken;
	int64		used[WALLET_NBUCKETS];
	int64		shortfall;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		elog(ERROR, "lots_spend needs lots, amount and now");
	b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	shortfall = engine_spend(b, PG_GETARG_INT64(1), scene_arg(fcinfo, 2), PG_GETARG_TIMESTAMPTZ(3),
							 used, &taken);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = PointerGetDatum(lotset_pack(taken));
	values[2] = Int64GetDatum(used[BUCKET_BONUS]);
	values[3] = Int64GetDatum(used[BUCKET_CASH]);
	values[4] = Int64GetDatum(used[BUCKET_EARNINGS]);
	values[5] = Int64GetDatum(shortfall);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * wallet.lots_expire(lots, now) writes off bonus whose expiry has passed and
 * returns (lots, expired bigint, lots_expired int). Held bonus stays held.
 */
Datum
wallet_lots_expire(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(1);
	int64		total = 0;
	int32		count = 0;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];

		if (l->bucket == BUCKET_BONUS && l->amount > 0 && expired(l, now))
		{
			total = checked_add(total, l->amount);
			l->amount = 0;
			count++;
		}
	}
	compact(b, now);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = Int64GetDatum(total);
	values[2] = Int32GetDatum(count);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * engine_take takes up to want from the usable lots of one bucket in
 * spending order (with every_scope, also bonus lots scoped away from every
 * scene) and returns what it took.
 */
int64
engine_take(LotBuilder *b, int bucket, int64 want, TimestampTz now, bool every_scope)
{
	int64		got = 0;
	int		   *order;
	int			n = 0;

	order = palloc(sizeof(int) * Max(b->nlots, 1));
	for (int i = 0; i < b->nlots; i++)
		if (b->lots[i].bucket == bucket &&
			(usable(b, i, NULL, now) ||
			 (every_scope && b->lots[i].amount > 0 && !expired(&b->lots[i], now))))
			order[n++] = i;
	qsort_arg(order, n, sizeof(int), spend_cmp, b->lots);
	for (int k = 0; k < n && got < want; k++)
	{
		WalletLot  *l = &b->lots[order[k]];
		int64		take = Min(want - got, l->amount);

		l->amount -= take;
		got += take;
	}
	pfree(order);
	compact(b, now);
	return got;
}

/*
 * wallet.lots_take(lots, bucket text, amount bigint, now, every_scope boolean
 * DEFAULT false) takes up to amount from one bucket's live lots, in spending
 * order (bonus: soonest expiry first; cash and earnings: oldest first), and
 * returns (lots, taken). Bonus is taken from unscoped lots only, unless
 * every_scope is set (an adjustment takes bonus of any scope); expired bonus
 * is never taken.
 */
Datum
wallet_lots_take(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	int			bucket = bucket_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)), false);
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[1] = Int64GetDatum(engine_take(b, bucket, PG_GETARG_INT64(2), PG_GETARG_TIMESTAMPTZ(3),
										  PG_NARGS() > 4 && PG_GETARG_BOOL(4)));
	values[0] = PointerGetDatum(lotset_pack(b));
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * engine_lots_minus takes sub from a, piece by piece (matched by lot id):
 * what is left of a spend's pieces after reversals.
 */
void
engine_lots_minus(LotBuilder *a, const LotBuilder *sub)
{
	for (int j = 0; j < sub->nlots; j++)
	{
		int			i = find_lot(a, sub->lots[j].id);

		if (i < 0 || a->lots[i].amount < sub->lots[j].amount)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("lot set difference would be negative at lot %d", sub->lots[j].id)));
		a->lots[i].amount -= sub->lots[j].amount;
	}
	for (int i = a->nlots - 1; i >= 0; i--)
		if (a->lots[i].amount == 0)
			builder_remove(a, i);
}

/* wallet.lots_minus(a lotset, b lotset) is engine_lots_minus. */
Datum
wallet_lots_minus(PG_FUNCTION_ARGS)
{
	LotBuilder *a = lotset_unpack(PG_GETARG_LOTSET_P(0));

	engine_lots_minus(a, lotset_unpack(PG_GETARG_LOTSET_P(1)));
	PG_RETURN_LOTSET_P(lotset_pack(a));
}
