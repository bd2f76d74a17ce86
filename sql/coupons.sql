-- coupons: templates, issuing, validating, redeeming in spend, restoring on reversal
-- (CONTRACT.md section 10). A coupon belongs to one wallet, is used at most once, only
-- within its validity and scope and at or above its template's min_order. Percent
-- discounts round half away from zero, are capped by max_discount and never exceed the
-- order. An invalid coupon passed to spend is WL005 with the reason as the detail, and
-- nothing changes. Codes are random: this file never prints one, only what can be said
-- about it (its form, equalities, validity).
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 7000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 7000000) AS t0 \gset

-- Currencies of this file's own (user-assigned ISO 4217 codes), so that its templates,
-- rules and policy affect no other file: QCP, and QCQ as "another currency".
INSERT INTO wallet.currency (code, exponent) VALUES ('QCP', 2), ('QCQ', 2);
-- A top-up of 100 or more gets a bonus of 10; a payee pays 10 % commission.
SELECT wallet.add_bonus_rule('QCP', 100, 10) AS r_base \gset
SELECT commission_rate FROM wallet.set_policy('QCP', commission_rate => 0.1);

-- pg_temp.is_code: 18 symbols of 23456789ABCDEFGHJKMNPQRSTUVWXYZ (no 0/O, 1/I/L) in three groups of six.
CREATE FUNCTION pg_temp.is_code(c text) RETURNS boolean
  LANGUAGE sql AS $$ SELECT c ~ '^[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}$' $$;
-- pg_temp.bal shows a wallet's balance without its id.
CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, bonus numeric, earnings numeric, available numeric)
  LANGUAGE sql AS $$ SELECT b.cash, b.bonus, b.earnings, b.available FROM wallet.balance(wid) b $$;
-- pg_temp.coupons lists a wallet's coupons without their codes (is_code says the form is right).
CREATE FUNCTION pg_temp.coupons(wid bigint)
  RETURNS TABLE (well_formed boolean, template_id text, status text, valid_from timestamptz,
                 valid_until timestamptz, redeemed_by text, discount numeric)
  LANGUAGE sql AS $$
  SELECT pg_temp.is_code(c.code), c.template_id, c.status, c.valid_from, c.valid_until, t.idempotency_key,
         c.discount
    FROM wallet.coupons(wid) c LEFT JOIN wallet.txn t ON t.txn_id = c.redeemed_txn
   ORDER BY c.template_id, c.valid_until, c.status $$;
-- pg_temp.postings shows a transaction's legs, naming wallets by owner.
CREATE FUNCTION pg_temp.postings(txn bigint)
  RETURNS TABLE (account text, owner text, bucket text, amount numeric)
  LANGUAGE sql AS $$
  SELECT p.account, w.owner, p.bucket, p.amount
    FROM wallet.postings p LEFT JOIN wallet.wallet w ON w.wallet_id = p.wallet_id
   WHERE p.txn_id = txn ORDER BY p.account DESC, w.owner, p.bucket $$;
-- pg_temp.txn returns the id of a wallet's transaction by its idempotency key.
CREATE FUNCTION pg_temp.txn(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT txn_id FROM wallet.txn WHERE wallet_id = wid AND idempotency_key = k $$;
-- pg_temp.state is everything a refused call could change, as one value to compare.
CREATE FUNCTION pg_temp.state() RETURNS text
  LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(concat_ws(',', w.wallet_id, w.lots::text, w.version), ';' ORDER BY w.wallet_id)
       FROM wallet.wallet w WHERE w.currency IN ('QCP', 'QCQ')),
    (SELECT count(*) FROM wallet.txn), (SELECT max(txn_id) FROM wallet.txn),
    (SELECT count(*) FROM wallet.payee_credit),
    (SELECT string_agg(concat_ws(',', c.code, c.redeemed_txn, c.discount), ';' ORDER BY c.code)
       FROM wallet.coupon c),
    (SELECT string_agg(concat_ws(',', t.template_id, t.issued), ';' ORDER BY t.template_id)
       FROM wallet.coupon_template t))) $$;

SELECT wallet.open('coupon-alice', 'QCP') AS alice, wallet.open('coupon-bob', 'QCP') AS bob,
       wallet.open('coupon-carol', 'QCP') AS carol, wallet.open('coupon-erin', 'QCP') AS erin,
       wallet.open('coupon-shop', 'QCP') AS shop, wallet.open('coupon-dave', 'QCQ') AS dave \gset
SELECT bonus FROM wallet.top_up(:alice, 100, 'alice-topup');
SELECT bonus FROM wallet.top_up(:bob, 100, 'bob-topup');
SELECT bonus FROM wallet.top_up(:carol, 100, 'carol-topup');
SELECT bonus FROM wallet.top_up(:erin, 20, 'erin-topup');

