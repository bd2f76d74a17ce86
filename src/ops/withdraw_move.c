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
 * The wallet row written back (when its lots change), the withdrawal's row
 * and the journal row, in one statement (no key); $14 on are the
 * withdrawal's.
 */
#define MOVE_WALLET \
	"WITH u AS (UPDATE wallet.wallet SET lots = $2, next_expiry = $3, version = version + 1 " \
	"WHERE wallet_id = $1 AND version = $4 RETURNING wallet_id), "
#define MOVE_JOURNAL \
	"INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, ref_txn, request, " \
	"result, postings) SELECT $5, u.wallet_id, $6, $7, $8, $9, $10, $11, $12, $13 FROM u"
#define MOVE_TYPES \
	INT8OID, OP_LOTSET, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, \
	INT8OID, JSONBOID, JSONBOID, OP_POSTINGS

static OpPlan move_review = OP_PLAN(
	MOVE_WALLET
	"d AS (UPDATE wallet.withdrawal SET status = $15, reviewer = $16, review_note = $17, reviewed_at = $9 "
	"WHERE ctid = $14) " MOVE_JOURNAL,
	17, MOVE_TYPES, TIDOID, TEXTOID, TEXTOID, TEXTOID);

static OpPlan move_settle = OP_PLAN(
	MOVE_WALLET
	"d AS (UPDATE wallet.withdrawal SET status = $15, gateway_ref = $16, settled_at = $9 "
	"WHERE ctid = $14) " MOVE_JOURNAL,
	16, MOVE_TYPES, TIDOID, TEXTOID, TEXTOID);

static OpPlan move_return = OP_PLAN(
	MOVE_WALLET
	"d AS (UPDATE wallet.withdrawal SET status = $15, return_ref = $16, return_reason = $17, returned_at = $9 "
	"WHERE ctid = $14) " MOVE_JOURNAL,
	17, MOVE_TYPES, TIDOID, TEXTOID, TEXTOID, TEXTOID);

/* An approval: the withdrawal's row and the journal row (no money moves), in one statement. */
static OpPlan approval = OP_PLAN(
	"WITH d AS (UPDATE wallet.withdrawal SET status = 'approved', reviewer = $9, review_note = $10, "
	"reviewed_at = $5 WHERE ctid = $11) "
	"INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, ref_txn, request, "
	"result) VALUES ($1, $2, 'review_withdrawal', $3, $4, $5, $6, $7, $8)",
	11, INT8OID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID, JSONBOID, JSONBOID, TEXTOID, TEXTOID, TIDOID);

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
	if (!read_withdrawal(withdrawal_id, true, r))
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
	TimestampTz next;
	Datum		args[17];
	char		nulls[17];
	OpPlan	   *plan;

	jb_begin(&jb);
	jb_text(&jb, "status", c->status);
	if (c->step == STEP_REVIEW && strcmp(c->status, "approved") == 0)
	{
		Datum		a[11] = {Int64GetDatum(txn_id), Int64GetDatum(w->id), Int64GetDatum(r->amount),
			CStringGetTextDatum(w->currency), TimestampTzGetDatum(clk), Int64GetDatum(r->request_txn),
			JsonbPGetDatum(request), JsonbPGetDatum(jb_end(&jb)), CStringGetTextDatum(c->reviewer),
		c->note ? CStringGetTextDatum(c->note) : (Datum) 0, PointerGetDatum(&r->tid)};
		char		n[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', c->note ? ' ' : 'n', ' '};

		if (run_plan(op_plan(&approval), a, n, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not journal the review of withdrawal %lld", (long long) r->withdrawal_id);
		return;
	}

	b = lotset_unpack(w->lots);
	postings_init(&legs);
	if (c->step == STEP_RETURN)
	{
		/* a credit like any other: a debt is repaid first (its own journal row, ref_txn this one) */
		credit_earnings(w->id, b, r->amount, txn_id, clk);
		post_withdraw_return(&legs, w->id, r->amount, r->net, r->fee);
	}
	else
	{
		bool		release = strcmp(c->status, "succeeded") != 0;

		engine_withdraw_end(b, r->amount, clk, release);
		post_withdraw_end(&legs, w->id, release, r->amount, r->net, r->fee);
	}
	next = engine_next_expiry(b);
	memset(nulls, ' ', sizeof(nulls));
	args[0] = Int64GetDatum(w->id);
	args[1] = PointerGetDatum(lotset_pack(b));
	args[2] = TimestampTzGetDatum(next);
	nulls[2] = next == WALLET_NO_TIME ? 'n' : ' ';
	args[3] = Int64GetDatum(w->version);
	args[4] = Int64GetDatum(txn_id);
	args[5] = CStringGetTextDatum(kind);
	args[6] = Int64GetDatum(r->amount);
	args[7] = CStringGetTextDatum(w->currency);
	args[8] = TimestampTzGetDatum(clk);
	args[9] = Int64GetDatum(r->request_txn);
	args[10] = JsonbPGetDatum(request);
	args[11] = JsonbPGetDatum(jb_end(&jb));
	args[12] = legs_of(&legs, kind);
	args[13] = PointerGetDatum(&r->tid);
	args[14] = CStringGetTextDatum(c->status);
	switch (c->step)
	{
		case STEP_REVIEW:
			plan = &move_review;
			args[15] = CStringGetTextDatum(c->reviewer);
			args[16] = c->note ? CStringGetTextDatum(c->note) : (Datum) 0;
			nulls[16] = c->note ? ' ' : 'n';
			break;
		case STEP_SETTLE:
			plan = &move_settle;
			args[15] = c->gateway_ref ? CStringGetTextDatum(c->gateway_ref) : (Datum) 0;
			nulls[15] = c->gateway_ref ? ' ' : 'n';
			break;
		default:
			plan = &move_return;
			args[15] = c->gateway_ref ? CStringGetTextDatum(c->gateway_ref) : (Datum) 0;
			nulls[15] = c->gateway_ref ? ' ' : 'n';
			args[16] = CStringGetTextDatum(c->reason);
			break;
	}
	/* the wallet is locked: its version holds */
	if (run_plan(op_plan(plan), args, nulls, false, 0) != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "could not write wallet %lld", (long long) w->id);
}
