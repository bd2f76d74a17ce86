/*
 * limits.h
 *	  The rules of limits (CONTRACT.md section 20), pure (limits.c): which
 *	  rules apply to an operation, what a wallet used of each in its period,
 *	  the verdict on a debit (ok, refuse, step-up) and the usage counters
 *	  kept in the wallet row, added to and given back. src/ops/limits.c
 *	  calls these and nothing else computes them.
 */
#ifndef WALLET_ENGINE_LIMITS_H
#define WALLET_ENGINE_LIMITS_H

#include "wallet.h"

/* The operation classes usage is counted for; LIMIT_DEBIT is a rule's sum of the first four. */
typedef enum LimitOp
{
	LIMIT_SPEND,				/* spends, split payments and holds */
	LIMIT_TRANSFER,
	LIMIT_WITHDRAW,
	LIMIT_EXCHANGE,
	LIMIT_CARD_PAYOUT,
	LIMIT_DEBIT					/* a rule's operation only: spend + transfer + withdraw + exchange */
} LimitOp;

#define LIMIT_NOPS 5			/* the counted classes: LIMIT_SPEND .. LIMIT_CARD_PAYOUT */

typedef enum LimitPeriod
{
	LIMIT_PER_OPERATION,		/* each call alone */
	LIMIT_PER_DAY,
	LIMIT_PER_MONTH
} LimitPeriod;

/* One row of wallet.limit_rule, money in minor units. */
typedef struct LimitRule
{
	int64		rule_id;
	int64		wallet_id;		/* 0: every wallet of the currency */
	LimitOp		op;
	LimitPeriod period;
	bool		has_amount;
	int64		max_amount;
	bool		has_count;
	int32		max_count;
	bool		step_up;		/* action step_up (else refuse) */
} LimitRule;

/*
 * A wallet's usage: per counted class, the amount and the count of the day
 * and of the month (index 0 the day, 1 the month) named by day and month,
 * local to the currency's limit_time_zone. Counters of another day or month
 * are over: engine_limit_roll starts them again at zero.
 */
typedef struct LimitUsage
{
	int32		day;			/* days since 2000-01-01, local */
	int32		month;			/* year * 12 + month - 1, local */
	int64		amount[LIMIT_NOPS][2];
	int64		count[LIMIT_NOPS][2];
} LimitUsage;

typedef enum LimitVerdict
{
	LIMIT_OK,
	LIMIT_REFUSE,				/* WL007 */
	LIMIT_STEP_UP				/* WL009 unless a grant allows it */
} LimitVerdict;

/* The rule a debit breaks, and where the wallet stands with it. */
typedef struct LimitHit
{
	const LimitRule *rule;
	int64		used_amount;
	int64		used_count;
	int64		remaining_amount;	/* -1: the rule has no amount */
	int64		remaining_count;	/* -1: the rule has no count */
} LimitHit;

extern bool engine_limit_applies(const LimitRule *r, LimitOp op);
extern void engine_limit_roll(LimitUsage *u, int32 day, int32 month);
extern void engine_limit_used(const LimitUsage *u, const LimitRule *r, int64 *amount, int64 *count);
extern void engine_limit_standing(const LimitUsage *u, const LimitRule *r, LimitHit *hit);
extern LimitVerdict engine_limit_check(const LimitRule *rules, int n, const LimitUsage *u, LimitOp op, int64 amt,
									   LimitHit *hit);
extern void engine_limit_add(LimitUsage *u, LimitOp op, int64 amt);
extern void engine_limit_give_back(LimitUsage *u, LimitOp op, int64 amt, int32 count, int32 day, int32 month);
extern const char *limit_op_name(LimitOp op);
extern const char *limit_period_name(LimitPeriod p);

#endif							/* WALLET_ENGINE_LIMITS_H */
