/*
 * engine.h
 *	  Private to the engine's files (src/engine/): the helpers they share. The
 *	  engine is pure: every function takes a lot set (or amounts) and returns
 *	  one; none reads or writes a table.
 */
#ifndef WALLET_ENGINE_H
#define WALLET_ENGINE_H

#include "wallet.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

/* expired tells whether a lot's expiry has passed at now. */
static inline bool
expired(const WalletLot *l, TimestampTz now)
{
	return !TIMESTAMP_NOT_FINITE(l->until) && l->until <= now;
}

/* in_window tells whether a cash lot is still refundable at now. */
static inline bool
in_window(const WalletLot *l, TimestampTz now)
{
	return l->bucket == BUCKET_CASH && !TIMESTAMP_NOT_FINITE(l->until) && l->until > now;
}

/* lots.c */
extern char *scene_arg(FunctionCallInfo fcinfo, int n);
extern int	find_lot(LotBuilder *b, int32 id);
extern int	find_topup_cash(LotBuilder *b, int64 txn, bool want_held);

/* result.c */
extern Datum result_tuple(FunctionCallInfo fcinfo, Datum *values, bool *nulls);

/* allocation.c */
extern int	spend_cmp(const void *a, const void *b, void *arg);
extern bool usable(LotBuilder *b, int i, const char *scene, TimestampTz now);
extern bool payable(LotBuilder *b, int i, const char *scene, TimestampTz now, bool earnings);
extern void copy_piece(LotBuilder *to, LotBuilder *from, int i, int64 amount);

/* reversal.c */
extern int	restore_piece(LotBuilder *b, LotBuilder *pieces, int k);

#endif							/* WALLET_ENGINE_H */
