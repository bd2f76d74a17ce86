/*
 * card_verify.c
 *	  wallet.verify_card: the check of one submitted card recorded
 *	  (CONTRACT.md section 19): verified, paying least(declared, actual) face
 *	  at the rate locked when it was submitted, less the fee (the engine's
 *	  engine_card_payout), or invalid, paying nothing. No money moves until
 *	  the intake is settled; the check is journaled (no postings).
 */
#include "ops/cards.h"

PG_FUNCTION_INFO_V1(wallet_verify_card);

static OpPlan item_read = OP_PLAN(
	"SELECT i.intake_id FROM wallet.card_item i WHERE i.item_id = $1",
	1, INT8OID);

static OpPlan item_lock = OP_PLAN(
	"SELECT i.status, i.face_value, i.rate, i.actual_face, i.payout, k.fee_rate, k.currency "
	"FROM wallet.card_item i JOIN wallet.card_intake k ON k.intake_id = i.intake_id "
	"WHERE i.item_id = $1 FOR UPDATE OF i",
	1, INT8OID);

static OpPlan item_check = OP_PLAN(
	"UPDATE wallet.card_item SET status = $2, actual_face = $3, payout = $4, note = $5, verified_at = $6 "
	"WHERE item_id = $1",
	6, INT8OID, TEXTOID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID);

/*
 * wallet.verify_card(item_id, valid, actual_face, note) returns (status,
 * payout). Checking a card again with the same outcome returns it; another
 * outcome, a duplicate card or a card of an intake no longer pending is
 * WL008.
 */
static Datum
verify_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int64		item_id = op_int8_arg(fcinfo, 0, "item_id");
	bool		valid;
	bool		has_actual = !PG_ARGISNULL(2);
	char	   *note = check_text(fcinfo, 3, "note", 1000, false);
	WalletRow	w;
	IntakeRow	k;
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	const char *status;
	int64		face;
	int64		actual = 0;
	int64		payout = 0;
	int			exponent;
	Datum		values[2];
	bool		rnulls[2] = {false, false};

	check_not_null(fcinfo, 1, "valid");
	valid = PG_GETARG_BOOL(1);
	if (has_actual && !valid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("actual_face is for a valid card"),
				 errhint("An invalid card pays nothing; leave actual_face NULL.")));
	op_start();
	pin_key_lookups();
	args[0] = Int64GetDatum(item_id);
	if (run_plan(op_plan(&item_read), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read card %lld", (long long) item_id);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("card %lld does not exist", (long long) item_id)));
	intake_lock(DatumGetInt64(getcol(1, &isnull)), &w, &k);
	exponent = w.exponent;
	if (run_plan(op_plan(&item_lock), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not lock card %lld", (long long) item_id);
	status = TextDatumGetCString(getcol(1, &isnull));
	face = DatumGetInt64(getcol(2, &isnull));
	if (has_actual)
		actual = numeric_to_minor(PG_GETARG_NUMERIC(2), exponent, "actual_face");
	if (strcmp(status, "duplicate") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("card %lld is a duplicate", (long long) item_id),
				 errdetail("Its secret is in another intake, or earlier in its own; it is never paid.")));
	if (strcmp(status, "pending") != 0)
	{
		/* checked before: the same outcome again is its answer, another is refused */
		Datum		a = getcol(4, &isnull);
		bool		same = valid ? strcmp(status, "verified") == 0 &&
			(!has_actual || (!isnull && DatumGetInt64(a) == actual)) : strcmp(status, "invalid") == 0;

		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("card %lld is %s", (long long) item_id, status),
					 errdetail("A card is checked once; its check cannot change.")));
		payout = DatumGetInt64(getcol(5, &isnull));
	}
	else
	{
		JB			jb;
		Jsonb	   *req;
		Postings	legs;
		int64		fee = 0;
		int64		txn_id;

		if (k.status != NULL && strcmp(k.status, "pending") != 0)
			intake_refuse(&k, "Its cards can no longer be checked.");
		if (valid)
		{
			if (!has_actual)
				actual = face;
			engine_card_payout(Min(face, actual), DatumGetNumeric(getcol(3, &isnull)),
							   DatumGetNumeric(getcol(6, &isnull)), &payout, &fee);
		}
		status = valid ? "verified" : "invalid";
		args[1] = CStringGetTextDatum(status);
		args[2] = Int64GetDatum(actual);
		nulls[2] = valid ? ' ' : 'n';
		args[3] = Int64GetDatum(payout);
		args[4] = note ? CStringGetTextDatum(note) : (Datum) 0;
		nulls[4] = note ? ' ' : 'n';
		args[5] = TimestampTzGetDatum(clk);
		if (run_plan(op_plan(&item_check), args, nulls, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
			elog(ERROR, "could not record the check of card %lld", (long long) item_id);
		txn_id = nextval_internal(plans.txn_seq, false);
		jb_begin(&jb);
		jb_int(&jb, "item_id", item_id);
		jb_bool(&jb, "valid", valid);
		if (valid)
			jb_int(&jb, "actual_face", actual);
		req = jb_end(&jb);
		jb_begin(&jb);
		jb_int(&jb, "intake_id", k.intake_id);
		jb_text(&jb, "status", status);
		jb_int(&jb, "payout", payout);
		jb_int(&jb, "fee", fee);
		postings_init(&legs);
		journal_op(&w, txn_id, "verify_card", 0, clk, k.submit_txn, req, jb_end(&jb), legs_of(&legs, "verify_card"));
		status = valid ? "verified" : "invalid";
	}
	status = strcmp(status, "verified") == 0 ? "verified" : "invalid";
	op_leave(caller);
	values[0] = CStringGetTextDatum(status);
	values[1] = major(payout, exponent);
	{
		static const Oid types[2] = {TEXTOID, NUMERICOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, rnulls, types, lengthof(types)));
	}
}

Datum
wallet_verify_card(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(verify_body, fcinfo);
}
