/*
 * group_expire.c
 *	  wallet.expire_group_pays: group payments whose time has passed unpaid,
 *	  written down on a shard of several (CONTRACT.md section 23). A share
 *	  held on the group's own shard reserves nothing once the group's time
 *	  has passed (its hold expires with the group, and the holds sweep writes
 *	  it down); a share held on another shard outlives the group by
 *	  GROUP_REMOTE_GRACE, so that a capture sent just before the end still
 *	  finds it. This sweep marks each such group expired and sends each of
 *	  those holds a group_release message, journaled on the payee (no key, no
 *	  postings) as cancel_group_pay is. A lone database has nothing to do.
 *	  Groups locked by others are taken by the next run. wallet.expire_holds
 *	  (its pg_cron job) runs it too.
 */
#include "ops/group.h"

PG_FUNCTION_INFO_V1(wallet_expire_group_pays);

/* the open groups past their time, soonest first, batch_size at most */
static OpPlan due = OP_PLAN(
	"SELECT group_id FROM wallet.group_pay WHERE status = 'open' AND expires_at <= $1 "
	"ORDER BY expires_at, group_id LIMIT $2",
	2, TIMESTAMPTZOID, INT4OID);

static OpPlan try_lock = OP_PLAN(
	"SELECT 1 FROM wallet.group_pay WHERE group_id = $1 FOR UPDATE SKIP LOCKED",
	1, INT8OID);

/*
 * group_expire writes lapsed group g down: expired, a journal row on its
 * payee (locked here), and a group_release message for each share held on
 * another shard. The shares held here are left to the holds sweep.
 */
static void
group_expire(GroupRow *g, TimestampTz clk)
{
	GroupMember *m;
	GroupMember *remote;
	int			n = group_members(g->group_id, &m);
	int			nr = 0;
	WalletRow	payee;
	int64		txn_id;
	Postings	legs;
	JB			jb;
	Jsonb	   *req;

	remote = palloc(sizeof(GroupMember) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (m[i].hold_id > 0 && group_member_remote(&m[i]))
			remote[nr++] = m[i];
	group_change(g, "expired", 0);
	read_wallet(g->payee, true, false, &payee);
	jb_begin(&jb);
	jb_int(&jb, "group_id", g->group_id);
	req = jb_end(&jb);
	txn_id = nextval_internal(plans.txn_seq, false);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", txn_id);
	jb_text(&jb, "status", "expired");
	jb_int(&jb, "released_remote", nr);
	postings_init(&legs);
	insert_txn_keyless(txn_id, &payee, "expire_group_pay", 0, clk, g->create_txn, req, jb_end(&jb),
					   legs_of(&legs, "expire_group_pay"), NULL);
	group_release_joined(g, remote, nr, NULL, clk, req, true, txn_id);
}

/*
 * groups_expire_due writes down (group_expire) up to batch of the group
 * payments whose time has passed at clk; returns how many. Inside an
 * operation (op_start).
 */
int
groups_expire_due(TimestampTz clk, int batch)
{
	int			n = 0;
	int64	   *groups;
	uint64		ng;

	/* a lone database: every share is held here, and expires with its group */
	if (shard_total() > 1)
	{
		groups = sweep_due(&due, clk, batch, "group payments", &ng);
		for (uint64 i = 0; i < ng; i++)
		{
			GroupRow	g;

			if (!sweep_lock(&try_lock, groups[i]))
				continue;		/* locked by another: the next run takes it */
			group_lock(groups[i], &g);
			if (!group_lapsed(&g, clk))
				continue;		/* paid or cancelled meanwhile */
			group_expire(&g, clk);
			n++;
		}
	}
	return n;
}

/* wallet.expire_group_pays(batch_size int) returns (groups int): how many it wrote down. */
static Datum
expire_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	int32		batch;
	int			n;

	batch = op_count_arg(fcinfo, 0, "batch_size", PG_INT32_MAX);
	op_start();
	n = groups_expire_due(wallet_clock(), batch);
	op_leave(caller);
	PG_RETURN_INT32(n);
}

Datum
wallet_expire_group_pays(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(expire_body, fcinfo);
}
