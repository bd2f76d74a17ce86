-- privileges.sql: who may do what (CONTRACT.md section 13), and that the
-- SECURITY DEFINER operations cannot be steered by the caller's search_path.
--
--   wallet_app     executes the operations, nothing else
--   wallet_admin   rules, policy, reviews, freezes, reconciliation, adjustments; reads config
--   wallet_reader  SELECT on wallet.transactions, wallet.postings, wallet.coupon_stats, wallet.limit_rule,
--                  wallet_report.*
--   wallet_verifier  grant_step_up only (the payment application cannot approve itself)
--   PUBLIC         nothing; no role but the owner writes a table
--
-- The "cannot" tests are generated from the catalogs (every table, view and
-- sequence of schemas wallet and wallet_report), so a table added later is
-- covered without touching this file. Run by pg_prove in database wallet_tap.
BEGIN;

SET wallet.now = '2026-03-01 00:00:00+00';

------------------------------------------------------------------------------
-- The probes: one statement per (role, relation, operation) that must fail
-- with 42501 (insufficient_privilege). Built as the owner, read under SET ROLE.
------------------------------------------------------------------------------
CREATE TEMP TABLE probe (role name, ord int, sql text, description text);
GRANT SELECT ON probe TO PUBLIC;

-- relations of the extension's schemas
CREATE TEMP VIEW rel AS
  SELECT c.oid::regclass AS r, c.relkind, c.relname,
         (SELECT quote_ident(a.attname) FROM pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1) AS col
    FROM pg_class c
   WHERE c.relnamespace IN ('wallet'::regnamespace, 'wallet_report'::regnamespace)
     AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S');

-- writes on every table: nobody but the owner
INSERT INTO probe
SELECT ro.role, 1, w.sql, format('%s cannot %s %s', ro.role, w.op, rel.r)
  FROM rel
 CROSS JOIN (VALUES ('wallet_app'::name), ('wallet_admin'), ('wallet_reader'), ('wallet_verifier')) AS ro(role)
 CROSS JOIN LATERAL (VALUES
     ('INSERT into', format('INSERT INTO %s DEFAULT VALUES', rel.r)),
     ('UPDATE', format('UPDATE %s SET %s = %s WHERE false', rel.r, rel.col, rel.col)),
     ('DELETE from', format('DELETE FROM %s WHERE false', rel.r)),
     ('TRUNCATE', format('TRUNCATE %s', rel.r))) AS w(op, sql)
 WHERE rel.relkind IN ('r', 'p', 'f');

-- reads: wallet_app reads nothing; wallet_reader only the two journal views
-- and wallet_report (wallet_admin reads its config tables, not tested here)
INSERT INTO probe
SELECT ro.role, 2, format('SELECT * FROM %s LIMIT 1', rel.r), format('%s cannot SELECT from %s', ro.role, rel.r)
  FROM rel
 CROSS JOIN (VALUES ('wallet_app'::name), ('wallet_reader'), ('wallet_verifier')) AS ro(role)
 WHERE rel.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND NOT (ro.role = 'wallet_reader'
            AND (rel.r IN ('wallet.transactions'::regclass, 'wallet.postings'::regclass,
                           'wallet.coupon_stats'::regclass, 'wallet.limit_rule'::regclass)
                 OR rel.r::text LIKE 'wallet\_report.%'));

-- sequences: nobody draws ids by hand
INSERT INTO probe
SELECT ro.role, 3, format('SELECT nextval(%L)', rel.r), format('%s cannot draw from sequence %s', ro.role, rel.r)
  FROM rel
 CROSS JOIN (VALUES ('wallet_app'::name), ('wallet_admin'), ('wallet_reader'), ('wallet_verifier')) AS ro(role)
 WHERE rel.relkind = 'S';