------------------------------------------------------------------------------
-- Templates
------------------------------------------------------------------------------
-- 'amount' takes money off; 'percent' takes value % off (20 means 20 %).
SELECT wallet.add_coupon_template('cp-ten', 'QCP', 'amount', 10, min_order => 50);
SELECT wallet.add_coupon_template('cp-pct', 'QCP', 'percent', 12.5, max_discount => 5);
SELECT wallet.add_coupon_template('cp-big', 'QCP', 'amount', 50);
SELECT wallet.add_coupon_template('cp-all', 'QCP', 'percent', 100);
SELECT wallet.add_coupon_template('cp-two', 'QCP', 'amount', 1, per_wallet_limit => 2);
SELECT wallet.add_coupon_template('cp-total', 'QCP', 'amount', 1, total_limit => 2);
SELECT wallet.add_coupon_template('cp-week', 'QCP', 'amount', 5, valid_for => '7 days',
                                  valid_until => '2026-01-05 00:00:00+00');
SELECT wallet.add_coupon_template('cp-day', 'QCP', 'amount', 10, valid_for => '1 day');
SELECT wallet.add_coupon_template('cp-later', 'QCP', 'amount', 5, valid_from => '2026-02-01 00:00:00+00');
SELECT wallet.add_coupon_template('cp-shop', 'QCP', 'amount', 5, scope => ARRAY['shop']);
SELECT wallet.add_coupon_template('cp-old', 'QCP', 'amount', 5, valid_until => '2025-12-31 00:00:00+00');
SELECT wallet.add_coupon_template('cp-limit', 'QCP', 'amount', 2, per_wallet_limit => 2);
SELECT wallet.add_coupon_template('cp-cur', 'QCP', 'amount', 2);
SELECT wallet.add_coupon_template('cq-ten', 'QCQ', 'amount', 10);
SELECT template_id, currency, kind, value, max_discount, min_order, scope, valid_from, valid_until, valid_for,
       total_limit, per_wallet_limit, issue_on, issue_min_top_up
  FROM wallet.coupon_template WHERE currency IN ('QCP', 'QCQ') ORDER BY template_id;

-- Bad templates are 22023: a percent above 100, a zero value, more decimals than the
-- currency has, an unknown currency, an unknown kind, a malformed scope, an empty validity
-- window, an unknown issue_on, a template id taken or malformed.
SELECT wallet.add_coupon_template('cp-bad', 'QCP', 'percent', 100.5);
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-bad', 'QCP', 'amount', 0);
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-bad', 'QCP', 'amount', 1.001);
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-bad', 'QCP', 'amount', 1, max_discount => 0.005);
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-bad', 'XXX', 'amount', 1);
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-bad', 'QCP', 'gift', 1);
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-bad', 'QCP', 'amount', 1, scope => ARRAY['no spaces']);
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-bad', 'QCP', 'amount', 1, valid_from => '2026-02-01 00:00:00+00',
                                  valid_until => '2026-01-01 00:00:00+00');
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-bad', 'QCP', 'amount', 1, issue_on => 'birthday');
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp-ten', 'QCP', 'amount', 1);
\echo :SQLSTATE
SELECT wallet.add_coupon_template('cp bad', 'QCP', 'amount', 1);
\echo :SQLSTATE
SELECT count(*) AS templates FROM wallet.coupon_template WHERE currency IN ('QCP', 'QCQ');

------------------------------------------------------------------------------
-- Issuing, and the form of a code
------------------------------------------------------------------------------
-- issue_coupon returns the code: 18 symbols from an alphabet without look-alikes, grouped by six.
SELECT wallet.issue_coupon('cp-ten', :alice, 'alice-i1') AS c_ten \gset
SELECT pg_temp.is_code(:'c_ten') AS well_formed, wallet.coupon_code_check(:'c_ten') = :'c_ten' AS checks;
-- Case and separators do not matter on input: the canonical form is the code itself.
SELECT wallet.coupon_code_check(lower(:'c_ten')) = :'c_ten' AS lower_case,
       wallet.coupon_code_check(replace(:'c_ten', '-', '')) = :'c_ten' AS no_hyphens,
       wallet.coupon_code_check(replace(lower(:'c_ten'), '-', ' ')) = :'c_ten' AS spaces;
-- The issue is journalled as its own transaction, without postings (no money moves).
SELECT kind, amount, idempotency_key FROM wallet.transactions WHERE txn_id = pg_temp.txn(:alice, 'alice-i1');
SELECT count(*) AS legs FROM wallet.postings WHERE txn_id = pg_temp.txn(:alice, 'alice-i1');
-- The same key again returns the same code and issues nothing more.
SELECT wallet.issue_coupon('cp-ten', :alice, 'alice-i1') = :'c_ten' AS same_code;
SELECT count(*) AS alice_ten FROM wallet.coupons(:alice) WHERE template_id = 'cp-ten';
-- The same key for another template is WL003.
SELECT wallet.issue_coupon('cp-pct', :alice, 'alice-i1');
\echo :SQLSTATE
-- A second cp-ten for alice is beyond the per-wallet limit (1 by default): WL007.
SELECT wallet.issue_coupon('cp-ten', :alice, 'alice-i2');
\echo :SQLSTATE
-- cp-two allows two per wallet; the two codes differ.
SELECT wallet.issue_coupon('cp-two', :alice, 'alice-two-1') AS c_two1 \gset
SELECT wallet.issue_coupon('cp-two', :alice, 'alice-two-2') AS c_two2 \gset
SELECT :'c_two1' <> :'c_two2' AS distinct_codes;
SELECT wallet.issue_coupon('cp-two', :alice, 'alice-two-3');
\echo :SQLSTATE
-- cp-total has 2 coupons in all: the third wallet gets WL007.
SELECT pg_temp.is_code(wallet.issue_coupon('cp-total', :alice, 'alice-total')) AS alice_gets_one,
       pg_temp.is_code(wallet.issue_coupon('cp-total', :bob, 'bob-total')) AS bob_gets_one;
