/*
 * fuzz_engine.c
 *	  libFuzzer target: the money engine (src/engine/*.c) over lot sets, under
 *	  ASan and UBSan.
 *
 * The input drives a wallet's life as the SQL layer drives it: top-ups with
 * bonus, earnings, spends in scenes, partial reversals of earlier spends,
 * refund holds released or settled, expiry sweeps, takes, and the clock
 * moving on. In "story" mode (the state is built only by those operations,
 * with the arguments the SQL layer would pass) no operation may fail at all.
 * In "raw" mode the story starts from a lot set made directly from the input
 * (any value the type accepts), and errors are allowed, but nothing may
 * crash. "Hostile" steps call an engine function with arbitrary arguments.
 *
 * After every successful step: the value is well formed, each bucket's
 * total moved exactly by what the function reported (nothing created or
 * lost), a spend follows the spending order and reports its shortfall
 * right, a reversal gives back exactly what was asked, a hold holds exactly
 * what it says, and lots_totals agrees with the lots. And the step's journal
 * legs, as the account rules (engine/postings.c) make them from those
 * results, balance and post to each of the wallet's buckets exactly what
 * the lots gained or lost there (expect_postings).
 */
#include "common.h"

#include "utils/builtins.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern Datum wallet_lots_spend(PG_FUNCTION_ARGS);
extern Datum wallet_lots_totals(PG_FUNCTION_ARGS);
extern Datum wallet_lots_expire(PG_FUNCTION_ARGS);
extern Datum wallet_lots_take(PG_FUNCTION_ARGS);
extern Datum wallet_lots_minus(PG_FUNCTION_ARGS);
extern Datum wallet_reversal_split(PG_FUNCTION_ARGS);
extern Datum wallet_lots_reverse(PG_FUNCTION_ARGS);
extern Datum wallet_lots_refund_info(PG_FUNCTION_ARGS);
extern Datum wallet_lots_refund_hold(PG_FUNCTION_ARGS);
extern Datum wallet_lots_refund_release(PG_FUNCTION_ARGS);
extern Datum wallet_lots_refund_settle(PG_FUNCTION_ARGS);
extern Datum wallet_lots_list(PG_FUNCTION_ARGS);

#define DAY USECS_PER_DAY
#define T0 ((TimestampTz) 9497 * DAY)	/* 2026-01-01 00:00:00 UTC */
#define MAX_TOPUPS 16
#define MAX_SPENDS 8
#define MAX_REVERSALS 8
#define MAX_STEPS 64

/* ---- input ---- */

typedef struct Src
{
	const uint8 *p;
	size_t		n;
} Src;

static uint64
take_bytes(Src *s, int k)
{
	uint64		v = 0;

	for (int i = 0; i < k && s->n > 0; i++, s->p++, s->n--)
		v |= (uint64) s->p[0] << (8 * i);
	return v;
}

#define U8(s) ((int) take_bytes(s, 1))

/* an amount of a size picked by the input: small, medium, large, the largest */
static int64
amount(Src *s)
{
	int			scale = U8(s) % 4;
	uint64		r = take_bytes(s, scale == 0 ? 1 : 4 + scale);

	switch (scale)
	{
		case 0:
			return 1 + (int64) (r % 100);
		case 1:
			return 1 + (int64) (r % 100000);
		case 2:
			return 1 + (int64) (r % INT64CONST(10000000000));
		default:
			return 1 + (int64) (r % WALLET_MAX_MINOR);
	}
}

static TimestampTz
span(Src *s)
{
	static const int64 spans[8] = {1, USECS_PER_SEC, USECS_PER_HOUR, DAY, 7 * DAY, 30 * DAY,
	31 * DAY, 400 * DAY};
	int			k = U8(s);

	return spans[k % 8] * (1 + (k >> 3) % 3);
}

static const char *const scenes[5] = {NULL, "game", "mall", "shop", "a:b.c-d_e"};
static const char *const scopes[5] = {NULL, "game", "game,mall", "shop", "mall,game,a:b.c-d_e"};

/* ---- state ---- */

typedef struct Spend
{
	LotSet	   *taken;
	int64		used[WALLET_NBUCKETS];
	int64		charged;
	int64		done;
	int			nrev;
	LotSet	   *rev[MAX_REVERSALS];
} Spend;

typedef struct Refund
{
	int64		txn;
	int64		take;
	int64		clawback;
	int64		bonus_held;
} Refund;

typedef struct State
{
	bool		story;			/* built by operations only: no step may fail */
	LotSet	   *lots;
	TimestampTz now;
	int64		next_txn;
	int64		total[WALLET_NBUCKETS];	/* expected live amount per bucket */
	int64		held;			/* expected held */
	int			ntopups;
	int64		topups[MAX_TOPUPS];
	int			nspends;
	Spend		spends[MAX_SPENDS];
	int			nrefunds;
	Refund		refunds[MAX_TOPUPS];
} State;

/* scan sums a value's lots: amount per bucket and held */
static void
scan(const LotSet *value, int64 total[WALLET_NBUCKETS], int64 *held)
{
	LotBuilder *v = lotset_unpack(value);

	for (int k = 0; k < WALLET_NBUCKETS; k++)
		total[k] = 0;
	*held = 0;
	for (int i = 0; i < v->nlots; i++)
	{
		total[v->lots[i].bucket] += v->lots[i].amount;
		*held += v->lots[i].held;
	}
}

