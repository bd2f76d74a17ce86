-- reports_grains: the wallet_report views by day, ISO week and month (src/sql/reports_periods.sql)
-- and the books by day (liability_daily, payees_daily, wallets_daily) over a small journal across
-- two ISO weeks and two months, every number worked out by hand from the journal below; the same
-- numbers before and after wallet.refresh_reports() rolls the journal up.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET wallet.now = '2026-03-27 09:00:00+00';

-- Fixed id ranges, so that the ids quoted read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9900000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9900000) AS t0,
       setval(pg_get_serial_sequence('wallet.refund', 'refund_id'), 9900000) AS r0,
       setval(pg_get_serial_sequence('wallet.withdrawal', 'withdrawal_id'), 9900000) AS d0,
       setval(pg_get_serial_sequence('wallet.card_intake', 'intake_id'), 9900000) AS i0,
       setval(pg_get_serial_sequence('wallet.card_item', 'item_id'), 9900000) AS c0 \gset

-- The story runs in one transaction, rolled back at its end: its refreshes move the reporting
-- watermark above its own ids, which are higher than those of the files that run after it.
BEGIN;
-- Whatever other files wrote is rolled up first: what follows starts in the unrolled tail.
SELECT wallet.refresh_reports() >= 0 AS rolled_up;

------------------------------------------------------------------------------
-- Set-up: currency QRG (2 decimals), bonus rules, policy, a card type
------------------------------------------------------------------------------
INSERT INTO wallet.currency (code, exponent) VALUES ('QRG', 2);
-- a top-up of 100 or more: bonus 10 valid 2 days; of 500 or more: bonus 20 valid 7 days
SELECT wallet.add_bonus_rule('QRG', 100, bonus_fixed => 10, valid_for => '2 days') IS NOT NULL AS rule_100,
       wallet.add_bonus_rule('QRG', 500, bonus_fixed => 20, valid_for => '7 days') IS NOT NULL AS rule_500;
-- commission 10 %, refund fee 2 %, transfer fee 1, withdrawal fee 0.50
SELECT commission_rate, refund_fee_rate, transfer_fee_fixed, withdraw_fee_fixed
  FROM wallet.set_policy('QRG', commission_rate => 0.1, refund_fee_rate => 0.02, transfer_fee_fixed => 1,
                         withdraw_fee_fixed => 0.50);
-- cards of face 100 bought at 0.9, no fee
SELECT card_type FROM wallet.set_card_type('grain', 'Grain card', 'QRG', 'test', '{100}');
SELECT wallet.add_card_rate('grain', 0.9) IS NOT NULL AS rate;

------------------------------------------------------------------------------
-- The journal (all times UTC). Fri 03-27 is in ISO week 2026-W13 (Mon 03-23);
-- Mon 03-30 and Thu 04-02 are in 2026-W14 (Mon 03-30); 03-27 and 03-30 in March, 04-02 in April.
------------------------------------------------------------------------------
-- Fri 03-27 09:00 alice and the shop open their wallets
SELECT wallet.open('grains-alice', 'QRG') AS alice, wallet.open('grains-shop', 'QRG') AS shop \gset
-- 10:00 alice tops up 200 by card: bonus 10 until 03-29 10:00
SET wallet.now = '2026-03-27 10:00:00+00';
SELECT txn_id AS alice_t1, bonus FROM wallet.top_up(:alice, 200, 'g-alice-1', 'card') \gset
SELECT :bonus AS bonus;
-- 11:00 alice spends 50 on food at the shop: bonus 10 + cash 40; the shop gets 45, commission 5
SET wallet.now = '2026-03-27 11:00:00+00';
SELECT txn_id AS alice_spend, charged, bonus_used, cash_used
  FROM wallet.spend(:alice, 50, 'g-alice-2', 'food', payee => :shop) \gset
SELECT :charged AS charged, :bonus_used AS bonus_used, :cash_used AS cash_used;
-- 12:00 alice tops up 100 by card: bonus 10 until 03-29 12:00 (never spent, never swept)
SET wallet.now = '2026-03-27 12:00:00+00';
SELECT bonus FROM wallet.top_up(:alice, 100, 'g-alice-3', 'card');
-- End of 03-27: alice cash 200 - 40 + 100 = 260, bonus 10; shop earnings 45; 2 wallets.

