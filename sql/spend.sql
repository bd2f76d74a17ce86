-- spend: charging a wallet (CONTRACT.md sections 2 and 5). Funds go in spending order:
-- bonus usable here (scope NULL or containing the scene), soonest expiry first, no expiry
-- last; then cash, oldest first; then earnings. Expired bonus is never spent.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 5000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 5000000) AS t0 \gset

-- A currency of this file's own (user-assigned ISO 4217 code), so that its rules and
-- policy affect no other file.
INSERT INTO wallet.currency (code, exponent) VALUES ('QSP', 2);

-- Each top-up of 100 or more gets four bonus lots, one per rule group:
--   base: 10, no expiry, anywhere        'ten': 5, expires in 10 days, anywhere
--   'game': 4, expires in 3 days, scene 'game' only    'mall': 3, expires in 1 day, scene 'mall' only
SELECT wallet.add_bonus_rule('QSP', 100, 10) AS r_base,
       wallet.add_bonus_rule('QSP', 100, 5, valid_for => '10 days', campaign => 'ten') AS r_ten,
       wallet.add_bonus_rule('QSP', 100, 4, valid_for => '3 days', scope => ARRAY['game'], campaign => 'game') AS r_game,
       wallet.add_bonus_rule('QSP', 100, 3, valid_for => '1 day', scope => ARRAY['mall'], campaign => 'mall') AS r_mall \gset

-- pg_temp.lots shows a wallet's lots with the idempotency key of the transaction that made each.
CREATE FUNCTION pg_temp.lots(wid bigint)
  RETURNS TABLE (lot_id int, bucket text, amount numeric, source text, granted_at timestamptz,
                 expires_at timestamptz, scope text[])
  LANGUAGE sql AS $$
  SELECT l.lot_id, l.bucket, l.amount, t.idempotency_key, l.granted_at, l.expires_at, l.scope
    FROM wallet.lots(wid) l LEFT JOIN wallet.txn t ON t.txn_id = l.source_txn ORDER BY l.lot_id $$;
-- pg_temp.bal shows a wallet's balance without its id.
CREATE FUNCTION pg_temp.bal(wid bigint, scene text DEFAULT NULL)
  RETURNS TABLE (cash numeric, bonus numeric, earnings numeric, held numeric, available numeric,
                 withdrawable numeric, frozen boolean)
  LANGUAGE sql AS $$
  SELECT b.cash, b.bonus, b.earnings, b.held, b.available, b.withdrawable, b.frozen
    FROM wallet.balance(wid, scene) b $$;

SELECT wallet.open('spend-alice', 'QSP') AS alice, wallet.open('spend-payer', 'QSP') AS payer,
       wallet.open('spend-bob', 'QSP') AS bob, wallet.open('spend-shop', 'QSP') AS shop,
       wallet.open('spend-dora', 'QSP') AS dora, wallet.open('spend-shop', 'CNY') AS shop_cny \gset

------------------------------------------------------------------------------
-- Spending order
------------------------------------------------------------------------------
-- alice tops up 100 (bonus 10 + 5 + 4 + 3 = 22) at midnight and 50 (no bonus) at 00:30;
-- at 01:00 she receives 20 of earnings as the payee of another wallet's spend.
SELECT bonus FROM wallet.top_up(:alice, 100, 'alice-1');
SELECT bonus FROM wallet.top_up(:payer, 100, 'payer-topup');
SELECT bonus FROM wallet.top_up(:bob, 200, 'bob-topup');
SELECT bonus FROM wallet.top_up(:dora, 100, 'dora-topup');
SET wallet.now = '2026-01-01 00:30:00+00';
SELECT bonus FROM wallet.top_up(:alice, 50, 'alice-2');
SET wallet.now = '2026-01-01 01:00:00+00';
SELECT charged, bonus_used, cash_used, shortfall FROM wallet.spend(:payer, 20, 'payer-1', payee => :alice);
SELECT * FROM pg_temp.lots(:alice);

