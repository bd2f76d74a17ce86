-- test/demo.sql: the story `make demo` prints.
--
-- It walks one customer (alice), one merchant (shop) and a second customer
-- (bob) through every feature of the wallet extension: bonus rules and a
-- campaign, top-ups, balances and lots, bonus-first spending, payee credits
-- with commission, partial spends, reversals, a refund with netting, bonus
-- expiry, freezing, coupons, the journal, reconciliation and the pg_cron jobs.
--
-- The harness runs it as superuser in a fresh database:
--   psql -X -v ON_ERROR_STOP=1 -e -d wallet_demo -f test/demo.sql
-- (after CREATE EXTENSION wallet). Expected errors are shown from DO blocks
-- that catch exactly the expected SQLSTATE and print it as a NOTICE, so the
-- script keeps going; any other error stops it.
--
-- Amounts are CNY in major units (12.34); psql variables (:alice, ...) hold
-- the ids the script captures with \gset. psql does not expand variables
-- inside DO blocks, so those look the wallet up with wallet.open(), which
-- returns the existing wallet of an (owner, currency).

\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

\echo
\echo '=== 1. The clock ======================================================='
\echo 'Every time rule (bonus expiry, refund windows, reminders) reads one clock,'
\echo 'wallet.clock(): the transaction timestamp, unless the superuser-only'
\echo 'setting wallet.now pins it. The demo pins it and moves it forward by hand.'
SET wallet.now = '2026-01-01 00:00:00+00';
SELECT wallet.clock();

\echo
\echo '=== 2. Bonus rules and a campaign ======================================'
\echo 'Base rules (campaign NULL): top up 100 -> 10 bonus, 200 -> 25, 500 -> 75.'
\echo 'Within a group the applicable rule with the greatest min_amount wins.'
SELECT wallet.add_bonus_rule('CNY', min_amount => 100, bonus_fixed => 10) AS base_100,
       wallet.add_bonus_rule('CNY', min_amount => 200, bonus_fixed => 25) AS base_200,
       wallet.add_bonus_rule('CNY', min_amount => 500, bonus_fixed => 75) AS base_500;
\echo 'A campaign is its own group and adds to the base bonus: 5 % of any top-up'
\echo 'of at least 100, valid 7 days, usable only in scene game.'
SELECT wallet.add_bonus_rule('CNY', min_amount => 100, bonus_rate => 0.05, valid_for => '7 days',
                             scope => '{game}', campaign => 'new-year') AS campaign_rule \gset
SELECT rule_id, campaign, min_amount, bonus_fixed, bonus_rate, valid_for, scope, ends_at
  FROM wallet.bonus_rule ORDER BY rule_id;

\echo
\echo '=== 3. Wallets ========================================================='
\echo 'open() creates a wallet per (owner, currency); calling it again returns the same id.'
SELECT wallet.open('alice', 'CNY') AS alice, wallet.open('shop', 'CNY') AS shop \gset
SELECT :alice AS alice, :shop AS shop, wallet.open('alice', 'CNY') AS alice_again;

\echo
\echo '=== 4. What would a top-up get? ========================================'
\echo 'bonus_preview lists one row per rule group: 50 gets nothing, 100 gets 10 + 5,'
\echo '300 gets 25 + 15 (the 200 tier), 600 gets 75 + 30.'
SELECT 50 AS top_up, * FROM wallet.bonus_preview('CNY', 50);
SELECT 100 AS top_up, * FROM wallet.bonus_preview('CNY', 100);
SELECT 300 AS top_up, * FROM wallet.bonus_preview('CNY', 300);
SELECT 600 AS top_up, * FROM wallet.bonus_preview('CNY', 600);

\echo
\echo '=== 5. Top-ups across tiers and with the campaign ======================'
\echo 'Each top-up adds one cash lot (refundable for 30 days) and one bonus lot per group.'
SELECT * FROM wallet.top_up(:alice, 100, 'alice-topup-1', method => 'card', external_ref => 'psp-0001');
SELECT * FROM wallet.top_up(:alice, 300, 'alice-topup-2', method => 'card', external_ref => 'psp-0002');
SELECT * FROM wallet.top_up(:alice, 50, 'alice-topup-3', method => 'card', external_ref => 'psp-0003');
\echo 'Retrying with the same idempotency key and arguments returns the first result, replayed = t:'
SELECT * FROM wallet.top_up(:alice, 300, 'alice-topup-2', method => 'card', external_ref => 'psp-0002');
\echo 'Nothing is rounded silently: an amount finer than the currency is refused (22023).'
DO $$
DECLARE
  detail text;
