/*
 * group_common.c
 *	  What the group payment operations share: the group's row read and
 *	  locked (every operation on a group locks it first, then wallets in
 *	  wallet-id order), its state checked and changed, a participant's join
 *	  recorded.
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

/*
 * lock_wallets locks the wallets of the n participants m (in wallet-id
 * order) and, merged into that order, wallet `also` (0: none), reading each
 * into rows (n + 1 entries; rows[n] is `also`'s).
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
		if (i < n)
			read_wallet(m[i].wallet_id, true, false, &rows[i]);
	}
}
