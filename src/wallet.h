/*
 * wallet.h
 *	  Shared declarations of the wallet extension: the lot set type (a wallet's
 *	  live lots packed in one varlena value), money helpers and the clock.
 */
#ifndef WALLET_H
#define WALLET_H

#include "postgres.h"
#include "fmgr.h"
#include "access/tupdesc.h"
#include "utils/array.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

/* Buckets a lot can sit in. Held money is a counter on the lot it came from. */
typedef enum WalletBucket
{
	BUCKET_CASH = 0,
	BUCKET_BONUS = 1,
	BUCKET_EARNINGS = 2
} WalletBucket;

#define WALLET_NBUCKETS 3

/* The extension's own SQLSTATEs, WL001 to WL009 (CONTRACT.md section 12). */
#define ERRCODE_WL(c) MAKE_SQLSTATE('W', 'L', '0', '0', c)

/* The largest amount, in minor units, that the API accepts (10^15). */
#define WALLET_MAX_MINOR INT64CONST(1000000000000000)

/* Largest number of lots one value may hold, and longest scope text. */
#define WALLET_MAX_LOTS 100000
#define WALLET_MAX_SCOPE_LEN 4096
#define WALLET_MAX_SCENE_LEN 64

/* "No timestamp" for granted/until. */
#define WALLET_NO_TIME DT_NOEND

/*
 * One lot. Amounts are minor units. For a cash lot, `until` is the end of its
 * refund window and owed/clawed are the netting counters of its top-up (bonus
 * of that top-up spent and not yet clawed back / clawed back). For a bonus lot,
 * `until` is its expiry. `held` is reserved by a pending refund.
 */
typedef struct WalletLot
{
	int32		id;
	uint8		bucket;
	uint8		flags;			/* unused, 0 */
	int16		pad;			/* 0 */
	int32		scope;			/* version 0.1 layout: offset in the scope pool, -1 = none */
	int32		pad2;			/* 0 */
	int64		amount;			/* live, spendable (unless expired) */
	int64		held;			/* reserved by a pending refund */
	int64		txn;			/* transaction that created the lot */
	TimestampTz granted;
	TimestampTz until;			/* expiry (bonus) or refund window end (cash) */
	int64		owed;			/* cash: bonus of this top-up spent, not clawed */
	int64		clawed;			/* cash: bonus of this top-up clawed back */
} WalletLot;

/*
 * The varlena value. Its layout is private to src/lotset/layout.c (lotset_unpack and
 * lotset_pack convert it to and from a LotBuilder): a compact encoding of
 * variable-length integers, or the fixed layout of version 0.1, still read.
 */
typedef struct LotSet
{
	int32		vl_len_;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} LotSet;

#define DatumGetLotSetP(d) ((LotSet *) PG_DETOAST_DATUM(d))
#define PG_GETARG_LOTSET_P(n) DatumGetLotSetP(PG_GETARG_DATUM(n))
#define PG_RETURN_LOTSET_P(x) PG_RETURN_POINTER(x)

/*
 * Money a hold reserves (engine/holds.c): a piece taken from one lot, kept
 * beside the lots with the hold's id and the time the hold stops reserving
 * it. lot.id is the lot it came from (which may be gone since), lot.amount
 * what is still reserved; its other fields are that lot's (bucket, source
 * transaction, grant time, expiry or refund window); held, owed and clawed
 * are 0. Until `expires` the piece is in `held`; from then on it is
 * available again, and the next operation on the wallet gives it back.
 */
typedef struct Reservation
{
	WalletLot	lot;
	char	   *scope;			/* bonus: NULL or the comma-joined scope */
	int64		hold;			/* the hold's id */
	TimestampTz expires;		/* the hold's expiry */
} Reservation;

/*
 * A lot set under construction: lots in a palloc'd array and scopes as
 * separate strings, so the engine can add, remove and rewrite lots freely;
 * and the reservations of open holds.
 */
typedef struct LotBuilder
{
	int			nlots;
	int			cap;
	int32		next_id;
	WalletLot  *lots;
	char	  **scopes;			/* per lot: NULL or the comma-joined scope */
	int			nres;
	int			rescap;
	Reservation *res;
} LotBuilder;