-- The balance counts only bonus usable in the scene: with no scene, unscoped bonus only
-- (10 + 5); in 'game' also the game lot (19); in 'mall' the mall lot (18). The payee
-- credit shows as earnings at once.
SELECT * FROM pg_temp.bal(:alice);
SELECT * FROM pg_temp.bal(:alice, 'game');
SELECT * FROM pg_temp.bal(:alice, 'mall');
SELECT * FROM pg_temp.bal(:alice, 'cinema');

-- 5 in 'mall': the mall lot (3, expiring first, on the 2nd) then 'ten' (2 of 5, on the 11th).
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:alice, 5, 'alice-s1', 'mall');
SELECT lot_id, bucket, amount, expires_at, scope FROM pg_temp.lots(:alice) WHERE bucket = 'bonus';

-- 20 with no scene: scoped bonus is not usable; 'ten' (3 left) before the base lot (no
-- expiry last, 10), then cash: 7 from the oldest cash lot.
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:alice, 20, 'alice-s2');
SELECT * FROM pg_temp.lots(:alice);

-- 100 in 'game': the game lot (4), then cash oldest first: the rest of alice-1 (93), then 3 of alice-2.
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:alice, 100, 'alice-s3', 'game');
SELECT * FROM pg_temp.lots(:alice);

-- 60: no bonus left; cash (47) before earnings (13 of 20).
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:alice, 60, 'alice-s4');
SELECT * FROM pg_temp.lots(:alice);
SELECT * FROM pg_temp.bal(:alice);

-- The spend's postings: the wallet's legs are negative, revenue balances them.
SELECT p.account, p.bucket, p.amount FROM wallet.postings p
 WHERE p.txn_id = (SELECT txn_id FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'alice-s3')
 ORDER BY p.account DESC, p.bucket;

------------------------------------------------------------------------------
-- Not enough funds
------------------------------------------------------------------------------
-- WL001, and nothing changes.
SELECT count(*) AS journal_rows FROM wallet.txn WHERE wallet_id = :alice \gset
SELECT * FROM wallet.spend(:alice, 50, 'alice-s5');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:alice, 50, 'alice-s5', 'game');
\echo :SQLSTATE
SELECT count(*) = :journal_rows AS nothing_written FROM wallet.txn WHERE wallet_id = :alice;
SELECT * FROM pg_temp.bal(:alice);
-- The refused key is not taken.
SELECT NOT EXISTS (SELECT 1 FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'alice-s5') AS key_free;

-- allow_partial charges what is available and reports the rest as shortfall
-- (charged = bonus_used + cash_used + earnings_used = amount - discount - shortfall).
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed,
       charged = bonus_used + cash_used + earnings_used AND charged = 50 - discount - shortfall AS adds_up
  FROM wallet.spend(:alice, 50, 'alice-p1', allow_partial => true);
SELECT * FROM pg_temp.bal(:alice);
-- With nothing available it charges 0 and still records the spend: the key is taken.
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:alice, 10, 'alice-p2', allow_partial => true);
SELECT kind, amount FROM wallet.transactions WHERE wallet_id = :alice AND idempotency_key = 'alice-p2';
SELECT charged, shortfall, replayed FROM wallet.spend(:alice, 10, 'alice-p2', allow_partial => true);
SELECT * FROM wallet.spend(:alice, 10, 'alice-p2');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Paying a payee, with commission
------------------------------------------------------------------------------
-- QSP takes a 10 % commission from payees.
SELECT currency, commission_rate FROM wallet.set_policy('QSP', commission_rate => 0.1);
-- bob pays the shop 33.35: bonus 'ten' 5 and base 10, then 18.35 cash. The commission is
-- 3.335, rounded half away from zero to 3.34; the shop is credited 30.01.
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:bob, 33.35, 'bob-1', payee => :shop, order_ref => 'order-1');
SELECT txn_id AS bob1 FROM wallet.txn WHERE wallet_id = :bob AND idempotency_key = 'bob-1' \gset
SELECT p.account, p.wallet_id = :bob AS payer, p.wallet_id = :shop AS payee, p.bucket, p.amount
  FROM wallet.postings p WHERE p.txn_id = :bob1 ORDER BY p.account DESC, p.amount;
