/*
 * withdraw_auto.c
 *	  wallet.auto_withdraw: automatic withdrawal (CONTRACT.md section 16), a
 *	  sweep a pg_cron job runs. Each wallet with a setting in
 *	  wallet.auto_withdrawal that has not withdrawn automatically today (a day
 *	  of its currency's limit_time_zone) is looked at, the least recently
 *	  looked at first: all its withdrawable earnings are requested when they
 *	  reach its threshold, through the same fees, limits and review as
 *	  request_withdrawal (withdraw_common.c), journaled as kind auto_withdraw
 *	  with the key "auto-withdraw:<day>" (so once a day at most, whatever
 *	  happens to the setting's row). What each look found is kept in the
 *	  setting's last_result. Wallets locked by others are skipped and taken by
 *	  a later run, as the other sweeps do.
 */
#include "ops/withdraw.h"

PG_FUNCTION_INFO_V1(wallet_auto_withdraw);

/* the settings not used today, the least recently looked at first */
static OpPlan due = OP_PLAN(
	"SELECT a.wallet_id FROM wallet.auto_withdrawal a JOIN wallet.wallet w ON w.wallet_id = a.wallet_id "
	"LEFT JOIN wallet.policy p ON p.currency = w.currency "
	"WHERE a.last_day IS NULL OR a.last_day < ($1 AT TIME ZONE coalesce(p.limit_time_zone, 'UTC'))::date "
	"ORDER BY a.checked_at NULLS FIRST, a.wallet_id LIMIT $2",
	2, TIMESTAMPTZOID, INT4OID);


/* the setting, locked after its wallet, with whether it was used today and today's date */
static OpPlan setting = OP_PLAN(
	"SELECT threshold, destination, coalesce(last_day >= ($2 AT TIME ZONE $3)::date, false), "
	"to_char(($2 AT TIME ZONE $3)::date, 'YYYY-MM-DD') "
	"FROM wallet.auto_withdrawal WHERE wallet_id = $1 FOR UPDATE",
	3, INT8OID, TIMESTAMPTZOID, TEXTOID);

static OpPlan record = OP_PLAN(
	"UPDATE wallet.auto_withdrawal SET checked_at = $2, last_result = $4, "
	"last_day = CASE WHEN $3 THEN ($2 AT TIME ZONE $5)::date ELSE last_day END WHERE wallet_id = $1",
	5, INT8OID, TIMESTAMPTZOID, BOOLOID, TEXTOID, TEXTOID);

/*
 * auto_one looks at locked wallet w's setting at clk: returns what it found
 * and sets *requested when a withdrawal was requested today (now, or before
 * under today's key).
 */
static const char *
auto_one(WalletRow *w, TimestampTz clk, int64 threshold, const char *destination, const char *day,
		 bool *requested)
{
	LotBuilder *b;
	int64		debt;
	int64		amount;
	char	   *key;
	WithdrawQuote q;
	WithdrawSpec s = {.destination = destination, .automatic = true};
	WithdrawMade out;
	JB			jb;
	Jsonb	   *req;

	*requested = false;
	if (w->frozen)
		return "frozen";
	b = lotset_unpack(w->lots);
	debt = withdraw_prepare(w, b, clk, -1);
	if (debt > 0)
		return "in_debt";
	amount = engine_earnings(b);
	if (amount <= 0 || amount < threshold)
		return "below_threshold";
	key = psprintf("auto-withdraw:%s", day);
	if (key_taken(w->id, key))
	{
		*requested = true;
		return "key_taken";
	}
	withdraw_quote_now(w, amount, amount, clk, false, &q);
	if (q.refusal != WITHDRAW_OK)
		return withdraw_refusal_name(q.refusal);
	/* a limit rule that would refuse it or ask for a step-up: none today */
	if (!limits_allow(w, LIMIT_WITHDRAW, amount, clk))
		return "limit";
	jb_begin(&jb);
	jb_int(&jb, "amount", amount);
	jb_text(&jb, "destination", destination);
	jb_bool(&jb, "automatic", true);
	req = jb_end(&jb);
	/* the key was free under the lock: taken now, it is a concurrent writer's (WL003) */
	if (!withdraw_make(w, b, &q, &s, "auto_withdraw", key, req, clk, &out))
	{
		(void) after_no_write(w, key, "auto_withdraw", req, out.txn_id);
		elog(ERROR, "could not write wallet %lld", (long long) w->id);
	}
	*requested = true;
	return psprintf("requested withdrawal %lld (%s)", (long long) out.withdrawal_id, out.status);
}

/*
 * wallet.auto_withdraw(batch_size int) returns (wallets int, withdrawals int):
 * how many settings it looked at, how many withdrawals it requested.
 */
static Datum
auto_body(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int32		batch;
	int32		looked = 0;
	int32		made = 0;
	int64	   *wallets;
	uint64		nw;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	batch = op_count_arg(fcinfo, 0, "batch_size", 100000);
	op_start();
	pin_key_lookups();
	wallets = sweep_due(&due, clk, batch, "automatic withdrawals", &nw);
	for (uint64 i = 0; i < nw; i++)
	{
		Datum		args[5] = {Int64GetDatum(wallets[i])};
		WalletRow	w;
		bool		isnull;
		int64		threshold;
		char	   *destination;
		char	   *day;
		bool		requested;
		const char *found;

		if (!sweep_lock_wallet(wallets[i]))
			continue;			/* locked by another: a later run takes it */
		read_wallet(wallets[i], true, true, &w);
		args[1] = TimestampTzGetDatum(clk);
		args[2] = CStringGetTextDatum(w.conf->limit_time_zone);
		if (run_plan(op_plan(&setting), args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the automatic withdrawal of wallet %lld", (long long) w.id);
		if (SPI_processed == 0 || DatumGetBool(getcol(3, &isnull)))
			continue;			/* turned off, or used today, since it was found */
		threshold = DatumGetInt64(getcol(1, &isnull));
		destination = TextDatumGetCString(getcol(2, &isnull));
		day = TextDatumGetCString(getcol(4, &isnull));
		looked++;
		found = auto_one(&w, clk, threshold, destination, day, &requested);
		if (requested && strcmp(found, "key_taken") != 0)
			made++;
		args[2] = BoolGetDatum(requested);
		args[3] = CStringGetTextDatum(found);
		args[4] = CStringGetTextDatum(w.conf->limit_time_zone);
		if (run_plan(op_plan(&record), args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
			elog(ERROR, "could not record the automatic withdrawal of wallet %lld", (long long) w.id);
	}
	op_leave(caller);
	values[0] = Int32GetDatum(looked);
	values[1] = Int32GetDatum(made);
	{
		static const Oid types[2] = {INT4OID, INT4OID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_auto_withdraw(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(auto_body, fcinfo);
}