/* lotset/layout.c */
extern LotBuilder *lotset_unpack(const LotSet *ls);
extern LotSet *lotset_pack(LotBuilder *b);
extern WalletLot *builder_add(LotBuilder *b, const char *scope);
extern void builder_remove(LotBuilder *b, int i);
extern Reservation *builder_add_reservation(LotBuilder *b);
extern void builder_remove_reservation(LotBuilder *b, int i);
extern const char *bucket_name(int bucket);
extern int	bucket_from_name(const char *name, bool missing_ok);
extern bool scope_allows(const char *scope, const char *scene);

/* One bonus rule for engine_bonus_pick (money in minor units). */
typedef struct BonusRule
{
	const char *grp;			/* campaign, not NUL-terminated; NULL = base */
	int			grp_len;
	int64		min_amount;
	int64		fixed;
	Numeric		rate;			/* NULL = no rate */
	bool		has_cap;
	int64		cap;
} BonusRule;

/*
 * The netting of a refund of one top-up (engine/refund.c), minor units:
 * c = cash, u = owed + coupon_owed, refundable = c - u (at least 0).
 */
typedef struct RefundNetting
{
	bool		in_window;		/* the top-up's cash lot is within its refund window */
	int64		cash;			/* c: the top-up's cash still in the wallet */
	int64		owed;			/* its bonus spent and not clawed back yet */
	int64		clawed;			/* its bonus clawed back */
	int64		held;			/* its cash held by an open refund */
	int64		bonus_live;		/* its live bonus, which a refund voids */
	TimestampTz until;			/* the end of its refund window (in_window only) */
	int64		coupon_owed;	/* the discount of its redeemed coupons not clawed back yet */
	int			coupons_live;	/* its available coupons, which a refund voids */
	int64		refundable;		/* c - u, at least 0 */
} RefundNetting;

/*
 * A currency's withdrawal rules (CONTRACT.md section 16), minor units of
 * the currency (policy.withdraw_*).
 */
typedef struct WithdrawRules
{
	int64		min;			/* withdraw_min */
	Numeric		fee_rate;		/* withdraw_fee_rate */
	int64		fee_fixed;
	int64		fee_min;
	bool		has_fee_max;
	int64		fee_max;
	bool		has_daily_max;
	int64		daily_max;
	int64		auto_approve_max;
	bool		has_review_daily;
	int64		review_daily;
} WithdrawRules;

/* Why a withdrawal would be refused by its amount (engine_withdraw_quote). */
typedef enum WithdrawRefusal
{
	WITHDRAW_OK,
	WITHDRAW_BELOW_MINIMUM,		/* WL007 */
	WITHDRAW_NET_NOT_POSITIVE,	/* WL007: the fee takes it all */
	WITHDRAW_SHORT,				/* WL001: more than the earnings */
	WITHDRAW_DAILY_MAX			/* WL007: the day's requests would pass withdraw_daily_max */
} WithdrawRefusal;

/* What a withdrawal of amount would be (engine_withdraw_quote), minor units. */
typedef struct WithdrawQuote
{
	int64		amount;
	int64		fee;
	int64		net;			/* amount - fee; may be <= 0 (refused) */
	int64		withdrawable;	/* the earnings it may take */
	bool		review;			/* pending (manual review) rather than approved */
	int64		daily_used;		/* the day's requests so far */
	bool		has_remaining;	/* a daily maximum is set */
	int64		daily_remaining;	/* what the day's maximum leaves, at least 0 */
	WithdrawRefusal refusal;
} WithdrawQuote;

/* engine.c */
extern void check_scene(const char *scene, const char *argname);
extern char *scope_from_array(ArrayType *arr);
extern void compact(LotBuilder *b, TimestampTz now);
extern LotBuilder *new_builder(int32 next_id);
extern void engine_add(LotBuilder *b, int bucket, int64 amount, int64 txn, TimestampTz at,
					   TimestampTz until, const char *scope);
