-- payee_debt: a reversal never fails for the payee's sake (CONTRACT.md section 5). What the
-- payee's earnings (its payee credits not rolled up yet included) cannot give back becomes
-- its debt: balance's debt column, posted against the system account payee_receivable. A
-- frozen payee is reversed the same way. Every later credit repays the debt first. A wallet
-- in debt cannot take money out (WL008). A debt above policy.payee_debt_flag gets the payee
-- a risk flag.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8500000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8500000) AS t0 \gset

-- Two currencies of this file's own (user-assigned ISO 4217 codes), no bonus rules. QPD keeps
-- a commission of 10 % and flags a payee whose debt grows above 30.00; QPE never flags.
INSERT INTO wallet.currency (code, exponent) VALUES ('QPD', 2), ('QPE', 2);
SELECT currency, commission_rate, payee_debt_flag
  FROM wallet.set_policy('QPD', commission_rate => 0.1, payee_debt_flag => 30);

-- pg_temp.bal shows a wallet's balance without its id and currency.
CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, earnings numeric, available numeric, withdrawable numeric, frozen boolean,
                 debt numeric)
  LANGUAGE sql AS $$
  SELECT b.cash, b.earnings, b.available, b.withdrawable, b.frozen, b.debt FROM wallet.balance(wid) b $$;
