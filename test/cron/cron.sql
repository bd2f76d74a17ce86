-- cron.sql: wallet.schedule_jobs() / unschedule_jobs() with pg_cron.
--
-- Runs in database wallet_cron (pg_cron's cron.database_name), where pg_cron,
-- pgtap and wallet are installed. Everything happens in one transaction that
-- is rolled back, so no job is ever committed and the launcher never runs one:
-- the jobs' commands are run here, from cron.job.command, to show they work.
-- (test/cron/reconcile_job.sql lets pg_cron run jobs for real.) Database
-- wallet_cron_b is a second wallet database (test/run.sh creates it).
BEGIN;
SELECT plan(76);

SET wallet.now = '2026-06-01 00:00:00+00';

-- error_of runs a statement and returns its error as 'SQLSTATE message HINT: hint'.
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

SELECT has_function('wallet', 'schedule_jobs', ARRAY['text', 'text', 'text', 'text', 'text', 'text', 'interval', 'text', 'text'],
                    'wallet.schedule_jobs(text, text, text, text, text, text, interval, text, text) exists');
SELECT has_function('wallet', 'unschedule_jobs', ARRAY['text'], 'wallet.unschedule_jobs(text) exists');
SELECT is_empty($$ SELECT jobid FROM cron.job WHERE jobname LIKE 'wallet-%' $$, 'no wallet job is scheduled at first');

------------------------------------------------------------------------------
-- schedule_jobs() with the default schedules
------------------------------------------------------------------------------
SELECT results_eq(
  $$ SELECT jobname, schedule, command FROM wallet.schedule_jobs() ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw'::text, '*/30 * * * *'::text, 'SELECT * FROM wallet.auto_withdraw()'::text),
            ('wallet-cron-cleanup', '43 4 * * *',
             'DELETE FROM cron.job_run_details WHERE end_time < now() - ''14 days''::interval'),
            ('wallet-expire-bonus', '*/5 * * * *', 'SELECT * FROM wallet.expire_bonus()'),
            ('wallet-expire-holds', '* * * * *', 'SELECT * FROM wallet.expire_holds()'),
            ('wallet-journal-partitions', '23 1 * * *', 'SELECT wallet.add_journal_partitions(1)'),
            ('wallet-reconcile', '17 3 * * *', 'CALL wallet.reconcile_job()'),
            ('wallet-refresh-reports', '*/10 * * * *', 'SELECT wallet.refresh_reports()'),
            ('wallet-remind-expiring', '7 * * * *', 'SELECT wallet.remind_expiring()'),
            ('wallet-remind-idle', '13 10 * * *', 'SELECT wallet.remind_idle()'),
            ('wallet-rollup-credits', '* * * * *', 'SELECT wallet.rollup_credits()') $$,
  'schedule_jobs() returns the ten jobs with their default schedules and commands');

SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", schedule, command, database = current_database(), username = current_user::text, active
       FROM cron.job WHERE jobname LIKE 'wallet-%' ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw'::text, '*/30 * * * *'::text, 'SELECT * FROM wallet.auto_withdraw()'::text,
             true, true, true),
            ('wallet-cron-cleanup', '43 4 * * *',
             'DELETE FROM cron.job_run_details WHERE end_time < now() - ''14 days''::interval', true, true, true),
            ('wallet-expire-bonus', '*/5 * * * *', 'SELECT * FROM wallet.expire_bonus()', true, true, true),
            ('wallet-expire-holds', '* * * * *', 'SELECT * FROM wallet.expire_holds()', true, true, true),
            ('wallet-journal-partitions', '23 1 * * *', 'SELECT wallet.add_journal_partitions(1)', true, true, true),
            ('wallet-reconcile', '17 3 * * *', 'CALL wallet.reconcile_job()', true, true, true),
            ('wallet-refresh-reports', '*/10 * * * *', 'SELECT wallet.refresh_reports()', true, true, true),
            ('wallet-remind-expiring', '7 * * * *', 'SELECT wallet.remind_expiring()', true, true, true),
            ('wallet-remind-idle', '13 10 * * *', 'SELECT wallet.remind_idle()', true, true, true),
            ('wallet-rollup-credits', '* * * * *', 'SELECT wallet.rollup_credits()', true, true, true) $$,
  'cron.job holds the ten jobs, active, for this database and user');

