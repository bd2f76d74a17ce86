-- topup: opening wallets and topping them up with bonus (CONTRACT.md sections 3 and 4).
-- Rules are grouped by campaign (NULL is the base group); in each group the active rule
-- of the wallet's currency with the greatest min_amount <= amount applies; each group's
-- non-zero bonus becomes its own bonus lot.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 6000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 6000000) AS t0 \gset

-- Currencies of this file's own (user-assigned ISO 4217 codes), so that the rules set
-- here affect no other file: QTU (2 decimals) and QTV (2 decimals, "another currency").
INSERT INTO wallet.currency (code, exponent) VALUES ('QTU', 2), ('QTV', 2);
-- and QTY (no decimals) and QTK (3 decimals), without rules.
INSERT INTO wallet.currency (code, exponent) VALUES ('QTY', 0), ('QTK', 3);

-- pg_temp.lots shows a wallet's lots with the idempotency key of the transaction that made each.
CREATE FUNCTION pg_temp.lots(wid bigint)
  RETURNS TABLE (lot_id int, bucket text, amount numeric, source text, expires_at timestamptz,
                 scope text[], held numeric, refundable_until timestamptz)
  LANGUAGE sql AS $$
  SELECT l.lot_id, l.bucket, l.amount, t.idempotency_key, l.expires_at, l.scope, l.held, l.refundable_until
    FROM wallet.lots(wid) l LEFT JOIN wallet.txn t ON t.txn_id = l.source_txn ORDER BY l.lot_id $$;

------------------------------------------------------------------------------
-- Opening wallets
------------------------------------------------------------------------------
-- open returns a wallet id, and the same id again for the same (owner, currency).
SELECT wallet.open('topup-alice', 'QTU') AS alice \gset
SELECT wallet.open('topup-alice', 'QTU') = :alice AS same_wallet;
-- The same owner in another currency has another wallet; the default currency is CNY.
SELECT wallet.open('topup-alice', 'QTV') AS alice_v \gset
SELECT :alice_v <> :alice AS other_wallet;
SELECT wallet.open('topup-bob') AS bob \gset
SELECT currency, cash, bonus, earnings, held, available, withdrawable, frozen FROM wallet.balance(:bob);

-- An unknown currency (codes are case-sensitive) and a missing owner are refused with 22023.
SELECT wallet.open('topup-alice', 'ABC');
\echo :SQLSTATE
SELECT wallet.open('topup-alice', 'qtu');
\echo :SQLSTATE
SELECT wallet.open(NULL, 'QTU');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Tiered base rules: 100 -> 10, 200 -> 25, 500 -> 75
------------------------------------------------------------------------------
SELECT wallet.add_bonus_rule('QTU', 100, 10) AS rule_100,
       wallet.add_bonus_rule('QTU', 200, 25) AS rule_200,
       wallet.add_bonus_rule('QTU', 500, 75) AS rule_500 \gset

-- The preview says what a top-up would get now: one row per rule group.
SELECT * FROM wallet.bonus_preview('QTU', 300);
SELECT * FROM wallet.bonus_preview('QTU', 500);
SELECT * FROM wallet.bonus_preview('QTU', 99);

-- A top-up of 300 gets the 200 tier's 25 (the tier with the greatest min_amount <= 300).
SELECT bonus, replayed FROM wallet.top_up(:alice, 300, 'alice-300', 'card', 'psp-1');
SELECT txn_id AS t300 FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'alice-300' \gset
-- 99 is below every tier: no bonus, no bonus lot.
SELECT bonus, replayed FROM wallet.top_up(:alice, 99, 'alice-99');
-- Exactly 500 reaches the 500 tier.
SELECT bonus, replayed FROM wallet.top_up(:alice, 500, 'alice-500');

-- One cash lot per top-up, refundable for 30 days (the default window); one bonus lot per
-- non-zero bonus, without expiry (the base rules have no valid_for).
SELECT * FROM pg_temp.lots(:alice);
SELECT currency, cash, bonus, earnings, held, available, withdrawable, frozen FROM wallet.balance(:alice);

-- The journal: a top-up of 300 with bonus 25 posts wallet cash +300 / funding -300 and
-- wallet bonus +25 / bonus_expense -25.
SELECT p.account, p.wallet_id = :alice AS own_wallet, p.bucket, p.amount
  FROM wallet.postings p WHERE p.txn_id = :t300 ORDER BY p.account DESC, p.bucket;
SELECT kind, amount, currency, created_at, request, result->'bonus' AS bonus_minor
  FROM wallet.transactions WHERE txn_id = :t300;

------------------------------------------------------------------------------
-- Idempotency
------------------------------------------------------------------------------
-- Replaying with the same key and arguments returns the first result, and changes nothing.
SELECT count(*) AS journal_rows FROM wallet.txn WHERE wallet_id = :alice \gset
SELECT txn_id = :t300 AS same_txn, bonus, replayed
  FROM wallet.top_up(:alice, 300, 'alice-300', 'card', 'psp-1');
