\echo Use "CREATE EXTENSION wallet" to load this file. \quit

-- wallet 0.1: the stored-value wallet engine.
-- The money rules are C functions over a wallet's lots (type wallet.lotset);
-- the operations below lock one wallet row, apply them, write the row back and
-- append one journal row (wallet.txn) carrying its double-entry postings.

------------------------------------------------------------------------------
-- Roles (cluster-wide; created only if missing)
------------------------------------------------------------------------------
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'wallet_app') THEN
    CREATE ROLE wallet_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'wallet_admin') THEN
    CREATE ROLE wallet_admin NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'wallet_reader') THEN
    CREATE ROLE wallet_reader NOLOGIN;
  END IF;
END
$roles$;

CREATE SCHEMA wallet_report;

------------------------------------------------------------------------------
-- The lot set type
------------------------------------------------------------------------------
CREATE TYPE wallet.lotset;

CREATE FUNCTION wallet.lotset_in(cstring) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lotset_out(wallet.lotset) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lotset_recv(internal) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lotset_send(wallet.lotset) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE wallet.lotset (
  INPUT = wallet.lotset_in,
  OUTPUT = wallet.lotset_out,
  RECEIVE = wallet.lotset_recv,
  SEND = wallet.lotset_send,
  INTERNALLENGTH = VARIABLE,
  ALIGNMENT = double,
  STORAGE = extended
);
COMMENT ON TYPE wallet.lotset IS 'a wallet''s live lots (cash, bonus, earnings) with their netting counters';

-- One journal leg. amount is in minor units, positive into a wallet.
CREATE TYPE wallet.posting AS (account text, wallet_id bigint, bucket text, amount bigint);

------------------------------------------------------------------------------
-- Pure functions: money, clock and the engine (no table access)
------------------------------------------------------------------------------
CREATE FUNCTION wallet.clock() RETURNS timestamptz
  AS 'MODULE_PATHNAME', 'wallet_clock_sql' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION wallet.clock() IS 'the wallet clock: transaction timestamp, or the superuser-only setting wallet.now';

CREATE FUNCTION wallet.to_minor(amount numeric, exponent int, argname text DEFAULT 'amount') RETURNS bigint
  AS 'MODULE_PATHNAME', 'wallet_to_minor' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.to_major(minor bigint, exponent int) RETURNS numeric
  AS 'MODULE_PATHNAME', 'wallet_to_major' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.rate_amount(amount bigint, rate numeric) RETURNS bigint
  AS 'MODULE_PATHNAME', 'wallet_rate_amount' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.bonus_amount(amount bigint, fixed bigint, rate numeric, cap bigint) RETURNS bigint
  AS 'MODULE_PATHNAME', 'wallet_bonus_amount' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.bonus_pick(amount bigint, grp text[], min_amount bigint[], fixed bigint[],
                                  rate numeric[], cap bigint[])
  RETURNS TABLE (idx int, bonus bigint)
  AS 'MODULE_PATHNAME', 'wallet_bonus_pick' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2;
