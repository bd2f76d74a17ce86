/*
 * card_settle.c
 *	  wallet.settle_intake: an intake whose cards are all checked is paid to
 *	  the wallet's earnings (posted against card_purchase), or, when the
 *	  wallet's card payouts of the day would pass policy.card_review_daily,
 *	  sent to review with nothing credited (CONTRACT.md section 19).
 */
#include "ops/cards.h"

PG_FUNCTION_INFO_V1(wallet_settle_intake);

/* what the checks of an intake's cards came to: pending cards, verified cards and their payouts */
static OpPlan intake_sums = OP_PLAN(
	"SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'verified'), "
	"coalesce(sum(payout) FILTER (WHERE status = 'verified'), 0)::bigint "
	"FROM wallet.card_item WHERE intake_id = $1",
	1, INT8OID);

/* what a wallet's intakes paid in the calendar day of $2 in time zone $3 */
static OpPlan paid_today = OP_PLAN(
	"SELECT coalesce(sum(k.paid), 0)::bigint FROM wallet.card_intake k "
	"WHERE k.wallet_id = $1 AND k.status = 'paid' "
	"AND k.paid_at >= (date_trunc('day', $2 AT TIME ZONE $3) AT TIME ZONE $3) "
	"AND k.paid_at < ((date_trunc('day', $2 AT TIME ZONE $3) + interval '1 day') AT TIME ZONE $3)",
	3, INT8OID, TIMESTAMPTZOID, TEXTOID);

static OpPlan to_review = OP_PLAN(
	"UPDATE wallet.card_intake SET status = 'review', settle_txn = $2, settled_at = $3 WHERE intake_id = $1",
	3, INT8OID, INT8OID, TIMESTAMPTZOID);

/* The outcome of a settlement, minor units. */
typedef struct SettleOut
{
	int64		txn_id;
	int64		paid;
	int32		items_paid;
	const char *status;
} SettleOut;

/* settle_locked settles intake k of locked wallet w (see the file's header). */
static void
settle_locked(WalletRow *w, const IntakeRow *k, const char *key, Jsonb *req, TimestampTz clk, SettleOut *out)
{
	Datum		args[3] = {Int64GetDatum(k->intake_id)};
	bool		isnull;
	int64		pending;
	int64		total;
	int64		today;
	CardPolicy	pol;

	if (strcmp(k->status, "pending") != 0)
		intake_refuse(k, "Only an intake whose cards are being checked can be settled.");
	if (run_plan(op_plan(&intake_sums), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the cards of intake %lld", (long long) k->intake_id);
	pending = DatumGetInt64(getcol(1, &isnull));
	out->items_paid = (int32) DatumGetInt64(getcol(2, &isnull));
	total = DatumGetInt64(getcol(3, &isnull));
	if (pending > 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("intake %lld has cards not checked yet", (long long) k->intake_id),
				 errdetail("%lld of its %d cards are pending.", (long long) pending, k->items),
				 errhint("Check each with wallet.verify_card first.")));
	card_policy(w->currency, w->exponent, &pol);
	args[0] = Int64GetDatum(w->id);
	args[1] = TimestampTzGetDatum(clk);
	args[2] = CStringGetTextDatum(pol.time_zone);
	if (run_plan(op_plan(&paid_today), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the card payouts of wallet %lld", (long long) w->id);
	today = DatumGetInt64(getcol(1, &isnull));
	if (total > 0 && checked_add(today, total) > pol.review_daily)
	{
		LotBuilder *lots = lotset_unpack(w->lots);
		Postings	legs;
		JB			jb;

		out->txn_id = nextval_internal(plans.txn_seq, false);
		out->paid = 0;
		out->items_paid = 0;
		out->status = "review";
		postings_init(&legs);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", out->txn_id);
		jb_int(&jb, "intake_id", k->intake_id);
		jb_int(&jb, "paid", 0);
		jb_int(&jb, "items_paid", 0);
		jb_text(&jb, "status", "review");
		jb_int(&jb, "owed", total);
		jb_int(&jb, "paid_today", today);
		if (!write_op(w, lots, out->txn_id, "settle_intake", 0, clk, key, k->submit_txn, req, jb_end(&jb),
					  legs_of(&legs, "settle_intake"), NULL))
		{
			(void) after_no_write(w, key, "settle_intake", req, out->txn_id);
			elog(ERROR, "could not write wallet %lld", (long long) w->id);
		}
		args[0] = Int64GetDatum(k->intake_id);
		args[1] = Int64GetDatum(out->txn_id);
		args[2] = TimestampTzGetDatum(clk);
		if (run_plan(op_plan(&to_review), args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
			elog(ERROR, "could not send intake %lld to review", (long long) k->intake_id);
		return;
	}
	out->paid = total;
	out->status = "paid";
	out->txn_id = intake_pay(w, k, total, out->items_paid, "settle_intake", key, req, clk);
}

/*
 * wallet.settle_intake(intake_id, idempotency_key) returns (txn_id, paid,
 * items_paid, status). The key belongs to the intake's wallet.
 */
static Datum
settle_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	char	   *key = check_text(fcinfo, 1, "idempotency_key", 200, true);
	int64		intake_id = op_int8_arg(fcinfo, 0, "intake_id");
	WalletRow	w;
	IntakeRow	k;
	JB			jb;
	Jsonb	   *req;
	Jsonb	   *prior;
	SettleOut	out;
	int			exponent;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	op_start();
	pin_key_lookups();
	intake_lock(intake_id, &w, &k);
	exponent = w.exponent;
	jb_begin(&jb);
	jb_int(&jb, "intake_id", intake_id);
	req = jb_end(&jb);
	prior = find_replay(&w, key, "settle_intake", req);
	if (prior != NULL)
	{
		JsonbValue *st = jsonb_member(prior, "status");

		out.txn_id = jsonb_int(prior, "txn_id");
		out.paid = jsonb_int(prior, "paid");
		out.items_paid = (int32) jsonb_int(prior, "items_paid");
		out.status = st != NULL && st->type == jbvString && st->val.string.len == 6 &&
			strncmp(st->val.string.val, "review", 6) == 0 ? "review" : "paid";
	}
	else
		settle_locked(&w, &k, key, req, clk, &out);
	op_leave(caller);
	values[0] = Int64GetDatum(out.txn_id);
	values[1] = major(out.paid, exponent);
	values[2] = Int32GetDatum(out.items_paid);
	values[3] = CStringGetTextDatum(out.status);
	{
		static const Oid types[4] = {INT8OID, NUMERICOID, INT4OID, TEXTOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_settle_intake(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(settle_body, fcinfo);
}
