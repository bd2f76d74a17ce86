/*
 * spend_core.c
 *	  The spend itself, shared by wallet.spend (one payee at most) and
 *	  wallet.spend_split (several): an order charged in spending order after
 *	  a coupon's discount, under the currency's spend rules, each payee
 *	  credited its part less commission, on the shared pipeline. The
 *	  operations' files read their arguments (SpendArgs) and form the result
 *	  row; everything between is here, once.
 */
#include "ops/ops.h"

/*
 * spend_parts fills parts with what each payee of ask gets of charged: all
 * of it for a spend's one payee, the split in proportion to the shares
 * (engine_split, largest remainder first) for a split payment.
 */
static void
spend_parts(const SpendAsk *ask, int64 charged, int64 *parts)
{
	if (ask->shares == NULL)
		parts[0] = charged;
	else
		engine_split(charged, ask->shares, ask->npayees, parts);
}

/*
 * spend_run runs a spend of the wallet in argument 0 (refused when NULL) with
 * key, journaled as kind, and fills out (minor units) and *exponent. args
 * reads the other arguments into the ask once the wallet is read (their
 * amounts need its currency); policy says whether the wallet's policy is read
 * with it (a payee's commission).
 *
 * The wallet is read without its lock and written under the version check (a
 * lost race reads again, and after OPTIMISTIC_TRIES takes the lock); too
 * little, a spend rule and the payee credits rolled up are decided under the
 * lock. A payee's credit waits in wallet.payee_credit, so concurrent spends
 * paying one payee never queue on its row.
 */
