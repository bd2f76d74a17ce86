/*
 * postings.c
 *	  The account rules: which accounts each operation posts to, and by how
 *	  much, as the journal row's legs (CONTRACT.md, the double-entry journal).
 *	  A wallet's legs name its bucket (cash, bonus, earnings, held); system
 *	  accounts (funding, revenue, commission, breakage, bonus_expense,
 *	  coupon_expense, refund_payout, withdrawal_payout, fee_income,
 *	  payee_receivable, fx, reward_expense, shard_transit: money on its way to
 *	  another shard) have no
 *	  stored balance. Every operation's legs sum to zero: postings_done
 *	  refuses any that do not, before anything is written.
 *
 *	  Pure: the operations (src/ops/) turn the legs into the journal row's
 *	  wallet.posting[] (store's legs_of); the fuzz target drives the same
 *	  functions with the engine's results and checks each wallet leg against
 *	  what the lots did.
 */
#include "engine/engine.h"
#include "engine/cards.h"

void
postings_init(Postings *ps)
{
	ps->n = 0;
	ps->cap = 8;
	ps->p = palloc(sizeof(Posting) * ps->cap);
}

/* post appends one leg unless its amount is zero; wallet_id 0 = none, bucket NULL = none. */
void
post(Postings *ps, const char *account, int64 wallet_id, const char *bucket, int64 amount)
{
	if (amount == 0)
		return;
	if (ps->n == ps->cap)
	{
		ps->cap *= 2;
		ps->p = repalloc(ps->p, sizeof(Posting) * ps->cap);
	}
	ps->p[ps->n].account = account;
	ps->p[ps->n].wallet_id = wallet_id;
	ps->p[ps->n].bucket = bucket;
	ps->p[ps->n].amount = amount;
	ps->n++;
}

/* postings_sum is what the legs add up to (zero when they balance). */
int64
postings_sum(const Postings *ps)
{
	int64		sum = 0;

	for (int i = 0; i < ps->n; i++)
		sum = checked_add(sum, ps->p[i].amount);
	return sum;
}

/*
 * postings_wallet is what the legs post to one bucket of a wallet (bucket
 * "held" included).
 */
int64
postings_wallet(const Postings *ps, int64 wallet_id, const char *bucket)
{
	int64		sum = 0;

	for (int i = 0; i < ps->n; i++)
		if (ps->p[i].wallet_id == wallet_id && ps->p[i].bucket != NULL &&
			strcmp(ps->p[i].account, "wallet") == 0 && strcmp(ps->p[i].bucket, bucket) == 0)
			sum = checked_add(sum, ps->p[i].amount);
	return sum;
}

/* postings_done refuses legs that do not balance (an internal error: nothing is written). */
void
postings_done(const Postings *ps, const char *operation)
{
	int64		sum = postings_sum(ps);

	if (sum != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("the postings of %s do not balance: they sum to " INT64_FORMAT, operation, sum)));
}

/* A top-up: the amount into cash from funding. */
void
post_top_up(Postings *ps, int64 wallet_id, int64 amount)
{
	post(ps, "wallet", wallet_id, "cash", amount);
	post(ps, "funding", 0, NULL, -amount);
}

/* A top-up's bonus of one rule: into bonus, at the bonus expense. */
void
post_bonus(Postings *ps, int64 wallet_id, int64 bonus)
{
	post(ps, "wallet", wallet_id, "bonus", bonus);
	post(ps, "bonus_expense", 0, NULL, -bonus);
}

/*
 * A spend of charged (after a coupon's discount), taken from the buckets as
 * used says: the sale is revenue at its full price, the coupon's part its
 * expense; with payees (their parts add up to charged), each payee's earnings
 * get its part less commission and the platform keeps the commissions
 * instead of the revenue.
 */
void
post_spend_to(Postings *ps, int64 wallet_id, const int64 used[WALLET_NBUCKETS], int64 charged, int64 discount,
			  const PayeePart *payees, int npayees)
{
	int64		commission = 0;

	post(ps, "wallet", wallet_id, "bonus", -used[BUCKET_BONUS]);
	post(ps, "wallet", wallet_id, "cash", -used[BUCKET_CASH]);
	post(ps, "wallet", wallet_id, "earnings", -used[BUCKET_EARNINGS]);
	for (int i = 0; i < npayees; i++)
	{
		if (payees[i].remote)
			post(ps, "shard_transit", 0, NULL, payees[i].credit);	/* on its way to another shard */
		else
			post(ps, "wallet", payees[i].payee, "earnings", payees[i].credit);
		commission = checked_add(commission, payees[i].commission);
	}
	if (npayees > 0)
		post(ps, "commission", 0, NULL, commission);
	post(ps, "revenue", 0, NULL, (npayees > 0 ? 0 : charged) + discount);
	post(ps, "coupon_expense", 0, NULL, -discount);
}