-- The shop's balance shows the credit at once, as earnings (withdrawable).
SELECT * FROM pg_temp.bal(:shop);
-- A second payment: 10 cash, commission 1.00, credit 9.00.
SELECT charged, bonus_used, cash_used FROM wallet.spend(:bob, 10, 'bob-2', payee => :shop);
SELECT * FROM pg_temp.bal(:shop);
-- The shop spends its earnings (credits are rolled up into its wallet when needed).
SELECT charged, bonus_used, cash_used, earnings_used FROM wallet.spend(:shop, 5, 'shop-1');
SELECT * FROM pg_temp.bal(:shop);
SELECT lot_id, bucket, amount FROM pg_temp.lots(:shop);

-- A payee must be another existing wallet of the same currency.
SELECT * FROM wallet.spend(:bob, 1, 'bob-x1', payee => :shop_cny);
\echo :SQLSTATE
SELECT * FROM wallet.spend(:bob, 1, 'bob-x2', payee => 0);
\echo :SQLSTATE
SELECT * FROM wallet.spend(:bob, 1, 'bob-x3', payee => :bob);
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Idempotency
------------------------------------------------------------------------------
-- A replay returns the first result and changes nothing; other arguments are WL003.
SELECT txn_id = :bob1 AS same_txn, charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:bob, 33.35, 'bob-1', payee => :shop, order_ref => 'order-1');
SELECT * FROM pg_temp.bal(:bob);
SELECT * FROM pg_temp.bal(:shop);
SELECT * FROM wallet.spend(:bob, 33.36, 'bob-1', payee => :shop, order_ref => 'order-1');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:bob, 33.35, 'bob-1', order_ref => 'order-1');
\echo :SQLSTATE
-- A key already used by another operation of the wallet (here its top-up) is WL003 too.
SELECT * FROM wallet.spend(:bob, 1, 'bob-topup');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Frozen wallets
------------------------------------------------------------------------------
-- A frozen wallet refuses debits with WL002, but still receives payee credits.
SELECT wallet.freeze(:shop, 'kyc pending');
SELECT * FROM wallet.spend(:shop, 1, 'shop-2');
\echo :SQLSTATE
SELECT charged, cash_used FROM wallet.spend(:bob, 10, 'bob-3', payee => :shop);
SELECT * FROM pg_temp.bal(:shop);
-- A replay of a spend made before the freeze returns its first result.
SELECT charged, earnings_used, replayed FROM wallet.spend(:shop, 5, 'shop-1');
-- Unfrozen, it may spend again.
SELECT wallet.unfreeze(:shop);
SELECT charged, earnings_used, replayed FROM wallet.spend(:shop, 1, 'shop-2');
SELECT * FROM pg_temp.bal(:shop);

------------------------------------------------------------------------------
-- Bad arguments
------------------------------------------------------------------------------
SELECT count(*) AS journal_rows FROM wallet.txn WHERE wallet_id = :bob \gset
-- A scene is [A-Za-z0-9_.:-]{1,64}; anything else is 22023.
SELECT * FROM wallet.spend(:bob, 1, 'bob-bad-1', 'no spaces');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:bob, 1, 'bob-bad-2', '');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:bob, 1, 'bob-bad-3', repeat('x', 65));
\echo :SQLSTATE
SELECT * FROM wallet.balance(:bob, 'game!');
\echo :SQLSTATE
-- A coupon code that is not one (no check symbol fits): WL005 with the reason in the detail, and nothing changes.
SELECT * FROM wallet.spend(:bob, 1, 'bob-bad-4', coupon => 'WELCOME10');
\echo :SQLSTATE
-- Bad amounts are 22023.
SELECT * FROM wallet.spend(:bob, 0, 'bob-bad-5');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:bob, 1.001, 'bob-bad-6');
\echo :SQLSTATE
SELECT * FROM wallet.spend(:bob, NULL, 'bob-bad-7');
\echo :SQLSTATE
SELECT count(*) = :journal_rows AS nothing_written FROM wallet.txn WHERE wallet_id = :bob;
-- An unknown wallet is WL006.
SELECT * FROM wallet.spend(0, 1, 'nobody');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Expired bonus is never spent, even before the expiry sweep runs
------------------------------------------------------------------------------
-- On the 5th dora's game lot (expired on the 4th) and mall lot (on the 2nd) are past
-- their expiry; no sweep has run, so they are still stored, but not counted nor spent.
SET wallet.now = '2026-01-05 00:00:00+00';
SELECT * FROM pg_temp.bal(:dora, 'game');
SELECT * FROM pg_temp.bal(:dora, 'mall');
-- 20 in 'game': 'ten' (5, on the 11th) then base (10), then 5 cash; the expired game lot is skipped.
SELECT charged, bonus_used, cash_used, shortfall FROM wallet.spend(:dora, 20, 'dora-1', 'game');
-- 96 in 'game' with allow_partial: only the 95 of cash is there.
SELECT charged, bonus_used, cash_used, shortfall FROM wallet.spend(:dora, 96, 'dora-2', 'game', allow_partial => true);
-- The expired lots are still in the wallet row, untouched, waiting for the sweep ...
SELECT l.bucket, l.amount, l.until, l.scope
  FROM wallet.wallet w CROSS JOIN LATERAL wallet.lots_list(w.lots) l
 WHERE w.wallet_id = :dora AND l.bucket = 'bonus' ORDER BY l.lot_id;