CREATE FUNCTION wallet.check_scene(scene text) RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_check_scene' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION wallet.lots_empty() RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_empty' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.lots_add(ls wallet.lotset, bucket text, amount bigint, txn bigint,
                                at timestamptz, until timestamptz, scope text[]) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.lots_spend(ls wallet.lotset, amount bigint, scene text, now timestamptz,
                                  OUT lots wallet.lotset, OUT taken wallet.lotset, OUT bonus bigint,
                                  OUT cash bigint, OUT earnings bigint, OUT shortfall bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_spend' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.lots_totals(ls wallet.lotset, scene text, now timestamptz,
                                   OUT cash bigint, OUT bonus bigint, OUT earnings bigint, OUT held bigint,
                                   OUT bonus_stored bigint, OUT next_expiry timestamptz)
  AS 'MODULE_PATHNAME', 'wallet_lots_totals' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet.lots_expire(ls wallet.lotset, now timestamptz,
                                   OUT lots wallet.lotset, OUT expired bigint, OUT lots_expired int)
  AS 'MODULE_PATHNAME', 'wallet_lots_expire' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_take(ls wallet.lotset, bucket text, amount bigint, now timestamptz,
                                 OUT lots wallet.lotset, OUT taken bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_take' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_minus(a wallet.lotset, b wallet.lotset) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_minus' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.reversal_split(remaining wallet.lotset, given_bonus bigint, given_cash bigint,
                                      given_earnings bigint, amount bigint) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_reversal_split' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_reverse(ls wallet.lotset, pieces wallet.lotset, now timestamptz,
                                    OUT lots wallet.lotset, OUT bonus bigint, OUT cash bigint,
                                    OUT earnings bigint, OUT breakage bigint, OUT bonus_to_cash bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_reverse' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_refund_info(ls wallet.lotset, topup_txn bigint, now timestamptz,
                                        OUT found boolean, OUT cash bigint, OUT owed bigint, OUT clawed bigint,
                                        OUT bonus_live bigint, OUT refundable_until timestamptz, OUT held bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_refund_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_refund_hold(ls wallet.lotset, topup_txn bigint, take bigint, clawback bigint,
                                        now timestamptz, OUT lots wallet.lotset, OUT bonus_held bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_refund_hold' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_refund_release(ls wallet.lotset, topup_txn bigint, take bigint, clawback bigint,
                                           bonus_held bigint, now timestamptz) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_refund_release' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_refund_settle(ls wallet.lotset, topup_txn bigint, take bigint, clawback bigint,
                                          bonus_held bigint, now timestamptz) RETURNS wallet.lotset
  AS 'MODULE_PATHNAME', 'wallet_lots_refund_settle' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_list(ls wallet.lotset)
  RETURNS TABLE (lot_id int, bucket text, amount bigint, held bigint, source_txn bigint,
                 granted_at timestamptz, until timestamptz, scope text[], owed bigint, clawed bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_list' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 8;

-- _legs keeps the non-zero legs of a posting list.
CREATE FUNCTION wallet._legs(VARIADIC legs wallet.posting[]) RETURNS wallet.posting[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT coalesce(array_agg(p ORDER BY o), '{}') FROM unnest(legs) WITH ORDINALITY AS u(account, wallet_id, bucket, amount, o)
        CROSS JOIN LATERAL (SELECT ROW(u.account, u.wallet_id, u.bucket, u.amount)::wallet.posting) AS x(p)
        WHERE u.amount <> 0 $$;

------------------------------------------------------------------------------
-- Reference data: currencies, policy, bonus rules
------------------------------------------------------------------------------
CREATE TABLE wallet.currency (
  code     text PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
  exponent int  NOT NULL CHECK (exponent BETWEEN 0 AND 4)
);
INSERT INTO wallet.currency (code, exponent) VALUES
  ('CNY', 2), ('USD', 2), ('EUR', 2), ('GBP', 2), ('HKD', 2),
  ('JPY', 0), ('KRW', 0), ('KWD', 3), ('BHD', 3);

CREATE TABLE wallet.policy (
  currency                text PRIMARY KEY REFERENCES wallet.currency,
  refund_window           interval NOT NULL DEFAULT '30 days' CHECK (refund_window >= '0'),
  refund_fee_rate         numeric  NOT NULL DEFAULT 0
                          CHECK (refund_fee_rate >= 0 AND refund_fee_rate < 1),
  refund_auto_approve_max numeric  NOT NULL DEFAULT 0
                          CHECK (refund_auto_approve_max >= 0 AND refund_auto_approve_max < 1e15),
  max_refunds_per_30_days int      NOT NULL DEFAULT 3 CHECK (max_refunds_per_30_days >= 0),
  remind_before           interval NOT NULL DEFAULT '3 days' CHECK (remind_before >= '0'),
  commission_rate         numeric  NOT NULL DEFAULT 0
                          CHECK (commission_rate >= 0 AND commission_rate <= 1)
);
COMMENT ON TABLE wallet.policy IS 'per-currency money policy; a currency without a row uses the column defaults';

CREATE TABLE wallet.bonus_rule (
  rule_id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  currency        text     NOT NULL REFERENCES wallet.currency,
  campaign        text     NULL CHECK (length(campaign) BETWEEN 1 AND 200),
  min_amount      numeric  NOT NULL CHECK (min_amount > 0 AND min_amount < 1e15),
  bonus_fixed     numeric  NOT NULL DEFAULT 0 CHECK (bonus_fixed >= 0 AND bonus_fixed < 1e15),
  bonus_rate      numeric  NOT NULL DEFAULT 0 CHECK (bonus_rate >= 0 AND bonus_rate <= 10),
  max_bonus       numeric  NULL CHECK (max_bonus >= 0 AND max_bonus < 1e15),
  valid_for       interval NULL CHECK (valid_for > '0'),
  scope           text[]   NULL CHECK (cardinality(scope) > 0),
  starts_at       timestamptz NULL,
  ends_at         timestamptz NULL CONSTRAINT bonus_rule_ends_at_check CHECK (ends_at > starts_at),
  refund_fee_rate numeric  NULL CHECK (refund_fee_rate >= 0 AND refund_fee_rate < 1)
);
CREATE INDEX bonus_rule_currency ON wallet.bonus_rule (currency, min_amount);

-- _exponent returns a currency's exponent, or refuses an unknown currency (22023).
CREATE FUNCTION wallet._exponent(cur text) RETURNS int
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  e int;
BEGIN
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = cur;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown currency "%s"', cur),
      HINT = 'Currencies are listed in wallet.currency.';
  END IF;
  RETURN e;
END $$;

-- _check_money refuses an amount finer than the currency (zero and NULL pass).
CREATE FUNCTION wallet._check_money(val numeric, e int, argname text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF val IS NOT NULL AND val <> 0 THEN
    PERFORM wallet.to_minor(val, e, argname);
  END IF;
END $$;

-- _check_scope refuses a scope with NULL or malformed scene names.
CREATE FUNCTION wallet._check_scope(scope text[]) RETURNS void
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF array_position(scope, NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'scope must not contain NULL';
  END IF;
  PERFORM wallet.check_scene(x) FROM unnest(scope) AS x;
END $$;

-- bonus_rule_check refuses amounts finer than the currency and malformed scopes.
CREATE FUNCTION wallet._bonus_rule_check() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  e int := wallet._exponent(NEW.currency);
BEGIN
  PERFORM wallet._check_money(NEW.min_amount, e, 'min_amount');
  PERFORM wallet._check_money(NEW.bonus_fixed, e, 'bonus_fixed');
  PERFORM wallet._check_money(NEW.max_bonus, e, 'max_bonus');
  PERFORM wallet._check_scope(NEW.scope);
  RETURN NEW;
END $$;
CREATE TRIGGER bonus_rule_check BEFORE INSERT OR UPDATE ON wallet.bonus_rule
  FOR EACH ROW EXECUTE FUNCTION wallet._bonus_rule_check();

------------------------------------------------------------------------------
-- Wallets, journal, refunds
------------------------------------------------------------------------------
CREATE TABLE wallet.wallet (
  wallet_id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  owner         text     NOT NULL,
  currency      text     NOT NULL REFERENCES wallet.currency,
  exponent      smallint NOT NULL,
  frozen        boolean  NOT NULL DEFAULT false,
  frozen_reason text,
  lots          wallet.lotset NOT NULL DEFAULT wallet.lots_empty(),
  next_expiry   timestamptz,
  version       bigint   NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL,
  UNIQUE (owner, currency)
) WITH (fillfactor = 80);
CREATE INDEX wallet_next_expiry ON wallet.wallet (next_expiry) WHERE next_expiry IS NOT NULL;
COMMENT ON TABLE wallet.wallet IS 'one row per wallet: header and live lots';

-- The journal: one row per operation, with its postings. Append-only.
CREATE TABLE wallet.txn (
  txn_id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  wallet_id       bigint   NOT NULL,
  kind            text     NOT NULL,
  amount          bigint   NOT NULL DEFAULT 0,
  currency        text     NOT NULL,
  created_at      timestamptz NOT NULL,
  idempotency_key text,
  ref_txn         bigint,
  request         jsonb,
  result          jsonb,
  postings        wallet.posting[] NOT NULL DEFAULT '{}',
  pieces          wallet.lotset
);
CREATE UNIQUE INDEX txn_wallet_key ON wallet.txn (wallet_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX txn_ref ON wallet.txn (ref_txn) WHERE ref_txn IS NOT NULL;
COMMENT ON TABLE wallet.txn IS 'the journal: one row per operation with its double-entry postings; append-only';

CREATE FUNCTION wallet._journal_append_only() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'WL008',
    MESSAGE = 'the journal is append-only',
    DETAIL = format('%s on wallet.txn is refused.', TG_OP);
END $$;
CREATE TRIGGER txn_append_only BEFORE UPDATE OR DELETE ON wallet.txn
  FOR EACH ROW EXECUTE FUNCTION wallet._journal_append_only();
CREATE TRIGGER txn_no_truncate BEFORE TRUNCATE ON wallet.txn
  FOR EACH STATEMENT EXECUTE FUNCTION wallet._journal_append_only();

-- Credits to a payee wait here until rolled up into its wallet row, so that
-- many concurrent spends paying one payee never queue on that row.
CREATE TABLE wallet.payee_credit (
  credit_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  wallet_id bigint NOT NULL,
  amount    bigint NOT NULL CHECK (amount > 0),
  txn_id    bigint NOT NULL
);
CREATE INDEX payee_credit_wallet ON wallet.payee_credit (wallet_id);

CREATE TABLE wallet.refund (
  refund_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  wallet_id    bigint  NOT NULL REFERENCES wallet.wallet,
  topup_txn    bigint  NOT NULL,
  request_txn  bigint  NOT NULL,
  reason       text    NOT NULL CHECK (reason IN ('user', 'platform')),
  amount       bigint  NOT NULL CHECK (amount >= 0),
  fee          bigint  NOT NULL CHECK (fee >= 0),
  net          bigint  NOT NULL CHECK (net >= 0),
  clawback     bigint  NOT NULL CHECK (clawback >= 0),
  bonus_void   bigint  NOT NULL CHECK (bonus_void >= 0),
  status       text    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'succeeded', 'failed')),
  note         text,
  reviewer     text,
  review_note  text,
  gateway_ref  text,
  requested_at timestamptz NOT NULL,
  reviewed_at  timestamptz,
  settled_at   timestamptz
);
CREATE INDEX refund_wallet ON wallet.refund (wallet_id, requested_at);
CREATE INDEX refund_topup ON wallet.refund (topup_txn);

CREATE TABLE wallet.coupon_template (
  template_id      text PRIMARY KEY CHECK (template_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  currency         text     NOT NULL REFERENCES wallet.currency,
  kind             text     NOT NULL CHECK (kind IN ('amount', 'percent')),
  value            numeric  NOT NULL
                   CONSTRAINT coupon_template_value_check
                   CHECK (value > 0 AND value < 1e15 AND (kind = 'amount' OR value <= 100)),
  max_discount     numeric  NULL CHECK (max_discount > 0 AND max_discount < 1e15),
  min_order        numeric  NOT NULL DEFAULT 0 CHECK (min_order >= 0 AND min_order < 1e15),
  scope            text[]   NULL CHECK (cardinality(scope) > 0),
  valid_from       timestamptz NULL,
  valid_until      timestamptz NULL CONSTRAINT coupon_template_valid_until_check CHECK (valid_until > valid_from),
  valid_for        interval NULL CHECK (valid_for > '0'),
  total_limit      int      NULL CHECK (total_limit >= 0),
  per_wallet_limit int      NOT NULL DEFAULT 1 CHECK (per_wallet_limit >= 0),
  issue_on         text     NULL CHECK (issue_on IN ('open', 'top_up')),
  issue_min_top_up numeric  NULL CHECK (issue_min_top_up > 0 AND issue_min_top_up < 1e15),
  issued           int      NOT NULL DEFAULT 0 CHECK (issued >= 0)
);
CREATE INDEX coupon_template_auto ON wallet.coupon_template (issue_on, currency) WHERE issue_on IS NOT NULL;
COMMENT ON COLUMN wallet.coupon_template.value IS 'money off for kind amount; percent off (20 = 20 %) for kind percent';
COMMENT ON COLUMN wallet.coupon_template.issued IS 'coupons issued so far (kept by the issuing functions, checked against total_limit)';

CREATE TABLE wallet.coupon (
  code         text    PRIMARY KEY,
  template_id  text    NOT NULL REFERENCES wallet.coupon_template,
  wallet_id    bigint  NOT NULL REFERENCES wallet.wallet,
  valid_from   timestamptz,
  valid_until  timestamptz,
  issued_at    timestamptz NOT NULL,
  issue_txn    bigint  NOT NULL,
  redeemed_txn bigint,
  redeemed_at  timestamptz,
  discount     bigint  CHECK (discount >= 0)
);
CREATE INDEX coupon_wallet ON wallet.coupon (wallet_id, template_id);
CREATE INDEX coupon_template_redeemed ON wallet.coupon (template_id) INCLUDE (redeemed_txn, discount, valid_until);
COMMENT ON TABLE wallet.coupon IS 'issued coupons; a coupon belongs to one wallet and is used at most once';

CREATE TABLE wallet.risk_flag (
  flag_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  wallet_id  bigint NOT NULL,
  kind       text   NOT NULL,
  detail     text,
  created_at timestamptz NOT NULL
);
CREATE INDEX risk_flag_wallet ON wallet.risk_flag (wallet_id);

CREATE TABLE wallet.reconciliation_run (
  run_id        bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  started_at    timestamptz NOT NULL,
  finished_at   timestamptz NOT NULL,
  discrepancies int    NOT NULL,
  details       jsonb  NOT NULL DEFAULT '[]'
);

------------------------------------------------------------------------------
-- Internal helpers (not granted to anyone)
------------------------------------------------------------------------------

-- _fail raises one of the contract's errors.
CREATE FUNCTION wallet._fail(code text, msg text, detail text DEFAULT NULL, hint text DEFAULT NULL)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF detail IS NULL AND hint IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg;
  ELSIF hint IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = detail;
  ELSIF detail IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, HINT = hint;
  END IF;
  RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg, DETAIL = detail, HINT = hint;
END $$;

-- _text checks an optional text argument: at most maxlen characters, no control characters.
CREATE FUNCTION wallet._text(val text, argname text, maxlen int DEFAULT 200, required boolean DEFAULT false)
  RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF val IS NULL THEN
    IF required THEN PERFORM wallet._fail('22023', format('%s must not be null', argname)); END IF;
    RETURN NULL;
  END IF;
  IF length(val) = 0 AND required THEN
    PERFORM wallet._fail('22023', format('%s must not be empty', argname));
  END IF;
  IF length(val) > maxlen THEN
    PERFORM wallet._fail('22023', format('%s is too long', argname),
                         format('Got %s characters; at most %s are allowed.', length(val), maxlen));
  END IF;
  IF val ~ '[[:cntrl:]]' THEN
    PERFORM wallet._fail('22023', format('%s must not contain control characters', argname));
  END IF;
  RETURN val;
END $$;

-- _policy returns a currency's policy, with the defaults where it has no row.
CREATE FUNCTION wallet._policy(cur text) RETURNS wallet.policy
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT p FROM wallet.policy p WHERE p.currency = cur),
    ROW(cur, '30 days', 0, 0, 3, '3 days', 0)::wallet.policy)
$$;

-- _lock locks and returns a wallet row, or raises WL006.
CREATE FUNCTION wallet._lock(wid bigint) RETURNS wallet.wallet
  LANGUAGE plpgsql AS $$
DECLARE
  w wallet.wallet;
BEGIN
  IF wid IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  SELECT * INTO w FROM wallet.wallet WHERE wallet_id = wid FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', wid));
  END IF;
  RETURN w;
END $$;

-- _key checks an idempotency key.
CREATE FUNCTION wallet._key(k text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT wallet._text(k, 'idempotency_key', 200, true) $$;

-- _replay returns the stored result of an earlier operation with this key, or
-- NULL; WL003 when the key was used with other arguments.
CREATE FUNCTION wallet._replay(wid bigint, k text, op text, req jsonb) RETURNS jsonb
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  t record;
BEGIN
  SELECT kind, request, result INTO t FROM wallet.txn WHERE wallet_id = wid AND idempotency_key = k;
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF t.kind <> op OR t.request IS DISTINCT FROM req THEN
    PERFORM wallet._fail('WL003', 'idempotency key reused with different arguments',
      format('Key "%s" of wallet %s was used by %s with %s.', k, wid, t.kind, t.request));
  END IF;
  RETURN t.result;
END $$;

-- _save writes a wallet's lots back.
CREATE FUNCTION wallet._save(wid bigint, ls wallet.lotset) RETURNS void
  LANGUAGE sql AS $$
  UPDATE wallet.wallet
     SET lots = ls,
         next_expiry = (wallet.lots_totals(ls, NULL, wallet.clock())).next_expiry,
         version = version + 1
   WHERE wallet_id = wid
$$;

-- _pending returns the payee credits not yet rolled up into a wallet. PL/pgSQL, so
-- that the lookup is planned for the wallet asked about: a generic plan would scan the
-- table whenever one payee holds most of the pending credits.
CREATE FUNCTION wallet._pending(wid bigint) RETURNS bigint
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT coalesce(sum(c.amount), 0)::bigint FROM wallet.payee_credit c WHERE c.wallet_id = wid);
END $$;

-- _rollup moves a locked wallet's pending payee credits into its earnings.
CREATE FUNCTION wallet._rollup(wid bigint, ls wallet.lotset, clk timestamptz) RETURNS wallet.lotset
  LANGUAGE plpgsql AS $$
DECLARE
  total bigint;
  last_txn bigint;
BEGIN
  WITH d AS (DELETE FROM wallet.payee_credit WHERE wallet_id = wid RETURNING amount, txn_id)
  SELECT sum(amount), max(txn_id) INTO total, last_txn FROM d;
  IF total IS NULL THEN RETURN ls; END IF;
  RETURN wallet.lots_add(ls, 'earnings', total, last_txn, clk, NULL, NULL);
END $$;

-- _bonus_plan lists what a top-up of amt (minor units) gets at clk: the rules
-- of the currency active at clk, evaluated by wallet.bonus_pick (one applied
-- rule per campaign group, NULL being the base group, non-zero bonus only).
CREATE FUNCTION wallet._bonus_plan(cur text, e int, amt bigint, clk timestamptz)
  RETURNS TABLE (rule_id bigint, campaign text, bonus bigint, expires_at timestamptz,
                 scope text[], refund_fee_rate numeric)
  LANGUAGE sql STABLE AS $$
  WITH active AS (
    SELECT br.*, row_number() OVER (ORDER BY br.rule_id)::int AS idx
      FROM wallet.bonus_rule br
     WHERE br.currency = cur
       AND (br.starts_at IS NULL OR br.starts_at <= clk)
       AND (br.ends_at IS NULL OR br.ends_at > clk)),
  agg AS (
    SELECT array_agg(a.campaign ORDER BY a.idx) AS grp,
           array_agg((a.min_amount * (10::numeric ^ e))::bigint ORDER BY a.idx) AS mins,
           array_agg((a.bonus_fixed * (10::numeric ^ e))::bigint ORDER BY a.idx) AS fixed,
           array_agg(a.bonus_rate ORDER BY a.idx) AS rate,
           array_agg((a.max_bonus * (10::numeric ^ e))::bigint ORDER BY a.idx) AS cap
      FROM active a)
  SELECT a.rule_id, a.campaign, p.bonus, clk + a.valid_for, a.scope, a.refund_fee_rate
    FROM agg
   CROSS JOIN LATERAL wallet.bonus_pick(amt, agg.grp, agg.mins, agg.fixed, agg.rate, agg.cap) p
    JOIN active a ON a.idx = p.idx
   ORDER BY a.campaign NULLS FIRST
$$;

------------------------------------------------------------------------------
-- Wallets
------------------------------------------------------------------------------
CREATE FUNCTION wallet.open(owner text, currency text DEFAULT 'CNY') RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  e int;
  wid bigint;
BEGIN
  PERFORM wallet._text(open.owner, 'owner', 256, true);
  PERFORM wallet._text(open.currency, 'currency', 3, true);
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = open.currency;
  IF NOT FOUND THEN
    PERFORM wallet._fail('22023', format('unknown currency "%s"', open.currency),
                         hint => 'Currencies are listed in wallet.currency.');
  END IF;
  SELECT w.wallet_id INTO wid FROM wallet.wallet w
   WHERE w.owner = open.owner AND w.currency = open.currency;
  IF wid IS NOT NULL THEN
    RETURN wid;
  END IF;
  INSERT INTO wallet.wallet AS w (owner, currency, exponent, created_at)
  VALUES (open.owner, open.currency, e, wallet.clock())
  ON CONFLICT ON CONSTRAINT wallet_owner_currency_key DO NOTHING
  RETURNING w.wallet_id INTO wid;
  IF wid IS NOT NULL THEN
    -- a new wallet gets the coupons issued on registration
    PERFORM wallet._auto_issue(wid, 'open', NULL, NULL);
    RETURN wid;
  END IF;
  IF wid IS NULL THEN
    SELECT w.wallet_id INTO wid FROM wallet.wallet w
     WHERE w.owner = open.owner AND w.currency = open.currency;
  END IF;
  RETURN wid;
END $$;

CREATE FUNCTION wallet._balance(wid bigint, scene text,
  OUT wallet_id bigint, OUT currency text, OUT cash numeric, OUT bonus numeric, OUT earnings numeric,
  OUT held numeric, OUT available numeric, OUT withdrawable numeric, OUT frozen boolean)
  RETURNS SETOF record
  LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  w wallet.wallet;
  t record;
  pend bigint;
BEGIN
  IF _balance.wid IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = _balance.wid;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', _balance.wid));
  END IF;
  PERFORM wallet._text(_balance.scene, 'scene', 64);
  t := wallet.lots_totals(w.lots, _balance.scene, wallet.clock());
  pend := wallet._pending(w.wallet_id);
  RETURN QUERY SELECT w.wallet_id, w.currency,
    wallet.to_major(t.cash, w.exponent), wallet.to_major(t.bonus, w.exponent),
    wallet.to_major(t.earnings + pend, w.exponent), wallet.to_major(t.held, w.exponent),
    wallet.to_major(t.cash + t.bonus + t.earnings + pend, w.exponent),
    wallet.to_major(t.earnings + pend, w.exponent), w.frozen;
END $$;

CREATE FUNCTION wallet.balance(wallet_id bigint, scene text DEFAULT NULL)
  RETURNS TABLE (wallet_id bigint, currency text, cash numeric, bonus numeric, earnings numeric,
                 held numeric, available numeric, withdrawable numeric, frozen boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp
  AS $$ SELECT * FROM wallet._balance($1, $2) $$;

CREATE FUNCTION wallet.lots(wallet_id bigint)
  RETURNS TABLE (lot_id int, bucket text, amount numeric, source_txn bigint, granted_at timestamptz,
                 expires_at timestamptz, scope text[], held numeric, refundable_until timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  w wallet.wallet;
  clk timestamptz := wallet.clock();
BEGIN
  IF lots.wallet_id IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = lots.wallet_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', lots.wallet_id));
  END IF;
  RETURN QUERY
    SELECT l.lot_id, l.bucket, wallet.to_major(l.amount, w.exponent), l.source_txn, l.granted_at,
           CASE WHEN l.bucket = 'bonus' THEN l.until END, l.scope,
           wallet.to_major(l.held, w.exponent),
           CASE WHEN l.bucket = 'cash' AND l.until > clk THEN l.until END
      FROM wallet.lots_list(w.lots) l
     WHERE (l.amount > 0 OR l.held > 0)
       AND NOT (l.bucket = 'bonus' AND coalesce(l.until <= clk, false) AND l.held = 0)
     ORDER BY l.lot_id;
END $$;

CREATE FUNCTION wallet.freeze(wallet_id bigint, reason text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  w wallet.wallet := wallet._lock($1);
BEGIN
  PERFORM wallet._text($2, 'reason', 1000, true);
  UPDATE wallet.wallet x SET frozen = true, frozen_reason = $2, version = x.version + 1
   WHERE x.wallet_id = w.wallet_id;
  INSERT INTO wallet.txn (wallet_id, kind, currency, created_at, request)
  VALUES (w.wallet_id, 'freeze', w.currency, wallet.clock(),
          jsonb_build_object('reason', $2, 'by', session_user));
END $$;

CREATE FUNCTION wallet.unfreeze(wallet_id bigint) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  w wallet.wallet := wallet._lock($1);
BEGIN
  UPDATE wallet.wallet x SET frozen = false, frozen_reason = NULL, version = x.version + 1
   WHERE x.wallet_id = w.wallet_id;
  INSERT INTO wallet.txn (wallet_id, kind, currency, created_at, request)
  VALUES (w.wallet_id, 'unfreeze', w.currency, wallet.clock(), jsonb_build_object('by', session_user));
END $$;

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

-- top_up is C (src/ops.c): one cash lot, one bonus lot per rule group.
CREATE FUNCTION wallet.top_up(wallet_id bigint, amount numeric, idempotency_key text,
                              method text DEFAULT NULL, external_ref text DEFAULT NULL,
                              OUT txn_id bigint, OUT bonus numeric, OUT replayed boolean,
                              OUT coupons text[])
  AS 'MODULE_PATHNAME', 'wallet_top_up'
  LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp;

------------------------------------------------------------------------------
-- Spending
------------------------------------------------------------------------------
-- spend is C (src/ops.c): bonus first, then cash, then earnings; payee
-- credits go to wallet.payee_credit so a popular payee's row is never hot.
CREATE FUNCTION wallet.spend(wallet_id bigint, amount numeric, idempotency_key text,
                             scene text DEFAULT NULL, coupon text DEFAULT NULL,
                             allow_partial boolean DEFAULT false, payee bigint DEFAULT NULL,
                             order_ref text DEFAULT NULL,
                             OUT txn_id bigint, OUT charged numeric, OUT discount numeric,
                             OUT bonus_used numeric, OUT cash_used numeric, OUT earnings_used numeric,
                             OUT shortfall numeric, OUT replayed boolean)
  AS 'MODULE_PATHNAME', 'wallet_spend'
  LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp;

CREATE FUNCTION wallet.reverse_spend(spend_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, bonus_returned numeric, cash_returned numeric, earnings_returned numeric,
                 replayed boolean, bonus_written_off numeric, bonus_to_cash numeric, coupon_restored boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  k text := wallet._key(reverse_spend.idempotency_key);
  sp wallet.txn;
  w wallet.wallet;
  pw wallet.wallet;
  payee_id bigint;
  clk timestamptz := wallet.clock();
  req jsonb;
  prior jsonb;
  x bigint;
  charged bigint;
  done bigint;
  remaining wallet.lotset;
  prev record;
  portion wallet.lotset;
  share record;
  r record;
  payee_total bigint;
  payee_done bigint;
  payee_back bigint := 0;
  tk record;
  tid bigint;
  legs wallet.posting[];
  res jsonb;
  discount bigint;
  restored boolean := false;
  blocked bigint;
BEGIN
  IF reverse_spend.spend_txn_id IS NULL THEN
    PERFORM wallet._fail('22023', 'spend_txn_id must not be null');
  END IF;
  SELECT * INTO sp FROM wallet.txn t WHERE t.txn_id = reverse_spend.spend_txn_id AND t.kind = 'spend';
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('spend %s does not exist', reverse_spend.spend_txn_id));
  END IF;
  payee_id := (sp.result->>'payee')::bigint;
  -- lock both wallets in wallet-id order
  IF payee_id IS NOT NULL AND payee_id < sp.wallet_id THEN
    pw := wallet._lock(payee_id);
  END IF;
  w := wallet._lock(sp.wallet_id);
  IF payee_id IS NOT NULL AND payee_id > sp.wallet_id THEN
    pw := wallet._lock(payee_id);
  END IF;

  IF reverse_spend.amount IS NOT NULL THEN
    x := wallet.to_minor(reverse_spend.amount, w.exponent, 'amount');
  END IF;
  req := jsonb_build_object('spend_txn_id', sp.txn_id, 'amount', x);
  prior := wallet._replay(w.wallet_id, k, 'reverse_spend', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint,
      wallet.to_major((prior->>'bonus_returned')::bigint, w.exponent),
      wallet.to_major((prior->>'cash_returned')::bigint, w.exponent),
      wallet.to_major((prior->>'earnings_returned')::bigint, w.exponent), true,
      wallet.to_major((prior->>'bonus_written_off')::bigint, w.exponent),
      wallet.to_major((prior->>'bonus_to_cash')::bigint, w.exponent),
      coalesce((prior->>'coupon_restored')::boolean, false);
    RETURN;
  END IF;

  charged := (sp.result->>'charged')::bigint;
  remaining := sp.pieces;
  done := 0;
  payee_done := 0;
  FOR prev IN SELECT t.amount, t.pieces, t.result FROM wallet.txn t
               WHERE t.ref_txn = sp.txn_id AND t.kind = 'reverse_spend' ORDER BY t.txn_id LOOP
    done := done + prev.amount;
    payee_done := payee_done + coalesce((prev.result->>'payee_back')::bigint, 0);
    remaining := wallet.lots_minus(remaining, prev.pieces);
  END LOOP;
  discount := coalesce((sp.result->>'discount')::bigint, 0);
  IF x IS NULL THEN
    x := charged - done;
    -- a spend a coupon paid in full charged nothing, yet reversing it gives the coupon back
    IF x <= 0 AND NOT (discount > 0 AND NOT EXISTS (
        SELECT 1 FROM wallet.txn t WHERE t.ref_txn = sp.txn_id AND t.kind = 'reverse_spend')) THEN
      PERFORM wallet._fail('WL008', format('spend %s has nothing left to reverse', sp.txn_id));
    END IF;
  ELSIF x > charged - done THEN
    PERFORM wallet._fail('WL008', 'reversal exceeds what is left unreversed',
      format('Spend %s charged %s; %s is left to reverse.', sp.txn_id,
             wallet.to_major(charged, w.exponent), wallet.to_major(charged - done, w.exponent)));
  END IF;

  portion := CASE WHEN x = 0 THEN wallet.lots_empty() ELSE wallet.reversal_split(remaining, (sp.result->>'bonus_used')::bigint,
                                   (sp.result->>'cash_used')::bigint,
                                   (sp.result->>'earnings_used')::bigint, x) END;
  -- bonus of a top-up whose refund is still open cannot come back now: whether the
  -- refund's clawback stands (bonus back as cash) or not (back as bonus) is not known yet
  SELECT r.topup_txn INTO blocked
    FROM wallet.lots_list(portion) l
    JOIN wallet.refund r ON r.topup_txn = l.source_txn AND r.wallet_id = w.wallet_id
   WHERE l.bucket = 'bonus' AND r.status IN ('pending', 'approved')
   LIMIT 1;
  IF blocked IS NOT NULL THEN
    PERFORM wallet._fail('WL008', format('a refund of top-up %s is in progress', blocked),
      'The reversal would give back bonus of that top-up.',
      'Settle, reject or fail the refund first, then reverse the spend.');
  END IF;
  SELECT coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'bonus'), 0)::bigint AS bonus,
         coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'cash'), 0)::bigint AS cash,
         coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'earnings'), 0)::bigint AS earnings
    INTO share FROM wallet.lots_list(portion) l;
  r := wallet.lots_reverse(w.lots, portion, clk);

  tid := nextval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
  legs := wallet._legs(ROW('wallet', w.wallet_id, 'bonus', r.bonus)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'cash', r.cash)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'earnings', r.earnings)::wallet.posting,
                       ROW('breakage', NULL, NULL, r.breakage)::wallet.posting);
  IF payee_id IS NULL THEN
    legs := legs || wallet._legs(ROW('revenue', NULL, NULL, -x)::wallet.posting);
  ELSE
    -- the payee gives back its credit in the same proportion, rounded half away
    -- from zero on the running total (so all of it at the end)
    payee_total := (sp.result->>'payee_credit')::bigint;
    IF done + x = charged THEN
      payee_back := payee_total - payee_done;
    ELSE
      payee_back := round(payee_total::numeric * (done + x) / charged)::bigint - payee_done;
    END IF;
    IF payee_back > 0 THEN
      IF pw.frozen THEN
        PERFORM wallet._fail('WL002', format('payee wallet %s is frozen', pw.wallet_id), pw.frozen_reason);
      END IF;
      tk := wallet.lots_take(wallet._rollup(pw.wallet_id, pw.lots, clk), 'earnings', payee_back, clk);
      IF tk.taken < payee_back THEN
        PERFORM wallet._fail('WL001', 'insufficient funds',
          format('Payee wallet %s has %s of earnings; the reversal takes back %s.', pw.wallet_id,
                 wallet.to_major(tk.taken, pw.exponent), wallet.to_major(payee_back, pw.exponent)));
      END IF;
      PERFORM wallet._save(pw.wallet_id, tk.lots);
    END IF;
    legs := legs || wallet._legs(ROW('wallet', payee_id, 'earnings', -payee_back)::wallet.posting,
                                 ROW('commission', NULL, NULL, -(x - payee_back))::wallet.posting);
  END IF;

  -- the full reversal undoes the coupon: its discount, and the coupon itself while still valid
  IF done + x = charged AND discount > 0 THEN
    legs := legs || wallet._legs(ROW('revenue', NULL, NULL, -discount)::wallet.posting,
                                 ROW('coupon_expense', NULL, NULL, discount)::wallet.posting);
    -- the coupon is given back; past its validity it shows as expired, not usable
    UPDATE wallet.coupon c SET redeemed_txn = NULL, redeemed_at = NULL, discount = NULL
     WHERE c.redeemed_txn = sp.txn_id
    RETURNING c.valid_until IS NULL OR c.valid_until > clk INTO restored;
    restored := coalesce(restored, false);
  END IF;
  res := jsonb_build_object('txn_id', tid, 'bonus_returned', share.bonus, 'cash_returned', share.cash,
                            'earnings_returned', share.earnings, 'bonus_written_off', r.breakage,
                            'bonus_to_cash', r.bonus_to_cash, 'payee_back', payee_back,
                            'coupon_restored', restored);
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn,
                          request, result, postings, pieces)
  VALUES (tid, w.wallet_id, 'reverse_spend', x, w.currency, clk, k, sp.txn_id, req, res, legs, portion);
  PERFORM wallet._save(w.wallet_id, r.lots);
  RETURN QUERY SELECT tid, wallet.to_major(share.bonus, w.exponent), wallet.to_major(share.cash, w.exponent),
    wallet.to_major(share.earnings, w.exponent), false, wallet.to_major(r.breakage, w.exponent),
    wallet.to_major(r.bonus_to_cash, w.exponent), restored;
