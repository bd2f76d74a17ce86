\echo Use "CREATE EXTENSION wallet" to load this file. \quit

-- wallet 0.2: the stored-value wallet engine.
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
CREATE FUNCTION wallet.lots_negative(ls wallet.lotset) RETURNS boolean
  AS 'MODULE_PATHNAME', 'wallet_lots_negative' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_expire(ls wallet.lotset, now timestamptz,
                                   OUT lots wallet.lotset, OUT expired bigint, OUT lots_expired int)
  AS 'MODULE_PATHNAME', 'wallet_lots_expire' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION wallet.lots_take(ls wallet.lotset, bucket text, amount bigint, now timestamptz,
                                 every_scope boolean DEFAULT false,
                                 OUT lots wallet.lotset, OUT taken bigint)
  AS 'MODULE_PATHNAME', 'wallet_lots_take' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- debt_repaid: the part of a credit (minor units) that repays a debt; every credit to a
-- wallet in debt repays the debt first (src/engine.c, engine_debt_repaid).
CREATE FUNCTION wallet.debt_repaid(debt bigint, credit bigint) RETURNS bigint
  AS 'MODULE_PATHNAME', 'wallet_debt_repaid' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- _refuse_in_debt: WL008 when a wallet in debt asks to take money out (withdraw, transfer,
-- exchange out); the check every such operation calls (src/ops.c, refuse_in_debt).
CREATE FUNCTION wallet._refuse_in_debt(wallet_id bigint, debt bigint, exponent int, operation text)
  RETURNS void AS 'MODULE_PATHNAME', 'wallet_refuse_in_debt' LANGUAGE C STABLE;
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
                          CHECK (commission_rate >= 0 AND commission_rate <= 1),
  payee_debt_flag         numeric  NULL
                          CHECK (payee_debt_flag >= 0 AND payee_debt_flag < 1e15)
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

-- _exponent returns a currency's exponent, or refuses an unknown currency (22023). The settings'
-- checks call it: the row is key-share-locked, so the exponent the amounts were checked against
-- stays until the setting commits (wallet._currency_check waits for it).
CREATE FUNCTION wallet._exponent(cur text) RETURNS int
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  e int;
BEGIN
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = cur FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown currency "%s"', cur),
      HINT = 'Currencies are listed in wallet.currency.';
  END IF;
  RETURN e;
END $$;

-- _check_money refuses an amount finer than the currency, too large, NaN or infinite. Zero and
-- NULL pass; a negative amount is left to the table's check, which says the setting is out of
-- range (to_minor would say "must be greater than zero" of a setting that may be zero).
CREATE FUNCTION wallet._check_money(val numeric, e int, argname text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF val > 0 THEN
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

-- _restoring tells whether the statement running is a restore's: pg_dump writes the extension's
-- data as COPY ... FROM stdin (pg_restore and psql send it as it is written) and the extension as
-- CREATE EXTENSION IF NOT EXISTS wallet WITH SCHEMA wallet. During a restore the triggers on the
-- extension's tables do not fire (the rows were checked and audited when they were first
-- written, and the restored audit log already holds their entries) and the install makes no
-- journal partitions (the dump brings its own). See docs/backup.md.
CREATE FUNCTION wallet._restoring() RETURNS boolean
  LANGUAGE sql STABLE AS $$
  SELECT current_query() ~* '^\s*(copy\s+wallet\.[a-z0-9_]+\s*\([^()]*\)\s+from\s+stdin|create\s+extension\s+if\s+not\s+exists\s+wallet\s+with\s+schema\s+wallet)\s*;?\s*$'
$$;
COMMENT ON FUNCTION wallet._restoring() IS
  'true while the statement running is a restore''s (pg_dump''s COPY ... FROM stdin of a wallet table, or its CREATE EXTENSION)';

-- _check_interval refuses (22023) an interval setting with a negative part or longer than
-- 1000 years: added to any time the wallet clock may show (before the year 8999), it stays
-- within the years a lot may hold (to 9999). NULL passes.
CREATE FUNCTION wallet._check_interval(val interval, argname text) RETURNS void
  AS 'MODULE_PATHNAME', 'wallet_check_interval' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- _check_time refuses (22023) a time setting outside the years the wallet clock may show
-- (1 to 8998); infinity, -infinity and NULL pass.
CREATE FUNCTION wallet._check_time(val timestamptz, argname text) RETURNS void
  AS 'MODULE_PATHNAME', 'wallet_check_time' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Every setting is checked when it is written, by set_policy, add_bonus_rule and
-- add_coupon_template or by a direct INSERT or UPDATE: the table checks bound each value,
-- and these BEFORE triggers refuse (22023) what the table checks cannot see (amounts finer
-- than the currency, intervals and times the clock cannot reach, control characters).

-- _currency_check refuses (WL008) a change of exponent once wallets, rules, templates or a
-- policy use the currency: their amounts are minor units of the old exponent.
CREATE FUNCTION wallet._currency_check() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  users text[];
BEGIN
  IF NEW.exponent IS DISTINCT FROM OLD.exponent THEN
    -- wait for the transactions that hold the row key-share-locked (wallet.open, and the foreign
    -- keys of new rules, templates and policies) and then see what they wrote
    PERFORM 1 FROM wallet.currency c WHERE c.code = OLD.code FOR UPDATE;
    users := array_remove(ARRAY[
      CASE WHEN EXISTS (SELECT 1 FROM wallet.wallet w WHERE w.currency = OLD.code) THEN 'wallets' END,
      CASE WHEN EXISTS (SELECT 1 FROM wallet.bonus_rule r WHERE r.currency = OLD.code) THEN 'bonus rules' END,
      CASE WHEN EXISTS (SELECT 1 FROM wallet.coupon_template t WHERE t.currency = OLD.code)
           THEN 'coupon templates' END,
      CASE WHEN EXISTS (SELECT 1 FROM wallet.policy p WHERE p.currency = OLD.code) THEN 'a policy' END], NULL);
    IF cardinality(users) > 0 THEN
      PERFORM wallet._fail('WL008', format('the exponent of currency %s cannot change', OLD.code),
        format('Currency %s is used by %s; its amounts are stored in units of 10^-%s.',
               OLD.code, array_to_string(users, ', '), OLD.exponent),
        'Add a currency of another code for the new exponent.');
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER currency_check BEFORE UPDATE ON wallet.currency
  FOR EACH ROW WHEN (NOT wallet._restoring()) EXECUTE FUNCTION wallet._currency_check();

-- _policy_check refuses intervals the clock cannot add and amounts finer than the currency.
CREATE FUNCTION wallet._policy_check() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
BEGIN
  PERFORM wallet._check_interval(NEW.refund_window, 'refund_window');
  PERFORM wallet._check_interval(NEW.remind_before, 'remind_before');
  PERFORM wallet._check_money(NEW.refund_auto_approve_max, wallet._exponent(NEW.currency),
                              'refund_auto_approve_max');
  RETURN NEW;
END $$;
CREATE TRIGGER policy_check BEFORE INSERT OR UPDATE ON wallet.policy
  FOR EACH ROW WHEN (NOT wallet._restoring()) EXECUTE FUNCTION wallet._policy_check();

-- bonus_rule_check refuses amounts finer than the currency, malformed scopes and campaigns,
-- and intervals and times the clock cannot reach.
CREATE FUNCTION wallet._bonus_rule_check() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  e int := wallet._exponent(NEW.currency);
BEGIN
  PERFORM wallet._text(NEW.campaign, 'campaign', 200);
  PERFORM wallet._check_money(NEW.min_amount, e, 'min_amount');
  PERFORM wallet._check_money(NEW.bonus_fixed, e, 'bonus_fixed');
  PERFORM wallet._check_money(NEW.max_bonus, e, 'max_bonus');
  PERFORM wallet._check_interval(NEW.valid_for, 'valid_for');
  PERFORM wallet._check_time(NEW.starts_at, 'starts_at');
  PERFORM wallet._check_time(NEW.ends_at, 'ends_at');
  PERFORM wallet._check_scope(NEW.scope);
  RETURN NEW;
