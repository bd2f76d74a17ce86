------------------------------------------------------------------------------
-- Coupons
------------------------------------------------------------------------------
CREATE FUNCTION wallet.coupon_code_new() RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_coupon_code_new' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION wallet.coupon_code_new() IS 'a fresh coupon code: 84 random bits, a check symbol, grouped by six';
CREATE FUNCTION wallet.coupon_code_check(code text) RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_coupon_code_check' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION wallet.coupon_code_check(text) IS 'the canonical form of a well-formed code, NULL for a mistyped one';

-- _coupon_template_check refuses template amounts finer than the currency, malformed scopes,
-- and intervals and times the clock cannot reach; an update of the issued counter alone passes.
CREATE FUNCTION wallet._coupon_template_check() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  e int;
BEGIN
  -- the issued counter is not a setting: issuing a coupon checks nothing (and locks no currency)
  IF TG_OP = 'UPDATE' AND to_jsonb(NEW) - 'issued' = to_jsonb(OLD) - 'issued' THEN
    RETURN NEW;
  END IF;
  e := wallet._exponent(NEW.currency);
  IF NEW.kind = 'amount' THEN PERFORM wallet._check_money(NEW.value, e, 'value'); END IF;
  PERFORM wallet._check_money(NEW.max_discount, e, 'max_discount');
  PERFORM wallet._check_money(NEW.min_order, e, 'min_order');
  PERFORM wallet._check_money(NEW.issue_min_top_up, e, 'issue_min_top_up');
  PERFORM wallet._check_interval(NEW.valid_for, 'valid_for');
  PERFORM wallet._check_time(NEW.valid_from, 'valid_from');
  PERFORM wallet._check_time(NEW.valid_until, 'valid_until');
  PERFORM wallet._check_scope(NEW.scope);
  RETURN NEW;
END $$;
CREATE TRIGGER coupon_template_check BEFORE INSERT OR UPDATE ON wallet.coupon_template
  FOR EACH ROW WHEN (NOT wallet._restoring()) EXECUTE FUNCTION wallet._coupon_template_check();