SELECT wallet.issue_coupon('cp-total', :carol, 'carol-total');
\echo :SQLSTATE
-- A template of another currency is 22023; an unknown template is WL006; an expired
-- template is WL008; an unknown wallet is WL006.
SELECT wallet.issue_coupon('cq-ten', :alice, 'alice-cq');
\echo :SQLSTATE
SELECT wallet.issue_coupon('cp-nope', :alice, 'alice-nope');
\echo :SQLSTATE
SELECT wallet.issue_coupon('cp-old', :alice, 'alice-old');
\echo :SQLSTATE
SELECT wallet.issue_coupon('cp-ten', 0, 'nobody');
\echo :SQLSTATE
-- The template of another currency goes to a wallet of its currency.
SELECT pg_temp.is_code(wallet.issue_coupon('cq-ten', :dave, 'dave-cq')) AS dave_gets_one;

-- Validity: cp-week is valid for 7 days from issue but no later than its template
-- (the 5th); cp-day for one day; cp-later only from February.
SELECT wallet.issue_coupon('cp-week', :alice, 'alice-week') AS c_week \gset
SELECT wallet.issue_coupon('cp-later', :alice, 'alice-later') AS c_later \gset
SELECT wallet.issue_coupon('cp-shop', :alice, 'alice-shop') AS c_shop \gset
SELECT wallet.issue_coupon('cp-pct', :alice, 'alice-pct') AS c_pct \gset
SELECT wallet.issue_coupon('cp-all', :alice, 'alice-all') AS c_all \gset
SELECT wallet.issue_coupon('cp-big', :alice, 'alice-big') AS c_big \gset
SELECT * FROM pg_temp.coupons(:alice);
SET wallet.now = '2026-01-03 00:00:00+00';
SELECT wallet.issue_coupon('cp-week', :bob, 'bob-week') AS c_week_bob \gset
SELECT wallet.issue_coupon('cp-day', :bob, 'bob-day') AS c_day_bob \gset
SELECT template_id, status, valid_until FROM pg_temp.coupons(:bob) WHERE template_id IN ('cp-week', 'cp-day');
SET wallet.now = '2026-01-01 00:00:00+00';
-- A template that starts later with a validity period: issued on the 1st, valid from
-- February for 7 days. Its window must not end before it begins, so that the coupon can
-- be used in it.
SELECT wallet.add_coupon_template('cp-feb', 'QCP', 'amount', 5, valid_from => '2026-02-01 00:00:00+00',
                                  valid_for => '7 days');
SELECT wallet.issue_coupon('cp-feb', :carol, 'carol-feb') AS c_feb \gset
SELECT valid_from, valid_until > valid_from AS window_not_empty
  FROM wallet.coupons(:carol) WHERE template_id = 'cp-feb';
SET wallet.now = '2026-02-03 00:00:00+00';
SELECT valid, discount FROM wallet.validate_coupon(:'c_feb', :carol, 10);
SET wallet.now = '2026-01-01 00:00:00+00';

------------------------------------------------------------------------------
-- Bulk issuance
------------------------------------------------------------------------------
-- issue_coupons issues one template to many wallets; the key is each wallet's own.
-- alice already holds her one cp-ten: she gets no code (NULL); bob, carol and erin get one.
CREATE TEMP TABLE bulk1 AS
  SELECT * FROM wallet.issue_coupons('cp-ten', ARRAY[:erin, :alice, :bob, :carol]::bigint[], 'promo-1');
SELECT w.owner, pg_temp.is_code(b.code) AS got_code
  FROM bulk1 b JOIN wallet.wallet w USING (wallet_id) ORDER BY b.wallet_id;
SELECT count(*) AS alice_ten FROM wallet.coupons(:alice) WHERE template_id = 'cp-ten';
-- Repeating the call returns the same codes and issues nothing more.
SELECT count(*) AS same_codes
  FROM wallet.issue_coupons('cp-ten', ARRAY[:erin, :alice, :bob, :carol]::bigint[], 'promo-1') r
  JOIN bulk1 b ON b.wallet_id = r.wallet_id AND b.code IS NOT DISTINCT FROM r.code;
SELECT issued, redeemed, outstanding FROM wallet.coupon_stats WHERE template_id = 'cp-ten';
SELECT b.code = c.code AS erin_listed
  FROM bulk1 b, LATERAL (SELECT x.code FROM wallet.coupons(:erin) x WHERE x.template_id = 'cp-ten') c
 WHERE b.wallet_id = :erin;
