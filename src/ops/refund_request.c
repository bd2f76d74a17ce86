/*
 * refund_request.c
 *	  wallet.request_refund: a refund of a top-up asked for, on the shared
 *	  pipeline. The request holds the amount, the clawback of the top-up's
 *	  spent bonus and redeemed coupons, and its live bonus (engine_refund_hold),
 *	  voids its available coupons, and waits for review unless its net is small
 *	  enough to be approved at once; beyond the currency's limit of requests in
 *	  30 days it is recorded as rejected and the wallet flagged (which may
 *	  freeze it: flag_wallet).
 */
#include "ops/refund.h"

PG_FUNCTION_INFO_V1(wallet_request_refund);

static OpPlan refund_insert = {
	.sql = "INSERT INTO wallet.refund (refund_id, wallet_id, topup_txn, request_txn, reason, amount, fee, net, "
	"clawback, bonus_void, status, note, reviewer, review_note, requested_at, reviewed_at, coupon_clawback, "
	"coupons_voided) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
	.nargs = 18,
	.types = {INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT4OID}
};

/*
 * The top-up's coupons the request takes: the available ones are voided by
 * it, the redeemed ones' discount is clawed back by it (a rejected or failed
 * refund gives both back: refund_move.c).
 */
static OpPlan coupons_take = {
	.sql = "UPDATE wallet.coupon c SET voided_at = CASE WHEN x.void THEN $3 END, "
	"void_refund = CASE WHEN x.void THEN $4 END, "
	"clawback_refund = CASE WHEN x.void THEN NULL ELSE $4 END "
	"FROM unnest($1::text[], $2::boolean[]) AS x(code, void) WHERE c.code = x.code",
	.nargs = 4,
	.types = {TEXTARRAYOID, BOOLARRAYOID, TIMESTAMPTZOID, INT8OID}
};

/* The outcome of a request, in minor units. */
typedef struct RequestOut
{
	int64		refund_id;
	int64		amount;
	int64		fee;
	int64		net;
	int64		clawback;
	int64		bonus_void;
	const char *status;
	bool		replayed;
	int64		coupon_clawback;
	int32		coupons_voided;
} RequestOut;

