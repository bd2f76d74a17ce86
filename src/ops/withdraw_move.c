/*
 * withdraw_move.c
 *	  What review_withdrawal, settle_withdrawal and return_withdrawal share: a
 *	  withdrawal read with its wallet locked first, and a step of its life
 *	  journaled with the withdrawal's row changed (withdrawal_move): an
 *	  approval (no money moves), the end of its hold (rejected or failed: the
 *	  amount back to the earnings; succeeded: the net paid out, the fee kept)
 *	  or its return (the whole amount credited to the earnings again, a debt
 *	  repaid first).
 */
#include "ops/withdraw.h"

/*
 * The withdrawal's row changed by the statement where it cannot be directly
 * (update_direct): $1 the version locked, $2 on what the step sets.
 */
static OpPlan change_review = OP_PLAN(
	"UPDATE wallet.withdrawal SET status = $2, reviewer = $3, review_note = $4, reviewed_at = $5 WHERE ctid = $1",
	5, TIDOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID);

static OpPlan change_settle = OP_PLAN(
	"UPDATE wallet.withdrawal SET status = $2, gateway_ref = $3, settled_at = $4 WHERE ctid = $1",
	4, TIDOID, TEXTOID, TEXTOID, TIMESTAMPTZOID);

static OpPlan change_return = OP_PLAN(
	"UPDATE wallet.withdrawal SET status = $2, return_ref = $3, return_reason = $4, returned_at = $5 "
	"WHERE ctid = $1",
	5, TIDOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID);

static const char *const review_columns[] = {"status", "reviewer", "review_note", "reviewed_at"};
static const char *const settle_columns[] = {"status", "gateway_ref", "settled_at"};
static const char *const return_columns[] = {"status", "return_ref", "return_reason", "returned_at"};

/*
 * withdrawal_change sets what step c changes in withdrawal r's row (locked),
 * directly or by the statement, and records the step in wallet.audit
 * (withdrawal_review, withdrawal_settle, withdrawal_return of
 * withdrawal:<id>; old and new status, and what the step set).
 */
static void
withdrawal_change(const WithdrawalRow *r, const WithdrawChange *c, TimestampTz clk)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	const char *const *names;
	OpPlan	   *plan;
	const char *action;
	int			n;
	JB			jb;
	Jsonb	   *was;
	Relation	rel;
	bool		direct;

	values[0] = CStringGetTextDatum(c->status);
	jb_begin(&jb);
	jb_text(&jb, "status", c->status);
	switch (c->step)
	{
		case STEP_REVIEW:
			values[1] = CStringGetTextDatum(c->reviewer);
			values[2] = c->note ? CStringGetTextDatum(c->note) : (Datum) 0;
			nulls[2] = c->note == NULL;
			values[3] = TimestampTzGetDatum(clk);
			names = review_columns;
			n = lengthof(review_columns);
			plan = &change_review;
			action = "withdrawal_review";
			jb_text(&jb, "reviewer", c->reviewer);
			jb_text_if(&jb, true, "review_note", c->note);
			break;
		case STEP_SETTLE:
			values[1] = c->gateway_ref ? CStringGetTextDatum(c->gateway_ref) : (Datum) 0;
			nulls[1] = c->gateway_ref == NULL;
			values[2] = TimestampTzGetDatum(clk);
			names = settle_columns;
			n = lengthof(settle_columns);
			plan = &change_settle;
			action = "withdrawal_settle";
			jb_text_if(&jb, true, "gateway_ref", c->gateway_ref);
			break;
		default:
			values[1] = c->gateway_ref ? CStringGetTextDatum(c->gateway_ref) : (Datum) 0;
			nulls[1] = c->gateway_ref == NULL;
			values[2] = CStringGetTextDatum(c->reason);
			values[3] = TimestampTzGetDatum(clk);
			names = return_columns;
			n = lengthof(return_columns);
			plan = &change_return;
			action = "withdrawal_return";
			jb_text_if(&jb, true, "return_ref", c->gateway_ref);
			jb_text(&jb, "return_reason", c->reason);
			break;
	}
	rel = table_open(rel_of("withdrawal"), RowExclusiveLock);
	direct = update_direct(rel, &r->tid, "withdrawal_id", r->withdrawal_id, n, names, values, nulls, NULL, NULL);
	table_close(rel, NoLock);
	if (!direct)
		change_by_statement(plan, &r->tid, n, values, nulls, "withdrawal", r->withdrawal_id);
	{
		JB			old;

		jb_begin(&old);
		jb_text(&old, "status", r->status);
		was = jb_end(&old);
	}
	audit_record(action, psprintf("withdrawal:%lld", (long long) r->withdrawal_id), was, jb_end(&jb));
}

