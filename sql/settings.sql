-- settings: every setting is checked when it is written (CONTRACT.md section 9), through
-- set_policy, add_bonus_rule and add_coupon_template and by a direct INSERT or UPDATE of the
-- tables alike. A value that would make an operation fail later is refused at once (22023):
-- an interval with a negative part or longer than 1000 years (the clock runs to the year 8998,
-- lots hold times to 9999), a time the clock never reaches, a rate above its most, a negative
-- amount or one finer than the currency. A currency's exponent cannot change once it is used
-- (WL008). reconcile reports postings of a currency missing from wallet.currency.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET wallet.now = '2026-01-01 00:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9710000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9710000) AS t0 \gset

-- This file's currencies: QSE (2 decimals, used by a wallet), QSF (no decimals, unused),
-- QSG (a rule only), QSH (a template only), QSI (a policy only).
INSERT INTO wallet.currency (code, exponent) VALUES ('QSE', 2), ('QSF', 0), ('QSG', 2), ('QSH', 2), ('QSI', 2);
SELECT wallet.open('settings-alice', 'QSE') AS alice \gset

------------------------------------------------------------------------------
-- Policy
------------------------------------------------------------------------------
-- A refund window that no clock + window can hold: refused at once, not at the next top-up.
SELECT * FROM wallet.set_policy('QSE', refund_window => '200000 years');
SELECT * FROM wallet.set_policy('QSE', refund_window => '1001 years');
SELECT * FROM wallet.set_policy('QSE', refund_window => '365243 days');
-- an interval with a negative part can end before it starts (1 month - 29 days, from February 1st)
SELECT * FROM wallet.set_policy('QSE', refund_window => '1 mon -29 days');
SELECT * FROM wallet.set_policy('QSE', refund_window => '-1 day');
SELECT * FROM wallet.set_policy('QSE', remind_before => '1001 years');
-- rates above their most, negative amounts and counts, amounts finer than the currency
SELECT * FROM wallet.set_policy('QSE', refund_fee_rate => 1);
SELECT * FROM wallet.set_policy('QSE', commission_rate => 1.01);
SELECT * FROM wallet.set_policy('QSE', commission_rate => -0.1);
SELECT * FROM wallet.set_policy('QSE', refund_auto_approve_max => -1);
SELECT * FROM wallet.set_policy('QSE', refund_auto_approve_max => 0.001);
SELECT * FROM wallet.set_policy('QSE', max_refunds_per_30_days => -1);
-- nothing was written
SELECT count(*) AS policies FROM wallet.policy WHERE currency = 'QSE';

-- The same checks on a direct write of the table (as its owner).
INSERT INTO wallet.policy (currency, refund_window) VALUES ('QSE', '200000 years');
INSERT INTO wallet.policy (currency, remind_before) VALUES ('QSE', '-3 days');
INSERT INTO wallet.policy (currency, refund_auto_approve_max) VALUES ('QSE', 1.005);
INSERT INTO wallet.policy (currency) VALUES ('QSE');
UPDATE wallet.policy SET refund_window = '1 mon -29 days' WHERE currency = 'QSE';
UPDATE wallet.policy SET remind_before = '2000 years' WHERE currency = 'QSE';
DELETE FROM wallet.policy WHERE currency = 'QSE';

-- The longest window allowed works at the latest clock: the top-up's cash stays refundable
-- until the year 9998.
SELECT refund_window, remind_before
  FROM wallet.set_policy('QSE', refund_window => '1000 years', remind_before => '1000 years');
SET wallet.now = '8998-12-31 00:00:00+00';
SELECT txn_id - :t0 AS txn, replayed FROM wallet.top_up(:alice, 100, 'settings-late');
SELECT bucket, amount, refundable_until FROM wallet.lots(:alice);
SELECT count(*) AS reminders FROM wallet.expiring_bonus WHERE wallet_id = :alice;
SELECT max_amount, refundable_until FROM wallet.refund_quote(:t0 + 1);
-- and the clock cannot go further
SET wallet.now = '8999-01-01 00:00:00+00';
SET wallet.now = '0001-12-31 23:59:59+00 BC';
SET wallet.now = '2026-01-01 00:00:00+00';

------------------------------------------------------------------------------
-- Bonus rules
------------------------------------------------------------------------------
SELECT wallet.add_bonus_rule('QSE', 100, 10, valid_for => '200000 years');
SELECT wallet.add_bonus_rule('QSE', 100, 10, valid_for => '1000 years 1 day');
SELECT wallet.add_bonus_rule('QSE', 100, 10, valid_for => '1 mon -31 days');
SELECT wallet.add_bonus_rule('QSE', 100, 10, starts_at => '9000-01-01 00:00:00+00');
SELECT wallet.add_bonus_rule('QSE', 100, 10, ends_at => '20000-01-01 00:00:00+00');
SELECT wallet.add_bonus_rule('QSE', 100, 10, campaign => E'spring\u202Esale');
SELECT wallet.add_bonus_rule('QSE', 100, 10, campaign => '');
SELECT wallet.add_bonus_rule('QSE', 100, -10);
SELECT wallet.add_bonus_rule('QSE', 100, bonus_rate => 10.5);
SELECT wallet.add_bonus_rule('QSE', 100, 10, max_bonus => -1);
SELECT wallet.add_bonus_rule('QSE', 100, 10, refund_fee_rate => 1);
SELECT wallet.add_bonus_rule('QSE', 100.001, 10);
SELECT count(*) AS rules FROM wallet.bonus_rule WHERE currency = 'QSE';
-- valid ones are taken, open ends as infinity or NULL
SELECT wallet.add_bonus_rule('QSE', 100, 10, valid_for => '1000 years', starts_at => '-infinity',
                             ends_at => 'infinity') > 0 AS added;