-- A refresh between the days: the views read the roll-ups for 03-27 and the tail after it.
SELECT wallet.refresh_reports() AS rolled_up;

-- Mon 03-30 09:00 bob opens and tops up 500 by alipay: bonus 20 until 04-06 09:00
SET wallet.now = '2026-03-30 09:00:00+00';
SELECT wallet.open('grains-bob', 'QRG') AS bob \gset
SELECT bonus FROM wallet.top_up(:bob, 500, 'g-bob-1', 'alipay');
-- 10:00 the shop gives 20 of its earnings to bob (p2p), fee 1: shop earnings 45 - 21 = 24
SET wallet.now = '2026-03-30 10:00:00+00';
SELECT amount, fee FROM wallet.transfer(:shop, :bob, 20, 'g-shop-1');
-- 11:00 alice's spend is reversed in full: her bonus 10 expired on 03-29 10:00, so it is written off
-- (breakage 10), her cash 40 comes back; the shop gives back 45: its earnings 24, the rest 21 is
-- its debt; the commission 5 is given back
SET wallet.now = '2026-03-30 11:00:00+00';
SELECT bonus_returned, cash_returned, earnings_returned FROM wallet.reverse_spend(:alice_spend, 'g-alice-4');
SELECT debt FROM wallet.balance(:shop);
-- 12:00 alice asks 50 of her first top-up back (fee 2 % = 1, net 49): 50 of cash is held
SET wallet.now = '2026-03-30 12:00:00+00';
SELECT refund_id AS refund, amount, fee, net, bonus_clawback, bonus_void, status
  FROM wallet.request_refund(:alice_t1, 'g-alice-5', 50) \gset
SELECT :amount AS amount, :fee AS fee, :net AS net, :bonus_clawback AS clawback, :bonus_void AS bonus_void,
       :'status' AS status;
-- End of 03-30: alice cash 260 + 40 - 50 = 250, bonus 10 (expired, not swept), held 50; bob cash 500,
-- bonus 20, earnings 20; shop earnings 0, debt 21; 3 wallets. Cash 750, bonus 30, earnings 20.

-- Thu 04-02 09:00 carol opens and hands in two cards of 100 (quoted 0.9 each)
SET wallet.now = '2026-04-02 09:00:00+00';
SELECT wallet.open('grains-carol', 'QRG') AS carol \gset
SELECT intake_id AS intake, items, quoted_total, status
  FROM wallet.submit_cards(:carol, 'grain', '{100, 100}', '{GRAINS11112222, GRAINS33334444}', 'g-carol-1') \gset
SELECT :items AS items, :quoted_total AS quoted_total, :'status' AS status;
-- 10:00 the refund is approved and paid: alice's held 50 leaves (49 paid out, 1 fee)
SET wallet.now = '2026-04-02 10:00:00+00';
SELECT wallet.review_refund(:refund, true, 'grains-reviewer') AS reviewed,
       wallet.settle_refund(:refund, true, 'gw-grains') AS settled;
-- 11:00 bob spends 30 on game at the shop: bonus 20 + cash 10; the shop's 27 repays its debt 21
-- first (earnings 6, debt 0), commission 3
SET wallet.now = '2026-04-02 11:00:00+00';
SELECT txn_id AS bob_spend, charged, bonus_used, cash_used
  FROM wallet.spend(:bob, 30, 'g-bob-2', 'game', payee => :shop) \gset
