/*
 * refund.h
 *	  Private to the refund operations (src/ops/refund_*.c): a top-up as its
 *	  refunds see it (refund_topup.c: the reason, the netting with the top-up's
 *	  coupons, the fee rate), the change of a refund's row and the end of its
 *	  hold (refund_move.c), which a review and a settlement share.
 */
#ifndef WALLET_OPS_REFUND_H
#define WALLET_OPS_REFUND_H

#include "ops/ops.h"

/* refund_topup.c */
extern bool refund_reason(FunctionCallInfo fcinfo, int argno);
extern void refund_topup(int64 txn_id, bool read_only, TopUpRow *t);
extern int	refund_netting(const TopUpRow *t, const LotBuilder *b, TimestampTz clk, bool read_only,
						   RefundNetting *n, TopUpCoupon **coupons);
extern char *topup_refundable_until(const TopUpRow *t);
extern Numeric refund_fee_rate(const TopUpRow *t, const CurrencyConf *conf, bool platform);

/*
 * What a review or a settlement sets in a refund's row with its new status:
 * a review its reviewer, note and time, a settlement its gateway reference
 * and time.
 */
typedef struct RefundChange
{
	const char *status;
	bool		review;
	const char *reviewer;
	const char *note;
	const char *gateway_ref;
} RefundChange;

/* refund_move.c */
extern void refund_lock(int64 refund_id, WalletRow *w, RefundRow *r);
extern void refund_change(const RefundRow *r, const RefundChange *change, TimestampTz clk);
extern void refund_move(WalletRow *w, const RefundRow *r, const char *kind, const RefundChange *change,
						bool release, Jsonb *request, TimestampTz clk);
extern Datum refund_status_result(const char *status);

#endif							/* WALLET_OPS_REFUND_H */
