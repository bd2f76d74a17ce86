-- rewards: points earned by spending (CONTRACT.md section 18). A spend, a hold's capture or a
-- split payment of at least a rule's min_spend in its scene (NULL: any) credits the same
-- owner's wallet in the points currency (opened if missing) with floor(charged x
-- points_per_unit) points, bonus expiring after valid_for, against reward_expense, in the same
-- transaction. Of the rules that apply, the one with the greatest min_spend; on a tie a rule of
-- the scene before one of any scene, then the newest. A reversal takes the points back in the
-- spend's proportion (half away from zero on the running total, the last reversal takes what
-- is left); points already spent become the points wallet's debt, repaid by later points.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-07-01 10:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9650000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9650000) AS t0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 9650000) AS h0,
       setval(pg_get_serial_sequence('wallet.reward_rule', 'rule_id'), 9650000) AS r0 \gset

-- pg_temp.pts shows the points wallet of an owner: its balance (pending reward points count as
-- bonus, unless expired) and its debt.
CREATE FUNCTION pg_temp.pts(who text)
  RETURNS TABLE (wallet bigint, bonus numeric, available numeric, debt numeric)
  LANGUAGE sql AS $$
  SELECT b.wallet_id - 9650000, b.bonus, b.available, b.debt
    FROM wallet.wallet w CROSS JOIN LATERAL wallet.balance(w.wallet_id) b
   WHERE w.owner = who AND w.currency = 'PTS' $$;
-- pg_temp.check: reconcile finds nothing and each currency of the story sums to zero.
CREATE FUNCTION pg_temp.check()
  RETURNS TABLE (discrepancies bigint, qrw numeric, pts numeric)
  LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM wallet.reconcile()),
         (SELECT sum(p.amount) FROM wallet.postings p WHERE p.currency = 'QRW'),
         (SELECT sum(p.amount) FROM wallet.postings p WHERE p.currency = 'PTS') $$;

-- A currency of this story's own, without bonus or commission.
INSERT INTO wallet.currency (code, exponent) VALUES ('QRW', 2);

-- Rules are checked when written (22023): a points currency earns nothing, points go only into
-- a points currency, a rate not above 0, a min_spend finer than the currency, an empty
-- validity; a rule that does not exist cannot end (WL006).
SELECT wallet.add_reward_rule('PTS', 1);
SELECT wallet.add_reward_rule('QRW', 1, points_currency => 'USD');
SELECT wallet.add_reward_rule('QRW', 0);
SELECT wallet.add_reward_rule('QRW', 1, min_spend => 0.001);
SELECT wallet.add_reward_rule('QRW', 1, valid_for => '0 days');
SELECT wallet.end_reward_rule(1);

-- The rules of QRW:
--   any scene:            1 point a unit, valid 30 days
--   scene food:           2 points a unit, valid 30 days
--   any scene, from 100:  3 points a unit, valid 10 days
--   scene food, from 100: 0.5 point a unit, valid 5 days
SELECT wallet.add_reward_rule('QRW', 1, valid_for => '30 days') AS any_1,
       wallet.add_reward_rule('QRW', 2, scene => 'food', valid_for => '30 days') AS food_2,
       wallet.add_reward_rule('QRW', 3, min_spend => 100, valid_for => '10 days') AS any_3_from_100,
       wallet.add_reward_rule('QRW', 0.5, scene => 'food', min_spend => 100, valid_for => '5 days')
         AS food_half_from_100 \gset
SELECT :food_2 - :any_1 AS food_2, :any_3_from_100 - :any_1 AS any_3_from_100,
       :food_half_from_100 - :any_1 AS food_half_from_100;
-- audited as the other settings are
SELECT action, new ->> 'scene' AS scene, new ->> 'points_per_unit' AS per_unit, new ->> 'min_spend' AS min_spend
  FROM wallet.audit WHERE object LIKE 'reward_rule:%' AND new ->> 'currency' = 'QRW' ORDER BY id;
-- QRW's exponent cannot change now that rules use it (WL008), nor that of a points currency
-- a rule pays in (QRX: a rule that starts only in 2099)
UPDATE wallet.currency SET exponent = 3 WHERE code = 'QRW';
INSERT INTO wallet.currency (code, exponent, points) VALUES ('QRX', 0, true);
SELECT wallet.add_reward_rule('QRW', 1, points_currency => 'QRX', starts_at => '2099-01-01') > :any_1 AS later;
UPDATE wallet.currency SET exponent = 1 WHERE code = 'QRX';

-- carol has a QRW wallet with 1000 of cash and no points wallet yet; dave is a payee.
SELECT wallet.open('rw-carol', 'QRW') AS carol, wallet.open('rw-dave', 'QRW') AS dave \gset
SELECT bonus, replayed FROM wallet.top_up(:carol, 1000, 'rc-top');
SELECT count(*) AS carol_points_wallets FROM wallet.wallet WHERE owner = 'rw-carol' AND currency = 'PTS';