END $$;
CREATE TRIGGER bonus_rule_check BEFORE INSERT OR UPDATE ON wallet.bonus_rule
  FOR EACH ROW WHEN (NOT wallet._restoring()) EXECUTE FUNCTION wallet._bonus_rule_check();

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
  debt          bigint   NOT NULL DEFAULT 0 CHECK (debt >= 0),
  UNIQUE (owner, currency)
) WITH (fillfactor = 80);
CREATE INDEX wallet_next_expiry ON wallet.wallet (next_expiry) WHERE next_expiry IS NOT NULL;
COMMENT ON TABLE wallet.wallet IS 'one row per wallet: header and live lots';
COMMENT ON COLUMN wallet.wallet.debt IS
  'what reversals took back from this payee beyond its earnings (minor units), owed to payee_receivable; '
  'later credits repay it first';
COMMENT ON COLUMN wallet.policy.payee_debt_flag IS
  'a payee whose debt grows above this (major units) gets a risk flag; NULL: never';

-- The journal: one row per operation, with its postings. Append-only.
-- Partitioned by month of created_at (UTC): rows of a month without its own partition
-- land in txn_default; wallet.add_journal_partitions() creates the monthly partitions
-- ahead, wallet.archive_journal() detaches old ones (see "Archival" below).
CREATE TABLE wallet.txn (
  txn_id          bigint GENERATED BY DEFAULT AS IDENTITY,
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
) PARTITION BY RANGE (created_at);
-- Each partition has its own indexes (primary key (txn_id, created_at) and ref_txn), made
-- with it (src/journal.c, _journal_partition_ddl), and the partitioned table none: pg_dump
-- writes a partition as CREATE TABLE, ATTACH PARTITION, then its indexes, and ATTACH would
-- already have made indexes of the parent's, so that a dump with them did not restore.
CREATE TABLE wallet.txn_default PARTITION OF wallet.txn DEFAULT;
ALTER TABLE wallet.txn_default ADD CONSTRAINT txn_default_pkey PRIMARY KEY (txn_id, created_at);
CREATE INDEX txn_default_ref_txn_idx ON wallet.txn_default (ref_txn) WHERE ref_txn IS NOT NULL;
-- Idempotency keys: one row per (wallet_id, idempotency_key) with the transaction it
-- names, in a table of its own. A partitioned journal cannot hold that unique index
-- (it would have to contain created_at); here the database itself refuses a second
-- use of a key, the look-up is one index probe however many months are online, and a
-- key stays taken after its month is archived (a late replay is refused, not charged
-- again). Every writer of a keyed journal row writes its key row in the same statement
-- or transaction.
CREATE TABLE wallet.txn_key (
  wallet_id       bigint NOT NULL,
  idempotency_key text   NOT NULL,
  txn_id          bigint NOT NULL,
  created_at      timestamptz NOT NULL,
  CONSTRAINT txn_key_pkey PRIMARY KEY (wallet_id, idempotency_key)
);
COMMENT ON TABLE wallet.txn_key IS 'idempotency keys: the journal transaction (txn_id, created_at) each (wallet, key) names';
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
-- statement triggers are not inherited: each partition gets its own TRUNCATE guard
CREATE TRIGGER txn_no_truncate BEFORE TRUNCATE ON wallet.txn_default
  FOR EACH STATEMENT EXECUTE FUNCTION wallet._journal_append_only();

-- Credits to a payee wait here until rolled up into its wallet row, so that
-- many concurrent spends paying one payee never queue on that row. One index, led by the
-- payee (what balance and the roll-up look up): every credit to a busy payee goes to the
-- same leaf page of each index, so a second index (on credit_id alone) was a second page
-- all of them queued on.
CREATE TABLE wallet.payee_credit (
  credit_id bigint GENERATED BY DEFAULT AS IDENTITY,
  wallet_id bigint NOT NULL,
  amount    bigint NOT NULL CHECK (amount > 0),
  txn_id    bigint NOT NULL,
  CONSTRAINT payee_credit_pkey PRIMARY KEY (wallet_id, credit_id)
);

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
  settled_at   timestamptz,
  coupon_clawback bigint NOT NULL DEFAULT 0 CHECK (coupon_clawback >= 0),
  coupons_voided  int    NOT NULL DEFAULT 0 CHECK (coupons_voided >= 0)
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

-- The hot path keeps each currency's policy, bonus rules and top-up coupon templates in
-- backend memory; a change to those tables makes every backend forget them (a relcache
-- invalidation, sent when the change commits). ENABLE ALWAYS: changes applied by logical
-- replication count too. The issued counter is not configuration: updating it alone does
-- not fire.
CREATE FUNCTION wallet._config_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'wallet_config_changed' LANGUAGE C;
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON wallet.policy
  FOR EACH STATEMENT EXECUTE FUNCTION wallet._config_changed();
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON wallet.bonus_rule
  FOR EACH STATEMENT EXECUTE FUNCTION wallet._config_changed();
CREATE TRIGGER config_changed AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF issue_on, currency
  ON wallet.coupon_template FOR EACH STATEMENT EXECUTE FUNCTION wallet._config_changed();
ALTER TABLE wallet.policy ENABLE ALWAYS TRIGGER config_changed;
ALTER TABLE wallet.bonus_rule ENABLE ALWAYS TRIGGER config_changed;
ALTER TABLE wallet.coupon_template ENABLE ALWAYS TRIGGER config_changed;

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
  discount     bigint  CHECK (discount >= 0),
  voided_at    timestamptz,
  void_refund  bigint,
  clawback_refund bigint
);
CREATE INDEX coupon_wallet ON wallet.coupon (wallet_id, template_id);
CREATE INDEX coupon_template_redeemed ON wallet.coupon (template_id) INCLUDE (redeemed_txn, discount, valid_until);
COMMENT ON TABLE wallet.coupon IS 'issued coupons; a coupon belongs to one wallet and is used at most once';
COMMENT ON COLUMN wallet.coupon.void_refund IS 'the refund of the issuing top-up that voided this coupon (voided_at set)';
COMMENT ON COLUMN wallet.coupon.clawback_refund IS 'the refund of the issuing top-up whose clawback took back this coupon''s discount';

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

-- _text checks a text argument: not NULL nor empty when required, at most maxlen characters,
-- no control characters (C0, DEL, C1 and the bidirectional overrides and isolates). The one
-- definition, in C: top_up and spend check their text arguments with the same code.
CREATE FUNCTION wallet._text(val text, argname text, maxlen int DEFAULT 200, required boolean DEFAULT false)
  RETURNS text AS 'MODULE_PATHNAME', 'wallet_text_check' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- _policy returns a currency's policy, with the defaults where it has no row.
CREATE FUNCTION wallet._policy(cur text) RETURNS wallet.policy
  LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT p FROM wallet.policy p WHERE p.currency = cur),
    ROW(cur, '30 days', 0, 0, 3, '3 days', 0, NULL)::wallet.policy)
$$;

-- _refuse_rules raises WL008 while a table the operations write has a rule (see "Rules on the
-- extension's tables" below): the check top_up and spend make, for the operations in SQL.
CREATE FUNCTION wallet._refuse_rules() RETURNS void
  AS 'MODULE_PATHNAME', 'wallet_refuse_rules' LANGUAGE C VOLATILE;

-- _lock locks and returns a wallet row, or raises WL006; every operation that writes a
-- wallet locks it here, after refusing rules on the tables it writes.
CREATE FUNCTION wallet._lock(wid bigint) RETURNS wallet.wallet
  LANGUAGE plpgsql AS $$
DECLARE
  w wallet.wallet;
BEGIN
  IF wid IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  PERFORM wallet._refuse_rules();
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
  x wallet.txn_key;
  t record;
BEGIN
  SELECT * INTO x FROM wallet.txn_key y WHERE y.wallet_id = wid AND y.idempotency_key = k;
  IF NOT FOUND THEN RETURN NULL; END IF;
  SELECT kind, request, result INTO t FROM wallet.txn
   WHERE txn_id = x.txn_id AND created_at = x.created_at;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL008', format('the operation of idempotency key "%s" has been archived', k),
      format('Key "%s" of wallet %s names transaction %s of %s, in an archived month of the journal.',
             k, wid, x.txn_id, x.created_at));
  END IF;
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

-- _credit adds a credit of amt to a locked wallet's earnings (ls: its lots, returned with
-- the credit) and repays its debt first: the part wallet.debt_repaid gives goes to
-- payee_receivable in a journal transaction of its own (kind repay_debt, ref_txn: the
-- transaction that credited) and only the rest becomes earnings. Every path that credits a
-- wallet calls it (payee credits, as they are rolled up; transfers in, card payouts and
-- adjustments): CONTRACT.md section 5. The credit itself is posted by the crediting
-- transaction, as a wallet earnings leg of amt.
CREATE FUNCTION wallet._credit(wid bigint, ls wallet.lotset, amt bigint, txn bigint, clk timestamptz)
  RETURNS wallet.lotset
  LANGUAGE plpgsql AS $$