SELECT code AS c_ten_bob FROM bulk1 WHERE wallet_id = :bob \gset
SELECT code AS c_ten_carol FROM bulk1 WHERE wallet_id = :carol \gset
-- cp-total is used up: every wallet gets NULL, and the call still succeeds.
SELECT w.owner, b.code IS NULL AS no_code
  FROM wallet.issue_coupons('cp-total', ARRAY[:carol, :erin]::bigint[], 'promo-2') b
  JOIN wallet.wallet w USING (wallet_id) ORDER BY b.wallet_id;
-- An unknown wallet is WL006, a NULL wallet id 22023, a template of another currency
-- 22023; nothing is issued to the others.
SELECT * FROM wallet.issue_coupons('cp-pct', ARRAY[:bob, 0]::bigint[], 'promo-3');
\echo :SQLSTATE
SELECT * FROM wallet.issue_coupons('cp-pct', ARRAY[:bob, NULL]::bigint[], 'promo-3');
\echo :SQLSTATE
SELECT * FROM wallet.issue_coupons('cq-ten', ARRAY[:bob, :dave]::bigint[], 'promo-3');
\echo :SQLSTATE
SELECT count(*) AS bob_pct FROM wallet.coupons(:bob) WHERE template_id IN ('cp-pct', 'cq-ten');

------------------------------------------------------------------------------
-- Validating: every reason
------------------------------------------------------------------------------
-- A valid coupon: discount 10 on an order of 60; reason is NULL.
SELECT * FROM wallet.validate_coupon(:'c_ten', :alice, 60);
-- In any case and with any grouping.
SELECT * FROM wallet.validate_coupon(replace(lower(:'c_ten'), '-', ' '), :alice, 60);
-- 'mistyped': one symbol wrong (the check symbol catches it), a symbol outside the alphabet
-- (O, 0, 1, I, L), one symbol missing, one too many.
SELECT * FROM wallet.validate_coupon(
  overlay(:'c_ten' PLACING CASE WHEN substr(:'c_ten', 3, 1) = '2' THEN '3' ELSE '2' END FROM 3 FOR 1), :alice, 60);
SELECT v.valid, v.discount, v.reason, count(*)
  FROM unnest(ARRAY['O', '0', '1', 'I', 'L', '!']) AS bad(s),
       LATERAL wallet.validate_coupon(overlay(:'c_ten' PLACING bad.s FROM 1 FOR 1), :alice, 60) v
 GROUP BY 1, 2, 3;
SELECT * FROM wallet.validate_coupon(left(:'c_ten', 19), :alice, 60);
SELECT * FROM wallet.validate_coupon(:'c_ten' || '2', :alice, 60);
SELECT * FROM wallet.validate_coupon('WELCOME10', :alice, 60);
-- 'unknown': a well-formed code nobody holds ...
SELECT * FROM wallet.validate_coupon(wallet.coupon_code_new(), :alice, 60);
-- ... and bob's own cp-ten, asked for by alice, read exactly the same: codes cannot be probed.
SELECT * FROM wallet.validate_coupon(:'c_ten_bob', :alice, 60);
SELECT count(DISTINCT to_jsonb(v)) AS distinct_answers, count(*) AS answers
  FROM (SELECT * FROM wallet.validate_coupon(wallet.coupon_code_new(), :alice, 60)
        UNION ALL SELECT * FROM wallet.validate_coupon(:'c_ten_bob', :alice, 60)
        UNION ALL SELECT * FROM wallet.validate_coupon(:'c_ten_bob', :alice, 60, 'shop')
        UNION ALL SELECT * FROM wallet.validate_coupon(wallet.coupon_code_new(), :alice, 60, 'shop')) v;
