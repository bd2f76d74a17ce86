/*
 * transfer.c
 *	  wallet.transfer: earnings moved from one wallet to another (a payment
 *	  between customers, a donation, a gift), its fee charged to the sender on
 *	  top (CONTRACT.md section 17), on the shared pipeline. The receiver is
 *	  credited as a spend's payee is (credit_payee), never locked nor written:
 *	  many concurrent donations to one charity do not queue on its row. A
 *	  receiver on another shard (CONTRACT.md section 23) gets the amount by an
 *	  outbox message written with the debit; it waits in shard_transit.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_transfer);

/* The outcome of a transfer, in minor units. */
typedef struct TransferOut
{
	int64		txn_id;
	int64		amount;
	int64		fee;
	bool		replayed;
} TransferOut;

/* transfer_kind returns argument argno, the transfer's kind: 1 to 32 of a-z 0-9 _ (22023 otherwise). */
static char *
transfer_kind(FunctionCallInfo fcinfo, int argno)
{
	char	   *kind = check_text(fcinfo, argno, "kind", 32, true);

	for (const char *p = kind; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("kind must be 1 to 32 of a-z 0-9 _"),
					 errdetail("Got \"%s\".", kind),
					 errhint("For example 'p2p', 'donation' or 'gift'.")));
	return kind;
}

static char *
amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

/*
 * transfer_make moves amt (has_amount false: all the sender may move, its
 * fee on top) of sender w's earnings to wallet to, journaled with key and
 * req. Locked (w read under its row lock, its key looked up already), it
 * refuses a receiver that does not exist or holds another currency, a frozen
 * sender (WL002), a sender in debt (WL008) and too little (WL001), and
 * gives back and rolls up what must be first. Without the lock it makes the
 * plain transfer only, written under the version check, and leaves anything
 * else to the lock (OP_NEED_LOCK, nothing done); OP_NOT_WRITTEN: the key was
 * taken or the row moved on (after_no_write tells which).
 */
static OpTry
transfer_make(WalletRow *w, int64 to, bool has_amount, int64 amt, const char *kind, TimestampTz clk,
			  const char *key, Jsonb *req, const char *step_up, bool locked, TransferOut *out)
{
	int64		grant;
	char	   *tcur;
	/* a receiver on another shard is checked there, when the relay applies the message */
	bool		remote = !shard_local(to);
	LotBuilder *b;
	int64		transferable;
	int64		total;
	Postings	legs;
	JB			jb;
	Jsonb	   *res;

	if (!remote)
	{
		PayeeProblem pp = payee_problem(w, to, &tcur);

		if (pp != PAYEE_OK && !locked)
			return OP_NEED_LOCK;
		counterparty_refuse(pp, w, to, tcur, "to_wallet", "receiving wallet");
	}
	if (w->frozen && !locked)
		return OP_NEED_LOCK;
	refuse_frozen(w, NULL);
	b = lotset_unpack(w->lots);
	/*
	 * what the sender has: holds past their expiry given back, its pending
	 * credits rolled up where they count (all of it asked for, a debt, or the
	 * lots short of the amount and its fee)
	 */
	out->fee = has_amount ? engine_transfer_fee(amt, w->conf->transfer_fee_rate, w->conf->transfer_fee_fixed) : 0;
	total = has_amount ? checked_add(amt, out->fee) : -1;
	if (!locked)
	{
		if (engine_due_hold(b, clk) != 0 || credits_count_for(w, b, total))
			return OP_NEED_LOCK;
	}
	else
	{
		holds_give_back_due(w, b, clk);
		if (rollup_credits_for(w, b, clk, total))
			refresh_wallet_tuple(w);
		refuse_in_debt(w->id, wallet_row_debt(w), w->exponent, "transfer");
	}
	transferable = engine_earnings(b);
	if (!has_amount)
	{
		amt = engine_transfer_all(transferable, w->conf->transfer_fee_rate, w->conf->transfer_fee_fixed);
		out->fee = engine_transfer_fee(amt, w->conf->transfer_fee_rate, w->conf->transfer_fee_fixed);
	}
	out->amount = amt;
	total = checked_add(amt, out->fee);
	if ((amt <= 0 || total > transferable) && !locked)
		return OP_NEED_LOCK;
	if (amt <= 0 || total > transferable)
	{
		char	   *detail;

		if (has_amount)
			detail = psprintf("Wallet %lld can transfer %s of earnings; the transfer needs %s (%s and a fee of %s).",
							  (long long) w->id, amount_text(transferable, w->exponent),
							  amount_text(total, w->exponent), amount_text(amt, w->exponent),
							  amount_text(out->fee, w->exponent));
		else if (transferable == 0)
			detail = psprintf("Wallet %lld has no earnings to transfer.", (long long) w->id);
		else
			detail = psprintf("Wallet %lld has %s of earnings, which the fee of %s leaves nothing of.",
							  (long long) w->id, amount_text(transferable, w->exponent),
							  amount_text(out->fee, w->exponent));
		ereport(ERROR,
				(errcode(ERRCODE_WL('1')),
				 errmsg("insufficient funds"),
				 errdetail_internal("%s", detail),
				 errhint("Only earnings can be transferred: never bonus, and cash leaves a wallet only by spending or a refund.")));
	}
	if (engine_take(b, BUCKET_EARNINGS, total, clk, false) != total)
		elog(ERROR, "wallet %lld could not give the earnings it has", (long long) w->id);
	/* the limits: what leaves the sender counts, the amount and its fee */
	if (!limits_apply(w, LIMIT_TRANSFER, "transfer", total, step_up, clk, locked, &grant))
		return OP_NEED_LOCK;

	out->txn_id = nextval_internal(plans.txn_seq, false);
	postings_init(&legs);
	if (remote)
		post_transfer_out(&legs, w->id, amt, out->fee);
	else
		post_transfer(&legs, w->id, to, amt, out->fee);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", out->txn_id);
	jb_int(&jb, "amount", amt);
	jb_int(&jb, "fee", out->fee);
	jb_int(&jb, "to_wallet", to);
	jb_text(&jb, "kind", kind);
	limits_json(&jb, grant);
	res = jb_end(&jb);
	if (!write_op(w, b, out->txn_id, "transfer", amt, clk, key, NO_REF_TXN, req, res,
				  legs_of(&legs, "transfer"), NULL))
		return OP_NOT_WRITTEN;
	limits_used(grant, out->txn_id, clk);
	if (remote)
		(void) outbox_send(w->id, out->txn_id, to, w->currency, amt, "transfer", clk);
	else
		credit_payee(to, amt, out->txn_id);
	return OP_MADE;
}