CREATE TEMP TABLE first_ids AS SELECT jobname, jobid FROM cron.job WHERE jobname LIKE 'wallet-%';

------------------------------------------------------------------------------
-- schedule_jobs() again, with other schedules: the same jobs, updated
------------------------------------------------------------------------------
SELECT results_eq(
  $$ SELECT jobname, schedule FROM wallet.schedule_jobs('*/10 * * * *', '*/2 * * * *', '30 4 * * *',
                                                       remind_schedule => '0 */2 * * *',
                                                       report_schedule => '*/30 * * * *',
                                                       cleanup_schedule => '0 5 * * *') ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw'::text, '*/30 * * * *'::text), ('wallet-cron-cleanup', '0 5 * * *'), ('wallet-expire-bonus', '*/10 * * * *'), ('wallet-expire-holds', '* * * * *'), ('wallet-journal-partitions', '23 1 * * *'),
            ('wallet-reconcile', '30 4 * * *'), ('wallet-refresh-reports', '*/30 * * * *'),
            ('wallet-remind-expiring', '0 */2 * * *'), ('wallet-remind-idle', '13 10 * * *'), ('wallet-rollup-credits', '*/2 * * * *') $$,
  'schedule_jobs(...) with new schedules returns them');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'wallet-%'), 10::bigint,
          'still ten wallet jobs in cron.job');
SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", schedule FROM cron.job WHERE jobname LIKE 'wallet-%' ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw'::text, '*/30 * * * *'::text), ('wallet-cron-cleanup', '0 5 * * *'), ('wallet-expire-bonus', '*/10 * * * *'), ('wallet-expire-holds', '* * * * *'), ('wallet-journal-partitions', '23 1 * * *'),
            ('wallet-reconcile', '30 4 * * *'), ('wallet-refresh-reports', '*/30 * * * *'),
            ('wallet-remind-expiring', '0 */2 * * *'), ('wallet-remind-idle', '13 10 * * *'), ('wallet-rollup-credits', '*/2 * * * *') $$,
  'cron.job shows the new schedules');
SELECT is_empty($$ SELECT f.jobname FROM first_ids f LEFT JOIN cron.job j USING (jobname)
                    WHERE j.jobid IS DISTINCT FROM f.jobid $$,
                'the jobs were updated in place (same job ids)');

------------------------------------------------------------------------------
-- A change of one job's schedule keeps the others' (arguments left out, or NULL,
-- keep an existing job's schedule; only a new job takes the default)
------------------------------------------------------------------------------
SELECT results_eq(
  $$ SELECT jobname, schedule FROM wallet.schedule_jobs(expire_schedule => '*/15 * * * *') ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw'::text, '*/30 * * * *'::text), ('wallet-cron-cleanup', '0 5 * * *'), ('wallet-expire-bonus', '*/15 * * * *'), ('wallet-expire-holds', '* * * * *'), ('wallet-journal-partitions', '23 1 * * *'),
            ('wallet-reconcile', '30 4 * * *'), ('wallet-refresh-reports', '*/30 * * * *'),
            ('wallet-remind-expiring', '0 */2 * * *'), ('wallet-remind-idle', '13 10 * * *'), ('wallet-rollup-credits', '*/2 * * * *') $$,
  'schedule_jobs(expire_schedule => ...) changes that job and returns the others with their schedules');
SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", schedule FROM cron.job WHERE jobname LIKE 'wallet-%' ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw'::text, '*/30 * * * *'::text), ('wallet-cron-cleanup', '0 5 * * *'), ('wallet-expire-bonus', '*/15 * * * *'), ('wallet-expire-holds', '* * * * *'), ('wallet-journal-partitions', '23 1 * * *'),
            ('wallet-reconcile', '30 4 * * *'), ('wallet-refresh-reports', '*/30 * * * *'),
            ('wallet-remind-expiring', '0 */2 * * *'), ('wallet-remind-idle', '13 10 * * *'), ('wallet-rollup-credits', '*/2 * * * *') $$,
  'cron.job keeps the other nine schedules (not reset to the defaults)');