/* A spend with at most one payee, which gets charged less commission (post_spend_to). */
void
post_spend(Postings *ps, int64 wallet_id, const int64 used[WALLET_NBUCKETS], int64 charged, int64 discount,
		   bool has_payee, int64 payee, int64 commission)
{
	PayeePart	p = {.payee = payee, .credit = charged - commission, .commission = commission, .remote = false};

	post_spend_to(ps, wallet_id, used, charged, discount, &p, has_payee ? 1 : 0);
}

/*
 * A reversal of x of a spend: what went back into each bucket (r->back;
 * expired bonus is written off to breakage), against the revenue, or, with
 * payees, against what each payee gives back (back: its earnings give taken,
 * the rest is its debt, payee_receivable) and the commission (x less what
 * the payees give back). The full reversal undoes the coupon's discount:
 * back to coupon_expense, or, when a refund of its top-up clawed it back
 * (COUPON_TO_CASH), as cash.
 */
void
post_reversal_to(Postings *ps, int64 wallet_id, const ReversalOut *r, int64 x, const PayeeBack *payees,
				 int npayees, CouponUndo coupon, int64 discount)
{
	int64		back = 0;

	post(ps, "wallet", wallet_id, "bonus", r->back[BUCKET_BONUS]);
	post(ps, "wallet", wallet_id, "cash", r->back[BUCKET_CASH]);
	post(ps, "wallet", wallet_id, "earnings", r->back[BUCKET_EARNINGS]);
	post(ps, "breakage", 0, NULL, r->breakage);
	if (npayees == 0)
		post(ps, "revenue", 0, NULL, -x);
	else
	{
		for (int i = 0; i < npayees; i++)
		{
			if (payees[i].remote)	/* asked back from another shard: on its way here */
				post(ps, "shard_transit", 0, NULL, -payees[i].back);
			else
			{
				post(ps, "wallet", payees[i].payee, "earnings", -payees[i].taken);
				post(ps, "payee_receivable", payees[i].payee, NULL, -(payees[i].back - payees[i].taken));
			}
			back = checked_add(back, payees[i].back);
		}
		post(ps, "commission", 0, NULL, -(x - back));
	}
	if (coupon == COUPON_TO_CASH)
	{
		post(ps, "revenue", 0, NULL, -discount);
		post(ps, "wallet", wallet_id, "cash", discount);
	}
	else if (coupon == COUPON_BACK)
	{
		post(ps, "revenue", 0, NULL, -discount);
		post(ps, "coupon_expense", 0, NULL, discount);
	}
}

/* A reversal of a spend with at most one payee (post_reversal_to). */
void
post_reversal(Postings *ps, int64 wallet_id, const ReversalOut *r, int64 x, bool has_payee, int64 payee,
			  int64 payee_back, int64 payee_taken, CouponUndo coupon, int64 discount)
{
	PayeeBack	p = {.payee = payee, .back = payee_back, .taken = payee_taken};

	post_reversal_to(ps, wallet_id, r, x, &p, has_payee ? 1 : 0, coupon, discount);
}

/*
 * A transfer of amount from one wallet's earnings to another's, its fee
 * charged to the sender on top and kept as fee income.
 */
void
post_transfer(Postings *ps, int64 from_wallet, int64 to_wallet, int64 amount, int64 fee)
{
	post(ps, "wallet", from_wallet, "earnings", -checked_add(amount, fee));
	post(ps, "wallet", to_wallet, "earnings", amount);
	post(ps, "fee_income", 0, NULL, fee);
}

/*
 * A transfer to a wallet of another shard: the amount goes to shard_transit
 * until the receiver's shard takes it out again (post_relay_in), so each
 * shard's books and the cluster's sum to zero.
 */
void
post_transfer_out(Postings *ps, int64 from_wallet, int64 amount, int64 fee)
{
	post(ps, "wallet", from_wallet, "earnings", -checked_add(amount, fee));
	post(ps, "shard_transit", 0, NULL, amount);
	post(ps, "fee_income", 0, NULL, fee);
}

