/*
 * card_common.c
 *	  What the card intake operations share: a card type, its rate rows and
 *	  its market history read, the price of a card (the engine's rules over
 *	  them: src/engine/cards.c), the currency's card settings, an intake read
 *	  with its wallet locked first, and an intake's payment to the earnings.
 */
#include "ops/cards.h"

#include "utils/numeric.h"

static OpPlan type_read = OP_PLAN(
	"SELECT t.currency, c.exponent, t.face_values, t.fee_rate, t.market_weight, t.market_window, t.rate_floor, "
	"t.rate_cap, t.active FROM wallet.card_type t JOIN wallet.currency c ON c.code = t.currency "
	"WHERE t.card_type = $1",
	1, TEXTOID);

/* the rate rows of a type that may apply to wallet $2 (validity is the engine's to judge) */
static OpPlan rates_read = OP_PLAN(
	"SELECT r.rate_id, (r.min_face * $3)::bigint, r.min_quantity, r.wallet_id IS NOT NULL, r.valid_from, "
	"r.valid_until, r.rate FROM wallet.card_rate r "
	"WHERE r.card_type = $1 AND (r.wallet_id IS NULL OR r.wallet_id = $2)",
	3, TEXTOID, INT8OID, NUMERICOID);

/* the last $2 verified items of paid intakes of the type: sum(rate * verified face), sum(declared face) */
static OpPlan market_read = OP_PLAN(
	"SELECT count(*), coalesce(sum(x.rate * least(x.face_value, x.actual_face)), 0), "
	"coalesce(sum(x.face_value), 0)::bigint FROM ("
	"SELECT i.rate, i.face_value, i.actual_face FROM wallet.card_intake k "
	"JOIN wallet.card_item i ON i.intake_id = k.intake_id "
	"WHERE k.card_type = $1 AND k.status = 'paid' AND i.status = 'verified' "
	"ORDER BY k.paid_at DESC, k.intake_id DESC, i.position DESC LIMIT $2) x",
	2, TEXTOID, INT4OID);

static OpPlan policy_read = OP_PLAN(
	"SELECT p.card_quote_valid_for, floor(p.card_review_daily * $2)::bigint, p.limit_time_zone "
	"FROM wallet._policy($1) p",
	2, TEXTOID, NUMERICOID);

static OpPlan intake_read = OP_PLAN(
	"SELECT k.wallet_id, k.status, k.submit_txn, k.items FROM wallet.card_intake k WHERE k.intake_id = $1",
	1, INT8OID);

static OpPlan intake_read_locked = OP_PLAN(
	"SELECT k.wallet_id, k.status, k.submit_txn, k.items FROM wallet.card_intake k WHERE k.intake_id = $1 "
	"FOR UPDATE",
	1, INT8OID);

static OpPlan intake_paid = OP_PLAN(
	"UPDATE wallet.card_intake SET status = 'paid', paid = $2, items_paid = $3, pay_txn = $4, paid_at = $5, "
	"settle_txn = coalesce(settle_txn, $4), settled_at = coalesce(settled_at, $5) WHERE intake_id = $1",
	5, INT8OID, INT8OID, INT4OID, INT8OID, TIMESTAMPTZOID);

/* ten to the power of a currency's exponent, as numeric: major units to minor */
static Datum
minor_scale(int exponent)
{
	int64		s = 1;

	for (int i = 0; i < exponent; i++)
		s *= 10;
	return NumericGetDatum(int64_to_numeric(s));
}

/* card_amount_text is an amount in minor units as the API shows it (major units). */
char *
card_amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

/*
 * card_type_read reads card type card_type into t (its rates and market are
 * read apart); an unknown or inactive type is refused (22023).
 */
void
card_type_read(const char *card_type, CardType *t)
{
	Datum		args[1] = {CStringGetTextDatum(card_type)};
	bool		isnull;
	Datum		faces;

	memset(t, 0, sizeof(CardType));
	if (run_plan(op_plan(&type_read), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read card type \"%s\"", card_type);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown card type \"%s\"", card_type),
				 errhint("Card types are listed in wallet.card_type.")));
	if (!DatumGetBool(getcol(9, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("card type \"%s\" is not active", card_type)));
	t->card_type = pstrdup(card_type);
	t->currency = TextDatumGetCString(getcol(1, &isnull));
	t->exponent = DatumGetInt32(getcol(2, &isnull));
	faces = getcol(3, &isnull);
	if (!isnull)
	{
		Datum	   *v;
		bool	   *nl;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(faces), NUMERICOID, -1, false, TYPALIGN_INT, &v, &nl, &n);
		t->nfaces = n;
		t->faces = palloc(sizeof(int64) * Max(n, 1));
		for (int i = 0; i < n; i++)
			t->faces[i] = numeric_to_minor(DatumGetNumeric(v[i]), t->exponent, "face_values");
	}
	t->fee_rate = DatumGetNumeric(getcol(4, &isnull));
	t->market.weight = DatumGetNumeric(getcol(5, &isnull));
	t->market_window = DatumGetInt32(getcol(6, &isnull));
	t->market.floor = DatumGetNumeric(getcol(7, &isnull));
	t->market.cap = DatumGetNumeric(getcol(8, &isnull));
}

