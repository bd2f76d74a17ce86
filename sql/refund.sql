-- refund: refunding a top-up with netting (CONTRACT.md section 6). For top-up T, c is T's
-- cash still in the wallet and u the bonus of T that was spent and not yet clawed back:
-- at most c - u is refundable; a refund voids T's live bonus and claws u back from T's
-- cash. A request holds the money (pending, or approved when net <= the auto-approve
-- limit); rejected and failed give everything back; succeeded makes it final.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 3000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 3000000) AS t0,
       setval(pg_get_serial_sequence('wallet.refund', 'refund_id'), 3000000) AS r0 \gset

-- A currency of this file's own (user-assigned ISO 4217 code), so that its rules and policy
-- affect no other file. A top-up of 100 or more gets a bonus of 10 (no expiry).
INSERT INTO wallet.currency (code, exponent) VALUES ('QRF', 2);
SELECT wallet.add_bonus_rule('QRF', 100, 10) AS r_base \gset

-- pg_temp.bal shows a wallet's balance without its id.
CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, bonus numeric, earnings numeric, held numeric, available numeric, frozen boolean)
  LANGUAGE sql AS $$
  SELECT b.cash, b.bonus, b.earnings, b.held, b.available, b.frozen FROM wallet.balance(wid) b $$;
-- pg_temp.txn returns the id of a wallet's transaction by its idempotency key.
CREATE FUNCTION pg_temp.txn(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT txn_id FROM wallet.txn WHERE wallet_id = wid AND idempotency_key = k $$;
-- pg_temp.refund returns the refund made by the request with this key.
CREATE FUNCTION pg_temp.refund(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT refund_id FROM wallet.refund WHERE request_txn = pg_temp.txn(wid, k) $$;
-- pg_temp.steps lists the journal of one refund: each step's kind, the status it led to, its postings.
CREATE FUNCTION pg_temp.steps(rid bigint)
  RETURNS TABLE (kind text, status text, account text, bucket text, amount numeric)
  LANGUAGE sql AS $$
  SELECT t.kind, t.result->>'status', p.account, p.bucket, p.amount
    FROM wallet.transactions t LEFT JOIN wallet.postings p ON p.txn_id = t.txn_id
   WHERE (t.kind = 'request_refund' AND (t.result->>'refund_id')::bigint = rid)
      OR (t.kind IN ('review_refund', 'settle_refund') AND (t.request->>'refund_id')::bigint = rid)
   ORDER BY t.txn_id, p.account DESC, p.bucket $$;

SELECT wallet.open('refund-alice', 'QRF') AS alice, wallet.open('refund-bob', 'QRF') AS bob,
       wallet.open('refund-carol', 'QRF') AS carol, wallet.open('refund-dave', 'QRF') AS dave,
       wallet.open('refund-ella', 'QRF') AS ella, wallet.open('refund-frank', 'QRF') AS frank,
       wallet.open('refund-gina', 'QRF') AS gina, wallet.open('refund-hank', 'QRF') AS hank \gset

------------------------------------------------------------------------------
-- The worked example: top-up 100 with bonus 10; spend 30 (bonus 10 + cash 20)
------------------------------------------------------------------------------
SELECT bonus FROM wallet.top_up(:alice, 100, 'alice-topup');
SELECT pg_temp.txn(:alice, 'alice-topup') AS ta \gset
SELECT charged, bonus_used, cash_used FROM wallet.spend(:alice, 30, 'alice-s1');
-- c = 80, u = 10: at most 70 is refundable, 10 is clawed back; no live bonus is left to void.
SELECT * FROM wallet.refund_quote(:ta);
-- Asking for more than 70 is WL004.
SELECT * FROM wallet.request_refund(:ta, 'alice-refund', 70.01);
\echo :SQLSTATE
-- The request (amount NULL: all of it) takes 80 out of the spendable money: 70 to refund,
-- 10 to claw back. It waits for review.
SELECT amount, fee, net, bonus_clawback, bonus_void, status, replayed
  FROM wallet.request_refund(:ta, 'alice-refund');
SELECT pg_temp.refund(:alice, 'alice-refund') AS ra \gset
SELECT * FROM pg_temp.bal(:alice);
-- Only one open refund per top-up: a second request is WL008.
SELECT * FROM wallet.request_refund(:ta, 'alice-refund-2', 10);
\echo :SQLSTATE
-- Approved, then paid out.
SELECT wallet.review_refund(:ra, true, 'ops-anna', 'looks fine');
SELECT wallet.settle_refund(:ra, true, 'gw-0001');
SELECT * FROM pg_temp.bal(:alice);
-- The journal of the refund: the request moves 80 from cash to held; the approval moves
-- no money; the payout posts wallet -80 / refund_payout +70 / bonus_expense +10.
SELECT * FROM pg_temp.steps(:ra);
SELECT status, amount, fee, net, clawback, bonus_void, reviewer, review_note, gateway_ref
  FROM wallet.refund WHERE refund_id = :ra;
-- Repeating a transition already made returns the status; a conflicting one is WL008.
SELECT wallet.settle_refund(:ra, true, 'gw-0001');
SELECT wallet.review_refund(:ra, true, 'ops-anna');
SELECT wallet.settle_refund(:ra, false);
\echo :SQLSTATE
SELECT wallet.review_refund(:ra, false, 'ops-anna');
\echo :SQLSTATE
-- A replay of the request returns its first result; other arguments are WL003.
SELECT refund_id = :ra AS same_refund, amount, fee, net, bonus_clawback, bonus_void, status, replayed
  FROM wallet.request_refund(:ta, 'alice-refund');
SELECT * FROM wallet.request_refund(:ta, 'alice-refund', 70);
\echo :SQLSTATE
-- Nothing is left to refund: c - u = 0 - 0.
SELECT * FROM wallet.refund_quote(:ta);
SELECT * FROM wallet.request_refund(:ta, 'alice-refund-3');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Rejected: everything goes back, the live bonus too
------------------------------------------------------------------------------
-- bob has not spent his bonus: c = 100, u = 0; the live bonus 10 would be voided.
SELECT bonus FROM wallet.top_up(:bob, 100, 'bob-topup');
SELECT pg_temp.txn(:bob, 'bob-topup') AS tb \gset
SELECT * FROM wallet.refund_quote(:tb);
SELECT amount, fee, net, bonus_clawback, bonus_void, status FROM wallet.request_refund(:tb, 'bob-refund-1');
SELECT pg_temp.refund(:bob, 'bob-refund-1') AS rb1 \gset
SELECT * FROM pg_temp.bal(:bob);
-- The held money stays on its lots: the top-up's cash lot and its bonus lot.
SELECT lot_id, bucket, amount, held FROM wallet.lots(:bob) ORDER BY lot_id;
SELECT wallet.review_refund(:rb1, false, 'ops-anna', 'customer changed their mind');
SELECT * FROM pg_temp.bal(:bob);
SELECT * FROM pg_temp.steps(:rb1);
-- Rejecting again returns the status; approving or settling it now is WL008.
SELECT wallet.review_refund(:rb1, false, 'ops-anna');
SELECT wallet.review_refund(:rb1, true, 'ops-anna');
\echo :SQLSTATE
SELECT wallet.settle_refund(:rb1, true);
\echo :SQLSTATE

------------------------------------------------------------------------------
-- Succeeded: the live bonus is voided, even for a partial refund
------------------------------------------------------------------------------
SELECT amount, fee, net, bonus_clawback, bonus_void, status FROM wallet.request_refund(:tb, 'bob-refund-2', 60);
SELECT pg_temp.refund(:bob, 'bob-refund-2') AS rb2 \gset
SELECT wallet.review_refund(:rb2, true, 'ops-anna');
SELECT wallet.settle_refund(:rb2, true, 'gw-0002');
SELECT * FROM pg_temp.bal(:bob);
SELECT * FROM pg_temp.steps(:rb2);

------------------------------------------------------------------------------
-- Failed: everything goes back, and the clawback is owed again
------------------------------------------------------------------------------
SELECT bonus FROM wallet.top_up(:carol, 100, 'carol-topup');
SELECT pg_temp.txn(:carol, 'carol-topup') AS tc \gset
SELECT charged, bonus_used, cash_used FROM wallet.spend(:carol, 30, 'carol-s1');
-- A partial request of 40 still claws back the whole 10: 50 is held.
SELECT amount, fee, net, bonus_clawback, bonus_void, status FROM wallet.request_refund(:tc, 'carol-refund-1', 40);
SELECT pg_temp.refund(:carol, 'carol-refund-1') AS rc1 \gset
SELECT * FROM pg_temp.bal(:carol);
-- Only an approved refund can be settled.
SELECT wallet.settle_refund(:rc1, true);
\echo :SQLSTATE
SELECT wallet.review_refund(:rc1, true, 'ops-anna');
SELECT wallet.settle_refund(:rc1, false, 'gw-declined');
SELECT * FROM pg_temp.bal(:carol);
SELECT * FROM pg_temp.steps(:rc1);
SELECT wallet.settle_refund(:rc1, false);
SELECT wallet.review_refund(:rc1, false, 'ops-anna');
\echo :SQLSTATE
-- The quote is what it was before: 70, clawback 10.
SELECT max_amount, bonus_clawback, bonus_void FROM wallet.refund_quote(:tc);

------------------------------------------------------------------------------
-- A partial refund, then a later one owes no clawback again
------------------------------------------------------------------------------
-- 30 with the clawback of 10 (40 out of the wallet) ...
SELECT amount, fee, net, bonus_clawback, bonus_void, status FROM wallet.request_refund(:tc, 'carol-refund-2', 30);
SELECT pg_temp.refund(:carol, 'carol-refund-2') AS rc2 \gset
SELECT wallet.review_refund(:rc2, true, 'ops-anna'), wallet.settle_refund(:rc2, true, 'gw-0003');
SELECT * FROM pg_temp.bal(:carol);
-- ... then c = 40, u = 0: all 40 is refundable, with no clawback.
SELECT max_amount, bonus_clawback, bonus_void FROM wallet.refund_quote(:tc);
SELECT amount, fee, net, bonus_clawback, bonus_void, status FROM wallet.request_refund(:tc, 'carol-refund-3');
SELECT pg_temp.refund(:carol, 'carol-refund-3') AS rc3 \gset
SELECT wallet.review_refund(:rc3, true, 'ops-anna'), wallet.settle_refund(:rc3, true, 'gw-0004');
SELECT * FROM pg_temp.bal(:carol);
SELECT * FROM pg_temp.steps(:rc3);

------------------------------------------------------------------------------
-- More requests than max_refunds_per_30_days (3 by default)
------------------------------------------------------------------------------
-- carol has made 3 requests in 30 days; a 4th is recorded as rejected by 'limit', moves no
-- money, and flags the wallet.
SELECT bonus FROM wallet.top_up(:carol, 50, 'carol-topup-2');
SELECT pg_temp.txn(:carol, 'carol-topup-2') AS tc2 \gset
SELECT status, replayed FROM wallet.request_refund(:tc2, 'carol-refund-4', 20);
SELECT status, reviewer, topup_txn = :tc2 AS of_topup
  FROM wallet.refund WHERE refund_id = pg_temp.refund(:carol, 'carol-refund-4');
SELECT kind FROM wallet.risk_flag WHERE wallet_id = :carol;
SELECT * FROM pg_temp.bal(:carol);
SELECT count(*) AS postings FROM wallet.postings WHERE txn_id = pg_temp.txn(:carol, 'carol-refund-4');
SELECT max_amount FROM wallet.refund_quote(:tc2);

-- Reversing carol's spend gives its bonus share back as cash (bonus_to_cash): her refunds
-- already clawed that bonus back from her cash. The top-up is then refundable again (30).
SELECT bonus_returned, cash_returned, earnings_returned, bonus_written_off, bonus_to_cash
  FROM wallet.reverse_spend(pg_temp.txn(:carol, 'carol-s1'), 'carol-reverse');
SELECT * FROM pg_temp.bal(:carol);
SELECT max_amount, bonus_clawback, bonus_void FROM wallet.refund_quote(:tc);

------------------------------------------------------------------------------
-- Fees
------------------------------------------------------------------------------
-- QRF charges 2 % on refunds the customer asks for ('user'), nothing when the platform does.
SELECT currency, refund_fee_rate FROM wallet.set_policy('QRF', refund_fee_rate => 0.02);
SELECT bonus FROM wallet.top_up(:dave, 100, 'dave-topup');
SELECT pg_temp.txn(:dave, 'dave-topup') AS td \gset
SELECT max_amount, fee_rate FROM wallet.refund_quote(:td);
SELECT max_amount, fee_rate FROM wallet.refund_quote(:td, 'platform');
-- 33.33 x 2 % = 0.6666, rounded half away from zero to 0.67: net 32.66.
SELECT amount, fee, net, bonus_clawback, bonus_void, status FROM wallet.request_refund(:td, 'dave-refund-1', 33.33);
SELECT pg_temp.refund(:dave, 'dave-refund-1') AS rd1 \gset
SELECT wallet.review_refund(:rd1, true, 'ops-anna'), wallet.settle_refund(:rd1, true, 'gw-0005');
-- The payout: held -43.33 (33.33 and the voided bonus 10) / refund_payout +32.66 /
-- fee_income +0.67 / bonus_expense +10.
SELECT * FROM pg_temp.steps(:rd1);
-- For the platform, no fee.
SELECT amount, fee, net, status FROM wallet.request_refund(:td, 'dave-refund-2', 10, 'platform');
SELECT wallet.review_refund(pg_temp.refund(:dave, 'dave-refund-2'), false, 'ops-anna');
-- A campaign top-up adds its rule's refund_fee_rate: 'promo' (+5 bonus, 3 % refund fee).
SELECT wallet.add_bonus_rule('QRF', 100, 5, campaign => 'promo', refund_fee_rate => 0.03) AS r_promo \gset
SELECT bonus FROM wallet.top_up(:dave, 100, 'dave-topup-promo');
SELECT wallet.end_bonus_rule(:r_promo);
SELECT pg_temp.txn(:dave, 'dave-topup-promo') AS tdp \gset
SELECT max_amount, bonus_void, fee_rate FROM wallet.refund_quote(:tdp);
SELECT max_amount, bonus_void, fee_rate FROM wallet.refund_quote(:tdp, 'platform');
-- 100 x (2 % + 3 %) = 5.00: net 95.00; the base and promo bonus (15) are voided.
SELECT amount, fee, net, bonus_clawback, bonus_void, status FROM wallet.request_refund(:tdp, 'dave-refund-3');
SELECT wallet.review_refund(pg_temp.refund(:dave, 'dave-refund-3'), false, 'ops-anna');
SELECT * FROM pg_temp.bal(:dave);

------------------------------------------------------------------------------
-- Auto-approval
------------------------------------------------------------------------------
-- Requests whose net is at most refund_auto_approve_max (20) need no review.
SELECT currency, refund_fee_rate, refund_auto_approve_max FROM wallet.set_policy('QRF', refund_auto_approve_max => 20);
SELECT bonus FROM wallet.top_up(:ella, 100, 'ella-topup');
SELECT pg_temp.txn(:ella, 'ella-topup') AS te \gset
-- 20.41: fee 0.4082 -> 0.41, net 20.00: approved at once (reviewer 'auto').
SELECT amount, fee, net, status FROM wallet.request_refund(:te, 'ella-refund-1', 20.41);
SELECT status, reviewer FROM wallet.refund WHERE refund_id = pg_temp.refund(:ella, 'ella-refund-1');
SELECT wallet.settle_refund(pg_temp.refund(:ella, 'ella-refund-1'), true, 'gw-0006');
-- 20.50: fee 0.41, net 20.09: pending.
SELECT amount, fee, net, status FROM wallet.request_refund(:te, 'ella-refund-2', 20.50);
SELECT wallet.review_refund(pg_temp.refund(:ella, 'ella-refund-2'), false, 'ops-anna');
SELECT * FROM pg_temp.bal(:ella);

------------------------------------------------------------------------------
-- Refused requests
------------------------------------------------------------------------------
-- c - u <= 0: frank spent his bonus 10 and 90 of cash; c = 10, u = 10. WL004.
SELECT bonus FROM wallet.top_up(:frank, 100, 'frank-topup');
SELECT pg_temp.txn(:frank, 'frank-topup') AS tf \gset
SELECT charged, bonus_used, cash_used FROM wallet.spend(:frank, 100, 'frank-s1');
SELECT * FROM wallet.refund_quote(:tf);
SELECT * FROM wallet.request_refund(:tf, 'frank-refund');
\echo :SQLSTATE
-- A frozen wallet cannot ask for a refund: WL002.
SELECT bonus FROM wallet.top_up(:hank, 100, 'hank-topup');
SELECT wallet.freeze(:hank, 'dispute');
SELECT * FROM wallet.request_refund(pg_temp.txn(:hank, 'hank-topup'), 'hank-refund');
\echo :SQLSTATE
-- Unknown top-ups and refunds are WL006 (a spend is not a top-up).
SELECT * FROM wallet.refund_quote(0);
\echo :SQLSTATE
SELECT * FROM wallet.request_refund(pg_temp.txn(:frank, 'frank-s1'), 'frank-refund');
\echo :SQLSTATE
SELECT wallet.review_refund(0, true, 'ops-anna');
\echo :SQLSTATE
SELECT wallet.settle_refund(0, true);
\echo :SQLSTATE
-- Bad arguments are 22023.
SELECT * FROM wallet.request_refund(:tb, 'bob-refund-x', 0.001);
\echo :SQLSTATE
SELECT * FROM wallet.request_refund(:tb, 'bob-refund-x', 10, 'whim');
\echo :SQLSTATE
SELECT * FROM wallet.refund_quote(:tb, 'whim');
\echo :SQLSTATE
SELECT wallet.review_refund(:rb2, NULL, 'ops-anna');
\echo :SQLSTATE
SELECT wallet.review_refund(:rb2, true, NULL);
\echo :SQLSTATE

-- The books hold for this file's wallets and currency (held matches the open refunds).
SELECT * FROM wallet.reconcile()
 WHERE wallet_id IN (:alice, :bob, :carol, :dave, :ella, :frank, :gina, :hank)
    OR (wallet_id IS NULL AND currency = 'QRF');

------------------------------------------------------------------------------
-- The refund window
------------------------------------------------------------------------------
-- gina tops up on the 1st; the window (30 days) closes on the 31st. On February 1st a
-- request is WL004, and the quote offers nothing.
SELECT bonus FROM wallet.top_up(:gina, 100, 'gina-topup');
SELECT pg_temp.txn(:gina, 'gina-topup') AS tg \gset
SELECT max_amount, refundable_until FROM wallet.refund_quote(:tg);
SET wallet.now = '2026-02-01 00:00:00+00';
SELECT * FROM wallet.refund_quote(:tg);
SELECT * FROM wallet.request_refund(:tg, 'gina-refund');
\echo :SQLSTATE
SELECT * FROM pg_temp.bal(:gina);

------------------------------------------------------------------------------
-- Reversals and open refunds (regressions found by the model and fuzz tests)
------------------------------------------------------------------------------
SET wallet.now = '2026-03-01 00:00:00+00';
SELECT wallet.open('refund-hana', 'QRF') AS hana, wallet.open('refund-ivan', 'QRF') AS ivan,
       wallet.open('refund-jun', 'QRF') AS jun \gset
-- hana: top-up 100 (bonus 10), spend 30 = bonus 10 + cash 20, then a refund of 70 is
-- requested (clawback 10, pending). Reversing the spend now would give back bonus of that
-- top-up, and whether it comes back as bonus or as cash depends on how the refund ends:
-- WL008, nothing changes.
SELECT bonus FROM wallet.top_up(:hana, 100, 'hana-topup');
SELECT pg_temp.txn(:hana, 'hana-topup') AS th \gset
SELECT charged, bonus_used, cash_used FROM wallet.spend(:hana, 30, 'hana-s1');
SELECT pg_temp.txn(:hana, 'hana-s1') AS hs1 \gset
SELECT amount, bonus_clawback, status FROM wallet.request_refund(:th, 'hana-r1', 70);
SELECT pg_temp.refund(:hana, 'hana-r1') AS hr1 \gset
SELECT * FROM wallet.reverse_spend(:hs1, 'hana-rev');
\echo :SQLSTATE
SELECT * FROM pg_temp.bal(:hana);
-- Once the refund is rejected, everything is back (cash 80, bonus 0, the 10 of bonus owed
-- again), and the reversal gives the bonus back as bonus: cash 100, bonus 10.
SELECT wallet.review_refund(:hr1, false, 'ops-anna');
SELECT * FROM pg_temp.bal(:hana);
SELECT bonus_returned, cash_returned, bonus_to_cash FROM wallet.reverse_spend(:hs1, 'hana-rev');
SELECT * FROM pg_temp.bal(:hana);

-- ivan: the same, but the refund succeeds (70 out, 10 clawed back) and the window closes.
-- The bonus the clawback paid for still comes back as cash when the spend is reversed:
-- cash 30, bonus 0 (not 20 and 10).
SET wallet.now = '2026-03-01 00:00:00+00';
SELECT bonus FROM wallet.top_up(:ivan, 100, 'ivan-topup');
SELECT pg_temp.txn(:ivan, 'ivan-topup') AS ti \gset
SELECT charged, bonus_used, cash_used FROM wallet.spend(:ivan, 30, 'ivan-s1');
SELECT pg_temp.txn(:ivan, 'ivan-s1') AS is1 \gset
SELECT amount, bonus_clawback FROM wallet.request_refund(:ti, 'ivan-r1');
SELECT wallet.review_refund(pg_temp.refund(:ivan, 'ivan-r1'), true, 'ops-anna');
SELECT wallet.settle_refund(pg_temp.refund(:ivan, 'ivan-r1'), true);
SET wallet.now = '2026-04-15 00:00:00+00';
SELECT bonus_returned, cash_returned, bonus_to_cash FROM wallet.reverse_spend(:is1, 'ivan-rev');
SELECT * FROM pg_temp.bal(:ivan);

-- jun: a spend paid with cash of a top-up whose partial refund is still pending when the
-- window closes. Reversing it puts the cash back as closed cash beside the held lot.
SET wallet.now = '2026-03-01 00:00:00+00';
SELECT bonus FROM wallet.top_up(:jun, 100, 'jun-topup');
SELECT pg_temp.txn(:jun, 'jun-topup') AS tj \gset
SELECT amount, status FROM wallet.request_refund(:tj, 'jun-r1', 30);
SELECT charged, bonus_used, cash_used FROM wallet.spend(:jun, 50, 'jun-s1');
SET wallet.now = '2026-04-15 00:00:00+00';
SELECT bonus_returned, cash_returned FROM wallet.reverse_spend(pg_temp.txn(:jun, 'jun-s1'), 'jun-rev');
SELECT * FROM pg_temp.bal(:jun);
SELECT bucket, amount, held, refundable_until FROM wallet.lots(:jun) ORDER BY lot_id;
SELECT count(*) AS discrepancies FROM wallet.reconcile();
