-- cards: gift and game cards bought from customers (CONTRACT.md section 19). A card type has
-- rate rows (face tiers, batch tiers, a member's own rows, validity windows); the quoted rate
-- is weighted by what the type's recent paid cards realized, clamped, rounded to 4 decimals;
-- payout = face * rate - fee, fee = face * rate * fee_rate. A submission holds 1 to 10,000
-- cards; a secret is kept only as a keyed hash and its last four characters, and a secret
-- already in an intake that was not rejected makes a duplicate. Each card is checked, then the
-- intake is paid to the earnings (card_purchase), or sent to review above card_review_daily.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-06-01 10:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9600000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8900000) AS t0,
       setval(pg_get_serial_sequence('wallet.card_rate', 'rate_id'), 9600000) AS r0,
       setval(pg_get_serial_sequence('wallet.card_quotes', 'quote_id'), 9600000) AS q0,
       setval(pg_get_serial_sequence('wallet.card_intake', 'intake_id'), 9600000) AS i0,
       setval(pg_get_serial_sequence('wallet.card_item', 'item_id'), 9600000) AS c0 \gset

INSERT INTO wallet.currency (code, exponent) VALUES ('QCD', 2);
SELECT card_quote_valid_for, card_review_daily FROM wallet.set_policy('QCD', card_review_daily => 3000);
-- the settings are checked when written
SELECT wallet.set_policy('QCD', card_review_daily => -1);
SELECT wallet.set_policy('QCD', card_review_daily => 0.001);
SELECT wallet.set_policy('QCD', card_quote_valid_for => '-5 minutes');

SELECT wallet.open('alice', 'QCD') AS alice, wallet.open('bob', 'QCD') AS bob,
       wallet.open('carol', 'QCD') AS carol \gset

------------------------------------------------------------------------------
-- Card types and their rates
------------------------------------------------------------------------------
SELECT card_type, currency, face_values, fee_rate, market_weight, rate_floor, rate_cap, active
  FROM wallet.set_card_type('mart', 'Supermarket card', 'QCD', 'supermarket', '{100, 500, 1000}', fee_rate => 0.01);
SELECT card_type, face_values, market_weight, market_window, rate_floor, rate_cap
  FROM wallet.set_card_type('niche', 'Niche shop card', 'QCD', 'ecommerce', market_weight => 0.5,
                            market_window => 3, rate_floor => 0.80, rate_cap => 0.90);
-- refused: finer than the currency, a floor above the cap, an unknown currency, a new type without one
SELECT wallet.set_card_type('bad', 'x', 'QCD', face_values => '{10.001}');
SELECT wallet.set_card_type('niche', rate_floor => 0.95);
SELECT wallet.set_card_type('bad', 'x', 'XXX');
SELECT wallet.set_card_type('bad', 'x');
SELECT wallet.set_card_type('Bad Name', 'x', 'QCD');

-- mart: 92 % for any face, 95 % from a face of 1000, batch tiers from 100 cards
SELECT wallet.add_card_rate('mart', 0.92) AS r_base,
       wallet.add_card_rate('mart', 0.95, min_face => 1000) AS r_1000,
       wallet.add_card_rate('mart', 0.93, min_quantity => 100) AS r_batch,
       wallet.add_card_rate('mart', 0.955, min_face => 1000, min_quantity => 100) AS r_1000_batch \gset
SELECT wallet.add_card_rate('mart', 0);
SELECT wallet.add_card_rate('mart', 1.5);
SELECT wallet.add_card_rate('mart', 0.9, min_face => 0.001);
SELECT wallet.add_card_rate('nothing', 0.9);
SELECT wallet.add_card_rate('mart', 0.9, valid_from => '2026-06-02', valid_until => '2026-06-01');

