-- transfers: earnings moved from one wallet to another (CONTRACT.md section 17). Only
-- earnings leave this way (bonus never, cash never), into the receiver's earnings; the fee
-- (policy transfer_fee_rate and transfer_fee_fixed) is charged to the sender on top and kept
-- as fee_income. NULL amount moves all the sender may move. The receiver is credited as a
-- payee is (wallet.payee_credit, rolled up later): its row is neither locked nor written, and
-- its balance shows the money at once; a frozen receiver still receives. A frozen sender is
-- WL002, one in debt WL008, one short WL001; same currency and another wallet, else 22023.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-05-04 10:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
-- (Above the reports story's range: the report below reads the ids above its watermark.)
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9200000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9200000) AS t0 \gset

-- Two currencies of this file's own. QTR: top-ups of 100 or more get a bonus of 10; a
-- transfer's fee is 1 % of the amount plus 0.10. QTS: no fee.
INSERT INTO wallet.currency (code, exponent) VALUES ('QTR', 2), ('QTS', 2);
SELECT wallet.add_bonus_rule('QTR', 100, bonus_fixed => 10) IS NOT NULL AS rule;

-- The fee's settings are checked when they are set: a rate above 1, a negative or too fine
-- fixed fee are refused (22023), and nothing changes.
SELECT * FROM wallet.set_policy('QTR', transfer_fee_rate => 1.5);
SELECT * FROM wallet.set_policy('QTR', transfer_fee_fixed => -1);
SELECT * FROM wallet.set_policy('QTR', transfer_fee_fixed => 0.001);
SELECT currency, transfer_fee_rate, transfer_fee_fixed
  FROM wallet.set_policy('QTR', transfer_fee_rate => 0.01, transfer_fee_fixed => 0.10);
-- written directly, the table's trigger checks it the same way
UPDATE wallet.policy SET transfer_fee_fixed = 0.001 WHERE currency = 'QTR';
UPDATE wallet.policy SET transfer_fee_rate = -0.1 WHERE currency = 'QTR';
-- a currency without a policy row: no fee
SELECT transfer_fee_rate, transfer_fee_fixed FROM wallet._policy('QTS'::text);

-- pg_temp.bal shows a wallet's balance without its id and currency.
CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, bonus numeric, earnings numeric, available numeric, withdrawable numeric,
                 frozen boolean, debt numeric)
  LANGUAGE sql AS $$
  SELECT b.cash, b.bonus, b.earnings, b.available, b.withdrawable, b.frozen, b.debt FROM wallet.balance(wid) b $$;
-- pg_temp.legs shows a transaction's postings, wallets by name.
CREATE FUNCTION pg_temp.legs(tid bigint)
  RETURNS TABLE (account text, owner text, bucket text, amount numeric)
  LANGUAGE sql AS $$
  SELECT p.account, w.owner, p.bucket, p.amount FROM wallet.postings p
    LEFT JOIN wallet.wallet w ON w.wallet_id = p.wallet_id
   WHERE p.txn_id = tid ORDER BY p.account, w.owner $$;

SELECT wallet.open('tr-ann', 'QTR') AS ann, wallet.open('tr-bob', 'QTR') AS bob,
       wallet.open('tr-charity', 'QTR') AS charity, wallet.open('tr-shop', 'QTR') AS shop,
       wallet.open('tr-dan', 'QTR') AS dan, wallet.open('tr-cleo', 'QTS') AS cleo \gset

-- ann has cash 100 and bonus 10 (a top-up) and earnings 50 (an adjustment, as a sale's
-- proceeds would be).
SELECT bonus FROM wallet.top_up(:ann, 100, 'tr-t1');
SELECT replayed FROM wallet.adjust(:ann, 'earnings', 50, 'proceeds of a sale', 'tr-a1');
SELECT * FROM pg_temp.bal(:ann);