END $$;

------------------------------------------------------------------------------
-- Refunds of a top-up
------------------------------------------------------------------------------

-- _topup returns a top-up transaction, or raises WL006.
CREATE FUNCTION wallet._topup(tid bigint) RETURNS wallet.txn
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  t wallet.txn;
BEGIN
  IF tid IS NULL THEN PERFORM wallet._fail('22023', 'topup_txn_id must not be null'); END IF;
  SELECT * INTO t FROM wallet.txn x WHERE x.txn_id = tid AND x.kind = 'top_up';
  IF NOT FOUND THEN PERFORM wallet._fail('WL006', format('top-up %s does not exist', tid)); END IF;
  RETURN t;
END $$;

-- _reason checks a refund reason.
CREATE FUNCTION wallet._reason(reason text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF reason IS NULL OR reason NOT IN ('user', 'platform') THEN
    PERFORM wallet._fail('22023', 'reason must be ''user'' or ''platform''',
                         format('Got %s.', coalesce(quote_literal(left(reason, 50)), 'NULL')));
  END IF;
  RETURN reason;
END $$;

-- _fee_rate is the refund fee rate of a top-up for a reason.
CREATE FUNCTION wallet._fee_rate(t wallet.txn, reason text) RETURNS numeric
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN reason = 'platform' THEN 0::numeric
              ELSE least((wallet._policy(t.currency)).refund_fee_rate
                         + coalesce((t.result->>'campaign_fee_rate')::numeric, 0), 1) END
$$;

CREATE FUNCTION wallet.refund_quote(topup_txn_id bigint, reason text DEFAULT 'user')
  RETURNS TABLE (max_amount numeric, bonus_clawback numeric, bonus_void numeric, fee_rate numeric,
                 refundable_until timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  t wallet.txn := wallet._topup(refund_quote.topup_txn_id);
  w wallet.wallet;
  i record;
BEGIN
  PERFORM wallet._reason(refund_quote.reason);
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = t.wallet_id;
  i := wallet.lots_refund_info(w.lots, t.txn_id, wallet.clock());
  RETURN QUERY SELECT wallet.to_major(greatest(i.cash - i.owed, 0), w.exponent),
    wallet.to_major(CASE WHEN i.cash - i.owed > 0 THEN i.owed ELSE 0 END, w.exponent),
    wallet.to_major(CASE WHEN i.cash - i.owed > 0 THEN i.bonus_live ELSE 0 END, w.exponent),
    wallet._fee_rate(t, refund_quote.reason),
    coalesce(i.refundable_until, (t.result->>'refundable_until')::timestamptz);
END $$;

CREATE FUNCTION wallet._request_refund(topup_txn_id bigint, idempotency_key text, amount_in numeric,
                                       reason text, note text,
  OUT refund_id bigint, OUT amount numeric, OUT fee numeric, OUT net numeric, OUT bonus_clawback numeric,
  OUT bonus_void numeric, OUT status text, OUT replayed boolean)
  RETURNS SETOF record
  LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  k text := wallet._key(_request_refund.idempotency_key);
  t wallet.txn := wallet._topup(_request_refund.topup_txn_id);
  w wallet.wallet := wallet._lock(t.wallet_id);
  clk timestamptz := wallet.clock();
  pol wallet.policy := wallet._policy(w.currency);
  req jsonb;
  prior jsonb;
  amt bigint;
  i record;
  h record;
  fee_m bigint;
  st text;
  rid bigint;
  tid bigint;
  recent int;
  legs wallet.posting[];
BEGIN
  PERFORM wallet._reason(_request_refund.reason);
  PERFORM wallet._text(_request_refund.note, 'note', 1000);
  IF _request_refund.amount_in IS NOT NULL THEN
    amt := wallet.to_minor(_request_refund.amount_in, w.exponent, 'amount');
  END IF;
  req := jsonb_build_object('topup_txn_id', t.txn_id, 'amount', amt, 'reason', _request_refund.reason,
                            'note', _request_refund.note);
  prior := wallet._replay(w.wallet_id, k, 'request_refund', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT r.refund_id, wallet.to_major(r.amount, w.exponent), wallet.to_major(r.fee, w.exponent),
      wallet.to_major(r.net, w.exponent), wallet.to_major(r.clawback, w.exponent),
      wallet.to_major(r.bonus_void, w.exponent), (prior->>'status'), true
      FROM wallet.refund r WHERE r.refund_id = (prior->>'refund_id')::bigint;
    RETURN;
  END IF;
  IF w.frozen THEN
    PERFORM wallet._fail('WL002', format('wallet %s is frozen', w.wallet_id), w.frozen_reason);
  END IF;

  tid := nextval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
  -- beyond the per-wallet limit the attempt is recorded, rejected, and flagged
  SELECT count(*) INTO recent FROM wallet.refund r
   WHERE r.wallet_id = w.wallet_id AND r.requested_at > clk - interval '30 days'
     AND r.requested_at <= clk AND r.reviewer IS DISTINCT FROM 'limit';
  IF recent >= pol.max_refunds_per_30_days THEN
    INSERT INTO wallet.refund (wallet_id, topup_txn, request_txn, reason, amount, fee, net, clawback,
                               bonus_void, status, note, reviewer, review_note, requested_at, reviewed_at)
    VALUES (w.wallet_id, t.txn_id, tid, _request_refund.reason, coalesce(amt, 0), 0, 0, 0, 0, 'rejected',
            _request_refund.note, 'limit',
            format('%s refund requests in 30 days; the limit is %s', recent, pol.max_refunds_per_30_days),
            clk, clk)
    RETURNING refund_id INTO rid;
    INSERT INTO wallet.risk_flag (wallet_id, kind, detail, created_at)
    VALUES (w.wallet_id, 'refund_limit',
            format('refund request %s beyond %s per 30 days', rid, pol.max_refunds_per_30_days), clk);
    INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn,
                            request, result)
    VALUES (tid, w.wallet_id, 'request_refund', 0, w.currency, clk, k, t.txn_id, req,
            jsonb_build_object('refund_id', rid, 'status', 'rejected'));
    RETURN QUERY SELECT rid, wallet.to_major(coalesce(amt, 0), w.exponent), wallet.to_major(0, w.exponent),
      wallet.to_major(0, w.exponent), wallet.to_major(0, w.exponent), wallet.to_major(0, w.exponent),
      'rejected'::text, false;
    RETURN;
  END IF;

  IF EXISTS (SELECT 1 FROM wallet.refund r WHERE r.topup_txn = t.txn_id AND r.status IN ('pending', 'approved')) THEN
    PERFORM wallet._fail('WL008', format('a refund of top-up %s is already in progress', t.txn_id),
                         hint => 'Settle, reject or fail it first.');
  END IF;
  i := wallet.lots_refund_info(w.lots, t.txn_id, clk);
  IF NOT i.found THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: the refund window has closed',
      format('Top-up %s was refundable until %s.', t.txn_id, t.result->>'refundable_until'));
  END IF;
  IF i.cash - i.owed <= 0 THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: nothing is refundable',
      format('Top-up %s has %s of cash left and %s of its bonus spent.', t.txn_id,
             wallet.to_major(i.cash, w.exponent), wallet.to_major(i.owed, w.exponent)));
  END IF;
  IF amt IS NULL THEN
    amt := i.cash - i.owed;
  ELSIF amt > i.cash - i.owed THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: amount above what is refundable',
      format('At most %s of top-up %s is refundable.', wallet.to_major(i.cash - i.owed, w.exponent), t.txn_id));
  END IF;

  fee_m := least(wallet.rate_amount(amt, wallet._fee_rate(t, _request_refund.reason)), amt);
  h := wallet.lots_refund_hold(w.lots, t.txn_id, amt + i.owed, i.owed, clk);
  -- net at or below the auto-approve limit (compared exactly, in minor units) needs no review
  st := CASE WHEN amt - fee_m <= floor(pol.refund_auto_approve_max * (10::numeric ^ w.exponent))
             THEN 'approved' ELSE 'pending' END;
  INSERT INTO wallet.refund (wallet_id, topup_txn, request_txn, reason, amount, fee, net, clawback, bonus_void,
                             status, note, requested_at, reviewer, reviewed_at)
  VALUES (w.wallet_id, t.txn_id, tid, _request_refund.reason, amt, fee_m, amt - fee_m, i.owed, h.bonus_held,
          st, _request_refund.note, clk, CASE WHEN st = 'approved' THEN 'auto' END,
          CASE WHEN st = 'approved' THEN clk END)
  RETURNING refund_id INTO rid;
  legs := wallet._legs(ROW('wallet', w.wallet_id, 'cash', -(amt + i.owed))::wallet.posting,
                       ROW('wallet', w.wallet_id, 'bonus', -h.bonus_held)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'held', amt + i.owed + h.bonus_held)::wallet.posting);
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn,
                          request, result, postings)
  VALUES (tid, w.wallet_id, 'request_refund', amt, w.currency, clk, k, t.txn_id, req,
          jsonb_build_object('refund_id', rid, 'status', st), legs);
  PERFORM wallet._save(w.wallet_id, h.lots);
  RETURN QUERY SELECT rid, wallet.to_major(amt, w.exponent), wallet.to_major(fee_m, w.exponent),
    wallet.to_major(amt - fee_m, w.exponent), wallet.to_major(i.owed, w.exponent),
    wallet.to_major(h.bonus_held, w.exponent), st, false;
