-- statement: what an application shows a customer (CONTRACT.md section 21). wallet.statement
-- lists every journal row that changed a wallet, newest first, with this wallet's changes per
-- bucket: its own operations and the rows other wallets wrote that changed it (a payee's
-- credit, before and after its roll-up; a transfer in; a reversal taken back from a payee).
-- wallet.transaction shows one row with its postings; wallet.refund_status a refund as it is
-- now (a replay of request_refund keeps returning what the request returned).
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- Bonus of wallets of earlier stories expiring by the end of this one is written off first, and
-- their credits rolled up, so that this story's sweeps below write this story's rows only (and
-- its ids read the same whatever ran before).
SET wallet.now = '2026-07-12 10:00:00+00';
SELECT count(*) >= 0 AS swept FROM wallet.expire_bonus(), wallet.rollup_credits();
SET wallet.now = '2026-07-01 10:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9900000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9900000) AS t0,
       setval(pg_get_serial_sequence('wallet.refund', 'refund_id'), 9900000) AS r0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 9900000) AS h0,
       setval(pg_get_serial_sequence('wallet.withdrawal', 'withdrawal_id'), 9900000) AS d0,
       setval(pg_get_serial_sequence('wallet.card_intake', 'intake_id'), 9900000) AS i0,
       setval(pg_get_serial_sequence('wallet.card_item', 'item_id'), 9900000) AS c0 \gset

-- Currencies of this story: QST (a payee keeps 90 % of a sale; top-ups of 100 or more get a
-- bonus of 10, valid 10 days; a spend earns 1 point a unit) and QSV, which QST buys at 2.
INSERT INTO wallet.currency (code, exponent) VALUES ('QST', 2), ('QSV', 2);
SELECT currency FROM wallet.set_policy('QST', commission_rate => 0.1);
SELECT wallet.add_bonus_rule('QST', 100, bonus_fixed => 10, valid_for => '10 days') IS NOT NULL AS bonus_rule,
       wallet.add_reward_rule('QST', 1) IS NOT NULL AS reward_rule,
       wallet.set_fx_rate('QST', 'QSV', 2, valid_from => '2026-06-01') IS NOT NULL AS fx_rate;

SELECT wallet.open('st-alice', 'QST') AS alice, wallet.open('st-shop', 'QST') AS shop,
       wallet.open('st-alice', 'QSV') AS alice_qsu \gset

