-- coupons.sql: coupons under pgTAP (CONTRACT.md sections 10, 12 and 13).
--
--   privileges   wallet_app validates, issues, lists and spends with a coupon, but writes
--                no coupon table and adds no template; wallet_reader reads coupon_stats
--                and nothing else of the coupons; wallet_admin adds templates, reads the
--                coupon tables, writes none
--   bad input    every argument of every coupon function: NULL, empty, 10 kB strings,
--                control characters, bad amounts, malformed scenes, unknown ids; each with
--                the contract's SQLSTATE, and nothing changes
--   codes        2000 fresh codes: distinct, well formed, canonical; every symbol in every
--                random position (and a chi-square bound per position); every single-symbol
--                substitution and every swap of two neighbours of a sample code is caught
--                by the check symbol, exhaustively
-- Run by pg_prove in database wallet_tap.
BEGIN;

SET wallet.now = '2026-06-01 00:00:00+00';

------------------------------------------------------------------------------
-- Fixtures: currencies of this file's own; a wallet with funds, a second one, a
-- wallet of another currency; two templates; a coupon issued to the first wallet.
------------------------------------------------------------------------------
INSERT INTO wallet.currency (code, exponent) VALUES ('QCT', 2), ('QCU', 2);
SELECT wallet.open('tap-coupon-a', 'QCT') AS a, wallet.open('tap-coupon-b', 'QCT') AS b,
       wallet.open('tap-coupon-u', 'QCU') AS u \gset
SELECT txn_id AS topup FROM wallet.top_up(:a, 100, 'tap-seed') \gset
SELECT wallet.add_coupon_template('tap-ten', 'QCT', 'amount', 10) AS tpl_ten,
       wallet.add_coupon_template('tap-pct', 'QCT', 'percent', 20, max_discount => 5, per_wallet_limit => 5) AS tpl_pct,
       wallet.add_coupon_template('tap-u', 'QCU', 'amount', 1) AS tpl_u \gset
SELECT wallet.issue_coupon('tap-pct', :a, 'tap-fixture-1') AS code_a \gset

-- the code's alphabet: 31 symbols, no 0/O, 1/I/L
CREATE TEMP TABLE alphabet AS
  SELECT s, ord::int FROM unnest(string_to_array('23456789ABCDEFGHJKMNPQRSTUVWXYZ', NULL)) WITH ORDINALITY AS x(s, ord);

-- state is everything a bad call could have touched, as one jsonb value
CREATE TEMP VIEW state AS
  SELECT jsonb_build_object(
    'wallets', (SELECT jsonb_agg(jsonb_build_array(w.wallet_id, w.lots::text, w.frozen, w.version) ORDER BY w.wallet_id)
                  FROM wallet.wallet w),
    'transactions', (SELECT count(*) FROM wallet.txn),
    'last_txn', (SELECT max(txn_id) FROM wallet.txn),
    'coupons', (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.code) FROM wallet.coupon c),
    'templates', (SELECT jsonb_agg(to_jsonb(t) ORDER BY t.template_id) FROM wallet.coupon_template t),
    'payee_credits', (SELECT count(*) FROM wallet.payee_credit)) AS s;

------------------------------------------------------------------------------
-- The bad calls: (sql, SQLSTATE, description)
------------------------------------------------------------------------------
CREATE TEMP TABLE bad_call (ord serial, sql text, state text, description text);

