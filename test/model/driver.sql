-- test/model/driver.sql: seeded generator and driver of the model-based test.
--
-- mt.gen(seed, steps) writes a random plan of operations (mt.plan) for a seed:
-- the plan is fixed before anything runs, so a seed always gives the same plan.
-- Steps refer to earlier steps ("reverse the spend of step 17"), never to ids,
-- so that any subset of the plan can be replayed (shrinking): a step whose
-- reference did not produce anything is skipped. Amounts given as fractions
-- ("70 % of what is available") are resolved when the step runs, from the
-- reference model's state.
--
-- CALL mt.run(seed, steps[, keep int[]]) sets up the configuration, then for
-- each planned step runs the operation against the extension (wallet.*) and
-- against the model (model.*), each in its own subtransaction, and checks that
-- both agree on the result row (ids are mapped: the first time an id is
-- returned it is paired with the model's), on the SQLSTATE when one fails,
-- and then on every wallet's balance (scenes NULL, game, shop), on the
-- coupons() of the wallets the step touched and wallet.coupon_stats, and on
-- wallet.reconcile() returning no rows. Coupon codes are random: the model
-- issues the codes the extension returned (model.code_supply, filled here), and
-- steps refer to codes by the wallet's k-th coupon or an issuing step
-- (mt.code_ref). It commits after every step and stops at the first
-- disagreement, recorded in mt.failure.
-- mt.outcome() and mt.report() summarise a run; mt.repro() prints the steps run
-- as a psql script against the extension alone, with the model's answers as
-- comments.

DROP SCHEMA IF EXISTS mt CASCADE;
CREATE SCHEMA mt;

CREATE TABLE mt.run_info (
  one             boolean PRIMARY KEY DEFAULT true CHECK (one),
  seed            bigint NOT NULL,
  steps           int NOT NULL,
  keep            int[],
  reconcile_every int NOT NULL DEFAULT 1
);
CREATE TABLE mt.config_stmt (n int PRIMARY KEY, sql text NOT NULL);
CREATE TABLE mt.plan (step int PRIMARY KEY, op text NOT NULL, args jsonb NOT NULL);
-- wallets by owner; ids on both sides; e = the currency's exponent
CREATE TABLE mt.wmap (owner text PRIMARY KEY, currency text NOT NULL, e int NOT NULL,
                      ext_id bigint NOT NULL UNIQUE, mod_id bigint NOT NULL UNIQUE);
-- txn and refund ids: extension id -> model id
CREATE TABLE mt.idmap (kind text NOT NULL, ext_id bigint NOT NULL, mod_id bigint NOT NULL,
                       PRIMARY KEY (kind, ext_id), UNIQUE (kind, mod_id));
-- what a step created (a top-up, spend, reversal: txn; a refund request: refund)
CREATE TABLE mt.obj (step int PRIMARY KEY, op text NOT NULL, kind text NOT NULL, ext_id bigint NOT NULL, mod_id bigint NOT NULL);
CREATE TABLE mt.trace (
  step      int PRIMARY KEY,
  op        text NOT NULL,
  res       jsonb,           -- the resolved operation (NULL: skipped)
  status    text NOT NULL,   -- ok | skip | fail
  ext_ok    boolean, ext_out jsonb, ext_state text, ext_msg text,
  mod_ok    boolean, mod_out jsonb, mod_state text, mod_msg text
);
-- pinned values of a step (shrinking): the amount and clock time it had in the run that failed
CREATE TABLE mt.pin (step int PRIMARY KEY, pin jsonb NOT NULL);
CREATE TABLE mt.failure (step int NOT NULL, op text NOT NULL, what text NOT NULL, detail text NOT NULL);
-- automatic withdrawals (requested by auto_withdraw, not by a step of their own), paired by wallet
CREATE TABLE mt.autowd (ext_id bigint PRIMARY KEY, mod_id bigint NOT NULL UNIQUE, owner text NOT NULL, step int NOT NULL);

CREATE FUNCTION mt.t0() RETURNS timestamptz LANGUAGE sql IMMUTABLE
  AS $$ SELECT '2026-01-01 00:00:00+00'::timestamptz $$;

-- router: the run goes through a router database to its shards (MODEL_TARGET=router: run.sh
-- loads test/model/router.sql, schema mtr, before this file)
CREATE FUNCTION mt.router() RETURNS boolean LANGUAGE sql STABLE
  AS $$ SELECT to_regnamespace('mtr') IS NOT NULL $$;

-- set_clock: the clock of the extension (wallet.now; in router mode every shard's too) and the model
CREATE FUNCTION mt.set_clock(t timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('wallet.now', t::text, false);
  IF mt.router() THEN
    PERFORM mtr.push_clock();
  END IF;
  PERFORM model.set_clock(t);
END $$;

------------------------------------------------------------------------------
-- Random helpers (the plan is generated in one call after setseed)
------------------------------------------------------------------------------
CREATE FUNCTION mt.ri(lo int, hi int) RETURNS int LANGUAGE sql VOLATILE
  AS $$ SELECT lo + floor(random() * (hi - lo + 1))::int $$;
CREATE FUNCTION mt.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE
  AS $$ SELECT a[mt.ri(1, cardinality(a))] $$;
-- recent: an element of a, mostly one of the last ones
CREATE FUNCTION mt.recent(a int[]) RETURNS int LANGUAGE sql VOLATILE
  AS $$ SELECT CASE WHEN cardinality(a) = 0 THEN NULL
                    ELSE a[cardinality(a) - floor(cardinality(a) * power(random(), 2.5))::int] END $$;

-- amount: a random amount as text for a currency exponent; kind topup|spend|small
CREATE FUNCTION mt.gen_amount(e int, kind text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  r double precision := random();
  unit numeric := 10::numeric ^ (-e);
  base numeric;
BEGIN
  IF kind = 'topup' AND r < 0.4 THEN
    base := CASE WHEN e = 0 THEN mt.pick('{1000,3000,5000,500}')::numeric
                 ELSE mt.pick('{30,50,100,200,300,500}')::numeric END;
    r := random();
    IF r < 0.2 THEN base := base - unit; ELSIF r < 0.4 THEN base := base + unit; END IF;
    RETURN round(base, e)::text;
  END IF;
  IF kind = 'small' OR r > 0.9 THEN
    RETURN round((mt.ri(1, CASE WHEN e = 0 THEN 60 ELSE 600 END) * unit), e)::text;
  END IF;
  IF random() < 0.3 THEN      -- whole amounts
    RETURN (mt.ri(1, CASE WHEN kind = 'topup' THEN 600 ELSE 150 END)
            * CASE WHEN e = 0 THEN 15 ELSE 1 END)::text;
  END IF;
  RETURN round(mt.ri(1, CASE WHEN kind = 'topup' THEN 60000 ELSE 15000 END)::numeric
               * CASE WHEN e = 0 THEN 1 ELSE 0.01 END, e)::text;
END $$;

-- bad_amount: an amount the extension must refuse (22023)
CREATE FUNCTION mt.bad_amount(e int) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT (ARRAY['0', '-5', CASE WHEN e = 0 THEN '1.5' ELSE '0.001' END,
                CASE WHEN e = 0 THEN '12.25' ELSE '3.141' END, 'NaN',
                CASE WHEN e = 0 THEN '10000000000000001' ELSE '10000000000001' END,
                NULL])[mt.ri(1, 7)]
$$;

------------------------------------------------------------------------------
-- Configuration: policies and bonus rules (variant by seed)
------------------------------------------------------------------------------
CREATE FUNCTION mt.config(variant int) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  IF variant = 0 THEN
    RETURN NEXT $q$SELECT wallet.set_policy('CNY', refund_window => '7 days', refund_fee_rate => 0.015, refund_auto_approve_max => 20, max_refunds_per_30_days => 4, commission_rate => 0.1)$q$;
    RETURN NEXT $q$SELECT wallet.set_policy('JPY', refund_window => '30 days', refund_fee_rate => 0.03, max_refunds_per_30_days => 3, commission_rate => 0.05)$q$;
    -- spend rules (section 15): CNY's earnings only in game and shop, all of a balance below 80;
    -- JPY's payments use at least 300 of a balance
    RETURN NEXT $q$SELECT wallet.set_policy('CNY', use_all_below => 80, earnings_scope => '{game,shop}')$q$;
    RETURN NEXT $q$SELECT wallet.set_policy('JPY', min_balance_use => 300)$q$;
    -- transfers and withdrawals (sections 16, 17): CNY days in Shanghai, a fee with a floor
    -- and a cap, small auto-approval, review and daily limits; JPY a fixed fee, everything reviewed
    RETURN NEXT $q$SELECT wallet.set_policy('CNY', transfer_fee_rate => 0.01, withdraw_min => 10, withdraw_fee_rate => 0.006, withdraw_fee_min => 1, withdraw_fee_max => 2.5, withdraw_auto_approve_max => 50, withdraw_review_daily => 120, withdraw_daily_max => 300, limit_time_zone => 'Asia/Shanghai')$q$;
    RETURN NEXT $q$SELECT wallet.set_policy('JPY', transfer_fee_fixed => 10, withdraw_min => 1000, withdraw_fee_fixed => 200, withdraw_daily_max => 20000, limit_time_zone => 'Asia/Tokyo')$q$;
  ELSE
    RETURN NEXT $q$SELECT wallet.set_policy('CNY', refund_window => '3 days', refund_auto_approve_max => 1000, max_refunds_per_30_days => 6, commission_rate => 0.125)$q$;
    -- transfers and withdrawals: CNY a rate and a fixed fee, days in New York, no daily
    -- maximum; JPY the defaults (no fee, no minimum, every request reviewed), days in UTC
    RETURN NEXT $q$SELECT wallet.set_policy('CNY', transfer_fee_rate => 0.005, transfer_fee_fixed => 0.5, withdraw_fee_rate => 0.01, withdraw_fee_fixed => 1, withdraw_fee_max => 9.99, withdraw_auto_approve_max => 80, withdraw_review_daily => 150, limit_time_zone => 'America/New_York')$q$;
  END IF;
  -- CNY base tiers: expiring and scoped bonus among them
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('CNY', min_amount => 50, bonus_fixed => 5, valid_for => '10 days')$q$;
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('CNY', min_amount => 100, bonus_fixed => 10)$q$;
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('CNY', min_amount => 200, bonus_fixed => 20, bonus_rate => 0.025, valid_for => '6 days', scope => '{game,shop}')$q$;
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('CNY', min_amount => 500, bonus_fixed => 20, bonus_rate => 0.02, max_bonus => 50, valid_for => '30 days')$q$;
  -- CNY campaigns: one with its own refund fee, one short flash sale
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('CNY', min_amount => 100, bonus_rate => 0.05, valid_for => '3 days', scope => '{game}', campaign => 'spring', starts_at => '2026-01-02 00:00:00+00', ends_at => '2026-01-21 00:00:00+00', refund_fee_rate => 0.02)$q$;
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('CNY', min_amount => 30, bonus_rate => 0.111, max_bonus => 8.88, valid_for => '2 days', campaign => 'flash', ends_at => '2026-01-06 00:00:00+00')$q$;
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('CNY', min_amount => 300, bonus_fixed => 12.34, valid_for => '36 hours', campaign => 'flash', ends_at => '2026-01-06 00:00:00+00')$q$;
  -- JPY (exponent 0)
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('JPY', min_amount => 1000, bonus_rate => 0.05, max_bonus => 300, valid_for => '14 days')$q$;
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('JPY', min_amount => 5000, bonus_fixed => 500)$q$;
  RETURN NEXT $q$SELECT wallet.add_bonus_rule('JPY', min_amount => 3000, bonus_fixed => 300, valid_for => '5 days', scope => '{shop}', campaign => 'jp', ends_at => '2026-02-10 00:00:00+00', refund_fee_rate => 0.01)$q$;
  -- coupon templates (section 10): issued on open and on top-ups, manual ones
  -- with limits, a scope, a validity window the clock moves through, a
  -- discount that often covers the whole order, and percent rounding
  RETURN NEXT $q$SELECT wallet.add_coupon_template('c-welcome', 'CNY', 'amount', 5, min_order => 20, valid_for => '10 days', issue_on => 'open')$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('c-topup', 'CNY', 'percent', 15, max_discount => 12, valid_for => '5 days', per_wallet_limit => 2, issue_on => 'top_up', issue_min_top_up => 200)$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('c-game', 'CNY', 'amount', 10, min_order => 30, scope => '{game}', per_wallet_limit => 3)$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('c-flash', 'CNY', 'percent', 50, max_discount => 40, valid_from => '2026-01-01 12:00:00+00', valid_until => '2026-01-06 00:00:00+00', total_limit => 3)$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('c-big', 'CNY', 'amount', 200, valid_for => '4 days', total_limit => 6, per_wallet_limit => 2)$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('c-pct', 'CNY', 'percent', 12.5, per_wallet_limit => 4)$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('c-late', 'CNY', 'amount', 3.33, min_order => 0.5, valid_from => '2026-01-04 00:00:00+00', valid_for => '2 days', per_wallet_limit => 2)$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('j-welcome', 'JPY', 'amount', 300, min_order => 1000, valid_until => '2026-01-15 00:00:00+00', issue_on => 'open')$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('j-pct', 'JPY', 'percent', 10, max_discount => 500, scope => '{shop}', valid_for => '3 days', per_wallet_limit => 3)$q$;
  RETURN NEXT $q$SELECT wallet.add_coupon_template('j-topup', 'JPY', 'percent', 20, max_discount => 2000, total_limit => 4, issue_on => 'top_up', issue_min_top_up => 5000)$q$;
  -- exchange rates (section 18): CNY and JPY both ways, into points; a later CNY->JPY rate from
  -- 5 January, a JPY->CNY rate for one day only (the older row is in force again after it)
  RETURN NEXT $q$SELECT wallet.set_fx_rate('CNY', 'JPY', 20.5, fee_rate => 0.01)$q$;
  RETURN NEXT $q$SELECT wallet.set_fx_rate('JPY', 'CNY', 0.0487, fee_rate => 0.005)$q$;
  RETURN NEXT $q$SELECT wallet.set_fx_rate('CNY', 'PTS', 10)$q$;
  RETURN NEXT $q$SELECT wallet.set_fx_rate('JPY', 'PTS', 0.1, fee_rate => 0.02)$q$;
  RETURN NEXT $q$SELECT wallet.set_fx_rate('CNY', 'JPY', 21.25, fee_rate => 0.015, valid_from => '2026-01-05 00:00:00+00')$q$;
  RETURN NEXT $q$SELECT wallet.set_fx_rate('JPY', 'CNY', 0.05, valid_from => '2026-01-03 00:00:00+00', valid_until => '2026-01-04 00:00:00+00')$q$;
  -- points earned by spending: a point a yuan in game (expiring), half a point a yuan from 20
  -- anywhere (never expiring), a double-points week in game from 20 (the scene's rule wins the
  -- tie on min_spend); JPY points in shop, and from 3000 anywhere until 10 January
  RETURN NEXT $q$SELECT wallet.add_reward_rule('CNY', 1, scene => 'game', valid_for => '5 days')$q$;
  RETURN NEXT $q$SELECT wallet.add_reward_rule('CNY', 0.5, min_spend => 20)$q$;
  RETURN NEXT $q$SELECT wallet.add_reward_rule('CNY', 2, scene => 'game', min_spend => 20, valid_for => '2 days', starts_at => '2026-01-03 00:00:00+00', ends_at => '2026-01-08 00:00:00+00')$q$;
  RETURN NEXT $q$SELECT wallet.add_reward_rule('JPY', 0.01, scene => 'shop', valid_for => '3 days')$q$;
  RETURN NEXT $q$SELECT wallet.add_reward_rule('JPY', 0.013, min_spend => 3000, ends_at => '2026-01-10 00:00:00+00')$q$;
  -- card intake (section 19): a supermarket card of four face values with face and batch tiers
  -- and a promotion; a game card of any face value whose rate follows the market (clamped); a
  -- JPY card fully weighted by the market; a retired type and one without rates
  RETURN NEXT $q$SELECT wallet.set_card_type('mart', 'Mart card', 'CNY', face_values => '{50,100,200,500}', fee_rate => 0.02)$q$;
  RETURN NEXT $q$SELECT wallet.add_card_rate('mart', 0.9)$q$;
  RETURN NEXT $q$SELECT wallet.add_card_rate('mart', 0.93, min_face => 200)$q$;
  RETURN NEXT $q$SELECT wallet.add_card_rate('mart', 0.95, min_face => 100, min_quantity => 3)$q$;
  RETURN NEXT $q$SELECT wallet.add_card_rate('mart', 0.97, valid_from => '2026-01-04 00:00:00+00', valid_until => '2026-01-06 00:00:00+00')$q$;
  RETURN NEXT $q$SELECT wallet.set_card_type('game', 'Game card', 'CNY', fee_rate => 0.05, market_weight => 0.5, market_window => 4, rate_floor => 0.6, rate_cap => 0.85)$q$;
  RETURN NEXT $q$SELECT wallet.add_card_rate('game', 0.8)$q$;
  RETURN NEXT $q$SELECT wallet.add_card_rate('game', 0.83, min_face => 100)$q$;
  RETURN NEXT $q$SELECT wallet.set_card_type('jcard', 'JP card', 'JPY', face_values => '{1000,3000,5000}', fee_rate => 0.01, market_weight => 1, market_window => 3)$q$;
  RETURN NEXT $q$SELECT wallet.add_card_rate('jcard', 0.88)$q$;
  RETURN NEXT $q$SELECT wallet.set_card_type('old', 'Retired card', 'CNY', active => false)$q$;
  RETURN NEXT $q$SELECT wallet.add_card_rate('old', 0.5)$q$;
  RETURN NEXT $q$SELECT wallet.set_card_type('norate', 'Card without rates', 'JPY')$q$;
  IF variant = 0 THEN
    RETURN NEXT $q$SELECT wallet.set_policy('CNY', card_quote_valid_for => '2 hours', card_review_daily => 150)$q$;
    RETURN NEXT $q$SELECT wallet.set_policy('JPY', card_review_daily => 3000)$q$;
  ELSE
    RETURN NEXT $q$SELECT wallet.set_policy('CNY', card_review_daily => 100)$q$;
  END IF;
END $$;

-- gen_code: a coupon code reference for a step of wallet w: the wallet's own
-- coupons (any, or an available one), one issued at an earlier step, another
-- wallet's (must read as unknown), a mistyped one (one symbol changed), the
-- same code in lower case or without hyphens, a well-formed code never
-- issued, or invalid text. Resolved when the step runs (mt.code_ref).
CREATE FUNCTION mt.gen_code(w text, others text[], issues int[], invalid boolean) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  x double precision := random();
  c jsonb;
BEGIN
  IF x < 0.33 THEN
    c := jsonb_build_object('src', 'wallet', 'o', w, 'i', mt.ri(0, 60), 'pick', 'avail');
  ELSIF x < 0.45 THEN
    c := jsonb_build_object('src', 'wallet', 'o', w, 'i', mt.ri(0, 60), 'pick', 'any');
  ELSIF x < 0.57 AND cardinality(issues) > 0 THEN
    c := jsonb_build_object('src', 'step', 'ref', mt.recent(issues), 'o', w, 'i', mt.ri(0, 60));
  ELSIF x < 0.66 AND cardinality(others) > 0 THEN
    c := jsonb_build_object('src', 'wallet', 'o', mt.pick(others), 'i', mt.ri(0, 60), 'pick', 'any');
  ELSIF x < 0.77 THEN
    c := jsonb_build_object('src', 'wallet', 'o', w, 'i', mt.ri(0, 60), 'pick', 'avail',
                            'mut', jsonb_build_object('typo', mt.ri(1, 18), 'd', mt.ri(1, 30)));
  ELSIF x < 0.82 THEN
    c := jsonb_build_object('src', 'wallet', 'o', w, 'i', mt.ri(0, 60), 'pick', 'avail',
                            'mut', mt.pick('{lower,nodash}'));
  ELSIF x < 0.95 OR NOT invalid THEN
    c := jsonb_build_object('src', 'unknown', 'sym', (SELECT jsonb_agg(mt.ri(0, 30)) FROM generate_series(1, 17)));
  ELSE
    c := jsonb_build_object('src', 'lit', 'code', mt.pick(ARRAY[NULL, repeat('A', 65), 'ABC' || chr(7), '', 'NOSUCHCODE']));
  END IF;
  RETURN c;
END $$;

-- gen_wamount: a withdrawal amount, resolved when the step runs: a fraction of the
-- earnings, all of them, one unit more, exactly the minimum, one unit less, exactly what
-- is left of the day's maximum, one unit more, a small literal or an invalid one
CREATE FUNCTION mt.gen_wamount(e int) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  x double precision := random();
BEGIN
  RETURN CASE WHEN x < 0.45 THEN jsonb_build_object('frac', 0.05 + random() * 0.95)
              WHEN x < 0.55 THEN '"all"' WHEN x < 0.6 THEN '"over"'
              WHEN x < 0.67 THEN '"min"' WHEN x < 0.72 THEN '"min1"'
              WHEN x < 0.8 THEN '"daily"' WHEN x < 0.85 THEN '"daily1"'
              WHEN x < 0.97 THEN to_jsonb(mt.gen_amount(e, 'small'))
              ELSE to_jsonb(coalesce(mt.bad_amount(e), '0')) END;
END $$;

-- gen_secret: a card secret never used before (10 to 16 letters and digits)
CREATE FUNCTION mt.gen_secret() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(substr('ABCDEFGHJKLMNPQRSTUVWXYZ23456789abcdefghijkmnpqrstuvwxyz', mt.ri(1, 56), 1), '')
    FROM generate_series(1, mt.ri(10, 16))
$$;

-- gen_card_face: a face value of a card type as text (sometimes one it does not take)
CREATE FUNCTION mt.gen_card_face(tpl text) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN random() < 0.04 THEN mt.pick('{150,0.5,-1}')
              WHEN tpl IN ('mart', 'old') THEN mt.pick('{50,100,200,500,100,200}')
              WHEN tpl IN ('jcard', 'norate') THEN mt.pick('{1000,3000,5000}')
              ELSE mt.pick('{20,30.5,88.88,100,150,300,600}') END
$$;

------------------------------------------------------------------------------
-- Generator
------------------------------------------------------------------------------
CREATE FUNCTION mt.gen(p_seed bigint, p_steps int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  owners text[] := '{}';
  cur jsonb := '{}';          -- owner -> currency
  ex jsonb := '{"CNY": 2, "JPY": 0}';
  topups int[] := '{}';
  spends int[] := '{}';
  requests int[] := '{}';
  keyed int[] := '{}';
  frozen text[] := '{}';
  issues int[] := '{}';
  cspends int[] := '{}';
  tpls jsonb := '{"CNY": ["c-game", "c-game", "c-big", "c-big", "c-flash", "c-pct", "c-pct", "c-late", "c-welcome", "c-topup"],
                  "JPY": ["j-pct", "j-pct", "j-pct", "j-welcome", "j-topup"]}';
  -- exchanges (section 18): from and to wallets of one owner (the points wallets and j1_pts
  -- exist once opened, or once a reward opened them); then pairs that are refused
  fx_from text[] := '{c1,c1_jpy,c1,j1,j1_cny,j1,c3,j2,c1,c1_pts,c1,c2}';
  fx_to text[] := '{c1_jpy,c1,c1_pts,j1_cny,j1,j1_pts,c3_pts,j2_pts,j1_cny,c1,#self,#none}';
  pool text[] := '{}';        -- card secrets submitted so far
  cards text[];
  faces text[];
  n int;
  q int;
  tpl text;
  others text[];
  s int := 0;
  r double precision;
  op text;
  a jsonb;
  w text;
  e int;
  k text;
  x double precision;
  i int;
  pw text;
  pf boolean;
  lrules int := 0;            -- limit rules added less dropped (section 20)
BEGIN
  DELETE FROM mt.plan;
  PERFORM setseed(((p_seed * 7919) % 2000003)::double precision / 2000003 * 2 - 1);
  -- a few wallets in each currency
  FOREACH w IN ARRAY ARRAY['c1', 'c2', 'c3', 'c4', 'j1', 'j2', 'j3'] LOOP
    s := s + 1;
    INSERT INTO mt.plan VALUES (s, 'open', jsonb_build_object('owner', w, 'cur',
                                CASE WHEN w LIKE 'c%' THEN 'CNY' ELSE 'JPY' END));
    owners := owners || w;
    cur := cur || jsonb_build_object(w, CASE WHEN w LIKE 'c%' THEN 'CNY' ELSE 'JPY' END);
  END LOOP;
  -- coupons of the templates whose validity window starts and ends early: one
  -- more than c-flash's total limit, and a code checked before it is valid
  FOREACH w IN ARRAY ARRAY['c1', 'c2', 'c3', 'c4', 'c1', 'c3', 'j1'] LOOP
    s := s + 1;
    INSERT INTO mt.plan VALUES (s, 'issue', jsonb_build_object('w', w, 'key', 'k' || s,
      'tpl', CASE WHEN s <= 11 THEN 'c-flash' WHEN w = 'j1' THEN 'j-pct' ELSE 'c-late' END));
    issues := issues || s;
    keyed := keyed || s;
  END LOOP;
  s := s + 1;
  INSERT INTO mt.plan VALUES (s, 'validate', jsonb_build_object('w', 'c1', 'amount', '100', 'scene', NULL,
    'code', jsonb_build_object('src', 'step', 'ref', 8, 'o', 'c1', 'i', 0)));
  -- wallets of one owner in another currency and in points (for exchanges; a handle
  -- owner_currency), and a member's own card rate
  FOREACH w IN ARRAY ARRAY['c1_jpy', 'j1_cny', 'c1_pts', 'j2_pts'] LOOP
    s := s + 1;
    INSERT INTO mt.plan VALUES (s, 'open', jsonb_build_object('owner', split_part(w, '_', 1), 'h', w,
                                'cur', upper(split_part(w, '_', 2))));
    IF w NOT LIKE '%_pts' THEN
      owners := owners || w;
      cur := cur || jsonb_build_object(w, upper(split_part(w, '_', 2)));
    END IF;
  END LOOP;
  s := s + 1;
  INSERT INTO mt.plan VALUES (s, 'crate', jsonb_build_object('w', 'c2', 'tpl', 'mart', 'rate', 0.96, 'min_face', 100));

  WHILE s < p_steps LOOP
    s := s + 1;
    k := 'k' || s;
    IF random() < 0.02 THEN
      -- a coupon story: issue, spend with it, reverse (all, or a part then
      -- the rest), validate it again and spend it again
      w := mt.pick(owners);
      e := (ex->>(cur->>w))::int;
      INSERT INTO mt.plan VALUES (s, 'issue', jsonb_build_object('w', w, 'key', 'k' || s,
        'tpl', CASE WHEN cur->>w = 'CNY' THEN mt.pick('{c-big,c-pct,c-game,c-pct}') ELSE 'j-pct' END));
      issues := issues || s; keyed := keyed || s;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s,
        'coupon', jsonb_build_object('src', 'step', 'ref', s - 1, 'o', w, 'i', 0),
        'scene', CASE WHEN cur->>w = 'JPY' THEN 'shop' ELSE mt.pick(ARRAY[NULL, 'game', 'game']) END,
        'partial', random() < 0.3)
        || CASE WHEN random() < 0.6 THEN jsonb_build_object('frac', 0.2 + random() * 1.1)
                ELSE jsonb_build_object('amount', mt.gen_amount(e, 'small')) END
        || CASE WHEN random() < 0.2 THEN jsonb_build_object('payee', mt.pick(ARRAY(SELECT o FROM unnest(owners) o
                                                             WHERE cur->>o = cur->>w AND o <> w))) ELSE '{}' END);
      spends := spends || s; cspends := cspends || s; keyed := keyed || s;
      i := s;
      IF random() < 0.4 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', i, 'key', 'k' || s,
          'amount', jsonb_build_object('frac', 0.1 + random() * 0.8)));
        keyed := keyed || s;
      END IF;
      IF random() < 0.3 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', mt.ri(60, 3 * 86400)));
      END IF;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', i, 'key', 'k' || s, 'amount', NULL));
      keyed := keyed || s;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'validate', jsonb_build_object('w', w,
        'code', jsonb_build_object('src', 'step', 'ref', i - 1, 'o', w, 'i', 0),
        'amount', mt.gen_amount(e, 'spend'), 'scene', mt.pick(ARRAY[NULL, 'game', 'shop'])));
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s,
        'coupon', jsonb_build_object('src', 'step', 'ref', i - 1, 'o', w, 'i', 0),
        'scene', mt.pick(ARRAY[NULL, 'game', 'shop']), 'partial', true, 'amount', mt.gen_amount(e, 'spend')));
      spends := spends || s; cspends := cspends || s; keyed := keyed || s;
      CONTINUE;
    END IF;
    IF random() < 0.05 THEN
      -- a hold story (section 14): a hold (a fraction of what is available, a scene, a ttl,
      -- sometimes partial, capped or for a payee), then captures, releases, clock moves,
      -- the sweep, replays and a reversal of a capture, in some order
      w := mt.pick(owners);
      e := (ex->>(cur->>w))::int;
      INSERT INTO mt.plan VALUES (s, 'hold', jsonb_build_object('w', w, 'key', 'k' || s,
        'frac', 0.1 + random() * 1.1, 'scene', mt.pick(ARRAY[NULL, 'game', 'shop']),
        'ttl', mt.pick('{10 minutes,1 hour,2 days,30 days}'), 'partial', random() < 0.3)
        || CASE WHEN random() < 0.2 THEN jsonb_build_object('max_frac', 0.2 + random() * 0.6) ELSE '{}' END
        || CASE WHEN random() < 0.3 THEN jsonb_build_object('payee', mt.pick(ARRAY(SELECT o FROM unnest(owners) o
                                                             WHERE cur->>o = cur->>w AND o <> w))) ELSE '{}' END);
      keyed := keyed || s;
      i := s;
      FOR pf IN SELECT true FROM generate_series(1, mt.ri(1, 4)) LOOP
        s := s + 1;
        x := random();
        IF x < 0.35 THEN
          INSERT INTO mt.plan VALUES (s, 'capture', jsonb_build_object('ref', i, 'key', 'k' || s,
            'amount', CASE WHEN random() < 0.4 THEN NULL WHEN random() < 0.1 THEN to_jsonb('over'::text)
                           ELSE jsonb_build_object('frac', 0.1 + random() * 0.8) END,
            'final', random() < 0.6));
          spends := spends || s; keyed := keyed || s;
        ELSIF x < 0.6 THEN
          INSERT INTO mt.plan VALUES (s, 'release', jsonb_build_object('ref', i, 'key', 'k' || s,
            'amount', CASE WHEN random() < 0.5 THEN NULL WHEN random() < 0.1 THEN to_jsonb('over'::text)
                           ELSE jsonb_build_object('frac', 0.1 + random() * 0.8) END));
          keyed := keyed || s;
        ELSIF x < 0.75 THEN
          INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', mt.pick('{300,3600,7200,86400,200000}')::int));
        ELSIF x < 0.85 THEN
          INSERT INTO mt.plan VALUES (s, 'hexpire', '{}');
        ELSIF x < 0.92 AND spends[cardinality(spends)] > i THEN
          INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', spends[cardinality(spends)],
            'key', 'k' || s, 'amount', CASE WHEN random() < 0.5 THEN NULL
                                            ELSE jsonb_build_object('frac', 0.1 + random() * 0.8) END));
          keyed := keyed || s;
        ELSE
          INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s,
            'frac', 0.3 + random() * 0.9, 'scene', NULL, 'partial', random() < 0.5));
          spends := spends || s; keyed := keyed || s;
        END IF;
      END LOOP;
      CONTINUE;
    END IF;
    IF random() < 0.006 THEN
      -- risk flags (section 20): a currency's flags_to_freeze (1 to 3, or 1000: never in
      -- practice) and a small payee_debt_flag, so refund requests beyond the limit and payee
      -- debts freeze wallets
      w := mt.pick(owners);
      INSERT INTO mt.plan VALUES (s, 'flags', jsonb_build_object('cur', cur->>w,
        'n', mt.pick('{1,2,2,3,1000}')::int,
        'debt', CASE WHEN cur->>w = 'JPY' THEN mt.pick('{0,100,1000}') ELSE mt.pick('{0,1,10}') END));
      IF random() < 0.6 THEN
        -- refund requests of w, each of a top-up of its own, past max_refunds_per_30_days
        FOR q IN 1 .. mt.ri(3, 7) LOOP
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'top_up', jsonb_build_object('w', w, 'key', 'k' || s,
            'amount', CASE WHEN cur->>w = 'JPY' THEN '2000' ELSE '40' END));
          topups := topups || s; keyed := keyed || s;
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'request', jsonb_build_object('ref', s - 1, 'key', 'k' || s,
            'reason', 'user', 'amount', jsonb_build_object('frac', 0.3 + random() * 0.5)));
          requests := requests || s; keyed := keyed || s;
        END LOOP;
      END IF;
      CONTINUE;
    END IF;
    IF random() < 0.035 THEN
      -- a limits story (section 20): a rule dropped now and then, a rule added (of the
      -- currency or of the wallet; an operation class, a period, an amount and/or a count,
      -- refuse or step_up), the clock across a day or month of the limit time zone, one to
      -- three payments of the class, and for a payment a step-up grant (of the amount, less,
      -- more, for another operation), the clock past its ttl sometimes, the payment again
      -- with the same key and the token, and once more with a new key and the same token
      w := mt.pick(owners);
      e := (ex->>(cur->>w))::int;
      IF lrules >= 4 OR random() < 0.25 THEN
        INSERT INTO mt.plan VALUES (s, 'ldrop', jsonb_build_object('i', mt.ri(0, 9)));
        lrules := greatest(lrules - 1, 0);
        s := s + 1;
      END IF;
      op := mt.pick('{spend,spend,spend,debit,transfer,withdraw,exchange}');
      i := NULL;
      IF random() < 0.85 THEN
        x := random();
        INSERT INTO mt.plan VALUES (s, 'lrule', jsonb_build_object('cur', cur->>w, 'op', op,
          'period', CASE WHEN x < 0.3 THEN 'operation' WHEN x < 0.75 THEN 'day' ELSE 'month' END,
          'w', CASE WHEN random() < 0.35 THEN w END,
          'action', CASE WHEN random() < 0.5 THEN 'refuse' ELSE 'step_up' END,
          'amount', CASE WHEN random() < 0.8 THEN
                      CASE WHEN e = 0 THEN mt.pick('{500,1000,3000,8000,20000}')
                           ELSE mt.pick('{5,20,50,100,250,600}') END END,
          'count', CASE WHEN x >= 0.3 AND random() < 0.5 THEN mt.ri(1, 4) END));
        i := s;
        lrules := lrules + 1;
        s := s + 1;
      END IF;
      IF random() < 0.3 THEN
        -- the next midnight (or first of the month) of the limit time zone, a few seconds either side
        INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('lzone', cur->>w,
          'lperiod', CASE WHEN random() < 0.15 THEN 'month' ELSE 'day' END, 'edge', mt.ri(-2, 2)));
        s := s + 1;
      END IF;
      IF op IN ('transfer', 'withdraw', 'exchange', 'debit') THEN
        INSERT INTO mt.plan VALUES (s, 'payout', jsonb_build_object('w', w, 'key', 'k' || s,
          'amount', mt.gen_amount(e, 'spend')));
        keyed := keyed || s;
        s := s + 1;
      END IF;
      FOR q IN 1 .. mt.ri(1, 3) LOOP
        IF q > 1 THEN s := s + 1; END IF;
        k := CASE WHEN op = 'debit' THEN mt.pick('{spend,transfer,withdraw,exchange,hold}') ELSE op END;
        IF k = 'spend' AND random() < 0.3 THEN k := 'hold'; END IF;
        IF k = 'exchange' AND w NOT IN ('c1', 'j1') THEN k := 'transfer'; END IF;
        IF k = 'spend' THEN
          INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s,
            'frac', 0.05 + random() * 0.8, 'scene', mt.pick(ARRAY[NULL, 'game']), 'partial', random() < 0.2));
          spends := spends || s;
        ELSIF k = 'hold' THEN
          INSERT INTO mt.plan VALUES (s, 'hold', jsonb_build_object('w', w, 'key', 'k' || s,
            'frac', 0.05 + random() * 0.8, 'scene', NULL, 'ttl', mt.pick('{10 minutes,1 hour,2 days}'),
            'partial', false));
        ELSIF k = 'transfer' THEN
          INSERT INTO mt.plan VALUES (s, 'transfer', jsonb_build_object('w', w, 'key', 'k' || s,
            'to', mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o = cur->>w AND o <> w)),
            'amount', jsonb_build_object('frac', 0.1 + random() * 0.5), 'kind', 'p2p'));
        ELSIF k = 'withdraw' THEN
          INSERT INTO mt.plan VALUES (s, 'wrequest', jsonb_build_object('w', w, 'key', 'k' || s,
            'amount', jsonb_build_object('frac', 0.1 + random() * 0.6), 'dest', 'bank:' || w));
        ELSE
          INSERT INTO mt.plan VALUES (s, 'exchange', jsonb_build_object('w', w,
            'to', CASE WHEN w = 'c1' THEN 'c1_jpy' ELSE 'j1_cny' END, 'key', 'k' || s,
            'amount', jsonb_build_object('frac', 0.1 + random() * 0.6)));
        END IF;
        keyed := keyed || s;
        n := s;
        IF random() < 0.8 THEN
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'grant', jsonb_build_object('ref', n, 'any', random() < 0.2,
            'factor', mt.pick('{1,1,1,1,1,1.5,0.5}')::numeric, 'other', random() < 0.08,
            'ttl', CASE WHEN random() < 0.9 THEN '5 minutes' ELSE mt.pick('{0 seconds,2 days}') END));
          IF random() < 0.1 THEN
            s := s + 1;
            INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', 600));
          END IF;
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'stepup', jsonb_build_object('ref', n, 'grant', s - 1 - CASE WHEN
            (SELECT p.op FROM mt.plan p WHERE p.step = s - 1) = 'clock' THEN 1 ELSE 0 END));
          IF random() < 0.25 THEN
            s := s + 1;
            INSERT INTO mt.plan VALUES (s, 'stepup', jsonb_build_object('ref', n, 'grant', (SELECT (p.args->>'grant')::int
              FROM mt.plan p WHERE p.step = s - 1), 'key', 'k' || s));
          END IF;
        END IF;
      END LOOP;
      IF i IS NOT NULL AND random() < 0.4 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'ldrop', jsonb_build_object('ref', i));
        lrules := greatest(lrules - 1, 0);
      END IF;
      CONTINUE;
    END IF;
    IF random() < 0.025 THEN
      -- a group payment story (section 14): the payee asks two or three wallets of its
      -- currency for shares; some join (the last pays), one may cancel, the clock may pass
      -- the ttl; status reads and replays
      pw := mt.pick(owners);
      others := ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o = cur->>pw AND o <> pw ORDER BY random()
                       LIMIT mt.ri(1, 3));
      CONTINUE WHEN cardinality(others) = 0;
      e := (ex->>(cur->>pw))::int;
      INSERT INTO mt.plan VALUES (s, 'group', jsonb_build_object('payee', pw, 'ws', to_jsonb(others),
        'amounts', (SELECT jsonb_agg(mt.gen_amount(e, 'small')) FROM unnest(others)),
        'key', 'k' || s, 'ttl', mt.pick('{10 minutes,1 hour,1 day}')));
      keyed := keyed || s;
      i := s;
      FOREACH w IN ARRAY others LOOP
        s := s + 1;
        x := random();
        IF x < 0.75 THEN
          INSERT INTO mt.plan VALUES (s, 'join', jsonb_build_object('ref', i, 'w', w, 'key', 'k' || s));
          keyed := keyed || s;
        ELSIF x < 0.85 THEN
          INSERT INTO mt.plan VALUES (s, 'gcancel', jsonb_build_object('ref', i, 'w', mt.pick(ARRAY[w, pw]),
                                                                       'key', 'k' || s));
          keyed := keyed || s;
        ELSE
          INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', mt.pick('{300,3600,90000}')::int));
        END IF;
      END LOOP;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'gstatus', jsonb_build_object('ref', i));
      CONTINUE;
    END IF;
    IF random() < 0.03 THEN
      -- a debt story: w pays the payee pw, pw spends (nearly) all it has, the sale is
      -- reversed (pw frozen first, sometimes): what pw cannot give back is its debt; a later
      -- sale to pw repays it first; then pw spends again
      w := mt.pick(owners);
      pw := mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o = cur->>w AND o <> w));
      pf := random() < 0.3;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s, 'frac', 0.3 + random() * 0.6,
        'scene', NULL, 'partial', false, 'payee', pw));
      spends := spends || s; keyed := keyed || s;
      i := s;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', pw, 'key', 'k' || s, 'frac', 0.7 + random() * 0.3,
        'scene', NULL, 'partial', true));
      spends := spends || s; keyed := keyed || s;
      IF pf THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'freeze', jsonb_build_object('w', pw, 'reason', 'fraud ' || s));
      END IF;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', i, 'key', 'k' || s,
        'amount', CASE WHEN random() < 0.5 THEN NULL ELSE jsonb_build_object('frac', 0.1 + random() * 0.8) END));
      keyed := keyed || s;
      IF pf THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'unfreeze', jsonb_build_object('w', pw));
      END IF;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s, 'frac', 0.1 + random() * 0.8,
        'scene', NULL, 'partial', false, 'payee', pw));
      spends := spends || s; keyed := keyed || s;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', pw, 'key', 'k' || s, 'frac', 0.3 + random() * 0.7,
        'scene', NULL, 'partial', true));
      spends := spends || s; keyed := keyed || s;
      CONTINUE;
    END IF;
    IF random() < 0.04 THEN
      -- a story: top-up, spend, refund and reversal interleaved, review, settlement
      w := mt.pick(owners);
      e := (ex->>(cur->>w))::int;
      INSERT INTO mt.plan VALUES (s, 'top_up', jsonb_build_object('w', w, 'key', 'k' || s, 'amount',
        CASE WHEN e = 0 THEN mt.pick('{3000,5000,6000,1200}') ELSE mt.pick('{100,200,300,500,150.55,60}') END));
      topups := topups || s; keyed := keyed || s;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s, 'frac', 0.2 + random() * 0.7,
        'scene', mt.pick(ARRAY[NULL, 'game', 'shop']), 'partial', false,
        'payee', CASE WHEN random() < 0.3 THEN mt.pick(ARRAY(SELECT o FROM unnest(owners) o
                                                             WHERE cur->>o = cur->>w AND o <> w)) END));
      spends := spends || s; keyed := keyed || s;
      x := random();
      FOR i IN 1..2 LOOP
        s := s + 1;
        IF (i = 1) = (x < 0.5) THEN
          INSERT INTO mt.plan VALUES (s, 'request', jsonb_build_object('ref', s - i - 1,
            'key', 'k' || s, 'reason', 'user',
            'amount', CASE WHEN random() < 0.6 THEN NULL ELSE jsonb_build_object('frac', 0.1 + random() * 0.8) END));
          requests := requests || s; keyed := keyed || s;
        ELSE
          INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', s - i, 'key', 'k' || s,
            'amount', CASE WHEN random() < 0.5 THEN NULL ELSE jsonb_build_object('frac', 0.1 + random() * 0.8) END));
          keyed := keyed || s;
        END IF;
      END LOOP;
      IF random() < 0.4 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', mt.ri(60, 3 * 86400)));
      END IF;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'review', jsonb_build_object('ref', requests[cardinality(requests)],
                                                                'approve', random() < 0.6, 'reviewer', 'ops'));
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'settle', jsonb_build_object('ref', requests[cardinality(requests)],
                                                                'ok', random() < 0.5));
      IF random() < 0.5 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', spends[cardinality(spends)],
                                                                   'key', 'k' || s, 'amount', NULL));
        keyed := keyed || s;
      END IF;
      CONTINUE;
    END IF;
    IF random() < 0.03 THEN
      -- a top-up coupon story (section 6): a top-up that issues a coupon, maybe a
      -- spend with it, a refund of the top-up (which voids the coupon or claws its
      -- discount back), the coupon tried again, review, settlement, the spend's
      -- full reversal and a quote
      w := mt.pick(owners);
      e := (ex->>(cur->>w))::int;
      INSERT INTO mt.plan VALUES (s, 'top_up', jsonb_build_object('w', w, 'key', 'k' || s, 'amount',
        CASE WHEN e = 0 THEN mt.pick('{5000,6000,8000}') ELSE mt.pick('{200,300,500,250.55}') END));
      topups := topups || s; keyed := keyed || s;
      i := s;
      IF random() < 0.6 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s,
          'coupon', jsonb_build_object('src', 'step', 'ref', i, 'o', w, 'i', 0),
          'scene', NULL, 'partial', false, 'frac', 0.2 + random() * 0.5));
        spends := spends || s; cspends := cspends || s; keyed := keyed || s;
      END IF;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'request', jsonb_build_object('ref', i, 'key', 'k' || s, 'reason', 'user',
        'amount', CASE WHEN random() < 0.6 THEN NULL ELSE jsonb_build_object('frac', 0.1 + random() * 0.8) END));
      requests := requests || s; keyed := keyed || s;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s,
        'coupon', jsonb_build_object('src', 'step', 'ref', i, 'o', w, 'i', 0),
        'scene', NULL, 'partial', true, 'amount', mt.gen_amount(e, 'spend')));
      spends := spends || s; keyed := keyed || s;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'review', jsonb_build_object('ref', requests[cardinality(requests)],
                                                                'approve', random() < 0.7, 'reviewer', 'ops'));
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'settle', jsonb_build_object('ref', requests[cardinality(requests)],
                                                                'ok', random() < 0.6));
      IF cardinality(cspends) > 0 AND cspends[cardinality(cspends)] = i + 1 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', i + 1, 'key', 'k' || s, 'amount', NULL));
        keyed := keyed || s;
      END IF;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'quote', jsonb_build_object('ref', i, 'reason', 'user'));
      CONTINUE;
    END IF;
    IF random() < 0.12 THEN
      -- money leaving by transfers, split payments and withdrawals (sections 16, 17)
      w := mt.pick(owners);
      e := (ex->>(cur->>w))::int;
      others := ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o = cur->>w AND o <> w ORDER BY random());
      x := random();
      IF x < 0.25 THEN
        -- a transfer (sometimes after a payout into the earnings): a fraction of the
        -- earnings, all of them (NULL), exactly what fits with the fee and one unit more
        IF random() < 0.5 THEN
          INSERT INTO mt.plan VALUES (s, 'payout', jsonb_build_object('w', w, 'key', 'k' || s,
            'amount', mt.gen_amount(e, 'spend')));
          keyed := keyed || s;
          s := s + 1;
        END IF;
        x := random();
        INSERT INTO mt.plan VALUES (s, 'transfer', jsonb_build_object('w', w, 'key', 'k' || s,
          'to', CASE WHEN random() < 0.92 THEN others[1]
                     WHEN random() < 0.4 THEN mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o <> cur->>w))
                     WHEN random() < 0.5 THEN '#self' ELSE '#none' END,
          'amount', CASE WHEN x < 0.45 THEN jsonb_build_object('frac', 0.05 + random() * 1.1)
                         WHEN x < 0.65 THEN 'null'::jsonb
                         WHEN x < 0.75 THEN '"fit"' WHEN x < 0.8 THEN '"fit1"'
                         WHEN x < 0.97 THEN to_jsonb(mt.gen_amount(e, 'small'))
                         ELSE to_jsonb(coalesce(mt.bad_amount(e), '0')) END,
          'kind', CASE WHEN random() < 0.96 THEN to_jsonb(mt.pick('{p2p,donation,gift,tip_2026}'))
                       ELSE to_jsonb(mt.pick(ARRAY['Gift', '', repeat('k', 33), 'a-b', NULL])) END,
          'note', CASE WHEN random() < 0.1 THEN 'note ' || s END));
        keyed := keyed || s;
        CONTINUE;
      END IF;
      IF x < 0.45 THEN
        -- a split payment over one to three payees (shares by random weights), sometimes
        -- with a coupon; a payee spends what it got; reversals (a part, the rest, too much)
        i := mt.ri(1, 3);
        a := jsonb_build_object('w', w, 'key', 'k' || s, 'payees', to_jsonb(others[1:i]),
          'wts', (SELECT jsonb_agg(mt.ri(1, 10)) FROM generate_series(1, i)),
          'scene', CASE WHEN cur->>w = 'CNY' THEN mt.pick(ARRAY[NULL, 'game', 'shop']) ELSE mt.pick(ARRAY[NULL, 'shop']) END)
          || CASE WHEN random() < 0.6 THEN jsonb_build_object('frac', 0.05 + random() * 1.1)
                  ELSE jsonb_build_object('amount', mt.gen_amount(e, 'spend')) END;
        x := random();
        IF x < 0.12 THEN
          a := a || jsonb_build_object('coupon', jsonb_build_object('src', 'wallet', 'o', w, 'i', mt.ri(0, 60), 'pick', 'avail'));
        ELSIF x < 0.14 THEN
          a := a || jsonb_build_object('bad', 'sum');
        ELSIF x < 0.16 THEN
          a := a || jsonb_build_object('payees', to_jsonb(others[1:i] || others[1]));
        ELSIF x < 0.17 THEN
          a := a || jsonb_build_object('payees', to_jsonb(others[1:i] || w));
        ELSIF x < 0.18 THEN
          a := a || jsonb_build_object('payees', to_jsonb(others[1:i]
                      || mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o <> cur->>w))));
        ELSIF x < 0.19 THEN
          a := a || jsonb_build_object('payees', to_jsonb(others[1:i] || '#none'::text));
        ELSIF x < 0.20 THEN
          a := a || jsonb_build_object('bad', mt.pick('{nullpayee,nullshare,empty,short}'));
        END IF;
        IF jsonb_array_length(a->'payees') <> jsonb_array_length(a->'wts') THEN
          a := a || jsonb_build_object('wts', (SELECT jsonb_agg(mt.ri(1, 10)) FROM jsonb_array_elements(a->'payees')));
        END IF;
        INSERT INTO mt.plan VALUES (s, 'split', a);
        spends := spends || s; keyed := keyed || s;
        i := s;
        IF random() < 0.2 THEN
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', others[1], 'key', 'k' || s, 'frac', 1.0,
            'scene', 'game', 'partial', true));
          spends := spends || s; keyed := keyed || s;
        END IF;
        FOR pf IN SELECT true FROM generate_series(1, mt.ri(0, 2)) LOOP
          s := s + 1;
          x := random();
          INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', i, 'key', 'k' || s,
            'amount', CASE WHEN x < 0.45 THEN NULL WHEN x < 0.9 THEN jsonb_build_object('frac', 0.05 + random() * 0.9)
                           ELSE '"over"'::jsonb END));
          keyed := keyed || s;
        END LOOP;
        CONTINUE;
      END IF;
      IF x < 0.85 THEN
        -- a withdrawal: earnings paid in, maybe a sale to the wallet that is reversed once
        -- the request holds the earnings (a debt), a quote, the request (amounts at the
        -- minimum, the earnings, the day's maximum, one unit beyond), then its life:
        -- reviews, settlements, returns, replays of each, the clock crossing midnight
        IF random() < 0.6 THEN
          INSERT INTO mt.plan VALUES (s, 'payout', jsonb_build_object('w', w, 'key', 'k' || s,
            'amount', mt.gen_amount(e, CASE WHEN random() < 0.5 THEN 'spend' ELSE 'topup' END)));
          keyed := keyed || s;
          s := s + 1;
        END IF;
        pw := NULL;
        IF random() < 0.15 THEN
          INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', others[1], 'key', 'k' || s,
            'frac', 0.3 + random() * 0.6, 'scene', NULL, 'partial', false, 'payee', w));
          spends := spends || s; keyed := keyed || s;
          pw := s::text;
          s := s + 1;
        END IF;
        IF random() < 0.3 THEN
          INSERT INTO mt.plan VALUES (s, 'wquote', jsonb_build_object('w', w, 'amount', mt.gen_wamount(e)));
          s := s + 1;
        END IF;
        pf := random() < 0.08;
        IF pf THEN
          INSERT INTO mt.plan VALUES (s, 'freeze', jsonb_build_object('w', w, 'reason', 'check ' || s));
          s := s + 1;
        END IF;
        INSERT INTO mt.plan VALUES (s, 'wrequest', jsonb_build_object('w', w, 'key', 'k' || s,
          'amount', mt.gen_wamount(e), 'dest', CASE WHEN random() < 0.98 THEN 'bank:' || w
                                                    ELSE mt.pick(ARRAY[NULL, repeat('d', 201), '']) END,
          'method', CASE WHEN random() < 0.2 THEN 'bank_transfer' END));
        keyed := keyed || s;
        i := s;
        IF pf THEN
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'unfreeze', jsonb_build_object('w', w));
        END IF;
        IF pw IS NOT NULL AND random() < 0.7 THEN
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', pw::int, 'key', 'k' || s, 'amount', NULL));
          keyed := keyed || s;
        END IF;
        IF random() < 0.5 THEN
          -- its usual life: approved (or approved already), paid out, sometimes sent back
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'wreview', jsonb_build_object('ref', i, 'approve', true, 'reviewer', 'ops'));
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'wsettle', jsonb_build_object('ref', i, 'ok', random() < 0.8, 'gw', 'gw-' || s));
          IF random() < 0.4 THEN
            s := s + 1;
            INSERT INTO mt.plan VALUES (s, 'wreturn', jsonb_build_object('ref', i, 'gw', 'ret-' || s, 'reason', 'account closed'));
          END IF;
        END IF;
        FOR pf IN SELECT true FROM generate_series(1, mt.ri(0, 3)) LOOP
          s := s + 1;
          x := random();
          IF x < 0.3 THEN
            INSERT INTO mt.plan VALUES (s, 'wreview', jsonb_build_object('ref', i, 'approve',
              CASE WHEN random() < 0.98 THEN to_jsonb(random() < 0.7) ELSE 'null' END,
              'reviewer', CASE WHEN random() < 0.98 THEN 'ops' END));
          ELSIF x < 0.6 THEN
            INSERT INTO mt.plan VALUES (s, 'wsettle', jsonb_build_object('ref', i, 'ok', random() < 0.7,
              'gw', CASE WHEN random() < 0.5 THEN 'gw-' || s END));
          ELSIF x < 0.72 THEN
            INSERT INTO mt.plan VALUES (s, 'wreturn', jsonb_build_object('ref', i, 'gw', 'ret-' || s,
              'reason', CASE WHEN random() < 0.95 THEN 'account closed' END));
          ELSIF x < 0.8 THEN
            INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', mt.ri(1, 20) * 3600));
          ELSIF x < 0.92 THEN
            INSERT INTO mt.plan VALUES (s, 'wrequest', jsonb_build_object('w', w, 'key', 'k' || s,
              'amount', mt.gen_wamount(e), 'dest', 'bank:' || w));
            keyed := keyed || s;
          ELSE
            INSERT INTO mt.plan VALUES (s, 'wquote', jsonb_build_object('w', w, 'amount', mt.gen_wamount(e)));
          END IF;
        END LOOP;
        CONTINUE;
      END IF;
      -- automatic withdrawal: a setting (a threshold, off, invalid), earnings paid in,
      -- the sweep (again the same day: nothing), its withdrawal's review and
      -- settlement, the next day's sweep
      x := random();
      INSERT INTO mt.plan VALUES (s, 'autoset', jsonb_build_object('w', w,
        'threshold', CASE WHEN x < 0.6 THEN to_jsonb(mt.gen_amount(e, 'small')) WHEN x < 0.8 THEN to_jsonb(mt.gen_amount(e, 'spend'))
                          WHEN x < 0.95 THEN 'null' ELSE to_jsonb('0'::text) END,
        'dest', CASE WHEN random() < 0.97 THEN 'bank:' || w END));
      IF random() < 0.6 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'payout', jsonb_build_object('w', w, 'key', 'k' || s,
          'amount', mt.gen_amount(e, 'spend')));
        keyed := keyed || s;
      END IF;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'autorun', jsonb_build_object('batch', CASE WHEN random() < 0.15 THEN mt.ri(1, 2) END));
      FOR pf IN SELECT true FROM generate_series(1, mt.ri(0, 3)) LOOP
        s := s + 1;
        x := random();
        IF x < 0.3 THEN
          INSERT INTO mt.plan VALUES (s, 'wreview', jsonb_build_object('auto', w, 'approve', random() < 0.7, 'reviewer', 'ops'));
        ELSIF x < 0.55 THEN
          INSERT INTO mt.plan VALUES (s, 'wsettle', jsonb_build_object('auto', w, 'ok', random() < 0.7));
        ELSIF x < 0.75 THEN
          INSERT INTO mt.plan VALUES (s, 'autorun', '{}');
        ELSE
          INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', 86400 + mt.ri(0, 7200)));
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'autorun', '{}');
        END IF;
      END LOOP;
      CONTINUE;
    END IF;
    IF random() < 0.06 THEN
      -- exchange and points (section 18)
      x := random();
      IF x < 0.55 THEN
        -- an exchange between one owner's wallets (earnings paid in first, sometimes; a quote;
        -- a freeze around it), amounts: a fraction of the earnings, all, one unit more, one
        -- minor unit (too small to give anything across exponents), small, invalid
        i := mt.ri(1, cardinality(fx_from));
        IF random() < 0.75 THEN i := mt.ri(1, 7); END IF;
        w := fx_from[i];
        pw := fx_to[i];
        e := coalesce((ex->>(cur->>w))::int, 0);
        IF w NOT LIKE '%_pts' AND random() < 0.6 THEN
          INSERT INTO mt.plan VALUES (s, 'payout', jsonb_build_object('w', w, 'key', 'k' || s,
            'amount', mt.gen_amount(e, CASE WHEN random() < 0.5 THEN 'spend' ELSE 'topup' END)));
          keyed := keyed || s;
          s := s + 1;
        END IF;
        IF random() < 0.3 THEN
          INSERT INTO mt.plan VALUES (s, 'fxquote', jsonb_build_object(
            'from', CASE WHEN random() < 0.95 THEN coalesce(cur->>w, 'PTS') ELSE mt.pick(ARRAY['XXX', NULL, 'PTS']) END,
            'to', CASE WHEN pw LIKE '%_pts' THEN 'PTS' WHEN pw LIKE 'c%' OR pw LIKE '%_cny' THEN 'CNY' ELSE 'JPY' END,
            'amount', CASE WHEN random() < 0.9 THEN mt.gen_amount(e, 'spend') ELSE mt.bad_amount(e) END));
          s := s + 1;
        END IF;
        pf := random() < 0.06;
        IF pf THEN
          INSERT INTO mt.plan VALUES (s, 'freeze', jsonb_build_object('w', w, 'reason', 'fx check ' || s));
          s := s + 1;
        END IF;
        x := random();
        INSERT INTO mt.plan VALUES (s, 'exchange', jsonb_build_object('w', w, 'to', pw, 'key', 'k' || s,
          'amount', CASE WHEN x < 0.5 THEN jsonb_build_object('frac', 0.05 + random() * 1.0)
                         WHEN x < 0.6 THEN '"all"' WHEN x < 0.67 THEN '"over"' WHEN x < 0.75 THEN '"tiny"'
                         WHEN x < 0.95 THEN to_jsonb(mt.gen_amount(e, 'small'))
                         ELSE to_jsonb(coalesce(mt.bad_amount(e), '0')) END));
        keyed := keyed || s;
        IF pf THEN
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'unfreeze', jsonb_build_object('w', w));
        END IF;
        CONTINUE;
      END IF;
      -- points: a spend that earns them, the points wallet spends them, the spend is reversed
      -- (what was spent of the points becomes the points wallet's debt), points come in again
      -- (an exchange into points or another spend repays the debt), the clock runs past expiries
      w := mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE o NOT LIKE '%\_%'));
      e := (ex->>(cur->>w))::int;
      pw := split_part(w, '_', 1) || '_pts';
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s, 'frac', 0.3 + random() * 0.6,
        'scene', CASE WHEN cur->>w = 'CNY' THEN mt.pick(ARRAY['game', 'game', NULL]) ELSE mt.pick(ARRAY['shop', NULL]) END,
        'partial', false));
      spends := spends || s; keyed := keyed || s;
      i := s;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', pw, 'key', 'k' || s, 'frac', 0.5 + random() * 0.5,
        'scene', NULL, 'partial', true));
      spends := spends || s; keyed := keyed || s;
      IF random() < 0.3 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', mt.ri(1, 4) * 86400));
      END IF;
      s := s + 1;
      INSERT INTO mt.plan VALUES (s, 'reverse', jsonb_build_object('ref', i, 'key', 'k' || s,
        'amount', CASE WHEN random() < 0.5 THEN NULL ELSE jsonb_build_object('frac', 0.1 + random() * 0.8) END));
      keyed := keyed || s;
      IF random() < 0.5 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'payout', jsonb_build_object('w', w, 'key', 'k' || s,
          'amount', mt.gen_amount(e, 'spend')));
        keyed := keyed || s;
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'exchange', jsonb_build_object('w', w, 'to', pw, 'key', 'k' || s,
          'amount', jsonb_build_object('frac', 0.1 + random() * 0.5)));
        keyed := keyed || s;
      ELSE
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'spend', jsonb_build_object('w', w, 'key', 'k' || s, 'frac', 0.2 + random() * 0.5,
          'scene', CASE WHEN cur->>w = 'CNY' THEN 'game' ELSE 'shop' END, 'partial', false));
        spends := spends || s; keyed := keyed || s;
      END IF;
      IF random() < 0.3 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'expire', '{}');
      END IF;
      CONTINUE;
    END IF;
    IF random() < 0.06 THEN
      -- card intake (section 19): a quote (sometimes), a submission (new secrets, some
      -- submitted before, some twice in the batch, some written otherwise, some malformed),
      -- the checks of its cards (valid, short, invalid; again the same way or otherwise), the
      -- clock, the settlement (sometimes too early) and a review
      w := mt.pick(owners);
      tpl := CASE WHEN cur->>w = 'CNY' THEN mt.pick('{mart,mart,game,game,old}') ELSE mt.pick('{jcard,jcard,jcard,norate}') END;
      IF random() < 0.03 THEN tpl := mt.pick('{nope,jcard,mart}'); END IF;    -- unknown, or another currency's
      n := CASE WHEN random() < 0.9 THEN mt.ri(1, 4) ELSE mt.ri(5, 7) END;
      faces := ARRAY(SELECT mt.gen_card_face(tpl) FROM generate_series(1, n));
      q := NULL;
      IF random() < 0.4 THEN
        x := random();
        INSERT INTO mt.plan VALUES (s, 'cquote', jsonb_build_object('tpl', tpl, 'face', faces[1],
          'qty', CASE WHEN x < 0.6 THEN 1 WHEN x < 0.85 THEN n WHEN x < 0.95 THEN n + 1 ELSE mt.pick('{0,10001}')::int END,
          'w', CASE WHEN random() < 0.5 THEN w WHEN random() < 0.2 THEN mt.pick(owners) END));
        q := s;
        s := s + 1;
        IF random() < 0.85 THEN
          faces := array_fill(faces[1], ARRAY[n]);
        END IF;
        IF random() < 0.25 THEN
          INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', mt.pick('{600,1800,3600,7300}')::int));
          s := s + 1;
        END IF;
      END IF;
      cards := '{}';
      FOR j IN 1 .. n LOOP
        x := random();
        cards := cards || CASE WHEN x < 0.7 OR cardinality(pool) = 0 THEN mt.gen_secret()
                               WHEN x < 0.82 THEN pool[mt.ri(1, cardinality(pool))]
                               WHEN x < 0.87 AND j > 1 THEN cards[mt.ri(1, j - 1)]
                               WHEN x < 0.93 THEN regexp_replace(pool[mt.ri(1, cardinality(pool))], '(.{4})', '\1-', 'g')
                               WHEN x < 0.95 THEN regexp_replace(mt.gen_secret(), '(.{3})', E'\\1 ', 'g')
                               ELSE mt.pick(ARRAY['short12', repeat('Z', 129), 'abcd' || chr(233) || 'efgh',
                                                  'ab-cd ef' || chr(9) || 'gh12', NULL]) END;
      END LOOP;
      pool := pool || ARRAY(SELECT c FROM unnest(cards) c WHERE c IS NOT NULL AND length(c) BETWEEN 10 AND 20);
      a := jsonb_build_object('w', w, 'tpl', tpl, 'faces', to_jsonb(faces), 'secrets', to_jsonb(cards), 'key', 'k' || s,
                              'batch_ref', CASE WHEN random() < 0.2 THEN 'batch-' || s END);
      IF q IS NOT NULL AND random() < 0.85 THEN a := a || jsonb_build_object('quote', q); END IF;
      x := random();
      IF x < 0.02 THEN
        a := a || jsonb_build_object('secrets', to_jsonb(cards[1:n - 1] || ARRAY[]::text[]));   -- one short
      ELSIF x < 0.03 THEN
        a := a || jsonb_build_object('faces', '[]'::jsonb, 'secrets', '[]'::jsonb);
      ELSIF x < 0.04 THEN
        a := a || jsonb_build_object('quote', 'none');
      ELSIF x < 0.05 THEN
        a := a || jsonb_build_object('faces', jsonb_set(to_jsonb(faces), '{0}', 'null'));
      END IF;
      INSERT INTO mt.plan VALUES (s, 'submit', a);
      keyed := keyed || s;
      i := s;
      -- mostly every card once, in order, then a few more checks of any of them
      FOR j IN 1 .. CASE WHEN random() < 0.85 THEN n + mt.ri(0, 2) ELSE mt.ri(0, n) END LOOP
        s := s + 1;
        x := random();
        INSERT INTO mt.plan VALUES (s, 'verify', jsonb_build_object('ref', i, 'pos', CASE WHEN j <= n THEN j ELSE mt.ri(1, n) END,
          'valid', CASE WHEN x < 0.8 THEN to_jsonb(true) WHEN x < 0.98 THEN to_jsonb(false) ELSE 'null'::jsonb END,
          'actual', CASE WHEN x >= 0.8 THEN NULL WHEN random() < 0.6 THEN NULL
                         ELSE to_jsonb(mt.pick('{less,less,more,same,bad}')) END,
          'note', CASE WHEN random() < 0.1 THEN 'checked ' || s END));
      END LOOP;
      IF random() < 0.3 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'clock', jsonb_build_object('secs', mt.ri(1, 30) * 3600));
      END IF;
      IF random() < 0.8 THEN
        s := s + 1;
        INSERT INTO mt.plan VALUES (s, 'csettle', jsonb_build_object('ref', i, 'key', 'k' || s));
        keyed := keyed || s;
        IF random() < 0.7 THEN
          s := s + 1;
          INSERT INTO mt.plan VALUES (s, 'creview', jsonb_build_object('ref', i, 'approve', random() < 0.6,
            'reviewer', CASE WHEN random() < 0.97 THEN 'ops' END));
        END IF;
      END IF;
      CONTINUE;
    END IF;
    r := random() * 100;
    -- operations on earlier results need some: a top-up instead
    IF (r >= 40.5 AND r < 50.5 AND cardinality(spends) = 0)
       OR (r >= 50.5 AND r < 62.5 AND cardinality(topups) = 0)
       OR (r >= 62.5 AND r < 72.5 AND cardinality(requests) = 0)
       OR (r >= 86 AND r < 94 AND cardinality(keyed) = 0) THEN
      r := 10;
    END IF;
    -- wallet for ops that need one: CNY more often
    IF random() < 0.62 THEN
      w := mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o = 'CNY'));
    ELSE
      w := mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o = 'JPY'));
    END IF;
    e := (ex->>(cur->>w))::int;
    a := '{}';

    IF random() < 0.16 THEN
      -- coupons: issue, validate, spend with a coupon, reverse a coupon spend
      others := ARRAY(SELECT o FROM unnest(owners) o WHERE o <> w);
      x := random();
      IF x < 0.28 THEN
        op := 'issue';
        x := random();
        a := jsonb_build_object('w', w, 'key', k, 'tpl',
          CASE WHEN x < 0.93 THEN mt.pick(ARRAY(SELECT jsonb_array_elements_text(tpls->(cur->>w))))
               WHEN x < 0.97 THEN mt.pick(ARRAY(SELECT jsonb_array_elements_text(tpls->(CASE WHEN cur->>w = 'CNY'
                                                                                    THEN 'JPY' ELSE 'CNY' END))))
               ELSE 'no-such-template' END);
        x := random();
        IF x < 0.02 THEN
          a := a || jsonb_build_object('w', '#none');
        ELSIF x < 0.04 THEN
          a := a || jsonb_build_object('key', mt.pick(ARRAY[NULL, repeat('k', 201), 'k' || chr(1)]), 'invalid', true);
        ELSIF x < 0.05 THEN
          a := a || jsonb_build_object('tpl', mt.pick(ARRAY[NULL, repeat('t', 65)]), 'invalid', true);
        END IF;
        issues := issues || s;
        IF NOT a ? 'invalid' THEN keyed := keyed || s; END IF;
      ELSIF x < 0.58 OR cardinality(cspends) = 0 AND x >= 0.93 THEN
        op := 'validate';
        a := jsonb_build_object('w', w, 'code', mt.gen_code(w, others, issues, true),
          'amount', CASE WHEN random() < 0.05 THEN to_jsonb(mt.bad_amount(e))
                         ELSE to_jsonb(mt.gen_amount(e, CASE WHEN random() < 0.4 THEN 'small' ELSE 'spend' END)) END,
          'scene', CASE WHEN random() < 0.02 THEN 'bad scene' ELSE mt.pick(ARRAY[NULL, 'game', 'shop', 'other']) END);
        IF random() < 0.02 THEN
          a := a || jsonb_build_object('w', '#none', 'code', jsonb_build_object('src', 'unknown',
                     'sym', (SELECT jsonb_agg(mt.ri(0, 30)) FROM generate_series(1, 17))));
        END IF;
      ELSIF x < 0.93 THEN
        op := 'spend';
        a := jsonb_build_object('w', w, 'key', k,
          'coupon', CASE WHEN random() < 0.4 THEN jsonb_build_object('src', 'wallet', 'o', w, 'i', mt.ri(0, 60), 'pick', 'avail')
                         ELSE mt.gen_code(w, others, issues, false) END,
          'scene', CASE WHEN cur->>w = 'CNY' THEN mt.pick(ARRAY[NULL, 'game', 'game', 'game', 'shop', 'other'])
                        ELSE mt.pick(ARRAY[NULL, 'shop', 'shop', 'shop', 'game', 'other']) END, 'partial', random() < 0.25)
          || CASE WHEN random() < 0.5 THEN jsonb_build_object('frac', 0.05 + random() * 1.45)
                  ELSE jsonb_build_object('amount', mt.gen_amount(e, CASE WHEN random() < 0.4 THEN 'small' ELSE 'spend' END)) END;
        IF random() < 0.12 THEN
          a := a || jsonb_build_object('payee', mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o = cur->>w AND o <> w)));
        END IF;
        spends := spends || s;
        cspends := cspends || s;
        keyed := keyed || s;
      ELSE
        op := 'reverse';
        x := random();
        a := jsonb_build_object('ref', mt.recent(cspends), 'key', k,
          'amount', CASE WHEN x < 0.55 THEN NULL WHEN x < 0.9 THEN jsonb_build_object('frac', 0.05 + random() * 0.9)
                         ELSE '"over"'::jsonb END);
        keyed := keyed || s;
      END IF;
      INSERT INTO mt.plan VALUES (s, op, a);
      CONTINUE;
    END IF;

    IF r < 1.5 THEN
      op := 'open';
      x := random();
      IF x < 0.4 THEN
        a := jsonb_build_object('owner', split_part(w, '_', 1), 'h', w, 'cur', cur->>w);   -- again: same id
      ELSIF x < 0.5 THEN
        a := jsonb_build_object('owner', 'x' || s, 'cur', 'XXX');         -- unknown currency
      ELSIF x < 0.55 THEN
        a := jsonb_build_object('owner', repeat('o', 257), 'cur', 'CNY'); -- owner too long
      ELSIF cardinality(owners) < 14 THEN
        w := CASE WHEN random() < 0.6 THEN 'c' ELSE 'j' END || (cardinality(owners) + 1);
        a := jsonb_build_object('owner', w, 'cur', CASE WHEN w LIKE 'c%' THEN 'CNY' ELSE 'JPY' END);
        owners := owners || w;
        cur := cur || jsonb_build_object(w, a->>'cur');
      ELSE
        a := jsonb_build_object('owner', split_part(w, '_', 1), 'h', w, 'cur', cur->>w);
      END IF;
    ELSIF r < 18.5 THEN
      op := 'top_up';
      a := jsonb_build_object('w', w, 'amount', mt.gen_amount(e, 'topup'), 'key', k);
      IF random() < 0.2 THEN a := a || jsonb_build_object('method', mt.pick('{card,alipay,wechat}')); END IF;
      IF random() < 0.1 THEN a := a || jsonb_build_object('ext_ref', 'ref-' || s); END IF;
      topups := topups || s;
      keyed := keyed || s;
    ELSIF r < 40.5 THEN
      op := 'spend';
      IF random() < 0.55 THEN
        x := random();
        a := jsonb_build_object('frac', CASE WHEN x < 0.1 THEN 1.0 WHEN x < 0.2 THEN 1 + random() * 0.5
                                             ELSE 0.02 + random() * 0.95 END);
      ELSE
        a := jsonb_build_object('amount', mt.gen_amount(e, CASE WHEN random() < 0.3 THEN 'small' ELSE 'spend' END));
      END IF;
      x := random();
      a := a || jsonb_build_object('w', w, 'key', k,
        'scene', CASE WHEN x < 0.4 THEN NULL WHEN x < 0.65 THEN 'game' WHEN x < 0.85 THEN 'shop' ELSE 'other' END,
        'partial', random() < 0.25);
      x := random();
      IF x < 0.18 THEN
        a := a || jsonb_build_object('payee',
               mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o = cur->>w AND o <> w)));
      ELSIF x < 0.20 THEN
        a := a || jsonb_build_object('payee', mt.pick(ARRAY(SELECT o FROM unnest(owners) o WHERE cur->>o <> cur->>w)));
      ELSIF x < 0.21 THEN
        a := a || jsonb_build_object('payee', '#self');
      ELSIF x < 0.215 THEN
        a := a || jsonb_build_object('payee', '#none');
      ELSIF x < 0.23 THEN
        a := a || jsonb_build_object('coupon', 'NOSUCHCODE');
      END IF;
      IF random() < 0.1 THEN a := a || jsonb_build_object('order_ref', 'order-' || s); END IF;
      spends := spends || s;
      keyed := keyed || s;
    ELSIF r < 50.5 THEN
      op := 'reverse';
      x := random();
      a := jsonb_build_object('ref', mt.recent(spends), 'key', k,
        'amount', CASE WHEN x < 0.4 THEN NULL WHEN x < 0.85 THEN jsonb_build_object('frac', 0.05 + random() * 0.9)
                       WHEN x < 0.95 THEN '"over"'::jsonb ELSE to_jsonb(mt.gen_amount(e, 'small')) END);
      keyed := keyed || s;
    ELSIF r < 54.5 THEN
      op := 'quote';
      a := jsonb_build_object('ref', mt.recent(topups), 'reason', CASE WHEN random() < 0.8 THEN 'user' ELSE 'platform' END);
    ELSIF r < 62.5 THEN
      op := 'request';
      x := random();
      a := jsonb_build_object('ref', mt.recent(topups), 'key', k,
        'amount', CASE WHEN x < 0.4 THEN NULL WHEN x < 0.55 THEN '"max"'::jsonb
                       WHEN x < 0.85 THEN jsonb_build_object('frac', 0.05 + random() * 0.9)
                       WHEN x < 0.95 THEN '"over"'::jsonb ELSE to_jsonb(mt.gen_amount(e, 'small')) END,
        'reason', CASE WHEN random() < 0.75 THEN 'user' ELSE 'platform' END);
      IF random() < 0.1 THEN a := a || jsonb_build_object('note', 'note ' || s); END IF;
      requests := requests || s;
      keyed := keyed || s;
    ELSIF r < 67.5 THEN
      op := 'review';
      a := jsonb_build_object('ref', mt.recent(requests), 'approve', random() < 0.75, 'reviewer', 'ops');
    ELSIF r < 72.5 THEN
      op := 'settle';
      a := jsonb_build_object('ref', mt.recent(requests), 'ok', random() < 0.7);
      IF random() < 0.2 THEN a := a || jsonb_build_object('gw', 'gw-' || s); END IF;
    ELSIF r < 79.5 THEN
      op := 'clock';
      x := random();
      IF x < 0.25 THEN
        a := jsonb_build_object('edge', mt.ri(-1, 1));      -- onto the next expiry / window end
      ELSIF x < 0.55 THEN
        a := jsonb_build_object('secs', mt.ri(60, 6 * 3600));
      ELSIF x < 0.9 THEN
        a := jsonb_build_object('secs', mt.ri(1, 24) * 3600);
      ELSE
        a := jsonb_build_object('secs', mt.ri(1, 5) * 86400 + mt.ri(0, 1) * mt.ri(1, 86399));
      END IF;
    ELSIF r < 82 THEN
      op := 'expire';
    ELSIF r < 83.5 THEN
      op := 'freeze';
      a := jsonb_build_object('w', w, 'reason', 'risk ' || s);
      frozen := frozen || w;
    ELSIF r < 86 THEN
      op := 'unfreeze';
      -- mostly a wallet frozen before
      IF cardinality(frozen) > 0 AND random() < 0.8 THEN
        w := frozen[mt.ri(1, cardinality(frozen))];
      END IF;
      frozen := array_remove(frozen, w);
      a := jsonb_build_object('w', w);
    ELSIF r < 94 THEN
      op := 'replay';
      x := random();
      a := jsonb_build_object('ref', mt.recent(keyed),
        'mode', CASE WHEN x < 0.45 THEN 'same' WHEN x < 0.55 THEN 'repr' WHEN x < 0.9 THEN 'diff' ELSE 'cross' END);
    ELSE
      -- invalid input: one fault at a time, always with a fresh key
      x := random() * 20;
      IF x < 3 THEN
        op := 'top_up'; a := jsonb_build_object('w', w, 'amount', mt.bad_amount(e), 'key', k);
      ELSIF x < 6 THEN
        op := 'spend'; a := jsonb_build_object('w', w, 'amount', mt.bad_amount(e), 'key', k, 'partial', random() < 0.5);
      ELSIF x < 7 THEN
        op := 'spend'; a := jsonb_build_object('w', w, 'amount', '1', 'key', k, 'partial', false,
                                               'scene', mt.pick(ARRAY['bad scene', repeat('s', 65), '', 'tab' || chr(9)]));
      ELSIF x < 8 THEN
        op := 'spend'; a := jsonb_build_object('w', w, 'amount', '1', 'key', k, 'partial', NULL);
      ELSIF x < 9.5 THEN
        op := mt.pick('{top_up,spend}');
        a := jsonb_build_object('w', w, 'amount', '1', 'partial', false,
                                'key', mt.pick(ARRAY[NULL, repeat('k', 201), 'k' || chr(1)]));
      ELSIF x < 10.5 THEN
        op := 'top_up'; a := jsonb_build_object('w', w, 'amount', '10', 'key', k,
                                                'method', mt.pick(ARRAY[repeat('m', 65), 'card' || chr(10)]));
      ELSIF x < 11.5 THEN
        op := mt.pick('{top_up,spend,freeze}');
        a := jsonb_build_object('w', '#none', 'amount', '10', 'key', k, 'partial', false, 'reason', 'x');
      ELSIF x < 13 AND cardinality(topups) > 0 THEN
        op := 'reverse'; a := jsonb_build_object('bad', mt.pick('{none,topup,null}'), 'ref', mt.recent(topups), 'key', k);
      ELSIF x < 14 AND cardinality(spends) > 0 THEN
        op := 'reverse'; a := jsonb_build_object('ref', mt.recent(spends), 'key', k,
                                                 'amount', coalesce(mt.bad_amount(e), '0'));
      ELSIF x < 15.5 AND cardinality(spends) > 0 THEN
        op := 'request'; a := jsonb_build_object('bad', mt.pick('{none,spend}'), 'ref', mt.recent(spends), 'key', k);
      ELSIF x < 16.5 AND cardinality(topups) > 0 THEN
        op := mt.pick('{request,quote}');
        a := jsonb_build_object('ref', mt.recent(topups), 'key', k, 'reason', mt.pick('{bogus,USER}'));
      ELSIF x < 17.5 AND cardinality(topups) > 0 THEN
        op := 'request'; a := jsonb_build_object('ref', mt.recent(topups), 'key', k, 'reason', 'user',
                                                 'amount', mt.pick(ARRAY['0', 'NaN', '-1', '0.001']),
                                                 'note', CASE WHEN random() < 0.3 THEN repeat('n', 1001) END);
      ELSIF x < 18.5 THEN
        op := mt.pick('{review,settle}');
        a := jsonb_build_object('bad', 'none', 'approve', true, 'reviewer', 'ops', 'ok', true);
      ELSIF x < 19.5 AND cardinality(requests) > 0 THEN
        op := mt.pick('{review,settle}');
        a := jsonb_build_object('ref', mt.recent(requests), 'approve', CASE WHEN random() < 0.5 THEN true END,
                                'reviewer', CASE WHEN random() < 0.5 THEN NULL ELSE repeat('r', 201) END,
                                'ok', NULL);
      ELSE
        op := 'freeze'; a := jsonb_build_object('w', w, 'reason', NULL);
      END IF;
      a := a || '{"invalid": true}';
    END IF;
    INSERT INTO mt.plan VALUES (s, op, a);
  END LOOP;
  -- a story may run past the end: the plan of N steps is a prefix of any longer one
  DELETE FROM mt.plan WHERE step > p_steps;
