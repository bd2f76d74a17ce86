/*
 * reversal.h
 *	  Private to reverse_spend (src/ops/reverse_spend.c and reverse_read.c):
 *	  the spend being reversed as its journal row has it, what its earlier
 *	  reversals took, and the locks of its wallets in wallet-id order.
 */
#ifndef WALLET_OPS_REVERSAL_H
#define WALLET_OPS_REVERSAL_H

#include "ops/ops.h"

/*
 * The spend being reversed, as its journal row has it (minor units): a spend
 * or a capture has at most one payee, whose part is all it charged; a split
 * payment (spend_split) names each payee with its part.
 */
typedef struct SpendTxn
{
	int64		txn_id;
	bool		found;
	int64		wallet_id;
	int			npayees;		/* 0: none */
	bool		split;			/* a split payment: its reversals name each payee's part */
	int64	   *payees;
	int64	   *parts;			/* each payee's part of charged */
	int64	   *credits;		/* what each was credited (its part less commission) */
	int64		charged;
	int64		discount;
	int64		given[WALLET_NBUCKETS]; /* how it was funded */
	LotSet	   *pieces;
	int64		points;			/* reward points it earned (section 18); 0: none */
	int64		points_wallet;	/* the wallet they went to */
	TimestampTz counted_at;		/* when the limits counted it (a capture: when its hold was made) */
	bool		capture;		/* a capture of a hold: its count stays with the hold */
	int64		hold_id;		/* a capture's hold; 0: none */
} SpendTxn;

/* What earlier reversals of the spend took. */
typedef struct Reversed
{
	int			n;				/* how many */
	int64		done;			/* their amounts */
	int64	   *part_done;		/* per payee: what they reversed of its part */
	int64	   *back_done;		/* per payee: what they took back from it */
	int64		points_done;	/* reward points they took back */
	int			npayees;
	LotBuilder *remaining;		/* the spend's pieces not given back yet */
} Reversed;

/* reverse_read.c */
extern void read_spend(int64 txn_id, SpendTxn *sp);
extern void read_reversed(const SpendTxn *sp, Reversed *rv);
extern void reversal_lock(const SpendTxn *sp, bool lock, WalletRow *w, WalletRow *pw, WalletRow *ptw);

#endif							/* WALLET_OPS_REVERSAL_H */
