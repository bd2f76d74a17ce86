/*
 * refund.c
 *	  Refund netting of a top-up (CONTRACT.md section 6): what is refundable
 *	  and clawed back, the fee, whether a request needs review, the hold a
 *	  request places, and its release or settlement. Each rule is here once:
 *	  the refund operations (src/ops/refund_*.c) call the C functions, and the
 *	  SQL functions wallet.lots_refund_* are their wrappers.
 */
#include "engine/engine.h"

PG_FUNCTION_INFO_V1(wallet_lots_refund_info);
PG_FUNCTION_INFO_V1(wallet_lots_refund_hold);
PG_FUNCTION_INFO_V1(wallet_lots_refund_release);
PG_FUNCTION_INFO_V1(wallet_lots_refund_settle);

/*
 * engine_refund_info fills what the lots say of top-up txn at now: its cash
 * lot within its refund window (in_window; c = cash, its owed, clawed and held
 * counters and the window's end) and its live bonus. The coupon members are
 * left at zero (engine_refund_netting sets them).
 */
void
engine_refund_info(const LotBuilder *b, int64 txn, TimestampTz now, RefundNetting *n)
{
	const WalletLot *cash = NULL;

	memset(n, 0, sizeof(RefundNetting));
	for (int i = 0; i < b->nlots; i++)
	{
		const WalletLot *l = &b->lots[i];

		if (l->txn != txn)
			continue;
		if (l->bucket == BUCKET_CASH && in_window(l, now))
			cash = l;
		else if (l->bucket == BUCKET_BONUS && !expired(l, now))
			n->bonus_live = checked_add(n->bonus_live, l->amount);
	}
	n->in_window = cash != NULL;
	if (cash != NULL)
	{
		n->cash = cash->amount;
		n->owed = cash->owed;
		n->clawed = cash->clawed;
		n->held = cash->held;
		n->until = cash->until;
	}
	n->refundable = Max(n->cash - n->owed, 0);
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
 * engine_refund_netting completes the netting with the top-up's coupons: the
 * discount of its redeemed coupons not clawed back yet (coupon_owed) counts in
 * u like spent bonus, and its available coupons (coupons_live) are what a
 * refund voids; a top-up out of its window takes neither. refundable = c - u,
 * at least 0.
 */
void
engine_refund_netting(RefundNetting *n, int64 coupon_owed, int coupons_live)
{
	n->coupon_owed = n->in_window ? coupon_owed : 0;
	n->coupons_live = n->in_window ? coupons_live : 0;
	n->refundable = Max(n->cash - n->owed - n->coupon_owed, 0);
}

/*
 * engine_refund_fee_rate is a refund's fee rate: zero when the platform asks
 * for it; otherwise the currency's refund_fee_rate plus the campaign rule's
 * of the top-up (campaign_rate, NULL: none), at most 1. The sum keeps the
 * scale of its terms, as numeric addition does.
 */
Numeric
engine_refund_fee_rate(bool platform, Numeric policy_rate, Numeric campaign_rate)
{
	Numeric		one;
	Datum		sum;

	if (platform)
		return int64_to_numeric(0);
	sum = DirectFunctionCall2(numeric_add, NumericGetDatum(policy_rate),
							  NumericGetDatum(campaign_rate ? campaign_rate : int64_to_numeric(0)));
	one = int64_to_numeric(1);
	if (DatumGetBool(DirectFunctionCall2(numeric_gt, sum, NumericGetDatum(one))))
		return one;
	return DatumGetNumeric(sum);
}

/* engine_refund_fee is the fee of refunding amount at rate (half away from zero), at most amount. */
int64
engine_refund_fee(int64 amount, Numeric rate)
{
	return Min(rate_of(amount, rate), amount);
}

/*
 * engine_refund_auto_approved tells whether a request's net (minor units)
 * needs no review: at most the currency's refund_auto_approve_max, compared
 * exactly in minor units (the limit's fraction of a minor unit rounds down).
 */
bool
engine_refund_auto_approved(int64 net, Numeric auto_approve_max, int exponent)
{
	int64		pow10 = 1;
	Datum		limit;

	for (int i = 0; i < exponent; i++)
		pow10 *= 10;
	limit = DirectFunctionCall1(numeric_floor,
								DirectFunctionCall2(numeric_mul, NumericGetDatum(auto_approve_max),
													NumericGetDatum(int64_to_numeric(pow10))));
	return DatumGetBool(DirectFunctionCall2(numeric_le, NumericGetDatum(int64_to_numeric(net)), limit));
}

/*
 * engine_refund_hold reserves a refund of top-up txn: take (amount +
 * clawback, and the coupons' clawback) moves from the top-up's cash to held,
 * the clawback stops being owed, and the top-up's live bonus is held. Returns
 * the bonus held.
 */
int64
engine_refund_hold(LotBuilder *b, int64 txn, int64 take, int64 clawback, TimestampTz now)
{
	int			c = find_topup_cash(b, txn, false);
	int64		bonus_held = 0;
	WalletLot  *cl;

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
	return bonus_held;
}

/*
 * engine_refund_end ends a refund's hold of top-up txn: release (rejected,
 * failed) gives it back, the clawback owed again; otherwise (succeeded) it is
 * final: the held cash leaves and the held bonus is void.
 */
void
engine_refund_end(LotBuilder *b, int64 txn, int64 take, int64 clawback, int64 bonus_held,
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
}

/*
 * wallet.lots_refund_info(lots, topup_txn bigint, now) returns (found, cash,
 * owed, clawed, bonus_live, refundable_until, held) for a top-up still in its
 * refund window: cash is c and owed is u of the netting rule
 * (engine_refund_info).
 */
Datum
wallet_lots_refund_info(PG_FUNCTION_ARGS)
{
	RefundNetting n;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	engine_refund_info(lotset_unpack(PG_GETARG_LOTSET_P(0)), PG_GETARG_INT64(1), PG_GETARG_TIMESTAMPTZ(2), &n);
	values[0] = BoolGetDatum(n.in_window);
	values[1] = Int64GetDatum(n.cash);
	values[2] = Int64GetDatum(n.owed);
	values[3] = Int64GetDatum(n.clawed);
	values[4] = Int64GetDatum(n.bonus_live);
	values[5] = TimestampTzGetDatum(n.until);
	nulls[5] = !n.in_window;
	values[6] = Int64GetDatum(n.held);
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/*
 * wallet.lots_refund_hold(lots, topup_txn, take bigint, clawback bigint, now)
 * returns (lots, bonus_held): engine_refund_hold.
 */
Datum
wallet_lots_refund_hold(PG_FUNCTION_ARGS)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[1] = Int64GetDatum(engine_refund_hold(b, PG_GETARG_INT64(1), PG_GETARG_INT64(2),
												 PG_GETARG_INT64(3), PG_GETARG_TIMESTAMPTZ(4)));
	values[0] = PointerGetDatum(lotset_pack(b));
	PG_RETURN_DATUM(result_tuple(fcinfo, values, nulls));
}

/* refund_end_call is wallet.lots_refund_release and _settle: engine_refund_end. */
static Datum
refund_end_call(FunctionCallInfo fcinfo, bool release)
{
	LotBuilder *b = lotset_unpack(PG_GETARG_LOTSET_P(0));

	engine_refund_end(b, PG_GETARG_INT64(1), PG_GETARG_INT64(2), PG_GETARG_INT64(3), PG_GETARG_INT64(4),
					  PG_GETARG_TIMESTAMPTZ(5), release);
	PG_RETURN_LOTSET_P(lotset_pack(b));
}

/*
 * wallet.lots_refund_release(lots, topup_txn, take, clawback, bonus_held, now)
 * gives a rejected or failed refund's hold back.
 */
Datum
wallet_lots_refund_release(PG_FUNCTION_ARGS)
{
	return refund_end_call(fcinfo, true);
}

/*
 * wallet.lots_refund_settle(lots, topup_txn, take, clawback, bonus_held, now)
 * makes a succeeded refund final: the held cash leaves, the held bonus is void.
 */
Datum
wallet_lots_refund_settle(PG_FUNCTION_ARGS)
{
	return refund_end_call(fcinfo, false);
}
