/*
 * ops.h
 *	  The pipeline every operation of src/ops/ runs on (pipeline.c): argument
 *	  checks, start and end, the result row, the call wrapper. An operation's
 *	  file declares its arguments, calls the engine, names its postings and
 *	  writes through src/store/.
 */
#ifndef WALLET_OPS_H
#define WALLET_OPS_H

#include "store/store.h"

/* After this many lost version races an operation takes the row lock. */
#define OPTIMISTIC_TRIES 3

/* What one try of an operation made optimistically did (op_optimistic). */
typedef enum OpTry
{
	OP_MADE,					/* written */
	OP_NEED_LOCK,				/* nothing done: try again under the row lock */
	OP_NOT_WRITTEN				/* the key was taken or the row moved on (after_no_write tells which) */
} OpTry;

/*
 * An operation made optimistically (op_optimistic): read reads its rows,
 * under their locks or not, and sets w (the wallet whose key it is) and req
 * (the request, as the journal keeps it); make tries to make it, and where
 * it wrote nothing leaves in txn_id the journal row it would have been.
 * state is the operation's own.
 */
typedef struct OpOptimistic
{
	const char *kind;			/* the journal row's kind, as a replay is matched */
	const char *key;
	void	   *state;
	void		(*read) (struct OpOptimistic *op, bool lock, int attempt);
	OpTry		(*make) (struct OpOptimistic *op, bool lock);
	bool		lock_first;		/* every try under the locks (what it writes first needs them) */
	WalletRow  *w;
	Jsonb	   *req;
	int64		txn_id;
} OpOptimistic;

extern Jsonb *op_optimistic(OpOptimistic *op);

extern char *check_text(FunctionCallInfo fcinfo, int argno, const char *argname, int maxlen, bool required);
extern Datum major(int64 minor, int exponent);
extern void check_not_null(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int32 op_count_arg(FunctionCallInfo fcinfo, int argno, const char *argname, int32 max);
extern void op_start(void);
extern int64 op_begin(FunctionCallInfo fcinfo);
extern int64 op_int8_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int64 op_amount(FunctionCallInfo fcinfo, int argno, const WalletRow *w);
extern void refuse_frozen(const WalletRow *w, const char *hint);
extern void op_leave(MemoryContext caller);
extern Datum op_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls, const Oid *types, int n);
extern Datum op_txn_row(FunctionCallInfo fcinfo, int64 txn_id, bool replayed);
extern void refuse_message_currency(const WalletRow *w, const char *currency, int64 message_id);
extern Datum with_compressed_wal(PGFunction body, FunctionCallInfo fcinfo);
/* what the sweeps share (pipeline.c): the ids due, each locked unless another holds it */
extern int64 *sweep_due(OpPlan *due, TimestampTz clk, int32 batch, const char *what, uint64 *n);
extern bool sweep_lock(OpPlan *lock, int64 id);
extern bool sweep_lock_wallet(int64 wallet_id);

/* One applied bonus rule of a top-up (bonus_plan.c). */
typedef struct PlanRule
{
	int64		rule_id;
	char	   *campaign;		/* NULL = base tiers */
	int64		bonus;
	TimestampTz expires;		/* WALLET_NO_TIME = never */
	char	   *scope;			/* comma-joined, NULL = everywhere */
	Numeric		fee;			/* refund_fee_rate, NULL = none */
} PlanRule;

extern int	bonus_plan(const CurrencyConf *conf, int64 amt, TimestampTz clk, PlanRule **out);

/* coupon_check.c */
extern const char *coupon_validity(const char *code, int64 wallet_id, const char *currency, int exponent,
								   int64 order_minor, const char *scene, TimestampTz clk, int64 *discount,
								   char **canonical);

/* spend_rule.c */
extern void spend_rule_refuse(const char *rule, const WalletRow *w, const SpendRules *conf, int64 available);
extern bool spend_rules_weigh(const SpendRules *r);

/* payee.c */
typedef enum PayeeProblem
{
	PAYEE_OK,
	PAYEE_MISSING,				/* no such wallet (WL006) */
	PAYEE_CURRENCY,				/* another currency (22023) */
	PAYEE_SELF					/* the payer itself (22023) */
} PayeeProblem;

extern PayeeProblem payee_problem(const WalletRow *w, int64 payee, char **currency);
extern void payee_refuse(PayeeProblem p, const WalletRow *w, int64 payee, const char *currency);
extern void counterparty_refuse(PayeeProblem p, const WalletRow *w, int64 id, const char *currency,
								const char *argname, const char *noun);

