/*
 * reversal.c
 *	  The reversal of a spend: its split over the buckets in proportion to how
 *	  the spend was funded, and the pieces given back to the lots they came
 *	  from.
 */
#include "engine/engine.h"

PG_FUNCTION_INFO_V1(wallet_reversal_split);
PG_FUNCTION_INFO_V1(wallet_lots_reverse);

/*
 * restore_piece recreates a lot for reversal piece k with no amount yet and
 * returns its index: with the piece's own id when that id is free, else
 * (its lot still exists but cannot take the piece, e.g. it is held) a new id.
 */
int
restore_piece(LotBuilder *b, LotBuilder *pieces, int k)
{
	if (find_lot(b, pieces->lots[k].id) < 0)
		copy_piece(b, pieces, k, 0);
	else
	{
		WalletLot  *src = &pieces->lots[k];
		WalletLot  *l = builder_add(b, pieces->scopes[k]);

		l->bucket = src->bucket;
		l->txn = src->txn;
		l->granted = src->granted;
		l->until = src->until;
	}
	return b->nlots - 1;
}

/*
 * engine_reversal_split picks the pieces to give back for a reversal of x
 * from what is left of a spend's pieces (rem): split across buckets in
 * proportion to how the spend was funded (given, per bucket; bonus and
 * earnings round down, cash takes the rest), never more than a bucket has
 * left; within a bucket, in reverse spending order.
 */
LotBuilder *
engine_reversal_split(LotBuilder *rem, const int64 given[WALLET_NBUCKETS], int64 x)
{
	int64		left[WALLET_NBUCKETS] = {0, 0, 0};
	int64		share[WALLET_NBUCKETS];
	int64		charged;
	int64		over;
	LotBuilder *out;
	int		   *order;

	for (int k = 0; k < WALLET_NBUCKETS; k++)
		if (given[k] < 0 || given[k] > WALLET_MAX_MINOR)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("spend funding out of range")));
	charged = checked_add(checked_add(given[0], given[1]), given[2]);
	for (int i = 0; i < rem->nlots; i++)
		left[rem->lots[i].bucket] = checked_add(left[rem->lots[i].bucket], rem->lots[i].amount);
	if (x < 0 || x > checked_add(checked_add(left[0], left[1]), left[2]) || charged <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reversal amount exceeds what is left unreversed")));

	share[BUCKET_BONUS] = Min(left[BUCKET_BONUS],
							  (int64) (((__int128) x * given[BUCKET_BONUS]) / charged));
	share[BUCKET_EARNINGS] = Min(left[BUCKET_EARNINGS],
								 (int64) (((__int128) x * given[BUCKET_EARNINGS]) / charged));
	share[BUCKET_CASH] = x - share[BUCKET_BONUS] - share[BUCKET_EARNINGS];
	if (share[BUCKET_CASH] > left[BUCKET_CASH])
	{
		int64		t;

		over = share[BUCKET_CASH] - left[BUCKET_CASH];
		share[BUCKET_CASH] = left[BUCKET_CASH];
		t = Min(over, left[BUCKET_EARNINGS] - share[BUCKET_EARNINGS]);
		share[BUCKET_EARNINGS] += t;
		over -= t;
		share[BUCKET_BONUS] += over;
		Assert(share[BUCKET_BONUS] <= left[BUCKET_BONUS]);
	}

	/* within each bucket, give back in reverse spending order */
	order = palloc(sizeof(int) * Max(rem->nlots, 1));
	for (int i = 0; i < rem->nlots; i++)
		order[i] = i;
	qsort_arg(order, rem->nlots, sizeof(int), spend_cmp, rem->lots);
	out = new_builder(rem->next_id);
	for (int k = rem->nlots - 1; k >= 0; k--)
	{
		WalletLot  *p = &rem->lots[order[k]];
		int64		give = Min(share[p->bucket], p->amount);

		if (give > 0)
		{
			copy_piece(out, rem, order[k], give);
			share[p->bucket] -= give;
		}
	}
	pfree(order);
	return out;
}

/*
 * wallet.reversal_split(remaining lotset, given_bonus, given_cash,
 * given_earnings bigint, amount bigint) is engine_reversal_split.
 */
Datum
wallet_reversal_split(PG_FUNCTION_ARGS)
{
	int64		given[WALLET_NBUCKETS];

	given[BUCKET_BONUS] = PG_GETARG_INT64(1);
	given[BUCKET_CASH] = PG_GETARG_INT64(2);
	given[BUCKET_EARNINGS] = PG_GETARG_INT64(3);
	PG_RETURN_LOTSET_P(lotset_pack(engine_reversal_split(lotset_unpack(PG_GETARG_LOTSET_P(0)), given,
														 PG_GETARG_INT64(4))));
}

/*
 * engine_reverse puts reversal pieces back into the lots (b) they came from
 * and fills out:
 *  - bonus first settles what its top-up owes; bonus its top-up already paid
 *    back through a refund clawback returns as that top-up's cash; bonus
 *    already expired is written off (breakage); the rest returns as bonus
 *    with its original expiry and scope;
 *  - cash regains its top-up's refund window (or joins the closed cash);
 *  - earnings rejoin the earnings lot.
 * out->back is what went back into each bucket; out->breakage the bonus
 * written off, out->bonus_to_cash the bonus that returned as cash.
 */