-- order amounts of validate_coupon ($V)
CREATE TEMP TABLE bad_amount (v text, label text);
INSERT INTO bad_amount VALUES
  ('NULL::numeric', 'NULL'), ('0', 'zero'), ('0.00', 'zero with decimals'), ('-1', 'negative'),
  ('-0.01', 'a negative cent'), ('''NaN''::numeric', 'NaN'), ('''Infinity''::numeric', 'Infinity'),
  ('''-Infinity''::numeric', '-Infinity'), ('1.001', 'too many decimals'), ('0.001', 'less than the minor unit'),
  ('1e20', '1e20'), ('10000000000000.01', 'just beyond 10^15 minor units'),
  ('99999999999999999999999999999999.99', 'a 34-digit amount');
INSERT INTO bad_call (sql, state, description)
SELECT replace(format('SELECT * FROM wallet.validate_coupon(%L, %s, $V)', :'code_a', :a), '$V', b.v), '22023',
       format('validate_coupon order_amount: %s is refused', b.label)
  FROM bad_amount b ORDER BY b.label;

-- text arguments ($V); maxlen is the longest allowed
CREATE TEMP TABLE text_arg (name text, tmpl text, maxlen int, required boolean);
INSERT INTO text_arg VALUES
  ('validate_coupon code', format('SELECT * FROM wallet.validate_coupon($V, %s, 10)', :a), 64, true),
  ('issue_coupon template_id', format('SELECT wallet.issue_coupon($V, %s, %L)', :b, 'tap-bad-1'), 64, true),
  ('issue_coupon idempotency_key', format('SELECT wallet.issue_coupon(%L, %s, $V)', 'tap-ten', :b), 200, true),
  ('issue_coupons template_id', format('SELECT * FROM wallet.issue_coupons($V, ARRAY[%s]::bigint[], %L)', :b, 'tap-bad-2'), 64, true),
  ('issue_coupons idempotency_key', format('SELECT * FROM wallet.issue_coupons(%L, ARRAY[%s]::bigint[], $V)', 'tap-ten', :b), 200, true),
  ('spend coupon', format('SELECT * FROM wallet.spend(%s, 20, %L, coupon => $V)', :a, 'tap-bad-3'), 64, false),
  ('add_coupon_template template_id', 'SELECT wallet.add_coupon_template($V, ''QCT'', ''amount'', 1)', 64, true),
  ('add_coupon_template currency', 'SELECT wallet.add_coupon_template(''tap-bad'', $V, ''amount'', 1)', 3, true),
  ('add_coupon_template kind', 'SELECT wallet.add_coupon_template(''tap-bad'', ''QCT'', $V, 1)', 10, true);
INSERT INTO bad_call (sql, state, description)
SELECT replace(t.tmpl, '$V', b.v), '22023', format('%s: %s is refused', t.name, b.label)
  FROM text_arg t
 CROSS JOIN LATERAL (VALUES
    (CASE WHEN t.required THEN 'NULL::text' END, 'NULL'),
    (CASE WHEN t.required THEN '''''' END, 'the empty string'),
    (quote_literal(repeat('x', t.maxlen + 1)), format('%s characters', t.maxlen + 1)),
    ('repeat(''x'', 10000)', 'a 10 kB string'),
    ('E''two\nlines''', 'a newline'),
    ('E''tab\there''', 'a tab'),
    ('E''\x01start of heading''', 'control character 0x01'),
    ('E''\x1b[31mred''', 'an escape sequence'),
    ('E''del\x7f''', 'DEL (0x7f)')) AS b(v, label)
 WHERE b.v IS NOT NULL
   -- an empty code is a mistyped one (checked below), as spend reports it
   AND NOT (t.name = 'validate_coupon code' AND b.label = 'the empty string')
 ORDER BY t.name, b.label;
-- a code that is right but for a control character or with a 10 kB tail is still refused as text
INSERT INTO bad_call (sql, state, description) VALUES
  (format('SELECT * FROM wallet.validate_coupon(%L || E''\n'', %s, 10)', :'code_a', :a), '22023',
   'validate_coupon code: a valid code followed by a newline is refused'),
  (format('SELECT * FROM wallet.validate_coupon(%L || repeat(''-'', 10000), %s, 10)', :'code_a', :a), '22023',
   'validate_coupon code: a valid code padded to 10 kB with separators is refused'),
  (format('SELECT * FROM wallet.spend(%s, 20, %L, coupon => %L || E''\t'')', :a, 'tap-bad-4', :'code_a'), '22023',
   'spend coupon: a valid code followed by a tab is refused');