SELECT is((SELECT schedule FROM wallet.schedule_jobs(NULL, remind_schedule => NULL) WHERE jobname = 'wallet-expire-bonus'),
          '*/15 * * * *', 'an explicit NULL schedule keeps the job''s schedule too');
SELECT is((SELECT command FROM cron.job WHERE jobname = 'wallet-cron-cleanup'),
          'DELETE FROM cron.job_run_details WHERE end_time < now() - ''14 days''::interval',
          'the cleanup still has the default retention');
-- the retention is part of the cleanup command
SELECT is((SELECT command FROM wallet.schedule_jobs(cron_retention => '3 days') WHERE jobname = 'wallet-cron-cleanup'),
          'DELETE FROM cron.job_run_details WHERE end_time < now() - ''3 days''::interval',
          'schedule_jobs(cron_retention => ''3 days'') puts the retention into the cleanup command');
SELECT is((SELECT command FROM wallet.schedule_jobs(reconcile_schedule => '45 2 * * *') WHERE jobname = 'wallet-cron-cleanup'),
          'DELETE FROM cron.job_run_details WHERE end_time < now() - ''3 days''::interval',
          'a later call without cron_retention keeps that retention');
SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", schedule FROM cron.job WHERE jobname LIKE 'wallet-%' ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw'::text, '*/30 * * * *'::text), ('wallet-cron-cleanup', '0 5 * * *'), ('wallet-expire-bonus', '*/15 * * * *'), ('wallet-expire-holds', '* * * * *'), ('wallet-journal-partitions', '23 1 * * *'),
            ('wallet-reconcile', '45 2 * * *'), ('wallet-refresh-reports', '*/30 * * * *'),
            ('wallet-remind-expiring', '0 */2 * * *'), ('wallet-remind-idle', '13 10 * * *'), ('wallet-rollup-credits', '*/2 * * * *') $$,
  'after three one-job changes, each job has the schedule last given to it');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs(cron_retention => '-1 day') $$, '22023', NULL,
                 'a negative retention is refused with 22023');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs(expire_schedule => 'every minute') $$, '22023', NULL,
                 'a schedule pg_cron cannot read is refused with 22023');

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
SELECT is((SELECT held FROM wallet.hold(:bob, 5, 'cron-hold-1', ttl => '1 hour')), 5.00::numeric,
          'fixture: bob holds 5 for an hour');
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

SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-expire-holds'),
                'the wallet-expire-holds command runs');
SELECT results_eq(format('SELECT status, released FROM wallet.hold WHERE wallet_id = %s', :bob),
                  $$ VALUES ('expired'::text, 500::bigint) $$,
                  'it gave back bob''s hold, past its hour, and marked it expired');

-- the automatic withdrawal: the shop asks for its earnings to be paid out from 10 on (it has the
-- 20 bob paid it, rolled up above)
SELECT ok(wallet.set_auto_withdrawal(:shop, 10, 'bank:shop'), 'fixture: the shop withdraws automatically from 10');
SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-auto-withdraw'),
                'the wallet-auto-withdraw command runs');
SELECT results_eq(format('SELECT amount, automatic FROM wallet.withdrawal WHERE wallet_id = %s', :shop),
                  $$ VALUES (2000::bigint, true) $$, 'it requested the withdrawal of the shop''s 20');
SELECT ok(wallet.set_auto_withdrawal(:shop, NULL, NULL) = false, 'fixture: and stops');
-- the idle reminders: alice made no payment, and has 100 (CNY reminds after 1 day here)
SELECT is((SELECT idle_remind_after FROM wallet.set_policy('CNY', idle_remind_after => '1 day')), '1 day'::interval,
          'fixture: CNY reminds wallets idle for a day');
SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-remind-idle'),
                'the wallet-remind-idle command runs');
