------------------------------------------------------------------------------
-- Spending
------------------------------------------------------------------------------
-- spend is C (src/ops.c): bonus first, then cash, then earnings; payee
-- credits go to wallet.payee_credit so a popular payee's row is never hot.
CREATE TYPE wallet.spend_result AS (txn_id bigint, charged numeric, discount numeric,
                                    bonus_used numeric, cash_used numeric, earnings_used numeric,
                                    shortfall numeric, replayed boolean);
COMMENT ON TYPE wallet.spend_result IS 'the row wallet.spend returns';
CREATE FUNCTION wallet.spend(wallet_id bigint, amount numeric, idempotency_key text,
                             scene text DEFAULT NULL, coupon text DEFAULT NULL,
                             allow_partial boolean DEFAULT false, payee bigint DEFAULT NULL,
                             order_ref text DEFAULT NULL)
  RETURNS wallet.spend_result
  AS 'MODULE_PATHNAME', 'wallet_spend'
  LANGUAGE C VOLATILE SECURITY DEFINER;

-- _add_debt adds amt (minor units) to a locked payee's debt: what a reversal (transaction
-- txn) took back beyond the payee's earnings. A debt that grows past the currency's
-- policy.payee_debt_flag gets the payee a risk flag (kind payee_debt), once per crossing.
CREATE FUNCTION wallet._add_debt(wid bigint, amt bigint, txn bigint, clk timestamptz) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  w wallet.wallet;
  lim numeric;
BEGIN
  UPDATE wallet.wallet x SET debt = x.debt + amt WHERE x.wallet_id = wid RETURNING x.* INTO w;
  lim := (wallet._policy(w.currency)).payee_debt_flag * (10::numeric ^ w.exponent);
  IF lim IS NOT NULL AND w.debt > lim AND w.debt - amt <= lim THEN
    INSERT INTO wallet.risk_flag (wallet_id, kind, detail, created_at)
    VALUES (wid, 'payee_debt',
            format('debt %s above %s after reversal %s', wallet.to_major(w.debt, w.exponent),
                   (wallet._policy(w.currency)).payee_debt_flag, txn), clk);
  END IF;
END $$;

