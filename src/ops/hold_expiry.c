/*
 * hold_expiry.c
 *	  What the hold operations share: a hold read with its wallet locked
 *	  first (wallet, then hold, as every operation that changes a hold), its
 *	  row changed, and the give-back of holds past their expiry.
 *
 *	  A hold past its expiry reserves nothing from that moment on
 *	  (engine_reserved counts its pieces as available); an operation that is
 *	  about to spend from the wallet's lots first gives those pieces back for
 *	  good, each hold in one journal row of kind expire_holds (no key, ref_txn
 *	  the hold's own row) with the hold marked expired, in its own
 *	  transaction; wallet.expire_holds does the same for wallets nobody
 *	  touches.
 */
#include "ops/holds.h"

static OpPlan change_row = OP_PLAN(
	"UPDATE wallet.hold SET status = $2, captured = captured + $3, released = released + $4, expires_at = $5 "
	"WHERE ctid = $1",
	5, TIDOID, TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID);


/* the longest life of a hold: 30 days from when it was made */
const Interval hold_ttl_max = {.time = 0, .day = 30, .month = 0};

/* hold_ttl returns argument argno, a ttl between 1 minute and 30 days. */
Interval *
hold_ttl(FunctionCallInfo fcinfo, int argno)
{
	Interval   *ttl;
	Interval	lo = {.time = HOLD_TTL_MIN, .day = 0, .month = 0};

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must not be null")));
	ttl = PG_GETARG_INTERVAL_P(argno);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(ttl), IntervalPGetDatum(&lo))) ||
		DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(ttl), IntervalPGetDatum(&hold_ttl_max))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must be between 1 minute and 30 days"),
				 errdetail("Got %s.", DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(ttl))))));
	return ttl;
}

/* ttl_text is a ttl as a request records it: its fields, the same under any IntervalStyle. */
char *
ttl_text(const Interval *ttl)
{
	return psprintf("%d months %d days " INT64_FORMAT " us", ttl->month, ttl->day, ttl->time);
}

/*
 * hold_lock reads hold hold_id (WL006 if there is none), locks its wallet
 * and then the hold's row (its latest version, lock_hold).
 */
void
hold_lock(int64 hold_id, WalletRow *w, HoldRow *h)
{
	if (!read_hold(hold_id, false, h))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("hold %lld does not exist", (long long) hold_id)));
	read_wallet(h->wallet_id, true, true, w);
	if (!lock_hold(h))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("hold %lld does not exist", (long long) hold_id)));
}

/*
 * hold_move_read reads, for a capture or release (a HoldMove first in
 * op->state; the operation started), the hold and its wallet, locked
 * (hold_lock) or not (both as of the same snapshot); at the first attempt,
 * its amount in minor units and op->req, the request as the journal keeps
 * it: hold_id, amount, and final when final is 0 or 1.
 */
void
hold_move_read(OpOptimistic *op, bool lock, int attempt)
{
	HoldMove   *m = op->state;
	FunctionCallInfo fcinfo = m->fcinfo;
	JB			jb;

	if (lock)
		hold_lock(m->hold_id, &m->w, &m->h);
	else
	{
		/*
		 * Both under one snapshot: a change of the hold made since is then a
		 * change of the wallet's row made since, which the write's version
		 * check finds (a lost race).
		 */
		direct_begin();
		if (!read_hold(m->hold_id, false, &m->h))
			ereport(ERROR,
					(errcode(ERRCODE_WL('6')),
					 errmsg("hold %lld does not exist", (long long) m->hold_id)));
		read_wallet(m->h.wallet_id, false, true, &m->w);
		direct_end();
	}
	if (attempt == 0)
	{
		m->amount = PG_ARGISNULL(2) ? -1 : numeric_to_minor(PG_GETARG_NUMERIC(2), m->w.exponent, "amount");
		jb_begin(&jb);
		jb_int(&jb, "hold_id", m->hold_id);
		if (m->amount >= 0)
			jb_int(&jb, "amount", m->amount);
		if (m->final >= 0)
			jb_bool(&jb, "final", m->final);
		op->req = jb_end(&jb);
	}
	op->w = &m->w;
}

/* hold_lapsed tells whether an open hold's time has passed at clk. */
bool
hold_lapsed(const HoldRow *h, TimestampTz clk)
{
	return strcmp(h->status, "open") == 0 && h->expires_at <= clk;
}

/*
 * hold_plain tells whether a capture or release of amount (-1: all) of hold
 * h, read without its lock, is the plain one: an open hold in time, no group
 * payment's share, its wallet's lots reserving remaining for it as its row
 * says, and no more than that asked. Anything else is refused (or found a
 * replay) under the locks.
 */
bool
hold_plain(const HoldRow *h, int64 remaining, int64 amount, TimestampTz clk)
{
	return strcmp(h->status, "open") == 0 && !hold_lapsed(h, clk) && h->group_id <= 0 &&
		remaining == h->amount - h->captured - h->released && amount <= remaining;
}