BEGIN
  PERFORM * FROM wallet.top_up(wallet.open('alice', 'CNY'), 10.001, 'alice-topup-bad');
  RAISE EXCEPTION 'expected SQLSTATE 22023, but the top-up succeeded';
EXCEPTION WHEN SQLSTATE '22023' THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'expected error %: % (%)', SQLSTATE, SQLERRM, coalesce(detail, 'no detail');
END $$;

\echo
\echo '=== 6. Balance and lots ================================================'
\echo 'Cash 450. Without a scene only unscoped bonus counts (10 + 25 = 35);'
\echo 'in scene game the campaign bonus counts too (35 + 5 + 15 = 55).'
SELECT * FROM wallet.balance(:alice);
SELECT * FROM wallet.balance(:alice, 'game');
SELECT * FROM wallet.lots(:alice);

\echo
\echo '=== 7. A scoped spend uses bonus first ================================='
\echo 'Spending order: usable bonus (soonest expiry first), then cash, then earnings.'
\echo 'In scene game the campaign lots expire soonest, so 12 comes from them: 5 + 7.'
SELECT * FROM wallet.spend(:alice, 12, 'alice-order-1', scene => 'game', order_ref => 'order-1');
SELECT * FROM wallet.balance(:alice, 'game');

\echo
\echo '=== 8. Paying a merchant, with commission =============================='
\echo 'The platform keeps 5 % of what a payee receives.'
SELECT * FROM wallet.set_policy('CNY', commission_rate => 0.05);
\echo 'Alice pays shop 60 outside the game: unscoped bonus 35 first, then cash 25.'
SELECT * FROM wallet.spend(:alice, 60, 'alice-order-2', payee => :shop, order_ref => 'order-2');
SELECT txn_id AS shop_order FROM wallet.transactions
 WHERE wallet_id = :alice AND idempotency_key = 'alice-order-2' \gset
\echo 'Shop sees 60 - 3 commission = 57 of earnings at once. The credit waits in'
\echo 'wallet.payee_credit (no lock on the shop row) until it is rolled up:'
SELECT * FROM wallet.balance(:shop);
SELECT * FROM wallet.postings WHERE txn_id = :shop_order;
SELECT wallet.rollup_credits() AS wallets_rolled_up;
SELECT * FROM wallet.lots(:shop);

\echo
\echo '=== 9. Not enough money: WL001, or a partial spend ====================='
\echo 'Alice has 425 cash and no unscoped bonus left; an order of 500 is refused ...'
DO $$
DECLARE
  detail text;
BEGIN
  PERFORM * FROM wallet.spend(wallet.open('alice', 'CNY'), 500, 'alice-order-3');
  RAISE EXCEPTION 'expected SQLSTATE WL001, but the spend succeeded';
EXCEPTION WHEN SQLSTATE 'WL001' THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'expected error %: % (%)', SQLSTATE, SQLERRM, coalesce(detail, 'no detail');
END $$;
\echo '... unless allow_partial: it charges the 425 available and reports a shortfall'
\echo 'of 75 for the application to collect elsewhere. The game-only bonus (8) stays.'
SELECT * FROM wallet.spend(:alice, 500, 'alice-order-3', allow_partial => true, order_ref => 'order-3');
SELECT * FROM wallet.balance(:alice);
SELECT * FROM wallet.balance(:alice, 'game');

\echo
\echo '=== 10. Reversing part of a spend ======================================'
\echo 'Reverse 20 of the 60 paid to shop (bonus 35 + cash 25). Bonus share'
\echo 'floor(20 * 35 / 60) = 11.66, cash takes the rest 8.34. Shop gives back'
\echo 'floor(20 * 57 / 60) = 19 of its credit, the commission account 1.'
SELECT * FROM wallet.reverse_spend(:shop_order, 'alice-order-2-return-1', 20);
SELECT txn_id AS shop_return FROM wallet.transactions
 WHERE wallet_id = :alice AND idempotency_key = 'alice-order-2-return-1' \gset