SELECT :charged AS charged, :bonus_used AS bonus_used, :cash_used AS cash_used;
SELECT earnings, debt FROM wallet.balance(:shop);
-- 11:30 bob pays a basket of 20 on game split between the shop (15) and carol (5), from cash:
-- the shop gets 13.50 (commission 1.50), carol 4.50 (commission 0.50)
SET wallet.now = '2026-04-02 11:30:00+00';
SELECT charged, cash_used FROM wallet.spend_split(:bob, 20, 'g-bob-3', '{}'::bigint[] || :shop || :carol, '{15, 5}');
-- 12:00 carol's cards are checked: the first holds 100 (paid 90), the second is invalid; the intake
-- is paid 90, 3 hours after it was handed in
SET wallet.now = '2026-04-02 12:00:00+00';
SELECT wallet.verify_card(:c0 + 1, true, 100) AS first, wallet.verify_card(:c0 + 2, false) AS second;
SELECT paid, items_paid, status FROM wallet.settle_intake(:intake, 'g-carol-2');
-- 13:00 10 of bob's 30 at the shop is reversed: in proportion, bonus 6.66 (20/30 of 10, rounded down)
-- and cash 3.34 (the rest) back to bob; the shop gives back 9 (27/30), the commission 1
SET wallet.now = '2026-04-02 13:00:00+00';
SELECT bonus_returned, cash_returned FROM wallet.reverse_spend(:bob_spend, 'g-bob-4', 10);
-- 14:00 carol asks 50 of her earnings out (fee 0.50, net 49.50): pending, 50 held
SET wallet.now = '2026-04-02 14:00:00+00';
SELECT amount, fee, net, status FROM wallet.request_withdrawal(:carol, 50, 'g-carol-3', 'bank:carol');
-- End of 04-02: alice cash 250, bonus 10, held 0; bob cash 500 - 10 - 20 + 3.34 = 473.34, bonus 6.66,
-- earnings 20; shop earnings 6 + 13.50 - 9 = 10.50, debt 0; carol earnings 90 + 4.50 - 50 = 44.50,
-- held 50; 4 wallets. Cash 723.34, bonus 16.66, earnings 75, held 50.

-- The journal as written: the shop's debt is repaid by a transaction of its own (repay_debt).
SELECT txn_id - :t0 AS txn, kind, wallet_id - :w0 AS wallet, created_at FROM wallet.txn WHERE currency = 'QRG' ORDER BY txn_id;

