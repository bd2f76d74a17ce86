------------------------------------------------------------------------------
-- Archival: monthly journal partitions, detached once the checkpoint covers them
------------------------------------------------------------------------------
-- wallet.txn is partitioned by month of created_at in UTC (partition wallet.txn_YYYY_MM,
-- [first of the month, first of the next) in UTC); rows of a month without a partition
-- wait in wallet.txn_default.

-- _journal_partition_ddl (C) runs one statement on a month's partition: create, attach,
-- detach or lock; the statement is built from the month alone.
CREATE FUNCTION wallet._journal_partition_ddl(action text, month date) RETURNS void
  AS 'MODULE_PATHNAME', 'wallet_journal_partition_ddl' LANGUAGE C VOLATILE;

-- _journal_partition returns the partition of the month of m, creating it when missing;
-- rows of that month waiting in the default partition are moved into it.
CREATE FUNCTION wallet._journal_partition(m date) RETURNS regclass
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  first date := date_trunc('month', m)::date;
  lo timestamptz := first::timestamp AT TIME ZONE 'UTC';
  hi timestamptz := (first + interval '1 month')::timestamp AT TIME ZONE 'UTC';
  name text := 'txn_' || to_char(first, 'YYYY_MM');
  part regclass;
  role text;
  moved bigint;
BEGIN
  IF m IS NULL THEN PERFORM wallet._fail('22023', 'month must not be null'); END IF;
  SELECT i.inhrelid::regclass INTO part
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = 'wallet.txn'::regclass AND c.relname = name;
  IF part IS NOT NULL THEN RETURN part; END IF;
  IF to_regclass(format('wallet.%I', name)) IS NOT NULL THEN
    PERFORM wallet._fail('55000', format('table wallet.%s exists and is not a partition of the journal', name),
      'It is the detached partition of an archived month (see wallet.journal_archive).',
      'Dump and drop it before rows of that month can get a partition again.');
  END IF;
  -- no journal row is written while the month's rows move out of the default partition
  LOCK TABLE wallet.txn IN SHARE ROW EXCLUSIVE MODE;
  CREATE TEMP TABLE wallet_journal_move ON COMMIT DROP AS
    SELECT * FROM wallet.txn_default t WHERE t.created_at >= lo AND t.created_at < hi;
  GET DIAGNOSTICS moved = ROW_COUNT;
  IF moved > 0 THEN
    -- a move, not a deletion: the append-only trigger is left out of it
    role := current_setting('session_replication_role');
    PERFORM set_config('session_replication_role', 'replica', true);
    DELETE FROM wallet.txn_default t WHERE t.created_at >= lo AND t.created_at < hi;
    PERFORM set_config('session_replication_role', role, true);
  END IF;
  PERFORM wallet._journal_partition_ddl('create', first);
  PERFORM wallet._journal_partition_ddl('attach', first);
  INSERT INTO wallet.txn SELECT * FROM pg_temp.wallet_journal_move;
  DROP TABLE pg_temp.wallet_journal_move;
  RETURN format('wallet.%I', name)::regclass;
END $$;

CREATE FUNCTION wallet.add_journal_partitions(months_ahead int DEFAULT 1) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  this date := date_trunc('month', wallet.clock() AT TIME ZONE 'UTC')::date;
  m date;
  n int := 0;
BEGIN
  IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
    PERFORM wallet._fail('22023', 'months_ahead must be between 0 and 120');
  END IF;
  FOR m IN SELECT (this + g * interval '1 month')::date FROM generate_series(0, months_ahead) g LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'wallet.txn'::regclass AND c.relname = 'txn_' || to_char(m, 'YYYY_MM')) THEN
      PERFORM wallet._journal_partition(m);
      n := n + 1;
    END IF;
  END LOOP;
  RETURN n;
END $$;
COMMENT ON FUNCTION wallet.add_journal_partitions(int) IS
  'creates the journal partitions (wallet.txn_YYYY_MM, months in UTC) of the wallet clock''s month and the '
  'months_ahead next ones where missing, moving rows of those months out of wallet.txn_default; returns how '
  'many it created. Run it monthly (e.g. from pg_cron) so that new rows never wait in the default partition';

CREATE FUNCTION wallet.archive_journal(before date)
  RETURNS TABLE (month date, table_name text, rows bigint, first_txn bigint, last_txn bigint)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  clk timestamptz := wallet.clock();
  upto timestamptz;
  lo timestamptz;
  hi timestamptz;
  keep interval;
  wm bigint;
  m date;
  part regclass;
  sums wallet.journal_sum[];
  n bigint;
  t1 bigint;
  t2 bigint;
  bad text;
