------------------------------------------------------------------------------
-- pg_cron (optional)
------------------------------------------------------------------------------
-- reconcile_job is the command of the wallet-reconcile job: it reconciles (which records the
-- run and, when anything is found, its alert), commits that, and then, when there were
-- discrepancies, logs a WARNING and fails, so that pg_cron records the run as failed. A
-- procedure, SECURITY INVOKER and without SET options (either would forbid its COMMIT):
-- hence the qualified names. CALL it outside a transaction block, as pg_cron does.
CREATE PROCEDURE wallet.reconcile_job()
  LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  run bigint;
  lines text;
BEGIN
  SELECT pg_catalog.count(*),
         pg_catalog.string_agg(pg_catalog.format('%s: wallet %s (%s) expected %s, actual %s', d.check_name,
                                                 coalesce(d.wallet_id::text, '-'), d.currency, d.expected, d.actual),
                               E'\n' ORDER BY d.n) FILTER (WHERE d.n <= 5)
    INTO n, lines
    FROM (SELECT r.*, pg_catalog.row_number() OVER () AS n FROM wallet.reconcile() r) d;
  SELECT r.run_id INTO run FROM wallet.reconciliation_run r ORDER BY r.run_id DESC LIMIT 1;
  -- the run and its alert stay, whatever follows
  COMMIT;
  IF n > 0 THEN
    IF n > 5 THEN
      lines := lines || pg_catalog.format(E'\n... and %s more', n - 5);
    END IF;
    RAISE WARNING USING
      MESSAGE = pg_catalog.format('reconciliation run %s found %s %s', run, n,
                                  CASE WHEN n = 1 THEN 'discrepancy' ELSE 'discrepancies' END),
      DETAIL = lines,
      HINT = 'See wallet.reconciliation_latest and docs/runbook.md; wallet.adjust puts a wallet right.';
    RAISE EXCEPTION USING ERRCODE = 'XX001',
      MESSAGE = pg_catalog.format('reconciliation found %s %s', n,
                                  CASE WHEN n = 1 THEN 'discrepancy' ELSE 'discrepancies' END),
      DETAIL = pg_catalog.format('Run %s is recorded in wallet.reconciliation_run, with an alert in wallet.alert.', run),
      HINT = 'See wallet.reconciliation_latest and docs/runbook.md.';
  END IF;
END $$;
COMMENT ON PROCEDURE wallet.reconcile_job() IS
  'the wallet-reconcile pg_cron job: reconciles, commits the run and its alert, then logs a WARNING and fails '
  'when there were discrepancies (so cron.job_run_details shows the run failed)';

-- _cron_check refuses to schedule without pg_cron in this database (55000, with the way to set it
-- up), or without the rights on schema cron (42501, naming the grants).
CREATE FUNCTION wallet._cron_check(fn text) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  cron_db text;
BEGIN
  IF to_regnamespace('cron') IS NULL THEN
    BEGIN
      cron_db := current_setting('cron.database_name', true);
    EXCEPTION WHEN insufficient_privilege THEN
      cron_db := NULL;   -- a superuser-only setting: the general advice below
    END;
    IF cron_db IS NOT NULL AND cron_db <> current_database() THEN
      PERFORM wallet._fail('55000', 'pg_cron is not installed in this database',
        format('pg_cron keeps its jobs in database "%s" (cron.database_name); this is "%s".', cron_db,
               current_database()),
        format('Install the wallet extension in "%s" too and call wallet.%s(database => %L) there; or call '
               'wallet.expire_bonus(), wallet.rollup_credits(), wallet.reconcile_job(), wallet.remind_expiring() '
               'and wallet.refresh_reports() from your own scheduler.', cron_db, fn, current_database()));
    END IF;
    PERFORM wallet._fail('55000', 'pg_cron is not installed in this database',
      format('wallet.%s() needs the pg_cron extension in database "%s".', fn, current_database()),
      'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart, and run '
      'CREATE EXTENSION pg_cron; or call wallet.expire_bonus(), wallet.rollup_credits(), '
      'wallet.reconcile_job(), wallet.remind_expiring() and wallet.refresh_reports() from your own scheduler.');
  END IF;
  IF NOT has_schema_privilege('cron', 'USAGE') THEN
    PERFORM wallet._fail('42501', 'permission denied for schema cron',
      format('Role "%s" may not use pg_cron''s schema.', current_user),
      format('As a superuser: GRANT USAGE ON SCHEMA cron TO %I; to schedule jobs in another database also '
             'GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO %I.',
             current_user, current_user));
  END IF;
END $$;

-- schedule_jobs schedules the wallet's pg_cron jobs of one database. A schedule left NULL keeps
-- the job's schedule when it exists, the default otherwise; the commands are always set anew
-- (so calling it after an update brings them up to date).
CREATE FUNCTION wallet.schedule_jobs(expire_schedule text DEFAULT NULL,
                                     rollup_schedule text DEFAULT NULL,
                                     reconcile_schedule text DEFAULT NULL,
                                     remind_schedule text DEFAULT NULL,
                                     report_schedule text DEFAULT NULL,
                                     cleanup_schedule text DEFAULT NULL,
                                     cron_retention interval DEFAULT NULL,
                                     database text DEFAULT NULL,
                                     partition_schedule text DEFAULT NULL)
  RETURNS TABLE (jobname text, schedule text, command text, jobid bigint, job_database text)
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  db text := coalesce(schedule_jobs.database, current_database());
  here boolean;
  j record;
  old record;
  s text;
  c text;
  id bigint;