-- scenes of validate_coupon: [A-Za-z0-9_.:-]{1,64}
INSERT INTO bad_call (sql, state, description)
SELECT format('SELECT * FROM wallet.validate_coupon(%L, %s, 10, %s)', :'code_a', :a, b.v), '22023',
       format('validate_coupon scene: %s is refused', b.label)
  FROM (VALUES
    ('''''', 'the empty scene'), ('''has space''', 'a scene with a space'), ('''semi;colon''', 'a scene with ";"'),
    ('''caf' || chr(233) || '''', 'a scene with a non-ASCII letter'), (quote_literal(repeat('s', 65)), 'a 65-character scene'),
    ('repeat(''s'', 10000)', 'a 10 kB scene'), ('E''game\n''', 'a scene with a newline')) AS b(v, label)
 ORDER BY b.label;

-- ids: NULL is a bad argument (22023); an id that names nothing is WL006
INSERT INTO bad_call (sql, state, description)
SELECT replace(f.tmpl, '$V', b.v), CASE WHEN b.v = 'NULL' THEN '22023' ELSE 'WL006' END,
       format('%s: %s is %s', f.name, b.label, CASE WHEN b.v = 'NULL' THEN 'refused' ELSE 'unknown' END)
  FROM (VALUES
    ('validate_coupon wallet_id', format('SELECT * FROM wallet.validate_coupon(%L, $V, 10)', :'code_a')),
    ('issue_coupon wallet_id', 'SELECT wallet.issue_coupon(''tap-ten'', $V, ''tap-bad-5'')'),
    ('issue_coupons wallet_ids', 'SELECT * FROM wallet.issue_coupons(''tap-ten'', ARRAY[$V]::bigint[], ''tap-bad-6'')'),
    ('coupons wallet_id', 'SELECT * FROM wallet.coupons($V)')) AS f(name, tmpl)
 CROSS JOIN (VALUES
    ('NULL', 'NULL'), ('-1', 'id -1'), ('0', 'id 0'), ('9223372036854775807', 'the largest bigint')) AS b(v, label)
 ORDER BY f.name, b.label;

INSERT INTO bad_call (sql, state, description) VALUES
  -- wallet lists
  ('SELECT * FROM wallet.issue_coupons(''tap-ten'', NULL, ''tap-bad-7'')', '22023', 'issue_coupons wallet_ids: NULL is refused'),
  (format('SELECT * FROM wallet.issue_coupons(%L, ARRAY[%s, 0]::bigint[], %L)', 'tap-ten', :b, 'tap-bad-8'), 'WL006',
   'issue_coupons wallet_ids: one unknown wallet among known ones is WL006 (and nothing is issued to the others)'),
  (format('SELECT * FROM wallet.issue_coupons(%L, ARRAY[%s, NULL]::bigint[], %L)', 'tap-ten', :b, 'tap-bad-9'), '22023',
   'issue_coupons wallet_ids: a NULL among known wallets is refused'),
  -- unknown templates
  (format('SELECT wallet.issue_coupon(%L, %s, %L)', 'tap-nope', :b, 'tap-bad-10'), 'WL006', 'issue_coupon template_id: an unknown template'),
  (format('SELECT * FROM wallet.issue_coupons(%L, ARRAY[%s]::bigint[], %L)', 'tap-nope', :b, 'tap-bad-11'), 'WL006',
   'issue_coupons template_id: an unknown template'),
  (format('SELECT wallet.issue_coupon(%L, %s, %L)', 'TAP-TEN', :b, 'tap-bad-12'), 'WL006',
   'issue_coupon template_id: template ids are case-sensitive'),
  -- a template of another currency
  (format('SELECT wallet.issue_coupon(%L, %s, %L)', 'tap-u', :b, 'tap-bad-13'), '22023',
   'issue_coupon: a template of another currency is refused'),
  (format('SELECT * FROM wallet.issue_coupons(%L, ARRAY[%s, %s]::bigint[], %L)', 'tap-u', :u, :b, 'tap-bad-14'), '22023',
   'issue_coupons: a template of another currency for one of the wallets is refused'),
  -- a coupon that is not one, in spend: WL005 (not WL006: the reason is in the detail)
  (format('SELECT * FROM wallet.spend(%s, 20, %L, coupon => %L)', :a, 'tap-bad-15', 'NOSUCHCODE'), 'WL005',
   'spend coupon: a mistyped code is WL005'),
  (format('SELECT * FROM wallet.spend(%s, 20, %L, coupon => wallet.coupon_code_new())', :a, 'tap-bad-16'), 'WL005',
   'spend coupon: an unknown well-formed code is WL005'),
  (format('SELECT * FROM wallet.spend(%s, 20, %L, coupon => %L)', :b, 'tap-bad-17', :'code_a'), 'WL005',
   'spend coupon: another wallet''s code is WL005');

-- add_coupon_template numbers, intervals, limits, scopes and windows (admin): 22023
INSERT INTO bad_call (sql, state, description)
SELECT format('SELECT wallet.add_coupon_template(''tap-bad'', ''QCT'', %s)', b.args), '22023',
       format('add_coupon_template %s is refused', b.label)
  FROM (VALUES
    ('''amount'', NULL', 'value: NULL'),
    ('''amount'', 0', 'value: zero'),
    ('''amount'', -1', 'value: negative'),
    ('''amount'', ''NaN''', 'value: NaN'),
    ('''amount'', ''Infinity''', 'value: Infinity'),
    ('''amount'', 1.001', 'value: too many decimals for an amount'),
    ('''amount'', 1e20', 'value: 1e20'),
    ('''percent'', 0', 'value: 0 percent'),
    ('''percent'', 100.01', 'value: above 100 percent'),
    ('''percent'', ''NaN''', 'value: NaN percent'),
    ('''percent'', -5', 'value: a negative percent'),
    ('''amount'', 1, max_discount => 0', 'max_discount: zero'),
    ('''amount'', 1, max_discount => -1', 'max_discount: negative'),
    ('''percent'', 10, max_discount => ''NaN''', 'max_discount: NaN'),
    ('''percent'', 10, max_discount => 0.001', 'max_discount: too many decimals'),
    ('''percent'', 10, max_discount => 1e20', 'max_discount: 1e20'),
    ('''amount'', 1, min_order => -1', 'min_order: negative'),
    ('''amount'', 1, min_order => ''NaN''', 'min_order: NaN'),
    ('''amount'', 1, min_order => 0.001', 'min_order: too many decimals'),
    ('''amount'', 1, min_order => 1e20', 'min_order: 1e20'),
    ('''amount'', 1, scope => ''{}''', 'scope: the empty array'),
    ('''amount'', 1, scope => ARRAY[NULL::text]', 'scope: a NULL scene'),
    ('''amount'', 1, scope => ARRAY[''''::text]', 'scope: an empty scene'),
    ('''amount'', 1, scope => ARRAY[''has space'']', 'scope: a malformed scene'),
    ('''amount'', 1, scope => ARRAY[repeat(''s'', 10000)]', 'scope: a 10 kB scene'),
    ('''amount'', 1, scope => ARRAY[E''game\n'']', 'scope: a scene with a newline'),
    ('''amount'', 1, valid_from => ''2026-07-01'', valid_until => ''2026-06-15''', 'window: valid_until before valid_from'),
    ('''amount'', 1, valid_from => ''2026-07-01'', valid_until => ''2026-07-01''', 'window: valid_until equal to valid_from'),
    ('''amount'', 1, valid_for => ''0''', 'valid_for: zero'),
    ('''amount'', 1, valid_for => ''-1 day''', 'valid_for: negative'),
    ('''amount'', 1, total_limit => -1', 'total_limit: negative'),
    ('''amount'', 1, per_wallet_limit => -1', 'per_wallet_limit: negative'),
    ('''amount'', 1, issue_on => ''birthday''', 'issue_on: unknown event'),
    ('''amount'', 1, issue_on => repeat(''x'', 10000)', 'issue_on: a 10 kB string'),
    ('''amount'', 1, issue_on => ''top_up'', issue_min_top_up => 0', 'issue_min_top_up: zero'),
    ('''amount'', 1, issue_on => ''top_up'', issue_min_top_up => -1', 'issue_min_top_up: negative'),
    ('''amount'', 1, issue_on => ''top_up'', issue_min_top_up => ''NaN''', 'issue_min_top_up: NaN'),
    ('''amount'', 1, issue_on => ''top_up'', issue_min_top_up => 0.001', 'issue_min_top_up: too many decimals')) AS b(args, label)
 ORDER BY b.label;
INSERT INTO bad_call (sql, state, description) VALUES
  ('SELECT wallet.add_coupon_template(''tap-bad'', ''XXX'', ''amount'', 1)', '22023', 'add_coupon_template currency: an unknown code'),
  ('SELECT wallet.add_coupon_template(''tap-bad'', ''qct'', ''amount'', 1)', '22023', 'add_coupon_template currency: a lower-case code'),
  ('SELECT wallet.add_coupon_template(''tap-bad'', ''QCT'', ''gift'', 1)', '22023', 'add_coupon_template kind: unknown'),
  ('SELECT wallet.add_coupon_template(''tap-bad'', ''QCT'', ''AMOUNT'', 1)', '22023', 'add_coupon_template kind: upper case'),
  ('SELECT wallet.add_coupon_template(''tap bad'', ''QCT'', ''amount'', 1)', '22023', 'add_coupon_template template_id: a space'),
  ('SELECT wallet.add_coupon_template(''tap-ten'', ''QCT'', ''amount'', 1)', '22023', 'add_coupon_template template_id: taken');

------------------------------------------------------------------------------
-- Privilege probes: (role, sql) that must fail with 42501
------------------------------------------------------------------------------
CREATE TEMP TABLE probe (role name, sql text, description text);
GRANT SELECT ON probe TO PUBLIC;
INSERT INTO probe
SELECT ro.role, w.sql, format('%s cannot %s', ro.role, w.what)
  FROM (VALUES ('wallet_app'::name), ('wallet_admin'), ('wallet_reader')) AS ro(role)
 CROSS JOIN (VALUES
    ('INSERT INTO wallet.coupon', 'INSERT INTO wallet.coupon DEFAULT VALUES'),
    ('UPDATE wallet.coupon', 'UPDATE wallet.coupon SET redeemed_txn = NULL WHERE false'),
    ('DELETE FROM wallet.coupon', 'DELETE FROM wallet.coupon WHERE false'),
    ('TRUNCATE wallet.coupon', 'TRUNCATE wallet.coupon'),
    ('INSERT INTO wallet.coupon_template', 'INSERT INTO wallet.coupon_template DEFAULT VALUES'),
    ('UPDATE wallet.coupon_template', 'UPDATE wallet.coupon_template SET issued = 0 WHERE false'),
    ('DELETE FROM wallet.coupon_template', 'DELETE FROM wallet.coupon_template WHERE false'),
    ('TRUNCATE wallet.coupon_template', 'TRUNCATE wallet.coupon_template'),
    ('call wallet.coupon_code_new()', 'SELECT wallet.coupon_code_new()'),
    ('call wallet._auto_issue', 'SELECT wallet._auto_issue(1, ''open'', NULL, NULL)'),
    ('call wallet._redeem', 'SELECT wallet._redeem(''X'', 1, 1, 1, now())')) AS w(what, sql);
INSERT INTO probe
SELECT ro.role, w.sql, format('%s cannot %s', ro.role, w.what)
  FROM (VALUES ('wallet_app'::name), ('wallet_reader')) AS ro(role)
 CROSS JOIN (VALUES
    ('SELECT from wallet.coupon', 'SELECT * FROM wallet.coupon LIMIT 1'),
    ('SELECT from wallet.coupon_template', 'SELECT * FROM wallet.coupon_template LIMIT 1'),
    ('execute add_coupon_template', 'SELECT wallet.add_coupon_template(''tap-priv'', ''QCT'', ''amount'', 1000)')) AS w(what, sql);
INSERT INTO probe
SELECT 'wallet_app', 'SELECT * FROM wallet.coupon_stats', 'wallet_app cannot SELECT from wallet.coupon_stats';
INSERT INTO probe
SELECT 'wallet_reader', w.sql, format('wallet_reader cannot execute %s', w.what)
  FROM (VALUES
    ('validate_coupon', format('SELECT * FROM wallet.validate_coupon(%L, %s, 10)', :'code_a', :a)),
    ('issue_coupon', format('SELECT wallet.issue_coupon(''tap-ten'', %s, ''tap-priv-r1'')', :b)),
    ('issue_coupons', format('SELECT * FROM wallet.issue_coupons(''tap-ten'', ARRAY[%s]::bigint[], ''tap-priv-r2'')', :b)),
    ('coupons', format('SELECT * FROM wallet.coupons(%s)', :a)),
    ('spend with a coupon', format('SELECT * FROM wallet.spend(%s, 20, ''tap-priv-r3'', coupon => %L)', :a, :'code_a'))) AS w(what, sql);

------------------------------------------------------------------------------
-- Codes: 2000 fresh ones, and one sample
------------------------------------------------------------------------------
CREATE TEMP TABLE gen AS SELECT i, wallet.coupon_code_new() AS code FROM generate_series(1, 2000) AS i;
-- each code's 18 symbols, positions 1-17 random, 18 the check symbol
CREATE TEMP TABLE sym AS
  SELECT g.i, p AS pos, substr(replace(g.code, '-', ''), p, 1) AS s FROM gen g, generate_series(1, 18) AS p;
-- the sample: the first code with no two equal neighbours, so that all 17 swaps change it
SELECT code AS sample, replace(code, '-', '') AS sample_raw FROM gen g
 WHERE NOT EXISTS (SELECT 1 FROM sym a JOIN sym b ON b.i = a.i AND b.pos = a.pos + 1 WHERE a.i = g.i AND a.s = b.s)
 ORDER BY g.i LIMIT 1 \gset
-- every single-symbol substitution (18 positions x 30 other symbols) and every swap of neighbours
CREATE TEMP TABLE variant AS
  SELECT 'substitution'::text AS kind, overlay(:'sample_raw' PLACING a.s FROM p FOR 1) AS code
    FROM generate_series(1, 18) AS p, alphabet a WHERE a.s <> substr(:'sample_raw', p, 1)
  UNION ALL
  SELECT 'swap', overlay(:'sample_raw' PLACING substr(:'sample_raw', p + 1, 1) || substr(:'sample_raw', p, 1) FROM p FOR 2)
    FROM generate_series(1, 17) AS p;
-- the same for the first 100 codes (swaps of equal neighbours change nothing and are left out)
CREATE TEMP TABLE variant100 AS
  SELECT g.i, 'substitution'::text AS kind, overlay(replace(g.code, '-', '') PLACING a.s FROM p FOR 1) AS code
    FROM gen g, generate_series(1, 18) AS p, alphabet a
   WHERE g.i <= 100 AND a.s <> substr(replace(g.code, '-', ''), p, 1)
  UNION ALL
  SELECT g.i, 'swap', overlay(replace(g.code, '-', '') PLACING substr(replace(g.code, '-', ''), p + 1, 1)
                              || substr(replace(g.code, '-', ''), p, 1) FROM p FOR 2)
    FROM gen g, generate_series(1, 17) AS p
   WHERE g.i <= 100 AND substr(replace(g.code, '-', ''), p, 1) <> substr(replace(g.code, '-', ''), p + 1, 1);

SELECT plan((SELECT count(*)::int FROM bad_call) + (SELECT count(*)::int FROM probe) + 40);

SELECT is((SELECT reason FROM wallet.validate_coupon('', :a, 10)), 'mistyped',
          'validate_coupon: an empty code is mistyped, as spend reports it');

------------------------------------------------------------------------------
-- Privileges: catalog
------------------------------------------------------------------------------
SELECT ok(has_function_privilege('wallet_app', f, 'EXECUTE'), format('wallet_app may execute %s', f))
  FROM unnest(ARRAY['wallet.validate_coupon(text,bigint,numeric,text)', 'wallet.issue_coupon(text,bigint,text)',
                    'wallet.issue_coupons(text,bigint[],text)', 'wallet.coupons(bigint)']) AS f;
SELECT ok(has_function_privilege('wallet_admin', 'wallet.add_coupon_template(text,text,text,numeric,numeric,numeric,text[],timestamptz,timestamptz,interval,integer,integer,text,numeric)', 'EXECUTE'),
          'wallet_admin may execute add_coupon_template');
SELECT ok(has_table_privilege('wallet_reader', 'wallet.coupon_stats', 'SELECT')
          AND NOT has_table_privilege('wallet_reader', 'wallet.coupon_stats', 'INSERT, UPDATE, DELETE, TRUNCATE'),
          'wallet_reader may read wallet.coupon_stats, and only read it');

------------------------------------------------------------------------------
-- Privileges: wallet_app at work
------------------------------------------------------------------------------
SET ROLE wallet_app;
SELECT lives_ok(format('SELECT wallet.issue_coupon(%L, %s, %L)', 'tap-ten', :a, 'tap-app-1'),
                'wallet_app can issue a coupon');
SELECT results_eq(format('SELECT count(*) FROM wallet.issue_coupons(%L, ARRAY[%s, %s]::bigint[], %L) WHERE code IS NOT NULL',
                         'tap-pct', :a, :b, 'tap-app-2'),
                  $$ VALUES (2::bigint) $$, 'wallet_app can issue coupons in bulk');
SELECT results_eq(format('SELECT template_id, status FROM wallet.coupons(%s) ORDER BY template_id, status', :b),
                  $$ VALUES ('tap-pct'::text, 'available'::text) $$, 'wallet_app can list a wallet''s coupons');
RESET ROLE;
SELECT code AS code_app FROM wallet.coupons(:a) WHERE template_id = 'tap-ten' \gset
SET ROLE wallet_app;
SELECT results_eq(format('SELECT valid, discount, reason FROM wallet.validate_coupon(%L, %s, 30)', :'code_app', :a),
                  $$ VALUES (true, 10.00::numeric, NULL::text) $$, 'wallet_app can validate a coupon');
SELECT results_eq(format('SELECT charged, discount, cash_used FROM wallet.spend(%s, 30, %L, coupon => %L)',
                         :a, 'tap-app-3', :'code_app'),
                  $$ VALUES (20.00::numeric, 10.00::numeric, 20.00::numeric) $$, 'wallet_app can spend with a coupon');
SELECT throws_ok(format('SELECT * FROM wallet.spend(%s, 30, %L, coupon => %L)', :a, 'tap-app-4', :'code_app'),
                 'WL005', 'coupon not valid', 'wallet_app gets WL005 for a used coupon');
RESET ROLE;

------------------------------------------------------------------------------
-- Privileges: wallet_reader and wallet_admin at work
------------------------------------------------------------------------------
SET ROLE wallet_reader;
SELECT results_eq($$ SELECT issued, redeemed, total_discount FROM wallet.coupon_stats WHERE template_id = 'tap-ten' $$,
                  $$ VALUES (1::bigint, 1::bigint, 10.00::numeric) $$, 'wallet_reader can read wallet.coupon_stats');
RESET ROLE;
SET ROLE wallet_admin;
SELECT lives_ok($$ SELECT wallet.add_coupon_template('tap-admin', 'QCT', 'amount', 1, total_limit => 10) $$,
                'wallet_admin can add a coupon template');
SELECT results_eq($$ SELECT kind, total_limit FROM wallet.coupon_template WHERE template_id = 'tap-admin' $$,
                  $$ VALUES ('amount'::text, 10) $$, 'wallet_admin can read the templates');
SELECT lives_ok($$ SELECT * FROM wallet.coupon LIMIT 1 $$, 'wallet_admin can read the coupons');
SELECT lives_ok($$ SELECT * FROM wallet.coupon_stats $$, 'wallet_admin can read wallet.coupon_stats');
RESET ROLE;

------------------------------------------------------------------------------
-- Privileges: the probes
------------------------------------------------------------------------------
SET ROLE wallet_app;
SELECT throws_ok(p.sql, '42501', NULL, p.description) FROM probe p WHERE p.role = 'wallet_app' ORDER BY p.sql;
RESET ROLE;
SET ROLE wallet_reader;
SELECT throws_ok(p.sql, '42501', NULL, p.description) FROM probe p WHERE p.role = 'wallet_reader' ORDER BY p.sql;
RESET ROLE;
SET ROLE wallet_admin;
SELECT throws_ok(p.sql, '42501', NULL, p.description) FROM probe p WHERE p.role = 'wallet_admin' ORDER BY p.sql;
RESET ROLE;

------------------------------------------------------------------------------
-- Bad input: every call refused with its SQLSTATE, and nothing changed
------------------------------------------------------------------------------
CREATE TEMP TABLE state_before AS SELECT s FROM state;
SELECT throws_ok(sql, state, NULL, description) FROM bad_call ORDER BY ord;
SELECT is((SELECT s FROM state), (SELECT s FROM state_before), 'after all the bad calls nothing has changed');
SELECT is((SELECT s->'coupons' FROM state), (SELECT s->'coupons' FROM state_before),
          'no coupon was issued, redeemed or restored');
-- the limits themselves are allowed: a 64-character code (separators count), a 200-character key
SELECT results_eq(format('SELECT valid, reason FROM wallet.validate_coupon(%L, %s, 30)',
                         rpad(lower(:'code_a'), 64, ' '), :a),
                  $$ VALUES (true, NULL::text) $$,
                  'validate_coupon: a code of 64 characters (lower case, padded with spaces) is accepted');
SELECT lives_ok(format('SELECT wallet.issue_coupon(%L, %s, %L)', 'tap-ten', :b, repeat('k', 200)),
                'issue_coupon: a 200-character key is accepted');
SELECT is((SELECT count(*) FROM wallet.reconcile()), 0::bigint, 'the books balance');

------------------------------------------------------------------------------
-- Codes
------------------------------------------------------------------------------
SELECT is((SELECT count(DISTINCT code) FROM gen), 2000::bigint, '2000 fresh codes are all distinct');
SELECT is((SELECT count(*) FROM gen WHERE code ~ '^[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}$'),
          2000::bigint, 'every code is 18 symbols of the alphabet without look-alikes, in three groups of six');
SELECT is((SELECT count(*) FROM gen WHERE wallet.coupon_code_check(code) = code), 2000::bigint,
          'every code passes coupon_code_check and is its own canonical form');
SELECT is((SELECT count(*) FROM gen
            WHERE wallet.coupon_code_check(replace(lower(code), '-', '')) = code
              AND wallet.coupon_code_check(replace(code, '-', ' ')) = code), 2000::bigint,
          'every code is recognized in lower case and without or with other separators');
SELECT is((SELECT count(DISTINCT (pos, s)) FROM sym WHERE pos <= 17), 527::bigint,
          'each of the 31 symbols appears in each of the 17 random positions');
SELECT is((SELECT count(DISTINCT s) FROM sym WHERE pos = 18), 31::bigint, 'the check symbol takes all 31 values');
-- chi-square per position, 30 degrees of freedom: 83 is exceeded by chance with p ~ 1e-6
SELECT is_empty($$
  SELECT p.pos, round(sum((coalesce(n.n, 0) - 2000 / 31.0) ^ 2 / (2000 / 31.0)), 1) AS chi2
    FROM generate_series(1, 18) AS p(pos) CROSS JOIN alphabet a
    LEFT JOIN (SELECT pos, s, count(*) AS n FROM sym GROUP BY pos, s) n ON n.pos = p.pos AND n.s = a.s
   GROUP BY p.pos HAVING sum((coalesce(n.n, 0) - 2000 / 31.0) ^ 2 / (2000 / 31.0)) > 83
$$, 'in every position the symbols are uniform (chi-square below 83 with 30 degrees of freedom)');
SELECT is(wallet.coupon_code_check(:'sample_raw'), :'sample', 'the sample code itself, ungrouped, passes the check');
SELECT is((SELECT count(*) FROM variant), 557::bigint,
          'the sample code has 540 single-symbol substitutions and 17 swaps of neighbours');
SELECT is_empty($$ SELECT kind, code FROM variant WHERE wallet.coupon_code_check(code) IS NOT NULL $$,
                'every single-symbol substitution of the sample code is detected (coupon_code_check is NULL)');
SELECT is_empty($$ SELECT kind, code FROM variant WHERE kind = 'swap' AND wallet.coupon_code_check(code) IS NOT NULL $$,
                'every swap of two neighbouring symbols of the sample code is detected, the check symbol''s too');
SELECT is_empty($$ SELECT i, kind, code FROM variant100 WHERE wallet.coupon_code_check(code) IS NOT NULL $$,
                'so are every substitution and swap of the first 100 fresh codes');
-- a mistyped code is told apart from an unknown one
SELECT results_eq(format('SELECT reason FROM wallet.validate_coupon(%L, %s, 30)',
                         (SELECT v.code FROM variant v WHERE v.kind = 'swap' LIMIT 1), :a),
                  $$ VALUES ('mistyped'::text) $$, 'a swapped code of the wallet is reported as mistyped');
SELECT results_eq(format('SELECT reason FROM wallet.validate_coupon(%L, %s, 30)', :'sample', :a),
                  $$ VALUES ('unknown'::text) $$, 'a well-formed code nobody holds is reported as unknown');
-- coupon_code_check on odd input: NULL for anything that is not a code, never an error
SELECT is(wallet.coupon_code_check(NULL), NULL, 'coupon_code_check(NULL) is NULL');
SELECT is_empty(format($$
  SELECT x FROM unnest(ARRAY['', ' ', '-', repeat('A', 10000), repeat('-', 10000), %L || E'\n', E'\t' || %L,
                             %L || chr(128512), 'OOOOOO-OOOOOO-OOOOOO', 'IIIIII-LLLLLL-111111', '000000-000000-000000',
                             left(%L, 19), %L || '2']) AS x
   WHERE wallet.coupon_code_check(x) IS NOT NULL $$, :'sample', :'sample', :'sample', :'sample', :'sample'),
  'coupon_code_check is NULL for the empty string, 10 kB strings, control characters, emoji, look-alikes, wrong lengths');
SELECT is(wallet.coupon_code_check(' ' || lower(:'sample_raw') || ' '), :'sample',
          'coupon_code_check ignores case and surrounding spaces');

SELECT * FROM finish();
ROLLBACK;
