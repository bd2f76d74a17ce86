/*
 * hold.c
 *	  wallet.hold: money reserved in spending order for a later capture
 *	  (CONTRACT.md section 14), on the shared pipeline. The reserved pieces
 *	  stay in the wallet's lot set (engine/holds.c); the hold's row says
 *	  what it is for and how it ends. hold_make is the hold itself, which a
 *	  group payment's join places too.
 */
#include "ops/holds.h"

PG_FUNCTION_INFO_V1(wallet_hold);

static OpPlan hold_row = OP_PLAN(
	"INSERT INTO wallet.hold (hold_id, wallet_id, status, amount, captured, released, expires_at, created_at, "
	"hold_txn, scene, payee, order_ref, group_id) "
	"VALUES ($1, $2, $10, $3, 0, 0, $4, $5, $6, $7, $8, $9, $11)",
	11, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID,
	INT8OID);

/*
 * hold_try reserves s->amount (less what max_charge leaves out, and with
 * allow_partial what is available) from wallet w at clk, journals it as kind
 * with key and req (its result as a hold's) and records the hold's row.
 * Under the row lock (locked) it refuses a frozen wallet (WL002), a bad
 * payee, too little (WL001) and a payment the spend rules refuse (WL008).
 * Without it (the optimistic path, the key not probed yet) whatever needs
 * the lock (a refusal, which must not hide a replay; holds past their expiry
 * to give back; credits to roll up; too little; spend rules) returns
 * OP_NEED_LOCK having done nothing. OP_NOT_WRITTEN: the key was taken or
 * the row moved on (after_no_write tells which); nothing written.
 */