/* usable_bonus: bonus spendable in scene at now, the way CONTRACT section 2 says */
static int64
usable_bonus(const LotSet *value, const char *scene, TimestampTz now)
{
	LotBuilder *v = lotset_unpack(value);
	int64		sum = 0;

	for (int i = 0; i < v->nlots; i++)
	{
		const WalletLot *l = &v->lots[i];

		if (l->bucket != BUCKET_BONUS || l->amount <= 0)
			continue;
		if (l->until != DT_NOEND && l->until <= now)
			continue;			/* expired bonus is never counted nor spent */
		if (!scope_allows(v->scopes[i], scene))
			continue;
		sum += l->amount;
	}
	return sum;
}

static void
expect_totals(State *st, const char *step)
{
	if (getenv("WALLET_FUZZ_VERBOSE"))
		fprintf(stderr, "[%s] now=" INT64_FORMAT " %s\n", step, st->now,
				text_representable(st->lots) ? ls_out(st->lots) : "(not representable)");
	int64		total[WALLET_NBUCKETS];
	int64		held;

	check_value(st->lots);
	if (!st->story)
	{
		/* raw mode: take the value's totals as the new expectation */
		scan(st->lots, st->total, &st->held);
		return;
	}
	scan(st->lots, total, &held);
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		if (total[k] != st->total[k])
			shim_fail("after %s: %s total " INT64_FORMAT ", expected " INT64_FORMAT, step, bucket_name(k),
					  total[k], st->total[k]);
	if (held != st->held)
		shim_fail("after %s: held " INT64_FORMAT ", expected " INT64_FORMAT, step, held, st->held);
}

/* ---- the account rules: a step's journal legs ---- */

/* the wallet's and a payee's ids in the legs */
#define WALLET_ID 1
#define PAYEE_ID 2

typedef struct PostCall
{
	Postings   *ps;
	int			kind;
	int64		a[8];
	const ReversalOut *r;
	bool		flag;
} PostCall;

enum
{
	POST_TOP_UP, POST_BONUS, POST_SPEND, POST_REVERSAL, POST_HOLD, POST_END, POST_EXPIRY
};

