/*
 * reverse_spend.c
 *	  wallet.reverse_spend: a spend given back, in full or in part, to the
 *	  buckets and lots it came from (CONTRACT.md section 4), its payee's credit
 *	  taken back in proportion and its coupon undone by the full reversal, on
 *	  the shared pipeline.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_reverse_spend);

/*
 * The spend being reversed, as its journal row has it (minor units): a spend
 * or a capture has at most one payee, whose part is all it charged; a split
 * payment (spend_split) names each payee with its part.
 */
typedef struct SpendTxn
{
	int64		txn_id;
	bool		found;
	int64		wallet_id;
	int			npayees;		/* 0: none */
	bool		split;			/* a split payment: its reversals name each payee's part */
	int64	   *payees;
	int64	   *parts;			/* each payee's part of charged */
	int64	   *credits;		/* what each was credited (its part less commission) */
	int64		charged;
	int64		discount;
	int64		given[WALLET_NBUCKETS]; /* how it was funded */
	LotSet	   *pieces;
	int64		points;			/* reward points it earned (section 18); 0: none */
	int64		points_wallet;	/* the wallet they went to */
} SpendTxn;

/* What earlier reversals of the spend took. */
typedef struct Reversed
{
	int			n;				/* how many */
	int64		done;			/* their amounts */
	int64	   *part_done;		/* per payee: what they reversed of its part */
	int64	   *back_done;		/* per payee: what they took back from it */
	int64		points_done;	/* reward points they took back */
	int			npayees;
	LotBuilder *remaining;		/* the spend's pieces not given back yet */
} Reversed;

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

static OpPlan spend_row = OP_PLAN(
	"SELECT wallet_id, result, pieces FROM wallet.txn WHERE txn_id = $1 "
	"AND kind IN ('spend', 'capture_hold', 'spend_split')",
	1, INT8OID);
static OpPlan earlier = OP_PLAN(
	"SELECT amount, pieces, result FROM wallet.txn WHERE ref_txn = $1 AND kind = 'reverse_spend'",
	1, INT8OID);
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

static char *
amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

/* spend_of takes a spend's journal result apart. */
static void
spend_of(SpendTxn *sp, Jsonb *res)
{
	JsonbValue *v;

	sp->charged = jsonb_int(res, "charged");
	sp->discount = jsonb_int_or_zero(res, "discount");
	sp->given[BUCKET_BONUS] = jsonb_int_or_zero(res, "bonus_used");
	sp->given[BUCKET_CASH] = jsonb_int_or_zero(res, "cash_used");
	sp->given[BUCKET_EARNINGS] = jsonb_int_or_zero(res, "earnings_used");
	sp->points = jsonb_int_or_zero(res, "points");
	sp->points_wallet = jsonb_int_or_zero(res, "points_wallet");
	sp->split = jsonb_member(res, "payees") != NULL;
	if (sp->split)
	{
		int			np;
		int			nc;

		sp->payees = jsonb_int_array(res, "payees", &sp->npayees);
		sp->parts = jsonb_int_array(res, "parts", &np);
		sp->credits = jsonb_int_array(res, "payee_credits", &nc);
		if (np != sp->npayees || nc != sp->npayees)
			elog(ERROR, "the payees of spend %lld do not match their parts", (long long) sp->txn_id);
		return;
	}
	/* a spend without a payee leaves the member out, or (0.1) stores null */
	v = jsonb_member(res, "payee");
	sp->npayees = v != NULL && v->type == jbvNumeric ? 1 : 0;
	sp->payees = palloc(sizeof(int64));
	sp->parts = palloc(sizeof(int64));
	sp->credits = palloc(sizeof(int64));
	sp->payees[0] = sp->npayees > 0 ?
		DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric))) : 0;
	sp->parts[0] = sp->charged;
	sp->credits[0] = jsonb_int_or_zero(res, "payee_credit");
}

/* found_spend keeps the spend's row (journal_lookup on txn_id). */
static bool
found_spend(Row *row, void *arg)
{
	SpendTxn   *sp = (SpendTxn *) arg;
	bool		isnull;
	Datum		d;

	/* a capture of a hold, and a split payment, are spends for their reversal */
	if (!journal_kind_is(row, "spend") && !journal_kind_is(row, "capture_hold") &&
		!journal_kind_is(row, "spend_split"))
		return true;
	sp->wallet_id = DatumGetInt64(getattr(row, "wallet_id", &isnull));
	spend_of(sp, DatumGetJsonbPCopy(getattr(row, "result", &isnull)));
	d = getattr(row, "pieces", &isnull);
	sp->pieces = isnull ? NULL : (LotSet *) PG_DETOAST_DATUM_COPY(d);
	sp->found = true;
	return false;
}