SELECT * FROM wallet.postings WHERE txn_id = :shop_return;
SELECT wallet_id, cash, bonus, earnings, available FROM wallet.balance(:alice)
UNION ALL
SELECT wallet_id, cash, bonus, earnings, available FROM wallet.balance(:shop);

\echo
\echo '=== 11. Refund of a top-up: the worked example ========================='
\echo 'A day later the campaign ends: no new campaign bonus; bonus already granted'
\echo 'keeps its expiry.'
SET wallet.now = '2026-01-02 10:00:00+00';
SELECT wallet.end_bonus_rule(:campaign_rule);
SELECT rule_id, campaign, ends_at FROM wallet.bonus_rule WHERE rule_id = :campaign_rule;
SELECT * FROM wallet.bonus_preview('CNY', 100);
\echo 'Bob tops up 100 (bonus 10) and spends 30: bonus 10 + cash 20.'
SELECT wallet.open('bob', 'CNY') AS bob \gset
SELECT * FROM wallet.top_up(:bob, 100, 'bob-topup-1', method => 'card', external_ref => 'psp-0004');
SELECT txn_id AS bob_topup FROM wallet.transactions
 WHERE wallet_id = :bob AND idempotency_key = 'bob-topup-1' \gset
SELECT * FROM wallet.spend(:bob, 30, 'bob-order-1');
\echo 'Cash of the top-up left c = 80; its bonus spent u = 10. At most c - u = 70 is'
\echo 'refundable, and refunding it takes 80 out of the wallet (70 to bob, 10 clawed back).'
SELECT * FROM wallet.refund_quote(:bob_topup);
SELECT * FROM wallet.request_refund(:bob_topup, 'bob-refund-1', note => 'changed my mind');
SELECT refund_id AS bob_refund FROM wallet.refund WHERE topup_txn = :bob_topup \gset
\echo 'The request holds 80 (status pending: above the auto-approve limit of 0).'
SELECT * FROM wallet.balance(:bob);
\echo 'An operator approves it; the payment gateway reports success.'
SELECT wallet.review_refund(:bob_refund, true, 'ops-carol', 'first refund, ok') AS status;
SELECT wallet.settle_refund(:bob_refund, true, 'psp-refund-0001') AS status;
\echo 'Repeating a transition already made just returns the status:'
SELECT wallet.settle_refund(:bob_refund, true, 'psp-refund-0001') AS status;
\echo 'Postings: the request moves 80 from cash to held; settlement pays out 70'
\echo '(refund_payout) and returns the 10 of spent bonus to bonus_expense.'
SELECT p.* FROM wallet.postings p JOIN wallet.transactions t USING (txn_id)
 WHERE t.wallet_id = :bob AND t.kind IN ('request_refund', 'review_refund', 'settle_refund')
 ORDER BY p.txn_id;
SELECT * FROM wallet.balance(:bob);

\echo
\echo '=== 12. Bonus expiry ==================================================='
\echo 'Jan 6: alice''s 8 of campaign bonus expires on Jan 8, within the 3-day'
\echo 'reminder window, so the expiring_bonus view lists it.'
SET wallet.now = '2026-01-06 00:00:00+00';
SELECT * FROM wallet.expiring_bonus;
\echo 'Jan 9: it has expired. Balance and lots ignore it even before the sweep runs ...'
SET wallet.now = '2026-01-09 00:00:00+00';
SELECT * FROM wallet.balance(:alice, 'game');
SELECT * FROM wallet.lots(:alice);
\echo '... and the sweep writes it off as breakage, one journal entry per wallet.'
SELECT * FROM wallet.expire_bonus();
SELECT p.* FROM wallet.postings p JOIN wallet.transactions t USING (txn_id)
 WHERE t.wallet_id = :alice AND t.kind = 'expire_bonus';
\echo 'A second run finds nothing to do.'
SELECT * FROM wallet.expire_bonus();

\echo
\echo '=== 13. Freezing a wallet =============================================='
SELECT wallet.freeze(:alice, 'chargeback under investigation');
\echo 'A frozen wallet refuses every debit with WL002 ...'
DO $$
DECLARE
  detail text;