extern int64 engine_spend(LotBuilder *b, int64 want, const char *scene, TimestampTz now,
						  int64 used[WALLET_NBUCKETS], LotBuilder **taken);
extern int64 engine_spend_in(LotBuilder *b, int64 want, const char *scene, TimestampTz now, bool earnings,
							 int64 used[WALLET_NBUCKETS], LotBuilder **taken);
extern TimestampTz engine_next_expiry(const LotBuilder *b);
extern int64 engine_earnings(const LotBuilder *b);
extern int64 engine_debt_repaid(int64 debt, int64 credit);
extern int64 engine_coupon_discount(bool percent, Numeric value, Numeric max_discount, int exponent,
									int64 order_minor);
extern bool engine_below_minimum(int64 order_minor, Numeric min_order, int exponent);
extern bool engine_debt_flag_crossed(int64 debt_after, int64 added, Numeric flag, int exponent);
extern int64 engine_take(LotBuilder *b, int bucket, int64 want, TimestampTz now, bool every_scope);
extern void engine_lots_minus(LotBuilder *a, const LotBuilder *sub);

/* What engine_reverse gave back (minor units). */
typedef struct ReversalOut
{
	int64		back[WALLET_NBUCKETS];	/* into each bucket */
	int64		breakage;		/* expired bonus written off */
	int64		bonus_to_cash;	/* bonus its top-up's refund clawed back, returned as cash */
} ReversalOut;

/* How a full reversal undoes its spend's coupon (post_reversal). */
typedef enum CouponUndo
{
	COUPON_NONE,				/* no coupon, or not the full reversal */
	COUPON_BACK,				/* the discount back to coupon_expense (the coupon given back) */
	COUPON_TO_CASH				/* a refund clawed the discount back: it returns as cash */
} CouponUndo;

/* One payee of a spend (post_spend_to): what it is credited and the commission kept on its part. */
typedef struct PayeePart
{
	int64		payee;
	int64		credit;			/* its part less the commission */
	int64		commission;
	bool		remote;			/* on another shard: credited by an outbox message */
} PayeePart;

/* One payee of a reversal (post_reversal_to): what it gives back, and what of that its earnings gave. */
typedef struct PayeeBack
{
	int64		payee;
	int64		back;
	int64		taken;			/* the rest (back - taken) becomes its debt */
	bool		remote;			/* on another shard: back goes there by an outbox message */
} PayeeBack;

/* One journal leg (postings.c): wallet_id 0 and bucket NULL are none. */
typedef struct Posting
{
	const char *account;
	int64		wallet_id;
	const char *bucket;
	int64		amount;
} Posting;

typedef struct Postings
{
	int			n;
	int			cap;
	Posting    *p;
} Postings;

/* engine/postings.c: the account rules */
extern void postings_init(Postings *ps);
extern void post(Postings *ps, const char *account, int64 wallet_id, const char *bucket, int64 amount);
extern int64 postings_sum(const Postings *ps);
extern int64 postings_wallet(const Postings *ps, int64 wallet_id, const char *bucket);
extern void postings_done(const Postings *ps, const char *operation);
extern void post_top_up(Postings *ps, int64 wallet_id, int64 amount);
extern void post_bonus(Postings *ps, int64 wallet_id, int64 bonus);
extern void post_spend(Postings *ps, int64 wallet_id, const int64 used[WALLET_NBUCKETS], int64 charged,
					   int64 discount, bool has_payee, int64 payee, int64 commission);
extern void post_spend_to(Postings *ps, int64 wallet_id, const int64 used[WALLET_NBUCKETS], int64 charged,
						  int64 discount, const PayeePart *payees, int npayees);
extern void post_reversal(Postings *ps, int64 wallet_id, const ReversalOut *r, int64 x, bool has_payee,
						  int64 payee, int64 payee_back, int64 payee_taken, CouponUndo coupon, int64 discount);
extern void post_reversal_to(Postings *ps, int64 wallet_id, const ReversalOut *r, int64 x, const PayeeBack *payees,
							 int npayees, CouponUndo coupon, int64 discount);
