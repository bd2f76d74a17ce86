/*
 * withdraw_common.c
 *	  What request_withdrawal and auto_withdraw share: the wallet made ready
 *	  (holds past their expiry given back, payee credits rolled up), the
 *	  quote of a request (engine_withdraw_quote with the day's requests so
 *	  far, counted in the currency's limit_time_zone), its refusal, and the
 *	  request itself: the hold on the earnings, its journal row and the
 *	  withdrawal's row. withdraw_quote computes its quote the same way.
 */
#include "ops/withdraw.h"

static OpPlan withdrawal_insert = OP_PLAN(
	"INSERT INTO wallet.withdrawal (withdrawal_id, wallet_id, request_txn, amount, fee, net, status, "
	"destination, method, note, automatic, reviewer, requested_at, reviewed_at) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
	14, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID,
	TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID);

/* amount_text is an amount in minor units as the API shows it (major units). */
static char *
amount_text(int64 minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, major(minor, exponent)));
}

/*
 * withdraw_prepare makes locked wallet w ready for a withdrawal of need of
 * its earnings at clk (need < 0: all it has): the holds past their expiry
 * are given back (journaled) and its payee credits rolled up where they
 * count (rollup_credits_for: a debt repaid first), both written at once, so
 * that b holds what the withdrawal may take. Returns the wallet's debt after
 * that.
 */
int64
withdraw_prepare(WalletRow *w, LotBuilder *b, TimestampTz clk, int64 need)
{
	holds_give_back_due(w, b, clk);
	if (rollup_credits_for(w, b, clk, need))
	{
		/* a credit that repaid a debt wrote the row (its debt), not its lots nor its version */
		if (!save_wallet(w, b))
			elog(ERROR, "wallet %lld changed under its lock", (long long) w->id);
		w->version++;
		w->lots = lotset_pack(b);
		refresh_wallet_tuple(w);
	}
	return wallet_row_debt(w);
}

/*
 * withdraw_needs_prepare tells whether wallet w (b its lots), read without
 * its lock, needs withdraw_prepare for a withdrawal of need at clk: a hold
 * past its expiry to give back, or payee credits that count
 * (credits_count_for). Both write, and are done under the row lock only.
 */
bool
withdraw_needs_prepare(const WalletRow *w, const LotBuilder *b, TimestampTz clk, int64 need)
{
	return engine_due_hold(b, clk) != 0 || credits_count_for(w, b, need);
}

/*
 * withdraw_quote_now fills q with what a withdrawal of amount from wallet w
 * (withdrawable: its earnings) would be at clk, under its currency's rules
 * and with what it asked for today (read_only: under the caller's snapshot).
 */
void
withdraw_quote_now(WalletRow *w, int64 amount, int64 withdrawable, TimestampTz clk, bool read_only,
				   WithdrawQuote *q)
{
	CurrencyConf *conf = w->conf ? w->conf : currency_conf(w->currency, w->exponent);
	int64		used = 0;

	/*
	 * The day's requests, which a request needs only when a rule counts them
	 * and a quote shows always: the wallet's usage counters (section 20) hold
	 * them; a row without counters yet is counted from wallet.withdrawal.
	 */
	if (read_only || engine_withdraw_counts_day(&conf->withdraw))
	{
		used = limits_day_amount(w, LIMIT_WITHDRAW, conf->limit_time_zone, clk);
		if (used < 0)
			used = withdrawals_today(w->id, clk, conf->limit_time_zone, read_only);
	}

	engine_withdraw_quote(amount, withdrawable, used, &conf->withdraw, q);
}

/*
 * withdraw_refuse refuses the request quoted by q for its amount: below the
 * minimum, nothing left after the fee or past the day's maximum (WL007, the
 * limit in the detail), more than the earnings (WL001).
 */
void
withdraw_refuse(const WalletRow *w, const WithdrawQuote *q)
{
	CurrencyConf *conf = w->conf ? w->conf : currency_conf(w->currency, w->exponent);
	const WithdrawRules *r = &conf->withdraw;
	int			e = w->exponent;

	switch (q->refusal)
	{
		case WITHDRAW_OK:
			return;
		case WITHDRAW_BELOW_MINIMUM:
			ereport(ERROR,
					(errcode(ERRCODE_WL('7')),
					 errmsg("withdrawal below the minimum"),
					 errdetail("The minimum withdrawal in %s is %s; %s was asked.", w->currency,
							   amount_text(r->min, e), amount_text(q->amount, e))));
			break;
		case WITHDRAW_NET_NOT_POSITIVE:
			ereport(ERROR,
					(errcode(ERRCODE_WL('7')),
					 errmsg("withdrawal leaves nothing after its fee"),
					 errdetail("The fee of withdrawing %s is %s.", amount_text(q->amount, e),
							   amount_text(q->fee, e)),
					 errhint("Withdraw more than the fee.")));
			break;
		case WITHDRAW_SHORT:
			ereport(ERROR,
					(errcode(ERRCODE_WL('1')),
					 errmsg("insufficient funds"),
					 errdetail("Wallet %lld has %s of earnings to withdraw; %s was asked.", (long long) w->id,
							   amount_text(q->withdrawable, e), amount_text(q->amount, e))));
			break;
		case WITHDRAW_DAILY_MAX:
			ereport(ERROR,
					(errcode(ERRCODE_WL('7')),
					 errmsg("daily withdrawal maximum exceeded"),
					 errdetail("The daily maximum in %s is %s; %s was asked today, %s remains, %s was asked now.",
							   w->currency, amount_text(r->daily_max, e), amount_text(q->daily_used, e),
							   amount_text(q->daily_remaining, e), amount_text(q->amount, e)),
					 errhint("Days are counted in time zone %s.", conf->limit_time_zone)));
			break;
	}
}