-- For bob it is valid.
SELECT * FROM wallet.validate_coupon(:'c_ten_bob', :bob, 60);
-- 'not yet valid': cp-later starts in February.
SELECT * FROM wallet.validate_coupon(:'c_later', :alice, 60);
-- 'wrong scene': cp-shop is for scene 'shop' only (no scene is not 'shop').
SELECT * FROM wallet.validate_coupon(:'c_shop', :alice, 60);
SELECT * FROM wallet.validate_coupon(:'c_shop', :alice, 60, 'game');
SELECT * FROM wallet.validate_coupon(:'c_shop', :alice, 60, 'shop');
-- 'below minimum order': cp-ten needs an order of 50 or more.
SELECT * FROM wallet.validate_coupon(:'c_ten', :alice, 49.99);
SELECT * FROM wallet.validate_coupon(:'c_ten', :alice, 50);
-- 'expired': cp-week (alice's ends on the 5th), at and after its end.
SET wallet.now = '2026-01-05 00:00:00+00';
SELECT * FROM wallet.validate_coupon(:'c_week', :alice, 60);
SELECT template_id, status FROM pg_temp.coupons(:alice) WHERE template_id = 'cp-week';
SET wallet.now = '2026-01-01 00:00:00+00';
-- 'wrong currency': an admin moved the template cp-cur to QCQ after issuing it to alice.
SELECT wallet.issue_coupon('cp-cur', :alice, 'alice-cur') AS c_cur \gset
UPDATE wallet.coupon_template SET currency = 'QCQ' WHERE template_id = 'cp-cur';
SELECT * FROM wallet.validate_coupon(:'c_cur', :alice, 60);
-- 'limit reached': carol holds two cp-limit; the admin lowers the limit to one per wallet
-- afterwards; once she has used one, the other is refused.
SELECT wallet.issue_coupon('cp-limit', :carol, 'carol-lim-1') AS c_lim1 \gset
SELECT wallet.issue_coupon('cp-limit', :carol, 'carol-lim-2') AS c_lim2 \gset
UPDATE wallet.coupon_template SET per_wallet_limit = 1 WHERE template_id = 'cp-limit';
SELECT * FROM wallet.validate_coupon(:'c_lim2', :carol, 10);
SELECT charged, discount FROM wallet.spend(:carol, 10, 'carol-lim-s1', coupon => :'c_lim1');
SELECT * FROM wallet.validate_coupon(:'c_lim2', :carol, 10);
SELECT pg_temp.state() AS state_before \gset
-- 'already used': the one carol used.
SELECT * FROM wallet.validate_coupon(:'c_lim1', :carol, 10);
-- validate_coupon changes nothing.
SELECT pg_temp.state() = :'state_before' AS nothing_changed;
-- Bad arguments: 22023 for a NULL or empty or too long code, a NULL wallet, a bad order
-- amount or scene; WL006 for an unknown wallet.
SELECT * FROM wallet.validate_coupon(NULL, :alice, 60);
\echo :SQLSTATE
SELECT * FROM wallet.validate_coupon('', :alice, 60);
\echo :SQLSTATE
SELECT * FROM wallet.validate_coupon(repeat('A', 65), :alice, 60);
\echo :SQLSTATE
SELECT * FROM wallet.validate_coupon(:'c_ten', NULL, 60);
\echo :SQLSTATE
SELECT * FROM wallet.validate_coupon(:'c_ten', 0, 60);
\echo :SQLSTATE
SELECT * FROM wallet.validate_coupon(:'c_ten', :alice, 0);
\echo :SQLSTATE
SELECT * FROM wallet.validate_coupon(:'c_ten', :alice, 60.001);
\echo :SQLSTATE
SELECT * FROM wallet.validate_coupon(:'c_ten', :alice, 60, 'no spaces');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Discounts
------------------------------------------------------------------------------
-- Amount: 10 off. Percent: 12.5 % of 12.20 is 1.525, rounded half away from zero to 1.53
-- (not to the even 1.52); of 12.12 it is 1.515 -> 1.52; of 100 it is 12.5, capped by
-- max_discount at 5.
SELECT o.amount AS order_amount, v.valid, v.discount
  FROM (VALUES (12.20), (12.12), (8.00), (40.00), (100.00)) AS o(amount),
       LATERAL wallet.validate_coupon(:'c_pct', :alice, o.amount) v ORDER BY o.amount;
-- A discount never exceeds the order: 50 off an order of 30 is 30; 100 % of 0.01 is 0.01.
SELECT * FROM wallet.validate_coupon(:'c_big', :alice, 30);
SELECT * FROM wallet.validate_coupon(:'c_big', :alice, 80);
SELECT * FROM wallet.validate_coupon(:'c_all', :alice, 0.01);
SELECT * FROM wallet.validate_coupon(:'c_all', :alice, 123.45);

------------------------------------------------------------------------------
-- Redeeming in spend: the discount first, then the rest in spending order
------------------------------------------------------------------------------
SELECT * FROM pg_temp.bal(:alice);
-- An order of 60 with cp-ten: 10 off, 50 charged: the bonus (10) first, then 40 of cash.
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:alice, 60, 'alice-s1', coupon => :'c_ten');
SELECT pg_temp.txn(:alice, 'alice-s1') AS s1 \gset
SELECT * FROM pg_temp.bal(:alice);
-- The journal: the wallet pays 50; revenue books the sale at its full 60, of which 10 is
-- the coupon's expense.
SELECT kind, amount FROM wallet.transactions WHERE txn_id = :s1;
SELECT * FROM pg_temp.postings(:s1);
-- The coupon is redeemed by that spend, with its discount.
SELECT template_id, status, redeemed_by, discount FROM pg_temp.coupons(:alice) WHERE template_id = 'cp-ten';
SELECT c.redeemed_txn = :s1 AS redeemed_by_s1 FROM wallet.coupons(:alice) c WHERE c.template_id = 'cp-ten';
-- Replaying the spend returns the first result and changes nothing.
SELECT pg_temp.state() AS state_before \gset
SELECT txn_id = :s1 AS same_txn, charged, discount, bonus_used, cash_used, replayed
  FROM wallet.spend(:alice, 60, 'alice-s1', coupon => :'c_ten');
