------------------------------------------------------------------------------
-- Expiry and payee roll-up sweeps
------------------------------------------------------------------------------
-- _journal_expired appends the journal rows of a sweep batch at the end of the journal (by a
-- statement where a direct append would bypass something: a trigger, say); it returns true.
CREATE FUNCTION wallet._journal_expired(wallet_ids bigint[], currencies text[], amounts bigint[],
                                        lots int[], at timestamptz) RETURNS boolean
  AS 'MODULE_PATHNAME', 'wallet_journal_expired' LANGUAGE C VOLATILE;

-- expire_bonus is C (src/ops/expire.c): one batch, one statement (lock the due wallets nobody
-- else holds, expire their lots, write them back) and the journal rows of the wallets that lost
-- bonus. Its writes go back through the primary key (no hash or merge join over the whole wallet
-- table), and it compresses its own WAL with lz4 where the owner may (a sweep's WAL is mostly
-- full-page images, and every concurrent commit waits for it).
CREATE FUNCTION wallet.expire_bonus(batch_size int DEFAULT 10000)
  RETURNS TABLE (wallets int, lots int)
  AS 'MODULE_PATHNAME', 'wallet_expire_bonus'
  LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp
  SET enable_hashjoin = off SET enable_mergejoin = off;

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

