-- bad_input.sql: every public function refuses bad arguments with the
-- contract's SQLSTATE and changes nothing (CONTRACT.md sections 1 and 12).
--
--   22023  bad argument: NULL where required, zero, negative, NaN, +-Infinity,
--          more decimals than the currency has, 1e20 or beyond 10^15 minor
--          units, text over its limit (10 kB strings among them), control
--          characters (C0, DEL, C1, the bidirectional overrides and isolates:
--          refused with one message by every function, C or SQL), malformed
--          scenes, unknown currencies and reasons
--   WL006  no such wallet, transaction or refund (unknown ids)
--
-- The calls are generated as rows of table bad_call (function x argument x bad
-- value) and run with throws_ok. A snapshot of every balance, the journal, the
-- refunds and the configuration is taken before and compared after.
BEGIN;

SET wallet.now = '2026-05-01 00:00:00+00';

------------------------------------------------------------------------------
-- Fixtures: a CNY wallet with a top-up, a spend and a pending refund; a JPY
-- wallet (exponent 0), a KWD wallet (exponent 3) and a USD wallet.
------------------------------------------------------------------------------
SELECT wallet.open('bad-w') AS w, wallet.open('bad-payee') AS payee, wallet.open('bad-usd', 'USD') AS usd,
       wallet.open('bad-jpy', 'JPY') AS jpy, wallet.open('bad-kwd', 'KWD') AS kwd \gset
SELECT txn_id AS topup FROM wallet.top_up(:w, 100, 'bad-seed') \gset
SELECT txn_id AS spend FROM wallet.spend(:w, 10, 'bad-spend') \gset
SELECT refund_id AS refund FROM wallet.request_refund(:topup, 'bad-refund', 5) \gset
SELECT wallet.add_bonus_rule('CNY', 1000, bonus_fixed => 1) AS rule \gset

-- state is everything a bad call could have touched, as one jsonb value
CREATE TEMP VIEW state AS
  SELECT jsonb_build_object(
    'balances', (SELECT jsonb_agg(to_jsonb(b) ORDER BY b.wallet_id)
                   FROM wallet.wallet w CROSS JOIN LATERAL wallet.balance(w.wallet_id) b),
    'lots', (SELECT jsonb_agg(jsonb_build_array(w.wallet_id, w.lots::text, w.frozen, w.version) ORDER BY w.wallet_id)
               FROM wallet.wallet w),
    'wallets', (SELECT count(*) FROM wallet.wallet),
    'transactions', (SELECT count(*) FROM wallet.txn),
    'last_txn', (SELECT max(txn_id) FROM wallet.txn),
    'refunds', (SELECT jsonb_agg(to_jsonb(r) ORDER BY r.refund_id) FROM wallet.refund r),
    'payee_credits', (SELECT count(*) FROM wallet.payee_credit),
    'risk_flags', (SELECT count(*) FROM wallet.risk_flag),
    'bonus_rules', (SELECT jsonb_agg(to_jsonb(r) ORDER BY r.rule_id) FROM wallet.bonus_rule r),
    'policies', (SELECT jsonb_agg(to_jsonb(p) ORDER BY p.currency) FROM wallet.policy p),
    'currencies', (SELECT count(*) FROM wallet.currency)) AS s;

CREATE TEMP TABLE state_before AS SELECT s FROM state;

------------------------------------------------------------------------------
-- The bad calls
------------------------------------------------------------------------------
CREATE TEMP TABLE bad_call (ord serial, sql text, state text, description text, msg text);

