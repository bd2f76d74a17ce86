-- cron.sql: wallet.schedule_jobs() / unschedule_jobs() with pg_cron.
--
-- Runs in database wallet_cron (pg_cron's cron.database_name), where pg_cron,
-- pgtap and wallet are installed. Everything happens in one transaction that
-- is rolled back, so no job is ever committed and the launcher never runs one:
-- the jobs' commands are run here, from cron.job.command, to show they work.
BEGIN;
SELECT plan(30);

SET wallet.now = '2026-06-01 00:00:00+00';

SELECT has_function('wallet', 'schedule_jobs', ARRAY['text', 'text', 'text'], 'wallet.schedule_jobs(text, text, text) exists');
SELECT has_function('wallet', 'unschedule_jobs', 'wallet.unschedule_jobs() exists');
SELECT is_empty($$ SELECT jobid FROM cron.job WHERE jobname LIKE 'wallet-%' $$, 'no wallet job is scheduled at first');

------------------------------------------------------------------------------
-- schedule_jobs() with the default schedules
------------------------------------------------------------------------------
SELECT results_eq(
  $$ SELECT jobname, schedule, command FROM wallet.schedule_jobs() ORDER BY jobname $$,
  $$ VALUES ('wallet-expire-bonus'::text, '*/5 * * * *'::text, 'SELECT * FROM wallet.expire_bonus()'::text),
            ('wallet-reconcile', '17 3 * * *', 'SELECT count(*) FROM wallet.reconcile()'),
            ('wallet-rollup-credits', '* * * * *', 'SELECT wallet.rollup_credits()') $$,
  'schedule_jobs() returns the three jobs with their default schedules and commands');

SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", schedule, command, database = current_database(), username = current_user::text, active
       FROM cron.job WHERE jobname LIKE 'wallet-%' ORDER BY jobname $$,
  $$ VALUES ('wallet-expire-bonus'::text, '*/5 * * * *'::text, 'SELECT * FROM wallet.expire_bonus()'::text, true, true, true),
            ('wallet-reconcile', '17 3 * * *', 'SELECT count(*) FROM wallet.reconcile()', true, true, true),
            ('wallet-rollup-credits', '* * * * *', 'SELECT wallet.rollup_credits()', true, true, true) $$,
  'cron.job holds the three jobs, active, for this database and user');

CREATE TEMP TABLE first_ids AS SELECT jobname, jobid FROM cron.job WHERE jobname LIKE 'wallet-%';

------------------------------------------------------------------------------
-- schedule_jobs() again, with other schedules: the same jobs, updated
------------------------------------------------------------------------------
SELECT results_eq(
  $$ SELECT jobname, schedule FROM wallet.schedule_jobs('*/10 * * * *', '*/2 * * * *', '30 4 * * *') ORDER BY jobname $$,
  $$ VALUES ('wallet-expire-bonus'::text, '*/10 * * * *'::text), ('wallet-reconcile', '30 4 * * *'),
            ('wallet-rollup-credits', '*/2 * * * *') $$,
  'schedule_jobs(...) with new schedules returns them');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'wallet-%'), 3::bigint,
          'still three wallet jobs in cron.job');
SELECT results_eq(
  $$ SELECT jobname::text COLLATE "default", schedule FROM cron.job WHERE jobname LIKE 'wallet-%' ORDER BY jobname $$,
  $$ VALUES ('wallet-expire-bonus'::text, '*/10 * * * *'::text), ('wallet-reconcile', '30 4 * * *'),
            ('wallet-rollup-credits', '*/2 * * * *') $$,
  'cron.job shows the new schedules');
SELECT is_empty($$ SELECT f.jobname FROM first_ids f LEFT JOIN cron.job j USING (jobname)
                    WHERE j.jobid IS DISTINCT FROM f.jobid $$,
                'the jobs were updated in place (same job ids)');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs(NULL) $$, '22023', NULL,
                 'a NULL schedule is refused with 22023');

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

------------------------------------------------------------------------------
-- unschedule_jobs()
------------------------------------------------------------------------------
SELECT is(wallet.unschedule_jobs(), 3, 'unschedule_jobs() removes three jobs');
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