-- pg_temp.txn returns the id of a wallet's transaction by its idempotency key.
CREATE FUNCTION pg_temp.txn(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT txn_id FROM wallet.txn WHERE wallet_id = wid AND idempotency_key = k $$;

SELECT wallet.open('debt-ann', 'QPD') AS ann, wallet.open('debt-bob', 'QPD') AS bob,
       wallet.open('debt-shop', 'QPD') AS shop, wallet.open('debt-supplier', 'QPD') AS supplier,
       wallet.open('debt-kiosk', 'QPD') AS kiosk, wallet.open('debt-cleo', 'QPE') AS cleo,
       wallet.open('debt-stall', 'QPE') AS stall \gset

------------------------------------------------------------------------------
-- A payee that forwarded its earnings is reversed into debt
------------------------------------------------------------------------------
-- ann pays the shop 50: commission 5.00, the shop's credit 45.00 (not rolled up yet).
SELECT bonus FROM wallet.top_up(:ann, 100, 'ann-topup');
SELECT charged FROM wallet.spend(:ann, 50, 'ann-s1', payee => :shop);
SELECT pg_temp.txn(:ann, 'ann-s1') AS ann_s1 \gset
SELECT * FROM pg_temp.bal(:shop);
-- The shop forwards all of it to its supplier (its credit is rolled up to pay).
SELECT charged, earnings_used FROM wallet.spend(:shop, 45, 'shop-pays-supplier', payee => :supplier);
SELECT * FROM pg_temp.bal(:shop);

-- Reversing 20 of ann's 50 takes back 18.00 of the shop's credit: the shop has nothing
-- left, so all of it becomes its debt; the reversal itself goes through.
SELECT cash_returned, replayed FROM wallet.reverse_spend(:ann_s1, 'ann-r1', 20);
SELECT pg_temp.txn(:ann, 'ann-r1') AS ann_r1 \gset
SELECT * FROM pg_temp.bal(:shop);
SELECT * FROM pg_temp.bal(:ann);
-- The shop's part is posted against payee_receivable, in the shop's name; the postings still
-- sum to zero.
SELECT p.account, p.wallet_id = :ann AS ann, p.wallet_id = :shop AS shop, p.bucket, p.amount
  FROM wallet.postings p WHERE p.txn_id = :ann_r1 ORDER BY p.account DESC, p.amount;
SELECT sum(p.amount) AS total FROM wallet.postings p WHERE p.txn_id = :ann_r1;
-- 18.00 is below the policy's 30.00: no risk flag yet.
SELECT count(*) AS flags FROM wallet.risk_flag WHERE wallet_id = :shop;

-- bob pays the shop 5.56 (commission 0.56, a credit of 5.00): the credit, not rolled up yet,
-- repays the debt first (18.00 to 13.00) and nothing of it is available.
SELECT bonus FROM wallet.top_up(:bob, 100, 'bob-topup');
SELECT charged FROM wallet.spend(:bob, 5.56, 'bob-s1', payee => :shop);
SELECT * FROM pg_temp.bal(:shop);
-- Its available balance does not count what the debt takes: a spend of 0.01 is short.
SELECT * FROM wallet.spend(:shop, 0.01, 'shop-short');
\echo :SQLSTATE
-- The rest of ann's spend (30) is reversed: 27.00 of credit to take back. The roll-up of
-- bob's credit repays 5.00 of the debt, the shop has no earnings, the debt is 13.00 + 27.00.
SELECT cash_returned, replayed FROM wallet.reverse_spend(:ann_s1, 'ann-r2');
SELECT pg_temp.txn(:ann, 'ann-r2') AS ann_r2 \gset
SELECT * FROM pg_temp.bal(:shop);
SELECT debt FROM wallet.wallet WHERE wallet_id = :shop;
-- The roll-up repaid 5.00 of the debt in a transaction of its own (wallet earnings to
-- payee_receivable).
SELECT t.kind, t.amount, t.ref_txn = pg_temp.txn(:bob, 'bob-s1') AS after_bobs_spend, t.result
  FROM wallet.txn t WHERE t.wallet_id = :shop AND t.kind = 'repay_debt' ORDER BY t.txn_id;
SELECT p.account, p.bucket, p.amount FROM wallet.postings p
 WHERE p.txn_id = (SELECT max(t.txn_id) FROM wallet.txn t WHERE t.wallet_id = :shop AND t.kind = 'repay_debt')
 ORDER BY p.account DESC;
SELECT p.account, p.wallet_id = :ann AS ann, p.wallet_id = :shop AS shop, p.bucket, p.amount
  FROM wallet.postings p WHERE p.txn_id = :ann_r2 ORDER BY p.account DESC, p.amount;
-- The debt went from 13.00 past 30.00: one risk flag.
SELECT kind, detail = format('debt 40.00 above 30 after reversal %s', :ann_r2) AS detail_ok
  FROM wallet.risk_flag WHERE wallet_id = :shop;

-- A replay returns the stored result and changes nothing.
SELECT cash_returned, replayed FROM wallet.reverse_spend(:ann_s1, 'ann-r2');
SELECT * FROM pg_temp.bal(:shop);
SELECT count(*) AS flags FROM wallet.risk_flag WHERE wallet_id = :shop;

------------------------------------------------------------------------------
-- Later credits repay the debt first
------------------------------------------------------------------------------
-- bob pays the shop 20 (a credit of 18.00): all of it goes to the debt (22.00 left); none is
-- available.
SELECT charged FROM wallet.spend(:bob, 20, 'bob-s2', payee => :shop);
SELECT * FROM pg_temp.bal(:shop);
-- bob pays the shop 50 more (45.00): 22.00 repays the rest of the debt, 23.00 is earnings.
SELECT charged FROM wallet.spend(:bob, 50, 'bob-s3', payee => :shop);
SELECT * FROM pg_temp.bal(:shop);
-- Rolling the credits up makes it so in the wallet row: one repayment of 40.00.
SELECT wallet.rollup_credits() > 0 AS rolled_up;
SELECT * FROM pg_temp.bal(:shop);
SELECT debt FROM wallet.wallet WHERE wallet_id = :shop;
SELECT t.amount, t.result FROM wallet.txn t
 WHERE t.wallet_id = :shop AND t.kind = 'repay_debt' ORDER BY t.txn_id DESC LIMIT 1;
-- The shop can spend its earnings again.
SELECT charged, earnings_used FROM wallet.spend(:shop, 10, 'shop-spends');

------------------------------------------------------------------------------
-- A frozen payee is reversed the same way
------------------------------------------------------------------------------
-- ann pays the kiosk 20 (a credit of 18.00); the kiosk is frozen for fraud. The reversal of
-- ann's spend still takes the credit back (the kiosk's earnings) and ann gets her money.
SELECT charged FROM wallet.spend(:ann, 20, 'ann-s2', payee => :kiosk);
SELECT wallet.freeze(:kiosk, 'fraud');
SELECT cash_returned FROM wallet.reverse_spend(pg_temp.txn(:ann, 'ann-s2'), 'ann-s2-back');
SELECT * FROM pg_temp.bal(:kiosk);
-- A frozen payee that spent most of its credit before the freeze: of the 9.00 taken back,
-- its last 1.00 of earnings gives 1.00 and 8.00 becomes its debt.
SELECT charged FROM wallet.spend(:ann, 10, 'ann-s3', payee => :kiosk);
SELECT wallet.unfreeze(:kiosk);
SELECT charged FROM wallet.spend(:kiosk, 8, 'kiosk-spends');
SELECT wallet.freeze(:kiosk, 'fraud again');
SELECT cash_returned FROM wallet.reverse_spend(pg_temp.txn(:ann, 'ann-s3'), 'ann-s3-back');
SELECT * FROM pg_temp.bal(:kiosk);
SELECT p.account, p.wallet_id = :ann AS ann, p.wallet_id = :kiosk AS kiosk, p.bucket, p.amount
  FROM wallet.postings p WHERE p.txn_id = pg_temp.txn(:ann, 'ann-s3-back') ORDER BY p.account DESC, p.amount;