END $$;

CREATE FUNCTION wallet.request_refund(topup_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL,
                                      reason text DEFAULT 'user', note text DEFAULT NULL)
  RETURNS TABLE (refund_id bigint, amount numeric, fee numeric, net numeric, bonus_clawback numeric,
                 bonus_void numeric, status text, replayed boolean)
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp
  AS $$ SELECT * FROM wallet._request_refund($1, $2, $3, $4, $5) $$;

-- _refund_move ends a refund's hold (release or settle), journals it and sets its status.
CREATE FUNCTION wallet._refund_move(rid bigint, kind text, new_status text, release boolean,
                                    extra jsonb) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  r wallet.refund;
  w wallet.wallet;
  clk timestamptz := wallet.clock();
  ls wallet.lotset;
  take bigint;
  legs wallet.posting[];
BEGIN
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = rid;
  w := wallet._lock(r.wallet_id);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = rid FOR UPDATE;
  take := r.amount + r.clawback;
  IF release THEN
    ls := wallet.lots_refund_release(w.lots, r.topup_txn, take, r.clawback, r.bonus_void, clk);
    legs := wallet._legs(ROW('wallet', w.wallet_id, 'held', -(take + r.bonus_void))::wallet.posting,
                         ROW('wallet', w.wallet_id, 'cash', take)::wallet.posting,
                         ROW('wallet', w.wallet_id, 'bonus', r.bonus_void)::wallet.posting);
  ELSE
    ls := wallet.lots_refund_settle(w.lots, r.topup_txn, take, r.clawback, r.bonus_void, clk);
    legs := wallet._legs(ROW('wallet', w.wallet_id, 'held', -(take + r.bonus_void))::wallet.posting,
                         ROW('refund_payout', NULL, NULL, r.net)::wallet.posting,
                         ROW('fee_income', NULL, NULL, r.fee)::wallet.posting,
                         ROW('bonus_expense', NULL, NULL, r.clawback + r.bonus_void)::wallet.posting);
  END IF;
  INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, ref_txn, request, result, postings)
  VALUES (w.wallet_id, kind, r.amount, w.currency, clk, r.topup_txn,
          extra || jsonb_build_object('refund_id', rid), jsonb_build_object('status', new_status), legs);
  PERFORM wallet._save(w.wallet_id, ls);
  RETURN new_status;
END $$;

CREATE FUNCTION wallet.review_refund(refund_id bigint, approve boolean, reviewer text, note text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  r wallet.refund;
  clk timestamptz := wallet.clock();
BEGIN
  IF review_refund.refund_id IS NULL THEN PERFORM wallet._fail('22023', 'refund_id must not be null'); END IF;
  IF review_refund.approve IS NULL THEN PERFORM wallet._fail('22023', 'approve must not be null'); END IF;
  PERFORM wallet._text(review_refund.reviewer, 'reviewer', 200, true);
  PERFORM wallet._text(review_refund.note, 'note', 1000);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = review_refund.refund_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('refund %s does not exist', review_refund.refund_id));
  END IF;
  PERFORM wallet._lock(r.wallet_id);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = review_refund.refund_id FOR UPDATE;
  IF r.status = 'pending' THEN
    IF review_refund.approve THEN
      INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, ref_txn, request, result)
      SELECT r.wallet_id, 'review_refund', r.amount, w.currency, clk, r.topup_txn,
             jsonb_build_object('refund_id', r.refund_id, 'approve', true, 'reviewer', review_refund.reviewer),
             jsonb_build_object('status', 'approved')
        FROM wallet.wallet w WHERE w.wallet_id = r.wallet_id;
    ELSE
      PERFORM wallet._refund_move(r.refund_id, 'review_refund', 'rejected', true,
        jsonb_build_object('approve', false, 'reviewer', review_refund.reviewer));
    END IF;
    UPDATE wallet.refund x
       SET status = CASE WHEN review_refund.approve THEN 'approved' ELSE 'rejected' END,
           reviewer = review_refund.reviewer, review_note = review_refund.note, reviewed_at = clk
     WHERE x.refund_id = r.refund_id;
    RETURN CASE WHEN review_refund.approve THEN 'approved' ELSE 'rejected' END;
  END IF;
  IF review_refund.approve AND r.status IN ('approved', 'succeeded', 'failed') THEN
    RETURN r.status;
  END IF;
  IF NOT review_refund.approve AND r.status = 'rejected' THEN
    RETURN r.status;
  END IF;
  PERFORM wallet._fail('WL008', format('refund %s is %s', r.refund_id, r.status),
    format('It cannot be %s now.', CASE WHEN review_refund.approve THEN 'approved' ELSE 'rejected' END));
  RETURN NULL;
END $$;

CREATE FUNCTION wallet.settle_refund(refund_id bigint, succeeded boolean, gateway_ref text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  r wallet.refund;
  target text;
BEGIN
  IF settle_refund.refund_id IS NULL THEN PERFORM wallet._fail('22023', 'refund_id must not be null'); END IF;
  IF settle_refund.succeeded IS NULL THEN PERFORM wallet._fail('22023', 'succeeded must not be null'); END IF;
  PERFORM wallet._text(settle_refund.gateway_ref, 'gateway_ref', 200);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = settle_refund.refund_id;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('refund %s does not exist', settle_refund.refund_id));
  END IF;
  PERFORM wallet._lock(r.wallet_id);
  SELECT * INTO r FROM wallet.refund x WHERE x.refund_id = settle_refund.refund_id FOR UPDATE;
  target := CASE WHEN settle_refund.succeeded THEN 'succeeded' ELSE 'failed' END;
  IF r.status = target THEN
    RETURN r.status;
  END IF;
  IF r.status <> 'approved' THEN
    PERFORM wallet._fail('WL008', format('refund %s is %s', r.refund_id, r.status),
                         'Only an approved refund can be settled.');
  END IF;
  PERFORM wallet._refund_move(r.refund_id, 'settle_refund', target, NOT settle_refund.succeeded,
    jsonb_build_object('succeeded', settle_refund.succeeded, 'gateway_ref', settle_refund.gateway_ref));
  UPDATE wallet.refund x SET status = target, gateway_ref = settle_refund.gateway_ref,
         settled_at = wallet.clock()
   WHERE x.refund_id = r.refund_id;
  RETURN target;
END $$;

------------------------------------------------------------------------------
-- Expiry and payee roll-up sweeps
------------------------------------------------------------------------------
CREATE FUNCTION wallet.expire_bonus(batch_size int DEFAULT 10000)
  RETURNS TABLE (wallets int, lots int)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  clk timestamptz := wallet.clock();
  w record;
  e record;
  nw int := 0;
  nl int := 0;
BEGIN
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    PERFORM wallet._fail('22023', 'batch_size must be between 1 and 1000000');
  END IF;
  FOR w IN SELECT x.wallet_id, x.currency, x.lots FROM wallet.wallet x
            WHERE x.next_expiry <= clk
            ORDER BY x.next_expiry LIMIT batch_size
            FOR UPDATE SKIP LOCKED LOOP
    e := wallet.lots_expire(w.lots, clk);
    IF e.expired > 0 THEN
      INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, result, postings)
      VALUES (w.wallet_id, 'expire_bonus', e.expired, w.currency, clk,
              jsonb_build_object('lots', e.lots_expired),
              ARRAY[ROW('wallet', w.wallet_id, 'bonus', -e.expired)::wallet.posting,
                    ROW('breakage', NULL, NULL, e.expired)::wallet.posting]);
      nw := nw + 1;
      nl := nl + e.lots_expired;
    END IF;
    PERFORM wallet._save(w.wallet_id, e.lots);
  END LOOP;
  RETURN QUERY SELECT nw, nl;
END $$;

CREATE FUNCTION wallet.rollup_credits(batch_size int DEFAULT 10000) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  clk timestamptz := wallet.clock();
  w record;
  n int := 0;
BEGIN
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    PERFORM wallet._fail('22023', 'batch_size must be between 1 and 1000000');
  END IF;
  FOR w IN SELECT x.wallet_id, x.lots FROM wallet.wallet x
            WHERE x.wallet_id IN (SELECT DISTINCT c.wallet_id FROM wallet.payee_credit c LIMIT batch_size)
            FOR UPDATE SKIP LOCKED LOOP
    PERFORM wallet._save(w.wallet_id, wallet._rollup(w.wallet_id, w.lots, clk));
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

CREATE VIEW wallet.expiring_bonus AS
  SELECT w.wallet_id, w.owner, w.currency, l.lot_id, wallet.to_major(l.amount, w.exponent) AS amount,
         l.until AS expires_at, l.scope, l.source_txn
    FROM wallet.wallet w
    LEFT JOIN wallet.policy p ON p.currency = w.currency
   CROSS JOIN LATERAL wallet.lots_list(w.lots) l
   WHERE w.next_expiry IS NOT NULL
     AND w.next_expiry <= wallet.clock() + coalesce(p.remind_before, interval '3 days')
     AND l.bucket = 'bonus' AND l.amount > 0
     AND l.until > wallet.clock() AND l.until <= wallet.clock() + coalesce(p.remind_before, interval '3 days');
COMMENT ON VIEW wallet.expiring_bonus IS 'live bonus lots expiring within their currency''s remind_before, for reminders';

------------------------------------------------------------------------------
-- Coupons
------------------------------------------------------------------------------
CREATE FUNCTION wallet.coupon_code_new() RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_coupon_code_new' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION wallet.coupon_code_new() IS 'a fresh coupon code: 84 random bits, a check symbol, grouped by six';
CREATE FUNCTION wallet.coupon_code_check(code text) RETURNS text
  AS 'MODULE_PATHNAME', 'wallet_coupon_code_check' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION wallet.coupon_code_check(text) IS 'the canonical form of a well-formed code, NULL for a mistyped one';

-- _coupon_template_check refuses template amounts finer than the currency and malformed scopes.
CREATE FUNCTION wallet._coupon_template_check() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  e int := wallet._exponent(NEW.currency);
BEGIN
  IF NEW.kind = 'amount' THEN PERFORM wallet._check_money(NEW.value, e, 'value'); END IF;
  PERFORM wallet._check_money(NEW.max_discount, e, 'max_discount');
  PERFORM wallet._check_money(NEW.min_order, e, 'min_order');
  PERFORM wallet._check_money(NEW.issue_min_top_up, e, 'issue_min_top_up');
  PERFORM wallet._check_scope(NEW.scope);
  RETURN NEW;
END $$;
CREATE TRIGGER coupon_template_check BEFORE INSERT OR UPDATE ON wallet.coupon_template
  FOR EACH ROW EXECUTE FUNCTION wallet._coupon_template_check();

-- _coupon_until is when a coupon issued at clk stops being valid: valid_for
-- counts from when it becomes valid, and never past the template's end.
CREATE FUNCTION wallet._coupon_until(t wallet.coupon_template, clk timestamptz) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN t.valid_for IS NULL THEN t.valid_until
              ELSE least(t.valid_until, greatest(clk, t.valid_from) + t.valid_for) END
$$;

-- _coupon_status is a coupon's status at clk.
CREATE FUNCTION wallet._coupon_status(c wallet.coupon, clk timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN c.redeemed_txn IS NOT NULL THEN 'redeemed'
              WHEN c.valid_until <= clk THEN 'expired'
              ELSE 'available' END
$$;

-- _coupon_check validates a coupon for a wallet, an order (minor units) and a
-- scene at clk, and returns (valid, discount in minor units, reason, canonical code).
-- Another wallet's code is reported exactly as an unknown one.
CREATE FUNCTION wallet._coupon_check(code text, wid bigint, cur text, e int, order_minor bigint,
                                     scene text, clk timestamptz,
                                     OUT valid boolean, OUT discount bigint, OUT reason text,
                                     OUT canonical text)
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  c wallet.coupon;
  t wallet.coupon_template;
  d bigint;
BEGIN
  valid := false;
  discount := 0;
  canonical := wallet.coupon_code_check(code);
  IF canonical IS NULL THEN reason := 'mistyped'; RETURN; END IF;
  SELECT * INTO c FROM wallet.coupon x WHERE x.code = canonical AND x.wallet_id = wid;
  IF NOT FOUND THEN reason := 'unknown'; RETURN; END IF;
  SELECT * INTO t FROM wallet.coupon_template x WHERE x.template_id = c.template_id;
  IF t.currency <> cur THEN reason := 'wrong currency'; RETURN; END IF;
  IF c.redeemed_txn IS NOT NULL THEN reason := 'already used'; RETURN; END IF;
  IF c.valid_from > clk THEN reason := 'not yet valid'; RETURN; END IF;
  IF c.valid_until <= clk THEN reason := 'expired'; RETURN; END IF;
  IF t.scope IS NOT NULL AND (scene IS NULL OR NOT scene = ANY (t.scope)) THEN
    reason := 'wrong scene'; RETURN;
  END IF;
  IF order_minor < t.min_order * (10::numeric ^ e) THEN reason := 'below minimum order'; RETURN; END IF;
  IF (SELECT count(*) FROM wallet.coupon x
       WHERE x.wallet_id = wid AND x.template_id = t.template_id AND x.redeemed_txn IS NOT NULL)
     >= t.per_wallet_limit THEN
    reason := 'limit reached'; RETURN;
  END IF;
  IF t.kind = 'amount' THEN
    d := (t.value * (10::numeric ^ e))::bigint;
  ELSE
    -- percent off, half away from zero, capped by max_discount
    d := wallet.rate_amount(order_minor, t.value / 100);
    IF t.max_discount IS NOT NULL THEN
      d := least(d, (t.max_discount * (10::numeric ^ e))::bigint);
    END IF;
  END IF;
  valid := true;
  discount := least(d, order_minor);
END $$;

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
   WHERE c.code = canonical AND c.wallet_id = wid AND c.redeemed_txn IS NULL;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL005', 'coupon not valid', 'already used');
  END IF;
END $$;

-- _issue issues one coupon of a template to a locked wallet with an idempotency
-- key: the code, the earlier code on a replay, or NULL when a limit is reached
-- and quiet is set (automatic issuance); WL007 at a limit otherwise.
CREATE FUNCTION wallet._issue(tid text, w wallet.wallet, k text, clk timestamptz, quiet boolean) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  t wallet.coupon_template;
  req jsonb := jsonb_build_object('template_id', tid);
  prior jsonb := wallet._replay(w.wallet_id, k, 'issue_coupon', req);
  n int;
  code text;
  txn bigint;
BEGIN
  IF prior IS NOT NULL THEN RETURN prior->>'code'; END IF;
  SELECT * INTO t FROM wallet.coupon_template x WHERE x.template_id = tid;
  IF NOT FOUND THEN PERFORM wallet._fail('WL006', format('coupon template "%s" does not exist', tid)); END IF;
  IF t.currency <> w.currency THEN
    PERFORM wallet._fail('22023', format('coupon template "%s" is for %s, wallet %s holds %s',
                                         tid, t.currency, w.wallet_id, w.currency));
  END IF;
  IF t.valid_until <= clk THEN
    PERFORM wallet._fail('WL008', format('coupon template "%s" has expired', tid));
  END IF;
  SELECT count(*) INTO n FROM wallet.coupon c WHERE c.wallet_id = w.wallet_id AND c.template_id = tid;
  IF n >= t.per_wallet_limit THEN
    IF quiet THEN RETURN NULL; END IF;
    PERFORM wallet._fail('WL007', 'limit exceeded',
      format('Wallet %s already has %s coupon(s) of "%s"; the limit per wallet is %s.', w.wallet_id, n, tid,
             t.per_wallet_limit));
  END IF;
  -- only a template with a total limit keeps a counter; its row serializes issuance
  IF t.total_limit IS NOT NULL THEN
    UPDATE wallet.coupon_template x SET issued = x.issued + 1
     WHERE x.template_id = tid AND x.issued < x.total_limit;
    IF NOT FOUND THEN
      IF quiet THEN RETURN NULL; END IF;
      PERFORM wallet._fail('WL007', 'limit exceeded',
        format('All %s coupons of "%s" have been issued.', t.total_limit, tid));
    END IF;
  END IF;
  code := wallet.coupon_code_new();
  txn := nextval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
  INSERT INTO wallet.coupon (code, template_id, wallet_id, valid_from, valid_until, issued_at, issue_txn)
  VALUES (code, tid, w.wallet_id, t.valid_from,
          wallet._coupon_until(t, clk),
          clk, txn);
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, currency, created_at, idempotency_key, request, result)
  VALUES (txn, w.wallet_id, 'issue_coupon', w.currency, clk, k, req, jsonb_build_object('code', code));
  RETURN code;
