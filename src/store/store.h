/*
 * store.h
 *	  Private to the table-access files (src/store/) and the operations built
 *	  on them (src/ops/): the plans kept per backend, the wallet row as an
 *	  operation reads it, the currency configuration, the journal row's values
 *	  and the direct write.
 *
 *	  State shared by these files lives in one file each and is reached only
 *	  through the functions declared here: the plans and relation oids
 *	  (plans.c), column numbers (columns.c), the configuration cache
 *	  (config.c), the answers of direct_ok (direct_ok.c). Each is forgotten by
 *	  the invalidation named in its file, never by its callers.
 */
#ifndef WALLET_STORE_H
#define WALLET_STORE_H

#include "wallet.h"
#include "engine/limits.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "access/attmap.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/partcache.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "optimizer/cost.h"
#include "nodes/nodeFuncs.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

/* Plans kept for the backend's life; re-prepared if the schema is recreated. */
typedef struct WalletPlans
{
	Oid			nsp;
	Oid			lotset_type;
	Oid			posting_type;
	Oid			posting_array;
	Oid			txn_seq;
	Oid			key_rel;		/* wallet.txn_key; InvalidOid on a 0.1 schema */
	Oid			credit_seq;		/* wallet.payee_credit's identity sequence */
	Oid			refund_seq;		/* wallet.refund's identity sequence */
	Oid			hold_seq;		/* wallet.hold's identity sequence (InvalidOid before holds) */
	Oid			group_seq;		/* wallet.group_pay's identity sequence (InvalidOid before it) */
	Oid			withdrawal_seq; /* wallet.withdrawal's identity sequence (InvalidOid before it) */
	AttrNumber	usage_att;		/* wallet.wallet.limit_usage (InvalidAttrNumber before limits) */
	SPIPlanPtr	replay;
	SPIPlanPtr	update_wallet;
	SPIPlanPtr	insert_txn;
	SPIPlanPtr	write;
	SPIPlanPtr	drop_key;
	SPIPlanPtr	credit;
	SPIPlanPtr	has_pending;
	SPIPlanPtr	rollup;
	SPIPlanPtr	coupon_check;
	SPIPlanPtr	redeem;
	SPIPlanPtr	auto_issue;
	SPIPlanPtr	replay_coupons;
} WalletPlans;

extern WalletPlans plans;

/*
 * A statement of one operation's own (op_plan): its text and argument types
 * are the file's constants; the plan is prepared on first use.
 */
#define OP_PLAN_MAX_ARGS 20
typedef struct OpPlan
{
	const char *sql;
	int			nargs;
	Oid			types[OP_PLAN_MAX_ARGS];	/* or OP_LOTSET, OP_POSTINGS: the schema's types */
	SPIPlanPtr	plan;
	uint64		generation;
} OpPlan;

/* OP_PLAN(sql, nargs, types...) initializes a static OpPlan. */
#define OP_PLAN(text, n, ...) {.sql = (text), .nargs = (n), .types = {__VA_ARGS__}}

/*
 * Argument types of an OpPlan that are the schema's own, whose oids are known
 * only when the statement is prepared: wallet.lotset and wallet.posting[]
 * (OP_POSTINGS is no type's oid: oid 1 is template1's, a database).
 */
#define OP_LOTSET InvalidOid
#define OP_POSTINGS ((Oid) 1)

/* A currency's configuration as the hot path keeps it (see currency_conf). */
typedef struct ConfRule
{
	int64		rule_id;
	char	   *campaign;		/* NULL = base tiers */
	bool		has_starts;
	TimestampTz starts;
	bool		has_ends;
	TimestampTz ends;
	int64		min_amount;		/* minor units of the currency */
	int64		fixed;
	Numeric		rate;
	bool		has_cap;
	int64		cap;
	bool		has_valid_for;
	Interval	valid_for;
	char	   *scope;			/* comma-joined, NULL = everywhere */
	Numeric		fee;			/* refund_fee_rate, NULL = none */
} ConfRule;