OpTry
hold_try(WalletRow *w, const HoldSpec *s, TimestampTz clk, const char *kind, const char *key, Jsonb *req,
		 bool locked, HoldMade *out)
{
	LotBuilder *b;
	Postings	legs;
	Jsonb	   *res;
	JB			jb;
	SpendRules	conf;
	bool		earnings;
	int64		available;
	int64		want;
	bool		weigh;
	int64		grant;

	if (!locked && w->frozen)
		return OP_NEED_LOCK;
	refuse_frozen(w, NULL);
	/* a payee on another shard is checked there, when the relay applies the capture's credit */
	if (s->has_payee && shard_local(s->payee))
	{
		char	   *pcur;
		PayeeProblem pp = payee_problem(w, s->payee, &pcur);

		if (!locked && pp != PAYEE_OK)
			return OP_NEED_LOCK;
		payee_refuse(pp, w, s->payee, pcur);
	}
	if (!OidIsValid(plans.hold_seq))
		elog(ERROR, "wallet.hold is missing: update the extension");
	currency_spend_rules(w->currency, w->exponent, &conf);
	earnings = engine_earnings_usable(conf.earnings_scope, s->scene);
	b = lotset_unpack(w->lots);
	if (!locked && engine_due_hold(b, clk) != 0)
		return OP_NEED_LOCK;
	holds_give_back_due(w, b, clk);
	available = engine_available(b, s->scene, clk, earnings);
	want = s->has_max ? Min(s->amount, s->max_charge) : s->amount;
	weigh = spend_rules_weigh(&conf);
	/* too little, and what the spend rules weigh, are decided under the row lock only */
	if (!locked && (weigh || available < want))
		return OP_NEED_LOCK;
	/*
	 * Payee credits waiting for the wallet are rolled up where they count, as
	 * a spend rolls them up: when the spend rules weigh what the wallet has,
	 * or when what is available falls short. A credit that repaid a debt
	 * wrote the row (its debt): the write takes its new version.
	 */
	if ((weigh || available < want) && rollup_credits(w->id, b, clk))
	{
		refresh_wallet_tuple(w);
		available = engine_available(b, s->scene, clk, earnings);
	}
	out->hold_id = nextval_internal(plans.hold_seq, false);
	out->expires_at = s->expires;
	out->shortfall = s->amount - want;
	out->shortfall += engine_hold(b, want, s->scene, clk, earnings, out->hold_id, out->expires_at, out->used);
	out->held = s->amount - out->shortfall;
	if (!locked && out->shortfall > s->amount - want)
		return OP_NEED_LOCK;
	if (out->shortfall > 0 && !s->partial && !s->has_max)
		ereport(ERROR,
				(errcode(ERRCODE_WL('1')),
				 errmsg("insufficient funds"),
				 errdetail("Wallet %lld can hold %s of %s%s.", (long long) w->id,
						   DatumGetCString(DirectFunctionCall1(numeric_out, major(out->held, w->exponent))),
						   DatumGetCString(DirectFunctionCall1(numeric_out, major(s->amount, w->exponent))),
						   s->scene ? psprintf(" in scene \"%s\"", s->scene) : ""),
				 s->group_id > 0 ? errhint("A share of a group payment is held whole.") :
				 errhint("Pass allow_partial => true to hold what is available and collect the rest elsewhere.")));
	spend_rule_refuse(engine_spend_rule(s->amount, available, out->held, conf.min_balance_use,
										conf.use_all_below),
					  w, &conf, available);
	/* the limits: a hold counts as a spend when it is made (its captures are not counted again) */
	if (!limits_apply(w, LIMIT_SPEND, "hold", out->held, s->step_up, clk, locked, &grant))
		return OP_NEED_LOCK;
	postings_init(&legs);
	post_hold(&legs, w->id, out->used);
	out->txn_id = nextval_internal(plans.txn_seq, false);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", out->txn_id);
	jb_int(&jb, "hold_id", out->hold_id);
	jb_int(&jb, "held", out->held);
	jb_int_if(&jb, true, "bonus_held", out->used[BUCKET_BONUS]);
	jb_int_if(&jb, true, "cash_held", out->used[BUCKET_CASH]);
	jb_int_if(&jb, true, "earnings_held", out->used[BUCKET_EARNINGS]);
	jb_int_if(&jb, true, "shortfall", out->shortfall);
	jb_time(&jb, "expires_at", out->expires_at);
	if (s->group_id > 0)
	{
		jb_int(&jb, "group_id", s->group_id);
		jb_int(&jb, "joined", s->group_joined);
		jb_bool(&jb, "paid", s->group_paid);
	}
	limits_json(&jb, grant);
	res = jb_end(&jb);
	if (!write_op(w, b, out->txn_id, kind, out->held, clk, key, NO_REF_TXN, req, res, legs_of(&legs, kind), NULL))
		return OP_NOT_WRITTEN;
	limits_used(grant, out->txn_id, clk);
	{
		/* a hold that reserved nothing (allow_partial) is recorded as released at once */
		HoldInsert	row = {.hold_id = out->hold_id, .wallet_id = w->id, .status = hold_status_after(0, out->held),
			.amount = out->held, .expires_at = out->expires_at, .created_at = clk, .hold_txn = out->txn_id,
			.scene = s->scene, .has_payee = s->has_payee, .payee = s->payee, .order_ref = s->order_ref,
		.group_id = s->group_id};

		if (hold_row_direct(&row))
			return OP_MADE;
	}
	{
		Datum		args[11] = {Int64GetDatum(out->hold_id), Int64GetDatum(w->id), Int64GetDatum(out->held),
			TimestampTzGetDatum(out->expires_at), TimestampTzGetDatum(clk), Int64GetDatum(out->txn_id),
			s->scene ? CStringGetTextDatum(s->scene) : (Datum) 0, Int64GetDatum(s->payee),
			s->order_ref ? CStringGetTextDatum(s->order_ref) : (Datum) 0,
		CStringGetTextDatum(hold_status_after(0, out->held)), Int64GetDatum(s->group_id)};
		char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', s->scene ? ' ' : 'n', s->has_payee ? ' ' : 'n',
		s->order_ref ? ' ' : 'n', ' ', s->group_id > 0 ? ' ' : 'n'};

		if (run_plan(op_plan(&hold_row), args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record hold %lld", (long long) out->hold_id);
	}
	return OP_MADE;
}

/*
 * hold_make is hold_try under the row lock of w, whose key was looked up
 * already (a group payment's join): anything but a hold made is an error.
 */
void
hold_make(WalletRow *w, const HoldSpec *s, TimestampTz clk, const char *kind, const char *key, Jsonb *req,
		  HoldMade *out)
{
	if (hold_try(w, s, clk, kind, key, req, true, out) != OP_MADE)
		elog(ERROR, "wallet %lld changed under its lock", (long long) w->id);
}

/* hold_made_of reads a hold's stored result (a replay). */
void
hold_made_of(Jsonb *prior, HoldMade *out)
{
	out->txn_id = jsonb_int_or_zero(prior, "txn_id");
	out->hold_id = jsonb_int(prior, "hold_id");
	out->held = jsonb_int(prior, "held");
	out->used[BUCKET_BONUS] = jsonb_int_or_zero(prior, "bonus_held");
	out->used[BUCKET_CASH] = jsonb_int_or_zero(prior, "cash_held");
	out->used[BUCKET_EARNINGS] = jsonb_int_or_zero(prior, "earnings_held");
	out->shortfall = jsonb_int_or_zero(prior, "shortfall");
	out->expires_at = jsonb_time(prior, "expires_at");
}

/*
 * hold_ask reads hold's arguments (amounts in w's currency; the hold
 * expires its ttl after clk) into s and returns the request as journaled.
 */
static Jsonb *
hold_ask(FunctionCallInfo fcinfo, const WalletRow *w, TimestampTz clk, HoldSpec *s)
{
	Interval   *ttl;
	JB			jb;

	s->amount = op_amount(fcinfo, 1, w);
	if (!PG_ARGISNULL(3))
	{
		s->scene = text_to_cstring(PG_GETARG_TEXT_PP(3));
		check_scene(s->scene, "scene");
	}
	ttl = hold_ttl(fcinfo, 4);
	s->expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(clk),
														 IntervalPGetDatum(ttl)));
	check_not_null(fcinfo, 5, "allow_partial");
	s->partial = PG_GETARG_BOOL(5);
	s->has_payee = !PG_ARGISNULL(6);
	s->payee = s->has_payee ? PG_GETARG_INT64(6) : 0;
	s->order_ref = check_text(fcinfo, 7, "order_ref", 200, false);
	s->has_max = !PG_ARGISNULL(8);
	if (s->has_max)
		s->max_charge = numeric_to_minor(PG_GETARG_NUMERIC(8), w->exponent, "max_charge");
	s->step_up = step_up_arg(fcinfo, 9);
	jb_begin(&jb);
	jb_int(&jb, "amount", s->amount);
	jb_text_if(&jb, true, "scene", s->scene);
	jb_text(&jb, "ttl", ttl_text(ttl));
	jb_bool(&jb, "allow_partial", s->partial);
	if (s->has_payee)
		jb_int(&jb, "payee", s->payee);
	jb_text_if(&jb, true, "order_ref", s->order_ref);
	if (s->has_max)
		jb_int(&jb, "max_charge", s->max_charge);
	return jb_end(&jb);
}