CREATE FUNCTION wallet.reverse_spend(spend_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, bonus_returned numeric, cash_returned numeric, earnings_returned numeric,
                 replayed boolean, bonus_written_off numeric, bonus_to_cash numeric, coupon_restored boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  k text := wallet._key(reverse_spend.idempotency_key);
  sp wallet.txn;
  w wallet.wallet;
  pw wallet.wallet;
  payee_id bigint;
  clk timestamptz := wallet.clock();
  req jsonb;
  prior jsonb;
  x bigint;
  charged bigint;
  done bigint;
  remaining wallet.lotset;
  prev record;
  portion wallet.lotset;
  share record;
  r record;
  payee_total bigint;
  payee_done bigint;
  payee_back bigint := 0;
  payee_taken bigint := 0;
  payee_owed bigint := 0;
  tk record;
  tid bigint;
  legs wallet.posting[];
  res jsonb;
  discount bigint;
  restored boolean := false;
  blocked bigint;
  clawed record;
  coupon_cash bigint := 0;
BEGIN
  IF reverse_spend.spend_txn_id IS NULL THEN
    PERFORM wallet._fail('22023', 'spend_txn_id must not be null');
  END IF;
  SELECT * INTO sp FROM wallet.txn t WHERE t.txn_id = reverse_spend.spend_txn_id AND t.kind = 'spend';
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('spend %s does not exist', reverse_spend.spend_txn_id));
  END IF;
  payee_id := (sp.result->>'payee')::bigint;
  -- lock both wallets in wallet-id order
  IF payee_id IS NOT NULL AND payee_id < sp.wallet_id THEN
    pw := wallet._lock(payee_id);
  END IF;
  w := wallet._lock(sp.wallet_id);
  IF payee_id IS NOT NULL AND payee_id > sp.wallet_id THEN
    pw := wallet._lock(payee_id);
  END IF;

  IF reverse_spend.amount IS NOT NULL THEN
    x := wallet.to_minor(reverse_spend.amount, w.exponent, 'amount');
  END IF;
  req := jsonb_build_object('spend_txn_id', sp.txn_id, 'amount', x);
  prior := wallet._replay(w.wallet_id, k, 'reverse_spend', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint,
      wallet.to_major((prior->>'bonus_returned')::bigint, w.exponent),
      wallet.to_major((prior->>'cash_returned')::bigint, w.exponent),
      wallet.to_major((prior->>'earnings_returned')::bigint, w.exponent), true,
      wallet.to_major((prior->>'bonus_written_off')::bigint, w.exponent),
      wallet.to_major((prior->>'bonus_to_cash')::bigint, w.exponent),
      coalesce((prior->>'coupon_restored')::boolean, false);
    RETURN;
  END IF;

  charged := (sp.result->>'charged')::bigint;
  remaining := sp.pieces;
  done := 0;
  payee_done := 0;
  FOR prev IN SELECT t.amount, t.pieces, t.result FROM wallet.txn t
               WHERE t.ref_txn = sp.txn_id AND t.kind = 'reverse_spend' ORDER BY t.txn_id LOOP
    done := done + prev.amount;
    payee_done := payee_done + coalesce((prev.result->>'payee_back')::bigint, 0);
    remaining := wallet.lots_minus(remaining, prev.pieces);
  END LOOP;
  discount := coalesce((sp.result->>'discount')::bigint, 0);
  IF x IS NULL THEN
    x := charged - done;
    -- a spend a coupon paid in full charged nothing, yet reversing it gives the coupon back
    IF x <= 0 AND NOT (discount > 0 AND NOT EXISTS (
        SELECT 1 FROM wallet.txn t WHERE t.ref_txn = sp.txn_id AND t.kind = 'reverse_spend')) THEN
      PERFORM wallet._fail('WL008', format('spend %s has nothing left to reverse', sp.txn_id));
    END IF;
  ELSIF x > charged - done THEN
    PERFORM wallet._fail('WL008', 'reversal exceeds what is left unreversed',
      format('Spend %s charged %s; %s is left to reverse.', sp.txn_id,
             wallet.to_major(charged, w.exponent), wallet.to_major(charged - done, w.exponent)));
  END IF;

  portion := CASE WHEN x = 0 THEN wallet.lots_empty() ELSE wallet.reversal_split(remaining, coalesce((sp.result->>'bonus_used')::bigint, 0),
                                   coalesce((sp.result->>'cash_used')::bigint, 0),
                                   coalesce((sp.result->>'earnings_used')::bigint, 0), x) END;
  -- bonus of a top-up whose refund is still open cannot come back now: whether the
  -- refund's clawback stands (bonus back as cash) or not (back as bonus) is not known yet
  SELECT r.topup_txn INTO blocked
    FROM wallet.lots_list(portion) l
    JOIN wallet.refund r ON r.topup_txn = l.source_txn AND r.wallet_id = w.wallet_id
   WHERE l.bucket = 'bonus' AND r.status IN ('pending', 'approved')
   LIMIT 1;
  IF blocked IS NOT NULL THEN
    PERFORM wallet._fail('WL008', format('a refund of top-up %s is in progress', blocked),
      'The reversal would give back bonus of that top-up.',
      'Settle, reject or fail the refund first, then reverse the spend.');
  END IF;
  SELECT coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'bonus'), 0)::bigint AS bonus,
         coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'cash'), 0)::bigint AS cash,
         coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'earnings'), 0)::bigint AS earnings
    INTO share FROM wallet.lots_list(portion) l;
  r := wallet.lots_reverse(w.lots, portion, clk);

  tid := nextval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
  legs := wallet._legs(ROW('wallet', w.wallet_id, 'bonus', r.bonus)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'cash', r.cash)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'earnings', r.earnings)::wallet.posting,
                       ROW('breakage', NULL, NULL, r.breakage)::wallet.posting);
  IF payee_id IS NULL THEN
    legs := legs || wallet._legs(ROW('revenue', NULL, NULL, -x)::wallet.posting);
  ELSE
    -- the payee gives back its credit in the same proportion, rounded half away
    -- from zero on the running total (so all of it at the end)
    payee_total := (sp.result->>'payee_credit')::bigint;
    IF done + x = charged THEN
      payee_back := payee_total - payee_done;
    ELSE
      payee_back := round(payee_total::numeric * (done + x) / charged)::bigint - payee_done;
    END IF;
    -- a reversal never fails for the payee's sake (a frozen payee included: a freeze stops
    -- the wallet's own debits, not the platform's corrections): its earnings, pending
    -- credits rolled up first, give back what they can; the rest is its debt
    IF payee_back > 0 THEN
      tk := wallet.lots_take(wallet._rollup(pw.wallet_id, pw.lots, clk), 'earnings', payee_back, clk);
      payee_taken := tk.taken;
      payee_owed := payee_back - tk.taken;
      PERFORM wallet._save(pw.wallet_id, tk.lots);
      IF payee_owed > 0 THEN
        PERFORM wallet._add_debt(pw.wallet_id, payee_owed, tid, clk);
      END IF;
    END IF;
    legs := legs || wallet._legs(ROW('wallet', payee_id, 'earnings', -payee_taken)::wallet.posting,
                                 ROW('payee_receivable', payee_id, NULL, -payee_owed)::wallet.posting,
                                 ROW('commission', NULL, NULL, -(x - payee_back))::wallet.posting);
  END IF;

  -- a coupon whose discount a refund of its top-up clawed back was paid for by the customer:
  -- the full reversal gives that discount back as cash (closed to refunds), and the coupon,
  -- part of a refunded top-up, stays void; while that refund is open it is not known yet
  SELECT r2.refund_id, r2.status INTO clawed
    FROM wallet.coupon c JOIN wallet.refund r2 ON r2.refund_id = c.clawback_refund
   WHERE c.redeemed_txn = sp.txn_id AND c.wallet_id = w.wallet_id;
  IF done + x = charged AND discount > 0 AND clawed.status IN ('pending', 'approved') THEN
    PERFORM wallet._fail('WL008', format('a refund of the top-up that issued the coupon of spend %s is in progress',
                                         sp.txn_id),
      'The refund claws back the coupon''s discount.',
      'Settle, reject or fail the refund first, then reverse the spend.');
  ELSIF done + x = charged AND discount > 0 AND clawed.status = 'succeeded' THEN
    legs := legs || wallet._legs(ROW('revenue', NULL, NULL, -discount)::wallet.posting,
                                 ROW('wallet', w.wallet_id, 'cash', discount)::wallet.posting);
    r.lots := wallet.lots_add(r.lots, 'cash', discount, tid, clk, NULL, NULL);
    UPDATE wallet.coupon c SET redeemed_txn = NULL, redeemed_at = NULL, discount = NULL,
           voided_at = clk, void_refund = clawed.refund_id
     WHERE c.redeemed_txn = sp.txn_id AND c.wallet_id = w.wallet_id;
    coupon_cash := discount;
  -- the full reversal undoes the coupon: its discount, and the coupon itself while still valid
  ELSIF done + x = charged AND discount > 0 THEN
    legs := legs || wallet._legs(ROW('revenue', NULL, NULL, -discount)::wallet.posting,
                                 ROW('coupon_expense', NULL, NULL, discount)::wallet.posting);
    -- the coupon is given back; past its validity it shows as expired, not usable
    UPDATE wallet.coupon c SET redeemed_txn = NULL, redeemed_at = NULL, discount = NULL
     WHERE c.redeemed_txn = sp.txn_id
    RETURNING c.valid_until IS NULL OR c.valid_until > clk INTO restored;
    restored := coalesce(restored, false);
  END IF;
  res := jsonb_build_object('txn_id', tid, 'bonus_returned', share.bonus, 'cash_returned', share.cash,
                            'earnings_returned', share.earnings, 'bonus_written_off', r.breakage,
                            'bonus_to_cash', r.bonus_to_cash, 'payee_back', payee_back,
                            'payee_debt', payee_owed, 'coupon_restored', restored,
                            'coupon_to_cash', coupon_cash);
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn,
                          request, result, postings, pieces)
  VALUES (tid, w.wallet_id, 'reverse_spend', x, w.currency, clk, k, sp.txn_id, req, res, legs, portion);
  INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, tid, clk);
  PERFORM wallet._save(w.wallet_id, r.lots);
  RETURN QUERY SELECT tid, wallet.to_major(share.bonus, w.exponent), wallet.to_major(share.cash, w.exponent),
    wallet.to_major(share.earnings, w.exponent), false, wallet.to_major(r.breakage, w.exponent),
    wallet.to_major(r.bonus_to_cash, w.exponent), restored;
END $$;

