-- spend_split: one order paid to several payees (CONTRACT.md section 17). The shares are
-- money amounts adding up to the order; what is charged (after a coupon) is split over the
-- payees in proportion to their shares, largest remainder first (on a tie the earlier payee),
-- so the parts add up exactly; each payee is credited its part less commission, as a spend's
-- payee is. Otherwise it is a spend: spending order, the spend rules, WL001, WL002, coupons.
-- reverse_spend takes back from every payee in the same proportion.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-05-05 10:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9100000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9100000) AS t0 \gset

-- Currencies of this file's own: QXA keeps a commission of 10 % and gives top-ups of 100 or
-- more a bonus of 10; QXB is another currency; QXC has the spend rule use_all_below 50.
INSERT INTO wallet.currency (code, exponent) VALUES ('QXA', 2), ('QXB', 2), ('QXC', 2);
SELECT commission_rate FROM wallet.set_policy('QXA', commission_rate => 0.1);
SELECT use_all_below FROM wallet.set_policy('QXC', use_all_below => 50);
SELECT wallet.add_bonus_rule('QXA', 100, bonus_fixed => 10) IS NOT NULL AS rule;
SELECT wallet.add_coupon_template('xa-five', 'QXA', 'amount', 5, per_wallet_limit => 5);
SELECT wallet.add_coupon_template('xa-777', 'QXA', 'amount', 7.77);

-- pg_temp.bal shows a wallet's balance without its id and currency.
CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, bonus numeric, earnings numeric, available numeric, debt numeric)
  LANGUAGE sql AS $$
  SELECT b.cash, b.bonus, b.earnings, b.available, b.debt FROM wallet.balance(wid) b $$;
-- pg_temp.legs shows a transaction's postings, wallets by name.
CREATE FUNCTION pg_temp.legs(tid bigint)
  RETURNS TABLE (account text, owner text, bucket text, amount numeric)
  LANGUAGE sql AS $$
  SELECT p.account, w.owner, p.bucket, p.amount FROM wallet.postings p
    LEFT JOIN wallet.wallet w ON w.wallet_id = p.wallet_id
   WHERE p.txn_id = tid ORDER BY p.account, w.owner, p.bucket $$;
-- pg_temp.txn returns the id of a wallet's transaction by its idempotency key.
CREATE FUNCTION pg_temp.txn(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT txn_id FROM wallet.txn WHERE wallet_id = wid AND idempotency_key = k $$;

SELECT wallet.open('sp-ann', 'QXA') AS ann, wallet.open('sp-tea', 'QXA') AS tea,
       wallet.open('sp-cup', 'QXA') AS cup, wallet.open('sp-pot', 'QXA') AS pot,
       wallet.open('sp-bob', 'QXB') AS bob \gset
-- ann tops up 300: cash 300 and bonus 10
SELECT bonus FROM wallet.top_up(:ann, 300, 'sp-t1');

------------------------------------------------------------------------------
-- Arguments: shares are money amounts, one per payee, adding up to amount
------------------------------------------------------------------------------
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :cup], '{50,40}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :cup], '{50,30,20}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :cup], ARRAY[100, NULL]);
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, NULL], '{50,50}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :tea], '{50,50}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :cup], '{100,0}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :cup], '{50.001,49.999}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', '{}', '{}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', NULL, '{100}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea], NULL);
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[[:tea], [:cup]], '{{50},{50}}');
-- payees distinct from the payer, existing, of the same currency
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :ann], '{50,50}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :bob], '{50,50}');
SELECT * FROM wallet.spend_split(:ann, 100, 'sp-x', ARRAY[:tea, :w0 + 999], '{50,50}');
-- nothing changed, no key taken
SELECT * FROM pg_temp.bal(:ann);
SELECT count(*) AS keys FROM wallet.txn_key WHERE wallet_id = :ann AND idempotency_key = 'sp-x';