-- admin functions: not for wallet_app nor wallet_reader
INSERT INTO probe
SELECT ro.role, 4, f.sql, format('%s cannot execute %s', ro.role, f.name)
  FROM (VALUES ('wallet_app'::name), ('wallet_reader'), ('wallet_verifier')) AS ro(role)
 CROSS JOIN (VALUES
     ('freeze', 'SELECT wallet.freeze(1, ''x'')'),
     ('unfreeze', 'SELECT wallet.unfreeze(1)'),
     ('review_refund', 'SELECT wallet.review_refund(1, true, ''x'')'),
     ('reconcile', 'SELECT * FROM wallet.reconcile()'),
     ('expire_bonus', 'SELECT * FROM wallet.expire_bonus()'),
     ('rollup_credits', 'SELECT wallet.rollup_credits()'),
     ('set_policy', 'SELECT wallet.set_policy(''CNY'', commission_rate => 0.5)'),
     ('add_bonus_rule', 'SELECT wallet.add_bonus_rule(''CNY'', 1, bonus_fixed => 1000)'),
     ('end_bonus_rule', 'SELECT wallet.end_bonus_rule(1)'),
     ('adjust', 'SELECT * FROM wallet.adjust(1, ''cash'', 1, ''x'', ''priv-adjust'')'),
     ('schedule_jobs', 'SELECT * FROM wallet.schedule_jobs()'),
     ('unschedule_jobs', 'SELECT wallet.unschedule_jobs()'),
     ('add_journal_partitions', 'SELECT wallet.add_journal_partitions()'),
     ('archive_journal', 'SELECT * FROM wallet.archive_journal(''2000-01-01'')'),
     ('review_withdrawal', 'SELECT wallet.review_withdrawal(1, true, ''x'')'),
     ('auto_withdraw', 'SELECT * FROM wallet.auto_withdraw()'),
     ('remind_idle', 'SELECT wallet.remind_idle()'),
     ('set_card_type', 'SELECT wallet.set_card_type(''priv'', ''x'', ''CNY'')'),
     ('add_card_rate', 'SELECT wallet.add_card_rate(''priv'', 0.9)'),
     ('end_card_rate', 'SELECT wallet.end_card_rate(1)'),
     ('verify_card', 'SELECT * FROM wallet.verify_card(1, true)'),
     ('review_intake', 'SELECT wallet.review_intake(1, true, ''x'')'),
     ('_card_key_new', 'SELECT wallet._card_key_new()'),
     ('set_fx_rate', 'SELECT wallet.set_fx_rate(''CNY'', ''USD'', 1000)'),
     ('add_reward_rule', 'SELECT wallet.add_reward_rule(''CNY'', 1000)'),
     ('end_reward_rule', 'SELECT wallet.end_reward_rule(1)'),
     ('add_limit_rule', 'SELECT wallet.add_limit_rule(''CNY'', ''spend'', ''day'', 1)'),
     ('drop_limit_rule', 'SELECT wallet.drop_limit_rule(1)'),
     ('configure_shard', 'SELECT wallet.configure_shard(0, 1)'),
     ('shard_info', 'SELECT * FROM wallet.shard_info()'),
     ('relay_in', 'SELECT * FROM wallet.relay_in(1, 1, 1, ''CNY'', ''transfer'', 2, 2)'),
     ('outbox_pending', 'SELECT * FROM wallet.outbox_pending()'),
     ('outbox_applied', 'SELECT wallet.outbox_applied(1, 1)'),
     ('relay_check', 'SELECT * FROM wallet.relay_check()'),
     ('relay_back', 'SELECT * FROM wallet.relay_back(1, 1, 1, ''CNY'', 2, 2)'),
     ('group_relay', 'SELECT * FROM wallet.group_relay(1, ''group_capture'', 1, 1, 2, 1, ''CNY'', 2)'),
     ('expire_group_pays', 'SELECT * FROM wallet.expire_group_pays()')) AS f(name, sql);

-- step-up grants: only wallet_verifier (the application cannot approve itself, nor an admin)
INSERT INTO probe
SELECT ro.role, 7, 'SELECT wallet.grant_step_up(1, ''spend'', 10, ''x'')',
       format('%s cannot execute grant_step_up', ro.role)
  FROM (VALUES ('wallet_app'::name), ('wallet_admin'), ('wallet_reader')) AS ro(role);

-- wallet_verifier: no operation
INSERT INTO probe
SELECT 'wallet_verifier', 5, f.sql, format('wallet_verifier cannot execute %s', f.name)
  FROM (VALUES
     ('balance', 'SELECT * FROM wallet.balance(1)'),
     ('spend', 'SELECT * FROM wallet.spend(1, 1, ''priv-verifier-1'')'),
     ('transfer', 'SELECT * FROM wallet.transfer(1, 2, 1, ''priv-verifier-2'')'),
     ('limit_usage', 'SELECT * FROM wallet.limit_usage(1)')) AS f(name, sql);

-- the key of the card secrets' hashes: nobody but the owner reads it, wallet_admin neither
INSERT INTO probe VALUES
  ('wallet_admin', 6, 'SELECT * FROM wallet.card_key', 'wallet_admin cannot SELECT from wallet.card_key'),
  ('wallet_admin', 6, 'SELECT * FROM wallet.card_item', 'wallet_admin cannot SELECT from wallet.card_item'),
  ('wallet_admin', 6, 'SELECT wallet._card_key_new()', 'wallet_admin cannot execute _card_key_new');

-- operations: not for wallet_reader
INSERT INTO probe
SELECT 'wallet_reader', 5, f.sql, format('wallet_reader cannot execute %s', f.name)
  FROM (VALUES
     ('open', 'SELECT wallet.open(''priv-reader'')'),
     ('balance', 'SELECT * FROM wallet.balance(1)'),
     ('lots', 'SELECT * FROM wallet.lots(1)'),
     ('bonus_preview', 'SELECT * FROM wallet.bonus_preview(''CNY'', 100)'),
     ('top_up', 'SELECT * FROM wallet.top_up(1, 100, ''priv-reader-1'')'),
     ('spend', 'SELECT * FROM wallet.spend(1, 1, ''priv-reader-2'')'),
     ('reverse_spend', 'SELECT * FROM wallet.reverse_spend(1, ''priv-reader-3'')'),
     ('refund_quote', 'SELECT * FROM wallet.refund_quote(1)'),
     ('request_refund', 'SELECT * FROM wallet.request_refund(1, ''priv-reader-4'')'),
     ('settle_refund', 'SELECT wallet.settle_refund(1, true)'),
     ('transfer', 'SELECT * FROM wallet.transfer(1, 2, 1, ''priv-reader-5'')'),
     ('spend_split', 'SELECT * FROM wallet.spend_split(1, 1, ''priv-reader-6'', ''{2}'', ''{1}'')'),
     ('withdraw_quote', 'SELECT * FROM wallet.withdraw_quote(1, 10)'),
     ('request_withdrawal', 'SELECT * FROM wallet.request_withdrawal(1, 10, ''priv-reader-7'', ''bank'')'),
     ('withdrawals', 'SELECT * FROM wallet.withdrawals(1)'),
     ('set_auto_withdrawal', 'SELECT wallet.set_auto_withdrawal(1, 10, ''bank'')'),
     ('card_quote', 'SELECT * FROM wallet.card_quote(''priv'', 100)'),
     ('submit_cards', 'SELECT * FROM wallet.submit_cards(1, ''priv'', ''{100}'', ''{PRIV11112222}'', ''priv-reader-8'')'),
     ('settle_intake', 'SELECT * FROM wallet.settle_intake(1, ''priv-reader-9'')'),
     ('intakes', 'SELECT * FROM wallet.intakes(1)'),
     ('intake_items', 'SELECT * FROM wallet.intake_items(1)'),
     ('exchange_quote', 'SELECT * FROM wallet.exchange_quote(''CNY'', ''USD'', 10)'),
     ('exchange', 'SELECT * FROM wallet.exchange(1, 2, 10, ''priv-reader-10'')'),
     ('statement', 'SELECT * FROM wallet.statement(1)'),
     ('transaction', 'SELECT * FROM wallet.transaction(1)'),
     ('refund_status', 'SELECT * FROM wallet.refund_status(1)')) AS f(name, sql);

