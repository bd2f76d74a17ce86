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

/* What a hold reserves and for what (hold.c: hold_make), amounts in minor units. */
typedef struct HoldSpec
{
	int64		amount;
	const char *scene;			/* NULL: none */
	TimestampTz expires;
	bool		partial;
	bool		has_payee;
	int64		payee;
	const char *order_ref;		/* NULL: none */
	bool		has_max;
	int64		max_charge;
	int64		group_id;		/* a group payment's share; 0: none */
	int32		group_joined;	/* a share: how many have joined with it (its result says) */
	bool		group_paid;		/* a share: whether its join pays the group (its result says) */
	const char *step_up;		/* a step-up grant's token (section 20); NULL: none */
} HoldSpec;

/* A hold made (or replayed): its result. */
typedef struct HoldMade
{
	int64		txn_id;
	int64		hold_id;
	int64		held;
	int64		used[WALLET_NBUCKETS];
	int64		shortfall;
	TimestampTz expires_at;
} HoldMade;

/* hold.c */
extern OpTry hold_try(WalletRow *w, const HoldSpec *s, TimestampTz clk, const char *kind, const char *key,
						Jsonb *req, bool locked, HoldMade *out);
extern void hold_make(WalletRow *w, const HoldSpec *s, TimestampTz clk, const char *kind, const char *key,
					  Jsonb *req, HoldMade *out);
extern void hold_made_of(Jsonb *prior, HoldMade *out);

/* The outcome of a capture, in minor units. */
typedef struct CaptureDone
{
	int64		txn_id;
	int64		captured;
	int64		used[WALLET_NBUCKETS];
	int64		released;
	int64		remaining;
	const char *status;
	int64		points;			/* reward points earned (minor units of points_exponent) */
	int			points_exponent;
} CaptureDone;

/* The outcome of a release, in minor units. */
typedef struct ReleaseDone
{
	int64		txn_id;
	int64		released;
	int64		remaining;
	const char *status;
} ReleaseDone;

/*
 * A capture or release of a hold by its id (arguments 0 and 2), made by
 * op_optimistic, which reads it with hold_move_read: the state of both, first
 * in the state of each.
 */
typedef struct HoldMove
{
	FunctionCallInfo fcinfo;
	int64		hold_id;
	int			final;			/* a capture's argument; -1: a release */
	TimestampTz clk;
	WalletRow	w;
	HoldRow		h;
	int64		amount;			/* minor units; -1: all that remains */
} HoldMove;

/* hold_release.c */
extern void hold_release_locked(WalletRow *w, HoldRow *h, int64 amount, TimestampTz clk, const char *key,
								Jsonb *req, ReleaseDone *out);

/* hold_capture_run.c */
extern OpTry hold_capture_try(WalletRow *w, HoldRow *h, int64 amount, bool final, TimestampTz clk,
							   const char *key, Jsonb *req, bool locked, CaptureDone *out);
extern void hold_capture_locked(WalletRow *w, HoldRow *h, int64 amount, bool final, TimestampTz clk,
								const char *key, Jsonb *req, CaptureDone *out);

/* hold_expiry.c */
extern Interval *hold_ttl(FunctionCallInfo fcinfo, int argno);
extern char *ttl_text(const Interval *ttl);
extern void hold_lock(int64 hold_id, WalletRow *w, HoldRow *h);
extern bool hold_plain(const HoldRow *h, int64 remaining, int64 amount, TimestampTz clk);
extern void hold_move_read(OpOptimistic *op, bool lock, int attempt);
extern void hold_move_refuse(const HoldMove *m, bool lock, const char *what);
extern bool hold_lapsed(const HoldRow *h, TimestampTz clk);
extern void refuse_unless_open(const HoldRow *h, TimestampTz clk, const char *what);
extern int64 hold_share(const WalletRow *w, const HoldRow *h, int64 remaining, int64 amount, const char *what);
extern void hold_change(const HoldRow *h, const char *status, int64 captured, int64 released,
						TimestampTz expires_at);
extern const char *hold_status_after(int64 captured, int64 remaining);

/* group_expire.c: group payments past their time, written down (the holds sweep runs it too) */
extern int	groups_expire_due(TimestampTz clk, int batch);

#endif							/* WALLET_OPS_HOLDS_H */