/* insert_refund writes the refund row of a request. */
static void
insert_refund(const RequestOut *o, const WalletRow *w, int64 topup, int64 request_txn, const char *reason,
			  const char *note, const char *reviewer, const char *review_note, TimestampTz clk)
{
	Datum		args[18] = {Int64GetDatum(o->refund_id), Int64GetDatum(w->id), Int64GetDatum(topup),
		Int64GetDatum(request_txn), CStringGetTextDatum(reason), Int64GetDatum(o->amount),
		Int64GetDatum(o->fee), Int64GetDatum(o->net), Int64GetDatum(o->clawback), Int64GetDatum(o->bonus_void),
		CStringGetTextDatum(o->status), note ? CStringGetTextDatum(note) : (Datum) 0,
		reviewer ? CStringGetTextDatum(reviewer) : (Datum) 0,
		review_note ? CStringGetTextDatum(review_note) : (Datum) 0, TimestampTzGetDatum(clk),
		TimestampTzGetDatum(clk), Int64GetDatum(o->coupon_clawback), Int32GetDatum(o->coupons_voided)};
	char		nulls[18] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', note ? ' ' : 'n',
		reviewer ? ' ' : 'n', review_note ? ' ' : 'n', ' ', reviewer ? ' ' : 'n', ' ', ' '};
	static const char *const names[18] = {"refund_id", "wallet_id", "topup_txn", "request_txn", "reason", "amount",
		"fee", "net", "clawback", "bonus_void", "status", "note", "reviewer", "review_note", "requested_at",
	"reviewed_at", "coupon_clawback", "coupons_voided"};
	bool		isnull[18];

	for (int i = 0; i < 18; i++)
		isnull[i] = nulls[i] == 'n';
	/* the columns (refund_insert's, in its order), written directly where the statement's outcome is the same */
	if (insert_direct("refund", 18, names, args, isnull))
		return;
	if (run_plan(op_plan(&refund_insert), args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record refund %lld", (long long) o->refund_id);
}

/* take_coupons voids and claws back the top-up's coupons for refund refund_id. */
static void
take_coupons(const TopUpCoupon *coupons, int n, int64 refund_id, TimestampTz clk)
{
	Datum	   *codes = palloc(sizeof(Datum) * n);
	Datum	   *voids = palloc(sizeof(Datum) * n);
	Datum		args[4];

	for (int i = 0; i < n; i++)
	{
		codes[i] = CStringGetTextDatum(coupons[i].code);
		voids[i] = BoolGetDatum(coupons[i].void_it);
	}
	args[0] = PointerGetDatum(construct_array(codes, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[1] = PointerGetDatum(construct_array(voids, n, BOOLOID, 1, true, TYPALIGN_CHAR));
	args[2] = TimestampTzGetDatum(clk);
	args[3] = Int64GetDatum(refund_id);
	if (run_plan(op_plan(&coupons_take), args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not void the coupons of refund %lld", (long long) refund_id);
}

/*
 * wallet.request_refund(topup_txn_id bigint, idempotency_key text, amount
 * numeric, reason text, note text) returns (refund_id, amount, fee, net,
 * bonus_clawback, bonus_void, status, replayed, coupon_clawback,
 * coupons_voided). The request is validated first (state, window, amount):
 * an invalid one is refused with its own error and never counted, flagged or
 * recorded as a rejected refund.
 */
static Datum
request_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 1, "idempotency_key", 200, true);
	MemoryContext caller = CurrentMemoryContext;
	TopUpRow	t;
	WalletRow	w;
	CurrencyConf *conf;
	TimestampTz clk;
	bool		platform;
	const char *reason;
	char	   *note;
	bool		has_asked;
	int64		asked = 0;
	JB			jb;
	Jsonb	   *req;
	Jsonb	   *prior;
	bool		open;
	int32		recent;
	RefundNetting n;
	TopUpCoupon *coupons;
	int			ncoupons;
	LotBuilder *b;
	int64		txn_id;
	RequestOut	o;
	Datum		values[10];
	bool		nulls[10] = {false, false, false, false, false, false, false, false, false, false};

	memset(&o, 0, sizeof(o));
	check_not_null(fcinfo, 0, "topup_txn_id");
	op_start();
	pin_key_lookups();
	refund_topup(PG_GETARG_INT64(0), false, &t);
	/* locked: the key, wallet row and journal row are then written directly */
	read_wallet(t.wallet_id, true, true, &w);
	clk = wallet_clock();
	platform = refund_reason(fcinfo, 3);
	reason = platform ? "platform" : "user";
	note = check_text(fcinfo, 4, "note", 1000, false);
	has_asked = !PG_ARGISNULL(2);
	if (has_asked)
		asked = numeric_to_minor(PG_GETARG_NUMERIC(2), w.exponent, "amount");
	jb_begin(&jb);
	jb_int(&jb, "topup_txn_id", t.txn_id);
	jb_int_or_null(&jb, "amount", has_asked, asked);
	jb_text(&jb, "reason", reason);
	jb_text(&jb, "note", note);
	req = jb_end(&jb);

	prior = find_replay(&w, key, "request_refund", req);
	if (prior != NULL)
	{
		RefundRow	r;
		JsonbValue *st;

		/* the stored result names the refund; its amounts are the refund row's */
		if (!read_refund(jsonb_int(prior, "refund_id"), false, &r))
		{
			op_leave(caller);
			if (fcinfo->resultinfo != NULL && IsA(fcinfo->resultinfo, ReturnSetInfo))
				((ReturnSetInfo *) fcinfo->resultinfo)->isDone = ExprEndResult;
			PG_RETURN_NULL();
		}
		st = jsonb_member(prior, "status");
		o.refund_id = r.refund_id;
		o.amount = r.amount;
		o.fee = r.fee;
		o.net = r.net;
		o.clawback = r.clawback;
		o.bonus_void = r.bonus_void;
		o.coupon_clawback = r.coupon_clawback;
		o.coupons_voided = r.coupons_voided;
		o.replayed = true;
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			o.status = st != NULL && st->type == jbvString ?
				pnstrdup(st->val.string.val, st->val.string.len) : NULL;
			MemoryContextSwitchTo(spi);
		}
		goto result;
	}
	refuse_frozen(&w, NULL);

	/* the top-up's open refund and the wallet's recent requests, under the lock */
	open = refund_in_progress(t.txn_id);
	recent = refunds_requested(w.id, clk);
	if (open)
		ereport(ERROR,
				(errcode(ERRCODE_WL('8')),
				 errmsg("a refund of top-up %lld is already in progress", (long long) t.txn_id),
				 errhint("Settle, reject or fail it first.")));
	b = lotset_unpack(w.lots);
	holds_give_back_due(&w, b, clk);
	{
		int64		hold = engine_topup_bonus_reserved(b, t.txn_id);

		if (hold != 0)
			ereport(ERROR,
					(errcode(ERRCODE_WL('8')),
					 errmsg("hold %lld reserves bonus of top-up %lld", (long long) hold, (long long) t.txn_id),
					 errdetail("A refund of the top-up claws its spent bonus back; that bonus may yet come back "
							   "when the hold ends."),
					 errhint("Capture or release the hold first.")));
	}
	ncoupons = refund_netting(&t, b, clk, false, &n, &coupons);
	if (!n.in_window)
	{
		char	   *until = topup_refundable_until(&t);

		ereport(ERROR,
				(errcode(ERRCODE_WL('4')),
				 errmsg("refund not allowed: the refund window has closed"),
				 errdetail("Top-up %lld was refundable until %s.", (long long) t.txn_id, until ? until : "")));
	}
	if (n.refundable <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_WL('4')),
				 errmsg("refund not allowed: nothing is refundable"),
				 errdetail("Top-up %lld has %s of cash left and %s of its bonus and coupons spent.",
						   (long long) t.txn_id,
						   DatumGetCString(DirectFunctionCall1(numeric_out, major(n.cash, w.exponent))),
						   DatumGetCString(DirectFunctionCall1(numeric_out,
															   major(n.owed + n.coupon_owed, w.exponent))))));
	if (has_asked && asked > n.refundable)
		ereport(ERROR,
				(errcode(ERRCODE_WL('4')),
				 errmsg("refund not allowed: amount above what is refundable"),
				 errdetail("At most %s of top-up %lld is refundable.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, major(n.refundable, w.exponent))),
						   (long long) t.txn_id)));
	o.amount = has_asked ? asked : n.refundable;
	conf = currency_conf(w.currency, w.exponent);
	txn_id = nextval_internal(plans.txn_seq, false);

	if (recent >= conf->max_refunds_per_30_days)
	{
		/* beyond the limit the attempt is recorded, rejected, and flagged; no money moves */
		Postings	legs;

		o.refund_id = nextval_internal(plans.refund_seq, false);
		o.amount = has_asked ? asked : 0;
		o.status = "rejected";
		insert_refund(&o, &w, t.txn_id, txn_id, reason, note, "limit",
					  psprintf("%d refund requests in 30 days; the limit is %d", recent,
							   conf->max_refunds_per_30_days), clk);
		/* the flag may freeze the wallet (policy.flags_to_freeze): its row is not written after this */
		flag_wallet(w.id, "refund_limit",
					psprintf("refund request %lld beyond %d per 30 days",
							 (long long) o.refund_id, conf->max_refunds_per_30_days), clk);
		jb_begin(&jb);
		jb_int(&jb, "refund_id", o.refund_id);
		jb_text(&jb, "status", o.status);
		postings_init(&legs);
		insert_txn(txn_id, &w, "request_refund", 0, clk, key, t.txn_id, req, jb_end(&jb),
				   legs_of(&legs, "request_refund"),
				   NULL);
	}
	else
	{
		/*
		 * The hold: the amount, the bonus clawback and the coupons' clawback
		 * from the top-up's cash, and its live bonus.
		 */
		int64		take = checked_add(checked_add(o.amount, n.owed), n.coupon_owed);
		Postings	legs;

		o.fee = engine_refund_fee(o.amount, refund_fee_rate(&t, conf, platform));
		o.net = o.amount - o.fee;
		o.clawback = n.owed;
		o.coupon_clawback = n.coupon_owed;
		o.coupons_voided = n.coupons_live;
		o.bonus_void = engine_refund_hold(b, t.txn_id, take, n.owed, clk);
		/* net at or below the auto-approve limit needs no review */
		o.status = engine_refund_auto_approved(o.net, conf->refund_auto_approve_max, w.exponent) ?
			"approved" : "pending";
		o.refund_id = nextval_internal(plans.refund_seq, false);
		postings_init(&legs);
		post_refund_hold(&legs, w.id, take, o.bonus_void);
		jb_begin(&jb);
		jb_int(&jb, "refund_id", o.refund_id);
		jb_text(&jb, "status", o.status);
		/* the key was free under the lock: taken now, it is a concurrent writer's (WL003) */
		if (!write_op(&w, b, txn_id, "request_refund", o.amount, clk, key, t.txn_id, req, jb_end(&jb),
					  legs_of(&legs, "request_refund"), NULL))
		{
			(void) after_no_write(&w, key, "request_refund", req, txn_id);
			elog(ERROR, "could not write wallet %lld", (long long) w.id);
		}
		insert_refund(&o, &w, t.txn_id, txn_id, reason, note,
					  strcmp(o.status, "approved") == 0 ? "auto" : NULL, NULL, clk);
		if (ncoupons > 0)
			take_coupons(coupons, ncoupons, o.refund_id, clk);
	}

result:
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		values[0] = Int64GetDatum(o.refund_id);
		values[1] = major(o.amount, w.exponent);
		values[2] = major(o.fee, w.exponent);
		values[3] = major(o.net, w.exponent);
		values[4] = major(o.clawback, w.exponent);
		values[5] = major(o.bonus_void, w.exponent);
		values[6] = o.status ? CStringGetTextDatum(o.status) : (Datum) 0;
		nulls[6] = o.status == NULL;
		values[7] = BoolGetDatum(o.replayed);
		values[8] = major(o.coupon_clawback, w.exponent);
		values[9] = Int32GetDatum(o.coupons_voided);
		MemoryContextSwitchTo(spi);
	}
	op_leave(caller);
	{
		static const Oid types[10] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
		TEXTOID, BOOLOID, NUMERICOID, INT4OID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_request_refund(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(request_body, fcinfo);
}
