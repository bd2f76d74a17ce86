-- withdrawals: earnings paid out (CONTRACT.md section 16). Only earnings leave this way;
-- fee = least(greatest(amount * rate + fixed, fee_min), fee_max), half away from zero; a
-- request holds its amount at once, approved when small enough and the day stays within the
-- review threshold, pending otherwise. pending -> approved | rejected; approved -> succeeded |
-- failed; succeeded -> returned; rejected, failed and returned give the whole amount back.
-- Days (the daily maximum, the review threshold) are days of policy.limit_time_zone.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
-- 18:00 in Shanghai, on 1 May there
SET wallet.now = '2026-05-01 10:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9400000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9400000) AS t0,
       setval(pg_get_serial_sequence('wallet.withdrawal', 'withdrawal_id'), 9400000) AS d0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 9400000) AS h0 \gset

-- Currencies of this file's own: QWD with every withdrawal setting, QWE with a fixed fee only.
INSERT INTO wallet.currency (code, exponent) VALUES ('QWD', 2), ('QWE', 2);

------------------------------------------------------------------------------
-- The settings, each checked when it is written
------------------------------------------------------------------------------
SELECT withdraw_min, withdraw_fee_rate, withdraw_fee_fixed, withdraw_fee_min, withdraw_fee_max,
       withdraw_daily_max, withdraw_auto_approve_max, withdraw_review_daily, limit_time_zone
  FROM wallet.set_policy('QWD', withdraw_min => 10, withdraw_fee_rate => 0.01, withdraw_fee_fixed => 0.50,
                         withdraw_fee_min => 1, withdraw_fee_max => 5, withdraw_daily_max => 1000,
                         withdraw_auto_approve_max => 200, withdraw_review_daily => 500,
                         limit_time_zone => 'Asia/Shanghai');
SELECT withdraw_fee_fixed, withdraw_min FROM wallet.set_policy('QWE', withdraw_fee_fixed => 2);
-- A rate above 1, a negative amount, an amount finer than the currency, an unknown time zone
-- (or an abbreviation), a period of nothing: 22023, and nothing changes.
SELECT withdraw_fee_rate FROM wallet.set_policy('QWD', withdraw_fee_rate => 1.01);
\echo :SQLSTATE
SELECT withdraw_min FROM wallet.set_policy('QWD', withdraw_min => -1);
\echo :SQLSTATE
SELECT withdraw_fee_fixed FROM wallet.set_policy('QWD', withdraw_fee_fixed => 0.001);
\echo :SQLSTATE
SELECT withdraw_daily_max FROM wallet.set_policy('QWD', withdraw_daily_max => 'NaN');
\echo :SQLSTATE
SELECT limit_time_zone FROM wallet.set_policy('QWD', limit_time_zone => 'Mars/Olympus_Mons');
\echo :SQLSTATE
SELECT limit_time_zone FROM wallet.set_policy('QWD', limit_time_zone => 'CST');
\echo :SQLSTATE
SELECT idle_remind_after FROM wallet.set_policy('QWD', idle_remind_after => '0');
\echo :SQLSTATE
SELECT idle_remind_min FROM wallet.set_policy('QWD', idle_remind_min => 0.005);
\echo :SQLSTATE
-- A direct write is checked the same way.
UPDATE wallet.policy SET limit_time_zone = 'Nowhere/Else' WHERE currency = 'QWD';
\echo :SQLSTATE
-- reset puts named settings back to their defaults (NULL: no cap); a name that is no setting is 22023.
SELECT withdraw_fee_max, withdraw_fee_min FROM wallet.set_policy('QWE', withdraw_fee_max => 3, withdraw_fee_min => 1);
SELECT withdraw_fee_max, withdraw_fee_min FROM wallet.set_policy('QWE', reset => '{withdraw_fee_max,withdraw_fee_min}');
SELECT * FROM wallet.set_policy('QWE', reset => '{no_such_setting}');
\echo :SQLSTATE
SELECT withdraw_min, withdraw_fee_rate, withdraw_fee_max, withdraw_daily_max, limit_time_zone
  FROM wallet.policy WHERE currency = 'QWD';

