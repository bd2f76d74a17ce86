-- reports: operations and BI (src/sql/reports_rollup.sql, src/sql/reports.sql): the wallet_report views over a small
-- journal whose every number is worked out by hand below, the incremental roll-ups
-- (wallet.refresh_reports), report days in the session's TimeZone, reminders
-- (wallet.remind_expiring and the outbox), reconciliation alerts and the audit log.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET wallet.now = '2026-03-10 23:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9000000) AS t0,
       setval(pg_get_serial_sequence('wallet.refund', 'refund_id'), 9000000) AS r0 \gset

-- The audit rows of this file are those after this one.
SELECT coalesce(max(id), 0) AS audit0 FROM wallet.audit \gset

------------------------------------------------------------------------------
-- Set-up: a currency of this file's own (QRP, 2 decimals), its rules and policy
------------------------------------------------------------------------------
INSERT INTO wallet.currency (code, exponent) VALUES ('QRP', 2);
-- a top-up of 100 or more gets a bonus of 10, valid one day
SELECT wallet.add_bonus_rule('QRP', 100, bonus_fixed => 10, valid_for => '1 day') AS rule \gset
-- refund fee 2 %; remind 12 hours before a bonus expires
SELECT refund_fee_rate, remind_before FROM wallet.set_policy('QRP', refund_fee_rate => 0.02, remind_before => '12 hours');
SELECT wallet.add_coupon_template('reports-5off', 'QRP', 'amount', 5);

SELECT wallet.open('reports-alice', 'QRP') AS alice, wallet.open('reports-bob', 'QRP') AS bob,
       wallet.open('reports-carol', 'QRP') AS carol, wallet.open('reports-dave', 'QRP') AS dave,
       wallet.open('reports-eve', 'QRP') AS eve, wallet.open('reports-frank', 'QRP') AS frank \gset

------------------------------------------------------------------------------
-- The journal (all times UTC)
------------------------------------------------------------------------------
-- 03-10 23:30 alice tops up 100 by card: bonus 10, until 03-11 23:30
SET wallet.now = '2026-03-10 23:30:00+00';
SELECT bonus FROM wallet.top_up(:alice, 100, 'r-alice-1', 'card');
-- 03-10 23:45 eve tops up 100 by card: bonus 10, until 03-11 23:45 (never spent)
SET wallet.now = '2026-03-10 23:45:00+00';
SELECT bonus FROM wallet.top_up(:eve, 100, 'r-eve-1', 'card');
-- 03-11 00:30 bob tops up 50 by alipay: no bonus; alice spends 30 on food: bonus 10, cash 20
SET wallet.now = '2026-03-11 00:30:00+00';
SELECT bonus FROM wallet.top_up(:bob, 50, 'r-bob-1', 'alipay');
SELECT charged, bonus_used, cash_used FROM wallet.spend(:alice, 30, 'r-alice-2', 'food');
-- 03-11 01:00 bob spends 20 on game with a coupon of 5 off: charged 15 (cash);
-- then 5 of it is reversed: cash 5 back
SET wallet.now = '2026-03-11 01:00:00+00';
SELECT wallet.issue_coupon('reports-5off', :bob, 'r-bob-c') AS bob_coupon \gset
SELECT txn_id AS bob_spend, charged, discount, cash_used
  FROM wallet.spend(:bob, 20, 'r-bob-2', 'game', coupon => :'bob_coupon') \gset
SELECT :charged AS charged, :discount AS discount, :cash_used AS cash_used;
SELECT cash_returned FROM wallet.reverse_spend(:bob_spend, 'r-bob-3', 5);
-- 03-11 02:00 carol tops up 200 by card (bonus 10, until 03-12 02:00) and spends 15 on food:
-- bonus 10, cash 5
SET wallet.now = '2026-03-11 02:00:00+00';
SELECT txn_id AS carol_topup FROM wallet.top_up(:carol, 200, 'r-carol-1', 'card') \gset
SELECT charged, bonus_used, cash_used FROM wallet.spend(:carol, 15, 'r-carol-2', 'food');
-- 03-11 03:00 dave tops up 100 by alipay: bonus 10, until 03-12 03:00
SET wallet.now = '2026-03-11 03:00:00+00';
SELECT txn_id AS dave_topup FROM wallet.top_up(:dave, 100, 'r-dave-1', 'alipay') \gset

