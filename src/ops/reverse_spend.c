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

		reversal_lock(&sp, lock, &w, pw, &ptw);
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
			/* a payee of another shard gives back there, by message (its debt is booked there) */
			pb[i].remote = !shard_local(pb[i].payee);
			if (pb[i].remote)
				pb[i].taken = pb[i].back;
			else
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
		/*
		 * the limits' usage: given back in the period it was counted in (a
		 * spend's count when all is back; a spend that charged nothing, a
		 * coupon paying all of it, counted nothing and gives no count back)
		 */
		limits_give_back(&w, LIMIT_SPEND, x, full && !sp.capture && sp.charged > 0 ? 1 : 0, sp.counted_at, clk);
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
		/* (a 0.1 schema, the library updated and ALTER EXTENSION not run yet, has no such table) */
		if (sp.npayees > 0 && OidIsValid(get_relname_relid("txn_party", plans.nsp)))
		{
			Datum	   *ids = palloc(sizeof(Datum) * sp.npayees);
			int			n = 0;
			Datum		pargs[2];

			for (int i = 0; i < sp.npayees; i++)
				if (pb[i].back > 0)
					ids[n++] = Int64GetDatum(pb[i].payee);
			pargs[0] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			pargs[1] = Int64GetDatum(tid);
			if (n > 0 && run_plan(op_plan(&party), pargs, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record the reversal on its payees' statements");
		}
		for (int i = 0; i < sp.npayees; i++)
			if (pb[i].remote && pb[i].back > 0)	/* CONTRACT.md section 23: a compensating message */
				(void) outbox_send(w.id, tid, pb[i].payee, w.currency, pb[i].back, "payee_back", clk);
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
