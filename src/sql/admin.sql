------------------------------------------------------------------------------
-- Administration
------------------------------------------------------------------------------
-- _bad_setting turns a CHECK violation of a policy or bonus rule into a bad-argument error.
CREATE FUNCTION wallet._bad_setting(err text) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  col text := substring(err FROM 'check constraint "(?:policy|bonus_rule|coupon_template|fx_rate|reward_rule)_(.*)_check"');
BEGIN
  PERFORM wallet._fail('22023', format('%s is out of range', coalesce(col, 'a setting')), err);
END $$;

CREATE FUNCTION wallet.set_policy(currency text, refund_window interval DEFAULT NULL,
                                  refund_fee_rate numeric DEFAULT NULL,
                                  refund_auto_approve_max numeric DEFAULT NULL,
                                  max_refunds_per_30_days int DEFAULT NULL,
                                  remind_before interval DEFAULT NULL,
                                  commission_rate numeric DEFAULT NULL,
                                  payee_debt_flag numeric DEFAULT NULL,
                                  min_balance_use numeric DEFAULT NULL,
                                  use_all_below numeric DEFAULT NULL,
                                  earnings_scope text[] DEFAULT NULL,
                                  transfer_fee_rate numeric DEFAULT NULL,
                                  transfer_fee_fixed numeric DEFAULT NULL,
                                  withdraw_min numeric DEFAULT NULL,
                                  withdraw_fee_rate numeric DEFAULT NULL,
                                  withdraw_fee_fixed numeric DEFAULT NULL,
                                  withdraw_fee_min numeric DEFAULT NULL,
                                  withdraw_fee_max numeric DEFAULT NULL,
                                  withdraw_daily_max numeric DEFAULT NULL,
                                  withdraw_auto_approve_max numeric DEFAULT NULL,
                                  withdraw_review_daily numeric DEFAULT NULL,
                                  idle_remind_after interval DEFAULT NULL,
                                  idle_remind_min numeric DEFAULT NULL,
                                  limit_time_zone text DEFAULT NULL,
                                  card_quote_valid_for interval DEFAULT NULL,
                                  card_review_daily numeric DEFAULT NULL,
                                  flags_to_freeze int DEFAULT NULL,
                                  reset text[] DEFAULT NULL)
  RETURNS wallet.policy
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  p wallet.policy := wallet._policy(set_policy.currency);
  col text;