BEGIN
  PERFORM * FROM wallet.spend(wallet.open('alice', 'CNY'), 5, 'alice-order-4');
  RAISE EXCEPTION 'expected SQLSTATE WL002, but the spend succeeded';
EXCEPTION WHEN SQLSTATE 'WL002' THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'expected error %: % (%)', SQLSTATE, SQLERRM, coalesce(detail, 'no detail');
END $$;
\echo '... but still accepts top-ups.'
SELECT * FROM wallet.top_up(:alice, 20, 'alice-topup-4', method => 'card', external_ref => 'psp-0005');
SELECT * FROM wallet.balance(:alice);
SELECT wallet.unfreeze(:alice);
SELECT * FROM wallet.spend(:alice, 5, 'alice-order-4', order_ref => 'order-4');

\echo
\echo '=== 13b. Coupons ========================================================'
\echo 'A template: 20 % off orders of 50 or more in the game scene, at most 15 off,'
\echo 'valid 14 days from issue. Codes are random, with a check symbol.'
SELECT wallet.add_coupon_template('game-20', 'CNY', 'percent', 20, max_discount => 15, min_order => 50,
                                  scope => '{game}', valid_for => '14 days');
SELECT wallet.issue_coupon('game-20', :alice, 'game-20-alice') AS code \gset
SELECT :'code' ~ '^[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}$' AS looks_like_a_code;
\echo 'validate_coupon explains a refusal and changes nothing:'
SELECT * FROM wallet.validate_coupon(:'code', :alice, 60);             -- wrong scene
SELECT * FROM wallet.validate_coupon(:'code', :alice, 40, 'game');     -- below minimum order
SELECT * FROM wallet.validate_coupon(lower(:'code'), :alice, 60, 'game');
\echo 'A mistyped code is told apart from another wallet''s code, which reads as unknown:'
SELECT * FROM wallet.validate_coupon(overlay(:'code' PLACING CASE WHEN left(:'code', 1) = '2' THEN '3' ELSE '2' END
                                     FROM 1 FOR 1), :alice, 60, 'game');
SELECT * FROM wallet.validate_coupon(:'code', :shop, 60, 'game');
\echo 'Spending with it: the discount comes off first, the rest is charged bonus first.'
SELECT * FROM wallet.top_up(:alice, 100, 'alice-topup-5', method => 'card', external_ref => 'psp-0006');
SELECT * FROM wallet.spend(:alice, 60, 'alice-order-5', scene => 'game', coupon => :'code');
SELECT template_id, status FROM wallet.coupons(:alice);
SELECT * FROM wallet.coupon_stats;

\echo
\echo '=== 13c. A payee in debt, and a correction ============================='
\echo 'Carol pays the stall 40; the stall spends what it earned; then the sale is'
\echo 'reversed. A reversal never fails for the payee''s sake: what the stall can no'
\echo 'longer give back becomes its debt, owed to the platform (payee_receivable).'
SELECT wallet.open('carol', 'CNY') AS carol, wallet.open('stall', 'CNY') AS stall \gset
SELECT bonus FROM wallet.top_up(:carol, 100, 'carol-topup-1');
SELECT txn_id AS carol_sale FROM wallet.spend(:carol, 40, 'carol-order-1', payee => :stall) \gset
SELECT earnings FROM wallet.balance(:stall);
SELECT charged FROM wallet.spend(:stall, 1000, 'stall-order-1', allow_partial => true);
SELECT cash_returned, earnings_returned FROM wallet.reverse_spend(:carol_sale, 'carol-order-1-return');
SELECT earnings, debt, withdrawable FROM wallet.balance(:stall);
\echo 'A later credit repays the debt first, here a correction of 10 by an admin'
\echo '(wallet.adjust: journaled against the adjustment account, audited):'
SELECT replayed FROM wallet.adjust(:stall, 'earnings', 10, 'goodwill for the returned order', 'stall-adj-1');
SELECT earnings, debt FROM wallet.balance(:stall);
\echo 'Every leg naming the stall: the sale, its own spend, the take-back (earnings and'
\echo 'receivable), the correction and the repayment.'
SELECT p.txn_id, t.kind, p.account, p.bucket, p.amount
  FROM wallet.postings p JOIN wallet.transactions t USING (txn_id)
 WHERE p.wallet_id = :stall ORDER BY p.txn_id, p.account;