/*
 * withdraw_make requests the withdrawal quoted by q (no refusal, within the
 * limits) from wallet w, made ready (withdraw_prepare; b its lots): its
 * amount is held at once, journaled as kind with key and req, and the
 * withdrawal's row written, approved when the quote needs no review, pending
 * otherwise. False (nothing written; out->txn_id the journal row it would
 * have been) when the key was taken or, w read without its lock, the row has
 * moved on since: after_no_write tells which.
 */
bool
withdraw_make(WalletRow *w, LotBuilder *b, const WithdrawQuote *q, const WithdrawSpec *s, const char *kind,
			  const char *key, Jsonb *req, TimestampTz clk, WithdrawMade *out)
{
	Postings	legs;
	JB			jb;
	int64		txn_id;
	bool		approved = !q->review;
	int64		grant;

	if (!OidIsValid(plans.withdrawal_seq))
		elog(ERROR, "wallet.withdrawal is missing: update the extension");
	out->withdrawal_id = nextval_internal(plans.withdrawal_seq, false);
	out->amount = q->amount;
	out->fee = q->fee;
	out->net = q->net;
	out->status = approved ? "approved" : "pending";
	/* the limits: the amount asked for counts from the request on (a rejection gives it back) */
	(void) limits_apply(w, LIMIT_WITHDRAW, "withdrawal", q->amount, s->step_up, clk, true, &grant);
	engine_withdraw_hold(b, q->amount, clk);
	postings_init(&legs);
	post_withdraw_hold(&legs, w->id, q->amount);
	txn_id = nextval_internal(plans.txn_seq, false);
	out->txn_id = txn_id;
	jb_begin(&jb);
	jb_int(&jb, "withdrawal_id", out->withdrawal_id);
	jb_int(&jb, "amount", out->amount);
	jb_int(&jb, "fee", out->fee);
	jb_int(&jb, "net", out->net);
	jb_text(&jb, "status", out->status);
	limits_json(&jb, grant);
	if (!write_op(w, b, txn_id, kind, q->amount, clk, key, NO_REF_TXN, req, jb_end(&jb), legs_of(&legs, kind),
				  NULL))
		return false;
	limits_used(grant, txn_id, clk);
	{
		Datum		args[14] = {Int64GetDatum(out->withdrawal_id), Int64GetDatum(w->id), Int64GetDatum(txn_id),
			Int64GetDatum(out->amount), Int64GetDatum(out->fee), Int64GetDatum(out->net),
			CStringGetTextDatum(out->status), CStringGetTextDatum(s->destination),
			s->method ? CStringGetTextDatum(s->method) : (Datum) 0, s->note ? CStringGetTextDatum(s->note) : (Datum) 0,
			BoolGetDatum(s->automatic), approved ? CStringGetTextDatum("auto") : (Datum) 0,
		TimestampTzGetDatum(clk), TimestampTzGetDatum(clk)};
		char		nulls[14] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', s->method ? ' ' : 'n', s->note ? ' ' : 'n',
		' ', approved ? ' ' : 'n', ' ', approved ? ' ' : 'n'};

		static const char *const names[14] = {"withdrawal_id", "wallet_id", "request_txn", "amount", "fee", "net",
			"status", "destination", "method", "note", "automatic", "reviewer", "requested_at",
		"reviewed_at"};
		bool		isnull[14];

		for (int i = 0; i < 14; i++)
			isnull[i] = nulls[i] == 'n';
		/* withdrawal_insert's columns in its order, written directly where the statement's outcome is the same */
		if (insert_direct("withdrawal", 14, names, args, isnull))
			return true;
		if (run_plan(op_plan(&withdrawal_insert), args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record withdrawal %lld", (long long) out->withdrawal_id);
	}
	return true;
}

/* withdraw_made_of reads a request's stored result (a replay); its status is the one it was made with. */
void
withdraw_made_of(Jsonb *prior, WithdrawMade *out)
{
	JsonbValue *st = jsonb_member(prior, "status");

	out->withdrawal_id = jsonb_int(prior, "withdrawal_id");
	out->amount = jsonb_int(prior, "amount");
	out->fee = jsonb_int(prior, "fee");
	out->net = jsonb_int(prior, "net");
	out->status = st != NULL && st->type == jbvString && st->val.string.len == 8 &&
		strncmp(st->val.string.val, "approved", 8) == 0 ? "approved" : "pending";
}
