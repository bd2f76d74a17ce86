-- test/model/router.sql: the model test's router mode (MODEL_TARGET=router, see README.md), for
-- the test only. Loaded into the router database (CREATE EXTENSION wallet_router, configured with
-- its shards, each with test/model/shard.sql) before model.sql and driver.sql, so that the model
-- and the driver run there unchanged: the operations go through the router's wallet.* functions,
-- and what the router does not have, the driver and the model find here under the same names:
--   - the settings tables the model reads (wallet.currency, wallet.policy, wallet.bonus_rule,
--     wallet.coupon_template, wallet.fx_rate, wallet.reward_rule, wallet.card_type,
--     wallet.card_rate, wallet.limit_rule): copies of the shards' rows, made again after every
--     settings step (mtr.sync_config), which applies the settings to every shard (mtr.config_all,
--     mtr.config_step);
--   - the tables the driver reads (wallet.wallet, wallet.withdrawal, wallet.card_item,
--     wallet.payee_credit) and wallet.coupon_stats: every shard's rows (summed per template);
--   - the sweeps (wallet.expire_bonus, wallet.expire_holds, wallet.auto_withdraw): run on every
--     shard, as each shard's own jobs run them, with the counts added up; wallet._rollup_wallet
--     on the wallet's shard; wallet.coupon_code_check on shard 0.
-- Reads and settings go through PL/Proxy (wallet_cluster), whose shard sessions run on the
-- driver's clock (mtr.push_clock). After every step the driver runs the relay (mtr.settle) so
-- money bound for another shard has arrived before anything is compared.
--
-- psql variables: host, port, s0 (a shard database the row types are read from, by postgres_fdw).

CREATE SCHEMA mtr;

------------------------------------------------------------------------------
-- Row types of the shards' tables (postgres_fdw reads the definitions; nothing is read through it)
------------------------------------------------------------------------------
CREATE EXTENSION postgres_fdw;
CREATE SERVER mtr_types FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host :'host', port :'port', dbname :'s0');
CREATE USER MAPPING FOR CURRENT_USER SERVER mtr_types;
CREATE SCHEMA mtr_type;
IMPORT FOREIGN SCHEMA wallet
  LIMIT TO (currency, policy, bonus_rule, coupon_template, fx_rate, reward_rule, card_type, card_rate, limit_rule,
            coupon_stats)
  FROM SERVER mtr_types INTO mtr_type;

------------------------------------------------------------------------------
-- Statements on the shards
------------------------------------------------------------------------------
CREATE FUNCTION mtr.on_all(q text) RETURNS SETOF jsonb LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON ALL;
  SELECT mt_shard.exec(q);
$$;
CREATE FUNCTION mtr.on_part(part int, q text) RETURNS SETOF jsonb LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON part;
  SELECT mt_shard.exec(q);
$$;
CREATE FUNCTION mtr.parts() RETURNS int LANGUAGE sql STABLE AS $$ SELECT count(*)::int FROM wallet_router.shard $$;

------------------------------------------------------------------------------
-- The clock: the driver's wallet.now in every shard's sessions
------------------------------------------------------------------------------
CREATE FUNCTION mtr.set_clock_all(t text) RETURNS SETOF text LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON ALL;
  SELECT mt_shard.set_clock(t);
$$;
CREATE FUNCTION mtr.push_clock() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM mtr.set_clock_all(current_setting('wallet.now')) c
              WHERE c::timestamptz IS DISTINCT FROM current_setting('wallet.now')::timestamptz) THEN
    RAISE EXCEPTION 'a shard did not take the clock %', current_setting('wallet.now');
  END IF;
END $$;

