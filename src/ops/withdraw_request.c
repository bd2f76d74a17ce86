/*
 * withdraw_request.c
 *	  wallet.request_withdrawal: a withdrawal of earnings asked for, on the
 *	  shared pipeline. The amount is held at once (withdraw_common.c); the
 *	  request is approved when it is small enough and the day's total stays
 *	  within the review threshold, and waits for review otherwise.
 */
#include "ops/withdraw.h"

PG_FUNCTION_INFO_V1(wallet_request_withdrawal);

/*
 * wallet.request_withdrawal(wallet_id bigint, amount numeric, idempotency_key
 * text, destination text, method text, note text, step_up text) returns (withdrawal_id,
 * amount, fee, net, status, replayed). Refused: frozen (WL002), in debt
 * (WL008), below the minimum, nothing after the fee or past the day's maximum
 * (WL007), more than the earnings (WL001).
 *
 * As a spend: the plain request is made from the row read without its lock,
 * written under the version check (a lost race reads again, and after
 * OPTIMISTIC_TRIES takes the lock), its key's insert finding a replay. Anything
 * else (a hold past its expiry, payee credits that count, a debt, a refusal,
 * a limit or step-up rule to apply, a frozen wallet) is decided under the row
 * lock, the key looked up first, so that an error never hides a replay.
 */
static Datum
request_body(PG_FUNCTION_ARGS)
{
	char	   *key = check_text(fcinfo, 2, "idempotency_key", 200, true);
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz clk = wallet_clock();
	int64		wallet_id = op_begin(fcinfo);
	WalletRow	w;
	WithdrawSpec s;
	WithdrawMade out;
	int64		amount = 0;
	int			exponent;
	bool		replayed = false;
	bool		must_lock = false;
	Jsonb	   *req = NULL;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	memset(&s, 0, sizeof(s));
	memset(&out, 0, sizeof(out));
	for (int attempt = 0;; attempt++)
	{
		bool		lock = must_lock || attempt >= OPTIMISTIC_TRIES;
		LotBuilder *b;
		WithdrawQuote q;
		Jsonb	   *prior;

		read_wallet(wallet_id, lock, true, &w);
		if (attempt == 0)
		{
			JB			jb;

			pin_key_lookups();
			amount = op_amount(fcinfo, 1, &w);
			s.destination = check_text(fcinfo, 3, "destination", 200, true);
			s.method = check_text(fcinfo, 4, "method", 64, false);
			s.note = check_text(fcinfo, 5, "note", 1000, false);
			s.step_up = step_up_arg(fcinfo, 6);
			jb_begin(&jb);
			jb_int(&jb, "amount", amount);
			jb_text(&jb, "destination", s.destination);
			jb_text_if(&jb, true, "method", s.method);
			jb_text_if(&jb, true, "note", s.note);
			req = jb_end(&jb);
		}
		b = lotset_unpack(w.lots);
		if (lock)
		{
			int64		debt;

			prior = find_replay(&w, key, "request_withdrawal", req);
			if (prior != NULL)
			{
				withdraw_made_of(prior, &out);
				replayed = true;
				break;
			}
			refuse_frozen(&w, NULL);
			debt = withdraw_prepare(&w, b, clk, amount);
			refuse_in_debt(w.id, debt, w.exponent, "withdraw");
			withdraw_quote_now(&w, amount, engine_earnings(b), clk, false, &q);
			withdraw_refuse(&w, &q);
		}
		else
		{
			if (w.frozen || withdraw_needs_prepare(&w, b, clk, amount))
			{
				must_lock = true;
				continue;
			}
			withdraw_quote_now(&w, amount, engine_earnings(b), clk, false, &q);
			if (q.refusal != WITHDRAW_OK || !limits_allow(&w, LIMIT_WITHDRAW, amount, clk))
			{
				must_lock = true;
				continue;
			}
		}
		if (withdraw_make(&w, b, &q, &s, "request_withdrawal", key, req, clk, &out))
			break;
		prior = after_no_write(&w, key, "request_withdrawal", req, out.txn_id);
		if (prior != NULL)
		{
			withdraw_made_of(prior, &out);
			replayed = true;
			break;
		}
		if (lock)
			elog(ERROR, "wallet %lld changed under its lock", (long long) w.id);
		/* lost a race: read again */
	}
	exponent = w.exponent;
	op_leave(caller);
	values[0] = Int64GetDatum(out.withdrawal_id);
	values[1] = major(out.amount, exponent);
	values[2] = major(out.fee, exponent);
	values[3] = major(out.net, exponent);
	values[4] = CStringGetTextDatum(out.status);
	values[5] = BoolGetDatum(replayed);
	{
		static const Oid types[6] = {INT8OID, NUMERICOID, NUMERICOID, NUMERICOID, TEXTOID, BOOLOID};

		PG_RETURN_DATUM(op_row(fcinfo, values, nulls, types, lengthof(types)));
	}
}

Datum
wallet_request_withdrawal(PG_FUNCTION_ARGS)
{
	return with_compressed_wal(request_body, fcinfo);
}