SELECT pg_temp.state() = :'state_before' AS nothing_changed;
-- Used once: a new spend with it is WL005 'already used', and nothing changes.
SELECT * FROM wallet.spend(:alice, 60, 'alice-s2', coupon => :'c_ten');
\echo :SQLSTATE
SELECT pg_temp.state() = :'state_before' AS nothing_changed;
-- Every refusal is WL005 with the reason as the detail, and nothing changes: mistyped,
-- unknown (a fresh code, and bob's code: the same answer), not yet valid, wrong scene,
-- below minimum order, wrong currency.
SELECT * FROM wallet.spend(:alice, 60, 'alice-s3', coupon => overlay(:'c_pct' PLACING
  CASE WHEN substr(:'c_pct', 8, 1) = '2' THEN '3' ELSE '2' END FROM 8 FOR 1));
\echo :SQLSTATE
SELECT * FROM wallet.spend(:alice, 60, 'alice-s3', coupon => wallet.coupon_code_new());
\echo :SQLSTATE
SELECT * FROM wallet.spend(:alice, 60, 'alice-s3', coupon => :'c_ten_bob');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:alice, 60, 'alice-s3', coupon => :'c_later');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:alice, 60, 'alice-s3', 'game', coupon => :'c_shop');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:bob, 49.99, 'bob-s0', coupon => :'c_ten_bob');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:alice, 60, 'alice-s3', coupon => :'c_cur');
\echo :SQLSTATE
-- An expired coupon (cp-day of bob's ended on the 4th).
SET wallet.now = '2026-01-04 00:00:00+00';
SELECT * FROM wallet.spend(:bob, 60, 'bob-s0', coupon => :'c_day_bob');
\echo :SQLSTATE
SET wallet.now = '2026-01-01 00:00:00+00';
SELECT pg_temp.state() = :'state_before' AS nothing_changed;
-- A frozen wallet refuses the spend (WL002) before looking at the coupon.
SELECT wallet.freeze(:carol, 'chargeback');
SELECT * FROM wallet.spend(:carol, 60, 'carol-s0', coupon => :'c_ten_carol');
\echo :SQLSTATE
SELECT wallet.unfreeze(:carol);
SELECT pg_temp.state() AS state_before \gset
-- A valid coupon on an order the wallet cannot pay is WL001, and the coupon stays available.
SELECT * FROM wallet.spend(:alice, 500, 'alice-s3', coupon => :'c_pct');
\echo :SQLSTATE
SELECT pg_temp.state() = :'state_before' AS nothing_changed;
SELECT template_id, status FROM pg_temp.coupons(:alice) WHERE template_id = 'cp-pct';
-- The key of a refused spend is not taken.
SELECT count(*) AS key_taken FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'alice-s3';

-- A coupon in its scene: cp-shop takes 5 off 20 in 'shop'; the rest is cash.
SELECT charged, discount, bonus_used, cash_used, replayed
  FROM wallet.spend(:alice, 20, 'alice-s4', 'shop', coupon => :'c_shop');

-- A percent coupon with allow_partial: 12.5 % of 40 is 5; erin has 20 for the 35 left,
-- so 15 is shortfall (charged = amount - discount - shortfall).
SELECT wallet.issue_coupon('cp-pct', :erin, 'erin-pct') AS c_pct_erin \gset
SELECT charged, discount, bonus_used, cash_used, shortfall
  FROM wallet.spend(:erin, 40, 'erin-s1', coupon => :'c_pct_erin', allow_partial => true);
SELECT * FROM pg_temp.postings(pg_temp.txn(:erin, 'erin-s1'));

-- A coupon that covers the whole order: cp-big (50 off) on an order of 30 charges 0; the
-- spend is still recorded, the coupon redeemed, and the discount booked.
SELECT * FROM pg_temp.bal(:alice) \gset bal_
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:alice, 30, 'alice-s5', coupon => :'c_big');
SELECT pg_temp.txn(:alice, 'alice-s5') AS s5 \gset
SELECT kind, amount FROM wallet.transactions WHERE txn_id = :s5;
SELECT * FROM pg_temp.postings(:s5);
SELECT template_id, status, redeemed_by, discount FROM pg_temp.coupons(:alice) WHERE template_id = 'cp-big';
SELECT available = :bal_available AS balance_untouched FROM pg_temp.bal(:alice);
-- A coupon covering everything works on an empty wallet too (erin has nothing left).
SELECT wallet.issue_coupon('cp-all', :erin, 'erin-all') AS c_all_erin \gset
SELECT charged, discount, bonus_used, cash_used, shortfall
  FROM wallet.spend(:erin, 7.77, 'erin-s2', coupon => :'c_all_erin');

-- With a payee: the payee gets what was charged less 10 % commission; revenue books only
-- the discount, matched by the coupon's expense.
SELECT charged, discount, bonus_used, cash_used
  FROM wallet.spend(:bob, 60, 'bob-s1', coupon => :'c_ten_bob', payee => :shop);
SELECT pg_temp.txn(:bob, 'bob-s1') AS bob_s1 \gset
SELECT * FROM pg_temp.postings(:bob_s1);
SELECT earnings FROM pg_temp.bal(:shop);

