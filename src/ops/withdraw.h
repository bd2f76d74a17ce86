/*
 * withdraw.h
 *	  Private to the withdrawal operations (src/ops/withdraw_*.c): a wallet
 *	  made ready for a withdrawal, a request's quote and refusal, the request
 *	  itself, which auto_withdraw makes too (withdraw_common.c); a withdrawal
 *	  locked with its wallet and the end of its hold (withdraw_move.c).
 */
#ifndef WALLET_OPS_WITHDRAW_H
#define WALLET_OPS_WITHDRAW_H

#include "ops/ops.h"

/* What a request records besides its amount. */
typedef struct WithdrawSpec
{
	const char *destination;
	const char *method;			/* NULL: none */
	const char *note;			/* NULL: none */
	bool		automatic;		/* made by auto_withdraw */
	const char *step_up;		/* a step-up grant's token (section 20); NULL: none */
} WithdrawSpec;

/* A request made (or replayed), amounts in minor units. */
typedef struct WithdrawMade
{
	int64		withdrawal_id;
	int64		amount;
	int64		fee;
	int64		net;
	const char *status;			/* pending or approved */
	int64		txn_id;			/* its journal row (a request made now) */
} WithdrawMade;

/* withdraw_common.c */
extern int64 withdraw_prepare(WalletRow *w, LotBuilder *b, TimestampTz clk, int64 need);
extern void withdraw_quote_now(WalletRow *w, int64 amount, int64 withdrawable, TimestampTz clk,
							   bool read_only, WithdrawQuote *q);
extern void withdraw_refuse(const WalletRow *w, const WithdrawQuote *q);
extern bool withdraw_needs_prepare(const WalletRow *w, const LotBuilder *b, TimestampTz clk, int64 need);
extern bool withdraw_make(WalletRow *w, LotBuilder *b, const WithdrawQuote *q, const WithdrawSpec *s,
						  const char *kind, const char *key, Jsonb *req, TimestampTz clk, WithdrawMade *out);
extern void withdraw_made_of(Jsonb *prior, WithdrawMade *out);

/* What a review, a settlement or a return sets in the withdrawal's row with its new status. */
typedef enum WithdrawStep
{
	STEP_REVIEW,
	STEP_SETTLE,
	STEP_RETURN
} WithdrawStep;

typedef struct WithdrawChange
{
	const char *status;
	WithdrawStep step;
	const char *reviewer;		/* review */
	const char *note;			/* review */
	const char *gateway_ref;	/* settle, return */
	const char *reason;			/* return */
} WithdrawChange;

/* withdraw_move.c */
extern void withdrawal_lock(int64 withdrawal_id, WalletRow *w, WithdrawalRow *r);
extern void withdrawal_move(WalletRow *w, const WithdrawalRow *r, const char *kind, const WithdrawChange *c,
							Jsonb *request, TimestampTz clk);
extern void withdrawal_refuse_step(const WithdrawalRow *r, const char *detail) pg_attribute_noreturn();

#endif							/* WALLET_OPS_WITHDRAW_H */