-- 108 fixed tests, one read per report view, and 10 on schema wallet_internal
SELECT plan((SELECT count(*)::int FROM probe) + 111
            + (SELECT count(*)::int FROM pg_class WHERE relnamespace = 'wallet_report'::regnamespace AND relkind = 'v')
            + 10);

------------------------------------------------------------------------------
-- Roles
------------------------------------------------------------------------------
SELECT ok(EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r AND NOT rolcanlogin
                     AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb AND NOT rolbypassrls),
          format('role %s exists, NOLOGIN, without superuser, createrole, createdb, bypassrls', r))
  FROM unnest(ARRAY['wallet_app', 'wallet_admin', 'wallet_reader', 'wallet_verifier']) AS r;

------------------------------------------------------------------------------
-- Catalog checks: PUBLIC, pinned search_path, what each role may execute
------------------------------------------------------------------------------
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace IN ('wallet'::regnamespace, 'wallet_report'::regnamespace)
     AND (p.proacl IS NULL   -- NULL means the default: EXECUTE for PUBLIC
          OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
$$, 'no function of wallet or wallet_report is executable by PUBLIC');

SELECT is_empty($$
  SELECT c.oid::regclass::text FROM pg_class c
   WHERE c.relnamespace IN ('wallet'::regnamespace, 'wallet_report'::regnamespace)
     AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0)
$$, 'PUBLIC holds no privilege on any table, view or sequence of wallet or wallet_report');

SELECT ok(NOT has_schema_privilege('public', 'wallet', 'CREATE')
          AND NOT has_schema_privilege('wallet_app', 'wallet', 'CREATE')
          AND NOT has_schema_privilege('wallet_admin', 'wallet', 'CREATE')
          AND NOT has_schema_privilege('wallet_reader', 'wallet', 'CREATE'),
          'nobody but the owner may create objects in schema wallet');

SELECT cmp_ok((SELECT count(*) FROM pg_proc WHERE pronamespace = 'wallet'::regnamespace AND prosecdef), '>=', 10::bigint,
              'the operations are SECURITY DEFINER functions');

-- pg_temp must be listed (last): left out, it is searched first for tables. The operations
-- written in C (src/ops/) pin the same path themselves before they prepare or run a statement
-- or run user code (the hostile search_path below shows it).
SELECT is_empty($$
  SELECT p.oid::regprocedure::text || ' ' || coalesce(p.proconfig::text, '(no SET)') FROM pg_proc p
   WHERE p.pronamespace IN ('wallet'::regnamespace, 'wallet_report'::regnamespace) AND p.prosecdef
     AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, wallet, pg_temp'], false)
     AND NOT (p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
              AND p.prosrc IN ('wallet_top_up', 'wallet_spend', 'wallet_reverse_spend', 'wallet_request_refund',
                               'wallet_review_refund', 'wallet_settle_refund', 'wallet_adjust',
                               'wallet_issue_coupon', 'wallet_issue_coupons', 'wallet_hold',
                               'wallet_capture_hold', 'wallet_release_hold', 'wallet_extend_hold',
                               'wallet_expire_holds', 'wallet_group_pay', 'wallet_join_group_pay',
                               'wallet_cancel_group_pay', 'wallet_transfer', 'wallet_spend_split',
                               'wallet_request_withdrawal', 'wallet_review_withdrawal', 'wallet_settle_withdrawal',
                               'wallet_return_withdrawal', 'wallet_auto_withdraw', 'wallet_card_quote',
                               'wallet_submit_cards', 'wallet_verify_card', 'wallet_settle_intake',
                               'wallet_review_intake', 'wallet_exchange', 'wallet_expire_group_pays')
              AND p.proconfig IS NULL)
$$, 'every SECURITY DEFINER function pins search_path = pg_catalog, wallet, pg_temp (SQL) or is an operation in C');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace IN ('wallet'::regnamespace, 'wallet_report'::regnamespace)
     AND has_function_privilege('wallet_app', p.oid, 'EXECUTE')
     AND p.proname NOT IN (
       -- the operations
       'open', 'balance', 'lots', 'bonus_preview', 'top_up', 'spend', 'reverse_spend',
       'refund_quote', 'request_refund', 'settle_refund', 'issue_coupon', 'issue_coupons', 'coupons',
       'validate_coupon', 'pending_notifications', 'mark_notified',
       'hold', 'capture_hold', 'release_hold', 'extend_hold', 'holds', 'spend_preview',
       'group_pay', 'join_group_pay', 'cancel_group_pay', 'group_pay_status', 'transfer', 'spend_split',
       'withdraw_quote', 'request_withdrawal', 'withdrawals', 'set_auto_withdrawal', 'settle_withdrawal',
       'return_withdrawal', 'card_quote', 'submit_cards', 'settle_intake', 'intakes', 'intake_items',
       'exchange_quote', 'exchange', 'limit_usage', 'statement', 'transaction', 'refund_status', 'incoming',
       -- the router's join_group_pay, for a participant of another shard than the group's
       'group_share', 'join_group_share', 'group_join_in',
       -- pure functions without table access that views and type I/O need
       'lotset_in', 'lotset_out', 'lotset_recv', 'lotset_send', 'clock', 'to_major', 'lots_list')