-- amounts: the template's $V is replaced by each bad amount
CREATE TEMP TABLE bad_amount (v text, label text);
INSERT INTO bad_amount VALUES
  ('NULL::numeric', 'NULL'), ('0', 'zero'), ('0.00', 'zero with decimals'), ('-1', 'negative'),
  ('-0.01', 'a negative cent'), ('''NaN''::numeric', 'NaN'), ('''Infinity''::numeric', 'Infinity'),
  ('''-Infinity''::numeric', '-Infinity'), ('1.001', 'too many decimals'), ('0.001', 'less than the minor unit'),
  ('1e20', '1e20'), ('10000000000000.01', 'just beyond 10^15 minor units'),
  ('99999999999999999999999999999999.99', 'a 34-digit amount');

INSERT INTO bad_call (sql, state, description)
SELECT replace(f.tmpl, '$V', a.v), '22023', format('%s: %s is refused', f.name, a.label)
  FROM (VALUES
    ('top_up amount', format('SELECT * FROM wallet.top_up(%s, $V, %L)', :w, 'bad-1')),
    ('spend amount', format('SELECT * FROM wallet.spend(%s, $V, %L)', :w, 'bad-2')),
    ('spend amount (partial allowed)', format('SELECT * FROM wallet.spend(%s, $V, %L, allow_partial => true)', :w, 'bad-3')),
    ('bonus_preview amount', 'SELECT * FROM wallet.bonus_preview(''CNY'', $V)'),
    ('add_bonus_rule min_amount', 'SELECT wallet.add_bonus_rule(''CNY'', $V, bonus_fixed => 1)')) AS f(name, tmpl)
 CROSS JOIN bad_amount a
 ORDER BY f.name, a.label;

-- amounts where NULL means "all of it": every bad value but NULL
INSERT INTO bad_call (sql, state, description)
SELECT replace(f.tmpl, '$V', a.v), '22023', format('%s: %s is refused', f.name, a.label)
  FROM (VALUES
    ('reverse_spend amount', format('SELECT * FROM wallet.reverse_spend(%s, %L, $V)', :spend, 'bad-4')),
    ('request_refund amount', format('SELECT * FROM wallet.request_refund(%s, %L, $V)', :topup, 'bad-5'))) AS f(name, tmpl)
 CROSS JOIN bad_amount a
 WHERE a.label <> 'NULL'
 ORDER BY f.name, a.label;

-- decimals are the currency's: JPY has none, KWD three
INSERT INTO bad_call (sql, state, description) VALUES
  (format('SELECT * FROM wallet.top_up(%s, 1.5, %L)', :jpy, 'bad-6'), '22023', 'top_up amount: 1.5 JPY is refused (exponent 0)'),
  (format('SELECT * FROM wallet.spend(%s, 0.1, %L)', :jpy, 'bad-7'), '22023', 'spend amount: 0.1 JPY is refused'),
  (format('SELECT * FROM wallet.top_up(%s, 1.0001, %L)', :kwd, 'bad-8'), '22023', 'top_up amount: 1.0001 KWD is refused (exponent 3)'),
  (format('SELECT * FROM wallet.top_up(%s, 1000000000000.001, %L)', :kwd, 'bad-9'), '22023',
   'top_up amount: 10^15 + 1 minor units of KWD is refused'),
  (format('SELECT * FROM wallet.top_up(%s, 1000000000000001, %L)', :jpy, 'bad-10'), '22023',
   'top_up amount: 10^15 + 1 JPY is refused');

-- text arguments: $V is replaced by each bad text; limit is the longest allowed
CREATE TEMP TABLE text_arg (name text, tmpl text, maxlen int, required boolean);
INSERT INTO text_arg VALUES
  ('open owner', 'SELECT wallet.open($V)', 256, true),
  ('top_up idempotency_key', format('SELECT * FROM wallet.top_up(%s, 1, $V)', :w), 200, true),
  ('top_up method', format('SELECT * FROM wallet.top_up(%s, 1, %L, $V)', :w, 'bad-11'), 64, false),
  ('top_up external_ref', format('SELECT * FROM wallet.top_up(%s, 1, %L, NULL, $V)', :w, 'bad-12'), 200, false),
  ('spend idempotency_key', format('SELECT * FROM wallet.spend(%s, 1, $V)', :w), 200, true),
  ('spend coupon', format('SELECT * FROM wallet.spend(%s, 1, %L, coupon => $V)', :w, 'bad-13'), 64, false),
  ('spend order_ref', format('SELECT * FROM wallet.spend(%s, 1, %L, order_ref => $V)', :w, 'bad-14'), 200, false),
  ('reverse_spend idempotency_key', format('SELECT * FROM wallet.reverse_spend(%s, $V, 1)', :spend), 200, true),
  ('request_refund idempotency_key', format('SELECT * FROM wallet.request_refund(%s, $V, 1)', :topup), 200, true),
  ('request_refund note', format('SELECT * FROM wallet.request_refund(%s, %L, 1, note => $V)', :topup, 'bad-15'), 1000, false),
  ('review_refund reviewer', format('SELECT wallet.review_refund(%s, true, $V)', :refund), 200, true),
  ('review_refund note', format('SELECT wallet.review_refund(%s, true, %L, $V)', :refund, 'bad-reviewer'), 1000, false),
  ('settle_refund gateway_ref', format('SELECT wallet.settle_refund(%s, true, $V)', :refund), 200, false),
  ('freeze reason', format('SELECT wallet.freeze(%s, $V)', :w), 1000, true),
  ('issue_coupon template_id', format('SELECT wallet.issue_coupon($V, %s, %L)', :w, 'bad-29'), 64, true),
  ('issue_coupon idempotency_key', format('SELECT wallet.issue_coupon(%L, %s, $V)', 'bad-template', :w), 200, true),
  ('issue_coupons template_id', format('SELECT wallet.issue_coupons($V, ARRAY[%s]::bigint[], %L)', :w, 'bad-30'),
   64, true),
  ('issue_coupons idempotency_key', format('SELECT wallet.issue_coupons(%L, ARRAY[%s]::bigint[], $V)', 'bad-template', :w),
   200, true),
  ('validate_coupon code', format('SELECT * FROM wallet.validate_coupon($V, %s, 10)', :w), 64, false),
  ('add_coupon_template template_id', 'SELECT wallet.add_coupon_template($V, ''CNY'', ''amount'', 1)', 64, true),
  ('add_bonus_rule campaign', 'SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, campaign => $V)', 200, false);

-- a control character is refused with the same message by every function, whether it
-- checks its text in C (top_up, spend) or in SQL
INSERT INTO bad_call (sql, state, description, msg)
SELECT replace(t.tmpl, '$V', b.v), '22023', format('%s: %s is refused', t.name, b.label),
       CASE WHEN b.control THEN format('%s must not contain control characters', split_part(t.name, ' ', 2)) END
  FROM text_arg t
 CROSS JOIN LATERAL (VALUES
    (CASE WHEN t.required THEN 'NULL::text' END, 'NULL', false),
    (CASE WHEN t.required THEN '''''' END, 'the empty string', false),
    (quote_literal(repeat('x', t.maxlen + 1)), format('%s characters', t.maxlen + 1), false),
    ('repeat(''x'', 10000)', 'a 10 kB string', false),
    ('E''two\nlines''', 'a newline', true),
    ('E''tab\there''', 'a tab', true),
    ('E''\x01start of heading''', 'control character 0x01', true),
    ('E''\x1b[31mred''', 'an escape sequence', true),
    ('E''del\x7f''', 'DEL (0x7f)', true),
    ('E''next\u0085line''', 'a C1 control (U+0085, next line)', true),
    ('E''csi\u009b31m''', 'a C1 control (U+009B, control sequence introducer)', true),
    ('E''abc\u0080''', 'a C1 control (U+0080)', true),
    ('E''abc\u009f''', 'a C1 control (U+009F)', true),
    ('E''abc\u202Adef''', 'a left-to-right embedding (U+202A)', true),
    ('E''gpj.\u202Eexe''', 'a right-to-left override (U+202E)', true),
    ('E''abc\u2066def''', 'a left-to-right isolate (U+2066)', true),
    ('E''abc\u2069def''', 'a pop directional isolate (U+2069)', true)) AS b(v, label, control)
 WHERE b.v IS NOT NULL
 ORDER BY t.name, b.label;

