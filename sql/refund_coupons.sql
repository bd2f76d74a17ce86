-- refund_coupons: coupons issued by a top-up are part of its bonus value (CONTRACT.md
-- section 6). Refunding top-up T voids the coupons T issued that are still available, and
-- the discount of those already redeemed counts in u like spent bonus: clawed back once,
-- posted back to coupon_expense. A rejected or failed refund gives back exactly what it took.
-- And a refund request is validated (state, window, amount) before the 30-day limit counts it.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-25 00:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 3500000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 3500000) AS t0,
       setval(pg_get_serial_sequence('wallet.refund', 'refund_id'), 3500000) AS r0 \gset

-- A currency of this file's own. No bonus rules: the coupons are the top-ups' only bonus.
-- A top-up of 100 or more issues a coupon of 50 off (orders of 100 or more) and one of 10 %
-- off valid for 3 days; a wallet may hold 10 of each.
INSERT INTO wallet.currency (code, exponent) VALUES ('QRC', 2);
SELECT wallet.add_coupon_template('qrc-50off', 'QRC', 'amount', 50, min_order => 100,
                                  per_wallet_limit => 10, issue_on => 'top_up', issue_min_top_up => 100);
SELECT wallet.add_coupon_template('qrc-10pct', 'QRC', 'percent', 10, valid_for => '3 days',
                                  per_wallet_limit => 10, issue_on => 'top_up', issue_min_top_up => 100);

CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, bonus numeric, held numeric, available numeric)
  LANGUAGE sql AS $$ SELECT b.cash, b.bonus, b.held, b.available FROM wallet.balance(wid) b $$;
