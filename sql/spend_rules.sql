-- spend_rules: how much of a balance one payment may use (CONTRACT.md section 15), and
-- combined payment (section 5: max_charge). For a spend or hold, N = amount - discount,
-- A = what the wallet has available in the scene, C = what the wallet would pay:
-- min_balance_use X: C >= min(X, N) unless C = A; use_all_below Y: while A < Y, a payment
-- that uses the balance uses all of it. earnings_scope: where earnings may be spent.
-- Refusals are WL008 with the rule's name first in the detail. spend_preview shows it all
-- for a checkout page and changes nothing.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-05-01 10:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8700000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8700000) AS t0 \gset

-- A currency of this file's own, no bonus rules.
INSERT INTO wallet.currency (code, exponent) VALUES ('QSR', 2);
SELECT wallet.open('rules-ann', 'QSR') AS ann, wallet.open('rules-bob', 'QSR') AS bob,
       wallet.open('rules-shop', 'QSR') AS shop \gset
SELECT txn_id - :t0 AS txn_no FROM wallet.top_up(:ann, 100, 'r-t1');

------------------------------------------------------------------------------
-- Combined payment: max_charge, the rest is shortfall
------------------------------------------------------------------------------
SELECT charged, cash_used, shortfall FROM wallet.spend(:ann, 30, 'r-s1', max_charge => 12.50);
-- max_charge above the order changes nothing; above what is available charges what there is
SELECT charged, shortfall FROM wallet.spend(:ann, 10, 'r-s2', max_charge => 50);
SELECT charged, shortfall FROM wallet.spend(:ann, 200, 'r-s3', max_charge => 150);
-- a replay with another max_charge is another request: WL003
SELECT * FROM wallet.spend(:ann, 30, 'r-s1', max_charge => 13);
SELECT * FROM wallet.spend(:ann, 30, 'r-s4', max_charge => 0);
SELECT * FROM wallet.spend(:ann, 30, 'r-s4', max_charge => 1.001);

------------------------------------------------------------------------------
-- min_balance_use: a payment that uses the balance uses at least 20 of it
------------------------------------------------------------------------------
SELECT txn_id - :t0 AS txn_no FROM wallet.top_up(:bob, 100, 'r-t2');
SELECT min_balance_use, use_all_below, earnings_scope FROM wallet.set_policy('QSR', min_balance_use => 20);
-- 15 of an order of 50: refused
SELECT * FROM wallet.spend(:bob, 50, 'r-b1', max_charge => 15);
-- the whole order below 20: fine (C = N)
SELECT charged, shortfall FROM wallet.spend(:bob, 8, 'r-b2');
-- at least 20: fine
SELECT charged, shortfall FROM wallet.spend(:bob, 50, 'r-b3', max_charge => 20);
SELECT charged FROM wallet.spend(:bob, 60, 'r-b4');
SELECT cash, available FROM wallet.balance(:bob);
-- 12 left: 5 of an order of 10 is refused; all 12 of an order of 30 is fine (C = A)
SELECT * FROM wallet.spend(:bob, 10, 'r-b5', max_charge => 5);
SELECT charged, shortfall FROM wallet.spend(:bob, 30, 'r-b6', max_charge => 12);
SELECT cash FROM wallet.balance(:bob);
-- a hold follows the same rule
SELECT txn_id - :t0 AS txn_no FROM wallet.top_up(:bob, 100, 'r-t3');
SELECT * FROM wallet.hold(:bob, 50, 'r-h1', max_charge => 15);
SELECT held, shortfall FROM wallet.hold(:bob, 50, 'r-h2', max_charge => 25);

------------------------------------------------------------------------------
-- use_all_below: below 40 available, a payment that uses the balance uses all of it
------------------------------------------------------------------------------
SELECT min_balance_use, use_all_below FROM wallet.set_policy('QSR', min_balance_use => 0, use_all_below => 40);
-- bob has 75 available (100 less the hold of 25): not below 40, any payment
SELECT charged FROM wallet.spend(:bob, 45, 'r-u1');
-- 30 left, below 40: an order of 10 would leave 20: refused
SELECT * FROM wallet.spend(:bob, 10, 'r-u2');
-- an order above 30, with the rest paid elsewhere, uses it all: fine
SELECT charged, shortfall FROM wallet.spend(:bob, 50, 'r-u3', allow_partial => true);
SELECT cash, held, available FROM wallet.balance(:bob);

------------------------------------------------------------------------------
-- earnings_scope: earnings only in scenes of the list
------------------------------------------------------------------------------
SELECT min_balance_use, use_all_below, earnings_scope
  FROM wallet.set_policy('QSR', use_all_below => 0, earnings_scope => ARRAY['gift-cards']);
-- the shop earns 30 from ann (no commission)
SELECT txn_id - :t0 AS txn_no FROM wallet.top_up(:ann, 100, 'r-t5');
SELECT charged FROM wallet.spend(:ann, 30, 'r-e0', payee => :shop);
SELECT txn_id - :t0 AS txn_no FROM wallet.top_up(:shop, 5, 'r-t4');
SELECT cash, earnings, available FROM wallet.balance(:shop);
-- outside the scope: cash only
SELECT * FROM wallet.spend(:shop, 20, 'r-e1', scene => 'games');
SELECT charged, cash_used, earnings_used, shortfall FROM wallet.spend(:shop, 20, 'r-e2', scene => 'games', allow_partial => true);
-- in it: earnings too
SELECT charged, cash_used, earnings_used FROM wallet.spend(:shop, 20, 'r-e3', scene => 'gift-cards');
-- '{}' puts it back to everywhere
SELECT earnings_scope IS NULL AS everywhere FROM wallet.set_policy('QSR', earnings_scope => '{}');
SELECT charged, earnings_used FROM wallet.spend(:shop, 5, 'r-e4');
SELECT * FROM wallet.set_policy('QSR', earnings_scope => ARRAY['bad scene']);
SELECT * FROM wallet.set_policy('QSR', min_balance_use => -1);
SELECT * FROM wallet.set_policy('QSR', use_all_below => 0.001);

------------------------------------------------------------------------------
-- spend_preview: the same rules, nothing changes
------------------------------------------------------------------------------
SELECT min_balance_use, use_all_below FROM wallet.set_policy('QSR', min_balance_use => 20, use_all_below => 10);
SELECT cash, available FROM wallet.balance(:ann);
SELECT * FROM wallet.spend_preview(:ann, 50);
SELECT * FROM wallet.spend_preview(:ann, 50, max_charge => 15);
SELECT * FROM wallet.spend_preview(:ann, 500);
SELECT * FROM wallet.spend_preview(:ann, 50, coupon => 'NOSUCHCODE');
SELECT wallet.freeze(:ann, 'review');
SELECT refusal FROM wallet.spend_preview(:ann, 5);
SELECT wallet.unfreeze(:ann);
SELECT count(*) AS journal_rows_of_previews FROM wallet.txn WHERE wallet_id = :ann AND created_at >= '2026-05-01';
SELECT * FROM wallet.spend_preview(NULL, 5);
SELECT * FROM wallet.spend_preview(:ann, -5);
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency = 'QSR';
