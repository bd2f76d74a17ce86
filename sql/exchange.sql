-- exchange: earnings of one wallet exchanged into another wallet of the same owner in another
-- currency (CONTRACT.md section 18), at the rate in force (wallet.fx_rate: the row whose
-- valid_from is the latest at or before the clock and whose valid_until is after it or NULL).
-- fee = amount x fee_rate (half away from zero, source currency, kept as fee_income);
-- to_amount = (amount - fee) x rate, rounded DOWN to the target's minor unit. Into a points
-- currency (PTS) it lands as bonus that never expires: spendable, never withdrawable,
-- transferable or refundable. Each currency has its journal row, through system account fx.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-05-04 10:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8900000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8900000) AS t0 \gset

-- Currencies of this story: QEA and QEB (2 decimals), QEJ (none). PTS is seeded, a points currency.
INSERT INTO wallet.currency (code, exponent) VALUES ('QEA', 2), ('QEB', 2), ('QEJ', 0);
SELECT code, exponent, points FROM wallet.currency WHERE code IN ('PTS', 'QEA') ORDER BY code;

-- Rates are checked when written (22023): a rate not above 0, a fee rate of 1 or more, one
-- currency to itself, points exchanged out, a validity that ends before it starts.
SELECT wallet.set_fx_rate('QEA', 'QEB', 0);
SELECT wallet.set_fx_rate('QEA', 'QEB', 7, fee_rate => 1);
SELECT wallet.set_fx_rate('QEA', 'QEA', 1);
SELECT wallet.set_fx_rate('PTS', 'QEA', 0.01);
SELECT wallet.set_fx_rate('QEA', 'QEB', 7, valid_from => '2026-05-02', valid_until => '2026-05-01');
SELECT wallet.set_fx_rate('QEA', 'QEZ', 7);
-- written directly, the table's checks and trigger refuse the same
INSERT INTO wallet.fx_rate (from_currency, to_currency, rate, valid_from) VALUES ('PTS', 'QEB', 1, '2026-05-01');

-- QEA -> QEB: 7.1234 with a 1 % fee from May 1st, 7.5 from June 1st. QEA -> QEJ: 150.7 without
-- fee, from May 1st until May 10th. QEA -> PTS: 10 points a unit.
SELECT wallet.set_fx_rate('QEA', 'QEB', 7.1234, fee_rate => 0.01, valid_from => '2026-05-01') IS NOT NULL AS ab1,
       wallet.set_fx_rate('QEA', 'QEB', 7.5, fee_rate => 0.01, valid_from => '2026-06-01') IS NOT NULL AS ab2,
       wallet.set_fx_rate('QEA', 'QEJ', 150.7, valid_from => '2026-05-01', valid_until => '2026-05-10')
         IS NOT NULL AS aj,
       wallet.set_fx_rate('QEA', 'PTS', 10, valid_from => '2026-05-01') IS NOT NULL AS ap;
-- each row is audited, as the other configuration tables are
SELECT action, new ->> 'from_currency' AS from_currency, new ->> 'to_currency' AS to_currency, new ->> 'rate' AS rate
  FROM wallet.audit WHERE object LIKE 'fx_rate:%' AND new ->> 'from_currency' = 'QEA' ORDER BY id;

-- The quote: 100 QEA pays a fee of 1.00; 99 x 7.1234 = 705.2166 gives 705.21 (rounding half
-- would give 705.22: the customer never gets a fraction more). No end of validity yet.
SELECT * FROM wallet.exchange_quote('QEA', 'QEB', 100);
-- a fee of half a minor unit rounds away from zero: 0.50 x 0.01 = 0.005 -> 0.01
SELECT * FROM wallet.exchange_quote('QEA', 'QEB', 0.50);
SELECT * FROM wallet.exchange_quote('QEA', 'QEJ', 1.99);
-- no rate in force the other way (WL008); an unknown currency, a bad amount (22023)
SELECT * FROM wallet.exchange_quote('QEB', 'QEA', 100);
SELECT * FROM wallet.exchange_quote('QEA', 'QEZ', 100);
SELECT * FROM wallet.exchange_quote('QEA', 'QEB', 1.001);

-- alice has wallets in QEA, QEB and PTS; bob one in QEB. alice's QEA wallet has 500 of
-- earnings (an adjustment here) and 50 of cash.
SELECT wallet.open('alice', 'QEA') AS a_qea, wallet.open('alice', 'QEB') AS a_qeb,
       wallet.open('alice', 'PTS') AS a_pts, wallet.open('alice', 'QEJ') AS a_qej,
       wallet.open('bob', 'QEB') AS b_qeb, wallet.open('bob', 'PTS') AS b_pts \gset
SELECT replayed FROM wallet.adjust(:a_qea, 'earnings', 500, 'sales', 'e1');
SELECT bonus, replayed FROM wallet.top_up(:a_qea, 50, 'c1');

-- 100 QEA into QEB: fee 1.00, 705.21 QEB as earnings.
SELECT txn_id - :t0 AS txn, rate, fee, to_amount, replayed FROM wallet.exchange(:a_qea, :a_qeb, 100, 'x1');
SELECT wallet_id - :w0 AS wallet, currency, cash, bonus, earnings, available, withdrawable
  FROM wallet.balance(:a_qea) UNION ALL
