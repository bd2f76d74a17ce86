-- limits: rules on what a wallet may debit (CONTRACT.md section 20). A rule of a currency (or of
-- one wallet, which can only lower its limits) caps an operation class (spend: spends and holds;
-- transfer; withdraw; exchange; card_payout; debit: the first four together) per call, per day or
-- per month of policy.limit_time_zone, by amount and/or count, and refuses (WL007) or asks for a
-- step-up grant (WL009, sql/step_up.sql). Usage counts what was charged, open holds and open
-- withdrawals; reversals, releases, expired holds and rejected, failed or returned withdrawals
-- give it back within the period it was counted in.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
-- 10:00 in Shanghai (limit_time_zone below), 1 July
SET wallet.now = '2026-07-01 02:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9740000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8300000) AS t0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 9740000) AS h0,
       setval(pg_get_serial_sequence('wallet.withdrawal', 'withdrawal_id'), 9740000) AS d0,
       setval(pg_get_serial_sequence('wallet.limit_rule', 'rule_id'), 9740000) AS r0 \gset

-- A currency of this file's own, its days counted in Shanghai (UTC+8).
INSERT INTO wallet.currency (code, exponent) VALUES ('QLM', 2);
SELECT limit_time_zone FROM wallet.set_policy('QLM', limit_time_zone => 'Asia/Shanghai');
SELECT wallet.open('lim-ann', 'QLM') AS ann, wallet.open('lim-bob', 'QLM') AS bob,
       wallet.open('lim-shop', 'QLM') AS shop \gset
SELECT bonus FROM wallet.top_up(:ann, 5000, 'a-t1');
SELECT bonus FROM wallet.top_up(:bob, 5000, 'b-t1');
SELECT replayed FROM wallet.adjust(:ann, 'earnings', 5000, 'seller payout', 'a-e1');

-- pg_temp.usage shows wallet.limit_usage with rule ids relative to this file's range.
CREATE FUNCTION pg_temp.usage(wid bigint, r0 bigint)
  RETURNS TABLE (rule bigint, operation text, period text, period_start timestamptz, used_amount numeric,
                 used_count bigint, remaining_amount numeric, remaining_count bigint)
  LANGUAGE sql AS $$
  SELECT u.rule_id - r0, u.operation, u.period, u.period_start, u.used_amount, u.used_count, u.remaining_amount,
         u.remaining_count FROM wallet.limit_usage(wid) u $$;

------------------------------------------------------------------------------
-- Rules are checked when they are written (22023; an unknown wallet: WL006)
------------------------------------------------------------------------------
SELECT wallet.add_limit_rule('QLM', 'shopping', 'day', 100);
SELECT wallet.add_limit_rule('QLM', 'spend', 'week', 100);
SELECT wallet.add_limit_rule('QLM', 'spend', 'day');
SELECT wallet.add_limit_rule('QLM', 'spend', 'operation', max_count => 3);
SELECT wallet.add_limit_rule('QLM', 'spend', 'day', 0.001);
SELECT wallet.add_limit_rule('QLM', 'spend', 'day', -1);
SELECT wallet.add_limit_rule('QLM', 'spend', 'day', 100, action => 'warn');
SELECT wallet.add_limit_rule('QLM', 'spend', 'day', 100, wallet_id => -1);
SELECT wallet.add_limit_rule('CNY', 'spend', 'day', 100, wallet_id => :ann);
SELECT wallet.add_limit_rule('XXX', 'spend', 'day', 100);
SELECT count(*) AS rules FROM wallet.limit_rule WHERE currency = 'QLM';

------------------------------------------------------------------------------
-- Counters are kept from the start, with no rule in force: a rule added later sees the day
------------------------------------------------------------------------------
SELECT charged FROM wallet.spend(:ann, 100, 'a-s1');
-- spend per day at most 400, and per operation at most 250 (refuse)
SELECT wallet.add_limit_rule('QLM', 'spend', 'day', 400) - :r0 AS day_rule,
       wallet.add_limit_rule('QLM', 'spend', 'operation', 250) - :r0 AS op_rule;
SELECT * FROM pg_temp.usage(:ann, :r0);