------------------------------------------------------------------------------
-- Reversal: a full reversal gives the coupon back while it is still valid
------------------------------------------------------------------------------
-- Reversing part of alice-s1 keeps the coupon redeemed ...
SELECT bonus_returned, cash_returned, replayed, coupon_restored FROM wallet.reverse_spend(:s1, 'alice-r1', 20);
SELECT * FROM pg_temp.postings(pg_temp.txn(:alice, 'alice-r1'));
SELECT template_id, status FROM pg_temp.coupons(:alice) WHERE template_id = 'cp-ten';
-- ... reversing the rest restores it: revenue gives back the 30 charged and the 10 of
-- discount, and the coupon's expense is undone.
SELECT bonus_returned, cash_returned, replayed, coupon_restored FROM wallet.reverse_spend(:s1, 'alice-r2');
SELECT * FROM pg_temp.postings(pg_temp.txn(:alice, 'alice-r2'));
SELECT template_id, status, redeemed_by, discount FROM pg_temp.coupons(:alice) WHERE template_id = 'cp-ten';
SELECT * FROM wallet.validate_coupon(:'c_ten', :alice, 60);
-- A replay of the reversal says the same.
SELECT replayed, coupon_restored FROM wallet.reverse_spend(:s1, 'alice-r2');
-- The restored coupon can be used again.
SELECT charged, discount, bonus_used, cash_used FROM wallet.spend(:alice, 50, 'alice-s6', coupon => :'c_ten');

-- With a payee: the full reversal takes the payee's credit back and undoes the discount.
SELECT cash_returned, coupon_restored FROM wallet.reverse_spend(:bob_s1, 'bob-r1');
SELECT * FROM pg_temp.postings(pg_temp.txn(:bob, 'bob-r1'));
SELECT template_id, status FROM pg_temp.coupons(:bob) WHERE template_id = 'cp-ten';
SELECT earnings FROM pg_temp.bal(:shop);

-- A spend the coupon paid in full (alice-s5 charged 0) is reversed with amount NULL: the
-- coupon comes back, the discount is undone; once only. An amount is WL008 (nothing was charged).
SELECT * FROM wallet.reverse_spend(:s5, 'alice-r5', 1);
\echo :SQLSTATE
SELECT bonus_returned, cash_returned, earnings_returned, replayed, coupon_restored
  FROM wallet.reverse_spend(:s5, 'alice-r5');
SELECT kind, amount FROM wallet.transactions WHERE txn_id = pg_temp.txn(:alice, 'alice-r5');
SELECT * FROM pg_temp.postings(pg_temp.txn(:alice, 'alice-r5'));
SELECT template_id, status, redeemed_by FROM pg_temp.coupons(:alice) WHERE template_id = 'cp-big';
SELECT * FROM wallet.reverse_spend(:s5, 'alice-r5b');
\echo :SQLSTATE

-- An expired coupon is not given back: bob uses cp-day (valid until the 4th) on the 3rd;
-- the spend is reversed on the 6th. The discount is still undone in the books.
SET wallet.now = '2026-01-03 12:00:00+00';
SELECT charged, discount FROM wallet.spend(:bob, 25, 'bob-s2', coupon => :'c_day_bob');
SET wallet.now = '2026-01-06 00:00:00+00';
SELECT cash_returned, coupon_restored FROM wallet.reverse_spend(pg_temp.txn(:bob, 'bob-s2'), 'bob-r2');
SELECT * FROM pg_temp.postings(pg_temp.txn(:bob, 'bob-r2'));
SELECT (c.status <> 'available') AS not_available, c.redeemed_txn IS NOT NULL AS still_marked_used
  FROM wallet.coupons(:bob) c WHERE c.template_id = 'cp-day';
SELECT * FROM wallet.validate_coupon(:'c_day_bob', :bob, 25);
SET wallet.now = '2026-01-01 00:00:00+00';

------------------------------------------------------------------------------
-- Issued automatically: on open and on top-up
------------------------------------------------------------------------------
-- cp-welcome is issued by wallet.open to every new QCP wallet; cp-first too, but only one
-- in all (total_limit 1); cp-gone has expired and is not issued.
SELECT wallet.add_coupon_template('cp-welcome', 'QCP', 'amount', 3, valid_for => '30 days', issue_on => 'open');
SELECT wallet.add_coupon_template('cp-first', 'QCP', 'amount', 4, total_limit => 1, issue_on => 'open');
SELECT wallet.add_coupon_template('cp-gone', 'QCP', 'amount', 4, valid_until => '2025-12-01 00:00:00+00',
                                  issue_on => 'open');
SELECT wallet.open('coupon-fay', 'QCP') AS fay, wallet.open('coupon-gus', 'QCP') AS gus \gset
SELECT * FROM pg_temp.coupons(:fay);
SELECT * FROM pg_temp.coupons(:gus);
-- Opening an existing wallet issues nothing; a wallet of another currency gets no QCP coupon.
SELECT wallet.open('coupon-fay', 'QCP') = :fay AS same_wallet;
SELECT count(*) AS fay_coupons FROM wallet.coupons(:fay);
SELECT count(*) AS alice_welcome FROM wallet.coupons(:alice) WHERE template_id = 'cp-welcome';
SELECT wallet.open('coupon-fay', 'QCQ') AS fay_q \gset
SELECT count(*) AS fay_q_coupons FROM wallet.coupons(:fay_q);
-- The welcome coupon works like any other.
SELECT code AS c_welcome FROM wallet.coupons(:fay) WHERE template_id = 'cp-welcome' \gset
SELECT pg_temp.is_code(:'c_welcome') AS well_formed;
SELECT * FROM wallet.validate_coupon(:'c_welcome', :fay, 10);

