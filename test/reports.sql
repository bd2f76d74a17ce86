-- reports.sql: privileges of the operations and reporting objects (src/sql/reminders.sql to src/sql/grants_reports.sql),
-- the report views' plans on a large journal (no sequential scan of wallet.txn), and
-- the roll-up's handling of ids that commit after a refresh passed them.
-- Run by pg_prove in database wallet_tap; everything is rolled back.
BEGIN;
SELECT plan(86);

SET wallet.now = '2026-05-01 00:00:00+00';
SET TimeZone = 'UTC';

CREATE TEMP TABLE report_view AS
  SELECT c.oid::regclass AS r FROM pg_class c
   WHERE c.relnamespace = 'wallet_report'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f');
GRANT SELECT ON report_view TO PUBLIC;

------------------------------------------------------------------------------
-- wallet_reader: every wallet_report view, nothing else new
------------------------------------------------------------------------------
SELECT set_eq($$ SELECT r::text FROM report_view $$,
  ARRAY['wallet_report.topups_daily', 'wallet_report.spending_daily', 'wallet_report.transfers_daily',
        'wallet_report.bonus_daily', 'wallet_report.refunds_daily', 'wallet_report.coupons',
        'wallet_report.liability', 'wallet_report.card_intake_daily',
        'wallet_report.topups_weekly', 'wallet_report.topups_monthly', 'wallet_report.spending_weekly',
        'wallet_report.spending_monthly', 'wallet_report.transfers_weekly', 'wallet_report.transfers_monthly',
        'wallet_report.bonus_weekly', 'wallet_report.bonus_monthly', 'wallet_report.refunds_weekly',
        'wallet_report.refunds_monthly', 'wallet_report.withdrawals_daily', 'wallet_report.withdrawals_weekly',
        'wallet_report.withdrawals_monthly', 'wallet_report.card_intake_weekly', 'wallet_report.card_intake_monthly',
        'wallet_report.liability_daily', 'wallet_report.payees_daily', 'wallet_report.wallets_daily'],
  'schema wallet_report holds the twenty-six report views');
SELECT is_empty($$ SELECT r::text FROM report_view WHERE NOT has_table_privilege('wallet_reader', r, 'SELECT') $$,
                'wallet_reader may SELECT every relation of wallet_report');
SELECT is_empty($$ SELECT r::text FROM report_view
                    WHERE has_table_privilege('wallet_reader', r, 'INSERT, UPDATE, DELETE, TRUNCATE') $$,
                'and write none');
SELECT is_empty($$
  SELECT x FROM unnest(ARRAY['wallet.notification', 'wallet.alert', 'wallet.audit', 'wallet.reconciliation_latest',
                             'wallet.rollup_state', 'wallet.rollup_gap', 'wallet.rollup_topup', 'wallet.rollup_spend',
                             'wallet.rollup_bonus', 'wallet.rollup_transfer', 'wallet._report_facts',
                             'wallet._report_tail', 'wallet.rollup_balance', 'wallet.rollup_payee',
                             'wallet.rollup_active', 'wallet._report_wallet_facts', 'wallet._report_wallet_tail',
                             'wallet._card_intake_days']) AS x
   WHERE has_table_privilege('wallet_reader', x, 'SELECT') OR has_table_privilege('wallet_app', x, 'SELECT')
$$, 'neither wallet_reader nor wallet_app may read the new tables and internal views of schema wallet');
SELECT is_empty($$
  SELECT f FROM unnest(ARRAY['wallet.remind_expiring(int)', 'wallet.pending_notifications(int)',
                             'wallet.mark_notified(bigint[])', 'wallet.refresh_reports(int)',
                             'wallet.schedule_jobs(text,text,text,text,text,text,interval,text,text)',
                             'wallet.unschedule_jobs(text)']) AS f
   WHERE has_function_privilege('wallet_reader', f, 'EXECUTE')
$$, 'wallet_reader may execute none of the new functions');

-- as wallet_reader
SET ROLE wallet_reader;
SELECT lives_ok(format('SELECT * FROM %s', r), format('wallet_reader reads %s', r)) FROM report_view ORDER BY r::text;
SELECT throws_ok('SELECT * FROM wallet.audit', '42501', NULL, 'wallet_reader cannot read wallet.audit');
SELECT throws_ok('SELECT * FROM wallet.rollup_topup', '42501', NULL, 'wallet_reader cannot read the roll-ups');
SELECT throws_ok('SELECT wallet.refresh_reports()', '42501', NULL, 'wallet_reader cannot refresh the reports');
SELECT throws_ok('SELECT * FROM wallet.pending_notifications()', '42501', NULL, 'wallet_reader cannot read the outbox');
RESET ROLE;