------------------------------------------------------------------------------
-- Reminders (CONTRACT section 7): QRP reminds 12 hours ahead
------------------------------------------------------------------------------
-- At 03-11 12:00 the window is (12:00, 03-12 00:00]: eve's lot (until 23:45, 10) is in it;
-- alice's and carol's bonus lots are spent (0), dave's expires at 03-12 03:00, outside.
SET wallet.now = '2026-03-11 12:00:00+00';
SELECT wallet.remind_expiring() > 0 AS queued;
SELECT wallet_id = :eve AS is_eve, kind, amount, currency, expires_at, created_at, sent_at
  FROM wallet.notification WHERE currency = 'QRP';
-- once per lot: a second run queues nothing
SELECT wallet.remind_expiring() AS queued_again;
-- the application reads the outbox (wallet_app) and marks eve's reminder delivered
SET ROLE wallet_app;
SELECT id AS note_id, wallet_id = :eve AS is_eve, kind, amount, currency, expires_at
  FROM wallet.pending_notifications(10000) WHERE currency = 'QRP' \gset
SELECT :'is_eve' AS is_eve, :'kind' AS kind, :amount AS amount, :'expires_at' AS expires_at;
SELECT wallet.mark_notified(ARRAY[:note_id]::bigint[]) AS marked;
SELECT wallet.mark_notified(ARRAY[:note_id]::bigint[]) AS marked_again;
SELECT count(*) AS still_pending FROM wallet.pending_notifications(10000) WHERE currency = 'QRP';
SELECT * FROM wallet.notification;   -- the table itself is not wallet_app's
RESET ROLE;
SELECT sent_at FROM wallet.notification WHERE id = :note_id;
SELECT wallet.remind_expiring(0);

------------------------------------------------------------------------------
-- Refunds at 03-11 13:00 (fee 2 %)
------------------------------------------------------------------------------
SET wallet.now = '2026-03-11 13:00:00+00';
-- carol: cash 195 left, bonus 10 spent is clawed back: 185 refundable, fee 3.70, net 181.30
SELECT refund_id AS carol_refund, amount, fee, net, bonus_clawback, bonus_void, status
  FROM wallet.request_refund(:carol_topup, 'r-carol-3') \gset
SELECT :amount AS amount, :fee AS fee, :net AS net, :bonus_clawback AS clawback, :'status' AS status;
SELECT wallet.review_refund(:carol_refund, true, 'ops-jane');
SELECT wallet.settle_refund(:carol_refund, true, 'gw-1');
-- dave: 100, fee 2.00, net 98.00; his unspent bonus 10 is voided
SELECT refund_id AS dave_refund, amount, fee, net, bonus_void
  FROM wallet.request_refund(:dave_topup, 'r-dave-2') \gset
SELECT :amount AS amount, :fee AS fee, :net AS net, :bonus_void AS bonus_void;
SELECT wallet.review_refund(:dave_refund, true, 'ops-jane');
SELECT wallet.settle_refund(:dave_refund, true, 'gw-2');
-- bob: 40 of cash left (50 - 15 + 5), fee 0.80, net 39.20; rejected
SELECT refund_id AS bob_refund, amount, fee, net
  FROM wallet.request_refund((SELECT txn_id FROM wallet.txn WHERE wallet_id = :bob AND idempotency_key = 'r-bob-1'),
                             'r-bob-4') \gset
SELECT :amount AS amount, :fee AS fee, :net AS net;
SELECT wallet.review_refund(:bob_refund, false, 'ops-joe', 'duplicate');

