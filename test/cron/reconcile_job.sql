-- reconcile_job.sql: the wallet-reconcile job as pg_cron runs it (CONTRACT.md section 22):
-- a reconcile that finds discrepancies ends `failed` in cron.job_run_details, after the run
-- and its alert are recorded, with a WARNING in the server log; a clean one `succeeded`.
--
-- Unlike cron.sql, this file commits (pg_cron's launcher only sees committed jobs) and
-- waits for a real run: the jobs run every minute, so the wait is at most about a minute
-- (bounded at 70 s). Everything it commits is undone at the end: the jobs unscheduled, the
-- damaged wallet repaired. Two jobs run in the same minute: this database's, which finds a
-- wallet damaged by hand, and the one of wallet_cron_b (a second wallet database, scheduled
-- with cron.schedule_in_database), where the books hold.
SELECT plan(12);

-- fixture: dave's wallet loses 25 of cash behind the API (a superuser's UPDATE)
SELECT wallet.open('cron-job-dave') AS dave \gset
SELECT txn_id AS dave_topup FROM wallet.top_up(:dave, 100, 'cron-job-1') \gset
UPDATE wallet.wallet SET lots = (wallet.lots_take(lots, 'cash', 2500, wallet.clock())).lots WHERE wallet_id = :dave;
SELECT results_eq(format($$ SELECT check_name FROM wallet._discrepancies() WHERE wallet_id = %s $$, :dave),
                  $$ VALUES ('wallet_bucket_cash'::text) $$,
                  'fixture: the books no longer hold for dave (wallet_bucket_cash)');
SELECT coalesce(max(run_id), 0) AS run0 FROM wallet.reconciliation_run \gset
SELECT coalesce(max(runid), 0) AS cron_run0 FROM cron.job_run_details \gset

-- both reconcile jobs every minute; the other jobs keep their default schedules
SELECT jobid AS job_here FROM wallet.schedule_jobs(reconcile_schedule => '* * * * *')
 WHERE jobname = 'wallet-reconcile' \gset
SELECT jobid AS job_b FROM wallet.schedule_jobs(database => 'wallet_cron_b', reconcile_schedule => '* * * * *')
 WHERE jobname = 'wallet-reconcile@wallet_cron_b' \gset

-- wait_runs waits (at most `most`) until each job has a finished run after cron_run0
CREATE FUNCTION pg_temp.wait_runs(jobs bigint[], after bigint, most interval) RETURNS boolean
  LANGUAGE plpgsql AS $$
DECLARE
  until timestamptz := clock_timestamp() + most;
BEGIN
  LOOP
    IF (SELECT count(DISTINCT d.jobid) FROM cron.job_run_details d
         WHERE d.jobid = ANY (jobs) AND d.runid > after AND d.status IN ('succeeded', 'failed'))
       = cardinality(jobs) THEN
      RETURN true;
    END IF;
    IF clock_timestamp() > until THEN
      RETURN false;
    END IF;
    PERFORM pg_sleep(0.5);
  END LOOP;
END $$;
SELECT ok(pg_temp.wait_runs(ARRAY[:job_here, :job_b]::bigint[], :cron_run0, '70 seconds'),
          'pg_cron ran both reconcile jobs within 70 seconds');

-- this database: the job failed, after recording the run and its alert
SELECT results_eq(format($$ SELECT status, split_part(return_message, E'\n', 1) FROM cron.job_run_details
                             WHERE jobid = %s AND runid > %s ORDER BY runid LIMIT 1 $$, :job_here, :cron_run0),
                  $$ VALUES ('failed'::text, 'ERROR:  reconciliation found 1 discrepancy'::text) $$,
                  'the wallet-reconcile job ended failed: reconciliation found 1 discrepancy');
SELECT run_id AS job_run FROM wallet.reconciliation_run WHERE run_id > :run0 ORDER BY run_id LIMIT 1 \gset
SELECT results_eq(format($$ SELECT discrepancies, details->0->>'check_name', (details->0->>'wallet_id')::bigint
                              FROM wallet.reconciliation_run WHERE run_id = %s $$, :'job_run'),
                  format($$ VALUES (1, 'wallet_bucket_cash'::text, %s::bigint) $$, :dave),
                  'the failed job''s reconciliation run is recorded: one discrepancy, dave''s cash');
SELECT results_eq(format($$ SELECT kind, (detail->>'discrepancies')::int FROM wallet.alert WHERE run_id = %s $$, :'job_run'),
                  $$ VALUES ('reconciliation'::text, 1) $$,
                  'and its alert');
-- the server log (next to the data directory: $WALLET_PG_TMP/log) has the WARNING
SELECT ok(position(format('WARNING:  reconciliation run %s found 1 discrepancy', :'job_run')
                   IN pg_read_file(current_setting('data_directory') || '/../log')) > 0,
          'the server log has the WARNING naming the run');
SELECT ok(position(format('DETAIL:  wallet_bucket_cash: wallet %s (CNY) expected 100.00, actual 75.00', :dave)
                   IN pg_read_file(current_setting('data_directory') || '/../log')) > 0,
          'with the discrepancy in its detail');

-- wallet_cron_b: its job ran there and succeeded (nothing to find)
SELECT results_eq(format($$ SELECT status, database FROM cron.job_run_details
                             WHERE jobid = %s AND runid > %s ORDER BY runid LIMIT 1 $$, :job_b, :cron_run0),
                  $$ VALUES ('succeeded'::text, 'wallet_cron_b'::text) $$,
                  'the wallet-reconcile@wallet_cron_b job ran in wallet_cron_b and succeeded');

-- undo: no job left, dave repaired, the books hold
SELECT is(wallet.unschedule_jobs('wallet_cron_b'), 9, 'cleanup: wallet_cron_b''s jobs unscheduled');
SELECT is(wallet.unschedule_jobs(), 10, 'cleanup: this database''s jobs unscheduled');
SELECT is((SELECT replayed FROM wallet.adjust(:dave, 'cash', 25, 'lots lost 25 to a manual UPDATE', 'cron-job-fix',
                                              repair => 'lots')), false, 'cleanup: dave repaired with adjust');
SELECT is_empty($$ SELECT * FROM wallet.reconcile() $$, 'the books hold again');

SELECT * FROM finish();
