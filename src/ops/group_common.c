/*
 * group_common.c
 *	  What the group payment operations share: the group's row read and
 *	  locked (every operation on a group locks it first, then wallets in
 *	  wallet-id order), its state checked and changed, a participant's join
 *	  recorded, and its holds captured or released together: on this shard
 *	  at once, on another shard (a participant of another shard than the
 *	  payee's, CONTRACT.md section 23) by an outbox message the relay applies
 *	  there (group_relay.c).
 */
#include "ops/group.h"

static OpPlan change_row = OP_PLAN(
	"UPDATE wallet.group_pay SET status = $2, paid_txn = $3 WHERE ctid = $1",
	3, TIDOID, TEXTOID, INT8OID);
static OpPlan joined_row = OP_PLAN(
	"UPDATE wallet.group_pay_member SET hold_id = $3, joined_at = $4 WHERE group_id = $1 AND wallet_id = $2",
	4, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID);

/* group_lock reads and locks group payment group_id, or raises WL006. */
void
group_lock(int64 group_id, GroupRow *g)
{
	if (!read_group(group_id, g))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("group payment %lld does not exist", (long long) group_id)));
}

/*
 * group_lock_members locks group payment group_id (group_lock) and reads its
 * members into *m, returning how many there are, with the place of wallet_id
 * among them in *me (-1: not a member) and how many have joined in *joined.
 */
int
group_lock_members(int64 group_id, int64 wallet_id, GroupRow *g, GroupMember **m, int *me, int *joined)
{
	int			n;

	group_lock(group_id, g);
	n = group_members(group_id, m);
	*me = -1;
	*joined = 0;
	for (int i = 0; i < n; i++)
	{
		if ((*m)[i].wallet_id == wallet_id)
			*me = i;
		if ((*m)[i].hold_id > 0)
			(*joined)++;
	}
	return n;
}

/* group_lapsed tells whether an open group's time has passed at clk. */
bool
group_lapsed(const GroupRow *g, TimestampTz clk)
{
	return strcmp(g->status, "open") == 0 && g->expires_at <= clk;
}

/* refuse_unless_group_open refuses (WL008) a group that is not open or has expired. */
void
refuse_unless_group_open(const GroupRow *g, TimestampTz clk, const char *what)
{
	if (strcmp(g->status, "open") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("group payment %lld is %s", (long long) g->group_id, g->status),
				 errdetail("Only an open group payment can be %s.", what)));
	if (group_lapsed(g, clk))
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("group payment %lld has expired", (long long) g->group_id),
				 errdetail("It cannot be %s.", what)));
}

/* group_change sets a group's status (and, paid, the transaction that paid it). */
void
group_change(const GroupRow *g, const char *status, int64 paid_txn)
{
	Datum		args[3] = {PointerGetDatum(&g->tid), CStringGetTextDatum(status), Int64GetDatum(paid_txn)};
	char		nulls[3] = {' ', ' ', paid_txn > 0 ? ' ' : 'n'};

	pin_key_lookups();
	if (run_plan(op_plan(&change_row), args, nulls, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not change group payment %lld", (long long) g->group_id);
}

/* group_member_joined records a participant's hold. */
void
group_member_joined(int64 group_id, int64 wallet_id, int64 hold_id, TimestampTz clk)
{
	Datum		args[4] = {Int64GetDatum(group_id), Int64GetDatum(wallet_id), Int64GetDatum(hold_id),
	TimestampTzGetDatum(clk)};

	pin_key_lookups();
	if (run_plan(op_plan(&joined_row), args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not record the join of wallet %lld", (long long) wallet_id);
}

/* group_member_remote tells whether participant m's wallet lives on another shard. */
bool
group_member_remote(const GroupMember *m)
{
	return !shard_local(m->wallet_id);
}

/*
 * group_capture_all pays group g: each of its n participants' holds m
 * (wallets of this shard locked in rows) captured to the payee at clk (a
 * capture journaled on each participant's wallet without a key), a
 * participant of another shard's by a group_capture message sent by
 * transaction paid_txn of the payee; the group marked paid by paid_txn.
 */
void
group_capture_all(const GroupRow *g, const GroupMember *m, int n, WalletRow *rows, TimestampTz clk,
				  int64 paid_txn)
{
	Jsonb	   *creq;
	JB			jb;

	jb_begin(&jb);
	jb_int(&jb, "group_id", g->group_id);
	creq = jb_end(&jb);
	for (int i = 0; i < n; i++)
	{
		HoldRow		h;
		CaptureDone done;

		if (group_member_remote(&m[i]))
		{
			(void) outbox_send_group(g->payee, paid_txn, m[i].wallet_id, g->currency, m[i].share, "group_capture",
									 g->group_id, m[i].hold_id, clk);
			continue;
		}
		/* read again: a join's hold may have just written its own wallet */
		read_wallet(m[i].wallet_id, true, true, &rows[i]);
		if (!read_hold(m[i].hold_id, true, &h))
			elog(ERROR, "hold %lld of group payment %lld is missing", (long long) m[i].hold_id,
				 (long long) g->group_id);
		hold_capture_locked(&rows[i], &h, -1, true, clk, NULL, creq, &done);
	}
	group_change(g, "paid", paid_txn);
}

/*
 * group_release_joined gives back the holds of the nj participants that
 * joined group g (joined): without remote, those of this shard (wallets
 * locked in rows) at clk, journaled on each wallet without a key (request
 * req); with remote, those of another shard, each by a group_release
 * message sent by transaction txn_id of the payee.
 */
void
group_release_joined(const GroupRow *g, const GroupMember *joined, int nj, WalletRow *rows, TimestampTz clk,
					 Jsonb *req, bool remote, int64 txn_id)
{
	for (int i = 0; i < nj; i++)
	{
		HoldRow		h;
		ReleaseDone done;

		if (group_member_remote(&joined[i]) != remote)
			continue;
		if (remote)
		{
			(void) outbox_send_group(g->payee, txn_id, joined[i].wallet_id, g->currency, joined[i].share,
									 "group_release", g->group_id, joined[i].hold_id, clk);
			continue;
		}
		read_wallet(joined[i].wallet_id, true, false, &rows[i]);
		if (!read_hold(joined[i].hold_id, true, &h))
			elog(ERROR, "hold %lld of group payment %lld is missing", (long long) joined[i].hold_id,
				 (long long) g->group_id);
		hold_release_locked(&rows[i], &h, -1, clk, NULL, req, &done);
	}
}

/*
 * lock_wallets locks the wallets of the n participants m (in wallet-id
 * order) and, merged into that order, wallet `also` (0: none), reading each
 * into rows (n + 1 entries; rows[n] is `also`'s). A participant of another
 * shard is not locked here (its hold is moved there, by message): its entry
 * stays zeroed.
 */
void
lock_wallets(const GroupMember *m, int n, int64 also, WalletRow *rows)
{
	bool		also_done = also == 0;

	for (int i = 0; i <= n; i++)
	{
		if (!also_done && (i == n || also < m[i].wallet_id))
		{
			read_wallet(also, true, false, &rows[n]);
			also_done = true;
		}
		if (i < n && m[i].wallet_id == also)
		{
			read_wallet(also, true, false, &rows[n]);
			rows[i] = rows[n];
			also_done = true;
			continue;
		}
		if (i < n && !group_member_remote(&m[i]))
			read_wallet(m[i].wallet_id, true, false, &rows[i]);
	}
}