/*
 * card_face_check refuses a face value (minor units) the type does not take
 * (22023): face_values[position], or face_value when position is 0.
 */
void
card_face_check(const CardType *t, int64 face, int position)
{
	StringInfoData list;

	if (t->nfaces == 0)
		return;
	for (int i = 0; i < t->nfaces; i++)
		if (t->faces[i] == face)
			return;
	initStringInfo(&list);
	for (int i = 0; i < t->nfaces; i++)
		appendStringInfo(&list, "%s%s", i ? ", " : "", card_amount_text(t->faces[i], t->exponent));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: card type \"%s\" takes no face value of %s",
					position > 0 ? psprintf("face_values[%d]", position) : "face_value", t->card_type,
					card_amount_text(face, t->exponent)),
			 errdetail("Card type \"%s\" takes %s.", t->card_type, list.data)));
}

/* card_rates_read reads the rate rows of t that may apply to wallet_id (0: none, general rows only). */
void
card_rates_read(CardType *t, int64 wallet_id)
{
	Datum		args[3] = {CStringGetTextDatum(t->card_type), Int64GetDatum(wallet_id), minor_scale(t->exponent)};
	char		nulls[3] = {' ', wallet_id == 0 ? 'n' : ' ', ' '};

	if (run_plan(op_plan(&rates_read), args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the rates of card type \"%s\"", t->card_type);
	t->nrates = (int) SPI_processed;
	t->rates = palloc0(sizeof(CardRate) * Max(t->nrates, 1));
	for (int i = 0; i < t->nrates; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		CardRate   *r = &t->rates[i];
		bool		isnull;
		Datum		d;

		r->rate_id = DatumGetInt64(SPI_getbinval(row, td, 1, &isnull));
		r->min_face = DatumGetInt64(SPI_getbinval(row, td, 2, &isnull));
		r->min_quantity = DatumGetInt32(SPI_getbinval(row, td, 3, &isnull));
		r->member = DatumGetBool(SPI_getbinval(row, td, 4, &isnull));
		d = SPI_getbinval(row, td, 5, &isnull);
		r->has_from = !isnull;
		r->valid_from = isnull ? 0 : DatumGetTimestampTz(d);
		d = SPI_getbinval(row, td, 6, &isnull);
		r->has_until = !isnull;
		r->valid_until = isnull ? 0 : DatumGetTimestampTz(d);
		r->rate = DatumGetNumeric(SPI_getbinval(row, td, 7, &isnull));
	}
}

/*
 * card_market_read reads the history the market weighting of t needs: the
 * last market_window verified items of its paid intakes. Not read when the
 * type gives the market no weight.
 */
void
card_market_read(CardType *t)
{
	Datum		args[2] = {CStringGetTextDatum(t->card_type), Int32GetDatum(t->market_window)};
	bool		isnull;

	t->market.has_history = false;
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(t->market.weight),
										  NumericGetDatum(int64_to_numeric(0)))) <= 0)
		return;
	if (run_plan(op_plan(&market_read), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the market of card type \"%s\"", t->card_type);
	t->market.has_history = DatumGetInt64(getcol(1, &isnull)) > 0;
	t->market.rate_face = DatumGetNumeric(getcol(2, &isnull));
	t->market.face_declared = DatumGetInt64(getcol(3, &isnull));
}

/*
 * card_price prices a card of face value face (minor units) in a batch of
 * quantity at now, with t's rates and market read: the rate row that
 * applies, weighted by the market and clamped, and the payout and fee each.
 * No row in force is WL008.
 */
void
card_price(const CardType *t, int64 face, int32 quantity, TimestampTz now, CardPrice *p)
{
	int			i = engine_card_pick(t->rates, t->nrates, face, quantity, now);

	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("no card rate in force for card type \"%s\"", t->card_type),
				 errdetail("No rate of card type \"%s\" applies to a face value of %s in a batch of %d now.",
						   t->card_type, card_amount_text(face, t->exponent), quantity),
				 errhint("Add one with wallet.add_card_rate.")));
	p->rate = engine_card_rate(t->rates[i].rate, &t->market);
	p->rate_id = t->rates[i].rate_id;
	engine_card_payout(face, p->rate, t->fee_rate, &p->payout, &p->fee);
}