BEGIN
  PERFORM wallet._text(set_policy.currency, 'currency', 3, true);
  IF NOT EXISTS (SELECT 1 FROM wallet.currency c WHERE c.code = set_policy.currency) THEN
    PERFORM wallet._fail('22023', format('unknown currency "%s"', set_policy.currency));
  END IF;
  -- reset: the settings named go back to their defaults (NULL where the default is none), before
  -- the values given are applied
  FOREACH col IN ARRAY coalesce(set_policy.reset, '{}') LOOP
    IF col IS NULL OR col = 'currency' OR NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = 'wallet.policy'::regclass AND a.attname = col AND a.attnum > 0
           AND NOT a.attisdropped) THEN
      PERFORM wallet._fail('22023', format('reset names no setting: %s', coalesce(col, 'NULL')),
                           hint => 'Name columns of wallet.policy other than currency.');
    END IF;
    p := jsonb_populate_record(p, jsonb_build_object(col, to_jsonb(wallet._policy(NULL::text)) -> col));
  END LOOP;
  p.refund_window := coalesce(set_policy.refund_window, p.refund_window);
  p.refund_fee_rate := coalesce(set_policy.refund_fee_rate, p.refund_fee_rate);
  p.refund_auto_approve_max := coalesce(set_policy.refund_auto_approve_max, p.refund_auto_approve_max);
  p.max_refunds_per_30_days := coalesce(set_policy.max_refunds_per_30_days, p.max_refunds_per_30_days);
  p.remind_before := coalesce(set_policy.remind_before, p.remind_before);
  p.commission_rate := coalesce(set_policy.commission_rate, p.commission_rate);
  IF set_policy.payee_debt_flag < 0 THEN
    PERFORM wallet._fail('22023', 'payee_debt_flag must not be negative',
                         format('Got %s.', set_policy.payee_debt_flag), 'NULL leaves the setting as it is.');
  END IF;
  PERFORM wallet._check_money(set_policy.payee_debt_flag, wallet._exponent(set_policy.currency), 'payee_debt_flag');
  p.payee_debt_flag := coalesce(set_policy.payee_debt_flag, p.payee_debt_flag);
  PERFORM wallet._check_money(set_policy.min_balance_use, wallet._exponent(set_policy.currency), 'min_balance_use');
  PERFORM wallet._check_money(set_policy.use_all_below, wallet._exponent(set_policy.currency), 'use_all_below');
  p.min_balance_use := coalesce(set_policy.min_balance_use, p.min_balance_use);
  p.use_all_below := coalesce(set_policy.use_all_below, p.use_all_below);
  -- earnings_scope: '{}' puts it back to everywhere (NULL), NULL leaves it as it is
  IF set_policy.earnings_scope IS NOT NULL THEN
    PERFORM wallet.check_scene(s) FROM unnest(set_policy.earnings_scope) s;
    IF array_position(set_policy.earnings_scope, NULL) IS NOT NULL THEN
      PERFORM wallet._fail('22023', 'earnings_scope must not contain NULL');
    END IF;
    p.earnings_scope := CASE WHEN cardinality(set_policy.earnings_scope) = 0 THEN NULL
                             ELSE set_policy.earnings_scope END;
  END IF;
  PERFORM wallet._check_money(set_policy.transfer_fee_fixed, wallet._exponent(set_policy.currency),
                              'transfer_fee_fixed');
  p.transfer_fee_rate := coalesce(set_policy.transfer_fee_rate, p.transfer_fee_rate);
  p.transfer_fee_fixed := coalesce(set_policy.transfer_fee_fixed, p.transfer_fee_fixed);
  -- withdrawals and idle reminders (CONTRACT.md section 16) and the limits' time zone; the
  -- table's checks and wallet._policy_check refuse what is out of range
  p.withdraw_min := coalesce(set_policy.withdraw_min, p.withdraw_min);
  p.withdraw_fee_rate := coalesce(set_policy.withdraw_fee_rate, p.withdraw_fee_rate);
  p.withdraw_fee_fixed := coalesce(set_policy.withdraw_fee_fixed, p.withdraw_fee_fixed);
  p.withdraw_fee_min := coalesce(set_policy.withdraw_fee_min, p.withdraw_fee_min);
  p.withdraw_fee_max := coalesce(set_policy.withdraw_fee_max, p.withdraw_fee_max);
  p.withdraw_daily_max := coalesce(set_policy.withdraw_daily_max, p.withdraw_daily_max);
  p.withdraw_auto_approve_max := coalesce(set_policy.withdraw_auto_approve_max, p.withdraw_auto_approve_max);
  p.withdraw_review_daily := coalesce(set_policy.withdraw_review_daily, p.withdraw_review_daily);
  p.idle_remind_after := coalesce(set_policy.idle_remind_after, p.idle_remind_after);
  p.idle_remind_min := coalesce(set_policy.idle_remind_min, p.idle_remind_min);
  p.limit_time_zone := coalesce(set_policy.limit_time_zone, p.limit_time_zone);
  -- card intake (CONTRACT.md section 19)
  p.card_quote_valid_for := coalesce(set_policy.card_quote_valid_for, p.card_quote_valid_for);
  p.card_review_daily := coalesce(set_policy.card_review_daily, p.card_review_daily);
  -- refund abuse (CONTRACT.md section 20): at least 1; the table's check refuses less
  p.flags_to_freeze := coalesce(set_policy.flags_to_freeze, p.flags_to_freeze);
  INSERT INTO wallet.policy VALUES (p.*)
  ON CONFLICT ON CONSTRAINT policy_pkey DO UPDATE SET
    refund_window = EXCLUDED.refund_window, refund_fee_rate = EXCLUDED.refund_fee_rate,
    refund_auto_approve_max = EXCLUDED.refund_auto_approve_max,
    max_refunds_per_30_days = EXCLUDED.max_refunds_per_30_days,
    remind_before = EXCLUDED.remind_before, commission_rate = EXCLUDED.commission_rate,
    payee_debt_flag = EXCLUDED.payee_debt_flag, min_balance_use = EXCLUDED.min_balance_use,
    use_all_below = EXCLUDED.use_all_below, earnings_scope = EXCLUDED.earnings_scope,
    transfer_fee_rate = EXCLUDED.transfer_fee_rate, transfer_fee_fixed = EXCLUDED.transfer_fee_fixed,
    withdraw_min = EXCLUDED.withdraw_min, withdraw_fee_rate = EXCLUDED.withdraw_fee_rate,
    withdraw_fee_fixed = EXCLUDED.withdraw_fee_fixed, withdraw_fee_min = EXCLUDED.withdraw_fee_min,
    withdraw_fee_max = EXCLUDED.withdraw_fee_max, withdraw_daily_max = EXCLUDED.withdraw_daily_max,
    withdraw_auto_approve_max = EXCLUDED.withdraw_auto_approve_max,
    withdraw_review_daily = EXCLUDED.withdraw_review_daily, idle_remind_after = EXCLUDED.idle_remind_after,
    idle_remind_min = EXCLUDED.idle_remind_min, limit_time_zone = EXCLUDED.limit_time_zone,
    card_quote_valid_for = EXCLUDED.card_quote_valid_for, card_review_daily = EXCLUDED.card_review_daily,
    flags_to_freeze = EXCLUDED.flags_to_freeze;
  RETURN p;