SELECT results_eq(format('SELECT amount FROM wallet.notification WHERE wallet_id = %s AND kind = ''idle_balance''', :alice),
                  $$ VALUES (10000::bigint) $$, 'it queued an idle reminder of alice''s 100');
SELECT is((SELECT idle_remind_after FROM wallet.set_policy('CNY', reset => '{idle_remind_after}')), NULL::interval,
          'fixture: and no longer');

-- the wallet-reconcile command commits the run before it fails: it cannot run inside a
-- transaction block (test/cron/reconcile_job.sql runs it through pg_cron)
SELECT throws_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-reconcile'), '2D000', NULL,
                 'the wallet-reconcile command (CALL wallet.reconcile_job()) commits: refused in a transaction block');

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
-- the partitions: the clock's month and the next exist before a row needs them
SELECT ok(to_regclass('wallet.txn_2026_07') IS NULL, 'before the partitions job, July 2026 has no partition');
SELECT lives_ok((SELECT command FROM cron.job WHERE jobname = 'wallet-journal-partitions'),
                'the wallet-journal-partitions command runs');
SELECT ok(to_regclass('wallet.txn_2026_06') IS NOT NULL AND to_regclass('wallet.txn_2026_07') IS NOT NULL,
          'it made the partitions of the clock''s month (June 2026) and the next');

------------------------------------------------------------------------------
-- Jobs of a second wallet database (wallet_cron_b), scheduled from pg_cron's
-- database with cron.schedule_in_database
------------------------------------------------------------------------------
SELECT results_eq(
  $$ SELECT jobname, schedule, command, job_database
       FROM wallet.schedule_jobs(database => 'wallet_cron_b', reconcile_schedule => '5 3 * * *') ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw@wallet_cron_b'::text, '*/30 * * * *'::text, 'SELECT * FROM wallet.auto_withdraw()'::text,
             'wallet_cron_b'::text),
            ('wallet-expire-bonus@wallet_cron_b', '*/5 * * * *', 'SELECT * FROM wallet.expire_bonus()', 'wallet_cron_b'),
            ('wallet-expire-holds@wallet_cron_b', '* * * * *', 'SELECT * FROM wallet.expire_holds()', 'wallet_cron_b'),
            ('wallet-journal-partitions@wallet_cron_b', '23 1 * * *', 'SELECT wallet.add_journal_partitions(1)',
             'wallet_cron_b'),
            ('wallet-reconcile@wallet_cron_b', '5 3 * * *', 'CALL wallet.reconcile_job()', 'wallet_cron_b'),
            ('wallet-refresh-reports@wallet_cron_b', '*/10 * * * *', 'SELECT wallet.refresh_reports()', 'wallet_cron_b'),
            ('wallet-remind-expiring@wallet_cron_b', '7 * * * *', 'SELECT wallet.remind_expiring()', 'wallet_cron_b'),
            ('wallet-remind-idle@wallet_cron_b', '13 10 * * *', 'SELECT wallet.remind_idle()', 'wallet_cron_b'),
            ('wallet-rollup-credits@wallet_cron_b', '* * * * *', 'SELECT wallet.rollup_credits()', 'wallet_cron_b') $$,
  'schedule_jobs(database => ''wallet_cron_b'') schedules its nine jobs, named after it (the cleanup stays here, once)');
SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", database::text COLLATE "default" FROM cron.job
      WHERE jobname LIKE 'wallet-%@wallet_cron_b' ORDER BY jobname $$,
  $$ VALUES ('wallet-auto-withdraw@wallet_cron_b'::text, 'wallet_cron_b'::text),
            ('wallet-expire-bonus@wallet_cron_b', 'wallet_cron_b'),
            ('wallet-expire-holds@wallet_cron_b', 'wallet_cron_b'),
            ('wallet-journal-partitions@wallet_cron_b', 'wallet_cron_b'),
            ('wallet-reconcile@wallet_cron_b', 'wallet_cron_b'), ('wallet-refresh-reports@wallet_cron_b', 'wallet_cron_b'),
            ('wallet-remind-expiring@wallet_cron_b', 'wallet_cron_b'), ('wallet-remind-idle@wallet_cron_b', 'wallet_cron_b'),
            ('wallet-rollup-credits@wallet_cron_b', 'wallet_cron_b') $$,
  'cron.job runs them in database wallet_cron_b');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'wallet-%' AND database = current_database()), 10::bigint,
          'this database''s ten jobs are untouched');
