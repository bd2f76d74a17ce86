/*
 * reward.c
 *	  Points earned by spending (CONTRACT.md section 18): a spend, a hold's
 *	  capture or a split payment that a reward rule of its currency covers
 *	  credits the same owner's points wallet (opened if missing) with bonus
 *	  expiring after the rule's valid_for, in the same transaction, against
 *	  reward_expense; a reversal takes the points back in proportion, what was
 *	  spent already becoming the points wallet's debt. The points wallet is
 *	  credited as a payee is (credit_bonus_pending): its row is neither locked
 *	  nor written by the spend. Its journal row (kind reward) is in the points
 *	  currency, ref_txn the spend; the take-back's (kind reward_back), ref_txn
 *	  the reversal.
 */
#include "ops/ops.h"

/* The points wallet of a wallet's owner in a points currency, opened if missing. */
static OpPlan points_wallet = OP_PLAN(
	"SELECT wallet.open(w.owner, $2) FROM wallet.wallet w WHERE w.wallet_id = $1",
	2, INT8OID, TEXTOID);

/*
 * reward_plan fills rw with what a spend of wallet w that charged charged in
 * scene at clk earns, and returns whether it earns anything. Without a reward
 * rule of the wallet's currency it runs no statement; with one that applies
 * and gives at least one point, it finds (or opens) the owner's points wallet
 * and draws the reward's transaction id.
 */
bool
reward_plan(const WalletRow *w, const char *scene, int64 charged, TimestampTz clk, Reward *rw)
{
	RewardRule *rules;
	int			n = currency_reward_rules(w->currency, w->exponent, &rules);
	int			pick;
	const RewardRule *r;
	Datum		args[2];
	bool		isnull;

	memset(rw, 0, sizeof(*rw));
	if (n == 0)
		return false;
	pick = engine_reward_pick(rules, n, charged, scene, clk);
	if (pick < 0)
		return false;
	r = &rules[pick];
	rw->points = engine_reward_points(r, charged, w->exponent);
	if (rw->points <= 0)
	{
		rw->points = 0;
		return false;
	}
	rw->rule_id = r->rule_id;
	rw->currency = r->points_currency;
	rw->exponent = r->points_exponent;
	rw->expires = WALLET_NO_TIME;
	if (r->has_valid_for)
		rw->expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(clk),
															  IntervalPGetDatum(&r->valid_for)));
	/* found directly; opened by the statement only the first time */
	rw->wallet_id = w->tup != NULL ? sibling_wallet(w, r->points_currency) : 0;
	if (rw->wallet_id == 0)
	{
		args[0] = Int64GetDatum(w->id);
		args[1] = CStringGetTextDatum(r->points_currency);
		if (run_plan(op_plan(&points_wallet), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not open the points wallet of wallet %lld", (long long) w->id);
		rw->wallet_id = DatumGetInt64(getcol(1, &isnull));
	}
	rw->txn_id = nextval_internal(plans.txn_seq, false);
	return true;
}

/* reward_json adds a reward's members to a spend's journal result (nothing when it earned none). */
void
reward_json(JB *jb, const Reward *rw)
{
	if (rw->points <= 0)
		return;
	jb_int(jb, "points", rw->points);
	jb_int(jb, "points_wallet", rw->wallet_id);
	jb_int(jb, "points_txn", rw->txn_id);
	jb_int(jb, "points_exponent", rw->exponent);
}

/*
 * reward_credit credits the points of rw (planned by reward_plan) for spend
 * spend_txn once the spend is written: a pending bonus credit of the points
 * wallet and its journal row in the points currency.
 */
void
reward_credit(const Reward *rw, int64 spend_txn, TimestampTz clk)
{
	WalletRow	pw;
	Postings	legs;
	JB			jb;
	Jsonb	   *req;
	Jsonb	   *res;

	if (rw->points <= 0)
		return;
	memset(&pw, 0, sizeof(pw));
	pw.id = rw->wallet_id;
	pw.currency = rw->currency;
	postings_init(&legs);
	post_reward(&legs, rw->wallet_id, rw->points);
	jb_begin(&jb);
	jb_int(&jb, "spend_txn", spend_txn);
	jb_int(&jb, "rule_id", rw->rule_id);
	req = jb_end(&jb);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", rw->txn_id);
	jb_int(&jb, "points", rw->points);
	if (rw->expires != WALLET_NO_TIME)
		jb_time(&jb, "expires_at", rw->expires);
	res = jb_end(&jb);
	journal_op(&pw, rw->txn_id, "reward", rw->points, clk, spend_txn, req, res, legs_of(&legs, "reward"));
	credit_bonus_pending(rw->wallet_id, rw->points, rw->expires, rw->txn_id);
}

/*
 * take_back takes amt back from locked wallet pw's bucket (earnings of a
 * payee, bonus of a points wallet): its pending credits rolled up first, its
 * lots give what they can in spending order, the rest becomes its debt
 * (add_debt, for reversal tid). A reversal never fails for the receiver's
 * sake, a frozen one included. Returns what the lots gave.
 */
int64
take_back(WalletRow *pw, int bucket, int64 amt, int64 tid, TimestampTz clk)
{
	LotBuilder *b = lotset_unpack(pw->lots);
	int64		taken;

	(void) rollup_credits(pw->id, b, clk);
	taken = engine_take(b, bucket, amt, clk, false);
	if (!save_wallet(pw, b))
		elog(ERROR, "wallet %lld changed under its lock", (long long) pw->id);
	if (amt > taken)
		add_debt(pw->id, amt - taken, tid, clk);
	return taken;
}

/*
 * reward_take_back takes back back points of spend spend_txn's reward from
 * locked points wallet pw for reversal tid, journaled in the points currency
 * (kind reward_back, ref_txn the reversal).
 */
void
reward_take_back(WalletRow *pw, int64 back, int64 spend_txn, int64 tid, TimestampTz clk)
{
	int64		taken;
	int64		txn;
	Postings	legs;
	JB			jb;
	Jsonb	   *req;
	Jsonb	   *res;

	if (back <= 0)
		return;
	taken = take_back(pw, BUCKET_BONUS, back, tid, clk);
	txn = nextval_internal(plans.txn_seq, false);
	postings_init(&legs);
	post_reward_back(&legs, pw->id, back, taken);
	jb_begin(&jb);
	jb_int(&jb, "spend_txn", spend_txn);
	jb_int(&jb, "reversal_txn", tid);
	req = jb_end(&jb);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", txn);
	jb_int(&jb, "points_back", back);
	jb_int(&jb, "debt", back - taken);
	res = jb_end(&jb);
	insert_txn_keyless(txn, pw, "reward_back", back, clk, tid, req, res, legs_of(&legs, "reward_back"), NULL);
}
