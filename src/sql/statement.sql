------------------------------------------------------------------------------
-- Statements and status reads: what an application shows its customers (CONTRACT.md
-- section 21), through functions: wallet_app reads no table.
------------------------------------------------------------------------------
-- A wallet's statement is every journal row that changed it, found by three index-driven
-- paths, none a scan of the journal:
--   its own rows (wallet.txn.wallet_id): the index (wallet_id, txn_id) of each partition;
--   other wallets' rows that credited it, not rolled up yet: wallet.payee_credit (its key
--     leads with the wallet; their number is bounded by the roll-up's schedule);
--   other wallets' rows after their roll-up, and reversals that took back from it as a payee:
--     wallet.txn_party (wallet_id, txn_id).
-- The bucket columns are this wallet's legs of the row (account 'wallet'), debt what its
-- payee_receivable legs lent it (negated: positive when the debt grows).

CREATE FUNCTION wallet.statement(wallet_id bigint, before_txn bigint DEFAULT NULL, max_rows int DEFAULT 50,
                                 since timestamptz DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, created_at timestamptz, kind text, amount numeric, cash numeric, bonus numeric,
                 earnings numeric, held numeric, debt numeric, available_after numeric, counterparty bigint,
                 order_ref text, idempotency_key text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  wid bigint := statement.wallet_id;
  hi bigint := coalesce(statement.before_txn, 9223372036854775807);
  n int := statement.max_rows;
  -- since as a bound on created_at, which the journal is partitioned by: months before it are
  -- left out when the statement starts
  s timestamptz := coalesce(statement.since, '-infinity');
  w wallet.wallet;
  lo bigint;
  now_total bigint;
BEGIN
  IF wid IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  IF n IS NULL OR n < 1 OR n > 1000 THEN
    PERFORM wallet._fail('22023', 'max_rows must be between 1 and 1000', format('Got %s.', coalesce(n::text, 'null')));
  END IF;
  IF hi < 1 THEN
    PERFORM wallet._fail('22023', 'before_txn must be a transaction id (greater than zero)', format('Got %s.', hi));
  END IF;
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = wid;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', wid));
  END IF;
  -- the page: the n newest rows before hi (made at or after since), the n newest of each path
  SELECT min(u.txn_id) INTO lo FROM (
    SELECT v.txn_id FROM (
      (SELECT t.txn_id FROM wallet.txn t
        WHERE t.wallet_id = wid AND t.txn_id < hi AND t.created_at >= s
        ORDER BY t.txn_id DESC LIMIT n)
      UNION
      (SELECT p.txn_id FROM wallet.txn_party p
        WHERE p.wallet_id = wid AND p.txn_id < hi
          AND (statement.since IS NULL OR EXISTS (SELECT FROM wallet.txn t WHERE t.txn_id = p.txn_id AND t.created_at >= s))
        ORDER BY p.txn_id DESC LIMIT n)
      UNION
      (SELECT DISTINCT c.txn_id FROM wallet.payee_credit c
        WHERE c.wallet_id = wid AND c.txn_id < hi
          AND (statement.since IS NULL OR EXISTS (SELECT FROM wallet.txn t WHERE t.txn_id = c.txn_id AND t.created_at >= s))
        ORDER BY c.txn_id DESC LIMIT n)) v
    ORDER BY v.txn_id DESC LIMIT n) u;
  IF lo IS NULL THEN
    RETURN;
  END IF;
  -- what the journal posted to the wallet's cash, bonus and earnings in all: its lots and the
  -- credits not rolled up yet (reconcile checks that they agree)
  SELECT (b).cash + (b).bonus + (b).earnings
         + coalesce((SELECT sum(c.amount) FROM wallet.payee_credit c WHERE c.wallet_id = wid), 0)
    INTO now_total FROM (SELECT wallet.lots_books(w.lots) AS b) x;
  -- every row from lo on (the page and all newer ones), so that available_after counts back
  -- from now_total over the rows after each
  RETURN QUERY
  WITH r AS (
    SELECT t.txn_id, t.created_at, t.kind, t.amount, t.wallet_id AS writer, t.request, t.result,
           t.idempotency_key, t.postings
      FROM wallet.txn t WHERE t.wallet_id = wid AND t.txn_id >= lo
    UNION ALL
    SELECT t.txn_id, t.created_at, t.kind, t.amount, t.wallet_id, t.request, t.result, t.idempotency_key, t.postings
      FROM (SELECT p.txn_id FROM wallet.txn_party p WHERE p.wallet_id = wid AND p.txn_id >= lo
            UNION
            SELECT c.txn_id FROM wallet.payee_credit c WHERE c.wallet_id = wid AND c.txn_id >= lo) o
      JOIN wallet.txn t ON t.txn_id = o.txn_id
     WHERE t.wallet_id <> wid),
  l AS (
    SELECT r.*, g.cash AS d_cash, g.bonus AS d_bonus, g.earnings AS d_earnings, g.held AS d_held,
           g.debt AS d_debt, g.other,
           (now_total - coalesce(sum(g.cash + g.bonus + g.earnings)
                                   OVER (ORDER BY r.txn_id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           )::bigint AS avail
      FROM r CROSS JOIN LATERAL (
        -- this wallet's legs of the row: per bucket, the debt, and the other wallet the legs
        -- name when there is exactly one
        SELECT coalesce(sum(p.amount) FILTER (WHERE p.account = 'wallet' AND p.wallet_id = wid
                                                AND p.bucket = 'cash'), 0)::bigint AS cash,
               coalesce(sum(p.amount) FILTER (WHERE p.account = 'wallet' AND p.wallet_id = wid
                                                AND p.bucket = 'bonus'), 0)::bigint AS bonus,
               coalesce(sum(p.amount) FILTER (WHERE p.account = 'wallet' AND p.wallet_id = wid
                                                AND p.bucket = 'earnings'), 0)::bigint AS earnings,
               coalesce(sum(p.amount) FILTER (WHERE p.account = 'wallet' AND p.wallet_id = wid
                                                AND p.bucket = 'held'), 0)::bigint AS held,
               coalesce(-sum(p.amount) FILTER (WHERE p.account = 'payee_receivable'
                                                 AND p.wallet_id = wid), 0)::bigint AS debt,
               CASE WHEN count(DISTINCT p.wallet_id) FILTER (WHERE p.wallet_id <> wid) = 1
                    THEN min(p.wallet_id) FILTER (WHERE p.wallet_id <> wid) END AS other
          FROM unnest(r.postings) p) g)
  SELECT l.txn_id, l.created_at, l.kind,
         wallet.to_major(CASE WHEN l.writer = wid THEN l.amount
                              ELSE abs(l.d_cash + l.d_bonus + l.d_earnings + l.d_held - l.d_debt) END, w.exponent),
         wallet.to_major(l.d_cash, w.exponent), wallet.to_major(l.d_bonus, w.exponent),
         wallet.to_major(l.d_earnings, w.exponent), wallet.to_major(l.d_held, w.exponent),
         wallet.to_major(l.d_debt, w.exponent), wallet.to_major(l.avail, w.exponent),
         CASE WHEN l.writer <> wid THEN l.writer
              ELSE coalesce(l.other, (l.request->>'to_wallet')::bigint, (l.request->>'from_wallet')::bigint) END,
         coalesce(l.request->>'order_ref', l.result->>'order_ref'),
         CASE WHEN l.writer = wid THEN l.idempotency_key END
    FROM l
   WHERE l.txn_id < hi AND l.created_at >= s
   ORDER BY l.txn_id DESC
   LIMIT n;
END $$;
COMMENT ON FUNCTION wallet.statement(bigint, bigint, int, timestamptz) IS
  'a wallet''s transactions newest first, with its changes per bucket and what it had available after each; '
  'keyset pages through before_txn';

-- the row types of transaction and refund_status (a result column named as the argument)
CREATE TYPE wallet.transaction_row AS (txn_id bigint, wallet_id bigint, kind text, amount numeric, currency text,
                                       created_at timestamptz, idempotency_key text, ref_txn bigint,
                                       order_ref text, postings jsonb);
CREATE TYPE wallet.refund_row AS (refund_id bigint, amount numeric, fee numeric, net numeric,
                                  bonus_clawback numeric, bonus_void numeric, status text, wallet_id bigint,
                                  topup_txn bigint, reason text, coupon_clawback numeric, coupons_voided int,
                                  requested_at timestamptz, reviewed_at timestamptz, settled_at timestamptz,
                                  reviewer text, review_note text, gateway_ref text);

CREATE FUNCTION wallet.transaction(txn_id bigint) RETURNS SETOF wallet.transaction_row
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
BEGIN
  IF transaction.txn_id IS NULL THEN PERFORM wallet._fail('22023', 'txn_id must not be null'); END IF;
  RETURN QUERY
    SELECT t.txn_id, t.wallet_id, t.kind, wallet.to_major(t.amount, c.exponent), t.currency, t.created_at,
           t.idempotency_key, t.ref_txn, coalesce(t.request->>'order_ref', t.result->>'order_ref'),
           (SELECT coalesce(jsonb_agg(jsonb_build_object('account', p.account, 'wallet_id', p.wallet_id,
                                                         'bucket', p.bucket,
                                                         'amount', wallet.to_major(p.amount, c.exponent))
                                      ORDER BY p.o), '[]'::jsonb)
              FROM unnest(t.postings) WITH ORDINALITY AS p(account, wallet_id, bucket, amount, o))
      FROM wallet.txn t JOIN wallet.currency c ON c.code = t.currency
     WHERE t.txn_id = transaction.txn_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('transaction %s does not exist', transaction.txn_id),
                         'It was never written, or its month of the journal is archived.');
  END IF;
END $$;
COMMENT ON FUNCTION wallet.transaction(bigint) IS
  'one journal transaction with its postings (amounts in major units, signed as in wallet.postings)';

CREATE FUNCTION wallet.refund_status(refund_id bigint) RETURNS SETOF wallet.refund_row
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
BEGIN
  IF refund_status.refund_id IS NULL THEN PERFORM wallet._fail('22023', 'refund_id must not be null'); END IF;
  RETURN QUERY
    SELECT r.refund_id, wallet.to_major(r.amount, w.exponent), wallet.to_major(r.fee, w.exponent),
           wallet.to_major(r.net, w.exponent), wallet.to_major(r.clawback, w.exponent),
           wallet.to_major(r.bonus_void, w.exponent), r.status, r.wallet_id, r.topup_txn, r.reason,
           wallet.to_major(r.coupon_clawback, w.exponent), r.coupons_voided, r.requested_at, r.reviewed_at,
           r.settled_at, r.reviewer, r.review_note, r.gateway_ref
      FROM wallet.refund r JOIN wallet.wallet w ON w.wallet_id = r.wallet_id
     WHERE r.refund_id = refund_status.refund_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('refund %s does not exist', refund_status.refund_id));
  END IF;
END $$;
COMMENT ON FUNCTION wallet.refund_status(bigint) IS
  'a refund''s current row: its status after review and settlement (a replay of request_refund keeps '
  'returning what the request returned)';
