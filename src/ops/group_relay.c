/*
 * group_relay.c
 *	  wallet.group_relay: on a participant's shard, what the group's shard
 *	  decided about the participant's share (CONTRACT.md section 23), applied
 *	  exactly once: the message id is the idempotency key ('relay:<message_id>',
 *	  on the participant's wallet).
 *	  - group_capture: the group is paid; the hold is captured whole to the
 *	    payee (hold_capture_locked: a capture like any other, whose payee's
 *	    credit goes back to the payee's shard as a payee message). The hold
 *	    outlives the group (group_share.c), so a capture sent before the
 *	    group's end finds it open; a frozen wallet's capture waits (WL002).
 *	  - group_release: the group is cancelled or expired, or refused the
 *	    join; the hold is released if it is still open, and a hold already
 *	    ended is journaled as a release of nothing.
 */
#include "ops/group.h"

PG_FUNCTION_INFO_V1(wallet_group_relay);

/*
 * wallet.group_relay(message_id, kind, wallet_id, hold_id, group_id, amount,
 * currency, from_txn) returns (txn_id, replayed).
 */
static Datum
group_relay_body(PG_FUNCTION_ARGS)
{
	int64		message_id = op_int8_arg(fcinfo, 0, "message_id");
	char	   *kind = check_text(fcinfo, 1, "kind", 32, true);
	int64		wallet_id = op_int8_arg(fcinfo, 2, "wallet_id");
	int64		hold_id = op_int8_arg(fcinfo, 3, "hold_id");
	int64		group_id = op_int8_arg(fcinfo, 4, "group_id");
	char	   *currency = check_text(fcinfo, 6, "currency", 3, true);
	int64		from_txn = op_int8_arg(fcinfo, 7, "from_txn");
	char	   *key = psprintf("relay:%lld", (long long) message_id);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	bool		capture = strcmp(kind, "group_capture") == 0;
	WalletRow	w;
	HoldRow		h;
	int64		amt;
	int64		txn_id;
	bool		replayed = false;
	JB			jb;
	Jsonb	   *req;
	Jsonb	   *prior;
	const char *jkind = capture ? "capture_hold" : "release_hold";

	if (!capture && strcmp(kind, "group_release") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kind must be group_capture or group_release"),
				 errdetail("Got \"%s\".", kind)));
	op_start();
	if (shard_local(group_id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group payment %lld lives on this shard", (long long) group_id),
				 errdetail("Its holds here are captured and released with it, not by message.")));
	hold_lock(hold_id, &w, &h);
	if (h.wallet_id != wallet_id || h.group_id != group_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hold %lld is not the share of wallet %lld in group payment %lld", (long long) hold_id,
						(long long) wallet_id, (long long) group_id)));
	refuse_message_currency(&w, currency, message_id);
	amt = op_amount(fcinfo, 5, &w);
	if (amt != h.amount)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message %lld moves another amount than hold %lld reserved", (long long) message_id,
						(long long) hold_id)));
	jb_begin(&jb);
	jb_int(&jb, "message_id", message_id);
	jb_text(&jb, "kind", kind);
	jb_int(&jb, "group_id", group_id);
	jb_int(&jb, "hold_id", hold_id);
	jb_int(&jb, "amount", amt);
	jb_int(&jb, "from_txn", from_txn);
	req = jb_end(&jb);
	prior = find_replay(&w, key, jkind, req);
	if (prior != NULL)
	{
		txn_id = jsonb_int(prior, "txn_id");
		replayed = true;
	}
	else if (capture)
	{
		CaptureDone done;

		hold_capture_locked(&w, &h, -1, true, clk, key, req, &done);
		txn_id = done.txn_id;
	}
	else if (strcmp(h.status, "open") == 0 && !hold_lapsed(&h, clk))
	{
		ReleaseDone done;

		hold_release_locked(&w, &h, -1, clk, key, req, &done);
		txn_id = done.txn_id;
	}
	else
	{
		/* ended already (it expired): nothing to give back, the message is applied all the same */
		Postings	legs;

		txn_id = nextval_internal(plans.txn_seq, false);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		jb_int(&jb, "released", 0);
		jb_text(&jb, "hold_status", hold_lapsed(&h, clk) ? "expired" : h.status);
		postings_init(&legs);
		insert_txn(txn_id, &w, "release_hold", 0, clk, key, h.hold_txn, req, jb_end(&jb),
				   legs_of(&legs, "release_hold"), NULL);
	}
	op_leave(caller);
	PG_RETURN_DATUM(op_txn_row(fcinfo, txn_id, replayed));
}

Datum
wallet_group_relay(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(group_relay_body, fcinfo);
}
