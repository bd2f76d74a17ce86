/*
 * refund.c
 *	  Refund netting of a top-up: what is refundable and clawed back, the hold
 *	  a request places, and its release or settlement.
 */
#include "engine/engine.h"

PG_FUNCTION_INFO_V1(wallet_lots_refund_info);
PG_FUNCTION_INFO_V1(wallet_lots_refund_hold);
PG_FUNCTION_INFO_V1(wallet_lots_refund_release);
PG_FUNCTION_INFO_V1(wallet_lots_refund_settle);

/*
 * wallet.lots_refund_info(lots, topup_txn bigint, now) returns (found, cash,
 * owed, clawed, bonus_live, refundable_until, held) for a top-up still in its
 * refund window: cash is c and owed is u of the netting rule.
 */
Datum
wallet_lots_refund_info(PG_FUNCTION_ARGS)
{
	LotBuilder *ls = lotset_unpack(PG_GETARG_LOTSET_P(0));
	int64		txn = PG_GETARG_INT64(1);
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(2);
	const WalletLot *cash = NULL;
	int64		bonus_live = 0;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	for (int i = 0; i < ls->nlots; i++)
	{
		const WalletLot *l = &ls->lots[i];

		if (l->txn != txn)
			continue;
		if (l->bucket == BUCKET_CASH && in_window(l, now))
			cash = l;
		else if (l->bucket == BUCKET_BONUS && !expired(l, now))
			bonus_live = checked_add(bonus_live, l->amount);
	}
	values[0] = BoolGetDatum(cash != NULL);
	values[1] = Int64GetDatum(cash ? cash->amount : 0);
	values[2] = Int64GetDatum(cash ? cash->owed : 0);
	values[3] = Int64GetDatum(cash ? cash->clawed : 0);
	values[4] = Int64GetDatum(bonus_live);
	values[5] = TimestampTzGetDatum(cash ? cash->until : 0);
	nulls[5] = (cash == NULL);
	values[6] = Int64GetDatum(cash ? cash->held : 0);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * engine_topup_held tells whether top-up txn's cash lot holds money: every
 * refund of it still open (pending or approved) holds its amount there, so
 * false means none is open.
 */
bool
engine_topup_held(LotBuilder *b, int64 txn)
{
	return find_topup_cash(b, txn, true) >= 0;
}

/*
 * wallet.lots_refund_hold(lots, topup_txn, take bigint, clawback bigint, now)
 * reserves a refund: take (amount + clawback) moves from the top-up's cash to
 * held, the clawback stops being owed, and the top-up's live bonus is held.
 * Returns (lots, bonus_held).
 */
Datum
wallet_lots_refund_hold(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	int64		txn = PG_GETARG_INT64(1);
	int64		take = PG_GETARG_INT64(2);
	int64		clawback = PG_GETARG_INT64(3);
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(4);
	int			c = find_topup_cash(b, txn, false);
	int64		bonus_held = 0;
	WalletLot  *cl;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (c < 0 || !in_window(&b->lots[c], now))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top-up %lld is not refundable in this wallet", (long long) txn)));
	cl = &b->lots[c];
	if (take < 0 || clawback < 0 || clawback > take || take > cl->amount || clawback > cl->owed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refund hold exceeds what the top-up has")));
	cl->amount -= take;
	cl->held += take;
	cl->owed -= clawback;
	cl->clawed += clawback;
	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];

		if (l->bucket == BUCKET_BONUS && l->txn == txn && l->amount > 0 && !expired(l, now))
		{
			l->held += l->amount;
			bonus_held += l->amount;
			l->amount = 0;
		}
	}
	compact(b, now);
	values[0] = PointerGetDatum(lotset_pack(b));
	values[1] = Int64GetDatum(bonus_held);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/* release_or_settle ends a refund's hold: released gives it back, else final. */
static LotSet *
release_or_settle(LotBuilder *b, int64 txn, int64 take, int64 clawback, int64 bonus_held,
				  TimestampTz now, bool release)
{
	int			c = find_topup_cash(b, txn, true);
	int64		bonus = 0;

	if (take < 0 || clawback < 0 || clawback > take || bonus_held < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refund hold amounts out of range")));
	if (take > 0)
	{
		WalletLot  *cl;

		if (c < 0 || b->lots[c].held < take)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the hold of top-up %lld is not in the wallet", (long long) txn)));
		cl = &b->lots[c];
		cl->held -= take;
		if (release)
		{
			int64		conv = Min(clawback, cl->clawed);

			cl->amount = checked_add(cl->amount, take);
			cl->clawed -= conv;
			cl->owed += conv;
		}
	}
	for (int i = 0; i < b->nlots; i++)
	{
		WalletLot  *l = &b->lots[i];

		if (l->bucket == BUCKET_BONUS && l->txn == txn && l->held > 0)
		{
			bonus = checked_add(bonus, l->held);
			if (release)
				l->amount = checked_add(l->amount, l->held);
			l->held = 0;
		}
	}
	if (bonus != bonus_held)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("held bonus of top-up %lld is " INT64_FORMAT ", expected " INT64_FORMAT,
						(long long) txn, bonus, bonus_held)));
	compact(b, now);
	return lotset_pack(b);
}

/*
 * wallet.lots_refund_release(lots, topup_txn, take, clawback, bonus_held, now)
 * gives a rejected or failed refund's hold back.
 */
Datum
wallet_lots_refund_release(PG_FUNCTION_ARGS)
{
	PG_RETURN_LOTSET_P(release_or_settle(lotset_unpack(PG_GETARG_LOTSET_P(0)),
										 PG_GETARG_INT64(1), PG_GETARG_INT64(2),
										 PG_GETARG_INT64(3), PG_GETARG_INT64(4),
										 PG_GETARG_TIMESTAMPTZ(5), true));
}

/*
 * wallet.lots_refund_settle(lots, topup_txn, take, clawback, bonus_held, now)
 * makes a succeeded refund final: the held cash leaves, the held bonus is void.
 */
Datum
wallet_lots_refund_settle(PG_FUNCTION_ARGS)
{
	PG_RETURN_LOTSET_P(release_or_settle(lotset_unpack(PG_GETARG_LOTSET_P(0)),
										 PG_GETARG_INT64(1), PG_GETARG_INT64(2),
										 PG_GETARG_INT64(3), PG_GETARG_INT64(4),
										 PG_GETARG_TIMESTAMPTZ(5), false));
}