-- pg_temp.st shows a statement without the times (all at the story's clock) and keys.
CREATE FUNCTION pg_temp.st(wid bigint, before_txn bigint DEFAULT NULL, max_rows int DEFAULT 50)
  RETURNS TABLE (txn bigint, kind text, amount numeric, cash numeric, bonus numeric, earnings numeric,
                 held numeric, debt numeric, available_after numeric, counterparty bigint, order_ref text)
  LANGUAGE sql AS $$
  SELECT s.txn_id - 9900000, s.kind, s.amount, s.cash, s.bonus, s.earnings, s.held, s.debt, s.available_after,
         s.counterparty - 9900000, s.order_ref
    FROM wallet.statement(wid, before_txn, max_rows) s $$;
-- pg_temp.truth lists the journal rows of a wallet (its own, those that move no money
-- included) and those with a leg of it, found by a scan of the whole journal: what the
-- statement must list, by its index-driven paths.
CREATE FUNCTION pg_temp.truth(wid bigint) RETURNS SETOF bigint LANGUAGE sql AS $$
  SELECT t.txn_id FROM wallet.txn t
   WHERE t.wallet_id = wid OR EXISTS (SELECT 1 FROM unnest(t.postings) p WHERE p.wallet_id = wid)
   ORDER BY t.txn_id DESC $$;
-- pg_temp.check_statement compares a wallet's statement with the truth and its balance: the
-- same rows, each bucket's changes adding up to the balance, available_after stepping by
-- each row's changes and ending at what the journal gives the wallet now.
CREATE FUNCTION pg_temp.check_statement(wid bigint)
  RETURNS TABLE (rows bigint, same_rows boolean, buckets_add_up boolean, available_steps boolean)
  LANGUAGE sql AS $$
  WITH s AS (SELECT * FROM wallet.statement(wid, max_rows => 1000)),
       b AS (SELECT * FROM wallet.balance(wid))
  SELECT (SELECT count(*) FROM s),
         (SELECT array_agg(s.txn_id ORDER BY s.txn_id DESC) FROM s) = (SELECT array_agg(x) FROM pg_temp.truth(wid) x),
         (SELECT coalesce(sum(s.cash), 0) = b.cash AND coalesce(sum(s.held), 0) = b.held
                 AND coalesce(sum(s.debt), 0) = b.debt
                 AND coalesce(sum(s.bonus), 0) = b.bonus AND coalesce(sum(s.earnings), 0) = b.earnings
            FROM s, b GROUP BY b.cash, b.held, b.debt, b.bonus, b.earnings),
         (SELECT bool_and(x.ok) FROM (
            SELECT s.available_after = coalesce(lag(s.available_after) OVER (ORDER BY s.txn_id DESC)
                                                - lag(s.cash + s.bonus + s.earnings) OVER (ORDER BY s.txn_id DESC),
                                                s.available_after) AS ok
              FROM s) x) $$;

------------------------------------------------------------------------------
-- A top-up and a spend paying the shop: the spend is on both statements
------------------------------------------------------------------------------
SELECT bonus FROM wallet.top_up(:alice, 200, 'st-top-1');
SELECT txn_id - :t0 AS spend, charged, bonus_used, cash_used, points
  FROM wallet.spend(:alice, 50, 'st-spend-1', payee => :shop, order_ref => 'order-1') \gset
SELECT * FROM pg_temp.st(:alice);
-- the shop's credit waits in wallet.payee_credit (not rolled up yet): the shop's statement
-- shows the spend, its earnings +45 (50 less 10 % commission), alice as counterparty, and no key
-- (the key is alice's)
SELECT count(*) AS pending_credits FROM wallet.payee_credit WHERE wallet_id = :shop;
SELECT * FROM pg_temp.st(:shop);
SELECT idempotency_key FROM wallet.statement(:shop);
-- alice's 50 points are a journal row of her PTS wallet (kind reward), on its statement
SELECT wallet.open('st-alice', 'PTS') AS alice_pts \gset
SELECT * FROM pg_temp.st(:alice_pts);

-- after the roll-up the credit is in the shop's lots: the same row, found through wallet.txn_party
SELECT wallet.rollup_credits() > 0 AS rolled_up;
SELECT count(*) AS pending_credits FROM wallet.payee_credit WHERE wallet_id = :shop;
SELECT count(*) AS party_rows FROM wallet.txn_party WHERE wallet_id = :shop;
SELECT * FROM pg_temp.st(:shop);

------------------------------------------------------------------------------
-- A reversal: alice gets 10 back, the shop gives back 9, the points wallet 10 points
------------------------------------------------------------------------------
SELECT bonus_returned, cash_returned FROM wallet.reverse_spend(:spend + :t0, 'st-rev-1', 10);
SELECT * FROM pg_temp.st(:alice, max_rows => 1);
SELECT * FROM pg_temp.st(:shop);
SELECT * FROM pg_temp.st(:alice_pts);

------------------------------------------------------------------------------
-- A transfer from the shop to alice: both sides (alice's side not rolled up yet)
------------------------------------------------------------------------------
SELECT amount, fee FROM wallet.transfer(:shop, :alice, 20, 'st-tr-1');
SELECT * FROM pg_temp.st(:shop, max_rows => 1);
SELECT * FROM pg_temp.st(:alice, max_rows => 1);

------------------------------------------------------------------------------
-- Holds, a capture and a release; a withdrawal; an adjustment; a card payout; an exchange
------------------------------------------------------------------------------
SELECT held FROM wallet.hold(:alice, 30, 'st-hold-1', order_ref => 'order-2');
SELECT captured, released, status FROM wallet.capture_hold(:h0 + 1, 'st-cap-1', 20, final => false);
SELECT released, status FROM wallet.release_hold(:h0 + 1, 'st-rel-1');
SELECT status FROM wallet.request_withdrawal(:alice, 5, 'st-wd-1', 'bank:alice');
SELECT wallet.review_withdrawal(:d0 + 1, true, 'ops-anna') AS reviewed,
       wallet.settle_withdrawal(:d0 + 1, true, 'gw-w1') AS settled;
SELECT replayed FROM wallet.adjust(:alice, 'cash', 3, 'goodwill', 'st-adj-1');
SELECT wallet.set_card_type('stm', 'Statement card', 'QST', 'supermarket') IS NOT NULL AS card_type,
       wallet.add_card_rate('stm', 0.9) IS NOT NULL AS card_rate;
SELECT items, status FROM wallet.submit_cards(:alice, 'stm', '{10}', '{STMT111122223333}', 'st-card-1');
SELECT status FROM wallet.verify_card(:c0 + 1, true);
SELECT paid, status FROM wallet.settle_intake(:i0 + 1, 'st-settle-1');
SELECT fee, to_amount FROM wallet.exchange(:alice, :alice_qsu, 4, 'st-fx-1');
SELECT * FROM pg_temp.st(:alice, max_rows => 10);
SELECT * FROM pg_temp.st(:alice_qsu);

------------------------------------------------------------------------------
-- Refunds: wallet.refund_status follows the refund; a replay of the request does not
------------------------------------------------------------------------------
SELECT txn_id - :t0 AS topup2 FROM wallet.top_up(:alice, 100, 'st-top-2') \gset
SELECT refund_id - :r0 AS refund, amount, fee, net, bonus_void, status
  FROM wallet.request_refund(:topup2 + :t0, 'st-ref-1', 50);
SELECT refund_id - :r0 AS refund, amount, status, reviewed_at, settled_at FROM wallet.refund_status(:r0 + 1);
SELECT wallet.review_refund(:r0 + 1, true, 'ops-anna') AS reviewed;
SELECT status, replayed FROM wallet.request_refund(:topup2 + :t0, 'st-ref-1', 50);
SELECT amount, status, reviewer, reviewed_at, settled_at FROM wallet.refund_status(:r0 + 1);
SELECT wallet.settle_refund(:r0 + 1, true, 'gw-r1') AS settled;
SELECT amount, net, status, gateway_ref, settled_at FROM wallet.refund_status(:r0 + 1);
-- another, rejected: everything goes back
SELECT status FROM wallet.request_refund(:topup2 + :t0, 'st-ref-2', 10);
SELECT wallet.review_refund(:r0 + 2, false, 'ops-anna', 'not needed') AS reviewed;
SELECT refund_id - :r0 AS refund, amount, status, reviewer, review_note FROM wallet.refund_status(:r0 + 2);
SELECT * FROM pg_temp.st(:alice, max_rows => 6);
-- unknown or null refund
SELECT * FROM wallet.refund_status(-1);
SELECT * FROM wallet.refund_status(NULL);

------------------------------------------------------------------------------
-- Expiry: a third top-up's bonus of 10, 11 days on, is written off (the 2 of bonus the reversal
-- gave back went to the hold and its capture)
------------------------------------------------------------------------------
SELECT bonus FROM wallet.top_up(:alice, 100, 'st-top-3');
SET wallet.now = '2026-07-12 10:00:00+00';
SELECT wallets >= 1 AS expired FROM wallet.expire_bonus();
SELECT * FROM pg_temp.st(:alice, max_rows => 2);

------------------------------------------------------------------------------
-- Every wallet's statement is its whole history: the same rows as a scan of the journal finds,
-- the buckets add up to the balance, available_after steps by each row
------------------------------------------------------------------------------
SELECT 'alice' AS wallet, * FROM pg_temp.check_statement(:alice)
UNION ALL SELECT 'shop', * FROM pg_temp.check_statement(:shop)
UNION ALL SELECT 'alice_pts', * FROM pg_temp.check_statement(:alice_pts)
UNION ALL SELECT 'alice_qsu', * FROM pg_temp.check_statement(:alice_qsu);
-- and what alice had available after her latest row is what her balance says now
SELECT (SELECT available_after FROM wallet.statement(:alice, max_rows => 1)) AS available_after,
       (SELECT available FROM wallet.balance(:alice)) AS available;
-- the shop with a credit waiting: on its statement at once, available_after counts it
SELECT txn_id - :t0 AS spend2 FROM wallet.spend(:alice, 10, 'st-spend-2', payee => :shop) \gset
SELECT count(*) AS pending_credits FROM wallet.payee_credit WHERE wallet_id = :shop;
SELECT * FROM pg_temp.st(:shop, max_rows => 2);
SELECT 'shop' AS wallet, * FROM pg_temp.check_statement(:shop);
-- the shop gives all its earnings away, then the spend is reversed: what the shop cannot give
-- back is its debt, on its statement as debt +9
SELECT amount FROM wallet.transfer(:shop, :alice, NULL, 'st-tr-2');
SELECT cash_returned FROM wallet.reverse_spend(:spend2 + :t0, 'st-rev-2');
SELECT * FROM pg_temp.st(:shop, max_rows => 2);
-- the shop's next credit repays the debt first: its roll-up writes the shop's own repay_debt row
SELECT charged FROM wallet.spend(:alice, 10, 'st-spend-3', payee => :shop);
SELECT wallet.rollup_credits() > 0 AS rolled_up;
SELECT * FROM pg_temp.st(:shop, max_rows => 3);
SELECT 'shop' AS wallet, * FROM pg_temp.check_statement(:shop)
UNION ALL SELECT 'alice', * FROM pg_temp.check_statement(:alice);

------------------------------------------------------------------------------
-- Keyset pages: before_txn continues where a page ended, without gaps or repeats
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.pages(wid bigint, size int) RETURNS TABLE (pages int, rows int, same boolean)
  LANGUAGE plpgsql AS $$
DECLARE
  got bigint[] := '{}';
  page bigint[];
  before bigint := NULL;
  n int := 0;
BEGIN
  LOOP
    SELECT array_agg(s.txn_id ORDER BY s.txn_id DESC) INTO page FROM wallet.statement(wid, before, size) s;
    EXIT WHEN page IS NULL;
    n := n + 1;
    got := got || page;
    before := page[array_length(page, 1)];
  END LOOP;
  RETURN QUERY SELECT n, coalesce(array_length(got, 1), 0),
    got = (SELECT array_agg(s.txn_id ORDER BY s.txn_id DESC) FROM wallet.statement(wid, max_rows => 1000) s);
END $$;
SELECT * FROM pg_temp.pages(:alice, 1)
UNION ALL SELECT * FROM pg_temp.pages(:alice, 4)
UNION ALL SELECT * FROM pg_temp.pages(:shop, 2);
-- a page before a given transaction: the rows with a smaller txn_id
SELECT txn, kind FROM pg_temp.st(:alice, :spend + :t0 + 1, 3);
SELECT txn, kind FROM pg_temp.st(:alice, :t0 + 1, 3);
-- since: only rows made at or after it
SELECT count(*) AS rows_since FROM wallet.statement(:alice, since => '2026-07-12 00:00:00+00');
SELECT count(*) AS rows_since FROM wallet.statement(:alice, since => '2026-07-13 00:00:00+00');
-- the shop's since July 12th: credits from alice's spends (through wallet.txn_party), the
-- transfer, the reversal and the debt repaid; the sale of July 1st is left out
SELECT txn_id - :t0 AS txn, kind, amount FROM wallet.statement(:shop, since => '2026-07-12 00:00:00+00');
SELECT txn_id - :t0 AS txn, kind FROM wallet.statement(:shop, before_txn => :spend2 + :t0 + 3, max_rows => 1,
                                                        since => '2026-07-12 00:00:00+00');
SELECT count(*) AS rows_all FROM wallet.statement(:alice, since => '2026-01-01 00:00:00+00', max_rows => 1000);
-- max_rows bounds; bad input (22023); an unknown wallet (WL006)
SELECT count(*) AS max_rows_1000 FROM wallet.statement(:alice, max_rows => 1000);
SELECT * FROM wallet.statement(:alice, max_rows => 0);
SELECT * FROM wallet.statement(:alice, max_rows => 1001);
SELECT * FROM wallet.statement(:alice, max_rows => NULL);
SELECT * FROM wallet.statement(:alice, before_txn => 0);
SELECT * FROM wallet.statement(NULL);
SELECT * FROM wallet.statement(-1);

------------------------------------------------------------------------------
-- One transaction with its postings
------------------------------------------------------------------------------
SELECT txn_id - :t0 AS txn, wallet_id - :w0 AS wallet, kind, amount, currency, idempotency_key, order_ref, postings
  FROM wallet.transaction(:spend + :t0);
SELECT kind, ref_txn - :t0 AS ref_txn, postings FROM wallet.transaction(:spend + :t0 + 3);
SELECT * FROM wallet.transaction(-1);
SELECT * FROM wallet.transaction(NULL);

-- the books
SELECT * FROM wallet.reconcile();