-- face tiers: below 1000 the base row, from 1000 the 1000 row
SELECT 100 AS face, rate, payout_each, fee_each, payout_total FROM wallet.card_quote('mart', 100);
SELECT 1000 AS face, rate, payout_each, fee_each, payout_total FROM wallet.card_quote('mart', 1000);
-- batch tiers: the greatest min_face first, then the greatest min_quantity
SELECT rate, payout_each, payout_total FROM wallet.card_quote('mart', 500, 100);
SELECT rate, payout_each, payout_total FROM wallet.card_quote('mart', 1000, 99);
SELECT rate, payout_each, payout_total FROM wallet.card_quote('mart', 1000, 100);
-- a face value the type does not take, an unknown or inactive type, a bad quantity
SELECT * FROM wallet.card_quote('mart', 200);
SELECT * FROM wallet.card_quote('nothing', 100);
SELECT * FROM wallet.card_quote('mart', 100, 0);
SELECT * FROM wallet.card_quote('mart', 100, 10001);
SELECT * FROM wallet.card_quote('mart', 100.001);
SELECT * FROM wallet.card_quote('niche', 100);

-- ties: rows with the same min_face and min_quantity: the later valid_from wins, then the later row
SELECT wallet.add_card_rate('niche', 0.85) AS n_a, wallet.add_card_rate('niche', 0.86) AS n_b \gset
SELECT rate FROM wallet.card_quote('niche', 100);
SELECT wallet.add_card_rate('niche', 0.84, valid_from => '2026-05-01') AS n_c \gset
SELECT rate FROM wallet.card_quote('niche', 100);
SELECT wallet.add_card_rate('niche', 0.83, valid_from => '2026-04-01') AS n_d \gset
SELECT rate FROM wallet.card_quote('niche', 100);
-- validity windows: not before valid_from, not from valid_until on
SELECT wallet.add_card_rate('mart', 0.97, min_face => 1000, valid_from => '2026-06-01 10:00:01+00') AS r_soon \gset
SELECT rate FROM wallet.card_quote('mart', 1000);
SET wallet.now = '2026-06-01 10:00:01+00';
SELECT rate FROM wallet.card_quote('mart', 1000);
SELECT wallet.end_card_rate(:r_soon, '2026-06-01 10:00:01+00');
SELECT wallet.end_card_rate(:r_soon, '2026-06-01 10:00:02+00');
SELECT rate FROM wallet.card_quote('mart', 1000);
SET wallet.now = '2026-06-01 10:00:02+00';
SELECT rate FROM wallet.card_quote('mart', 1000);
SELECT wallet.end_card_rate(-1);
SET wallet.now = '2026-06-01 10:00:00+00';

-- members' rates: a wallet's own rows win over the general ones whenever one of them matches,
-- even a lower tier (alice: 96 % for any face); bob's own row starts at 500 only
SELECT wallet.add_card_rate('mart', 0.96, wallet_id => :alice) AS r_alice,
       wallet.add_card_rate('mart', 0.94, min_face => 500, wallet_id => :bob) AS r_bob \gset
SELECT 'alice' AS who, rate, payout_each FROM wallet.card_quote('mart', 1000, wallet_id => :alice)
UNION ALL SELECT 'bob 1000', rate, payout_each FROM wallet.card_quote('mart', 1000, wallet_id => :bob)
UNION ALL SELECT 'bob 100', rate, payout_each FROM wallet.card_quote('mart', 100, wallet_id => :bob)
UNION ALL SELECT 'carol', rate, payout_each FROM wallet.card_quote('mart', 1000, wallet_id => :carol);
SELECT * FROM wallet.card_quote('mart', 100, wallet_id => -1);

------------------------------------------------------------------------------
-- Submitting cards
------------------------------------------------------------------------------
-- three cards of 1000 and one of 100 (priced now for a batch of 4): the third repeats the first
-- secret (blanks and hyphens are not part of a secret), so it is a duplicate within the batch
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{1000, 1000, 1000, 100}',
  '{AAAA-1111-2222-3333, BBBB111122223333, AAAA 1111 2222 3333, CCCC111122224444}', 'sub-1',
  batch_ref => 'B-1') \gset s1_
