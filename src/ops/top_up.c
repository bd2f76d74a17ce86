/*
 * top_up.c
 *	  wallet.top_up: one cash lot and one bonus lot per rule group that grants
 *	  a bonus, on the shared pipeline.
 */
#include "ops/ops.h"

PG_FUNCTION_INFO_V1(wallet_top_up);

/*
 * wallet.top_up(wallet_id bigint, amount numeric, idempotency_key text,
 * method text, external_ref text) returns (txn_id, bonus, replayed): one cash
 * lot refundable until clock + the refund window, and one bonus lot per rule
 * group whose applied rule grants a non-zero bonus.
 */
static Datum
top_up_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	int64		wallet_id;
	TimestampTz clk = wallet_clock();
	WalletRow	w;
	int64		amt = 0;
	char	   *method = NULL;
	char	   *ext = NULL;
	Jsonb	   *req = NULL;
	JB			jb;
	int64		txn_id = 0;
	int64		total = 0;
	bool		replayed = false;
	bool		compact = true;
	int			exponent = 0;
	Datum		coupons = (Datum) 0;
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};


	wallet_id = op_begin(fcinfo);
	for (int attempt = 0;; attempt++)
	{
		bool		lock = attempt >= OPTIMISTIC_TRIES;
		Jsonb	   *prior;
		LotBuilder *b;
		Postings	legs;
		Jsonb	   *res;
		Numeric		campaign_fee = NULL;
		TimestampTz until;
		int			nrules;
		PlanRule   *plan;
		bool		auto_issue;

		read_wallet(wallet_id, lock, true, &w);
		exponent = w.exponent;
		if (attempt == 0)
		{
			amt = op_amount(fcinfo, 1, &w);
			method = check_text(fcinfo, 3, "method", 64, false);
			ext = check_text(fcinfo, 4, "external_ref", 200, false);
			/* null arguments are left out, as a spend's (not on a 0.1 schema) */
			compact = OidIsValid(plans.key_rel);
			jb_begin(&jb);
			jb_int(&jb, "amount", amt);
			jb_text_if(&jb, compact, "method", method);
			jb_text_if(&jb, compact, "external_ref", ext);
			req = jb_end(&jb);
		}
		b = lotset_unpack(w.lots);

		/*
		 * The key is looked up first only where the write cannot take it in
		 * the same statement (under the row lock, on a 0.1 schema, with coupons
		 * to issue) or where the wallet is near its lot limit (an error that
		 * must not hide a replay); otherwise the write's own key insert finds
		 * a replay (after_no_write).
		 */
		/* the coupon templates and bonus rules, read with the policy */
		if (w.conf == NULL)
			w.conf = currency_conf(w.currency, w.exponent);
		auto_issue = w.conf->topup_templates;
		nrules = bonus_plan(w.conf, amt, clk, &plan);
		prior = NULL;
		if (lock || auto_issue || !OidIsValid(plans.key_rel) || b->nlots > WALLET_MAX_LOTS - 64)
			prior = find_replay(&w, key, "top_up", req);
		if (prior == NULL)
		{
			txn_id = nextval_internal(plans.txn_seq, false);
			until = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															TimestampTzGetDatum(clk), w.refund_window));
			engine_add(b, BUCKET_CASH, amt, txn_id, clk, until, NULL);
			postings_init(&legs);
			post_top_up(&legs, w.id, amt);

			/* the rules of the currency active now, one applied rule per group */
			total = 0;
			for (int k = 0; k < nrules; k++)
			{
				PlanRule   *r = &plan[k];

				engine_add(b, BUCKET_BONUS, r->bonus, txn_id, clk, r->expires, r->scope);
				post_bonus(&legs, w.id, r->bonus);
				total = checked_add(total, r->bonus);
				if (r->campaign != NULL && r->fee != NULL &&
					(campaign_fee == NULL ||
					 DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(r->fee),
													  NumericGetDatum(campaign_fee)))))
					campaign_fee = r->fee;
			}
			/*
			 * Coupons issued on qualifying top-ups need the row lock the update
			 * takes and go into the result: then the update and the journal row
			 * are two statements. Otherwise one.
			 */
			if (auto_issue)
			{
				Datum		aargs[4] = {Int64GetDatum(w.id), Int64GetDatum(amt), Int64GetDatum(txn_id),
				CStringGetTextDatum(w.currency)};

				if (!save_wallet(&w, b))
					continue;		/* lost a race: read again */
				coupons = select_datum(plans.auto_issue, 4, aargs);
			}

			/*
			 * The result leaves out an empty list of coupons and a campaign
			 * fee rate of none (readers take them as empty and 0), except on a
			 * 0.1 schema.
			 */
			jb_begin(&jb);
			jb_int(&jb, "txn_id", txn_id);
			jb_int(&jb, "bonus", total);
			if (coupons || !compact)
			{
				jb_key(&jb, "coupons");
				jb_push(&jb, WJB_BEGIN_ARRAY, NULL);
				if (coupons)
				{
					Datum	   *elems;
					bool	   *enulls;
					int			ne;

					deconstruct_array(DatumGetArrayTypeP(coupons), TEXTOID, -1, false, TYPALIGN_INT,
									  &elems, &enulls, &ne);
					for (int k = 0; k < ne; k++)
						jb_text(&jb, NULL, enulls[k] ? NULL : TextDatumGetCString(elems[k]));
				}
				jb_push(&jb, WJB_END_ARRAY, NULL);
			}
			jb_key(&jb, "rules");
			jb_push(&jb, WJB_BEGIN_ARRAY, NULL);
			for (int k = 0; k < nrules; k++)
			{
				jb_push(&jb, WJB_BEGIN_OBJECT, NULL);
				jb_int(&jb, "rule_id", plan[k].rule_id);
				jb_text(&jb, "campaign", plan[k].campaign);
				jb_int(&jb, "bonus", plan[k].bonus);
				jb_push(&jb, WJB_END_OBJECT, NULL);
			}
			jb_push(&jb, WJB_END_ARRAY, NULL);
			if (campaign_fee || !compact)
				jb_numeric(&jb, "campaign_fee_rate", campaign_fee ? campaign_fee : int64_to_numeric(0));
			jb_text(&jb, "refundable_until",
					JsonEncodeDateTime(NULL, TimestampTzGetDatum(until), TIMESTAMPTZOID, NULL));
			res = jb_end(&jb);
			if (auto_issue)
			{
				insert_txn(txn_id, &w, "top_up", amt, clk, key, NO_REF_TXN, req, res, legs_of(&legs, "top_up"), NULL);
				break;
			}
			if (write_op(&w, b, txn_id, "top_up", amt, clk, key, NO_REF_TXN, req, res, legs_of(&legs, "top_up"), NULL))
				break;
			prior = after_no_write(&w, key, "top_up", req, txn_id);
			if (prior == NULL)
				continue;			/* lost a race: read again */
		}
		/* a replay: the stored result */
		txn_id = jsonb_int(prior, "txn_id");
		total = jsonb_int(prior, "bonus");
		replayed = true;
		coupons = select_datum(plans.replay_coupons, 1, (Datum[]) {Int64GetDatum(txn_id)});
		break;
	}
	if (coupons)
		coupons = SPI_datumTransfer(coupons, false, -1);
	op_leave(caller);
	values[0] = Int64GetDatum(txn_id);
	values[1] = major(total, exponent);
	values[2] = BoolGetDatum(replayed);
	values[3] = coupons ? coupons : PointerGetDatum(construct_empty_array(TEXTOID));
	{
		static const Oid types[4] = {INT8OID, NUMERICOID, BOOLOID, TEXTARRAYOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_top_up(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(top_up_body, fcinfo);
}