/*
 * A payee's part of a reversal asked back by another shard (a payee_back
 * message): what its earnings gave, the rest its debt (payee_receivable), the
 * whole out of shard_transit towards the payer's shard.
 */
void
post_relay_back(Postings *ps, int64 payee, int64 back, int64 taken)
{
	post(ps, "wallet", payee, "earnings", -taken);
	post(ps, "payee_receivable", payee, NULL, -(back - taken));
	post(ps, "shard_transit", 0, NULL, back);
}

/* Money from another shard (an outbox message) credited to a wallet's earnings. */
void
post_relay_in(Postings *ps, int64 to_wallet, int64 amount)
{
	post(ps, "wallet", to_wallet, "earnings", amount);
	post(ps, "shard_transit", 0, NULL, -amount);
}

/* A refund's hold: take from the top-up's cash and its live bonus, into held. */
void
post_refund_hold(Postings *ps, int64 wallet_id, int64 take, int64 bonus_held)
{
	post(ps, "wallet", wallet_id, "cash", -take);
	post(ps, "wallet", wallet_id, "bonus", -bonus_held);
	post(ps, "wallet", wallet_id, "held", checked_add(take, bonus_held));
}

/*
 * The end of a refund's hold (take held from cash, bonus_void from bonus):
 * released, everything goes back; settled, the net is paid out, the fee kept,
 * the clawed-back and voided bonus and the coupons' clawback go back to the
 * expenses they were posted from.
 */
void
post_refund_end(Postings *ps, int64 wallet_id, bool release, int64 take, int64 bonus_void, int64 net, int64 fee,
				int64 clawback, int64 coupon_clawback)
{
	post(ps, "wallet", wallet_id, "held", -checked_add(take, bonus_void));
	if (release)
	{
		post(ps, "wallet", wallet_id, "cash", take);
		post(ps, "wallet", wallet_id, "bonus", bonus_void);
	}
	else
	{
		post(ps, "refund_payout", 0, NULL, net);
		post(ps, "fee_income", 0, NULL, fee);
		post(ps, "bonus_expense", 0, NULL, checked_add(clawback, bonus_void));
		post(ps, "coupon_expense", 0, NULL, coupon_clawback);
	}
}

/*
 * A debt repaid by a credit: the credit (posted by the crediting transaction
 * to bucket: earnings, or bonus for reward points) goes to the wallet's
 * receivable.
 */
void
post_repay_debt(Postings *ps, int64 wallet_id, const char *bucket, int64 repaid)
{
	post(ps, "wallet", wallet_id, bucket, -repaid);
	post(ps, "payee_receivable", wallet_id, NULL, repaid);
}

/* An adjustment: a signed amount into one of the wallet's buckets, against adjustment. */
void
post_adjust(Postings *ps, int64 wallet_id, const char *bucket, int64 amount)
{
	post(ps, "wallet", wallet_id, bucket, amount);
	post(ps, "adjustment", 0, NULL, -amount);
}

/* Bonus that expired: written off to breakage. */
void
post_expiry(Postings *ps, int64 wallet_id, int64 amount)
{
	post(ps, "wallet", wallet_id, "bonus", -amount);
	post(ps, "breakage", 0, NULL, amount);
}

/* A hold: what it reserves leaves its buckets (used) for held. */
void
post_hold(Postings *ps, int64 wallet_id, const int64 used[WALLET_NBUCKETS])
{
	post(ps, "wallet", wallet_id, "bonus", -used[BUCKET_BONUS]);
	post(ps, "wallet", wallet_id, "cash", -used[BUCKET_CASH]);
	post(ps, "wallet", wallet_id, "earnings", -used[BUCKET_EARNINGS]);
	post(ps, "wallet", wallet_id, "held",
		 checked_add(checked_add(used[BUCKET_BONUS], used[BUCKET_CASH]), used[BUCKET_EARNINGS]));
}

/*
 * A capture of x from held: a sale as a spend's (revenue, or the payee's
 * earnings less commission and the commission; payee 0: a payee on another
 * shard, whose part goes to shard_transit).
 */
