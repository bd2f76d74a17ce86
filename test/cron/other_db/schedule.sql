-- other_db/schedule.sql: schedule_jobs() in a wallet database that is not pg_cron's.
--
-- Runs in database wallet_cron_b (test/run.sh creates it, with pgtap and wallet, but not
-- pg_cron, which lives in wallet_cron, the cluster's cron.database_name). The jobs of
-- this database are scheduled from there (test/cron/cron.sql); here the error says so.
BEGIN;
SELECT plan(5);

-- error_of runs a statement and returns its error as 'SQLSTATE message DETAIL: detail HINT: hint'.
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; detail text; hint text;
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                          hint = PG_EXCEPTION_HINT;
  RETURN st || ' ' || msg || ' DETAIL: ' || detail || ' HINT: ' || hint;
END $$;

SELECT is(current_setting('cron.database_name'), 'wallet_cron', 'fixture: pg_cron keeps its jobs in wallet_cron');
SELECT throws_ok($$ SELECT * FROM wallet.schedule_jobs() $$, '55000', 'pg_cron is not installed in this database',
                 'schedule_jobs() here fails with 55000');
SELECT matches(pg_temp.error_of('SELECT * FROM wallet.schedule_jobs()'),
               '^55000 .* DETAIL: .*"wallet_cron".* HINT: .*call wallet\.schedule_jobs\(database => ''wallet_cron_b''\) there.*',
               'its detail names pg_cron''s database and its hint the call to make there');
SELECT throws_ok($$ SELECT wallet.unschedule_jobs() $$, '55000', 'pg_cron is not installed in this database',
                 'unschedule_jobs() here fails with 55000');
SELECT matches(pg_temp.error_of('SELECT wallet.unschedule_jobs()'),
               '^55000 .* HINT: .*call wallet\.unschedule_jobs\(database => ''wallet_cron_b''\) there.*',
               'its hint names the call to make in pg_cron''s database');

SELECT * FROM finish();
ROLLBACK;