extern void post_transfer(Postings *ps, int64 from_wallet, int64 to_wallet, int64 amount, int64 fee);
extern void post_transfer_out(Postings *ps, int64 from_wallet, int64 amount, int64 fee);
extern void post_relay_in(Postings *ps, int64 to_wallet, int64 amount);
extern void post_relay_back(Postings *ps, int64 payee, int64 back, int64 taken);
extern void post_refund_hold(Postings *ps, int64 wallet_id, int64 take, int64 bonus_held);
extern void post_refund_end(Postings *ps, int64 wallet_id, bool release, int64 take, int64 bonus_void, int64 net,
							int64 fee, int64 clawback, int64 coupon_clawback);
extern void post_adjust(Postings *ps, int64 wallet_id, const char *bucket, int64 amount);
extern void post_repay_debt(Postings *ps, int64 wallet_id, const char *bucket, int64 repaid);
extern void post_exchange_out(Postings *ps, int64 wallet_id, int64 amount, int64 fee);
extern void post_exchange_in(Postings *ps, int64 wallet_id, const char *bucket, int64 to_amount);
extern void post_reward(Postings *ps, int64 wallet_id, int64 points);
extern void post_reward_back(Postings *ps, int64 wallet_id, int64 back, int64 taken);
extern void post_expiry(Postings *ps, int64 wallet_id, int64 amount);
extern void post_hold(Postings *ps, int64 wallet_id, const int64 used[WALLET_NBUCKETS]);
extern void post_capture(Postings *ps, int64 wallet_id, int64 x, bool has_payee, int64 payee, int64 commission);
extern void post_release(Postings *ps, int64 wallet_id, const ReversalOut *r, int64 total);
extern void post_withdraw_hold(Postings *ps, int64 wallet_id, int64 amount);
extern void post_withdraw_end(Postings *ps, int64 wallet_id, bool release, int64 amount, int64 net, int64 fee);
extern void post_withdraw_return(Postings *ps, int64 wallet_id, int64 amount, int64 net, int64 fee);

extern LotBuilder *engine_reversal_split(LotBuilder *rem, const int64 given[WALLET_NBUCKETS], int64 x);
extern void engine_reverse(LotBuilder *b, LotBuilder *pieces, TimestampTz now, ReversalOut *out);
extern bool engine_topup_held(LotBuilder *b, int64 txn);
extern int64 engine_payee_back(int64 payee_total, int64 payee_done, int64 done, int64 x, int64 charged);
extern TupleDesc wallet_result_desc(FunctionCallInfo fcinfo);

/* engine/split.c */
extern void engine_split(int64 total, const int64 *weights, int n, int64 *parts);

/* engine/transfer.c */
extern int64 engine_transfer_fee(int64 amount, Numeric rate, int64 fixed);
extern int64 engine_transfer_all(int64 transferable, Numeric rate, int64 fixed);

/* engine/exchange.c: an exchange's fee and amount, reward points (CONTRACT.md section 18) */
typedef struct RewardRule
{
	int64		rule_id;
	char	   *scene;			/* NULL: any scene */
	char	   *points_currency;
	int			points_exponent;
	Numeric		per_unit;		/* points (major) per major unit charged */
	int64		min_spend;		/* minor units of the rule's currency */
	bool		has_valid_for;
	Interval	valid_for;
	bool		has_starts;
	TimestampTz starts;
	bool		has_ends;
	TimestampTz ends;
} RewardRule;

extern int64 engine_convert_down(int64 amount, int from_exponent, Numeric factor, int to_exponent);
extern void engine_exchange(int64 amount, int from_exponent, int to_exponent, Numeric rate, Numeric fee_rate,
							int64 *fee, int64 *to_amount);
extern int	engine_reward_pick(const RewardRule *rules, int n, int64 charged, const char *scene, TimestampTz now);
extern int64 engine_reward_points(const RewardRule *r, int64 charged, int exponent);

/* engine/spend_rules.c */
extern bool engine_earnings_usable(const char *earnings_scope, const char *scene);
extern int64 engine_available(LotBuilder *b, const char *scene, TimestampTz now, bool earnings);
extern const char *engine_spend_rule(int64 n, int64 a, int64 c, int64 x, int64 y);