------------------------------------------------------------------------------
-- A transfer: the amount to the receiver, the fee on top from the sender
------------------------------------------------------------------------------
-- 20.00 to bob: the fee is 0.20 + 0.10 = 0.30, so ann's earnings give 20.30.
SELECT txn_id - :t0 AS txn_no, amount, fee, replayed FROM wallet.transfer(:ann, :bob, 20, 'tr-1');
SELECT txn_id AS tr1 FROM wallet.txn WHERE wallet_id = :ann AND idempotency_key = 'tr-1' \gset
-- ann: earnings 50 - 20.30 = 29.70, cash and bonus untouched
SELECT * FROM pg_temp.bal(:ann);
-- bob's balance shows the 20.00 at once: a pending credit, its row untouched (version 0)
SELECT * FROM pg_temp.bal(:bob);
SELECT version, (SELECT count(*) FROM wallet.lots_list(lots)) AS lots FROM wallet.wallet WHERE wallet_id = :bob;
SELECT amount, txn_id = :tr1 AS of_the_transfer FROM wallet.payee_credit WHERE wallet_id = :bob;
-- the journal: one transaction of kind transfer, on the sender, summing to zero
SELECT kind, amount, wallet_id = :ann AS on_sender, request, result - 'txn_id' AS result
  FROM wallet.txn WHERE txn_id = :tr1;
SELECT * FROM pg_temp.legs(:tr1);
SELECT sum(amount) AS sums_to FROM wallet.postings WHERE txn_id = :tr1;

-- The same key and arguments: the first result, nothing moves; other arguments: WL003.
SELECT txn_id = :tr1 AS same_txn, amount, fee, replayed FROM wallet.transfer(:ann, :bob, 20, 'tr-1');
SELECT * FROM wallet.transfer(:ann, :bob, 21, 'tr-1');
SELECT * FROM wallet.transfer(:ann, :charity, 20, 'tr-1');
SELECT * FROM wallet.transfer(:ann, :bob, 20, 'tr-1', kind => 'gift');
SELECT earnings FROM pg_temp.bal(:ann);
-- the key belongs to the sender: bob may use the same key for a transfer of his own
SELECT amount, fee, replayed FROM wallet.transfer(:bob, :ann, 1, 'tr-1');
SELECT earnings FROM pg_temp.bal(:ann);
SELECT earnings FROM pg_temp.bal(:bob);

------------------------------------------------------------------------------
-- Only earnings move: never bonus, never cash
------------------------------------------------------------------------------
-- ann has cash 100, bonus 10 and earnings 30.70: 35.00 would need 35.45 of earnings (WL001)
SELECT * FROM wallet.transfer(:ann, :bob, 35, 'tr-2');
-- 30.70 itself too: its fee (0.41) is on top
SELECT * FROM wallet.transfer(:ann, :bob, 30.70, 'tr-2');
SELECT * FROM pg_temp.bal(:ann);

------------------------------------------------------------------------------
-- NULL amount: all the sender may move ("donate my change")
------------------------------------------------------------------------------
-- earnings 30.70: the largest amount whose fee fits on top is 30.30 (1 % of it is 0.303,
-- rounded 0.30, plus 0.10: 30.30 + 0.40 = 30.70 exactly; 30.31 would cost 30.71)
SELECT amount, fee, replayed FROM wallet.transfer(:ann, :charity, NULL, 'tr-3', kind => 'donation');
SELECT * FROM pg_temp.bal(:ann);
SELECT * FROM pg_temp.bal(:charity);
-- replayed with NULL again: the first result
SELECT amount, fee, replayed FROM wallet.transfer(:ann, :charity, NULL, 'tr-3', kind => 'donation');
-- with nothing left to move, a replay of tr-1 is still its first result, never WL001 (the
-- refusal is decided under the row lock, where the key is looked up first)
SELECT txn_id = :tr1 AS same_txn, amount, fee, replayed FROM wallet.transfer(:ann, :bob, 20, 'tr-1');
-- nothing left: NULL amount is WL001 too
SELECT * FROM wallet.transfer(:ann, :charity, NULL, 'tr-4', kind => 'donation');
-- with QTS (no fee) a NULL amount moves the earnings exactly
SELECT wallet.open('tr-eve', 'QTS') AS eve \gset
SELECT replayed FROM wallet.adjust(:eve, 'earnings', 12.34, 'proceeds', 'tr-e1');
SELECT amount, fee FROM wallet.transfer(:eve, :cleo, NULL, 'tr-e2');
SELECT earnings FROM pg_temp.bal(:eve);
SELECT earnings FROM pg_temp.bal(:cleo);

