/*
 * adjust.c
 *	  wallet.adjust: the journaled, audited correction of one bucket of a
 *	  wallet by a signed amount, against the system account adjustment
 *	  (CONTRACT.md section 22, docs/runbook.md), on the shared pipeline. A
 *	  credit is a new lot (cash without a refund window, bonus without expiry
 *	  or scope, earnings after repaying the wallet's debt); a debit takes
 *	  from the bucket's live lots in spending order (bonus of any scope) and
 *	  never below zero (WL001). A correction is the platform's: a frozen
 *	  wallet is adjusted too. repair 'lots' changes the lots and journals the
 *	  repair without postings; repair 'journal' posts without touching the
 *	  lots.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_adjust);

static OpPlan audit_row = OP_PLAN(
	"INSERT INTO wallet.audit (at, actor, action, object, old, new) "
	"VALUES ($1, session_user, 'adjust', 'wallet:' || $2, NULL, $3)",
	3, TIMESTAMPTZOID, INT8OID, JSONBOID);

/* adjust_request is an adjustment's request, with txn_id when txn_id > 0 (the audit row's). */
static Jsonb *
adjust_request(const char *bucket, int64 x, const char *reason, const char *repair, int64 txn_id)
{
	JB			jb;

	jb_begin(&jb);
	jb_text(&jb, "bucket", bucket);
	jb_int(&jb, "amount", x);
	jb_text(&jb, "reason", reason);
	jb_text(&jb, "repair", repair);
	if (txn_id > 0)
		jb_int(&jb, "txn_id", txn_id);
	return jb_end(&jb);
}

/*
 * wallet.adjust(wallet_id, bucket, amount, reason, idempotency_key, repair)
 * returns (txn_id, replayed).
 */
static Datum
adjust_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 4, "idempotency_key", 200, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	char	   *bucket = check_text(fcinfo, 1, "bucket", 8, true);
	char	   *reason;
	char	   *repair = NULL;
	int			b_no;
	int64		wallet_id;
	WalletRow	w;
	int64		x;
	Jsonb	   *req;
	Jsonb	   *prior;
	int64		txn_id;
	bool		replayed = false;

	b_no = bucket_from_name(bucket, true);
	if (b_no < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket must be cash, bonus or earnings"),
				 errdetail("Got \"%s\".", bucket)));
	reason = check_text(fcinfo, 3, "reason", 1000, true);
	if (!PG_ARGISNULL(5))
	{
		repair = text_to_cstring(PG_GETARG_TEXT_PP(5));
		if (strcmp(repair, "lots") != 0 && strcmp(repair, "journal") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("repair must be NULL, lots or journal"),
					 errdetail("Got \"%s\".", repair),
					 errhint("NULL corrects the lots and the journal together; see the runbook for the other two.")));
	}
	wallet_id = op_begin(fcinfo);
	read_wallet(wallet_id, true, false, &w);
	/* checked as every amount (NULL, NaN, decimals, size), then signed */
	if (!PG_ARGISNULL(2) &&
		DatumGetBool(DirectFunctionCall2(numeric_eq, PG_GETARG_DATUM(2), NumericGetDatum(int64_to_numeric(0)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be zero"),
				 errhint("A positive amount credits the bucket, a negative one debits it.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be null")));
	x = numeric_to_minor(DatumGetNumeric(DirectFunctionCall1(numeric_abs, PG_GETARG_DATUM(2))), w.exponent,
						 "amount");
	if (DatumGetBool(DirectFunctionCall2(numeric_lt, PG_GETARG_DATUM(2), NumericGetDatum(int64_to_numeric(0)))))
		x = -x;
	req = adjust_request(bucket, x, reason, repair, 0);
	prior = find_replay(&w, key, "adjust", req);
	if (prior != NULL)
	{
		txn_id = jsonb_int(prior, "txn_id");
		replayed = true;
	}
	else
	{
		Postings	legs;
		JB			jb;

		txn_id = nextval_internal(plans.txn_seq, false);
		if (repair == NULL || strcmp(repair, "journal") != 0)
		{
			LotBuilder *b = lotset_unpack(w.lots);

			holds_give_back_due(&w, b, clk);

			if (b_no == BUCKET_EARNINGS)
				(void) rollup_credits(w.id, b, clk);
			if (x > 0 && b_no == BUCKET_EARNINGS && repair == NULL)
				credit_earnings(w.id, b, x, txn_id, clk);	/* a debt is repaid first */
			else if (x > 0)
				engine_add(b, b_no, x, txn_id, clk, WALLET_NO_TIME, NULL);
			else
			{
				int64		taken = engine_take(b, b_no, -x, clk, true);

				if (taken < -x)
					ereport(ERROR,
							(errcode(ERRCODE_WL('1')),
							 errmsg("insufficient funds"),
							 errdetail("Wallet %lld has %s of %s; the adjustment takes %s.", (long long) w.id,
									   DatumGetCString(DirectFunctionCall1(numeric_out, major(taken, w.exponent))),
									   bucket,
									   DatumGetCString(DirectFunctionCall1(numeric_out, major(-x, w.exponent)))),
							 errhint("An adjustment never takes a bucket below zero.")));
			}
			if (!save_wallet(&w, b))
				elog(ERROR, "wallet %lld changed under its lock", (long long) w.id);
		}
		postings_init(&legs);
		if (repair == NULL || strcmp(repair, "lots") != 0)
			post_adjust(&legs, w.id, bucket, x);
		jb_begin(&jb);
		jb_int(&jb, "txn_id", txn_id);
		jb_text(&jb, "by", GetUserNameFromId(GetSessionUserId(), false));
		insert_txn(txn_id, &w, "adjust", x, clk, key, NO_REF_TXN, req, jb_end(&jb), legs_of(&legs, "adjust"),
				   NULL);
		{
			Datum		args[3] = {TimestampTzGetDatum(clk), Int64GetDatum(w.id),
			JsonbPGetDatum(adjust_request(bucket, x, reason, repair, txn_id))};

			if (run_plan(op_plan(&audit_row), args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not audit adjustment %lld", (long long) txn_id);
		}
	}
	op_leave(caller);
	PG_RETURN_DATUM(op_txn_row(fcinfo, txn_id, replayed));
}

Datum
wallet_adjust(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(adjust_body, fcinfo);
}