SELECT count(*) = :journal_rows AS nothing_written FROM wallet.txn WHERE wallet_id = :alice;
SELECT cash, bonus FROM wallet.balance(:alice);
-- The same key with other arguments (amount, method) is WL003.
SELECT * FROM wallet.top_up(:alice, 301, 'alice-300', 'card', 'psp-1');
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, 300, 'alice-300', 'wechat', 'psp-1');
\echo :SQLSTATE
-- Keys are scoped to the wallet: another wallet may use the same key.
SELECT bonus, replayed FROM wallet.top_up(:alice_v, 300, 'alice-300');

------------------------------------------------------------------------------
-- Campaigns stack on the base group
------------------------------------------------------------------------------
-- Campaign 'spring': from 100, 5 %, valid 7 days, only in scene 'game'.
SELECT wallet.add_bonus_rule('QTU', 100, bonus_rate => 0.05, valid_for => '7 days',
                             scope => ARRAY['game'], campaign => 'spring') AS rule_spring \gset
SELECT * FROM wallet.bonus_preview('QTU', 300);
-- 300 now gets 25 + 15 = 40, as two lots: the campaign lot expires in 7 days, with its scope.
SELECT bonus, replayed FROM wallet.top_up(:alice, 300, 'alice-spring');
SELECT * FROM pg_temp.lots(:alice) WHERE source = 'alice-spring';
SELECT cash, bonus, available FROM wallet.balance(:alice);
SELECT cash, bonus, available FROM wallet.balance(:alice, 'game');
SELECT p.account, p.bucket, p.amount
  FROM wallet.postings p
 WHERE p.txn_id = (SELECT txn_id FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'alice-spring')
 ORDER BY p.account DESC, p.bucket, p.amount;
-- A replay of the first top-up still returns what it got then (25), not today's 40.
SELECT txn_id = :t300 AS same_txn, bonus, replayed
  FROM wallet.top_up(:alice, 300, 'alice-300', 'card', 'psp-1');

-- Rules outside their starts_at / ends_at are ignored: 'summer' starts tomorrow, 'autumn'
-- ended an hour ago.
SELECT wallet.add_bonus_rule('QTU', 100, bonus_rate => 0.10, campaign => 'summer',
                             starts_at => '2026-01-02 00:00:00+00') AS rule_summer,
       wallet.add_bonus_rule('QTU', 100, 50, campaign => 'autumn',
                             ends_at => '2025-12-31 23:00:00+00') AS rule_autumn \gset
SELECT * FROM wallet.bonus_preview('QTU', 300);
SELECT bonus FROM wallet.top_up(:alice, 300, 'alice-not-summer');

-- max_bonus caps a rule: 'vip' from 2000, 10 %, at most 50. A top-up of 3000 gets
-- base 75 (500 tier) + spring 150 (3000 x 5 %) + vip 50 (300 capped) = 275.
SELECT wallet.add_bonus_rule('QTU', 2000, bonus_rate => 0.10, max_bonus => 50, campaign => 'vip') AS rule_vip \gset
SELECT * FROM wallet.bonus_preview('QTU', 3000);
SELECT bonus FROM wallet.top_up(:alice, 3000, 'alice-vip');
SELECT lot_id, bucket, amount, expires_at, scope FROM pg_temp.lots(:alice) WHERE source = 'alice-vip';

-- Another currency's rules are ignored: a QTV rule (from 100, +99) does not touch QTU
-- top-ups, and QTU rules do not touch QTV top-ups.
SELECT wallet.add_bonus_rule('QTV', 100, 99) AS rule_qtv \gset
SELECT * FROM wallet.bonus_preview('QTV', 300);
SELECT bonus FROM wallet.top_up(:alice, 300, 'alice-no-qtv');
SELECT bonus FROM wallet.top_up(:alice_v, 300, 'alice-v-2');

-- The preview refuses what a top-up would refuse.
SELECT * FROM wallet.bonus_preview('ABC', 300);
\echo :SQLSTATE
SELECT * FROM wallet.bonus_preview('QTU', 0.001);
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Bad arguments
------------------------------------------------------------------------------
-- Every bad amount is 22023 with a message naming the argument; nothing is written.
SELECT count(*) AS journal_rows FROM wallet.txn WHERE wallet_id = :alice \gset
SELECT * FROM wallet.top_up(:alice, 0, 'bad-1');
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, -10, 'bad-2');
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, 'NaN', 'bad-3');
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, 'Infinity', 'bad-3');
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, 12.345, 'bad-4');
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, 1e20, 'bad-5');
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, NULL, 'bad-6');
\echo :SQLSTATE
-- The idempotency key is required; method and external_ref have length limits.
SELECT * FROM wallet.top_up(:alice, 10, NULL);
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, 10, 'bad-7', repeat('m', 65));
\echo :SQLSTATE
SELECT * FROM wallet.top_up(:alice, 10, 'bad-8', 'card', repeat('r', 201));
\echo :SQLSTATE
SELECT count(*) = :journal_rows AS nothing_written FROM wallet.txn WHERE wallet_id = :alice;

