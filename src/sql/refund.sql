------------------------------------------------------------------------------
-- Refunds of a top-up
------------------------------------------------------------------------------
-- The refund operations are C functions on the operation pipeline (src/ops/refund_*.c), as
-- top_up and spend are: the netting of CONTRACT.md section 6 (what is refundable, the
-- clawback of spent bonus and redeemed coupons, the fee rate, auto-approval) is computed once,
-- in C (src/engine/refund.c), for the quote and the request alike; the wallet.lots_refund_*
-- functions are SQL wrappers of the same rules. request_refund, review_refund and
-- settle_refund lock the wallet row first, then the refund row (FOR UPDATE); like top_up and
-- spend they pin their search path themselves instead of with SET search_path.

-- refund_quote is what a refund of a top-up would be now (it changes nothing).
CREATE FUNCTION wallet.refund_quote(topup_txn_id bigint, reason text DEFAULT 'user')
  RETURNS TABLE (max_amount numeric, bonus_clawback numeric, bonus_void numeric, fee_rate numeric,
                 refundable_until timestamptz, coupon_clawback numeric, coupons_voided int)
  AS 'MODULE_PATHNAME', 'wallet_refund_quote'
  LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp;

-- request_refund holds what the refund takes (pending, or approved at once when its net is at
-- most the currency's refund_auto_approve_max); beyond max_refunds_per_30_days the request is
-- recorded as rejected (reviewer 'limit') and the wallet gets a risk flag.
CREATE FUNCTION wallet.request_refund(topup_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL,
                                      reason text DEFAULT 'user', note text DEFAULT NULL)
  RETURNS TABLE (refund_id bigint, amount numeric, fee numeric, net numeric, bonus_clawback numeric,
                 bonus_void numeric, status text, replayed boolean, coupon_clawback numeric,
                 coupons_voided int)
  AS 'MODULE_PATHNAME', 'wallet_request_refund'
  LANGUAGE C VOLATILE SECURITY DEFINER;

-- review_refund approves a pending refund (no money moves) or rejects it (everything the
-- request took goes back, the coupons too).
CREATE FUNCTION wallet.review_refund(refund_id bigint, approve boolean, reviewer text, note text DEFAULT NULL)
  RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_review_refund'
  LANGUAGE C VOLATILE SECURITY DEFINER;

-- settle_refund records the gateway's answer for an approved refund: succeeded pays it out,
-- failed gives everything back.
CREATE FUNCTION wallet.settle_refund(refund_id bigint, succeeded boolean, gateway_ref text DEFAULT NULL)
  RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_settle_refund'
  LANGUAGE C VOLATILE SECURITY DEFINER;