typedef struct CurrencyConf
{
	char	   *currency;
	int			exponent;
	Interval	refund_window;
	Numeric		commission_rate;
	Numeric		refund_fee_rate;
	Numeric		refund_auto_approve_max;	/* major units */
	int32		max_refunds_per_30_days;
	int64		min_balance_use;	/* minor units, 0: no rule (CONTRACT.md section 15) */
	int64		use_all_below;	/* minor units, 0: no rule */
	char	   *earnings_scope; /* comma-joined scenes where earnings may be spent, NULL: everywhere */
	Numeric		transfer_fee_rate;	/* CONTRACT.md section 17 */
	int64		transfer_fee_fixed; /* minor units */
	WithdrawRules withdraw;		/* section 16, minor units */
	char	   *limit_time_zone;	/* the days of the daily limits (policy.limit_time_zone) */
	bool		topup_templates;
	int			nlimits;
	LimitRule  *limits;			/* limit rules (section 20), the wallets' own rows too; NULL when none */
	int			nrules;
	ConfRule   *rules;			/* by rule_id */
	int			nrewards;
	RewardRule *rewards;		/* reward rules (section 18); NULL when none */
} CurrencyConf;

/* A wallet row as the operations read it. */
typedef struct WalletRow
{
	int64		id;
	char	   *currency;
	int			exponent;
	bool		frozen;
	char	   *frozen_reason;
	LotSet	   *lots;
	int64		version;
	Datum		refund_window;	/* interval */
	Numeric		commission_rate;
	HeapTuple	tup;			/* the row as read (or as locked) */
	CurrencyConf *conf;			/* its currency's configuration, read with the policy */
	bytea	   *usage_raw;		/* limit_usage as read (NULL: nothing counted yet, or no such column) */
	LimitUsage *usage;			/* decoded by the limits (ops/limits.c); NULL until they need it */
	bool		usage_dirty;	/* usage changed: every write of the row writes it */
} WalletRow;

/* A top-up as its refunds read it (refund.c): its journal row. */
typedef struct TopUpRow
{
	int64		txn_id;
	int64		wallet_id;
	Jsonb	   *result;			/* its journal result (refundable_until, campaign_fee_rate, coupons) */
} TopUpRow;

/* A coupon a top-up issued that a refund of it takes (refund.c). */
typedef struct TopUpCoupon
{
	char	   *code;
	bool		void_it;		/* available: the refund voids it; else redeemed: its discount is clawed back */
	int64		discount;		/* what is clawed back (minor units); 0 for one voided */
} TopUpCoupon;

/* A refund row (refund.c); amounts in minor units. */
typedef struct RefundRow
{
	int64		refund_id;
	int64		wallet_id;
	int64		topup_txn;
	int64		amount;
	int64		fee;
	int64		net;
	int64		clawback;
	int64		bonus_void;
	int64		coupon_clawback;
	int32		coupons_voided;
	const char *status;			/* a constant string: pending, approved, rejected, succeeded, failed */
	ItemPointerData tid;		/* read locked: the version locked (its ctid) */
} RefundRow;

/* A hold's row (hold.c); amounts in minor units. */
typedef struct HoldRow
{
	int64		hold_id;
	int64		wallet_id;
	const char *status;			/* a constant string: open, captured, released, expired */
	int64		amount;			/* reserved when it was made */
	int64		captured;
	int64		released;
	TimestampTz expires_at;
	TimestampTz created_at;
	int64		hold_txn;		/* its journal row */
	char	   *scene;			/* NULL: none */
	bool		has_payee;
	int64		payee;
	char	   *order_ref;		/* NULL: none */
	int64		group_id;		/* a group payment's share; 0: none */
	ItemPointerData tid;		/* read locked: the version locked (its ctid) */
} HoldRow;

/* A group payment's row (group.c); amounts in minor units. */
typedef struct GroupRow
{
	int64		group_id;
	int64		payee;
	char	   *currency;
	int64		amount;
	const char *status;			/* a constant string: open, paid, cancelled, expired */
	TimestampTz expires_at;
	char	   *order_ref;		/* NULL: none */
	int64		create_txn;
	ItemPointerData tid;		/* the version locked */
} GroupRow;

/* A group payment's participant (group.c). */
typedef struct GroupMember
{
	int64		wallet_id;
	int64		share;
	int64		hold_id;		/* 0 until it joined */
} GroupMember;

/*
 * A fetched row taken apart once (heap_getattr walks the row from its start
 * for every column after the first variable-length one): row_of takes it
 * apart, getattr returns a column by name. The values point into the tuple.
 */
typedef struct Row
{
	Relation	rel;
	Datum	   *values;
	bool	   *nulls;
} Row;


/*
 * Journal request and result values are built as jsonb in memory (no text
 * to parse): a JB collects one object, possibly with nested arrays.
 */
typedef struct JB
{
	JsonbParseState *st;
} JB;

/*
 * The journal row's ref_txn, where an operation names another transaction
 * (the spend a reversal reverses, the top-up a refund refunds): 0 is none
 * (transaction ids start at 1).
 */