/* engine/holds.c */
extern int64 engine_hold(LotBuilder *b, int64 want, const char *scene, TimestampTz now, bool earnings,
						 int64 hold, TimestampTz expires, int64 used[WALLET_NBUCKETS]);
extern int64 engine_hold_remaining(const LotBuilder *b, int64 hold, int64 left[WALLET_NBUCKETS]);
extern LotBuilder *engine_capture(LotBuilder *b, int64 hold, int64 want, int64 used[WALLET_NBUCKETS]);
extern void engine_release(LotBuilder *b, int64 hold, int64 want, TimestampTz now, ReversalOut *out);
extern void engine_hold_extend(LotBuilder *b, int64 hold, TimestampTz expires);
extern int64 engine_topup_bonus_reserved(const LotBuilder *b, int64 txn);
extern int64 engine_due_hold(const LotBuilder *b, TimestampTz now);
extern void engine_reserved(const LotBuilder *b, const char *scene, TimestampTz now, int64 *held,
							int64 avail[WALLET_NBUCKETS], int64 *stored);

/* engine/refund.c */
extern void engine_refund_info(const LotBuilder *b, int64 txn, TimestampTz now, RefundNetting *n);
extern void engine_refund_netting(RefundNetting *n, int64 coupon_owed, int coupons_live);
extern Numeric engine_refund_fee_rate(bool platform, Numeric policy_rate, Numeric campaign_rate);
extern int64 engine_refund_fee(int64 amount, Numeric rate);
extern bool engine_refund_auto_approved(int64 net, Numeric auto_approve_max, int exponent);
extern int64 engine_refund_hold(LotBuilder *b, int64 txn, int64 take, int64 clawback, TimestampTz now);
extern void engine_refund_end(LotBuilder *b, int64 txn, int64 take, int64 clawback, int64 bonus_held,
							  TimestampTz now, bool release);

/* engine/withdraw.c */
extern int64 engine_withdraw_fee(int64 amount, const WithdrawRules *r);
extern bool engine_withdraw_counts_day(const WithdrawRules *r);
extern void engine_withdraw_quote(int64 amount, int64 withdrawable, int64 daily_used, const WithdrawRules *r,
								  WithdrawQuote *q);
extern void engine_withdraw_hold(LotBuilder *b, int64 amount, TimestampTz now);
extern void engine_withdraw_end(LotBuilder *b, int64 amount, TimestampTz now, bool release);
extern const char *withdraw_refusal_name(WithdrawRefusal r);

/* money.c */
extern int64 numeric_to_minor(Numeric num, int exponent, const char *argname);
extern Numeric minor_to_numeric(int64 minor, int exponent);
extern int64 rate_of(int64 amount, Numeric rate);
extern int64 checked_add(int64 a, int64 b);
extern int engine_bonus_pick(int64 amount, int n, const BonusRule *rules, int *picked, int64 *bonus);

/* ops/debt.c */
extern void refuse_in_debt(int64 wallet_id, int64 debt, int exponent, const char *operation);

/* error_context.c */
extern void error_context_init(void);

/* coupon.c */
extern text *coupon_code_new(void);
extern text *coupon_code_canonical(const char *s, int len);

/* clock.c */
extern TimestampTz wallet_clock(void);
extern void clock_init(void);

/*
 * The wallet clock shows years 1 to WALLET_CLOCK_END_YEAR - 1 (wallet.now is
 * refused outside them), and an interval setting adds at most
 * WALLET_SETTING_MAX_YEARS: an expiry or a refund window the settings make
 * always lies in the years a lot set holds (1 to 9999).
 */
#define WALLET_CLOCK_END_YEAR 8999
#define WALLET_SETTING_MAX_YEARS 1000

/* check.c */
extern char *check_text_arg(text *t, const char *argname, int maxlen, bool required);
extern bool clock_in_range(TimestampTz t);

/* store/rules.c */
extern void refuse_rules(void);
extern void rules_init(void);

#endif							/* WALLET_H */