/* read_spend reads spend txn_id's journal row, or raises WL006. */
static void
read_spend(int64 txn_id, SpendTxn *sp)
{
	sp->txn_id = txn_id;
	sp->found = false;
	sp->pieces = NULL;
	if (!journal_lookup("txn_id", txn_id, found_spend, sp))
	{
		Datum		args[1] = {Int64GetDatum(txn_id)};
		bool		isnull;
		Datum		d;

		if (run_plan(op_plan(&spend_row), args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the journal");
		if (SPI_processed > 0)
		{
			sp->found = true;
			sp->wallet_id = DatumGetInt64(getcol(1, &isnull));
			spend_of(sp, DatumGetJsonbP(getcol(2, &isnull)));
			d = getcol(3, &isnull);
			sp->pieces = isnull ? NULL : DatumGetLotSetP(d);
		}
	}
	if (!sp->found)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("spend %lld does not exist", (long long) txn_id)));
	if (sp->pieces == NULL)
		sp->pieces = lotset_pack(new_builder(1));
}

/*
 * one_reversal adds up an earlier reversal (res: its journal result): a
 * reversal of a split payment names what it took of each payee's part and
 * from each payee; of a spend's one payee, its amount and payee_back.
 */
static void
one_reversal(Reversed *rv, int64 amount, Datum pieces, bool no_pieces, Jsonb *res)
{
	rv->n++;
	rv->done = checked_add(rv->done, amount);
	rv->points_done = checked_add(rv->points_done, jsonb_int_or_zero(res, "points_back"));
	if (!no_pieces)
		engine_lots_minus(rv->remaining, lotset_unpack(DatumGetLotSetP(pieces)));
	if (jsonb_member(res, "payee_parts") != NULL)
	{
		int			np;
		int			nb;
		int64	   *parts = jsonb_int_array(res, "payee_parts", &np);
		int64	   *backs = jsonb_int_array(res, "payee_backs", &nb);

		if (np != rv->npayees || nb != rv->npayees)
			elog(ERROR, "a reversal names other payees than its spend");
		for (int i = 0; i < rv->npayees; i++)
		{
			rv->part_done[i] = checked_add(rv->part_done[i], parts[i]);
			rv->back_done[i] = checked_add(rv->back_done[i], backs[i]);
		}
	}
	else if (rv->npayees > 0)
	{
		rv->part_done[0] = checked_add(rv->part_done[0], amount);
		rv->back_done[0] = checked_add(rv->back_done[0], jsonb_int_or_zero(res, "payee_back"));
	}
}

/* found_reversal adds up a reversal of the spend (journal_lookup on ref_txn). */
static bool
found_reversal(Row *row, void *arg)
{
	Reversed   *rv = (Reversed *) arg;
	bool		isnull;
	bool		no_pieces;
	Datum		pieces;

	if (!journal_kind_is(row, "reverse_spend"))
		return true;
	pieces = getattr(row, "pieces", &no_pieces);
	one_reversal(rv, DatumGetInt64(getattr(row, "amount", &isnull)), pieces, no_pieces,
				 DatumGetJsonbP(getattr(row, "result", &isnull)));
	return true;
}

/* read_reversed adds up the spend's earlier reversals. */
static void
read_reversed(const SpendTxn *sp, Reversed *rv)
{
	Datum		args[1] = {Int64GetDatum(sp->txn_id)};
	SPITupleTable *tt;

	rv->remaining = lotset_unpack(sp->pieces);
	rv->n = 0;
	rv->done = 0;
	rv->points_done = 0;
	rv->npayees = sp->npayees;
	rv->part_done = palloc0(sizeof(int64) * Max(sp->npayees, 1));
	rv->back_done = palloc0(sizeof(int64) * Max(sp->npayees, 1));
	if (journal_lookup("ref_txn", sp->txn_id, found_reversal, rv))
		return;
	if (run_plan(op_plan(&earlier), args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the journal");
	tt = SPI_tuptable;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bool		no_pieces;
		Datum		pieces = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &no_pieces);

		one_reversal(rv, DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull)), pieces, no_pieces,
					 DatumGetJsonbP(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull)));
	}
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

/*
 * lock_in_order reads the spender's wallet (w; locked with lock) and locks
 * and reads each payee's (pw, in the spend's order of payees) and the points
 * wallet its reward went to (ptw), every wallet in wallet-id order.
 */