-- _coupon_status is a coupon's status at clk.
CREATE FUNCTION wallet._coupon_status(c wallet.coupon, clk timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN c.voided_at IS NOT NULL THEN 'voided'
              WHEN c.redeemed_txn IS NOT NULL THEN 'redeemed'
              WHEN c.valid_until <= clk THEN 'expired'
              ELSE 'available' END
$$;

-- _coupon_check validates a coupon for a wallet, an order (minor units) and a
-- scene at clk, and returns (valid, discount in minor units, reason, canonical code).
-- Another wallet's code is reported exactly as an unknown one. C: src/ops/coupon_check.c, the
-- discount engine_coupon_discount (src/engine/discount.c).
CREATE FUNCTION wallet._coupon_check(code text, wid bigint, cur text, e int, order_minor bigint,
                                     scene text, clk timestamptz,
                                     OUT valid boolean, OUT discount bigint, OUT reason text,
                                     OUT canonical text)
  AS 'MODULE_PATHNAME', 'wallet_coupon_validity' LANGUAGE C STABLE;

CREATE FUNCTION wallet.validate_coupon(code text, wallet_id bigint, order_amount numeric, scene text DEFAULT NULL)
  RETURNS TABLE (valid boolean, discount numeric, reason text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  w wallet.wallet;
  r record;
BEGIN
  IF validate_coupon.code IS NULL THEN PERFORM wallet._fail('22023', 'code must not be null'); END IF;
  PERFORM wallet._text(validate_coupon.code, 'code', 64);
  IF validate_coupon.wallet_id IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = validate_coupon.wallet_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', validate_coupon.wallet_id));
  END IF;
  PERFORM wallet.check_scene(validate_coupon.scene);
  r := wallet._coupon_check(validate_coupon.code, w.wallet_id, w.currency, w.exponent,
                            wallet.to_minor(validate_coupon.order_amount, w.exponent, 'order_amount'),
                            validate_coupon.scene, wallet.clock());
  RETURN QUERY SELECT r.valid, wallet.to_major(r.discount, w.exponent), r.reason;
END $$;

-- _redeem marks a coupon used by a spend (called under the wallet's write).
CREATE FUNCTION wallet._redeem(canonical text, wid bigint, txn bigint, d bigint, clk timestamptz) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  UPDATE wallet.coupon c SET redeemed_txn = txn, redeemed_at = clk, discount = d
   WHERE c.code = canonical AND c.wallet_id = wid AND c.redeemed_txn IS NULL AND c.voided_at IS NULL;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL005', 'coupon not valid', 'already used');
  END IF;
END $$;

-- issue_coupon and the automatic issuance (_auto_issue) are C (src/ops/coupon_issue.c): one
-- coupon of a template to a locked wallet, WL007 at a limit (skipped quietly when automatic).
CREATE FUNCTION wallet.issue_coupon(template_id text, wallet_id bigint, idempotency_key text) RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_issue_coupon' LANGUAGE C VOLATILE SECURITY DEFINER;

-- issue_coupons issues a template to many wallets in one call (C: src/ops/coupon_issue.c, the
-- same issuance as issue_coupon's); the key is each wallet's own, so a repeated call returns
-- the codes already issued. A wallet at its limit, or past the template's total limit (taken
-- in wallet-id order), gets no code (NULL).
CREATE FUNCTION wallet.issue_coupons(template_id text, wallet_ids bigint[], idempotency_key text)
  RETURNS TABLE (wallet_id bigint, code text)
  AS 'MODULE_PATHNAME', 'wallet_issue_coupons' LANGUAGE C VOLATILE SECURITY DEFINER;

-- _auto_issue issues the templates marked issue_on = event to a locked wallet (for 'top_up',
-- those whose issue_min_top_up the amount reaches) and returns the codes; a template at its
-- limit is skipped.
CREATE FUNCTION wallet._auto_issue(wid bigint, event text, amt bigint, txn bigint) RETURNS text[]
  AS 'MODULE_PATHNAME', 'wallet_auto_issue' LANGUAGE C VOLATILE;

CREATE FUNCTION wallet.coupons(wallet_id bigint)
  RETURNS TABLE (code text, template_id text, status text, valid_from timestamptz, valid_until timestamptz,
                 redeemed_txn bigint, discount numeric)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  w wallet.wallet;
BEGIN
  IF coupons.wallet_id IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = coupons.wallet_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', coupons.wallet_id));
  END IF;
  RETURN QUERY
    SELECT c.code, c.template_id, wallet._coupon_status(c, wallet.clock()), c.valid_from, c.valid_until,
           c.redeemed_txn, wallet.to_major(c.discount, w.exponent)
      FROM wallet.coupon c WHERE c.wallet_id = w.wallet_id
     ORDER BY c.issued_at, c.code;
END $$;

CREATE FUNCTION wallet.add_coupon_template(template_id text, currency text, kind text, value numeric,
                                           max_discount numeric DEFAULT NULL, min_order numeric DEFAULT 0,
                                           scope text[] DEFAULT NULL, valid_from timestamptz DEFAULT NULL,
                                           valid_until timestamptz DEFAULT NULL, valid_for interval DEFAULT NULL,
                                           total_limit int DEFAULT NULL, per_wallet_limit int DEFAULT 1,
                                           issue_on text DEFAULT NULL, issue_min_top_up numeric DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
BEGIN
  PERFORM wallet._text($1, 'template_id', 64, true);
  PERFORM wallet._text($2, 'currency', 3, true);
  PERFORM wallet._text($3, 'kind', 10, true);
  IF $4 IS NULL THEN PERFORM wallet._fail('22023', 'value must not be null'); END IF;
  INSERT INTO wallet.coupon_template (template_id, currency, kind, value, max_discount, min_order, scope,
                                      valid_from, valid_until, valid_for, total_limit, per_wallet_limit,
                                      issue_on, issue_min_top_up)
  VALUES ($1, $2, $3, $4, $5, coalesce($6, 0), $7, $8, $9, $10, $11, coalesce($12, 1), $13, $14);
  RETURN $1;
EXCEPTION
  WHEN check_violation THEN
    PERFORM wallet._bad_setting(SQLERRM);
    RETURN NULL;
  WHEN unique_violation THEN
    PERFORM wallet._fail('22023', format('coupon template "%s" already exists', $1));
    RETURN NULL;
END $$;

-- Per template: issued, redeemed, expired, outstanding and the discount given.
CREATE VIEW wallet.coupon_stats AS
  SELECT t.template_id, t.currency, t.kind,
         count(c.code) AS issued,
         count(c.redeemed_txn) AS redeemed,
         count(*) FILTER (WHERE c.redeemed_txn IS NULL AND c.voided_at IS NULL
                            AND c.valid_until <= wallet.clock()) AS expired,
         count(*) FILTER (WHERE c.code IS NOT NULL AND c.redeemed_txn IS NULL AND c.voided_at IS NULL
                            AND (c.valid_until IS NULL OR c.valid_until > wallet.clock())) AS outstanding,
         wallet.to_major(coalesce(sum(c.discount), 0)::bigint, e.exponent) AS total_discount
    FROM wallet.coupon_template t
    JOIN wallet.currency e ON e.code = t.currency
    LEFT JOIN wallet.coupon c ON c.template_id = t.template_id
   GROUP BY t.template_id, t.currency, t.kind, e.exponent;
COMMENT ON VIEW wallet.coupon_stats IS 'per coupon template: issued, redeemed, expired, outstanding, total discount';