DECLARE
  w wallet.wallet;
  repaid bigint;
BEGIN
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = wid;
  repaid := wallet.debt_repaid(w.debt, amt);
  IF repaid > 0 THEN
    UPDATE wallet.wallet x SET debt = x.debt - repaid WHERE x.wallet_id = wid;
    INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, ref_txn, result, postings)
    VALUES (wid, 'repay_debt', repaid, w.currency, clk, txn,
            jsonb_build_object('repaid', repaid, 'debt', w.debt - repaid),
            wallet._legs(ROW('wallet', wid, 'earnings', -repaid)::wallet.posting,
                         ROW('payee_receivable', wid, NULL, repaid)::wallet.posting));
  END IF;
  IF repaid = amt THEN RETURN ls; END IF;
  RETURN wallet.lots_add(ls, 'earnings', amt - repaid, txn, clk, NULL, NULL);
END $$;

-- _rollup moves a locked wallet's pending payee credits into its earnings (wallet._credit:
-- a debt is repaid first).
CREATE FUNCTION wallet._rollup(wid bigint, ls wallet.lotset, clk timestamptz) RETURNS wallet.lotset
  LANGUAGE plpgsql AS $$
DECLARE
  total bigint;
  last_txn bigint;
BEGIN
  WITH d AS (DELETE FROM wallet.payee_credit WHERE wallet_id = wid RETURNING amount, txn_id)
  SELECT sum(amount), max(txn_id) INTO total, last_txn FROM d;
  IF total IS NULL THEN RETURN ls; END IF;
  RETURN wallet._credit(wid, ls, total, last_txn, clk);
END $$;

-- _rollup_wallet rolls up a wallet's pending payee credits and writes its row (spend, when
-- the wallet's lots alone are short; the caller holds the row lock).
CREATE FUNCTION wallet._rollup_wallet(wid bigint) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  ls wallet.lotset;
BEGIN
  SELECT x.lots INTO ls FROM wallet.wallet x WHERE x.wallet_id = wid FOR UPDATE;
  PERFORM wallet._save(wid, wallet._rollup(wid, ls, wallet.clock()));
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
  PERFORM wallet._refuse_rules();
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
  -- read again under a key-share lock: the exponent cannot change until this wallet has
  -- committed (wallet._currency_check waits for it, then sees the wallet)
  SELECT c.exponent INTO e FROM wallet.currency c WHERE c.code = open.currency FOR KEY SHARE;
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
  OUT held numeric, OUT available numeric, OUT withdrawable numeric, OUT frozen boolean,
  OUT debt numeric)
  RETURNS SETOF record
  LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  w wallet.wallet;
  t record;
  pend bigint;
  owed bigint;
BEGIN
  IF _balance.wid IS NULL THEN PERFORM wallet._fail('22023', 'wallet_id must not be null'); END IF;
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = _balance.wid;
  IF NOT FOUND THEN
    PERFORM wallet._fail('WL006', format('wallet %s does not exist', _balance.wid));
  END IF;
  PERFORM wallet._text(_balance.scene, 'scene', 64);
  t := wallet.lots_totals(w.lots, _balance.scene, wallet.clock());
  pend := wallet._pending(w.wallet_id);
  -- payee credits not rolled up yet repay the debt first (as the roll-up will): that part
  -- is neither earnings nor available
  owed := wallet.debt_repaid(w.debt, pend);
  RETURN QUERY SELECT w.wallet_id, w.currency,
    wallet.to_major(t.cash, w.exponent), wallet.to_major(t.bonus, w.exponent),
    wallet.to_major(t.earnings + pend - owed, w.exponent), wallet.to_major(t.held, w.exponent),
    wallet.to_major(t.cash + t.bonus + t.earnings + pend - owed, w.exponent),
    wallet.to_major(CASE WHEN w.debt > owed THEN 0 ELSE t.earnings + pend - owed END, w.exponent), w.frozen,
    wallet.to_major(w.debt - owed, w.exponent);
END $$;

CREATE FUNCTION wallet.balance(wallet_id bigint, scene text DEFAULT NULL)
  RETURNS TABLE (wallet_id bigint, currency text, cash numeric, bonus numeric, earnings numeric,
                 held numeric, available numeric, withdrawable numeric, frozen boolean, debt numeric)
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

------------------------------------------------------------------------------
-- Spending
------------------------------------------------------------------------------
-- spend is C (src/ops.c): bonus first, then cash, then earnings; payee
-- credits go to wallet.payee_credit so a popular payee's row is never hot.
CREATE TYPE wallet.spend_result AS (txn_id bigint, charged numeric, discount numeric,
                                    bonus_used numeric, cash_used numeric, earnings_used numeric,
                                    shortfall numeric, replayed boolean);
COMMENT ON TYPE wallet.spend_result IS 'the row wallet.spend returns';
CREATE FUNCTION wallet.spend(wallet_id bigint, amount numeric, idempotency_key text,
                             scene text DEFAULT NULL, coupon text DEFAULT NULL,
                             allow_partial boolean DEFAULT false, payee bigint DEFAULT NULL,
                             order_ref text DEFAULT NULL)
  RETURNS wallet.spend_result
  AS 'MODULE_PATHNAME', 'wallet_spend'
  LANGUAGE C VOLATILE SECURITY DEFINER;

-- _add_debt adds amt (minor units) to a locked payee's debt: what a reversal (transaction
-- txn) took back beyond the payee's earnings. A debt that grows past the currency's
-- policy.payee_debt_flag gets the payee a risk flag (kind payee_debt), once per crossing.
CREATE FUNCTION wallet._add_debt(wid bigint, amt bigint, txn bigint, clk timestamptz) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  w wallet.wallet;
  lim numeric;
BEGIN
  UPDATE wallet.wallet x SET debt = x.debt + amt WHERE x.wallet_id = wid RETURNING x.* INTO w;
  lim := (wallet._policy(w.currency)).payee_debt_flag * (10::numeric ^ w.exponent);
  IF lim IS NOT NULL AND w.debt > lim AND w.debt - amt <= lim THEN
    INSERT INTO wallet.risk_flag (wallet_id, kind, detail, created_at)
    VALUES (wid, 'payee_debt',
            format('debt %s above %s after reversal %s', wallet.to_major(w.debt, w.exponent),
                   (wallet._policy(w.currency)).payee_debt_flag, txn), clk);
  END IF;
END $$;

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
  payee_taken bigint := 0;
  payee_owed bigint := 0;
  tk record;
  tid bigint;
  legs wallet.posting[];
  res jsonb;
  discount bigint;
  restored boolean := false;
  blocked bigint;
  clawed record;
  coupon_cash bigint := 0;
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

  portion := CASE WHEN x = 0 THEN wallet.lots_empty() ELSE wallet.reversal_split(remaining, coalesce((sp.result->>'bonus_used')::bigint, 0),
                                   coalesce((sp.result->>'cash_used')::bigint, 0),
                                   coalesce((sp.result->>'earnings_used')::bigint, 0), x) END;
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
    -- a reversal never fails for the payee's sake (a frozen payee included: a freeze stops
    -- the wallet's own debits, not the platform's corrections): its earnings, pending
    -- credits rolled up first, give back what they can; the rest is its debt
    IF payee_back > 0 THEN
      tk := wallet.lots_take(wallet._rollup(pw.wallet_id, pw.lots, clk), 'earnings', payee_back, clk);
      payee_taken := tk.taken;
      payee_owed := payee_back - tk.taken;
      PERFORM wallet._save(pw.wallet_id, tk.lots);
      IF payee_owed > 0 THEN
        PERFORM wallet._add_debt(pw.wallet_id, payee_owed, tid, clk);
      END IF;
    END IF;
    legs := legs || wallet._legs(ROW('wallet', payee_id, 'earnings', -payee_taken)::wallet.posting,
                                 ROW('payee_receivable', payee_id, NULL, -payee_owed)::wallet.posting,
                                 ROW('commission', NULL, NULL, -(x - payee_back))::wallet.posting);
  END IF;

  -- a coupon whose discount a refund of its top-up clawed back was paid for by the customer:
  -- the full reversal gives that discount back as cash (closed to refunds), and the coupon,
  -- part of a refunded top-up, stays void; while that refund is open it is not known yet
  SELECT r2.refund_id, r2.status INTO clawed
    FROM wallet.coupon c JOIN wallet.refund r2 ON r2.refund_id = c.clawback_refund
   WHERE c.redeemed_txn = sp.txn_id AND c.wallet_id = w.wallet_id;
  IF done + x = charged AND discount > 0 AND clawed.status IN ('pending', 'approved') THEN
    PERFORM wallet._fail('WL008', format('a refund of the top-up that issued the coupon of spend %s is in progress',
                                         sp.txn_id),
      'The refund claws back the coupon''s discount.',
      'Settle, reject or fail the refund first, then reverse the spend.');
  ELSIF done + x = charged AND discount > 0 AND clawed.status = 'succeeded' THEN
    legs := legs || wallet._legs(ROW('revenue', NULL, NULL, -discount)::wallet.posting,
                                 ROW('wallet', w.wallet_id, 'cash', discount)::wallet.posting);
    r.lots := wallet.lots_add(r.lots, 'cash', discount, tid, clk, NULL, NULL);
    UPDATE wallet.coupon c SET redeemed_txn = NULL, redeemed_at = NULL, discount = NULL,
           voided_at = clk, void_refund = clawed.refund_id
     WHERE c.redeemed_txn = sp.txn_id AND c.wallet_id = w.wallet_id;
    coupon_cash := discount;
  -- the full reversal undoes the coupon: its discount, and the coupon itself while still valid
  ELSIF done + x = charged AND discount > 0 THEN
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
                            'payee_debt', payee_owed, 'coupon_restored', restored,
                            'coupon_to_cash', coupon_cash);
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn,
                          request, result, postings, pieces)
  VALUES (tid, w.wallet_id, 'reverse_spend', x, w.currency, clk, k, sp.txn_id, req, res, legs, portion);
  INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, tid, clk);
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