$$, 'wallet_app may execute the operations and nothing else');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace IN ('wallet'::regnamespace, 'wallet_report'::regnamespace)
     AND has_function_privilege('wallet_reader', p.oid, 'EXECUTE')
     AND p.proname NOT IN ('lotset_in', 'lotset_out', 'lotset_recv', 'lotset_send', 'clock', 'to_major', 'lots_list')
$$, 'wallet_reader may execute no operation (only the pure helpers the journal views call)');

-- the report views' look-ups of the unrolled tail live in schema wallet_internal, which no role
-- may use: the views call them, nobody can name them
SELECT ok(NOT has_schema_privilege(r, 'wallet_internal', 'USAGE') AND NOT has_schema_privilege(r, 'wallet_internal', 'CREATE'),
          format('%s may not use schema wallet_internal', r))
  FROM unnest(ARRAY['public', 'wallet_app', 'wallet_admin', 'wallet_reader']) AS r;
SELECT set_eq($$
  SELECT p.proname::text FROM pg_proc p
   WHERE p.pronamespace = 'wallet_internal'::regnamespace AND has_function_privilege('wallet_reader', p.oid, 'EXECUTE')
$$, ARRAY['_report_watermark', '_report_facts_between', '_report_wallet_facts_between'],
'wallet_reader executes, of wallet_internal, only the report views'' look-ups');
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace = 'wallet_internal'::regnamespace
     AND (has_function_privilege('wallet_app', p.oid, 'EXECUTE') OR p.proacl IS NULL
          OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
$$, 'wallet_app and PUBLIC execute nothing in wallet_internal');

SELECT ok(has_function_privilege('wallet_app', f, 'EXECUTE'), format('wallet_app may execute %s', f))
  FROM unnest(ARRAY['wallet.open(text,text)', 'wallet.top_up(bigint,numeric,text,text,text)',
                    'wallet.spend(bigint,numeric,text,text,text,boolean,bigint,text,numeric,text)', 'wallet.spend_preview(bigint,numeric,text,text,numeric)',
                    'wallet.balance(bigint,text)', 'wallet.transfer(bigint,bigint,numeric,text,text,text,text)',
                    'wallet.spend_split(bigint,numeric,text,bigint[],numeric[],text,text,text)',
                    'wallet.withdraw_quote(bigint,numeric)',
                    'wallet.request_withdrawal(bigint,numeric,text,text,text,text,text)', 'wallet.withdrawals(bigint)',
                    'wallet.set_auto_withdrawal(bigint,numeric,text)', 'wallet.settle_withdrawal(bigint,boolean,text)',
                    'wallet.return_withdrawal(bigint,text,text)', 'wallet.exchange_quote(text,text,numeric)',
                    'wallet.exchange(bigint,bigint,numeric,text,text)', 'wallet.limit_usage(bigint)',
                    'wallet.statement(bigint,bigint,integer,timestamp with time zone)',
                    'wallet.transaction(bigint)', 'wallet.refund_status(bigint)']) AS f;

SELECT ok(has_function_privilege('wallet_admin', f, 'EXECUTE'), format('wallet_admin may execute %s', f))
  FROM unnest(ARRAY['wallet.freeze(bigint,text)', 'wallet.unfreeze(bigint)',
                    'wallet.configure_shard(integer,integer)', 'wallet.shard_info()',
                    'wallet.relay_in(bigint,bigint,numeric,text,text,bigint,bigint)', 'wallet.relay_check()',
                    'wallet.relay_back(bigint,bigint,numeric,text,bigint,bigint)',
                    'wallet.group_relay(bigint,text,bigint,bigint,bigint,numeric,text,bigint)',
                    'wallet.expire_group_pays(integer)',
                    'wallet.group_join_in(bigint,bigint,bigint,bigint,numeric,text,bigint)',
                    'wallet.review_refund(bigint,boolean,text,text)', 'wallet.reconcile()',
                    'wallet.expire_bonus(integer)', 'wallet.add_journal_partitions(integer)',
                    'wallet.archive_journal(date)', 'wallet.expire_bonus_all(integer,numeric,bigint,bigint)',
                    'wallet.adjust(bigint,text,numeric,text,text,text)',
                    'wallet.review_withdrawal(bigint,boolean,text,text)', 'wallet.settle_withdrawal(bigint,boolean,text)',
                    'wallet.return_withdrawal(bigint,text,text)', 'wallet.auto_withdraw(integer)',
                    'wallet.remind_idle(integer)', 'wallet.withdrawals(bigint)',
                    'wallet.set_fx_rate(text,text,numeric,numeric,timestamp with time zone,timestamp with time zone)',
                    'wallet.add_reward_rule(text,numeric,text,numeric,interval,text,timestamp with time zone,timestamp with time zone)',
                    'wallet.end_reward_rule(bigint,timestamp with time zone)',
                    'wallet.exchange_quote(text,text,numeric)',
                    'wallet.add_limit_rule(text,text,text,numeric,integer,text,bigint)',
                    'wallet.drop_limit_rule(bigint)', 'wallet.limit_usage(bigint)']) AS f;

SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace IN ('wallet'::regnamespace, 'wallet_report'::regnamespace)
     AND has_function_privilege('wallet_verifier', p.oid, 'EXECUTE')
     AND p.proname NOT IN ('grant_step_up')
$$, 'wallet_verifier may execute grant_step_up and nothing else');
SELECT ok(has_function_privilege('wallet_verifier', 'wallet.grant_step_up(bigint,text,numeric,text,interval)', 'EXECUTE'),
          'wallet_verifier may execute wallet.grant_step_up');

------------------------------------------------------------------------------
-- A hostile search_path: an `evil` schema shadowing the extension's names (a
-- clock stuck in 1999, a wallet table, a currency table with exponent 0, a
-- nextval(text) that would beat pg_catalog's nextval(regclass)), and temp
-- tables named like the extension's tables. The operations ignore all of it.
-- Done first, before anything else in this session calls top_up or spend.
------------------------------------------------------------------------------
SELECT wallet.add_bonus_rule('CNY', 100, bonus_fixed => 10) AS base_rule \gset

CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO wallet_app;
CREATE FUNCTION evil.clock() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '1999-12-31 00:00:00+00'::timestamptz $$;
CREATE FUNCTION evil.nextval(text) RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$;
CREATE FUNCTION evil.to_minor(numeric, int, text) RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$;
-- an `=` on bigint that fails: a statement of the extension planned under this path would use it
CREATE FUNCTION evil.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'evil = used'; END $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.eq);
CREATE TABLE evil.wallet (wallet_id bigint, owner text, currency text, exponent smallint, frozen boolean);
CREATE TABLE evil.currency (code text, exponent int);
INSERT INTO evil.currency VALUES ('CNY', 0);
GRANT ALL ON ALL TABLES IN SCHEMA evil TO wallet_app;

SET ROLE wallet_app;
CREATE TEMP TABLE wallet (wallet_id bigint, owner text, currency text, exponent smallint, frozen boolean);
CREATE TEMP TABLE currency (code text, exponent int);
INSERT INTO currency VALUES ('CNY', 0);
CREATE TEMP TABLE txn (txn_id bigint, wallet_id bigint, kind text);
CREATE TEMP TABLE bonus_rule (currency text, min_amount numeric, bonus_fixed numeric);
INSERT INTO bonus_rule VALUES ('CNY', 1, 999);
-- evil before pg_catalog: its operator and functions come first
SET search_path = evil, pg_catalog, public, wallet;
-- (pgTAP itself is not safe here: its nextval() call would pick evil.nextval)
CREATE TEMP TABLE hostile_topup AS SELECT txn_id, bonus, replayed FROM top_up(open('priv-hostile'), 150, 'priv-hostile-1');
CREATE TEMP TABLE hostile_spend AS
  SELECT charged, bonus_used, cash_used, replayed FROM spend(open('priv-hostile'), 40.25, 'priv-hostile-2');
CREATE TEMP TABLE hostile_reverse AS
  SELECT bonus_returned, cash_returned, replayed
    FROM reverse_spend((spend(open('priv-hostile'), 40.25, 'priv-hostile-2')).txn_id, 'priv-hostile-3', 10);
-- replays read the journal with a statement (prepared above, under this path)
CREATE TEMP TABLE hostile_replays AS
  SELECT (top_up(open('priv-hostile'), 150, 'priv-hostile-1')).replayed AS top_up,
         (spend(open('priv-hostile'), 40.25, 'priv-hostile-2')).replayed AS spend,
         (SELECT r.replayed FROM reverse_spend((spend(open('priv-hostile'), 40.25, 'priv-hostile-2')).txn_id,
                                               'priv-hostile-3', 10) r) AS reverse_spend,
         current_setting('search_path') AS path_after;
CREATE TEMP TABLE hostile_balance AS SELECT cash, bonus, available FROM balance(open('priv-hostile'));
-- a refund of the top-up (10, and the 7.52 of its bonus the spend used and the reversal did not give
-- back, clawed back), and its replay
CREATE TEMP TABLE hostile_refund AS
  SELECT amount, bonus_clawback, replayed FROM request_refund((SELECT txn_id FROM hostile_topup), 'priv-hostile-4', 10);
CREATE TEMP TABLE hostile_refund_replay AS
  SELECT (request_refund((SELECT txn_id FROM hostile_topup), 'priv-hostile-4', 10)).replayed AS replayed,
         current_setting('search_path') AS path_after;