#define NO_REF_TXN 0

/* The outcome of write_direct (direct_write.c). */
typedef enum DirectWrite
{
	DW_WROTE,
	DW_NOTHING,					/* the key was taken or the race lost */
	DW_UNSUPPORTED				/* nothing written: the statement must do it */
} DirectWrite;

/*
 * insert_row inserts a checked row and its index entries (indexes open);
 * insert_checked checks it first (check_row), as ExecSimpleRelationInsert would.
 * JOURNAL_APPEND as options puts the row on the table's last page (or a new
 * one): the journal is appended to, never updated, so the only free space
 * its free space map knows of is the tail of each full page, left there
 * because the next row did not fit; a smaller row sent there (an expiry's)
 * dirties, and after a checkpoint logs whole, a page that was finished long
 * ago. Sweeping 250,000 wallets of a journal whose pages had such tails:
 * 442 MB of WAL and 7.4 s with the map, 279 MB and 4.0 s without it.
 */
#define JOURNAL_APPEND TABLE_INSERT_SKIP_FSM

/* plans.c */
extern void plans_init(void);
extern int *pin_slot;
extern void pin_path(void);
extern void pin_key_lookups(void);
extern int	run_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only, long count);
extern void ensure_plans(void);
extern Oid	rel_of(const char *name);
extern Datum getcol(int col, bool *isnull);
extern Datum select_datum(SPIPlanPtr plan, int nargs, Datum *args);
extern SPIPlanPtr op_plan(OpPlan *p);

/* shard.c */
extern bool shard_local(int64 id);
extern int	shard_total(void);
extern void shard_init(void);
extern int64 outbox_send(int64 from, int64 txn, int64 to, const char *currency, int64 amt, const char *kind,
						 TimestampTz clk);
extern int64 outbox_send_group(int64 from, int64 txn, int64 to, const char *currency, int64 amt, const char *kind,
							   int64 group_id, int64 hold_id, TimestampTz clk);

/* columns.c */
extern AttrNumber att_of(Relation rel, const char *name);
extern void forget_columns(void);

/* read.c */
extern void direct_reset(void);
extern void direct_begin(void);
extern void direct_end(void);
extern void key_int8(ScanKey k, AttrNumber att, int64 v);
extern void key_text(ScanKey k, AttrNumber att, const char *v);
extern HeapTuple fetch_one(Relation rel, const char *index, int nkeys, ScanKey keys);
extern HeapTuple fetch_wallet(Relation rel, int64 wallet_id);
extern void row_of(Row *row, Relation rel, HeapTuple tup);
extern void row_free(Row *row);
extern Datum getattr(const Row *row, const char *name, bool *isnull);
extern void read_wallet(int64 wallet_id, bool lock, bool policy, WalletRow *w);
extern HeapTuple lock_latest(Relation rel, HeapTuple tup);
typedef void (*RowTaker) (const Row *row, void *out);
extern bool credits_waiting(int64 wallet_id);
extern bool read_keyed(const char *relname, const char *index, const char *keycol, int64 id, bool lock,
					   RowTaker take, void *out, ItemPointer tid);
extern bool relock_keyed(const char *relname, const char *keycol, int64 id, RowTaker take, void *out,
						 ItemPointer tid);
extern const char *status_const(const char *s, const char *const *statuses, int n, const char *what);
extern void refresh_wallet_tuple(WalletRow *w);
extern int64 sibling_wallet(const WalletRow *w, const char *currency);
extern int64 wallet_row_debt(const WalletRow *w);
extern int64 read_debt(int64 wallet_id, char **currency);

/* refund.c */
extern bool read_topup(int64 txn_id, bool read_only, TopUpRow *t);
extern int	topup_coupons(const TopUpRow *t, TimestampTz clk, bool read_only, TopUpCoupon **out);
extern bool read_refund(int64 refund_id, bool lock, RefundRow *r);
extern bool lock_refund(RefundRow *r);
extern bool refund_change_direct(const RefundRow *r, int n, const char *const *names, const Datum *values,
								 const bool *nulls);

/* audit.c: the audit log; the refund's audit row, written by its trigger or by a direct change */
extern void audit_record(const char *action, const char *object, Jsonb *old, Jsonb *new);
extern void refund_audit_row(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc);
extern bool refund_audit_due(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc);
extern bool refund_audit_trigger(Relation rel, const Trigger *t);
extern bool refund_in_progress(int64 topup_txn);
extern int32 refunds_requested(int64 wallet_id, TimestampTz clk);

