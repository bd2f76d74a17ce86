-- reverse: giving a spend back (CONTRACT.md section 5). A reversal returns up to what is
-- left unreversed of the spend, split across buckets in proportion to how the spend was
-- funded: bonus and earnings shares round down, cash takes the remainder, no bucket gets
-- back more than it gave. Bonus keeps its original expiry (expired bonus is written off as
-- breakage at once); cash regains its top-up's refund window; a payee's credit is taken
-- back in the same proportion.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 4000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 4000000) AS t0 \gset

-- A currency of this file's own (user-assigned ISO 4217 code): a top-up of 100 or more gets
-- a bonus of 10 that expires in 10 days (on the 11th).
INSERT INTO wallet.currency (code, exponent) VALUES ('QRV', 2);
SELECT wallet.add_bonus_rule('QRV', 100, 10, valid_for => '10 days') AS r_base \gset

-- pg_temp.lots shows a wallet's lots with the idempotency key of the transaction that made each.
CREATE FUNCTION pg_temp.lots(wid bigint)
  RETURNS TABLE (lot_id int, bucket text, amount numeric, source text, expires_at timestamptz,
                 refundable_until timestamptz)
  LANGUAGE sql AS $$
  SELECT l.lot_id, l.bucket, l.amount, t.idempotency_key, l.expires_at, l.refundable_until
    FROM wallet.lots(wid) l LEFT JOIN wallet.txn t ON t.txn_id = l.source_txn ORDER BY l.lot_id $$;
-- pg_temp.bal shows a wallet's balance without its id.
CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, bonus numeric, earnings numeric, held numeric, available numeric, frozen boolean)
  LANGUAGE sql AS $$
  SELECT b.cash, b.bonus, b.earnings, b.held, b.available, b.frozen FROM wallet.balance(wid) b $$;