/* What a spend asks (spend_core.c), its arguments checked, amounts in minor units. */
typedef struct SpendAsk
{
	int64		amount;			/* the order total */
	char	   *scene;			/* NULL: none */
	char	   *coupon;			/* NULL: none */
	bool		partial;		/* allow_partial */
	bool		has_max;
	int64		max_charge;
	int			npayees;		/* 0: no payee */
	int64	   *payees;
	int64	   *shares;			/* a split payment's shares; NULL: its one payee takes all */
	bool		compact;		/* set for the reader: leave null arguments out of the request */
	Jsonb	   *req;			/* the request, as the journal keeps it */
	char	   *step_up;		/* a step-up grant's token (section 20); NULL: none */
} SpendAsk;

/* The outcome of a spend, in minor units, kept across SPI_finish. */
typedef struct SpendOut
{
	int64		txn_id;
	int64		charged;
	int64		discount;
	int64		used[WALLET_NBUCKETS];
	int64		shortfall;
	int64		points;			/* reward points earned (minor units of points_exponent) */
	int			points_exponent;
	bool		replayed;
} SpendOut;

/* Reads a spend's arguments into ask once its wallet w is read (spend.c, spend_split.c). */
typedef void (*SpendArgs) (FunctionCallInfo fcinfo, const WalletRow *w, SpendAsk *ask);

extern void spend_run(FunctionCallInfo fcinfo, const char *kind, const char *key, bool policy, SpendArgs args,
					  SpendOut *out, int *exponent);
extern Datum spend_result_row(FunctionCallInfo fcinfo, const SpendOut *out, int exponent);

/* hold_expiry.c: the holds past their expiry given back before an operation spends */
extern int	holds_give_back_due(WalletRow *w, LotBuilder *b, TimestampTz clk);

/* credit.c */
extern void credit_lot(int64 wallet_id, LotBuilder *b, int bucket, int64 amt, TimestampTz until, int64 txn,
					   TimestampTz clk);
extern void credit_earnings(int64 wallet_id, LotBuilder *b, int64 amt, int64 txn, TimestampTz clk);
extern void credit_bonus_pending(int64 wallet_id, int64 amt, TimestampTz until, int64 txn);
extern void credit_payee(int64 payee, int64 amt, int64 txn);
extern bool rollup_credits(int64 wallet_id, LotBuilder *b, TimestampTz clk);
extern bool rollup_credits_for(const WalletRow *w, LotBuilder *b, TimestampTz clk, int64 need);
extern bool credits_count_for(const WalletRow *w, const LotBuilder *b, int64 need);
extern void add_debt(int64 wallet_id, int64 amt, int64 txn, TimestampTz clk);

/* reward.c: points earned by spending (CONTRACT.md section 18) */
typedef struct Reward
{
	int64		points;			/* minor units of the points currency; 0: none */
	int64		rule_id;
	char	   *currency;		/* the points currency */
	int			exponent;		/* its exponent */
	int64		wallet_id;		/* the owner's points wallet */
	int64		txn_id;			/* the reward's journal row */
	TimestampTz expires;		/* WALLET_NO_TIME: never */
} Reward;

extern bool reward_plan(const WalletRow *w, const char *scene, int64 charged, TimestampTz clk, Reward *rw);
extern void reward_json(JB *jb, const Reward *rw);
extern void reward_credit(const Reward *rw, int64 spend_txn, TimestampTz clk);
extern int64 take_back(WalletRow *pw, int bucket, int64 amt, int64 tid, TimestampTz clk);
extern void reward_take_back(WalletRow *pw, int64 back, int64 spend_txn, int64 tid, TimestampTz clk);

/* limits.c: limits and step-up grants (CONTRACT.md section 20) */
extern bool limits_apply(WalletRow *w, LimitOp op, const char *what, int64 amt, const char *step_up,
						 TimestampTz clk, bool locked, int64 *grant_id);
extern bool limits_allow(WalletRow *w, LimitOp op, int64 amt, TimestampTz clk);
extern void limits_count(WalletRow *w, LimitOp op, int64 amt, TimestampTz clk);
extern void limits_used(int64 grant_id, int64 txn_id, TimestampTz clk);
extern void limits_json(JB *jb, int64 grant_id);
extern char *limits_refusal(WalletRow *w, LimitOp op, const char *what, int64 amt, TimestampTz clk);
extern int64 limits_day_amount(WalletRow *w, LimitOp op, const char *zone, TimestampTz clk);
extern void limits_give_back(WalletRow *w, LimitOp op, int64 amt, int32 count, TimestampTz counted_at,
							 TimestampTz clk);
extern char *step_up_arg(FunctionCallInfo fcinfo, int argno);

#endif							/* WALLET_OPS_H */