SELECT :s1_intake_id AS intake, :s1_items AS items, :s1_duplicates AS duplicates, :s1_quoted_total AS quoted_total;
SELECT item_id - :c0 AS item, face_value, last4, status, actual_face, rate, payout FROM wallet.intake_items(:s1_intake_id);
-- the secrets are nowhere in the tables: only a 32-byte hash and the last four characters
SELECT count(*) AS items, bool_and(length(secret_hash) = 32) AS hashed,
       bool_and(position('1111' IN encode(secret_hash, 'escape')) = 0) AS no_secret_in_hash
  FROM wallet.card_item WHERE intake_id = :s1_intake_id;
-- a replay returns the first answer; the same key with other cards is WL003
SELECT items, duplicates, quoted_total, status, replayed FROM wallet.submit_cards(:alice, 'mart', '{1000, 1000, 1000, 100}',
  '{AAAA-1111-2222-3333, BBBB111122223333, AAAA 1111 2222 3333, CCCC111122224444}', 'sub-1', batch_ref => 'B-1');
\set VERBOSITY terse
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{1000}', '{DDDD111122225555}', 'sub-1');
\set VERBOSITY default
-- bob submits a secret alice's intake holds (a duplicate across intakes, never paid) and a new one
SELECT items, duplicates, quoted_total, status FROM wallet.submit_cards(:bob, 'mart', '{500, 500}',
  '{bbbb111122223333, BBBB111122223333}', 'bob-1') \gset b1_
SELECT :b1_items AS items, :b1_duplicates AS duplicates, :b1_quoted_total AS quoted_total;
SELECT face_value, last4, status, rate FROM wallet.intake_items(:s1_intake_id + 1);

-- refused, never showing the secret: too short, not printable ASCII, null, the lengths differ,
-- no card, more than 10,000, a face value the type does not take, another currency's wallet
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{100}', '{AB-12 3}', 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{100}', '{ÄÖÜ1234567890}', 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{100}', ARRAY[E'ZZZZ\t1111\n2222'], 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{100}', ARRAY[repeat('Z', 129)], 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{100, 100}', ARRAY['ZZZZ11112222', NULL], 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{100, 100}', '{ZZZZ11112222}', 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{}', '{}', 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', array_fill(100::numeric, ARRAY[10001]),
  array_fill('ZZZZ11112222'::text, ARRAY[10001]), 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{100, 200}', '{ZZZZ11112222, ZZZZ11113333}', 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{100, NULL}', '{ZZZZ11112222, ZZZZ11113333}', 'bad-1');
SELECT * FROM wallet.submit_cards(:alice, 'nothing', '{100}', '{ZZZZ11112222}', 'bad-1');
SELECT wallet.open('dave', 'CNY') AS dave \gset
SELECT * FROM wallet.submit_cards(:dave, 'mart', '{100}', '{ZZZZ11112222}', 'bad-1');
SELECT * FROM wallet.submit_cards(-1, 'mart', '{100}', '{ZZZZ11112222}', 'bad-1');
-- none of them took its key or recorded anything
SELECT count(*) AS intakes FROM wallet.card_intake;

------------------------------------------------------------------------------
-- Quotes lock the rate
------------------------------------------------------------------------------
SELECT quote_id AS q1, rate, valid_until FROM wallet.card_quote('mart', 1000, 2, :carol) \gset
SELECT :'valid_until' AS valid_until;
-- the table changes (a new 99 % row); the quote keeps its rate
SELECT wallet.add_card_rate('mart', 0.99, min_face => 1000) AS r_99 \gset
SELECT items, quoted_total FROM wallet.submit_cards(:carol, 'mart', '{1000, 1000}', '{EEEE11112222AAAA, EEEE11112222BBBB}',
  'carol-1', quote_id => :q1);