BEGIN
  PERFORM wallet._cron_check('schedule_jobs');
  PERFORM wallet._text(schedule_jobs.database, 'database', 63);
  IF schedule_jobs.database = '' THEN
    PERFORM wallet._fail('22023', 'database must not be empty');
  END IF;
  here := db = current_database();
  IF NOT here THEN
    IF NOT EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = db) THEN
      PERFORM wallet._fail('22023', format('database "%s" does not exist', db));
    END IF;
    IF to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NULL THEN
      PERFORM wallet._fail('55000', 'this pg_cron cannot schedule jobs in another database',
        'cron.schedule_in_database is missing.', 'Update pg_cron to 1.4 or later.');
    END IF;
  END IF;
  IF cron_retention < interval '0' THEN
    PERFORM wallet._fail('22023', 'cron_retention must be a non-negative interval');
  END IF;
  -- jobs of another database carry its name; the cleanup of pg_cron's history runs here, once
  FOR j IN SELECT * FROM (VALUES
      ('wallet-expire-bonus', expire_schedule, '*/5 * * * *', 'SELECT * FROM wallet.expire_bonus()', false),
      ('wallet-rollup-credits', rollup_schedule, '* * * * *', 'SELECT wallet.rollup_credits()', false),
      ('wallet-expire-holds', NULL, '* * * * *', 'SELECT * FROM wallet.expire_holds()', false),
      ('wallet-auto-withdraw', NULL, '*/30 * * * *', 'SELECT * FROM wallet.auto_withdraw()', false),
      ('wallet-remind-idle', NULL, '13 10 * * *', 'SELECT wallet.remind_idle()', false),
      ('wallet-reconcile', reconcile_schedule, '17 3 * * *', 'CALL wallet.reconcile_job()', false),
      ('wallet-remind-expiring', remind_schedule, '7 * * * *', 'SELECT wallet.remind_expiring()', false),
      ('wallet-refresh-reports', report_schedule, '*/10 * * * *', 'SELECT wallet.refresh_reports()', false),
      ('wallet-cron-cleanup', cleanup_schedule, '43 4 * * *', NULL, true),
      ('wallet-journal-partitions', partition_schedule, '23 1 * * *',
       'SELECT wallet.add_journal_partitions(1)', false)
      ) AS v(n, s, d, c, cleanup) LOOP
    IF j.cleanup AND NOT here THEN
      CONTINUE;
    END IF;
    jobname := CASE WHEN here THEN j.n ELSE j.n || '@' || db END;
    EXECUTE 'SELECT x.schedule, x.command FROM cron.job x WHERE x.jobname = $1 AND x.username = current_user'
      INTO old USING jobname;
    s := coalesce(j.s, old.schedule, j.d);
    c := CASE WHEN NOT j.cleanup THEN j.c
              WHEN cron_retention IS NULL AND old.command IS NOT NULL THEN old.command
              ELSE format('DELETE FROM cron.job_run_details WHERE end_time < now() - %L::interval',
                          coalesce(cron_retention, interval '14 days')::text) END;
    IF here THEN
      EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO id USING jobname, s, c;
    ELSE
      EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)' INTO id USING jobname, s, c, db;
    END IF;
    schedule := s; command := c; jobid := id; job_database := db;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION wallet.schedule_jobs(text, text, text, text, text, text, interval, text, text) IS
  'schedules (or reschedules, by name: never duplicates) the wallet''s pg_cron jobs: wallet-expire-bonus '
  '(expire_bonus), wallet-rollup-credits (rollup_credits), wallet-expire-holds (expire_holds, every minute: '
  'reschedule it with cron.alter_job), wallet-auto-withdraw (auto_withdraw, every 30 minutes: each wallet '
  'withdraws automatically once a day at most), wallet-remind-idle (remind_idle, daily), wallet-reconcile (reconcile_job: fails when it finds '
  'discrepancies), wallet-remind-expiring (remind_expiring), wallet-refresh-reports (refresh_reports) and '
  'wallet-cron-cleanup (deletes cron.job_run_details rows that ended more than cron_retention ago) and '
  'wallet-journal-partitions (add_journal_partitions: this month''s and the next month''s journal partitions '
  'exist before a row needs them, so the default partition stays empty). A schedule '
  'left NULL keeps the job''s current schedule, or takes the default for a new job. database: the wallet database '
  'the jobs run in (default: this one, pg_cron''s); jobs of another database are named <job>@<database> and '
  'scheduled with cron.schedule_in_database. pg_cron runs every job as the user who called schedule_jobs '
  '(current_user), so call it as the login that should run them: a member of wallet_admin with USAGE on schema '
  'cron (and EXECUTE on cron.schedule_in_database for another database); the wallet functions are SECURITY '
  'DEFINER and act as the extension owner; the cleanup deletes as that user, which pg_cron limits to its own run '
  'details unless it is a superuser';

CREATE FUNCTION wallet.unschedule_jobs(database text DEFAULT NULL) RETURNS int
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  db text := coalesce(unschedule_jobs.database, current_database());
  n int := 0;
  j record;
BEGIN
  PERFORM wallet._cron_check('unschedule_jobs');
  FOR j IN EXECUTE 'SELECT x.jobid FROM cron.job x WHERE x.jobname LIKE ''wallet-%'' AND x.username = current_user '
                   'AND x.database = $1' USING db LOOP
    EXECUTE 'SELECT cron.unschedule($1)' USING j.jobid;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;
COMMENT ON FUNCTION wallet.unschedule_jobs(text) IS
  'removes the current user''s wallet-* pg_cron jobs that run in database (default: this one); returns how many';