CREATE FUNCTION pg_temp.txn(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT txn_id FROM wallet.txn WHERE wallet_id = wid AND idempotency_key = k $$;
CREATE FUNCTION pg_temp.refund(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT refund_id FROM wallet.refund WHERE request_txn = pg_temp.txn(wid, k) $$;
-- pg_temp.coupons lists a wallet's coupons by template and status, without their codes.
CREATE FUNCTION pg_temp.coupons(wid bigint)
  RETURNS TABLE (template_id text, status text, n bigint)
  LANGUAGE sql AS $$
  SELECT c.template_id, c.status, count(*) FROM wallet.coupons(wid) c GROUP BY 1, 2 ORDER BY 1, 2 $$;
-- pg_temp.code is the code of a wallet's n-th coupon of a template.
CREATE FUNCTION pg_temp.code(wid bigint, tpl text, n int DEFAULT 1) RETURNS text
  LANGUAGE sql AS $$ SELECT c.code FROM wallet.coupon c WHERE c.wallet_id = wid AND c.template_id = tpl
                      ORDER BY c.issued_at, c.issue_txn OFFSET n - 1 LIMIT 1 $$;
-- pg_temp.postings lists the postings of one transaction.
CREATE FUNCTION pg_temp.postings(txn bigint)
  RETURNS TABLE (account text, bucket text, amount numeric)
  LANGUAGE sql AS $$ SELECT p.account, p.bucket, p.amount FROM wallet.postings p WHERE p.txn_id = txn
                      ORDER BY p.account DESC, p.bucket $$;

SELECT wallet.open('rc-farmer', 'QRC') AS farmer, wallet.open('rc-shopper', 'QRC') AS shopper,
       wallet.open('rc-late', 'QRC') AS late \gset
-- A week before the story the farmer tops up 10 (no coupon), refundable until 24 February.
SELECT cardinality(coupons) AS coupons FROM wallet.top_up(:farmer, 10, 'farm-t0');
SET wallet.now = '2026-02-01 00:00:00+00';

------------------------------------------------------------------------------
-- Farming: top up, take the coupons, refund the top-up in full; three times
------------------------------------------------------------------------------
-- Each refund voids the two coupons its top-up issued: the quote and the request say so,
-- and the farmer ends with all the money back and no usable coupon.
SELECT cardinality(coupons) AS coupons FROM wallet.top_up(:farmer, 100, 'farm-t1');
SELECT max_amount, bonus_clawback, coupon_clawback, coupons_voided
  FROM wallet.refund_quote(pg_temp.txn(:farmer, 'farm-t1'));
SELECT amount, net, bonus_clawback, coupon_clawback, coupons_voided, status
  FROM wallet.request_refund(pg_temp.txn(:farmer, 'farm-t1'), 'farm-r1');
-- while the request is open its coupons are voided already
SELECT * FROM pg_temp.coupons(:farmer);
SELECT wallet.review_refund(pg_temp.refund(:farmer, 'farm-r1'), true, 'ops'),
       wallet.settle_refund(pg_temp.refund(:farmer, 'farm-r1'), true, 'gw-1');
SELECT cardinality(coupons) AS coupons FROM wallet.top_up(:farmer, 100, 'farm-t2');
SELECT amount, coupon_clawback, coupons_voided
  FROM wallet.request_refund(pg_temp.txn(:farmer, 'farm-t2'), 'farm-r2');
SELECT wallet.review_refund(pg_temp.refund(:farmer, 'farm-r2'), true, 'ops'),
       wallet.settle_refund(pg_temp.refund(:farmer, 'farm-r2'), true, 'gw-2');
SELECT cardinality(coupons) AS coupons FROM wallet.top_up(:farmer, 100, 'farm-t3');
SELECT amount, coupon_clawback, coupons_voided
  FROM wallet.request_refund(pg_temp.txn(:farmer, 'farm-t3'), 'farm-r3');
SELECT wallet.review_refund(pg_temp.refund(:farmer, 'farm-r3'), true, 'ops'),
       wallet.settle_refund(pg_temp.refund(:farmer, 'farm-r3'), true, 'gw-3');
-- Nothing gained: no money but the 10 of the week before, six coupons, all voided ...
SELECT * FROM pg_temp.bal(:farmer);
SELECT * FROM pg_temp.coupons(:farmer);
-- ... and a voided coupon is refused, by validate_coupon and by spend (WL005).
SELECT valid, discount, reason FROM wallet.validate_coupon(pg_temp.code(:farmer, 'qrc-50off'), :farmer, 100);
SELECT wallet.top_up(:farmer, 20, 'farm-t4') IS NOT NULL AS topped_up;
SELECT * FROM wallet.spend(:farmer, 100, 'farm-s1', coupon => pg_temp.code(:farmer, 'qrc-50off'));
\echo :SQLSTATE

------------------------------------------------------------------------------
-- An invalid request is refused first, never counted as a rejected refund
------------------------------------------------------------------------------
-- The farmer has made 3 requests in 30 days (the limit). Asking for more than the top-up of
-- 20 holds is WL004: no rejected row, no risk flag, the refund report unchanged.
SELECT count(*) AS rows_before FROM wallet.refund WHERE wallet_id = :farmer;
SELECT status, count FROM wallet_report.refunds_daily WHERE currency = 'QRC' ORDER BY status;
SELECT * FROM wallet.request_refund(pg_temp.txn(:farmer, 'farm-t4'), 'farm-r4', 25);
\echo :SQLSTATE
-- So is a request for a top-up already refunded in full (nothing is refundable) ...
SELECT * FROM wallet.request_refund(pg_temp.txn(:farmer, 'farm-t1'), 'farm-r5');
\echo :SQLSTATE
-- ... and, on 25 February (the three requests of 1 February still count), one for the
-- top-up of 25 January, whose window has closed.
SET wallet.now = '2026-02-25 00:00:00+00';
SELECT * FROM wallet.request_refund(pg_temp.txn(:farmer, 'farm-t0'), 'farm-r7');
\echo :SQLSTATE
SET wallet.now = '2026-02-01 00:00:00+00';
SELECT count(*) AS rows_after, count(*) FILTER (WHERE status = 'rejected') AS rejected
  FROM wallet.refund WHERE wallet_id = :farmer;
SELECT count(*) AS flags FROM wallet.risk_flag WHERE wallet_id = :farmer;
SELECT status, count FROM wallet_report.refunds_daily WHERE currency = 'QRC' ORDER BY status;
-- A valid request beyond the limit is still recorded as rejected by 'limit' and flagged.
SELECT amount, status, coupon_clawback, coupons_voided
  FROM wallet.request_refund(pg_temp.txn(:farmer, 'farm-t4'), 'farm-r6', 20);
SELECT count(*) AS flags FROM wallet.risk_flag WHERE wallet_id = :farmer;
SELECT status, count FROM wallet_report.refunds_daily WHERE currency = 'QRC' ORDER BY status;

------------------------------------------------------------------------------
-- A redeemed coupon's discount is clawed back once
------------------------------------------------------------------------------
-- The shopper tops up 300 (two coupons) and spends 100 with the 50-off coupon: 50 charged.
SELECT cardinality(coupons) AS coupons FROM wallet.top_up(:shopper, 300, 'shop-t1');
SELECT pg_temp.txn(:shopper, 'shop-t1') AS ts \gset
SELECT charged, discount, cash_used
  FROM wallet.spend(:shopper, 100, 'shop-s1', coupon => pg_temp.code(:shopper, 'qrc-50off'));
-- c = 250, u = 50 (the discount): at most 200 is refundable; the 10 % coupon is voided.
SELECT max_amount, bonus_clawback, coupon_clawback, coupons_voided FROM wallet.refund_quote(:ts);
SELECT * FROM wallet.request_refund(:ts, 'shop-r0', 200.01);
\echo :SQLSTATE
-- A partial refund of 100 holds 150: 100 to pay out and 50 clawed back.
SELECT amount, net, bonus_clawback, coupon_clawback, coupons_voided, status
  FROM wallet.request_refund(:ts, 'shop-r1', 100);
SELECT pg_temp.refund(:shopper, 'shop-r1') AS rs1 \gset
SELECT * FROM pg_temp.bal(:shopper);
SELECT * FROM pg_temp.coupons(:shopper);
-- Reversing the coupon's spend must wait while the refund that claws its discount is open.
SELECT * FROM wallet.reverse_spend(pg_temp.txn(:shopper, 'shop-s1'), 'shop-rev0');
\echo :SQLSTATE
-- Rejected: everything comes back, the voided coupon too, and the discount is owed again.
SELECT wallet.review_refund(:rs1, false, 'ops');
SELECT * FROM pg_temp.bal(:shopper);
SELECT * FROM pg_temp.coupons(:shopper);
SELECT max_amount, coupon_clawback, coupons_voided FROM wallet.refund_quote(:ts);
-- Again, approved and paid: the clawback posts back to coupon_expense.
SELECT amount, coupon_clawback, coupons_voided FROM wallet.request_refund(:ts, 'shop-r2', 100);
SELECT pg_temp.refund(:shopper, 'shop-r2') AS rs2 \gset
SELECT wallet.review_refund(:rs2, true, 'ops'), wallet.settle_refund(:rs2, true, 'gw-4');
SELECT * FROM pg_temp.postings((SELECT max(txn_id) FROM wallet.txn WHERE wallet_id = :shopper));
SELECT * FROM pg_temp.bal(:shopper);
-- A later partial refund owes no clawback again: c = 100, all of it refundable.
SELECT max_amount, coupon_clawback, coupons_voided FROM wallet.refund_quote(:ts);
-- Reversing the coupon's spend now gives back what was charged (50) and the clawed-back
-- discount as cash (50); the coupon, of a refunded top-up, stays voided.
SELECT cash_returned, coupon_restored
  FROM wallet.reverse_spend(pg_temp.txn(:shopper, 'shop-s1'), 'shop-rev1');
SELECT * FROM pg_temp.postings(pg_temp.txn(:shopper, 'shop-rev1'));
SELECT * FROM pg_temp.bal(:shopper);
SELECT * FROM pg_temp.coupons(:shopper);
-- The shopper topped up 300, was paid out 100 and holds 200, the order undone: nothing of
-- the coupons' value kept, nothing lost.
SELECT sum(p.amount) AS paid_out FROM wallet.postings p JOIN wallet.txn t ON t.txn_id = p.txn_id
 WHERE t.wallet_id = :shopper AND p.account = 'refund_payout';

------------------------------------------------------------------------------
-- A failed refund gives back its coupons while they are still valid
------------------------------------------------------------------------------
SELECT cardinality(coupons) AS coupons FROM wallet.top_up(:late, 100, 'late-t1');
SELECT amount, coupon_clawback, coupons_voided
  FROM wallet.request_refund(pg_temp.txn(:late, 'late-t1'), 'late-r1');
SELECT pg_temp.refund(:late, 'late-r1') AS rl \gset
SELECT wallet.review_refund(:rl, true, 'ops');
-- The payment fails four days later: the 50-off coupon is available again, the 10 % one
-- (valid for 3 days) shows as expired.
SET wallet.now = '2026-02-05 00:00:00+00';
SELECT wallet.settle_refund(:rl, false, 'gw-5');
SELECT * FROM pg_temp.coupons(:late);
SELECT * FROM pg_temp.bal(:late);
SELECT max_amount, coupon_clawback, coupons_voided FROM wallet.refund_quote(pg_temp.txn(:late, 'late-t1'));

-- The books hold for this file's wallets and currency.
SELECT * FROM wallet.reconcile()
 WHERE wallet_id IN (:farmer, :shopper, :late) OR (wallet_id IS NULL AND currency = 'QRC');
SELECT account, sum(amount) FROM wallet.postings WHERE currency = 'QRC' AND account = 'coupon_expense'
 GROUP BY account;