-- pg_temp.txn returns the id of a wallet's transaction by its idempotency key.
CREATE FUNCTION pg_temp.txn(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT txn_id FROM wallet.txn WHERE wallet_id = wid AND idempotency_key = k $$;

SELECT wallet.open('reverse-alice', 'QRV') AS alice, wallet.open('reverse-bob', 'QRV') AS bob,
       wallet.open('reverse-carol', 'QRV') AS carol, wallet.open('reverse-dave', 'QRV') AS dave,
       wallet.open('reverse-erin', 'QRV') AS erin, wallet.open('reverse-frank', 'QRV') AS frank,
       wallet.open('reverse-shop', 'QRV') AS shop \gset

------------------------------------------------------------------------------
-- The worked example: spend 30 funded by bonus 10 + cash 20
------------------------------------------------------------------------------
SELECT bonus FROM wallet.top_up(:alice, 100, 'alice-topup');
SET wallet.now = '2026-01-01 01:00:00+00';
SELECT charged, bonus_used, cash_used FROM wallet.spend(:alice, 30, 'alice-s1');
SELECT pg_temp.txn(:alice, 'alice-s1') AS s1 \gset
SELECT * FROM pg_temp.lots(:alice);

-- Reversing 10: bonus floor(10 x 10 / 30) = 3.33, cash the remainder 6.67.
SELECT bonus_returned, cash_returned, earnings_returned, replayed, bonus_written_off, bonus_to_cash
  FROM wallet.reverse_spend(:s1, 'alice-r1', 10);
SELECT pg_temp.txn(:alice, 'alice-r1') AS r1 \gset
-- The bonus goes back to its lot with its original expiry; the cash to its top-up's lot,
-- refundable until the top-up's window closes.
SELECT * FROM pg_temp.lots(:alice);
SELECT * FROM pg_temp.bal(:alice);
-- Postings: the wallet's legs come back, revenue gives the 10 back.
SELECT p.account, p.bucket, p.amount FROM wallet.postings p WHERE p.txn_id = :r1 ORDER BY p.account DESC, p.bucket;
SELECT kind, amount, ref_txn = :s1 AS of_spend FROM wallet.transactions WHERE txn_id = :r1;

-- The rest (20): bonus floor(20 x 10 / 30) = 6.66 would leave cash 13.34, more than the 13.33
-- of cash left to give back; so cash gets 13.33 and bonus the last 6.67. In all, bonus got
-- 10 back and cash 20: exactly what they gave.
SELECT bonus_returned, cash_returned, earnings_returned, replayed, bonus_written_off, bonus_to_cash
  FROM wallet.reverse_spend(:s1, 'alice-r2');
SELECT * FROM pg_temp.lots(:alice);
SELECT * FROM pg_temp.bal(:alice);

-- Nothing is left: another full reversal, or any amount, is WL008.
SELECT * FROM wallet.reverse_spend(:s1, 'alice-r3');
\echo :SQLSTATE
SELECT * FROM wallet.reverse_spend(:s1, 'alice-r4', 0.01);
\echo :SQLSTATE

-- A replay returns the first result and changes nothing; the key with another amount is WL003.
SELECT txn_id = :r1 AS same_txn, bonus_returned, cash_returned, earnings_returned, replayed
  FROM wallet.reverse_spend(:s1, 'alice-r1', 10);
SELECT * FROM pg_temp.bal(:alice);
SELECT * FROM wallet.reverse_spend(:s1, 'alice-r1', 11);
\echo :SQLSTATE
SELECT * FROM wallet.reverse_spend(:s1, 'alice-r1');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Over-reversal, then a full reversal of the rest
------------------------------------------------------------------------------
SELECT bonus FROM wallet.top_up(:bob, 100, 'bob-topup');
SELECT charged, bonus_used, cash_used FROM wallet.spend(:bob, 50, 'bob-s1');
SELECT pg_temp.txn(:bob, 'bob-s1') AS bob_s1 \gset
-- 60 of a spend of 50 is WL008.
SELECT * FROM wallet.reverse_spend(:bob_s1, 'bob-r0', 60);
\echo :SQLSTATE
-- 20 (bonus 4, cash 16), then 40 of the 30 left is WL008, then NULL takes all the rest
-- (bonus 6, cash 24).
SELECT bonus_returned, cash_returned, earnings_returned FROM wallet.reverse_spend(:bob_s1, 'bob-r1', 20);
SELECT * FROM wallet.reverse_spend(:bob_s1, 'bob-r2', 40);
\echo :SQLSTATE
SELECT bonus_returned, cash_returned, earnings_returned FROM wallet.reverse_spend(:bob_s1, 'bob-r3');
SELECT * FROM pg_temp.bal(:bob);
SELECT * FROM wallet.reverse_spend(:bob_s1, 'bob-r4');
\echo :SQLSTATE

-- A spend reversed in full at once returns everything.
SELECT charged, bonus_used, cash_used FROM wallet.spend(:bob, 25, 'bob-s2');
SELECT bonus_returned, cash_returned, earnings_returned
  FROM wallet.reverse_spend(pg_temp.txn(:bob, 'bob-s2'), 'bob-r5');
SELECT * FROM pg_temp.bal(:bob);

------------------------------------------------------------------------------
-- Three buckets: spend 130 = bonus 10 + cash 100 + earnings 20
------------------------------------------------------------------------------
SELECT bonus FROM wallet.top_up(:dave, 100, 'dave-topup');
SELECT bonus FROM wallet.top_up(:erin, 100, 'erin-topup');
-- frank (50 of cash, below the bonus threshold) pays dave 20, no commission yet: dave has earnings 20.
SELECT bonus FROM wallet.top_up(:frank, 50, 'frank-topup');
SELECT charged, cash_used FROM wallet.spend(:frank, 20, 'frank-pays-dave', payee => :dave);
SELECT charged, bonus_used, cash_used, earnings_used FROM wallet.spend(:dave, 130, 'dave-s1');
SELECT pg_temp.txn(:dave, 'dave-s1') AS dave_s1 \gset
-- Reversing 50: bonus floor(50 x 10 / 130) = 3.84, earnings floor(50 x 20 / 130) = 7.69,
-- cash the remainder 38.47.
SELECT bonus_returned, cash_returned, earnings_returned FROM wallet.reverse_spend(:dave_s1, 'dave-r1', 50);
-- The rest (80): bonus floor(6.153..) = 6.15, earnings floor(12.307..) = 12.30 leave cash 61.55,
-- more than the 61.53 left; cash gets 61.53, earnings its last 0.01 (12.31), bonus the
-- last 0.01 (6.16). Totals: bonus 10, cash 100, earnings 20.
SELECT bonus_returned, cash_returned, earnings_returned FROM wallet.reverse_spend(:dave_s1, 'dave-r2');
SELECT * FROM pg_temp.bal(:dave);
SELECT * FROM pg_temp.lots(:dave);

-- erin spends 30 (bonus 10 + cash 20 of her 100); her bonus expires on the 11th.
SELECT charged, bonus_used, cash_used FROM wallet.spend(:erin, 30, 'erin-s1');
SELECT pg_temp.txn(:erin, 'erin-s1') AS erin_s1 \gset

------------------------------------------------------------------------------
-- A payee's credit is taken back in the same proportion
------------------------------------------------------------------------------
SELECT currency, commission_rate FROM wallet.set_policy('QRV', commission_rate => 0.1);
SELECT bonus FROM wallet.top_up(:carol, 100, 'carol-topup');
-- carol pays the shop 30 (bonus 10 + cash 20): commission 3.00, the shop gets 27.00.
SELECT charged, bonus_used, cash_used FROM wallet.spend(:carol, 30, 'carol-s1', payee => :shop);
SELECT pg_temp.txn(:carol, 'carol-s1') AS carol_s1 \gset
SELECT * FROM pg_temp.bal(:shop);
-- Reversing 3.33 (bonus floor(1.11) = 1.11, cash 2.22) takes back 27.00 x 3.33 / 30 = 2.997,
-- rounded half away from zero to 3.00, from the shop; the commission gives back 0.33.
SELECT bonus_returned, cash_returned, earnings_returned FROM wallet.reverse_spend(:carol_s1, 'carol-r1', 3.33);
SELECT * FROM pg_temp.bal(:shop);
SELECT p.account, p.wallet_id = :carol AS payer, p.wallet_id = :shop AS payee, p.bucket, p.amount
  FROM wallet.postings p WHERE p.txn_id = pg_temp.txn(:carol, 'carol-r1') ORDER BY p.account DESC, p.amount;
-- A frozen payee is reversed the same way (a freeze stops the wallet's own debits, not the
-- platform's corrections): the rest (26.67) takes back the rest of the credit (24.00) and
-- of the commission (2.67).
SELECT wallet.freeze(:shop, 'audit');
SELECT bonus_returned, cash_returned, earnings_returned FROM wallet.reverse_spend(:carol_s1, 'carol-r2');
SELECT wallet.unfreeze(:shop);
SELECT * FROM pg_temp.bal(:shop);
SELECT * FROM pg_temp.bal(:carol);
SELECT sum(p.amount) FILTER (WHERE p.account = 'commission') AS commission_net,
       sum(p.amount) FILTER (WHERE p.wallet_id = :shop) AS shop_net
  FROM wallet.postings p
 WHERE p.txn_id IN (:carol_s1, pg_temp.txn(:carol, 'carol-r1'), pg_temp.txn(:carol, 'carol-r2'));

------------------------------------------------------------------------------
-- Expired bonus is written off at reversal
------------------------------------------------------------------------------
-- erin spent 30 above (bonus 10 + cash 20); her bonus expired on the 11th.
-- On the 12th the reversal's bonus share (10) is written off as breakage at once:
-- bonus_returned is the bonus share, bonus_written_off says it expired. Cash comes back.
SET wallet.now = '2026-01-12 00:00:00+00';
SELECT bonus_returned, cash_returned, earnings_returned, bonus_written_off, bonus_to_cash
  FROM wallet.reverse_spend(:erin_s1, 'erin-r1');
SELECT * FROM pg_temp.bal(:erin);
SELECT * FROM pg_temp.lots(:erin);
SELECT p.account, p.bucket, p.amount FROM wallet.postings p
 WHERE p.txn_id = pg_temp.txn(:erin, 'erin-r1') ORDER BY p.account DESC, p.bucket;

------------------------------------------------------------------------------
-- Bad arguments
------------------------------------------------------------------------------
-- An unknown spend, or a transaction that is not a spend, is WL006.
SELECT * FROM wallet.reverse_spend(0, 'nobody');
\echo :SQLSTATE
SELECT * FROM wallet.reverse_spend(pg_temp.txn(:alice, 'alice-topup'), 'not-a-spend');
\echo :SQLSTATE
-- NULL spend, bad amounts and a missing key are 22023.
SELECT * FROM wallet.reverse_spend(NULL, 'x');
\echo :SQLSTATE
SELECT * FROM wallet.reverse_spend(:bob_s1, 'bob-bad-1', 0);
\echo :SQLSTATE
SELECT * FROM wallet.reverse_spend(:bob_s1, 'bob-bad-2', 0.001);
\echo :SQLSTATE
SELECT * FROM wallet.reverse_spend(:bob_s1, NULL);
\echo :SQLSTATE

-- The books hold for this file's wallets and currency.
SELECT * FROM wallet.reconcile()
 WHERE wallet_id IN (:alice, :bob, :carol, :dave, :erin, :frank, :shop) OR (wallet_id IS NULL AND currency = 'QRV');