BEGIN
  IF before IS NULL THEN PERFORM wallet._fail('22023', 'before must not be null'); END IF;
  upto := before::timestamp AT TIME ZONE 'UTC';
  -- one archival at a time
  LOCK TABLE wallet.journal_archive IN EXCLUSIVE MODE;
  -- a month is kept while a top-up of it may still be refunded (the longest refund window)
  SELECT greatest(interval '30 days', max(p.refund_window)) INTO keep FROM wallet.policy p;
  IF upto > clk - keep THEN
    PERFORM wallet._fail('55000', format('cannot archive the journal before %s', before),
      format('Months are archived once the longest refund window (%s) has passed since they ended: '
             'at the wallet clock %s, months before %s.', keep, clk,
             date_trunc('month', (clk - keep) AT TIME ZONE 'UTC')::date));
  END IF;
  SELECT s.last_txn_id INTO wm FROM wallet.rollup_state s;

  -- rows of these months waiting in the default partition get their month's partition first
  FOR m IN SELECT DISTINCT date_trunc('month', t.created_at AT TIME ZONE 'UTC')::date
             FROM wallet.txn_default t WHERE t.created_at < upto ORDER BY 1 LOOP
    PERFORM wallet._journal_partition(m);
  END LOOP;

  FOR m, part IN
    SELECT to_date(substr(c.relname, 5), 'YYYY_MM'), i.inhrelid::regclass
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'wallet.txn'::regclass AND c.relname ~ '^txn_[0-9]{4}_[0-9]{2}$'
       AND (to_date(substr(c.relname, 5), 'YYYY_MM') + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= upto
     ORDER BY 1 LOOP
    lo := m::timestamp AT TIME ZONE 'UTC';
    hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    -- no row is added to the month while it is summed and detached
    PERFORM wallet._journal_partition_ddl('lock', m);
    SELECT count(*), min(t.txn_id), max(t.txn_id), wallet._journal_sums(t.txn_id, t.wallet_id, t.currency, t.postings)
      INTO n, t1, t2, sums
      FROM wallet.txn t WHERE t.created_at >= lo AND t.created_at < hi;
    SELECT string_agg(s.txn_id::text, ', ' ORDER BY s.txn_id) INTO bad
      FROM unnest(sums) s WHERE s.txn_id IS NOT NULL;
    IF bad IS NOT NULL THEN
      PERFORM wallet._fail('55000', format('cannot archive %s: transactions whose postings do not sum to zero', m),
        format('Transactions %s.', bad), 'Run wallet.reconcile() and resolve its findings first.');
    END IF;
    IF n > 0 AND (t2 > wm OR EXISTS (SELECT 1 FROM wallet.rollup_gap g WHERE g.lo <= t2 AND g.hi >= t1)) THEN
      PERFORM wallet._fail('55000', format('cannot archive %s: transactions not rolled up into the reports yet', m),
        format('Transactions %s to %s; the reports are rolled up to %s.', t1, t2, wm),
        'Run wallet.refresh_reports() first.');
    END IF;
    -- the refund window each top-up recorded (a policy may have been shortened since)
    SELECT max((t.result->>'refundable_until')::timestamptz)::text INTO bad
      FROM wallet.txn t WHERE t.kind = 'top_up' AND t.created_at >= lo AND t.created_at < hi;
    IF bad::timestamptz > clk THEN
      PERFORM wallet._fail('55000', format('cannot archive %s: its top-ups may still be refunded', m),
        format('A top-up of it is refundable until %s.', bad));
    END IF;
    SELECT string_agg(r.refund_id::text, ', ' ORDER BY r.refund_id) INTO bad
      FROM wallet.refund r
     WHERE r.status IN ('pending', 'approved')
       AND EXISTS (SELECT 1 FROM wallet.txn t WHERE t.txn_id IN (r.topup_txn, r.request_txn)
                      AND t.created_at >= lo AND t.created_at < hi);
    IF bad IS NOT NULL THEN
      PERFORM wallet._fail('55000', format('cannot archive %s: it holds transactions of open refunds', m),
        format('Refunds %s are pending or approved.', bad), 'Review and settle them first.');
    END IF;
    INSERT INTO wallet.journal_checkpoint AS c (currency, account, wallet_id, bucket, amount)
    SELECT s.currency, s.account, s.wallet_id, s.bucket, s.amount FROM unnest(sums) s WHERE s.txn_id IS NULL
    ON CONFLICT ON CONSTRAINT journal_checkpoint_key DO UPDATE SET amount = c.amount + EXCLUDED.amount;
    PERFORM wallet._journal_partition_ddl('detach', m);
    INSERT INTO wallet.journal_archive (month, table_name, rows, first_txn, last_txn, archived_at, archived_by)
    VALUES (m, part::text, n, t1, t2, clk, session_user);
    month := m; table_name := part::text; rows := n; first_txn := t1; last_txn := t2;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION wallet.archive_journal(date) IS
  'detaches the journal partitions of the months that ended by before (UTC) after adding their postings to '
  'wallet.journal_checkpoint, so that wallet.reconcile() stays exact without them; the detached tables stay in '
  'schema wallet (listed in wallet.journal_archive) for the DBA to dump and drop. Refuses months a refund '
  'window may still need, months with unbalanced transactions, not rolled up into the reports, or holding '
  'transactions of open refunds. Returns one row per month archived';

