-- test/model/model.sql: the reference model of wallet's money rules.
--
-- A deliberately plain re-statement of CONTRACT.md sections 1-10, 12, 14-19 in
-- tables and PL/pgSQL, written without looking at how the extension computes
-- anything: every lot is a row, every rule a few lines of SQL. It reads the
-- configuration the extension reads (wallet.currency, wallet.policy,
-- wallet.bonus_rule, wallet.coupon_template without its issued counter,
-- wallet.fx_rate, wallet.reward_rule, wallet.card_type, wallet.card_rate) and
-- nothing else of the extension; it calls none of its functions. Its clock is model.clock, which the driver keeps equal to the
-- wallet.now setting.
--
-- Functions mirror the extension's operations with the same argument order and
-- result columns (ids are the model's own; the driver maps them):
--   model.open, model.balance, model.top_up, model.spend, model.reverse_spend,
--   model.refund_quote, model.request_refund, model.review_refund,
--   model.settle_refund, model.expire_bonus, model.freeze, model.unfreeze,
--   model.issue_coupon, model.validate_coupon, model.coupons, view model.coupon_stats,
--   the holds and group payment of section 14, model.transfer and model.spend_split
--   (section 17), model.withdraw_quote, model.request_withdrawal,
--   model.review_withdrawal, model.settle_withdrawal, model.return_withdrawal,
--   model.withdrawals, model.set_auto_withdrawal, model.auto_withdraw (section 16),
--   model.adjust (earnings credited, section 22: the test's source of earnings),
--   model.exchange_quote, model.exchange and the points a spend or capture earns
--   (model.reward; taken back by model.reverse_spend) (section 18), model.card_quote,
--   model.submit_cards, model.verify_card, model.settle_intake, model.review_intake
--   and model.intakes (section 19). Card secrets are kept as written less blanks and
--   hyphens (the model never sees the extension's hashes); a member's card rate names
--   the extension's wallet, so the driver says which of the model's it is
--   (model.card_rate_member).
-- Coupon codes are random in the extension, so the model does not invent
-- them: whenever it issues a coupon it takes the next code from
-- model.code_supply, which the driver fills with the codes the extension
-- returned for the same operation (in the order the model issues, by template
-- id). Which templates issue, the limits, validity, discounts and statuses are
-- the model's own. It judges whether a code is well formed (the check symbol)
-- with its own implementation of the code format (model.code_canonical).
-- Amounts are kept as bigint minor units; they cross the API as numeric.
--
-- Where CONTRACT.md is silent, the choices are written next to the code
-- (look for "choice:").

DROP SCHEMA IF EXISTS model CASCADE;
CREATE SCHEMA model;

------------------------------------------------------------------------------
-- State
------------------------------------------------------------------------------
CREATE TABLE model.clock (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  now timestamptz NOT NULL
);
INSERT INTO model.clock VALUES (true, '2026-01-01 00:00:00+00');

CREATE TABLE model.wallet (
  wid      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner    text NOT NULL,
  currency text NOT NULL,
  e        int  NOT NULL,
  frozen   boolean NOT NULL DEFAULT false,
  -- what reversals took back beyond the wallet's earnings, owed until later credits repay it
  debt     bigint NOT NULL DEFAULT 0 CHECK (debt >= 0),
  UNIQUE (owner, currency)
);

-- Every operation that takes an idempotency key (and a few that do not).
CREATE TABLE model.txn (
  tid    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  wid    bigint NOT NULL,
  kind   text NOT NULL,
  key    text,
  req    jsonb,
  result jsonb
);
CREATE UNIQUE INDEX ON model.txn (wid, key) WHERE key IS NOT NULL;

-- Lots. amount is what is live; held is bonus reserved by an open refund.
-- topup is the top-up that created a cash or bonus lot.
CREATE TABLE model.lot (
  lot_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  wid              bigint NOT NULL,
  bucket           text NOT NULL CHECK (bucket IN ('cash', 'bonus', 'earnings')),
  amount           bigint NOT NULL CHECK (amount >= 0),
  held             bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
  topup            bigint,
  granted_at       timestamptz NOT NULL,
  expires_at       timestamptz,
  scope            text[],
  refundable_until timestamptz
);
CREATE INDEX ON model.lot (wid) WHERE amount > 0 OR held > 0;
CREATE INDEX ON model.lot (topup);

-- Per top-up netting state: spent = its bonus spent and not given back by a
-- reversal; clawed = what refunds clawed back of it (an open refund's clawback
-- counts from the request on), less what came back as cash since.
CREATE TABLE model.topup (
  tid              bigint PRIMARY KEY,
  wid              bigint NOT NULL,
  amount           bigint NOT NULL,
  bonus            bigint NOT NULL,
  campaign_fee     numeric NOT NULL,
  refundable_until timestamptz NOT NULL,
  cash_lot         bigint NOT NULL,
  spent            bigint NOT NULL DEFAULT 0 CHECK (spent >= 0),
  clawed           bigint NOT NULL DEFAULT 0 CHECK (clawed >= 0)
);

CREATE TABLE model.spend (
  tid           bigint PRIMARY KEY,
  wid           bigint NOT NULL,
  charged       bigint NOT NULL,
  bonus_used    bigint NOT NULL,
  cash_used     bigint NOT NULL,
  earnings_used bigint NOT NULL,
  payee         bigint,
  payee_credit  bigint NOT NULL DEFAULT 0,
  reversed      bigint NOT NULL DEFAULT 0,
  ret_bonus     bigint NOT NULL DEFAULT 0,
  ret_cash      bigint NOT NULL DEFAULT 0,
  ret_earnings  bigint NOT NULL DEFAULT 0,
  payee_back    bigint NOT NULL DEFAULT 0,
  discount      bigint NOT NULL DEFAULT 0,
  reversals     int NOT NULL DEFAULT 0,
  -- reward points (section 18): what the spend earned in the owner's points wallet, and what
  -- reversals took back of them
  points        bigint NOT NULL DEFAULT 0,
  points_wallet bigint,
  points_e      int NOT NULL DEFAULT 0,
  points_back   bigint NOT NULL DEFAULT 0
);

-- What a spend took from each lot, in spending order (seq).
CREATE TABLE model.piece (
  spend_tid bigint NOT NULL,
  seq       int NOT NULL,
  lot_id    bigint NOT NULL,
  bucket    text NOT NULL,
  taken     bigint NOT NULL,
  returned  bigint NOT NULL DEFAULT 0 CHECK (returned <= taken),
  PRIMARY KEY (spend_tid, seq)
);

CREATE TABLE model.refund (
  rid          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  wid          bigint NOT NULL,
  topup        bigint NOT NULL,
  amount       bigint NOT NULL,
  fee          bigint NOT NULL,
  net          bigint NOT NULL,
  clawback     bigint NOT NULL,
  bonus_void   bigint NOT NULL,
  status       text NOT NULL,
  requested_at timestamptz NOT NULL,
  by_limit     boolean NOT NULL DEFAULT false,
  coupon_clawback bigint NOT NULL DEFAULT 0,
  coupons_voided  int NOT NULL DEFAULT 0
);
CREATE INDEX ON model.refund (topup);
CREATE INDEX ON model.refund (wid, requested_at);

-- Coupons (section 10): cid is the issuance order.
CREATE TABLE model.coupon (
  cid          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code         text NOT NULL UNIQUE,
  template_id  text NOT NULL,
  wid          bigint NOT NULL,
  valid_from   timestamptz,
  valid_until  timestamptz,
  issued_at    timestamptz NOT NULL,
  redeemed_txn bigint,
  discount     bigint,
  topup        bigint,   -- the top-up that issued it (issue_on = 'top_up')
  voided_by    bigint,   -- the refund of that top-up that voided it
  clawed_by    bigint    -- the refund of that top-up that clawed its discount back
);
CREATE INDEX ON model.coupon (wid);
-- the codes the next issuances take, in order (filled by the driver)
CREATE TABLE model.code_supply (n int PRIMARY KEY, code text NOT NULL);

------------------------------------------------------------------------------
-- Helpers
------------------------------------------------------------------------------
CREATE FUNCTION model.clock_now() RETURNS timestamptz
  LANGUAGE sql STABLE AS $$ SELECT now FROM model.clock $$;

CREATE FUNCTION model.set_clock(t timestamptz) RETURNS void
  LANGUAGE sql AS $$ UPDATE model.clock SET now = t $$;

CREATE FUNCTION model.fail(code text, msg text) RETURNS void
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg;
END $$;

-- text_arg: optional or required text of at most maxlen characters, no control characters.
CREATE FUNCTION model.text_arg(val text, name text, maxlen int, required boolean) RETURNS void
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF val IS NULL THEN
    IF required THEN PERFORM model.fail('22023', name || ' is required'); END IF;
    RETURN;
  END IF;
  IF required AND val = '' THEN PERFORM model.fail('22023', name || ' is empty'); END IF;
  IF length(val) > maxlen THEN PERFORM model.fail('22023', name || ' is too long'); END IF;
  IF val ~ '[[:cntrl:]]' THEN PERFORM model.fail('22023', name || ' has control characters'); END IF;
END $$;

-- minor: a positive amount in major units -> minor units (section 1).
CREATE FUNCTION model.minor(amount numeric, e int, name text) RETURNS bigint
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF amount IS NULL THEN PERFORM model.fail('22023', name || ' is null'); END IF;
  IF amount = 'NaN'::numeric THEN PERFORM model.fail('22023', name || ' is NaN'); END IF;
  IF amount <= 0 THEN PERFORM model.fail('22023', name || ' must be greater than zero'); END IF;
  -- choice: decimals are judged by value (1.230 CNY is 1.23), nothing is rounded
  IF round(amount, e) <> amount THEN PERFORM model.fail('22023', name || ' has too many decimals'); END IF;
  IF amount * (10::numeric ^ e) > 10::numeric ^ 15 THEN PERFORM model.fail('22023', name || ' is too large'); END IF;
  RETURN (amount * (10::numeric ^ e))::bigint;
END $$;

CREATE FUNCTION model.major(m bigint, e int) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS $$ SELECT round(m::numeric / (10::numeric ^ e), e) $$;

CREATE FUNCTION model.check_scene(scene text) RETURNS void
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF scene IS NOT NULL AND scene !~ '^[A-Za-z0-9_.:-]{1,64}$' THEN
    PERFORM model.fail('22023', 'bad scene');
  END IF;
END $$;

-- policy: a currency's policy, section 9 defaults where it has no row.
CREATE FUNCTION model.policy(cur text, OUT refund_window interval, OUT refund_fee_rate numeric,
                             OUT auto_max numeric, OUT max_refunds int, OUT commission_rate numeric)
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(p.refund_window, interval '30 days'), coalesce(p.refund_fee_rate, 0),
         coalesce(p.refund_auto_approve_max, 0), coalesce(p.max_refunds_per_30_days, 3),
         coalesce(p.commission_rate, 0)
    FROM (SELECT cur AS c) x LEFT JOIN wallet.policy p ON p.currency = x.c
$$;

CREATE FUNCTION model.get_wallet(p_wid bigint) RETURNS model.wallet
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
BEGIN
  IF p_wid IS NULL THEN PERFORM model.fail('22023', 'wallet_id is null'); END IF;
  SELECT * INTO w FROM model.wallet WHERE wid = p_wid;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such wallet'); END IF;
  RETURN w;
END $$;

-- replay: the stored result of this key, NULL if unused, WL003 if used otherwise.
CREATE FUNCTION model.replay(p_wid bigint, p_key text, p_kind text, p_req jsonb) RETURNS jsonb
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  t model.txn;
BEGIN
  SELECT * INTO t FROM model.txn WHERE wid = p_wid AND key = p_key;
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF t.kind <> p_kind OR t.req <> p_req THEN
    PERFORM model.fail('WL003', 'idempotency key reused with different arguments');
  END IF;
  RETURN t.result;
END $$;

CREATE FUNCTION model.new_txn(p_wid bigint, p_kind text, p_key text, p_req jsonb) RETURNS bigint
  LANGUAGE sql AS $$
  INSERT INTO model.txn (wid, kind, key, req) VALUES (p_wid, p_kind, p_key, p_req) RETURNING tid
$$;

-- bonus_live: a bonus lot has not expired (section 2: expired bonus is never
-- counted nor spent, whether or not the sweep has run)
CREATE FUNCTION model.bonus_live(l model.lot) RETURNS boolean
  LANGUAGE sql STABLE AS $$
  SELECT l.bucket = 'bonus' AND (l.expires_at IS NULL OR l.expires_at > model.clock_now())
$$;
-- usable: a lot can pay in this scene now: cash and earnings always; bonus if
-- live and unscoped or scoped to the scene (a NULL scene: unscoped bonus only)
CREATE FUNCTION model.usable(l model.lot, scene text) RETURNS boolean
  LANGUAGE sql STABLE AS $$
  SELECT CASE l.bucket
           WHEN 'bonus' THEN model.bonus_live(l) AND (l.scope IS NULL OR coalesce(scene = ANY (l.scope), false))
           ELSE true END
$$;

-- spend_rules: a currency's spend rules (section 15), minor units; 0 is no rule
CREATE FUNCTION model.spend_rules(cur text, e int, OUT x bigint, OUT y bigint, OUT scope text[])
  LANGUAGE sql STABLE AS $$
  SELECT coalesce((p.min_balance_use * 10::numeric ^ e)::bigint, 0),
         coalesce((p.use_all_below * 10::numeric ^ e)::bigint, 0), p.earnings_scope
    FROM (SELECT cur AS c) q LEFT JOIN wallet.policy p ON p.currency = q.c
$$;
-- pays_with: a lot may pay in this scene: usable, and earnings only where the scope lets them
CREATE FUNCTION model.pays_with(l model.lot, scene text, scope text[]) RETURNS boolean
  LANGUAGE sql STABLE AS $$
  SELECT model.usable(l, scene) AND (l.bucket <> 'earnings' OR scope IS NULL OR coalesce(scene = ANY (scope), false))
$$;
-- rule_check: WL008 when a payment of c of an order n with a available breaks a rule
CREATE FUNCTION model.rule_check(n bigint, a bigint, c bigint, x bigint, y bigint) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  IF x > 0 AND c <> a AND c < least(x, n) THEN PERFORM model.fail('WL008', 'min_balance_use'); END IF;
  IF y > 0 AND a < y AND c > 0 AND c <> a THEN PERFORM model.fail('WL008', 'use_all_below'); END IF;
END $$;

------------------------------------------------------------------------------
-- Wallets
------------------------------------------------------------------------------
CREATE FUNCTION model.open(p_owner text, p_currency text DEFAULT 'CNY') RETURNS bigint
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  e int;
  id bigint;
BEGIN
  PERFORM model.text_arg(p_owner, 'owner', 256, true);
  PERFORM model.text_arg(p_currency, 'currency', 3, true);
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = p_currency;
  IF NOT FOUND THEN PERFORM model.fail('22023', 'unknown currency'); END IF;
  SELECT wid INTO id FROM model.wallet WHERE owner = p_owner AND currency = p_currency;
  IF NOT FOUND THEN
    INSERT INTO model.wallet (owner, currency, e) VALUES (p_owner, p_currency, e) RETURNING wid INTO id;
    -- a new wallet gets the coupons of the templates issued on open
    PERFORM model.auto_issue(id, 'open', NULL, NULL);
  END IF;
  RETURN id;
END $$;

CREATE FUNCTION model.balance(p_wid bigint, p_scene text DEFAULT NULL)
  RETURNS TABLE (wallet_id bigint, currency text, cash numeric, bonus numeric, earnings numeric,
                 held numeric, available numeric, withdrawable numeric, frozen boolean, debt numeric)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
  c bigint;
  b bigint;
  er bigint;
  h bigint;
BEGIN
  SELECT coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'cash'), 0),
         coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'bonus' AND model.usable(l, p_scene)), 0),
         coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'earnings'), 0)
    INTO c, b, er FROM model.lot l WHERE l.wid = w.wid AND l.amount > 0;
  -- held: what open refunds reserve (amount + clawback of bonus and coupons + the top-up's bonus)
  SELECT coalesce(sum(r.amount + r.clawback + r.coupon_clawback + r.bonus_void), 0) INTO h
    FROM model.refund r WHERE r.wid = w.wid AND r.status IN ('pending', 'approved');
  -- and what open withdrawals reserve (section 16: held at once, until settled or rejected)
  SELECT h + coalesce(sum(d.amount), 0) INTO h
    FROM model.withdrawal d WHERE d.wid = w.wid AND d.status IN ('pending', 'approved');
  -- and what open holds reserve; a hold past its time reserves nothing: its pieces count
  -- where they go back
  SELECT h + hs.held, c + hs.back_cash, b + hs.back_bonus, er + hs.back_earnings INTO h, c, b, er
    FROM model.hold_sums(w.wid, p_scene) hs;
  RETURN QUERY SELECT w.wid, w.currency, model.major(c, w.e), model.major(b, w.e), model.major(er, w.e),
    model.major(h, w.e), model.major(c + b + er, w.e),
    -- choice: a wallet in debt can withdraw nothing (section 5: no withdrawal while in debt)
    model.major(CASE WHEN w.debt > 0 THEN 0 ELSE er END, w.e), w.frozen, model.major(w.debt, w.e);
END $$;

CREATE FUNCTION model.freeze(p_wid bigint, p_reason text) RETURNS void
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
BEGIN
  PERFORM model.text_arg(p_reason, 'reason', 1000, true);
  UPDATE model.wallet SET frozen = true WHERE wid = w.wid;
END $$;

CREATE FUNCTION model.unfreeze(p_wid bigint) RETURNS void
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
BEGIN
  UPDATE model.wallet SET frozen = false WHERE wid = w.wid;
END $$;

------------------------------------------------------------------------------
-- Top-up (section 4)
------------------------------------------------------------------------------
CREATE FUNCTION model.top_up(p_wid bigint, p_amount numeric, p_key text, p_method text DEFAULT NULL,
                             p_external_ref text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, bonus numeric, replayed boolean, coupons text[])
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  clk timestamptz := model.clock_now();
  amt bigint;
  req jsonb;
  prior jsonb;
  v_tid bigint;
  cash_lot bigint;
  r record;
  b bigint;
  total bigint := 0;
  fee numeric := 0;
  pol record;
  codes text[];
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  w := model.get_wallet(p_wid);
  amt := model.minor(p_amount, w.e, 'amount');
  PERFORM model.text_arg(p_method, 'method', 64, false);
  PERFORM model.text_arg(p_external_ref, 'external_ref', 200, false);
  req := jsonb_build_object('amount', amt, 'method', p_method, 'external_ref', p_external_ref);
  prior := model.replay(w.wid, p_key, 'top_up', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, model.major((prior->>'bonus')::bigint, w.e), true,
      ARRAY(SELECT jsonb_array_elements_text(prior->'coupons'));
    RETURN;
  END IF;
  -- a frozen wallet still accepts top-ups
  pol := model.policy(w.currency);
  v_tid := model.new_txn(w.wid, 'top_up', p_key, req);
  INSERT INTO model.lot (wid, bucket, amount, topup, granted_at, refundable_until)
  VALUES (w.wid, 'cash', amt, v_tid, clk, clk + pol.refund_window) RETURNING lot_id INTO cash_lot;
  -- per group (campaign, NULL = base), the active rule with the greatest min_amount <= amount
  FOR r IN SELECT DISTINCT ON (br.campaign) br.*
             FROM wallet.bonus_rule br
            WHERE br.currency = w.currency
              AND (br.starts_at IS NULL OR br.starts_at <= clk)
              AND (br.ends_at IS NULL OR br.ends_at > clk)
              AND br.min_amount * (10::numeric ^ w.e) <= amt
            ORDER BY br.campaign NULLS FIRST, br.min_amount DESC, br.rule_id LOOP
    b := round(r.bonus_fixed * (10::numeric ^ w.e) + amt * r.bonus_rate);
    IF r.max_bonus IS NOT NULL THEN
      b := least(b, round(r.max_bonus * (10::numeric ^ w.e)));
    END IF;
    CONTINUE WHEN b <= 0;
    INSERT INTO model.lot (wid, bucket, amount, topup, granted_at, expires_at, scope)
    VALUES (w.wid, 'bonus', b, v_tid, clk, clk + r.valid_for, r.scope);
    total := total + b;
    -- choice: a top-up is a campaign top-up when a campaign group gave it bonus
    IF r.campaign IS NOT NULL THEN
      fee := greatest(fee, coalesce(r.refund_fee_rate, 0));
    END IF;
  END LOOP;
  INSERT INTO model.topup (tid, wid, amount, bonus, campaign_fee, refundable_until, cash_lot)
  VALUES (v_tid, w.wid, amt, total, fee, clk + pol.refund_window, cash_lot);
  -- coupons of the templates issued on a top-up of at least issue_min_top_up
  codes := model.auto_issue(w.wid, 'top_up', amt, v_tid);
  UPDATE model.txn SET result = jsonb_build_object('txn_id', v_tid, 'bonus', total, 'coupons', to_jsonb(codes))
   WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, model.major(total, w.e), false, codes;
END $$;

------------------------------------------------------------------------------
-- Spend (section 5)
------------------------------------------------------------------------------
CREATE FUNCTION model.spend(p_wid bigint, p_amount numeric, p_key text, p_scene text DEFAULT NULL,
                            p_coupon text DEFAULT NULL, p_partial boolean DEFAULT false,
                            p_payee bigint DEFAULT NULL, p_order_ref text DEFAULT NULL,
                            step_up text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, charged numeric, discount numeric, bonus_used numeric, cash_used numeric,
                 earnings_used numeric, shortfall numeric, replayed boolean, points numeric)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  p model.wallet;
  rw record;
  clk timestamptz := model.clock_now();
  amt bigint;
  req jsonb;
  prior jsonb;
  v_tid bigint;
  avail bigint;
  need bigint;
  take bigint;
  seq int := 0;
  l model.lot;
  used jsonb := jsonb_build_object('bonus', 0, 'cash', 0, 'earnings', 0);
  chg bigint;
  comm bigint := 0;
  repay bigint;
  res jsonb;
  cc record;
  disc bigint := 0;
  sr record;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  w := model.get_wallet(p_wid);
  amt := model.minor(p_amount, w.e, 'amount');
  PERFORM model.check_scene(p_scene);
  PERFORM model.text_arg(p_coupon, 'coupon', 64, false);
  PERFORM model.text_arg(p_order_ref, 'order_ref', 200, false);
  IF p_partial IS NULL THEN PERFORM model.fail('22023', 'allow_partial is null'); END IF;
  req := jsonb_build_object('amount', amt, 'scene', p_scene, 'coupon', p_coupon, 'allow_partial', p_partial,
                            'payee', p_payee, 'order_ref', p_order_ref);
  prior := model.replay(w.wid, p_key, 'spend', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, model.major((prior->>'charged')::bigint, w.e),
      model.major((prior->>'discount')::bigint, w.e), model.major((prior->>'bonus_used')::bigint, w.e),
      model.major((prior->>'cash_used')::bigint, w.e), model.major((prior->>'earnings_used')::bigint, w.e),
      model.major((prior->>'shortfall')::bigint, w.e), true,
      model.major(coalesce((prior->>'points')::bigint, 0), coalesce((prior->>'points_e')::int, 0));
    RETURN;
  END IF;
  -- choice (order of refusals): frozen, then payee, then coupon, then funds
  IF w.frozen THEN PERFORM model.fail('WL002', 'wallet frozen'); END IF;
  IF p_payee IS NOT NULL THEN
    SELECT * INTO p FROM model.wallet WHERE wid = p_payee;
    IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such payee'); END IF;
    IF p.currency <> w.currency THEN PERFORM model.fail('22023', 'payee of another currency'); END IF;
    IF p.wid = w.wid THEN PERFORM model.fail('22023', 'payee is the payer'); END IF;
  END IF;
  -- a coupon takes its discount off the order first; the rest is charged
  IF p_coupon IS NOT NULL THEN
    cc := model.coupon_check(p_coupon, w, amt, p_scene);
    IF NOT cc.valid THEN PERFORM model.fail('WL005', 'coupon not valid: ' || cc.reason); END IF;
    disc := cc.discount;
  END IF;

  -- holds past their time are given back first
  PERFORM model.give_back_due(w.wid);
  sr := model.spend_rules(w.currency, w.e);
  SELECT coalesce(sum(x.amount), 0) INTO avail FROM model.lot x
   WHERE x.wid = w.wid AND x.amount > 0 AND model.pays_with(x, p_scene, sr.scope);
  IF avail < amt - disc AND NOT p_partial THEN PERFORM model.fail('WL001', 'insufficient funds'); END IF;
  -- section 15: what the wallet would pay against what it has
  PERFORM model.rule_check(amt - disc, avail, least(avail, amt - disc), sr.x, sr.y);
  -- section 20: what it charges is judged last (a split payment's too, without a grant)
  PERFORM model.lim_judge(w.wid, 'spend', least(avail, amt - disc), step_up);

  v_tid := model.new_txn(w.wid, 'spend', p_key, req);
  IF p_coupon IS NOT NULL THEN
    UPDATE model.coupon SET redeemed_txn = v_tid, discount = disc WHERE code = cc.canonical;
  END IF;
  need := amt - disc;
  -- spending order: usable bonus by soonest expiry (none last), oldest grant;
  -- then cash oldest first; then earnings oldest first (lot id breaks ties)
  FOR l IN SELECT * FROM model.lot x
            WHERE x.wid = w.wid AND x.amount > 0 AND model.pays_with(x, p_scene, sr.scope)
            ORDER BY CASE x.bucket WHEN 'bonus' THEN 0 WHEN 'cash' THEN 1 ELSE 2 END,
                     x.expires_at ASC NULLS LAST, x.granted_at, x.lot_id LOOP
    EXIT WHEN need = 0;
    take := least(need, l.amount);
    need := need - take;
    seq := seq + 1;
    UPDATE model.lot SET amount = amount - take WHERE lot_id = l.lot_id;
    INSERT INTO model.piece (spend_tid, seq, lot_id, bucket, taken) VALUES (v_tid, seq, l.lot_id, l.bucket, take);
    used := jsonb_set(used, ARRAY[l.bucket], to_jsonb((used->>l.bucket)::bigint + take));
    IF l.bucket = 'bonus' THEN
      UPDATE model.topup SET spent = spent + take WHERE model.topup.tid = l.topup;
    END IF;
  END LOOP;
  chg := amt - disc - need;

  IF p_payee IS NOT NULL THEN
    comm := round(chg * (model.policy(p.currency)).commission_rate);
    -- a credit to a payee in debt repays the debt first (section 5); the rest is earnings
    repay := least(p.debt, chg - comm);
    UPDATE model.wallet SET debt = debt - repay WHERE wid = p.wid;
    IF chg - comm - repay > 0 THEN
      INSERT INTO model.lot (wid, bucket, amount, granted_at) VALUES (p.wid, 'earnings', chg - comm - repay, clk);
    END IF;
  END IF;
  INSERT INTO model.spend (tid, wid, charged, bonus_used, cash_used, earnings_used, payee, payee_credit, discount)
  VALUES (v_tid, w.wid, chg, (used->>'bonus')::bigint, (used->>'cash')::bigint, (used->>'earnings')::bigint,
          p_payee, CASE WHEN p_payee IS NULL THEN 0 ELSE chg - comm END, disc);
  -- reward points for what was charged (section 18)
  rw := model.reward(w, p_scene, chg, v_tid);
  res := jsonb_build_object('txn_id', v_tid, 'charged', chg, 'discount', disc, 'bonus_used', (used->>'bonus')::bigint,
                            'cash_used', (used->>'cash')::bigint, 'earnings_used', (used->>'earnings')::bigint,
                            'shortfall', need, 'points', rw.points, 'points_e', rw.e);
  UPDATE model.txn SET result = res WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, model.major(chg, w.e), model.major(disc, w.e), model.major((used->>'bonus')::bigint, w.e),
    model.major((used->>'cash')::bigint, w.e), model.major((used->>'earnings')::bigint, w.e),
    model.major(need, w.e), false, model.major(rw.points, rw.e);
END $$;

-- open_refund: the pending or approved refund of a top-up, if any.
CREATE FUNCTION model.open_refund(p_topup bigint) RETURNS model.refund
  LANGUAGE sql STABLE AS $$
  SELECT * FROM model.refund WHERE topup = p_topup AND status IN ('pending', 'approved')
$$;

CREATE FUNCTION model.reverse_spend(p_spend bigint, p_key text, p_amount numeric DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, bonus_returned numeric, cash_returned numeric, earnings_returned numeric,
                 replayed boolean, bonus_written_off numeric, bonus_to_cash numeric, coupon_restored boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  sp model.spend;
  w model.wallet;
  pw model.wallet;
  clk timestamptz := model.clock_now();
  x bigint;
  req jsonb;
  prior jsonb;
  v_tid bigint;
  lft bigint;
  sb bigint;
  sc bigint;
  se bigint;
  over bigint;
  t bigint;
  pb bigint := 0;
  pe bigint;
  need bigint;
  pc record;
  bp record;
  l model.lot;
  tp model.topup;
  rf model.refund;
  give bigint;
  share bigint;
  conv bigint;
  rest bigint;
  written_off bigint := 0;
  to_cash bigint := 0;
  restored boolean := false;
  pt bigint := 0;
  res jsonb;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_spend IS NULL THEN PERFORM model.fail('22023', 'spend_txn_id is null'); END IF;
  SELECT * INTO sp FROM model.spend WHERE tid = p_spend;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such spend'); END IF;
  w := model.get_wallet(sp.wid);
  IF p_amount IS NOT NULL THEN x := model.minor(p_amount, w.e, 'amount'); END IF;
  req := jsonb_build_object('spend', sp.tid, 'amount', x);
  prior := model.replay(w.wid, p_key, 'reverse_spend', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, model.major((prior->>'bonus')::bigint, w.e),
      model.major((prior->>'cash')::bigint, w.e), model.major((prior->>'earnings')::bigint, w.e), true,
      model.major((prior->>'written_off')::bigint, w.e), model.major((prior->>'to_cash')::bigint, w.e),
      (prior->>'coupon_restored')::boolean;
    RETURN;
  END IF;
  -- a reversal credits the customer: allowed on a frozen wallet
  lft := sp.charged - sp.reversed;
  IF x IS NULL THEN
    x := lft;
    -- choice: "all of it" when nothing is left is asking for more than is left,
    -- except the first reversal of a spend a coupon paid in full (charged 0):
    -- it is that spend's full reversal and gives the coupon back
    IF x <= 0 AND NOT (sp.discount > 0 AND sp.reversals = 0) THEN
      PERFORM model.fail('WL008', 'nothing left to reverse');
    END IF;
  ELSIF x > lft THEN
    PERFORM model.fail('WL008', 'reversal exceeds what is left');
  END IF;

  -- shares: bonus and earnings round down, cash the rest; no bucket gets back
  -- more than it has left to get back; cash overflow goes to earnings, then bonus
  IF x = 0 THEN
    sb := 0;
    se := 0;
  ELSE
    sb := least(floor(x::numeric * sp.bonus_used / sp.charged)::bigint, sp.bonus_used - sp.ret_bonus);
    se := least(floor(x::numeric * sp.earnings_used / sp.charged)::bigint, sp.earnings_used - sp.ret_earnings);
  END IF;
  sc := x - sb - se;
  IF sc > sp.cash_used - sp.ret_cash THEN
    over := sc - (sp.cash_used - sp.ret_cash);
    sc := sp.cash_used - sp.ret_cash;
    t := least(over, sp.earnings_used - sp.ret_earnings - se);
    se := se + t;
    over := over - t;
    sb := sb + over;
  END IF;
  IF sb > sp.bonus_used - sp.ret_bonus OR sc < 0 THEN
    PERFORM model.fail('XX000', 'model: reversal split out of range');
  END IF;

  -- bonus of a top-up whose refund is open (pending or approved) cannot come
  -- back: walk the bonus pieces the split would give back (reverse spending
  -- order, as below) and refuse if any is of such a top-up; its cash and
  -- earnings pieces are not affected
  share := sb;
  FOR bp IN SELECT pi.*, bl.topup FROM model.piece pi JOIN model.lot bl ON bl.lot_id = pi.lot_id
             WHERE pi.spend_tid = sp.tid AND pi.bucket = 'bonus' AND pi.taken > pi.returned
             ORDER BY pi.seq DESC LOOP
    EXIT WHEN share = 0;
    give := least(share, bp.taken - bp.returned);
    share := share - give;
    rf := model.open_refund(bp.topup);
    IF rf.rid IS NOT NULL AND rf.wid = w.wid THEN
      PERFORM model.fail('WL008', format('a refund of top-up %s is in progress', bp.topup));
    END IF;
  END LOOP;

  -- the payee gives back its credit in the same proportion: after the
  -- reversal, round(credit * reversed / charged) of it has gone back (no rule
  -- says otherwise, so half away from zero, section 1)
  IF sp.payee IS NOT NULL AND sp.charged > 0 THEN
    pb := round(sp.payee_credit::numeric * (sp.reversed + x) / sp.charged)::bigint - sp.payee_back;
    IF pb > 0 THEN
      PERFORM model.take_back(sp.payee, pb);
    END IF;
  END IF;
  -- a split payment (section 17): every payee gives back in the same proportion.
  -- choice: x is split over what each payee has left unreversed of its part, largest
  -- remainder first (the payee named first on a tie), and each gives back of its
  -- credit as a spend's one payee does for its part (rounded on the running total)
  IF EXISTS (SELECT 1 FROM model.split_part WHERE spend_tid = sp.tid) THEN
    FOR pc IN SELECT q.*, s.x AS xs
                FROM model.split_part q
                JOIN model.largest_remainder(x, ARRAY(SELECT q2.part - q2.reversed FROM model.split_part q2
                                                       WHERE q2.spend_tid = sp.tid ORDER BY q2.i)) s ON s.i = q.i
               WHERE q.spend_tid = sp.tid ORDER BY q.i LOOP
      CONTINUE WHEN pc.part = 0;
      t := round(pc.credit::numeric * (pc.reversed + pc.xs) / pc.part)::bigint - pc.back;
      IF t > 0 THEN
        PERFORM model.take_back(pc.payee, t);
      END IF;
      UPDATE model.split_part q SET reversed = q.reversed + pc.xs, back = q.back + t
       WHERE q.spend_tid = sp.tid AND q.i = pc.i;
      pb := pb + t;
    END LOOP;
  END IF;
  -- the reward points go back in the same proportion as a payee's credit (section 18: "a
  -- reversal takes back the points in proportion"); choice: rounded as the payee's share, on
  -- the running total, the last reversal taking what is left; what the points wallet spent
  -- already becomes its debt
  IF sp.points > 0 AND x > 0 THEN
    pt := CASE WHEN sp.reversed + x = sp.charged THEN sp.points - sp.points_back
               ELSE round(sp.points::numeric * (sp.reversed + x) / sp.charged)::bigint - sp.points_back END;
    IF pt > 0 THEN
      PERFORM model.take_back_bonus(sp.points_wallet, pt);
    END IF;
  END IF;

  v_tid := model.new_txn(w.wid, 'reverse_spend', p_key, req);
  res := jsonb_build_object('txn_id', v_tid, 'bonus', sb, 'cash', sc, 'earnings', se);
  -- give back to the lots the spend took from, per bucket in reverse spending order
  FOR pc IN SELECT pi.* FROM model.piece pi
             WHERE pi.spend_tid = sp.tid AND pi.taken > pi.returned
             ORDER BY pi.bucket, pi.seq DESC LOOP
    -- what is still to give in this bucket
    share := CASE pc.bucket WHEN 'bonus' THEN sb WHEN 'cash' THEN sc ELSE se END;
    CONTINUE WHEN share = 0;
    give := least(share, pc.taken - pc.returned);
    IF pc.bucket = 'bonus' THEN sb := sb - give;
    ELSIF pc.bucket = 'cash' THEN sc := sc - give;
    ELSE se := se - give; END IF;
    UPDATE model.piece SET returned = returned + give WHERE spend_tid = pc.spend_tid AND seq = pc.seq;
    SELECT * INTO l FROM model.lot WHERE lot_id = pc.lot_id;
    IF pc.bucket <> 'bonus' THEN
      -- cash regains its top-up's refund window: it is the same lot
      UPDATE model.lot SET amount = amount + give WHERE lot_id = l.lot_id;
      CONTINUE;
    END IF;
    SELECT * INTO tp FROM model.topup WHERE model.topup.tid = l.topup;
    UPDATE model.topup SET spent = spent - give WHERE model.topup.tid = tp.tid;
    -- bonus its top-up already paid for through a settled refund's clawback
    -- comes back as that top-up's cash, also after its refund window has
    -- closed (an open refund of the top-up was refused above, so all of
    -- clawed is settled clawback here); points (no top-up) come back as they were
    conv := CASE WHEN tp.tid IS NULL THEN 0 ELSE least(give, tp.clawed) END;
    IF conv > 0 THEN
      UPDATE model.topup SET clawed = clawed - conv WHERE model.topup.tid = tp.tid;
      UPDATE model.lot SET amount = amount + conv WHERE lot_id = tp.cash_lot;
      to_cash := to_cash + conv;
    END IF;
    rest := give - conv;
    IF rest > 0 THEN
      IF NOT model.bonus_live(l) THEN
        written_off := written_off + rest;        -- expired: breakage at once
      ELSE
        UPDATE model.lot SET amount = amount + rest WHERE lot_id = l.lot_id;   -- keeps its expiry
      END IF;
    END IF;
  END LOOP;
  IF sb <> 0 OR sc <> 0 OR se <> 0 THEN
    PERFORM model.fail('XX000', 'model: reversal pieces do not cover the shares');
  END IF;

  -- a coupon whose discount a refund of its top-up clawed back: the customer paid
  -- that discount, so the full reversal gives it back as cash (with no refund
  -- window) and the coupon stays void; while that refund is open: WL008
  SELECT rf2.* INTO rf FROM model.coupon cp JOIN model.refund rf2 ON rf2.rid = cp.clawed_by
   WHERE cp.redeemed_txn = sp.tid;
  IF sp.reversed + x = sp.charged AND sp.discount > 0 AND rf.status IN ('pending', 'approved') THEN
    PERFORM model.fail('WL008', 'a refund clawing back the coupon is in progress');
  ELSIF sp.reversed + x = sp.charged AND sp.discount > 0 AND rf.status = 'succeeded' THEN
    INSERT INTO model.lot (wid, bucket, amount, granted_at) VALUES (w.wid, 'cash', sp.discount, clk);
    UPDATE model.coupon c SET redeemed_txn = NULL, discount = NULL, voided_by = rf.rid
     WHERE c.redeemed_txn = sp.tid;
  -- the full reversal gives the coupon back (and its discount); past its
  -- validity it shows as expired, and is not counted as restored
  ELSIF sp.reversed + x = sp.charged AND sp.discount > 0 THEN
    UPDATE model.coupon c SET redeemed_txn = NULL, discount = NULL WHERE c.redeemed_txn = sp.tid
    RETURNING c.valid_until IS NULL OR c.valid_until > clk INTO restored;
    restored := coalesce(restored, false);
  END IF;
  res := res || jsonb_build_object('written_off', written_off, 'to_cash', to_cash, 'coupon_restored', restored);
  -- section 20: the amount reversed goes back to the period the spend (a capture: its hold) was
  -- counted in; the spend's count when all of it is back (a capture's count is its hold's; a
  -- spend that charged nothing counted nothing)
  PERFORM model.lim_back(w.wid, 'spend', x,
                         CASE WHEN sp.reversed + x = sp.charged AND sp.hold_of IS NULL AND sp.charged > 0
                              THEN 1 ELSE 0 END, sp.made_at);
  UPDATE model.spend s SET reversed = s.reversed + x, payee_back = s.payee_back + pb, reversals = s.reversals + 1,
                           points_back = s.points_back + pt,
                           ret_bonus = s.ret_bonus + (res->>'bonus')::bigint,
                           ret_cash = s.ret_cash + (res->>'cash')::bigint,
                           ret_earnings = s.ret_earnings + (res->>'earnings')::bigint
   WHERE s.tid = sp.tid;
  UPDATE model.txn SET result = res WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, model.major((res->>'bonus')::bigint, w.e), model.major((res->>'cash')::bigint, w.e),
    model.major((res->>'earnings')::bigint, w.e), false, model.major(written_off, w.e), model.major(to_cash, w.e),
    restored;
END $$;

------------------------------------------------------------------------------
-- Refunds (section 6)
------------------------------------------------------------------------------
CREATE FUNCTION model.get_topup(p_topup bigint) RETURNS model.topup
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  tp model.topup;
BEGIN
  IF p_topup IS NULL THEN PERFORM model.fail('22023', 'topup_txn_id is null'); END IF;
  SELECT * INTO tp FROM model.topup WHERE tid = p_topup;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such top-up'); END IF;
  RETURN tp;
END $$;

CREATE FUNCTION model.check_reason(reason text) RETURNS void
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF reason IS NULL OR reason NOT IN ('user', 'platform') THEN
    PERFORM model.fail('22023', 'bad reason');
  END IF;
END $$;

CREATE FUNCTION model.fee_rate(tp model.topup, reason text) RETURNS numeric
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN reason = 'platform' THEN 0
              ELSE (SELECT refund_fee_rate FROM model.policy((SELECT currency FROM model.wallet WHERE wid = tp.wid)))
                   + tp.campaign_fee END
$$;

-- netting: c = the top-up's cash in the wallet, u = its bonus spent and not
-- clawed back, live = its live bonus; open = the refund window is open.
-- u is the bonus part (spent less clawed) plus cu, the discount of the top-up's
-- redeemed coupons no refund has clawed back; coupons is how many of its coupons
-- are still available (a refund voids them)
CREATE FUNCTION model.netting(tp model.topup, OUT open boolean, OUT c bigint, OUT u bigint, OUT live bigint,
                              OUT cu bigint, OUT coupons int)
  LANGUAGE sql STABLE AS $$
  SELECT model.clock_now() < tp.refundable_until,
         (SELECT amount FROM model.lot WHERE lot_id = tp.cash_lot),
         tp.spent - tp.clawed,
         (SELECT coalesce(sum(l.amount), 0) FROM model.lot l
           WHERE l.topup = tp.tid AND l.bucket = 'bonus' AND model.bonus_live(l)),
         (SELECT coalesce(sum(x.discount), 0)::bigint FROM model.coupon x
           WHERE x.topup = tp.tid AND x.redeemed_txn IS NOT NULL AND x.clawed_by IS NULL
             AND x.voided_by IS NULL),
         (SELECT count(*)::int FROM model.coupon x
           WHERE x.topup = tp.tid AND x.voided_by IS NULL AND x.redeemed_txn IS NULL
             AND (x.valid_until IS NULL OR x.valid_until > model.clock_now()))
$$;

CREATE FUNCTION model.refund_quote(p_topup bigint, p_reason text DEFAULT 'user')
  RETURNS TABLE (max_amount numeric, bonus_clawback numeric, bonus_void numeric, fee_rate numeric,
                 refundable_until timestamptz, coupon_clawback numeric, coupons_voided int)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  tp model.topup := model.get_topup(p_topup);
  w model.wallet := model.get_wallet(tp.wid);
  n record;
BEGIN
  PERFORM model.check_reason(p_reason);
  n := model.netting(tp);
  -- choice: with the window closed, or nothing refundable, the quote is all zero
  IF n.open AND n.c - n.u - n.cu > 0 THEN
    RETURN QUERY SELECT model.major(n.c - n.u - n.cu, w.e), model.major(n.u, w.e), model.major(n.live, w.e),
      model.fee_rate(tp, p_reason), tp.refundable_until, model.major(n.cu, w.e), n.coupons;
  ELSE
    RETURN QUERY SELECT model.major(0, w.e), model.major(0, w.e), model.major(0, w.e),
      model.fee_rate(tp, p_reason), tp.refundable_until, model.major(0, w.e), 0;
  END IF;
END $$;

CREATE FUNCTION model.request_refund(p_topup bigint, p_key text, p_amount numeric DEFAULT NULL,
                                     p_reason text DEFAULT 'user', p_note text DEFAULT NULL)
  RETURNS TABLE (refund_id bigint, amount numeric, fee numeric, net numeric, bonus_clawback numeric,
                 bonus_void numeric, status text, replayed boolean, coupon_clawback numeric, coupons_voided int)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  tp model.topup;
  w model.wallet;
  clk timestamptz := model.clock_now();
  pol record;
  amt bigint;
  req jsonb;
  prior jsonb;
  v_tid bigint;
  v_rid bigint;
  recent int;
  n record;
  f bigint;
  v_void bigint;
  st text;
  rr model.refund;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  tp := model.get_topup(p_topup);
  w := model.get_wallet(tp.wid);
  PERFORM model.check_reason(p_reason);
  PERFORM model.text_arg(p_note, 'note', 1000, false);
  IF p_amount IS NOT NULL THEN amt := model.minor(p_amount, w.e, 'amount'); END IF;
  req := jsonb_build_object('topup', tp.tid, 'amount', amt, 'reason', p_reason, 'note', p_note);
  prior := model.replay(w.wid, p_key, 'request_refund', req);
  IF prior IS NOT NULL THEN
    -- the first result, with the status it had then
    SELECT * INTO rr FROM model.refund r WHERE r.rid = (prior->>'refund_id')::bigint;
    RETURN QUERY SELECT rr.rid, model.major(rr.amount, w.e), model.major(rr.fee, w.e), model.major(rr.net, w.e),
      model.major(rr.clawback, w.e), model.major(rr.bonus_void, w.e), prior->>'status', true,
      model.major(rr.coupon_clawback, w.e), rr.coupons_voided;
    RETURN;
  END IF;
  IF w.frozen THEN PERFORM model.fail('WL002', 'wallet frozen'); END IF;
  pol := model.policy(w.currency);

  -- section 6: the request is validated (state, window, amount) before the limit
  -- counts it; an invalid request is an error, never a rejected refund
  IF (model.open_refund(tp.tid)).rid IS NOT NULL THEN
    PERFORM model.fail('WL008', 'a refund of this top-up is open');
  END IF;
  -- holds past their time are given back first; one still open on this top-up's bonus
  -- makes the refund wait (choice of the extension, section 14 being silent)
  PERFORM model.give_back_due(w.wid);
  tp := model.get_topup(tp.tid);     -- the give-back may have changed its netting state
  IF EXISTS (SELECT 1 FROM model.hold h JOIN model.hold_piece hp ON hp.hid = h.hid
               JOIN model.lot l ON l.lot_id = hp.lot_id
              WHERE h.wid = w.wid AND h.status = 'open' AND hp.bucket = 'bonus' AND hp.reserved > 0
                AND l.topup = tp.tid) THEN
    PERFORM model.fail('WL008', 'a hold reserves bonus of this top-up');
  END IF;
  n := model.netting(tp);
  IF NOT n.open THEN PERFORM model.fail('WL004', 'refund window closed'); END IF;
  IF n.c - n.u - n.cu <= 0 THEN PERFORM model.fail('WL004', 'nothing refundable'); END IF;
  IF amt > n.c - n.u - n.cu THEN
    PERFORM model.fail('WL004', 'amount above what is refundable');
  END IF;

  -- beyond the per-wallet limit: recorded as rejected, no money moves
  SELECT count(*) INTO recent FROM model.refund r
   WHERE r.wid = w.wid AND NOT r.by_limit
     AND r.requested_at > clk - interval '30 days' AND r.requested_at <= clk;
  IF recent >= pol.max_refunds THEN
    v_tid := model.new_txn(w.wid, 'request_refund', p_key, req);
    INSERT INTO model.refund (wid, topup, amount, fee, net, clawback, bonus_void, status, requested_at, by_limit)
    VALUES (w.wid, tp.tid, coalesce(amt, 0), 0, 0, 0, 0, 'rejected', clk, true) RETURNING model.refund.rid INTO v_rid;
    -- and flagged (section 20: flags_to_freeze flags in 30 days freeze the wallet)
    PERFORM model.flag(w.wid, 'refund_limit');
    UPDATE model.txn SET result = jsonb_build_object('refund_id', v_rid, 'status', 'rejected') WHERE model.txn.tid = v_tid;
    RETURN QUERY SELECT v_rid, model.major(coalesce(amt, 0), w.e), model.major(0, w.e), model.major(0, w.e),
      model.major(0, w.e), model.major(0, w.e), 'rejected'::text, false, model.major(0, w.e), 0;
    RETURN;
  END IF;

  IF amt IS NULL THEN amt := n.c - n.u - n.cu; END IF;

  f := round(amt * model.fee_rate(tp, p_reason));
  -- hold: amount + clawback (bonus and coupons) from the top-up's cash, and its live bonus
  UPDATE model.lot SET amount = amount - (amt + n.u + n.cu) WHERE lot_id = tp.cash_lot;
  UPDATE model.topup SET clawed = clawed + n.u WHERE model.topup.tid = tp.tid;
  SELECT coalesce(sum(l.amount), 0) INTO v_void FROM model.lot l
   WHERE l.topup = tp.tid AND l.bucket = 'bonus' AND model.bonus_live(l);
  UPDATE model.lot l SET held = l.held + l.amount, amount = 0
   WHERE l.topup = tp.tid AND l.bucket = 'bonus' AND model.bonus_live(l) AND l.amount > 0;
  st := CASE WHEN amt - f <= pol.auto_max * (10::numeric ^ w.e) THEN 'approved' ELSE 'pending' END;
  v_tid := model.new_txn(w.wid, 'request_refund', p_key, req);
  INSERT INTO model.refund (wid, topup, amount, fee, net, clawback, bonus_void, status, requested_at,
                            coupon_clawback, coupons_voided)
  VALUES (w.wid, tp.tid, amt, f, amt - f, n.u, v_void, st, clk, n.cu, n.coupons)
  RETURNING model.refund.rid INTO v_rid;
  -- the top-up's coupons: the available ones are voided, the redeemed ones' discount clawed back
  UPDATE model.coupon x SET voided_by = v_rid WHERE x.topup = tp.tid AND model.coupon_status(x) = 'available';
  UPDATE model.coupon x SET clawed_by = v_rid
   WHERE x.topup = tp.tid AND x.redeemed_txn IS NOT NULL AND x.clawed_by IS NULL AND x.voided_by IS NULL;
  UPDATE model.txn SET result = jsonb_build_object('refund_id', v_rid, 'status', st) WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_rid, model.major(amt, w.e), model.major(f, w.e), model.major(amt - f, w.e),
    model.major(n.u, w.e), model.major(v_void, w.e), st, false, model.major(n.cu, w.e), n.coupons;
END $$;

-- release: a rejected or failed refund gives everything back.
CREATE FUNCTION model.refund_release(r model.refund) RETURNS void
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  tp model.topup;
BEGIN
  SELECT * INTO tp FROM model.topup WHERE tid = r.topup;
  -- cash back to the top-up's lot (no reversal can have turned any of the
  -- clawback into cash while the refund was open: that is WL008)
  UPDATE model.lot SET amount = amount + r.amount + r.clawback + r.coupon_clawback WHERE lot_id = tp.cash_lot;
  UPDATE model.topup SET clawed = clawed - r.clawback WHERE tid = tp.tid;
  -- choice: the coupons it voided come back (past their validity they show as expired),
  -- and the discount it clawed back is owed again
  UPDATE model.coupon SET voided_by = NULL WHERE voided_by = r.rid;
  UPDATE model.coupon SET clawed_by = NULL WHERE clawed_by = r.rid;
  -- the held bonus goes back to its lots (still with its expiry)
  UPDATE model.lot SET amount = amount + held, held = 0 WHERE topup = tp.tid AND bucket = 'bonus' AND held > 0;
END $$;

-- settle: a succeeded refund is final; the held bonus is void.
CREATE FUNCTION model.refund_final(r model.refund) RETURNS void
  LANGUAGE sql AS $$
  UPDATE model.lot SET held = 0 WHERE topup = r.topup AND bucket = 'bonus' AND held > 0
$$;

CREATE FUNCTION model.get_refund(p_rid bigint) RETURNS model.refund
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  r model.refund;
BEGIN
  SELECT * INTO r FROM model.refund WHERE rid = p_rid;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such refund'); END IF;
  RETURN r;
END $$;

CREATE FUNCTION model.review_refund(p_rid bigint, p_approve boolean, p_reviewer text, p_note text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  r model.refund;
BEGIN
  IF p_rid IS NULL THEN PERFORM model.fail('22023', 'refund_id is null'); END IF;
  IF p_approve IS NULL THEN PERFORM model.fail('22023', 'approve is null'); END IF;
  PERFORM model.text_arg(p_reviewer, 'reviewer', 200, true);
  PERFORM model.text_arg(p_note, 'note', 1000, false);
  r := model.get_refund(p_rid);
  IF r.status = 'pending' THEN
    IF p_approve THEN
      UPDATE model.refund SET status = 'approved' WHERE rid = r.rid;
      RETURN 'approved';
    END IF;
    PERFORM model.refund_release(r);
    UPDATE model.refund SET status = 'rejected' WHERE rid = r.rid;
    RETURN 'rejected';
  END IF;
  -- repeating a transition already made returns the status
  IF p_approve AND r.status IN ('approved', 'succeeded', 'failed') THEN RETURN r.status; END IF;
  IF NOT p_approve AND r.status = 'rejected' THEN RETURN r.status; END IF;
  PERFORM model.fail('WL008', 'conflicting review');
  RETURN NULL;
END $$;

CREATE FUNCTION model.settle_refund(p_rid bigint, p_succeeded boolean, p_gateway_ref text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  r model.refund;
  target text;
BEGIN
  IF p_rid IS NULL THEN PERFORM model.fail('22023', 'refund_id is null'); END IF;
  IF p_succeeded IS NULL THEN PERFORM model.fail('22023', 'succeeded is null'); END IF;
  PERFORM model.text_arg(p_gateway_ref, 'gateway_ref', 200, false);
  r := model.get_refund(p_rid);
  target := CASE WHEN p_succeeded THEN 'succeeded' ELSE 'failed' END;
  IF r.status = target THEN RETURN target; END IF;
  IF r.status <> 'approved' THEN PERFORM model.fail('WL008', 'only an approved refund settles'); END IF;
  IF p_succeeded THEN
    PERFORM model.refund_final(r);
  ELSE
    PERFORM model.refund_release(r);
  END IF;
  UPDATE model.refund SET status = target WHERE rid = r.rid;
  RETURN target;
END $$;

------------------------------------------------------------------------------
-- Expiry (section 7)
------------------------------------------------------------------------------
CREATE FUNCTION model.expire_bonus(p_batch int DEFAULT 10000)
  RETURNS TABLE (wallets int, lots int)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  nw int;
  nl int;
BEGIN
  IF p_batch IS NULL OR p_batch < 1 THEN PERFORM model.fail('22023', 'bad batch size'); END IF;
  SELECT count(DISTINCT wid), count(*) INTO nw, nl FROM model.lot l
   WHERE l.bucket = 'bonus' AND l.amount > 0 AND NOT model.bonus_live(l);
  UPDATE model.lot l SET amount = 0 WHERE l.bucket = 'bonus' AND l.amount > 0 AND NOT model.bonus_live(l);
  RETURN QUERY SELECT nw, nl;
END $$;

------------------------------------------------------------------------------
-- Coupons (section 10)
------------------------------------------------------------------------------
-- code_canonical: a well-formed code in canonical form (upper case, three
-- groups of six), NULL when it is mistyped. The format: 17 symbols and a check
-- symbol from the 31 symbols below (no look-alikes); the check symbol makes
-- the position-weighted sum (weights 1..17) plus itself 0 mod 31. Hyphens and
-- spaces are ignored, lower case letters read as upper case.
CREATE FUNCTION model.code_canonical(code text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  alpha constant text := '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
  s text := translate(code, 'abcdefghijklmnopqrstuvwxyz- ', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
  v int;
  total int := 0;
BEGIN
  IF s IS NULL OR length(s) <> 18 THEN RETURN NULL; END IF;
  FOR i IN 1..18 LOOP
    v := strpos(alpha, substr(s, i, 1)) - 1;
    IF v < 0 THEN RETURN NULL; END IF;
    IF i < 18 THEN total := total + i * v; ELSE total := total + v; END IF;
  END LOOP;
  IF total % 31 <> 0 THEN RETURN NULL; END IF;
  RETURN substr(s, 1, 6) || '-' || substr(s, 7, 6) || '-' || substr(s, 13, 6);
END $$;

-- next_code: the code the next issued coupon gets (see the header)
CREATE FUNCTION model.next_code() RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  s model.code_supply;
BEGIN
  SELECT * INTO s FROM model.code_supply ORDER BY n LIMIT 1;
  IF NOT FOUND THEN
    RETURN 'NO-CODE-SUPPLIED-' || ((SELECT count(*) FROM model.coupon) + 1);
  END IF;
  DELETE FROM model.code_supply WHERE n = s.n;
  RETURN s.code;
END $$;

-- coupon_status: a coupon's status now
CREATE FUNCTION model.coupon_status(c model.coupon) RETURNS text
  LANGUAGE sql STABLE AS $$
  -- choice: a coupon not valid yet is 'available' (the contract has no status for it)
  SELECT CASE WHEN c.voided_by IS NOT NULL THEN 'voided'
              WHEN c.redeemed_txn IS NOT NULL THEN 'redeemed'
              WHEN c.valid_until <= model.clock_now() THEN 'expired'
              ELSE 'available' END
$$;

-- issue: one coupon of template tid to wallet w under key k; the code, the
-- earlier code on a replay, NULL at a limit when quiet (automatic issuance),
-- WL007 at a limit otherwise.
CREATE FUNCTION model.issue(tid text, w model.wallet, k text, quiet boolean) RETURNS text
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  clk timestamptz := model.clock_now();
  req jsonb := jsonb_build_object('template_id', tid);
  prior jsonb;
  t wallet.coupon_template;
  v_code text;
  v_tid bigint;
BEGIN
  prior := model.replay(w.wid, k, 'issue_coupon', req);
  IF prior IS NOT NULL THEN RETURN prior->>'code'; END IF;
  SELECT * INTO t FROM wallet.coupon_template x WHERE x.template_id = tid;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such coupon template'); END IF;
  IF t.currency <> w.currency THEN PERFORM model.fail('22023', 'template of another currency'); END IF;
  -- choice: a template whose validity has ended issues nothing (WL008, as for other closed things)
  IF t.valid_until <= clk THEN PERFORM model.fail('WL008', 'coupon template has expired'); END IF;
  IF (SELECT count(*) FROM model.coupon c WHERE c.wid = w.wid AND c.template_id = tid) >= t.per_wallet_limit
     OR (t.total_limit IS NOT NULL
         AND (SELECT count(*) FROM model.coupon c WHERE c.template_id = tid) >= t.total_limit) THEN
    IF quiet THEN RETURN NULL; END IF;
    PERFORM model.fail('WL007', 'limit exceeded');
  END IF;
  v_code := model.next_code();
  -- valid from the template's valid_from; valid_for counts from when the
  -- coupon becomes valid (choice: issue time, or valid_from if later), never
  -- past the template's valid_until
  INSERT INTO model.coupon (code, template_id, wid, valid_from, valid_until, issued_at)
  VALUES (v_code, tid, w.wid, t.valid_from,
          CASE WHEN t.valid_for IS NULL THEN t.valid_until
               ELSE least(t.valid_until, greatest(clk, t.valid_from) + t.valid_for) END,
          clk);
  v_tid := model.new_txn(w.wid, 'issue_coupon', k, req);
  UPDATE model.txn SET result = jsonb_build_object('code', v_code) WHERE model.txn.tid = v_tid;
  RETURN v_code;
END $$;

-- auto_issue: the templates marked issue_on = event (for a top-up, those
-- whose issue_min_top_up amt reaches), in template id order; a template at a
-- limit or past its validity is skipped. Returns the codes.
CREATE FUNCTION model.auto_issue(p_wid bigint, event text, amt bigint, txn bigint) RETURNS text[]
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
  t record;
  c text;
  codes text[] := '{}';
BEGIN
  FOR t IN SELECT x.template_id FROM wallet.coupon_template x
            WHERE x.issue_on = event AND x.currency = w.currency
              AND (x.valid_until IS NULL OR x.valid_until > model.clock_now())
              AND (event <> 'top_up' OR x.issue_min_top_up IS NULL
                   OR amt >= x.issue_min_top_up * (10::numeric ^ w.e))
            ORDER BY x.template_id LOOP
    c := model.issue(t.template_id, w, event || ':' || coalesce(txn::text, '') || ':' || t.template_id, true);
    IF c IS NOT NULL THEN codes := codes || c; END IF;
    IF c IS NOT NULL AND event = 'top_up' THEN
      UPDATE model.coupon x SET topup = txn WHERE x.code = c;
    END IF;
  END LOOP;
  RETURN codes;
END $$;

CREATE FUNCTION model.issue_coupon(p_template text, p_wid bigint, p_key text) RETURNS text
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  PERFORM model.text_arg(p_template, 'template_id', 64, true);
  RETURN model.issue(p_template, model.get_wallet(p_wid), p_key, false);
END $$;

-- coupon_check: is a code valid for wallet w, an order of amt minor units,
-- in a scene, now? Another wallet's code reads exactly as an unknown one.
-- choice: the reasons are checked in this order and worded like the extension's.
CREATE FUNCTION model.coupon_check(p_code text, w model.wallet, amt bigint, p_scene text,
                                   OUT valid boolean, OUT discount bigint, OUT reason text, OUT canonical text)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  clk timestamptz := model.clock_now();
  c model.coupon;
  t wallet.coupon_template;
  d bigint;
BEGIN
  valid := false;
  discount := 0;
  canonical := model.code_canonical(p_code);
  IF canonical IS NULL THEN reason := 'mistyped'; RETURN; END IF;
  SELECT * INTO c FROM model.coupon x WHERE x.code = canonical AND x.wid = w.wid;
  IF NOT FOUND THEN reason := 'unknown'; RETURN; END IF;
  SELECT * INTO t FROM wallet.coupon_template x WHERE x.template_id = c.template_id;
  IF c.voided_by IS NOT NULL THEN reason := 'voided'; RETURN; END IF;
  IF c.redeemed_txn IS NOT NULL THEN reason := 'already used'; RETURN; END IF;
  IF c.valid_from > clk THEN reason := 'not yet valid'; RETURN; END IF;
  IF c.valid_until <= clk THEN reason := 'expired'; RETURN; END IF;
  IF t.scope IS NOT NULL AND NOT coalesce(p_scene = ANY (t.scope), false) THEN
    reason := 'wrong scene'; RETURN;
  END IF;
  IF amt < t.min_order * (10::numeric ^ w.e) THEN reason := 'below minimum order'; RETURN; END IF;
  IF t.kind = 'amount' THEN
    d := t.value * (10::numeric ^ w.e);
  ELSE
    d := round(amt * t.value / 100);                 -- half away from zero (section 1)
    IF t.max_discount IS NOT NULL THEN d := least(d, t.max_discount * (10::numeric ^ w.e)); END IF;
  END IF;
  valid := true;
  discount := least(d, amt);                         -- never more than the order
END $$;

CREATE FUNCTION model.validate_coupon(p_code text, p_wid bigint, p_order_amount numeric, p_scene text DEFAULT NULL)
  RETURNS TABLE (valid boolean, discount numeric, reason text)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  r record;
BEGIN
  IF p_code IS NULL THEN PERFORM model.fail('22023', 'code is null'); END IF;
  PERFORM model.text_arg(p_code, 'code', 64, false);
  w := model.get_wallet(p_wid);
  PERFORM model.check_scene(p_scene);
  r := model.coupon_check(p_code, w, model.minor(p_order_amount, w.e, 'order_amount'), p_scene);
  RETURN QUERY SELECT r.valid, model.major(r.discount, w.e), r.reason;
END $$;

CREATE FUNCTION model.coupons(p_wid bigint)
  RETURNS TABLE (code text, template_id text, status text, valid_from timestamptz, valid_until timestamptz,
                 redeemed_txn bigint, discount numeric)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
BEGIN
  RETURN QUERY SELECT c.code, c.template_id, model.coupon_status(c), c.valid_from, c.valid_until,
                      c.redeemed_txn, model.major(c.discount, w.e)
                 FROM model.coupon c WHERE c.wid = w.wid ORDER BY c.cid;
END $$;

CREATE VIEW model.coupon_stats AS
  SELECT t.template_id, t.currency, t.kind,
         count(c.code) AS issued,
         count(c.redeemed_txn) AS redeemed,
         count(*) FILTER (WHERE c.code IS NOT NULL AND model.coupon_status(c) = 'expired') AS expired,
         count(*) FILTER (WHERE c.code IS NOT NULL AND model.coupon_status(c) = 'available') AS outstanding,
         model.major(coalesce(sum(c.discount), 0)::bigint, e.exponent) AS total_discount
    FROM wallet.coupon_template t
    JOIN wallet.currency e ON e.code = t.currency
    LEFT JOIN model.coupon c ON c.template_id = t.template_id
   GROUP BY t.template_id, t.currency, t.kind, e.exponent;

------------------------------------------------------------------------------
-- Holds (section 14)
------------------------------------------------------------------------------
-- A hold takes pieces of lots in spending order (the lots lose them, as in a
-- spend, and bonus taken counts as spent by its top-up); a piece keeps what is
-- still reserved. Open until nothing remains; a hold past expires_at reserves
-- nothing (balance counts its pieces where they go back) and is given back by
-- the next spend, hold or refund request of the wallet, or by expire_holds.
CREATE TABLE model.hold (
  hid        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  wid        bigint NOT NULL,
  status     text NOT NULL,
  amount     bigint NOT NULL,
  captured   bigint NOT NULL DEFAULT 0,
  released   bigint NOT NULL DEFAULT 0,
  expires_at timestamptz NOT NULL,
  payee      bigint,
  scene      text
);
CREATE TABLE model.hold_piece (
  hid      bigint NOT NULL,
  seq      int NOT NULL,
  lot_id   bigint NOT NULL,
  bucket   text NOT NULL,
  reserved bigint NOT NULL CHECK (reserved >= 0),
  PRIMARY KEY (hid, seq)
);

-- hold_lapsed: an open hold whose time has passed
CREATE FUNCTION model.hold_lapsed(h model.hold) RETURNS boolean
  LANGUAGE sql STABLE AS $$ SELECT h.status = 'open' AND h.expires_at <= model.clock_now() $$;

-- piece_order: the order a capture takes a hold's pieces in (spending order, a
-- bonus piece's expiry counting even when passed); a release takes the reverse
CREATE FUNCTION model.piece_key(p model.hold_piece) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT CASE p.bucket WHEN 'bonus' THEN '0' WHEN 'cash' THEN '1' ELSE '2' END
         || coalesce(to_char((SELECT l.expires_at FROM model.lot l WHERE l.lot_id = p.lot_id AND p.bucket = 'bonus')
                             AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS'), '99999999999999999999')
         || to_char((SELECT l.granted_at FROM model.lot l WHERE l.lot_id = p.lot_id) AT TIME ZONE 'UTC',
                    'YYYYMMDDHH24MISSUS')
         || lpad(p.lot_id::text, 20, '0')
$$;

-- give_back: amount of hold h's pieces back to their lots, the last in capture order
-- first (choice, as the extension's release); bonus past its expiry is written off
CREATE FUNCTION model.give_back(p_hid bigint, p_amount bigint) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  need bigint := p_amount;
  pc model.hold_piece;
  give bigint;
  l model.lot;
  tp model.topup;
  conv bigint;
BEGIN
  FOR pc IN SELECT * FROM model.hold_piece p WHERE p.hid = p_hid AND p.reserved > 0
             ORDER BY model.piece_key(p) DESC LOOP
    EXIT WHEN need = 0;
    give := least(need, pc.reserved);
    need := need - give;
    UPDATE model.hold_piece SET reserved = reserved - give WHERE hid = pc.hid AND seq = pc.seq;
    SELECT * INTO l FROM model.lot WHERE lot_id = pc.lot_id;
    IF pc.bucket <> 'bonus' THEN
      UPDATE model.lot SET amount = amount + give WHERE lot_id = l.lot_id;
      CONTINUE;
    END IF;
    SELECT * INTO tp FROM model.topup WHERE model.topup.tid = l.topup;
    UPDATE model.topup SET spent = spent - give WHERE model.topup.tid = tp.tid;
    conv := least(give, coalesce(tp.clawed, 0));
    IF conv > 0 THEN
      UPDATE model.topup SET clawed = clawed - conv WHERE model.topup.tid = tp.tid;
      UPDATE model.lot SET amount = amount + conv WHERE lot_id = tp.cash_lot;
    END IF;
    IF give - conv > 0 AND model.bonus_live(l) THEN
      UPDATE model.lot SET amount = amount + (give - conv) WHERE lot_id = l.lot_id;
    END IF;
  END LOOP;
  IF need <> 0 THEN PERFORM model.fail('XX000', 'model: give-back beyond the pieces'); END IF;
END $$;

-- give_back_due: the holds of a wallet past their time, given back and marked expired
CREATE FUNCTION model.give_back_due(p_wid bigint) RETURNS int
  LANGUAGE plpgsql AS $$
DECLARE
  h model.hold;
  n int := 0;
BEGIN
  FOR h IN SELECT * FROM model.hold x WHERE x.wid = p_wid AND model.hold_lapsed(x) ORDER BY x.hid LOOP
    PERFORM model.give_back(h.hid, h.amount - h.captured - h.released);
    PERFORM model.lim_back(h.wid, 'spend', h.amount - h.captured - h.released,
                           CASE WHEN h.captured = 0 THEN 1 ELSE 0 END, h.made_at);
    UPDATE model.hold SET status = 'expired', released = amount - captured WHERE hid = h.hid;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

CREATE FUNCTION model.ttl_ok(ttl interval) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  IF ttl IS NULL OR ttl < interval '1 minute' OR ttl > interval '30 days' THEN
    PERFORM model.fail('22023', 'ttl out of range');
  END IF;
END $$;

CREATE FUNCTION model.hold(p_wid bigint, p_amount numeric, p_key text, p_scene text DEFAULT NULL,
                           p_ttl interval DEFAULT '7 days', p_partial boolean DEFAULT false,
                           p_payee bigint DEFAULT NULL, p_order_ref text DEFAULT NULL,
                           p_max_charge numeric DEFAULT NULL, p_share boolean DEFAULT false,
                           step_up text DEFAULT NULL)
  RETURNS TABLE (hold_id bigint, held numeric, bonus_held numeric, cash_held numeric, earnings_held numeric,
                 shortfall numeric, expires_at timestamptz, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  p model.wallet;
  clk timestamptz := model.clock_now();
  amt bigint;
  mx bigint;
  req jsonb;
  prior jsonb;
  avail bigint;
  want bigint;
  need bigint;
  take bigint;
  seq int := 0;
  l model.lot;
  used jsonb := jsonb_build_object('bonus', 0, 'cash', 0, 'earnings', 0);
  v_hid bigint;
  v_tid bigint;
  exp timestamptz;
  res jsonb;
  sr record;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  w := model.get_wallet(p_wid);
  amt := model.minor(p_amount, w.e, 'amount');
  PERFORM model.check_scene(p_scene);
  -- a group payment's share lasts until the group's expiry, whatever is left of it
  IF NOT p_share THEN PERFORM model.ttl_ok(p_ttl); END IF;
  IF p_partial IS NULL THEN PERFORM model.fail('22023', 'allow_partial is null'); END IF;
  PERFORM model.text_arg(p_order_ref, 'order_ref', 200, false);
  IF p_max_charge IS NOT NULL THEN mx := model.minor(p_max_charge, w.e, 'max_charge'); END IF;
  req := jsonb_build_object('amount', amt, 'scene', p_scene, 'ttl', p_ttl, 'partial', p_partial,
                            'payee', p_payee, 'order_ref', p_order_ref, 'max_charge', mx);
  prior := model.replay(w.wid, p_key, 'hold', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'hold_id')::bigint, model.major((prior->>'held')::bigint, w.e),
      model.major((prior->>'bonus')::bigint, w.e), model.major((prior->>'cash')::bigint, w.e),
      model.major((prior->>'earnings')::bigint, w.e), model.major((prior->>'shortfall')::bigint, w.e),
      (prior->>'expires_at')::timestamptz, true;
    RETURN;
  END IF;
  IF w.frozen THEN PERFORM model.fail('WL002', 'wallet frozen'); END IF;
  IF p_payee IS NOT NULL THEN
    SELECT * INTO p FROM model.wallet WHERE wid = p_payee;
    IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such payee'); END IF;
    IF p.currency <> w.currency THEN PERFORM model.fail('22023', 'payee of another currency'); END IF;
    IF p.wid = w.wid THEN PERFORM model.fail('22023', 'payee is the payer'); END IF;
  END IF;
  PERFORM model.give_back_due(w.wid);
  sr := model.spend_rules(w.currency, w.e);
  SELECT coalesce(sum(x.amount), 0) INTO avail FROM model.lot x
   WHERE x.wid = w.wid AND x.amount > 0 AND model.pays_with(x, p_scene, sr.scope);
  want := CASE WHEN mx IS NULL THEN amt ELSE least(amt, mx) END;
  IF avail < want AND NOT p_partial AND mx IS NULL THEN PERFORM model.fail('WL001', 'insufficient funds'); END IF;
  PERFORM model.rule_check(amt, avail, least(avail, want), sr.x, sr.y);
  -- section 20: a hold counts as a spend when it is made (a group share's without a grant)
  PERFORM model.lim_judge(w.wid, 'spend', least(avail, want), step_up);
  exp := clk + p_ttl;
  INSERT INTO model.hold (wid, status, amount, expires_at, payee, scene) VALUES (w.wid, 'open', 0, exp, p_payee, p_scene)
  RETURNING hid INTO v_hid;
  need := want;
  FOR l IN SELECT * FROM model.lot x
            WHERE x.wid = w.wid AND x.amount > 0 AND model.pays_with(x, p_scene, sr.scope)
            ORDER BY CASE x.bucket WHEN 'bonus' THEN 0 WHEN 'cash' THEN 1 ELSE 2 END,
                     x.expires_at ASC NULLS LAST, x.granted_at, x.lot_id LOOP
    EXIT WHEN need = 0;
    take := least(need, l.amount);
    need := need - take;
    seq := seq + 1;
    UPDATE model.lot SET amount = amount - take WHERE lot_id = l.lot_id;
    INSERT INTO model.hold_piece VALUES (v_hid, seq, l.lot_id, l.bucket, take);
    used := jsonb_set(used, ARRAY[l.bucket], to_jsonb((used->>l.bucket)::bigint + take));
    IF l.bucket = 'bonus' THEN
      UPDATE model.topup SET spent = spent + take WHERE model.topup.tid = l.topup;
    END IF;
  END LOOP;
  UPDATE model.hold SET amount = want - need, status = CASE WHEN want - need > 0 THEN 'open' ELSE 'released' END
   WHERE hid = v_hid;
  v_tid := model.new_txn(w.wid, 'hold', p_key, req);
  res := jsonb_build_object('hold_id', v_hid, 'held', want - need, 'bonus', (used->>'bonus')::bigint,
                            'cash', (used->>'cash')::bigint, 'earnings', (used->>'earnings')::bigint,
                            'shortfall', amt - (want - need), 'expires_at', exp);
  UPDATE model.txn SET result = res WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_hid, model.major(want - need, w.e), model.major((used->>'bonus')::bigint, w.e),
    model.major((used->>'cash')::bigint, w.e), model.major((used->>'earnings')::bigint, w.e),
    model.major(amt - (want - need), w.e), exp, false;
END $$;

-- get_open_hold: a hold that may move money now (WL006 if none, WL008 if ended or past its time)
CREATE FUNCTION model.get_hold(p_hid bigint) RETURNS model.hold
  LANGUAGE plpgsql AS $$
DECLARE
  h model.hold;
BEGIN
  IF p_hid IS NULL THEN PERFORM model.fail('22023', 'hold_id is null'); END IF;
  SELECT * INTO h FROM model.hold WHERE hid = p_hid;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such hold'); END IF;
  RETURN h;
END $$;

CREATE FUNCTION model.capture_hold(p_hid bigint, p_key text, p_amount numeric DEFAULT NULL,
                                   p_final boolean DEFAULT true)
  RETURNS TABLE (txn_id bigint, captured numeric, bonus_used numeric, cash_used numeric, earnings_used numeric,
                 released numeric, remaining numeric, status text, replayed boolean, points numeric)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  h model.hold;
  w model.wallet;
  p model.wallet;
  clk timestamptz := model.clock_now();
  x bigint;
  req jsonb;
  prior jsonb;
  lft bigint;
  need bigint;
  take bigint;
  seq int := 0;
  pc model.hold_piece;
  used jsonb := jsonb_build_object('bonus', 0, 'cash', 0, 'earnings', 0);
  rel bigint := 0;
  comm bigint := 0;
  repay bigint;
  v_tid bigint;
  st text;
  res jsonb;
  rw record;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_hid IS NULL OR p_final IS NULL THEN PERFORM model.fail('22023', 'hold_id or final is null'); END IF;
  h := model.get_hold(p_hid);
  w := model.get_wallet(h.wid);
  IF p_amount IS NOT NULL THEN x := model.minor(p_amount, w.e, 'amount'); END IF;
  req := jsonb_build_object('hold', h.hid, 'amount', x, 'final', p_final);
  prior := model.replay(w.wid, p_key, 'capture_hold', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, model.major((prior->>'captured')::bigint, w.e),
      model.major((prior->>'bonus')::bigint, w.e), model.major((prior->>'cash')::bigint, w.e),
      model.major((prior->>'earnings')::bigint, w.e), model.major((prior->>'released')::bigint, w.e),
      model.major((prior->>'remaining')::bigint, w.e), prior->>'status', true,
      model.major(coalesce((prior->>'points')::bigint, 0), coalesce((prior->>'points_e')::int, 0));
    RETURN;
  END IF;
  IF h.status <> 'open' OR model.hold_lapsed(h) THEN PERFORM model.fail('WL008', 'hold not open'); END IF;
  IF w.frozen THEN PERFORM model.fail('WL002', 'wallet frozen'); END IF;
  lft := h.amount - h.captured - h.released;
  x := coalesce(x, lft);
  IF x > lft THEN PERFORM model.fail('WL008', 'capture beyond what the hold has left'); END IF;
  v_tid := model.new_txn(w.wid, 'capture_hold', p_key, req);
  need := x;
  FOR pc IN SELECT * FROM model.hold_piece q WHERE q.hid = h.hid AND q.reserved > 0 ORDER BY model.piece_key(q) LOOP
    EXIT WHEN need = 0;
    take := least(need, pc.reserved);
    need := need - take;
    seq := seq + 1;
    UPDATE model.hold_piece SET reserved = reserved - take WHERE hid = pc.hid AND seq = pc.seq;
    INSERT INTO model.piece (spend_tid, seq, lot_id, bucket, taken) VALUES (v_tid, seq, pc.lot_id, pc.bucket, take);
    used := jsonb_set(used, ARRAY[pc.bucket], to_jsonb((used->>pc.bucket)::bigint + take));
  END LOOP;
  IF p_final AND lft - x > 0 THEN
    rel := lft - x;
    PERFORM model.give_back(h.hid, rel);
    PERFORM model.lim_back(w.wid, 'spend', rel, CASE WHEN h.captured + x = 0 THEN 1 ELSE 0 END, h.made_at);
  END IF;
  st := CASE WHEN lft - x - rel > 0 THEN 'open' ELSE 'captured' END;
  UPDATE model.hold SET captured = captured + x, released = released + rel, status = st WHERE hid = h.hid;
  IF h.payee IS NOT NULL THEN
    SELECT * INTO p FROM model.wallet WHERE wid = h.payee;
    comm := round(x * (model.policy(p.currency)).commission_rate);
    repay := least(p.debt, x - comm);
    UPDATE model.wallet SET debt = debt - repay WHERE wid = p.wid;
    IF x - comm - repay > 0 THEN
      INSERT INTO model.lot (wid, bucket, amount, granted_at) VALUES (p.wid, 'earnings', x - comm - repay, clk);
    END IF;
  END IF;
  INSERT INTO model.spend (tid, wid, charged, bonus_used, cash_used, earnings_used, payee, payee_credit, discount,
                           made_at, hold_of)
  VALUES (v_tid, w.wid, x, (used->>'bonus')::bigint, (used->>'cash')::bigint, (used->>'earnings')::bigint,
          h.payee, CASE WHEN h.payee IS NULL THEN 0 ELSE x - comm END, 0, h.made_at, h.hid);
  -- a capture earns reward points as a spend does, in the hold's scene
  rw := model.reward(w, h.scene, x, v_tid);
  res := jsonb_build_object('txn_id', v_tid, 'captured', x, 'bonus', (used->>'bonus')::bigint,
                            'cash', (used->>'cash')::bigint, 'earnings', (used->>'earnings')::bigint,
                            'released', rel, 'remaining', lft - x - rel, 'status', st,
                            'points', rw.points, 'points_e', rw.e);
  UPDATE model.txn SET result = res WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, model.major(x, w.e), model.major((used->>'bonus')::bigint, w.e),
    model.major((used->>'cash')::bigint, w.e), model.major((used->>'earnings')::bigint, w.e),
    model.major(rel, w.e), model.major(lft - x - rel, w.e), st, false, model.major(rw.points, rw.e);
END $$;

CREATE FUNCTION model.release_hold(p_hid bigint, p_key text, p_amount numeric DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, released numeric, remaining numeric, status text, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  h model.hold;
  w model.wallet;
  x bigint;
  req jsonb;
  prior jsonb;
  lft bigint;
  v_tid bigint;
  st text;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  h := model.get_hold(p_hid);
  w := model.get_wallet(h.wid);
  IF p_amount IS NOT NULL THEN x := model.minor(p_amount, w.e, 'amount'); END IF;
  req := jsonb_build_object('hold', h.hid, 'amount', x);
  prior := model.replay(w.wid, p_key, 'release_hold', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, model.major((prior->>'released')::bigint, w.e),
      model.major((prior->>'remaining')::bigint, w.e), prior->>'status', true;
    RETURN;
  END IF;
  -- a frozen wallet's hold is released too
  IF h.status <> 'open' OR model.hold_lapsed(h) THEN PERFORM model.fail('WL008', 'hold not open'); END IF;
  lft := h.amount - h.captured - h.released;
  x := coalesce(x, lft);
  IF x > lft THEN PERFORM model.fail('WL008', 'release beyond what the hold has left'); END IF;
  PERFORM model.give_back(h.hid, x);
  PERFORM model.lim_back(w.wid, 'spend', x, CASE WHEN h.captured = 0 AND lft - x = 0 THEN 1 ELSE 0 END, h.made_at);
  st := CASE WHEN lft - x > 0 THEN 'open' WHEN h.captured > 0 THEN 'captured' ELSE 'released' END;
  UPDATE model.hold SET released = released + x, status = st WHERE hid = h.hid;
  v_tid := model.new_txn(w.wid, 'release_hold', p_key, req);
  UPDATE model.txn SET result = jsonb_build_object('txn_id', v_tid, 'released', x, 'remaining', lft - x,
                                                   'status', st)
   WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, model.major(x, w.e), model.major(lft - x, w.e), st, false;
END $$;

CREATE FUNCTION model.expire_holds(p_batch int DEFAULT 10000) RETURNS TABLE (holds int)
  LANGUAGE plpgsql AS $$
DECLARE
  n int := 0;
  v_wid bigint;
BEGIN
  IF p_batch IS NULL OR p_batch < 1 THEN PERFORM model.fail('22023', 'bad batch size'); END IF;
  FOR v_wid IN SELECT DISTINCT x.wid FROM model.hold x WHERE model.hold_lapsed(x) LOOP
    n := n + model.give_back_due(v_wid);
  END LOOP;
  RETURN QUERY SELECT n;
END $$;

-- held_lazy: what open holds of a wallet reserve now, and what those past their time
-- no longer reserve, per bucket (bonus only while live and usable in the scene)
CREATE FUNCTION model.hold_sums(p_wid bigint, p_scene text, OUT held bigint, OUT back_cash bigint,
                                OUT back_bonus bigint, OUT back_earnings bigint)
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(p.reserved) FILTER (WHERE NOT model.hold_lapsed(h)), 0)::bigint,
         coalesce(sum(p.reserved) FILTER (WHERE model.hold_lapsed(h) AND p.bucket = 'cash'), 0)::bigint,
         coalesce(sum(p.reserved) FILTER (WHERE model.hold_lapsed(h) AND p.bucket = 'bonus'
                                            AND model.usable(l, p_scene)), 0)::bigint,
         coalesce(sum(p.reserved) FILTER (WHERE model.hold_lapsed(h) AND p.bucket = 'earnings'), 0)::bigint
    FROM model.hold h JOIN model.hold_piece p ON p.hid = h.hid JOIN model.lot l ON l.lot_id = p.lot_id
   WHERE h.wid = p_wid AND h.status = 'open'
$$;

------------------------------------------------------------------------------
-- Group payment (section 14)
------------------------------------------------------------------------------
CREATE TABLE model.grp (
  gid        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payee      bigint NOT NULL,
  amount     bigint NOT NULL,
  status     text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE model.grp_member (
  gid   bigint NOT NULL,
  wid   bigint NOT NULL,
  share bigint NOT NULL,
  hid   bigint,
  PRIMARY KEY (gid, wid)
);

CREATE FUNCTION model.group_pay(p_payee bigint, p_wids bigint[], p_amounts numeric[], p_key text,
                                p_ttl interval DEFAULT '1 day', p_order_ref text DEFAULT NULL) RETURNS bigint
  LANGUAGE plpgsql AS $$
DECLARE
  pw model.wallet;
  m model.wallet;
  shares bigint[] := '{}';
  total bigint := 0;
  req jsonb;
  prior jsonb;
  v_gid bigint;
  v_tid bigint;
  prev bigint;
  x bigint;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_payee IS NULL OR p_wids IS NULL OR p_amounts IS NULL THEN PERFORM model.fail('22023', 'null argument'); END IF;
  PERFORM model.ttl_ok(p_ttl);
  PERFORM model.text_arg(p_order_ref, 'order_ref', 200, false);
  pw := model.get_wallet(p_payee);
  IF coalesce(cardinality(p_wids), 0) <> coalesce(cardinality(p_amounts), 0) THEN
    PERFORM model.fail('22023', 'arrays of different lengths');
  END IF;
  IF coalesce(cardinality(p_wids), 0) < 1 OR cardinality(p_wids) > 1000 THEN
    PERFORM model.fail('22023', 'participants out of range');
  END IF;
  FOR i IN 1 .. cardinality(p_wids) LOOP
    IF p_wids[i] IS NULL OR p_amounts[i] IS NULL THEN PERFORM model.fail('22023', 'null element'); END IF;
    shares := shares || model.minor(p_amounts[i], pw.e, 'amounts');
    total := total + shares[i];
  END LOOP;
  req := jsonb_build_object('wallets', p_wids, 'shares', shares, 'ttl', p_ttl, 'order_ref', p_order_ref);
  prior := model.replay(pw.wid, p_key, 'group_pay', req);
  IF prior IS NOT NULL THEN RETURN (prior->>'group_id')::bigint; END IF;
  -- choice (as the extension): participants checked in wallet-id order
  FOR x IN SELECT u FROM unnest(p_wids) u ORDER BY u LOOP
    IF x = prev THEN PERFORM model.fail('22023', 'a participant twice'); END IF;
    IF x = pw.wid THEN PERFORM model.fail('22023', 'the payee is a participant'); END IF;
    m := model.get_wallet(x);
    IF m.currency <> pw.currency THEN PERFORM model.fail('22023', 'another currency'); END IF;
    prev := x;
  END LOOP;
  INSERT INTO model.grp (payee, amount, status, expires_at) VALUES (pw.wid, total, 'open', model.clock_now() + p_ttl)
  RETURNING gid INTO v_gid;
  INSERT INTO model.grp_member (gid, wid, share) SELECT v_gid, u.w, u.s FROM unnest(p_wids, shares) u(w, s);
  v_tid := model.new_txn(pw.wid, 'group_pay', p_key, req);
  UPDATE model.txn SET result = jsonb_build_object('group_id', v_gid) WHERE tid = v_tid;
  RETURN v_gid;
END $$;

CREATE FUNCTION model.get_group(p_gid bigint) RETURNS model.grp
  LANGUAGE plpgsql AS $$
DECLARE
  g model.grp;
BEGIN
  SELECT * INTO g FROM model.grp WHERE gid = p_gid;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such group payment'); END IF;
  RETURN g;
END $$;

CREATE FUNCTION model.group_open(g model.grp) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  IF g.status <> 'open' OR g.expires_at <= model.clock_now() THEN
    PERFORM model.fail('WL008', 'group payment not open');
  END IF;
END $$;

CREATE FUNCTION model.join_group_pay(p_gid bigint, p_wid bigint, p_key text)
  RETURNS TABLE (hold_id bigint, status text, joined int, participants int, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  g model.grp;
  w model.wallet;
  mb model.grp_member;
  n int;
  nj int;
  req jsonb;
  prior jsonb;
  hr record;
  c record;
  k text;
  paid boolean;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_gid IS NULL OR p_wid IS NULL THEN PERFORM model.fail('22023', 'null argument'); END IF;
  g := model.get_group(p_gid);
  SELECT count(*), count(x.hid) INTO n, nj FROM model.grp_member x WHERE x.gid = g.gid;
  SELECT * INTO mb FROM model.grp_member x WHERE x.gid = g.gid AND x.wid = p_wid;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'not a participant'); END IF;
  w := model.get_wallet(p_wid);
  req := jsonb_build_object('group', g.gid);
  prior := model.replay(w.wid, p_key, 'join_group_pay', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'hold_id')::bigint, prior->>'status', (prior->>'joined')::int, n, true;
    RETURN;
  END IF;
  PERFORM model.group_open(g);
  IF mb.hid IS NOT NULL THEN PERFORM model.fail('WL008', 'joined already'); END IF;
  -- the share's hold, until the group's expiry, for the payee (a key of its own in the model)
  k := '#join:' || g.gid || ':' || w.wid;
  SELECT * INTO hr FROM model.hold(w.wid, model.major(mb.share, w.e), k, NULL,
                                   g.expires_at - model.clock_now(), false, g.payee, NULL, NULL, true) h;
  DELETE FROM model.txn WHERE wid = w.wid AND key = k;
  UPDATE model.grp_member x SET hid = hr.hold_id WHERE x.gid = g.gid AND x.wid = w.wid;
  paid := nj + 1 = n;
  IF paid THEN
    FOR c IN SELECT x.hid FROM model.grp_member x WHERE x.gid = g.gid ORDER BY x.wid LOOP
      PERFORM model.capture_hold(c.hid, '#capture:' || c.hid, NULL, true);
    END LOOP;
    DELETE FROM model.txn WHERE key LIKE '#capture:%';
    UPDATE model.grp SET status = 'paid' WHERE gid = g.gid;
  END IF;
  PERFORM model.new_txn(w.wid, 'join_group_pay', p_key, req);
  UPDATE model.txn SET result = jsonb_build_object('hold_id', hr.hold_id, 'joined', nj + 1,
                                                   'status', CASE WHEN paid THEN 'paid' ELSE 'open' END)
   WHERE model.txn.wid = w.wid AND model.txn.key = p_key;
  RETURN QUERY SELECT hr.hold_id, CASE WHEN paid THEN 'paid' ELSE 'open' END, nj + 1, n, false;
END $$;

CREATE FUNCTION model.cancel_group_pay(p_gid bigint, p_wid bigint, p_key text)
  RETURNS TABLE (status text, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  g model.grp;
  w model.wallet;
  req jsonb;
  prior jsonb;
  c record;
  v_tid bigint;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_gid IS NULL OR p_wid IS NULL THEN PERFORM model.fail('22023', 'null argument'); END IF;
  g := model.get_group(p_gid);
  IF p_wid <> g.payee AND NOT EXISTS (SELECT 1 FROM model.grp_member x WHERE x.gid = g.gid AND x.wid = p_wid) THEN
    PERFORM model.fail('WL006', 'neither a participant nor the payee');
  END IF;
  w := model.get_wallet(p_wid);
  req := jsonb_build_object('group', g.gid);
  prior := model.replay(w.wid, p_key, 'cancel_group_pay', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT 'cancelled'::text, true;
    RETURN;
  END IF;
  PERFORM model.group_open(g);
  FOR c IN SELECT x.hid FROM model.grp_member x WHERE x.gid = g.gid AND x.hid IS NOT NULL ORDER BY x.wid LOOP
    PERFORM model.release_hold(c.hid, '#release:' || c.hid, NULL);
  END LOOP;
  DELETE FROM model.txn WHERE key LIKE '#release:%';
  UPDATE model.grp SET status = 'cancelled' WHERE gid = g.gid;
  v_tid := model.new_txn(w.wid, 'cancel_group_pay', p_key, req);
  UPDATE model.txn SET result = '{"status": "cancelled"}' WHERE tid = v_tid;
  RETURN QUERY SELECT 'cancelled'::text, false;
END $$;

CREATE FUNCTION model.group_pay_status(p_gid bigint)
  RETURNS TABLE (status text, joined int, participants int, amount numeric)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  g model.grp;
BEGIN
  IF p_gid IS NULL THEN PERFORM model.fail('22023', 'group_id is null'); END IF;
  g := model.get_group(p_gid);
  RETURN QUERY SELECT CASE WHEN g.status = 'open' AND g.expires_at <= model.clock_now() THEN 'expired' ELSE g.status END,
    (SELECT count(x.hid)::int FROM model.grp_member x WHERE x.gid = g.gid),
    (SELECT count(*)::int FROM model.grp_member x WHERE x.gid = g.gid),
    model.major(g.amount, (SELECT w.e FROM model.wallet w WHERE w.wid = g.payee));
END $$;

------------------------------------------------------------------------------
-- Credits, take-backs and settings shared by transfers and withdrawals
------------------------------------------------------------------------------
-- xpolicy: a currency's transfer and withdrawal settings (sections 16, 17, 20), in
-- minor units; NULL where no limit is set
CREATE FUNCTION model.xpolicy(cur text, e int, OUT t_rate numeric, OUT t_fixed bigint, OUT w_min bigint,
                              OUT w_rate numeric, OUT w_fixed bigint, OUT w_fee_min bigint, OUT w_fee_max bigint,
                              OUT w_daily_max bigint, OUT w_auto_max bigint, OUT w_review_daily bigint, OUT tz text)
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(p.transfer_fee_rate, 0), coalesce((p.transfer_fee_fixed * 10::numeric ^ e)::bigint, 0),
         coalesce((p.withdraw_min * 10::numeric ^ e)::bigint, 0), coalesce(p.withdraw_fee_rate, 0),
         coalesce((p.withdraw_fee_fixed * 10::numeric ^ e)::bigint, 0),
         coalesce((p.withdraw_fee_min * 10::numeric ^ e)::bigint, 0),
         (p.withdraw_fee_max * 10::numeric ^ e)::bigint, (p.withdraw_daily_max * 10::numeric ^ e)::bigint,
         coalesce((p.withdraw_auto_approve_max * 10::numeric ^ e)::bigint, 0),
         (p.withdraw_review_daily * 10::numeric ^ e)::bigint, coalesce(p.limit_time_zone, 'UTC')
    FROM (SELECT cur AS c) q LEFT JOIN wallet.policy p ON p.currency = q.c
$$;

-- credit: amount into a wallet's earnings; a debt is repaid first (section 5: every
-- later credit to a wallet in debt repays the debt first)
CREATE FUNCTION model.credit(p_wid bigint, p_amount bigint) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  d bigint := (SELECT debt FROM model.wallet WHERE wid = p_wid);
  repay bigint := least(d, p_amount);
BEGIN
  UPDATE model.wallet SET debt = debt - repay WHERE wid = p_wid;
  IF p_amount - repay > 0 THEN
    INSERT INTO model.lot (wid, bucket, amount, granted_at) VALUES (p_wid, 'earnings', p_amount - repay, model.clock_now());
  END IF;
END $$;

-- earnings_of: a wallet's earnings (not held)
CREATE FUNCTION model.earnings_of(p_wid bigint) RETURNS bigint
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(amount), 0)::bigint FROM model.lot WHERE wid = p_wid AND bucket = 'earnings'
$$;

-- take_earnings: amount out of a wallet's earnings lots, oldest first (the caller checked there is enough)
CREATE FUNCTION model.take_earnings(p_wid bigint, p_amount bigint) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  need bigint := p_amount;
  l model.lot;
  t bigint;
BEGIN
  FOR l IN SELECT * FROM model.lot WHERE wid = p_wid AND bucket = 'earnings' AND amount > 0
            ORDER BY granted_at, lot_id LOOP
    EXIT WHEN need = 0;
    t := least(need, l.amount);
    UPDATE model.lot SET amount = amount - t WHERE lot_id = l.lot_id;
    need := need - t;
  END LOOP;
  IF need <> 0 THEN PERFORM model.fail('XX000', 'model: earnings taken beyond the lots'); END IF;
END $$;

-- take_back: what a reversal takes back from a payee: its earnings give back what they
-- can, the rest becomes its debt (section 5: never fails for the payee's sake, frozen or not)
CREATE FUNCTION model.take_back(p_wid bigint, p_amount bigint) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  pe bigint := model.earnings_of(p_wid);
BEGIN
  UPDATE model.wallet SET debt = debt + greatest(p_amount - pe, 0) WHERE wid = p_wid;
  PERFORM model.debt_added(p_wid, greatest(p_amount - pe, 0));
  PERFORM model.take_earnings(p_wid, least(p_amount, pe));
END $$;

-- largest_remainder: total split over weights in proportion, whole units first, the units
-- left over one each to the largest remainders (section 17; choice: the earlier part on a tie)
CREATE FUNCTION model.largest_remainder(total bigint, weights bigint[]) RETURNS TABLE (i int, x bigint)
  LANGUAGE sql IMMUTABLE AS $$
  WITH w AS (SELECT o::int AS i, v AS wt, (SELECT sum(u) FROM unnest(weights) u) AS s
               FROM unnest(weights) WITH ORDINALITY AS z(v, o)),
       q AS (SELECT w.i, CASE WHEN w.s = 0 THEN 0 ELSE floor(total::numeric * w.wt / w.s)::bigint END AS base,
                    CASE WHEN w.s = 0 THEN 0 ELSE (total::numeric * w.wt) % w.s END AS rem FROM w),
       r AS (SELECT q.*, row_number() OVER (ORDER BY q.rem DESC, q.i) AS rk,
                    total - sum(q.base) OVER () AS left_over FROM q)
  SELECT r.i, r.base + CASE WHEN r.rk <= r.left_over THEN 1 ELSE 0 END FROM r ORDER BY r.i
$$;

------------------------------------------------------------------------------
-- Transfers (section 17)
------------------------------------------------------------------------------
-- transfer_fee: amount * rate, half away from zero, + fixed
CREATE FUNCTION model.transfer_fee(amt bigint, rate numeric, fixed bigint) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS $$ SELECT round(amt * rate)::bigint + fixed $$;

CREATE FUNCTION model.transfer(p_from bigint, p_to bigint, p_amount numeric, p_key text,
                               p_kind text DEFAULT 'p2p', p_note text DEFAULT NULL, step_up text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, amount numeric, fee numeric, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  r model.wallet;
  amt bigint;
  req jsonb;
  prior jsonb;
  xp record;
  avail bigint;
  f bigint;
  lo bigint;
  hi bigint;
  mid bigint;
  v_tid bigint;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_from IS NULL OR p_to IS NULL THEN PERFORM model.fail('22023', 'wallet is null'); END IF;
  IF p_kind IS NULL OR p_kind !~ '^[a-z0-9_]{1,32}$' THEN PERFORM model.fail('22023', 'bad kind'); END IF;
  PERFORM model.text_arg(p_note, 'note', 1000, false);
  IF p_from = p_to THEN PERFORM model.fail('22023', 'a transfer to itself'); END IF;
  w := model.get_wallet(p_from);
  IF p_amount IS NOT NULL THEN amt := model.minor(p_amount, w.e, 'amount'); END IF;
  req := jsonb_build_object('to', p_to, 'amount', amt, 'kind', p_kind, 'note', p_note);
  prior := model.replay(w.wid, p_key, 'transfer', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, model.major((prior->>'amount')::bigint, w.e),
      model.major((prior->>'fee')::bigint, w.e), true;
    RETURN;
  END IF;
  -- choice (order of refusals, as for a payee): the receiver, frozen, debt, funds
  SELECT * INTO r FROM model.wallet x WHERE x.wid = p_to;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such receiver'); END IF;
  IF r.currency <> w.currency THEN PERFORM model.fail('22023', 'receiver of another currency'); END IF;
  IF w.frozen THEN PERFORM model.fail('WL002', 'wallet frozen'); END IF;
  PERFORM model.give_back_due(w.wid);
  IF w.debt > 0 THEN PERFORM model.fail('WL008', 'wallet in debt'); END IF;
  xp := model.xpolicy(w.currency, w.e);
  -- only earnings are transferable
  avail := model.earnings_of(w.wid);
  IF amt IS NULL THEN
    -- choice: "all transferable earnings" is the largest amount whose fee on top still fits
    lo := 0;
    hi := greatest(avail - xp.t_fixed, 0);
    WHILE lo < hi LOOP
      mid := lo + (hi - lo + 1) / 2;
      IF mid + model.transfer_fee(mid, xp.t_rate, xp.t_fixed) <= avail THEN lo := mid; ELSE hi := mid - 1; END IF;
    END LOOP;
    amt := lo;
  END IF;
  f := model.transfer_fee(amt, xp.t_rate, xp.t_fixed);
  IF amt <= 0 OR amt + f > avail THEN PERFORM model.fail('WL001', 'insufficient funds'); END IF;
  -- section 20: what leaves the sender, the amount and its fee
  PERFORM model.lim_judge(w.wid, 'transfer', amt + f, step_up);
  PERFORM model.take_earnings(w.wid, amt + f);
  -- the receiver's earnings (a frozen receiver still receives; a debt is repaid first)
  PERFORM model.credit(r.wid, amt);
  v_tid := model.new_txn(w.wid, 'transfer', p_key, req);
  UPDATE model.txn SET result = jsonb_build_object('txn_id', v_tid, 'amount', amt, 'fee', f) WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, model.major(amt, w.e), model.major(f, w.e), false;
END $$;

------------------------------------------------------------------------------
-- Split payment (section 17)
------------------------------------------------------------------------------
-- a split payment's parts: payee i's part of what was charged, its credit (the part
-- less commission), what reversals took of the part and of the credit
CREATE TABLE model.split_part (
  spend_tid bigint NOT NULL,
  i         int NOT NULL,
  payee     bigint NOT NULL,
  part      bigint NOT NULL,
  credit    bigint NOT NULL,
  reversed  bigint NOT NULL DEFAULT 0,
  back      bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (spend_tid, i)
);

CREATE FUNCTION model.spend_split(p_wid bigint, p_amount numeric, p_key text, p_payees bigint[], p_shares numeric[],
                                  p_scene text DEFAULT NULL, p_coupon text DEFAULT NULL, p_order_ref text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, charged numeric, discount numeric, bonus_used numeric, cash_used numeric,
                 earnings_used numeric, shortfall numeric, replayed boolean, points numeric)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  p model.wallet;
  amt bigint;
  shares bigint[] := '{}';
  total bigint := 0;
  rq jsonb;
  prior jsonb;
  sr record;
  ik text;
  chg bigint;
  rate numeric;
  c record;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  w := model.get_wallet(p_wid);
  amt := model.minor(p_amount, w.e, 'amount');
  IF p_payees IS NULL OR p_shares IS NULL THEN PERFORM model.fail('22023', 'payees or shares is null'); END IF;
  IF array_position(p_payees, NULL) IS NOT NULL OR array_position(p_shares, NULL) IS NOT NULL THEN
    PERFORM model.fail('22023', 'a NULL element');
  END IF;
  IF coalesce(cardinality(p_payees), 0) NOT BETWEEN 1 AND 100 THEN PERFORM model.fail('22023', 'payees out of range'); END IF;
  IF coalesce(cardinality(p_shares), 0) <> cardinality(p_payees) THEN PERFORM model.fail('22023', 'one share per payee'); END IF;
  FOR k IN 1 .. cardinality(p_payees) LOOP
    IF p_payees[k] = ANY (p_payees[1:k - 1]) THEN PERFORM model.fail('22023', 'a payee twice'); END IF;
    shares := shares || model.minor(p_shares[k], w.e, 'shares');
    total := total + shares[k];
  END LOOP;
  IF total <> amt THEN PERFORM model.fail('22023', 'shares do not add up to amount'); END IF;
  PERFORM model.check_scene(p_scene);
  PERFORM model.text_arg(p_coupon, 'coupon', 64, false);
  PERFORM model.text_arg(p_order_ref, 'order_ref', 200, false);
  rq := jsonb_build_object('amount', amt, 'payees', p_payees, 'shares', shares, 'scene', p_scene,
                            'coupon', p_coupon, 'order_ref', p_order_ref);
  prior := model.replay(w.wid, p_key, 'spend_split', rq);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, model.major((prior->>'charged')::bigint, w.e),
      model.major((prior->>'discount')::bigint, w.e), model.major((prior->>'bonus_used')::bigint, w.e),
      model.major((prior->>'cash_used')::bigint, w.e), model.major((prior->>'earnings_used')::bigint, w.e),
      model.major((prior->>'shortfall')::bigint, w.e), true,
      model.major(coalesce((prior->>'points')::bigint, 0), coalesce((prior->>'points_e')::int, 0));
    RETURN;
  END IF;
  -- choice (order of refusals, as spend's): frozen, then the payees in the order named,
  -- then the coupon, then funds and the spend rules
  IF w.frozen THEN PERFORM model.fail('WL002', 'wallet frozen'); END IF;
  FOR k IN 1 .. cardinality(p_payees) LOOP
    SELECT * INTO p FROM model.wallet x WHERE x.wid = p_payees[k];
    IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such payee'); END IF;
    IF p.currency <> w.currency THEN PERFORM model.fail('22023', 'payee of another currency'); END IF;
    IF p.wid = w.wid THEN PERFORM model.fail('22023', 'payee is the payer'); END IF;
  END LOOP;
  -- the charge is a spend in every other way, never partly
  ik := '#split:' || p_key;
  SELECT s.* INTO c FROM model.spend(w.wid, p_amount, ik, p_scene, p_coupon, false, NULL, p_order_ref) s;
  UPDATE model.txn SET kind = 'spend_split', key = p_key, req = rq WHERE model.txn.tid = c.txn_id;
  -- what was charged, split over the payees by their shares; each credited its part less commission
  chg := (SELECT s.charged FROM model.spend s WHERE s.tid = c.txn_id);
  rate := (model.policy(w.currency)).commission_rate;
  INSERT INTO model.split_part (spend_tid, i, payee, part, credit)
  SELECT c.txn_id, lr.i, p_payees[lr.i], lr.x, lr.x - round(lr.x * rate)::bigint
    FROM model.largest_remainder(chg, shares) lr;
  PERFORM model.credit(q.payee, q.credit) FROM model.split_part q WHERE q.spend_tid = c.txn_id ORDER BY q.i;
  RETURN QUERY SELECT c.txn_id, c.charged, c.discount, c.bonus_used, c.cash_used, c.earnings_used, c.shortfall, false,
    c.points;
END $$;

------------------------------------------------------------------------------
-- Withdrawals (section 16)
------------------------------------------------------------------------------
CREATE TABLE model.withdrawal (
  wdid         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  wid          bigint NOT NULL,
  amount       bigint NOT NULL,
  fee          bigint NOT NULL,
  net          bigint NOT NULL,
  status       text NOT NULL,
  requested_at timestamptz NOT NULL,
  automatic    boolean NOT NULL DEFAULT false
);
-- automatic withdrawal settings; last_day: the day (of the currency's limit_time_zone)
-- an automatic withdrawal was last requested under this setting
CREATE TABLE model.auto_wd (
  wid        bigint PRIMARY KEY,
  threshold  bigint NOT NULL,
  dest       text NOT NULL,
  last_day   date,
  checked_at timestamptz
);

-- day_of: the calendar day of t in time zone tz (section 20: days of limit_time_zone)
CREATE FUNCTION model.day_of(t timestamptz, tz text) RETURNS date
  LANGUAGE sql STABLE AS $$ SELECT (t AT TIME ZONE tz)::date $$;

-- withdraw_fee: least(greatest(amount * rate + fixed, fee_min), fee_max), half away from zero
CREATE FUNCTION model.withdraw_fee(amt bigint, xp record) RETURNS bigint
  LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  f numeric := amt * xp.w_rate + xp.w_fixed;
BEGIN
  f := greatest(f, xp.w_fee_min);
  IF xp.w_fee_max IS NOT NULL THEN f := least(f, xp.w_fee_max); END IF;
  RETURN round(f)::bigint;
END $$;

-- wquote: a withdrawal of amt from wallet w with avail earnings, now: its fee, net,
-- whether it waits for review, today's requests (not rejected, failed or returned) and
-- what the daily maximum leaves, and the first refusal of its amount
CREATE FUNCTION model.wquote(w model.wallet, amt bigint, avail bigint, OUT fee bigint, OUT net bigint,
                             OUT review boolean, OUT used bigint, OUT remaining bigint, OUT refusal text)
  LANGUAGE plpgsql AS $$
DECLARE
  xp record := model.xpolicy(w.currency, w.e);
BEGIN
  fee := model.withdraw_fee(amt, xp);
  net := amt - fee;
  SELECT coalesce(sum(d.amount), 0) INTO used FROM model.withdrawal d
   WHERE d.wid = w.wid AND d.status NOT IN ('rejected', 'failed', 'returned')
     AND model.day_of(d.requested_at, xp.tz) = model.day_of(model.clock_now(), xp.tz);
  -- choice: what is left of the daily maximum never shows below zero
  remaining := CASE WHEN xp.w_daily_max IS NOT NULL THEN greatest(xp.w_daily_max - used, 0) END;
  review := NOT (amt <= xp.w_auto_max AND (xp.w_review_daily IS NULL OR used + amt <= xp.w_review_daily));
  -- choice (order of refusals): the minimum, the fee, the earnings, the daily maximum
  refusal := CASE WHEN amt < xp.w_min THEN 'below_minimum'
                  WHEN net <= 0 THEN 'net_not_positive'
                  WHEN amt > avail THEN 'insufficient_earnings'
                  WHEN xp.w_daily_max IS NOT NULL AND used + amt > xp.w_daily_max THEN 'daily_maximum' END;
END $$;

CREATE FUNCTION model.withdraw_quote(p_wid bigint, p_amount numeric)
  RETURNS TABLE (amount numeric, fee numeric, net numeric, review boolean, daily_used numeric,
                 daily_remaining numeric, refusal text)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
  amt bigint := model.minor(p_amount, w.e, 'amount');
  b record;
  q record;
BEGIN
  -- the earnings as balance shows them (what a hold past its time gives back included)
  SELECT * INTO b FROM model.balance(w.wid) x;
  q := model.wquote(w, amt, (b.earnings * 10::numeric ^ w.e)::bigint);
  -- refusal (a column the extension adds): frozen, in debt, or the amount's
  RETURN QUERY SELECT model.major(amt, w.e), model.major(q.fee, w.e), model.major(q.net, w.e), q.review,
    model.major(q.used, w.e), model.major(q.remaining, w.e),
    CASE WHEN w.frozen THEN 'frozen' WHEN w.debt > 0 THEN 'in_debt' ELSE q.refusal END;
END $$;

-- wmake: the withdrawal of amt quoted by q from wallet w: held at once, approved or pending
CREATE FUNCTION model.wmake(w model.wallet, amt bigint, q record, auto boolean, tok text DEFAULT NULL)
  RETURNS model.withdrawal
  LANGUAGE plpgsql AS $$
DECLARE
  d model.withdrawal;
BEGIN
  -- section 20: the amount asked for counts from the request on
  PERFORM model.lim_judge(w.wid, 'withdraw', amt, tok);
  PERFORM model.take_earnings(w.wid, amt);
  INSERT INTO model.withdrawal (wid, amount, fee, net, status, requested_at, automatic)
  VALUES (w.wid, amt, q.fee, q.net, CASE WHEN q.review THEN 'pending' ELSE 'approved' END, model.clock_now(), auto)
  RETURNING * INTO d;
  RETURN d;
END $$;

CREATE FUNCTION model.request_withdrawal(p_wid bigint, p_amount numeric, p_key text, p_destination text,
                                         p_method text DEFAULT NULL, p_note text DEFAULT NULL,
                                         step_up text DEFAULT NULL)
  RETURNS TABLE (withdrawal_id bigint, amount numeric, fee numeric, net numeric, status text, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  amt bigint;
  req jsonb;
  prior jsonb;
  q record;
  d model.withdrawal;
  v_tid bigint;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  w := model.get_wallet(p_wid);
  amt := model.minor(p_amount, w.e, 'amount');
  PERFORM model.text_arg(p_destination, 'destination', 200, true);
  PERFORM model.text_arg(p_method, 'method', 64, false);
  PERFORM model.text_arg(p_note, 'note', 1000, false);
  req := jsonb_build_object('amount', amt, 'destination', p_destination, 'method', p_method, 'note', p_note);
  prior := model.replay(w.wid, p_key, 'request_withdrawal', req);
  IF prior IS NOT NULL THEN
    -- the first result, with the status it had then
    RETURN QUERY SELECT (prior->>'withdrawal_id')::bigint, model.major((prior->>'amount')::bigint, w.e),
      model.major((prior->>'fee')::bigint, w.e), model.major((prior->>'net')::bigint, w.e), prior->>'status', true;
    RETURN;
  END IF;
  IF w.frozen THEN PERFORM model.fail('WL002', 'wallet frozen'); END IF;
  PERFORM model.give_back_due(w.wid);
  IF w.debt > 0 THEN PERFORM model.fail('WL008', 'wallet in debt'); END IF;
  q := model.wquote(w, amt, model.earnings_of(w.wid));
  IF q.refusal = 'insufficient_earnings' THEN PERFORM model.fail('WL001', 'insufficient funds'); END IF;
  IF q.refusal IS NOT NULL THEN PERFORM model.fail('WL007', q.refusal); END IF;
  d := model.wmake(w, amt, q, false, step_up);
  v_tid := model.new_txn(w.wid, 'request_withdrawal', p_key, req);
  UPDATE model.txn SET result = jsonb_build_object('withdrawal_id', d.wdid, 'amount', d.amount, 'fee', d.fee,
                                                   'net', d.net, 'status', d.status)
   WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT d.wdid, model.major(d.amount, w.e), model.major(d.fee, w.e), model.major(d.net, w.e), d.status, false;
END $$;

CREATE FUNCTION model.get_withdrawal(p_id bigint) RETURNS model.withdrawal
  LANGUAGE plpgsql AS $$
DECLARE
  d model.withdrawal;
BEGIN
  SELECT * INTO d FROM model.withdrawal WHERE wdid = p_id;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such withdrawal'); END IF;
  RETURN d;
END $$;

-- wrelease: a rejected or failed withdrawal gives its whole amount back as earnings.
-- choice: the held earnings coming back are not a new credit: they do not repay a debt
-- the wallet ran into since (a return, money coming back from the bank, does)
CREATE FUNCTION model.wrelease(d model.withdrawal) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO model.lot (wid, bucket, amount, granted_at) VALUES (d.wid, 'earnings', d.amount, model.clock_now());
  -- section 20: its amount and count go back to the period of the request
  PERFORM model.lim_back(d.wid, 'withdraw', d.amount, 1, d.requested_at);
END $$;

-- choice: the steps of a withdrawal requested already are taken on a frozen wallet too
-- (no new debit: the amount was held when it was requested)
CREATE FUNCTION model.review_withdrawal(p_id bigint, p_approve boolean, p_reviewer text, p_note text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  d model.withdrawal;
BEGIN
  IF p_id IS NULL OR p_approve IS NULL THEN PERFORM model.fail('22023', 'null argument'); END IF;
  PERFORM model.text_arg(p_reviewer, 'reviewer', 200, true);
  PERFORM model.text_arg(p_note, 'note', 1000, false);
  d := model.get_withdrawal(p_id);
  IF d.status = 'pending' THEN
    IF NOT p_approve THEN PERFORM model.wrelease(d); END IF;
    UPDATE model.withdrawal SET status = CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END WHERE wdid = d.wdid;
    RETURN CASE WHEN p_approve THEN 'approved' ELSE 'rejected' END;
  END IF;
  -- repeating a transition already made returns the status: an approval made (and
  -- perhaps settled or returned since), a rejection
  IF p_approve AND d.status IN ('approved', 'succeeded', 'failed', 'returned') THEN RETURN d.status; END IF;
  IF NOT p_approve AND d.status = 'rejected' THEN RETURN d.status; END IF;
  PERFORM model.fail('WL008', 'conflicting review');
  RETURN NULL;
END $$;

CREATE FUNCTION model.settle_withdrawal(p_id bigint, p_succeeded boolean, p_gateway_ref text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  d model.withdrawal;
  target text;
BEGIN
  IF p_id IS NULL OR p_succeeded IS NULL THEN PERFORM model.fail('22023', 'null argument'); END IF;
  PERFORM model.text_arg(p_gateway_ref, 'gateway_ref', 200, false);
  d := model.get_withdrawal(p_id);
  target := CASE WHEN p_succeeded THEN 'succeeded' ELSE 'failed' END;
  IF d.status = 'approved' THEN
    IF NOT p_succeeded THEN PERFORM model.wrelease(d); END IF;
    UPDATE model.withdrawal SET status = target WHERE wdid = d.wdid;
    RETURN target;
  END IF;
  IF d.status = target THEN RETURN target; END IF;
  -- choice: a success the bank sent back since was a success: repeating it returns 'returned'
  IF p_succeeded AND d.status = 'returned' THEN RETURN d.status; END IF;
  PERFORM model.fail('WL008', 'only an approved withdrawal settles');
  RETURN NULL;
END $$;

CREATE FUNCTION model.return_withdrawal(p_id bigint, p_gateway_ref text, p_reason text) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  d model.withdrawal;
BEGIN
  IF p_id IS NULL THEN PERFORM model.fail('22023', 'withdrawal_id is null'); END IF;
  -- choice: the bank's reference may be missing; the reason may not
  PERFORM model.text_arg(p_gateway_ref, 'gateway_ref', 200, false);
  PERFORM model.text_arg(p_reason, 'reason', 1000, true);
  d := model.get_withdrawal(p_id);
  IF d.status = 'succeeded' THEN
    -- the whole amount (the fee too) comes back, a credit like any other: a debt is repaid first
    PERFORM model.credit(d.wid, d.amount);
    PERFORM model.lim_back(d.wid, 'withdraw', d.amount, 1, d.requested_at);
    UPDATE model.withdrawal SET status = 'returned' WHERE wdid = d.wdid;
    RETURN 'returned';
  END IF;
  IF d.status = 'returned' THEN RETURN 'returned'; END IF;
  PERFORM model.fail('WL008', 'only a withdrawal paid out returns');
  RETURN NULL;
END $$;

CREATE FUNCTION model.withdrawals(p_wid bigint)
  RETURNS TABLE (withdrawal_id bigint, status text, amount numeric, fee numeric, net numeric, automatic boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
BEGIN
  RETURN QUERY SELECT d.wdid, d.status, model.major(d.amount, w.e), model.major(d.fee, w.e), model.major(d.net, w.e),
                      d.automatic
                 FROM model.withdrawal d WHERE d.wid = w.wid ORDER BY d.requested_at DESC, d.wdid DESC;
END $$;

-- set_auto_withdrawal: on (threshold, destination) or off (NULL threshold); whether it is on
CREATE FUNCTION model.set_auto_withdrawal(p_wid bigint, p_threshold numeric, p_destination text) RETURNS boolean
  LANGUAGE plpgsql AS $$
DECLARE
  w model.wallet := model.get_wallet(p_wid);
  t bigint;
BEGIN
  IF p_threshold IS NULL THEN
    PERFORM model.text_arg(p_destination, 'destination', 200, false);
    DELETE FROM model.auto_wd WHERE wid = w.wid;
    RETURN false;
  END IF;
  t := model.minor(p_threshold, w.e, 'threshold');
  PERFORM model.text_arg(p_destination, 'destination', 200, true);
  -- choice: a changed setting keeps when it was last looked at and used
  INSERT INTO model.auto_wd (wid, threshold, dest) VALUES (w.wid, t, p_destination)
  ON CONFLICT (wid) DO UPDATE SET threshold = EXCLUDED.threshold, dest = EXCLUDED.dest;
  RETURN true;
END $$;

-- auto_withdraw: each wallet with a setting not used today (least recently looked at
-- first, up to batch_size) is looked at: all its withdrawable earnings are requested when
-- they reach the threshold and the request would go through (fees, minimum, daily
-- maximum, review as request_withdrawal's). Once a day at most: the request's key is the
-- day's (choice, as the extension: "auto-withdraw:<day>" in the wallet's keys), so a
-- setting turned off and on again the same day requests nothing more.
-- choice: returns (wallets looked at, withdrawals requested)
CREATE FUNCTION model.auto_withdraw(p_batch int DEFAULT 1000) RETURNS TABLE (wallets int, withdrawals int)
  LANGUAGE plpgsql AS $$
DECLARE
  a record;
  w model.wallet;
  xp record;
  today date;
  amt bigint;
  k text;
  q record;
  d model.withdrawal;
  v_tid bigint;
  looked int := 0;
  made int := 0;
  requested boolean;
BEGIN
  IF p_batch IS NULL OR p_batch < 1 OR p_batch > 100000 THEN PERFORM model.fail('22023', 'bad batch size'); END IF;
  FOR a IN SELECT x.*, mw.currency, mw.e FROM model.auto_wd x JOIN model.wallet mw ON mw.wid = x.wid
            WHERE x.last_day IS NULL
               OR x.last_day < model.day_of(model.clock_now(), (model.xpolicy(mw.currency, mw.e)).tz)
            ORDER BY x.checked_at NULLS FIRST, x.wid LIMIT p_batch LOOP
    looked := looked + 1;
    requested := false;
    w := model.get_wallet(a.wid);
    xp := model.xpolicy(w.currency, w.e);
    today := model.day_of(model.clock_now(), xp.tz);
    IF NOT w.frozen THEN
      PERFORM model.give_back_due(w.wid);
      amt := model.earnings_of(w.wid);
      IF w.debt = 0 AND amt > 0 AND amt >= a.threshold THEN
        k := 'auto-withdraw:' || to_char(today, 'YYYY-MM-DD');
        IF EXISTS (SELECT 1 FROM model.txn t WHERE t.wid = w.wid AND t.key = k) THEN
          requested := true;
        ELSE
          q := model.wquote(w, amt, amt);
          -- section 20: a wallet a limit rule would stop (refuse or step up) is skipped;
          -- choice: as a wallet whose quote is refused: its day is not done, the next sweep of
          -- the day looks at it again
          IF q.refusal IS NULL AND NOT model.lim_allow(w.wid, 'withdraw', amt) THEN
            q := NULL;
          ELSIF q.refusal IS NULL THEN
            d := model.wmake(w, amt, q, true);
            v_tid := model.new_txn(w.wid, 'auto_withdraw', k, jsonb_build_object('amount', amt));
            requested := true;
            made := made + 1;
          END IF;
        END IF;
      END IF;
    END IF;
    UPDATE model.auto_wd x SET checked_at = model.clock_now(),
                               last_day = CASE WHEN requested THEN today ELSE x.last_day END
     WHERE x.wid = w.wid;
  END LOOP;
  RETURN QUERY SELECT looked, made;
END $$;

------------------------------------------------------------------------------
-- Earnings paid in by an adjustment (section 22), the test's source of earnings
------------------------------------------------------------------------------
-- adjust: only what the driver uses: a positive amount into the earnings, a credit like
-- any other (a debt repaid first); a frozen wallet is adjusted too
CREATE FUNCTION model.adjust(p_wid bigint, p_bucket text, p_amount numeric, p_reason text, p_key text)
  RETURNS TABLE (txn_id bigint, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  amt bigint;
  req jsonb;
  prior jsonb;
  v_tid bigint;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_bucket IS DISTINCT FROM 'earnings' THEN PERFORM model.fail('XX000', 'model: adjusts earnings only'); END IF;
  w := model.get_wallet(p_wid);
  amt := model.minor(p_amount, w.e, 'amount');
  PERFORM model.text_arg(p_reason, 'reason', 1000, true);
  req := jsonb_build_object('bucket', p_bucket, 'amount', amt, 'reason', p_reason);
  prior := model.replay(w.wid, p_key, 'adjust', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, true;
    RETURN;
  END IF;
  -- choice (as the extension): holds past their time are given back first
  PERFORM model.give_back_due(w.wid);
  PERFORM model.credit(w.wid, amt);
  v_tid := model.new_txn(w.wid, 'adjust', p_key, req);
  UPDATE model.txn SET result = jsonb_build_object('txn_id', v_tid) WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, false;
END $$;

-- transfer_max: what a transfer of NULL amount would move now (for the driver's edge cases)
CREATE FUNCTION model.transfer_max(p_wid bigint) RETURNS bigint
  LANGUAGE plpgsql AS $$
DECLARE
  w model.wallet := model.get_wallet(p_wid);
  xp record := model.xpolicy(w.currency, w.e);
  avail bigint := model.earnings_of(p_wid);
  lo bigint := 0;
  hi bigint := greatest(avail - xp.t_fixed, 0);
  mid bigint;
BEGIN
  WHILE lo < hi LOOP
    mid := lo + (hi - lo + 1) / 2;
    IF mid + model.transfer_fee(mid, xp.t_rate, xp.t_fixed) <= avail THEN lo := mid; ELSE hi := mid - 1; END IF;
  END LOOP;
  RETURN lo;
END $$;

------------------------------------------------------------------------------
-- Points earned by spending (section 18)
------------------------------------------------------------------------------
-- bonus_credit: a credit of bonus (points) to a wallet, expiring at until (NULL: never), a
-- debt repaid first (section 5: every later credit to a wallet in debt repays the debt first)
CREATE FUNCTION model.bonus_credit(p_wid bigint, p_amount bigint, p_until timestamptz) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  d bigint := (SELECT debt FROM model.wallet WHERE wid = p_wid);
  repay bigint := least(d, p_amount);
BEGIN
  UPDATE model.wallet SET debt = debt - repay WHERE wid = p_wid;
  IF p_amount - repay > 0 THEN
    INSERT INTO model.lot (wid, bucket, amount, granted_at, expires_at)
    VALUES (p_wid, 'bonus', p_amount - repay, model.clock_now(), p_until);
  END IF;
END $$;

-- reward: the points a charge of p_charged (minor units) by wallet w in scene p_scene earns,
-- credited at once to the owner's wallet in the rule's points currency (opened if missing) as
-- bonus expiring after the rule's valid_for, and recorded on spend p_tid. Of the rules of the
-- wallet's currency in force (starts_at <= clock < ends_at, NULL open) whose scene is NULL or
-- the spend's: choice: min_spend is compared with what was charged; the greatest min_spend
-- wins, then a rule of the scene over one of any scene, then the newest rule. points =
-- floor(charged x points_per_unit) in the points currency's minor units.
CREATE FUNCTION model.reward(w model.wallet, p_scene text, p_charged bigint, p_tid bigint,
                             OUT points bigint, OUT e int)
  LANGUAGE plpgsql AS $$
DECLARE
  clk timestamptz := model.clock_now();
  r record;
  pw bigint;
BEGIN
  points := 0;
  e := 0;
  IF p_charged <= 0 THEN RETURN; END IF;
  SELECT x.*, c.exponent AS pe INTO r
    FROM wallet.reward_rule x JOIN wallet.currency c ON c.code = x.points_currency
   WHERE x.currency = w.currency AND (x.starts_at IS NULL OR x.starts_at <= clk)
     AND (x.ends_at IS NULL OR x.ends_at > clk) AND (x.scene IS NULL OR x.scene = p_scene)
     AND x.min_spend * (10::numeric ^ w.e) <= p_charged
   ORDER BY x.min_spend DESC, (x.scene IS NOT NULL) DESC, x.rule_id DESC LIMIT 1;
  IF NOT FOUND THEN RETURN; END IF;
  points := floor(p_charged::numeric * r.points_per_unit * (10::numeric ^ r.pe) / (10::numeric ^ w.e))::bigint;
  IF points <= 0 THEN
    points := 0;
    RETURN;
  END IF;
  e := r.pe;
  pw := model.open(w.owner, r.points_currency);
  PERFORM model.bonus_credit(pw, points, clk + r.valid_for);
  UPDATE model.spend s SET points = reward.points, points_wallet = pw, points_e = r.pe WHERE s.tid = p_tid;
END $$;

-- take_back_bonus: what a reversal takes back of a points wallet's points: its live
-- unscoped bonus gives what it can in spending order (soonest expiry first, none last, then
-- oldest), the rest becomes its debt (a reversal never fails for the receiver's sake)
CREATE FUNCTION model.take_back_bonus(p_wid bigint, p_amount bigint) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  need bigint := p_amount;
  l model.lot;
  t bigint;
BEGIN
  FOR l IN SELECT * FROM model.lot x
            WHERE x.wid = p_wid AND x.bucket = 'bonus' AND x.amount > 0 AND x.scope IS NULL AND model.bonus_live(x)
            ORDER BY x.expires_at ASC NULLS LAST, x.granted_at, x.lot_id LOOP
    EXIT WHEN need = 0;
    t := least(need, l.amount);
    UPDATE model.lot SET amount = amount - t WHERE lot_id = l.lot_id;
    need := need - t;
  END LOOP;
  UPDATE model.wallet SET debt = debt + need WHERE wid = p_wid;
  PERFORM model.debt_added(p_wid, need);
END $$;

------------------------------------------------------------------------------
-- Exchange between currencies and into points (section 18)
------------------------------------------------------------------------------
-- fx: the rate in force from one currency into another at the clock: the latest valid_from
-- at or before it whose valid_until (NULL: none) is after it; WL008 when there is none
CREATE FUNCTION model.fx(p_from text, p_to text) RETURNS wallet.fx_rate
  LANGUAGE plpgsql AS $$
DECLARE
  r wallet.fx_rate;
  clk timestamptz := model.clock_now();
BEGIN
  SELECT * INTO r FROM wallet.fx_rate x
   WHERE x.from_currency = p_from AND x.to_currency = p_to AND x.valid_from <= clk
     AND (x.valid_until IS NULL OR x.valid_until > clk)
   ORDER BY x.valid_from DESC LIMIT 1;
  IF NOT FOUND THEN PERFORM model.fail('WL008', 'no exchange rate in force'); END IF;
  RETURN r;
END $$;

-- fx_apply: fee = amount x fee_rate (half away from zero, at most the amount); to_amount =
-- (amount - fee) x rate, rounded down to the target's minor unit
CREATE FUNCTION model.fx_apply(amt bigint, fe int, te int, r wallet.fx_rate, OUT fee bigint, OUT to_amount bigint)
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  fee := least(round(amt * r.fee_rate)::bigint, amt);
  to_amount := floor((amt - fee)::numeric * r.rate * (10::numeric ^ te) / (10::numeric ^ fe))::bigint;
END $$;

CREATE FUNCTION model.exchange_quote(p_from text, p_to text, p_amount numeric)
  RETURNS TABLE (rate numeric, fee numeric, to_amount numeric, valid_until timestamptz)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  fe int;
  te int;
  amt bigint;
  r wallet.fx_rate;
  q record;
BEGIN
  PERFORM model.text_arg(p_from, 'from_currency', 3, true);
  PERFORM model.text_arg(p_to, 'to_currency', 3, true);
  SELECT c.exponent INTO fe FROM wallet.currency c WHERE c.code = p_from;
  IF NOT FOUND THEN PERFORM model.fail('22023', 'unknown currency'); END IF;
  SELECT c.exponent INTO te FROM wallet.currency c WHERE c.code = p_to;
  IF NOT FOUND THEN PERFORM model.fail('22023', 'unknown currency'); END IF;
  amt := model.minor(p_amount, fe, 'amount');
  r := model.fx(p_from, p_to);
  q := model.fx_apply(amt, fe, te, r);
  -- an amount that gives nothing is quoted as it is (exchange refuses it)
  RETURN QUERY SELECT r.rate, model.major(q.fee, fe), model.major(q.to_amount, te), r.valid_until;
END $$;

CREATE FUNCTION model.exchange(p_from bigint, p_to bigint, p_amount numeric, p_key text, step_up text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, rate numeric, fee numeric, to_amount numeric, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  fw model.wallet;
  tw model.wallet;
  amt bigint;
  req jsonb;
  prior jsonb;
  r wallet.fx_rate;
  q record;
  pts boolean;
  v_tid bigint;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_from IS NULL OR p_to IS NULL THEN PERFORM model.fail('22023', 'wallet is null'); END IF;
  IF p_from = p_to THEN PERFORM model.fail('22023', 'an exchange into the same wallet'); END IF;
  -- choice: both wallets must exist before the amount is judged (in the sender's currency)
  IF least(p_from, p_to) = p_from THEN
    fw := model.get_wallet(p_from); tw := model.get_wallet(p_to);
  ELSE
    tw := model.get_wallet(p_to); fw := model.get_wallet(p_from);
  END IF;
  amt := model.minor(p_amount, fw.e, 'amount');
  req := jsonb_build_object('to', tw.wid, 'amount', amt);
  prior := model.replay(fw.wid, p_key, 'exchange', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, (prior->>'rate')::numeric, model.major((prior->>'fee')::bigint, fw.e),
      model.major((prior->>'to_amount')::bigint, (prior->>'te')::int), true;
    RETURN;
  END IF;
  -- choice (order of refusals): another owner, the same currency, frozen, no rate, in debt,
  -- an amount that gives nothing, then funds
  IF fw.owner <> tw.owner THEN PERFORM model.fail('22023', 'wallets of different owners'); END IF;
  IF fw.currency = tw.currency THEN PERFORM model.fail('22023', 'wallets of one currency'); END IF;
  IF fw.frozen THEN PERFORM model.fail('WL002', 'wallet frozen'); END IF;
  r := model.fx(fw.currency, tw.currency);
  PERFORM model.give_back_due(fw.wid);
  -- a wallet in debt cannot exchange out (section 5)
  IF fw.debt > 0 THEN PERFORM model.fail('WL008', 'wallet in debt'); END IF;
  q := model.fx_apply(amt, fw.e, tw.e, r);
  IF q.to_amount <= 0 THEN PERFORM model.fail('22023', 'amount is too small to exchange'); END IF;
  -- only earnings are exchanged
  IF amt > model.earnings_of(fw.wid) THEN PERFORM model.fail('WL001', 'insufficient funds'); END IF;
  -- section 20: the amount taken from the source wallet
  PERFORM model.lim_judge(fw.wid, 'exchange', amt, step_up);
  PERFORM model.take_earnings(fw.wid, amt);
  -- into a points currency: bonus that never expires; otherwise earnings (a debt repaid first)
  SELECT c.points INTO pts FROM wallet.currency c WHERE c.code = tw.currency;
  IF pts THEN
    PERFORM model.bonus_credit(tw.wid, q.to_amount, NULL);
  ELSE
    PERFORM model.credit(tw.wid, q.to_amount);
  END IF;
  v_tid := model.new_txn(fw.wid, 'exchange', p_key, req);
  UPDATE model.txn SET result = jsonb_build_object('txn_id', v_tid, 'rate', r.rate, 'fee', q.fee,
                                                   'to_amount', q.to_amount, 'te', tw.e)
   WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, r.rate, model.major(q.fee, fw.e), model.major(q.to_amount, tw.e), false;
END $$;

------------------------------------------------------------------------------
-- Card intake (section 19)
------------------------------------------------------------------------------
-- The model's own quotes, intakes and cards. A card keeps its secret as written less blanks
-- and hyphens (the model never sees the extension's hashes: the same secret is the same
-- card). Amounts in minor units.
CREATE TABLE model.card_quote (
  qid         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  card_type   text NOT NULL,
  wid         bigint,
  face        bigint NOT NULL,
  quantity    int NOT NULL,
  rate        numeric NOT NULL,
  fee_rate    numeric NOT NULL,
  valid_until timestamptz NOT NULL,
  used_by     bigint
);
CREATE TABLE model.intake (
  kid          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  wid          bigint NOT NULL,
  card_type    text NOT NULL,
  fee_rate     numeric NOT NULL,
  status       text NOT NULL,
  items        int NOT NULL,
  duplicates   int NOT NULL,
  quoted_total bigint NOT NULL,
  paid         bigint NOT NULL DEFAULT 0,
  batch_ref    text,
  submitted_at timestamptz NOT NULL,
  paid_at      timestamptz
);
CREATE TABLE model.card_item (
  item_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kid      bigint NOT NULL,
  pos      int NOT NULL,
  face     bigint NOT NULL,
  secret   text NOT NULL,
  status   text NOT NULL,
  rate     numeric NOT NULL,
  counted  boolean NOT NULL,
  actual   bigint,
  payout   bigint,
  UNIQUE (kid, pos)
);
CREATE INDEX ON model.card_item (secret) WHERE counted;
-- a member's own card rate: wallet.card_rate names the extension's wallet, so the driver
-- tells the model which of its wallets that is (as it supplies coupon codes)
CREATE TABLE model.card_rate_member (rate_id bigint PRIMARY KEY, wid bigint NOT NULL);

-- card_type: a type that may be quoted and bought (22023: unknown or inactive)
CREATE FUNCTION model.card_type(p_type text) RETURNS wallet.card_type
  LANGUAGE plpgsql AS $$
DECLARE
  t wallet.card_type;
BEGIN
  SELECT * INTO t FROM wallet.card_type x WHERE x.card_type = p_type;
  IF NOT FOUND THEN PERFORM model.fail('22023', 'unknown card type'); END IF;
  IF NOT t.active THEN PERFORM model.fail('22023', 'card type not active'); END IF;
  RETURN t;
END $$;

-- card_face: a face value (minor units) the type takes (22023 otherwise)
CREATE FUNCTION model.card_face(t wallet.card_type, e int, p_face numeric, name text) RETURNS bigint
  LANGUAGE plpgsql AS $$
DECLARE
  f bigint := model.minor(p_face, e, name);
BEGIN
  IF t.face_values IS NOT NULL AND NOT EXISTS (SELECT 1 FROM unnest(t.face_values) v WHERE v * (10::numeric ^ e) = f) THEN
    PERFORM model.fail('22023', 'a face value the card type does not take');
  END IF;
  RETURN f;
END $$;

-- card_payout: a card of face f at rate: fee = f x rate x fee_rate, payout = f x rate - fee,
-- each product rounded half away from zero (the fee never above the gross)
CREATE FUNCTION model.card_payout(f bigint, rate numeric, fee_rate numeric, OUT payout bigint, OUT fee bigint)
  LANGUAGE sql IMMUTABLE AS $$
  SELECT round(f * rate)::bigint - least(round(f * rate * fee_rate), round(f * rate))::bigint,
         least(round(f * rate * fee_rate), round(f * rate))::bigint
$$;

-- card_rate: the rate quoted now for a card of face f (minor units) of type t in a batch of
-- quantity cards for wallet p_wid (NULL: none). The table rate: among the rows in force
-- (valid_from <= clock < valid_until, NULL open) with min_face <= f and min_quantity <=
-- quantity, the wallet's own rows if any match, else the general rows; the greatest
-- min_face, then the greatest min_quantity; choice: then the latest valid_from (none
-- counting as the earliest), then the newest row. WL008 when none applies. Weighted by the
-- market: (1 - weight) x table + weight x realized, realized = sum(rate x verified face) /
-- sum(declared face) over the type's last market_window verified cards of paid intakes (by
-- payment, newest first; no history: the table rate), clamped to [floor, cap], rounded half
-- away from zero to 4 decimals.
CREATE FUNCTION model.card_rate(t wallet.card_type, e int, f bigint, quantity int, p_wid bigint) RETURNS numeric
  LANGUAGE plpgsql AS $$
DECLARE
  clk timestamptz := model.clock_now();
  tr numeric;
  n bigint;
  rf numeric;
  fd bigint;
  rate numeric;
BEGIN
  SELECT r.rate INTO tr
    FROM wallet.card_rate r LEFT JOIN model.card_rate_member m ON m.rate_id = r.rate_id
   WHERE r.card_type = t.card_type AND (r.valid_from IS NULL OR r.valid_from <= clk)
     AND (r.valid_until IS NULL OR clk < r.valid_until) AND r.min_face * (10::numeric ^ e) <= f
     AND r.min_quantity <= quantity AND (r.wallet_id IS NULL OR m.wid = p_wid)
   ORDER BY (r.wallet_id IS NOT NULL) DESC, r.min_face DESC, r.min_quantity DESC, r.valid_from DESC NULLS LAST,
            r.rate_id DESC
   LIMIT 1;
  IF NOT FOUND THEN PERFORM model.fail('WL008', 'no card rate in force'); END IF;
  rate := tr;
  IF t.market_weight > 0 THEN
    SELECT count(*), coalesce(sum(x.rate * least(x.face, x.actual)), 0), coalesce(sum(x.face), 0)::bigint
      INTO n, rf, fd
      FROM (SELECT i.rate, i.face, i.actual FROM model.intake k JOIN model.card_item i ON i.kid = k.kid
             WHERE k.card_type = t.card_type AND k.status = 'paid' AND i.status = 'verified'
             ORDER BY k.paid_at DESC, k.kid DESC, i.pos DESC LIMIT t.market_window) x;
    IF n > 0 AND fd > 0 THEN
      rate := (1 - t.market_weight) * tr + t.market_weight * (rf / fd);
    END IF;
  END IF;
  rate := greatest(rate, t.rate_floor);
  rate := least(rate, t.rate_cap);
  RETURN round(rate, 4);
END $$;

-- card_policy: a currency's card settings: how long a quote holds, the day's payouts above
-- which an intake waits for review (minor units), and the zone of its days
CREATE FUNCTION model.card_policy(cur text, e int, OUT valid_for interval, OUT review_daily bigint, OUT tz text)
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(p.card_quote_valid_for, interval '30 minutes'),
         floor(coalesce(p.card_review_daily, 50000) * 10::numeric ^ e)::bigint, coalesce(p.limit_time_zone, 'UTC')
    FROM (SELECT cur AS c) q LEFT JOIN wallet.policy p ON p.currency = q.c
$$;

CREATE FUNCTION model.card_quote(p_type text, p_face numeric, p_quantity int DEFAULT 1, p_wid bigint DEFAULT NULL)
  RETURNS TABLE (quote_id bigint, rate numeric, payout_each numeric, fee_each numeric, payout_total numeric,
                 valid_until timestamptz)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  t wallet.card_type;
  e int;
  w model.wallet;
  f bigint;
  rt numeric;
  po record;
  pol record;
  v_qid bigint;
BEGIN
  PERFORM model.text_arg(p_type, 'card_type', 64, true);
  IF p_quantity IS NULL OR p_quantity < 1 OR p_quantity > 10000 THEN PERFORM model.fail('22023', 'bad quantity'); END IF;
  IF p_face IS NULL THEN PERFORM model.fail('22023', 'face_value is null'); END IF;
  t := model.card_type(p_type);
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = t.currency;
  IF p_wid IS NOT NULL THEN
    w := model.get_wallet(p_wid);
    IF w.currency <> t.currency THEN PERFORM model.fail('22023', 'a wallet of another currency'); END IF;
  END IF;
  f := model.card_face(t, e, p_face, 'face_value');
  rt := model.card_rate(t, e, f, p_quantity, p_wid);
  po := model.card_payout(f, rt, t.fee_rate);
  pol := model.card_policy(t.currency, e);
  INSERT INTO model.card_quote (card_type, wid, face, quantity, rate, fee_rate, valid_until)
  VALUES (t.card_type, p_wid, f, p_quantity, rt, t.fee_rate, model.clock_now() + pol.valid_for)
  RETURNING qid INTO v_qid;
  RETURN QUERY SELECT v_qid, rt, model.major(po.payout, e), model.major(po.fee, e),
    model.major(po.payout * p_quantity, e), model.clock_now() + pol.valid_for;
END $$;

-- card_secret: a secret without its blanks and hyphens: 8 to 128 printable ASCII characters
CREATE FUNCTION model.card_secret(s text) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  n text;
BEGIN
  IF s IS NULL THEN PERFORM model.fail('22023', 'a secret is null'); END IF;
  n := translate(s, E' \t-', '');
  IF n !~ '^[!-~]*$' THEN PERFORM model.fail('22023', 'a secret with other than printable ASCII'); END IF;
  IF length(n) > 128 THEN PERFORM model.fail('22023', 'a secret too long'); END IF;
  IF length(n) < 8 THEN PERFORM model.fail('22023', 'a secret too short'); END IF;
  RETURN n;
END $$;

CREATE FUNCTION model.submit_cards(p_wid bigint, p_type text, p_faces numeric[], p_secrets text[], p_key text,
                                   p_quote bigint DEFAULT NULL, p_batch_ref text DEFAULT NULL)
  RETURNS TABLE (intake_id bigint, items int, duplicates int, quoted_total numeric, status text, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet;
  t wallet.card_type;
  e int;
  n int;
  faces bigint[] := '{}';
  secrets text[] := '{}';
  req jsonb;
  prior jsonb;
  q model.card_quote;
  rates numeric[] := '{}';
  pays bigint[] := '{}';
  dup boolean[] := '{}';
  rt numeric;
  po record;
  fr numeric;
  v_kid bigint;
  v_tid bigint;
  nd int := 0;
  total bigint := 0;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_wid IS NULL THEN PERFORM model.fail('22023', 'wallet_id is null'); END IF;
  PERFORM model.text_arg(p_type, 'card_type', 64, true);
  PERFORM model.text_arg(p_batch_ref, 'batch_ref', 200, false);
  IF p_faces IS NULL OR p_secrets IS NULL THEN PERFORM model.fail('22023', 'an array is null'); END IF;
  n := coalesce(cardinality(p_faces), 0);
  IF n < 1 OR n > 10000 THEN PERFORM model.fail('22023', 'an intake holds 1 to 10000 cards'); END IF;
  IF coalesce(cardinality(p_secrets), 0) < 1 OR cardinality(p_secrets) > 10000 THEN
    PERFORM model.fail('22023', 'an intake holds 1 to 10000 cards');
  END IF;
  IF cardinality(p_secrets) <> n THEN PERFORM model.fail('22023', 'arrays of different lengths'); END IF;
  w := model.get_wallet(p_wid);
  t := model.card_type(p_type);
  IF w.currency <> t.currency THEN PERFORM model.fail('22023', 'a wallet of another currency'); END IF;
  e := w.e;
  FOR i IN 1 .. n LOOP
    IF p_faces[i] IS NULL THEN PERFORM model.fail('22023', 'a face value is null'); END IF;
    faces := faces || model.card_face(t, e, p_faces[i], 'face_values');
  END LOOP;
  FOR i IN 1 .. n LOOP
    secrets := secrets || model.card_secret(p_secrets[i]);
  END LOOP;
  req := jsonb_build_object('card_type', t.card_type, 'faces', faces, 'secrets', secrets, 'quote', p_quote,
                            'batch_ref', p_batch_ref);
  prior := model.replay(w.wid, p_key, 'submit_cards', req);
  IF prior IS NOT NULL THEN
    -- choice (as a refund request's): the status it was made with
    RETURN QUERY SELECT (prior->>'intake_id')::bigint, (prior->>'items')::int, (prior->>'duplicates')::int,
      model.major((prior->>'quoted_total')::bigint, e), 'pending'::text, true;
    RETURN;
  END IF;
  fr := t.fee_rate;
  IF p_quote IS NOT NULL THEN
    -- the quote's rate: it exists, is unused and valid, for this type, this wallet (or
    -- none), these face values and at most this many cards
    SELECT * INTO q FROM model.card_quote x WHERE x.qid = p_quote;
    IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such quote'); END IF;
    IF q.used_by IS NOT NULL THEN PERFORM model.fail('WL008', 'quote used'); END IF;
    IF q.valid_until <= model.clock_now() THEN PERFORM model.fail('WL008', 'quote expired'); END IF;
    IF q.card_type <> t.card_type THEN PERFORM model.fail('22023', 'quote of another card type'); END IF;
    IF q.wid IS NOT NULL AND q.wid <> w.wid THEN PERFORM model.fail('22023', 'quote of another wallet'); END IF;
    IF EXISTS (SELECT 1 FROM unnest(faces) f WHERE f <> q.face) THEN
      PERFORM model.fail('22023', 'quote of another face value');
    END IF;
    IF n < q.quantity THEN PERFORM model.fail('22023', 'quote of more cards'); END IF;
    fr := q.fee_rate;
    po := model.card_payout(q.face, q.rate, q.fee_rate);
    FOR i IN 1 .. n LOOP
      rates := rates || q.rate;
      pays := pays || po.payout;
    END LOOP;
  ELSE
    -- quoted now for the whole batch's quantity, each face value once
    FOR i IN 1 .. n LOOP
      IF faces[i] = ANY (faces[1:i - 1]) THEN
        rt := rates[array_position(faces, faces[i])];
      ELSE
        rt := model.card_rate(t, e, faces[i], n, w.wid);
      END IF;
      rates := rates || rt;
      pays := pays || (model.card_payout(faces[i], rt, fr)).payout;
    END LOOP;
  END IF;
  INSERT INTO model.intake (wid, card_type, fee_rate, status, items, duplicates, quoted_total, batch_ref, submitted_at)
  VALUES (w.wid, t.card_type, fr, 'pending', n, 0, 0, p_batch_ref, model.clock_now()) RETURNING kid INTO v_kid;
  IF p_quote IS NOT NULL THEN
    UPDATE model.card_quote SET used_by = v_kid WHERE qid = p_quote;
  END IF;
  -- a secret earlier in the batch, or held by a card of an intake not rejected, is a duplicate
  FOR i IN 1 .. n LOOP
    dup := dup || (secrets[i] = ANY (secrets[1:i - 1])
                   OR EXISTS (SELECT 1 FROM model.card_item c WHERE c.secret = secrets[i] AND c.counted));
    INSERT INTO model.card_item (kid, pos, face, secret, status, rate, counted)
    VALUES (v_kid, i, faces[i], secrets[i], CASE WHEN dup[i] THEN 'duplicate' ELSE 'pending' END, rates[i], NOT dup[i]);
    IF dup[i] THEN nd := nd + 1; ELSE total := total + pays[i]; END IF;
  END LOOP;
  UPDATE model.intake SET duplicates = nd, quoted_total = total WHERE kid = v_kid;
  v_tid := model.new_txn(w.wid, 'submit_cards', p_key, req);
  UPDATE model.txn SET result = jsonb_build_object('intake_id', v_kid, 'items', n, 'duplicates', nd,
                                                   'quoted_total', total)
   WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_kid, n, nd, model.major(total, e), 'pending'::text, false;
END $$;

CREATE FUNCTION model.verify_card(p_item bigint, p_valid boolean, p_actual numeric DEFAULT NULL, p_note text DEFAULT NULL)
  RETURNS TABLE (status text, payout numeric)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  c model.card_item;
  k model.intake;
  w model.wallet;
  a bigint;
  po record;
BEGIN
  IF p_item IS NULL THEN PERFORM model.fail('22023', 'item_id is null'); END IF;
  PERFORM model.text_arg(p_note, 'note', 1000, false);
  IF p_valid IS NULL THEN PERFORM model.fail('22023', 'valid is null'); END IF;
  IF p_actual IS NOT NULL AND NOT p_valid THEN PERFORM model.fail('22023', 'actual_face of an invalid card'); END IF;
  SELECT * INTO c FROM model.card_item x WHERE x.item_id = p_item;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such card'); END IF;
  SELECT * INTO k FROM model.intake x WHERE x.kid = c.kid;
  w := model.get_wallet(k.wid);
  IF p_actual IS NOT NULL THEN a := model.minor(p_actual, w.e, 'actual_face'); END IF;
  IF c.status = 'duplicate' THEN PERFORM model.fail('WL008', 'a duplicate card'); END IF;
  IF c.status <> 'pending' THEN
    -- a card is checked once: the same check again returns it, another is refused
    IF (p_valid AND c.status = 'verified' AND (a IS NULL OR a = c.actual)) OR (NOT p_valid AND c.status = 'invalid') THEN
      RETURN QUERY SELECT c.status, model.major(c.payout, w.e);
      RETURN;
    END IF;
    PERFORM model.fail('WL008', 'card checked already');
  END IF;
  IF k.status <> 'pending' THEN PERFORM model.fail('WL008', 'intake no longer pending'); END IF;
  IF p_valid THEN
    a := coalesce(a, c.face);
    po := model.card_payout(least(c.face, a), c.rate, k.fee_rate);
    UPDATE model.card_item x SET status = 'verified', actual = a, payout = po.payout WHERE x.item_id = c.item_id;
    RETURN QUERY SELECT 'verified'::text, model.major(po.payout, w.e);
  ELSE
    UPDATE model.card_item x SET status = 'invalid', payout = 0 WHERE x.item_id = c.item_id;
    RETURN QUERY SELECT 'invalid'::text, model.major(0, w.e);
  END IF;
END $$;

-- intake_pay: an intake's verified cards paid to its wallet's earnings (a debt repaid first)
CREATE FUNCTION model.intake_pay(k model.intake, OUT total bigint, OUT n int)
  LANGUAGE plpgsql AS $$
BEGIN
  SELECT coalesce(sum(c.payout), 0)::bigint, count(*)::int INTO total, n
    FROM model.card_item c WHERE c.kid = k.kid AND c.status = 'verified';
  IF total > 0 THEN
    PERFORM model.credit(k.wid, total);
  END IF;
  UPDATE model.intake x SET status = 'paid', paid = total, paid_at = model.clock_now() WHERE x.kid = k.kid;
END $$;

CREATE FUNCTION model.settle_intake(p_kid bigint, p_key text)
  RETURNS TABLE (txn_id bigint, paid numeric, items_paid int, status text)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  k model.intake;
  w model.wallet;
  req jsonb;
  prior jsonb;
  pol record;
  owed bigint;
  today bigint;
  day0 timestamptz;
  pr record;
  v_tid bigint;
BEGIN
  PERFORM model.text_arg(p_key, 'idempotency_key', 200, true);
  IF p_kid IS NULL THEN PERFORM model.fail('22023', 'intake_id is null'); END IF;
  SELECT * INTO k FROM model.intake x WHERE x.kid = p_kid;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such intake'); END IF;
  w := model.get_wallet(k.wid);
  req := jsonb_build_object('intake', k.kid);
  prior := model.replay(w.wid, p_key, 'settle_intake', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, model.major((prior->>'paid')::bigint, w.e),
      (prior->>'items_paid')::int, prior->>'status';
    RETURN;
  END IF;
  IF k.status <> 'pending' THEN PERFORM model.fail('WL008', 'intake not pending'); END IF;
  IF EXISTS (SELECT 1 FROM model.card_item c WHERE c.kid = k.kid AND c.status = 'pending') THEN
    PERFORM model.fail('WL008', 'cards not checked yet');
  END IF;
  SELECT coalesce(sum(c.payout), 0) INTO owed FROM model.card_item c WHERE c.kid = k.kid AND c.status = 'verified';
  -- the wallet's card payouts of the clock's day (in the currency's limit_time_zone)
  pol := model.card_policy(w.currency, w.e);
  day0 := date_trunc('day', model.clock_now() AT TIME ZONE pol.tz) AT TIME ZONE pol.tz;
  SELECT coalesce(sum(x.paid), 0) INTO today FROM model.intake x
   WHERE x.wid = w.wid AND x.status = 'paid' AND x.paid_at >= day0 AND x.paid_at < day0 + interval '1 day';
  v_tid := model.new_txn(w.wid, 'settle_intake', p_key, req);
  IF owed > 0 AND today + owed > pol.review_daily THEN
    UPDATE model.intake x SET status = 'review' WHERE x.kid = k.kid;
    UPDATE model.txn SET result = jsonb_build_object('txn_id', v_tid, 'paid', 0, 'items_paid', 0, 'status', 'review')
     WHERE model.txn.tid = v_tid;
    RETURN QUERY SELECT v_tid, model.major(0, w.e), 0, 'review'::text;
    RETURN;
  END IF;
  pr := model.intake_pay(k);
  UPDATE model.txn SET result = jsonb_build_object('txn_id', v_tid, 'paid', pr.total, 'items_paid', pr.n, 'status', 'paid')
   WHERE model.txn.tid = v_tid;
  RETURN QUERY SELECT v_tid, model.major(pr.total, w.e), pr.n, 'paid'::text;
END $$;

CREATE FUNCTION model.review_intake(p_kid bigint, p_approve boolean, p_reviewer text, p_note text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  k model.intake;
BEGIN
  IF p_kid IS NULL THEN PERFORM model.fail('22023', 'intake_id is null'); END IF;
  IF p_approve IS NULL THEN PERFORM model.fail('22023', 'approve is null'); END IF;
  PERFORM model.text_arg(p_reviewer, 'reviewer', 200, true);
  PERFORM model.text_arg(p_note, 'note', 1000, false);
  SELECT * INTO k FROM model.intake x WHERE x.kid = p_kid;
  IF NOT FOUND THEN PERFORM model.fail('WL006', 'no such intake'); END IF;
  IF k.status = 'review' THEN
    IF p_approve THEN
      PERFORM model.intake_pay(k);
      RETURN 'paid';
    END IF;
    -- rejected: nothing paid, and its secrets count no more
    UPDATE model.intake x SET status = 'rejected' WHERE x.kid = k.kid;
    UPDATE model.card_item c SET counted = false WHERE c.kid = k.kid;
    RETURN 'rejected';
  END IF;
  -- repeating a decision already made returns the status; a conflicting one is refused
  IF (p_approve AND k.status = 'paid') OR (NOT p_approve AND k.status = 'rejected') THEN RETURN k.status; END IF;
  PERFORM model.fail('WL008', 'intake not in review');
  RETURN NULL;
END $$;

CREATE FUNCTION model.intakes(p_wid bigint)
  RETURNS TABLE (intake_id bigint, card_type text, status text, items int, duplicates int, verified int, invalid int,
                 pending int, quoted_total numeric, paid numeric, batch_ref text, submitted_at timestamptz,
                 paid_at timestamptz)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
BEGIN
  RETURN QUERY
    SELECT k.kid, k.card_type, k.status, k.items, k.duplicates,
           (SELECT count(*)::int FROM model.card_item c WHERE c.kid = k.kid AND c.status = 'verified'),
           (SELECT count(*)::int FROM model.card_item c WHERE c.kid = k.kid AND c.status = 'invalid'),
           (SELECT count(*)::int FROM model.card_item c WHERE c.kid = k.kid AND c.status = 'pending'),
           model.major(k.quoted_total, w.e), model.major(k.paid, w.e), k.batch_ref, k.submitted_at, k.paid_at
      FROM model.intake k WHERE k.wid = w.wid
     ORDER BY k.submitted_at DESC, k.kid DESC;
END $$;

------------------------------------------------------------------------------
-- Limits and step-up verification (section 20)
------------------------------------------------------------------------------
-- The model keeps every debit it counts as a row of model.lim_use (wallet, class, the time
-- it was counted, amount, count 1) and every give-back as a row with the amount and count
-- negative and the time of the debit it gives back. A period's usage is the sum of the rows
-- counted in it (days and months of the currency's limit_time_zone): a give-back after the
-- period of its debit is over lands in that period and so counts for nothing now, as the
-- contract says (the clock only moves on). Rules are read from wallet.limit_rule; a rule of one
-- wallet names the extension's wallet, so the driver says which of the model's it is
-- (model.limit_rule_member), as for a member's card rate.
-- choice: a debit is judged after every other refusal of its operation (frozen, funds, spend
-- rules, withdrawal minimum and daily maximum, ...), so a refused call is refused for those first.
-- choice: a hold past its time gives its usage back when it is expired (by the sweep, or by the
-- wallet's next operation that gives lapsed holds back), at that clock, not at its expiry time:
-- if that is another day, the day keeps it.
-- choice: each class's usage in a period never goes below zero (the give-backs are of what was
-- counted, so this only matters if they were not).
ALTER TABLE model.spend ADD COLUMN made_at timestamptz DEFAULT model.clock_now(), ADD COLUMN hold_of bigint;
ALTER TABLE model.hold ADD COLUMN made_at timestamptz DEFAULT model.clock_now();
CREATE TABLE model.limit_rule_member (rule_id bigint PRIMARY KEY, wid bigint NOT NULL);
CREATE TABLE model.lim_use (
  n      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  wid    bigint NOT NULL,
  cls    text NOT NULL CHECK (cls IN ('spend', 'transfer', 'withdraw', 'exchange', 'card_payout')),
  at     timestamptz NOT NULL,
  amount bigint NOT NULL,
  cnt    int NOT NULL
);
CREATE INDEX ON model.lim_use (wid);
-- step-up grants: the token is the extension's (the driver supplies it, as coupon codes)
CREATE TABLE model.step_up_grant (
  token      text PRIMARY KEY,
  wid        bigint NOT NULL,
  operation  text NOT NULL,
  max_amount bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  used       boolean NOT NULL DEFAULT false
);

CREATE FUNCTION model.lim_tz(p_wid bigint) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT p.limit_time_zone FROM wallet.policy p JOIN model.wallet w ON w.currency = p.currency
                    WHERE w.wid = p_wid), 'UTC')
$$;

-- lim_rules: the rules that apply to a wallet, its currency's and its own, by rule_id
CREATE FUNCTION model.lim_rules(p_wid bigint) RETURNS SETOF wallet.limit_rule LANGUAGE sql STABLE AS $$
  SELECT r.* FROM wallet.limit_rule r JOIN model.wallet w ON w.currency = r.currency
   WHERE w.wid = p_wid
     AND (r.wallet_id IS NULL
          OR EXISTS (SELECT 1 FROM model.limit_rule_member m WHERE m.rule_id = r.rule_id AND m.wid = p_wid))
   ORDER BY r.rule_id
$$;

-- lim_covers: a rule of operation op covers a debit of class cls (debit: all but card payouts)
CREATE FUNCTION model.lim_covers(op text, cls text) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT op = cls OR (op = 'debit' AND cls <> 'card_payout') $$;

-- lim_start: the first instant of the day or month (period) of t in zone tz
CREATE FUNCTION model.lim_start(t timestamptz, period text, tz text) RETURNS timestamptz LANGUAGE sql STABLE
  AS $$ SELECT date_trunc(period, t AT TIME ZONE tz) AT TIME ZONE tz $$;

-- lim_used: what a wallet has used now of rule r's class(es) in r's period (0 for each operation
-- alone); each class never below zero
CREATE FUNCTION model.lim_used(p_wid bigint, r wallet.limit_rule, OUT amount bigint, OUT cnt bigint)
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(greatest(a, 0)), 0)::bigint, coalesce(sum(greatest(c, 0)), 0)::bigint
    FROM (SELECT u.cls, sum(u.amount) AS a, sum(u.cnt) AS c
            FROM model.lim_use u, model.lim_tz(p_wid) z
           WHERE u.wid = p_wid AND r.period <> 'operation' AND model.lim_covers(r.operation, u.cls)
             AND model.lim_start(u.at, r.period, z) = model.lim_start(model.clock_now(), r.period, z)
           GROUP BY u.cls) x
$$;

-- lim_verdict: refuse, step_up or NULL (allowed) for a debit of amt of class cls: the first
-- refusing rule broken refuses; else a step-up rule broken asks for a grant
CREATE FUNCTION model.lim_verdict(p_wid bigint, cls text, amt bigint) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  r wallet.limit_rule;
  u record;
  e int := (SELECT w.e FROM model.wallet w WHERE w.wid = p_wid);
  v text;
BEGIN
  IF amt <= 0 THEN RETURN NULL; END IF;
  FOR r IN SELECT * FROM model.lim_rules(p_wid) LOOP
    CONTINUE WHEN NOT model.lim_covers(r.operation, cls);
    u := model.lim_used(p_wid, r);
    IF (r.max_amount IS NOT NULL AND u.amount + amt > round(r.max_amount * 10::numeric ^ e))
       OR (r.max_count IS NOT NULL AND r.period <> 'operation' AND u.cnt + 1 > r.max_count) THEN
      IF r.action = 'refuse' THEN RETURN 'refuse'; END IF;
      v := 'step_up';
    END IF;
  END LOOP;
  RETURN v;
END $$;

-- lim_allow: a debit no rule would stop (auto_withdraw asks before it requests)
CREATE FUNCTION model.lim_allow(p_wid bigint, cls text, amt bigint) RETURNS boolean LANGUAGE sql STABLE
  AS $$ SELECT model.lim_verdict(p_wid, cls, amt) IS NULL $$;

-- lim_judge: judges a debit of amt of class cls (WL007; WL009 unless tok is a grant that allows
-- it: of this wallet, unused, not expired, for this class, up to its amount; it is then used)
-- and counts it. A token where none is needed is left unused.
CREATE FUNCTION model.lim_judge(p_wid bigint, cls text, amt bigint, tok text) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  v text;
  g model.step_up_grant;
BEGIN
  IF amt <= 0 THEN RETURN; END IF;
  v := model.lim_verdict(p_wid, cls, amt);
  IF v = 'refuse' THEN PERFORM model.fail('WL007', 'limit exceeded'); END IF;
  IF v = 'step_up' THEN
    IF tok IS NULL THEN PERFORM model.fail('WL009', 'step-up verification required'); END IF;
    SELECT * INTO g FROM model.step_up_grant x WHERE x.token = tok;
    IF NOT FOUND OR g.wid <> p_wid OR g.used OR g.expires_at <= model.clock_now() OR g.operation <> cls
       OR amt > g.max_amount THEN
      PERFORM model.fail('WL009', 'step-up grant does not allow this payment');
    END IF;
    UPDATE model.step_up_grant x SET used = true WHERE x.token = tok;
  END IF;
  INSERT INTO model.lim_use (wid, cls, at, amount, cnt) VALUES (p_wid, cls, model.clock_now(), amt, 1);
END $$;

-- lim_back: amt and cnt given back to the period of the debit counted at t
CREATE FUNCTION model.lim_back(p_wid bigint, cls text, amt bigint, cnt int, t timestamptz) RETURNS void
  LANGUAGE sql AS $$
  INSERT INTO model.lim_use (wid, cls, at, amount, cnt)
  SELECT p_wid, cls, t, -greatest(amt, 0), -greatest(cnt, 0) WHERE amt > 0 OR cnt > 0
$$;

CREATE FUNCTION model.limit_usage(p_wid bigint)
  RETURNS TABLE (rule_id bigint, operation text, period text, period_start timestamptz, used_amount numeric,
                 used_count bigint, remaining_amount numeric, remaining_count bigint)
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  w model.wallet := model.get_wallet(p_wid);
BEGIN
  RETURN QUERY
  SELECT r.rule_id, r.operation, r.period,
         CASE WHEN r.period = 'operation' THEN NULL
              ELSE model.lim_start(model.clock_now(), r.period, model.lim_tz(w.wid)) END,
         model.major(u.amount, w.e), u.cnt,
         CASE WHEN r.max_amount IS NOT NULL
              THEN model.major(greatest(round(r.max_amount * 10::numeric ^ w.e)::bigint - u.amount, 0), w.e) END,
         CASE WHEN r.max_count IS NOT NULL THEN greatest(r.max_count::bigint - u.cnt, 0) END
    FROM model.lim_rules(w.wid) r, LATERAL model.lim_used(w.wid, r) u
   ORDER BY r.rule_id;
END $$;

-- grant_step_up: the grant of the token the extension made (supplied by the driver)
CREATE FUNCTION model.grant_step_up(p_wid bigint, p_operation text, p_max_amount numeric, p_verifier text,
                                    p_ttl interval, p_token text) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  w model.wallet;
  m bigint;
BEGIN
  IF p_operation IS NULL OR p_operation NOT IN ('spend', 'transfer', 'withdraw', 'exchange') THEN
    PERFORM model.fail('22023', 'unknown operation');
  END IF;
  IF p_ttl IS NULL OR p_ttl < interval '1 second' OR p_ttl > interval '1 day' THEN
    PERFORM model.fail('22023', 'ttl out of range');
  END IF;
  PERFORM model.text_arg(p_verifier, 'verifier', 200, true);
  w := model.get_wallet(p_wid);
  m := model.minor(p_max_amount, w.e, 'max_amount');
  INSERT INTO model.step_up_grant VALUES (p_token, w.wid, p_operation, m, model.clock_now() + p_ttl);
  RETURN p_token;
END $$;

------------------------------------------------------------------------------
-- Risk flags and policy.flags_to_freeze (section 20)
------------------------------------------------------------------------------
-- A refund request beyond max_refunds_per_30_days flags its wallet (refund_limit), a debt
-- crossing above the currency's payee_debt_flag flags it (payee_debt, once per crossing); a
-- wallet whose flags of the 30 days up to the clock reach its currency's flags_to_freeze is
-- frozen at once (a frozen one stays as it is).
CREATE TABLE model.risk_flag (
  n    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  wid  bigint NOT NULL,
  kind text NOT NULL,
  at   timestamptz NOT NULL
);

CREATE FUNCTION model.flag(p_wid bigint, p_kind text) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  clk timestamptz := model.clock_now();
  w model.wallet := model.get_wallet(p_wid);
  lim int := (SELECT p.flags_to_freeze FROM wallet.policy p WHERE p.currency = w.currency);
BEGIN
  INSERT INTO model.risk_flag (wid, kind, at) VALUES (w.wid, p_kind, clk);
  IF lim IS NULL OR w.frozen THEN RETURN; END IF;
  IF (SELECT count(*) FROM model.risk_flag f
       WHERE f.wid = w.wid AND f.at > clk - interval '30 days' AND f.at <= clk) >= lim THEN
    UPDATE model.wallet SET frozen = true WHERE wid = w.wid;
  END IF;
END $$;

-- debt_added: added was just added to a wallet's debt: a flag if that took the debt above
-- the currency's payee_debt_flag (compared exactly in major units)
-- choice: a points wallet's debt (points taken back by a reversal) is flagged the same way, by
-- its own currency's policy
CREATE FUNCTION model.debt_added(p_wid bigint, added bigint) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  w model.wallet := model.get_wallet(p_wid);
  f numeric := (SELECT p.payee_debt_flag FROM wallet.policy p WHERE p.currency = w.currency);
BEGIN
  IF added > 0 AND f IS NOT NULL AND model.major(w.debt, w.e) > f AND model.major(w.debt - added, w.e) <= f THEN
    PERFORM model.flag(w.wid, 'payee_debt');
  END IF;
END $$;