\echo
\echo '=== 14. The journal ===================================================='
\echo 'One row per operation; kind is the function that wrote it.'
SELECT txn_id, kind, amount, created_at, idempotency_key, ref_txn
  FROM wallet.transactions WHERE wallet_id = :alice ORDER BY txn_id;
\echo 'Every transaction''s postings sum to zero, and so do all accounts together:'
SELECT coalesce(p.account, 'all accounts') AS account, p.bucket, sum(p.amount) AS total
  FROM wallet.postings p
 GROUP BY ROLLUP ((p.account, p.bucket)) ORDER BY p.account NULLS LAST, p.bucket;
\echo 'The journal is append-only:'
DO $$
DECLARE
  detail text;
BEGIN
  DELETE FROM wallet.txn;
  RAISE EXCEPTION 'expected SQLSTATE WL008, but the delete succeeded';
EXCEPTION WHEN SQLSTATE 'WL008' THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'expected error %: % (%)', SQLSTATE, SQLERRM, coalesce(detail, 'no detail');
END $$;

\echo
\echo '=== 14b. What the customer sees: the statement =========================='
\echo 'statement() pages alice''s history newest first, with her change in each bucket,'
\echo 'what she had available after it and who was on the other side (wallet_app may call it).'
SELECT txn_id, kind, amount, cash, bonus, available_after, counterparty
  FROM wallet.statement(:alice, max_rows => 5);
\echo 'The same for the shop: the payments it received, rolled up or not yet.'
SELECT txn_id, kind, amount, earnings, available_after, counterparty
  FROM wallet.statement(:shop, max_rows => 5);

\echo
\echo '=== 14c. Limits and step-up verification ==============================='
\echo 'A rule: spends above 500.00 a call need a second factor (WL009) ...'
SELECT wallet.add_limit_rule('CNY', 'spend', 'operation', 500, action => 'step_up') > 0 AS rule_added;
SELECT replayed FROM wallet.top_up(:alice, 1000, 'alice-topup-limits');
DO $$
DECLARE
  detail text;
BEGIN
  PERFORM * FROM wallet.spend(wallet.open('alice', 'CNY'), 600, 'alice-big-spend');
  RAISE EXCEPTION 'expected SQLSTATE WL009, but the spend went through';
EXCEPTION WHEN SQLSTATE 'WL009' THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'expected error %: % (%)', SQLSTATE, SQLERRM, detail;
END $$;
\echo '... which a wallet_verifier grants for that wallet, operation and amount, once:'
SELECT wallet.grant_step_up(:alice, 'spend', 600, 'otp-service') AS token \gset
SELECT charged, replayed FROM wallet.spend(:alice, 600, 'alice-big-spend', step_up => :'token');
SELECT rule_id > 0 AS rule, operation, period, used_amount, used_count, remaining_amount
  FROM wallet.limit_usage(:alice);
SELECT count(wallet.drop_limit_rule(rule_id)) AS rules_dropped FROM wallet.limit_rule WHERE currency = 'CNY';

\echo
\echo '=== 15. Reconciliation ================================================='
\echo 'reconcile() re-checks the books and returns the discrepancies: none.'
SELECT * FROM wallet.reconcile();
SELECT run_id, discrepancies, details FROM wallet.reconciliation_run ORDER BY run_id;

\echo
\echo '=== 16. Background jobs (pg_cron) ======================================'
\echo 'schedule_jobs() registers the expiry sweep, the payee roll-up and the nightly'
\echo 'reconcile with pg_cron. pg_cron lives in one database (cron.database_name),'
\echo 'not in this one, so here it says how to set it up (SQLSTATE 55000).'
DO $$
DECLARE
  hint text;
BEGIN
  PERFORM * FROM wallet.schedule_jobs();
  RAISE NOTICE 'pg_cron is installed here: the jobs are scheduled';
EXCEPTION WHEN SQLSTATE '55000' THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RAISE NOTICE 'expected error %: %', SQLSTATE, SQLERRM;
  RAISE NOTICE 'hint: %', hint;
END $$;

\echo
\echo 'End of the demo.'