------------------------------------------------------------------------------
-- The views before any roll-up: everything comes from the tail (ids above the watermark)
------------------------------------------------------------------------------
-- topups_daily (UTC): 03-10 card: alice 100 + eve 100 = 200, bonus 20
--                     03-11 alipay: bob 50 + dave 100 = 150, bonus 10; card: carol 200, bonus 10
SELECT * FROM wallet_report.topups_daily WHERE currency = 'QRP' ORDER BY day, method;
-- spending_daily: 03-11 food: alice 30 (bonus 10, cash 20) + carol 15 (bonus 10, cash 5) = 45
--                 03-11 game: bob 15 charged (cash 15) after a 5 coupon discount; 1 reversal of 5
SELECT * FROM wallet_report.spending_daily WHERE currency = 'QRP' ORDER BY day, scene;
-- bonus_daily: 03-10 granted 20 (alice, eve)
--              03-11 granted 20 (carol, dave), spent 20 (alice 10, carol 10), voided 10 (dave's
--              refund), clawed back 10 (carol's refund)
SELECT * FROM wallet_report.bonus_daily WHERE currency = 'QRP' ORDER BY day;
-- the same numbers straight from the journal view
SELECT sum(amount) FILTER (WHERE account = 'bonus_expense') AS bonus_expense,
       sum(amount) FILTER (WHERE account = 'breakage') AS breakage
  FROM wallet.postings WHERE currency = 'QRP';

CREATE TEMP TABLE before_refresh AS
  SELECT 'topups' AS v, to_jsonb(t) AS r FROM wallet_report.topups_daily t WHERE currency = 'QRP'
  UNION ALL SELECT 'spending', to_jsonb(s) FROM wallet_report.spending_daily s WHERE currency = 'QRP'
  UNION ALL SELECT 'bonus', to_jsonb(b) FROM wallet_report.bonus_daily b WHERE currency = 'QRP';

------------------------------------------------------------------------------
-- refresh_reports: the same numbers, now from the roll-ups; running it again changes nothing
------------------------------------------------------------------------------
SELECT wallet.refresh_reports() > 0 AS rolled_up;
SELECT last_txn_id = (SELECT max(txn_id) FROM wallet.txn) AS watermark_at_the_end FROM wallet.rollup_state;
SELECT wallet.refresh_reports() AS rolled_up_again;
-- one row per 15-minute UTC slot and method, in minor units
SELECT slot, method, topups, amount, bonus FROM wallet.rollup_topup WHERE currency = 'QRP' ORDER BY slot, method;
-- no row is lost or counted twice
(SELECT v, r FROM before_refresh
 EXCEPT ALL
 (SELECT 'topups', to_jsonb(t) FROM wallet_report.topups_daily t WHERE currency = 'QRP'
  UNION ALL SELECT 'spending', to_jsonb(s) FROM wallet_report.spending_daily s WHERE currency = 'QRP'
  UNION ALL SELECT 'bonus', to_jsonb(b) FROM wallet_report.bonus_daily b WHERE currency = 'QRP'))
UNION ALL
((SELECT 'topups', to_jsonb(t) FROM wallet_report.topups_daily t WHERE currency = 'QRP'
  UNION ALL SELECT 'spending', to_jsonb(s) FROM wallet_report.spending_daily s WHERE currency = 'QRP'
  UNION ALL SELECT 'bonus', to_jsonb(b) FROM wallet_report.bonus_daily b WHERE currency = 'QRP')
 EXCEPT ALL SELECT v, r FROM before_refresh);
SELECT wallet.refresh_reports(0);

------------------------------------------------------------------------------
-- After the roll-up: new transactions show at once (the tail is added to the roll-ups)
------------------------------------------------------------------------------
-- frank tops up 10 in cash at 18:20 and at 18:40 UTC, i.e. 23:50 on 03-11 and 00:10 on 03-12
-- in India (UTC+05:30): the two top-ups fall on different days there
SET wallet.now = '2026-03-11 18:20:00+00';
SELECT bonus FROM wallet.top_up(:frank, 10, 'r-frank-1', 'cash');
SELECT wallet.refresh_reports() AS rolled_up;   -- this one is rolled up, the next is not
SET wallet.now = '2026-03-11 18:40:00+00';
SELECT bonus FROM wallet.top_up(:frank, 10, 'r-frank-2', 'cash');
-- UTC: 03-11 cash 2 top-ups, 20
SELECT * FROM wallet_report.topups_daily WHERE currency = 'QRP' ORDER BY day, method;

------------------------------------------------------------------------------
-- Report days follow the session's TimeZone
------------------------------------------------------------------------------
-- Asia/Kolkata (+05:30): alice 05:00, eve 05:15, bob 06:00, carol 07:30, dave 08:30 and frank
-- 23:50 on 03-11; frank 00:10 on 03-12.
--   03-11 alipay 2, 150, bonus 10; card 3 (alice, eve, carol), 400, bonus 30; cash 1, 10
--   03-12 cash 1, 10
SET TimeZone = 'Asia/Kolkata';
SELECT * FROM wallet_report.topups_daily WHERE currency = 'QRP' ORDER BY day, method;
-- America/New_York (-04:00 in March 2026): every top-up but frank's is on 03-10
--   03-10 alipay 2, 150, bonus 10; card 3, 400, bonus 30; 03-11 cash 2, 20
SET TimeZone = 'America/New_York';
SELECT * FROM wallet_report.topups_daily WHERE currency = 'QRP' ORDER BY day, method;
-- and so do the bonus days: granted 40 on 03-10 (New York), spent 20 etc. on 03-10 too
SELECT * FROM wallet_report.bonus_daily WHERE currency = 'QRP' ORDER BY day;
SET TimeZone = 'UTC';

------------------------------------------------------------------------------
-- Expiry: eve's bonus of 10 expired at 03-11 23:45
------------------------------------------------------------------------------
-- liability at 03-12 00:00, before the sweep:
--   cash: alice 80 + eve 100 + bob 40 + carol 0 + dave 0 + frank 20 = 240
--   bonus: eve 10, all of it past its expiry; earnings 0, held 0; total 250; 6 wallets
SET wallet.now = '2026-03-12 00:00:00+00';
SELECT * FROM wallet_report.liability WHERE currency = 'QRP';
-- 03-12 00:30 the sweep writes it off: breakage 10 on 03-12
SET wallet.now = '2026-03-12 00:30:00+00';
SELECT wallets >= 1 AS swept FROM wallet.expire_bonus();
SELECT * FROM wallet_report.bonus_daily WHERE currency = 'QRP' ORDER BY day;
SELECT * FROM wallet_report.liability WHERE currency = 'QRP';
SELECT wallet.refresh_reports() > 0 AS rolled_up;
SELECT * FROM wallet_report.bonus_daily WHERE currency = 'QRP' ORDER BY day;
-- totals over the days equal the journal: bonus_expense -40 + 10 + 10 (refunds) = -20 and breakage 10
SELECT sum(granted) AS granted, sum(voided) AS voided, sum(clawed_back) AS clawed_back, sum(expired) AS expired
  FROM wallet_report.bonus_daily WHERE currency = 'QRP';
SELECT sum(amount) FILTER (WHERE account = 'bonus_expense') AS bonus_expense,
       sum(amount) FILTER (WHERE account = 'breakage') AS breakage
  FROM wallet.postings WHERE currency = 'QRP';

------------------------------------------------------------------------------
-- Refunds and coupons
------------------------------------------------------------------------------
-- refunds_daily: 03-11 user rejected: bob 40, fee 0.80, net 39.20
--                03-11 user succeeded: carol 185 + dave 100 = 285, fee 3.70 + 2.00 = 5.70,
--                net 181.30 + 98.00 = 279.30, clawback 10, bonus void 10
SELECT * FROM wallet_report.refunds_daily WHERE currency = 'QRP' ORDER BY day, reason, status;
-- coupons: one issued to bob, redeemed, 5 off
SELECT * FROM wallet_report.coupons WHERE template_id = 'reports-5off';

------------------------------------------------------------------------------
-- Reconciliation: the latest run, and an alert when a run finds discrepancies
------------------------------------------------------------------------------
SELECT count(*) AS discrepancies FROM wallet.reconcile();
SELECT run_id = (SELECT max(run_id) FROM wallet.reconciliation_run) AS latest, discrepancies, check_name
  FROM wallet.reconciliation_latest;
SELECT count(*) AS alerts_for_a_clean_run FROM wallet.alert
 WHERE run_id = (SELECT max(run_id) FROM wallet.reconciliation_run);
-- a run with two discrepancies (recorded by hand, in a transaction rolled back)
BEGIN;
INSERT INTO wallet.reconciliation_run (started_at, finished_at, discrepancies, details)
VALUES (wallet.clock(), wallet.clock(), 2,
        '[{"check_name": "currency_balanced", "wallet_id": null, "currency": "QRP", "expected": 0, "actual": 1.00},
          {"check_name": "wallet_bucket_cash", "wallet_id": 1, "currency": "QRP", "expected": 5.00, "actual": 6.00}]')
RETURNING run_id AS bad_run \gset
SELECT kind, run_id = :bad_run AS this_run, detail->'discrepancies' AS discrepancies,
       jsonb_array_length(detail->'details') AS listed, created_at
  FROM wallet.alert WHERE run_id = :bad_run;
SELECT discrepancies, check_name, wallet_id, currency, expected, actual
  FROM wallet.reconciliation_latest ORDER BY check_name;
ROLLBACK;

------------------------------------------------------------------------------
-- The views' plans: the unrolled tail is estimated from the watermark
------------------------------------------------------------------------------
-- The tail above the watermark is planned from the journal's statistics (the planner evaluates
-- wallet_internal._report_watermark() when it estimates), not as a fixed share of the journal: a rolled-up
-- journal plans as a tail of a few rows, and a tail of 2,000 as about 2,000. (A fixed share had
-- plans of large journals compile their expressions with JIT at every read of a view.)
BEGIN;
SELECT wallet.open('reports-plan', 'QRP') AS planw \gset
SELECT count((wallet.top_up(:planw, 1, 'r-plan-' || g)).txn_id) AS planned_topups FROM generate_series(1, 3000) g;
SELECT wallet.refresh_reports() > 0 AS rolled_up;
ANALYZE wallet.txn;
CREATE FUNCTION pg_temp.tail_rows() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
  p json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) SELECT * FROM wallet._report_tail' INTO p;
  RETURN (p->0->'Plan'->'Plans'->0->>'Plan Rows')::numeric;