------------------------------------------------------------------------------
-- Settings: applied to every shard (a wallet's own to its shard); the copies the model reads
------------------------------------------------------------------------------
CREATE TABLE wallet.currency (LIKE mtr_type.currency);
CREATE TABLE wallet.policy (LIKE mtr_type.policy);
CREATE TABLE wallet.bonus_rule (LIKE mtr_type.bonus_rule);
CREATE TABLE wallet.coupon_template (LIKE mtr_type.coupon_template);
CREATE TABLE wallet.fx_rate (LIKE mtr_type.fx_rate);
CREATE TABLE wallet.reward_rule (LIKE mtr_type.reward_rule);
CREATE TABLE wallet.card_type (LIKE mtr_type.card_type);
CREATE TABLE wallet.card_rate (LIKE mtr_type.card_rate);
CREATE TABLE wallet.limit_rule (LIKE mtr_type.limit_rule);
-- a rule of every wallet (of a currency) is drawn on each shard with the shard's own id: the
-- copy has shard 0's, and this table pairs the others' with it (by order, as they were added)
CREATE TABLE mtr.rule_alias (part int NOT NULL, rule_id bigint NOT NULL, canon bigint NOT NULL,
                             PRIMARY KEY (part, rule_id));

-- sync_config: the copies made again from the shards: shard 0's rows, and the rows of one
-- wallet (card_rate, limit_rule) of every other shard
CREATE FUNCTION mtr.sync_config() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t text;
  p int;
  n int;
  m int;
BEGIN
  FOREACH t IN ARRAY ARRAY['currency', 'policy', 'bonus_rule', 'coupon_template', 'fx_rate', 'reward_rule',
                           'card_type', 'card_rate', 'limit_rule'] LOOP
    EXECUTE format('DELETE FROM wallet.%I', t);
    EXECUTE format('INSERT INTO wallet.%1$I SELECT r.* FROM mtr.on_part(0, %2$L) j, jsonb_populate_record(NULL::wallet.%1$I, j) r',
                   t, format('SELECT * FROM wallet.%I', t));
    IF t IN ('card_rate', 'limit_rule') THEN
      FOR p IN 1 .. mtr.parts() - 1 LOOP
        EXECUTE format('INSERT INTO wallet.%1$I SELECT r.* FROM mtr.on_part(%2$s, %3$L) j, jsonb_populate_record(NULL::wallet.%1$I, j) r',
                       t, p, format('SELECT * FROM wallet.%I WHERE wallet_id IS NOT NULL', t));
      END LOOP;
    END IF;
  END LOOP;
  DELETE FROM mtr.rule_alias;
  FOR p IN 1 .. mtr.parts() - 1 LOOP
    INSERT INTO mtr.rule_alias
    SELECT p, o.rule_id, z.rule_id
      FROM (SELECT r.*, row_number() OVER (ORDER BY r.rule_id) AS k
              FROM mtr.on_part(p, 'SELECT * FROM wallet.limit_rule WHERE wallet_id IS NULL') j,
                   jsonb_populate_record(NULL::wallet.limit_rule, j) r) o
      FULL JOIN (SELECT r.*, row_number() OVER (ORDER BY r.rule_id) AS k
                   FROM wallet.limit_rule r WHERE r.wallet_id IS NULL) z USING (k)
     WHERE o.rule_id IS NOT NULL AND z.rule_id IS NOT NULL;
    -- the pairs must be the same rules
    SELECT count(*) INTO n
      FROM (SELECT r.* FROM mtr.on_part(p, 'SELECT * FROM wallet.limit_rule WHERE wallet_id IS NULL') j,
                   jsonb_populate_record(NULL::wallet.limit_rule, j) r) o
      LEFT JOIN mtr.rule_alias a ON a.part = p AND a.rule_id = o.rule_id
      LEFT JOIN wallet.limit_rule z ON z.rule_id = a.canon
     WHERE z.rule_id IS NULL
        OR (to_jsonb(o) - 'rule_id') IS DISTINCT FROM (to_jsonb(z) - 'rule_id');
    SELECT count(*) INTO m FROM wallet.limit_rule z WHERE z.wallet_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM mtr.rule_alias a WHERE a.part = p AND a.canon = z.rule_id);
    IF n > 0 OR m > 0 THEN
      RAISE EXCEPTION 'the limit rules of shard % are not those of shard 0', p;
    END IF;
  END LOOP;
END $$;

