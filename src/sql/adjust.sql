------------------------------------------------------------------------------
-- Repair: adjustments
------------------------------------------------------------------------------
-- adjust is the journaled, audited correction of one bucket of a wallet: a signed amount
-- into cash, bonus or earnings, posted against the system account adjustment. A credit is
-- a new lot: cash without a refund window (not a top-up: request_refund never pays it
-- out), bonus without expiry nor scope, earnings; a debit takes from that bucket's live
-- lots in spending order (bonus of any scope) and never below zero (WL001). A correction
-- is the platform's, so a frozen wallet is adjusted too. repair (see docs/runbook.md) is
-- for a wallet whose stored lots and journal disagree (reconcile's wallet_bucket_*):
-- 'lots' changes the lots only and journals the repair without postings (the journal was
-- right); 'journal' posts the amount without touching the lots (the lots were right).
CREATE FUNCTION wallet.adjust(wallet_id bigint, bucket text, amount numeric, reason text,
                              idempotency_key text, repair text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, replayed boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  k text := wallet._key(adjust.idempotency_key);
  w wallet.wallet;
  clk timestamptz := wallet.clock();
  x bigint;
  req jsonb;
  prior jsonb;
  tid bigint;
  ls wallet.lotset;
  tk record;
  legs wallet.posting[] := '{}';
BEGIN
  PERFORM wallet._text(adjust.bucket, 'bucket', 8, true);
  IF adjust.bucket NOT IN ('cash', 'bonus', 'earnings') THEN
    PERFORM wallet._fail('22023', 'bucket must be cash, bonus or earnings', format('Got "%s".', adjust.bucket));
  END IF;
  PERFORM wallet._text(adjust.reason, 'reason', 1000, true);
  IF adjust.repair IS NOT NULL AND adjust.repair NOT IN ('lots', 'journal') THEN
    PERFORM wallet._fail('22023', 'repair must be NULL, lots or journal', format('Got "%s".', adjust.repair),
      'NULL corrects the lots and the journal together; see the runbook for the other two.');
  END IF;
  w := wallet._lock(adjust.wallet_id);
  IF adjust.amount = 0 THEN
    PERFORM wallet._fail('22023', 'amount must not be zero',
      hint => 'A positive amount credits the bucket, a negative one debits it.');
  END IF;
  -- checked as every amount (NULL, NaN, decimals, size), then signed
  x := wallet.to_minor(abs(adjust.amount), w.exponent, 'amount');
  IF adjust.amount < 0 THEN x := -x; END IF;
  req := jsonb_build_object('bucket', adjust.bucket, 'amount', x, 'reason', adjust.reason,
                            'repair', adjust.repair);
  prior := wallet._replay(w.wallet_id, k, 'adjust', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, true;
    RETURN;
  END IF;

  tid := nextval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
  IF adjust.repair IS DISTINCT FROM 'journal' THEN
    ls := CASE WHEN adjust.bucket = 'earnings' THEN wallet._rollup(w.wallet_id, w.lots, clk) ELSE w.lots END;
    IF x > 0 AND adjust.bucket = 'earnings' AND adjust.repair IS NULL THEN
      -- a credit of earnings repays the wallet's debt first, as every credit does
      ls := wallet._credit(w.wallet_id, ls, x, tid, clk);
    ELSIF x > 0 THEN
      ls := wallet.lots_add(ls, adjust.bucket, x, tid, clk, NULL, NULL);
    ELSE
      tk := wallet.lots_take(ls, adjust.bucket, -x, clk, true);
      IF tk.taken < -x THEN
        PERFORM wallet._fail('WL001', 'insufficient funds',
          format('Wallet %s has %s of %s; the adjustment takes %s.', w.wallet_id,
                 wallet.to_major(tk.taken, w.exponent), adjust.bucket, wallet.to_major(-x, w.exponent)),
          'An adjustment never takes a bucket below zero.');
      END IF;
      ls := tk.lots;
    END IF;
    PERFORM wallet._save(w.wallet_id, ls);
  END IF;
  IF adjust.repair IS DISTINCT FROM 'lots' THEN
    legs := wallet._legs(ROW('wallet', w.wallet_id, adjust.bucket, x)::wallet.posting,
                         ROW('adjustment', NULL, NULL, -x)::wallet.posting);
  END IF;
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key,
                          request, result, postings)
  VALUES (tid, w.wallet_id, 'adjust', x, w.currency, clk, k, req,
          jsonb_build_object('txn_id', tid, 'by', session_user), legs);
  INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, tid, clk);
  INSERT INTO wallet.audit (at, actor, action, object, old, new)
  VALUES (clk, session_user, 'adjust', 'wallet:' || w.wallet_id, NULL, req || jsonb_build_object('txn_id', tid));
  RETURN QUERY SELECT tid, false;
END $$;
COMMENT ON FUNCTION wallet.adjust(bigint, text, numeric, text, text, text) IS
  'the journaled, audited correction of a wallet''s cash, bonus or earnings by a signed amount, against the '
  'system account adjustment; never below zero (WL001); see docs/runbook.md';

