-- cards_faces: a batch of cards of several face values, quoted at submission (CONTRACT.md
-- section 19): each card is priced at its own face value's rate (face tiers, for the whole
-- batch's quantity), whatever the order of the faces in the batch.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8980000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8980000) AS t0,
       setval(pg_get_serial_sequence('wallet.card_intake', 'intake_id'), 8980000) AS i0 \gset

-- A currency and a card type of this file's own: 0.9 for every card, 0.95 from a face of 500,
-- a fee of 1 %.
INSERT INTO wallet.currency (code, exponent) VALUES ('QCF', 2);
SELECT card_type FROM wallet.set_card_type('qcf_card', 'QCF card', 'QCF', face_values => '{100, 500}', fee_rate => 0.01);
SELECT wallet.add_card_rate('qcf_card', 0.9) IS NOT NULL AS base, wallet.add_card_rate('qcf_card', 0.95, min_face => 500) IS NOT NULL AS tier;
SELECT wallet.open('cf-ann', 'QCF') AS ann \gset

-- One card of each face, as a quote shows them: 500 pays 475 - 4.75 = 470.25; 100 pays
-- 90 - 0.90 = 89.10.
SELECT rate, payout_each FROM wallet.card_quote('qcf_card', 500, 4);
SELECT rate, payout_each FROM wallet.card_quote('qcf_card', 100, 4);

-- A batch 500, 100, 500, 500: the third card's face was seen before (the first), the fourth's
-- is the third's: every 500 at 0.95 (470.25), the 100 at 0.9 (89.10); quoted_total
-- 3 x 470.25 + 89.10 = 1499.85.
SELECT items, duplicates, quoted_total FROM wallet.submit_cards(:ann, 'qcf_card', '{500, 100, 500, 500}',
  '{CFANN0000000001, CFANN0000000002, CFANN0000000003, CFANN0000000004}', 'ann-c1');
SELECT face_value, status, rate FROM wallet.intake_items(:i0 + 1);
-- Checked, each card pays its own: 3 x 470.25 + 89.10.
SELECT string_agg(v.status || ' ' || v.payout, ', ' ORDER BY i.position) AS checks
  FROM wallet.card_item i CROSS JOIN LATERAL wallet.verify_card(i.item_id, true) v WHERE i.intake_id = :i0 + 1;
SELECT paid, items_paid, status FROM wallet.settle_intake(:i0 + 1, 'ann-c1-settle');
SELECT earnings FROM wallet.balance(:ann);

SELECT * FROM wallet.reconcile();