SELECT is((SELECT schedule FROM wallet.schedule_jobs(database => 'wallet_cron_b')
            WHERE jobname = 'wallet-reconcile@wallet_cron_b'), '5 3 * * *',
          'scheduling wallet_cron_b again keeps its schedules');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'wallet-%'), 19::bigint, 'never duplicated: 10 + 9 jobs');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs(database => 'wallet_no_such_db') $$, '22023', NULL,
                 'an unknown database is refused with 22023');
SELECT is(wallet.unschedule_jobs('wallet_cron_b'), 9, 'unschedule_jobs(''wallet_cron_b'') removes its nine jobs');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'wallet-%'), 10::bigint, 'and leaves this database''s ten');

------------------------------------------------------------------------------
-- A scheduling role that is not a superuser: a member of wallet_admin with the
-- grants the README lists (USAGE on schema cron; EXECUTE on
-- cron.schedule_in_database for another database)
------------------------------------------------------------------------------
CREATE ROLE wallet_cron_ops LOGIN;
GRANT wallet_admin TO wallet_cron_ops;
SET ROLE wallet_cron_ops;
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs() $$, '42501', 'permission denied for schema cron',
                 'without USAGE on schema cron: 42501');
SELECT matches(pg_temp.error_of('SELECT * FROM wallet.schedule_jobs()'),
               '^42501 .* HINT: .*GRANT USAGE ON SCHEMA cron TO wallet_cron_ops.*',
               'its hint names the grant');
RESET ROLE;
GRANT USAGE ON SCHEMA cron TO wallet_cron_ops;
SET ROLE wallet_cron_ops;
SELECT is((SELECT count(*) FROM wallet.schedule_jobs(reconcile_schedule => '10 3 * * *')), 10::bigint,
          'with USAGE on schema cron, wallet_cron_ops schedules the ten jobs');
SELECT results_eq($$ SELECT count(*), min(username) FROM cron.job WHERE jobname LIKE 'wallet-%' $$,
                  $$ VALUES (10::bigint, 'wallet_cron_ops'::text) $$,
                  'it sees its own ten jobs, to be run as wallet_cron_ops');
SELECT is((SELECT schedule FROM wallet.schedule_jobs(expire_schedule => '*/20 * * * *') WHERE jobname = 'wallet-reconcile'),
          '10 3 * * *', 'and a change of one of them keeps its others');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs(database => 'wallet_cron_b') $$, '42501', NULL,
                 'another database needs EXECUTE on cron.schedule_in_database: 42501 without it');
RESET ROLE;
GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO wallet_cron_ops;
SET ROLE wallet_cron_ops;
SELECT is((SELECT count(*) FROM wallet.schedule_jobs(database => 'wallet_cron_b')), 9::bigint,
          'with that grant it schedules wallet_cron_b''s nine jobs');
SELECT is(wallet.unschedule_jobs('wallet_cron_b'), 9, 'and unschedules them');
SELECT is(wallet.unschedule_jobs(), 10, 'and its own ten');
RESET ROLE;
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'wallet-%' AND username = current_user::text), 10::bigint,
          'the superuser''s ten jobs are still there');

------------------------------------------------------------------------------
-- unschedule_jobs()
------------------------------------------------------------------------------
SELECT is(wallet.unschedule_jobs(), 10, 'unschedule_jobs() removes the ten jobs');
SELECT is_empty($$ SELECT jobid FROM cron.job WHERE jobname LIKE 'wallet-%' $$, 'no wallet job is left in cron.job');
SELECT is(wallet.unschedule_jobs(), 0, 'unschedule_jobs() again removes nothing');

------------------------------------------------------------------------------
-- Without pg_cron: a clear error, 55000, with a hint. pg_cron is dropped inside
-- this transaction (rolled back below), and the hint is read from the error.
------------------------------------------------------------------------------

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
