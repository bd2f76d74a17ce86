-- ops_0.1.sql: real operations through the 0.1 functions, before ALTER EXTENSION UPDATE
-- (run by test/suites/upgrade.sh). Ids are captured in table upgrade_ids for the checks after.
\set ON_ERROR_STOP on
\set SHOW_CONTEXT never
SET wallet.now = '2026-01-05 10:00:00+00';
SELECT wallet.add_bonus_rule('CNY', 100, 10, valid_for => '7 days');
SELECT wallet.set_policy('CNY', commission_rate => 0.1);
SELECT wallet.add_coupon_template('UP-5OFF', 'CNY', 'amount', 5, min_order => 20);
CREATE TABLE upgrade_ids (name text PRIMARY KEY, id bigint NOT NULL);
INSERT INTO upgrade_ids
SELECT 'alice', wallet.open('up-alice') UNION ALL SELECT 'bob', wallet.open('up-bob')
UNION ALL SELECT 'shop', wallet.open('up-shop') UNION ALL SELECT 'usd', wallet.open('up-usd', 'USD');
SELECT id AS alice FROM upgrade_ids WHERE name = 'alice' \gset
SELECT id AS bob FROM upgrade_ids WHERE name = 'bob' \gset
SELECT id AS shop FROM upgrade_ids WHERE name = 'shop' \gset
SELECT id AS usd FROM upgrade_ids WHERE name = 'usd' \gset

-- top-ups (one with a bonus), spends paying the shop, a replay
INSERT INTO upgrade_ids SELECT 'top_a1', txn_id FROM wallet.top_up(:alice, 200, 'up-top-a1', 'card');
INSERT INTO upgrade_ids SELECT 'top_a2', txn_id FROM wallet.top_up(:alice, 50, 'up-top-a2', 'card');
INSERT INTO upgrade_ids SELECT 'top_b1', txn_id FROM wallet.top_up(:bob, 80, 'up-top-b1');
INSERT INTO upgrade_ids SELECT 'top_u1', txn_id FROM wallet.top_up(:usd, 30, 'up-top-u1');
SELECT replayed FROM wallet.top_up(:alice, 200, 'up-top-a1', 'card');
INSERT INTO upgrade_ids SELECT 'spend_a1', txn_id FROM wallet.spend(:alice, 60, 'up-spend-a1', scene => 'shop', payee => :shop);
INSERT INTO upgrade_ids SELECT 'spend_b1', txn_id FROM wallet.spend(:bob, 25, 'up-spend-b1', payee => :shop);
INSERT INTO upgrade_ids SELECT 'spend_u1', txn_id FROM wallet.spend(:usd, 10, 'up-spend-u1');

-- a coupon issued and redeemed
SELECT wallet.issue_coupon('UP-5OFF', :bob, 'up-coupon-b') AS code \gset
INSERT INTO upgrade_ids SELECT 'spend_b2', txn_id FROM wallet.spend(:bob, 30, 'up-spend-b2', coupon => :'code');

-- a partial reversal, a refund request approved and settled, one pending
SET wallet.now = '2026-01-06 10:00:00+00';
INSERT INTO upgrade_ids SELECT 'rev_a1', txn_id FROM wallet.reverse_spend((SELECT id FROM upgrade_ids WHERE name = 'spend_a1'), 'up-rev-a1', 20);
INSERT INTO upgrade_ids SELECT 'refund_b1', refund_id FROM wallet.request_refund((SELECT id FROM upgrade_ids WHERE name = 'top_b1'), 'up-ref-b1', 10);
SELECT wallet.review_refund((SELECT id FROM upgrade_ids WHERE name = 'refund_b1'), true, 'ops');
SELECT wallet.settle_refund((SELECT id FROM upgrade_ids WHERE name = 'refund_b1'), true, 'gw-1');
INSERT INTO upgrade_ids SELECT 'refund_a2', refund_id FROM wallet.request_refund((SELECT id FROM upgrade_ids WHERE name = 'top_a2'), 'up-ref-a2');

-- a freeze and unfreeze, bonus expiry, credit roll-up, reports, reconciliation
SELECT wallet.freeze(:bob, 'check'), wallet.unfreeze(:bob);
SET wallet.now = '2026-01-20 10:00:00+00';
SELECT count(*) FROM wallet.expire_bonus();
SELECT wallet.rollup_credits();
SELECT wallet.refresh_reports() > 0 AS rolled_up;
SELECT count(*) AS discrepancies FROM wallet.reconcile();