-- config_all: a settings statement on every shard (shard 0 first), then the copies
CREATE FUNCTION mtr.config_all(q text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR p IN 0 .. mtr.parts() - 1 LOOP
    PERFORM mtr.on_part(p, q);
  END LOOP;
  PERFORM mtr.sync_config();
END $$;

-- config_step: a settings step of a run (r: the driver's resolved step; q: its SQL as the driver
-- renders it for a lone database) as mt.exec would give it: a rule or rate of one wallet on the
-- wallet's shard; any other on every shard, shard 0's result; a rule dropped on every shard it is
-- on, by the id it has there
CREATE FUNCTION mtr.config_step(r jsonb, q text, OUT ok boolean, OUT rows jsonb, OUT state text, OUT msg text)
  LANGUAGE plpgsql AS $$
DECLARE
  parts int[];
  ids bigint[];
  lr wallet.limit_rule;
  res jsonb;
  i int;
BEGIN
  IF r->>'op' = 'ldrop' THEN
    SELECT * INTO lr FROM wallet.limit_rule x WHERE x.rule_id = (r->>'rule')::bigint;
    IF lr.wallet_id IS NOT NULL THEN
      parts := ARRAY[wallet_router.shard_of(lr.wallet_id)];
      ids := ARRAY[lr.rule_id];
    ELSE
      parts := ARRAY[0] || ARRAY(SELECT a.part FROM mtr.rule_alias a WHERE a.canon = lr.rule_id ORDER BY a.part);
      ids := ARRAY[lr.rule_id] || ARRAY(SELECT a.rule_id FROM mtr.rule_alias a WHERE a.canon = lr.rule_id ORDER BY a.part);
    END IF;
  ELSIF r->>'op' IN ('lrule', 'crate') AND r->'w'->>'e' IS NOT NULL THEN
    parts := ARRAY[wallet_router.shard_of((r->'w'->>'e')::bigint)];
  ELSE
    parts := ARRAY(SELECT generate_series(0, mtr.parts() - 1));
  END IF;
  BEGIN
    FOR i IN 1 .. cardinality(parts) LOOP
      IF ids IS NOT NULL THEN
        q := format('SELECT true AS dropped FROM (SELECT wallet.drop_limit_rule(%s)) x', ids[i]);
      END IF;
      BEGIN
        SELECT coalesce(jsonb_agg(j), '[]') INTO res FROM mtr.on_part(parts[i], q) j;
      EXCEPTION WHEN OTHERS THEN
        IF i = 1 THEN RAISE; END IF;
        RAISE EXCEPTION USING ERRCODE = 'XX000',
          MESSAGE = format('shard %s refused what shard %s took: %s', parts[i], parts[1], SQLERRM);
      END;
      IF i = 1 THEN rows := res; END IF;
    END LOOP;
    PERFORM mtr.sync_config();
    ok := true;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    ok := false;
    rows := NULL;
  END;
END $$;

-- canon_rule: a row of wallet.limit_usage() through the router with the rule's id in the copy
CREATE FUNCTION mtr.canon_rule(u jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN a.canon IS NULL THEN u ELSE u || jsonb_build_object('rule_id', a.canon) END
    FROM (SELECT NULL) x
    LEFT JOIN mtr.rule_alias a ON a.rule_id = (u->>'rule_id')::bigint
                              AND a.part = wallet_router.shard_of((u->>'rule_id')::bigint)
$$;

------------------------------------------------------------------------------
-- The tables the driver reads: every shard's rows (the columns it reads)
------------------------------------------------------------------------------
CREATE VIEW wallet.wallet AS
  SELECT (j->>'wallet_id')::bigint AS wallet_id, j->>'owner' AS owner, j->>'currency' AS currency
    FROM mtr.on_all('SELECT wallet_id, owner, currency FROM wallet.wallet') j;
CREATE VIEW wallet.withdrawal AS
  SELECT (j->>'withdrawal_id')::bigint AS withdrawal_id, (j->>'wallet_id')::bigint AS wallet_id,
         (j->>'automatic')::boolean AS automatic
    FROM mtr.on_all('SELECT withdrawal_id, wallet_id, automatic FROM wallet.withdrawal') j;
CREATE VIEW wallet.card_item AS
  SELECT (j->>'item_id')::bigint AS item_id, (j->>'intake_id')::bigint AS intake_id, (j->>'position')::int AS position
    FROM mtr.on_all('SELECT item_id, intake_id, position FROM wallet.card_item') j;
CREATE VIEW wallet.payee_credit AS
  SELECT (j->>'wallet_id')::bigint AS wallet_id, j->>'bucket' AS bucket
    FROM mtr.on_all('SELECT wallet_id, bucket FROM wallet.payee_credit') j;
-- per template, every shard's coupons (each shard has every template)
CREATE VIEW wallet.coupon_stats AS
  SELECT r.template_id, r.currency, r.kind, sum(r.issued)::bigint AS issued, sum(r.redeemed)::bigint AS redeemed,
         sum(r.expired)::bigint AS expired, sum(r.outstanding)::bigint AS outstanding,
         sum(r.total_discount) AS total_discount
    FROM mtr.on_all('SELECT * FROM wallet.coupon_stats') j, jsonb_populate_record(NULL::mtr_type.coupon_stats, j) r
   GROUP BY r.template_id, r.currency, r.kind;

------------------------------------------------------------------------------
-- Sweeps (every shard's, added up), a wallet's roll-up (its shard), the code check (shard 0)
------------------------------------------------------------------------------
CREATE FUNCTION wallet.expire_bonus(batch_size int DEFAULT 10000) RETURNS TABLE (wallets int, lots int)
  LANGUAGE sql AS $$
  SELECT sum((j->>'wallets')::int)::int, sum((j->>'lots')::int)::int
    FROM mtr.on_all(format('SELECT * FROM wallet.expire_bonus(%s)', quote_nullable(batch_size))) j
$$;
CREATE FUNCTION wallet.expire_holds(batch_size int DEFAULT 10000) RETURNS TABLE (holds int)
  LANGUAGE sql AS $$
  SELECT sum((j->>'holds')::int)::int
    FROM mtr.on_all(format('SELECT * FROM wallet.expire_holds(%s)', quote_nullable(batch_size))) j
$$;
CREATE FUNCTION wallet.auto_withdraw(batch_size int DEFAULT 1000) RETURNS TABLE (wallets int, withdrawals int)
  LANGUAGE sql AS $$
  SELECT sum((j->>'wallets')::int)::int, sum((j->>'withdrawals')::int)::int
    FROM mtr.on_all(format('SELECT * FROM wallet.auto_withdraw(%s)', quote_nullable(batch_size))) j
$$;
CREATE FUNCTION wallet._rollup_wallet(wid bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM mtr.on_part(wallet_router.shard_of(wid), format('SELECT wallet._rollup_wallet(%s)::text AS done', wid));
END $$;
CREATE FUNCTION wallet.coupon_code_check(code text) RETURNS text LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON 0;
$$;

------------------------------------------------------------------------------
-- After every step: the relay, and what must hold then
------------------------------------------------------------------------------
-- settle: writes down the group payments past their time (each shard's expire_holds job would,
-- within a minute: their shares held on another shard are released there by message) and runs
-- the relay; NULL when then nothing is left in any shard's outbox and every shard's session runs
-- on the driver's clock, else what is wrong
CREATE FUNCTION mtr.settle() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  d record;
BEGIN
  PERFORM mtr.on_all('SELECT * FROM wallet.expire_group_pays()');
  PERFORM wallet_router.relay();
  FOR d IN SELECT j FROM mtr.on_all('SELECT (SELECT count(*) FROM wallet.outbox_pending(1000)) AS pending,
                                            (SELECT jsonb_agg(o) FROM wallet.outbox_pending(5) o) AS first,
                                            current_setting(''wallet.now'') AS now,
                                            (SELECT shard FROM wallet.shard_info()) AS shard') j
            WHERE (j->>'pending')::int > 0
               OR (j->>'now')::timestamptz IS DISTINCT FROM current_setting('wallet.now')::timestamptz LOOP
    RETURN format('after the relay, shard %s: %s message(s) not delivered %s; its clock %s, the driver''s %s',
                  d.j->>'shard', d.j->>'pending', coalesce(d.j->>'first', ''), d.j->>'now',
                  current_setting('wallet.now'));
  END LOOP;
  RETURN NULL;
END $$;