static void
lock_in_order(const SpendTxn *sp, bool lock, WalletRow *w, WalletRow *pw, WalletRow *ptw)
{
	int			n = sp->npayees + 1 + (sp->points > 0 ? 1 : 0);
	int64	   *ids = palloc(sizeof(int64) * n);

	ids[0] = sp->wallet_id;
	for (int i = 0; i < sp->npayees; i++)
		ids[i + 1] = sp->payees[i];
	if (sp->points > 0)
		ids[n - 1] = sp->points_wallet;
	/* few wallets: an insertion sort */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ids[j] < ids[j - 1]; j--)
		{
			int64		t = ids[j];

			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	for (int k = 0; k < n; k++)
	{
		if (ids[k] == sp->wallet_id)
		{
			read_wallet(sp->wallet_id, lock, false, w);
			continue;
		}
		if (sp->points > 0 && ids[k] == sp->points_wallet)
		{
			read_wallet(ids[k], true, false, ptw);
			continue;
		}
		for (int i = 0; i < sp->npayees; i++)
			if (sp->payees[i] == ids[k])
				read_wallet(ids[k], true, false, &pw[i]);
	}
}

/*
 * wallet.reverse_spend(spend_txn_id, idempotency_key, amount) reverses amount
 * (NULL: all that is left) of a spend and returns (txn_id, bonus_returned,
 * cash_returned, earnings_returned, replayed, bonus_written_off,
 * bonus_to_cash, coupon_restored).
 *
 * A reversal of a spend without a payee or a coupon to undo reads the wallet
 * without its lock and writes under the version check, as a spend does (a
 * lost race reads again, and after OPTIMISTIC_TRIES takes the lock). With a
 * payee, the spender's wallet and the payee's are locked in wallet-id order;
 * a coupon to undo takes the lock too. The earlier reversals are read on
 * every attempt: one committed since changes what is left.
 */
