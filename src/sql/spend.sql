------------------------------------------------------------------------------
-- Spending
------------------------------------------------------------------------------
-- spend is C (src/ops.c): bonus first, then cash, then earnings; payee
-- credits go to wallet.payee_credit so a popular payee's row is never hot.
CREATE TYPE wallet.spend_result AS (txn_id bigint, charged numeric, discount numeric,
                                    bonus_used numeric, cash_used numeric, earnings_used numeric,
                                    shortfall numeric, replayed boolean, points numeric);
COMMENT ON TYPE wallet.spend_result IS 'the row wallet.spend returns';
CREATE FUNCTION wallet.spend(wallet_id bigint, amount numeric, idempotency_key text,
                             scene text DEFAULT NULL, coupon text DEFAULT NULL,
                             allow_partial boolean DEFAULT false, payee bigint DEFAULT NULL,
                             order_ref text DEFAULT NULL, max_charge numeric DEFAULT NULL,
                             step_up text DEFAULT NULL)
  RETURNS wallet.spend_result
  AS 'MODULE_PATHNAME', 'wallet_spend'
  LANGUAGE C VOLATILE SECURITY DEFINER;

-- spend_preview is what a spend would do now, for a checkout page: the charge with its split,
-- the coupon's discount, the shortfall (collected elsewhere), and why the payment would be
-- refused (NULL: it would go through). It changes nothing.
CREATE FUNCTION wallet.spend_preview(wallet_id bigint, amount numeric, scene text DEFAULT NULL,
                                     coupon text DEFAULT NULL, max_charge numeric DEFAULT NULL)
  RETURNS TABLE (charged numeric, discount numeric, bonus_used numeric, cash_used numeric,
                 earnings_used numeric, shortfall numeric, refusal text)
  AS 'MODULE_PATHNAME', 'wallet_spend_preview'
  LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp;

-- _add_debt adds amt (minor units) to a locked payee's debt: what a reversal (transaction
-- txn) took back beyond the payee's earnings. A debt that grows past the currency's
-- policy.payee_debt_flag gets the payee a risk flag (kind payee_debt), once per crossing (C:
-- src/ops/credit.c).
CREATE FUNCTION wallet._add_debt(wid bigint, amt bigint, txn bigint, clk timestamptz) RETURNS void
  AS 'MODULE_PATHNAME', 'wallet_add_debt' LANGUAGE C VOLATILE;

-- reverse_spend is C (src/ops/reverse_spend.c): the spend's pieces given back to the lots
-- they came from, its payee's credit taken back in proportion (its pending credits rolled up,
-- then its earnings; the rest is its debt), its coupon undone by the full reversal.
CREATE FUNCTION wallet.reverse_spend(spend_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, bonus_returned numeric, cash_returned numeric, earnings_returned numeric,
                 replayed boolean, bonus_written_off numeric, bonus_to_cash numeric, coupon_restored boolean)
  AS 'MODULE_PATHNAME', 'wallet_reverse_spend'
  LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1;