SELECT DISTINCT rate FROM wallet.card_item i JOIN wallet.card_intake k USING (intake_id) WHERE k.quote_id = :q1;
-- a quote is used once; it must be for the batch's type, wallet, face value and at least its quantity
SELECT * FROM wallet.submit_cards(:carol, 'mart', '{1000, 1000}', '{EEEE11112222CCCC, EEEE11112222DDDD}', 'carol-2', quote_id => :q1);
SELECT quote_id AS q2 FROM wallet.card_quote('mart', 1000, 2, :carol) \gset
SELECT * FROM wallet.submit_cards(:alice, 'mart', '{1000, 1000}', '{EEEE11112222CCCC, EEEE11112222DDDD}', 'alice-q', quote_id => :q2);
SELECT * FROM wallet.submit_cards(:carol, 'mart', '{1000, 500}', '{EEEE11112222CCCC, EEEE11112222DDDD}', 'carol-2', quote_id => :q2);
SELECT * FROM wallet.submit_cards(:carol, 'mart', '{1000}', '{EEEE11112222CCCC}', 'carol-2', quote_id => :q2);
SELECT * FROM wallet.submit_cards(:carol, 'mart', '{1000}', '{EEEE11112222CCCC}', 'carol-2', quote_id => -1);
-- quotes expire: valid for 30 minutes (policy.card_quote_valid_for)
SET wallet.now = '2026-06-01 10:30:00+00';
SELECT * FROM wallet.submit_cards(:carol, 'mart', '{1000, 1000}', '{EEEE11112222CCCC, EEEE11112222DDDD}', 'carol-2', quote_id => :q2);
SET wallet.now = '2026-06-01 10:29:59.999999+00';
SELECT items, quoted_total FROM wallet.submit_cards(:carol, 'mart', '{1000, 1000}', '{EEEE11112222CCCC, EEEE11112222DDDD}',
  'carol-2', quote_id => :q2);
SET wallet.now = '2026-06-01 10:00:00+00';
SELECT wallet.end_card_rate(:r_99);

------------------------------------------------------------------------------
-- Checking the cards
------------------------------------------------------------------------------
-- alice's intake (her own rate, 96 %): card 1 valid, card 2 short (950 of 1000: paid
-- 950 * 0.96 - 1 % fee = 912 - 9.12), card 4 invalid
SELECT 1 AS card, * FROM wallet.verify_card(:c0 + 1, true);
SELECT 2 AS card, * FROM wallet.verify_card(:c0 + 2, true, 950, 'balance 950');
-- settling before every card is checked is refused
SELECT * FROM wallet.settle_intake(:s1_intake_id, 'settle-1');
SELECT 4 AS card, * FROM wallet.verify_card(:c0 + 4, false, note => 'used card');
-- the same check again answers the same; another, a duplicate, an unknown card are refused
SELECT * FROM wallet.verify_card(:c0 + 2, true, 950);
SELECT * FROM wallet.verify_card(:c0 + 2, true);
SELECT * FROM wallet.verify_card(:c0 + 4, false);
SELECT * FROM wallet.verify_card(:c0 + 2, false);
SELECT * FROM wallet.verify_card(:c0 + 4, true);
SELECT * FROM wallet.verify_card(:c0 + 3, true);
SELECT * FROM wallet.verify_card(-1, true);
SELECT * FROM wallet.verify_card(:c0 + 1, false, 10);
SELECT * FROM wallet.verify_card(:c0 + 1, NULL);
SELECT item_id - :c0 AS item, face_value, last4, status, actual_face, rate, payout FROM wallet.intake_items(:s1_intake_id);

