/*
 * cards.h
 *	  Private to the card intake operations (src/ops/card_*.c, CONTRACT.md
 *	  section 19): a card type and its rates as read (card_common.c), the
 *	  price of a card (the engine's rules over them), an intake read and
 *	  locked with its wallet, its payment; the secrets' keyed hash
 *	  (card_secret.c).
 */
#ifndef WALLET_OPS_CARDS_H
#define WALLET_OPS_CARDS_H

#include "ops/ops.h"
#include "engine/cards.h"

#include "common/hmac.h"

#define CARD_BATCH_MAX 10000
#define CARD_HASH_LEN 32		/* HMAC-SHA256 */

/* A card type as the operations read it; money in minor units. */
typedef struct CardType
{
	char	   *card_type;
	char	   *currency;
	int			exponent;
	int			nfaces;			/* 0: any face value */
	int64	   *faces;
	Numeric		fee_rate;
	int32		market_window;
	CardMarket	market;			/* weight, floor, cap; the history read by card_market_read */
	int			nrates;
	CardRate   *rates;			/* read by card_rates_read */
} CardType;

/* What one card is quoted: the rate (locked), its row, payout and fee each. */
typedef struct CardPrice
{
	Numeric		rate;
	int64		rate_id;
	int64		payout;
	int64		fee;
} CardPrice;

/* An intake's row (minor units). */
typedef struct IntakeRow
{
	int64		intake_id;
	int64		wallet_id;
	const char *status;			/* a constant: pending, review, paid, rejected */
	int64		submit_txn;
	int32		items;
} IntakeRow;

/* The settings of card intake of a currency (wallet._policy). */
typedef struct CardPolicy
{
	Interval	quote_valid_for;
	int64		review_daily;	/* minor units */
	char	   *time_zone;
} CardPolicy;

/* card_common.c */
extern void card_type_read(const char *card_type, CardType *t);
extern void card_face_check(const CardType *t, int64 face, int position);
extern void card_rates_read(CardType *t, int64 wallet_id);
extern void card_market_read(CardType *t);
extern void card_price(const CardType *t, int64 face, int32 quantity, TimestampTz now, CardPrice *p);
extern void card_policy(const char *currency, int exponent, CardPolicy *p);
extern char *card_amount_text(int64 minor, int exponent);
extern void intake_lock(int64 intake_id, WalletRow *w, IntakeRow *k);
extern void intake_refuse(const IntakeRow *k, const char *detail) pg_attribute_noreturn();
extern int64 intake_pay(WalletRow *w, const IntakeRow *k, int64 total, int32 items_paid, const char *kind,
						const char *key, Jsonb *req, TimestampTz clk);

/* card_secret.c */
extern void card_key(uint8 *key);
extern void card_secret_hash(pg_hmac_ctx *ctx, const uint8 *key, text *secret, int position, uint8 *hash, char *last4);

#endif							/* WALLET_OPS_CARDS_H */