END $$;

CREATE FUNCTION wallet.issue_coupon(template_id text, wallet_id bigint, idempotency_key text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  k text := wallet._key($3);
BEGIN
  PERFORM wallet._text($1, 'template_id', 64, true);
  RETURN wallet._issue($1, wallet._lock($2), k, wallet.clock(), false);
END $$;

-- issue_coupons issues a template to many wallets in one call, set-based; the
-- key is each wallet's own, so a repeated call returns the codes already
-- issued. A wallet at its limit, or past the template's total limit (taken in
-- wallet-id order), gets no code (NULL).
CREATE FUNCTION wallet.issue_coupons(template_id text, wallet_ids bigint[], idempotency_key text)
  RETURNS TABLE (wallet_id bigint, code text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  k text := wallet._key(issue_coupons.idempotency_key);
  clk timestamptz := wallet.clock();
  t wallet.coupon_template;
  req jsonb;
  ids bigint[];
  bad bigint;
BEGIN
  PERFORM wallet._text(issue_coupons.template_id, 'template_id', 64, true);
  IF issue_coupons.wallet_ids IS NULL OR array_position(issue_coupons.wallet_ids, NULL) IS NOT NULL THEN
    PERFORM wallet._fail('22023', 'wallet_ids must not be null or contain NULL');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM wallet.coupon_template x WHERE x.template_id = issue_coupons.template_id) THEN
    PERFORM wallet._fail('WL006', format('coupon template "%s" does not exist', issue_coupons.template_id));
  END IF;
  SELECT array_agg(DISTINCT id ORDER BY id) INTO ids FROM unnest(issue_coupons.wallet_ids) AS id;
  SELECT id INTO bad FROM unnest(ids) AS id
   WHERE NOT EXISTS (SELECT 1 FROM wallet.wallet x WHERE x.wallet_id = id) LIMIT 1;
  IF bad IS NOT NULL THEN PERFORM wallet._fail('WL006', format('wallet %s does not exist', bad)); END IF;
  -- locks in the order every operation takes them: wallets by id, then the template's row,
  -- which serializes issuance of the template
  PERFORM 1 FROM wallet.wallet x WHERE x.wallet_id = ANY (ids) ORDER BY x.wallet_id FOR UPDATE;
  SELECT * INTO t FROM wallet.coupon_template x WHERE x.template_id = issue_coupons.template_id FOR UPDATE;
  IF t.valid_until <= clk THEN
    PERFORM wallet._fail('WL008', format('coupon template "%s" has expired', t.template_id));
  END IF;
  SELECT x.wallet_id INTO bad FROM wallet.wallet x WHERE x.wallet_id = ANY (ids) AND x.currency <> t.currency LIMIT 1;
  IF bad IS NOT NULL THEN
    PERFORM wallet._fail('22023', format('coupon template "%s" is for %s, wallet %s holds another currency',
                                         t.template_id, t.currency, bad));
  END IF;
  req := jsonb_build_object('template_id', t.template_id);
  -- a key this wallet used for something else is WL003, as for one wallet
  SELECT x.wallet_id INTO bad FROM wallet.txn x
   WHERE x.wallet_id = ANY (ids) AND x.idempotency_key = k AND (x.kind <> 'issue_coupon' OR x.request <> req)
   LIMIT 1;
  IF bad IS NOT NULL THEN PERFORM wallet._replay(bad, k, 'issue_coupon', req); END IF;

  RETURN QUERY
  WITH ids AS (SELECT id AS wallet_id FROM unnest(ids) AS id),
  prior AS (
    SELECT x.wallet_id, x.result->>'code' AS code FROM wallet.txn x
     WHERE x.wallet_id = ANY (ids) AND x.idempotency_key = k),
  have AS (
    SELECT c.wallet_id, count(*) AS n FROM wallet.coupon c
     WHERE c.template_id = t.template_id AND c.wallet_id = ANY (ids) GROUP BY c.wallet_id),
  eligible AS (
    SELECT i.wallet_id FROM ids i
      LEFT JOIN prior p ON p.wallet_id = i.wallet_id
      LEFT JOIN have h ON h.wallet_id = i.wallet_id
     WHERE p.wallet_id IS NULL AND coalesce(h.n, 0) < t.per_wallet_limit
     ORDER BY i.wallet_id
     LIMIT CASE WHEN t.total_limit IS NULL THEN NULL ELSE greatest(t.total_limit - t.issued, 0) END),
  fresh AS MATERIALIZED (
    SELECT e.wallet_id, wallet.coupon_code_new() AS code,
           nextval(pg_get_serial_sequence('wallet.txn', 'txn_id')) AS txn
      FROM eligible e),
  ins_coupon AS (
    INSERT INTO wallet.coupon (code, template_id, wallet_id, valid_from, valid_until, issued_at, issue_txn)
    SELECT f.code, t.template_id, f.wallet_id, t.valid_from, wallet._coupon_until(t, clk), clk, f.txn
      FROM fresh f),
  ins_txn AS (
    INSERT INTO wallet.txn (txn_id, wallet_id, kind, currency, created_at, idempotency_key, request, result)
    SELECT f.txn, f.wallet_id, 'issue_coupon', t.currency, clk, k, req, jsonb_build_object('code', f.code)
      FROM fresh f)
  SELECT i.wallet_id, coalesce(p.code, f.code)
    FROM ids i
    LEFT JOIN prior p ON p.wallet_id = i.wallet_id
    LEFT JOIN fresh f ON f.wallet_id = i.wallet_id
   ORDER BY i.wallet_id;
  IF t.total_limit IS NOT NULL THEN
    UPDATE wallet.coupon_template x
       SET issued = (SELECT count(*) FROM wallet.coupon c WHERE c.template_id = t.template_id)
     WHERE x.template_id = t.template_id;
  END IF;
END $$;

-- _auto_issue issues the templates marked issue_on = event to a locked wallet
-- (for 'top_up', those whose issue_min_top_up the amount reaches) and returns
-- the codes; a template at its limit is skipped.
CREATE FUNCTION wallet._auto_issue(wid bigint, event text, amt bigint, txn bigint) RETURNS text[]
  LANGUAGE plpgsql AS $$
DECLARE
  w wallet.wallet;
  t record;
  clk timestamptz := wallet.clock();
  codes text[] := '{}';
  c text;
BEGIN
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = wid;
  FOR t IN SELECT x.template_id FROM wallet.coupon_template x
            WHERE x.issue_on = event AND x.currency = w.currency
              AND (x.valid_until IS NULL OR x.valid_until > clk)
              AND (event <> 'top_up' OR x.issue_min_top_up IS NULL
                   OR amt >= x.issue_min_top_up * (10::numeric ^ w.exponent))
            ORDER BY x.template_id LOOP
    c := wallet._issue(t.template_id, w, format('%s:%s:%s', event, coalesce(txn::text, ''), t.template_id),
                       clk, true);
    IF c IS NOT NULL THEN codes := codes || c; END IF;
  END LOOP;
  RETURN codes;
END $$;

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
         count(*) FILTER (WHERE c.redeemed_txn IS NULL AND c.valid_until <= wallet.clock()) AS expired,
         count(*) FILTER (WHERE c.code IS NOT NULL AND c.redeemed_txn IS NULL
                            AND (c.valid_until IS NULL OR c.valid_until > wallet.clock())) AS outstanding,
         wallet.to_major(coalesce(sum(c.discount), 0)::bigint, e.exponent) AS total_discount
    FROM wallet.coupon_template t
    JOIN wallet.currency e ON e.code = t.currency
    LEFT JOIN wallet.coupon c ON c.template_id = t.template_id
   GROUP BY t.template_id, t.currency, t.kind, e.exponent;
COMMENT ON VIEW wallet.coupon_stats IS 'per coupon template: issued, redeemed, expired, outstanding, total discount';

------------------------------------------------------------------------------
-- Journal views and reconciliation
------------------------------------------------------------------------------
CREATE VIEW wallet.transactions AS
  SELECT t.txn_id, t.wallet_id, t.kind, wallet.to_major(t.amount, c.exponent) AS amount, t.currency,
         t.created_at, t.idempotency_key, t.ref_txn, t.request, t.result
    FROM wallet.txn t JOIN wallet.currency c ON c.code = t.currency;

CREATE VIEW wallet.postings AS
  SELECT t.txn_id, p.account, p.wallet_id, p.bucket, t.currency,
         wallet.to_major(p.amount, c.exponent) AS amount, t.created_at
    FROM wallet.txn t
    JOIN wallet.currency c ON c.code = t.currency
   CROSS JOIN LATERAL unnest(t.postings) AS p;

-- _discrepancies evaluates every reconciliation check in one snapshot.
CREATE FUNCTION wallet._discrepancies()
  RETURNS TABLE (check_name text, wallet_id bigint, currency text, expected numeric, actual numeric)
  LANGUAGE sql STABLE AS $$
  WITH legs AS (
    SELECT t.txn_id, t.wallet_id AS txn_wallet, t.currency, p.account, p.wallet_id, p.bucket, p.amount
      FROM wallet.txn t CROSS JOIN LATERAL unnest(t.postings) p),
  posted AS (
    SELECT l.wallet_id, l.bucket, sum(l.amount)::bigint AS total
      FROM legs l WHERE l.account = 'wallet' GROUP BY l.wallet_id, l.bucket),
  stored AS (
    SELECT w.wallet_id, w.currency, w.exponent, tot.held, b.bucket, b.total
      FROM wallet.wallet w
     CROSS JOIN LATERAL wallet.lots_totals(w.lots, NULL, wallet.clock()) tot
     CROSS JOIN LATERAL (VALUES ('cash', tot.cash), ('bonus', tot.bonus_stored),
                                ('earnings', tot.earnings + wallet._pending(w.wallet_id)),
                                ('held', tot.held)) AS b(bucket, total)),
  exps AS (SELECT c.code, c.exponent FROM wallet.currency c)
  -- every transaction's postings sum to zero
  SELECT 'transaction_balanced', min(l.txn_wallet), l.currency, 0::numeric,
         wallet.to_major(sum(l.amount)::bigint, min(e.exponent))
    FROM legs l JOIN exps e ON e.code = l.currency
   GROUP BY l.txn_id, l.currency HAVING sum(l.amount) <> 0
  UNION ALL
  -- every wallet's stored buckets equal the sum of its postings
  SELECT 'wallet_bucket_' || s.bucket, s.wallet_id, s.currency,
         wallet.to_major(coalesce(p.total, 0), s.exponent), wallet.to_major(s.total, s.exponent)
    FROM stored s LEFT JOIN posted p ON p.wallet_id = s.wallet_id AND p.bucket = s.bucket
   WHERE coalesce(p.total, 0) <> s.total
  UNION ALL
  -- wallet legs must name an existing wallet of the transaction's currency and a known bucket
  SELECT 'posting_to_unknown_wallet', l.wallet_id, l.currency, 0::numeric,
         wallet.to_major(sum(l.amount)::bigint, min(e.exponent))
    FROM legs l JOIN exps e ON e.code = l.currency
   WHERE l.account = 'wallet'
     AND (l.bucket IS NULL OR l.bucket NOT IN ('cash', 'bonus', 'earnings', 'held')
          OR NOT EXISTS (SELECT 1 FROM wallet.wallet w WHERE w.wallet_id = l.wallet_id AND w.currency = l.currency))
   GROUP BY l.wallet_id, l.currency
  UNION ALL
  -- no negative lot
  SELECT 'negative_lot', w.wallet_id, w.currency, 0::numeric, wallet.to_major(least(l.amount, l.held), w.exponent)
    FROM wallet.wallet w CROSS JOIN LATERAL wallet.lots_list(w.lots) l
   WHERE l.amount < 0 OR l.held < 0
  UNION ALL
  -- held equals what the open refunds hold
  SELECT 'held_matches_open_refunds', s.wallet_id, s.currency,
         wallet.to_major(coalesce(o.total, 0), s.exponent), wallet.to_major(s.held, s.exponent)
    FROM stored s
    LEFT JOIN (SELECT r.wallet_id, sum(r.amount + r.clawback + r.bonus_void)::bigint AS total
                 FROM wallet.refund r WHERE r.status IN ('pending', 'approved')
                GROUP BY r.wallet_id) o ON o.wallet_id = s.wallet_id
   WHERE s.bucket = 'held' AND coalesce(o.total, 0) <> s.held
  UNION ALL
  -- per currency, all accounts sum to zero
  SELECT 'currency_balanced', NULL::bigint, l.currency, 0::numeric,
         wallet.to_major(sum(l.amount)::bigint, min(e.exponent))
    FROM legs l JOIN exps e ON e.code = l.currency
   GROUP BY l.currency HAVING sum(l.amount) <> 0
$$;

CREATE FUNCTION wallet.reconcile()
  RETURNS TABLE (check_name text, wallet_id bigint, currency text, expected numeric, actual numeric)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  started timestamptz := clock_timestamp();
  found_rows jsonb;
BEGIN
  SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.check_name, d.wallet_id, d.currency), '[]')
    INTO found_rows FROM wallet._discrepancies() d;
  INSERT INTO wallet.reconciliation_run (started_at, finished_at, discrepancies, details)
  VALUES (started, clock_timestamp(), jsonb_array_length(found_rows), found_rows);
  RETURN QUERY SELECT x.check_name, x.wallet_id, x.currency, x.expected, x.actual
                 FROM jsonb_to_recordset(found_rows)
                   AS x(check_name text, wallet_id bigint, currency text, expected numeric, actual numeric);
END $$;

------------------------------------------------------------------------------
-- Administration
------------------------------------------------------------------------------
-- _bad_setting turns a CHECK violation of a policy or bonus rule into a bad-argument error.
CREATE FUNCTION wallet._bad_setting(err text) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  col text := substring(err FROM 'check constraint "(?:policy|bonus_rule|coupon_template)_(.*)_check"');
BEGIN
  PERFORM wallet._fail('22023', format('%s is out of range', coalesce(col, 'a setting')), err);
END $$;

CREATE FUNCTION wallet.set_policy(currency text, refund_window interval DEFAULT NULL,
                                  refund_fee_rate numeric DEFAULT NULL,
                                  refund_auto_approve_max numeric DEFAULT NULL,
                                  max_refunds_per_30_days int DEFAULT NULL,
                                  remind_before interval DEFAULT NULL,
                                  commission_rate numeric DEFAULT NULL)
  RETURNS wallet.policy
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_variable
DECLARE
  p wallet.policy := wallet._policy(set_policy.currency);
