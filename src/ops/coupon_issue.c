/*
 * coupon_issue.c
 *	  Coupons issued to a wallet, on the shared pipeline: one coupon of a
 *	  template by wallet.issue_coupon (with the caller's idempotency key), or
 *	  automatically on an event (a wallet opened, a top-up) by every template
 *	  that asks for it (wallet._auto_issue). The rules of issuance live here
 *	  once: the template's currency and end, the limits per wallet and in all
 *	  (its counter serializes issuance), and how long a coupon is valid
 *	  (coupon_until), for one wallet or many (issue_coupons).
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_issue_coupon);
PG_FUNCTION_INFO_V1(wallet_auto_issue);

static OpPlan template_row = OP_PLAN(
	"SELECT currency, valid_from, valid_until, valid_for, per_wallet_limit, total_limit "
	"FROM wallet.coupon_template WHERE template_id = $1",
	1, TEXTOID);
static OpPlan held = OP_PLAN(
	"SELECT count(*)::int FROM wallet.coupon WHERE wallet_id = $1 AND template_id = $2",
	2, INT8OID, TEXTOID);
static OpPlan take_one = OP_PLAN(
	"UPDATE wallet.coupon_template SET issued = issued + 1 WHERE template_id = $1 AND issued < total_limit",
	1, TEXTOID);
static OpPlan coupon_row = OP_PLAN(
	"INSERT INTO wallet.coupon (code, template_id, wallet_id, valid_from, valid_until, issued_at, issue_txn) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7)",
	7, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID);
static OpPlan journal_row = OP_PLAN(
	"INSERT INTO wallet.txn (txn_id, wallet_id, kind, currency, created_at, idempotency_key, request, result) "
	"VALUES ($1, $2, 'issue_coupon', $3, $4, $5, $6, $7)",
	7, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, JSONBOID);
static OpPlan key_row = OP_PLAN(
	"INSERT INTO wallet.txn_key (wallet_id, idempotency_key, txn_id, created_at) VALUES ($1, $2, $3, $4)",
	4, INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID);
static OpPlan auto_templates = OP_PLAN(
	"SELECT x.template_id FROM wallet.coupon_template x "
	"WHERE x.issue_on = $1 AND x.currency = $2 AND (x.valid_until IS NULL OR x.valid_until > $3) "
	"AND ($1 <> 'top_up' OR x.issue_min_top_up IS NULL OR $4 >= x.issue_min_top_up * (10::numeric ^ $5)) "
	"ORDER BY x.template_id",
	5, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, INT4OID);

/*
 * coupon_until is when a coupon of a template issued at clk stops being
 * valid (false: never): valid_for counts from when it becomes valid
 * (valid_from, or clk if later), and never past the template's valid_until.
 */
static bool
coupon_until(bool has_from, TimestampTz from, bool has_until, TimestampTz until, const Interval *valid_for,
			 TimestampTz clk, TimestampTz *out)
{
	TimestampTz end;

	if (valid_for == NULL)
	{
		*out = until;
		return has_until;
	}
	end = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												  TimestampTzGetDatum(has_from && from > clk ? from : clk),
												  IntervalPGetDatum(valid_for)));
	*out = has_until && until < end ? until : end;
	return true;
}

/*
 * issue_one issues one coupon of template tid to locked wallet w at clk: its
 * code, the earlier code on a replay of key, or NULL when a limit is reached
 * and quiet is set (automatic issuance); WL007 at a limit otherwise. A key
 * of NULL (issued by open or top_up, whose own key or owner makes it happen
 * once) takes no key of the wallet's, so it never collides with one the
 * client chose.
 */
