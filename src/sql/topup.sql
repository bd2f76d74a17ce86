------------------------------------------------------------------------------
-- Top-up with bonus
------------------------------------------------------------------------------
CREATE FUNCTION wallet.bonus_preview(currency text, amount numeric)
  RETURNS TABLE (campaign text, bonus numeric, expires_at timestamptz, scope text[])
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  e int;
  amt bigint;
  clk timestamptz := wallet.clock();
BEGIN
  PERFORM wallet._text(bonus_preview.currency, 'currency', 3, true);
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = bonus_preview.currency;
  IF NOT FOUND THEN
    PERFORM wallet._fail('22023', format('unknown currency "%s"', bonus_preview.currency));
  END IF;
  amt := wallet.to_minor(bonus_preview.amount, e, 'amount');
  RETURN QUERY SELECT p.campaign, wallet.to_major(p.bonus, e), p.expires_at, p.scope
                 FROM wallet._bonus_plan(bonus_preview.currency, e, amt, clk) p;
END $$;

-- top_up is C (src/ops.c): one cash lot, one bonus lot per rule group. top_up and spend pin
-- their search path (pg_catalog, wallet, pg_temp) themselves, before they prepare or run a
-- statement or run user code, instead of with SET: most calls do neither (src/ops.c, pin_path).
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