/* risk_flag.c: the one writer of wallet.risk_flag, and the freeze at policy.flags_to_freeze */
extern void flag_wallet(int64 wallet_id, const char *kind, const char *detail, TimestampTz clk);

/* A withdrawal's row (withdrawal.c); amounts in minor units. */
typedef struct WithdrawalRow
{
	int64		withdrawal_id;
	int64		wallet_id;
	int64		request_txn;
	int64		amount;
	int64		fee;
	int64		net;
	const char *status;			/* a constant string: pending, approved, rejected, succeeded, failed, returned */
	TimestampTz requested_at;	/* when its usage was counted (limits) */
	ItemPointerData tid;		/* read locked: the version locked (its ctid) */
} WithdrawalRow;

/* withdrawal.c */
extern bool read_withdrawal(int64 withdrawal_id, bool lock, WithdrawalRow *r);
extern bool lock_withdrawal(WithdrawalRow *r);
extern int64 withdrawals_today(int64 wallet_id, TimestampTz clk, const char *time_zone, bool read_only);

/* group.c */
extern bool read_group(int64 group_id, GroupRow *g);
extern int	group_members(int64 group_id, GroupMember **out);

/* hold.c */
extern bool read_hold(int64 hold_id, bool lock, HoldRow *h);
extern bool lock_hold(HoldRow *h);

/* journal_read.c */
typedef bool (*JournalRowFn) (Row *row, void *arg);
extern bool journal_lookup(const char *column, int64 value, JournalRowFn fn, void *arg);
extern bool journal_kind_is(Row *row, const char *kind);

/* config.c */
extern void config_init(void);
extern CurrencyConf *currency_conf(const char *currency, int exponent);

/* The spend rules of a currency (section 15), minor units. */
typedef struct SpendRules
{
	int64		min_balance_use;
	int64		use_all_below;
	char	   *earnings_scope;
} SpendRules;

extern void currency_spend_rules(const char *currency, int exponent, SpendRules *r);
extern int	currency_reward_rules(const char *currency, int exponent, RewardRule **out);

/* The limit rules that apply to one wallet (section 20), minor units, by rule_id. */
typedef struct LimitConf
{
	char	   *time_zone;		/* policy.limit_time_zone */
	int			n;
	LimitRule  *rules;			/* the currency's rows and the wallet's own; NULL when none */
} LimitConf;

extern void currency_limits(const char *currency, int exponent, int64 wallet_id, LimitConf *out);

/* limit_usage.c: the usage counters in the wallet row, and the local day and month of a time */
extern void usage_decode(const bytea *raw, LimitUsage *u);
extern bytea *usage_encode(const LimitUsage *u);
extern void limit_period(const char *zone, TimestampTz t, int32 *day, int32 *month);
extern TimestampTz limit_period_start(const char *zone, int32 day, int32 month, bool of_month);

/* step_up.c: step-up grants (section 20) */
typedef struct StepUpGrant
{
	int64		grant_id;
	int64		wallet_id;
	char	   *operation;
	int64		max_amount;		/* minor units */
	TimestampTz expires_at;
	bool		used;
	int64		used_txn;
} StepUpGrant;

extern char *step_up_token(void);
extern bytea *step_up_hash(const char *token);
extern bool step_up_find(const char *token, StepUpGrant *g);
extern void step_up_use(int64 grant_id, int64 txn_id, TimestampTz clk);

/* idempotency.c */
extern JsonbValue *jsonb_member(Jsonb *j, const char *key);
extern int64 jsonb_int(Jsonb *j, const char *key);
extern int64 jsonb_int_or_zero(Jsonb *j, const char *key);
extern int64 *jsonb_int_array(Jsonb *j, const char *key, int *n);
extern bool jsonb_bool_or_false(Jsonb *j, const char *key);
extern TimestampTz jsonb_time(Jsonb *j, const char *key);
extern Jsonb *find_replay(WalletRow *w, const char *key, const char *op, Jsonb *request);
extern bool key_taken(int64 wallet_id, const char *key);
extern Jsonb *after_no_write(WalletRow *w, const char *key, const char *op, Jsonb *request, int64 my_txn);

