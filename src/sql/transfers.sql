------------------------------------------------------------------------------
-- Transfers, donations and split payment (CONTRACT.md section 17)
------------------------------------------------------------------------------
COMMENT ON COLUMN wallet.policy.transfer_fee_rate IS
  'a transfer''s fee: this share of the amount (half away from zero), charged to the sender on top';
COMMENT ON COLUMN wallet.policy.transfer_fee_fixed IS
  'a transfer''s fee: this much (major units) added to the rate''s part, charged to the sender on top';

-- transfer is C (src/ops/transfer.c): earnings only, from the sender's locked row into the
-- receiver's earnings through wallet.payee_credit (the receiver's row is neither locked nor
-- written, as a payee's is not), the fee on top posted to fee_income.
CREATE FUNCTION wallet.transfer(from_wallet bigint, to_wallet bigint, amount numeric, idempotency_key text,
                                kind text DEFAULT 'p2p', note text DEFAULT NULL, step_up text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, amount numeric, fee numeric, replayed boolean)
  AS 'MODULE_PATHNAME', 'wallet_transfer'
  LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1;

-- spend_split is C (src/ops/spend_split.c, on spend's pipeline, src/ops/spend_core.c): one order
-- paid to several payees, what is charged split over them in proportion to their shares
-- (largest remainder first), each credited its part less commission through
-- wallet.payee_credit. Journaled as kind spend_split; reverse_spend takes its txn_id.
CREATE FUNCTION wallet.spend_split(wallet_id bigint, amount numeric, idempotency_key text, payees bigint[],
                                   shares numeric[], scene text DEFAULT NULL, coupon text DEFAULT NULL,
                                   order_ref text DEFAULT NULL)
  RETURNS wallet.spend_result
  AS 'MODULE_PATHNAME', 'wallet_spend_split'
  LANGUAGE C VOLATILE SECURITY DEFINER;