------------------------------------------------------------------------------
-- Kinds and bad arguments
------------------------------------------------------------------------------
-- kind is 1 to 32 of a-z 0-9 _ (22023 otherwise), defaulting to p2p
SELECT kind, request->>'kind' AS request_kind FROM wallet.txn WHERE txn_id = :tr1;
SELECT * FROM wallet.transfer(:bob, :ann, 1, 'tr-k1', kind => 'Donation');
SELECT * FROM wallet.transfer(:bob, :ann, 1, 'tr-k1', kind => 'gift card');
SELECT * FROM wallet.transfer(:bob, :ann, 1, 'tr-k1', kind => '');
SELECT * FROM wallet.transfer(:bob, :ann, 1, 'tr-k1', kind => NULL);
SELECT * FROM wallet.transfer(:bob, :ann, 1, 'tr-k1', kind => repeat('x', 33));
SELECT amount, fee FROM wallet.transfer(:bob, :ann, 1, 'tr-k1', kind => repeat('x', 32));
SELECT amount, fee FROM wallet.transfer(:bob, :ann, 1, 'tr-k2', kind => 'birthday_gift_2026');
-- not to itself; the same currency; an existing wallet; amounts as every amount
SELECT * FROM wallet.transfer(:ann, :ann, 1, 'tr-x1');
SELECT * FROM wallet.transfer(:bob, :cleo, 1, 'tr-x1');
SELECT * FROM wallet.transfer(:bob, :w0 + 999, 1, 'tr-x1');
SELECT * FROM wallet.transfer(:w0 + 999, :bob, 1, 'tr-x1');
SELECT * FROM wallet.transfer(:bob, NULL, 1, 'tr-x1');
SELECT * FROM wallet.transfer(NULL, :bob, 1, 'tr-x1');
SELECT * FROM wallet.transfer(:bob, :ann, 0, 'tr-x1');
SELECT * FROM wallet.transfer(:bob, :ann, 0.001, 'tr-x1');
SELECT * FROM wallet.transfer(:bob, :ann, 1, NULL);
SELECT * FROM wallet.transfer(:bob, :ann, 1, 'tr-x1', note => repeat('n', 1001));
-- a note is kept in the journal's request
SELECT amount FROM wallet.transfer(:bob, :ann, 1, 'tr-x2', note => 'for the tickets');
SELECT request->>'note' AS note FROM wallet.txn WHERE wallet_id = :bob AND idempotency_key = 'tr-x2';

------------------------------------------------------------------------------
-- Frozen sender, frozen receiver
------------------------------------------------------------------------------
SELECT wallet.freeze(:bob, 'chargeback under review');
SELECT * FROM wallet.transfer(:bob, :ann, 1, 'tr-f1');
-- a frozen receiver still receives: bob is credited while frozen
SELECT replayed FROM wallet.adjust(:dan, 'earnings', 10, 'proceeds', 'tr-d1');
SELECT amount, fee FROM wallet.transfer(:dan, :bob, 5, 'tr-f2');
SELECT earnings, frozen FROM pg_temp.bal(:bob);
SELECT wallet.unfreeze(:bob);

------------------------------------------------------------------------------
-- A sender in debt takes no money out (WL008); credits repay the debt first
------------------------------------------------------------------------------
-- dan pays the shop 4.00; the shop passes all its earnings on to charity; dan's spend is
-- reversed: the shop's earnings cannot give back, so it owes 4.00.
SELECT charged FROM wallet.spend(:dan, 4, 'tr-s1', payee => :shop);
SELECT amount, fee FROM wallet.transfer(:shop, :charity, NULL, 'tr-s2', kind => 'donation');
SELECT earnings, debt FROM pg_temp.bal(:shop);
SELECT txn_id AS s1 FROM wallet.txn WHERE wallet_id = :dan AND idempotency_key = 'tr-s1' \gset
SELECT cash_returned, earnings_returned FROM wallet.reverse_spend(:s1, 'tr-s1-back');
SELECT earnings, debt FROM pg_temp.bal(:shop);
-- the shop earns 10.00 (a pending credit: its balance counts 4.00 of it as the debt repaid)
SELECT charged FROM wallet.spend(:ann, 10, 'tr-s3', payee => :shop);
SELECT earnings, debt FROM pg_temp.bal(:shop);
-- still in debt on its row until the credit is rolled up: the transfer rolls it up first, so
-- the debt is repaid and the transfer goes through (6.00 less the fee: 5.84 + 0.16)
SELECT amount, fee FROM wallet.transfer(:shop, :charity, NULL, 'tr-s4');
SELECT earnings, debt FROM pg_temp.bal(:shop);
SELECT kind, amount FROM wallet.txn WHERE wallet_id = :shop AND kind = 'repay_debt';
-- in debt and nothing pending: WL008
SELECT charged FROM wallet.spend(:dan, 1, 'tr-s5', payee => :shop);
SELECT txn_id AS s5 FROM wallet.txn WHERE wallet_id = :dan AND idempotency_key = 'tr-s5' \gset
SELECT amount FROM wallet.transfer(:shop, :charity, NULL, 'tr-s6');
SELECT earnings_returned FROM wallet.reverse_spend(:s5, 'tr-s5-back');
SELECT earnings, debt FROM pg_temp.bal(:shop);
SELECT * FROM wallet.transfer(:shop, :charity, 0.5, 'tr-s7');