-- 1. 10.99 in no scene: only the rule of any scene applies, floor(10.99 x 1) = 10 points. The
--    points wallet is opened; the points are bonus at once (not rolled up yet).
SELECT charged, cash_used, points, replayed FROM wallet.spend(:carol, 10.99, 'rs1');
SELECT * FROM pg_temp.pts('rw-carol');
SELECT * FROM pg_temp.check();
SELECT wallet_id AS carol_pts FROM wallet.wallet WHERE owner = 'rw-carol' AND currency = 'PTS' \gset
-- the reward's own journal row in PTS (kind reward, ref_txn the spend): reward_expense pays it
SELECT t.txn_id - :t0 AS txn, t.kind, t.currency, t.amount, t.ref_txn - :t0 AS ref,
       t.result ->> 'expires_at' AS expires_at
  FROM wallet.transactions t JOIN wallet.wallet w USING (wallet_id)
 WHERE w.owner = 'rw-carol' AND w.currency = 'PTS' ORDER BY t.txn_id;
SELECT p.account, p.bucket, p.currency, p.amount FROM wallet.postings p
 WHERE p.txn_id = :t0 + 3 ORDER BY p.account;
-- a replay earns nothing more: the first result, points included
SELECT charged, points, replayed FROM wallet.spend(:carol, 10.99, 'rs1');
SELECT * FROM pg_temp.pts('rw-carol');

-- 2. 20 in scene food: the food rule and the rule of any scene both apply from 0; the scene's
--    rule wins: 20 x 2 = 40 points.
SELECT charged, points FROM wallet.spend(:carol, 20, 'rs2', scene => 'food');
-- 3. 150 in scene food: all four apply; the greatest min_spend (100) is a tie between the
--    food rule and the rule of any scene; the scene's wins, though it gives fewer points:
--    floor(150 x 0.5) = 75, valid 5 days.
SELECT charged, points FROM wallet.spend(:carol, 150, 'rs3', scene => 'food');
-- 4. 100 in scene shop: from 100, any scene: 100 x 3 = 300, valid 10 days.
SELECT charged, points FROM wallet.spend(:carol, 100, 'rs4', scene => 'shop');
-- 99.99 in scene shop is below 100: the rule of any scene from 0, floor(99.99) = 99.
SELECT charged, points FROM wallet.spend(:carol, 99.99, 'rs5', scene => 'shop');
-- 10 + 40 + 75 + 300 + 99 = 524 points
SELECT * FROM pg_temp.pts('rw-carol');
SELECT * FROM pg_temp.check();

-- 5. A capture is a spend: a hold of 40 in food captured for 30 earns 30 x 2 = 60 points, once
--    (its replay returns them, without crediting them again); the hold itself earns nothing.
SELECT hold_id AS h1 FROM wallet.hold(:carol, 40, 'rh1', scene => 'food') \gset
SELECT * FROM pg_temp.pts('rw-carol');
SELECT captured, released, status, points, replayed FROM wallet.capture_hold(:h1, 'rc1', 30);
SELECT captured, released, status, points, replayed FROM wallet.capture_hold(:h1, 'rc1', 30);
-- 524 + 60 = 584
SELECT * FROM pg_temp.pts('rw-carol');
SELECT * FROM pg_temp.check();

-- 6. A split payment is a spend: 50 to dave, in no scene: 50 points. Replayed: none more.
SELECT charged, points, replayed FROM wallet.spend_split(:carol, 50, 'rsp1', ARRAY[:dave]::bigint[], ARRAY[50]);
SELECT charged, points, replayed FROM wallet.spend_split(:carol, 50, 'rsp1', ARRAY[:dave]::bigint[], ARRAY[50]);
-- 584 + 50 = 634
SELECT * FROM pg_temp.pts('rw-carol');
SELECT * FROM pg_temp.check();
-- every reward of carol: one pending bonus credit each, with its expiry
SELECT c.amount, c.bucket, c.expires_at FROM wallet.payee_credit c JOIN wallet.wallet w USING (wallet_id)
 WHERE w.owner = 'rw-carol' ORDER BY c.txn_id;

