------------------------------------------------------------------------------
-- Expiry and payee roll-up sweeps
------------------------------------------------------------------------------
-- _journal_expired appends the journal rows of a sweep batch at the end of the journal (by a
-- statement where a direct append would bypass something: a trigger, say); it returns true.
CREATE FUNCTION wallet._journal_expired(wallet_ids bigint[], currencies text[], amounts bigint[],
                                        lots int[], at timestamptz) RETURNS boolean
  AS 'MODULE_PATHNAME', 'wallet_journal_expired' LANGUAGE C VOLATILE;

CREATE FUNCTION wallet.expire_bonus(batch_size int DEFAULT 10000)
  RETURNS TABLE (wallets int, lots int)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp
  -- the batch's rows are written back through the primary key: a hash or merge join would read
  -- the whole wallet table for every batch (a batch of 10,000 of 200,000 wallets: 245 ms with
  -- the hash join the planner picks, 141 ms through the key)
  SET enable_hashjoin = off SET enable_mergejoin = off AS $$
#variable_conflict use_column
DECLARE
  clk timestamptz := wallet.clock();
  ids bigint[];
  curs text[];
  amts bigint[];
  nlots int[];
  n_wallets int;
  n_lots int;
BEGIN
  PERFORM wallet._refuse_rules();   -- a rule on a table it writes: refused, as by every operation
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    PERFORM wallet._fail('22023', 'batch_size must be between 1 and 1000000');
  END IF;
  -- A sweep rewrites wallets spread over the whole table: most of its WAL is full-page images
  -- (about 8 kB a wallet after a checkpoint), and every concurrent commit waits for that WAL to
  -- reach the disk. Compressed with lz4 it is under a third, at no cost in time (pglz would
  -- double the time): the sweep compresses its own WAL when the server has lz4 and the owner
  -- may set wal_compression (the setting ends with this function).
  IF pg_catalog.current_setting('wal_compression') = 'off'
     AND pg_catalog.has_parameter_privilege('wal_compression', 'SET')
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_settings
                  WHERE name = 'wal_compression' AND 'lz4' = ANY (enumvals)) THEN
    PERFORM pg_catalog.set_config('wal_compression', 'lz4', true);
  END IF;
  -- One statement per batch: lock the due wallets nobody else holds, expire their lots in C and
  -- write every row back (its next expiry moves on even when nothing was left to expire); it
  -- hands over the wallets that lost bonus, in wallet order.
  WITH l AS MATERIALIZED (
    SELECT x.wallet_id, x.currency, x.lots FROM wallet.wallet x
     WHERE x.next_expiry <= clk
     ORDER BY x.next_expiry LIMIT batch_size
       FOR UPDATE SKIP LOCKED),
  s AS MATERIALIZED (
    SELECT l.wallet_id, l.currency, e.lots AS ls, e.expired, e.lots_expired
      FROM l CROSS JOIN LATERAL wallet.lots_expire(l.lots, clk) e),
  u AS (
    UPDATE wallet.wallet w
       SET lots = s.ls, next_expiry = (wallet.lots_totals(s.ls, NULL, clk)).next_expiry,
           version = w.version + 1
      FROM s WHERE w.wallet_id = s.wallet_id)
  SELECT array_agg(s.wallet_id ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),
         array_agg(s.currency ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),
         array_agg(s.expired ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),
         array_agg(s.lots_expired ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),
         (count(*) FILTER (WHERE s.expired > 0))::int, coalesce(sum(s.lots_expired), 0)::int
    INTO ids, curs, amts, nlots, n_wallets, n_lots FROM s;
  -- One expire_bonus transaction per wallet that lost bonus, appended at the journal's end, its
  -- legs by the account rules (post_expiry).
  IF ids IS NOT NULL THEN
    PERFORM wallet._journal_expired(ids, curs, amts, nlots, clk);
  END IF;
  RETURN QUERY SELECT n_wallets, n_lots;
END $$;

-- expire_bonus_all sweeps every due wallet, batch after batch, each batch its own transaction,
-- pausing between batches so that it works at most `duty` of the time (1 = no pause): like
-- autovacuum's cost delay, a background sweep must not crowd out the customers' operations.
-- A procedure (it commits), SECURITY INVOKER: each batch is wallet.expire_bonus(), with its
-- privileges; a procedure with SET options could not commit, hence the qualified names.
CREATE PROCEDURE wallet.expire_bonus_all(batch_size int DEFAULT 1000, duty numeric DEFAULT 0.1,
                                         INOUT wallets bigint DEFAULT 0, INOUT lots bigint DEFAULT 0)
  LANGUAGE plpgsql AS $$
DECLARE
  r record;
  t0 timestamptz;
BEGIN
  IF duty IS NULL OR duty <= 0 OR duty > 1 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'duty must be greater than 0 and at most 1';
  END IF;
  wallets := 0;
  lots := 0;
  LOOP
    t0 := pg_catalog.clock_timestamp();
    SELECT * INTO r FROM wallet.expire_bonus(batch_size);
    COMMIT;
    wallets := wallets + r.wallets;
    lots := lots + r.lots;
    EXIT WHEN r.lots = 0;
    IF duty < 1 THEN
      PERFORM pg_catalog.pg_sleep(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - t0)
                                  * (1 - duty) / duty);
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION wallet.rollup_credits(batch_size int DEFAULT 10000) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  clk timestamptz := wallet.clock();
  w record;
  n int := 0;
BEGIN
  PERFORM wallet._refuse_rules();   -- a rule on a table it writes: refused, as by every operation
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    PERFORM wallet._fail('22023', 'batch_size must be between 1 and 1000000');
  END IF;
  FOR w IN SELECT x.wallet_id, x.lots FROM wallet.wallet x
            WHERE x.wallet_id IN (SELECT DISTINCT c.wallet_id FROM wallet.payee_credit c LIMIT batch_size)
            FOR UPDATE SKIP LOCKED LOOP
    PERFORM wallet._save(w.wallet_id, wallet._rollup(w.wallet_id, w.lots, clk));
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

CREATE VIEW wallet.expiring_bonus AS
  SELECT w.wallet_id, w.owner, w.currency, l.lot_id, wallet.to_major(l.amount, w.exponent) AS amount,
         l.until AS expires_at, l.scope, l.source_txn
    FROM wallet.wallet w
    LEFT JOIN wallet.policy p ON p.currency = w.currency
   CROSS JOIN LATERAL wallet.lots_list(w.lots) l
   WHERE w.next_expiry IS NOT NULL
     AND w.next_expiry <= wallet.clock() + coalesce(p.remind_before, interval '3 days')
     AND l.bucket = 'bonus' AND l.amount > 0
     AND l.until > wallet.clock() AND l.until <= wallet.clock() + coalesce(p.remind_before, interval '3 days');
COMMENT ON VIEW wallet.expiring_bonus IS 'live bonus lots expiring within their currency''s remind_before, for reminders';