static Datum
reverse_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 1, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	int64		spend_id = op_int8_arg(fcinfo, 0, "spend_txn_id");
	MemoryContext caller = CurrentMemoryContext;
	SpendTxn	sp;
	WalletRow	w;
	WalletRow  *pw;
	WalletRow	ptw;
	bool		has_x = !PG_ARGISNULL(2);
	int64		x = 0;
	JB			jb;
	Jsonb	   *req = NULL;
	Jsonb	   *prior;
	ReverseOut	out;
	int			exponent = 0;
	bool		must_lock;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};

	memset(&out, 0, sizeof(out));
	op_start();
	read_spend(spend_id, &sp);
	must_lock = sp.npayees > 0 || sp.points > 0;
	pw = palloc(sizeof(WalletRow) * Max(sp.npayees, 1));
	for (int attempt = 0;; attempt++)
	{
		bool		lock = must_lock || attempt >= OPTIMISTIC_TRIES;
		Reversed	rv;
		LotBuilder *portion;
		LotSet	   *pieces;
		LotBuilder *b;
		ReversalOut r;
		Postings	legs;
		CouponUndo	undo = COUPON_NONE;
		int64		tid;
		bool		full;
		int64		payee_back = 0;
		int64		payee_taken = 0;
		int64		points_back;
		int64	   *xs;
		PayeeBack  *pb;
		int64		coupon_cash = 0;
		bool		coupon_found = false;
		bool		coupon_valid = false;
		int64		claw_refund = 0;
		char	   *claw_status = NULL;
		int64		blocked;
		bool		probed;
		bool		nothing_left;
		bool		too_much;
		Jsonb	   *res;

		lock_in_order(&sp, lock, &w, pw, &ptw);
		if (attempt == 0)
		{
			exponent = w.exponent;
			if (has_x)
				x = numeric_to_minor(PG_GETARG_NUMERIC(2), w.exponent, "amount");
			jb_begin(&jb);
			jb_int(&jb, "spend_txn_id", sp.txn_id);
			jb_int_or_null(&jb, "amount", has_x, x);
			req = jb_end(&jb);
		}
		/*
		 * The key is looked up first under the lock; otherwise only before an
		 * error (which must not hide a replay) or when the write's own key
		 * insert finds the key taken.
		 */
		prior = NULL;
		probed = false;
		if (lock)
		{
			prior = find_replay(&w, key, "reverse_spend", req);
			probed = true;
			if (prior != NULL)
				goto replay;
		}
#define REPLAY_FIRST() \
	do { \
		if (!probed) \
		{ \
			probed = true; \
			prior = find_replay(&w, key, "reverse_spend", req); \
			if (prior) \
				goto replay; \
		} \
	} while (0)

		read_reversed(&sp, &rv);
		if (!has_x)
			x = sp.charged - rv.done;
		/* a spend a coupon paid in full charged nothing, yet reversing it gives the coupon back */
		nothing_left = !has_x && x <= 0 && !(sp.discount > 0 && rv.n == 0);
		too_much = has_x && x > sp.charged - rv.done;
		if (nothing_left || too_much)
			REPLAY_FIRST();
		if (nothing_left)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("spend %lld has nothing left to reverse", (long long) sp.txn_id)));
		if (too_much)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("reversal exceeds what is left unreversed"),
					 errdetail("Spend %lld charged %s; %s is left to reverse.", (long long) sp.txn_id,
							   amount_text(sp.charged, exponent), amount_text(sp.charged - rv.done, exponent))));
		full = rv.done + x == sp.charged;
		if (full && sp.discount > 0 && !lock)
		{
			must_lock = true;	/* the coupon is undone under the lock */
			continue;
		}

		portion = x == 0 ? new_builder(1) : engine_reversal_split(rv.remaining, sp.given, x);
		b = lotset_unpack(w.lots);
		blocked = open_refund(w.id, b, portion);
		if (blocked != 0)
		{
			REPLAY_FIRST();
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("a refund of top-up %lld is in progress", (long long) blocked),
					 errdetail("The reversal would give back bonus of that top-up."),
					 errhint("Settle, reject or fail the refund first, then reverse the spend.")));
		}
		memset(out.returned, 0, sizeof(out.returned));
		for (int i = 0; i < portion->nlots; i++)
			out.returned[portion->lots[i].bucket] =
				checked_add(out.returned[portion->lots[i].bucket], portion->lots[i].amount);
		pieces = lotset_pack(portion);
		engine_reverse(b, portion, clk, &r);
		out.breakage = r.breakage;
		out.bonus_to_cash = r.bonus_to_cash;

		/* the full reversal undoes the spend's coupon: what it was is read first */
		if (full && sp.discount > 0)
		{
			Datum		cargs[3] = {Int64GetDatum(sp.txn_id), Int64GetDatum(w.id), TimestampTzGetDatum(clk)};

			if (run_plan(op_plan(&coupon_of), cargs, NULL, false, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read coupons");
			if (SPI_processed > 0)
			{
				bool		isnull;
				Datum		d;

				coupon_found = true;
				coupon_valid = DatumGetBool(getcol(1, &isnull));
				d = getcol(2, &isnull);
				claw_refund = isnull ? 0 : DatumGetInt64(d);
				d = getcol(3, &isnull);
				claw_status = isnull ? NULL : TextDatumGetCString(d);
			}
			/* while a refund that claws back the coupon's discount is open, it is not known yet */
			if (claw_status != NULL &&
				(strcmp(claw_status, "pending") == 0 || strcmp(claw_status, "approved") == 0))
				ereport(ERROR,
						(errcode(ERRCODE_WL('8')),
						 errmsg("a refund of the top-up that issued the coupon of spend %lld is in progress",
								(long long) sp.txn_id),
						 errdetail("The refund claws back the coupon's discount."),
						 errhint("Settle, reject or fail the refund first, then reverse the spend.")));
		}

		tid = nextval_internal(plans.txn_seq, false);
		/*
		 * Each payee gives back in proportion: x is split over what each has
		 * left unreversed of its part (engine_split), and each gives back of
		 * its credit as a spend's one payee does for its part (engine_payee_back).
		 */
		xs = palloc(sizeof(int64) * Max(sp.npayees, 1));
		pb = palloc(sizeof(PayeeBack) * Max(sp.npayees, 1));
		if (sp.npayees > 0)
		{
			int64	   *left = palloc(sizeof(int64) * sp.npayees);

			for (int i = 0; i < sp.npayees; i++)
				left[i] = sp.parts[i] - rv.part_done[i];
			engine_split(x, left, sp.npayees, xs);
		}
		for (int i = 0; i < sp.npayees; i++)
		{
			pb[i].payee = sp.payees[i];
			pb[i].back = engine_payee_back(sp.credits[i], rv.back_done[i], rv.part_done[i], xs[i], sp.parts[i]);
			pb[i].taken = pb[i].back > 0 ? take_back(&pw[i], BUCKET_EARNINGS, pb[i].back, tid, clk) : 0;
			payee_back = checked_add(payee_back, pb[i].back);
			payee_taken = checked_add(payee_taken, pb[i].taken);
		}
		/* the reward points go back in the same proportion as a payee's credit (section 18) */
		points_back = sp.points > 0 ? engine_payee_back(sp.points, rv.points_done, rv.done, x, sp.charged) : 0;
		reward_take_back(&ptw, points_back, sp.txn_id, tid, clk);
		if (full && sp.discount > 0 && claw_status != NULL && strcmp(claw_status, "succeeded") == 0)
		{
			/*
			 * A refund of its top-up clawed the coupon's discount back, so the
			 * customer paid for it: the discount comes back as cash (closed to
			 * refunds), and the coupon, part of a refunded top-up, stays void.
			 */
			undo = COUPON_TO_CASH;
			engine_add(b, BUCKET_CASH, sp.discount, tid, clk, WALLET_NO_TIME, NULL);
			coupon_cash = sp.discount;
		}
		else if (full && sp.discount > 0)
		{
			/* the coupon is given back; past its validity it shows as expired, not usable */
			undo = COUPON_BACK;
			out.coupon_restored = coupon_found && coupon_valid;
		}
		postings_init(&legs);
		post_reversal_to(&legs, w.id, &r, x, pb, sp.npayees, undo, sp.discount);

		jb_begin(&jb);
		jb_int(&jb, "txn_id", tid);
		jb_int(&jb, "bonus_returned", out.returned[BUCKET_BONUS]);
		jb_int(&jb, "cash_returned", out.returned[BUCKET_CASH]);
		jb_int(&jb, "earnings_returned", out.returned[BUCKET_EARNINGS]);
		jb_int(&jb, "bonus_written_off", r.breakage);
		jb_int(&jb, "bonus_to_cash", r.bonus_to_cash);
		jb_int(&jb, "payee_back", payee_back);
		jb_int(&jb, "payee_debt", payee_back - payee_taken);
		jb_int_if(&jb, true, "points_back", points_back);
		if (sp.split)
		{
			int64	   *backs = palloc(sizeof(int64) * sp.npayees);

			for (int i = 0; i < sp.npayees; i++)
				backs[i] = pb[i].back;
			jb_int_array(&jb, "payee_parts", xs, sp.npayees);
			jb_int_array(&jb, "payee_backs", backs, sp.npayees);
		}
		jb_bool(&jb, "coupon_restored", out.coupon_restored);
		jb_int(&jb, "coupon_to_cash", coupon_cash);
		res = jb_end(&jb);
		if (!write_op(&w, b, tid, "reverse_spend", x, clk, key, sp.txn_id, req, res, legs_of(&legs, "reverse_spend"),
					  pieces))
		{
			/*
			 * Under the lock, with the key probed under it, the write cannot
			 * lose a race; a key taken since can only be by an operation that
			 * did not wait for the lock, and the payee's side is written
			 * already: stop rather than replay.
			 */
			if (lock)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("idempotency key \"%s\" was taken by a concurrent operation", key),
						 errhint("Retry the reversal: it returns that operation's result or refuses the key.")));
			prior = after_no_write(&w, key, "reverse_spend", req, tid);
			if (prior == NULL)
				continue;		/* lost a race: read again */
			goto replay;
		}
		if (coupon_cash > 0)
		{
			Datum		vargs[4] = {Int64GetDatum(sp.txn_id), Int64GetDatum(w.id), TimestampTzGetDatum(clk),
			Int64GetDatum(claw_refund)};

			if (run_plan(op_plan(&coupon_void), vargs, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not void the coupon");
		}
		else if (full && sp.discount > 0)
		{
			Datum		bargs[2] = {Int64GetDatum(sp.txn_id), Int64GetDatum(w.id)};

			if (run_plan(op_plan(&coupon_back), bargs, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not give the coupon back");
		}
		out.txn_id = tid;
		break;
#undef REPLAY_FIRST

replay:
		out.txn_id = jsonb_int(prior, "txn_id");
		out.returned[BUCKET_BONUS] = jsonb_int(prior, "bonus_returned");
		out.returned[BUCKET_CASH] = jsonb_int(prior, "cash_returned");
		out.returned[BUCKET_EARNINGS] = jsonb_int(prior, "earnings_returned");
		out.breakage = jsonb_int(prior, "bonus_written_off");
		out.bonus_to_cash = jsonb_int(prior, "bonus_to_cash");
		out.coupon_restored = jsonb_bool_or_false(prior, "coupon_restored");
		out.replayed = true;
		break;
	}
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.returned[BUCKET_BONUS], exponent);
	values[2] = major(out.returned[BUCKET_CASH], exponent);
	values[3] = major(out.returned[BUCKET_EARNINGS], exponent);
	values[4] = BoolGetDatum(out.replayed);
	values[5] = major(out.breakage, exponent);
	values[6] = major(out.bonus_to_cash, exponent);
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