BEGIN
  PERFORM wallet._text(set_policy.currency, 'currency', 3, true);
  IF NOT EXISTS (SELECT 1 FROM wallet.currency c WHERE c.code = set_policy.currency) THEN
    PERFORM wallet._fail('22023', format('unknown currency "%s"', set_policy.currency));
  END IF;
  p.refund_window := coalesce(set_policy.refund_window, p.refund_window);
  p.refund_fee_rate := coalesce(set_policy.refund_fee_rate, p.refund_fee_rate);
  p.refund_auto_approve_max := coalesce(set_policy.refund_auto_approve_max, p.refund_auto_approve_max);
  p.max_refunds_per_30_days := coalesce(set_policy.max_refunds_per_30_days, p.max_refunds_per_30_days);
  p.remind_before := coalesce(set_policy.remind_before, p.remind_before);
  p.commission_rate := coalesce(set_policy.commission_rate, p.commission_rate);
  INSERT INTO wallet.policy VALUES (p.*)
  ON CONFLICT ON CONSTRAINT policy_pkey DO UPDATE SET
    refund_window = EXCLUDED.refund_window, refund_fee_rate = EXCLUDED.refund_fee_rate,
    refund_auto_approve_max = EXCLUDED.refund_auto_approve_max,
    max_refunds_per_30_days = EXCLUDED.max_refunds_per_30_days,
    remind_before = EXCLUDED.remind_before, commission_rate = EXCLUDED.commission_rate;
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

------------------------------------------------------------------------------
-- pg_dump keeps the data of these tables
------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('wallet.currency',
  'WHERE code NOT IN (''CNY'', ''USD'', ''EUR'', ''GBP'', ''HKD'', ''JPY'', ''KRW'', ''KWD'', ''BHD'')');
SELECT pg_catalog.pg_extension_config_dump('wallet.policy', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.bonus_rule', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.wallet', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.payee_credit', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.refund', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.risk_flag', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.coupon_template', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.coupon', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.reconciliation_run', '');

------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each role gets what section 13 gives it
------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON SCHEMA wallet FROM PUBLIC;
GRANT USAGE ON SCHEMA wallet TO wallet_app, wallet_admin, wallet_reader;
GRANT USAGE ON SCHEMA wallet_report TO wallet_reader, wallet_admin;

-- pure functions (no table access) that views and callers evaluate
GRANT EXECUTE ON FUNCTION
  wallet.lotset_in(cstring), wallet.lotset_out(wallet.lotset), wallet.lotset_recv(internal),
  wallet.lotset_send(wallet.lotset), wallet.clock(), wallet.to_major(bigint, int),
  wallet.lots_list(wallet.lotset)
  TO wallet_app, wallet_admin, wallet_reader;

GRANT EXECUTE ON FUNCTION
  wallet.open(text, text), wallet.balance(bigint, text), wallet.lots(bigint),
  wallet.bonus_preview(text, numeric),
  wallet.top_up(bigint, numeric, text, text, text),
  wallet.spend(bigint, numeric, text, text, text, boolean, bigint, text),
  wallet.reverse_spend(bigint, text, numeric),
  wallet.refund_quote(bigint, text), wallet.request_refund(bigint, text, numeric, text, text),
  wallet.settle_refund(bigint, boolean, text),
  wallet.validate_coupon(text, bigint, numeric, text), wallet.issue_coupon(text, bigint, text),
  wallet.issue_coupons(text, bigint[], text), wallet.coupons(bigint)
  TO wallet_app;

GRANT EXECUTE ON FUNCTION
  wallet.balance(bigint, text), wallet.lots(bigint), wallet.bonus_preview(text, numeric),
  wallet.refund_quote(bigint, text),
  wallet.freeze(bigint, text), wallet.unfreeze(bigint), wallet.review_refund(bigint, boolean, text, text),
  wallet.expire_bonus(int), wallet.rollup_credits(int), wallet.reconcile(),
  wallet.set_policy(text, interval, numeric, numeric, int, interval, numeric),
  wallet.add_bonus_rule(text, numeric, numeric, numeric, numeric, interval, text[], text, timestamptz,
                        timestamptz, numeric),
  wallet.end_bonus_rule(bigint, timestamptz),
  wallet.add_coupon_template(text, text, text, numeric, numeric, numeric, text[], timestamptz, timestamptz,
                             interval, int, int, text, numeric),
  wallet.coupons(bigint)
  TO wallet_admin;
GRANT SELECT ON wallet.currency, wallet.policy, wallet.bonus_rule, wallet.reconciliation_run,
  wallet.risk_flag, wallet.refund, wallet.expiring_bonus, wallet.coupon_template, wallet.coupon
  TO wallet_admin;
GRANT SELECT ON wallet.coupon_stats TO wallet_admin, wallet_reader;

GRANT SELECT ON wallet.transactions, wallet.postings TO wallet_reader, wallet_admin;
------------------------------------------------------------------------------
-- Operations and reporting (part two of the install script; see the Makefile)
------------------------------------------------------------------------------
-- Everything here comes after src/wallet.sql and only reads the engine's
-- tables: reminders (an outbox), reconciliation alerts, the audit log, the BI
-- views of schema wallet_report with their incremental roll-ups, and the
-- pg_cron jobs. Nothing here adds a trigger or an index to wallet.txn: the
-- spend path pays nothing for reporting.

------------------------------------------------------------------------------
-- Reminders: an outbox of notifications for the application to deliver
------------------------------------------------------------------------------
CREATE TABLE wallet.notification (
  id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  wallet_id  bigint NOT NULL,
  kind       text   NOT NULL CHECK (kind IN ('bonus_expiring')),
  lot_id     int    NOT NULL,
  amount     bigint NOT NULL,
  currency   text   NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  sent_at    timestamptz NULL,
  CONSTRAINT notification_once UNIQUE (wallet_id, lot_id, expires_at)
);
CREATE INDEX notification_pending ON wallet.notification (id) WHERE sent_at IS NULL;
COMMENT ON TABLE wallet.notification IS
  'outbox of customer notifications (bonus_expiring: one row per bonus lot and expiry); amount in minor units; '
  'sent_at is set by wallet.mark_notified once the application delivered it';

CREATE FUNCTION wallet.remind_expiring(batch int DEFAULT 10000) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  clk timestamptz := wallet.clock();
  n int;
BEGIN
  IF batch IS NULL OR batch < 1 OR batch > 1000000 THEN
    PERFORM wallet._fail('22023', 'batch must be between 1 and 1000000');
  END IF;
  INSERT INTO wallet.notification (wallet_id, kind, lot_id, amount, currency, expires_at, created_at)
  SELECT e.wallet_id, 'bonus_expiring', e.lot_id, wallet.to_minor(e.amount, c.exponent), e.currency,
         e.expires_at, clk
    FROM wallet.expiring_bonus e
    JOIN wallet.currency c ON c.code = e.currency
   WHERE NOT EXISTS (SELECT 1 FROM wallet.notification x
                      WHERE x.wallet_id = e.wallet_id AND x.lot_id = e.lot_id AND x.expires_at = e.expires_at)
   ORDER BY e.expires_at, e.wallet_id, e.lot_id
   LIMIT batch
  ON CONFLICT ON CONSTRAINT notification_once DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM pg_notify('wallet_notification', json_build_object('kind', 'bonus_expiring', 'count', n)::text);
  END IF;
  RETURN n;
END $$;
COMMENT ON FUNCTION wallet.remind_expiring(int) IS
  'queues one bonus_expiring notification per live bonus lot expiring within its currency''s remind_before '
  '(see wallet.expiring_bonus), at most batch rows, never twice for a lot and expiry; '
  'NOTIFY wallet_notification when it queued any; returns how many it queued';