-- cp-bonus is issued by top-ups of 200 or more (two per wallet at most); top_up returns
-- the codes in its coupons column.
SELECT wallet.add_coupon_template('cp-bonus', 'QCP', 'percent', 10, issue_on => 'top_up',
                                  issue_min_top_up => 200, per_wallet_limit => 2);
SELECT bonus, replayed, coupons FROM wallet.top_up(:fay, 199.99, 'fay-t1');
SELECT txn_id AS fay_t2, coupons AS fay_t2_coupons FROM wallet.top_up(:fay, 200, 'fay-t2') \gset
SELECT cardinality(:'fay_t2_coupons'::text[]) AS codes, pg_temp.is_code((:'fay_t2_coupons'::text[])[1]) AS well_formed;
SELECT (:'fay_t2_coupons'::text[])[1] = c.code AS listed, c.template_id, c.status
  FROM wallet.coupons(:fay) c WHERE c.template_id = 'cp-bonus';
-- The replayed top-up returns the same codes and issues nothing more.
SELECT replayed, coupons = :'fay_t2_coupons'::text[] AS same_codes FROM wallet.top_up(:fay, 200, 'fay-t2');
SELECT count(*) AS fay_bonus_coupons FROM wallet.coupons(:fay) WHERE template_id = 'cp-bonus';
-- A second qualifying top-up gets the second; the third gets none (the wallet's limit is 2).
SELECT cardinality(coupons) AS codes FROM wallet.top_up(:fay, 300, 'fay-t3');
SELECT cardinality(coupons) AS codes, replayed FROM wallet.top_up(:fay, 300, 'fay-t4');
SELECT template_id, status, valid_until FROM pg_temp.coupons(:fay) WHERE template_id = 'cp-bonus';
-- A top-up coupon in use: 10 % of 80 off.
SELECT charged, discount FROM wallet.spend(:fay, 80, 'fay-s1', coupon => (:'fay_t2_coupons'::text[])[1]);
-- A top-up in another currency issues no QCP template.
SELECT coupons FROM wallet.top_up(:fay_q, 500, 'fay-q1');

------------------------------------------------------------------------------
-- Statistics per template, and the books
------------------------------------------------------------------------------
-- On the 10th, per template: issued counts every coupon; redeemed those a spend holds
-- (cp-day's spend was reversed after the coupon had expired: not given back, it still
-- counts); expired those past their validity unused (cp-week's two); outstanding the
-- rest; total_discount the discount of the redeemed ones. cp-cur is now a QCQ template.
SET wallet.now = '2026-01-10 00:00:00+00';
SELECT template_id, currency, kind, issued, redeemed, expired, outstanding, total_discount
  FROM wallet.coupon_stats WHERE currency IN ('QCP', 'QCQ') ORDER BY template_id;
-- The discount given, per the journal: the coupon expense of the spends, less what the
-- full reversals gave back (alice-s1, alice-s5, bob-s1 and bob-s2).
SELECT -sum(p.amount) AS coupon_expense
  FROM wallet.postings p WHERE p.account = 'coupon_expense' AND p.currency = 'QCP';

-- The books hold for this file's wallets and currencies.
SELECT * FROM wallet.reconcile()
 WHERE wallet_id IN (SELECT wallet_id FROM wallet.wallet WHERE currency IN ('QCP', 'QCQ'))
    OR (wallet_id IS NULL AND currency IN ('QCP', 'QCQ'));

-- Automatic issuance (on open and on top-up) takes no idempotency key of the wallet's: the
-- operation that issues runs once under its own key, so a client key of any form cannot
-- collide with it. Here the client uses the very key the top-up's issuance used to take
-- ("top_up:<txn>:<template>"), then tops up: the coupon is issued, nothing is refused.
INSERT INTO wallet.currency (code, exponent) VALUES ('QCR', 2);
SELECT wallet.add_coupon_template('cr-top', 'QCR', 'amount', 5, issue_on => 'top_up', issue_min_top_up => 100,
                                  per_wallet_limit => 5);
SELECT wallet.open('coupon-frank', 'QCR') AS frank \gset
SELECT bonus FROM wallet.top_up(:frank, 50, 'frank-t1');
SELECT last_value + 2 AS next_txn FROM wallet.txn_txn_id_seq \gset
SELECT charged FROM wallet.spend(:frank, 1, 'top_up:' || :next_txn || ':cr-top');
SELECT txn_id = :next_txn AS same_txn, cardinality(coupons) AS coupons FROM wallet.top_up(:frank, 100, 'frank-t2');
SELECT kind, coalesce(regexp_replace(idempotency_key, '[0-9]+', 'N'), '(none)') AS key
  FROM wallet.transactions WHERE wallet_id = :frank ORDER BY txn_id;