END $$;
SELECT pg_temp.tail_rows() < 50 AS rolled_up_tail_planned_small;
UPDATE wallet.rollup_state SET last_txn_id = last_txn_id - 2000;
SELECT pg_temp.tail_rows() BETWEEN 1000 AND 4000 AS tail_of_2000_planned_as_such;
ROLLBACK;

------------------------------------------------------------------------------
-- Audit log
------------------------------------------------------------------------------
-- a spend updates the wallet row but not its frozen column: no audit row
SELECT count(*) AS audit_before FROM wallet.audit \gset
SELECT charged FROM wallet.spend(:frank, 1, 'r-frank-3', 'food');
SELECT count(*) - :audit_before AS audit_rows_by_spend FROM wallet.audit;
SELECT wallet.freeze(:frank, 'chargeback');
SELECT wallet.unfreeze(:frank);
SELECT wallet.end_bonus_rule(:rule, '2026-04-01 00:00:00+00');
DELETE FROM wallet.policy WHERE currency = 'QRP';
SELECT action,
       regexp_replace(object, '[0-9]+$', '<id>') AS object,
       CASE WHEN object LIKE 'refund:%' THEN (regexp_replace(object, '^refund:', '')::bigint
                                              - :carol_refund) END AS refund_no,
       CASE WHEN object LIKE 'wallet:%' THEN object = 'wallet:' || :frank END AS is_frank,
       actor = session_user AS by_me, at, old IS NOT NULL AS has_old, new IS NOT NULL AS has_new,
       coalesce(new->>'status', new->>'frozen', new->>'code', new->>'ends_at', new->>'template_id',
                old->>'currency') AS what
  FROM wallet.audit WHERE id > :audit0 ORDER BY id;
-- a refund's review and settlement: what changed, before and after
SELECT action, old, new FROM wallet.audit WHERE object = 'refund:' || :carol_refund ORDER BY id;
-- a change by hand is recorded as well, by the same trigger
BEGIN;
UPDATE wallet.refund SET reviewer = 'ops-fix' WHERE refund_id = :bob_refund;
SELECT action, actor = session_user AS by_me, old->>'reviewer' AS was, new->>'reviewer' AS now, new->>'status' AS status
  FROM wallet.audit WHERE object = 'refund:' || :bob_refund ORDER BY id DESC LIMIT 1;
UPDATE wallet.refund SET note = 'no audit for a note' WHERE refund_id = :bob_refund;
SELECT count(*) AS audit_rows_of_bob FROM wallet.audit WHERE object = 'refund:' || :bob_refund;
ROLLBACK;