------------------------------------------------------------------------------
-- Settlement: paid to the earnings, or to review above card_review_daily
------------------------------------------------------------------------------
SELECT txn_id - :t0 AS txn, paid, items_paid, status FROM wallet.settle_intake(:s1_intake_id, 'settle-1');
SELECT earnings, available, withdrawable FROM wallet.balance(:alice);
SELECT p.account, p.bucket, p.amount FROM wallet.postings p JOIN wallet.transactions t USING (txn_id)
 WHERE t.kind = 'settle_intake' AND t.wallet_id = :alice ORDER BY account;
-- a replay; a second key on a paid intake is refused
SELECT txn_id - :t0 AS txn, paid, items_paid, status FROM wallet.settle_intake(:s1_intake_id, 'settle-1');
SELECT * FROM wallet.settle_intake(:s1_intake_id, 'settle-2');
SELECT * FROM wallet.verify_card(:c0 + 1, true);
SELECT * FROM wallet.verify_card(:c0 + 3, true);
SELECT * FROM wallet.settle_intake(-1, 'x');

-- carol's two intakes of 2 x 1000, quoted at 95 % (1881.00) and 99 % (1960.20). The first is
-- paid (1881 <= 3000); the second would take her day to 3841.20 > 3000: review, nothing credited
SELECT array_agg(v.status ORDER BY i.item_id) AS checks
  FROM wallet.card_item i JOIN wallet.card_intake k USING (intake_id),
       LATERAL wallet.verify_card(i.item_id, true) v WHERE k.wallet_id = :carol;
