/*
 * reverse_spend.c
 *	  wallet.reverse_spend: a spend given back, in full or in part, to the
 *	  buckets and lots it came from (CONTRACT.md section 4), its payee's credit
 *	  taken back in proportion and its coupon undone by the full reversal, on
 *	  the shared pipeline.
 */
#include "ops/reversal.h"

PG_FUNCTION_INFO_V1(wallet_reverse_spend);

/* The outcome, kept across SPI_finish. */
typedef struct ReverseOut
{
	int64		txn_id;
	int64		returned[WALLET_NBUCKETS];
	int64		breakage;
	int64		bonus_to_cash;
	bool		coupon_restored;
	bool		replayed;
} ReverseOut;

static OpPlan refund_open = OP_PLAN(
	"SELECT r.topup_txn FROM unnest($2::bigint[]) WITH ORDINALITY AS u(txn, o) "
	"JOIN wallet.refund r ON r.topup_txn = u.txn AND r.wallet_id = $1 "
	"WHERE r.status IN ('pending', 'approved') ORDER BY u.o LIMIT 1",
	2, INT8OID, INT8ARRAYOID);
static OpPlan coupon_of = OP_PLAN(
	"SELECT c.valid_until IS NULL OR c.valid_until > $3, r.refund_id, r.status "
	"FROM wallet.coupon c LEFT JOIN wallet.refund r ON r.refund_id = c.clawback_refund "
	"WHERE c.redeemed_txn = $1 AND c.wallet_id = $2",
	3, INT8OID, INT8OID, TIMESTAMPTZOID);
static OpPlan coupon_back = OP_PLAN(
	"UPDATE wallet.coupon SET redeemed_txn = NULL, redeemed_at = NULL, discount = NULL "
	"WHERE redeemed_txn = $1 AND wallet_id = $2",
	2, INT8OID, INT8OID);
static OpPlan coupon_void = OP_PLAN(
	"UPDATE wallet.coupon SET redeemed_txn = NULL, redeemed_at = NULL, discount = NULL, "
	"voided_at = $3, void_refund = $4 WHERE redeemed_txn = $1 AND wallet_id = $2",
	4, INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID);

/* the payees this reversal took back from: its journal row is on their statements too */
static OpPlan party = OP_PLAN(
	"INSERT INTO wallet.txn_party (wallet_id, txn_id) SELECT DISTINCT unnest($1::bigint[]), $2 "
	"ON CONFLICT DO NOTHING",
	2, INT8ARRAYOID, INT8OID);

static char *
amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

/*
 * open_refund returns a top-up with a refund still open whose bonus the
 * reversal's pieces would give back (0: none). Such a reversal is refused:
 * whether the refund's clawback stands (the bonus comes back as cash) or not
 * (as bonus) is not known yet. The refunds are read only for top-ups whose
 * cash lot in the wallet (b) holds money, as an open refund's does.
 */