END $$;

------------------------------------------------------------------------------
-- Resolving a planned step into a concrete operation
------------------------------------------------------------------------------
CREATE FUNCTION mt.none_id() RETURNS jsonb LANGUAGE sql IMMUTABLE
  AS $$ SELECT '{"e": 999999999, "m": 999999999}'::jsonb $$;

-- wref: a wallet reference {e, m, v} of an owner, NULL if it was never opened
CREATE FUNCTION mt.wref(owner text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN owner = '#none' THEN mt.none_id()
              ELSE (SELECT jsonb_build_object('e', m.ext_id, 'm', m.mod_id, 'v', 'w_' || m.owner, 'o', m.owner,
                                              'x', m.e)
                      FROM mt.wmap m WHERE m.owner = wref.owner) END
$$;

-- oref: what step p_step made, as a reference {e, m, v, s}; if it made
-- nothing (it failed, or was left out), what the last step before it of the
-- same operation made
CREATE FUNCTION mt.oref(p_step int) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('e', o.ext_id, 'm', o.mod_id,
                            'v', CASE o.kind WHEN 'refund' THEN 'r' WHEN 'hold' THEN 'h' WHEN 'group' THEN 'g'
                                             WHEN 'wd' THEN 'd' WHEN 'quote' THEN 'q' WHEN 'intake' THEN 'i'
                                             ELSE 't' END || o.step,
                            's', o.step)
    FROM mt.obj o
   WHERE o.step <= p_step AND o.op = (SELECT coalesce(p.args->>'op2', p.op) FROM mt.plan p WHERE p.step = p_step)
   ORDER BY o.step DESC LIMIT 1
$$;

CREATE FUNCTION mt.amount_text(m numeric, e int) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT round(m / (10::numeric ^ e), e)::text $$;

-- frac_of: floor(total * f) of a total in minor units, at least one minor unit, as text
CREATE FUNCTION mt.frac_of(total numeric, f numeric, e int) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT mt.amount_text(greatest(floor(total * f), 1), e) $$;

-- next_event: the next point in time at which a rule of the model changes
CREATE FUNCTION mt.next_event() RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT min(t) FROM (
    SELECT expires_at FROM model.lot WHERE bucket = 'bonus' AND (amount > 0 OR held > 0)
    UNION ALL SELECT refundable_until FROM model.topup
    UNION ALL SELECT expires_at FROM model.hold WHERE status = 'open'
    UNION ALL SELECT requested_at + interval '30 days' FROM model.refund
    UNION ALL SELECT starts_at FROM wallet.bonus_rule
    UNION ALL SELECT ends_at FROM wallet.bonus_rule
    UNION ALL SELECT valid_until FROM model.coupon WHERE redeemed_txn IS NULL
    UNION ALL SELECT valid_from FROM model.coupon WHERE redeemed_txn IS NULL
    UNION ALL SELECT valid_from FROM wallet.coupon_template
    UNION ALL SELECT valid_until FROM wallet.coupon_template
    UNION ALL SELECT valid_from FROM wallet.fx_rate
    UNION ALL SELECT valid_until FROM wallet.fx_rate
    UNION ALL SELECT starts_at FROM wallet.reward_rule
    UNION ALL SELECT ends_at FROM wallet.reward_rule
    UNION ALL SELECT valid_from FROM wallet.card_rate
    UNION ALL SELECT valid_until FROM wallet.card_rate
    UNION ALL SELECT valid_until FROM model.card_quote WHERE used_by IS NULL
    -- the next midnight of a currency's limit_time_zone after a recent withdrawal (the day's totals)
    UNION ALL SELECT (model.day_of(model.clock_now(), z.tz) + 1)::timestamp AT TIME ZONE z.tz
      FROM (SELECT DISTINCT (model.xpolicy(w.currency, w.e)).tz FROM model.withdrawal d JOIN model.wallet w ON w.wid = d.wid
             WHERE d.requested_at > model.clock_now() - interval '1 day') z) x(t)
   WHERE t > model.clock_now()