-- a hold of 5, and its capture (the hold's replay gives its id)
CREATE TEMP TABLE hostile_hold AS
  SELECT held, bonus_held, cash_held, replayed FROM hold(open('priv-hostile'), 5, 'priv-hostile-5');
CREATE TEMP TABLE hostile_capture AS
  SELECT c.captured, c.status, c.replayed, current_setting('search_path') AS path_after
    FROM capture_hold((SELECT h.hold_id FROM hold(open('priv-hostile'), 5, 'priv-hostile-5') h), 'priv-hostile-6') c;
-- a split payment of 3 to two payees (2 and 1), and a transfer of all the first one got (its pending credit)
CREATE TEMP TABLE hostile_split AS
  SELECT charged, cash_used, replayed, current_setting('search_path') AS path_after
    FROM spend_split(open('priv-hostile'), 3, 'priv-hostile-7', ARRAY[open('priv-hostile-a'), open('priv-hostile-b')],
                     '{2,1}');
CREATE TEMP TABLE hostile_transfer AS
  SELECT amount, fee, replayed, current_setting('search_path') AS path_after
    FROM transfer(open('priv-hostile-a'), open('priv-hostile-b'), NULL, 'priv-hostile-8');
RESET search_path;
SELECT results_eq($$ SELECT bonus, replayed FROM hostile_topup $$, $$ VALUES (10.00::numeric, false) $$,
  'under a hostile search_path, top_up gets the real bonus rule (150 -> 10)');
SELECT results_eq($$ SELECT * FROM hostile_spend $$,
  $$ VALUES (40.25::numeric, 10.00::numeric, 30.25::numeric, false) $$,
  'under a hostile search_path, spend charges bonus first, then cash, in minor units of CNY');
-- 10.00 of a spend of 40.25 funded 10.00 bonus, 30.25 cash: bonus 10.00 * 10.00 / 40.25 = 2.48 (down)
SELECT results_eq($$ SELECT * FROM hostile_reverse $$,
  $$ VALUES (2.48::numeric, 7.52::numeric, false) $$,
  'under a hostile search_path, reverse_spend splits as the spend was funded, in minor units of CNY');
SELECT results_eq($$ SELECT * FROM hostile_replays $$,
  $$ VALUES (true, true, true, 'evil, pg_catalog, public, wallet'::text) $$,
  'under a hostile search_path, top_up, spend and reverse_spend replay (their statements ignore evil.=), and leave the caller''s path as it was');
SELECT results_eq($$ SELECT * FROM hostile_balance $$,
  $$ VALUES (127.27::numeric, 2.48::numeric, 129.75::numeric) $$,
  'under a hostile search_path, balance is right');
SELECT results_eq($$ SELECT * FROM hostile_refund $$, $$ VALUES (10.00::numeric, 7.52::numeric, false) $$,
  'under a hostile search_path, request_refund nets the top-up (its statements ignore evil.=)');
SELECT results_eq($$ SELECT * FROM hostile_refund_replay $$,
  $$ VALUES (true, 'evil, pg_catalog, public, wallet'::text) $$,
  'under a hostile search_path, request_refund replays and leaves the caller''s path as it was');
SELECT results_eq($$ SELECT * FROM hostile_hold $$, $$ VALUES (5.00::numeric, 0.00::numeric, 5.00::numeric, false) $$,
  'under a hostile search_path, hold reserves in minor units of CNY');
SELECT results_eq($$ SELECT * FROM hostile_capture $$,
  $$ VALUES (5.00::numeric, 'captured'::text, false, 'evil, pg_catalog, public, wallet'::text) $$,
  'under a hostile search_path, capture_hold charges the hold and leaves the caller''s path as it was');
SELECT results_eq($$ SELECT * FROM hostile_split $$,
  $$ VALUES (3.00::numeric, 3.00::numeric, false, 'evil, pg_catalog, public, wallet'::text) $$,
  'under a hostile search_path, spend_split charges and leaves the caller''s path as it was');
SELECT results_eq($$ SELECT * FROM hostile_transfer $$,
  $$ VALUES (2.00::numeric, 0.00::numeric, false, 'evil, pg_catalog, public, wallet'::text) $$,
  'under a hostile search_path, transfer rolls up the sender''s credit and moves it');
RESET ROLE;
SELECT results_eq(
  $$ SELECT kind, amount, created_at FROM wallet.transactions
      WHERE wallet_id = wallet.open('priv-hostile') ORDER BY txn_id $$,
  $$ VALUES ('top_up'::text, 150.00::numeric, '2026-03-01 00:00:00+00'::timestamptz),
            ('spend', 40.25, '2026-03-01 00:00:00+00'),
            ('reverse_spend', 10.00, '2026-03-01 00:00:00+00'),
            ('request_refund', 10.00, '2026-03-01 00:00:00+00'),
            ('hold', 5.00, '2026-03-01 00:00:00+00'),
            ('capture_hold', 5.00, '2026-03-01 00:00:00+00'),
            ('spend_split', 3.00, '2026-03-01 00:00:00+00') $$,
  'the journal holds the operations, at the wallet clock (not evil.clock)');
SELECT is((SELECT count(*) FROM wallet.reconcile()), 0::bigint, 'the books balance after the hostile calls');
SELECT is((SELECT (SELECT count(*) FROM evil.wallet) + (SELECT count(*) FROM pg_temp.wallet)
                  + (SELECT count(*) FROM pg_temp.txn)), 0::bigint,
          'nothing was written to the look-alike tables');
DROP TABLE pg_temp.wallet, pg_temp.currency, pg_temp.txn, pg_temp.bonus_rule;

------------------------------------------------------------------------------
-- wallet.now is superuser-only
------------------------------------------------------------------------------
SET ROLE wallet_app;
SELECT throws_ok($$ SET wallet.now = '2020-01-01 00:00:00+00' $$, '42501', NULL,
                 'wallet_app cannot set wallet.now');
SELECT throws_ok($$ SELECT set_config('wallet.now', '2020-01-01 00:00:00+00', false) $$, '42501', NULL,
                 'wallet_app cannot set wallet.now with set_config');
RESET ROLE;

------------------------------------------------------------------------------
-- wallet_app: the operations work
------------------------------------------------------------------------------
SET ROLE wallet_app;
SELECT lives_ok($$ SELECT wallet.open('priv-app') $$, 'wallet_app can open a wallet');
SELECT lives_ok($$ SELECT wallet.open('priv-shop') $$, 'wallet_app can open a payee wallet');
SELECT results_eq(
  $$ SELECT bonus, replayed FROM wallet.top_up(wallet.open('priv-app'), 100, 'priv-app-1', 'card', 'gw-1') $$,
  $$ VALUES (10.00::numeric, false) $$, 'wallet_app can top up');
SELECT results_eq(
  $$ SELECT charged, bonus_used, cash_used, replayed
       FROM wallet.spend(wallet.open('priv-app'), 30, 'priv-app-2', payee => wallet.open('priv-shop')) $$,
  $$ VALUES (30.00::numeric, 10.00::numeric, 20.00::numeric, false) $$, 'wallet_app can spend, paying a payee');
SELECT results_eq(
  $$ SELECT cash, bonus, available FROM wallet.balance(wallet.open('priv-app')) $$,
  $$ VALUES (80.00::numeric, 0.00::numeric, 80.00::numeric) $$, 'wallet_app can read a balance');
SELECT results_eq(
  $$ SELECT earnings FROM wallet.balance(wallet.open('priv-shop')) $$,
  $$ VALUES (30.00::numeric) $$, 'the payee''s balance shows the credit');
SELECT lives_ok($$ SELECT * FROM wallet.lots(wallet.open('priv-app')) $$, 'wallet_app can list lots');
SELECT lives_ok($$ SELECT * FROM wallet.bonus_preview('CNY', 100) $$, 'wallet_app can preview a bonus');
RESET ROLE;

SELECT wallet.open('priv-app') AS app_id, wallet.open('priv-shop') AS shop_id \gset
SELECT txn_id AS app_topup FROM wallet.txn WHERE wallet_id = :app_id AND kind = 'top_up' \gset
SELECT txn_id AS app_spend FROM wallet.txn WHERE wallet_id = :app_id AND kind = 'spend' \gset

SET ROLE wallet_app;
SELECT lives_ok(format('SELECT * FROM wallet.reverse_spend(%s, %L, 3)', :app_spend, 'priv-app-3'),
                'wallet_app can reverse (part of) a spend');
SELECT results_eq(format('SELECT max_amount FROM wallet.refund_quote(%s)', :app_topup),
                  $$ VALUES (73.00::numeric) $$, 'wallet_app can ask for a refund quote: cash 82 less the 9 of bonus still owed');
SELECT results_eq(format('SELECT amount, bonus_clawback, status FROM wallet.request_refund(%s, %L, 20)',
                         :app_topup, 'priv-app-4'),
                  $$ VALUES (20.00::numeric, 9.00::numeric, 'pending'::text) $$,
                  'wallet_app can request a refund (the 9 of bonus spent is clawed back)');
RESET ROLE;
SELECT refund_id AS app_refund FROM wallet.refund WHERE wallet_id = :app_id \gset

-- what an application shows its customers, through functions (section 21)
SET ROLE wallet_app;
SELECT results_eq(format('SELECT kind, earnings, counterparty FROM wallet.statement(%s)', :shop_id),
                  format('VALUES (%L::text, -3.00::numeric, %s::bigint), (%L, 30.00, %s)',
                         'reverse_spend', :app_id, 'spend', :app_id),
                  'wallet_app can read a statement: the payee''s credit and the reversal that took 3 back');
SELECT results_eq(format('SELECT kind, amount, jsonb_array_length(postings) FROM wallet.transaction(%s)', :app_spend),
                  $$ VALUES ('spend'::text, 30.00::numeric, 3) $$,
                  'wallet_app can read one transaction with its postings');
SELECT results_eq(format('SELECT amount, status FROM wallet.refund_status(%s)', :app_refund),
                  $$ VALUES (20.00::numeric, 'pending'::text) $$, 'wallet_app can read a refund''s status');
RESET ROLE;

------------------------------------------------------------------------------
-- wallet_reader: the journal views, nothing else
------------------------------------------------------------------------------
-- a range of the journal not rolled up yet, so that the report views read a gap too
INSERT INTO wallet.rollup_gap (lo, hi, seen_at) VALUES (1, 9223372036854775807, now()) RETURNING gap_id AS reader_gap \gset
SET ROLE wallet_reader;
SELECT is((SELECT count(*) FROM wallet.transactions WHERE wallet_id = :app_id), 4::bigint,
          'wallet_reader can read wallet.transactions');
SELECT is((SELECT sum(amount) FROM wallet.postings), 0.00::numeric,
          'wallet_reader can read wallet.postings (and they sum to zero)');
-- and the BI views, whatever functions they call
SELECT lives_ok(format('SELECT * FROM wallet_report.%I', v), format('wallet_reader can read wallet_report.%s', v))
  FROM (SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = 'wallet_report'::regnamespace AND c.relkind = 'v'
         ORDER BY 1) AS x(v);
-- but not the helpers the views call
SELECT throws_ok('SELECT * FROM wallet_internal._report_facts_between(1, 10)', '42501', NULL,
                 'wallet_reader cannot call wallet_internal._report_facts_between');
SELECT throws_ok('SELECT * FROM wallet_internal._report_wallet_facts_between(1, 10)', '42501', NULL,
                 'wallet_reader cannot call wallet_internal._report_wallet_facts_between');
SELECT throws_ok('SELECT wallet_internal._report_watermark()', '42501', NULL,
                 'wallet_reader cannot call wallet_internal._report_watermark');
SELECT throws_ok('SELECT * FROM wallet._report_wallet_tail', '42501', NULL,
                 'wallet_reader cannot read the internal view wallet._report_wallet_tail');
RESET ROLE;
DELETE FROM wallet.rollup_gap WHERE gap_id = :reader_gap;

------------------------------------------------------------------------------
-- wallet_admin: its functions work; it reads config, writes no table
------------------------------------------------------------------------------
SET ROLE wallet_admin;
SELECT lives_ok(format('SELECT wallet.freeze(%s, %L)', :app_id, 'chargeback'), 'wallet_admin can freeze a wallet');
SELECT lives_ok(format('SELECT wallet.unfreeze(%s)', :app_id), 'wallet_admin can unfreeze it');
SELECT lives_ok($$ SELECT wallet.set_policy('CNY', remind_before => '2 days') $$, 'wallet_admin can set policy');
SELECT lives_ok($$ SELECT wallet.add_bonus_rule('CNY', 500, bonus_fixed => 60) $$, 'wallet_admin can add a bonus rule');
-- card intake: wallet_admin sets the card types and rates, wallet_app quotes and submits,
-- wallet_admin checks the cards, wallet_app settles
SELECT lives_ok($$ SELECT wallet.set_card_type('priv_card', 'Card', 'CNY'), wallet.add_card_rate('priv_card', 0.9) $$,
                'wallet_admin can set a card type and its rate');
SET ROLE wallet_app;
SELECT lives_ok($$ SELECT * FROM wallet.card_quote('priv_card', 100) $$, 'wallet_app can quote a card');
SELECT lives_ok(format('SELECT * FROM wallet.submit_cards(%s, %L, %L, %L, %L)', :app_id, 'priv_card', '{100}',
                       '{PRIVCARD0001}', 'priv-card-1'), 'wallet_app can submit cards');
SET ROLE wallet_admin;
SELECT lives_ok(format('SELECT wallet.verify_card(i.item_id, true) FROM wallet.intake_items(
                          (SELECT max(intake_id) FROM wallet.intakes(%s))) i', :app_id),
                'wallet_admin can check a card');
SET ROLE wallet_app;
SELECT lives_ok(format('SELECT * FROM wallet.settle_intake((SELECT max(intake_id) FROM wallet.intakes(%s)), %L)',
                       :app_id, 'priv-card-2'), 'wallet_app can settle a checked intake');
SET ROLE wallet_admin;
SELECT lives_ok($$ SELECT * FROM wallet.expire_bonus() $$, 'wallet_admin can run the expiry sweep');
SELECT is((SELECT count(*) FROM wallet.reconcile()), 0::bigint, 'wallet_admin can reconcile: no discrepancy');
SELECT lives_ok($$ SELECT * FROM wallet.policy, wallet.bonus_rule, wallet.currency LIMIT 1 $$,
                'wallet_admin can read the config tables');
SELECT lives_ok($$ SELECT wallet.drop_limit_rule(wallet.add_limit_rule('CNY', 'spend', 'day', 1000000)) $$,
                'wallet_admin can add and drop a limit rule');
SET ROLE wallet_reader;
SELECT lives_ok($$ SELECT * FROM wallet.limit_rule $$, 'wallet_reader can read wallet.limit_rule');
SET ROLE wallet_verifier;
SELECT lives_ok(format('SELECT wallet.grant_step_up(%s, %L, 10, %L)', :app_id, 'spend', 'otp-service'),
                'wallet_verifier can grant a step-up verification');
RESET ROLE;

------------------------------------------------------------------------------
-- A role with no grant at all gets nothing (PUBLIC has nothing)
------------------------------------------------------------------------------
CREATE ROLE wallet_tap_nobody NOLOGIN;
SET ROLE wallet_tap_nobody;
SELECT throws_ok($$ SELECT * FROM wallet.balance(1) $$, '42501', NULL, 'a role without grants cannot read a balance');
SELECT throws_ok($$ SELECT wallet.open('priv-nobody') $$, '42501', NULL, 'a role without grants cannot open a wallet');
RESET ROLE;

------------------------------------------------------------------------------
-- The probes: every forbidden statement fails with 42501
------------------------------------------------------------------------------
SET ROLE wallet_app;
SELECT throws_ok(p.sql, '42501', NULL, p.description) FROM probe p WHERE p.role = 'wallet_app' ORDER BY p.ord, p.sql;
RESET ROLE;
SET ROLE wallet_reader;
SELECT throws_ok(p.sql, '42501', NULL, p.description) FROM probe p WHERE p.role = 'wallet_reader' ORDER BY p.ord, p.sql;
RESET ROLE;
SET ROLE wallet_admin;
SELECT throws_ok(p.sql, '42501', NULL, p.description) FROM probe p WHERE p.role = 'wallet_admin' ORDER BY p.ord, p.sql;
RESET ROLE;
SET ROLE wallet_verifier;
SELECT throws_ok(p.sql, '42501', NULL, p.description) FROM probe p WHERE p.role = 'wallet_verifier' ORDER BY p.ord, p.sql;
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
