/*
 * cards.h
 *	  The rules of card intake (CONTRACT.md section 19), pure (cards.c): the
 *	  rate row that applies to a card, the market weighting of its rate, and
 *	  a card's payout and fee. Quote, submit and verify (src/ops/card_*.c)
 *	  call these and nothing else computes them.
 */
#ifndef WALLET_ENGINE_CARDS_H
#define WALLET_ENGINE_CARDS_H

#include "wallet.h"

/* One row of wallet.card_rate of a card type, money in minor units. */
typedef struct CardRate
{
	int64		rate_id;
	int64		min_face;
	int32		min_quantity;
	bool		member;			/* the wallet's own row (wallet_id set) */
	bool		has_from;
	TimestampTz valid_from;
	bool		has_until;
	TimestampTz valid_until;
	Numeric		rate;
} CardRate;

/* How a card type weights its table rate by the market (wallet.card_type). */
typedef struct CardMarket
{
	Numeric		weight;			/* market_weight */
	Numeric		floor;			/* rate_floor */
	Numeric		cap;			/* rate_cap */
	bool		has_history;	/* paid items of the type exist */
	Numeric		rate_face;		/* sum(item rate * verified face) of the last market_window of them */
	int64		face_declared;	/* sum(declared face) of those items (minor units) */
} CardMarket;

extern int	engine_card_pick(const CardRate *rows, int n, int64 face, int32 quantity, TimestampTz now);
extern Numeric engine_card_rate(Numeric table_rate, const CardMarket *m);
/* postings.c: a paid intake's legs */
extern void post_card_payout(Postings *ps, int64 wallet_id, int64 amount);

extern void engine_card_payout(int64 face, Numeric rate, Numeric fee_rate, int64 *payout, int64 *fee);

#endif							/* WALLET_ENGINE_CARDS_H */