/* A call of wallet.hold, made by op_optimistic. */
typedef struct HoldCall
{
	FunctionCallInfo fcinfo;
	int64		wallet_id;
	TimestampTz clk;
	WalletRow	w;
	HoldSpec	s;
	HoldMade	out;
} HoldCall;

static void
hold_read(OpOptimistic *op, bool lock, int attempt)
{
	HoldCall   *c = op->state;

	read_wallet(c->wallet_id, lock, false, &c->w);
	if (attempt == 0)
		op->req = hold_ask(c->fcinfo, &c->w, c->clk, &c->s);
	op->w = &c->w;
}

static OpTry
hold_make_try(OpOptimistic *op, bool lock)
{
	HoldCall   *c = op->state;
	OpTry		t = hold_try(&c->w, &c->s, c->clk, "hold", op->key, op->req, lock, &c->out);

	op->txn_id = c->out.txn_id;
	return t;
}

/*
 * wallet.hold(wallet_id, amount, idempotency_key, scene, ttl, allow_partial,
 * payee, order_ref, max_charge, step_up) returns (hold_id, held, bonus_held,
 * cash_held, earnings_held, shortfall, expires_at, replayed). Made as a spend
 * is (op_optimistic): what needs the lock, hold_try says.
 */
static Datum
hold_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	HoldCall	c = {.fcinfo = fcinfo, .clk = wallet_clock()};
	OpOptimistic op = {.kind = "hold", .state = &c, .read = hold_read, .make = hold_make_try};
	HoldMade   *out = &c.out;
	Jsonb	   *prior;
	int			exponent;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};

	op.key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	c.wallet_id = op_begin(fcinfo);
	prior = op_optimistic(&op);
	if (prior != NULL)
		hold_made_of(prior, out);
	exponent = c.w.exponent;
	op_leave(caller);
	values[0] = Int64GetDatum(out->hold_id);
	values[1] = major(out->held, exponent);
	values[2] = major(out->used[BUCKET_BONUS], exponent);
	values[3] = major(out->used[BUCKET_CASH], exponent);
	values[4] = major(out->used[BUCKET_EARNINGS], exponent);
	values[5] = major(out->shortfall, exponent);
	values[6] = TimestampTzGetDatum(out->expires_at);
	values[7] = BoolGetDatum(prior != NULL);
	{
		static const Oid types[8] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
		TIMESTAMPTZOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_hold(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(hold_body, fcinfo);
}