SELECT min(intake_id) AS c1, max(intake_id) AS c2 FROM wallet.card_intake WHERE wallet_id = :carol \gset
SELECT paid, items_paid, status FROM wallet.settle_intake(:c1, 'cs-1');
SELECT paid, items_paid, status FROM wallet.settle_intake(:c2, 'cs-2');
SELECT paid, items_paid, status FROM wallet.settle_intake(:c2, 'cs-2');
SELECT earnings FROM wallet.balance(:carol);
-- review (wallet_admin's), six hours later: approve pays, a repeat answers the same, a reject
-- conflicts; an intake paid at once answers paid to an approval too; one not settled has no review
SET wallet.now = '2026-06-01 16:00:00+00';
SELECT wallet.review_intake(:c2, true, 'rita', 'known seller');
SELECT earnings FROM wallet.balance(:carol);
SELECT wallet.review_intake(:c2, true, 'rita');
SELECT wallet.review_intake(:c2, false, 'rita');
SELECT wallet.review_intake(:c1, true, 'rita');
SELECT wallet.review_intake(:s1_intake_id + 1, true, 'rita');
SELECT wallet.review_intake(:c1, false, NULL);
SELECT wallet.review_intake(-1, false, 'rita');
-- the next day: bob's intake of 4 x 1000 at his own 94 % = 4 x 930.60 = 3722.40 > 3000: review
SET wallet.now = '2026-06-02 10:00:00+00';
SELECT intake_id AS b2, quoted_total FROM wallet.submit_cards(:bob, 'mart', '{1000, 1000, 1000, 1000}',
  '{FFFF11112222AAAA, FFFF11112222BBBB, FFFF11112222CCCC, FFFF11112222DDDD}', 'bob-2') \gset
SELECT :'quoted_total' AS quoted_total;
SELECT count(*) FROM wallet.card_item i, LATERAL wallet.verify_card(i.item_id, true) WHERE i.intake_id = :b2;
SELECT paid, status FROM wallet.settle_intake(:b2, 'bs-2');
-- rejected: nothing paid, and its secrets may be submitted again (not duplicates)
SELECT wallet.review_intake(:b2, false, 'rita', 'stolen cards');
SELECT earnings FROM wallet.balance(:bob);
SELECT wallet.review_intake(:b2, false, 'rita');
SELECT wallet.review_intake(:b2, true, 'rita');
SELECT items, duplicates FROM wallet.submit_cards(:carol, 'mart', '{1000}', '{FFFF11112222AAAA}', 'carol-3');
SELECT status, count(*) FROM wallet.intake_items(:b2) GROUP BY 1;

------------------------------------------------------------------------------
-- Market weighting: niche weighs its table rate (84 %) half with what its last 3 paid cards
-- realized, clamped to [0.80, 0.90]
------------------------------------------------------------------------------
SET wallet.now = '2026-06-03 10:00:00+00';
SELECT rate FROM wallet.card_quote('niche', 100);   -- no history: the table rate
SELECT intake_id AS n1 FROM wallet.submit_cards(:alice, 'niche', '{100, 100, 100, 100}',
  '{NNNN1111AAAA0001, NNNN1111AAAA0002, NNNN1111AAAA0003, NNNN1111AAAA0004}', 'niche-1') \gset
SELECT wallet.verify_card(i.item_id, v.valid, v.actual)
  FROM wallet.card_item i JOIN (VALUES (1, true, NULL::numeric), (2, true, 40), (3, false, NULL), (4, true, NULL))
       AS v(pos, valid, actual) ON v.pos = i.position
 WHERE i.intake_id = :n1 ORDER BY i.position;
-- not paid yet: still no history
SELECT rate FROM wallet.card_quote('niche', 100);
SELECT paid, status FROM wallet.settle_intake(:n1, 'niche-s1');
-- the last 3 verified cards (positions 4, 2, 1; the invalid one is not in it): realized =
-- 0.84 * (100 + 40 + 100) / 300 = 0.672; 0.5 * 0.84 + 0.5 * 0.672 = 0.756, clamped up to the
-- floor 0.80; with the floor at 0.5: 0.756; with a window of 2 (positions 4, 2):
-- 0.84 * 140 / 200 = 0.588, 0.5 * 0.84 + 0.5 * 0.588 = 0.714
SELECT rate FROM wallet.card_quote('niche', 100);
SELECT rate FROM wallet.set_card_type('niche', rate_floor => 0.5), wallet.card_quote('niche', 100);
SELECT rate FROM wallet.set_card_type('niche', market_window => 2), wallet.card_quote('niche', 100);
-- a weight of 0 ignores the history; the cap clamps from above
SELECT rate FROM wallet.set_card_type('niche', market_weight => 0), wallet.card_quote('niche', 100);
SELECT rate FROM wallet.set_card_type('niche', rate_cap => 0.8333), wallet.card_quote('niche', 100);

------------------------------------------------------------------------------
-- A batch of 10,000 cards in one call
------------------------------------------------------------------------------
SELECT items, duplicates, quoted_total, status FROM wallet.submit_cards(:bob, 'mart',
  array_fill(100::numeric, ARRAY[10000]),
  ARRAY(SELECT 'BULK' || lpad(g::text, 8, '0') FROM generate_series(1, 10000) g), 'bulk-1');
SELECT count(*), count(DISTINCT secret_hash), min(position), max(position)
  FROM wallet.card_item i JOIN wallet.card_intake k USING (intake_id) WHERE k.wallet_id = :bob AND k.items = 10000;

------------------------------------------------------------------------------
-- Lists, report, journal, reconciliation
------------------------------------------------------------------------------
SELECT intake_id - :i0 AS intake, card_type, status, items, duplicates, verified, invalid, pending, quoted_total, paid,
       batch_ref, submitted_at, paid_at FROM wallet.intakes(:alice);
SELECT * FROM wallet.intakes(-1);
SELECT * FROM wallet.intake_items(-1);
SELECT * FROM wallet_report.card_intake_daily ORDER BY day, card_type;
SELECT kind, count(*), sum(amount) FROM wallet.transactions
 WHERE kind IN ('submit_cards', 'verify_card', 'settle_intake', 'review_intake') GROUP BY kind ORDER BY kind;
SELECT sum(amount) AS card_purchase FROM wallet.postings WHERE account = 'card_purchase';
SELECT * FROM wallet.reconcile();