------------------------------------------------------------------------------
-- A split: 100.00 charged over equal shares gives 33.34 / 33.33 / 33.33
------------------------------------------------------------------------------
-- An order of 105.00 in equal shares of 35.00, a coupon of 5.00 off: 100.00 is charged
-- (bonus 10.00 first, then cash 90.00). 100.00 / 3 is 33.33 each with 0.01 left; the
-- remainders tie, so the first payee gets it: 33.34, 33.33, 33.33. Commission 10 % of each,
-- half away from zero: 3.33, 3.33, 3.33; the payees are credited 30.01, 30.00, 30.00.
SELECT wallet.issue_coupon('xa-five', :ann, 'sp-c1') AS five \gset
SELECT txn_id - :t0 AS txn_no, charged, discount, bonus_used, cash_used, earnings_used, shortfall, replayed
  FROM wallet.spend_split(:ann, 105, 'sp-1', ARRAY[:tea, :cup, :pot], '{35,35,35}', coupon => :'five',
                          order_ref => 'basket-1');
SELECT pg_temp.txn(:ann, 'sp-1') AS sp1 \gset
SELECT kind, amount, result->'parts' AS parts, result->'payee_credits' AS credits,
       result->'commissions' AS commissions
  FROM wallet.txn WHERE txn_id = :sp1;
SELECT request - 'payees' - 'coupon' AS request, request->>'coupon' = :'five' AS coupon
  FROM wallet.txn WHERE txn_id = :sp1;
SELECT * FROM pg_temp.legs(:sp1);
SELECT sum(amount) AS sums_to FROM wallet.postings WHERE txn_id = :sp1;
-- each payee's balance shows its credit at once; their rows are untouched
SELECT w.owner, b.earnings, w.version FROM wallet.wallet w, wallet.balance(w.wallet_id) b
 WHERE w.wallet_id IN (:tea, :cup, :pot) ORDER BY w.wallet_id;
SELECT * FROM pg_temp.bal(:ann);
SELECT status FROM wallet.coupons(:ann);

-- The same key and arguments: the first result; other arguments: WL003.
SELECT txn_id = :sp1 AS same_txn, charged, replayed
  FROM wallet.spend_split(:ann, 105, 'sp-1', ARRAY[:tea, :cup, :pot], '{35,35,35}', coupon => :'five',
                          order_ref => 'basket-1');