-- pg_temp.state shows a wallet's money as a withdrawal sees it, and the discrepancies
-- reconciliation finds in this file's currencies (0: the books hold; held = open withdrawals).
CREATE FUNCTION pg_temp.state(wid bigint)
  RETURNS TABLE (cash numeric, earnings numeric, held numeric, withdrawable numeric, debt numeric,
                 discrepancies bigint)
  LANGUAGE sql AS $$
  SELECT b.cash, b.earnings, b.held, b.withdrawable, b.debt,
         (SELECT count(*) FROM wallet.reconcile() r WHERE r.currency IN ('QWD', 'QWE'))
    FROM wallet.balance(wid) b $$;
-- pg_temp.steps lists the journal of one withdrawal: each step's kind, the status it led to,
-- its postings.
CREATE FUNCTION pg_temp.steps(did bigint)
  RETURNS TABLE (kind text, status text, account text, bucket text, amount numeric)
  LANGUAGE sql AS $$
  SELECT t.kind, t.result->>'status', p.account, p.bucket, p.amount
    FROM wallet.transactions t LEFT JOIN wallet.postings p ON p.txn_id = t.txn_id
   WHERE (t.kind = 'request_withdrawal' AND (t.result->>'withdrawal_id')::bigint = did)
      OR (t.kind IN ('review_withdrawal', 'settle_withdrawal', 'return_withdrawal')
          AND (t.request->>'withdrawal_id')::bigint = did)
   ORDER BY t.txn_id, p.account DESC, p.bucket $$;

SELECT wallet.open('wd-alice', 'QWD') AS alice, wallet.open('wd-bob', 'QWD') AS bob,
       wallet.open('wd-carol', 'QWD') AS carol, wallet.open('wd-shop', 'QWD') AS shop,
       wallet.open('wd-dave', 'QWD') AS dave, wallet.open('wd-erin', 'QWE') AS erin \gset

-- alice has 3000 of earnings (a payout to her, by adjustment) and 100 of cash: only the
-- earnings are withdrawable.
SELECT replayed FROM wallet.adjust(:alice, 'earnings', 3000, 'seller payout', 'alice-seed');
SELECT replayed FROM wallet.top_up(:alice, 100, 'alice-topup');
SELECT * FROM pg_temp.state(:alice);

------------------------------------------------------------------------------
-- The fee: its floor, its cap, and rounding half away from zero
------------------------------------------------------------------------------
-- 50: 0.50 + 0.50 = 1.00; 10: 0.10 + 0.50 = 0.60, the floor makes it 1.00; 125.50: 1.255
-- rounds to 1.26, + 0.50 = 1.76; 300: 3.50, above the auto-approval maximum (review); 1000:
-- 10.50, the cap makes it 5.00. A quote changes nothing.
SELECT * FROM wallet.withdraw_quote(:alice, 50);
SELECT * FROM wallet.withdraw_quote(:alice, 10);
SELECT * FROM wallet.withdraw_quote(:alice, 125.50);
SELECT * FROM wallet.withdraw_quote(:alice, 300);
SELECT * FROM wallet.withdraw_quote(:alice, 1000);
-- What a request would refuse: below the minimum, more than the earnings, past the day's maximum.
SELECT * FROM wallet.withdraw_quote(:alice, 9.99);
SELECT * FROM wallet.withdraw_quote(:alice, 3000.01);
SELECT * FROM wallet.withdraw_quote(:alice, 1000.01);
SELECT * FROM pg_temp.state(:alice);

