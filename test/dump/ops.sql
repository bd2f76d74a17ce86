-- ops.sql: a database that went through every operation, for the dump suite
-- (test/suites/dump.sh dumps it and restores it in every format).
\set ON_ERROR_STOP on
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET TimeZone = 'UTC';

-- Settings: a currency of the database's own (not seeded by the install), policies, base and
-- campaign bonus rules, coupon templates (one issued on open, one on top-ups, one by hand).
SET wallet.now = '2026-01-10 09:00:00+00';
INSERT INTO wallet.currency (code, exponent) VALUES ('QDM', 2);
SELECT currency FROM wallet.set_policy('CNY', refund_fee_rate => 0.01, commission_rate => 0.1,
                                       max_refunds_per_30_days => 2, refund_auto_approve_max => 5);
SELECT currency FROM wallet.set_policy('QDM', refund_window => '60 days');
SELECT wallet.add_bonus_rule('CNY', 100, 10, valid_for => '7 days') > 0 AS base_rule;
SELECT wallet.add_bonus_rule('CNY', 200, 25, scope => '{food}') > 0 AS base_rule_scoped;
SELECT wallet.add_bonus_rule('CNY', 100, bonus_rate => 0.05, valid_for => '30 days', campaign => 'spring',
                             starts_at => '2026-01-01', ends_at => '2026-06-01', refund_fee_rate => 0.02) > 0 AS campaign_rule;
SELECT wallet.add_bonus_rule('QDM', 50, 5) > 0 AS qdm_rule;
SELECT wallet.end_bonus_rule(wallet.add_bonus_rule('CNY', 1000, 1), '2026-01-11');
SELECT wallet.add_coupon_template('DUMP-WELCOME', 'CNY', 'amount', 3, issue_on => 'open', valid_for => '90 days');
SELECT wallet.add_coupon_template('DUMP-TOPUP', 'CNY', 'percent', 10, max_discount => 8, issue_on => 'top_up',
                                  issue_min_top_up => 200);
SELECT wallet.add_coupon_template('DUMP-5OFF', 'CNY', 'amount', 5, min_order => 20, total_limit => 100);
-- Exchange rates and points (CNY into USD and into points, a point a yuan spent on food), card
-- intake (a card type with a general rate, a member's rate added once the member exists, and
-- a small daily review threshold).
SELECT wallet.set_fx_rate('CNY', 'USD', 0.14, fee_rate => 0.01) > 0 AS fx_usd;
SELECT wallet.set_fx_rate('CNY', 'PTS', 10) > 0 AS fx_pts;
SELECT wallet.add_reward_rule('CNY', 1, scene => 'food', valid_for => '60 days') > 0 AS reward_rule;
SELECT card_type FROM wallet.set_card_type('dump_card', 'Dump card', 'CNY', face_values => '{100, 500}', fee_rate => 0.01);
SELECT wallet.add_card_rate('dump_card', 0.9) > 0 AS card_rate;
SELECT currency FROM wallet.set_policy('CNY', card_review_daily => 800);

-- January: wallets, top-ups, spends; no partition of January: its rows wait in the default.
SELECT wallet.open('dump-alice') AS alice, wallet.open('dump-bob') AS bob, wallet.open('dump-shop') AS shop,
       wallet.open('dump-carol', 'QDM') AS carol, wallet.open('dump-dave', 'USD') AS dave \gset
SELECT txn_id AS a1 FROM wallet.top_up(:alice, 300, 'dump-a1', 'card', 'ext-1') \gset
SELECT txn_id AS a2 FROM wallet.top_up(:alice, 50, 'dump-a2') \gset
SELECT txn_id AS b1 FROM wallet.top_up(:bob, 120, 'dump-b1', 'bank') \gset
SELECT txn_id AS c1 FROM wallet.top_up(:carol, 80, 'dump-c1') \gset
SELECT txn_id AS d1 FROM wallet.top_up(:dave, 40, 'dump-d1') \gset
SELECT replayed FROM wallet.top_up(:alice, 300, 'dump-a1', 'card', 'ext-1');
SELECT wallet.issue_coupon('DUMP-5OFF', :bob, 'dump-coupon-b') AS code_b \gset
SELECT txn_id AS s1 FROM wallet.spend(:alice, 60, 'dump-s1', scene => 'food', payee => :shop, order_ref => 'order-1') \gset
SELECT txn_id AS s2 FROM wallet.spend(:bob, 30, 'dump-s2', coupon => :'code_b', payee => :shop) \gset
SELECT txn_id AS s3 FROM wallet.spend(:dave, 100, 'dump-s3', allow_partial => true) \gset
SELECT code AS code_a FROM wallet.coupons(:alice) WHERE template_id = 'DUMP-TOPUP' \gset
SELECT txn_id AS s4 FROM wallet.spend(:alice, 40, 'dump-s4', coupon => :'code_a') \gset
-- alice earned 60 points with s1 (food): her points wallet was opened by the reward
SELECT wallet_id AS alice_pts FROM wallet.wallet WHERE owner = 'dump-alice' AND currency = 'PTS' \gset
SELECT wallet.open('dump-alice', 'USD') AS alice_usd \gset
SELECT wallet.add_card_rate('dump_card', 0.92, wallet_id => :alice) > 0 AS member_rate;