SELECT min_amount, valid_for, starts_at, ends_at FROM wallet.bonus_rule WHERE currency = 'QSE';
-- a direct UPDATE is checked the same way
UPDATE wallet.bonus_rule SET valid_for = '200000 years' WHERE currency = 'QSE';
UPDATE wallet.bonus_rule SET starts_at = '9999-12-31 00:00:00+00' WHERE currency = 'QSE';
UPDATE wallet.bonus_rule SET campaign = E'tab\there' WHERE currency = 'QSE';
-- the rule still grants bonus at the latest clock (expiring in the year 9998)
SET wallet.now = '8998-12-31 00:00:00+00';
SELECT bonus FROM wallet.top_up(:alice, 100, 'settings-late-bonus');
SELECT bucket, amount, expires_at FROM wallet.lots(:alice) WHERE bucket = 'bonus';
SET wallet.now = '2026-01-01 00:00:00+00';

------------------------------------------------------------------------------
-- Coupon templates
------------------------------------------------------------------------------
SELECT wallet.add_coupon_template('settings-far', 'QSE', 'amount', 5, valid_for => '200000 years');
SELECT wallet.add_coupon_template('settings-far', 'QSE', 'amount', 5, valid_for => '1 mon -31 days');
SELECT wallet.add_coupon_template('settings-far', 'QSE', 'amount', 5, valid_from => '9500-01-01 00:00:00+00');
SELECT wallet.add_coupon_template('settings-far', 'QSE', 'amount', 5, valid_until => '9500-01-01 00:00:00+00');
SELECT wallet.add_coupon_template('settings-far', 'QSE', 'percent', 101);
SELECT wallet.add_coupon_template('settings-far', 'QSE', 'amount', 5, min_order => -1);
SELECT wallet.add_coupon_template('settings-far', 'QSE', 'amount', 5, per_wallet_limit => -1);
SELECT wallet.add_coupon_template('settings-far', 'QSE', 'amount', 5.001);
SELECT wallet.add_coupon_template('settings-ok', 'QSE', 'amount', 5, valid_for => '1000 years',
                                  valid_until => 'infinity');
UPDATE wallet.coupon_template SET valid_for = '1001 years' WHERE template_id = 'settings-ok';
UPDATE wallet.coupon_template SET valid_from = '10000-01-01 00:00:00+00' WHERE template_id = 'settings-ok';
-- a coupon of the longest validity, issued at the latest clock
SET wallet.now = '8998-12-31 00:00:00+00';
SELECT wallet.issue_coupon('settings-ok', :alice, 'settings-coupon') IS NOT NULL AS issued;
SELECT template_id, status, valid_until FROM wallet.coupons(:alice);
SET wallet.now = '2026-01-01 00:00:00+00';

------------------------------------------------------------------------------
-- A currency's exponent
------------------------------------------------------------------------------
-- unused: it may change (and back)
UPDATE wallet.currency SET exponent = 3 WHERE code = 'QSF';
UPDATE wallet.currency SET exponent = 0 WHERE code = 'QSF';
-- used by a wallet (and its rules, templates, policy), a rule, a template or a policy: refused
UPDATE wallet.currency SET exponent = 3 WHERE code = 'QSE';
SELECT wallet.add_bonus_rule('QSG', 100, 10) > 0 AS rule_added;
UPDATE wallet.currency SET exponent = 0 WHERE code = 'QSG';
SELECT wallet.add_coupon_template('settings-qsh', 'QSH', 'amount', 5);
UPDATE wallet.currency SET exponent = 0 WHERE code = 'QSH';
SELECT currency FROM wallet.set_policy('QSI', commission_rate => 0.01);
UPDATE wallet.currency SET exponent = 0 WHERE code = 'QSI';
SELECT code, exponent FROM wallet.currency WHERE code LIKE 'QS_' ORDER BY code;

------------------------------------------------------------------------------
-- reconcile reports postings of a currency missing from wallet.currency
------------------------------------------------------------------------------
-- A journal row of an unknown currency (written past the API, as a damaged restore could):
-- reconcile names it, per wallet (NULL for the system accounts), in minor units. (Its wallet leg
-- also reaches alice's cash, where the bucket check weighs it in her currency's units.)
BEGIN;
INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, postings)
VALUES (:alice, 'top_up', 100, 'QSZ', wallet.clock(),
        ARRAY[ROW('wallet', :alice, 'cash', 100)::wallet.posting, ROW('funding', NULL, NULL, -100)::wallet.posting,
              ROW('revenue', NULL, NULL, 5)::wallet.posting, ROW('fee_income', NULL, NULL, -5)::wallet.posting]);
SELECT check_name, wallet_id - :alice AS wallet, currency, expected, actual
  FROM wallet.reconcile() WHERE currency = 'QSZ' OR wallet_id = :alice ORDER BY check_name, wallet_id;
ROLLBACK;
-- and nothing once it is gone
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency LIKE 'QS_';