void
post_capture(Postings *ps, int64 wallet_id, int64 x, bool has_payee, int64 payee, int64 commission)
{
	post(ps, "wallet", wallet_id, "held", -x);
	if (has_payee)
	{
		if (payee == 0)			/* on another shard: on its way there */
			post(ps, "shard_transit", 0, NULL, x - commission);
		else
			post(ps, "wallet", payee, "earnings", x - commission);
		post(ps, "commission", 0, NULL, commission);
	}
	else
		post(ps, "revenue", 0, NULL, x);
}

/*
 * A release of total from held: back into the buckets as r says, bonus past
 * its expiry to breakage.
 */
void
post_release(Postings *ps, int64 wallet_id, const ReversalOut *r, int64 total)
{
	post(ps, "wallet", wallet_id, "held", -total);
	post(ps, "wallet", wallet_id, "bonus", r->back[BUCKET_BONUS]);
	post(ps, "wallet", wallet_id, "cash", r->back[BUCKET_CASH]);
	post(ps, "wallet", wallet_id, "earnings", r->back[BUCKET_EARNINGS]);
	post(ps, "breakage", 0, NULL, r->breakage);
}

/* A withdrawal's hold: the amount leaves earnings for held. */
void
post_withdraw_hold(Postings *ps, int64 wallet_id, int64 amount)
{
	post(ps, "wallet", wallet_id, "earnings", -amount);
	post(ps, "wallet", wallet_id, "held", amount);
}

/*
 * The end of a withdrawal's hold: released (rejected, failed), the amount
 * goes back to earnings; paid out (succeeded), the net to withdrawal_payout
 * and the fee to fee_income.
 */
void
post_withdraw_end(Postings *ps, int64 wallet_id, bool release, int64 amount, int64 net, int64 fee)
{
	post(ps, "wallet", wallet_id, "held", -amount);
	if (release)
		post(ps, "wallet", wallet_id, "earnings", amount);
	else
	{
		post(ps, "withdrawal_payout", 0, NULL, net);
		post(ps, "fee_income", 0, NULL, fee);
	}
}

/*
 * A paid-out withdrawal sent back by the bank: the whole amount into
 * earnings again, the net out of withdrawal_payout and the fee out of
 * fee_income.
 */
void
post_withdraw_return(Postings *ps, int64 wallet_id, int64 amount, int64 net, int64 fee)
{
	post(ps, "wallet", wallet_id, "earnings", amount);
	post(ps, "withdrawal_payout", 0, NULL, -net);
	post(ps, "fee_income", 0, NULL, -fee);
}

/* A card intake paid: its payout into the wallet's earnings, bought by the platform (card_purchase). */
void
post_card_payout(Postings *ps, int64 wallet_id, int64 amount)
{
	post(ps, "wallet", wallet_id, "earnings", amount);
	post(ps, "card_purchase", 0, NULL, -amount);
}

/*
 * An exchange's side in the source currency (its own journal row): amount
 * leaves the wallet's earnings, the fee is fee income and the rest goes to
 * fx, the platform's position in that currency.
 */
void
post_exchange_out(Postings *ps, int64 wallet_id, int64 amount, int64 fee)
{
	post(ps, "wallet", wallet_id, "earnings", -amount);
	post(ps, "fee_income", 0, NULL, fee);
	post(ps, "fx", 0, NULL, amount - fee);
}

/*
 * An exchange's side in the target currency (its own journal row): to_amount
 * comes out of fx into the wallet's bucket (earnings, or bonus for points).
 */
void
post_exchange_in(Postings *ps, int64 wallet_id, const char *bucket, int64 to_amount)
{
	post(ps, "wallet", wallet_id, bucket, to_amount);
	post(ps, "fx", 0, NULL, -to_amount);
}

/* Reward points a spend earned: into the points wallet's bonus, at the reward expense. */
void
post_reward(Postings *ps, int64 wallet_id, int64 points)
{
	post(ps, "wallet", wallet_id, "bonus", points);
	post(ps, "reward_expense", 0, NULL, -points);
}

/*
 * Reward points a reversal takes back (back): what the points wallet's bonus
 * gave (taken), the rest lent by payee_receivable (its debt); back returns
 * to the reward expense.
 */
void
post_reward_back(Postings *ps, int64 wallet_id, int64 back, int64 taken)
{
	post(ps, "wallet", wallet_id, "bonus", -taken);
	post(ps, "payee_receivable", wallet_id, NULL, -(back - taken));
	post(ps, "reward_expense", 0, NULL, back);
}
