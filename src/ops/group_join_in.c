/*
 * group_join_in.c
 *	  wallet.group_join_in: on the group's shard, the join of a participant
 *	  whose hold was placed on its own shard (a group_join message there,
 *	  group_share.c; CONTRACT.md section 23), applied exactly once: the
 *	  message id is the idempotency key ('relay:<message_id>', on the payee's
 *	  wallet). The router calls it right after the hold, and the relay again
 *	  if that call did not land: the second finds the first's result.
 *	  An open group records the hold as the participant's share; the last
 *	  share pays the group at once (group_capture_all: holds here captured,
 *	  holds on other shards by message). A group no longer open (paid,
 *	  cancelled, expired), a participant that has joined already or a hold
 *	  that is not its share refuses the join: the hold is released on its
 *	  shard by a group_release message, and the refusal is the result (the
 *	  router raises it as WL008). Journaled on the payee's wallet without
 *	  postings: no money moves here.
 */
#include "ops/group.h"

PG_FUNCTION_INFO_V1(wallet_group_join_in);

/* The outcome of a join applied, kept across SPI_finish. */
typedef struct JoinInOut
{
	int64		txn_id;
	const char *status;
	int32		joined;
	int32		participants;
	char	   *refused;		/* NULL: recorded */
	bool		replayed;
} JoinInOut;

/* text_member is member key of a journal result as a string, NULL when absent. */
static char *
text_member(Jsonb *j, const char *key)
{
	JsonbValue *v = jsonb_member(j, key);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * wallet.group_join_in(message_id, group_id, wallet_id, hold_id, amount,
 * currency, from_txn) returns (txn_id, status, joined, participants,
 * refused, replayed).
 */
static Datum
join_in_body(PG_FUNCTION_ARGS)
{
	int64		message_id = op_int8_arg(fcinfo, 0, "message_id");
	int64		group_id = op_int8_arg(fcinfo, 1, "group_id");
	int64		wallet_id = op_int8_arg(fcinfo, 2, "wallet_id");
	int64		hold_id = op_int8_arg(fcinfo, 3, "hold_id");
	char	   *currency = check_text(fcinfo, 5, "currency", 3, true);
	int64		from_txn = op_int8_arg(fcinfo, 6, "from_txn");
	char	   *key = psprintf("relay:%lld", (long long) message_id);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	GroupRow	g;
	GroupMember *m;
	int			n;
	int			me;
	int			joined;
	int64		amt;
	bool		fits;
	WalletRow  *rows;
	Jsonb	   *req;
	Jsonb	   *prior;
	JB			jb;
	JoinInOut	out;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	memset(&out, 0, sizeof(out));
	op_start();
	if (shard_local(wallet_id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet %lld lives on this shard", (long long) wallet_id),
				 errhint("It joins with wallet.join_group_pay.")));
	n = group_lock_members(group_id, wallet_id, &g, &m, &me, &joined);
	rows = palloc0(sizeof(WalletRow) * (n + 1));
	/* the payee's wallet keeps the journal row; the last share locks the participants' too */
	if (me >= 0 && m[me].hold_id == 0 && joined == n - 1 && !group_lapsed(&g, clk) &&
		strcmp(g.status, "open") == 0)
		lock_wallets(m, n, g.payee, rows);
	else
		read_wallet(g.payee, true, false, &rows[n]);
	amt = op_amount(fcinfo, 4, &rows[n]);
	jb_begin(&jb);
	jb_int(&jb, "message_id", message_id);
	jb_int(&jb, "group_id", group_id);
	jb_int(&jb, "wallet_id", wallet_id);
	jb_int(&jb, "hold_id", hold_id);
	jb_int(&jb, "amount", amt);
	jb_int(&jb, "from_txn", from_txn);
	req = jb_end(&jb);
	prior = find_replay(&rows[n], key, "group_join_in", req);
	out.participants = n;
	if (prior != NULL)
	{
		out.txn_id = jsonb_int(prior, "txn_id");
		out.joined = (int32) jsonb_int(prior, "joined");
		out.status = text_member(prior, "status");
		out.refused = text_member(prior, "refused");
		out.replayed = true;
	}
	else
	{
		Postings	legs;

		fits = me >= 0 && amt == m[me].share && strcmp(currency, g.currency) == 0;
		if (me < 0)
			out.refused = psprintf("wallet %lld is not a participant of group payment %lld", (long long) wallet_id,
								   (long long) group_id);
		else if (strcmp(g.status, "open") != 0)
			out.refused = psprintf("group payment %lld is %s", (long long) group_id, g.status);
		else if (group_lapsed(&g, clk))
			out.refused = psprintf("group payment %lld has expired", (long long) group_id);
		else if (m[me].hold_id > 0)
			out.refused = psprintf("wallet %lld has joined group payment %lld already", (long long) wallet_id,
								   (long long) group_id);
		else if (!fits)
			out.refused = psprintf("hold %lld is not the share of wallet %lld in group payment %lld",
								   (long long) hold_id, (long long) wallet_id, (long long) group_id);
		out.txn_id = nextval_internal(plans.txn_seq, false);
		out.joined = joined;
		out.status = group_lapsed(&g, clk) ? "expired" : g.status;
		if (out.refused != NULL)
			/* the hold is given back on its shard */
			(void) outbox_send_group(g.payee, out.txn_id, wallet_id, currency, amt, "group_release", group_id,
									 hold_id, clk);
		else
		{
			group_member_joined(group_id, wallet_id, hold_id, clk);
			m[me].hold_id = hold_id;
			out.joined = joined + 1;
			out.status = "open";
			if (out.joined == n)
			{
				group_capture_all(&g, m, n, rows, clk, out.txn_id);
				out.status = "paid";
			}
		}
		jb_begin(&jb);
		jb_int(&jb, "txn_id", out.txn_id);
		jb_int(&jb, "hold_id", hold_id);
		jb_int(&jb, "joined", out.joined);
		jb_text(&jb, "status", out.status);
		jb_text_if(&jb, true, "refused", out.refused);
		postings_init(&legs);
		insert_txn(out.txn_id, &rows[n], "group_join_in", amt, clk, key, g.create_txn, req, jb_end(&jb),
				   legs_of(&legs, "group_join_in"), NULL);
	}
	{
		/* the strings outlive SPI's memory */
		MemoryContext spi = MemoryContextSwitchTo(caller);

		out.status = pstrdup(out.status ? out.status : "open");
		if (out.refused != NULL)
			out.refused = pstrdup(out.refused);
		MemoryContextSwitchTo(spi);
	}
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = CStringGetTextDatum(out.status);
	values[2] = Int32GetDatum(out.joined);
	values[3] = Int32GetDatum(out.participants);
	if (out.refused != NULL)
		values[4] = CStringGetTextDatum(out.refused);
	else
		nulls[4] = true;
	values[5] = BoolGetDatum(out.replayed);
	{
		static const Oid types[6] = {INT8OID, TEXTOID, INT4OID, INT4OID, TEXTOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_group_join_in(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(join_in_body, fcinfo);
}
