-- cards_debt: a card payout to a wallet in debt (CONTRACT.md sections 5 and 19). The payout is
-- a credit like any other: it repays the debt first (a repay_debt journal row), the rest is
-- earnings, whether the intake is paid at its settlement or by its review.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8970000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8970000) AS t0,
       setval(pg_get_serial_sequence('wallet.card_intake', 'intake_id'), 8970000) AS i0 \gset

-- A currency of this file's own; a day's card payouts above 100.00 wait for review.
INSERT INTO wallet.currency (code, exponent) VALUES ('QKD', 2);
SELECT card_review_daily FROM wallet.set_policy('QKD', card_review_daily => 100);
SELECT card_type FROM wallet.set_card_type('qcd_card', 'QKD card', 'QKD', face_values => '{100}');
SELECT wallet.add_card_rate('qcd_card', 0.9) IS NOT NULL AS rate_added;

SELECT wallet.open('cd-ann', 'QKD') AS ann, wallet.open('cd-shop', 'QKD') AS shop,
       wallet.open('cd-bob', 'QKD') AS bob \gset
-- pg_temp.bal shows a wallet's earnings and debt.
CREATE FUNCTION pg_temp.bal(wid bigint) RETURNS TABLE (earnings numeric, debt numeric)
  LANGUAGE sql AS $$ SELECT b.earnings, b.debt FROM wallet.balance(wid) b $$;

-- ann pays the shop 30; the shop passes its earnings on to bob; the sale is reversed: the
-- shop owes 30.
SELECT bonus FROM wallet.top_up(:ann, 100, 'ann-t1');
SELECT charged FROM wallet.spend(:ann, 30, 'ann-s1', payee => :shop);
SELECT amount FROM wallet.transfer(:shop, :bob, NULL, 'shop-give');
SELECT cash_returned FROM wallet.reverse_spend(
  (SELECT txn_id FROM wallet.txn WHERE wallet_id = :ann AND idempotency_key = 'ann-s1'), 'ann-r1');
SELECT * FROM pg_temp.bal(:shop);

------------------------------------------------------------------------------
-- Paid at its settlement
------------------------------------------------------------------------------
-- The shop sells a card of 100 at 0.9: 90.00, of which 30 repays the debt, 60 is earnings.
SELECT intake_id AS k1 FROM wallet.submit_cards(:shop, 'qcd_card', '{100}', '{CDSHOP00000001}', 'shop-c1') \gset
SELECT status, payout FROM wallet.verify_card((SELECT item_id FROM wallet.card_item WHERE intake_id = :k1), true);
SELECT paid, items_paid, status FROM wallet.settle_intake(:k1, 'shop-c1-settle');
SELECT * FROM pg_temp.bal(:shop);
SELECT kind, amount FROM wallet.txn WHERE wallet_id = :shop AND kind IN ('repay_debt', 'settle_intake') ORDER BY txn_id;

------------------------------------------------------------------------------
-- Paid by its review
------------------------------------------------------------------------------
-- The shop is put in debt again (a second sale of 40, all its earnings passed on, the sale
-- reversed); its next card would take the day's payouts to 180.00, above 100: review, nothing
-- credited; approved, the payout repays the 40 first.
SELECT charged FROM wallet.spend(:ann, 40, 'ann-s2', payee => :shop);
SELECT amount FROM wallet.transfer(:shop, :bob, NULL, 'shop-give-2');
SELECT cash_returned FROM wallet.reverse_spend(
  (SELECT txn_id FROM wallet.txn WHERE wallet_id = :ann AND idempotency_key = 'ann-s2'), 'ann-r2');
SELECT * FROM pg_temp.bal(:shop);
SELECT intake_id AS k2 FROM wallet.submit_cards(:shop, 'qcd_card', '{100}', '{CDSHOP00000002}', 'shop-c2') \gset
SELECT status FROM wallet.verify_card((SELECT item_id FROM wallet.card_item WHERE intake_id = :k2), true);
SELECT paid, status FROM wallet.settle_intake(:k2, 'shop-c2-settle');
SELECT * FROM pg_temp.bal(:shop);
SELECT wallet.review_intake(:k2, true, 'ops');
SELECT * FROM pg_temp.bal(:shop);
SELECT intake_id - :i0 AS intake, status, paid FROM wallet.intakes(:shop) ORDER BY intake_id;

SELECT * FROM wallet.reconcile();
