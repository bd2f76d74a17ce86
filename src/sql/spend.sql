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

-- reverse_spend is C (src/ops/reverse_spend.c): the spend's pieces given back to the lots
-- they came from, its payee's credit taken back in proportion (wallet._rollup, then the
-- payee's earnings; the rest is its debt, wallet._add_debt), its coupon undone by the full
-- reversal.
CREATE FUNCTION wallet.reverse_spend(spend_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, bonus_returned numeric, cash_returned numeric, earnings_returned numeric,
                 replayed boolean, bonus_written_off numeric, bonus_to_cash numeric, coupon_restored boolean)
  AS 'MODULE_PATHNAME', 'wallet_reverse_spend'
  LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1;