/* card_policy reads the card intake settings of currency (its exponent given). */
void
card_policy(const char *currency, int exponent, CardPolicy *p)
{
	Datum		args[2] = {CStringGetTextDatum(currency), minor_scale(exponent)};
	bool		isnull;

	if (run_plan(op_plan(&policy_read), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the policy of %s", currency);
	p->quote_valid_for = *DatumGetIntervalP(getcol(1, &isnull));
	p->review_daily = DatumGetInt64(getcol(2, &isnull));
	p->time_zone = TextDatumGetCString(getcol(3, &isnull));
}

static const char *const intake_statuses[] = {"pending", "review", "paid", "rejected"};

static const char *
intake_status(Datum d)
{
	char	   *s = TextDatumGetCString(d);

	for (int i = 0; i < (int) lengthof(intake_statuses); i++)
		if (strcmp(s, intake_statuses[i]) == 0)
			return intake_statuses[i];
	elog(ERROR, "intake status \"%s\" is unknown", s);
	return NULL;				/* keep the compiler quiet */
}

/* intake_of reads an intake's row: false if there is none. */
static bool
intake_of(int64 intake_id, bool lock, IntakeRow *k)
{
	Datum		args[1] = {Int64GetDatum(intake_id)};
	bool		isnull;

	if (run_plan(op_plan(lock ? &intake_read_locked : &intake_read), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read intake %lld", (long long) intake_id);
	if (SPI_processed != 1)
		return false;
	k->intake_id = intake_id;
	k->wallet_id = DatumGetInt64(getcol(1, &isnull));
	k->status = intake_status(getcol(2, &isnull));
	k->submit_txn = DatumGetInt64(getcol(3, &isnull));
	k->items = DatumGetInt32(getcol(4, &isnull));
	return true;
}

/*
 * intake_lock reads intake intake_id (WL006 if there is none), locks its
 * wallet and then the intake's row, in that order: the row read under the
 * lock is the intake's status now.
 */
void
intake_lock(int64 intake_id, WalletRow *w, IntakeRow *k)
{
	if (!intake_of(intake_id, false, k))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("intake %lld does not exist", (long long) intake_id)));
	read_wallet(k->wallet_id, true, false, w);
	if (!intake_of(intake_id, true, k))
		elog(ERROR, "intake %lld vanished under its wallet's lock", (long long) intake_id);
}

/* intake_refuse refuses a step an intake's status does not allow (WL008). */
void
intake_refuse(const IntakeRow *k, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_WL('8')),
			 errmsg("intake %lld is %s", (long long) k->intake_id, k->status),
			 errdetail("%s", detail)));
}

/*
 * intake_pay pays intake k of locked wallet w: total (minor units, items_paid
 * verified cards) credited to the earnings (a debt repaid first), journaled
 * as kind with key (NULL: none) and req, posted against card_purchase; the
 * intake marked paid. Returns the journal row's id.
 */
int64
intake_pay(WalletRow *w, const IntakeRow *k, int64 total, int32 items_paid, const char *kind, const char *key,
		   Jsonb *req, TimestampTz clk)
{
	int64		txn_id = nextval_internal(plans.txn_seq, false);
	LotBuilder *b = lotset_unpack(w->lots);
	Postings	legs;
	JB			jb;

	int64		grant;

	/* the limits: a settlement is refused past them (WL007, WL009); a reviewer's approval is counted */
	if (key != NULL)
		(void) limits_apply(w, LIMIT_CARD_PAYOUT, "card payout", total, NULL, clk, true, &grant);
	else
		limits_count(w, LIMIT_CARD_PAYOUT, total, clk);
	if (total > 0)
	{
		credit_earnings(w->id, b, total, txn_id, clk);
		/* a debt repaid wrote the row (its debt): the write takes its new version */
		refresh_wallet_tuple(w);
	}
	postings_init(&legs);
	post_card_payout(&legs, w->id, total);
	jb_begin(&jb);
	jb_int(&jb, "txn_id", txn_id);
	jb_int(&jb, "intake_id", k->intake_id);
	jb_int(&jb, "paid", total);
	jb_int(&jb, "items_paid", items_paid);
	jb_text(&jb, "status", "paid");
	if (!write_op(w, b, txn_id, kind, total, clk, key, k->submit_txn, req, jb_end(&jb), legs_of(&legs, kind), NULL))
	{
		if (key != NULL)
			(void) after_no_write(w, key, kind, req, txn_id);
		elog(ERROR, "could not write wallet %lld", (long long) w->id);
	}
	{
		Datum		args[5] = {Int64GetDatum(k->intake_id), Int64GetDatum(total), Int32GetDatum(items_paid),
		Int64GetDatum(txn_id), TimestampTzGetDatum(clk)};

		if (run_plan(op_plan(&intake_paid), args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
			elog(ERROR, "could not mark intake %lld paid", (long long) k->intake_id);
	}
	return txn_id;
}