void
engine_reverse(LotBuilder *b, LotBuilder *pieces, TimestampTz now, ReversalOut *out)
{
	int64	   *back = out->back;

	memset(out, 0, sizeof(*out));
	if (pieces->next_id > b->next_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reversal pieces do not belong to this wallet")));
	for (int k = 0; k < pieces->nlots; k++)
	{
		WalletLot  *p = &pieces->lots[k];
		int64		amt = p->amount;
		int			i;

		if (p->bucket == BUCKET_BONUS)
		{
			int			c = find_topup_cash(b, p->txn, false);

			/* owed is zero once the window has closed; clawed is kept (see compact) */
			if (c >= 0)
			{
				WalletLot  *cl = &b->lots[c];
				int64		settle = Min(amt, cl->owed);
				int64		conv = Min(amt - settle, cl->clawed);

				cl->owed -= settle;
				cl->clawed -= conv;
				cl->amount = checked_add(cl->amount, conv);
				out->bonus_to_cash = checked_add(out->bonus_to_cash, conv);
				back[BUCKET_CASH] = checked_add(back[BUCKET_CASH], conv);
				amt -= conv;
			}
			if (amt == 0)
				continue;
			if (expired(p, now))
			{
				out->breakage = checked_add(out->breakage, amt);
				continue;
			}
			i = find_lot(b, p->id);
			if (i < 0 || b->lots[i].bucket != BUCKET_BONUS)
				i = restore_piece(b, pieces, k);
		}
		else if (p->bucket == BUCKET_CASH)
		{
			i = -1;
			if (!TIMESTAMP_NOT_FINITE(p->until) && p->until > now)
			{
				i = find_lot(b, p->id);
				if (i >= 0 && b->lots[i].bucket != BUCKET_CASH)
					i = -1;
			}
			else
			{
				/* the window has closed: join the closed cash */
				for (int j = 0; j < b->nlots; j++)
					if (b->lots[j].bucket == BUCKET_CASH && !in_window(&b->lots[j], now) &&
						b->lots[j].held == 0)
						i = j;
			}
			if (i < 0)
				i = restore_piece(b, pieces, k);
		}
		else
		{
			i = -1;
			for (int j = 0; j < b->nlots; j++)
				if (b->lots[j].bucket == BUCKET_EARNINGS)
					i = j;
			if (i < 0)
				i = restore_piece(b, pieces, k);
		}
		if (b->lots[i].bucket != p->bucket)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("reversal piece for lot %d does not match its lot", p->id)));
		b->lots[i].amount = checked_add(b->lots[i].amount, amt);
		/* joined to another lot (closed cash, earnings): it keeps its age, as compact's merge does */
		if (b->lots[i].id != p->id && p->granted < b->lots[i].granted)
			b->lots[i].granted = p->granted;
		back[p->bucket] = checked_add(back[p->bucket], amt);
	}
	compact(b, now);
}

/*
 * wallet.lots_reverse(lots, pieces lotset, now) is engine_reverse: it returns
 * (lots, bonus, cash, earnings, breakage, bonus_to_cash).
 */
Datum
wallet_lots_reverse(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	ReversalOut r;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	engine_reverse(b, lotset_unpack(PG_GETARG_LOTSET_P(1)), PG_GETARG_TIMESTAMPTZ(2), &r);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = Int64GetDatum(r.back[BUCKET_BONUS]);
	values[2] = Int64GetDatum(r.back[BUCKET_CASH]);
	values[3] = Int64GetDatum(r.back[BUCKET_EARNINGS]);
	values[4] = Int64GetDatum(r.breakage);
	values[5] = Int64GetDatum(r.bonus_to_cash);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * engine_payee_back is what a payee gives back of its credit (payee_total)
 * when a reversal of x takes the spend's reversed total from done to
 * done + x of charged: the same proportion, rounded half away from zero on
 * the running total, so that the last reversal gives back all that is left
 * (payee_done: what earlier reversals took).
 */
int64
engine_payee_back(int64 payee_total, int64 payee_done, int64 done, int64 x, int64 charged)
{
	int64		upto = checked_add(done, x);
	__int128	num;
	int64		q;

	/* nothing reversed (the full reversal of a spend a coupon paid whole): nothing back */
	if (x == 0 && done <= charged && payee_done <= payee_total && payee_done >= 0)
		return 0;
	if (charged <= 0 || upto > charged || payee_total < 0 || payee_done < 0 || payee_done > payee_total)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("payee share of a reversal out of range")));
	if (upto == charged)
		return payee_total - payee_done;
	/* round(payee_total * upto / charged), half away from zero; all are >= 0 */
	num = (__int128) payee_total * upto;
	q = (int64) ((num * 2 + charged) / ((__int128) charged * 2));
	return q - payee_done;
}
