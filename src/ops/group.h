/*
 * group.h
 *	  Private to the group payment operations (src/ops/group_*.c): a group
 *	  read and locked (group_common.c), its row changed, its participants'
 *	  wallets locked in wallet-id order.
 */
#ifndef WALLET_OPS_GROUP_H
#define WALLET_OPS_GROUP_H

#include "ops/holds.h"

/* a share's hold on another shard than the group's outlives the group by this much (group_share.c) */
#define GROUP_REMOTE_GRACE (USECS_PER_DAY)

/* group_common.c */
extern void group_lock(int64 group_id, GroupRow *g);
extern int	group_lock_members(int64 group_id, int64 wallet_id, GroupRow *g, GroupMember **m, int *me,
							   int *joined);
extern bool group_lapsed(const GroupRow *g, TimestampTz clk);
extern void refuse_unless_group_open(const GroupRow *g, TimestampTz clk, const char *what);
extern void group_change(const GroupRow *g, const char *status, int64 paid_txn);
extern void group_member_joined(int64 group_id, int64 wallet_id, int64 hold_id, TimestampTz clk);
extern bool group_member_remote(const GroupMember *m);
extern void group_capture_all(const GroupRow *g, const GroupMember *m, int n, WalletRow *rows, TimestampTz clk,
							  int64 paid_txn);
extern void group_release_joined(const GroupRow *g, const GroupMember *joined, int nj, WalletRow *rows,
								 TimestampTz clk, Jsonb *req, bool remote, int64 txn_id);
extern void lock_wallets(const GroupMember *m, int n, int64 also, WalletRow *rows);

#endif							/* WALLET_OPS_GROUP_H */