-- (terse: the detail names the coupon's code, which is random)
\set VERBOSITY terse
SELECT * FROM wallet.spend_split(:ann, 105, 'sp-1', ARRAY[:tea, :cup, :pot], '{35,40,30}', coupon => :'five',
                                 order_ref => 'basket-1');
SELECT * FROM wallet.spend(:ann, 105, 'sp-1');
\set VERBOSITY default

------------------------------------------------------------------------------
-- Largest remainder first, not the earlier payee first
------------------------------------------------------------------------------
-- 100.00 in shares 50 / 30 / 20 with 7.77 off: 92.23 is charged. Whole cents: 46.11 (remainder
-- 0.5 of a cent), 27.66 (0.9), 18.44 (0.6): 0.02 is left, for the two largest remainders, the
-- cup's and the pot's: 46.11 / 27.67 / 18.45. Commissions 4.61, 2.77, 1.85 (1.845 rounded half
-- away from zero); credits 41.50, 24.90, 16.60.
SELECT wallet.issue_coupon('xa-777', :ann, 'sp-c2') AS c777 \gset
SELECT charged, discount, bonus_used, cash_used
  FROM wallet.spend_split(:ann, 100, 'sp-2', ARRAY[:tea, :cup, :pot], '{50,30,20}', coupon => :'c777');
SELECT pg_temp.txn(:ann, 'sp-2') AS sp2 \gset
SELECT result->'parts' AS parts, result->'payee_credits' AS credits, result->'commissions' AS commissions
  FROM wallet.txn WHERE txn_id = :sp2;
SELECT * FROM pg_temp.legs(:sp2);

------------------------------------------------------------------------------
-- Spend's rules: too little, frozen, a spend rule
------------------------------------------------------------------------------
-- ann has 117.77 of cash left: 150.00 is WL001 (never partly), and nothing changes
SELECT * FROM wallet.spend_split(:ann, 150, 'sp-3', ARRAY[:tea, :cup], '{100,50}');
SELECT * FROM pg_temp.bal(:ann);
-- a frozen payer is WL002; a frozen payee is still paid
SELECT wallet.freeze(:ann, 'review');
SELECT * FROM wallet.spend_split(:ann, 10, 'sp-3', ARRAY[:tea, :cup], '{5,5}');
SELECT wallet.unfreeze(:ann);
SELECT wallet.freeze(:cup, 'review');
SELECT charged FROM wallet.spend_split(:ann, 10, 'sp-3', ARRAY[:tea, :cup], '{6,4}', scene => 'market');
SELECT earnings, frozen FROM wallet.balance(:cup);
SELECT wallet.unfreeze(:cup);
-- QXC's use_all_below 50: a wallet with 30 available pays all of it or nothing (WL008)
SELECT wallet.open('sp-cleo', 'QXC') AS cleo, wallet.open('sp-s1', 'QXC') AS s1,
       wallet.open('sp-s2', 'QXC') AS s2 \gset
SELECT bonus FROM wallet.top_up(:cleo, 30, 'sp-ct');
SELECT * FROM wallet.spend_split(:cleo, 20, 'sp-c3', ARRAY[:s1, :s2], '{10,10}');
SELECT charged FROM wallet.spend_split(:cleo, 30, 'sp-c3', ARRAY[:s1, :s2], '{20,10}');
SELECT earnings FROM wallet.balance(:s1);
SELECT earnings FROM wallet.balance(:s2);

------------------------------------------------------------------------------
-- Reversal: every payee gives back in the same proportion
------------------------------------------------------------------------------
-- 10.00 of the first split: split over the parts left (33.34, 33.33, 33.33) as the charge was,
-- 3.34 / 3.33 / 3.33; each payee gives back its credit's share of that: 30.01 x 3.34 / 33.34
-- = 3.0064 -> 3.01, 30.00 x 3.33 / 33.33 = 2.997 -> 3.00, 3.00; the commission gives back the
-- other 0.99. ann gets back 10.00, bonus and cash in the spend's proportion (1 : 9).
SELECT txn_id - :t0 AS txn_no, bonus_returned, cash_returned, earnings_returned, coupon_restored
  FROM wallet.reverse_spend(:sp1, 'sp-1-back-1', 10);
SELECT pg_temp.txn(:ann, 'sp-1-back-1') AS r1 \gset
SELECT result->'payee_parts' AS parts, result->'payee_backs' AS backs, result->'payee_back' AS back
  FROM wallet.txn WHERE txn_id = :r1;
SELECT * FROM pg_temp.legs(:r1);
-- the rest: 90.00, 30.00 of each part; each payee gives back the rest of its credit (27.00,
-- 27.00, 27.00), the commission the other 9.00 (with the 0.99 before, all its 9.99); the
-- full reversal gives the coupon back
SELECT bonus_returned, cash_returned, coupon_restored FROM wallet.reverse_spend(:sp1, 'sp-1-back-2');
SELECT pg_temp.txn(:ann, 'sp-1-back-2') AS r2 \gset
SELECT result->'payee_parts' AS parts, result->'payee_backs' AS backs FROM wallet.txn WHERE txn_id = :r2;
SELECT * FROM pg_temp.legs(:r2);
SELECT template_id, status FROM wallet.coupons(:ann) ORDER BY template_id;
-- each payee gave back all of this spend's credit: what is left is the second split's and
-- the small ones
SELECT w.owner, b.earnings, b.debt FROM wallet.wallet w, wallet.balance(w.wallet_id) b
 WHERE w.wallet_id IN (:tea, :cup, :pot) ORDER BY w.wallet_id;
SELECT * FROM wallet.reverse_spend(:sp1, 'sp-1-back-3');
-- a payee that passed its money on is reversed into debt; the others give back from earnings
SELECT amount FROM wallet.transfer(:pot, :tea, NULL, 'sp-pot-out');
SELECT bonus_returned, cash_returned FROM wallet.reverse_spend(:sp2, 'sp-2-back');
SELECT pg_temp.txn(:ann, 'sp-2-back') AS r3 \gset
SELECT result->'payee_backs' AS backs, result->'payee_debt' AS debt FROM wallet.txn WHERE txn_id = :r3;
SELECT w.owner, b.earnings, b.debt FROM wallet.wallet w, wallet.balance(w.wallet_id) b
 WHERE w.wallet_id IN (:tea, :cup, :pot) ORDER BY w.wallet_id;

------------------------------------------------------------------------------
-- The books
------------------------------------------------------------------------------
-- the reports count a split payment as a spend, and its reversals as reversals
SELECT day, currency, scene, count, charged, bonus_used, cash_used, coupon_discount, reversals, reversed
  FROM wallet_report.spending_daily WHERE currency = 'QXA' ORDER BY scene NULLS FIRST;
SELECT * FROM wallet.reconcile();
