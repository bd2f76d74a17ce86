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

/* What transfer_make did. */
typedef enum TransferStep
{
	TRANSFER_WROTE,
	TRANSFER_NOTHING,			/* the key was taken or the row moved on: after_no_write tells which */
	TRANSFER_LOCK				/* nothing done: decided under the row lock only */
} TransferStep;

/*
 * transfer_make moves amt (has_amount false: all the sender may move, its
 * fee on top) of sender w's earnings to wallet to, journaled with key and
 * req. Locked (w read under its row lock, its key looked up already), it
 * refuses a receiver that does not exist or holds another currency, a frozen
 * sender (WL002), a sender in debt (WL008) and too little (WL001), and
 * gives back and rolls up what must be first. Without the lock it makes the
 * plain transfer only, written under the version check, and leaves anything
 * else to the lock (TRANSFER_LOCK, nothing done).
 */
static TransferStep
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
			return TRANSFER_LOCK;
		counterparty_refuse(pp, w, to, tcur, "to_wallet", "receiving wallet");
	}
	if (w->frozen && !locked)
		return TRANSFER_LOCK;
	refuse_frozen(w, NULL);
	b = lotset_unpack(w->lots);
	/*
	 * what the sender has: holds past their expiry given back, its pending
	 * credits rolled up where they count (all of it asked for, a debt, or the
	 * lots short of the amount and its fee)
	 */
	total = has_amount ? checked_add(amt, engine_transfer_fee(amt, w->conf->transfer_fee_rate,
															  w->conf->transfer_fee_fixed)) : -1;
	if (!locked)
	{
		if (engine_due_hold(b, clk) != 0 || credits_count_for(w, b, total))
			return TRANSFER_LOCK;
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
		amt = engine_transfer_all(transferable, w->conf->transfer_fee_rate, w->conf->transfer_fee_fixed);
	out->amount = amt;
	out->fee = engine_transfer_fee(amt, w->conf->transfer_fee_rate, w->conf->transfer_fee_fixed);
	total = checked_add(amt, out->fee);
	if ((amt <= 0 || total > transferable) && !locked)
		return TRANSFER_LOCK;
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
		return TRANSFER_LOCK;

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
		return TRANSFER_NOTHING;
	limits_used(grant, out->txn_id, clk);
	if (remote)
		(void) outbox_send(w->id, out->txn_id, to, w->currency, amt, "transfer", clk);
	else
		credit_payee(to, amt, out->txn_id);
	return TRANSFER_WROTE;
}

/*
 * wallet.transfer(from_wallet, to_wallet, amount, idempotency_key, kind,
 * note, step_up) moves amount (NULL: all the sender may move) of from_wallet's
 * earnings into to_wallet's earnings and returns (txn_id, amount, fee,
 * replayed). The key belongs to the sender; the receiver's row is neither
 * locked nor written. As a spend: the plain transfer is made from the
 * sender's row read without its lock, written under the version check (a
 * lost race reads again, and after OPTIMISTIC_TRIES takes the lock), its key's
 * insert finding a replay; anything else is decided under the row lock, the
 * key looked up first, so that an error never hides a replay.
 */
static Datum
transfer_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 3, "idempotency_key", 200, true);
	int64		from = op_int8_arg(fcinfo, 0, "from_wallet");
	int64		to = op_int8_arg(fcinfo, 1, "to_wallet");
	bool		has_amount = !PG_ARGISNULL(2);
	char	   *kind = transfer_kind(fcinfo, 4);
	char	   *note = check_text(fcinfo, 5, "note", 1000, false);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	WalletRow	w;
	int64		amt = 0;
	Jsonb	   *req = NULL;
	char	   *step_up = NULL;
	bool		step_up_read = false;
	bool		must_lock = false;
	TransferOut out;
	int			exponent;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	memset(&out, 0, sizeof(out));
	if (from == to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to_wallet must be another wallet")));
	op_start();
	for (int attempt = 0;; attempt++)
	{
		bool		lock = must_lock || attempt >= OPTIMISTIC_TRIES;
		Jsonb	   *prior = NULL;

		read_wallet(from, lock, true, &w);
		if (attempt == 0)
		{
			JB			jb;

			if (has_amount)
				amt = numeric_to_minor(PG_GETARG_NUMERIC(2), w.exponent, "amount");
			jb_begin(&jb);
			jb_int(&jb, "to_wallet", to);
			if (has_amount)
				jb_int(&jb, "amount", amt);
			jb_text(&jb, "kind", kind);
			jb_text_if(&jb, true, "note", note);
			req = jb_end(&jb);
		}
		if (lock)
			prior = find_replay(&w, key, "transfer", req);
		if (prior == NULL)
		{
			TransferStep step;

			/* read once, and not for a replay */
			if (!step_up_read)
				step_up = step_up_arg(fcinfo, 6);
			step_up_read = true;
			step = transfer_make(&w, to, has_amount, amt, kind, clk, key, req, step_up, lock, &out);

			if (step == TRANSFER_WROTE)
				break;
			if (step == TRANSFER_LOCK)
			{
				must_lock = true;
				continue;
			}
			prior = after_no_write(&w, key, "transfer", req, out.txn_id);
			if (prior == NULL)
			{
				if (lock)
					elog(ERROR, "wallet %lld changed under its lock", (long long) w.id);
				continue;		/* lost a race: read again */
			}
		}
		out.txn_id = jsonb_int(prior, "txn_id");
		out.amount = jsonb_int(prior, "amount");
		out.fee = jsonb_int(prior, "fee");
		out.replayed = true;
		break;
	}
	exponent = w.exponent;
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