/* journal_values.c */
extern Datum legs_of(const Postings *ps, const char *operation);
extern void jb_push(JB *j, JsonbIteratorToken tok, JsonbValue *v);
extern void jb_begin(JB *j);
extern void jb_key(JB *j, const char *key);
extern void jb_value(JB *j, bool elem, JsonbValue *v);
extern void jb_text(JB *j, const char *key, const char *val);
extern void jb_numeric(JB *j, const char *key, Numeric val);
extern void jb_int(JB *j, const char *key, int64 val);
extern void jb_int_array(JB *j, const char *key, const int64 *vals, int n);
extern void jb_int_or_null(JB *j, const char *key, bool present, int64 val);
extern void jb_text_if(JB *j, bool compact, const char *key, const char *val);
extern void jb_int_if(JB *j, bool compact, const char *key, int64 val);
extern void jb_bool(JB *j, const char *key, bool val);
extern void jb_time(JB *j, const char *key, TimestampTz t);
extern Jsonb *jb_end(JB *j);

/* write.c */
extern bool save_wallet(WalletRow *w, LotBuilder *b);
extern void insert_txn_keyless(int64 txn_id, const WalletRow *w, const char *kind, int64 amount, TimestampTz at,
							   int64 ref_txn, Jsonb *request, Jsonb *result, Datum postings, LotSet *pieces);
extern void insert_txn(int64 txn_id, WalletRow *w, const char *kind, int64 amount, TimestampTz at,
					   const char *key, int64 ref_txn, Jsonb *request, Jsonb *result, Datum postings,
					   LotSet *pieces);
extern bool write_op(WalletRow *w, LotBuilder *b, int64 txn_id, const char *kind, int64 amount, TimestampTz at,
					 const char *key, int64 ref_txn, Jsonb *request, Jsonb *result, Datum postings,
					 LotSet *pieces);
extern void change_by_statement(OpPlan *plan, const ItemPointerData *tid, int n, const Datum *values,
								const bool *nulls, const char *what, int64 id);
extern void journal_op(WalletRow *w, int64 txn_id, const char *kind, int64 amount, TimestampTz at, int64 ref_txn,
					   Jsonb *request, Jsonb *result, Datum postings);

/* direct_ok.c */
extern void direct_ok_init(void);
extern bool expr_calls_user_code(Node *node);
extern bool direct_ok(Relation rel, Relation root, bool update, const AttrNumber *changed, int nchanged,
					  AclMode mode);

/* checks.c */
extern void checks_init(void);
extern ExprState **compiled_checks(Relation rel);

/* indexes.c */
extern void indexes_init(void);
extern void open_indexes(ResultRelInfo *rri, bool speculative);
extern void close_indexes(ResultRelInfo *rri);

/* direct_write.c */
extern void set_col(TupleTableSlot *slot, Relation rel, bool *given, const char *name, Datum v, bool isnull);
extern bool row_ready(TupleTableSlot *slot, const bool *given);
extern void check_row(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate);
extern RangeTblEntry *rt_entry(Relation rel, AclMode perms, Bitmapset *inserted, Bitmapset *updated);
extern Bitmapset *all_columns(Relation rel);
extern EState *direct_begin_estate(MemoryContext *old);
extern void direct_end_estate(EState *estate, MemoryContext old);
extern ResultRelInfo *result_rel(Relation rel, Index rti);
extern void insert_row(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate, int options);
extern void insert_checked(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate);
extern Relation journal_leaf(Relation jrel, TimestampTz at);
extern DirectWrite write_direct(WalletRow *w, Datum lots, TimestampTz next, int64 txn_id, const char *kind,
								int64 amount, TimestampTz at, const char *key, int64 ref_txn, Jsonb *request,
								Jsonb *result, Datum postings, LotSet *pieces);
extern bool credit_direct(int64 payee, int64 amount, int64 txn_id, bool bonus, TimestampTz until);

/* A hold's row as hold_row_direct writes it. */
typedef struct HoldInsert
{
	int64		hold_id;
	int64		wallet_id;
	const char *status;
	int64		amount;
	TimestampTz expires_at;
	TimestampTz created_at;
	int64		hold_txn;
	const char *scene;
	bool		has_payee;
	int64		payee;
	const char *order_ref;
	int64		group_id;
} HoldInsert;

/* direct_row.c */
extern bool insert_direct(const char *relname, int n, const char *const *names, const Datum *values,
						  const bool *nulls);
extern bool update_direct(Relation rel, const ItemPointerData *tid, const char *keycol, int64 key, int n,
						  const char *const *names, const Datum *values, const bool *nulls, HeapTuple *before,
						  HeapTuple *after);

/* direct_hold.c */
extern bool hold_row_direct(const HoldInsert *h);
extern bool hold_change_direct(const HoldRow *h, const char *status, int64 captured, int64 released,
							   TimestampTz expires_at);

#endif							/* WALLET_STORE_H */