-- _topup_coupons lists the coupons a top-up issued (the codes its journal row recorded) that
-- a refund of it takes: kind 'void' for those still available at clk (the refund voids them),
-- 'claw' for those redeemed whose discount no refund has clawed back yet (with that discount).
-- Coupons issued by a top-up are part of its bonus value: the one list the netting and the
-- request both read.
CREATE FUNCTION wallet._topup_coupons(t wallet.txn, clk timestamptz)
  RETURNS TABLE (code text, kind text, discount bigint)
  LANGUAGE sql STABLE AS $$
  SELECT c.code, CASE WHEN c.redeemed_txn IS NULL THEN 'void' ELSE 'claw' END,
         CASE WHEN c.redeemed_txn IS NULL THEN 0 ELSE c.discount END
    FROM wallet.coupon c
   WHERE c.wallet_id = t.wallet_id
     AND c.code IN (SELECT jsonb_array_elements_text(coalesce(t.result->'coupons', '[]')))
     AND c.voided_at IS NULL
     AND ((c.redeemed_txn IS NULL AND (c.valid_until IS NULL OR c.valid_until > clk))
          OR (c.redeemed_txn IS NOT NULL AND c.clawback_refund IS NULL))
   ORDER BY c.code
$$;

-- _refund_netting is the netting of section 6 for top-up t of wallet w at clk: cash = c,
-- owed = T's bonus spent and not clawed back, coupon_owed = the discount of T's redeemed
-- coupons not clawed back (u = owed + coupon_owed), refundable = c - u (at least 0);
-- bonus_live and coupons_live are what a refund voids. in_window is false once the window closed.
CREATE FUNCTION wallet._refund_netting(w wallet.wallet, t wallet.txn, clk timestamptz,
  OUT in_window boolean, OUT cash bigint, OUT owed bigint, OUT coupon_owed bigint, OUT refundable bigint,
  OUT bonus_live bigint, OUT coupons_live int, OUT refundable_until timestamptz)
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  i record := wallet.lots_refund_info(w.lots, t.txn_id, clk);
BEGIN
  in_window := i.found;
  cash := i.cash;
  owed := i.owed;
  bonus_live := i.bonus_live;
  refundable_until := coalesce(i.refundable_until, (t.result->>'refundable_until')::timestamptz);
  SELECT coalesce(sum(c.discount), 0)::bigint, count(*) FILTER (WHERE c.kind = 'void')
    INTO coupon_owed, coupons_live
    FROM wallet._topup_coupons(t, clk) c;
  IF NOT in_window THEN
    coupon_owed := 0;
    coupons_live := 0;
  END IF;
  refundable := greatest(cash - owed - coupon_owed, 0);
END $$;

CREATE FUNCTION wallet.refund_quote(topup_txn_id bigint, reason text DEFAULT 'user')
  RETURNS TABLE (max_amount numeric, bonus_clawback numeric, bonus_void numeric, fee_rate numeric,
                 refundable_until timestamptz, coupon_clawback numeric, coupons_voided int)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  t wallet.txn := wallet._topup(refund_quote.topup_txn_id);
  w wallet.wallet;
  n record;
BEGIN
  PERFORM wallet._reason(refund_quote.reason);
  SELECT * INTO w FROM wallet.wallet x WHERE x.wallet_id = t.wallet_id;
  n := wallet._refund_netting(w, t, wallet.clock());
  RETURN QUERY SELECT wallet.to_major(n.refundable, w.exponent),
    wallet.to_major(CASE WHEN n.refundable > 0 THEN n.owed ELSE 0 END, w.exponent),
    wallet.to_major(CASE WHEN n.refundable > 0 THEN n.bonus_live ELSE 0 END, w.exponent),
    wallet._fee_rate(t, refund_quote.reason), n.refundable_until,
    wallet.to_major(CASE WHEN n.refundable > 0 THEN n.coupon_owed ELSE 0 END, w.exponent),
    CASE WHEN n.refundable > 0 THEN n.coupons_live ELSE 0 END;
END $$;