$$;

-- code_sql: the SQL expression of a code changed as mut says: typo (the
-- symbol at position typo moved d places on in the alphabet), lower, nodash
CREATE FUNCTION mt.code_sql(expr text, mut jsonb) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  alpha constant text := quote_literal('23456789ABCDEFGHJKMNPQRSTUVWXYZ');
  cp int;
BEGIN
  IF mut IS NULL OR jsonb_typeof(mut) = 'null' THEN RETURN expr; END IF;
  IF mut = '"lower"' THEN RETURN format('lower(%s)', expr); END IF;
  IF mut = '"nodash"' THEN RETURN format('replace(%s, ''-'', '''')', expr); END IF;
  cp := (mut->>'typo')::int + ((mut->>'typo')::int - 1) / 6;      -- skip the hyphens
  RETURN format('overlay(%1$s placing substr(%2$s, (strpos(%2$s, substr(%1$s, %3$s, 1)) - 1 + %4$s) %% 31 + 1, 1) from %3$s for 1)',
                expr, alpha, cp, (mut->>'d')::int);
END $$;

-- code_ref: a planned code reference resolved now: {code, cx (the same for a
-- repro, by issuance order in wallet.coupon), cw (the holder), co (its owner)};
-- NULL if it refers to nothing
CREATE FUNCTION mt.code_ref(c jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  alpha constant text := '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
  v_code text;
  v_cid bigint;
  v_wid bigint;
  n int;
  k int;
  body text;
  owner text;
  expr text;
BEGIN
  IF c->>'src' = 'lit' THEN
    RETURN jsonb_build_object('code', c->'code');
  END IF;
  IF c->>'src' = 'unknown' THEN
    body := (SELECT string_agg(substr(alpha, v::int + 1, 1), '' ORDER BY o)
               FROM jsonb_array_elements_text(c->'sym') WITH ORDINALITY AS x(v, o));
    -- the check symbol that makes it well formed, by the extension's own definition of a code
    FOR i IN 1..31 LOOP
      v_code := wallet.coupon_code_check(body || substr(alpha, i, 1));
      EXIT WHEN v_code IS NOT NULL;
    END LOOP;
    RETURN jsonb_build_object('code', v_code);
  END IF;
  IF c->>'src' = 'step' THEN
    -- an issuing step, or a top-up that issued coupons (its i-th)
    SELECT coalesce(t.mod_out->0->>'code', t.mod_out->0->'coupons'->>((c->>'i')::int)) INTO v_code FROM mt.trace t
     WHERE t.step = (c->>'ref')::int AND t.status = 'ok' AND t.mod_ok;
    SELECT x.cid, x.wid INTO v_cid, v_wid FROM model.coupon x WHERE x.code = v_code;
  END IF;
  IF v_cid IS NULL THEN
    -- the i-th coupon of the wallet (or of its available ones), in issuance order
    SELECT m.mod_id INTO v_wid FROM mt.wmap m WHERE m.owner = c->>'o';
    IF v_wid IS NULL THEN RETURN NULL; END IF;
    SELECT count(*) INTO n FROM model.coupon x
     WHERE x.wid = v_wid AND (c->>'pick' IS DISTINCT FROM 'avail' OR model.coupon_status(x) = 'available');
    IF n = 0 THEN RETURN NULL; END IF;
    SELECT x.cid INTO v_cid FROM model.coupon x
     WHERE x.wid = v_wid AND (c->>'pick' IS DISTINCT FROM 'avail' OR model.coupon_status(x) = 'available')
     ORDER BY x.cid OFFSET (c->>'i')::int % n LIMIT 1;
  END IF;
  SELECT x.code INTO v_code FROM model.coupon x WHERE x.cid = v_cid;
  SELECT count(*) INTO k FROM model.coupon x WHERE x.wid = v_wid AND x.cid < v_cid;
  SELECT m.owner INTO owner FROM mt.wmap m WHERE m.mod_id = v_wid;
  expr := mt.code_sql(format('(SELECT code FROM wallet.coupon WHERE wallet_id = :w_%s ORDER BY issue_txn OFFSET %s LIMIT 1)',
                             owner, k), c->'mut');
  EXECUTE 'SELECT ' || mt.code_sql(quote_literal(v_code), c->'mut') INTO v_code;
  RETURN jsonb_build_object('code', v_code, 'cx', expr, 'cw', mt.wref(owner), 'co', owner);
END $$;

-- split_shares: an amount (minor units) in shares by weights: floor of each weight's
-- part, the last share the rest (a share may come out 0: the extension must refuse it)
CREATE FUNCTION mt.split_shares(amt numeric, wts jsonb, e int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  WITH w AS (SELECT n, v::numeric AS v, sum(v::numeric) OVER () AS s, count(*) OVER () AS c
               FROM jsonb_array_elements_text(wts) WITH ORDINALITY u(v, n)),
       q AS (SELECT n, c, floor(amt * v / s) AS x FROM w)
  SELECT jsonb_agg(to_jsonb(mt.amount_text(CASE WHEN n < c THEN x
                                                ELSE amt - (SELECT coalesce(sum(x), 0) FROM q q2 WHERE q2.n < q2.c) END, e))
                   ORDER BY n)
    FROM q
$$;

-- wamount: a planned withdrawal amount (gen_wamount) resolved now for wallet reference w, as text
CREATE FUNCTION mt.wamount(w jsonb, spec jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  e int := (w->>'x')::int;
  mw model.wallet;
  earn numeric;
  xp record;
  q record;
  v numeric;
BEGIN
  IF spec IS NULL OR jsonb_typeof(spec) NOT IN ('object', 'string') OR (w->>'m') IS NULL THEN RETURN spec; END IF;
  SELECT * INTO mw FROM model.wallet WHERE wid = (w->>'m')::bigint;
  IF NOT FOUND THEN RETURN spec; END IF;
  SELECT b.earnings * (10::numeric ^ e) INTO earn FROM model.balance(mw.wid) b;
  xp := model.xpolicy(mw.currency, mw.e);
  IF jsonb_typeof(spec) = 'object' THEN RETURN to_jsonb(mt.frac_of(earn, (spec->>'frac')::numeric, e)); END IF;
  q := model.wquote(mw, 1, 0);
  v := CASE spec #>> '{}' WHEN 'all' THEN earn WHEN 'over' THEN earn + 1
                          WHEN 'min' THEN xp.w_min WHEN 'min1' THEN xp.w_min - 1
                          WHEN 'daily' THEN coalesce(q.remaining, earn) WHEN 'daily1' THEN coalesce(q.remaining, earn) + 1 END;
  IF v IS NULL THEN RETURN spec; END IF;
  RETURN to_jsonb(mt.amount_text(greatest(v, 1), e));
END $$;

CREATE FUNCTION mt.resolve(p_step int, op text, a jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  w jsonb;
  ref jsonb;
  base jsonb;
  e int;
  v numeric;
  amt jsonb;
  t timestamptz;
  tr mt.trace;
  cr jsonb;
  nitems int;
  ipos int;
  tz text;
BEGIN
  CASE op
  WHEN 'issue' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', 'issue', 'w', w, 'tpl', a->'tpl', 'key', a->'key', 'wo', a->>'w');
  WHEN 'validate' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    cr := mt.code_ref(a->'code');
    IF cr IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', 'validate', 'w', w, 'code', cr->'code', 'cx', cr->'cx', 'cw', cr->'cw',
                              'co', cr->'co', 'amount', a->'amount', 'scene', a->'scene', 'wo', a->>'w');
  WHEN 'open' THEN
    RETURN jsonb_build_object('op', 'open', 'owner', a->>'owner', 'cur', a->>'cur', 'wo', coalesce(a->>'h', a->>'owner'))
           || CASE WHEN a ? 'h' THEN jsonb_build_object('h', a->>'h') ELSE '{}' END;
  WHEN 'fxquote' THEN
    RETURN jsonb_build_object('op', op, 'from', a->'from', 'to', a->'to', 'amount', a->'amount');
  WHEN 'exchange' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    ref := CASE WHEN a->>'to' = '#self' THEN w ELSE mt.wref(a->>'to') END;
    IF ref IS NULL THEN RETURN NULL; END IF;
    e := (w->>'x')::int;
    amt := a->'amount';
    IF jsonb_typeof(amt) = 'object' OR amt IN ('"all"', '"over"') THEN
      SELECT b.earnings * (10::numeric ^ e) INTO v FROM model.balance((w->>'m')::bigint) b;
      amt := to_jsonb(CASE WHEN jsonb_typeof(amt) = 'object' THEN mt.frac_of(v, (amt->>'frac')::numeric, e)
                           WHEN amt = '"all"' THEN mt.amount_text(greatest(v, 1), e)
                           ELSE mt.amount_text(v + 1, e) END);
    ELSIF amt = '"tiny"' THEN
      amt := to_jsonb(mt.amount_text(1, e));
    END IF;
    RETURN jsonb_build_object('op', op, 'w', w, 'to', ref, 'amount', amt, 'key', a->'key', 'wo', a->>'w',
                              'payee', ref);
  WHEN 'cquote' THEN
    IF a->>'w' IS NOT NULL THEN
      w := mt.wref(a->>'w');
      IF w IS NULL THEN RETURN NULL; END IF;
    END IF;
    RETURN jsonb_build_object('op', op, 'tpl', a->'tpl', 'face', a->'face', 'qty', a->'qty', 'w', w, 'wo', a->>'w');
  WHEN 'crate' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', op, 'w', w, 'tpl', a->'tpl', 'rate', a->'rate', 'min_face', a->'min_face',
                              'wo', a->>'w');
  WHEN 'submit' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    IF a->>'quote' = 'none' THEN
      ref := mt.none_id();
    ELSIF a ? 'quote' THEN
      ref := mt.oref((a->>'quote')::int);
      IF ref IS NULL THEN RETURN NULL; END IF;
    END IF;
    RETURN jsonb_build_object('op', op, 'w', w, 'tpl', a->'tpl', 'faces', a->'faces', 'secrets', a->'secrets',
                              'key', a->'key', 'quote', ref, 'batch_ref', a->'batch_ref', 'wo', a->>'w');
  WHEN 'verify' THEN
    ref := mt.oref((a->>'ref')::int);
    IF ref IS NULL THEN RETURN NULL; END IF;
    SELECT * INTO tr FROM mt.trace WHERE step = (ref->>'s')::int;
    e := (tr.res->'w'->>'x')::int;
    SELECT k.items INTO nitems FROM model.intake k WHERE k.kid = (ref->>'m')::bigint;
    ipos := ((a->>'pos')::int - 1) % nitems + 1;
    SELECT c.face INTO v FROM model.card_item c WHERE c.kid = (ref->>'m')::bigint AND c.pos = ipos;
    amt := CASE a->>'actual' WHEN 'less' THEN to_jsonb(mt.frac_of(v, 0.45 + (a->>'pos')::int * 0.05, e))
                             WHEN 'more' THEN to_jsonb(mt.amount_text(v + 1, e))
                             WHEN 'same' THEN to_jsonb(mt.amount_text(v, e))
                             WHEN 'bad' THEN to_jsonb(coalesce(mt.bad_amount(e), '0')) END;
    RETURN jsonb_build_object('op', op, 'item', jsonb_build_object(
        'e', (SELECT c.item_id FROM wallet.card_item c WHERE c.intake_id = (ref->>'e')::bigint AND c.position = ipos),
        'm', (SELECT c.item_id FROM model.card_item c WHERE c.kid = (ref->>'m')::bigint AND c.pos = ipos),
        'iv', ref->>'v', 'pos', ipos),
      'valid', a->'valid', 'actual', amt, 'note', a->'note', 'wo', tr.res->>'wo');
  WHEN 'csettle', 'creview' THEN
    ref := mt.oref((a->>'ref')::int);
    IF ref IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', op, 'intake', ref, 'key', a->'key', 'approve', a->'approve',
                              'reviewer', a->'reviewer',
                              'wo', (SELECT t.res->>'wo' FROM mt.trace t WHERE t.step = (ref->>'s')::int));
  WHEN 'top_up' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', 'top_up', 'w', w, 'amount', a->'amount', 'key', a->'key',
                              'method', a->'method', 'ext_ref', a->'ext_ref', 'wo', a->>'w');
  WHEN 'spend' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    amt := a->'amount';
    IF a ? 'frac' THEN
      SELECT b.available INTO v FROM model.balance((w->>'m')::bigint, a->>'scene') b;
      amt := to_jsonb(mt.frac_of(v * (10::numeric ^ (w->>'x')::int), (a->>'frac')::numeric, (w->>'x')::int));
    END IF;
    IF a->>'payee' IS NOT NULL THEN
      ref := CASE WHEN a->>'payee' = '#self' THEN w ELSE mt.wref(a->>'payee') END;
      IF ref IS NULL THEN RETURN NULL; END IF;
    END IF;
    IF jsonb_typeof(a->'coupon') = 'object' THEN
      cr := mt.code_ref(a->'coupon');
      IF cr IS NULL THEN RETURN NULL; END IF;
    ELSE
      cr := jsonb_build_object('code', a->'coupon');
    END IF;
    RETURN jsonb_build_object('op', 'spend', 'w', w, 'amount', amt, 'key', a->'key', 'scene', a->'scene',
                              'coupon', cr->'code', 'cx', cr->'cx', 'cw', cr->'cw', 'co', cr->'co',
                              'partial', a->'partial', 'payee', ref,
                              'order_ref', a->'order_ref', 'wo', a->>'w');
  WHEN 'reverse' THEN
    IF a->>'bad' = 'none' THEN
      ref := mt.none_id();
    ELSIF a->>'bad' = 'null' THEN
      ref := NULL;
    ELSE
      ref := mt.oref((a->>'ref')::int);
      IF ref IS NULL THEN RETURN NULL; END IF;
    END IF;
    amt := a->'amount';
    IF a->>'bad' IS NULL THEN
      SELECT * INTO tr FROM mt.trace WHERE step = (ref->>'s')::int;
      e := (tr.res->'w'->>'x')::int;
      SELECT s.charged - s.reversed INTO v FROM model.spend s WHERE s.tid = (ref->>'m')::bigint;
      IF jsonb_typeof(amt) = 'object' THEN
        amt := to_jsonb(mt.frac_of(v, (amt->>'frac')::numeric, e));
      ELSIF amt = '"over"' THEN
        amt := to_jsonb(mt.amount_text(v + 1, e));
      END IF;
    END IF;
    RETURN jsonb_build_object('op', 'reverse', 'spend', ref, 'key', a->'key', 'amount', amt,
                              'wo', tr.res->>'wo', 'payee', tr.res->'payee');
  WHEN 'quote' THEN
    ref := mt.oref((a->>'ref')::int);
    IF ref IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', 'quote', 'topup', ref, 'reason', a->'reason',
                              'wo', (SELECT t.res->>'wo' FROM mt.trace t WHERE t.step = (ref->>'s')::int));
  WHEN 'request' THEN
    IF a->>'bad' = 'none' THEN
      ref := mt.none_id();
    ELSE
      ref := mt.oref((a->>'ref')::int);      -- with bad = spend: a spend, not a top-up
      IF ref IS NULL THEN RETURN NULL; END IF;
    END IF;
    SELECT * INTO tr FROM mt.trace WHERE step = (ref->>'s')::int;
    amt := a->'amount';
    IF a->>'bad' IS NULL AND (jsonb_typeof(amt) = 'object' OR amt IN ('"max"', '"over"')) THEN
      e := (tr.res->'w'->>'x')::int;
      SELECT q.max_amount INTO v FROM model.refund_quote((ref->>'m')::bigint, coalesce(a->>'reason', 'user')) q;
      v := v * (10::numeric ^ e);
      amt := to_jsonb(CASE WHEN jsonb_typeof(amt) = 'object' THEN mt.frac_of(v, (amt->>'frac')::numeric, e)
                           WHEN amt = '"max"' THEN mt.amount_text(greatest(v, 1), e)
                           ELSE mt.amount_text(v + 1, e) END);
    END IF;
    RETURN jsonb_build_object('op', 'request', 'topup', ref, 'key', a->'key', 'amount', amt,
                              'reason', a->'reason', 'note', a->'note', 'wo', tr.res->>'wo');
  WHEN 'review', 'settle' THEN
    IF a->>'bad' = 'none' THEN
      ref := mt.none_id();
    ELSE
      ref := mt.oref((a->>'ref')::int);
      IF ref IS NULL THEN RETURN NULL; END IF;
    END IF;
    RETURN jsonb_build_object('op', op, 'refund', ref, 'approve', a->'approve', 'reviewer', a->'reviewer',
                              'ok', a->'ok', 'gw', a->'gw',
                              'wo', (SELECT t.res->>'wo' FROM mt.trace t WHERE t.step = (ref->>'s')::int));
  WHEN 'clock' THEN
    IF a ? 'lzone' THEN
      -- the next start of a day or month of a currency's limit_time_zone, edge seconds from it
      tz := coalesce((SELECT p.limit_time_zone FROM wallet.policy p WHERE p.currency = a->>'lzone'), 'UTC');
      t := ((date_trunc(a->>'lperiod', model.clock_now() AT TIME ZONE tz)
             + ('1 ' || (a->>'lperiod'))::interval) AT TIME ZONE tz)
           + make_interval(secs => (a->>'edge')::int);
      IF t <= model.clock_now() THEN t := model.clock_now() + interval '1 second'; END IF;
    ELSIF a ? 'edge' THEN
      t := mt.next_event();
      IF t IS NULL THEN RETURN NULL; END IF;
      t := t + make_interval(secs => (a->>'edge')::int);
      IF t <= model.clock_now() THEN t := t - make_interval(secs => (a->>'edge')::int); END IF;
    ELSE
      t := model.clock_now() + make_interval(secs => (a->>'secs')::int);
    END IF;
    RETURN jsonb_build_object('op', 'clock', 'at', t);
  WHEN 'expire' THEN
    RETURN '{"op": "expire"}';
  WHEN 'hexpire' THEN
    RETURN '{"op": "hexpire"}';
  WHEN 'group' THEN
    w := mt.wref(a->>'payee');
    IF w IS NULL THEN RETURN NULL; END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements_text(a->'ws') o WHERE mt.wref(o) IS NULL) THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', 'group', 'w', w, 'ws', (SELECT jsonb_agg(mt.wref(o)) FROM jsonb_array_elements_text(a->'ws') o),
                              'amounts', a->'amounts', 'key', a->'key', 'ttl', a->'ttl', 'wo', a->>'payee');
  WHEN 'join', 'gcancel', 'gstatus' THEN
    ref := mt.oref((a->>'ref')::int);
    IF ref IS NULL THEN RETURN NULL; END IF;
    IF a ? 'w' THEN
      w := mt.wref(a->>'w');
      IF w IS NULL THEN RETURN NULL; END IF;
    END IF;
    SELECT * INTO tr FROM mt.trace WHERE step = (ref->>'s')::int;
    RETURN jsonb_build_object('op', op, 'group', ref, 'w', w, 'key', a->'key', 'wo', a->>'w',
                              'payee', tr.res->'w');
  WHEN 'hold' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    SELECT b.available INTO v FROM model.balance((w->>'m')::bigint, a->>'scene') b;
    v := v * (10::numeric ^ (w->>'x')::int);
    amt := to_jsonb(mt.frac_of(v, (a->>'frac')::numeric, (w->>'x')::int));
    IF a->>'payee' IS NOT NULL THEN
      ref := mt.wref(a->>'payee');
      IF ref IS NULL THEN RETURN NULL; END IF;
    END IF;
    RETURN jsonb_build_object('op', 'hold', 'w', w, 'amount', amt, 'key', a->'key', 'scene', a->'scene',
                              'ttl', a->'ttl', 'partial', a->'partial', 'payee', ref,
                              'max_charge', CASE WHEN a ? 'max_frac' THEN
                                to_jsonb(mt.frac_of(v, (a->>'max_frac')::numeric, (w->>'x')::int)) END,
                              'wo', a->>'w');
  WHEN 'capture', 'release' THEN
    ref := mt.oref((a->>'ref')::int);
    IF ref IS NULL THEN RETURN NULL; END IF;
    SELECT * INTO tr FROM mt.trace WHERE step = (ref->>'s')::int;
    e := (tr.res->'w'->>'x')::int;
    SELECT h.amount - h.captured - h.released INTO v FROM model.hold h WHERE h.hid = (ref->>'m')::bigint;
    amt := a->'amount';
    IF jsonb_typeof(amt) = 'object' THEN
      amt := to_jsonb(mt.frac_of(v, (amt->>'frac')::numeric, e));
    ELSIF amt = '"over"' THEN
      amt := to_jsonb(mt.amount_text(v + 1, e));
    END IF;
    RETURN jsonb_build_object('op', op, 'hold', ref, 'key', a->'key', 'amount', amt, 'final', a->'final',
                              'w', tr.res->'w', 'wo', tr.res->>'wo', 'payee', tr.res->'payee');
  WHEN 'payout' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', 'payout', 'w', w, 'amount', a->'amount', 'key', a->'key', 'wo', a->>'w');
  WHEN 'transfer' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    ref := CASE WHEN a->>'to' = '#self' THEN w ELSE mt.wref(a->>'to') END;
    IF ref IS NULL THEN RETURN NULL; END IF;
    e := (w->>'x')::int;
    amt := a->'amount';
    IF jsonb_typeof(amt) = 'object' THEN
      SELECT b.earnings INTO v FROM model.balance((w->>'m')::bigint) b;
      amt := to_jsonb(mt.frac_of(v * (10::numeric ^ e), (amt->>'frac')::numeric, e));
    ELSIF amt IN ('"fit"', '"fit1"') THEN
      v := model.transfer_max((w->>'m')::bigint) + CASE WHEN amt = '"fit1"' THEN 1 ELSE 0 END;
      amt := to_jsonb(mt.amount_text(greatest(v, 1), e));
    END IF;
    RETURN jsonb_build_object('op', 'transfer', 'w', w, 'to', ref, 'amount', amt, 'key', a->'key', 'kind', a->'kind',
                              'note', a->'note', 'wo', a->>'w', 'payee', ref);
  WHEN 'split' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    e := (w->>'x')::int;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements_text(a->'payees') o WHERE mt.wref(o) IS NULL) THEN RETURN NULL; END IF;
    amt := a->'amount';
    IF a ? 'frac' THEN
      SELECT b.available INTO v FROM model.balance((w->>'m')::bigint, a->>'scene') b;
      amt := to_jsonb(mt.frac_of(v * (10::numeric ^ e), (a->>'frac')::numeric, e));
    END IF;
    IF jsonb_typeof(a->'coupon') = 'object' THEN
      cr := mt.code_ref(a->'coupon');
      IF cr IS NULL THEN RETURN NULL; END IF;
    END IF;
    base := jsonb_build_object('op', 'split', 'w', w, 'amount', amt, 'key', a->'key',
      'payees', (SELECT jsonb_agg(mt.wref(o) ORDER BY n) FROM jsonb_array_elements_text(a->'payees') WITH ORDINALITY u(o, n)),
      'shares', mt.split_shares((amt #>> '{}')::numeric * (10::numeric ^ e), a->'wts', e),
      'scene', a->'scene', 'coupon', cr->'code', 'cx', cr->'cx', 'cw', cr->'cw', 'co', cr->'co',
      'wo', a->>'w', 'payee', mt.wref(a->'payees'->>0));
    IF a->>'bad' = 'sum' THEN
      base := jsonb_set(base, ARRAY['shares', (jsonb_array_length(base->'shares') - 1)::text],
        to_jsonb(mt.amount_text((base->'shares'->>(jsonb_array_length(base->'shares') - 1))::numeric
                                * (10::numeric ^ e) + 1, e)));
    ELSIF a->>'bad' = 'nullpayee' THEN
      base := jsonb_set(base, '{payees,0}', 'null');
    ELSIF a->>'bad' = 'nullshare' THEN
      base := jsonb_set(base, '{shares,0}', 'null');
    ELSIF a->>'bad' = 'empty' THEN
      base := base || '{"payees": [], "shares": []}';
    ELSIF a->>'bad' = 'short' THEN
      base := base #- ARRAY['shares', (jsonb_array_length(base->'shares') - 1)::text];
    END IF;
    RETURN base;
  WHEN 'wquote', 'wrequest' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', op, 'w', w, 'amount', mt.wamount(w, a->'amount'), 'key', a->'key',
                              'dest', a->'dest', 'method', a->'method', 'wo', a->>'w');
  WHEN 'wreview', 'wsettle', 'wreturn' THEN
    IF a ? 'auto' THEN
      SELECT jsonb_build_object('e', x.ext_id, 'm', x.mod_id) INTO ref FROM mt.autowd x
       WHERE x.owner = a->>'auto' ORDER BY x.step DESC, x.ext_id DESC LIMIT 1;
      IF ref IS NULL THEN RETURN NULL; END IF;
      RETURN jsonb_build_object('op', op, 'wd', ref, 'approve', a->'approve', 'reviewer', a->'reviewer', 'ok', a->'ok',
                                'gw', a->'gw', 'reason', a->'reason', 'wo', a->>'auto');
    END IF;
    ref := mt.oref((a->>'ref')::int);
    IF ref IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', op, 'wd', ref, 'approve', a->'approve', 'reviewer', a->'reviewer', 'ok', a->'ok',
                              'gw', a->'gw', 'reason', a->'reason',
                              'wo', (SELECT t.res->>'wo' FROM mt.trace t WHERE t.step = (ref->>'s')::int));
  WHEN 'autoset' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', op, 'w', w, 'threshold', a->'threshold', 'dest', a->'dest', 'wo', a->>'w');
  WHEN 'autorun' THEN
    RETURN jsonb_build_object('op', op, 'batch', a->'batch');
  WHEN 'freeze', 'unfreeze' THEN
    w := mt.wref(a->>'w');
    IF w IS NULL THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', op, 'w', w, 'reason', a->'reason', 'wo', a->>'w');
  WHEN 'flags' THEN
    RETURN jsonb_build_object('op', op, 'cur', a->'cur', 'n', a->'n', 'debt', a->'debt');
  WHEN 'lrule' THEN
    -- a limit rule (section 20): of the currency, or of the wallet w
    IF a->>'w' IS NOT NULL THEN
      w := mt.wref(a->>'w');
      IF w IS NULL THEN RETURN NULL; END IF;
    END IF;
    RETURN jsonb_build_object('op', op, 'cur', a->'cur', 'lop', a->'op', 'period', a->'period', 'w', w,
                              'amount', a->'amount', 'count', a->'count', 'action', a->'action', 'wo', a->>'w');
  WHEN 'ldrop' THEN
    -- the rule a step added, or the i-th of the rules there are (by rule_id, round)
    IF a ? 'ref' THEN
      SELECT * INTO tr FROM mt.trace WHERE step = (a->>'ref')::int;
      v := (tr.ext_out->0->>'rule_id')::numeric;
    ELSE
      SELECT r.rule_id INTO v FROM wallet.limit_rule r ORDER BY r.rule_id
       OFFSET (a->>'i')::int % greatest((SELECT count(*) FROM wallet.limit_rule), 1) LIMIT 1;
    END IF;
    IF v IS NULL OR NOT EXISTS (SELECT 1 FROM wallet.limit_rule r WHERE r.rule_id = v) THEN RETURN NULL; END IF;
    RETURN jsonb_build_object('op', op, 'rule', v);
  WHEN 'grant' THEN
    -- a step-up grant for the payment of step ref: its wallet, its operation (or another),
    -- its amount times factor (the payment may be more: a fee, or a factor below 1)
    SELECT * INTO tr FROM mt.trace WHERE step = (a->>'ref')::int;
    IF tr.res IS NULL OR tr.res->'w' IS NULL THEN RETURN NULL; END IF;
    -- mostly for a payment that asked for one; sometimes for any (a token not needed is left unused)
    IF tr.ext_state IS DISTINCT FROM 'WL009' AND NOT coalesce((a->>'any')::boolean, true) THEN RETURN NULL; END IF;
    e := (tr.res->'w'->>'x')::int;
    base := to_jsonb(CASE tr.res->>'op' WHEN 'spend' THEN 'spend' WHEN 'hold' THEN 'spend' WHEN 'transfer' THEN 'transfer'
                                        WHEN 'wrequest' THEN 'withdraw' ELSE 'exchange' END);
    IF (a->>'other')::boolean THEN
      base := to_jsonb(CASE WHEN base->>0 = 'spend' THEN 'transfer' ELSE 'spend' END);
    END IF;
    v := CASE WHEN tr.res->>'amount' ~ '^\d+(\.\d+)?$' THEN (tr.res->>'amount')::numeric END;
    IF v IS NULL THEN RETURN NULL; END IF;
    v := greatest(trunc(v * (a->>'factor')::numeric, e), 10::numeric ^ (-e));
    RETURN jsonb_build_object('op', op, 'w', tr.res->'w', 'lop', base, 'amount', v::text, 'verifier', 'otp-service',
                              'ttl', a->'ttl', 'wo', tr.res->>'wo');
  WHEN 'stepup' THEN
    -- the payment of step ref again, with the token of the grant of step grant (a bogus one
    -- when that grant was refused), with the same key or a new one
    SELECT * INTO tr FROM mt.trace WHERE step = (a->>'ref')::int;
    IF tr.res IS NULL THEN RETURN NULL; END IF;
    base := tr.res;
    SELECT * INTO tr FROM mt.trace WHERE step = (a->>'grant')::int;
    RETURN base || jsonb_build_object('step_up', coalesce(tr.ext_out->0->>'token', 'su_' || repeat('0', 32)),
                                      'sv', CASE WHEN tr.ext_out->0->>'token' IS NOT NULL
                                                 THEN jsonb_build_object('v', 'su' || tr.step) END)
                || CASE WHEN a ? 'key' THEN jsonb_build_object('key', a->'key') ELSE '{}' END;
  WHEN 'replay' THEN
    SELECT * INTO tr FROM mt.trace WHERE step = (a->>'ref')::int;
    IF tr.res IS NULL THEN RETURN NULL; END IF;
    base := tr.res;
    e := coalesce((base->'w'->>'x')::int, (mt.wref(base->>'wo')->>'x')::int);
    IF e IS NULL THEN RETURN NULL; END IF;
    CASE a->>'mode'
    WHEN 'same' THEN
      RETURN base;
    WHEN 'repr' THEN
      -- the same amount written differently (never more decimals than the currency has)
      IF jsonb_typeof(base->'amount') = 'string' THEN
        IF base->>'amount' ~ '\.\d*0$' THEN
          RETURN base || jsonb_build_object('amount', rtrim(rtrim(base->>'amount', '0'), '.'));
        ELSIF base->>'amount' ~ '^\d+$' AND e > 0 THEN
          RETURN base || jsonb_build_object('amount', (base->>'amount') || '.0');
        ELSIF base->>'amount' ~ '^\d+\.\d+$' AND length(split_part(base->>'amount', '.', 2)) < e THEN
          RETURN base || jsonb_build_object('amount', (base->>'amount') || '0');
        END IF;
      END IF;
      RETURN base;
    WHEN 'diff' THEN
      CASE base->>'op'
      WHEN 'top_up' THEN
        IF base->>'amount' IS NULL OR base->>'amount' !~ '^\d+(\.\d+)?$' THEN RETURN NULL; END IF;
        RETURN base || jsonb_build_object('amount', ((base->>'amount')::numeric + 10::numeric ^ (-e))::text);
      WHEN 'spend' THEN
        IF base->>'amount' IS NULL OR base->>'amount' !~ '^\d+(\.\d+)?$' THEN RETURN NULL; END IF;
        IF p_step % 2 = 0 AND base->'partial' IN ('true', 'false') THEN
          RETURN base || jsonb_build_object('partial', NOT (base->>'partial')::boolean);
        END IF;
        RETURN base || jsonb_build_object('amount', ((base->>'amount')::numeric + 10::numeric ^ (-e))::text);
      WHEN 'reverse' THEN
        RETURN base || jsonb_build_object('amount',
          CASE WHEN base->>'amount' IS NULL THEN mt.amount_text(1, e) END);
      WHEN 'request' THEN
        RETURN base || jsonb_build_object('reason',
          CASE WHEN base->>'reason' = 'platform' THEN 'user' ELSE 'platform' END);
      WHEN 'issue' THEN
        RETURN base || jsonb_build_object('tpl', CASE WHEN base->>'tpl' = 'c-pct' THEN 'c-game' ELSE 'c-pct' END);
      WHEN 'payout' THEN
        RETURN base || jsonb_build_object('amount', ((base->>'amount')::numeric + 10::numeric ^ (-e))::text);
      WHEN 'transfer' THEN
        IF base->>'amount' IS NULL THEN
          RETURN base || jsonb_build_object('amount', mt.amount_text(1, e));
        ELSIF base->>'amount' !~ '^\d+(\.\d+)?$' THEN
          RETURN NULL;
        ELSIF p_step % 2 = 0 THEN
          RETURN base || jsonb_build_object('kind', CASE WHEN base->>'kind' = 'gift' THEN 'p2p' ELSE 'gift' END);
        END IF;
        RETURN base || jsonb_build_object('amount', ((base->>'amount')::numeric + 10::numeric ^ (-e))::text);
      WHEN 'split' THEN
        -- the same amount split otherwise, or one unit more on the last share
        IF jsonb_typeof(base->'shares') <> 'array' OR jsonb_array_length(base->'shares') = 0
           OR base->>'amount' !~ '^\d+(\.\d+)?$'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(base->'shares') x WHERE x IS NULL OR x !~ '^\d+(\.\d+)?$') THEN
          RETURN NULL;
        END IF;
        IF jsonb_array_length(base->'shares') > 1 AND (base->'shares'->>0)::numeric > 10::numeric ^ (-e) THEN
          RETURN jsonb_set(jsonb_set(base, '{shares,0}', to_jsonb(((base->'shares'->>0)::numeric - 10::numeric ^ (-e))::text)),
                           '{shares,1}', to_jsonb(((base->'shares'->>1)::numeric + 10::numeric ^ (-e))::text));
        END IF;
        RETURN jsonb_set(base || jsonb_build_object('amount', ((base->>'amount')::numeric + 10::numeric ^ (-e))::text),
                         ARRAY['shares', (jsonb_array_length(base->'shares') - 1)::text],
                         to_jsonb(((base->'shares'->>(jsonb_array_length(base->'shares') - 1))::numeric
                                   + 10::numeric ^ (-e))::text));
      WHEN 'wrequest' THEN
        RETURN base || jsonb_build_object('dest', coalesce(base->>'dest', 'bank') || '-2');
      WHEN 'exchange' THEN
        IF base->>'amount' IS NULL OR base->>'amount' !~ '^\d+(\.\d+)?$' THEN RETURN NULL; END IF;
        RETURN base || jsonb_build_object('amount', ((base->>'amount')::numeric + 10::numeric ^ (-e))::text);
      WHEN 'submit' THEN
        RETURN base || jsonb_build_object('batch_ref', coalesce(base->>'batch_ref', 'batch') || '-2');
      ELSE
        RETURN NULL;
      END CASE;
    WHEN 'cross' THEN
      -- the same key on the same wallet for another operation
      w := coalesce(base->'w', mt.wref(base->>'wo'));
      IF base->>'op' = 'top_up' THEN
        RETURN jsonb_build_object('op', 'spend', 'w', w, 'amount', mt.amount_text(1, e), 'key', base->'key',
                                  'partial', false, 'wo', base->>'wo');
      END IF;
      RETURN jsonb_build_object('op', 'top_up', 'w', w, 'amount', mt.amount_text(1, e), 'key', base->'key',
                                'wo', base->>'wo');
    END CASE;
  END CASE;
  RETURN NULL;
END $$;

------------------------------------------------------------------------------
-- Rendering an operation as SQL: for the extension, the model, or a repro
------------------------------------------------------------------------------
CREATE FUNCTION mt.id(r jsonb, mode text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r IS NULL OR jsonb_typeof(r) = 'null' THEN 'NULL'
              WHEN mode = 'ext' THEN r->>'e'
              WHEN mode = 'model' THEN r->>'m'
              ELSE coalesce(':' || (r->>'v'), r->>'e') END
$$;
CREATE FUNCTION mt.lit(j jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN j IS NULL OR jsonb_typeof(j) = 'null' THEN 'NULL'
              WHEN jsonb_typeof(j) = 'string' THEN quote_literal(j->>0)
              ELSE j::text END
$$;
CREATE FUNCTION mt.num(j jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN j IS NULL OR jsonb_typeof(j) = 'null' THEN 'NULL'
              WHEN j->>0 ~ '^-?\d+(\.\d+)?$' THEN j->>0
              ELSE quote_literal(j->>0) || '::numeric' END
$$;

-- step_up_arg: the step-up token of a payment made again with a grant (section 20); in a repro
-- the variable the grant's token was stored in
CREATE FUNCTION mt.step_up_arg(r jsonb, mode text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r->>'step_up' IS NULL THEN ''
              WHEN mode = 'repro' AND r->'sv'->>'v' IS NOT NULL THEN format(E', step_up => :\'%s\'', r->'sv'->>'v')
              ELSE format(', step_up => %L', r->>'step_up') END
$$;

CREATE FUNCTION mt.with_step_up(r jsonb, mode text, q text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r->>'step_up' IS NULL THEN q ELSE regexp_replace(q, '\)$', mt.step_up_arg(r, mode) || ')') END
$$;

CREATE FUNCTION mt.render(r jsonb, mode text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  s text := CASE WHEN mode = 'model' THEN 'model' ELSE 'wallet' END;
BEGIN
  IF r IS NULL THEN RETURN NULL; END IF;
  CASE r->>'op'
  WHEN 'open' THEN
    RETURN format('SELECT %s.open(%s, %s) AS wallet_id', s, mt.lit(r->'owner'), mt.lit(r->'cur'));
  WHEN 'top_up' THEN
    RETURN format('SELECT * FROM %s.top_up(%s, %s, %s, %s, %s)', s, mt.id(r->'w', mode), mt.num(r->'amount'),
                  mt.lit(r->'key'), mt.lit(r->'method'), mt.lit(r->'ext_ref'));
  WHEN 'issue' THEN
    RETURN format('SELECT %s.issue_coupon(%s, %s, %s) AS code', s, mt.lit(r->'tpl'), mt.id(r->'w', mode),
                  mt.lit(r->'key'));
  WHEN 'validate' THEN
    RETURN format('SELECT * FROM %s.validate_coupon(%s, %s, %s, %s)', s,
                  CASE WHEN mode = 'repro' AND r->>'cx' IS NOT NULL THEN r->>'cx' ELSE mt.lit(r->'code') END,
                  mt.id(r->'w', mode), mt.num(r->'amount'), mt.lit(r->'scene'));
  WHEN 'spend' THEN
    RETURN mt.with_step_up(r, mode, format('SELECT * FROM %s.spend(%s, %s, %s, %s, %s, %s, %s, %s)', s, mt.id(r->'w', mode),
                  mt.num(r->'amount'), mt.lit(r->'key'), mt.lit(r->'scene'),
                  CASE WHEN mode = 'repro' AND r->>'cx' IS NOT NULL THEN r->>'cx' ELSE mt.lit(r->'coupon') END,
                  mt.lit(r->'partial'), mt.id(r->'payee', mode), mt.lit(r->'order_ref')));
  WHEN 'reverse' THEN
    RETURN format('SELECT * FROM %s.reverse_spend(%s, %s, %s)', s, mt.id(r->'spend', mode), mt.lit(r->'key'),
                  mt.num(r->'amount'));
  WHEN 'quote' THEN
    RETURN format('SELECT * FROM %s.refund_quote(%s, %s)', s, mt.id(r->'topup', mode), mt.lit(r->'reason'));
  WHEN 'request' THEN
    RETURN format('SELECT * FROM %s.request_refund(%s, %s, %s, %s, %s)', s, mt.id(r->'topup', mode),
                  mt.lit(r->'key'), mt.num(r->'amount'), mt.lit(r->'reason'), mt.lit(r->'note'));
  WHEN 'review' THEN
    RETURN format('SELECT %s.review_refund(%s, %s, %s) AS status', s, mt.id(r->'refund', mode),
                  mt.lit(r->'approve'), mt.lit(r->'reviewer'));
  WHEN 'settle' THEN
    RETURN format('SELECT %s.settle_refund(%s, %s, %s) AS status', s, mt.id(r->'refund', mode),
                  mt.lit(r->'ok'), mt.lit(r->'gw'));
  WHEN 'expire' THEN
    RETURN format('SELECT * FROM %s.expire_bonus()', s);
  WHEN 'hexpire' THEN
    RETURN format('SELECT * FROM %s.expire_holds()', s);
  WHEN 'group' THEN
    RETURN format('SELECT %s.group_pay(%s, ARRAY[%s]::bigint[], ARRAY[%s]::numeric[], %s, %s::interval) AS group_id',
                  s, mt.id(r->'w', mode),
                  (SELECT string_agg(mt.id(x, mode), ', ' ORDER BY n) FROM jsonb_array_elements(r->'ws') WITH ORDINALITY u(x, n)),
                  (SELECT string_agg(mt.num(x), ', ' ORDER BY n) FROM jsonb_array_elements(r->'amounts') WITH ORDINALITY u(x, n)),
                  mt.lit(r->'key'), mt.lit(r->'ttl'));
  WHEN 'join' THEN
    RETURN format('SELECT * FROM %s.join_group_pay(%s, %s, %s)', s, mt.id(r->'group', mode), mt.id(r->'w', mode),
                  mt.lit(r->'key'));
  WHEN 'gcancel' THEN
    RETURN format('SELECT * FROM %s.cancel_group_pay(%s, %s, %s)', s, mt.id(r->'group', mode), mt.id(r->'w', mode),
                  mt.lit(r->'key'));
  WHEN 'gstatus' THEN
    RETURN format('SELECT * FROM %s.group_pay_status(%s)', s, mt.id(r->'group', mode));
  WHEN 'hold' THEN
    RETURN mt.with_step_up(r, mode, format('SELECT * FROM %s.hold(%s, %s, %s, %s, %s::interval, %s, %s, NULL, %s)', s, mt.id(r->'w', mode),
                  mt.num(r->'amount'), mt.lit(r->'key'), mt.lit(r->'scene'), mt.lit(r->'ttl'), mt.lit(r->'partial'),
                  mt.id(r->'payee', mode), mt.num(r->'max_charge')));
  WHEN 'capture' THEN
    RETURN format('SELECT * FROM %s.capture_hold(%s, %s, %s, %s)', s, mt.id(r->'hold', mode), mt.lit(r->'key'),
                  mt.num(r->'amount'), mt.lit(r->'final'));
  WHEN 'release' THEN
    RETURN format('SELECT * FROM %s.release_hold(%s, %s, %s)', s, mt.id(r->'hold', mode), mt.lit(r->'key'),
                  mt.num(r->'amount'));
  WHEN 'payout' THEN
    RETURN format('SELECT * FROM %s.adjust(%s, ''earnings'', %s, ''sales payout'', %s)', s, mt.id(r->'w', mode),
                  mt.num(r->'amount'), mt.lit(r->'key'));
  WHEN 'transfer' THEN
    RETURN mt.with_step_up(r, mode, format('SELECT * FROM %s.transfer(%s, %s, %s, %s, %s, %s)', s, mt.id(r->'w', mode), mt.id(r->'to', mode),
                  mt.num(r->'amount'), mt.lit(r->'key'), mt.lit(r->'kind'), mt.lit(r->'note')));
  WHEN 'split' THEN
    RETURN format('SELECT * FROM %s.spend_split(%s, %s, %s, ARRAY[%s]::bigint[], ARRAY[%s]::numeric[], %s, %s)', s,
                  mt.id(r->'w', mode), mt.num(r->'amount'), mt.lit(r->'key'),
                  (SELECT string_agg(mt.id(x, mode), ', ' ORDER BY n) FROM jsonb_array_elements(r->'payees') WITH ORDINALITY u(x, n)),
                  (SELECT string_agg(mt.num(x), ', ' ORDER BY n) FROM jsonb_array_elements(r->'shares') WITH ORDINALITY u(x, n)),
                  mt.lit(r->'scene'),
                  CASE WHEN mode = 'repro' AND r->>'cx' IS NOT NULL THEN r->>'cx' ELSE mt.lit(r->'coupon') END);
  WHEN 'wquote' THEN
    RETURN format('SELECT * FROM %s.withdraw_quote(%s, %s)', s, mt.id(r->'w', mode), mt.num(r->'amount'));
  WHEN 'wrequest' THEN
    RETURN mt.with_step_up(r, mode, format('SELECT * FROM %s.request_withdrawal(%s, %s, %s, %s, %s)', s, mt.id(r->'w', mode),
                  mt.num(r->'amount'), mt.lit(r->'key'), mt.lit(r->'dest'), mt.lit(r->'method')));
  WHEN 'wreview' THEN
    RETURN format('SELECT %s.review_withdrawal(%s, %s, %s) AS status', s, mt.id(r->'wd', mode),
                  mt.lit(r->'approve'), mt.lit(r->'reviewer'));
  WHEN 'wsettle' THEN
    RETURN format('SELECT %s.settle_withdrawal(%s, %s, %s) AS status', s, mt.id(r->'wd', mode),
                  mt.lit(r->'ok'), mt.lit(r->'gw'));
  WHEN 'wreturn' THEN
    RETURN format('SELECT %s.return_withdrawal(%s, %s, %s) AS status', s, mt.id(r->'wd', mode),
                  mt.lit(r->'gw'), mt.lit(r->'reason'));
  WHEN 'autoset' THEN
    RETURN format('SELECT %s.set_auto_withdrawal(%s, %s, %s) AS auto_on', s, mt.id(r->'w', mode),
                  mt.num(r->'threshold'), mt.lit(r->'dest'));
  WHEN 'autorun' THEN
    RETURN format('SELECT * FROM %s.auto_withdraw(%s)', s, coalesce(r->>'batch', '1000'));
  WHEN 'fxquote' THEN
    RETURN format('SELECT * FROM %s.exchange_quote(%s, %s, %s)', s, mt.lit(r->'from'), mt.lit(r->'to'), mt.num(r->'amount'));
  WHEN 'exchange' THEN
    RETURN mt.with_step_up(r, mode, format('SELECT * FROM %s.exchange(%s, %s, %s, %s)', s, mt.id(r->'w', mode), mt.id(r->'to', mode),
                  mt.num(r->'amount'), mt.lit(r->'key')));
  WHEN 'cquote' THEN
    RETURN format('SELECT * FROM %s.card_quote(%s, %s, %s, %s)', s, mt.lit(r->'tpl'), mt.num(r->'face'),
                  mt.lit(r->'qty'), mt.id(r->'w', mode));
  WHEN 'crate' THEN
    RETURN format('SELECT wallet.add_card_rate(%s, %s, %s, 1, %s) AS rate_id', mt.lit(r->'tpl'), mt.num(r->'rate'),
                  mt.num(r->'min_face'), mt.id(r->'w', mode));
  WHEN 'submit' THEN
    RETURN format('SELECT * FROM %s.submit_cards(%s, %s, %s::numeric[], %s::text[], %s, %s, %s)', s, mt.id(r->'w', mode),
                  mt.lit(r->'tpl'),
                  'ARRAY[' || coalesce((SELECT string_agg(mt.num(x), ', ' ORDER BY n)
                                          FROM jsonb_array_elements(r->'faces') WITH ORDINALITY u(x, n)), '') || ']',
                  'ARRAY[' || coalesce((SELECT string_agg(mt.lit(x), ', ' ORDER BY n)
                                          FROM jsonb_array_elements(r->'secrets') WITH ORDINALITY u(x, n)), '') || ']',
                  mt.lit(r->'key'), mt.id(r->'quote', mode), mt.lit(r->'batch_ref'));
  WHEN 'verify' THEN
    RETURN format('SELECT * FROM %s.verify_card(%s, %s, %s, %s)', s,
                  CASE WHEN mode = 'repro' AND r->'item'->>'e' IS NOT NULL
                       THEN format('(SELECT item_id FROM wallet.card_item WHERE intake_id = :%s AND position = %s)',
                                   r->'item'->>'iv', r->'item'->>'pos')
                       ELSE mt.id(r->'item', mode) END,
                  mt.lit(r->'valid'), mt.num(r->'actual'), mt.lit(r->'note'));
  WHEN 'csettle' THEN
    RETURN format('SELECT * FROM %s.settle_intake(%s, %s)', s, mt.id(r->'intake', mode), mt.lit(r->'key'));
  WHEN 'creview' THEN
    RETURN format('SELECT %s.review_intake(%s, %s, %s) AS status', s, mt.id(r->'intake', mode),
                  mt.lit(r->'approve'), mt.lit(r->'reviewer'));
  WHEN 'freeze' THEN
    RETURN format('SELECT true AS done FROM %s.freeze(%s, %s)', s, mt.id(r->'w', mode), mt.lit(r->'reason'));
  WHEN 'unfreeze' THEN
    RETURN format('SELECT true AS done FROM %s.unfreeze(%s)', s, mt.id(r->'w', mode));
  WHEN 'clock' THEN
    RETURN format('SET wallet.now = %L', r->>'at');
  WHEN 'lrule' THEN
    RETURN format('SELECT wallet.add_limit_rule(%s, %s, %s, %s, %s, %s, %s) AS rule_id', mt.lit(r->'cur'),
                  mt.lit(r->'lop'), mt.lit(r->'period'), mt.num(r->'amount'), mt.num(r->'count'), mt.lit(r->'action'),
                  mt.id(r->'w', mode));
  WHEN 'flags' THEN
    RETURN format('SELECT p.flags_to_freeze, p.payee_debt_flag FROM wallet.set_policy(%s, flags_to_freeze => %s, payee_debt_flag => %s) p',
                  mt.lit(r->'cur'), mt.num(r->'n'), mt.num(r->'debt'));
  WHEN 'ldrop' THEN
    RETURN format('SELECT true AS dropped FROM (SELECT wallet.drop_limit_rule(%s)) x', r->>'rule');
  WHEN 'grant' THEN
    IF mode = 'model' THEN
      RETURN format('SELECT model.grant_step_up(%s, %s, %s, %s, %s, %s) AS token', mt.id(r->'w', mode),
                    mt.lit(r->'lop'), mt.num(r->'amount'), mt.lit(r->'verifier'), mt.lit(r->'ttl'), mt.lit(r->'token'));
    END IF;
    RETURN format('SELECT wallet.grant_step_up(%s, %s, %s, %s, %s) AS token', mt.id(r->'w', mode),
                  mt.lit(r->'lop'), mt.num(r->'amount'), mt.lit(r->'verifier'), mt.lit(r->'ttl'));
  END CASE;
  RAISE EXCEPTION 'cannot render %', r;
END $$;

------------------------------------------------------------------------------
-- Running one step
------------------------------------------------------------------------------
-- exec: run one statement in its own subtransaction; its rows as a jsonb array, or its SQLSTATE
CREATE TYPE mt.res AS (ok boolean, out jsonb, state text, msg text);
CREATE FUNCTION mt.exec(q text) RETURNS mt.res
  LANGUAGE plpgsql AS $$
DECLARE
  v_ok boolean;
  v_out jsonb;
  v_state text;
  v_msg text;
BEGIN
  BEGIN
    EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(r)), ''[]'') FROM (%s) r', q) INTO v_out;
    v_ok := true;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
    v_ok := false;
  END;
  RETURN ROW(v_ok, v_out, v_state, v_msg)::mt.res;
END $$;

-- ext: run a step's operation on the extension's side. Through a router, a settings step goes to
-- every shard (a wallet's own rule or rate to its shard): mtr.config_step
CREATE FUNCTION mt.ext(r jsonb) RETURNS mt.res LANGUAGE plpgsql AS $$
DECLARE
  x mt.res;
BEGIN
  IF mt.router() AND r->>'op' IN ('lrule', 'ldrop', 'flags', 'crate') THEN
    SELECT * INTO x FROM mtr.config_step(r, mt.render(r, 'ext'));
    RETURN x;
  END IF;
  RETURN mt.exec(mt.render(r, 'ext'));
END $$;

CREATE FUNCTION mt.side(p_ok boolean, p_out jsonb, p_state text, p_msg text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_ok THEN p_out::text ELSE format('ERROR %s: %s', p_state, p_msg) END
$$;

-- only_keys: j restricted to the keys of model
CREATE FUNCTION mt.only_keys(j jsonb, model jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_object_agg(k, j->k), '{}') FROM jsonb_object_keys(model) k WHERE j ? k
$$;

-- compare: NULL when the extension and the model agree on a step; records new ids
CREATE FUNCTION mt.compare(p_step int, r jsonb, x mt.res, m mt.res) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  op text := r->>'op';
  xr jsonb;
  mr jsonb;
  col text;
  v_kind text;
  xid bigint;
  mid bigint;
  known bigint;
  wm mt.wmap;
BEGIN
  IF x.ok IS DISTINCT FROM m.ok OR (NOT x.ok AND x.state IS DISTINCT FROM m.state) THEN
    RETURN 'outcome';
  END IF;
  IF NOT x.ok THEN
    IF m.state !~ '^(22023|WL00\d)$' THEN RETURN 'model error'; END IF;
    RETURN NULL;
  END IF;
  IF jsonb_array_length(x.out) <> 1 OR jsonb_array_length(m.out) <> 1 THEN RETURN 'row count'; END IF;
  xr := x.out->0;
  mr := m.out->0;
  col := CASE op WHEN 'open' THEN 'wallet_id' WHEN 'request' THEN 'refund_id' WHEN 'hold' THEN 'hold_id'
                 WHEN 'group' THEN 'group_id' WHEN 'join' THEN 'hold_id'
                 WHEN 'top_up' THEN 'txn_id' WHEN 'spend' THEN 'txn_id' WHEN 'reverse' THEN 'txn_id'
                 WHEN 'capture' THEN 'txn_id' WHEN 'release' THEN 'txn_id'
                 WHEN 'transfer' THEN 'txn_id' WHEN 'split' THEN 'txn_id' WHEN 'payout' THEN 'txn_id'
                 WHEN 'wrequest' THEN 'withdrawal_id'
                 WHEN 'exchange' THEN 'txn_id' WHEN 'csettle' THEN 'txn_id'
                 WHEN 'cquote' THEN 'quote_id' WHEN 'submit' THEN 'intake_id' END;
  IF col IS NOT NULL THEN
    xid := (xr->>col)::bigint;
    mid := (mr->>col)::bigint;
    xr := xr - col;
    mr := mr - col;
  END IF;
  -- columns the extension adds after the contract's are not compared
  xr := mt.only_keys(xr, mr);
  IF xr IS DISTINCT FROM mr THEN RETURN 'result'; END IF;
  IF col IS NULL THEN RETURN NULL; END IF;
  IF op = 'open' THEN
    -- a wallet of an owner in another currency has the handle owner_currency
    SELECT * INTO wm FROM mt.wmap WHERE owner = coalesce(r->>'h', r->>'owner');
    IF FOUND THEN
      IF wm.ext_id <> xid OR wm.mod_id <> mid THEN RETURN 'id (open returned another wallet)'; END IF;
    ELSIF EXISTS (SELECT 1 FROM mt.wmap WHERE ext_id = xid OR mod_id = mid) THEN
      RETURN 'id (open of a new owner returned a known wallet)';
    ELSE
      INSERT INTO mt.wmap SELECT coalesce(r->>'h', r->>'owner'), r->>'cur', c.exponent, xid, mid
                            FROM wallet.currency c WHERE c.code = r->>'cur';
    END IF;
    RETURN NULL;
  END IF;
  v_kind := CASE op WHEN 'request' THEN 'refund' WHEN 'hold' THEN 'hold' WHEN 'join' THEN 'hold'
                    WHEN 'group' THEN 'group' WHEN 'wrequest' THEN 'wd' WHEN 'cquote' THEN 'quote'
                    WHEN 'submit' THEN 'intake' ELSE 'txn' END;
  SELECT i.mod_id INTO known FROM mt.idmap i WHERE i.kind = v_kind AND i.ext_id = xid;
  -- group_pay returns its id only, settle_intake no replayed column: the same id again is a replay
  IF (xr->>'replayed')::boolean OR (op IN ('group', 'csettle') AND known IS NOT NULL) THEN
    IF known IS DISTINCT FROM mid THEN RETURN 'id (replay returned another id)'; END IF;
  ELSE
    IF known IS NOT NULL OR EXISTS (SELECT 1 FROM mt.idmap i WHERE i.kind = v_kind AND i.mod_id = mid) THEN
      RETURN 'id (a new result reused an id)';
    END IF;
    INSERT INTO mt.idmap VALUES (v_kind, xid, mid);
    INSERT INTO mt.obj VALUES (p_step, op, v_kind, xid, mid);
  END IF;
  RETURN NULL;
END $$;

-- check_balances: NULL when the balances agree: every wallet's in scene NULL;
-- in scenes game and shop too for the wallets the step touched (every wallet
-- after a clock move or an expiry sweep)
CREATE FUNCTION mt.check_balances(r jsonb, OUT what text, OUT detail text) LANGUAGE plpgsql AS $$
DECLARE
  sc text;
  ws text[];
  x mt.res;
  m mt.res;
  d record;
BEGIN
  FOREACH sc IN ARRAY ARRAY[NULL, 'game', 'shop'] LOOP
    IF sc IS NULL OR r->>'op' IN ('clock', 'expire', 'hexpire', 'join', 'gcancel') THEN
      ws := NULL;
    ELSE
      ws := ARRAY[r->>'wo', r->'payee'->>'o'];
      CONTINUE WHEN NOT EXISTS (SELECT 1 FROM mt.wmap WHERE owner = ANY (ws));
    END IF;
    x := mt.exec(format('SELECT w.owner, to_jsonb(b) - ''wallet_id'' AS bal FROM mt.wmap w
                          CROSS JOIN LATERAL wallet.balance(w.ext_id, %L) b WHERE %L IS NULL OR w.owner = ANY (%L)',
                        sc, ws, ws));
    m := mt.exec(format('SELECT w.owner, to_jsonb(b) - ''wallet_id'' AS bal FROM mt.wmap w
                          CROSS JOIN LATERAL model.balance(w.mod_id, %L) b WHERE %L IS NULL OR w.owner = ANY (%L)',
                        sc, ws, ws));
    IF NOT x.ok OR NOT m.ok THEN
      what := 'balance';
      detail := format('scene %s: extension %s; model %s', coalesce(sc, 'NULL'),
                       mt.side(x.ok, x.out, x.state, x.msg), mt.side(m.ok, m.out, m.state, m.msg));
      RETURN;
    END IF;
    FOR d IN SELECT coalesce(xe->>'owner', me->>'owner') AS owner, xe->'bal' AS xb, me->'bal' AS mb
               FROM jsonb_array_elements(x.out) xe
               FULL JOIN jsonb_array_elements(m.out) me ON me->>'owner' = xe->>'owner'
              WHERE mt.only_keys(xe->'bal', me->'bal') IS DISTINCT FROM (me->'bal')
              ORDER BY 1 LIMIT 1 LOOP
      what := 'balance';
      detail := format('wallet %s, scene %s: extension %s; model %s', d.owner, coalesce(sc, 'NULL'), d.xb, d.mb);
      RETURN;
    END LOOP;
  END LOOP;
END $$;

-- check_coupons: NULL when the coupons agree: wallet.coupons() of the
-- wallets the step touched (of every wallet after a clock move), by code,
-- redeemed_txn mapped; and wallet.coupon_stats per template
-- (jit off: the estimates of the set-returning functions would make every
-- call pay for compiling a tiny query)
CREATE FUNCTION mt.check_coupons(r jsonb, OUT what text, OUT detail text) LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  ws text[];
  x mt.res;
  m mt.res;
  d record;
BEGIN
  IF r->>'op' NOT IN ('clock', 'expire') THEN
    ws := ARRAY[r->>'wo', r->'payee'->>'o', r->>'co'];
  END IF;
  IF ws IS NULL OR EXISTS (SELECT 1 FROM mt.wmap WHERE owner = ANY (ws)) THEN
    x := mt.exec(format('SELECT w.owner, to_jsonb(c) - ''redeemed_txn''
                                || jsonb_build_object(''redeemed_txn'', coalesce((SELECT i.mod_id::text FROM mt.idmap i
                                     WHERE i.kind = ''txn'' AND i.ext_id = c.redeemed_txn), ''ext '' || c.redeemed_txn)) AS c
                           FROM mt.wmap w CROSS JOIN LATERAL wallet.coupons(w.ext_id) c
                          WHERE %L IS NULL OR w.owner = ANY (%L)', ws, ws));
    m := mt.exec(format('SELECT w.owner, to_jsonb(c) - ''redeemed_txn''
                                || jsonb_build_object(''redeemed_txn'', c.redeemed_txn::text) AS c
                           FROM mt.wmap w CROSS JOIN LATERAL model.coupons(w.mod_id) c
                          WHERE %L IS NULL OR w.owner = ANY (%L)', ws, ws));
    IF NOT x.ok OR NOT m.ok THEN
      what := 'coupons';
      detail := format('extension %s; model %s', mt.side(x.ok, x.out, x.state, x.msg), mt.side(m.ok, m.out, m.state, m.msg));
      RETURN;
    END IF;
    FOR d IN SELECT coalesce(xe->>'owner', me->>'owner') AS owner, xe->'c' AS xc, me->'c' AS mc
               FROM jsonb_array_elements(x.out) xe
               FULL JOIN jsonb_array_elements(m.out) me
                 ON (me->>'owner') || ' ' || (me->'c'->>'code') = (xe->>'owner') || ' ' || (xe->'c'->>'code')
              WHERE xe->'c' IS DISTINCT FROM me->'c'     -- the model has all of coupons()' columns
              ORDER BY 1 LIMIT 1 LOOP
      what := 'coupons';
      detail := format('wallet %s: extension %s; model %s', d.owner, d.xc, d.mc);
      RETURN;
    END LOOP;
  END IF;
  x := mt.exec('SELECT * FROM wallet.coupon_stats');
  m := mt.exec('SELECT * FROM model.coupon_stats');
  IF NOT x.ok OR NOT m.ok THEN
    what := 'coupon_stats';
    detail := format('extension %s; model %s', mt.side(x.ok, x.out, x.state, x.msg), mt.side(m.ok, m.out, m.state, m.msg));
    RETURN;
  END IF;
  FOR d IN SELECT coalesce(xe->>'template_id', me->>'template_id') AS tpl, xe AS xs, me AS ms
             FROM jsonb_array_elements(x.out) xe
             FULL JOIN jsonb_array_elements(m.out) me ON me->>'template_id' = xe->>'template_id'
            WHERE xe IS DISTINCT FROM me
            ORDER BY 1 LIMIT 1 LOOP
    what := 'coupon_stats';
    detail := format('template %s: extension %s; model %s', d.tpl, d.xs, d.ms);
    RETURN;
  END LOOP;
END $$;

-- check_withdrawals: NULL when wallet.withdrawals() agrees (status, amounts, automatic,
-- the id mapped) for the wallet the step touched (every wallet after an automatic sweep)
CREATE FUNCTION mt.check_withdrawals(r jsonb, OUT what text, OUT detail text) LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  ws text[];
  x mt.res;
  m mt.res;
BEGIN
  IF r->>'op' <> 'autorun' THEN
    ws := ARRAY[r->>'wo'];
    IF NOT EXISTS (SELECT 1 FROM mt.wmap WHERE owner = ANY (ws)) THEN RETURN; END IF;
  END IF;
  x := mt.exec(format('SELECT w.owner, coalesce((SELECT i.mod_id::text FROM mt.idmap i WHERE i.kind = ''wd''
                                                   AND i.ext_id = d.withdrawal_id), ''ext '' || d.withdrawal_id) AS id,
                              d.status, d.amount, d.fee, d.net, d.automatic
                         FROM mt.wmap w CROSS JOIN LATERAL wallet.withdrawals(w.ext_id) d
                        WHERE %L IS NULL OR w.owner = ANY (%L)', ws, ws));
  m := mt.exec(format('SELECT w.owner, d.withdrawal_id::text AS id, d.status, d.amount, d.fee, d.net, d.automatic
                         FROM mt.wmap w CROSS JOIN LATERAL model.withdrawals(w.mod_id) d
                        WHERE %L IS NULL OR w.owner = ANY (%L)', ws, ws));
  IF NOT x.ok OR NOT m.ok OR x.out IS DISTINCT FROM m.out THEN
    what := 'withdrawals';
    detail := format('extension %s; model %s', mt.side(x.ok, x.out, x.state, x.msg), mt.side(m.ok, m.out, m.state, m.msg));
  END IF;
END $$;

-- check_limits: NULL when wallet.limit_usage() agrees (every column) for the wallets the step
-- touched (the wallet, the payee or receiver); for every wallet after a clock move, a sweep,
-- a group step or a change of the rules
CREATE FUNCTION mt.check_limits(r jsonb, OUT what text, OUT detail text) LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  ws text[];
  x mt.res;
  m mt.res;
  d record;
BEGIN
  IF r->>'op' IN ('clock', 'expire', 'hexpire', 'join', 'gcancel', 'autorun', 'lrule', 'ldrop', 'wreview',
                  'wsettle', 'wreturn', 'reverse', 'capture', 'release') THEN
    ws := NULL;
  ELSE
    ws := ARRAY[r->>'wo', r->'payee'->>'o', r->'to'->>'o'];
  END IF;
  x := mt.exec(format('SELECT w.owner, jsonb_agg(u.j ORDER BY (u.j->>''rule_id'')::bigint) AS lim FROM mt.wmap w
                        CROSS JOIN LATERAL (SELECT mt.ext_rule(to_jsonb(u)) AS j FROM wallet.limit_usage(w.ext_id) u) u
                        WHERE %L IS NULL OR w.owner = ANY (%L)
                        GROUP BY w.owner', ws, ws));
  m := mt.exec(format('SELECT w.owner, jsonb_agg(to_jsonb(u) ORDER BY u.rule_id) AS lim FROM mt.wmap w
                        CROSS JOIN LATERAL model.limit_usage(w.mod_id) u WHERE %L IS NULL OR w.owner = ANY (%L)
                        GROUP BY w.owner', ws, ws));
  IF NOT x.ok OR NOT m.ok THEN
    what := 'limit_usage';
    detail := format('extension %s; model %s', mt.side(x.ok, x.out, x.state, x.msg), mt.side(m.ok, m.out, m.state, m.msg));
    RETURN;
  END IF;
  FOR d IN SELECT coalesce(xe->>'owner', me->>'owner') AS owner, xe->'lim' AS xl, me->'lim' AS ml
             FROM jsonb_array_elements(x.out) xe
             FULL JOIN jsonb_array_elements(m.out) me ON me->>'owner' = xe->>'owner'
            WHERE xe->'lim' IS DISTINCT FROM me->'lim'
            ORDER BY 1 LIMIT 1 LOOP
    what := 'limit_usage';
    detail := format('wallet %s: extension %s; model %s', d.owner, d.xl, d.ml);
    RETURN;
  END LOOP;
END $$;

-- ext_rule: a row of wallet.limit_usage() with the rule id the model knows (through a router, a
-- rule of every wallet has another id on each shard: the one of shard 0)
CREATE FUNCTION mt.ext_rule(u jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF mt.router() THEN
    RETURN mtr.canon_rule(u);
  END IF;
  RETURN u;
END $$;

-- rollup_points: the points wallets' pending credits rolled up (see mt.step)
CREATE FUNCTION mt.rollup_points() RETURNS void LANGUAGE sql AS $$
  SELECT wallet._rollup_wallet(p.wallet_id)
    FROM (SELECT DISTINCT c.wallet_id FROM wallet.payee_credit c WHERE c.bucket = 'bonus' ORDER BY 1) p
$$;

-- check_intakes: NULL when wallet.intakes() agrees (every column, the intake id mapped) for
-- the wallet the step touched
CREATE FUNCTION mt.check_intakes(r jsonb, OUT what text, OUT detail text) LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  ws text[] := ARRAY[r->>'wo'];
  x mt.res;
  m mt.res;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM mt.wmap WHERE owner = ANY (ws)) THEN RETURN; END IF;
  x := mt.exec(format('SELECT w.owner, coalesce((SELECT i.mod_id::text FROM mt.idmap i WHERE i.kind = ''intake''
                                                   AND i.ext_id = k.intake_id), ''ext '' || k.intake_id) AS id,
                              to_jsonb(k) - ''intake_id'' AS k
                         FROM mt.wmap w CROSS JOIN LATERAL wallet.intakes(w.ext_id) k WHERE w.owner = ANY (%L)', ws));
  m := mt.exec(format('SELECT w.owner, k.intake_id::text AS id, to_jsonb(k) - ''intake_id'' AS k
                         FROM mt.wmap w CROSS JOIN LATERAL model.intakes(w.mod_id) k WHERE w.owner = ANY (%L)', ws));
  IF NOT x.ok OR NOT m.ok OR x.out IS DISTINCT FROM m.out THEN
    what := 'intakes';
    detail := format('extension %s; model %s', mt.side(x.ok, x.out, x.state, x.msg), mt.side(m.ok, m.out, m.state, m.msg));
  END IF;
END $$;

-- discover: pairs the wallets an operation opened on its own (a points wallet opened by a
-- reward), by owner and currency, under the handle owner_currency; NULL when every wallet of
-- each side has its pair, else the wallets that have none
CREATE FUNCTION mt.discover() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  lone text;
BEGIN
  INSERT INTO mt.wmap
  SELECT x.owner || '_' || lower(x.currency), x.currency, c.exponent, x.wallet_id, m.wid
    FROM wallet.wallet x JOIN model.wallet m ON m.owner = x.owner AND m.currency = x.currency
    JOIN wallet.currency c ON c.code = x.currency
   WHERE NOT EXISTS (SELECT 1 FROM mt.wmap y WHERE y.ext_id = x.wallet_id)
     AND NOT EXISTS (SELECT 1 FROM mt.wmap y WHERE y.mod_id = m.wid);
  SELECT string_agg(z, ', ') INTO lone FROM (
    SELECT format('extension wallet %s (%s, %s)', x.wallet_id, x.owner, x.currency) AS z FROM wallet.wallet x
     WHERE NOT EXISTS (SELECT 1 FROM mt.wmap y WHERE y.ext_id = x.wallet_id)
    UNION ALL
    SELECT format('model wallet %s (%s, %s)', m.wid, m.owner, m.currency) FROM model.wallet m
     WHERE NOT EXISTS (SELECT 1 FROM mt.wmap y WHERE y.mod_id = m.wid)) q;
  RETURN lone;
END $$;

-- map_auto: pairs the withdrawals an automatic sweep just requested, by wallet
CREATE FUNCTION mt.map_auto(p_step int) RETURNS void LANGUAGE sql AS $$
  WITH xe AS (SELECT m.owner, d.withdrawal_id FROM wallet.withdrawal d JOIN mt.wmap m ON m.ext_id = d.wallet_id
               WHERE d.automatic AND d.withdrawal_id NOT IN (SELECT ext_id FROM mt.idmap WHERE kind = 'wd')),
       me AS (SELECT m.owner, d.wdid FROM model.withdrawal d JOIN mt.wmap m ON m.mod_id = d.wid
               WHERE d.automatic AND d.wdid NOT IN (SELECT mod_id FROM mt.idmap WHERE kind = 'wd')),
       pr AS (SELECT xe.owner, xe.withdrawal_id, me.wdid FROM xe JOIN me USING (owner)),
       i1 AS (INSERT INTO mt.idmap SELECT 'wd', withdrawal_id, wdid FROM pr)
  INSERT INTO mt.autowd SELECT withdrawal_id, wdid, owner, p_step FROM pr
$$;

CREATE FUNCTION mt.check_reconcile() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  x mt.res;
BEGIN
  -- through a router: every shard's reconcile() and the messages between them
  x := mt.exec(CASE WHEN mt.router() THEN 'SELECT * FROM wallet.reconcile_cluster()' ELSE 'SELECT * FROM wallet.reconcile()' END);
  IF NOT x.ok THEN RETURN format('reconcile failed: %s %s', x.state, x.msg); END IF;
  IF jsonb_array_length(x.out) > 0 THEN RETURN format('reconcile found %s', x.out); END IF;
  RETURN NULL;
END $$;

-- router_gap: through a router (MODEL_TARGET=router), the gap of the router a step falls into
-- (test/model/README.md, "Through a router"), or NULL. Only with MODEL_ROUTER_GAPS=skip (setting
-- mt.gaps) are such steps left out, each named in the trace and counted in the report, to see what
-- else disagrees; the suite never sets it. A gap is judged from what the step names (every id
-- carries its shard: its low bit with two shards), not from what it would do.
CREATE FUNCTION mt.router_gap(r jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  me bigint := (r->'w'->>'e')::bigint;
  mc text := (SELECT currency FROM mt.wmap WHERE ext_id = me);
  o jsonb;
BEGIN
  IF r->>'op' IN ('transfer', 'spend', 'hold', 'split') THEN
    FOR o IN SELECT x FROM jsonb_array_elements(coalesce(r->'payees', '[]'::jsonb) || jsonb_build_array(r->'to', r->'payee')) x LOOP
      CONTINUE WHEN o IS NULL OR jsonb_typeof(o) = 'null' OR o->>'e' IS NULL;
      IF wallet_router.shard_of((o->>'e')::bigint) <> wallet_router.shard_of(me)
         AND (SELECT currency FROM mt.wmap WHERE ext_id = (o->>'e')::bigint) IS DISTINCT FROM mc THEN
        RETURN 'refused_receiver_on_another_shard';
      END IF;
    END LOOP;
  END IF;
  IF r->>'op' = 'exchange' AND r->'to'->>'e' IS NOT NULL
     AND wallet_router.shard_of((r->'to'->>'e')::bigint) <> wallet_router.shard_of(me) THEN
    RETURN 'exchange_to_another_shard';
  END IF;
  IF r->>'op' = 'submit' AND r->'quote'->>'e' IS NOT NULL
     AND wallet_router.shard_of((r->'quote'->>'e')::bigint) <> wallet_router.shard_of(me) THEN
    RETURN 'card_quote_of_another_shard';
  END IF;
  IF r->>'op' = 'submit' AND EXISTS (
       SELECT 1 FROM mt.trace t, jsonb_array_elements_text(t.res->'secrets') x
        WHERE t.res->>'op' = 'submit' AND t.ext_ok
          AND wallet_router.shard_of((t.res->'w'->>'e')::bigint) <> wallet_router.shard_of(me)
          AND regexp_replace(x, '[- ]', '', 'g') IN (SELECT regexp_replace(y, '[- ]', '', 'g')
                                                      FROM jsonb_array_elements_text(r->'secrets') y)) THEN
    RETURN 'card_secret_of_another_shard';
  END IF;
  IF r->>'op' IN ('cquote', 'submit') AND r->>'tpl' IN ('game', 'jcard')
     AND EXISTS (SELECT 1 FROM mt.trace t JOIN mt.trace k ON k.step = (t.res->'intake'->>'s')::int
                  WHERE t.res->>'op' = 'csettle' AND t.ext_ok
                    AND wallet_router.shard_of((k.res->'w'->>'e')::bigint) <> wallet_router.shard_of(coalesce(me, 0))) THEN
    RETURN 'card_market_of_another_shard';
  END IF;
  IF r->>'op' = 'autorun' AND r->>'batch' IS NOT NULL THEN
    RETURN 'sweep_batch_per_shard';
  END IF;
  -- a group's share held on another shard than the group's is released there by message when the
  -- group's time has passed (expire_group_pays), not expired by that shard's holds sweep: the
  -- sweep's count leaves it out
  IF r->>'op' = 'hexpire' AND EXISTS (
       SELECT 1 FROM mt.trace t
        WHERE t.res->>'op' = 'join' AND t.ext_ok
          AND wallet_router.shard_of((t.res->'w'->>'e')::bigint) <> wallet_router.shard_of((t.res->'group'->>'e')::bigint)) THEN
    RETURN 'group_share_of_another_shard_expired';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION mt.step(p_step int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  pl mt.plan;
  r jsonb;
  x mt.res;
  m mt.res;
  why text;
  b record;
  every int := (SELECT reconcile_every FROM mt.run_info);
BEGIN
  SELECT * INTO pl FROM mt.plan WHERE step = p_step;
  r := mt.resolve(pl.step, pl.op, pl.args);
  -- when shrinking, amounts and times are those of the run that failed
  r := r || coalesce((SELECT p.pin FROM mt.pin p WHERE p.step = pl.step), '{}');
  IF r IS NULL THEN
    INSERT INTO mt.trace (step, op, status) VALUES (pl.step, pl.op, 'skip');
    RETURN 'skip';
  END IF;
  IF mt.router() AND current_setting('mt.gaps', true) = 'skip' AND mt.router_gap(r) IS NOT NULL THEN
    -- MODEL_ROUTER_GAPS=skip: a step in a known gap of the router, left out and counted
    INSERT INTO mt.trace (step, op, res, status) VALUES (pl.step, pl.op, jsonb_build_object('gap', mt.router_gap(r)), 'skip');
    RETURN 'skip';
  END IF;
  IF r->>'op' = 'clock' THEN
    PERFORM mt.set_clock((r->>'at')::timestamptz);
    INSERT INTO mt.trace (step, op, res, status) VALUES (pl.step, pl.op, r, 'ok');
  ELSE
    x := mt.ext(r);
    -- the codes the extension issued, for the model's issuance to take (in
    -- the order the model issues: by template id)
    DELETE FROM model.code_supply;
    IF x.ok AND r->>'op' = 'issue' THEN
      INSERT INTO model.code_supply VALUES (1, x.out->0->>'code');
    ELSIF x.ok AND r->>'op' = 'top_up' THEN
      INSERT INTO model.code_supply SELECT n, c FROM jsonb_array_elements_text(x.out->0->'coupons') WITH ORDINALITY AS y(c, n);
    ELSIF x.ok AND r->>'op' = 'open' AND NOT EXISTS (SELECT 1 FROM mt.wmap WHERE owner = coalesce(r->>'h', r->>'owner')) THEN
      INSERT INTO model.code_supply
      SELECT row_number() OVER (ORDER BY c.template_id, c.code), c.code
        FROM wallet.coupons((x.out->0->>'wallet_id')::bigint) c;
    END IF;
    IF r->>'op' = 'grant' THEN
      -- the model cannot make tokens: it takes the one the extension made (as coupon codes)
      r := r || jsonb_build_object('token', CASE WHEN x.ok THEN x.out->0->>'token' END);
    END IF;
    IF r->>'op' IN ('lrule', 'ldrop', 'flags') THEN
      -- limit rules are configuration both sides read; a wallet's own names the extension's
      -- wallet, so the model is told which of its own it is
      IF x.ok AND r->>'op' = 'lrule' AND r->'w'->>'m' IS NOT NULL THEN
        INSERT INTO model.limit_rule_member VALUES ((x.out->0->>'rule_id')::bigint, (r->'w'->>'m')::bigint);
      END IF;
      m := x;
    ELSIF r->>'op' = 'crate' THEN
      -- a member's rate names the extension's wallet: the model is told which of its own it is
      IF x.ok THEN
        INSERT INTO model.card_rate_member VALUES ((x.out->0->>'rate_id')::bigint, (r->'w'->>'m')::bigint);
      END IF;
      m := x;
    ELSE
      m := mt.exec(mt.render(r, 'model'));
    END IF;
    DELETE FROM model.code_supply;
    why := mt.compare(pl.step, r, x, m);
    INSERT INTO mt.trace VALUES (pl.step, pl.op, r, CASE WHEN why IS NULL THEN 'ok' ELSE 'fail' END,
                                 x.ok, x.out, x.state, x.msg, m.ok, m.out, m.state, m.msg);
    IF why IS NOT NULL THEN
      INSERT INTO mt.failure VALUES (pl.step, pl.op, why,
        format('extension: %s%smodel:     %s', mt.side(x.ok, x.out, x.state, x.msg), E'\n',
               mt.side(m.ok, m.out, m.state, m.msg)));
      RETURN 'fail';
    END IF;
  END IF;
  IF mt.router() THEN
    -- money bound for another shard arrives when the relay runs: run it before comparing
    why := mtr.settle();
    IF why IS NOT NULL THEN
      UPDATE mt.trace SET status = 'fail' WHERE step = pl.step;
      INSERT INTO mt.failure VALUES (pl.step, pl.op, 'relay', why);
      RETURN 'fail';
    END IF;
  END IF;
  IF r->>'op' = 'autorun' AND x.ok THEN
    PERFORM mt.map_auto(pl.step);
  END IF;
  why := mt.discover();
  IF why IS NOT NULL THEN
    UPDATE mt.trace SET status = 'fail' WHERE step = pl.step;
    INSERT INTO mt.failure VALUES (pl.step, pl.op, 'wallets', 'opened on one side only: ' || why);
    RETURN 'fail';
  END IF;
  b := mt.check_balances(r);
  -- coupons: after the operations that issue, redeem or restore them, and
  -- clock moves (a change by another operation shows at the next of these)
  IF b.what IS NULL AND r->>'op' IN ('open', 'top_up', 'spend', 'reverse', 'issue', 'validate', 'clock', 'split') THEN
    b := mt.check_coupons(r);
  END IF;
  -- withdrawals: after the operations that request or move them
  IF b.what IS NULL AND r->>'op' IN ('wrequest', 'wreview', 'wsettle', 'wreturn', 'autorun') THEN
    b := mt.check_withdrawals(r);
  END IF;
  -- intakes: after the operations that make or move them
  IF b.what IS NULL AND r->>'op' IN ('submit', 'verify', 'csettle', 'creview') THEN
    b := mt.check_intakes(r);
  END IF;
  -- limit usage (section 20): of the wallets the step touched, of all after a clock move, a
  -- sweep or a change of the rules; while there are rules
  IF b.what IS NULL AND EXISTS (SELECT 1 FROM wallet.limit_rule) THEN
    b := mt.check_limits(r);
  END IF;
  IF b.what IS NOT NULL THEN
    UPDATE mt.trace SET status = 'fail' WHERE step = pl.step;
    INSERT INTO mt.failure VALUES (pl.step, pl.op, b.what, b.detail);
    RETURN 'fail';
  END IF;
  -- reward points wait as pending credits of the points wallet until it is rolled up (by its
  -- next operation or the roll-up job), and a roll-up makes one lot of the credits of one
  -- expiry: when that happens is the extension's choice, seen in expire_bonus's count of lots.
  -- The model makes a lot of every reward at once, so the points wallets are rolled up here,
  -- after the step was compared (its balance, pending points counted, included)
  PERFORM mt.rollup_points();
  IF every > 0 AND pl.step % every = 0 THEN
    why := mt.check_reconcile();
    IF why IS NOT NULL THEN
      UPDATE mt.trace SET status = 'fail' WHERE step = pl.step;
      INSERT INTO mt.failure VALUES (pl.step, pl.op, 'reconcile', why);
      RETURN 'fail';
    END IF;
  END IF;
  RETURN 'ok';
END $$;

-- setup: the plan, the configuration and the clock for a run
CREATE FUNCTION mt.setup(p_seed bigint, p_steps int, p_keep int[], p_every int, p_pins jsonb) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  q text;
  n int := 0;
BEGIN
  IF EXISTS (SELECT 1 FROM mt.run_info) THEN
    RAISE EXCEPTION 'this database was used for a run already: use a fresh one';
  END IF;
  INSERT INTO mt.run_info VALUES (true, p_seed, p_steps, p_keep, p_every);
  INSERT INTO mt.pin SELECT key::int, value FROM jsonb_each(coalesce(p_pins, '{}'));
  PERFORM mt.set_clock(mt.t0());
  FOR q IN SELECT * FROM mt.config((p_seed % 2)::int) LOOP
    n := n + 1;
    INSERT INTO mt.config_stmt VALUES (n, q);
    IF mt.router() THEN
      IF current_setting('mt.gaps', true) = 'skip' THEN
        -- MODEL_ROUTER_GAPS=skip: a template's total_limit is counted per shard (a known gap)
        q := regexp_replace(q, ', total_limit => \d+', '');
      END IF;
      PERFORM mtr.config_all(q);      -- on every shard
    ELSE
      EXECUTE q;
    END IF;
  END LOOP;
  PERFORM mt.gen(p_seed, p_steps);
END $$;

CREATE PROCEDURE mt.run(p_seed bigint, p_steps int, p_keep int[] DEFAULT NULL, p_every int DEFAULT 1,
                        p_pins jsonb DEFAULT NULL)
  LANGUAGE plpgsql AS $$
DECLARE
  s int;
  st text;
  last int := 0;
  why text;
BEGIN
  PERFORM mt.setup(p_seed, p_steps, p_keep, p_every, p_pins);
  COMMIT;
  FOR s IN SELECT p.step FROM mt.plan p WHERE p_keep IS NULL OR p.step = ANY (p_keep) ORDER BY p.step LOOP
    RAISE NOTICE 'model step %', s;
    st := mt.step(s);
    COMMIT;
    last := s;
    IF st = 'fail' THEN RETURN; END IF;
  END LOOP;
  -- the books must hold at the end whatever reconcile_every was
  why := mt.check_reconcile();
  IF why IS NOT NULL THEN
    INSERT INTO mt.failure VALUES (last, coalesce((SELECT op FROM mt.plan WHERE step = last), 'end'), 'reconcile', why);
  END IF;
  COMMIT;
END $$;

------------------------------------------------------------------------------
-- Reporting
------------------------------------------------------------------------------
-- outcome: one line for the shell: "ok STEPS RUN SKIPPED" or "fail STEP OP WHAT"
CREATE FUNCTION mt.outcome() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT format('fail %s %s %s', f.step, f.op, replace(split_part(f.what, ' ', 1), ' ', '_')) FROM mt.failure f LIMIT 1),
    (SELECT format('ok %s %s', count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'skip'))
       FROM mt.trace))
$$;

CREATE FUNCTION mt.report() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT format(E'MISMATCH seed %s, step %s (%s): %s\n  operation: %s\n  %s',
                i.seed, f.step, f.op, f.what,
                coalesce(mt.render(t.res, 'ext'), '(none)'),
                replace(f.detail, E'\n', E'\n  '))
    FROM mt.failure f CROSS JOIN mt.run_info i LEFT JOIN mt.trace t ON t.step = f.step
$$;

-- pins: the amounts and clock times the steps had in this run
CREATE FUNCTION mt.pins() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_object_agg(step, pin), '{}') FROM (
    SELECT step, jsonb_strip_nulls(jsonb_build_object('amount', res->'amount', 'at', res->'at',
                                                      'shares', res->'shares', 'actual', res->'actual')) AS pin
      FROM mt.trace WHERE res IS NOT NULL AND (res ? 'amount' OR res ? 'at' OR res ? 'actual')) x
   WHERE pin <> '{}'
$$;

-- executed: the steps that ran (not skipped), for the shrinker
CREATE FUNCTION mt.executed() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(string_agg(step::text, ',' ORDER BY step), '') FROM mt.trace WHERE status <> 'skip'
$$;

-- related: for the shrinker, the steps that ran up to p_step and touched the
-- wallets of step p_step (closed over payees), plus clock moves and sweeps
CREATE FUNCTION mt.related(p_step int) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  ws text[];
  n int;
BEGIN
  SELECT array_agg(DISTINCT o) INTO ws
    FROM mt.trace t, LATERAL (VALUES (t.res->>'wo'), (t.res->'payee'->>'o'), (t.res->>'co')) v(o)
   WHERE t.step = p_step AND o IS NOT NULL;
  IF ws IS NULL THEN
    -- a balance or reconcile failure after a step without a wallet: all of them
    SELECT array_agg(owner) INTO ws FROM mt.wmap;
  END IF;
  LOOP
    n := cardinality(ws);
    SELECT array_agg(DISTINCT o) INTO ws
      FROM (SELECT unnest(ws) AS o
            UNION SELECT v.o FROM mt.trace t, LATERAL (VALUES (t.res->>'wo'), (t.res->'payee'->>'o'), (t.res->>'co')) v(o)
                   WHERE t.step <= p_step AND v.o IS NOT NULL
                     AND (t.res->>'wo' = ANY (ws) OR t.res->'payee'->>'o' = ANY (ws) OR t.res->>'co' = ANY (ws))) x;
    EXIT WHEN cardinality(ws) = n;
  END LOOP;
  RETURN (SELECT string_agg(t.step::text, ',' ORDER BY t.step) FROM mt.trace t
           WHERE t.step <= p_step AND t.status <> 'skip'
             AND (t.step = p_step OR t.res->>'op' IN ('clock', 'expire', 'lrule', 'ldrop')
                  OR t.res->>'wo' = ANY (ws) OR t.res->'payee'->>'o' = ANY (ws) OR t.res->>'co' = ANY (ws)));
END $$;

CREATE FUNCTION mt.expect_comment(t mt.trace) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN t.mod_ok IS NULL THEN ''
              WHEN t.mod_ok THEN '-- model: ' || (t.mod_out->0)::text
              ELSE format('-- model: ERROR %s (%s)', t.mod_state, t.mod_msg) END
$$;

-- repro: the steps that ran, as a psql script against the extension alone
CREATE FUNCTION mt.repro() RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  txt text;
  t mt.trace;
  f mt.failure;
  i mt.run_info;
  used text[];
  q text;
  var text;
  b record;
BEGIN
  SELECT * INTO i FROM mt.run_info;
  SELECT * INTO f FROM mt.failure LIMIT 1;
  SELECT array_agg(DISTINCT m[1]) INTO used
    FROM mt.trace tr, regexp_matches(tr.res::text, '"i?v": "([a-z_0-9]+)"', 'g') m;
  txt := format(E'-- wallet model test: seed %s, %s of %s planned steps\n', i.seed,
                (SELECT count(*) FROM mt.trace WHERE status <> 'skip'), i.steps);
  IF f.step IS NOT NULL THEN
    txt := txt || format(E'-- mismatch at step %s (%s): %s\n-- %s\n', f.step, f.op, f.what,
                         replace(f.detail, E'\n', E'\n-- '));
  END IF;
  txt := txt || E'\\set SHOW_CONTEXT never\nSET TimeZone = ''UTC'';\n'
             || format(E'SET wallet.now = %L;\n', mt.t0()::text);
  FOR q IN SELECT sql FROM mt.config_stmt ORDER BY n LOOP
    txt := txt || q || E';\n';
  END LOOP;
  FOR t IN SELECT * FROM mt.trace WHERE status <> 'skip' ORDER BY step LOOP
    txt := txt || format(E'-- step %s: %s\n', t.step, t.op);
    q := mt.render(t.res, 'repro');
    var := CASE WHEN t.res->>'op' = 'open' THEN 'w_' || coalesce(t.res->>'h', t.res->>'owner')
                WHEN t.res->>'op' = 'cquote' THEN 'q' || t.step
                WHEN t.res->>'op' = 'submit' THEN 'i' || t.step
                WHEN t.res->>'op' = 'request' THEN 'r' || t.step
                WHEN t.res->>'op' IN ('hold', 'join') THEN 'h' || t.step
                WHEN t.res->>'op' = 'group' THEN 'g' || t.step
                WHEN t.res->>'op' = 'wrequest' THEN 'd' || t.step
                WHEN t.res->>'op' = 'grant' THEN 'su' || t.step
                WHEN t.res->>'op' IN ('top_up', 'spend', 'reverse', 'capture', 'release', 'transfer', 'split',
                                      'payout', 'exchange', 'csettle') THEN 't' || t.step END;
    IF var = ANY (used) AND t.status = 'ok' AND coalesce(t.ext_ok, false) THEN
      IF t.res->>'op' = 'open' THEN
        q := replace(q, 'AS wallet_id', 'AS ' || var) || ' \gset';
      ELSIF t.res->>'op' = 'group' THEN
        q := replace(q, 'AS group_id', 'AS ' || var) || ' \gset';
      ELSIF t.res->>'op' = 'grant' THEN
        q := replace(q, 'AS token', 'AS ' || var) || ' \gset';
      ELSE
        q := regexp_replace(q, '^SELECT \* FROM', 'SELECT ' || CASE WHEN var LIKE 'r%' THEN 'refund_id'
                                                                     WHEN var LIKE 'h%' THEN 'hold_id'
                                                                     WHEN var LIKE 'd%' THEN 'withdrawal_id'
                                                                     WHEN var LIKE 'q%' THEN 'quote_id'
                                                                     WHEN var LIKE 'i%' THEN 'intake_id' ELSE 'txn_id' END
                                                     || ' AS ' || var || ' FROM') || ' \gset';
      END IF;
      txt := txt || q || E'\n';
    ELSE
      txt := txt || q || CASE WHEN t.res->>'op' = 'clock' THEN ';' ELSE ';' END || E'\n';
    END IF;
    IF t.res->>'op' <> 'clock' THEN
      txt := txt || mt.expect_comment(t) || E'\n';
    END IF;
    IF t.res->>'op' IN ('spend', 'capture', 'split', 'join') THEN
      txt := txt || E'SELECT wallet._rollup_wallet(wallet_id) FROM (SELECT DISTINCT wallet_id FROM wallet.payee_credit WHERE bucket = ''bonus'') p;\n';
    END IF;
    IF t.status = 'fail' AND t.ext_ok IS NOT NULL AND f.what NOT IN ('balance', 'reconcile') THEN
      txt := txt || '-- extension gave: ' || mt.side(t.ext_ok, t.ext_out->0, t.ext_state, t.ext_msg) || E'\n';
    END IF;
  END LOOP;
  IF f.what = 'balance' THEN
    txt := txt || E'-- balances after the last step (model values as comments)\n';
    FOR b IN SELECT w.owner, sc.s, (SELECT to_jsonb(x) - 'wallet_id' FROM model.balance(w.mod_id, sc.s) x) AS mb
               FROM mt.wmap w CROSS JOIN unnest(ARRAY[NULL, 'game', 'shop']) sc(s)
              ORDER BY w.owner, sc.s NULLS FIRST LOOP
      txt := txt || format(E'SELECT * FROM wallet.balance(:w_%s, %s);\n-- model: %s\n', b.owner,
                           coalesce(quote_literal(b.s), 'NULL'), b.mb);
    END LOOP;
  END IF;
  txt := txt || E'SELECT * FROM wallet.reconcile();\n';
  RETURN txt;
END $$;