-- each call alone: 260 is above 250 (WL007, the rule in the detail); nothing changes
SELECT * FROM wallet.spend(:ann, 260, 'a-s2');
\echo :SQLSTATE
SELECT charged FROM wallet.spend(:ann, 250, 'a-s2');
-- the day: 350 used, 50 remain; 51 is refused, 50 goes through, then nothing more today
SELECT * FROM wallet.spend(:ann, 51, 'a-s3');
SELECT charged FROM wallet.spend(:ann, 50, 'a-s3');
SELECT * FROM wallet.spend(:ann, 0.01, 'a-s9');
\echo :SQLSTATE
SELECT cash FROM wallet.balance(:ann);
-- another wallet has its own day: bob
SELECT charged FROM wallet.spend(:bob, 250, 'b-s1');
-- what counts is what the wallet pays: with max_charge, the rest is collected elsewhere
SELECT charged, shortfall FROM wallet.spend(:bob, 250, 'b-s2', max_charge => 150);
SELECT * FROM pg_temp.usage(:bob, :r0);
-- a hold counts as a spend when it is made (bob has 400 - 400 = 0 left today)
SELECT * FROM wallet.hold(:bob, 1, 'b-h0');
\echo :SQLSTATE
-- a replay of a spend made before is not judged again
SELECT charged, replayed FROM wallet.spend(:bob, 250, 'b-s1');

------------------------------------------------------------------------------
-- Days are days of limit_time_zone (Asia/Shanghai), never the session's TimeZone
------------------------------------------------------------------------------
-- 23:59 in Shanghai is 15:59 UTC; 00:01 the next day is 16:01 UTC (still 1 July in UTC)
SET wallet.now = '2026-07-01 15:59:00+00';
SELECT * FROM wallet.spend(:ann, 1, 'a-tz1');
\echo :SQLSTATE
SET TimeZone = 'America/New_York';
SELECT * FROM wallet.spend(:ann, 1, 'a-tz1');
\echo :SQLSTATE
SET wallet.now = '2026-07-01 16:01:00+00';
-- a new day in Shanghai (the session reads 12:01 on 1 July in New York): the day's usage is 0
SELECT rule, period, period_start, used_amount, remaining_amount FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
SELECT charged FROM wallet.spend(:ann, 1, 'a-tz1');
SET TimeZone = 'UTC';
SELECT rule, period, period_start, used_amount, remaining_amount FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
SET wallet.now = '2026-07-02 02:00:00+00';

------------------------------------------------------------------------------
-- Usage given back: a reversal, a release, a final capture, an expired hold
------------------------------------------------------------------------------
-- ann today (2 July in Shanghai): 1 spent at 00:01; a spend of 200
SELECT txn_id AS s200 FROM wallet.spend(:ann, 200, 'a-s4') \gset
SELECT used_amount, used_count, remaining_amount FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
-- a partial reversal gives back its amount; the count stays until all is back
SELECT cash_returned FROM wallet.reverse_spend(:s200, 'a-r1', 50);
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
SELECT cash_returned FROM wallet.reverse_spend(:s200, 'a-r2');
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
-- a hold of 250 counts at once; released in part (100) and then all: given back
SELECT hold_id AS h1, held FROM wallet.hold(:ann, 250, 'a-h1', ttl => '1 hour') \gset
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
SELECT * FROM wallet.spend(:ann, 200, 'a-s5');
\echo :SQLSTATE
SELECT released FROM wallet.release_hold(:h1, 'a-rl1', 100);
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
SELECT released, status FROM wallet.release_hold(:h1, 'a-rl2');
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
-- a capture is not counted again; a final capture gives back what it releases
SELECT hold_id AS h2 FROM wallet.hold(:ann, 200, 'a-h2', ttl => '1 hour') \gset
SELECT captured, released, status FROM wallet.capture_hold(:h2, 'a-c1', 120);
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
-- the capture's reversal gives back in the period its hold was counted in
SELECT txn_id AS c1 FROM wallet.transactions WHERE idempotency_key = 'a-c1' AND wallet_id = :ann \gset
SELECT cash_returned FROM wallet.reverse_spend(:c1, 'a-r3');
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
-- a hold past its expiry: the sweep gives back what it reserved and its count
SELECT hold_id AS h3 FROM wallet.hold(:ann, 150, 'a-h3', ttl => '1 minute') \gset
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
SET wallet.now = '2026-07-02 02:05:00+00';
SELECT holds > 0 AS swept FROM wallet.expire_holds();
SELECT status FROM wallet.hold WHERE hold_id = :h3;
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';
-- a spend counted yesterday and reversed today gives nothing back today (that day is over)
SELECT txn_id AS s_y FROM wallet.transactions WHERE idempotency_key = 'a-s2' AND wallet_id = :ann \gset
SELECT cash_returned FROM wallet.reverse_spend(:s_y, 'a-r4', 10);
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0) WHERE period = 'day';