static int64
open_refund(int64 wallet_id, LotBuilder *b, const LotBuilder *portion)
{
	Datum	   *txns = palloc(sizeof(Datum) * Max(portion->nlots, 1));
	int			n = 0;
	Datum		args[2];
	bool		isnull;

	for (int i = 0; i < portion->nlots; i++)
		if (portion->lots[i].bucket == BUCKET_BONUS && engine_topup_held(b, portion->lots[i].txn))
			txns[n++] = Int64GetDatum(portion->lots[i].txn);
	if (n == 0)
		return 0;
	args[0] = Int64GetDatum(wallet_id);
	args[1] = PointerGetDatum(construct_array(txns, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (run_plan(op_plan(&refund_open), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read refunds");
	return SPI_processed > 0 ? DatumGetInt64(getcol(1, &isnull)) : 0;
}

/* A call of wallet.reverse_spend. */
typedef struct ReverseCall
{
	FunctionCallInfo fcinfo;
	TimestampTz clk;
	SpendTxn	sp;				/* the spend reversed */
	WalletRow	w;				/* its wallet */
	WalletRow  *pw;				/* its payees' wallets (sp.npayees) */
	WalletRow	ptw;			/* its owner's points wallet, when it earned points */
	bool		has_x;			/* an amount was given */
	int64		x;				/* that amount (minor units) */
	int			exponent;
	ReverseOut	out;
} ReverseCall;

/* reverse_read reads (or locks) the spend's wallet and those it credited; the request at the first attempt. */
static void
reverse_read(OpOptimistic *op, bool lock, int attempt)
{
	ReverseCall *c = op->state;

	reversal_lock(&c->sp, lock, &c->w, c->pw, &c->ptw);
	if (attempt == 0)
	{
		FunctionCallInfo fcinfo = c->fcinfo;
		JB			jb;

		c->exponent = c->w.exponent;
		if (c->has_x)
			c->x = numeric_to_minor(PG_GETARG_NUMERIC(2), c->w.exponent, "amount");
		jb_begin(&jb);
		jb_int(&jb, "spend_txn_id", c->sp.txn_id);
		jb_int_or_null(&jb, "amount", c->has_x, c->x);
		op->req = jb_end(&jb);
	}
	op->w = &c->w;
}

/*
 * reverse_refuse refuses a reversal of x (rv: the spend's earlier
 * reversals; x_given: the caller named x) of nothing left or of more than is
 * left (WL008). Unlocked, it returns true instead, for the try under the
 * lock, where the key is looked up first: a refusal must not hide a replay.
 */
static bool
reverse_refuse(const ReverseCall *c, const Reversed *rv, int64 x, bool lock)
{
	const SpendTxn *sp = &c->sp;

	/* a spend a coupon paid in full charged nothing, yet reversing it gives the coupon back */
	bool		nothing_left = !c->has_x && x <= 0 && !(sp->discount > 0 && rv->n == 0);
	bool		too_much = c->has_x && x > sp->charged - rv->done;

	if (!nothing_left && !too_much)
		return false;
	if (!lock)
		return true;
	if (nothing_left)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("spend %lld has nothing left to reverse", (long long) sp->txn_id)));
	ereport(ERROR,
			(errcode(ERRCODE_WL('8')),
			 errmsg("reversal exceeds what is left unreversed"),
			 errdetail("Spend %lld charged %s; %s is left to reverse.", (long long) sp->txn_id,
					   amount_text(sp->charged, c->exponent), amount_text(sp->charged - rv->done, c->exponent))));
	return true;				/* not reached */
}

/* The spend's coupon, as its full reversal reads it (read_coupon). */
typedef struct CouponSeen
{
	bool		found;
	bool		valid;			/* still valid at the reversal's time */
	int64		claw_refund;	/* the refund that clawed its discount back (0: none) */
	char	   *claw_status;	/* that refund's status (NULL: none) */
} CouponSeen;

/*
 * read_coupon reads the coupon of spend sp of wallet w at clk, for its full
 * reversal, which waits (WL008) while a refund that claws the coupon's
 * discount back is open: whether the customer paid for it is not known yet.
 */
static void
read_coupon(const SpendTxn *sp, const WalletRow *w, TimestampTz clk, CouponSeen *cs)
{
	Datum		args[3] = {Int64GetDatum(sp->txn_id), Int64GetDatum(w->id), TimestampTzGetDatum(clk)};

	memset(cs, 0, sizeof(*cs));
	if (run_plan(op_plan(&coupon_of), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read coupons");
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d;

		cs->found = true;
		cs->valid = DatumGetBool(getcol(1, &isnull));
		d = getcol(2, &isnull);
		cs->claw_refund = isnull ? 0 : DatumGetInt64(d);
		d = getcol(3, &isnull);
		cs->claw_status = isnull ? NULL : TextDatumGetCString(d);
	}
	if (cs->claw_status != NULL &&
		(strcmp(cs->claw_status, "pending") == 0 || strcmp(cs->claw_status, "approved") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("a refund of the top-up that issued the coupon of spend %lld is in progress",
						(long long) sp->txn_id),
				 errdetail("The refund claws back the coupon's discount."),
				 errhint("Settle, reject or fail the refund first, then reverse the spend.")));
}

/*
 * payees_give_back fills pb with what each payee of spend sp gives back of a
 * reversal of x (rv: the earlier reversals) for reversal tid at clk: x split
 * over what each has left unreversed of its part (engine_split, into xs),
 * each giving back of its credit as a spend's one payee does for its part
 * (engine_payee_back), taken from its locked wallet pw[i] (take_back) or, on
 * another shard, there by message. Returns what they give back, and in
 * *taken what their earnings gave (the rest is their debt).
 */
static int64
payees_give_back(const SpendTxn *sp, const Reversed *rv, int64 x, WalletRow *pw, int64 tid, TimestampTz clk,
				 int64 *xs, PayeeBack *pb, int64 *taken)
{
	int64		back = 0;

	*taken = 0;
	if (sp->npayees > 0)
	{
		int64	   *left = palloc(sizeof(int64) * sp->npayees);

		for (int i = 0; i < sp->npayees; i++)
			left[i] = sp->parts[i] - rv->part_done[i];
		engine_split(x, left, sp->npayees, xs);
	}
	for (int i = 0; i < sp->npayees; i++)
	{
		pb[i].payee = sp->payees[i];
		pb[i].back = engine_payee_back(sp->credits[i], rv->back_done[i], rv->part_done[i], xs[i], sp->parts[i]);
		/* a payee of another shard gives back there, by message (its debt is booked there) */
		pb[i].remote = !shard_local(pb[i].payee);
		if (pb[i].remote)
			pb[i].taken = pb[i].back;
		else
			pb[i].taken = pb[i].back > 0 ? take_back(&pw[i], BUCKET_EARNINGS, pb[i].back, tid, clk) : 0;
		back = checked_add(back, pb[i].back);
		*taken = checked_add(*taken, pb[i].taken);
	}
	return back;
}

/*
 * reversal_written records what follows reversal tid of spend sp of wallet w
 * once its journal row is written: the row on the statements of the payees
 * it took back from, the messages to those of other shards, and the full
 * reversal's coupon, given back or (coupon_cash: its discount came back as
 * cash) voided.
 */
static void
reversal_written(const SpendTxn *sp, const WalletRow *w, int64 tid, const PayeeBack *pb, bool full,
				 int64 coupon_cash, int64 claw_refund, TimestampTz clk)
{
	/* (a 0.1 schema, the library updated and ALTER EXTENSION not run yet, has no such table) */
	if (sp->npayees > 0 && OidIsValid(get_relname_relid("txn_party", plans.nsp)))
	{
		Datum	   *ids = palloc(sizeof(Datum) * sp->npayees);
		int			n = 0;
		Datum		pargs[2];

		for (int i = 0; i < sp->npayees; i++)
			if (pb[i].back > 0)
				ids[n++] = Int64GetDatum(pb[i].payee);
		pargs[0] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		pargs[1] = Int64GetDatum(tid);
		if (n > 0 && run_plan(op_plan(&party), pargs, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the reversal on its payees' statements");
	}
	for (int i = 0; i < sp->npayees; i++)
		if (pb[i].remote && pb[i].back > 0) /* CONTRACT.md section 23: a compensating message */
			(void) outbox_send(w->id, tid, pb[i].payee, w->currency, pb[i].back, "payee_back", clk);
	if (coupon_cash > 0)
	{
		Datum		vargs[4] = {Int64GetDatum(sp->txn_id), Int64GetDatum(w->id), TimestampTzGetDatum(clk),
		Int64GetDatum(claw_refund)};

		if (run_plan(op_plan(&coupon_void), vargs, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not void the coupon");
	}
	else if (full && sp->discount > 0)
	{
		Datum		bargs[2] = {Int64GetDatum(sp->txn_id), Int64GetDatum(w->id)};

		if (run_plan(op_plan(&coupon_back), bargs, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not give the coupon back");
	}
}

/*
 * reverse_make makes the reversal. The earlier reversals are read at every
 * try: one committed since changes what is left. Without the locks it makes
 * the plain one only (no payee, no points, no coupon to undo, nothing to
 * refuse) and leaves the rest to the try under them (OP_NEED_LOCK).
 */
static OpTry
reverse_make(OpOptimistic *op, bool lock)
{
	ReverseCall *c = op->state;
	SpendTxn   *sp = &c->sp;
	WalletRow  *w = &c->w;
	TimestampTz clk = c->clk;
	Reversed	rv;
	int64		x;
	bool		full;
	LotBuilder *portion;
	LotBuilder *b;
	LotSet	   *pieces;
	int64		blocked;
	ReversalOut r;
	CouponSeen	cs = {0};
	CouponUndo	undo = COUPON_NONE;
	int64		coupon_cash = 0;
	int64		tid;
	int64	   *xs = palloc(sizeof(int64) * Max(sp->npayees, 1));
	PayeeBack  *pb = palloc(sizeof(PayeeBack) * Max(sp->npayees, 1));
	int64		payee_back;
	int64		payee_taken;
	int64		points_back;
	Postings	legs;
	JB			jb;
	Jsonb	   *res;

	memset(&c->out, 0, sizeof(c->out));
	read_reversed(sp, &rv);
	x = c->has_x ? c->x : sp->charged - rv.done;
	if (reverse_refuse(c, &rv, x, lock))
		return OP_NEED_LOCK;
	full = rv.done + x == sp->charged;
	/* the coupon is undone under the lock */
	if (full && sp->discount > 0 && !lock)
		return OP_NEED_LOCK;

	portion = x == 0 ? new_builder(1) : engine_reversal_split(rv.remaining, sp->given, x);
	b = lotset_unpack(w->lots);
	blocked = open_refund(w->id, b, portion);
	if (blocked != 0)
	{
		if (!lock)
			return OP_NEED_LOCK;
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("a refund of top-up %lld is in progress", (long long) blocked),
				 errdetail("The reversal would give back bonus of that top-up."),
				 errhint("Settle, reject or fail the refund first, then reverse the spend.")));
	}
	memset(c->out.returned, 0, sizeof(c->out.returned));
	for (int i = 0; i < portion->nlots; i++)
		c->out.returned[portion->lots[i].bucket] =
			checked_add(c->out.returned[portion->lots[i].bucket], portion->lots[i].amount);
	pieces = lotset_pack(portion);
	engine_reverse(b, portion, clk, &r);
	c->out.breakage = r.breakage;
	c->out.bonus_to_cash = r.bonus_to_cash;
	/* the full reversal undoes the spend's coupon: what it was is read first */
	if (full && sp->discount > 0)
		read_coupon(sp, w, clk, &cs);

	tid = nextval_internal(plans.txn_seq, false);
	op->txn_id = tid;
	payee_back = payees_give_back(sp, &rv, x, c->pw, tid, clk, xs, pb, &payee_taken);
	/* the reward points go back in the same proportion as a payee's credit (section 18) */
	points_back = sp->points > 0 ? engine_payee_back(sp->points, rv.points_done, rv.done, x, sp->charged) : 0;
	reward_take_back(&c->ptw, points_back, sp->txn_id, tid, clk);
	if (full && sp->discount > 0 && cs.claw_status != NULL && strcmp(cs.claw_status, "succeeded") == 0)
	{
		/*
		 * A refund of its top-up clawed the coupon's discount back, so the
		 * customer paid for it: the discount comes back as cash (closed to
		 * refunds), and the coupon, part of a refunded top-up, stays void.
		 */
		undo = COUPON_TO_CASH;
		engine_add(b, BUCKET_CASH, sp->discount, tid, clk, WALLET_NO_TIME, NULL);
		coupon_cash = sp->discount;
	}
	else if (full && sp->discount > 0)
	{
		/* the coupon is given back; past its validity it shows as expired, not usable */
		undo = COUPON_BACK;
		c->out.coupon_restored = cs.found && cs.valid;
	}
	postings_init(&legs);
	post_reversal_to(&legs, w->id, &r, x, pb, sp->npayees, undo, sp->discount);

	jb_begin(&jb);
	jb_int(&jb, "txn_id", tid);
	jb_int(&jb, "bonus_returned", c->out.returned[BUCKET_BONUS]);
	jb_int(&jb, "cash_returned", c->out.returned[BUCKET_CASH]);
	jb_int(&jb, "earnings_returned", c->out.returned[BUCKET_EARNINGS]);
	jb_int(&jb, "bonus_written_off", r.breakage);
	jb_int(&jb, "bonus_to_cash", r.bonus_to_cash);
	jb_int(&jb, "payee_back", payee_back);
	jb_int(&jb, "payee_debt", payee_back - payee_taken);
	jb_int_if(&jb, true, "points_back", points_back);
	if (sp->split)
	{
		int64	   *backs = palloc(sizeof(int64) * sp->npayees);

		for (int i = 0; i < sp->npayees; i++)
			backs[i] = pb[i].back;
		jb_int_array(&jb, "payee_parts", xs, sp->npayees);
		jb_int_array(&jb, "payee_backs", backs, sp->npayees);
	}
	jb_bool(&jb, "coupon_restored", c->out.coupon_restored);
	jb_int(&jb, "coupon_to_cash", coupon_cash);
	res = jb_end(&jb);
	/*
	 * the limits' usage: given back in the period it was counted in (a
	 * spend's count when all is back; a spend that charged nothing, a coupon
	 * paying all of it, counted nothing and gives no count back)
	 */
	limits_give_back(w, LIMIT_SPEND, x, full && !sp->capture && sp->charged > 0 ? 1 : 0, sp->counted_at, clk);
	if (!write_op(w, b, tid, "reverse_spend", x, clk, op->key, sp->txn_id, op->req, res,
				  legs_of(&legs, "reverse_spend"), pieces))
	{
		/*
		 * Under the lock, with the key probed under it, the write cannot lose
		 * a race; a key taken since can only be by an operation that did not
		 * wait for the lock, and the payee's side is written already: stop
		 * rather than replay.
		 */
		if (lock)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("idempotency key \"%s\" was taken by a concurrent operation", op->key),
					 errhint("Retry the reversal: it returns that operation's result or refuses the key.")));
		return OP_NOT_WRITTEN;
	}
	reversal_written(sp, w, tid, pb, full, coupon_cash, cs.claw_refund, clk);
	c->out.txn_id = tid;
	return OP_MADE;
}

/*
 * wallet.reverse_spend(spend_txn_id, idempotency_key, amount) reverses amount
 * (NULL: all that is left) of a spend and returns (txn_id, bonus_returned,
 * cash_returned, earnings_returned, replayed, bonus_written_off,
 * bonus_to_cash, coupon_restored).
 *
 * On the shared pipeline (op_optimistic): a reversal of a spend without a
 * payee, points or a coupon to undo reads the wallet without its lock and
 * writes under the version check, as a spend does. With a payee or points,
 * the spender's wallet and those it credited are locked from the start, in
 * wallet-id order (reversal_lock); a coupon to undo takes the lock too.
 */
static Datum
reverse_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	ReverseCall c = {.fcinfo = fcinfo, .clk = wallet_clock(), .has_x = !PG_ARGISNULL(2)};
	OpOptimistic op = {.kind = "reverse_spend", .state = &c, .read = reverse_read, .make = reverse_make};
	Jsonb	   *prior;
	ReverseOut	out;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};

	op.key = check_text(fcinfo, 1, "idempotency_key", 200, true);
	op_start();
	read_spend(op_int8_arg(fcinfo, 0, "spend_txn_id"), &c.sp);
	c.pw = palloc(sizeof(WalletRow) * Max(c.sp.npayees, 1));
	op.lock_first = c.sp.npayees > 0 || c.sp.points > 0;
	prior = op_optimistic(&op);
	out = c.out;
	if (prior != NULL)
	{
		out.txn_id = jsonb_int(prior, "txn_id");
		out.returned[BUCKET_BONUS] = jsonb_int(prior, "bonus_returned");
		out.returned[BUCKET_CASH] = jsonb_int(prior, "cash_returned");
		out.returned[BUCKET_EARNINGS] = jsonb_int(prior, "earnings_returned");
		out.breakage = jsonb_int(prior, "bonus_written_off");
		out.bonus_to_cash = jsonb_int(prior, "bonus_to_cash");
		out.coupon_restored = jsonb_bool_or_false(prior, "coupon_restored");
		out.replayed = true;
	}
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.returned[BUCKET_BONUS], c.exponent);
	values[2] = major(out.returned[BUCKET_CASH], c.exponent);
	values[3] = major(out.returned[BUCKET_EARNINGS], c.exponent);
	values[4] = BoolGetDatum(out.replayed);
	values[5] = major(out.breakage, c.exponent);
	values[6] = major(out.bonus_to_cash, c.exponent);
	values[7] = BoolGetDatum(out.coupon_restored);
	{
		static const Oid types[8] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, BOOLOID,
		NUMERICOID, NUMERICOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_reverse_spend(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(reverse_body, fcinfo);
}
