/*
 * group_cancel.c
 *	  wallet.cancel_group_pay: a participant declines a group payment, or the
 *	  payee calls it off (with its own wallet id): every share already
 *	  reserved is released (journaled on each participant's wallet without a
 *	  key) and the group is cancelled. Journaled on the caller's wallet (its
 *	  key) without postings. A share held on another shard is released
 *	  there by message; a participant of another shard that cancels is
 *	  journaled on the payee's wallet, its key prefixed with its wallet id
 *	  ("<wallet_id>:<key>"), since its own wallet is not here.
 */
#include "ops/group.h"

PG_FUNCTION_INFO_V1(wallet_cancel_group_pay);

/*
 * wallet.cancel_group_pay(group_id, wallet_id, idempotency_key) returns
 * (status, replayed).
 */
static Datum
cancel_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	int64		group_id = op_int8_arg(fcinfo, 0, "group_id");
	int64		wallet_id = op_int8_arg(fcinfo, 1, "wallet_id");
	GroupRow	g;
	GroupMember *m;
	GroupMember *joined;
	int			n;
	int			nj = 0;
	bool		member = false;
	WalletRow  *rows;
	int64		journal_on;
	const char *jkey = key;
	Jsonb	   *req;
	Jsonb	   *prior;
	JB			jb;
	bool		replayed = false;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	op_start();
	group_lock(group_id, &g);
	n = group_members(group_id, &m);
	joined = palloc(sizeof(GroupMember) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (m[i].wallet_id == wallet_id)
			member = true;
		if (m[i].hold_id > 0)
			joined[nj++] = m[i];
	}
	if (!member && wallet_id != g.payee)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld is neither a participant nor the payee of group payment %lld",
						(long long) wallet_id, (long long) group_id)));
	/* a participant of another shard: its cancel is journaled on the payee's wallet */
	journal_on = wallet_id;
	if (!shard_local(wallet_id))
	{
		journal_on = g.payee;
		jkey = psprintf("%lld:%s", (long long) wallet_id, key);
	}
	/* the shares' wallets (of this shard) and the caller's, in wallet-id order */
	rows = palloc0(sizeof(WalletRow) * (nj + 1));
	lock_wallets(joined, nj, journal_on, rows);
	jb_begin(&jb);
	jb_int(&jb, "group_id", group_id);
	if (journal_on != wallet_id)
		jb_int(&jb, "wallet_id", wallet_id);
	req = jb_end(&jb);
	prior = find_replay(&rows[nj], jkey, "cancel_group_pay", req);
	if (prior != NULL)
		replayed = true;
	else
	{
		int64		txn_id;
		Postings	legs;

		refuse_unless_group_open(&g, clk, "cancelled");
		group_release_joined(&g, joined, nj, rows, clk, req, false, 0);
		group_change(&g, "cancelled", 0);
		txn_id = nextval_internal(plans.txn_seq, false);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		jb_text(&jb, "status", "cancelled");
		postings_init(&legs);
		insert_txn(txn_id, &rows[nj], "cancel_group_pay", 0, clk, jkey, g.create_txn, req, jb_end(&jb),
				   legs_of(&legs, "cancel_group_pay"), NULL);
		/* the shares held on other shards: released there, by message */
		group_release_joined(&g, joined, nj, rows, clk, req, true, txn_id);
	}
	op_leave(caller);
	values[0] = CStringGetTextDatum("cancelled");
	values[1] = BoolGetDatum(replayed);
	{
		static const Oid types[2] = {TEXTOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_cancel_group_pay(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(cancel_body, fcinfo);
}