CREATE FUNCTION wallet._request_refund(topup_txn_id bigint, idempotency_key text, amount_in numeric,
                                       reason text, note text,
  OUT refund_id bigint, OUT amount numeric, OUT fee numeric, OUT net numeric, OUT bonus_clawback numeric,
  OUT bonus_void numeric, OUT status text, OUT replayed boolean, OUT coupon_clawback numeric,
  OUT coupons_voided int)
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
  asked bigint;
  amt bigint;
  n record;
  h record;
  take bigint;
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
    asked := wallet.to_minor(_request_refund.amount_in, w.exponent, 'amount');
  END IF;
  req := jsonb_build_object('topup_txn_id', t.txn_id, 'amount', asked, 'reason', _request_refund.reason,
                            'note', _request_refund.note);
  prior := wallet._replay(w.wallet_id, k, 'request_refund', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT r.refund_id, wallet.to_major(r.amount, w.exponent), wallet.to_major(r.fee, w.exponent),
      wallet.to_major(r.net, w.exponent), wallet.to_major(r.clawback, w.exponent),
      wallet.to_major(r.bonus_void, w.exponent), (prior->>'status'), true,
      wallet.to_major(r.coupon_clawback, w.exponent), r.coupons_voided
      FROM wallet.refund r WHERE r.refund_id = (prior->>'refund_id')::bigint;
    RETURN;
  END IF;
  IF w.frozen THEN
    PERFORM wallet._fail('WL002', format('wallet %s is frozen', w.wallet_id), w.frozen_reason);
  END IF;

  -- the request is validated first (state, window, amount): an invalid one is refused with its
  -- own error, and never counted, flagged or recorded as a rejected refund
  IF EXISTS (SELECT 1 FROM wallet.refund r WHERE r.topup_txn = t.txn_id AND r.status IN ('pending', 'approved')) THEN
    PERFORM wallet._fail('WL008', format('a refund of top-up %s is already in progress', t.txn_id),
                         hint => 'Settle, reject or fail it first.');
  END IF;
  n := wallet._refund_netting(w, t, clk);
  IF NOT n.in_window THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: the refund window has closed',
      format('Top-up %s was refundable until %s.', t.txn_id, t.result->>'refundable_until'));
  END IF;
  IF n.refundable <= 0 THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: nothing is refundable',
      format('Top-up %s has %s of cash left and %s of its bonus and coupons spent.', t.txn_id,
             wallet.to_major(n.cash, w.exponent), wallet.to_major(n.owed + n.coupon_owed, w.exponent)));
  END IF;
  IF asked > n.refundable THEN
    PERFORM wallet._fail('WL004', 'refund not allowed: amount above what is refundable',
      format('At most %s of top-up %s is refundable.', wallet.to_major(n.refundable, w.exponent), t.txn_id));
  END IF;
  amt := coalesce(asked, n.refundable);

  tid := nextval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
  -- beyond the per-wallet limit the attempt is recorded, rejected, and flagged
  SELECT count(*) INTO recent FROM wallet.refund r
   WHERE r.wallet_id = w.wallet_id AND r.requested_at > clk - interval '30 days'
     AND r.requested_at <= clk AND r.reviewer IS DISTINCT FROM 'limit';
  IF recent >= pol.max_refunds_per_30_days THEN
    INSERT INTO wallet.refund (wallet_id, topup_txn, request_txn, reason, amount, fee, net, clawback,
                               bonus_void, status, note, reviewer, review_note, requested_at, reviewed_at)
    VALUES (w.wallet_id, t.txn_id, tid, _request_refund.reason, coalesce(asked, 0), 0, 0, 0, 0, 'rejected',
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
    INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, tid, clk);
    RETURN QUERY SELECT rid, wallet.to_major(coalesce(asked, 0), w.exponent), wallet.to_major(0, w.exponent),
      wallet.to_major(0, w.exponent), wallet.to_major(0, w.exponent), wallet.to_major(0, w.exponent),
      'rejected'::text, false, wallet.to_major(0, w.exponent), 0;
    RETURN;
  END IF;

  -- the hold: the amount, the bonus clawback and the coupons' clawback from T's cash, and
  -- T's live bonus
  take := amt + n.owed + n.coupon_owed;
  fee_m := least(wallet.rate_amount(amt, wallet._fee_rate(t, _request_refund.reason)), amt);
  h := wallet.lots_refund_hold(w.lots, t.txn_id, take, n.owed, clk);
  -- net at or below the auto-approve limit (compared exactly, in minor units) needs no review
  st := CASE WHEN amt - fee_m <= floor(pol.refund_auto_approve_max * (10::numeric ^ w.exponent))
             THEN 'approved' ELSE 'pending' END;
  INSERT INTO wallet.refund (wallet_id, topup_txn, request_txn, reason, amount, fee, net, clawback, bonus_void,
                             status, note, requested_at, reviewer, reviewed_at, coupon_clawback, coupons_voided)
  VALUES (w.wallet_id, t.txn_id, tid, _request_refund.reason, amt, fee_m, amt - fee_m, n.owed, h.bonus_held,
          st, _request_refund.note, clk, CASE WHEN st = 'approved' THEN 'auto' END,
          CASE WHEN st = 'approved' THEN clk END, n.coupon_owed, n.coupons_live)
  RETURNING refund_id INTO rid;
  -- T's available coupons are voided and its redeemed ones' discount is clawed back, by this
  -- refund (a rejected or failed one gives both back)
  UPDATE wallet.coupon c
     SET voided_at = CASE WHEN x.kind = 'void' THEN clk END,
         void_refund = CASE WHEN x.kind = 'void' THEN rid END,
         clawback_refund = CASE WHEN x.kind = 'claw' THEN rid END
    FROM wallet._topup_coupons(t, clk) x
   WHERE c.code = x.code;
  legs := wallet._legs(ROW('wallet', w.wallet_id, 'cash', -take)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'bonus', -h.bonus_held)::wallet.posting,
                       ROW('wallet', w.wallet_id, 'held', take + h.bonus_held)::wallet.posting);
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn,
                          request, result, postings)
  VALUES (tid, w.wallet_id, 'request_refund', amt, w.currency, clk, k, t.txn_id, req,
          jsonb_build_object('refund_id', rid, 'status', st), legs);
  INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, tid, clk);
  PERFORM wallet._save(w.wallet_id, h.lots);
  RETURN QUERY SELECT rid, wallet.to_major(amt, w.exponent), wallet.to_major(fee_m, w.exponent),
    wallet.to_major(amt - fee_m, w.exponent), wallet.to_major(n.owed, w.exponent),
    wallet.to_major(h.bonus_held, w.exponent), st, false, wallet.to_major(n.coupon_owed, w.exponent),
    n.coupons_live;
END $$;

CREATE FUNCTION wallet.request_refund(topup_txn_id bigint, idempotency_key text, amount numeric DEFAULT NULL,
                                      reason text DEFAULT 'user', note text DEFAULT NULL)
  RETURNS TABLE (refund_id bigint, amount numeric, fee numeric, net numeric, bonus_clawback numeric,
                 bonus_void numeric, status text, replayed boolean, coupon_clawback numeric,
                 coupons_voided int)
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp
  AS $$ SELECT * FROM wallet._request_refund($1, $2, $3, $4, $5) $$;

-- _refund_move ends a refund's hold (release or settle), journals it and sets its status.
-- A release (rejected, failed) gives back exactly what the request took: the held cash and
-- bonus, the coupons it voided (those past their validity show as expired) and the coupon
-- discount it clawed back (owed again by the top-up). A settlement posts the coupons'
-- clawback back to coupon_expense, where their discount was posted when they were redeemed.
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
  take := r.amount + r.clawback + r.coupon_clawback;
  IF release THEN
    ls := wallet.lots_refund_release(w.lots, r.topup_txn, take, r.clawback, r.bonus_void, clk);
    legs := wallet._legs(ROW('wallet', w.wallet_id, 'held', -(take + r.bonus_void))::wallet.posting,
                         ROW('wallet', w.wallet_id, 'cash', take)::wallet.posting,
                         ROW('wallet', w.wallet_id, 'bonus', r.bonus_void)::wallet.posting);
    UPDATE wallet.coupon c SET voided_at = NULL, void_refund = NULL
     WHERE c.void_refund = rid AND c.wallet_id = r.wallet_id;
    UPDATE wallet.coupon c SET clawback_refund = NULL
     WHERE c.clawback_refund = rid AND c.wallet_id = r.wallet_id;
  ELSE
    ls := wallet.lots_refund_settle(w.lots, r.topup_txn, take, r.clawback, r.bonus_void, clk);
    legs := wallet._legs(ROW('wallet', w.wallet_id, 'held', -(take + r.bonus_void))::wallet.posting,
                         ROW('refund_payout', NULL, NULL, r.net)::wallet.posting,
                         ROW('fee_income', NULL, NULL, r.fee)::wallet.posting,
                         ROW('bonus_expense', NULL, NULL, r.clawback + r.bonus_void)::wallet.posting,
                         ROW('coupon_expense', NULL, NULL, r.coupon_clawback)::wallet.posting);
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
-- _journal_expired appends the journal rows of a sweep batch at the end of the journal, as the
-- INSERT in expire_bonus would write them (false: it wrote nothing, the INSERT must).
CREATE FUNCTION wallet._journal_expired(wallet_ids bigint[], currencies text[], amounts bigint[],
                                        lots int[], at timestamptz) RETURNS boolean
  AS 'MODULE_PATHNAME', 'wallet_journal_expired' LANGUAGE C VOLATILE;

CREATE FUNCTION wallet.expire_bonus(batch_size int DEFAULT 10000)
  RETURNS TABLE (wallets int, lots int)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp
  -- the batch's rows are written back through the primary key: a hash or merge join would read
  -- the whole wallet table for every batch (a batch of 10,000 of 200,000 wallets: 245 ms with
  -- the hash join the planner picks, 141 ms through the key)
  SET enable_hashjoin = off SET enable_mergejoin = off AS $$
#variable_conflict use_column
DECLARE
  clk timestamptz := wallet.clock();
  ids bigint[];
  curs text[];
  amts bigint[];
  nlots int[];
  n_wallets int;
  n_lots int;
