/*
 * withdraw_request.c
 *	  wallet.request_withdrawal: a withdrawal of earnings asked for, on the
 *	  shared pipeline. The amount is held at once (withdraw_common.c); the
 *	  request is approved when it is small enough and the day's total stays
 *	  within the review threshold, and waits for review otherwise.
 */
#include "ops/withdraw.h"

PG_FUNCTION_INFO_V1(wallet_request_withdrawal);

/* A call of wallet.request_withdrawal, made by op_optimistic. */
typedef struct RequestCall
{
	FunctionCallInfo fcinfo;
	int64		wallet_id;
	TimestampTz clk;
	int64		amount;
	WithdrawSpec s;
	WalletRow	w;
	WithdrawMade out;
} RequestCall;

static void
request_read(OpOptimistic *op, bool lock, int attempt)
{
	RequestCall *c = op->state;

	read_wallet(c->wallet_id, lock, true, &c->w);
	if (attempt == 0)
	{
		FunctionCallInfo fcinfo = c->fcinfo;
		JB			jb;

		c->amount = op_amount(fcinfo, 1, &c->w);
		c->s.destination = check_text(fcinfo, 3, "destination", 200, true);
		c->s.method = check_text(fcinfo, 4, "method", 64, false);
		c->s.note = check_text(fcinfo, 5, "note", 1000, false);
		c->s.step_up = step_up_arg(fcinfo, 6);
		jb_begin(&jb);
		jb_int(&jb, "amount", c->amount);
		jb_text(&jb, "destination", c->s.destination);
		jb_text_if(&jb, true, "method", c->s.method);
		jb_text_if(&jb, true, "note", c->s.note);
		op->req = jb_end(&jb);
	}
	op->w = &c->w;
}

/*
 * request_make makes the request. Under the lock: refused when frozen, the
 * wallet made ready (withdraw_prepare), refused in debt or by the quote.
 * Without it: the plain request only (no hold past its expiry, no payee
 * credit that counts, no refusal, within the limits), anything else left to
 * the lock.
 */
static OpTry
request_make(OpOptimistic *op, bool lock)
{
	RequestCall *c = op->state;
	WalletRow  *w = &c->w;
	LotBuilder *b = lotset_unpack(w->lots);
	WithdrawQuote q;

	if (lock)
	{
		int64		debt;

		refuse_frozen(w, NULL);
		debt = withdraw_prepare(w, b, c->clk, c->amount);
		refuse_in_debt(w->id, debt, w->exponent, "withdraw");
		withdraw_quote_now(w, c->amount, engine_earnings(b), c->clk, false, &q);
		withdraw_refuse(w, &q);
	}
	else
	{
		if (w->frozen || withdraw_needs_prepare(w, b, c->clk, c->amount))
			return OP_NEED_LOCK;
		withdraw_quote_now(w, c->amount, engine_earnings(b), c->clk, false, &q);
		if (q.refusal != WITHDRAW_OK || !limits_allow(w, LIMIT_WITHDRAW, c->amount, c->clk))
			return OP_NEED_LOCK;
	}
	if (withdraw_make(w, b, &q, &c->s, "request_withdrawal", op->key, op->req, c->clk, &c->out))
		return OP_MADE;
	op->txn_id = c->out.txn_id;
	return OP_NOT_WRITTEN;
}

/*
 * wallet.request_withdrawal(wallet_id bigint, amount numeric, idempotency_key
 * text, destination text, method text, note text, step_up text) returns (withdrawal_id,
 * amount, fee, net, status, replayed). Refused: frozen (WL002), in debt
 * (WL008), below the minimum, nothing after the fee or past the day's maximum
 * (WL007), more than the earnings (WL001). Made as a spend is
 * (op_optimistic): the plain request from the row read without its lock,
 * anything else under it.
 */
static Datum
request_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	RequestCall c = {.fcinfo = fcinfo, .clk = wallet_clock()};
	OpOptimistic op = {.kind = "request_withdrawal", .state = &c, .read = request_read, .make = request_make};
	WithdrawMade out;
	Jsonb	   *prior;
	int			exponent;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	op.key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	c.wallet_id = op_begin(fcinfo);
	prior = op_optimistic(&op);
	out = c.out;
	if (prior != NULL)
		withdraw_made_of(prior, &out);
	exponent = c.w.exponent;
	op_leave(caller);
	values[0] = Int64GetDatum(out.withdrawal_id);
	values[1] = major(out.amount, exponent);
	values[2] = major(out.fee, exponent);
	values[3] = major(out.net, exponent);
	values[4] = CStringGetTextDatum(out.status);
	values[5] = BoolGetDatum(prior != NULL);
	{
		static const Oid types[6] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, TEXTOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_request_withdrawal(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(request_body, fcinfo);
}