static void
do_post(void *arg)
{
	PostCall   *c = (PostCall *) arg;

	switch (c->kind)
	{
		case POST_TOP_UP:
			post_top_up(c->ps, WALLET_ID, c->a[0]);
			break;
		case POST_BONUS:
			post_bonus(c->ps, WALLET_ID, c->a[0]);
			break;
		case POST_SPEND:
			post_spend(c->ps, WALLET_ID, c->a, c->a[3], c->a[4], c->flag, PAYEE_ID, c->a[5]);
			break;
		case POST_REVERSAL:
			post_reversal(c->ps, WALLET_ID, c->r, c->a[0], c->flag, PAYEE_ID, c->a[1], c->a[2],
						  (CouponUndo) c->a[3], c->a[4]);
			break;
		case POST_HOLD:
			post_refund_hold(c->ps, WALLET_ID, c->a[0], c->a[1]);
			break;
		case POST_END:
			post_refund_end(c->ps, WALLET_ID, c->flag, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
			break;
		case POST_EXPIRY:
			post_expiry(c->ps, WALLET_ID, c->a[0]);
			break;
	}
	postings_done(c->ps, "a fuzz step");
}

/*
 * expect_postings makes a step's legs (c, on top of what ps holds) and checks
 * them: they balance, and each bucket of the wallet gets what its lots got
 * (delta, in cash, bonus, earnings, held order); the payee's earnings get
 * payee. An error from the account rules is a failure in story mode.
 */
static void
expect_postings(State *st, PostCall *c, const char *step, const int64 delta[4], int64 payee)
{
	static const char *const buckets[4] = {"cash", "bonus", "earnings", "held"};
	int			code = shim_call(do_post, c);

	if (code != SQLSTATE_OK)
	{
		if (st->story)
			shim_fail("the postings of %s failed: %s", step, shim_errmsg());
		return;
	}
	if (postings_sum(c->ps) != 0)
		shim_fail("the postings of %s sum to " INT64_FORMAT, step, postings_sum(c->ps));
	for (int k = 0; k < 4; k++)
		if (postings_wallet(c->ps, WALLET_ID, buckets[k]) != delta[k])
			shim_fail("the postings of %s post " INT64_FORMAT " to the wallet's %s, its lots moved " INT64_FORMAT,
					  step, postings_wallet(c->ps, WALLET_ID, buckets[k]), buckets[k], delta[k]);
	if (postings_wallet(c->ps, PAYEE_ID, "earnings") != payee)
		shim_fail("the postings of %s credit the payee " INT64_FORMAT ", expected " INT64_FORMAT, step,
				  postings_wallet(c->ps, PAYEE_ID, "earnings"), payee);
}

/* ---- calling engine functions inside shim_call ---- */

typedef struct Call
{
	PGFunction	fn;
	int			nargs;
	Datum		args[8];
	bool		nulls[8];
	bool		lotarg[8];		/* args holding a lot set: must not be changed */
	int			natts;
	bool		srf;
	long		rows;
	Datum		result;
} Call;

static void
do_call(void *arg)
{
	Call	   *c = arg;

	c->result = shim_fmgr(c->fn, c->nargs, c->args, c->nulls, c->natts, c->srf ? &c->rows : NULL);
}

/*
 * invoke runs c; a story step must not fail, other steps may (the state is
 * then unchanged: the engine's functions are pure).
 */
static bool
invoke(State *st, Call *c, const char *step)
{
	int			code;
	char		sqlstate[6];
	LotSet	   *copy[8] = {0};

	for (int i = 0; i < c->nargs; i++)
		if (c->lotarg[i])
		{
			const LotSet *v = (const LotSet *) DatumGetPointer(c->args[i]);

			copy[i] = malloc(VARSIZE(v));
			memcpy(copy[i], v, VARSIZE(v));
		}
	code = shim_call(do_call, c);
	for (int i = 0; i < c->nargs; i++)
		if (copy[i])
		{
			if (!ls_equal(copy[i], (const LotSet *) DatumGetPointer(c->args[i])))
				shim_fail("%s changed its lot set argument %d in place", step, i + 1);
			free(copy[i]);
		}
	if (code == 0)
		return true;
	if (getenv("WALLET_FUZZ_VERBOSE"))
	{
		fprintf(stderr, "[%s] failed: %s; args:", step, shim_errmsg());
		for (int i = 0; i < c->nargs; i++)
			if (c->lotarg[i])
				fprintf(stderr, " %s;", ls_out((LotSet *) DatumGetPointer(c->args[i])));
			else
				fprintf(stderr, " " INT64_FORMAT ";", (int64) c->args[i]);
		fprintf(stderr, "\n");
	}
	if (st->story)
		shim_fail("%s failed in a story (%s): %s", step, shim_sqlstate(code, sqlstate), shim_errmsg());
	return false;
}

static ShimTuple *
row(Call *c)
{
	return (ShimTuple *) DatumGetPointer(c->result);
}

#define ARG(c, i, d) ((c)->args[(i)] = (d), (c)->nulls[(i)] = false)
#define LOT_ARG(c, i, v) ((c)->args[(i)] = PointerGetDatum(v), (c)->nulls[(i)] = false, (c)->lotarg[(i)] = true)
#define ARG_NULL(c, i) ((c)->args[(i)] = (Datum) 0, (c)->nulls[(i)] = true)
#define TEXT_ARG(c, i, s) text_arg((c), (i), (s))

static void
text_arg(Call *c, int i, const char *s)
{
	if (s)
		ARG(c, i, PointerGetDatum(cstring_to_text(s)));
	else
		ARG_NULL(c, i);
}

/* ---- adding lots (engine_add, as top_up and credits call it) ---- */

typedef struct AddCall
{
	LotSet	   *in;
	int			bucket;
	int64		amount;
	int64		txn;
	TimestampTz at;
	TimestampTz until;
	const char *scope;
	LotSet	   *out;
} AddCall;

static void
do_add(void *arg)
{
	AddCall    *a = arg;
	LotBuilder *b = lotset_unpack(a->in);

	engine_add(b, a->bucket, a->amount, a->txn, a->at, a->until, a->scope);
	a->out = lotset_pack(b);
}

static bool
add_lot(State *st, int bucket, int64 amt, int64 txn, TimestampTz until, const char *scope)
{
	AddCall		a = {st->lots, bucket, amt, txn, st->now, until, scope, NULL};
	int			code = shim_call(do_add, &a);
	char		sqlstate[6];

	if (code != 0)
	{
		if (st->story)
			shim_fail("engine_add failed in a story (%s): %s", shim_sqlstate(code, sqlstate), shim_errmsg());
		return false;
	}
	st->lots = a.out;
	st->total[bucket] += amt;
	expect_totals(st, "add");
	return true;
}

static void
step_top_up(State *st, Src *s)
{
	static const int64 windows[4] = {0, DAY, 30 * DAY, 1000 * DAY};
	int64		txn = st->next_txn++;
	int			flags = U8(s);
	TimestampTz window = windows[flags % 4];
	int64		amt = amount(s);
	Postings	ps;
	PostCall	pc = {&ps, POST_TOP_UP, {amt}};
	int64		delta[4] = {amt, 0, 0, 0};

	if (!add_lot(st, BUCKET_CASH, amt, txn, st->now + window, NULL))
		return;
	if (st->ntopups < MAX_TOPUPS)
		st->topups[st->ntopups++] = txn;
	postings_init(&ps);
	expect_postings(st, &pc, "top-up", delta, 0);
	/* bonus of the same top-up (one or two groups) */
	for (int g = 0; g < (flags >> 2) % 3; g++)
	{
		int			k = U8(s);
		int64		bonus = amount(s);

		if (add_lot(st, BUCKET_BONUS, bonus, txn, (k & 1) ? DT_NOEND : st->now + span(s), scopes[(k >> 1) % 5]))
		{
			pc.kind = POST_BONUS;
			pc.a[0] = bonus;
			delta[1] += bonus;
			expect_postings(st, &pc, "top-up bonus", delta, 0);
		}
	}
}

/* ---- spending ---- */

static void
step_spend(State *st, Src *s)
{
	Call		c = {wallet_lots_spend, 4};
	const char *scene = scenes[U8(s) % 5];
	int64		total[WALLET_NBUCKETS],
				held;
	int64		avail,
				bonus_usable,
				want;
	ShimTuple  *r;
	int64		used[WALLET_NBUCKETS];
	int64		shortfall;
	int64		piece[WALLET_NBUCKETS],
				piece_held;
	LotSet	   *taken;

	scan(st->lots, total, &held);
	bonus_usable = usable_bonus(st->lots, scene, st->now);
	avail = bonus_usable + total[BUCKET_CASH] + total[BUCKET_EARNINGS];
	switch (U8(s) % 4)
	{
		case 0:
			want = avail;		/* all of it */
			break;
		case 1:
			want = avail + 1 + U8(s);	/* more than there is */
			break;
		default:
			want = 1 + (int64) (take_bytes(s, 8) % (uint64) Max(avail, 1));
	}
	/* spend's amount passed numeric_to_minor: 1 to 10^15 minor units */
	want = Min(Max(want, 1), WALLET_MAX_MINOR);
	LOT_ARG(&c, 0, st->lots);
	ARG(&c, 1, Int64GetDatum(want));
	TEXT_ARG(&c, 2, scene);
	ARG(&c, 3, TimestampTzGetDatum(st->now));
	c.natts = 6;
	if (!invoke(st, &c, "lots_spend"))
		return;
	r = row(&c);
	used[BUCKET_BONUS] = DatumGetInt64(r->values[2]);
	used[BUCKET_CASH] = DatumGetInt64(r->values[3]);
	used[BUCKET_EARNINGS] = DatumGetInt64(r->values[4]);
	shortfall = DatumGetInt64(r->values[5]);
	taken = (LotSet *) DatumGetPointer(r->values[1]);

	/* charged + shortfall = amount; shortfall only when funds run out */
	if (used[0] + used[1] + used[2] + shortfall != want || shortfall != Max(want - avail, 0))
		shim_fail("spend of " INT64_FORMAT " (available " INT64_FORMAT "): used " INT64_FORMAT "/" INT64_FORMAT
				  "/" INT64_FORMAT " shortfall " INT64_FORMAT, want, avail, used[0], used[1], used[2], shortfall);
	/* spending order: usable bonus, then cash, then earnings */
	if ((used[BUCKET_CASH] > 0 || used[BUCKET_EARNINGS] > 0) && used[BUCKET_BONUS] != bonus_usable)
		shim_fail("spend used cash or earnings with usable bonus left");
	if (used[BUCKET_EARNINGS] > 0 && used[BUCKET_CASH] != total[BUCKET_CASH])
		shim_fail("spend used earnings with cash left");
	if (used[BUCKET_BONUS] > bonus_usable)
		shim_fail("spend used more bonus than is usable in scene %s", scene ? scene : "(none)");
	/* the pieces taken are what was used */
	check_value(taken);
	scan(taken, piece, &piece_held);
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		if (piece[k] != used[k])
			shim_fail("taken pieces hold " INT64_FORMAT " %s, spend used " INT64_FORMAT, piece[k],
					  bucket_name(k), used[k]);
	if (piece_held != 0)
		shim_fail("taken pieces carry a hold");

	st->lots = (LotSet *) DatumGetPointer(r->values[0]);
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		st->total[k] -= used[k];
	expect_totals(st, "spend");
	{
		/* a payee (every other spend) keeps charged less a commission; a coupon took a discount off */
		int64		charged = used[0] + used[1] + used[2];
		bool		payee = (want & 1) != 0;
		int64		commission = payee ? (int64) ((uint64) want % (uint64) (charged + 1)) : 0;
		Postings	ps;
		PostCall	pc = {&ps, POST_SPEND,
		{used[0], used[1], used[2], charged, (int64) ((uint64) want % 1000), commission}, NULL, payee};
		int64		delta[4] = {-used[BUCKET_CASH], -used[BUCKET_BONUS], -used[BUCKET_EARNINGS], 0};

		postings_init(&ps);
		expect_postings(st, &pc, "spend", delta, payee ? charged - commission : 0);
	}
	if (used[0] + used[1] + used[2] > 0 && st->nspends < MAX_SPENDS)
	{
		Spend	   *sp = &st->spends[st->nspends++];

		memset(sp, 0, sizeof(*sp));
		sp->taken = taken;
		memcpy(sp->used, used, sizeof(used));
		sp->charged = used[0] + used[1] + used[2];
	}
}

/* ---- reversal (what reverse_spend does: minus, split, reverse) ---- */

static void
step_reverse(State *st, Src *s)
{
	Spend	   *sp;
	LotSet	   *remaining;
	LotSet	   *portion;
	int64		x,
				share[WALLET_NBUCKETS],
				left[WALLET_NBUCKETS],
				h;
	Call		c;
	ShimTuple  *r;
	int64		back[WALLET_NBUCKETS],
				breakage,
				to_cash;

	if (st->nspends == 0)
		return;
	sp = &st->spends[U8(s) % st->nspends];
	if (sp->done >= sp->charged || sp->nrev >= MAX_REVERSALS)
		return;
	remaining = sp->taken;
	for (int i = 0; i < sp->nrev; i++)
	{
		c = (Call) {wallet_lots_minus, 2};
		LOT_ARG(&c, 0, remaining);
		LOT_ARG(&c, 1, sp->rev[i]);
		if (!invoke(st, &c, "lots_minus"))
			return;
		remaining = (LotSet *) DatumGetPointer(c.result);
	}
	check_value(remaining);
	scan(remaining, left, &h);
	if (left[0] + left[1] + left[2] != sp->charged - sp->done)
		shim_fail("what is left of a spend (" INT64_FORMAT ") is not charged - reversed (" INT64_FORMAT ")",
				  left[0] + left[1] + left[2], sp->charged - sp->done);
	x = (U8(s) & 1) ? sp->charged - sp->done
		: 1 + (int64) (take_bytes(s, 8) % (uint64) (sp->charged - sp->done));

	c = (Call) {wallet_reversal_split, 5};
	LOT_ARG(&c, 0, remaining);
	ARG(&c, 1, Int64GetDatum(sp->used[BUCKET_BONUS]));
	ARG(&c, 2, Int64GetDatum(sp->used[BUCKET_CASH]));
	ARG(&c, 3, Int64GetDatum(sp->used[BUCKET_EARNINGS]));
	ARG(&c, 4, Int64GetDatum(x));
	if (!invoke(st, &c, "reversal_split"))
		return;
	portion = (LotSet *) DatumGetPointer(c.result);
	check_value(portion);
	scan(portion, share, &h);
	if (share[0] + share[1] + share[2] != x)
		shim_fail("reversal split of " INT64_FORMAT " gives back " INT64_FORMAT, x, share[0] + share[1] + share[2]);
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		if (share[k] > left[k])
			shim_fail("reversal gives back more %s than the spend has left", bucket_name(k));

	c = (Call) {wallet_lots_reverse, 3};
	LOT_ARG(&c, 0, st->lots);
	LOT_ARG(&c, 1, portion);
	ARG(&c, 2, TimestampTzGetDatum(st->now));
	c.natts = 6;
	if (!invoke(st, &c, "lots_reverse"))
		return;
	r = row(&c);
	back[BUCKET_BONUS] = DatumGetInt64(r->values[1]);
	back[BUCKET_CASH] = DatumGetInt64(r->values[2]);
	back[BUCKET_EARNINGS] = DatumGetInt64(r->values[3]);
	breakage = DatumGetInt64(r->values[4]);
	to_cash = DatumGetInt64(r->values[5]);
	if (back[0] + back[1] + back[2] + breakage != x || breakage < 0 || to_cash < 0 ||
		to_cash > back[BUCKET_CASH] || breakage > share[BUCKET_BONUS])
		shim_fail("reversal of " INT64_FORMAT ": back " INT64_FORMAT "/" INT64_FORMAT "/" INT64_FORMAT
				  " breakage " INT64_FORMAT " to_cash " INT64_FORMAT, x, back[0], back[1], back[2], breakage,
				  to_cash);
	if (back[BUCKET_EARNINGS] != share[BUCKET_EARNINGS] ||
		back[BUCKET_CASH] - to_cash != share[BUCKET_CASH])
		shim_fail("reversal put back cash/earnings other than the split gave");
	st->lots = (LotSet *) DatumGetPointer(r->values[0]);
	for (int k = 0; k < WALLET_NBUCKETS; k++)
		st->total[k] += back[k];
	expect_totals(st, "reverse");
	{
		/*
		 * A payee gives back part of x (its earnings part of that, the rest
		 * its debt); the full reversal undoes a coupon, as cash when a
		 * refund clawed its discount back.
		 */
		ReversalOut ro;
		bool		payee = (x & 2) != 0;
		int64		payee_back = payee ? (int64) ((uint64) (x * 7) % (uint64) (x + 1)) : 0;
		int64		payee_taken = payee ? payee_back / 2 : 0;
		bool		full = sp->done + x == sp->charged;
		CouponUndo	undo = !full ? COUPON_NONE : (x & 4) ? COUPON_TO_CASH : (x & 8) ? COUPON_BACK : COUPON_NONE;
		int64		discount = undo == COUPON_NONE ? 0 : 1 + (int64) ((uint64) x % 500);
		Postings	ps;
		PostCall	pc = {&ps, POST_REVERSAL, {x, payee_back, payee_taken, (int64) undo, discount}, &ro, payee};
		int64		delta[4] = {back[BUCKET_CASH] + (undo == COUPON_TO_CASH ? discount : 0), back[BUCKET_BONUS],
		back[BUCKET_EARNINGS], 0};

		memcpy(ro.back, back, sizeof(back));
		ro.breakage = breakage;
		ro.bonus_to_cash = to_cash;
		postings_init(&ps);
		expect_postings(st, &pc, "reversal", delta, -payee_taken);
	}
	sp->rev[sp->nrev++] = portion;
	sp->done += x;
}

/* ---- refunds (request_refund, then release or settle) ---- */

static Refund *
open_refund(State *st, int64 txn)
{
	for (int i = 0; i < st->nrefunds; i++)
		if (st->refunds[i].txn == txn)
			return &st->refunds[i];
	return NULL;
}

static void
step_refund(State *st, Src *s)
{
	int64		txn;
	Call		c;
	ShimTuple  *r;
	int64		cash,
				owed,
				bonus_live,
				amt,
				bonus_held;

	if (st->ntopups == 0)
		return;
	txn = st->topups[U8(s) % st->ntopups];
	if (open_refund(st, txn))
		return;					/* one open refund per top-up */
	c = (Call) {wallet_lots_refund_info, 3};
	LOT_ARG(&c, 0, st->lots);
	ARG(&c, 1, Int64GetDatum(txn));
	ARG(&c, 2, TimestampTzGetDatum(st->now));
	c.natts = 7;
	if (!invoke(st, &c, "lots_refund_info"))
		return;
	r = row(&c);
	if (!DatumGetBool(r->values[0]))
		return;
	cash = DatumGetInt64(r->values[1]);
	owed = DatumGetInt64(r->values[2]);
	bonus_live = DatumGetInt64(r->values[4]);
	if (cash - owed <= 0)
		return;					/* WL004 */
	amt = (U8(s) & 1) ? cash - owed : 1 + (int64) (take_bytes(s, 8) % (uint64) (cash - owed));

	c = (Call) {wallet_lots_refund_hold, 5};
	LOT_ARG(&c, 0, st->lots);
	ARG(&c, 1, Int64GetDatum(txn));
	ARG(&c, 2, Int64GetDatum(amt + owed));
	ARG(&c, 3, Int64GetDatum(owed));
	ARG(&c, 4, TimestampTzGetDatum(st->now));
	c.natts = 2;
	if (!invoke(st, &c, "lots_refund_hold"))
		return;
	r = row(&c);
	bonus_held = DatumGetInt64(r->values[1]);
	if (bonus_held != bonus_live)
		shim_fail("refund hold held " INT64_FORMAT " bonus, refund_info said " INT64_FORMAT " is live",
				  bonus_held, bonus_live);
	st->lots = (LotSet *) DatumGetPointer(r->values[0]);
	st->total[BUCKET_CASH] -= amt + owed;
	st->total[BUCKET_BONUS] -= bonus_held;
	st->held += amt + owed + bonus_held;
	expect_totals(st, "refund hold");
	{
		Postings	ps;
		PostCall	pc = {&ps, POST_HOLD, {amt + owed, bonus_held}};
		int64		delta[4] = {-(amt + owed), -bonus_held, 0, amt + owed + bonus_held};

		postings_init(&ps);
		expect_postings(st, &pc, "refund hold", delta, 0);
	}
	st->refunds[st->nrefunds++] = (Refund) {txn, amt + owed, owed, bonus_held};
}

static void
step_refund_end(State *st, Src *s)
{
	int			i;
	Refund		rf;
	bool		release;
	Call		c;

	if (st->nrefunds == 0)
		return;
	i = U8(s) % st->nrefunds;
	rf = st->refunds[i];
	release = U8(s) & 1;
	c = (Call) {release ? wallet_lots_refund_release : wallet_lots_refund_settle, 6};
	LOT_ARG(&c, 0, st->lots);
	ARG(&c, 1, Int64GetDatum(rf.txn));
	ARG(&c, 2, Int64GetDatum(rf.take));
	ARG(&c, 3, Int64GetDatum(rf.clawback));
	ARG(&c, 4, Int64GetDatum(rf.bonus_held));
	ARG(&c, 5, TimestampTzGetDatum(st->now));
	if (!invoke(st, &c, release ? "lots_refund_release" : "lots_refund_settle"))
		return;
	st->lots = (LotSet *) DatumGetPointer(c.result);
	st->held -= rf.take + rf.bonus_held;
	if (release)
	{
		st->total[BUCKET_CASH] += rf.take;
		st->total[BUCKET_BONUS] += rf.bonus_held;
	}
	expect_totals(st, release ? "refund release" : "refund settle");
	{
		/* the amount refunded is take less the clawback; a fee is kept of it */
		int64		amt = rf.take - rf.clawback;
		int64		fee = (int64) ((uint64) rf.take % (uint64) (amt + 1));
		Postings	ps;
		PostCall	pc = {&ps, POST_END, {rf.take, rf.bonus_held, amt - fee, fee, rf.clawback, 0}, NULL, release};
		int64		delta[4] = {release ? rf.take : 0, release ? rf.bonus_held : 0, 0, -(rf.take + rf.bonus_held)};

		postings_init(&ps);
		expect_postings(st, &pc, release ? "refund release" : "refund settle", delta, 0);
	}
	st->refunds[i] = st->refunds[--st->nrefunds];
}

/* ---- expiry sweep, take, totals ---- */

static void
step_expire(State *st, Src *s)
{
	Call		c = {wallet_lots_expire, 2};
	ShimTuple  *r;
	int64		expect = 0;
	int32		nexp = 0;
	LotBuilder *cur = lotset_unpack(st->lots);

	for (int i = 0; i < cur->nlots; i++)
	{
		const WalletLot *l = &cur->lots[i];

		if (l->bucket == BUCKET_BONUS && l->amount > 0 && l->until != DT_NOEND && l->until <= st->now)
			expect += l->amount, nexp++;
	}
	LOT_ARG(&c, 0, st->lots);
	ARG(&c, 1, TimestampTzGetDatum(st->now));
	c.natts = 3;
	if (!invoke(st, &c, "lots_expire"))
		return;
	r = row(&c);
	if (DatumGetInt64(r->values[1]) != expect || DatumGetInt32(r->values[2]) != nexp)
		shim_fail("expiry wrote off " INT64_FORMAT " in %d lots, expected " INT64_FORMAT " in %d",
				  DatumGetInt64(r->values[1]), DatumGetInt32(r->values[2]), expect, nexp);
	st->lots = (LotSet *) DatumGetPointer(r->values[0]);
	st->total[BUCKET_BONUS] -= expect;
	expect_totals(st, "expire");
	{
		Postings	ps;
		PostCall	pc = {&ps, POST_EXPIRY, {expect}};
		int64		delta[4] = {0, -expect, 0, 0};

		postings_init(&ps);
		expect_postings(st, &pc, "expiry", delta, 0);
	}
}

static void
step_take(State *st, Src *s)
{
	Call		c = {wallet_lots_take, 4};
	int			bucket = U8(s) % WALLET_NBUCKETS;
	int64		want = amount(s);
	int64		have,
				got;
	int64		total[WALLET_NBUCKETS],
				held;

	scan(st->lots, total, &held);
	have = bucket == BUCKET_BONUS ? usable_bonus(st->lots, NULL, st->now) : total[bucket];
	LOT_ARG(&c, 0, st->lots);
	TEXT_ARG(&c, 1, bucket_name(bucket));
	ARG(&c, 2, Int64GetDatum(want));
	ARG(&c, 3, TimestampTzGetDatum(st->now));
	c.natts = 2;
	if (!invoke(st, &c, "lots_take"))
		return;
	got = DatumGetInt64(row(&c)->values[1]);
	if (got != Min(want, have))
		shim_fail("lots_take of " INT64_FORMAT " %s took " INT64_FORMAT " of " INT64_FORMAT, want,
				  bucket_name(bucket), got, have);
	st->lots = (LotSet *) DatumGetPointer(row(&c)->values[0]);
	st->total[bucket] -= got;
	expect_totals(st, "take");
}

typedef struct NextCall
{
	LotSet	   *lots;
	TimestampTz next;
} NextCall;

static void
do_next_expiry(void *arg)
{
	NextCall   *nc = arg;

	nc->next = engine_next_expiry(lotset_unpack(nc->lots));
}

static void
step_check(State *st, Src *s)
{
	const char *scene = scenes[U8(s) % 5];
	Call		c = {wallet_lots_totals, 3};
	ShimTuple  *r;
	int64		total[WALLET_NBUCKETS],
				held;
	TimestampTz next = DT_NOEND;
	LotBuilder *cur = lotset_unpack(st->lots);

	scan(st->lots, total, &held);
	for (int i = 0; i < cur->nlots; i++)
	{
		const WalletLot *l = &cur->lots[i];

		if (l->bucket == BUCKET_BONUS && l->amount > 0 && l->until != DT_NOEND && l->until < next)
			next = l->until;
	}
	LOT_ARG(&c, 0, st->lots);
	TEXT_ARG(&c, 1, scene);
	ARG(&c, 2, TimestampTzGetDatum(st->now));
	c.natts = 6;
	if (!invoke(st, &c, "lots_totals"))
		return;
	r = row(&c);
	if (DatumGetInt64(r->values[0]) != total[BUCKET_CASH] ||
		DatumGetInt64(r->values[1]) != usable_bonus(st->lots, scene, st->now) ||
		DatumGetInt64(r->values[2]) != total[BUCKET_EARNINGS] ||
		DatumGetInt64(r->values[3]) != held ||
		DatumGetInt64(r->values[4]) != total[BUCKET_BONUS] ||
		r->isnull[5] != (next == DT_NOEND) ||
		(!r->isnull[5] && DatumGetTimestampTz(r->values[5]) != next))
		shim_fail("lots_totals disagrees with the lots");

	{
		NextCall	nc = {st->lots};

		if (shim_call(do_next_expiry, &nc) != 0 || nc.next != next)
			shim_fail("engine_next_expiry disagrees with the lots");
	}

	c = (Call) {wallet_lots_list, 1};
	LOT_ARG(&c, 0, st->lots);
	c.srf = true;
	if (!invoke(st, &c, "lots_list"))
		return;
	if (c.rows != lotset_unpack(st->lots)->nlots)
		shim_fail("lots_list gave %ld rows for %d lots", c.rows, lotset_unpack(st->lots)->nlots);
	roundtrip(st->lots);
}

/* ---- hostile: an engine function with arbitrary arguments ---- */

static LotSet *
some_lotset(State *st, Src *s)
{
	int			k = U8(s) % (st->nspends + 2);

	if (k == 0)
		return st->lots;
	if (k == 1 || st->nspends == 0)
		return (LotSet *) DatumGetPointer(DirectFunctionCall1Coll(lotset_in, InvalidOid,
																  CStringGetDatum("next=1")));
	return st->spends[k - 2].nrev > 0 && (U8(s) & 1) ? st->spends[k - 2].rev[0] : st->spends[k - 2].taken;
}

static int64
any_int64(Src *s)
{
	switch (U8(s) % 4)
	{
		case 0:
			return (int64) take_bytes(s, 8);
		case 1:
			return -(int64) U8(s);
		default:
			return amount(s);
	}
}

static void
step_hostile(State *st, Src *s)
{
	static const PGFunction fns[] = {wallet_lots_spend, wallet_lots_expire, wallet_lots_take, wallet_lots_minus,
		wallet_reversal_split, wallet_lots_reverse, wallet_lots_refund_info, wallet_lots_refund_hold,
	wallet_lots_refund_release, wallet_lots_refund_settle, wallet_lots_totals};
	static const int natts[] = {6, 3, 2, 0, 0, 6, 7, 2, 0, 0, 6};
	int			f = U8(s) % lengthof(fns);
	Call		c = {fns[f], 6};
	bool		story = st->story;

	LOT_ARG(&c, 0, some_lotset(st, s));
	for (int i = 1; i < 6; i++)
		ARG(&c, i, Int64GetDatum(any_int64(s)));
	if (fns[f] == wallet_lots_minus || fns[f] == wallet_lots_reverse)
		LOT_ARG(&c, 1, some_lotset(st, s));
	if (fns[f] == wallet_lots_take)
		TEXT_ARG(&c, 1, U8(s) & 1 ? "gold" : bucket_name(U8(s) % 3));
	if (fns[f] == wallet_lots_spend || fns[f] == wallet_lots_totals)
	{
		static const char *const bad[3] = {"", "no spaces", "s234567890123456789012345678901234567890123456789012345678901234"};
		int			k = U8(s) % 8;

		TEXT_ARG(&c, fns[f] == wallet_lots_spend ? 2 : 1, k < 5 ? scenes[k] : bad[k - 5]);
	}
	c.natts = natts[f];
	st->story = false;
	if (invoke(st, &c, "hostile call"))
	{
		/* the result must be a well-formed value (or a row holding one) */
		Datum		v = natts[f] ? row(&c)->values[0] : c.result;

		if (fns[f] != wallet_lots_refund_info && fns[f] != wallet_lots_totals)
			check_value((LotSet *) DatumGetPointer(v));
	}
	st->story = story;
}

/* ---- raw start: a lot set made directly from the input ---- */

typedef struct RawCall
{
	Src		   *s;
	TimestampTz now;
	LotSet	   *out;
} RawCall;

static void
do_raw(void *arg)
{
	RawCall    *rc = arg;
	Src		   *s = rc->s;
	LotBuilder *b = new_builder(1);
	int			n = U8(s) % 12;
	int32		id = 0;

	for (int i = 0; i < n; i++)
	{
		WalletLot  *l;
		int			k = U8(s);

		id += 1 + U8(s) % 3;
		b->next_id = id;
		l = builder_add(b, (k % 3 == BUCKET_BONUS && (k & 4)) ? scopes[1 + (k >> 3) % 4] : NULL);
		l->bucket = k % 3;
		l->amount = (k & 8) ? 0 : amount(s);
		l->held = (k & 16) ? amount(s) : 0;
		l->txn = 1 + U8(s) % 6;
		l->granted = rc->now - span(s);
		l->until = (k & 32) ? DT_NOEND : rc->now + ((k & 64) ? span(s) : -span(s));
		if (l->bucket == BUCKET_CASH && (k & 128))
		{
			l->owed = U8(s);
			l->clawed = U8(s);
		}
	}
	b->next_id = id + 1 + U8(s) % 3;
	rc->out = lotset_pack(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Src			s = {data, size};
	State	   *st = calloc(1, sizeof(State));
	int			mode = U8(&s);

	st->now = T0 + (TimestampTz) (take_bytes(&s, 2) % 3650) * DAY;
	st->next_txn = 100;
	st->story = (mode & 3) != 0;
	if (st->story)
		st->lots = (LotSet *) DatumGetPointer(DirectFunctionCall1Coll(lotset_in, InvalidOid,
																	  CStringGetDatum("next=1")));
	else
	{
		RawCall		rc = {&s, st->now, NULL};

		if (shim_call(do_raw, &rc) != 0)
			goto done;
		st->lots = rc.out;
		for (int t = 1; t <= 6; t++)
			st->topups[st->ntopups++] = t;
	}
	expect_totals(st, "start");

	for (int step = 0; step < MAX_STEPS && s.n > 0; step++)
	{
		switch (U8(&s) % 12)
		{
			case 0:
			case 1:
				step_top_up(st, &s);
				break;
			case 2:
				add_lot(st, BUCKET_EARNINGS, amount(&s), st->next_txn++, DT_NOEND, NULL);
				break;
			case 3:
			case 4:
				step_spend(st, &s);
				break;
			case 5:
				step_reverse(st, &s);
				break;
			case 6:
				step_refund(st, &s);
				break;
			case 7:
				step_refund_end(st, &s);
				break;
			case 8:
				step_expire(st, &s);
				break;
			case 9:
				st->now += span(&s);
				break;
			case 10:
				(U8(&s) & 1) ? step_take(st, &s) : step_check(st, &s);
				break;
			case 11:
				step_hostile(st, &s);
				break;
		}
	}
	step_check(st, &s);
done:
	free(st);
	shim_reset();
	return 0;
}
