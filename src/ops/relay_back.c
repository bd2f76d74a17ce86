/*
 * relay_back.c
 *	  wallet.relay_back: a payee's part of a reversal made on another shard
 *	  (a payee_back message of that shard's outbox, CONTRACT.md section 23)
 *	  taken back here, exactly once: the message id is the idempotency key
 *	  ('relay:<message_id>'). As in a reversal on one shard, it never fails
 *	  for the payee's sake: what its earnings cannot give becomes its debt
 *	  (take_back). The amount goes into shard_transit, towards the payer's
 *	  shard, whose reversal took it out.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_relay_back);

/*
 * wallet.relay_back(message_id, payee, amount, currency, from_wallet,
 * from_txn) returns (txn_id, replayed).
 */
static Datum
relay_back_body(PG_FUNCTION_ARGS)
{
	int64		message_id = op_int8_arg(fcinfo, 0, "message_id");
	int64		payee = op_int8_arg(fcinfo, 1, "payee");
	char	   *currency = check_text(fcinfo, 3, "currency", 3, true);
	int64		from = op_int8_arg(fcinfo, 4, "from_wallet");
	int64		from_txn = op_int8_arg(fcinfo, 5, "from_txn");
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
	read_wallet(payee, true, true, &w);
	refuse_message_currency(&w, currency, message_id);
	amt = op_amount(fcinfo, 2, &w);
	jb_begin(&jb);
	jb_int(&jb, "message_id", message_id);
	jb_int(&jb, "amount", amt);
	jb_text(&jb, "kind", "payee_back");
	jb_int(&jb, "from_wallet", from);
	jb_int(&jb, "from_txn", from_txn);
	req = jb_end(&jb);
	prior = find_replay(&w, key, "relay_back", req);
	if (prior != NULL)
	{
		txn_id = jsonb_int(prior, "txn_id");
		replayed = true;
	}
	else
	{
		Postings	legs;
		int64		taken;

		txn_id = nextval_internal(plans.txn_seq, false);
		taken = take_back(&w, BUCKET_EARNINGS, amt, txn_id, clk);	/* the rest is its debt */
		postings_init(&legs);
		post_relay_back(&legs, w.id, amt, taken);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		jb_int(&jb, "taken", taken);
		jb_int(&jb, "debt", amt - taken);
		insert_txn(txn_id, &w, "relay_back", amt, clk, key, NO_REF_TXN, req, jb_end(&jb),
				   legs_of(&legs, "relay_back"), NULL);
	}
	op_leave(caller);
	PG_RETURN_DATUM(op_txn_row(fcinfo, txn_id, replayed));
}

Datum
wallet_relay_back(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(relay_back_body, fcinfo);
}