/* refuse_unless_open refuses to move money of hold h unless it is open and in time. */
void
refuse_unless_open(const HoldRow *h, TimestampTz clk, const char *what)
{
	if (strcmp(h->status, "open") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("hold %lld is %s", (long long) h->hold_id, h->status),
				 errdetail("Only an open hold can be %s.", what)));
	if (hold_lapsed(h, clk))
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("hold %lld has expired", (long long) h->hold_id),
				 errdetail("It reserves nothing since its expiry; it cannot be %s.", what)));
}

/*
 * hold_move_refuse refuses, under the locks (lock; nothing without them),
 * to capture or release (what: "captured", "released") hold m->h unless it is
 * open and in time, or, by itself, a group payment's share: the group
 * payment captures or releases its holds together.
 */
void
hold_move_refuse(const HoldMove *m, bool lock, const char *what)
{
	const HoldRow *h = &m->h;

	if (!lock)
		return;
	refuse_unless_open(h, m->clk, what);
	if (h->group_id > 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("hold %lld is a share of group payment %lld", (long long) h->hold_id,
						(long long) h->group_id),
				 errhint("It is captured when the last participant joins, and released by cancel_group_pay.")));
}

/*
 * hold_share returns how much of hold h a capture or release (what) moves:
 * amount, or with -1 all that remains; more than remains is WL008. remaining
 * is what the wallet's lots reserve for the hold, which must be what its row
 * says.
 */
int64
hold_share(const WalletRow *w, const HoldRow *h, int64 remaining, int64 amount, const char *what)
{
	int64		x = amount >= 0 ? amount : remaining;

	if (remaining != h->amount - h->captured - h->released)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("hold %lld reserves %lld in its wallet's lots but its row says %lld",
						(long long) h->hold_id, (long long) remaining,
						(long long) (h->amount - h->captured - h->released))));
	if (x > remaining)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("%s of %s is more than hold %lld has left", what,
						DatumGetCString(DirectFunctionCall1(numeric_out, major(x, w->exponent))),
						(long long) h->hold_id),
				 errdetail("It has %s left.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, major(remaining, w->exponent))))));
	return x;
}

/* hold_change sets a hold's status and expiry and adds to what it captured and released. */
void
hold_change(const HoldRow *h, const char *status, int64 captured, int64 released, TimestampTz expires_at)
{
	Datum		args[5] = {PointerGetDatum(&h->tid), CStringGetTextDatum(status), Int64GetDatum(captured),
	Int64GetDatum(released), TimestampTzGetDatum(expires_at)};

	if (hold_change_direct(h, status, captured, released, expires_at))
		return;
	/* by its ctid, never a scan of the table (see pin_key_lookups) */
	pin_key_lookups();
	if (run_plan(op_plan(&change_row), args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not change hold %lld", (long long) h->hold_id);
}

/* hold_status_after is a hold's status once it has captured `captured` and reserves `remaining`. */
const char *
hold_status_after(int64 captured, int64 remaining)
{
	if (remaining > 0)
		return "open";
	return captured > 0 ? "captured" : "released";
}

/*
 * holds_give_back_due gives back, in b, every hold of locked wallet w whose
 * time has passed at clk, journals each, marks it expired and writes the
 * wallet's lots at once (so that an operation that reads the row again, or
 * fails later, finds the row and the journal agreeing); w's version and tuple
 * follow. Returns how many holds it ended.
 */
int
holds_give_back_due(WalletRow *w, LotBuilder *b, TimestampTz clk)
{
	int64		hold_id;
	int			n = 0;

	while ((hold_id = engine_due_hold(b, clk)) != 0)
	{
		HoldRow		h;
		int64		left[WALLET_NBUCKETS];
		int64		total = engine_hold_remaining(b, hold_id, left);
		ReversalOut out;
		Postings	legs;
		JB			jb;
		Jsonb	   *req;
		int64		txn_id;

		if (!read_hold(hold_id, true, &h) || h.wallet_id != w->id || strcmp(h.status, "open") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("wallet %lld reserves money for hold %lld, which is not its open hold",
							(long long) w->id, (long long) hold_id)));
		engine_release(b, hold_id, total, clk, &out);
		postings_init(&legs);
		post_release(&legs, w->id, &out, total);
		txn_id = nextval_internal(plans.txn_seq, false);
		jb_begin(&jb);
		jb_int(&jb, "hold_id", hold_id);
		req = jb_end(&jb);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		jb_int(&jb, "released", total);
		jb_int(&jb, "breakage", out.breakage);
		insert_txn_keyless(txn_id, w, "expire_holds", total, clk, h.hold_txn, req, jb_end(&jb),
						   legs_of(&legs, "expire_holds"), NULL);
		hold_change(&h, "expired", 0, total, h.expires_at);
		/* the limits' usage: what it still reserved, and its count if it captured nothing */
		limits_give_back(w, LIMIT_SPEND, total, h.captured == 0 ? 1 : 0, h.created_at, clk);
		n++;
	}
	if (n > 0)
	{
		if (!save_wallet(w, b))
			elog(ERROR, "wallet %lld changed under its lock", (long long) w->id);
		w->version++;
		w->lots = lotset_pack(b);
		refresh_wallet_tuple(w);
	}
	return n;
}