EXCEPTION WHEN check_violation THEN
  PERFORM wallet._bad_setting(SQLERRM);
  RETURN NULL;
END $$;

CREATE FUNCTION wallet.add_bonus_rule(currency text, min_amount numeric, bonus_fixed numeric DEFAULT 0,
                                      bonus_rate numeric DEFAULT 0, max_bonus numeric DEFAULT NULL,
                                      valid_for interval DEFAULT NULL, scope text[] DEFAULT NULL,
                                      campaign text DEFAULT NULL, starts_at timestamptz DEFAULT NULL,
                                      ends_at timestamptz DEFAULT NULL, refund_fee_rate numeric DEFAULT NULL)
  RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  id bigint;
BEGIN
  PERFORM wallet._text(add_bonus_rule.currency, 'currency', 3, true);
  IF add_bonus_rule.min_amount IS NULL THEN
    PERFORM wallet._fail('22023', 'min_amount must not be null');
  END IF;
  INSERT INTO wallet.bonus_rule (currency, campaign, min_amount, bonus_fixed, bonus_rate, max_bonus,
                                 valid_for, scope, starts_at, ends_at, refund_fee_rate)
  VALUES ($1, $8, $2, coalesce($3, 0), coalesce($4, 0), $5, $6, $7, $9, $10, $11)
  RETURNING rule_id INTO id;
  RETURN id;
EXCEPTION WHEN check_violation THEN
  PERFORM wallet._bad_setting(SQLERRM);
  RETURN NULL;
END $$;

CREATE FUNCTION wallet.end_bonus_rule(rule_id bigint, ends_at timestamptz DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
BEGIN
  IF end_bonus_rule.rule_id IS NULL THEN
    PERFORM wallet._fail('22023', 'rule_id must not be null');
  END IF;
  UPDATE wallet.bonus_rule r SET ends_at = coalesce(end_bonus_rule.ends_at, wallet.clock())
   WHERE r.rule_id = end_bonus_rule.rule_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('bonus rule %s does not exist', end_bonus_rule.rule_id));
  END IF;
END $$;

