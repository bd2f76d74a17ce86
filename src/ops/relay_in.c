/*
 * relay_in.c
 *	  wallet.relay_in: money from a wallet of another shard (an outbox message
 *	  there, CONTRACT.md section 23) credited to a wallet's earnings here, on
 *	  the shared pipeline, exactly once: the message id is the idempotency key
 *	  ('relay:<message_id>'), so the relay may deliver a message again after a
 *	  crash and a replay changes nothing. A debt is repaid first, as by every
 *	  credit. The amount comes out of shard_transit, where the sender's shard
 *	  put it.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_relay_in);

/*
 * wallet.relay_in(message_id, to_wallet, amount, currency, kind, from_wallet,
 * from_txn) returns (txn_id, replayed). Refuses an unknown wallet (WL006) and
 * a wallet of another currency (22023): the relay then sends the amount back.
 */
static Datum
relay_in_body(PG_FUNCTION_ARGS)
{
	int64		message_id = op_int8_arg(fcinfo, 0, "message_id");
	int64		to = op_int8_arg(fcinfo, 1, "to_wallet");
	char	   *currency = check_text(fcinfo, 3, "currency", 3, true);
	char	   *kind = check_text(fcinfo, 4, "kind", 32, true);
	int64		from = op_int8_arg(fcinfo, 5, "from_wallet");
	int64		from_txn = op_int8_arg(fcinfo, 6, "from_txn");
	char	   *key = psprintf("relay:%lld", (long long) message_id);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	WalletRow	w;
	int64		amt;
	int64		txn_id;
	bool		replayed = false;
	JB			jb;
	Jsonb	   *req;
	Jsonb	   *prior;

	op_start();
	read_wallet(to, true, true, &w);
	refuse_message_currency(&w, currency, message_id);
	amt = op_amount(fcinfo, 2, &w);
	jb_begin(&jb);
	jb_int(&jb, "message_id", message_id);
	jb_int(&jb, "amount", amt);
	jb_text(&jb, "kind", kind);
	jb_int(&jb, "from_wallet", from);
	jb_int(&jb, "from_txn", from_txn);
	req = jb_end(&jb);
	prior = find_replay(&w, key, "relay_in", req);
	if (prior != NULL)
	{
		txn_id = jsonb_int(prior, "txn_id");
		replayed = true;
	}
	else
	{
		LotBuilder *b = lotset_unpack(w.lots);
		Postings	legs;

		txn_id = nextval_internal(plans.txn_seq, false);
		holds_give_back_due(&w, b, clk);
		credit_earnings(w.id, b, amt, txn_id, clk);		/* a debt is repaid first */
		/* a debt repaid wrote the row (its debt): the write takes its new version */
		refresh_wallet_tuple(&w);
		postings_init(&legs);
		post_relay_in(&legs, w.id, amt);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		if (!write_op(&w, b, txn_id, "relay_in", amt, clk, key, NO_REF_TXN, req, jb_end(&jb),
					  legs_of(&legs, "relay_in"), NULL))
			elog(ERROR, "wallet %lld changed under its lock", (long long) w.id);
	}
	op_leave(caller);
	PG_RETURN_DATUM(op_txn_row(fcinfo, txn_id, replayed));
}

Datum
wallet_relay_in(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(relay_in_body, fcinfo);
}
