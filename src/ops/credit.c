/*
 * credit.c
 *	  Credits to a wallet and a payee's debt (CONTRACT.md section 5), for the
 *	  operations in C and, through SQL wrappers, in SQL:
 *	  - credit_payee: a credit that waits in wallet.payee_credit (a spend's
 *	    payee, a transfer's receiver), so a busy wallet's row is never hot;
 *	  - credit_earnings: a credit to earnings repays the wallet's debt first
 *	    (engine_debt_repaid); the part that repays it is a journal transaction
 *	    of its own (kind repay_debt, ref_txn the crediting transaction);
 *	  - rollup_credits: a wallet's pending payee credits (wallet.payee_credit)
 *	    rolled up into its earnings, through credit_earnings, each credit's
 *	    journal row kept findable for the wallet's statement (wallet.txn_party);
 *	  - add_debt: what a reversal took back beyond a payee's earnings, added
 *	    to its debt, flagged for review when the debt crosses its currency's
 *	    payee_debt_flag (engine_debt_flag_crossed), a flag that may freeze
 *	    it (flag_wallet, policy.flags_to_freeze).
 *	  The caller holds the wallet's row lock.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_credit);
PG_FUNCTION_INFO_V1(wallet_rollup);
PG_FUNCTION_INFO_V1(wallet_rollup_wallet);
PG_FUNCTION_INFO_V1(wallet_add_debt);

static OpPlan repay = OP_PLAN(
	"WITH u AS (UPDATE wallet.wallet SET debt = debt - $2 WHERE wallet_id = $1) "
	"INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, ref_txn, result, postings) "
	"VALUES ($1, 'repay_debt', $2, $3, $4, $5, $6, $7)",
	7, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID, JSONBOID, OP_POSTINGS);
/*
 * The pending credits taken, one group per lot they make: earnings all in
 * one, bonus by expiry (a lot is one bucket and one expiry). Each earnings
 * credit's journal row (another wallet's: a spend's, a capture's, a
 * transfer's) stays findable from this wallet's statement through
 * wallet.txn_party; a bonus credit's (reward points) is the wallet's own row.
 */
static OpPlan take_credits = OP_PLAN(
	"WITH d AS (DELETE FROM wallet.payee_credit WHERE wallet_id = $1 RETURNING amount, txn_id, bucket, expires_at), "
	"p AS (INSERT INTO wallet.txn_party (wallet_id, txn_id) SELECT DISTINCT $1, d.txn_id FROM d "
	"WHERE d.bucket = 'earnings' ON CONFLICT DO NOTHING) "
	"SELECT sum(amount)::bigint, max(txn_id), bucket = 'bonus', expires_at FROM d "
	"GROUP BY bucket, expires_at ORDER BY bucket DESC, expires_at NULLS LAST",
	1, INT8OID);
static OpPlan credit_bonus = OP_PLAN(
	"INSERT INTO wallet.payee_credit (wallet_id, amount, txn_id, bucket, expires_at) "
	"VALUES ($1, $2, $3, 'bonus', $4)",
	4, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID);
static OpPlan more_debt = OP_PLAN(
	"UPDATE wallet.wallet x SET debt = x.debt + $2 WHERE x.wallet_id = $1 "
	"RETURNING x.debt, x.exponent, (wallet._policy(x.currency)).payee_debt_flag",
	2, INT8OID, INT8OID);
static OpPlan lock_lots = OP_PLAN(
	"SELECT lots FROM wallet.wallet WHERE wallet_id = $1 FOR UPDATE",
	1, INT8OID);
static OpPlan save_lots = OP_PLAN(
	"UPDATE wallet.wallet SET lots = $2, next_expiry = $3, version = version + 1 WHERE wallet_id = $1",
	3, INT8OID, OP_LOTSET, TIMESTAMPTZOID);