-- scenes: [A-Za-z0-9_.:-]{1,64}
INSERT INTO bad_call (sql, state, description)
SELECT replace(f.tmpl, '$V', b.v), '22023', format('%s: %s is refused', f.name, b.label)
  FROM (VALUES
    ('spend scene', format('SELECT * FROM wallet.spend(%s, 1, %L, $V)', :w, 'bad-16')),
    ('balance scene', format('SELECT * FROM wallet.balance(%s, $V)', :w))) AS f(name, tmpl)
 CROSS JOIN (VALUES
    ('''''', 'the empty scene'), ('''has space''', 'a scene with a space'), ('''semi;colon''', 'a scene with ";"'),
    ('''caf' || chr(233) || '''', 'a scene with a non-ASCII letter'), (quote_literal(repeat('s', 65)), 'a 65-character scene'),
    ('repeat(''s'', 10000)', 'a 10 kB scene'), ('E''game\n''', 'a scene with a newline')) AS b(v, label)
 ORDER BY f.name, b.label;

-- currencies
INSERT INTO bad_call (sql, state, description)
SELECT replace(f.tmpl, '$V', b.v), '22023', format('%s: %s is refused', f.name, b.label)
  FROM (VALUES
    ('open currency', 'SELECT wallet.open(''bad-cur'', $V)'),
    ('bonus_preview currency', 'SELECT * FROM wallet.bonus_preview($V, 10)'),
    ('set_policy currency', 'SELECT wallet.set_policy($V, commission_rate => 0.1)'),
    ('add_bonus_rule currency', 'SELECT wallet.add_bonus_rule($V, 10, bonus_fixed => 1)')) AS f(name, tmpl)
 CROSS JOIN (VALUES
    ('NULL::text', 'NULL'), ('''XXX''', 'an unknown code'), ('''cny''', 'a lower-case code'),
    ('''CNYY''', 'four letters'), ('repeat(''C'', 10000)', 'a 10 kB code'), ('E''CN\n''', 'a control character')) AS b(v, label)
 ORDER BY f.name, b.label;

-- refund reasons: 'user' or 'platform'
INSERT INTO bad_call (sql, state, description)
SELECT replace(f.tmpl, '$V', b.v), '22023', format('%s: %s is refused', f.name, b.label)
  FROM (VALUES
    ('refund_quote reason', format('SELECT * FROM wallet.refund_quote(%s, $V)', :topup)),
    ('request_refund reason', format('SELECT * FROM wallet.request_refund(%s, %L, 1, $V)', :topup, 'bad-17'))) AS f(name, tmpl)
 CROSS JOIN (VALUES
    ('NULL::text', 'NULL'), ('''other''', 'an unknown reason'), ('''USER''', 'an upper-case reason'),
    ('repeat(''x'', 10000)', 'a 10 kB reason'), ('E''user\n''', 'a control character')) AS b(v, label)
 ORDER BY f.name, b.label;

-- ids: NULL is a bad argument (22023); an id that names nothing is WL006
INSERT INTO bad_call (sql, state, description)
SELECT replace(f.tmpl, '$V', b.v), CASE WHEN b.v = 'NULL' THEN '22023' ELSE 'WL006' END,
       format('%s: %s is %s', f.name, b.label, CASE WHEN b.v = 'NULL' THEN 'refused' ELSE 'unknown' END)
  FROM (VALUES
    ('balance wallet_id', 'SELECT * FROM wallet.balance($V)'),
    ('lots wallet_id', 'SELECT * FROM wallet.lots($V)'),
    ('top_up wallet_id', 'SELECT * FROM wallet.top_up($V, 1, ''bad-18'')'),
    ('spend wallet_id', 'SELECT * FROM wallet.spend($V, 1, ''bad-19'')'),
    ('reverse_spend spend_txn_id', 'SELECT * FROM wallet.reverse_spend($V, ''bad-20'')'),
    ('refund_quote topup_txn_id', 'SELECT * FROM wallet.refund_quote($V)'),
    ('request_refund topup_txn_id', 'SELECT * FROM wallet.request_refund($V, ''bad-21'')'),
    ('review_refund refund_id', 'SELECT wallet.review_refund($V, true, ''bad-reviewer'')'),
    ('settle_refund refund_id', 'SELECT wallet.settle_refund($V, true)'),
    ('freeze wallet_id', 'SELECT wallet.freeze($V, ''bad-reason'')'),
    ('unfreeze wallet_id', 'SELECT wallet.unfreeze($V)'),
    ('end_bonus_rule rule_id', 'SELECT wallet.end_bonus_rule($V)')) AS f(name, tmpl)
 CROSS JOIN (VALUES
    ('NULL', 'NULL'), ('-1', 'id -1'), ('0', 'id 0'), ('9223372036854775807', 'the largest bigint')) AS b(v, label)
 ORDER BY f.name, b.label;

-- ids of the wrong kind, and other wallets that cannot be paid
INSERT INTO bad_call (sql, state, description) VALUES
  (format('SELECT * FROM wallet.spend(%s, 1, %L, payee => -1)', :w, 'bad-22'), 'WL006', 'spend payee: an unknown wallet'),
  (format('SELECT * FROM wallet.spend(%s, 1, %L, payee => %s)', :w, 'bad-23', :w), '22023', 'spend payee: the paying wallet itself'),
  (format('SELECT * FROM wallet.spend(%s, 1, %L, payee => %s)', :w, 'bad-24', :usd), '22023', 'spend payee: a wallet of another currency'),
  (format('SELECT * FROM wallet.reverse_spend(%s, %L)', :topup, 'bad-25'), 'WL006', 'reverse_spend of a top-up: no such spend'),
  (format('SELECT * FROM wallet.refund_quote(%s)', :spend), 'WL006', 'refund_quote of a spend: no such top-up'),
  (format('SELECT * FROM wallet.request_refund(%s, %L)', :spend, 'bad-26'), 'WL006', 'request_refund of a spend: no such top-up'),
  (format('SELECT * FROM wallet.spend(%s, 1, %L, coupon => %L)', :w, 'bad-27', 'NOSUCHCODE'), 'WL005',
   'spend coupon: an unknown code is WL005');

-- booleans
INSERT INTO bad_call (sql, state, description) VALUES
  (format('SELECT * FROM wallet.spend(%s, 1, %L, allow_partial => NULL)', :w, 'bad-28'), '22023', 'spend allow_partial: NULL is refused'),
  (format('SELECT wallet.review_refund(%s, NULL, %L)', :refund, 'bad-reviewer'), '22023', 'review_refund approve: NULL is refused'),
  (format('SELECT wallet.settle_refund(%s, NULL)', :refund), '22023', 'settle_refund succeeded: NULL is refused');

-- batch sizes of the sweeps
INSERT INTO bad_call (sql, state, description)
SELECT replace(f.tmpl, '$V', b.v), '22023', format('%s: %s is refused', f.name, b.label)
  FROM (VALUES ('expire_bonus batch_size', 'SELECT * FROM wallet.expire_bonus($V)'),
               ('rollup_credits batch_size', 'SELECT wallet.rollup_credits($V)')) AS f(name, tmpl)
 CROSS JOIN (VALUES ('NULL', 'NULL'), ('0', 'zero'), ('-1', 'negative')) AS b(v, label)
 ORDER BY f.name, b.label;

-- policy and bonus rules (admin): out-of-range values are bad arguments too
INSERT INTO bad_call (sql, state, description) VALUES
  ('SELECT wallet.set_policy(''CNY'', refund_fee_rate => -0.01)', '22023', 'set_policy refund_fee_rate: negative is refused'),
  ('SELECT wallet.set_policy(''CNY'', refund_fee_rate => 1.5)', '22023', 'set_policy refund_fee_rate: above 1 is refused'),
  ('SELECT wallet.set_policy(''CNY'', refund_fee_rate => ''NaN'')', '22023', 'set_policy refund_fee_rate: NaN is refused'),
  ('SELECT wallet.set_policy(''CNY'', refund_window => ''-1 day'')', '22023', 'set_policy refund_window: negative is refused'),
  ('SELECT wallet.set_policy(''CNY'', refund_auto_approve_max => -1)', '22023', 'set_policy refund_auto_approve_max: negative is refused'),
  ('SELECT wallet.set_policy(''CNY'', max_refunds_per_30_days => -1)', '22023', 'set_policy max_refunds_per_30_days: negative is refused'),
  ('SELECT wallet.set_policy(''CNY'', remind_before => ''-1 day'')', '22023', 'set_policy remind_before: negative is refused'),
  ('SELECT wallet.set_policy(''CNY'', commission_rate => -0.1)', '22023', 'set_policy commission_rate: negative is refused'),
  ('SELECT wallet.set_policy(''CNY'', commission_rate => 1.1)', '22023', 'set_policy commission_rate: above 1 is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => -1)', '22023', 'add_bonus_rule bonus_fixed: negative is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1.001)', '22023', 'add_bonus_rule bonus_fixed: too many decimals is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_rate => -0.1)', '22023', 'add_bonus_rule bonus_rate: negative is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_rate => ''NaN'')', '22023', 'add_bonus_rule bonus_rate: NaN is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, max_bonus => -1)', '22023', 'add_bonus_rule max_bonus: negative is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, valid_for => ''-1 day'')', '22023', 'add_bonus_rule valid_for: negative is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, scope => ''{}'')', '22023', 'add_bonus_rule scope: the empty array is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, scope => ARRAY[''has space''])', '22023', 'add_bonus_rule scope: a malformed scene is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, scope => ARRAY[NULL::text])', '22023', 'add_bonus_rule scope: a NULL scene is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, campaign => repeat(''c'', 10000))', '22023', 'add_bonus_rule campaign: a 10 kB name is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, starts_at => ''2026-06-01'', ends_at => ''2026-05-01'')', '22023',
   'add_bonus_rule: ends_at before starts_at is refused'),
  ('SELECT wallet.add_bonus_rule(''CNY'', 10, bonus_fixed => 1, refund_fee_rate => 1.5)', '22023', 'add_bonus_rule refund_fee_rate: above 1 is refused');

SELECT plan((SELECT count(*)::int FROM bad_call) + 9);

SELECT throws_ok(sql, state, msg, description) FROM bad_call ORDER BY ord;

------------------------------------------------------------------------------
-- Nothing changed
------------------------------------------------------------------------------
SELECT is((SELECT s FROM state), (SELECT s FROM state_before), 'after all the bad calls the state is unchanged');
SELECT is((SELECT s->'transactions' FROM state), (SELECT s->'transactions' FROM state_before),
          'no journal row was written');
SELECT is((SELECT s->'balances' FROM state), (SELECT s->'balances' FROM state_before), 'no balance moved');
SELECT is((SELECT count(*) FROM wallet.reconcile()), 0::bigint, 'the books balance');

------------------------------------------------------------------------------
-- The limits themselves are allowed (so the refusals above are about the limit)
------------------------------------------------------------------------------
SELECT lives_ok(format('SELECT wallet.open(%L)', repeat('o', 256)), 'an owner of 256 characters is accepted');
SELECT lives_ok(format('SELECT * FROM wallet.top_up(%s, 10000000000000, %L, %L, %L)', :w, repeat('k', 200),
                       repeat('m', 64), repeat('e', 200)),
                'a top-up of exactly 10^15 minor units, with a 200-character key, 64-character method and 200-character reference, is accepted');
SELECT lives_ok(format('SELECT * FROM wallet.spend(%s, 0.01, %L, %L, order_ref => %L)', :w, 'bad-ok-1',
                       'Az09_.:-' || repeat('s', 56), repeat('r', 200)),
                'a 64-character scene of every allowed character class and a 200-character order_ref are accepted');
SELECT lives_ok(format('SELECT * FROM wallet.top_up(%s, 1000000000000.000, %L)', :kwd, 'bad-ok-2'),
                'KWD: 10^15 minor units with three decimals is accepted');
-- next to the control characters: U+00A0 (no-break space), U+200F (right-to-left mark),
-- U+2029 (paragraph separator) and U+202F, U+206A are not control characters
SELECT lives_ok(format('SELECT * FROM wallet.top_up(%s, 1, %L, %L, %L)', :w, E'caf\u00e9\u00a0\u200f\u202f-ok',
                       E'm\u2029\u206a', E'\u00a0\u2065'),
                'characters next to the control ranges (U+00A0, U+200F, U+2029, U+202F, U+2065, U+206A) are accepted');

SELECT * FROM finish();
ROLLBACK;