static char *
issue_one(const char *tid, WalletRow *w, const char *key, TimestampTz clk, bool quiet)
{
	JB			jb;
	Jsonb	   *req;
	Datum		args[7];
	char		nulls[7];
	bool		isnull;
	char	   *currency;
	bool		has_from,
				has_until,
				has_for,
				has_total;
	TimestampTz from,
				until,
				ends;
	Interval   *valid_for;
	int32		per_wallet,
				total,
				n;
	char	   *code;
	int64		txn_id;
	Datum		d;

	jb_begin(&jb);
	jb_text(&jb, "template_id", tid);
	req = jb_end(&jb);
	if (key != NULL)
	{
		Jsonb	   *prior = find_replay(w, key, "issue_coupon", req);

		if (prior != NULL)
		{
			JsonbValue *v = jsonb_member(prior, "code");

			return v != NULL && v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;
		}
	}
	args[0] = CStringGetTextDatum(tid);
	if (run_plan(op_plan(&template_row), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read coupon template \"%s\"", tid);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("coupon template \"%s\" does not exist", tid)));
	currency = TextDatumGetCString(getcol(1, &isnull));
	d = getcol(2, &isnull);
	has_from = !isnull;
	from = has_from ? DatumGetTimestampTz(d) : 0;
	d = getcol(3, &isnull);
	has_until = !isnull;
	until = has_until ? DatumGetTimestampTz(d) : 0;
	d = getcol(4, &isnull);
	has_for = !isnull;
	valid_for = has_for ? DatumGetIntervalP(d) : NULL;
	per_wallet = DatumGetInt32(getcol(5, &isnull));
	d = getcol(6, &isnull);
	has_total = !isnull;
	total = has_total ? DatumGetInt32(d) : 0;
	if (strcmp(currency, w->currency) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("coupon template \"%s\" is for %s, wallet %lld holds %s", tid, currency,
						(long long) w->id, w->currency)));
	if (has_until && until <= clk)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("coupon template \"%s\" has expired", tid)));
	args[0] = Int64GetDatum(w->id);
	args[1] = CStringGetTextDatum(tid);
	if (run_plan(op_plan(&held), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the coupons of wallet %lld", (long long) w->id);
	n = DatumGetInt32(getcol(1, &isnull));
	if (n >= per_wallet)
	{
		if (quiet)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_WL('7')),
				 errmsg("limit exceeded"),
				 errdetail("Wallet %lld already has %d coupon(s) of \"%s\"; the limit per wallet is %d.",
						   (long long) w->id, n, tid, per_wallet)));
	}
	/* only a template with a total limit keeps a counter; its row serializes issuance */
	if (has_total)
	{
		args[0] = CStringGetTextDatum(tid);
		if (run_plan(op_plan(&take_one), args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not count coupon template \"%s\"", tid);
		if (SPI_processed == 0)
		{
			if (quiet)
				return NULL;
			ereport(ERROR,
					(errcode(ERRCODE_WL('7')),
					 errmsg("limit exceeded"),
					 errdetail("All %d coupons of \"%s\" have been issued.", total, tid)));
		}
	}
	code = text_to_cstring(coupon_code_new());
	txn_id = nextval_internal(plans.txn_seq, false);
	memset(nulls, ' ', sizeof(nulls));
	args[0] = CStringGetTextDatum(code);
	args[1] = CStringGetTextDatum(tid);
	args[2] = Int64GetDatum(w->id);
	args[3] = TimestampTzGetDatum(from);
	nulls[3] = has_from ? ' ' : 'n';
	nulls[4] = coupon_until(has_from, from, has_until, until, valid_for, clk, &ends) ? ' ' : 'n';
	args[4] = TimestampTzGetDatum(ends);
	args[5] = TimestampTzGetDatum(clk);
	args[6] = Int64GetDatum(txn_id);
	if (run_plan(op_plan(&coupon_row), args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not issue a coupon of \"%s\"", tid);
	memset(nulls, ' ', sizeof(nulls));
	jb_begin(&jb);
	jb_text(&jb, "code", code);
	args[0] = Int64GetDatum(txn_id);
	args[1] = Int64GetDatum(w->id);
	args[2] = CStringGetTextDatum(w->currency);
	args[3] = TimestampTzGetDatum(clk);
	args[4] = key ? CStringGetTextDatum(key) : (Datum) 0;
	nulls[4] = key ? ' ' : 'n';
	args[5] = JsonbPGetDatum(req);
	args[6] = JsonbPGetDatum(jb_end(&jb));
	if (run_plan(op_plan(&journal_row), args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not journal a coupon of \"%s\"", tid);
	if (key != NULL)
	{
		Datum		kargs[4] = {Int64GetDatum(w->id), CStringGetTextDatum(key), Int64GetDatum(txn_id),
		TimestampTzGetDatum(clk)};

		if (run_plan(op_plan(&key_row), kargs, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not keep idempotency key \"%s\"", key);
	}
	return code;
}

/*
 * wallet.issue_coupon(template_id text, wallet_id bigint, idempotency_key
 * text) issues one coupon of a template to a wallet and returns its code.
 */
static Datum
issue_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	char	   *tid = check_text(fcinfo, 0, "template_id", 64, true);
	MemoryContext caller = CurrentMemoryContext;
	WalletRow	w;
	char	   *code;
	text	   *result;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet_id must not be null")));
	op_start();
	read_wallet(PG_GETARG_INT64(1), true, false, &w);
	code = issue_one(tid, &w, key, wallet_clock(), false);
	MemoryContextSwitchTo(caller);
	result = code ? cstring_to_text(code) : NULL;
	op_leave(caller);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

Datum
wallet_issue_coupon(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(issue_body, fcinfo);
}

/*
 * wallet._auto_issue(wid bigint, event text, amt bigint, txn bigint) issues
 * the templates marked issue_on = event to a locked wallet (for 'top_up',
 * those whose issue_min_top_up the amount reaches) and returns the codes; a
 * template at its limit is skipped.
 */
Datum
wallet_auto_issue(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	WalletRow	w;
	TimestampTz clk = wallet_clock();
	char	   *event;
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	SPITupleTable *tt;
	uint64		ntemplates;
	char	  **tids;
	Datum	   *codes;
	int			ncodes = 0;
	ArrayType  *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wallet._auto_issue: wid and event must not be null")));
	event = text_to_cstring(PG_GETARG_TEXT_PP(1));
	op_start();
	read_wallet(PG_GETARG_INT64(0), false, false, &w);
	args[0] = CStringGetTextDatum(event);
	args[1] = CStringGetTextDatum(w.currency);
	args[2] = TimestampTzGetDatum(clk);
	args[3] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[3] = PG_ARGISNULL(2) ? 'n' : ' ';
	args[4] = Int32GetDatum(w.exponent);
	if (run_plan(op_plan(&auto_templates), args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the coupon templates of %s", w.currency);
	tt = SPI_tuptable;
	ntemplates = SPI_processed;
	tids = palloc(sizeof(char *) * Max(ntemplates, 1));
	codes = palloc(sizeof(Datum) * Max(ntemplates, 1));
	for (uint64 i = 0; i < ntemplates; i++)
	{
		bool		isnull;

		tids[i] = TextDatumGetCString(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
	}
	for (uint64 i = 0; i < ntemplates; i++)
	{
		char	   *code = issue_one(tids[i], &w, NULL, clk, true);

		if (code != NULL)
			codes[ncodes++] = CStringGetTextDatum(code);
	}
	MemoryContextSwitchTo(caller);
	result = construct_array(codes, ncodes, TEXTOID, -1, false, TYPALIGN_INT);
	op_leave(caller);
	PG_RETURN_ARRAYTYPE_P(result);
}

/* ---- many wallets at once ---- */

PG_FUNCTION_INFO_V1(wallet_issue_coupons);

static OpPlan template_lock = OP_PLAN(
	"SELECT currency, valid_until <= $2 FROM wallet.coupon_template WHERE template_id = $1 FOR UPDATE",
	2, TEXTOID, TIMESTAMPTZOID);
static OpPlan recount = OP_PLAN(
	"UPDATE wallet.coupon_template x SET issued = (SELECT count(*) FROM wallet.coupon c "
	"WHERE c.template_id = $1) WHERE x.template_id = $1 AND x.total_limit IS NOT NULL",
	1, TEXTOID);

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * wallet.issue_coupons(template_id text, wallet_ids bigint[], idempotency_key
 * text) issues a template to many wallets in one call and returns (wallet_id,
 * code) in wallet-id order; the key is each wallet's own, so a repeated call
 * returns the codes already issued. A wallet at its limit, or past the
 * template's total limit (taken in wallet-id order), gets no code (NULL).
 * Everything is checked before a coupon is issued; the wallets are locked in
 * wallet-id order, then the template's row, which serializes its issuance.
 */
static Datum
issue_many_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	char	   *tid = check_text(fcinfo, 0, "template_id", 64, true);
	TimestampTz clk = wallet_clock();
	MemoryContext caller = CurrentMemoryContext;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *elems;
	bool	   *enulls;
	int			n = 0;
	int64	   *ids;
	WalletRow  *ws;
	Datum		args[2];
	bool		isnull;
	char	   *currency;

	if (!PG_ARGISNULL(1))
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems,
						  &enulls, &n);
	for (int i = 0; PG_ARGISNULL(1) || i < n; i++)
		if (PG_ARGISNULL(1) || enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("wallet_ids must not be null or contain NULL")));
	op_start();
	args[0] = CStringGetTextDatum(tid);
	args[1] = TimestampTzGetDatum(clk);
	if (run_plan(op_plan(&template_row), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read coupon template \"%s\"", tid);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('6')),
				 errmsg("coupon template \"%s\" does not exist", tid)));
	/* the wallets, each once, in id order: the first missing one is refused */
	ids = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
		ids[i] = DatumGetInt64(elems[i]);
	qsort(ids, n, sizeof(int64), cmp_int64);
	{
		int			m = 0;

		for (int i = 0; i < n; i++)
			if (m == 0 || ids[m - 1] != ids[i])
				ids[m++] = ids[i];
		n = m;
	}
	ws = palloc(sizeof(WalletRow) * Max(n, 1));
	for (int i = 0; i < n; i++)
		read_wallet(ids[i], false, false, &ws[i]);
	for (int i = 0; i < n; i++)
		read_wallet(ids[i], true, false, &ws[i]);
	if (run_plan(op_plan(&template_lock), args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not lock coupon template \"%s\"", tid);
	currency = TextDatumGetCString(getcol(1, &isnull));
	{
		Datum		d = getcol(2, &isnull);

		if (!isnull && DatumGetBool(d))
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("coupon template \"%s\" has expired", tid)));
	}
	for (int i = 0; i < n; i++)
		if (strcmp(ws[i].currency, currency) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("coupon template \"%s\" is for %s, wallet %lld holds another currency", tid,
							currency, (long long) ws[i].id)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int i = 0; i < n; i++)
	{
		char	   *code = issue_one(tid, &ws[i], key, clk, true);
		Datum		values[2] = {Int64GetDatum(ws[i].id), code ? CStringGetTextDatum(code) : (Datum) 0};
		bool		nulls[2] = {false, code == NULL};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	/* the counter of a template with a total limit is what was issued */
	args[0] = CStringGetTextDatum(tid);
	if (run_plan(op_plan(&recount), args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not count coupon template \"%s\"", tid);
	op_leave(caller);
	return (Datum) 0;
}

Datum
wallet_issue_coupons(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(issue_many_body, fcinfo);
}