CREATE FUNCTION wallet.pending_notifications(max_rows int DEFAULT 100)
  RETURNS TABLE (id bigint, wallet_id bigint, kind text, lot_id int, amount numeric, currency text,
                 expires_at timestamptz, created_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
BEGIN
  IF max_rows IS NULL OR max_rows < 1 OR max_rows > 10000 THEN
    PERFORM wallet._fail('22023', 'max_rows must be between 1 and 10000');
  END IF;
  -- rows another worker is reading in its own transaction are skipped
  RETURN QUERY
    SELECT n.id, n.wallet_id, n.kind, n.lot_id, wallet.to_major(n.amount, c.exponent), n.currency,
           n.expires_at, n.created_at
      FROM (SELECT x.* FROM wallet.notification x WHERE x.sent_at IS NULL
             ORDER BY x.id LIMIT max_rows FOR UPDATE SKIP LOCKED) n
      JOIN wallet.currency c ON c.code = n.currency
     ORDER BY n.id;
END $$;
COMMENT ON FUNCTION wallet.pending_notifications(int) IS
  'undelivered notifications, oldest first (amount in major units); rows locked by another reader''s '
  'transaction are skipped, so several workers can share the outbox';

CREATE FUNCTION wallet.mark_notified(ids bigint[]) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  n int;
BEGIN
  IF ids IS NULL THEN PERFORM wallet._fail('22023', 'ids must not be null'); END IF;
  UPDATE wallet.notification x SET sent_at = wallet.clock()
   WHERE x.id = ANY (ids) AND x.sent_at IS NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
COMMENT ON FUNCTION wallet.mark_notified(bigint[]) IS
  'marks notifications delivered (sent_at = the wallet clock); returns how many were still undelivered';

------------------------------------------------------------------------------
-- Reconciliation history and alerts
------------------------------------------------------------------------------
CREATE VIEW wallet.reconciliation_latest AS
  SELECT r.run_id, r.started_at, r.finished_at, r.discrepancies,
         d.check_name, d.wallet_id, d.currency, d.expected, d.actual
    FROM (SELECT x.* FROM wallet.reconciliation_run x ORDER BY x.run_id DESC LIMIT 1) r
    LEFT JOIN LATERAL jsonb_to_recordset(r.details)
         AS d(check_name text, wallet_id bigint, currency text, expected numeric, actual numeric) ON true;
COMMENT ON VIEW wallet.reconciliation_latest IS
  'the latest reconciliation run, one row per discrepancy (one row with NULL check_name when the books held)';

CREATE TABLE wallet.alert (
  id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  kind       text   NOT NULL,
  run_id     bigint NULL,
  detail     jsonb  NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL
);
COMMENT ON TABLE wallet.alert IS
  'operational alerts (kind reconciliation: a reconciliation run found discrepancies; detail lists them)';

CREATE FUNCTION wallet._reconciliation_alert() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  aid bigint;
BEGIN
  INSERT INTO wallet.alert (kind, run_id, detail, created_at)
  VALUES ('reconciliation', NEW.run_id,
          jsonb_build_object('discrepancies', NEW.discrepancies, 'details', NEW.details), wallet.clock())
  RETURNING id INTO aid;
  PERFORM pg_notify('wallet_alert', json_build_object('alert_id', aid, 'kind', 'reconciliation',
                                                      'run_id', NEW.run_id,
                                                      'discrepancies', NEW.discrepancies)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER reconciliation_alert AFTER INSERT ON wallet.reconciliation_run
  FOR EACH ROW WHEN (NEW.discrepancies > 0) EXECUTE FUNCTION wallet._reconciliation_alert();

------------------------------------------------------------------------------
-- Audit log
------------------------------------------------------------------------------
CREATE TABLE wallet.audit (
  id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  at     timestamptz NOT NULL,
  actor  text  NOT NULL,
  action text  NOT NULL,
  object text  NOT NULL,
  old    jsonb NULL,
  new    jsonb NULL
);
CREATE INDEX audit_object ON wallet.audit (object, id);
COMMENT ON TABLE wallet.audit IS
  'who changed what: configuration (bonus_rule, policy, coupon_template, currency: action insert/update/delete), '
  'freezes (freeze/unfreeze of wallet:<id>) and refund reviews and settlements (refund_review/refund_settle of '
  'refund:<id>); at is the wallet clock, actor the session user';

-- _audit_config records a change of a configuration row; TG_ARGV[0] names its key column.
CREATE FUNCTION wallet._audit_config() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
BEGIN
  IF TG_OP = 'UPDATE' AND o = n THEN RETURN NULL; END IF;
  INSERT INTO wallet.audit (at, actor, action, object, old, new)
  VALUES (wallet.clock(), session_user, lower(TG_OP),
          TG_TABLE_NAME || ':' || (coalesce(n, o) ->> TG_ARGV[0]), o, n);
  RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON wallet.bonus_rule
  FOR EACH ROW EXECUTE FUNCTION wallet._audit_config('rule_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON wallet.policy
  FOR EACH ROW EXECUTE FUNCTION wallet._audit_config('currency');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON wallet.currency
  FOR EACH ROW EXECUTE FUNCTION wallet._audit_config('code');
-- coupon issuance bumps coupon_template.issued: that counter alone is not a configuration change
CREATE TRIGGER audit AFTER INSERT OR DELETE ON wallet.coupon_template
  FOR EACH ROW EXECUTE FUNCTION wallet._audit_config('template_id');
CREATE TRIGGER audit_update AFTER UPDATE ON wallet.coupon_template
  FOR EACH ROW WHEN ((to_jsonb(OLD) - 'issued') IS DISTINCT FROM (to_jsonb(NEW) - 'issued'))
  EXECUTE FUNCTION wallet._audit_config('template_id');

-- Freezes: fires only for an UPDATE that lists frozen (freeze, unfreeze), never for the
-- money operations, which write lots, next_expiry and version only.
CREATE FUNCTION wallet._audit_freeze() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
BEGIN
  INSERT INTO wallet.audit (at, actor, action, object, old, new)
  VALUES (wallet.clock(), session_user, CASE WHEN NEW.frozen THEN 'freeze' ELSE 'unfreeze' END,
          'wallet:' || NEW.wallet_id,
          jsonb_build_object('frozen', OLD.frozen, 'frozen_reason', OLD.frozen_reason),
          jsonb_build_object('frozen', NEW.frozen, 'frozen_reason', NEW.frozen_reason));
  RETURN NULL;
END $$;
CREATE TRIGGER audit_freeze AFTER UPDATE OF frozen ON wallet.wallet
  FOR EACH ROW WHEN (OLD.frozen IS DISTINCT FROM NEW.frozen) EXECUTE FUNCTION wallet._audit_freeze();

-- Refund reviews and settlements: status or reviewer changed.
CREATE FUNCTION wallet._audit_refund() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
BEGIN
  INSERT INTO wallet.audit (at, actor, action, object, old, new)
  VALUES (wallet.clock(), session_user,
          CASE WHEN NEW.status IN ('succeeded', 'failed') THEN 'refund_settle' ELSE 'refund_review' END,
          'refund:' || NEW.refund_id,
          jsonb_build_object('status', OLD.status, 'reviewer', OLD.reviewer, 'review_note', OLD.review_note),
          jsonb_build_object('status', NEW.status, 'reviewer', NEW.reviewer, 'review_note', NEW.review_note,
                             'gateway_ref', NEW.gateway_ref));
  RETURN NULL;
END $$;
CREATE TRIGGER audit_review AFTER UPDATE OF status, reviewer ON wallet.refund
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.reviewer IS DISTINCT FROM NEW.reviewer)
  EXECUTE FUNCTION wallet._audit_refund();

------------------------------------------------------------------------------
-- Reporting: incremental roll-ups of the journal
------------------------------------------------------------------------------
-- The journal is rolled up into 15-minute UTC slots (every time zone in use is a
-- whole number of quarter hours from UTC, so a slot never straddles a local
-- midnight); the views group slots into days of the session's TimeZone when they
-- are read. wallet.refresh_reports() rolls up transactions above the watermark
-- (rollup_state.last_txn_id) in txn_id order, by primary-key range.
--
-- Ids are drawn before their transaction commits, so an id below the watermark may
-- still be in flight when a refresh runs. Every id range a refresh did not see is
-- kept in wallet.rollup_gap until no transaction that could hold it is left
-- (checked against pg_stat_activity); rows that show up there are rolled up then.
-- The views add the unrolled tail (ids above the watermark, and in the gaps) to
-- the roll-ups, so they are exact whenever they are read.

CREATE TABLE wallet.rollup_state (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_txn_id  bigint  NOT NULL DEFAULT 0,
  refreshed_at timestamptz NULL
);
INSERT INTO wallet.rollup_state DEFAULT VALUES;
COMMENT ON TABLE wallet.rollup_state IS
  'the reporting watermark: every transaction with txn_id <= last_txn_id is rolled up, except the ranges of wallet.rollup_gap';

CREATE TABLE wallet.rollup_gap (
  gap_id  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  lo      bigint NOT NULL,
  hi      bigint NOT NULL CHECK (hi >= lo),
  seen_at timestamptz NOT NULL
);
COMMENT ON TABLE wallet.rollup_gap IS
  'txn_id ranges below the watermark not yet seen by a refresh (in flight or rolled back), with when they were seen missing';

CREATE TABLE wallet.rollup_topup (
  slot     timestamptz NOT NULL,
  currency text   NOT NULL,
  method   text   NOT NULL,
  topups   bigint NOT NULL,
  amount   bigint NOT NULL,
  bonus    bigint NOT NULL,
  PRIMARY KEY (slot, currency, method)
);
CREATE TABLE wallet.rollup_spend (
  slot            timestamptz NOT NULL,
  currency        text   NOT NULL,
  scene           text   NOT NULL,
  spends          bigint NOT NULL,
  charged         bigint NOT NULL,
  bonus_used      bigint NOT NULL,
  cash_used       bigint NOT NULL,
  earnings_used   bigint NOT NULL,
  coupon_discount bigint NOT NULL,
  reversals       bigint NOT NULL,
  reversed        bigint NOT NULL,
  PRIMARY KEY (slot, currency, scene)
);
CREATE TABLE wallet.rollup_bonus (
  slot        timestamptz NOT NULL,
  currency    text   NOT NULL,
  granted     bigint NOT NULL,
  spent       bigint NOT NULL,
  returned    bigint NOT NULL,
  expired     bigint NOT NULL,
  voided      bigint NOT NULL,
  clawed_back bigint NOT NULL,
  PRIMARY KEY (slot, currency)
);
COMMENT ON TABLE wallet.rollup_topup IS 'top-ups per 15-minute UTC slot, currency and method (minor units); kept by wallet.refresh_reports';
COMMENT ON TABLE wallet.rollup_spend IS 'spends and reversals per 15-minute UTC slot, currency and scene (minor units); kept by wallet.refresh_reports';
COMMENT ON TABLE wallet.rollup_bonus IS 'bonus movements per 15-minute UTC slot and currency (minor units); kept by wallet.refresh_reports';

-- _report_facts: what one journal transaction contributes to the reports (minor units).
-- Lookups of other rows are scalar subqueries (one primary-key probe per row), so a
-- range of transactions is never joined to the whole journal.
CREATE VIEW wallet._report_facts AS
  SELECT t.txn_id,
         date_bin('15 minutes', t.created_at, timestamptz '2000-01-01 00:00:00+00') AS slot,
         t.currency, t.kind,
         CASE t.kind WHEN 'top_up' THEN coalesce(t.request->>'method', '')
                     WHEN 'spend' THEN coalesce(t.request->>'scene', '')
                     WHEN 'reverse_spend' THEN coalesce((SELECT o.request->>'scene' FROM wallet.txn o
                                                          WHERE o.txn_id = t.ref_txn), '')
                     ELSE '' END AS dim,
         t.amount,
         coalesce((t.result->>'discount')::bigint, 0) AS discount,
         coalesce((t.result->>'bonus_used')::bigint, 0) AS bonus_used,
         coalesce((t.result->>'cash_used')::bigint, 0) AS cash_used,
         coalesce((t.result->>'earnings_used')::bigint, 0) AS earnings_used,
         l.granted, l.spent, l.returned, l.expired,
         CASE WHEN t.kind = 'settle_refund' AND l.refund_bonus > 0
              THEN l.refund_bonus - r.clawback ELSE 0 END AS voided,
         CASE WHEN t.kind = 'settle_refund' AND l.refund_bonus > 0
              THEN r.clawback ELSE 0 END AS clawed_back
    FROM wallet.txn t
   CROSS JOIN LATERAL (
     SELECT coalesce(sum(-p.amount) FILTER (WHERE p.account = 'bonus_expense' AND t.kind = 'top_up'), 0)::bigint
              AS granted,
            coalesce(sum(-p.amount) FILTER (WHERE p.account = 'wallet' AND p.bucket = 'bonus'
                                              AND t.kind = 'spend'), 0)::bigint AS spent,
            coalesce(sum(p.amount) FILTER (WHERE p.account = 'wallet' AND p.bucket = 'bonus'
                                             AND t.kind = 'reverse_spend'), 0)::bigint AS returned,
            coalesce(sum(p.amount) FILTER (WHERE p.account = 'breakage'), 0)::bigint AS expired,
            coalesce(sum(p.amount) FILTER (WHERE p.account = 'bonus_expense'
                                             AND t.kind = 'settle_refund'), 0)::bigint AS refund_bonus
       FROM unnest(t.postings) p) l
   CROSS JOIN LATERAL (
     SELECT CASE WHEN t.kind = 'settle_refund'
                 THEN (SELECT x.clawback FROM wallet.refund x
                        WHERE x.refund_id = (t.request->>'refund_id')::bigint) END AS clawback) r;
COMMENT ON VIEW wallet._report_facts IS 'internal: what each journal transaction contributes to the wallet_report views';

-- _report_tail: the facts not rolled up yet (above the watermark, and in the gaps).
-- The constant upper bound keeps the planner's estimate of the range small, so the
-- tail is read by primary-key range however large the journal is.
CREATE VIEW wallet._report_tail AS
  SELECT f.* FROM wallet._report_facts f
   WHERE f.txn_id > (SELECT s.last_txn_id FROM wallet.rollup_state s)
     AND f.txn_id <= 9223372036854775807
  UNION ALL
  SELECT f.* FROM wallet.rollup_gap g
   CROSS JOIN LATERAL (SELECT x.* FROM wallet._report_facts x
                        WHERE x.txn_id BETWEEN g.lo AND g.hi OFFSET 0) f;
COMMENT ON VIEW wallet._report_tail IS 'internal: journal facts not rolled up yet';

CREATE FUNCTION wallet.refresh_reports(batch int DEFAULT 1000000) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  w bigint;
  upto bigint;
  horizon timestamptz;
  blind boolean;
  n bigint := 0;
  k bigint;
BEGIN
  IF batch IS NULL OR batch < 1 OR batch > 10000000 THEN
    PERFORM wallet._fail('22023', 'batch must be between 1 and 10000000');
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    PERFORM wallet._fail('55000', 'wallet.refresh_reports() must run at READ COMMITTED',
      'Each step reads the journal in a fresh snapshot.');
  END IF;
  -- one refresh at a time: the second waits here, then continues from the first's watermark
  SELECT s.last_txn_id INTO w FROM wallet.rollup_state s FOR UPDATE;

  -- the start of the oldest transaction still running in this database: a gap seen
  -- missing before it can no longer be filled (whoever drew those ids has ended)
  PERFORM pg_stat_clear_snapshot();
  horizon := clock_timestamp();
  SELECT least(horizon, min(a.xact_start)), coalesce(bool_or(a.query = '<insufficient privilege>'), false)
    INTO horizon, blind
    FROM pg_stat_activity a
   WHERE a.datname = current_database() AND a.pid <> pg_backend_pid();
  IF blind OR EXISTS (SELECT 1 FROM pg_prepared_xacts x WHERE x.database = current_database()) THEN
    horizon := '-infinity';
  END IF;

  -- the next batch above the watermark becomes one more range to roll up, like a gap:
  -- what it holds is rolled up below, and the ids it does not show stay as gaps
  SELECT max(x.txn_id) INTO upto
    FROM (SELECT t.txn_id FROM wallet.txn t WHERE t.txn_id > w ORDER BY t.txn_id LIMIT batch) x;
  IF upto IS NOT NULL THEN
    INSERT INTO wallet.rollup_gap (lo, hi, seen_at) VALUES (w + 1, upto, clock_timestamp());
    UPDATE wallet.rollup_state s SET last_txn_id = upto;
  END IF;

  -- the gaps (one snapshot): roll up the rows that appeared, forget ranges seen
  --    before the horizon, and keep the still-missing parts of the others
  WITH g AS (SELECT * FROM wallet.rollup_gap),
  f AS MATERIALIZED (
    SELECT g.gap_id, x.* FROM g
     CROSS JOIN LATERAL (SELECT y.* FROM wallet._report_facts y WHERE y.txn_id BETWEEN g.lo AND g.hi OFFSET 0) x),
  a1 AS (
    INSERT INTO wallet.rollup_topup AS r
    SELECT f.slot, f.currency, f.dim, count(*), sum(f.amount), sum(f.granted)
      FROM f WHERE f.kind = 'top_up' GROUP BY 1, 2, 3
    ON CONFLICT (slot, currency, method) DO UPDATE SET topups = r.topups + EXCLUDED.topups,
      amount = r.amount + EXCLUDED.amount, bonus = r.bonus + EXCLUDED.bonus),
  a2 AS (
    INSERT INTO wallet.rollup_spend AS r
    SELECT f.slot, f.currency, f.dim, count(*) FILTER (WHERE f.kind = 'spend'),
           coalesce(sum(f.amount) FILTER (WHERE f.kind = 'spend'), 0),
           sum(f.bonus_used), sum(f.cash_used), sum(f.earnings_used),
           coalesce(sum(f.discount) FILTER (WHERE f.kind = 'spend'), 0),
           count(*) FILTER (WHERE f.kind = 'reverse_spend'),
           coalesce(sum(f.amount) FILTER (WHERE f.kind = 'reverse_spend'), 0)
      FROM f WHERE f.kind IN ('spend', 'reverse_spend') GROUP BY 1, 2, 3
    ON CONFLICT (slot, currency, scene) DO UPDATE SET spends = r.spends + EXCLUDED.spends,
      charged = r.charged + EXCLUDED.charged, bonus_used = r.bonus_used + EXCLUDED.bonus_used,
      cash_used = r.cash_used + EXCLUDED.cash_used, earnings_used = r.earnings_used + EXCLUDED.earnings_used,
      coupon_discount = r.coupon_discount + EXCLUDED.coupon_discount,
      reversals = r.reversals + EXCLUDED.reversals, reversed = r.reversed + EXCLUDED.reversed),
  a3 AS (
    INSERT INTO wallet.rollup_bonus AS r
    SELECT f.slot, f.currency, sum(f.granted), sum(f.spent), sum(f.returned), sum(f.expired),
           sum(f.voided), sum(f.clawed_back)
      FROM f GROUP BY 1, 2
    HAVING sum(abs(f.granted) + abs(f.spent) + abs(f.returned) + abs(f.expired) + abs(f.voided)
               + abs(f.clawed_back)) <> 0
    ON CONFLICT (slot, currency) DO UPDATE SET granted = r.granted + EXCLUDED.granted,
      spent = r.spent + EXCLUDED.spent, returned = r.returned + EXCLUDED.returned,
      expired = r.expired + EXCLUDED.expired, voided = r.voided + EXCLUDED.voided,
      clawed_back = r.clawed_back + EXCLUDED.clawed_back),
  touched AS (
    SELECT g.* FROM g WHERE g.seen_at < horizon OR EXISTS (SELECT 1 FROM f WHERE f.gap_id = g.gap_id)),
  d AS (DELETE FROM wallet.rollup_gap x USING touched t WHERE x.gap_id = t.gap_id),
  rest AS (
    INSERT INTO wallet.rollup_gap (lo, hi, seen_at)
    SELECT p.lo, p.hi, t.seen_at
      FROM touched t
     CROSS JOIN LATERAL (
       SELECT lag(f.txn_id, 1, t.lo - 1) OVER (ORDER BY f.txn_id) + 1 AS lo, f.txn_id - 1 AS hi
         FROM f WHERE f.gap_id = t.gap_id
       UNION ALL
       SELECT max(f.txn_id) + 1, t.hi FROM f WHERE f.gap_id = t.gap_id) p
     WHERE t.seen_at >= horizon AND p.lo <= p.hi)
  SELECT count(*) INTO k FROM f;
  n := n + k;
  UPDATE wallet.rollup_state s SET refreshed_at = clock_timestamp();
  RETURN n;
END $$;
COMMENT ON FUNCTION wallet.refresh_reports(int) IS
  'rolls up at most batch journal transactions above the reporting watermark (by primary-key range), and any '
  'that appeared in earlier gaps, into the wallet_report roll-ups; returns how many it rolled up. One refresh '
  'runs at a time; running it again is harmless. The views are exact without it; it keeps them fast';

------------------------------------------------------------------------------
-- Reporting: the BI views (schema wallet_report), amounts in major units
------------------------------------------------------------------------------
CREATE VIEW wallet_report.topups_daily AS
  WITH s AS (
    SELECT r.slot, r.currency, r.method, r.topups, r.amount, r.bonus FROM wallet.rollup_topup r
    UNION ALL
    SELECT f.slot, f.currency, f.dim, 1, f.amount, f.granted FROM wallet._report_tail f WHERE f.kind = 'top_up')
  SELECT (s.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, s.currency,
         nullif(s.method, '') AS method, sum(s.topups)::bigint AS count,
         wallet.to_major(sum(s.amount)::bigint, c.exponent) AS amount,
         wallet.to_major(sum(s.bonus)::bigint, c.exponent) AS bonus
    FROM s JOIN wallet.currency c ON c.code = s.currency
   GROUP BY 1, 2, 3, c.exponent;
COMMENT ON VIEW wallet_report.topups_daily IS 'top-ups per day (in the session''s TimeZone), currency and method';
COMMENT ON COLUMN wallet_report.topups_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.topups_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.topups_daily.method IS 'payment method passed to top_up (NULL when none)';
COMMENT ON COLUMN wallet_report.topups_daily.count IS 'number of top-ups (replays not counted)';
COMMENT ON COLUMN wallet_report.topups_daily.amount IS 'cash topped up, major units';
COMMENT ON COLUMN wallet_report.topups_daily.bonus IS 'bonus granted with those top-ups, major units';

CREATE VIEW wallet_report.spending_daily AS
  WITH s AS (
    SELECT r.slot, r.currency, r.scene, r.spends, r.charged, r.bonus_used, r.cash_used, r.earnings_used,
           r.coupon_discount, r.reversals, r.reversed
      FROM wallet.rollup_spend r
    UNION ALL
    SELECT f.slot, f.currency, f.dim, (f.kind = 'spend')::int, CASE WHEN f.kind = 'spend' THEN f.amount ELSE 0 END,
           f.bonus_used, f.cash_used, f.earnings_used, CASE WHEN f.kind = 'spend' THEN f.discount ELSE 0 END,
           (f.kind = 'reverse_spend')::int, CASE WHEN f.kind = 'reverse_spend' THEN f.amount ELSE 0 END
      FROM wallet._report_tail f WHERE f.kind IN ('spend', 'reverse_spend'))
  SELECT (s.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, s.currency,
         nullif(s.scene, '') AS scene, sum(s.spends)::bigint AS count,
         wallet.to_major(sum(s.charged)::bigint, c.exponent) AS charged,
         wallet.to_major(sum(s.bonus_used)::bigint, c.exponent) AS bonus_used,
         wallet.to_major(sum(s.cash_used)::bigint, c.exponent) AS cash_used,
         wallet.to_major(sum(s.earnings_used)::bigint, c.exponent) AS earnings_used,
         wallet.to_major(sum(s.coupon_discount)::bigint, c.exponent) AS coupon_discount,
         sum(s.reversals)::bigint AS reversals,
         wallet.to_major(sum(s.reversed)::bigint, c.exponent) AS reversed
    FROM s JOIN wallet.currency c ON c.code = s.currency
   GROUP BY 1, 2, 3, c.exponent;
COMMENT ON VIEW wallet_report.spending_daily IS
  'spends per day (in the session''s TimeZone), currency and scene, and the reversals made that day of spends of the scene';
COMMENT ON COLUMN wallet_report.spending_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.spending_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.spending_daily.scene IS 'scene of the spend (NULL when none)';
COMMENT ON COLUMN wallet_report.spending_daily.count IS 'number of spends';
COMMENT ON COLUMN wallet_report.spending_daily.charged IS 'charged to wallets (order amount less coupon discount and shortfall), major units';
COMMENT ON COLUMN wallet_report.spending_daily.bonus_used IS 'bonus used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_daily.cash_used IS 'cash used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_daily.earnings_used IS 'earnings used by the spends, major units';
COMMENT ON COLUMN wallet_report.spending_daily.coupon_discount IS 'coupon discounts given on the spends, major units';
COMMENT ON COLUMN wallet_report.spending_daily.reversals IS 'number of reversals made that day (of spends of this scene)';
COMMENT ON COLUMN wallet_report.spending_daily.reversed IS 'amount reversed that day, major units';

CREATE VIEW wallet_report.bonus_daily AS
  WITH s AS (
    SELECT r.slot, r.currency, r.granted, r.spent, r.returned, r.expired, r.voided, r.clawed_back
      FROM wallet.rollup_bonus r
    UNION ALL
    SELECT f.slot, f.currency, f.granted, f.spent, f.returned, f.expired, f.voided, f.clawed_back
      FROM wallet._report_tail f
     WHERE f.granted <> 0 OR f.spent <> 0 OR f.returned <> 0 OR f.expired <> 0 OR f.voided <> 0
        OR f.clawed_back <> 0)
  SELECT (s.slot AT TIME ZONE current_setting('TimeZone'))::date AS day, s.currency,
         wallet.to_major(sum(s.granted)::bigint, c.exponent) AS granted,
         wallet.to_major(sum(s.spent)::bigint, c.exponent) AS spent,
         wallet.to_major(sum(s.returned)::bigint, c.exponent) AS returned,
         wallet.to_major(sum(s.expired)::bigint, c.exponent) AS expired,
         wallet.to_major(sum(s.voided)::bigint, c.exponent) AS voided,
         wallet.to_major(sum(s.clawed_back)::bigint, c.exponent) AS clawed_back
    FROM s JOIN wallet.currency c ON c.code = s.currency
   GROUP BY 1, 2, c.exponent;
COMMENT ON VIEW wallet_report.bonus_daily IS 'bonus movements per day (in the session''s TimeZone) and currency, from the journal''s postings';
COMMENT ON COLUMN wallet_report.bonus_daily.day IS 'calendar day in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.bonus_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.bonus_daily.granted IS 'bonus granted by top-ups (bonus_expense legs of top_up), major units';
COMMENT ON COLUMN wallet_report.bonus_daily.spent IS 'bonus used by spends (wallet bonus legs of spend), major units';
COMMENT ON COLUMN wallet_report.bonus_daily.returned IS 'bonus given back to wallets by reversals (wallet bonus legs of reverse_spend), major units';
COMMENT ON COLUMN wallet_report.bonus_daily.expired IS 'breakage: bonus written off on expiry, by expire_bonus or by a reversal past the expiry (breakage legs), major units';
COMMENT ON COLUMN wallet_report.bonus_daily.voided IS 'unspent bonus cancelled by settled refunds of its top-up, major units';
COMMENT ON COLUMN wallet_report.bonus_daily.clawed_back IS 'cash kept by settled refunds for bonus already spent, major units';

CREATE VIEW wallet_report.refunds_daily AS
  SELECT (r.requested_at AT TIME ZONE current_setting('TimeZone'))::date AS day, w.currency, r.reason, r.status,
         count(*) AS count,
         wallet.to_major(sum(r.amount)::bigint, c.exponent) AS amount,
         wallet.to_major(sum(r.fee)::bigint, c.exponent) AS fee,
         wallet.to_major(sum(r.net)::bigint, c.exponent) AS net,
         wallet.to_major(sum(r.clawback)::bigint, c.exponent) AS bonus_clawback,
         wallet.to_major(sum(r.bonus_void)::bigint, c.exponent) AS bonus_void
    FROM wallet.refund r
    JOIN wallet.wallet w ON w.wallet_id = r.wallet_id
    JOIN wallet.currency c ON c.code = w.currency
   GROUP BY 1, 2, 3, 4, c.exponent;
COMMENT ON VIEW wallet_report.refunds_daily IS 'refund requests per day requested (in the session''s TimeZone), currency, reason and current status';
COMMENT ON COLUMN wallet_report.refunds_daily.day IS 'calendar day of the request in the session''s TimeZone';
COMMENT ON COLUMN wallet_report.refunds_daily.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.refunds_daily.reason IS 'user or platform';
COMMENT ON COLUMN wallet_report.refunds_daily.status IS 'current status: pending, approved, rejected, succeeded, failed';
COMMENT ON COLUMN wallet_report.refunds_daily.count IS 'number of refund requests';
COMMENT ON COLUMN wallet_report.refunds_daily.amount IS 'cash asked back, major units';
COMMENT ON COLUMN wallet_report.refunds_daily.fee IS 'refund fees, major units';
COMMENT ON COLUMN wallet_report.refunds_daily.net IS 'amount less fee: what is (to be) paid out, major units';
COMMENT ON COLUMN wallet_report.refunds_daily.bonus_clawback IS 'cash kept for bonus already spent, major units';
COMMENT ON COLUMN wallet_report.refunds_daily.bonus_void IS 'unspent bonus cancelled, major units';

CREATE VIEW wallet_report.coupons AS
  SELECT s.template_id, s.currency, s.kind, t.value, t.max_discount, t.valid_from, t.valid_until,
         t.total_limit, s.issued, s.redeemed, s.expired, s.outstanding, s.total_discount
    FROM wallet.coupon_stats s JOIN wallet.coupon_template t ON t.template_id = s.template_id;
COMMENT ON VIEW wallet_report.coupons IS 'per coupon template, now: its terms and issued, redeemed, expired, outstanding coupons';
COMMENT ON COLUMN wallet_report.coupons.template_id IS 'coupon template';
COMMENT ON COLUMN wallet_report.coupons.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.coupons.kind IS 'amount (money off) or percent (percent off)';
COMMENT ON COLUMN wallet_report.coupons.value IS 'money off in major units for kind amount, percent off for kind percent';
COMMENT ON COLUMN wallet_report.coupons.max_discount IS 'cap of a percent discount, major units (NULL: none)';
COMMENT ON COLUMN wallet_report.coupons.valid_from IS 'template valid from (NULL: always)';
COMMENT ON COLUMN wallet_report.coupons.valid_until IS 'template valid until (NULL: no end)';
COMMENT ON COLUMN wallet_report.coupons.total_limit IS 'most coupons the template may issue (NULL: no limit)';
COMMENT ON COLUMN wallet_report.coupons.issued IS 'coupons issued';
COMMENT ON COLUMN wallet_report.coupons.redeemed IS 'coupons used by a spend (a fully reversed spend gives its coupon back)';
COMMENT ON COLUMN wallet_report.coupons.expired IS 'coupons unused past their validity';
COMMENT ON COLUMN wallet_report.coupons.outstanding IS 'coupons unused and still valid';
COMMENT ON COLUMN wallet_report.coupons.total_discount IS 'discount given by the redeemed coupons, major units';

CREATE VIEW wallet_report.liability AS
  WITH per_wallet AS (
    SELECT w.currency,
           coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'cash'), 0) AS cash,
           coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'bonus'), 0) AS bonus,
           coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'bonus' AND l.until <= wallet.clock()), 0)
             AS bonus_expired,
           coalesce(sum(l.amount) FILTER (WHERE l.bucket = 'earnings'), 0) AS earnings,
           coalesce(sum(l.held), 0) AS held
      FROM wallet.wallet w LEFT JOIN LATERAL wallet.lots_list(w.lots) l ON true
     GROUP BY w.wallet_id, w.currency),
  pending AS (
    SELECT w.currency, sum(p.amount) AS amount
      FROM wallet.payee_credit p JOIN wallet.wallet w ON w.wallet_id = p.wallet_id GROUP BY w.currency),
  tot AS (
    SELECT pw.currency, count(*) AS wallets, sum(pw.cash) AS cash, sum(pw.bonus) AS bonus,
           sum(pw.bonus_expired) AS bonus_expired, sum(pw.earnings) AS earnings, sum(pw.held) AS held
      FROM per_wallet pw GROUP BY pw.currency)
  SELECT t.currency, t.wallets,
         wallet.to_major(t.cash::bigint, c.exponent) AS cash,
         wallet.to_major(t.bonus::bigint, c.exponent) AS bonus,
         wallet.to_major(t.bonus_expired::bigint, c.exponent) AS bonus_expired,
         wallet.to_major((t.earnings + coalesce(p.amount, 0))::bigint, c.exponent) AS earnings,
         wallet.to_major(t.held::bigint, c.exponent) AS held,
         wallet.to_major((t.cash + t.bonus + t.earnings + coalesce(p.amount, 0) + t.held)::bigint, c.exponent)
           AS total,
         wallet.clock() AS as_of
    FROM tot t
    JOIN wallet.currency c ON c.code = t.currency
    LEFT JOIN pending p ON p.currency = t.currency;