------------------------------------------------------------------------------
-- wallet_app: the outbox functions only
------------------------------------------------------------------------------
SELECT ok(has_function_privilege('wallet_app', 'wallet.pending_notifications(int)', 'EXECUTE')
          AND has_function_privilege('wallet_app', 'wallet.mark_notified(bigint[])', 'EXECUTE'),
          'wallet_app may execute pending_notifications and mark_notified');
SELECT ok(NOT has_function_privilege('wallet_app', 'wallet.remind_expiring(int)', 'EXECUTE')
          AND NOT has_function_privilege('wallet_app', 'wallet.refresh_reports(int)', 'EXECUTE')
          AND NOT has_function_privilege('wallet_app', 'wallet.schedule_jobs(text,text,text,text,text,text,interval,text,text)', 'EXECUTE'),
          'wallet_app may not queue reminders, refresh reports or schedule jobs');
SELECT ok(NOT has_schema_privilege('wallet_app', 'wallet_report', 'USAGE'), 'wallet_app has no use of wallet_report');
SET ROLE wallet_app;
SELECT lives_ok('SELECT * FROM wallet.pending_notifications(5)', 'wallet_app reads pending notifications');
SELECT lives_ok('SELECT wallet.mark_notified(''{}'')', 'wallet_app marks notifications');
SELECT throws_ok('SELECT wallet.remind_expiring()', '42501', NULL, 'wallet_app cannot run remind_expiring');
SELECT throws_ok('SELECT * FROM wallet.notification', '42501', NULL, 'wallet_app cannot read wallet.notification directly');
SELECT throws_ok('UPDATE wallet.notification SET sent_at = now()', '42501', NULL, 'nor write it');
SELECT throws_ok('SELECT * FROM wallet_report.liability', '42501', NULL, 'wallet_app cannot read the reports');
RESET ROLE;

------------------------------------------------------------------------------
-- wallet_admin: runs the jobs, reads the logs
------------------------------------------------------------------------------
SELECT ok(has_function_privilege('wallet_admin', 'wallet.remind_expiring(int)', 'EXECUTE')
          AND has_function_privilege('wallet_admin', 'wallet.refresh_reports(int)', 'EXECUTE')
          AND has_function_privilege('wallet_admin', 'wallet.schedule_jobs(text,text,text,text,text,text,interval,text,text)', 'EXECUTE')
          AND has_function_privilege('wallet_admin', 'wallet.unschedule_jobs(text)', 'EXECUTE'),
          'wallet_admin may run remind_expiring, refresh_reports, schedule_jobs, unschedule_jobs');
SET ROLE wallet_admin;
SELECT lives_ok('SELECT wallet.remind_expiring()', 'wallet_admin queues reminders');
SELECT lives_ok('SELECT wallet.refresh_reports()', 'wallet_admin refreshes the reports');
SELECT lives_ok('SELECT * FROM wallet.audit', 'wallet_admin reads wallet.audit');
SELECT lives_ok('SELECT * FROM wallet.alert', 'wallet_admin reads wallet.alert');
SELECT lives_ok('SELECT * FROM wallet.reconciliation_latest', 'wallet_admin reads wallet.reconciliation_latest');
SELECT throws_ok('DELETE FROM wallet.audit', '42501', NULL, 'wallet_admin cannot delete audit rows');
SELECT throws_ok('SELECT * FROM wallet.mark_notified(''{1}'')', '42501', NULL, 'wallet_admin cannot mark notifications');
RESET ROLE;

------------------------------------------------------------------------------
-- Plans on a large journal: no sequential scan of wallet.txn for a month's report
------------------------------------------------------------------------------
-- 100,000 synthetic top-ups and spends over 2026 (inserted by the owner, rolled back at the end)
INSERT INTO wallet.currency (code, exponent) VALUES ('QRT', 2);
SELECT wallet.open('tap-reports-big', 'QRT') AS big \gset
INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, request, result, postings)
SELECT :big, k.kind, 100, 'QRT', timestamptz '2026-01-01 00:00:00+00' + g * interval '300 seconds',
       CASE k.kind WHEN 'top_up' THEN '{"method": "card"}'::jsonb ELSE '{"scene": "food"}' END,
       CASE k.kind WHEN 'top_up' THEN '{"bonus": 0}'::jsonb
            ELSE '{"charged": 100, "bonus_used": 0, "cash_used": 100, "earnings_used": 0, "discount": 0}' END,
       CASE k.kind WHEN 'top_up' THEN ARRAY[ROW('wallet', :big, 'cash', 100)::wallet.posting,
                                            ROW('funding', NULL, NULL, -100)::wallet.posting]
            ELSE ARRAY[ROW('wallet', :big, 'cash', -100)::wallet.posting,
                       ROW('revenue', NULL, NULL, 100)::wallet.posting] END
  FROM generate_series(1, 100000) g
 CROSS JOIN LATERAL (SELECT CASE WHEN g % 2 = 0 THEN 'top_up' ELSE 'spend' END AS kind) k;