------------------------------------------------------------------------------
-- Refusals of a request: nothing changes
------------------------------------------------------------------------------
-- below withdraw_min (WL007, the minimum in the detail)
SELECT * FROM wallet.request_withdrawal(:alice, 9.99, 'alice-w0', 'bank:alice');
\echo :LAST_ERROR_SQLSTATE
-- more than the earnings: the cash does not count (WL001)
SELECT * FROM wallet.request_withdrawal(:alice, 3000.01, 'alice-w0', 'bank:alice');
\echo :LAST_ERROR_SQLSTATE
-- more than the day's maximum (WL007, the maximum and what is left in the detail)
SELECT * FROM wallet.request_withdrawal(:alice, 1000.01, 'alice-w0', 'bank:alice');
\echo :LAST_ERROR_SQLSTATE
-- a fee that takes it all: QWE's fixed fee of 2.00 on 2.00 leaves a net of 0 (WL007)
SELECT replayed FROM wallet.adjust(:erin, 'earnings', 50, 'seller payout', 'erin-seed');
SELECT * FROM wallet.withdraw_quote(:erin, 2);
SELECT * FROM wallet.request_withdrawal(:erin, 2, 'erin-w0', 'bank:erin');
\echo :LAST_ERROR_SQLSTATE
-- bad arguments (22023) and an unknown wallet (WL006)
SELECT * FROM wallet.request_withdrawal(:alice, NULL, 'alice-w0', 'bank:alice');
\echo :SQLSTATE
SELECT * FROM wallet.request_withdrawal(:alice, 0, 'alice-w0', 'bank:alice');
\echo :SQLSTATE
SELECT * FROM wallet.request_withdrawal(:alice, 10.001, 'alice-w0', 'bank:alice');
\echo :SQLSTATE
SELECT * FROM wallet.request_withdrawal(:alice, 10, 'alice-w0', NULL);
\echo :SQLSTATE
SELECT * FROM wallet.request_withdrawal(:alice, 10, 'alice-w0', repeat('x', 201));
\echo :SQLSTATE
SELECT * FROM wallet.request_withdrawal(:alice, 10, NULL, 'bank:alice');
\echo :SQLSTATE
SELECT * FROM wallet.request_withdrawal(-1, 10, 'alice-w0', 'bank:alice');
\echo :SQLSTATE
SELECT * FROM wallet.withdraw_quote(-1, 10);
\echo :SQLSTATE
SELECT * FROM pg_temp.state(:alice);
SELECT count(*) AS withdrawals FROM wallet.withdrawal WHERE wallet_id IN (:alice, :erin);

------------------------------------------------------------------------------
-- Requests: approved at once, or pending by amount or by the day's total
------------------------------------------------------------------------------
-- 150 <= 200 and the day's 150 <= 500: approved at once. Fee 1.50 + 0.50.
SELECT withdrawal_id - :d0 AS w, amount, fee, net, status, replayed
  FROM wallet.request_withdrawal(:alice, 150, 'alice-w1', 'bank:alice', method => 'sepa', note => 'May');
SELECT :d0 + 1 AS w1 \gset
SELECT * FROM pg_temp.state(:alice);
-- the held money is on the earnings lot
SELECT bucket, amount, held FROM wallet.lots(:alice) ORDER BY lot_id;
-- A replay returns the first result; the same key with other arguments is WL003.
SELECT withdrawal_id - :d0 AS w, amount, fee, net, status, replayed
  FROM wallet.request_withdrawal(:alice, 150, 'alice-w1', 'bank:alice', method => 'sepa', note => 'May');
SELECT * FROM wallet.request_withdrawal(:alice, 151, 'alice-w1', 'bank:alice', method => 'sepa', note => 'May');
\echo :SQLSTATE
SELECT * FROM wallet.request_withdrawal(:alice, 150, 'alice-w1', 'bank:other', method => 'sepa', note => 'May');
\echo :SQLSTATE
-- 300 > 200: pending, whatever the day. (Its id is not the next one: a request finds its
-- replay when it writes its key, as a spend does, and the three calls above took an id each.)
SELECT withdrawal_id - :d0 AS w, amount, fee, net, status FROM wallet.request_withdrawal(:alice, 300, 'alice-w2', 'bank:alice');
SELECT max(withdrawal_id) AS w2 FROM wallet.withdrawal WHERE wallet_id = :alice \gset
-- 100 <= 200, but the day's total 150 + 300 + 100 = 550 > 500: pending (the quote says so first).
SELECT review, daily_used, daily_remaining FROM wallet.withdraw_quote(:alice, 100);
SELECT withdrawal_id - :d0 AS w, amount, fee, net, status FROM wallet.request_withdrawal(:alice, 100, 'alice-w3', 'bank:alice');
SELECT max(withdrawal_id) AS w3 FROM wallet.withdrawal WHERE wallet_id = :alice \gset
-- 450 takes the day to its maximum of 1000; then even 10 is too much.
SELECT withdrawal_id - :d0 AS w, amount, fee, net, status FROM wallet.request_withdrawal(:alice, 450, 'alice-w4', 'bank:alice');
SELECT max(withdrawal_id) AS w4 FROM wallet.withdrawal WHERE wallet_id = :alice \gset
SELECT * FROM wallet.withdraw_quote(:alice, 10);
SELECT * FROM wallet.request_withdrawal(:alice, 10, 'alice-w5', 'bank:alice');
\echo :SQLSTATE
SELECT * FROM pg_temp.state(:alice);