-- Amounts follow the wallet's currency: QTY has no decimals, QTK has three.
SELECT wallet.open('topup-yen', 'QTY') AS yen, wallet.open('topup-kwd', 'QTK') AS kwd \gset
SELECT * FROM wallet.top_up(:yen, 1.5, 'yen-1');
\echo :SQLSTATE
SELECT bonus FROM wallet.top_up(:yen, 1500, 'yen-2');
SELECT bonus FROM wallet.top_up(:kwd, 1.234, 'kwd-1');
SELECT * FROM wallet.top_up(:kwd, 1.2345, 'kwd-2');
\echo :SQLSTATE
SELECT currency, cash, bonus, available FROM wallet.balance(:yen)
UNION ALL SELECT currency, cash, bonus, available FROM wallet.balance(:kwd) ORDER BY currency;

-- An unknown wallet is WL006.
SELECT * FROM wallet.top_up(0, 10, 'nobody');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- A frozen wallet still accepts top-ups
------------------------------------------------------------------------------
SELECT wallet.open('topup-carol', 'QTU') AS carol \gset
SELECT wallet.freeze(:carol, 'chargeback review');
SELECT frozen FROM wallet.balance(:carol);
-- 200 gets the 200 tier's 25 and spring's 10 (200 x 5 %).
SELECT bonus, replayed FROM wallet.top_up(:carol, 200, 'carol-1');
SELECT currency, cash, bonus, earnings, held, available, withdrawable, frozen FROM wallet.balance(:carol);

------------------------------------------------------------------------------
-- After all of it
------------------------------------------------------------------------------
-- alice: cash 300 + 99 + 500 + 300 + 300 + 3000 + 300 = 4799;
-- unscoped bonus: base 25 + 75 + 25 + 25 + 75 + 25 = 250, vip 50: 300 (available 5099);
-- in 'game' also spring 15 + 15 + 150 + 15 = 195: 495 (available 5294).
SELECT currency, cash, bonus, earnings, held, available, withdrawable, frozen FROM wallet.balance(:alice);
SELECT currency, cash, bonus, earnings, held, available, withdrawable, frozen FROM wallet.balance(:alice, 'game');
SELECT * FROM pg_temp.lots(:alice);
-- The books hold for this file's wallets and currencies.
SELECT * FROM wallet.reconcile()
 WHERE wallet_id IN (:alice, :alice_v, :bob, :carol, :yen, :kwd)
    OR (wallet_id IS NULL AND currency IN ('QTU', 'QTV', 'QTY', 'QTK'));

-- Tomorrow 'summer' is active (300 x 10 % = 30, no expiry) and 'spring' still is
-- (its lot then expires on the 9th): 25 + 15 + 30 = 70.
SET wallet.now = '2026-01-02 00:00:00+00';
SELECT * FROM wallet.bonus_preview('QTU', 300);
SELECT bonus FROM wallet.top_up(:alice, 300, 'alice-summer');
SELECT lot_id, bucket, amount, expires_at, scope, refundable_until FROM pg_temp.lots(:alice) WHERE source = 'alice-summer';

-- A rate bonus rounds half away from zero: 100.10 gets base 10, spring 100.10 x 5 % = 5.005
-- -> 5.01 and summer 100.10 x 10 % = 10.01: 25.02.
SELECT wallet.open('topup-dave', 'QTU') AS dave \gset
SELECT * FROM wallet.bonus_preview('QTU', 100.10);
SELECT bonus FROM wallet.top_up(:dave, 100.10, 'dave-1');

-- The refund window comes from the currency's policy: with 7 days, dave's next top-up is
-- refundable until the 9th.
SELECT currency, refund_window FROM wallet.set_policy('QTU', refund_window => '7 days');
SELECT bonus FROM wallet.top_up(:dave, 50, 'dave-2');
SELECT lot_id, bucket, amount, source, refundable_until FROM pg_temp.lots(:dave) ORDER BY lot_id;

-- A top-up's journal row leaves out null arguments, an empty list of coupons and a campaign
-- fee rate of none; the arguments given are kept, and a replay still finds its result.
SELECT request, result - 'txn_id' - 'refundable_until' AS result
  FROM wallet.txn WHERE wallet_id = :dave AND idempotency_key = 'dave-2';
SELECT bonus, replayed, coupons FROM wallet.top_up(:dave, 50, 'dave-2');
SELECT bonus FROM wallet.top_up(:dave, 10, 'dave-3', method => 'card', external_ref => 'gw-1');
SELECT request FROM wallet.txn WHERE wallet_id = :dave AND idempotency_key = 'dave-3';
SELECT bonus, replayed FROM wallet.top_up(:dave, 10, 'dave-3', method => 'card', external_ref => 'gw-1');
-- the same key with another method is another operation: WL003
SELECT bonus, replayed FROM wallet.top_up(:dave, 10, 'dave-3', method => 'wire', external_ref => 'gw-1');
\echo :SQLSTATE