/*
 * withdrawal_lock reads withdrawal withdrawal_id (WL006 if there is none),
 * locks its wallet and then the withdrawal's row (FOR UPDATE), in that
 * order: the row read under the lock is the withdrawal's status now.
 */
void
withdrawal_lock(int64 withdrawal_id, WalletRow *w, WithdrawalRow *r)
{
	if (!read_withdrawal(withdrawal_id, false, r))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("withdrawal %lld does not exist", (long long) withdrawal_id)));
	read_wallet(r->wallet_id, true, false, w);
	if (!lock_withdrawal(r))
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("withdrawal %lld does not exist", (long long) withdrawal_id)));
}

/* withdrawal_refuse_step refuses a step a withdrawal's status does not allow (WL008). */
void
withdrawal_refuse_step(const WithdrawalRow *r, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_WL('8')),
			 errmsg("withdrawal %lld is %s", (long long) r->withdrawal_id, r->status),
			 errdetail("%s", detail)));
}

/*
 * withdrawal_move makes step c of withdrawal r of locked wallet w: journaled
 * as kind with the given request and result {"status": c->status}, the
 * withdrawal's row changed. A review to approved moves no money; a review to
 * rejected and a settlement end the hold (rejected, failed: released); a
 * return credits the whole amount to the earnings again.
 */
void
withdrawal_move(WalletRow *w, const WithdrawalRow *r, const char *kind, const WithdrawChange *c,
				Jsonb *request, TimestampTz clk)
{
	int64		txn_id = nextval_internal(plans.txn_seq, false);
	LotBuilder *b;
	Postings	legs;
	JB			jb;

	jb_begin(&jb);
	jb_text(&jb, "status", c->status);
	postings_init(&legs);
	if (c->step == STEP_REVIEW && strcmp(c->status, "approved") == 0)
	{
		/* no money moves: the journal row and the withdrawal's row, the wallet's unchanged */
		journal_op(w, txn_id, kind, r->amount, clk, r->request_txn, request, jb_end(&jb), legs_of(&legs, kind));
		withdrawal_change(r, c, clk);
		return;
	}

	b = lotset_unpack(w->lots);
	if (c->step == STEP_RETURN)
	{
		/* a credit like any other: a debt is repaid first (its own journal row, ref_txn this one) */
		credit_earnings(w->id, b, r->amount, txn_id, clk);
		/* a debt repaid wrote the row (its debt): the write takes its new version */
		refresh_wallet_tuple(w);
		post_withdraw_return(&legs, w->id, r->amount, r->net, r->fee);
	}
	else
	{
		bool		release = strcmp(c->status, "succeeded") != 0;

		engine_withdraw_end(b, r->amount, clk, release);
		post_withdraw_end(&legs, w->id, release, r->amount, r->net, r->fee);
	}
	/* the limits' usage: a withdrawal rejected, failed or returned gives back its amount and count */
	if (strcmp(c->status, "succeeded") != 0)
		limits_give_back(w, LIMIT_WITHDRAW, r->amount, 1, r->requested_at, clk);
	/* the wallet is locked: its version holds */
	if (!write_op(w, b, txn_id, kind, r->amount, clk, NULL, r->request_txn, request, jb_end(&jb),
				  legs_of(&legs, kind), NULL))
		elog(ERROR, "wallet %lld changed under its lock", (long long) w->id);
	withdrawal_change(r, c, clk);
}
