-- cron.sql: wallet.schedule_jobs() / unschedule_jobs() with pg_cron.
--
-- Runs in database wallet_cron (pg_cron's cron.database_name), where pg_cron,
-- pgtap and wallet are installed. Everything happens in one transaction that
-- is rolled back, so no job is ever committed and the launcher never runs one:
-- the jobs' commands are run here, from cron.job.command, to show they work.
BEGIN;
SELECT plan(40);

SET wallet.now = '2026-06-01 00:00:00+00';

SELECT has_function('wallet', 'schedule_jobs', ARRAY['text', 'text', 'text', 'text', 'text', 'text', 'interval'],
                    'wallet.schedule_jobs(text, text, text, text, text, text, interval) exists');
SELECT has_function('wallet', 'unschedule_jobs', 'wallet.unschedule_jobs() exists');
SELECT is_empty($$ SELECT jobid FROM cron.job WHERE jobname LIKE 'wallet-%' $$, 'no wallet job is scheduled at first');

------------------------------------------------------------------------------
-- schedule_jobs() with the default schedules
------------------------------------------------------------------------------
SELECT results_eq(
  $$ SELECT jobname, schedule, command FROM wallet.schedule_jobs() ORDER BY jobname $$,
  $$ VALUES ('wallet-cron-cleanup'::text, '43 4 * * *'::text,
             'DELETE FROM cron.job_run_details WHERE end_time < now() - ''14 days''::interval'::text),
            ('wallet-expire-bonus', '*/5 * * * *', 'SELECT * FROM wallet.expire_bonus()'),
            ('wallet-reconcile', '17 3 * * *', 'SELECT count(*) FROM wallet.reconcile()'),
            ('wallet-refresh-reports', '*/10 * * * *', 'SELECT wallet.refresh_reports()'),
            ('wallet-remind-expiring', '7 * * * *', 'SELECT wallet.remind_expiring()'),
            ('wallet-rollup-credits', '* * * * *', 'SELECT wallet.rollup_credits()') $$,
  'schedule_jobs() returns the six jobs with their default schedules and commands');

SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", schedule, command, database = current_database(), username = current_user::text, active
       FROM cron.job WHERE jobname LIKE 'wallet-%' ORDER BY jobname $$,
  $$ VALUES ('wallet-cron-cleanup'::text, '43 4 * * *'::text,
             'DELETE FROM cron.job_run_details WHERE end_time < now() - ''14 days''::interval'::text, true, true, true),
            ('wallet-expire-bonus', '*/5 * * * *', 'SELECT * FROM wallet.expire_bonus()', true, true, true),
            ('wallet-reconcile', '17 3 * * *', 'SELECT count(*) FROM wallet.reconcile()', true, true, true),
            ('wallet-refresh-reports', '*/10 * * * *', 'SELECT wallet.refresh_reports()', true, true, true),
            ('wallet-remind-expiring', '7 * * * *', 'SELECT wallet.remind_expiring()', true, true, true),
            ('wallet-rollup-credits', '* * * * *', 'SELECT wallet.rollup_credits()', true, true, true) $$,
  'cron.job holds the six jobs, active, for this database and user');

CREATE TEMP TABLE first_ids AS SELECT jobname, jobid FROM cron.job WHERE jobname LIKE 'wallet-%';

------------------------------------------------------------------------------
-- schedule_jobs() again, with other schedules: the same jobs, updated
------------------------------------------------------------------------------
SELECT results_eq(
  $$ SELECT jobname, schedule FROM wallet.schedule_jobs('*/10 * * * *', '*/2 * * * *', '30 4 * * *',
                                                       remind_schedule => '0 */2 * * *',
                                                       report_schedule => '*/30 * * * *',
                                                       cleanup_schedule => '0 5 * * *') ORDER BY jobname $$,
  $$ VALUES ('wallet-cron-cleanup'::text, '0 5 * * *'::text), ('wallet-expire-bonus', '*/10 * * * *'),
            ('wallet-reconcile', '30 4 * * *'), ('wallet-refresh-reports', '*/30 * * * *'),
            ('wallet-remind-expiring', '0 */2 * * *'), ('wallet-rollup-credits', '*/2 * * * *') $$,
  'schedule_jobs(...) with new schedules returns them');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'wallet-%'), 6::bigint,
          'still six wallet jobs in cron.job');
SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", schedule FROM cron.job WHERE jobname LIKE 'wallet-%' ORDER BY jobname $$,
  $$ VALUES ('wallet-cron-cleanup'::text, '0 5 * * *'::text), ('wallet-expire-bonus', '*/10 * * * *'),
            ('wallet-reconcile', '30 4 * * *'), ('wallet-refresh-reports', '*/30 * * * *'),
            ('wallet-remind-expiring', '0 */2 * * *'), ('wallet-rollup-credits', '*/2 * * * *') $$,
  'cron.job shows the new schedules');
SELECT is_empty($$ SELECT f.jobname FROM first_ids f LEFT JOIN cron.job j USING (jobname)
                    WHERE j.jobid IS DISTINCT FROM f.jobid $$,
                'the jobs were updated in place (same job ids)');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs(NULL) $$, '22023', NULL,
                 'a NULL schedule is refused with 22023');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs(remind_schedule => NULL) $$, '22023', NULL,
                 'a NULL reminder schedule is refused with 22023');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs(cron_retention => NULL) $$, '22023', NULL,
                 'a NULL retention is refused with 22023');
-- the retention is part of the cleanup command
SELECT is((SELECT command FROM wallet.schedule_jobs(cron_retention => '3 days') WHERE jobname = 'wallet-cron-cleanup'),
          'DELETE FROM cron.job_run_details WHERE end_time < now() - ''3 days''::interval',
          'schedule_jobs(cron_retention => ''3 days'') puts the retention into the cleanup command');

------------------------------------------------------------------------------
-- Each job's command, run as pg_cron would run it
------------------------------------------------------------------------------
-- alice's bonus (valid one day) has expired; bob paid the shop, whose credit is not rolled up
SELECT wallet.add_bonus_rule('CNY', 100, bonus_fixed => 10, valid_for => '1 day') AS rule \gset
SELECT wallet.open('cron-alice') AS alice, wallet.open('cron-bob') AS bob, wallet.open('cron-shop') AS shop \gset
SELECT is((SELECT bonus FROM wallet.top_up(:alice, 100, 'cron-1')), 10.00::numeric,
          'fixture: alice''s top-up of 100 gets a bonus of 10, valid one day');
SELECT is((SELECT bonus FROM wallet.top_up(:bob, 50, 'cron-2')), 0.00::numeric, 'fixture: bob tops up 50');
SELECT is((SELECT charged FROM wallet.spend(:bob, 20, 'cron-3', payee => :shop)), 20.00::numeric,
          'fixture: bob pays the shop 20');
SET wallet.now = '2026-06-03 00:00:00+00';
SELECT results_eq(format('SELECT cash, bonus FROM wallet.balance(%s)', :alice),
                  $$ VALUES (100.00::numeric, 0.00::numeric) $$,
                  'fixture: two days later alice''s bonus has expired');
SELECT is((SELECT sum(amount) FROM wallet.postings WHERE wallet_id = :alice AND bucket = 'bonus'), 10.00::numeric,
          'fixture: it is not written off yet (bonus postings sum to 10)');

SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-expire-bonus'),
                'the wallet-expire-bonus command runs');
SELECT is((SELECT sum(amount) FROM wallet.transactions WHERE wallet_id = :alice AND kind = 'expire_bonus'), 10.00::numeric,
          'it wrote off the expired bonus of 10');
SELECT is((SELECT sum(amount) FROM wallet.postings WHERE wallet_id = :alice AND bucket = 'bonus'), 0.00::numeric,
          'alice''s bonus postings now sum to zero (granted 10, written off 10)');

SELECT cmp_ok((SELECT count(*) FROM wallet.payee_credit WHERE wallet_id = :shop), '>', 0::bigint,
              'the shop has a payee credit waiting');
SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-rollup-credits'),
                'the wallet-rollup-credits command runs');
SELECT is((SELECT count(*) FROM wallet.payee_credit WHERE wallet_id = :shop), 0::bigint,
          'it rolled the credit up into the shop''s wallet');
SELECT is((SELECT earnings FROM wallet.balance(:shop)), 20.00::numeric, 'the shop''s balance is unchanged by the roll-up');

SELECT count(*) AS runs_before FROM wallet.reconciliation_run \gset
SELECT results_eq((SELECT command FROM cron.job WHERE jobname = 'wallet-reconcile'),
                  $$ VALUES (0::bigint) $$, 'the wallet-reconcile command finds no discrepancy');
SELECT is((SELECT count(*) FROM wallet.reconciliation_run), :runs_before::bigint + 1, 'and the run is recorded');

-- bob tops up 100 with a one-day bonus of 10 at 06-03: at 06-04 00:00 it expires within 3 days
SELECT is((SELECT bonus FROM wallet.top_up(:bob, 100, 'cron-4')), 10.00::numeric, 'fixture: bob tops up 100, bonus 10');
SET wallet.now = '2026-06-03 12:00:00+00';
SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-remind-expiring'),
                'the wallet-remind-expiring command runs');
SELECT is((SELECT count(*) FROM wallet.notification WHERE wallet_id = :bob AND kind = 'bonus_expiring'), 1::bigint,
          'it queued a reminder for bob''s bonus');
SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-refresh-reports'),
                'the wallet-refresh-reports command runs');
SELECT is((SELECT last_txn_id FROM wallet.rollup_state), (SELECT max(txn_id) FROM wallet.txn),
          'it rolled the journal up to its last transaction');
-- the cleanup: a run detail that ended 20 days ago goes, one of an hour ago stays (retention 3 days, as set above)
INSERT INTO cron.job_run_details (jobid, runid, job_pid, database, username, command, status, return_message,
                                  start_time, end_time)
VALUES (0, 900001, 0, current_database(), current_user, 'old', 'succeeded', '', now() - interval '20 days',
        now() - interval '20 days'),
       (0, 900002, 0, current_database(), current_user, 'new', 'succeeded', '', now() - interval '1 hour',
        now() - interval '1 hour');
SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-cron-cleanup'),
                'the wallet-cron-cleanup command runs');
SELECT results_eq($$ SELECT runid FROM cron.job_run_details WHERE runid IN (900001, 900002) $$,
                  $$ VALUES (900002::bigint) $$, 'it deleted the run details older than the retention only');

------------------------------------------------------------------------------
-- unschedule_jobs()
------------------------------------------------------------------------------
SELECT is(wallet.unschedule_jobs(), 6, 'unschedule_jobs() removes the six jobs');
SELECT is_empty($$ SELECT jobid FROM cron.job WHERE jobname LIKE 'wallet-%' $$, 'no wallet job is left in cron.job');
SELECT is(wallet.unschedule_jobs(), 0, 'unschedule_jobs() again removes nothing');

------------------------------------------------------------------------------
-- Without pg_cron: a clear error, 55000, with a hint. pg_cron is dropped inside
-- this transaction (rolled back below), and the hint is read from the error.
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; hint text;
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN st || ' ' || msg || ' HINT: ' || hint;
END $$;

DROP EXTENSION pg_cron;
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs() $$, '55000', NULL,
                 'without pg_cron, schedule_jobs() fails with 55000');
SELECT matches(pg_temp.error_of('SELECT * FROM wallet.schedule_jobs()'),
               '^55000 .*pg_cron.* HINT: .*(shared_preload_libraries|CREATE EXTENSION pg_cron).*',
               'its message names pg_cron and its hint says how to install it');
SELECT throws_ok($$ SELECT wallet.unschedule_jobs() $$, '55000', NULL,
                 'without pg_cron, unschedule_jobs() fails with 55000');

SELECT * FROM finish();
ROLLBACK;