BEGIN
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    PERFORM wallet._fail('22023', 'batch_size must be between 1 and 1000000');
  END IF;
  -- A sweep rewrites wallets spread over the whole table: most of its WAL is full-page images
  -- (about 8 kB a wallet after a checkpoint), and every concurrent commit waits for that WAL to
  -- reach the disk. Compressed with lz4 it is under a third, at no cost in time (pglz would
  -- double the time): the sweep compresses its own WAL when the server has lz4 and the owner
  -- may set wal_compression (the setting ends with this function).
  IF pg_catalog.current_setting('wal_compression') = 'off'
     AND pg_catalog.has_parameter_privilege('wal_compression', 'SET')
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_settings
                  WHERE name = 'wal_compression' AND 'lz4' = ANY (enumvals)) THEN
    PERFORM pg_catalog.set_config('wal_compression', 'lz4', true);
  END IF;
  -- One statement per batch: lock the due wallets nobody else holds, expire their lots in C and
  -- write every row back (its next expiry moves on even when nothing was left to expire); it
  -- hands over the wallets that lost bonus, in wallet order.
  WITH l AS MATERIALIZED (
    SELECT x.wallet_id, x.currency, x.lots FROM wallet.wallet x
     WHERE x.next_expiry <= clk
     ORDER BY x.next_expiry LIMIT batch_size
       FOR UPDATE SKIP LOCKED),
  s AS MATERIALIZED (
    SELECT l.wallet_id, l.currency, e.lots AS ls, e.expired, e.lots_expired
      FROM l CROSS JOIN LATERAL wallet.lots_expire(l.lots, clk) e),
  u AS (
    UPDATE wallet.wallet w
       SET lots = s.ls, next_expiry = (wallet.lots_totals(s.ls, NULL, clk)).next_expiry,
           version = w.version + 1
      FROM s WHERE w.wallet_id = s.wallet_id)
  SELECT array_agg(s.wallet_id ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),
         array_agg(s.currency ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),
         array_agg(s.expired ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),
         array_agg(s.lots_expired ORDER BY s.wallet_id) FILTER (WHERE s.expired > 0),
         (count(*) FILTER (WHERE s.expired > 0))::int, coalesce(sum(s.lots_expired), 0)::int
    INTO ids, curs, amts, nlots, n_wallets, n_lots FROM s;
  -- One expire_bonus transaction per wallet that lost bonus, appended at the journal's end (the
  -- INSERT where the journal takes what a direct append would bypass: a trigger, say).
  IF ids IS NOT NULL AND NOT wallet._journal_expired(ids, curs, amts, nlots, clk) THEN
    INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, result, postings)
    SELECT e.wallet_id, 'expire_bonus', e.expired, e.currency, clk,
           jsonb_build_object('lots', e.lots_expired),
           ARRAY[ROW('wallet', e.wallet_id, 'bonus', -e.expired)::wallet.posting,
                 ROW('breakage', NULL, NULL, e.expired)::wallet.posting]
      FROM unnest(ids, curs, amts, nlots) WITH ORDINALITY AS e(wallet_id, currency, expired, lots_expired, i)
     ORDER BY e.i;
  END IF;
  RETURN QUERY SELECT n_wallets, n_lots;
END $$;

-- expire_bonus_all sweeps every due wallet, batch after batch, each batch its own transaction,
-- pausing between batches so that it works at most `duty` of the time (1 = no pause): like
-- autovacuum's cost delay, a background sweep must not crowd out the customers' operations.
-- A procedure (it commits), SECURITY INVOKER: each batch is wallet.expire_bonus(), with its
-- privileges; a procedure with SET options could not commit, hence the qualified names.
CREATE PROCEDURE wallet.expire_bonus_all(batch_size int DEFAULT 1000, duty numeric DEFAULT 0.1,
                                         INOUT wallets bigint DEFAULT 0, INOUT lots bigint DEFAULT 0)
  LANGUAGE plpgsql AS $$
DECLARE
  r record;
  t0 timestamptz;
BEGIN
  IF duty IS NULL OR duty <= 0 OR duty > 1 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'duty must be greater than 0 and at most 1';
  END IF;
  wallets := 0;
  lots := 0;
  LOOP
    t0 := pg_catalog.clock_timestamp();
    SELECT * INTO r FROM wallet.expire_bonus(batch_size);
    COMMIT;
    wallets := wallets + r.wallets;
    lots := lots + r.lots;
    EXIT WHEN r.lots = 0;
    IF duty < 1 THEN
      PERFORM pg_catalog.pg_sleep(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - t0)
                                  * (1 - duty) / duty);
    END IF;
  END LOOP;
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
  SELECT CASE WHEN c.voided_at IS NOT NULL THEN 'voided'
              WHEN c.redeemed_txn IS NOT NULL THEN 'redeemed'
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
  IF c.voided_at IS NOT NULL THEN reason := 'voided'; RETURN; END IF;
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
   WHERE c.code = canonical AND c.wallet_id = wid AND c.redeemed_txn IS NULL AND c.voided_at IS NULL;
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
  -- k NULL: issued by open or top_up, whose own key (or owner) makes it happen once; it takes
  -- no key of the wallet's, so it can never collide with a key the client chose
  prior jsonb := CASE WHEN k IS NULL THEN NULL ELSE wallet._replay(w.wallet_id, k, 'issue_coupon', req) END;
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
  IF k IS NOT NULL THEN
    INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, txn, clk);
  END IF;
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
  SELECT y.wallet_id INTO bad FROM wallet.txn_key y
    LEFT JOIN wallet.txn x ON x.txn_id = y.txn_id AND x.created_at = y.created_at
   WHERE y.wallet_id = ANY (ids) AND y.idempotency_key = k
     AND (x.txn_id IS NULL OR x.kind <> 'issue_coupon' OR x.request <> req)
   LIMIT 1;
  IF bad IS NOT NULL THEN PERFORM wallet._replay(bad, k, 'issue_coupon', req); END IF;

  RETURN QUERY
  WITH ids AS (SELECT id AS wallet_id FROM unnest(ids) AS id),
  prior AS (
    SELECT y.wallet_id, x.result->>'code' AS code FROM wallet.txn_key y
      JOIN wallet.txn x ON x.txn_id = y.txn_id AND x.created_at = y.created_at
     WHERE y.wallet_id = ANY (ids) AND y.idempotency_key = k),
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
      FROM fresh f),
  ins_key AS (
    INSERT INTO wallet.txn_key SELECT f.wallet_id, k, f.txn, clk FROM fresh f)
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
    c := wallet._issue(t.template_id, w, NULL, clk, true);
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

-- One pass over the journal: _journal_sums (C) adds up every posting per (currency,
-- account, wallet, bucket) and lists the transactions whose postings do not sum to
-- zero, in a single scan and without unnesting the postings into rows.
CREATE TYPE wallet.journal_sum AS (txn_id bigint, wallet_id bigint, currency text, account text,
                                   bucket text, amount bigint);
CREATE FUNCTION wallet._journal_sums_trans(internal, bigint, bigint, text, wallet.posting[])
  RETURNS internal AS 'MODULE_PATHNAME', 'wallet_journal_sums_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wallet._journal_sums_final(internal, bigint, bigint, text, wallet.posting[])
  RETURNS wallet.journal_sum[] AS 'MODULE_PATHNAME', 'wallet_journal_sums_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
-- _journal_sums(txn_id, wallet_id, currency, postings): one element per group (txn_id NULL)
-- and one per transaction whose postings do not sum to zero (account and bucket NULL).
CREATE AGGREGATE wallet._journal_sums(bigint, bigint, text, wallet.posting[]) (
  SFUNC = wallet._journal_sums_trans, STYPE = internal,
  FINALFUNC = wallet._journal_sums_final, FINALFUNC_EXTRA);

-- The balance checkpoint: what the archived (detached) journal partitions posted, per
-- currency, account, wallet and bucket; reconciliation adds it to the journal it reads.
CREATE TABLE wallet.journal_checkpoint (
  currency  text   NOT NULL,
  account   text   NULL,
  wallet_id bigint NULL,
  bucket    text   NULL,
  amount    bigint NOT NULL,
  CONSTRAINT journal_checkpoint_key UNIQUE NULLS NOT DISTINCT (currency, account, wallet_id, bucket)
);
COMMENT ON TABLE wallet.journal_checkpoint IS
  'sums of the postings of every archived journal partition, per currency, account, wallet and bucket (minor units)';

-- One row per archived partition (a month archived, then given rows again by a clock set back
-- into it, is archived again: one more row).
CREATE TABLE wallet.journal_archive (
  archive_id  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  month       date   NOT NULL,
  table_name  text   NOT NULL,
  rows        bigint NOT NULL,
  first_txn   bigint NULL,
  last_txn    bigint NULL,
  archived_at timestamptz NOT NULL,
  archived_by text   NOT NULL
);
COMMENT ON TABLE wallet.journal_archive IS
  'journal months detached by wallet.archive_journal: the detached table (left in schema wallet for the DBA to '
  'dump and drop), its row count and txn_id range; their postings are summed in wallet.journal_checkpoint';