COMMENT ON VIEW wallet_report.liability IS 'what the wallets hold now, per currency (equals the journal''s wallet legs)';
COMMENT ON COLUMN wallet_report.liability.currency IS 'ISO 4217 code';
COMMENT ON COLUMN wallet_report.liability.wallets IS 'number of wallets';
COMMENT ON COLUMN wallet_report.liability.cash IS 'cash held by wallets (not held for refunds), major units';
COMMENT ON COLUMN wallet_report.liability.bonus IS 'bonus on the books, major units (includes bonus_expired)';
COMMENT ON COLUMN wallet_report.liability.bonus_expired IS 'bonus past its expiry and not yet written off by expire_bonus, major units';
COMMENT ON COLUMN wallet_report.liability.earnings IS 'earnings, including payee credits not yet rolled up, major units';
COMMENT ON COLUMN wallet_report.liability.held IS 'money held for pending and approved refunds, major units';
COMMENT ON COLUMN wallet_report.liability.total IS 'cash + bonus + earnings + held, major units';
COMMENT ON COLUMN wallet_report.liability.as_of IS 'the wallet clock when read';

------------------------------------------------------------------------------
-- pg_cron (optional)
------------------------------------------------------------------------------
CREATE FUNCTION wallet.schedule_jobs(expire_schedule text DEFAULT '*/5 * * * *',
                                     rollup_schedule text DEFAULT '* * * * *',
                                     reconcile_schedule text DEFAULT '17 3 * * *',
                                     remind_schedule text DEFAULT '7 * * * *',
                                     report_schedule text DEFAULT '*/10 * * * *',
                                     cleanup_schedule text DEFAULT '43 4 * * *',
                                     cron_retention interval DEFAULT '14 days')
  RETURNS TABLE (jobname text, schedule text, command text, jobid bigint)
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  j record;
  id bigint;
BEGIN
  IF to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
    PERFORM wallet._fail('55000', 'pg_cron is not installed in this database',
      format('wallet.schedule_jobs() needs the pg_cron extension in database "%s".', current_database()),
      'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart, and run '
      'CREATE EXTENSION pg_cron; or call wallet.expire_bonus(), wallet.rollup_credits(), '
      'wallet.reconcile(), wallet.remind_expiring() and wallet.refresh_reports() from your own scheduler.');
  END IF;
  IF cron_retention IS NULL OR cron_retention < interval '0' THEN
    PERFORM wallet._fail('22023', 'cron_retention must be a non-negative interval');
  END IF;
  FOR j IN SELECT * FROM (VALUES
      ('wallet-expire-bonus', expire_schedule, 'SELECT * FROM wallet.expire_bonus()'),
      ('wallet-rollup-credits', rollup_schedule, 'SELECT wallet.rollup_credits()'),
      ('wallet-reconcile', reconcile_schedule, 'SELECT count(*) FROM wallet.reconcile()'),
      ('wallet-remind-expiring', remind_schedule, 'SELECT wallet.remind_expiring()'),
      ('wallet-refresh-reports', report_schedule, 'SELECT wallet.refresh_reports()'),
      ('wallet-cron-cleanup', cleanup_schedule,
       format('DELETE FROM cron.job_run_details WHERE end_time < now() - %L::interval', cron_retention::text))
      ) AS v(n, s, c) LOOP
    IF j.s IS NULL THEN
      PERFORM wallet._fail('22023', format('schedule of %s must not be null', j.n));
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO id USING j.n, j.s, j.c;
    jobname := j.n; schedule := j.s; command := j.c; jobid := id;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION wallet.schedule_jobs(text, text, text, text, text, text, interval) IS
  'schedules (or reschedules, by name: never duplicates) the wallet''s pg_cron jobs in this database: '
  'wallet-expire-bonus (expire_bonus), wallet-rollup-credits (rollup_credits), wallet-reconcile (reconcile), '
  'wallet-remind-expiring (remind_expiring), wallet-refresh-reports (refresh_reports) and wallet-cron-cleanup '
  '(deletes cron.job_run_details rows that ended more than cron_retention ago). pg_cron runs every job as the '
  'user who called schedule_jobs (current_user), so call it as the login that should run them: it needs '
  'EXECUTE on those functions (e.g. a member of wallet_admin); the wallet functions themselves are SECURITY '
  'DEFINER and act as the extension owner; the cleanup deletes as that user, which pg_cron limits to its own '
  'run details unless it is a superuser';

CREATE FUNCTION wallet.unschedule_jobs() RETURNS int
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  n int := 0;
  j record;
BEGIN
  IF to_regprocedure('cron.unschedule(name)') IS NULL THEN
    PERFORM wallet._fail('55000', 'pg_cron is not installed in this database');
  END IF;
  FOR j IN EXECUTE 'SELECT jobname FROM cron.job WHERE jobname LIKE ''wallet-%'' AND username = current_user' LOOP
    EXECUTE 'SELECT cron.unschedule($1)' USING j.jobname;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;
COMMENT ON FUNCTION wallet.unschedule_jobs() IS
  'removes every wallet-* pg_cron job of the current user; returns how many';

------------------------------------------------------------------------------
-- pg_dump keeps the data of these tables (the roll-ups are not dumped: after a
-- restore, the watermark starts at 0 and wallet.refresh_reports() rebuilds them)
------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('wallet.notification', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.alert', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.audit', '');

------------------------------------------------------------------------------
-- Privileges (as in src/wallet.sql: nothing for PUBLIC, then per role)
------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA wallet, wallet_report FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA wallet, wallet_report FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet, wallet_report FROM PUBLIC;

GRANT EXECUTE ON FUNCTION wallet.pending_notifications(int), wallet.mark_notified(bigint[]) TO wallet_app;

GRANT EXECUTE ON FUNCTION
  wallet.remind_expiring(int), wallet.refresh_reports(int),
  wallet.schedule_jobs(text, text, text, text, text, text, interval), wallet.unschedule_jobs()
  TO wallet_admin;
GRANT SELECT ON wallet.notification, wallet.alert, wallet.audit, wallet.reconciliation_latest TO wallet_admin;

GRANT SELECT ON wallet_report.topups_daily, wallet_report.spending_daily, wallet_report.bonus_daily,
  wallet_report.refunds_daily, wallet_report.coupons, wallet_report.liability
  TO wallet_reader, wallet_admin;

-- The roll-up's bookkeeping tables are tiny: say so to the planner from the start, so that
-- the views' plans (and their JIT thresholds) do not assume ten pages of gaps.
ANALYZE wallet.rollup_state, wallet.rollup_gap;
