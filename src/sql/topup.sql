------------------------------------------------------------------------------
-- Top-up with bonus
------------------------------------------------------------------------------
-- bonus_preview is C (src/ops/bonus_preview.c): the rules top_up applies, evaluated the same way.
CREATE FUNCTION wallet.bonus_preview(currency text, amount numeric)
  RETURNS TABLE (campaign text, bonus numeric, expires_at timestamptz, scope text[])
  AS 'MODULE_PATHNAME', 'wallet_bonus_preview'
  LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp;

-- top_up is C (src/ops/top_up.c): one cash lot, one bonus lot per rule group. top_up and spend pin
-- their search path (pg_catalog, wallet, pg_temp) themselves, before they prepare or run a
-- statement or run user code, instead of with SET: most calls do neither (src/store/plans.c, pin_path).
-- top_up and spend return a named row type, not OUT columns: the executor takes a named
-- type's row from the type cache, where OUT columns make it build one from the function's
-- catalog row at every call (about 4 % of a spend's instructions).
CREATE TYPE wallet.top_up_result AS (txn_id bigint, bonus numeric, replayed boolean, coupons text[]);
COMMENT ON TYPE wallet.top_up_result IS 'the row wallet.top_up returns';
CREATE FUNCTION wallet.top_up(wallet_id bigint, amount numeric, idempotency_key text,
                              method text DEFAULT NULL, external_ref text DEFAULT NULL)
  RETURNS wallet.top_up_result
  AS 'MODULE_PATHNAME', 'wallet_top_up'
  LANGUAGE C VOLATILE SECURITY DEFINER;