-- _discrepancies evaluates every reconciliation check in one snapshot: the journal is
-- read once (_journal_sums), the archived part comes from wallet.journal_checkpoint.
CREATE FUNCTION wallet._discrepancies()
  RETURNS TABLE (check_name text, wallet_id bigint, currency text, expected numeric, actual numeric)
  LANGUAGE sql STABLE AS $$
  WITH sums AS MATERIALIZED (
    SELECT s.* FROM unnest((SELECT wallet._journal_sums(t.txn_id, t.wallet_id, t.currency, t.postings)
                              FROM wallet.txn t)) s),
  -- per currency, account, wallet and bucket: the archived part plus the journal
  tot AS MATERIALIZED (
    SELECT x.currency, x.account, x.wallet_id, x.bucket, sum(x.amount)::bigint AS total
      FROM (SELECT s.currency, s.account, s.wallet_id, s.bucket, s.amount FROM sums s WHERE s.txn_id IS NULL
            UNION ALL
            SELECT c.currency, c.account, c.wallet_id, c.bucket, c.amount FROM wallet.journal_checkpoint c) x
     GROUP BY x.currency, x.account, x.wallet_id, x.bucket),
  -- per wallet (one row, not one per bucket: a join of wallets, not of buckets): what the
  -- journal posted to each bucket
  posted AS (
    SELECT t.wallet_id,
           sum(t.total) FILTER (WHERE t.bucket = 'cash')::bigint AS cash,
           sum(t.total) FILTER (WHERE t.bucket = 'bonus')::bigint AS bonus,
           sum(t.total) FILTER (WHERE t.bucket = 'earnings')::bigint AS earnings,
           sum(t.total) FILTER (WHERE t.bucket = 'held')::bigint AS held
      FROM tot t WHERE t.account = 'wallet' GROUP BY t.wallet_id),
  pending AS (
    SELECT c.wallet_id, sum(c.amount)::bigint AS total FROM wallet.payee_credit c GROUP BY c.wallet_id),
  -- per wallet: its debt as posted (what payee_receivable lent it, less what it repaid)
  receivable AS (
    SELECT t.wallet_id, -sum(t.total)::bigint AS debt
      FROM tot t WHERE t.account = 'payee_receivable' GROUP BY t.wallet_id),
  -- per wallet: its lots' totals (lt), payee credits not rolled up yet (pending) and what the
  -- journal posted to each bucket (p_*)
  stored AS MATERIALIZED (
    SELECT w.wallet_id, w.currency, w.exponent, wallet.lots_totals(w.lots, NULL, wallet.clock()) AS lt,
           coalesce(pc.total, 0) AS pending, coalesce(p.cash, 0) AS p_cash, coalesce(p.bonus, 0) AS p_bonus,
           coalesce(p.earnings, 0) AS p_earnings, coalesce(p.held, 0) AS p_held,
           w.debt, coalesce(rc.debt, 0) AS p_debt
      FROM wallet.wallet w
      LEFT JOIN pending pc ON pc.wallet_id = w.wallet_id
      LEFT JOIN posted p ON p.wallet_id = w.wallet_id
      LEFT JOIN receivable rc ON rc.wallet_id = w.wallet_id),
  exps AS (SELECT c.code, c.exponent FROM wallet.currency c),
  -- materialized: joined by hash (an index probe per journal group costs seconds)
  known AS MATERIALIZED (SELECT w.wallet_id, w.currency FROM wallet.wallet w)
  -- every transaction's postings sum to zero
  SELECT 'transaction_balanced', s.wallet_id, s.currency, 0::numeric, wallet.to_major(s.amount, e.exponent)
    FROM sums s JOIN exps e ON e.code = s.currency
   WHERE s.txn_id IS NOT NULL
  UNION ALL
  -- every wallet's stored buckets equal the sum of its postings
  SELECT 'wallet_bucket_' || b.bucket, s.wallet_id, s.currency,
         wallet.to_major(b.posted, s.exponent), wallet.to_major(b.stored, s.exponent)
    FROM stored s
   CROSS JOIN LATERAL (VALUES ('cash', s.p_cash, (s.lt).cash), ('bonus', s.p_bonus, (s.lt).bonus_stored),
                              ('earnings', s.p_earnings, (s.lt).earnings + s.pending), ('held', s.p_held, (s.lt).held))
                   AS b(bucket, posted, stored)
   WHERE (s.p_cash <> (s.lt).cash OR s.p_bonus <> (s.lt).bonus_stored OR s.p_earnings <> (s.lt).earnings + s.pending
          OR s.p_held <> (s.lt).held)
     AND b.posted <> b.stored
  UNION ALL
  -- every wallet's stored debt equals what payee_receivable lent it less what it repaid
  SELECT 'wallet_debt', s.wallet_id, s.currency, wallet.to_major(s.p_debt, s.exponent),
         wallet.to_major(s.debt, s.exponent)
    FROM stored s
   WHERE s.p_debt <> s.debt
  UNION ALL
  -- payee_receivable legs must name an existing wallet of the transaction's currency
  SELECT 'receivable_of_unknown_wallet', t.wallet_id, t.currency, 0::numeric,
         wallet.to_major(sum(t.total)::bigint, min(e.exponent))
    FROM tot t JOIN exps e ON e.code = t.currency
    LEFT JOIN known w ON w.wallet_id = t.wallet_id AND w.currency = t.currency
   WHERE t.account = 'payee_receivable' AND w.wallet_id IS NULL
   GROUP BY t.wallet_id, t.currency
  UNION ALL
  -- wallet legs must name an existing wallet of the transaction's currency and a known bucket
  SELECT 'posting_to_unknown_wallet', t.wallet_id, t.currency, 0::numeric,
         wallet.to_major(sum(t.total)::bigint, min(e.exponent))
    FROM tot t JOIN exps e ON e.code = t.currency
    LEFT JOIN known w ON w.wallet_id = t.wallet_id AND w.currency = t.currency
   WHERE t.account = 'wallet'
     AND (t.bucket IS NULL OR t.bucket NOT IN ('cash', 'bonus', 'earnings', 'held') OR w.wallet_id IS NULL)
   GROUP BY t.wallet_id, t.currency
  UNION ALL
  -- no negative lot
  SELECT 'negative_lot', w.wallet_id, w.currency, 0::numeric, wallet.to_major(least(l.amount, l.held), w.exponent)
    FROM wallet.wallet w CROSS JOIN LATERAL wallet.lots_list(w.lots) l
   WHERE wallet.lots_negative(w.lots) AND (l.amount < 0 OR l.held < 0)
  UNION ALL
  -- held equals what the open refunds hold
  SELECT 'held_matches_open_refunds', s.wallet_id, s.currency,
         wallet.to_major(coalesce(o.total, 0), s.exponent), wallet.to_major((s.lt).held, s.exponent)
    FROM stored s
    LEFT JOIN (SELECT r.wallet_id, sum(r.amount + r.clawback + r.coupon_clawback + r.bonus_void)::bigint AS total
                 FROM wallet.refund r WHERE r.status IN ('pending', 'approved')
                GROUP BY r.wallet_id) o ON o.wallet_id = s.wallet_id
   WHERE coalesce(o.total, 0) <> (s.lt).held
  UNION ALL
  -- every posting's currency is listed in wallet.currency: the other checks weigh amounts by
  -- its exponent and cannot see these. Per wallet (NULL: the system accounts), in minor units.
  SELECT 'posting_unknown_currency', t.wallet_id, t.currency, NULL::numeric, sum(t.total)::numeric
    FROM tot t LEFT JOIN exps e ON e.code = t.currency
   WHERE e.code IS NULL
   GROUP BY t.wallet_id, t.currency
  UNION ALL
  -- per currency, all accounts sum to zero
  SELECT 'currency_balanced', NULL::bigint, t.currency, 0::numeric, wallet.to_major(t.total::bigint, e.exponent)
    FROM (SELECT t.currency, sum(t.total) AS total FROM tot t GROUP BY t.currency HAVING sum(t.total) <> 0) t
    JOIN exps e ON e.code = t.currency
$$;