------------------------------------------------------------------------------
-- The sender's pending credits are rolled up where they count
------------------------------------------------------------------------------
-- fay (QTS) has earnings 30 in her lots and a pending credit of 5 (a transfer from gil).
SELECT wallet.open('tr-fay', 'QTS') AS fay, wallet.open('tr-gil', 'QTS') AS gil \gset
SELECT replayed FROM wallet.adjust(:fay, 'earnings', 30, 'proceeds', 'tr-f1');
SELECT replayed FROM wallet.adjust(:gil, 'earnings', 8, 'proceeds', 'tr-g1');
SELECT amount FROM wallet.transfer(:gil, :fay, 5, 'tr-g2');
SELECT count(*) AS fay_pending FROM wallet.payee_credit WHERE wallet_id = :fay;
-- 10.00 out: her lots pay it alone, so the credit waits (her balance counts it all the same)
SELECT amount FROM wallet.transfer(:fay, :gil, 10, 'tr-f2');
SELECT count(*) AS fay_pending FROM wallet.payee_credit WHERE wallet_id = :fay;
SELECT earnings FROM pg_temp.bal(:fay);
-- a withdrawal her lots pay alone leaves it waiting too
SELECT amount, status FROM wallet.request_withdrawal(:fay, 4, 'tr-f3', 'bank:fay');
SELECT count(*) AS fay_pending FROM wallet.payee_credit WHERE wallet_id = :fay;
-- 17.00 out: her lots hold 16.00, so the credit is rolled up first and pays the rest
SELECT amount FROM wallet.transfer(:fay, :gil, 17, 'tr-f4');
SELECT count(*) AS fay_pending FROM wallet.payee_credit WHERE wallet_id = :fay;
SELECT earnings, withdrawable FROM pg_temp.bal(:fay);

------------------------------------------------------------------------------
-- The books
------------------------------------------------------------------------------
-- every transfer's postings sum to zero; the fees are fee income
SELECT count(*) AS transfers, sum(amount) AS moved FROM wallet.transactions WHERE kind = 'transfer'
   AND currency = 'QTR';
SELECT sum(p.amount) AS fee_income FROM wallet.postings p JOIN wallet.txn t ON t.txn_id = p.txn_id
 WHERE t.kind = 'transfer' AND p.account = 'fee_income' AND t.currency = 'QTR';
SELECT t.txn_id FROM wallet.txn t WHERE t.kind = 'transfer'
   AND (SELECT sum(p.amount) FROM unnest(t.postings) p) <> 0;
-- the report: transfers per day, currency and kind, before and after the roll-up
SELECT * FROM wallet_report.transfers_daily WHERE currency IN ('QTR', 'QTS') ORDER BY currency, kind;
SELECT wallet.refresh_reports() > 0 AS refreshed;
SELECT * FROM wallet_report.transfers_daily WHERE currency IN ('QTR', 'QTS') ORDER BY currency, kind;
-- the charity's credits, rolled up, are the same money
SELECT * FROM pg_temp.bal(:charity);
SELECT wallet.rollup_credits() > 0 AS rolled_up;
SELECT * FROM pg_temp.bal(:charity);
SELECT * FROM wallet.reconcile();
