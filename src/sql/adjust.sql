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
-- adjust is C (src/ops/adjust.c), on the operation pipeline.
CREATE FUNCTION wallet.adjust(wallet_id bigint, bucket text, amount numeric, reason text,
                              idempotency_key text, repair text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, replayed boolean)
  AS 'MODULE_PATHNAME', 'wallet_adjust'
  LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1;
COMMENT ON FUNCTION wallet.adjust(bigint, text, numeric, text, text, text) IS
  'the journaled, audited correction of a wallet''s cash, bonus or earnings by a signed amount, against the '
  'system account adjustment; never below zero (WL001); see docs/runbook.md';