------------------------------------------------------------------------------
-- Review: pending -> approved | rejected
------------------------------------------------------------------------------
SELECT wallet.review_withdrawal(:w2, true, 'ops-anna', 'known seller');
SELECT * FROM pg_temp.state(:alice);
-- repeated: the status; the other way: WL008
SELECT wallet.review_withdrawal(:w2, true, 'ops-anna');
SELECT wallet.review_withdrawal(:w2, false, 'ops-anna');
\echo :SQLSTATE
-- rejected: the 100 goes back to the earnings, and no longer counts in the day
SELECT wallet.review_withdrawal(:w3, false, 'ops-anna', 'destination unverified');
SELECT * FROM pg_temp.state(:alice);
SELECT wallet.review_withdrawal(:w3, false, 'ops-anna');
SELECT wallet.review_withdrawal(:w3, true, 'ops-anna');
\echo :SQLSTATE
SELECT wallet.settle_withdrawal(:w3, true);
\echo :SQLSTATE
SELECT daily_used, daily_remaining FROM wallet.withdraw_quote(:alice, 100);
SELECT * FROM pg_temp.steps(:w3);

------------------------------------------------------------------------------
-- Settlement: approved -> succeeded | failed
------------------------------------------------------------------------------
-- Only an approved withdrawal can be settled.
SELECT wallet.settle_withdrawal(:w4, true);
\echo :SQLSTATE
-- succeeded: wallet -150 (from held) / withdrawal_payout +148 / fee_income +2
SELECT wallet.settle_withdrawal(:w1, true, 'bank-0001');
SELECT * FROM pg_temp.state(:alice);
SELECT * FROM pg_temp.steps(:w1);
SELECT wallet.settle_withdrawal(:w1, true, 'bank-0001');
SELECT wallet.settle_withdrawal(:w1, false);
\echo :SQLSTATE
SELECT wallet.review_withdrawal(:w1, true, 'ops-anna');
SELECT wallet.review_withdrawal(:w1, false, 'ops-anna');
\echo :SQLSTATE
-- failed: the 450 goes back to the earnings (the fee too: nothing was charged)
SELECT wallet.review_withdrawal(:w4, true, 'ops-anna');
SELECT wallet.settle_withdrawal(:w4, false, 'bank-rejected');
SELECT * FROM pg_temp.state(:alice);
SELECT * FROM pg_temp.steps(:w4);
SELECT wallet.settle_withdrawal(:w4, false);
SELECT wallet.settle_withdrawal(:w4, true);
\echo :SQLSTATE
SELECT wallet.settle_withdrawal(:w2, true, 'bank-0002');
SELECT * FROM pg_temp.state(:alice);

------------------------------------------------------------------------------
-- Returned: succeeded -> returned, the whole amount back as earnings
------------------------------------------------------------------------------
-- Only a withdrawal paid out can come back.
SELECT wallet.return_withdrawal(:w4, 'bank-r0', 'account closed');
\echo :SQLSTATE
SELECT wallet.return_withdrawal(:w1, 'bank-r1', NULL);
\echo :SQLSTATE
SELECT wallet.return_withdrawal(:w1, 'bank-r1', 'account closed');
SELECT * FROM pg_temp.state(:alice);
SELECT * FROM pg_temp.steps(:w1);
-- repeated (or settled again as succeeded): the status; failed now: WL008
SELECT wallet.return_withdrawal(:w1, 'bank-r1', 'account closed');
SELECT wallet.settle_withdrawal(:w1, true);
SELECT wallet.settle_withdrawal(:w1, false);
\echo :SQLSTATE
-- each step of its life is in the audit log, once (a repeated step is not a step)
SELECT a.object = 'withdrawal:' || :w1 AS w1, a.action, a.old, a.new
  FROM wallet.audit a WHERE a.object IN ('withdrawal:' || :w1, 'withdrawal:' || :w4) ORDER BY a.id;