-- reconcile: work_mem for the per-wallet grouping of _discrepancies (a few rows per wallet);
-- no JIT: compiling the (inlined) _discrepancies query costs more than it saves.
CREATE FUNCTION wallet.reconcile()
  RETURNS TABLE (check_name text, wallet_id bigint, currency text, expected numeric, actual numeric)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp SET work_mem = '256MB'
  SET jit = off AS $$
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
CREATE FUNCTION wallet.adjust(wallet_id bigint, bucket text, amount numeric, reason text,
                              idempotency_key text, repair text DEFAULT NULL)
  RETURNS TABLE (txn_id bigint, replayed boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
#variable_conflict use_column
DECLARE
  k text := wallet._key(adjust.idempotency_key);
  w wallet.wallet;
  clk timestamptz := wallet.clock();
  x bigint;
  req jsonb;
  prior jsonb;
  tid bigint;
  ls wallet.lotset;
  tk record;
  legs wallet.posting[] := '{}';
BEGIN
  PERFORM wallet._text(adjust.bucket, 'bucket', 8, true);
  IF adjust.bucket NOT IN ('cash', 'bonus', 'earnings') THEN
    PERFORM wallet._fail('22023', 'bucket must be cash, bonus or earnings', format('Got "%s".', adjust.bucket));
  END IF;
  PERFORM wallet._text(adjust.reason, 'reason', 1000, true);
  IF adjust.repair IS NOT NULL AND adjust.repair NOT IN ('lots', 'journal') THEN
    PERFORM wallet._fail('22023', 'repair must be NULL, lots or journal', format('Got "%s".', adjust.repair),
      'NULL corrects the lots and the journal together; see the runbook for the other two.');
  END IF;
  w := wallet._lock(adjust.wallet_id);
  IF adjust.amount = 0 THEN
    PERFORM wallet._fail('22023', 'amount must not be zero',
      hint => 'A positive amount credits the bucket, a negative one debits it.');
  END IF;
  -- checked as every amount (NULL, NaN, decimals, size), then signed
  x := wallet.to_minor(abs(adjust.amount), w.exponent, 'amount');
  IF adjust.amount < 0 THEN x := -x; END IF;
  req := jsonb_build_object('bucket', adjust.bucket, 'amount', x, 'reason', adjust.reason,
                            'repair', adjust.repair);
  prior := wallet._replay(w.wallet_id, k, 'adjust', req);
  IF prior IS NOT NULL THEN
    RETURN QUERY SELECT (prior->>'txn_id')::bigint, true;
    RETURN;
  END IF;

  tid := nextval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
  IF adjust.repair IS DISTINCT FROM 'journal' THEN
    ls := CASE WHEN adjust.bucket = 'earnings' THEN wallet._rollup(w.wallet_id, w.lots, clk) ELSE w.lots END;
    IF x > 0 AND adjust.bucket = 'earnings' AND adjust.repair IS NULL THEN
      -- a credit of earnings repays the wallet's debt first, as every credit does
      ls := wallet._credit(w.wallet_id, ls, x, tid, clk);
    ELSIF x > 0 THEN
      ls := wallet.lots_add(ls, adjust.bucket, x, tid, clk, NULL, NULL);
    ELSE
      tk := wallet.lots_take(ls, adjust.bucket, -x, clk, true);
      IF tk.taken < -x THEN
        PERFORM wallet._fail('WL001', 'insufficient funds',
          format('Wallet %s has %s of %s; the adjustment takes %s.', w.wallet_id,
                 wallet.to_major(tk.taken, w.exponent), adjust.bucket, wallet.to_major(-x, w.exponent)),
          'An adjustment never takes a bucket below zero.');
      END IF;
      ls := tk.lots;
    END IF;
    PERFORM wallet._save(w.wallet_id, ls);
  END IF;
  IF adjust.repair IS DISTINCT FROM 'lots' THEN
    legs := wallet._legs(ROW('wallet', w.wallet_id, adjust.bucket, x)::wallet.posting,
                         ROW('adjustment', NULL, NULL, -x)::wallet.posting);
  END IF;
  INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key,
                          request, result, postings)
  VALUES (tid, w.wallet_id, 'adjust', x, w.currency, clk, k, req,
          jsonb_build_object('txn_id', tid, 'by', session_user), legs);
  INSERT INTO wallet.txn_key VALUES (w.wallet_id, k, tid, clk);
  INSERT INTO wallet.audit (at, actor, action, object, old, new)
  VALUES (clk, session_user, 'adjust', 'wallet:' || w.wallet_id, NULL, req || jsonb_build_object('txn_id', tid));
  RETURN QUERY SELECT tid, false;
END $$;
COMMENT ON FUNCTION wallet.adjust(bigint, text, numeric, text, text, text) IS
  'the journaled, audited correction of a wallet''s cash, bonus or earnings by a signed amount, against the '
  'system account adjustment; never below zero (WL001); see docs/runbook.md';

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
                                  commission_rate numeric DEFAULT NULL,
                                  payee_debt_flag numeric DEFAULT NULL)
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
  IF set_policy.payee_debt_flag < 0 THEN
    PERFORM wallet._fail('22023', 'payee_debt_flag must not be negative',
                         format('Got %s.', set_policy.payee_debt_flag), 'NULL leaves the setting as it is.');
  END IF;
  PERFORM wallet._check_money(set_policy.payee_debt_flag, wallet._exponent(set_policy.currency), 'payee_debt_flag');
  p.payee_debt_flag := coalesce(set_policy.payee_debt_flag, p.payee_debt_flag);
  INSERT INTO wallet.policy VALUES (p.*)
  ON CONFLICT ON CONSTRAINT policy_pkey DO UPDATE SET
    refund_window = EXCLUDED.refund_window, refund_fee_rate = EXCLUDED.refund_fee_rate,
    refund_auto_approve_max = EXCLUDED.refund_auto_approve_max,
    max_refunds_per_30_days = EXCLUDED.max_refunds_per_30_days,
    remind_before = EXCLUDED.remind_before, commission_rate = EXCLUDED.commission_rate,
    payee_debt_flag = EXCLUDED.payee_debt_flag;
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
-- Rules on the extension's tables are refused
------------------------------------------------------------------------------
-- The C operations write wallet.wallet, wallet.txn, wallet.txn_key and wallet.payee_credit
-- straight into the heap (no rewriter) and with INSERT ... ON CONFLICT (which a rule forbids):
-- a rule would be skipped by one backend and break another. CREATE RULE on a table of the
-- schema is refused here (WL008); every operation also refuses to run while such a rule
-- exists (one made while this trigger did not fire), in every backend alike: the C ones
-- before they prepare or write anything, those in SQL in wallet.open and wallet._lock.
CREATE FUNCTION wallet._refuse_rule() RETURNS event_trigger
  AS 'MODULE_PATHNAME', 'wallet_refuse_rule' LANGUAGE C;
CREATE EVENT TRIGGER wallet_refuse_rule ON ddl_command_start WHEN TAG IN ('CREATE RULE')
  EXECUTE FUNCTION wallet._refuse_rule();

------------------------------------------------------------------------------
-- pg_dump keeps the data of these tables
------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('wallet.currency',
  'WHERE code NOT IN (''CNY'', ''USD'', ''EUR'', ''GBP'', ''HKD'', ''JPY'', ''KRW'', ''KWD'', ''BHD'')');
SELECT pg_catalog.pg_extension_config_dump('wallet.policy', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.bonus_rule', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.wallet', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn_default', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn_key', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.journal_checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.journal_archive', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.payee_credit', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.refund', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.risk_flag', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.coupon_template', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.coupon', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.reconciliation_run', '');
-- and the sequences of their identity columns, so that ids continue where they were (pg_dump
-- leaves out the identity sequence of an extension's table unless it is registered itself)
SELECT pg_catalog.pg_extension_config_dump('wallet.bonus_rule_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.wallet_wallet_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn_txn_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.journal_archive_archive_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.payee_credit_credit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.refund_refund_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.risk_flag_flag_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.reconciliation_run_run_id_seq', '');

------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each role gets what section 13 gives it
------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON SCHEMA wallet FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE wallet.expire_bonus_all(int, numeric, bigint, bigint) TO wallet_admin;
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
  wallet.set_policy(text, interval, numeric, numeric, int, interval, numeric, numeric),
  wallet.add_bonus_rule(text, numeric, numeric, numeric, numeric, interval, text[], text, timestamptz,
                        timestamptz, numeric),
  wallet.end_bonus_rule(bigint, timestamptz),
  wallet.add_coupon_template(text, text, text, numeric, numeric, numeric, text[], timestamptz, timestamptz,
                             interval, int, int, text, numeric),
  wallet.coupons(bigint), wallet.adjust(bigint, text, numeric, text, text, text)
  TO wallet_admin;
GRANT SELECT ON wallet.currency, wallet.policy, wallet.bonus_rule, wallet.reconciliation_run,
  wallet.risk_flag, wallet.refund, wallet.expiring_bonus, wallet.coupon_template, wallet.coupon
  TO wallet_admin;
GRANT SELECT ON wallet.coupon_stats TO wallet_admin, wallet_reader;

GRANT SELECT ON wallet.transactions, wallet.postings TO wallet_reader, wallet_admin;