-- February: the monthly partitions are made (February and March); January stays in the
-- default partition. Reversals, refunds (auto-approved, reviewed and settled, pending,
-- rejected by the 30-day limit: a risk flag), a freeze.
SET wallet.now = '2026-02-03 09:00:00+00';
SELECT wallet.add_journal_partitions(1) AS partitions_made;
SELECT txn_id AS r1 FROM wallet.reverse_spend(:s1, 'dump-r1', 20) \gset
SELECT txn_id AS r2 FROM wallet.reverse_spend(:s2, 'dump-r2') \gset
SELECT refund_id AS f1 FROM wallet.request_refund(:b1, 'dump-f1', 3, 'user', 'small') \gset
SELECT refund_id AS f2 FROM wallet.request_refund(:a2, 'dump-f2', 20) \gset
SELECT wallet.review_refund(:f2, true, 'ops', 'ok');
SELECT wallet.settle_refund(:f2, true, 'gw-2');
SELECT wallet.settle_refund(:f1, false, 'gw-1');
SELECT refund_id AS f3 FROM wallet.request_refund(:b1, 'dump-f3', 10, 'platform') \gset
SELECT txn_id AS b2 FROM wallet.top_up(:bob, 50, 'dump-b2') \gset
SELECT status FROM wallet.request_refund(:b2, 'dump-f4', 1);
SELECT refund_id AS f5 FROM wallet.request_refund(:c1, 'dump-f5', 5) \gset
SELECT wallet.freeze(:bob, 'review');
SELECT wallet.unfreeze(:bob);
SELECT wallet.freeze(:dave, 'chargeback');
-- Card intake: alice sells three cards of 500 on a quote of her member's rate (0.92), one holds
-- 300, one is invalid: paid 455.40 + 273.24 = 728.64 (below the day's 800), then she exchanges
-- earnings into USD and into points; bob submits three, one of them alice's (a duplicate), his
-- intake goes to review (891.00 > 800) and stays there; the shop's first intake is paid, its
-- second goes to review (89.10 + 891.00 > 800) and is rejected (its secrets count no more); a
-- quote is left unused.
SELECT quote_id AS q1 FROM wallet.card_quote('dump_card', 500, 2, :alice) \gset
SELECT intake_id AS k1 FROM wallet.submit_cards(:alice, 'dump_card', '{500, 500, 500}',
                                                '{DUMP-ALICE-0001, DUMP-ALICE-0002, DUMP-ALICE-0003}',
                                                'dump-k1', :q1, 'alice-batch') \gset
SELECT status FROM wallet.verify_card((SELECT item_id FROM wallet.card_item WHERE intake_id = :k1 AND position = 1), true);
SELECT status FROM wallet.verify_card((SELECT item_id FROM wallet.card_item WHERE intake_id = :k1 AND position = 2), true, 300,
                                      'holds 300');
SELECT status FROM wallet.verify_card((SELECT item_id FROM wallet.card_item WHERE intake_id = :k1 AND position = 3), false,
                                      note => 'used already');
SELECT paid, status FROM wallet.settle_intake(:k1, 'dump-k1-settle');
SELECT to_amount FROM wallet.exchange(:alice, :alice_usd, 100, 'dump-fx-1');
SELECT to_amount FROM wallet.exchange(:alice, :alice_pts, 5, 'dump-fx-2');
SELECT intake_id AS k2 FROM wallet.submit_cards(:bob, 'dump_card', '{500, 500, 500}',
                                                '{DUMP-BOB-0001, DUMP-ALICE-0001, DUMP-BOB-0002}', 'dump-k2') \gset
SELECT count(*) AS checked FROM wallet.card_item i, wallet.verify_card(i.item_id, true)
 WHERE i.intake_id = :k2 AND i.status = 'pending';
SELECT paid, status FROM wallet.settle_intake(:k2, 'dump-k2-settle');
SELECT intake_id AS k3 FROM wallet.submit_cards(:shop, 'dump_card', '{100}', '{DUMP-SHOP-0001}', 'dump-k3') \gset
SELECT status FROM wallet.verify_card((SELECT item_id FROM wallet.card_item WHERE intake_id = :k3), true);
SELECT paid, status FROM wallet.settle_intake(:k3, 'dump-k3-settle');
SELECT intake_id AS k4 FROM wallet.submit_cards(:shop, 'dump_card', '{500, 500}', '{DUMP-SHOP-0002, DUMP-SHOP-0003}', 'dump-k4') \gset
SELECT count(*) AS checked FROM wallet.card_item i, wallet.verify_card(i.item_id, true) WHERE i.intake_id = :k4;
SELECT paid, status FROM wallet.settle_intake(:k4, 'dump-k4-settle');
SELECT wallet.review_intake(:k4, false, 'ops', 'not ours');
SELECT quote_id IS NOT NULL AS quoted FROM wallet.card_quote('dump_card', 100, 1);

-- March: expiry, reminders, roll-ups, reports, reconciliation; an alert of a run that found
-- discrepancies (recorded by hand: the books hold).
SET wallet.now = '2026-03-20 09:00:00+00';
SELECT txn_id AS a3 FROM wallet.top_up(:alice, 100, 'dump-a3') \gset
SELECT * FROM wallet.expire_bonus();
SELECT wallet.rollup_credits() >= 0 AS rolled;
-- the shop spends what it earned, then sale s1 is reversed in full: the shop owes the rest
-- (payee debt); an adjustment of earnings repays part of it; alice's cash gets a correction
SELECT charged > 0 AS shop_spent FROM wallet.spend(:shop, 1000, 'dump-shop-s', allow_partial => true);
-- alice's points wallet spends all it has; the reversal of s1 then takes back its points too:
-- the points wallet owes them (a debt), and an exchange into points repays part of it
SELECT charged > 0 AS points_spent FROM wallet.spend(:alice_pts, 100000, 'dump-pts-s', allow_partial => true);
SELECT txn_id AS r3 FROM wallet.reverse_spend(:s1, 'dump-r3') \gset
SELECT debt > 0 AS points_in_debt FROM wallet.balance(:alice_pts) \gset
\if :points_in_debt
\else
  \echo the points wallet should owe after the reversal
  SELECT 1/0;
\endif
SELECT to_amount FROM wallet.exchange(:alice, :alice_pts, 1, 'dump-fx-3');
-- an intake submitted and not checked yet
SELECT intake_id AS k5 FROM wallet.submit_cards(:shop, 'dump_card', '{100}', '{DUMP-SHOP-0004}', 'dump-k5') \gset
SELECT debt > 0 AS shop_in_debt FROM wallet.balance(:shop) \gset
\if :shop_in_debt
\else
  \echo the shop should owe after the reversal
  SELECT 1/0;
\endif
SELECT replayed FROM wallet.adjust(:shop, 'earnings', 2, 'goodwill', 'dump-adj-1');
SELECT replayed FROM wallet.adjust(:alice, 'cash', -1, 'double credit', 'dump-adj-2');
SELECT wallet.refresh_reports() > 0 AS refreshed;
SELECT count(*) AS discrepancies FROM wallet.reconcile();
INSERT INTO wallet.reconciliation_run (started_at, finished_at, discrepancies, details)
VALUES ('2026-03-20 09:00:00+00', '2026-03-20 09:00:01+00', 1, '[{"check_name": "drill"}]');
-- reminders of bonus about to expire, one of them delivered
SET wallet.now = '2026-03-25 08:00:00+00';
SELECT wallet.remind_expiring() AS reminded;
SELECT wallet.mark_notified(ARRAY(SELECT min(id) FROM wallet.notification)) AS delivered;
-- a spend after the roll-up (an unrolled tail for the reports), to the shop (a payee credit
-- waiting to be rolled up)
SELECT txn_id AS s5 FROM wallet.spend(:bob, 7, 'dump-s5', payee => :shop) \gset