-- a returned withdrawal no longer counts in the day: 150 more is room again
SELECT daily_used, daily_remaining FROM wallet.withdraw_quote(:alice, 10);
-- the replay of its request still returns its first result
SELECT withdrawal_id - :d0 AS w, status, replayed
  FROM wallet.request_withdrawal(:alice, 150, 'alice-w1', 'bank:alice', method => 'sepa', note => 'May');
-- unknown withdrawals: WL006; NULL arguments: 22023
SELECT wallet.review_withdrawal(-1, true, 'ops-anna');
\echo :SQLSTATE
SELECT wallet.settle_withdrawal(-1, true);
\echo :SQLSTATE
SELECT wallet.return_withdrawal(-1, 'x', 'y');
\echo :SQLSTATE
SELECT wallet.review_withdrawal(:w1, NULL, 'ops-anna');
\echo :SQLSTATE
SELECT wallet.review_withdrawal(:w1, true, NULL);
\echo :SQLSTATE

SELECT withdrawal_id - :d0 AS w, status, amount, fee, net, destination, method, automatic, requested_at,
       reviewed_at, settled_at, returned_at, reviewer, gateway_ref
  FROM wallet.withdrawals(:alice);

------------------------------------------------------------------------------
-- Days are days of limit_time_zone (Asia/Shanghai), never the session's TimeZone
------------------------------------------------------------------------------
-- Today (1 May in Shanghai) alice asked for 150 (returned), 300 (paid), 100 (rejected),
-- 450 (failed): 300 counts.
SELECT daily_used, daily_remaining FROM wallet.withdraw_quote(:alice, 700);
SELECT withdrawal_id - :d0 AS w, status FROM wallet.request_withdrawal(:alice, 700, 'alice-w6', 'bank:alice');
SELECT max(withdrawal_id) AS w6 FROM wallet.withdrawal WHERE wallet_id = :alice \gset
-- 15:59:59 UTC is 23:59:59 in Shanghai: still 1 May there, the day is full
SET wallet.now = '2026-05-01 15:59:59+00';
SELECT daily_used, daily_remaining, refusal FROM wallet.withdraw_quote(:alice, 10);
SELECT * FROM wallet.request_withdrawal(:alice, 10, 'alice-w7', 'bank:alice');
\echo :SQLSTATE
-- 16:00 UTC is midnight in Shanghai: a new day there (still 1 May in UTC, the session's zone)
SET wallet.now = '2026-05-01 16:00:00+00';
SELECT daily_used, daily_remaining, refusal FROM wallet.withdraw_quote(:alice, 10);
-- the session's TimeZone changes nothing
SET TimeZone = 'America/New_York';
SELECT daily_used, daily_remaining, refusal FROM wallet.withdraw_quote(:alice, 10);
SET TimeZone = 'UTC';
SELECT withdrawal_id - :d0 AS w, amount, status FROM wallet.request_withdrawal(:alice, 10, 'alice-w7', 'bank:alice');
SELECT wallet.review_withdrawal(:w6, false, 'ops-anna', 'limit review');
SELECT * FROM pg_temp.state(:alice);

------------------------------------------------------------------------------
-- A frozen wallet cannot withdraw (WL002); the quote says so
------------------------------------------------------------------------------
SELECT replayed FROM wallet.adjust(:bob, 'earnings', 100, 'seller payout', 'bob-seed');
SELECT wallet.freeze(:bob, 'chargeback review');
SELECT refusal FROM wallet.withdraw_quote(:bob, 50);
SELECT * FROM wallet.request_withdrawal(:bob, 50, 'bob-w1', 'bank:bob');
\echo :SQLSTATE
SELECT wallet.unfreeze(:bob);
SELECT withdrawal_id - :d0 AS w, status FROM wallet.request_withdrawal(:bob, 50, 'bob-w1', 'bank:bob');
SELECT * FROM pg_temp.state(:bob);

------------------------------------------------------------------------------
-- Debt: a wallet in debt cannot withdraw (WL008); a returned withdrawal repays it first
------------------------------------------------------------------------------
-- carol pays the shop 100; the credit waits to be rolled up, and counts as withdrawable.
SELECT replayed FROM wallet.top_up(:carol, 100, 'carol-topup');
SELECT charged FROM wallet.spend(:carol, 100, 'carol-s1', payee => :shop);
SELECT txn_id FROM wallet.txn WHERE wallet_id = :carol AND idempotency_key = 'carol-s1' \gset
SELECT withdrawable, refusal FROM wallet.withdraw_quote(:shop, 80) q, wallet.balance(:shop) b;
-- the shop withdraws 80 of it (the credit is rolled up first), and it is paid out
SELECT withdrawal_id - :d0 AS w, status FROM wallet.request_withdrawal(:shop, 80, 'shop-w1', 'bank:shop');
SELECT max(withdrawal_id) AS ws FROM wallet.withdrawal WHERE wallet_id = :shop \gset
SELECT wallet.settle_withdrawal(:ws, true, 'bank-0003');
SELECT * FROM pg_temp.state(:shop);
-- carol's spend is reversed: the shop gives back its 20 of earnings and owes the 80 it withdrew
SELECT cash_returned FROM wallet.reverse_spend(:txn_id, 'carol-r1');
SELECT * FROM pg_temp.state(:shop);
SELECT refusal FROM wallet.withdraw_quote(:shop, 10);
SELECT * FROM wallet.request_withdrawal(:shop, 10, 'shop-w2', 'bank:shop');
\echo :SQLSTATE
-- the bank sends the 80 back: credited to the earnings, it repays the debt first
SELECT wallet.return_withdrawal(:ws, 'bank-r2', 'wrong account');
SELECT * FROM pg_temp.state(:shop);
SELECT t.kind, p.account, p.bucket, p.amount
  FROM wallet.transactions t JOIN wallet.postings p ON p.txn_id = t.txn_id
 WHERE t.wallet_id = :shop AND t.kind IN ('return_withdrawal', 'repay_debt')
 ORDER BY t.txn_id, p.account DESC;

------------------------------------------------------------------------------
-- Earnings a hold reserves are not withdrawable until the hold ends
------------------------------------------------------------------------------
SELECT replayed FROM wallet.adjust(:dave, 'earnings', 100, 'seller payout', 'dave-seed');
SELECT held, earnings_held FROM wallet.hold(:dave, 60, 'dave-h1', ttl => '1 hour');
SELECT * FROM wallet.request_withdrawal(:dave, 50, 'dave-w1', 'bank:dave');
\echo :SQLSTATE
-- two hours later the hold has lapsed: its 60 is withdrawable again (given back first, journaled)
SET wallet.now = '2026-05-01 18:00:00+00';
SELECT withdrawable, refusal FROM wallet.withdraw_quote(:dave, 100) q, wallet.balance(:dave) b;
SELECT withdrawal_id - :d0 AS w, amount, status FROM wallet.request_withdrawal(:dave, 100, 'dave-w1', 'bank:dave');
SELECT kind, amount FROM wallet.transactions WHERE wallet_id = :dave ORDER BY txn_id;
SELECT * FROM pg_temp.state(:dave);

-- The books hold after all of it.
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency IN ('QWD', 'QWE');
-- The check counts open withdrawals in held: a withdrawal marked rejected behind the operations'
-- back (its 100 still held) is found.
BEGIN;
UPDATE wallet.withdrawal SET status = 'rejected' WHERE wallet_id = :dave;
SELECT check_name, expected, actual FROM wallet.reconcile() WHERE wallet_id = :dave;
ROLLBACK;