/*
 * credit_lot adds a credit of amt to bucket (earnings, or bonus expiring at
 * until: reward points, points bought by an exchange) of locked wallet
 * wallet_id, whose lots are b (changed here), repaying its debt first. Bonus
 * already past its expiry repays nothing: it goes in as it is, for the expiry
 * sweep to write off.
 */
void
credit_lot(int64 wallet_id, LotBuilder *b, int bucket, int64 amt, TimestampTz until, int64 txn, TimestampTz clk)
{
	Datum		args[7] = {Int64GetDatum(wallet_id)};
	char	   *currency;
	int64		debt = read_debt(wallet_id, &currency);
	int64		repaid;

	repaid = bucket == BUCKET_BONUS && until <= clk ? 0 : engine_debt_repaid(debt, amt);
	if (repaid > 0)
	{
		Postings	ps;
		JB			jb;

		postings_init(&ps);
		post_repay_debt(&ps, wallet_id, bucket_name(bucket), repaid);
		jb_begin(&jb);
		jb_int(&jb, "repaid", repaid);
		jb_int(&jb, "debt", debt - repaid);
		args[1] = Int64GetDatum(repaid);
		args[2] = CStringGetTextDatum(currency);
		args[3] = TimestampTzGetDatum(clk);
		args[4] = Int64GetDatum(txn);
		args[5] = JsonbPGetDatum(jb_end(&jb));
		args[6] = legs_of(&ps, "repay_debt");
		if (run_plan(op_plan(&repay), args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not repay the debt of wallet %lld", (long long) wallet_id);
	}
	if (amt > repaid)
		engine_add(b, bucket, amt - repaid, txn, clk, bucket == BUCKET_EARNINGS ? WALLET_NO_TIME : until, NULL);
}

/*
 * credit_earnings adds a credit of amt to the earnings of locked wallet
 * wallet_id, whose lots are b (changed here), repaying its debt first.
 */
void
credit_earnings(int64 wallet_id, LotBuilder *b, int64 amt, int64 txn, TimestampTz clk)
{
	credit_lot(wallet_id, b, BUCKET_EARNINGS, amt, WALLET_NO_TIME, txn, clk);
}

/*
 * credit_payee credits amt to wallet payee's earnings without touching its
 * row (a spend's payee, a transfer's receiver): a row of wallet.payee_credit,
 * rolled up later (rollup_credits), which balance shows at once. Many
 * concurrent credits to one wallet never queue on its row.
 */
void
credit_payee(int64 payee, int64 amt, int64 txn)
{
	Datum		args[3] = {Int64GetDatum(payee), Int64GetDatum(amt), Int64GetDatum(txn)};

	if (amt <= 0)
		return;
	if (!credit_direct(payee, amt, txn, false, WALLET_NO_TIME) &&
		run_plan(plans.credit, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not credit wallet %lld", (long long) payee);
}

/*
 * credit_bonus_pending credits amt of bonus expiring at until (WALLET_NO_TIME:
 * never) to wallet wallet_id as credit_payee credits earnings: a row of
 * wallet.payee_credit, rolled up later into a bonus lot (credit_lot). The
 * wallet's row is neither locked nor written (reward points of a spend).
 */
void
credit_bonus_pending(int64 wallet_id, int64 amt, TimestampTz until, int64 txn)
{
	Datum		args[4] = {Int64GetDatum(wallet_id), Int64GetDatum(amt), Int64GetDatum(txn),
	TimestampTzGetDatum(until)};
	char		nulls[4] = {' ', ' ', ' ', until == WALLET_NO_TIME ? 'n' : ' '};

	if (amt <= 0)
		return;
	if (!credit_direct(wallet_id, amt, txn, true, until) &&
		run_plan(op_plan(&credit_bonus), args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not credit wallet %lld", (long long) wallet_id);
}

/*
 * rollup_credits moves locked wallet wallet_id's pending credits into its
 * lots (b, changed here) through credit_lot, a debt repaid first: the payee
 * credits into its earnings, bonus credits (reward points) into one bonus
 * lot per expiry. False if it had none.
 */
bool
rollup_credits(int64 wallet_id, LotBuilder *b, TimestampTz clk)
{
	Datum		args[1] = {Int64GetDatum(wallet_id)};
	SPITupleTable *tt;
	uint64		n;
	int64	   *amt;
	int64	   *txn;
	bool	   *bonus;
	TimestampTz *until;

	if (!credits_waiting(wallet_id))
		return false;
	/* by the key (wallet_id, credit_id), never a scan of the table (see pin_key_lookups) */
	pin_key_lookups();
	if (run_plan(op_plan(&take_credits), args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not roll up the payee credits of wallet %lld", (long long) wallet_id);
	n = SPI_processed;
	if (n == 0)
		return false;
	/* kept before credit_lot runs statements of its own */
	tt = SPI_tuptable;
	amt = palloc(sizeof(int64) * n);
	txn = palloc(sizeof(int64) * n);
	bonus = palloc(sizeof(bool) * n);
	until = palloc(sizeof(TimestampTz) * n);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d;

		amt[i] = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		txn[i] = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		bonus[i] = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
		d = SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull);
		until[i] = isnull ? WALLET_NO_TIME : DatumGetTimestampTz(d);
	}
	for (uint64 i = 0; i < n; i++)
		credit_lot(wallet_id, b, bonus[i] ? BUCKET_BONUS : BUCKET_EARNINGS, amt[i], until[i], txn[i], clk);
	return true;
}

/*
 * rollup_credits_for rolls up locked wallet w's pending credits into b
 * (rollup_credits) where they count for a payment of need of its earnings:
 * need < 0 (all the wallet has), a debt they would repay first, or earnings
 * in b short of need. A payment the lots alone can pay leaves them waiting:
 * the money is the same either way (balance counts them already, a statement
 * shows them), and an earner paid all day does not roll up at every payment
 * (the rollup_credits job takes them). True if it rolled up.
 */
bool
rollup_credits_for(const WalletRow *w, LotBuilder *b, TimestampTz clk, int64 need)
{
	if (!credits_count_for(w, b, need))
		return false;
	return rollup_credits(w->id, b, clk);
}

/*
 * credits_count_for tells whether wallet w's pending credits count for a
 * payment of need of its earnings (b its lots): need < 0 (all it has), a
 * debt, or earnings in b short of need (rollup_credits_for rolls them up
 * then).
 */
bool
credits_count_for(const WalletRow *w, const LotBuilder *b, int64 need)
{
	return need < 0 || wallet_row_debt(w) != 0 || engine_earnings(b) < need;
}

/*
 * add_debt adds amt to locked wallet wallet_id's debt (what reversal txn took
 * back beyond its earnings) and flags the wallet (kind payee_debt) when the
 * debt crosses its currency's payee_debt_flag, once per crossing.
 */
void
add_debt(int64 wallet_id, int64 amt, int64 txn, TimestampTz clk)
{
	Datum		args[2] = {Int64GetDatum(wallet_id), Int64GetDatum(amt)};
	bool		isnull;
	int64		debt;
	int			exponent;
	Datum		flag;

	if (run_plan(op_plan(&more_debt), args, NULL, false, 1) != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld does not exist", (long long) wallet_id)));
	debt = DatumGetInt64(getcol(1, &isnull));
	exponent = DatumGetInt16(getcol(2, &isnull));
	flag = getcol(3, &isnull);
	if (isnull || !engine_debt_flag_crossed(debt, amt, DatumGetNumeric(flag), exponent))
		return;
	/*
	 * The flag may freeze the payee (policy.flags_to_freeze). The update of
	 * the debt above holds its row lock (the reversal locked it already, in
	 * wallet-id order with its other wallets), so the freeze waits for no
	 * other lock; its lots were written before (take_back) and are not
	 * written again by this operation.
	 */
	flag_wallet(wallet_id, "payee_debt",
				psprintf("debt %s above %s after reversal %lld",
						 DatumGetCString(DirectFunctionCall1(numeric_out, major(debt, exponent))),
						 DatumGetCString(DirectFunctionCall1(numeric_out, flag)),
						 (long long) txn), clk);
}

/* ---- the SQL wrappers (the operations still in SQL, and spend's roll-up) ---- */

/* lotset_result copies a lot set out of SPI's memory into the caller's and leaves SPI. */
static Datum
lotset_result(LotBuilder *b, MemoryContext caller)
{
	LotSet	   *packed = lotset_pack(b);
	LotSet	   *copy;

	MemoryContextSwitchTo(caller);
	copy = palloc(VARSIZE(packed));
	memcpy(copy, packed, VARSIZE(packed));
	SPI_finish();
	MemoryContextSwitchTo(caller);
	return PointerGetDatum(copy);
}

static void
no_nulls(FunctionCallInfo fcinfo, int nargs, const char *fn)
{
	for (int i = 0; i < nargs; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the arguments of %s must not be null", fn)));
}

/*
 * wallet._credit(wid bigint, ls lotset, amt bigint, txn bigint, clk
 * timestamptz) returns ls with a credit of amt to earnings, the wallet's debt
 * repaid first (credit_earnings).
 */
Datum
wallet_credit(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	LotBuilder *b;

	no_nulls(fcinfo, 5, "wallet._credit");
	op_start();
	b = lotset_unpack(PG_GETARG_LOTSET_P(1));
	credit_earnings(PG_GETARG_INT64(0), b, PG_GETARG_INT64(2), PG_GETARG_INT64(3), PG_GETARG_TIMESTAMPTZ(4));
	return lotset_result(b, caller);
}

/*
 * wallet._rollup(wid bigint, ls lotset, clk timestamptz) returns ls with the
 * wallet's pending payee credits rolled up (rollup_credits).
 */
Datum
wallet_rollup(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	LotBuilder *b;

	no_nulls(fcinfo, 3, "wallet._rollup");
	op_start();
	b = lotset_unpack(PG_GETARG_LOTSET_P(1));
	(void) rollup_credits(PG_GETARG_INT64(0), b, PG_GETARG_TIMESTAMPTZ(2));
	return lotset_result(b, caller);
}

/*
 * wallet._rollup_wallet(wid bigint) locks a wallet, rolls up its pending
 * payee credits and writes its lots back (spend, when the wallet's lots alone
 * are short).
 */
Datum
wallet_rollup_wallet(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	int64		wallet_id;
	Datum		args[3];
	bool		isnull;
	LotBuilder *b;
	TimestampTz next;

	no_nulls(fcinfo, 1, "wallet._rollup_wallet");
	wallet_id = PG_GETARG_INT64(0);
	op_start();
	args[0] = Int64GetDatum(wallet_id);
	if (run_plan(op_plan(&lock_lots), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("wallet %lld does not exist", (long long) wallet_id)));
	b = lotset_unpack(DatumGetLotSetP(getcol(1, &isnull)));
	if (rollup_credits(wallet_id, b, wallet_clock()))
	{
		next = engine_next_expiry(b);
		args[1] = PointerGetDatum(lotset_pack(b));
		args[2] = TimestampTzGetDatum(next);
		if (run_plan(op_plan(&save_lots), args, (char[]) {' ', ' ', next == WALLET_NO_TIME ? 'n' : ' '},
					 false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not write wallet %lld", (long long) wallet_id);
	}
	op_leave(caller);
	PG_RETURN_VOID();
}

/*
 * wallet._add_debt(wid bigint, amt bigint, txn bigint, clk timestamptz) adds
 * amt to a locked payee's debt (add_debt).
 */
Datum
wallet_add_debt(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;

	no_nulls(fcinfo, 4, "wallet._add_debt");
	op_start();
	add_debt(PG_GETARG_INT64(0), PG_GETARG_INT64(1), PG_GETARG_INT64(2), PG_GETARG_TIMESTAMPTZ(3));
	op_leave(caller);
	PG_RETURN_VOID();
}