------------------------------------------------------------------------------
-- A wallet's own rows lower its limits; they never raise them
------------------------------------------------------------------------------
SELECT wallet.add_limit_rule('QLM', 'spend', 'day', 1000, wallet_id => :bob) - :r0 AS bob_higher,
       wallet.add_limit_rule('QLM', 'spend', 'day', 20, wallet_id => :shop) - :r0 AS shop_lower;
SET wallet.now = '2026-07-03 02:00:00+00';
-- bob's 1000 does not lift the currency's 400 (nor its 250 a call)
SELECT * FROM wallet.spend(:bob, 250, 'b-s3'), wallet.spend(:bob, 151, 'b-s4');
\echo :SQLSTATE
SELECT rule, period, remaining_amount FROM pg_temp.usage(:bob, :r0);
-- the shop's 20 applies to the shop only
SELECT replayed FROM wallet.adjust(:shop, 'earnings', 100, 'sales', 'sh-e1');
SELECT * FROM wallet.spend(:shop, 21, 'sh-s1');
\echo :SQLSTATE
SELECT charged FROM wallet.spend(:shop, 20, 'sh-s1');
SELECT rule, period, used_amount, remaining_amount FROM pg_temp.usage(:shop, :r0);
SELECT rule, period, used_amount, remaining_amount FROM pg_temp.usage(:ann, :r0);

------------------------------------------------------------------------------
-- debit: spend, transfer, withdraw and exchange together; count rules; months
------------------------------------------------------------------------------
SELECT wallet.drop_limit_rule(r.rule_id) FROM wallet.limit_rule r WHERE r.currency = 'QLM';
SELECT wallet.drop_limit_rule(-1);
-- at most 4 debits a month, and at most 1000 of debits a day
SELECT wallet.add_limit_rule('QLM', 'debit', 'month', max_count => 4) - :r0 AS month_count,
       wallet.add_limit_rule('QLM', 'debit', 'day', 1000) - :r0 AS debit_day \gset
SELECT wallet.open('lim-ann', 'USD') AS ann_usd \gset
SELECT wallet.set_fx_rate('QLM', 'USD', 0.14, valid_from => '2026-01-01') > 0 AS rate;
-- today (3 July) ann spent nothing yet; this month she made 5 debits that count (the spends of
-- 1 and 2 July, less the one reversed in full and the holds released or expired): more than the
-- rule, added since, allows; and 391 (what the reversals left of 400 + 1 + 120 - 120 - 10)
SELECT rule, operation, period, used_amount, used_count, remaining_count FROM pg_temp.usage(:ann, :r0);
SET wallet.now = '2026-08-01 02:00:00+00';
-- a new month: a transfer, a withdrawal, an exchange and a spend each count
SELECT amount, fee FROM wallet.transfer(:ann, :bob, 100, 'a-x1');
SELECT withdrawal_id - :d0 AS w1, status FROM wallet.request_withdrawal(:ann, 300, 'a-w1', 'bank:ann') \gset
SELECT to_amount FROM wallet.exchange(:ann, :ann_usd, 100, 'a-fx1');
SELECT rule, operation, period, used_amount, used_count, remaining_amount, remaining_count
  FROM pg_temp.usage(:ann, :r0);