-- ... and wallet.lots does not list them.
SELECT * FROM pg_temp.lots(:dora);

------------------------------------------------------------------------------
-- A spend's journal row keeps what is not null or zero
------------------------------------------------------------------------------
-- dora-1 paid with bonus and cash, with no coupon, payee or shortfall: its request leaves
-- out the null arguments and its result the zero amounts (the widest journal row, written
-- most, is narrower so); a replay gives the zeros back.
SELECT request, result - 'txn_id' AS result FROM wallet.txn WHERE wallet_id = :dora AND idempotency_key = 'dora-1';
SELECT charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend(:dora, 20, 'dora-1', 'game');
-- bob-1 paid the shop: the payee's members are there.
SELECT request, result - 'txn_id' AS result FROM wallet.txn WHERE wallet_id = :bob AND idempotency_key = 'bob-1';

------------------------------------------------------------------------------
-- spend and top_up return named row types, which ALTER TYPE could change
------------------------------------------------------------------------------
SELECT pg_get_function_result('wallet.spend(bigint, numeric, text, text, text, boolean, bigint, text, numeric, text)'::regprocedure) AS spend,
       pg_get_function_result('wallet.top_up(bigint, numeric, text, text, text)'::regprocedure) AS top_up;
-- A row type with a column more, or a column of another type, is refused (42804), not
-- misread; each case is a replay, in a transaction rolled back.
BEGIN;
ALTER TYPE wallet.spend_result ADD ATTRIBUTE note text;
SELECT * FROM wallet.spend(:dora, 20, 'dora-1', 'game');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
ALTER TYPE wallet.spend_result ALTER ATTRIBUTE charged TYPE text;
SELECT * FROM wallet.spend(:dora, 20, 'dora-1', 'game');
ROLLBACK;
BEGIN;
ALTER TYPE wallet.top_up_result DROP ATTRIBUTE coupons;
SELECT * FROM wallet.top_up(:dora, 100, 'dora-topup');
ROLLBACK;
-- A column added and dropped again stays behind as a dropped column: left null, it is no
-- change, and the session goes on with the type as it is again after each rollback.
BEGIN;
ALTER TYPE wallet.spend_result ADD ATTRIBUTE note text;
ALTER TYPE wallet.spend_result DROP ATTRIBUTE note;
SELECT charged, bonus_used, cash_used, replayed FROM wallet.spend(:dora, 20, 'dora-1', 'game');
ROLLBACK;
SELECT charged, bonus_used, cash_used, replayed FROM wallet.spend(:dora, 20, 'dora-1', 'game');
SELECT bonus, replayed FROM wallet.top_up(:dora, 100, 'dora-topup');

-- The books hold for this file's wallets and currency.
SELECT * FROM wallet.reconcile()
 WHERE wallet_id IN (:alice, :payer, :bob, :shop, :dora, :shop_cny) OR (wallet_id IS NULL AND currency = 'QSP');