------------------------------------------------------------------------------
-- The views, read with part of the journal rolled up (03-27) and the rest in the tail
------------------------------------------------------------------------------
CREATE TEMP TABLE seen (view text, phase text, row_text text);
CREATE FUNCTION pg_temp.look(phase text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
  FOREACH v IN ARRAY ARRAY['topups', 'spending', 'bonus', 'refunds', 'withdrawals', 'transfers', 'card_intake'] LOOP
    EXECUTE format('INSERT INTO seen SELECT %L, %L, t::text FROM wallet_report.%I t WHERE t.currency = ''QRG''',
                   v || '_daily', phase, v || '_daily');
    EXECUTE format('INSERT INTO seen SELECT %L, %L, t::text FROM wallet_report.%I t WHERE t.currency = ''QRG''',
                   v || '_weekly', phase, v || '_weekly');
    EXECUTE format('INSERT INTO seen SELECT %L, %L, t::text FROM wallet_report.%I t WHERE t.currency = ''QRG''',
                   v || '_monthly', phase, v || '_monthly');
  END LOOP;
  FOREACH v IN ARRAY ARRAY['liability_daily', 'payees_daily', 'wallets_daily'] LOOP
    EXECUTE format('INSERT INTO seen SELECT %L, %L, t::text FROM wallet_report.%I t WHERE t.currency = ''QRG''',
                   v, phase, v);
  END LOOP;
END $$;
SELECT pg_temp.look('before');

-- top-ups: 03-27 card 2 (300, bonus 20); 03-30 alipay 1 (500, bonus 20).
-- W13 = 03-27; W14 = 03-30; March = both.
SELECT day, method, count, amount, bonus FROM wallet_report.topups_daily WHERE currency = 'QRG' ORDER BY 1, 2;
SELECT week, method, count, amount, bonus FROM wallet_report.topups_weekly WHERE currency = 'QRG' ORDER BY 1, 2;
SELECT month, method, count, amount, bonus FROM wallet_report.topups_monthly WHERE currency = 'QRG' ORDER BY 1, 2;

-- spending: 03-27 food 1 spend of 50 (bonus 10, cash 40); 03-30 food: the reversal of 50;
-- 04-02 game 1 spend of 30 (bonus 20, cash 10) and the reversal of 10; no scene: the basket of 20 (cash).
-- W14 holds 03-30 and 04-02; March holds 03-27 and 03-30.
SELECT day, scene, count, charged, bonus_used, cash_used, earnings_used, reversals, reversed
  FROM wallet_report.spending_daily WHERE currency = 'QRG' ORDER BY 1, 2;
SELECT week, scene, count, charged, bonus_used, cash_used, reversals, reversed
  FROM wallet_report.spending_weekly WHERE currency = 'QRG' ORDER BY 1, 2;
SELECT month, scene, count, charged, bonus_used, cash_used, reversals, reversed
  FROM wallet_report.spending_monthly WHERE currency = 'QRG' ORDER BY 1, 2;

-- bonus: 03-27 granted 20, spent 10; 03-30 granted 20, expired 10 (the reversal's write-off);
-- 04-02 spent 20, returned 6.66.
SELECT day, granted, spent, returned, expired, voided, clawed_back FROM wallet_report.bonus_daily
 WHERE currency = 'QRG' ORDER BY 1;
SELECT week, granted, spent, returned, expired FROM wallet_report.bonus_weekly WHERE currency = 'QRG' ORDER BY 1;
SELECT month, granted, spent, returned, expired FROM wallet_report.bonus_monthly WHERE currency = 'QRG' ORDER BY 1;

-- refunds: one, requested 03-30 (user), now succeeded: 50, fee 1, net 49 (W14, March)
SELECT day, reason, status, count, amount, fee, net FROM wallet_report.refunds_daily WHERE currency = 'QRG';
SELECT week, reason, status, count, amount, fee, net FROM wallet_report.refunds_weekly WHERE currency = 'QRG';
SELECT month, reason, status, count, amount, fee, net FROM wallet_report.refunds_monthly WHERE currency = 'QRG';

-- withdrawals: one, requested 04-02, pending: 50, fee 0.50, net 49.50 (W14, April)
SELECT day, status, count, automatic, amount, fee, net FROM wallet_report.withdrawals_daily WHERE currency = 'QRG';
SELECT week, status, count, automatic, amount, fee, net FROM wallet_report.withdrawals_weekly WHERE currency = 'QRG';
SELECT month, status, count, automatic, amount, fee, net FROM wallet_report.withdrawals_monthly WHERE currency = 'QRG';

-- transfers: one p2p on 03-30 of 20, fee 1 (W14, March)
SELECT day, kind, count, amount, fees FROM wallet_report.transfers_daily WHERE currency = 'QRG';
SELECT week, kind, count, amount, fees FROM wallet_report.transfers_weekly WHERE currency = 'QRG';
SELECT month, kind, count, amount, fees FROM wallet_report.transfers_monthly WHERE currency = 'QRG';

-- card intake: 04-02, 2 cards submitted, 1 verified, 1 invalid; declared 200 of cards checked,
-- verified 100, paid 90; rate 0.9; loss 1 - 100/200 = 0.5; 3 hours to pay; conversion 1/2
SELECT day, card_type, submitted, verified, invalid, duplicate, face_declared, face_verified, paid, avg_rate,
       loss_rate, avg_hours_to_pay, conversion
  FROM wallet_report.card_intake_daily WHERE currency = 'QRG';
SELECT week, submitted, verified, invalid, face_declared, face_verified, paid, avg_rate, loss_rate, avg_hours_to_pay
  FROM wallet_report.card_intake_weekly WHERE currency = 'QRG';
SELECT month, submitted, verified, invalid, face_declared, face_verified, paid, avg_rate, loss_rate, avg_hours_to_pay
  FROM wallet_report.card_intake_monthly WHERE currency = 'QRG';

-- liability at each day's end (worked out after each day above):
--   03-27: 2 wallets, cash 260, bonus 10, earnings 45, held 0, debt 0
--   03-30: 3 wallets, cash 750, bonus 30 (alice's expired 10 not swept, bob's 20), earnings 20 (bob),
--          held 50, debt 21
--   04-02: 4 wallets, cash 723.34, bonus 16.66, earnings 75, held 50, debt 0
SELECT day, wallets, cash, bonus, earnings, held, debt, total FROM wallet_report.liability_daily
 WHERE currency = 'QRG' ORDER BY 1;
-- the last day's end equals what the wallets hold now, and the journal's wallet legs
SELECT d.cash = l.cash AND d.bonus = l.bonus AND d.earnings = l.earnings AND d.held = l.held
       AND d.wallets = l.wallets AS same_as_liability,
       d.cash + d.bonus + d.earnings + d.held
         = (SELECT sum(p.amount) FROM wallet.postings p WHERE p.currency = 'QRG' AND p.account = 'wallet')
         AS same_as_journal
  FROM wallet_report.liability_daily d JOIN wallet_report.liability l USING (currency)
 WHERE d.currency = 'QRG' AND d.day = '2026-04-02';

-- payees: 03-27 the shop: 1 sale, gross 50, commission 5, net 45; 03-30: the reversal takes back 50
-- (gross reversed), commission -5, net -45; 04-02 the shop: 2 sales, gross 30 + 15 = 45, reversed 10,
-- commission 3 + 1.50 - 1 = 3.50, net 27 + 13.50 - 9 = 31.50; carol: 1 sale, gross 5, commission
-- 0.50, net 4.50. Each row: gross - reversed = commission + net.
SELECT day, payee = :shop AS is_shop, sales, gross, reversed, commission, net,
       gross - reversed = commission + net AS adds_up
  FROM wallet_report.payees_daily WHERE currency = 'QRG' ORDER BY 1, 2 DESC;

-- wallets: 03-27 2 new (alice, shop), active alice (the shop acted on 03-30: its transfer);
-- 03-30 1 new (bob), active alice, bob, shop; 04-02 1 new (carol), active bob, carol and alice (her
-- refund was reviewed and settled in her name); the shop's repay_debt is the system's, not its own
SELECT day, new_wallets, active_wallets FROM wallet_report.wallets_daily WHERE currency = 'QRG' ORDER BY 1;

------------------------------------------------------------------------------
-- Rolled up: the same numbers from the roll-ups alone
------------------------------------------------------------------------------
SELECT wallet.refresh_reports() AS rolled_up;
SELECT count(*) AS tail_rows FROM wallet._report_wallet_tail WHERE currency = 'QRG';
SELECT pg_temp.look('after');
-- every row of every view, before and after: none differs
SELECT view, count(*) FILTER (WHERE phase = 'before') AS rows_before,
       count(*) FILTER (WHERE phase = 'after') AS rows_after
  FROM seen GROUP BY view ORDER BY view;
SELECT view, row_text FROM (
  (SELECT view, row_text FROM seen WHERE phase = 'before' EXCEPT ALL SELECT view, row_text FROM seen WHERE phase = 'after')
  UNION ALL
  (SELECT view, row_text FROM seen WHERE phase = 'after' EXCEPT ALL SELECT view, row_text FROM seen WHERE phase = 'before')) d;
-- and the roll-ups hold this currency's days
SELECT (SELECT count(*) FROM wallet.rollup_balance WHERE currency = 'QRG') > 0 AS balance_rolled,
       (SELECT count(*) FROM wallet.rollup_payee WHERE currency = 'QRG') AS payee_slots,
       (SELECT count(*) FROM wallet.rollup_active WHERE currency = 'QRG') AS active_rows;

-- No view reads the journal but by its primary key: with sequential scans priced out, every node of
-- every wallet_report view's plan that reads a journal partition has an index condition, or a
-- bitmap heap scan's recheck of one (the tail above the watermark, a reversal's spend); the rest
-- comes from the roll-ups and other tables. The check does catch a view of the whole journal.
SET enable_seqscan = off;
CREATE FUNCTION pg_temp.journal_reads(v regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  p jsonb;
BEGIN
  EXECUTE format('EXPLAIN (FORMAT JSON) SELECT * FROM %s', v) INTO p;
  RETURN (SELECT string_agg(r.n->>'Node Type' || ' on ' || (r.n->>'Relation Name'), ', ')
            FROM jsonb_path_query(p, 'strict $.**') AS r(n)
           WHERE jsonb_typeof(r.n) = 'object' AND r.n->>'Relation Name' LIKE 'txn%' AND NOT (r.n ? 'Index Cond' OR r.n ? 'Recheck Cond'));
END $$;
SELECT count(*) AS views_checked, string_agg(c.relname || ': ' || pg_temp.journal_reads(c.oid), '; ') AS full_reads
  FROM pg_class c WHERE c.relnamespace = 'wallet_report'::regnamespace AND c.relkind = 'v';
SELECT pg_temp.journal_reads('wallet._report_wallet_facts') IS NOT NULL AS whole_journal_caught;
RESET enable_seqscan;

-- wallet_reader reads them all
SET ROLE wallet_reader;
SELECT count(*) > 0 AS reads FROM wallet_report.liability_daily;
SELECT count(*) > 0 AS reads FROM wallet_report.card_intake_monthly;
RESET ROLE;

SELECT * FROM wallet.reconcile();
ROLLBACK;