-- the day's amount: 500 used, 500 remain; a spend of 501 is refused
SELECT * FROM wallet.spend(:ann, 501, 'a-s6');
\echo :SQLSTATE
SELECT charged FROM wallet.spend(:ann, 20, 'a-s6');
-- the fifth debit of the month is refused, whatever its kind
SELECT * FROM wallet.transfer(:ann, :bob, 1, 'a-x2');
\echo :SQLSTATE
SELECT * FROM wallet.hold(:ann, 1, 'a-h4');
\echo :SQLSTATE
-- a rejected withdrawal gives back its amount and count
SELECT wallet.review_withdrawal(:d0 + :w1, false, 'ops', 'test');
SELECT rule, operation, period, used_amount, used_count FROM pg_temp.usage(:ann, :r0);
SELECT amount FROM wallet.transfer(:ann, :bob, 1, 'a-x2');
-- a failed one and a returned one too
SELECT wallet.drop_limit_rule(:r0 + :month_count);
SELECT withdrawal_id - :d0 AS w2 FROM wallet.request_withdrawal(:ann, 100, 'a-w2', 'bank:ann') \gset
SELECT withdrawal_id - :d0 AS w3 FROM wallet.request_withdrawal(:ann, 100, 'a-w3', 'bank:ann') \gset
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0);
SELECT wallet.review_withdrawal(:d0 + :w2, true, 'ops'), wallet.review_withdrawal(:d0 + :w3, true, 'ops');
SELECT wallet.settle_withdrawal(:d0 + :w2, false, 'gw-fail');
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0);
SELECT wallet.settle_withdrawal(:d0 + :w3, true, 'gw-ok');
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0);
SELECT wallet.return_withdrawal(:d0 + :w3, 'gw-back', 'account closed');
SELECT used_amount, used_count FROM pg_temp.usage(:ann, :r0);

------------------------------------------------------------------------------
-- What card intakes pay: a settlement past the limit is refused whole (WL007)
------------------------------------------------------------------------------
SELECT card_type FROM wallet.set_card_type('lim_card', 'Limits card', 'QLM', 'supermarket', '{100}');
SELECT wallet.add_card_rate('lim_card', 0.9) > 0 AS rate;
SELECT wallet.add_limit_rule('QLM', 'card_payout', 'day', 150) - :r0 AS card_day;
SELECT intake_id AS i1 FROM wallet.submit_cards(:bob, 'lim_card', '{100, 100}', '{LIMCARD0000000001, LIMCARD0000000002}', 'b-k1') \gset
SELECT count(*) AS verified FROM wallet.intake_items(:i1) i, wallet.verify_card(i.item_id, true) v;
-- 180 to pay, 150 allowed a day: refused, the intake stays pending, nothing credited
SELECT * FROM wallet.settle_intake(:i1, 'b-k1-settle');
\echo :SQLSTATE
SELECT status FROM wallet.intakes(:bob) WHERE intake_id = :i1;
SELECT earnings FROM wallet.balance(:bob);
-- settle_intake takes no step-up grant: a card_payout rule can only refuse (22023)
SELECT wallet.add_limit_rule('QLM', 'card_payout', 'operation', 150, action => 'step_up');
-- with the rule raised to 200 the settlement goes through, and it counts
SELECT wallet.drop_limit_rule(rule_id) FROM wallet.limit_rule WHERE operation = 'card_payout' AND currency = 'QLM';
SELECT wallet.add_limit_rule('QLM', 'card_payout', 'day', 200) - :r0 AS card_day2;
SELECT paid, status FROM wallet.settle_intake(:i1, 'b-k1-settle');
SELECT operation, used_amount, used_count, remaining_amount FROM pg_temp.usage(:bob, :r0) WHERE operation = 'card_payout';

-- a checkout page's preview says what the limits would say, and changes nothing
SELECT wallet.add_limit_rule('QLM', 'spend', 'day', 60) - :r0 AS spend_day,
       wallet.add_limit_rule('QLM', 'spend', 'operation', 30, action => 'step_up', wallet_id => :bob) - :r0 AS bob_step;
SELECT charged, refusal FROM wallet.spend_preview(:bob, 30);
SELECT charged, refusal FROM wallet.spend_preview(:bob, 31);
SELECT charged, refusal FROM wallet.spend_preview(:bob, 61);
SELECT operation, period, used_amount FROM pg_temp.usage(:bob, :r0) WHERE operation = 'spend';
SELECT count(wallet.drop_limit_rule(rule_id)) FROM wallet.limit_rule WHERE operation = 'spend' AND currency = 'QLM';

-- every change of a rule is audited, as the other configuration tables are
SELECT action, (coalesce(new, old) ->> 'rule_id')::bigint - :r0 AS rule, coalesce(new, old) ->> 'operation' AS operation,
       coalesce(new, old) ->> 'max_amount' AS max_amount
  FROM wallet.audit WHERE object LIKE 'limit_rule:%' AND coalesce(new, old) ->> 'currency' = 'QLM' ORDER BY id;

-- Every story ends with a clean reconciliation.
SELECT count(*) AS discrepancies FROM wallet.reconcile();