-- 8.00 is below the flag: no risk flag.
SELECT count(*) AS flags FROM wallet.risk_flag WHERE wallet_id = :kiosk;

------------------------------------------------------------------------------
-- No flag where the policy has none
------------------------------------------------------------------------------
SELECT bonus FROM wallet.top_up(:cleo, 500, 'cleo-topup');
SELECT charged FROM wallet.spend(:cleo, 400, 'cleo-s1', payee => :stall);
SELECT charged FROM wallet.spend(:stall, 400, 'stall-spends');
SELECT cash_returned FROM wallet.reverse_spend(pg_temp.txn(:cleo, 'cleo-s1'), 'cleo-r1');
SELECT * FROM pg_temp.bal(:stall);
SELECT count(*) AS flags FROM wallet.risk_flag WHERE wallet_id = :stall;

------------------------------------------------------------------------------
-- A wallet in debt cannot take money out
------------------------------------------------------------------------------
-- wallet._refuse_in_debt(wallet_id, debt, exponent, operation) is the check every operation
-- that takes money out (withdraw, transfer, exchange) calls: WL008 while in debt.
SELECT wallet._refuse_in_debt(w.wallet_id, w.debt, w.exponent, 'withdraw')
  FROM wallet.wallet w WHERE w.wallet_id = :stall;
\echo :SQLSTATE
SELECT wallet._refuse_in_debt(w.wallet_id, w.debt, w.exponent, 'transfer')
  FROM wallet.wallet w WHERE w.wallet_id = :stall;
\echo :SQLSTATE
-- Out of debt, nothing is refused.
SELECT count(*) AS passed
  FROM wallet.wallet w, wallet._refuse_in_debt(w.wallet_id, w.debt, w.exponent, 'withdraw')
 WHERE w.wallet_id = :shop;

-- wallet.debt_repaid(debt, credit): the part of a credit that repays a debt.
SELECT wallet.debt_repaid(4500, 1800) AS part, wallet.debt_repaid(4500, 5400) AS all_of_it,
       wallet.debt_repaid(0, 1000) AS no_debt, wallet.debt_repaid(1000, 0) AS no_credit;
SELECT wallet.debt_repaid(-1, 10);
\echo :SQLSTATE

-- An adjustment that credits earnings repays the debt first, as every credit does: the stall
-- owes, a correction of 1.00 in its favour goes to the debt (a repay_debt transaction), and only
-- what is left of it becomes earnings. A correction of cash or bonus repays nothing.
SELECT * FROM pg_temp.bal(:stall);
SELECT replayed FROM wallet.adjust(:stall, 'earnings', 1, 'goodwill', 'stall-adj-1');
SELECT * FROM pg_temp.bal(:stall);
SELECT kind, amount, result->>'debt' AS debt_after FROM wallet.txn
 WHERE wallet_id = :stall AND kind IN ('adjust', 'repay_debt') ORDER BY txn_id;
SELECT replayed FROM wallet.adjust(:stall, 'cash', 1, 'goodwill', 'stall-adj-2');
SELECT * FROM pg_temp.bal(:stall);

------------------------------------------------------------------------------
-- The setting
------------------------------------------------------------------------------
-- payee_debt_flag is money of the currency: negative or finer than a cent is 22023.
SELECT wallet.set_policy('QPD', payee_debt_flag => -1);
\echo :SQLSTATE
SELECT wallet.set_policy('QPD', payee_debt_flag => 0.001);
\echo :SQLSTATE
-- Leaving it out keeps it.
SELECT commission_rate, payee_debt_flag FROM wallet.set_policy('QPD', commission_rate => 0.1);

-- reconcile checks every wallet's debt against its payee_receivable postings: a debt changed
-- behind the journal's back shows (in a transaction rolled back).
BEGIN;
UPDATE wallet.wallet SET debt = debt + 1 WHERE wallet_id = :stall;
SELECT check_name, wallet_id = :stall AS stall, expected, actual FROM wallet.reconcile()
 WHERE wallet_id IN (:ann, :bob, :shop, :supplier, :kiosk, :cleo, :stall);
ROLLBACK;

-- The books hold for this file's wallets and currencies.
SELECT * FROM wallet.reconcile()
 WHERE wallet_id IN (:ann, :bob, :shop, :supplier, :kiosk, :cleo, :stall)
    OR (wallet_id IS NULL AND currency IN ('QPD', 'QPE'));