ANALYZE wallet.txn;

CREATE FUNCTION pg_temp.seq_scans_txn(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
  RETURN jsonb_path_exists(plan, '$.** ? (@."Node Type" == "Seq Scan" && @."Relation Name" == "txn")');
END $$;

-- before a refresh the whole synthetic journal is the tail
SELECT ok(NOT pg_temp.seq_scans_txn(format('SELECT * FROM %s %s', v, w)),
          format('%s%s reads wallet.txn without a sequential scan', v,
                 CASE WHEN w <> '' THEN ' for a month (unrolled tail)' END))
  FROM (VALUES ('wallet_report.topups_daily', 'WHERE day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.spending_daily', 'WHERE day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.bonus_daily', 'WHERE day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.refunds_daily', 'WHERE day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.coupons', ''), ('wallet_report.liability', '')) AS x(v, w);

SELECT cmp_ok(wallet.refresh_reports(), '>=', 100000::bigint, 'refresh_reports rolls up the synthetic journal');
ANALYZE wallet.rollup_topup;
ANALYZE wallet.rollup_spend;
SELECT ok(NOT pg_temp.seq_scans_txn(format(
            'SELECT * FROM %s WHERE day BETWEEN ''2026-03-01'' AND ''2026-03-31''', v)),
          format('a month of %s (rolled up) reads wallet.txn without a sequential scan', v))
  FROM unnest(ARRAY['wallet_report.topups_daily', 'wallet_report.spending_daily', 'wallet_report.bonus_daily']) AS v;

-- and the views by week and month and the books by day: no node reads a journal partition that
-- holds rows without an index condition (or a bitmap heap scan's recheck of one)
ANALYZE wallet.rollup_balance;
ANALYZE wallet.rollup_active;
CREATE FUNCTION pg_temp.full_reads_txn(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
  RETURN (SELECT string_agg(n->>'Node Type' || ' on ' || (n->>'Relation Name'), ', ')
            FROM jsonb_path_query(plan, 'strict $.**') AS n
           WHERE jsonb_typeof(n) = 'object' AND n->>'Relation Name' LIKE 'txn%'
             AND NOT (n ? 'Index Cond' OR n ? 'Recheck Cond')
             -- a partition with no page (next month's, empty) costs nothing to scan
             AND (SELECT c.relpages FROM pg_class c
                   WHERE c.relnamespace = 'wallet'::regnamespace AND c.relname = n->>'Relation Name') > 0);
END $$;
SELECT is(pg_temp.full_reads_txn(format('SELECT * FROM %s WHERE %s', v, w)), NULL,
          format('a month of %s (rolled up) reads no journal partition but by index', v))
  FROM (VALUES ('wallet_report.liability_daily', 'day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.payees_daily', 'day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.wallets_daily', 'day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.transfers_daily', 'day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.withdrawals_daily', 'day BETWEEN ''2026-03-01'' AND ''2026-03-31'''),
               ('wallet_report.topups_monthly', 'month = ''2026-03-01'''),
               ('wallet_report.spending_weekly', 'week BETWEEN ''2026-03-02'' AND ''2026-03-30'''),
               ('wallet_report.bonus_monthly', 'month = ''2026-03-01'''),
               ('wallet_report.refunds_monthly', 'month = ''2026-03-01'''),
               ('wallet_report.card_intake_monthly', 'month = ''2026-03-01''')) AS x(v, w);
SELECT isnt(pg_temp.full_reads_txn('SELECT * FROM wallet._report_wallet_facts WHERE slot >= ''2026-03-01'''), NULL,
            'the check catches a month read from the journal itself');

-- March 2026 in UTC: one transaction every 300 s, alternately spend (odd g) and top-up (even g):
-- March is 31 * 86400 / 300 = 8928 transactions, 4464 of each kind, 100 (1.00) each
SELECT results_eq(
  $$ SELECT sum(count)::bigint, sum(amount) FROM wallet_report.topups_daily
      WHERE currency = 'QRT' AND day BETWEEN '2026-03-01' AND '2026-03-31' $$,
  $$ VALUES (4464::bigint, 4464.00::numeric) $$,
  'topups_daily of March counts the synthetic top-ups');
SELECT results_eq(
  $$ SELECT sum(count)::bigint, sum(charged) FROM wallet_report.spending_daily
      WHERE currency = 'QRT' AND day BETWEEN '2026-03-01' AND '2026-03-31' $$,
  $$ VALUES (4464::bigint, 4464.00::numeric) $$,
  'spending_daily of March counts the synthetic spends');
SELECT results_eq(
  $$ SELECT count, amount FROM wallet_report.topups_monthly WHERE currency = 'QRT' AND month = '2026-03-01' $$,
  $$ VALUES (4464::bigint, 4464.00::numeric) $$,
  'topups_monthly of March adds up its days');
-- the journal from 01-01 00:05 to 03-31 23:55 is 25,919 transactions: 12,960 spends (odd), 12,959
-- top-ups, so the synthetic wallet ends March 1.00 short; it was opened on 05-01 (the clock)
SELECT results_eq(
  $$ SELECT wallets, cash FROM wallet_report.liability_daily WHERE currency = 'QRT' AND day = '2026-03-31' $$,
  $$ VALUES (0::bigint, -1.00::numeric) $$,
  'liability_daily at the end of March sums every leg since January');
SELECT results_eq(
  $$ SELECT count(*), sum(active_wallets), sum(new_wallets) FROM wallet_report.wallets_daily
      WHERE currency = 'QRT' AND day BETWEEN '2026-03-01' AND '2026-03-31' $$,
  $$ VALUES (31::bigint, 31::numeric, 0::numeric) $$,
  'wallets_daily: the synthetic wallet is active every day of March');

------------------------------------------------------------------------------
-- An id that commits after a refresh passed it is still counted, once
------------------------------------------------------------------------------
-- an "in-flight" transaction draws an id, a later one commits first, a refresh runs...
SELECT nextval(pg_get_serial_sequence('wallet.txn', 'txn_id')) AS late_id \gset
SET wallet.now = '2026-06-02 10:00:00+00';
SELECT txn_id AS early_id FROM wallet.top_up(wallet.open('tap-reports-early', 'QRT'), 7, 'tap-r-1', 'gap-test') \gset
SELECT cmp_ok(wallet.refresh_reports(), '>=', 1::bigint, 'a refresh rolls up the later id');
SELECT ok(EXISTS (SELECT 1 FROM wallet.rollup_gap WHERE :late_id BETWEEN lo AND hi),
          'the id it did not see is kept as a gap');
-- ... then the in-flight one "commits" with its id below the watermark
INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, request, result, postings)
VALUES (:late_id, :big, 'top_up', 500, 'QRT', '2026-06-02 11:00:00+00', '{"method": "gap-test"}', '{"bonus": 0}',
        ARRAY[ROW('wallet', :big, 'cash', 500)::wallet.posting, ROW('funding', NULL, NULL, -500)::wallet.posting]);
SELECT results_eq(
  $$ SELECT count, amount FROM wallet_report.topups_daily WHERE currency = 'QRT' AND method = 'gap-test' $$,
  $$ VALUES (2::bigint, 12.00::numeric) $$,
  'the views count it at once (through the gap)');
SELECT cmp_ok(wallet.refresh_reports(), '>=', 1::bigint, 'the next refresh rolls it up');
SELECT ok(NOT EXISTS (SELECT 1 FROM wallet.rollup_gap WHERE :late_id BETWEEN lo AND hi),
          'and it is no longer a gap');
SELECT results_eq(
  $$ SELECT count, amount FROM wallet_report.topups_daily WHERE currency = 'QRT' AND method = 'gap-test' $$,
  $$ VALUES (2::bigint, 12.00::numeric) $$,
  'counted once');
SELECT results_eq(
  $$ SELECT topups, amount FROM wallet.rollup_topup WHERE currency = 'QRT' AND method = 'gap-test' ORDER BY slot $$,
  $$ VALUES (1::bigint, 700::bigint), (1, 500) $$,
  'both are in the roll-up, each once');
SELECT is((SELECT sum(cash) FROM wallet.rollup_balance WHERE currency = 'QRT'),
          (SELECT sum(p.amount) FROM wallet.txn t CROSS JOIN LATERAL unnest(t.postings) p
            WHERE t.currency = 'QRT' AND p.account = 'wallet' AND p.bucket = 'cash'),
          'rollup_balance holds every cash leg of the journal once, the late one too');

SELECT * FROM finish();
ROLLBACK;