-- 7. Expiry. On July 6th at 10:00 the 75 points of spend 3 (5 days) have expired: 634 - 75 =
--    559 remain usable. Rolled up, they become lots; expire_bonus writes the 75 off.
SET wallet.now = '2026-07-06 10:00:00+00';
SELECT * FROM pg_temp.pts('rw-carol');
SELECT wallet.rollup_credits() > 0 AS rolled_up;
-- (lots lists what is usable: the expired 75 are on the books until expire_bonus)
SELECT bucket, amount, expires_at FROM wallet.lots(:carol_pts) ORDER BY expires_at, amount;
SELECT * FROM pg_temp.check();
SELECT lots > 0 AS swept FROM wallet.expire_bonus();
SELECT kind, amount FROM wallet.transactions WHERE wallet_id = :carol_pts AND kind <> 'reward' ORDER BY txn_id;
SELECT * FROM pg_temp.pts('rw-carol');
SELECT * FROM pg_temp.check();
-- a rule that ended earns nothing: the rule of any scene from 0 ends now, so 20 in no scene
-- earns 0 points and no journal row in PTS
SELECT wallet.end_reward_rule(:any_1);
SELECT ends_at FROM wallet.reward_rule WHERE rule_id = :any_1;
SELECT charged, points FROM wallet.spend(:carol, 20, 'rs6');
SELECT count(*) AS reward_rows FROM wallet.transactions WHERE kind = 'reward' AND ref_txn = (
  SELECT txn_id FROM wallet.txn WHERE wallet_id = :carol AND idempotency_key = 'rs6');

-- 8. Reversals take the points back in proportion. Spend 4 (100, 300 points): a partial
--    reversal of 25 takes back round(300 x 25 / 100) = 75 points; replayed, nothing more.
SELECT txn_id AS s4 FROM wallet.txn WHERE wallet_id = :carol AND idempotency_key = 'rs4' \gset
SELECT cash_returned, replayed FROM wallet.reverse_spend(:s4, 'rv1', 25);
SELECT cash_returned, replayed FROM wallet.reverse_spend(:s4, 'rv1', 25);
-- 559 - 75 = 484
SELECT * FROM pg_temp.pts('rw-carol');
SELECT * FROM pg_temp.check();
-- a reversal of 33.33 more: round(300 x 58.33 / 100) = round(174.99) = 175, less the 75
-- already back: 100
SELECT cash_returned FROM wallet.reverse_spend(:s4, 'rv2', 33.33);
-- 484 - 100 = 384
SELECT * FROM pg_temp.pts('rw-carol');

-- 9. Points already spent become the points wallet's debt. carol spends 360 of her 384 points;
--    24 are left. The full reversal of the rest of spend 4 (41.67) takes back what is left of its
--    300 points, 300 - 75 - 100 = 125: 24 from the lots, 101 as debt.
SELECT charged, bonus_used, points FROM wallet.spend(:carol_pts, 360, 'rsp-pts');
SELECT * FROM pg_temp.pts('rw-carol');
SELECT cash_returned, replayed FROM wallet.reverse_spend(:s4, 'rv3');
SELECT * FROM pg_temp.pts('rw-carol');
-- the take-backs' journal rows in PTS (kind reward_back, ref_txn the reversal): reward_expense
-- gets back what the lots gave and what became debt
SELECT t.kind, t.amount, t.result ->> 'points_back' AS back, t.result ->> 'debt' AS debt
  FROM wallet.transactions t WHERE t.wallet_id = :carol_pts AND t.kind = 'reward_back' ORDER BY t.txn_id;
SELECT p.account, p.bucket, sum(p.amount) AS amount
  FROM wallet.postings p JOIN wallet.transactions t USING (txn_id)
 WHERE t.wallet_id = :carol_pts AND t.kind = 'reward_back' GROUP BY p.account, p.bucket ORDER BY 1, 2;
SELECT * FROM pg_temp.check();
-- a reversed spend cannot be reversed again (WL008): no points go back twice
SELECT * FROM wallet.reverse_spend(:s4, 'rv4', 1);

-- 10. Later points repay the debt first. A spend of 60 in food earns 120 points: the debt of
--     101 is repaid, 19 are bonus (the balance says so before the roll-up, which does it).
SELECT charged, points FROM wallet.spend(:carol, 60, 'rs7', scene => 'food');
SELECT * FROM pg_temp.pts('rw-carol');
SELECT wallet.rollup_credits() > 0 AS rolled_up;
SELECT * FROM pg_temp.pts('rw-carol');
SELECT * FROM pg_temp.check();

-- 11. A full reversal of a spend at once takes all its points: spend 2 (20 in food, 40 points).
SELECT txn_id AS s2 FROM wallet.txn WHERE wallet_id = :carol AND idempotency_key = 'rs2' \gset
SELECT cash_returned FROM wallet.reverse_spend(:s2, 'rv5');
SELECT t.result ->> 'points_back' AS back, t.result ->> 'debt' AS debt
  FROM wallet.transactions t WHERE t.wallet_id = :carol_pts AND t.kind = 'reward_back' AND t.ref_txn = (
    SELECT txn_id FROM wallet.txn WHERE wallet_id = :carol AND idempotency_key = 'rv5');
-- the 19 points of bonus gave 19 of the 40; 21 became debt
SELECT * FROM pg_temp.pts('rw-carol');
SELECT * FROM pg_temp.check();
SELECT * FROM wallet.reconcile();