void
spend_run(FunctionCallInfo fcinfo, const char *kind, const char *key, bool policy, SpendArgs args,
		  SpendOut *out, int *exponent)
{
	int64		wallet_id;
	TimestampTz clk = wallet_clock();
	WalletRow	w;
	SpendAsk	ask;
	JB			jb;
	bool		must_lock = false;
	bool		rolled_up = false;
	bool		probed;
	char	   *canonical = NULL;

	memset(out, 0, sizeof(*out));
	memset(&ask, 0, sizeof(ask));
	wallet_id = op_begin(fcinfo);
	for (int attempt = 0;; attempt++)
	{
		bool		lock = must_lock || attempt >= OPTIMISTIC_TRIES;
		Jsonb	   *prior;
		LotBuilder *b;
		LotBuilder *taken;
		Postings	legs;
		Jsonb	   *res;
		Numeric		payee_rate = NULL;
		SpendRules	rules;
		bool		earnings;
		int64		order;		/* the order less the coupon's discount */
		int64		want;		/* what the wallet is asked for (max_charge) */
		int64		shortfall;	/* what the lots could not give of want */
		int64	   *parts;
		PayeePart  *pp;
		Reward		rw;
		int64		grant;

		read_wallet(wallet_id, lock, policy, &w);
		*exponent = w.exponent;
		if (attempt == 0)
		{
			/*
			 * Null arguments are left out of the request (a spend's journal row
			 * is the one written most), except on a 0.1 schema, whose SQL reads
			 * every member.
			 */
			ask.compact = OidIsValid(plans.key_rel);
			args(fcinfo, &w, &ask);
		}
		/*
		 * The key is looked up first under the row lock and on a 0.1 schema;
		 * otherwise only before an error (which must not hide a replay) or
		 * when the write's own key insert finds the key taken.
		 */
		prior = NULL;
		probed = false;
		if (lock || !OidIsValid(plans.key_rel))
		{
			prior = find_replay(&w, key, kind, ask.req);
			probed = true;
		}
		if (prior == NULL)
		{
#define REPLAY_FIRST() \
	do { \
		if (!probed) \
		{ \
			probed = true; \
			prior = find_replay(&w, key, kind, ask.req); \
			if (prior) \
				goto replay; \
		} \
	} while (0)

		if (w.frozen)
		{
			REPLAY_FIRST();
			refuse_frozen(&w, NULL);
		}
		for (int i = 0; i < ask.npayees; i++)
		{
			char	   *pcur;
			PayeeProblem problem;

			/* a payee on another shard is checked there, when the relay applies its credit */
			if (!shard_local(ask.payees[i]))
				continue;
			problem = payee_problem(&w, ask.payees[i], &pcur);
			if (problem != PAYEE_OK)
			{
				REPLAY_FIRST();
				payee_refuse(problem, &w, ask.payees[i], pcur);
			}
		}
		/* the same currency, so the same policy */
		if (ask.npayees > 0)
			payee_rate = w.commission_rate;

		/* a coupon takes its discount off first; the rest is charged */
		out->discount = 0;
		canonical = NULL;
		if (ask.coupon != NULL)
		{
			Datum		cargs[7] = {CStringGetTextDatum(ask.coupon), Int64GetDatum(w.id),
				CStringGetTextDatum(w.currency), Int32GetDatum(w.exponent), Int64GetDatum(ask.amount),
			ask.scene ? CStringGetTextDatum(ask.scene) : (Datum) 0, TimestampTzGetDatum(clk)};
			char		cnulls[7] = {' ', ' ', ' ', ' ', ' ', ask.scene ? ' ' : 'n', ' '};
			bool		isnull;

			if (run_plan(plans.coupon_check, cargs, cnulls, false, 1) != SPI_OK_SELECT ||
				SPI_processed != 1)
				elog(ERROR, "could not check coupon");
			if (!DatumGetBool(getcol(1, &isnull)))
			{
				char	   *reason = TextDatumGetCString(getcol(3, &isnull));

				REPLAY_FIRST();
				ereport(ERROR,
						(errcode(ERRCODE_WL('5')),
						 errmsg("coupon not valid"),
						 errdetail_internal("%s", reason)));
			}
			out->discount = DatumGetInt64(getcol(2, &isnull));
			canonical = TextDatumGetCString(getcol(4, &isnull));
		}

		currency_spend_rules(w.currency, w.exponent, &rules);
		earnings = engine_earnings_usable(rules.earnings_scope, ask.scene);
		order = ask.amount - out->discount;
		want = ask.has_max ? Min(order, ask.max_charge) : order;
		b = lotset_unpack(w.lots);
		if (spend_rules_weigh(&rules))
		{
			/*
			 * The rules weigh what the wallet has: its payee credits are rolled
			 * up first, under the row lock (a credit that repaid a debt wrote
			 * the row).
			 */
			if (!lock)
			{
				must_lock = true;
				continue;
			}
			if (rollup_credits(w.id, b, clk))
				refresh_wallet_tuple(&w);
		}
		if (engine_due_hold(b, clk) != 0)
		{
			/* a hold past its expiry is given back first, journaled, under the row lock */
			if (!lock)
			{
				must_lock = true;
				continue;
			}
			holds_give_back_due(&w, b, clk);
		}
		shortfall = engine_spend_in(b, want, ask.scene, clk, earnings, out->used, &taken);
		if (shortfall > 0 && !lock)
		{
			/*
			 * Too little is decided under the row lock only: the unlocked read may
			 * predate a top-up or a roll-up of payee credits committed since.
			 */
			must_lock = true;
			continue;
		}
		if (shortfall > 0 && !rolled_up)
		{
			Datum		hargs[1] = {Int64GetDatum(w.id)};

			if (run_plan(plans.has_pending, hargs, NULL, false, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read payee credits");
			if (SPI_processed > 0 && OidIsValid(plans.key_rel))
			{
				/*
				 * Rolled up by wallet._rollup_wallet (debt repaid first), once a
				 * call; then the wallet row, which it wrote, is read again.
				 */
				if (run_plan(plans.rollup, hargs, NULL, false, 0) != SPI_OK_SELECT)
					elog(ERROR, "could not roll up payee credits");
				rolled_up = true;
				must_lock = true;
				continue;
			}
			if (SPI_processed > 0)
			{
				bool		isnull;
				int64		credit;
				int64		last_txn;

				if (run_plan(plans.rollup, hargs, NULL, false, 0) != SPI_OK_SELECT)
					elog(ERROR, "could not roll up payee credits");
				credit = DatumGetInt64(getcol(1, &isnull));
				last_txn = DatumGetInt64(getcol(2, &isnull));
				b = lotset_unpack(w.lots);
				engine_add(b, BUCKET_EARNINGS, credit, last_txn, clk, WALLET_NO_TIME, NULL);
				shortfall = engine_spend_in(b, want, ask.scene, clk, earnings, out->used, &taken);
			}
		}
		out->shortfall = order - want + shortfall;
		if (shortfall > 0 && !ask.partial && !ask.has_max)
		{
			REPLAY_FIRST();
			ereport(ERROR,
					(errcode(ERRCODE_WL('1')),
					 errmsg("insufficient funds"),
					 errdetail("Wallet %lld can pay %s of %s%s.", (long long) w.id,
							   DatumGetCString(DirectFunctionCall1(numeric_out,
																   major(ask.amount - out->discount - out->shortfall, w.exponent))),
							   DatumGetCString(DirectFunctionCall1(numeric_out, major(ask.amount - out->discount, w.exponent))),
							   ask.scene ? psprintf(" in scene \"%s\"", ask.scene) : ""),
					 ask.shares ? 0 :
					 errhint("Pass allow_partial => true to charge what is available and collect the rest elsewhere.")));
		}

		out->charged = ask.amount - out->discount - out->shortfall;
		if (spend_rules_weigh(&rules))
		{
			/* what was available: what it charged and what is left usable here */
			int64		available = checked_add(out->charged, engine_available(b, ask.scene, clk, earnings));
			const char *rule = engine_spend_rule(order, available, out->charged, rules.min_balance_use,
												 rules.use_all_below);

			if (rule != NULL && !lock)
			{
				/* decided under the row lock only, as too little is */
				must_lock = true;
				continue;
			}
			if (rule != NULL)
			{
				REPLAY_FIRST();
				spend_rule_refuse(rule, &w, &rules, available);
			}
		}
		/* the limits: what the wallet pays counts; a refusal or a step-up is decided under the lock */
		if (!limits_apply(&w, LIMIT_SPEND, kind, out->charged, ask.step_up, clk, lock, &grant))
		{
			must_lock = true;
			continue;
		}
		out->txn_id = nextval_internal(plans.txn_seq, false);

		/* each payee's part of what was charged, less the commission on it */
		parts = palloc(sizeof(int64) * Max(ask.npayees, 1));
		pp = palloc(sizeof(PayeePart) * Max(ask.npayees, 1));
		if (ask.npayees > 0)
			spend_parts(&ask, out->charged, parts);
		for (int i = 0; i < ask.npayees; i++)
		{
			pp[i].payee = ask.payees[i];
			pp[i].commission = rate_of(parts[i], payee_rate);
			pp[i].credit = parts[i] - pp[i].commission;
			pp[i].remote = !shard_local(pp[i].payee);
		}
		postings_init(&legs);
		post_spend_to(&legs, w.id, out->used, out->charged, out->discount, pp, ask.npayees);
		/* reward points: no statement at all without a reward rule of the currency */
		(void) reward_plan(&w, ask.scene, out->charged, clk, &rw);

		/*
		 * The result: txn_id and charged always, the other amounts where not
		 * zero, the payee's members where there is one (readers take a missing
		 * amount as 0); every member on a 0.1 schema. A spend's journal row
		 * is 38 % narrower so. A split payment names each payee with its part,
		 * its credit and the commission kept on it, in the order given.
		 */
		jb_begin(&jb);
		jb_int(&jb, "txn_id", out->txn_id);
		jb_int(&jb, "charged", out->charged);
		jb_int_if(&jb, ask.compact, "discount", out->discount);
		jb_int_if(&jb, ask.compact, "bonus_used", out->used[BUCKET_BONUS]);
		jb_int_if(&jb, ask.compact, "cash_used", out->used[BUCKET_CASH]);
		jb_int_if(&jb, ask.compact, "earnings_used", out->used[BUCKET_EARNINGS]);
		jb_int_if(&jb, ask.compact, "shortfall", out->shortfall);
		if (ask.shares != NULL)
		{
			int64	   *credits = palloc(sizeof(int64) * ask.npayees);
			int64	   *comms = palloc(sizeof(int64) * ask.npayees);

			for (int i = 0; i < ask.npayees; i++)
			{
				credits[i] = pp[i].credit;
				comms[i] = pp[i].commission;
			}
			jb_int_array(&jb, "payees", ask.payees, ask.npayees);
			jb_int_array(&jb, "parts", parts, ask.npayees);
			jb_int_array(&jb, "payee_credits", credits, ask.npayees);
			jb_int_array(&jb, "commissions", comms, ask.npayees);
		}
		else if (ask.npayees > 0 || !ask.compact)
		{
			jb_int_or_null(&jb, "payee", ask.npayees > 0, ask.npayees > 0 ? ask.payees[0] : 0);
			jb_int(&jb, "payee_credit", ask.npayees > 0 ? pp[0].credit : 0);
			jb_int(&jb, "commission", ask.npayees > 0 ? pp[0].commission : 0);
		}
		reward_json(&jb, &rw);
		limits_json(&jb, grant);
		res = jb_end(&jb);
		if (!write_op(&w, b, out->txn_id, kind, out->charged, clk, key, NO_REF_TXN, ask.req, res,
					  legs_of(&legs, kind), lotset_pack(taken)))
		{
			prior = after_no_write(&w, key, kind, ask.req, out->txn_id);
			if (prior == NULL)
				continue;		/* lost a race: read again */
			goto replay;
		}
		limits_used(grant, out->txn_id, clk);
		if (canonical != NULL)
		{
			Datum		rargs[5] = {CStringGetTextDatum(canonical), Int64GetDatum(w.id),
				Int64GetDatum(out->txn_id), Int64GetDatum(out->discount),
			TimestampTzGetDatum(clk)};

			if (run_plan(plans.redeem, rargs, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not redeem coupon");
		}
		for (int i = 0; i < ask.npayees; i++)
		{
			if (!pp[i].remote)
				credit_payee(pp[i].payee, pp[i].credit, out->txn_id);
			else if (pp[i].credit > 0)	/* by the outbox: CONTRACT.md section 23 */
				(void) outbox_send(w.id, out->txn_id, pp[i].payee, w.currency, pp[i].credit, "payee", clk);
		}
		reward_credit(&rw, out->txn_id, clk);
		out->points = rw.points;
		out->points_exponent = rw.exponent;
		break;
#undef REPLAY_FIRST
		}
replay:
		/* a replay: the stored result */
		out->txn_id = jsonb_int(prior, "txn_id");
		out->charged = jsonb_int(prior, "charged");
		out->discount = jsonb_int_or_zero(prior, "discount");
		out->used[BUCKET_BONUS] = jsonb_int_or_zero(prior, "bonus_used");
		out->used[BUCKET_CASH] = jsonb_int_or_zero(prior, "cash_used");
		out->used[BUCKET_EARNINGS] = jsonb_int_or_zero(prior, "earnings_used");
		out->shortfall = jsonb_int_or_zero(prior, "shortfall");
		out->points = jsonb_int_or_zero(prior, "points");
		out->points_exponent = (int) jsonb_int_or_zero(prior, "points_exponent");
		out->replayed = true;
		break;
	}
}

/*
 * spend_result_row forms the row of wallet.spend_result from out (after
 * op_leave): its points last, where the row type has them (a schema before
 * section 18 returns the first eight columns).
 */
Datum
spend_result_row(FunctionCallInfo fcinfo, const SpendOut *out, int exponent)
{
	static const Oid types[9] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
	NUMERICOID, NUMERICOID, BOOLOID, NUMERICOID};
	Datum		values[9];
	bool		nulls[9] = {false, false, false, false, false, false, false, false, false};
	TupleDesc	td = wallet_result_desc(fcinfo);
	int			live = 0;

	values[0] = Int64GetDatum(out->txn_id);
	values[1] = major(out->charged, exponent);
	values[2] = major(out->discount, exponent);
	values[3] = major(out->used[BUCKET_BONUS], exponent);
	values[4] = major(out->used[BUCKET_CASH], exponent);
	values[5] = major(out->used[BUCKET_EARNINGS], exponent);
	values[6] = major(out->shortfall, exponent);
	values[7] = BoolGetDatum(out->replayed);
	values[8] = major(out->points, out->points_exponent);
	for (int i = 0; i < td->natts; i++)
		if (!TupleDescAttr(td, i)->attisdropped)
			live++;
	return op_row(fcinfo, values, nulls, types, live >= 9 ? 9 : 8);
}