/* A call of wallet.transfer, made by op_optimistic. */
typedef struct TransferCall
{
	FunctionCallInfo fcinfo;
	int64		from;
	int64		to;
	bool		has_amount;
	int64		amount;
	char	   *kind;
	char	   *note;
	char	   *step_up;
	bool		step_up_read;
	TimestampTz clk;
	WalletRow	w;
	TransferOut out;
} TransferCall;

static void
transfer_read(OpOptimistic *op, bool lock, int attempt)
{
	TransferCall *c = op->state;

	read_wallet(c->from, lock, true, &c->w);
	if (attempt == 0)
	{
		FunctionCallInfo fcinfo = c->fcinfo;
		JB			jb;

		if (c->has_amount)
			c->amount = numeric_to_minor(PG_GETARG_NUMERIC(2), c->w.exponent, "amount");
		jb_begin(&jb);
		jb_int(&jb, "to_wallet", c->to);
		if (c->has_amount)
			jb_int(&jb, "amount", c->amount);
		jb_text(&jb, "kind", c->kind);
		jb_text_if(&jb, true, "note", c->note);
		op->req = jb_end(&jb);
	}
	op->w = &c->w;
}

static OpTry
transfer_try(OpOptimistic *op, bool lock)
{
	TransferCall *c = op->state;
	OpTry		t;

	/* read once, and not for a replay */
	if (!c->step_up_read)
		c->step_up = step_up_arg(c->fcinfo, 6);
	c->step_up_read = true;
	t = transfer_make(&c->w, c->to, c->has_amount, c->amount, c->kind, c->clk, op->key, op->req, c->step_up, lock,
					  &c->out);
	op->txn_id = c->out.txn_id;
	return t;
}

/*
 * wallet.transfer(from_wallet, to_wallet, amount, idempotency_key, kind,
 * note, step_up) moves amount (NULL: all the sender may move) of from_wallet's
 * earnings into to_wallet's earnings and returns (txn_id, amount, fee,
 * replayed). The key belongs to the sender; the receiver's row is neither
 * locked nor written. Made as a spend is (op_optimistic): the plain transfer
 * from the sender's row read without its lock, anything else under it.
 */
static Datum
transfer_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TransferCall c = {.fcinfo = fcinfo};
	OpOptimistic op = {.kind = "transfer", .state = &c, .read = transfer_read, .make = transfer_try};
	TransferOut out;
	Jsonb	   *prior;
	int			exponent;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	op.key = check_text(fcinfo, 3, "idempotency_key", 200, true);
	c.from = op_int8_arg(fcinfo, 0, "from_wallet");
	c.to = op_int8_arg(fcinfo, 1, "to_wallet");
	c.has_amount = !PG_ARGISNULL(2);
	c.kind = transfer_kind(fcinfo, 4);
	c.note = check_text(fcinfo, 5, "note", 1000, false);
	c.clk = wallet_clock();
	if (c.from == c.to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to_wallet must be another wallet")));
	op_start();
	prior = op_optimistic(&op);
	out = c.out;
	if (prior != NULL)
	{
		out.txn_id = jsonb_int(prior, "txn_id");
		out.amount = jsonb_int(prior, "amount");
		out.fee = jsonb_int(prior, "fee");
		out.replayed = true;
	}
	exponent = c.w.exponent;
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.amount, exponent);
	values[2] = major(out.fee, exponent);
	values[3] = BoolGetDatum(out.replayed);
	{
		static const Oid types[4] = {INT8OID, NUMERICOID, NUMERICOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_transfer(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(transfer_body, fcinfo);
}
