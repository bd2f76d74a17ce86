/*
 * holds.h
 *	  Private to the hold operations (src/ops/hold*.c): a hold read with its
 *	  wallet locked first, its row changed, the holds past their expiry given
 *	  back (hold_expiry.c), and a hold's amounts as the API shows them.
 */
#ifndef WALLET_OPS_HOLDS_H
#define WALLET_OPS_HOLDS_H

#include "ops/ops.h"

/* The shortest and longest life of a hold (CONTRACT.md section 14). */
#define HOLD_TTL_MIN USECS_PER_MINUTE
extern const Interval hold_ttl_max;

/* hold_expiry.c */
extern Interval *hold_ttl(FunctionCallInfo fcinfo, int argno);
extern char *ttl_text(const Interval *ttl);
extern void hold_lock(int64 hold_id, WalletRow *w, HoldRow *h);
extern bool hold_lapsed(const HoldRow *h, TimestampTz clk);
extern void refuse_unless_open(const HoldRow *h, TimestampTz clk, const char *what);
extern void hold_change(const HoldRow *h, const char *status, int64 captured, int64 released,
						TimestampTz expires_at);
extern const char *hold_status_after(int64 captured, int64 remaining);

#endif							/* WALLET_OPS_HOLDS_H */
