/*
 * group_join.c
 *	  wallet.join_group_pay: a participant agrees to a group payment by
 *	  placing a hold of its share (hold_make; WL001 if it cannot), until the
 *	  group's expiry, for the group's payee. The last participant's join
 *	  captures every share to the payee in its own transaction (a capture of
 *	  each hold, journaled on each participant's wallet without a key), so the
 *	  order is paid all at once or not at all. The group's row is locked
 *	  first: two last joins queue on it, and the second finds the group paid.
 *	  A participant of another shard joins there (group_share.c) and its
 *	  join is recorded here by message (group_join_in.c); its hold is
 *	  captured by message too (group_capture_all).
 */
#include "ops/group.h"

PG_FUNCTION_INFO_V1(wallet_join_group_pay);

/* The outcome of a join, kept across SPI_finish. */
typedef struct JoinOut
{
	int64		hold_id;
	const char *status;
	int32		joined;
	int32		participants;
	bool		replayed;
} JoinOut;

/*
 * wallet.join_group_pay(group_id, wallet_id, idempotency_key) returns
 * (hold_id, status, joined, participants, replayed): status is paid when
 * this join was the last.
 */
static Datum
join_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	int64		group_id = op_int8_arg(fcinfo, 0, "group_id");
	int64		wallet_id = op_int8_arg(fcinfo, 1, "wallet_id");
	GroupRow	g;
	GroupMember *m;
	int			n;
	int			me;
	int			joined;
	WalletRow  *rows;
	Jsonb	   *req;
	Jsonb	   *prior;
	JB			jb;
	JoinOut		out;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	memset(&out, 0, sizeof(out));
	op_start();
	n = group_lock_members(group_id, wallet_id, &g, &m, &me, &joined);
	if (me < 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld is not a participant of group payment %lld", (long long) wallet_id,
						(long long) group_id)));
	rows = palloc0(sizeof(WalletRow) * (n + 1));
	/* the last join pays: it locks every participant's wallet, in wallet-id order */
	if (m[me].hold_id == 0 && joined == n - 1)
		lock_wallets(m, n, 0, rows);
	else
		read_wallet(wallet_id, true, false, &rows[me]);
	jb_begin(&jb);
	jb_int(&jb, "group_id", group_id);
	req = jb_end(&jb);
	prior = find_replay(&rows[me], key, "join_group_pay", req);
	out.participants = n;
	if (prior != NULL)
	{
		out.hold_id = jsonb_int(prior, "hold_id");
		out.joined = (int32) jsonb_int(prior, "joined");
		out.status = jsonb_bool_or_false(prior, "paid") ? "paid" : "open";
		out.replayed = true;
	}
	else
	{
		HoldSpec	s;
		HoldMade	made;

		refuse_unless_group_open(&g, clk, "joined");
		if (m[me].hold_id > 0)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("wallet %lld has joined group payment %lld already", (long long) wallet_id,
							(long long) group_id),
					 errdetail("Its hold is %lld.", (long long) m[me].hold_id)));
		memset(&s, 0, sizeof(s));
		s.amount = m[me].share;
		s.expires = g.expires_at;
		s.has_payee = true;
		s.payee = g.payee;
		s.order_ref = g.order_ref;
		s.group_id = group_id;
		s.group_joined = joined + 1;
		s.group_paid = joined + 1 == n;
		hold_make(&rows[me], &s, clk, "join_group_pay", key, req, &made);
		group_member_joined(group_id, wallet_id, made.hold_id, clk);
		m[me].hold_id = made.hold_id;
		out.hold_id = made.hold_id;
		out.joined = joined + 1;
		out.status = "open";
		if (out.joined == n)
		{
			/* the last share: every hold captured to the payee, now (by message on another shard) */
			group_capture_all(&g, m, n, rows, clk, made.txn_id);
			out.status = "paid";
		}
	}
	op_leave(caller);
	values[0] = Int64GetDatum(out.hold_id);
	values[1] = CStringGetTextDatum(out.status);
	values[2] = Int32GetDatum(out.joined);
	values[3] = Int32GetDatum(out.participants);
	values[4] = BoolGetDatum(out.replayed);
	{
		static const Oid types[5] = {INT8OID, TEXTOID, INT4OID, INT4OID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_join_group_pay(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(join_body, fcinfo);
}
