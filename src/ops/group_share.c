/*
 * group_share.c
 *	  wallet.join_group_share: the join of a group payment's participant
 *	  whose wallet lives on this shard while the group lives on the payee's
 *	  (CONTRACT.md section 23). The router reads the share, the payee and the
 *	  group's expiry on the group's shard (wallet.group_share) and calls this
 *	  on the participant's: a hold of the share for the payee (hold_make;
 *	  WL001 if it cannot), journaled as join_group_pay with the participant's
 *	  key, which outlives the group by GROUP_REMOTE_GRACE so that a capture
 *	  sent before the group's end always finds it open, and in the same
 *	  transaction a group_join message to the group's shard, which records
 *	  the join there (group_join_in.c). The hold is captured or released
 *	  only by the group's messages (group_relay.c).
 */
#include "ops/group.h"

PG_FUNCTION_INFO_V1(wallet_join_group_share);

static OpPlan join_message = OP_PLAN(
	"SELECT message_id FROM wallet.outbox WHERE hold_id = $1 AND kind = 'group_join'",
	1, INT8OID);

/*
 * wallet.join_group_share(group_id, wallet_id, idempotency_key, payee,
 * currency, share, expires_at, order_ref, group_status) returns (hold_id,
 * message_id, hold_txn, replayed).
 */
static Datum
join_share_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	int64		group_id = op_int8_arg(fcinfo, 0, "group_id");
	int64		wallet_id = op_int8_arg(fcinfo, 1, "wallet_id");
	int64		payee = op_int8_arg(fcinfo, 3, "payee");
	char	   *currency = check_text(fcinfo, 4, "currency", 3, true);
	char	   *order_ref = check_text(fcinfo, 7, "order_ref", 200, false);
	char	   *status = check_text(fcinfo, 8, "group_status", 16, true);
	TimestampTz expires;
	WalletRow	w;
	Jsonb	   *req;
	Jsonb	   *prior;
	JB			jb;
	int64		hold_id;
	int64		hold_txn;
	int64		message_id;
	bool		replayed = false;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	check_not_null(fcinfo, 6, "expires_at");
	expires = PG_GETARG_TIMESTAMPTZ(6);
	op_start();
	if (shard_local(group_id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group payment %lld lives on this shard", (long long) group_id),
				 errhint("Call wallet.join_group_pay.")));
	read_wallet(wallet_id, true, false, &w);
	jb_begin(&jb);
	jb_int(&jb, "group_id", group_id);
	req = jb_end(&jb);
	prior = find_replay(&w, key, "join_group_pay", req);
	if (prior != NULL)
	{
		Datum		args[1];

		hold_id = jsonb_int(prior, "hold_id");
		hold_txn = jsonb_int(prior, "txn_id");
		args[0] = Int64GetDatum(hold_id);
		if (run_plan(op_plan(&join_message), args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "the join message of hold %lld is missing", (long long) hold_id);
		{
			bool		isnull;

			message_id = DatumGetInt64(getcol(1, &isnull));
		}
		replayed = true;
	}
	else
	{
		HoldSpec	s;
		HoldMade	made;

		if (strcmp(status, "open") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("group payment %lld is %s", (long long) group_id, status),
					 errdetail("Only an open group payment can be joined.")));
		if (expires <= clk)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("group payment %lld has expired", (long long) group_id),
					 errdetail("It cannot be joined.")));
		if (strcmp(w.currency, currency) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("every participant must hold the payee's currency"),
					 errdetail("Wallet %lld holds %s, payee %lld holds %s.", (long long) w.id, w.currency,
							   (long long) payee, currency)));
		memset(&s, 0, sizeof(s));
		s.amount = numeric_to_minor(PG_GETARG_NUMERIC(5), w.exponent, "share");
		s.expires = expires + GROUP_REMOTE_GRACE;
		s.has_payee = true;
		s.payee = payee;
		s.order_ref = order_ref;
		s.group_id = group_id;
		hold_make(&w, &s, clk, "join_group_pay", key, req, &made);
		hold_id = made.hold_id;
		hold_txn = made.txn_id;
		message_id = outbox_send_group(w.id, made.txn_id, payee, w.currency, s.amount, "group_join", group_id,
									   made.hold_id, clk);
	}
	op_leave(caller);
	values[0] = Int64GetDatum(hold_id);
	values[1] = Int64GetDatum(message_id);
	values[2] = Int64GetDatum(hold_txn);
	values[3] = BoolGetDatum(replayed);
	{
		static const Oid types[4] = {INT8OID, INT8OID, INT8OID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_join_group_share(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(join_share_body, fcinfo);
}