SELECT wallet_id - :w0, currency, cash, bonus, earnings, available, withdrawable FROM wallet.balance(:a_qeb);
-- Two journal rows, one per currency, each summing to zero through fx; the second names the first.
SELECT t.txn_id - :t0 AS txn, t.kind, t.currency, t.amount, t.ref_txn - :t0 AS ref
  FROM wallet.transactions t WHERE t.wallet_id IN (:a_qea, :a_qeb) AND t.kind = 'exchange' ORDER BY t.txn_id;
SELECT p.txn_id - :t0 AS txn, p.account, p.wallet_id - :w0 AS wallet, p.bucket, p.currency, p.amount
  FROM wallet.postings p JOIN wallet.transactions t USING (txn_id)
 WHERE t.kind = 'exchange' AND t.wallet_id IN (:a_qea, :a_qeb) ORDER BY p.txn_id, p.account, p.bucket;

-- A replay returns the first result; the key with other arguments is WL003.
SELECT txn_id - :t0 AS txn, rate, fee, to_amount, replayed FROM wallet.exchange(:a_qea, :a_qeb, 100, 'x1');
SELECT * FROM wallet.exchange(:a_qea, :a_qeb, 90, 'x1');

-- Refusals. Another owner's wallet, the same wallet, a NULL or too fine amount: 22023.
SELECT * FROM wallet.exchange(:a_qea, :b_qeb, 10, 'x2');
SELECT * FROM wallet.exchange(:a_qea, :a_qea, 10, 'x2');
SELECT * FROM wallet.exchange(:a_qea, :a_qeb, NULL, 'x2');
SELECT * FROM wallet.exchange(:a_qea, :a_qeb, 0.001, 'x2');
-- no rate in force from QEB to QEA: WL008
SELECT * FROM wallet.exchange(:a_qeb, :a_qea, 10, 'x2');
-- only earnings: 400 are left, the 50 of cash do not count (WL001)
SELECT * FROM wallet.exchange(:a_qea, :a_qeb, 401, 'x2');
-- an amount that gives nothing is refused (22023): 0.01 QEA is 0.1 point, rounded down to 0
SELECT * FROM wallet.exchange(:a_qea, :a_pts, 0.01, 'x2');
-- a frozen wallet exchanges nothing out (WL002)
SELECT wallet.freeze(:a_qea, 'review');
SELECT * FROM wallet.exchange(:a_qea, :a_qeb, 10, 'x2');
SELECT wallet.unfreeze(:a_qea);

-- Into points: 12.34 QEA x 10 = 123.4, rounded down to 123 points, as bonus that never expires.
SELECT txn_id - :t0 AS txn, rate, fee, to_amount, replayed FROM wallet.exchange(:a_qea, :a_pts, 12.34, 'p1');
SELECT currency, cash, bonus, earnings, available, withdrawable FROM wallet.balance(:a_pts);
SELECT bucket, amount, expires_at FROM wallet.lots(:a_pts);
-- Points are spendable ...
SELECT charged, bonus_used, cash_used, earnings_used FROM wallet.spend(:a_pts, 23, 'sp1');
-- ... but never withdrawn, transferred or refunded.
SELECT * FROM wallet.withdraw_quote(:a_pts, 1);
SELECT * FROM wallet.request_withdrawal(:a_pts, 1, 'wd1', 'bank:alice');
SELECT * FROM wallet.transfer(:a_pts, :b_pts, 1, 'tr1');
SELECT * FROM wallet.transfer(:a_pts, :b_pts, NULL, 'tr2');
SELECT t.txn_id AS pts_in FROM wallet.transactions t WHERE t.wallet_id = :a_pts AND t.kind = 'exchange' \gset
SELECT * FROM wallet.refund_quote(:pts_in);
SELECT * FROM wallet.request_refund(:pts_in, 'rf1');
SELECT currency, bonus, available FROM wallet.balance(:a_pts);

-- Validity windows. On May 11th the QEJ rate has ended (WL008); on June 2nd the later QEB
-- rate is in force: 100 QEA -> 99 x 7.5 = 742.50 QEB.
SET wallet.now = '2026-05-11 10:00:00+00';
SELECT * FROM wallet.exchange(:a_qea, :a_qej, 1, 'j1');
SET wallet.now = '2026-05-09 10:00:00+00';
-- before its end: 1.99 x 150.7 = 299.893 -> 299
SELECT rate, fee, to_amount FROM wallet.exchange(:a_qea, :a_qej, 1.99, 'j1');
SET wallet.now = '2026-06-02 10:00:00+00';
SELECT rate, fee, to_amount, valid_until FROM wallet.exchange_quote('QEA', 'QEB', 100);
SELECT rate, fee, to_amount FROM wallet.exchange(:a_qea, :a_qeb, 100, 'x3');
SELECT currency, earnings FROM wallet.balance(:a_qea) UNION ALL
SELECT currency, earnings FROM wallet.balance(:a_qeb) UNION ALL
SELECT currency, earnings FROM wallet.balance(:a_qej);

-- Each currency sums to zero: fx holds +what it took in QEA and -what it gave in QEB, QEJ, PTS.
SELECT p.currency, p.account, sum(p.amount) AS amount
  FROM wallet.postings p JOIN wallet.transactions t USING (txn_id)
 WHERE t.wallet_id IN (:a_qea, :a_qeb, :a_qej, :a_pts) AND p.account IN ('fx', 'fee_income')
 GROUP BY p.currency, p.account ORDER BY p.currency, p.account;
SELECT * FROM wallet.reconcile();
