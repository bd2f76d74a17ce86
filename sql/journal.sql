-- journal: every operation writes one journal transaction with its postings, and the
-- postings of a transaction sum to zero (CONTRACT.md section 8). The journal is
-- append-only; wallet.reconcile() checks the books and records each run.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 2000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 2000000) AS t0 \gset

-- A currency of this file's own (user-assigned ISO 4217 code): a top-up of 100 gets a
-- bonus of 10 valid 7 days; payees pay 10 % commission.
INSERT INTO wallet.currency (code, exponent) VALUES ('QJN', 2);
SELECT wallet.add_bonus_rule('QJN', 100, 10, valid_for => '7 days') AS r_base \gset
SELECT currency, commission_rate FROM wallet.set_policy('QJN', commission_rate => 0.1);

SELECT wallet.open('journal-alice', 'QJN') AS alice, wallet.open('journal-shop', 'QJN') AS shop,
       wallet.open('journal-bob', 'QJN') AS bob \gset
-- pg_temp.who names this file's wallets.
CREATE FUNCTION pg_temp.who(wid bigint) RETURNS text
  LANGUAGE sql AS $$ SELECT owner FROM wallet.wallet WHERE wallet_id = wid $$;

------------------------------------------------------------------------------
-- One transaction of each kind
------------------------------------------------------------------------------
-- alice: top-up 100 (bonus 10); spend 30 paying the shop (bonus 10 + cash 20; commission 3,
-- credit 27); reverse 10 of it (bonus 3.33, cash 6.67; the shop gives back 9, the
-- commission 1); refund 50 of the top-up (c = 86.67, u = 10 - 3.33 = 6.67: clawback 6.67,
-- live bonus 3.33 voided: 60 held), approved and paid; freeze and unfreeze.
-- bob: top-up 100 (bonus 10), which expires unspent and is swept on the 10th.
SELECT bonus FROM wallet.top_up(:alice, 100, 'alice-topup');
SELECT charged, bonus_used, cash_used FROM wallet.spend(:alice, 30, 'alice-s1', payee => :shop);
SELECT bonus_returned, cash_returned FROM wallet.reverse_spend(
  (SELECT txn_id FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'alice-s1'), 'alice-r1', 10);
SELECT amount, bonus_clawback, bonus_void, status FROM wallet.request_refund(
  (SELECT txn_id FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'alice-topup'), 'alice-refund', 50);
SELECT refund_id AS ra FROM wallet.refund WHERE wallet_id = :alice \gset
SELECT wallet.review_refund(:ra, true, 'ops-anna'), wallet.settle_refund(:ra, true, 'gw-1');
SELECT wallet.freeze(:alice, 'routine check'), wallet.unfreeze(:alice);
SELECT bonus FROM wallet.top_up(:bob, 100, 'bob-topup');
SET wallet.now = '2026-01-10 00:00:00+00';
SELECT wallets >= 1 AND lots >= 1 AS swept FROM wallet.expire_bonus();

-- wallet.transactions: one row per operation; kind is the function that wrote it, ref_txn
-- points at the transaction operated on.
SELECT pg_temp.who(t.wallet_id) AS wallet, t.kind, t.amount, t.currency, t.created_at, t.idempotency_key,
       r.kind AS ref_kind
  FROM wallet.transactions t LEFT JOIN wallet.transactions r ON r.txn_id = t.ref_txn
 WHERE t.wallet_id IN (:alice, :shop, :bob) ORDER BY t.txn_id;

-- wallet.postings: wallet legs are positive when money comes into the wallet; system
-- accounts balance them.
SELECT t.kind, p.account, pg_temp.who(p.wallet_id) AS wallet, p.bucket, p.currency, p.amount
  FROM wallet.transactions t JOIN wallet.postings p USING (txn_id)
 WHERE t.wallet_id IN (:alice, :shop, :bob)
 ORDER BY p.txn_id, p.account DESC, p.bucket, p.amount;

-- Every transaction sums to zero: here, and in the whole journal.
SELECT t.kind, sum(p.amount) AS total
  FROM wallet.transactions t JOIN wallet.postings p USING (txn_id)
 WHERE t.wallet_id IN (:alice, :shop, :bob)
 GROUP BY t.txn_id, t.kind HAVING sum(p.amount) <> 0;
SELECT count(*) AS unbalanced_transactions
  FROM (SELECT txn_id FROM wallet.postings GROUP BY txn_id HAVING sum(amount) <> 0) x;
-- Per currency, all accounts sum to zero.
SELECT currency, sum(amount) AS total FROM wallet.postings WHERE currency = 'QJN' GROUP BY currency;
-- Each wallet's legs add up to its balance: alice cash 100 - 20 + 6.67 - 56.67 = 30,
-- the shop's earnings 27 - 9 = 18, bob's bonus 10 - 10 = 0.
SELECT pg_temp.who(p.wallet_id) AS wallet, p.bucket, sum(p.amount) AS posted
  FROM wallet.postings p WHERE p.account = 'wallet' AND p.wallet_id IN (:alice, :shop, :bob)
 GROUP BY p.wallet_id, p.bucket ORDER BY 1, 2;
SELECT pg_temp.who(b.wallet_id) AS wallet, b.cash, b.bonus, b.earnings, b.held
  FROM (SELECT * FROM wallet.balance(:alice) UNION ALL SELECT * FROM wallet.balance(:shop)
        UNION ALL SELECT * FROM wallet.balance(:bob)) b ORDER BY 1;

------------------------------------------------------------------------------
-- Append-only
------------------------------------------------------------------------------
-- UPDATE, DELETE and TRUNCATE of wallet.txn are refused with WL008, even for the owner.
-- (Each runs in a transaction that is rolled back, in case it were not refused.)
BEGIN;
UPDATE wallet.txn SET amount = 0 WHERE wallet_id = :alice AND idempotency_key = 'alice-topup';
\echo :SQLSTATE
ROLLBACK;
BEGIN;
DELETE FROM wallet.txn WHERE wallet_id = :bob;
\echo :SQLSTATE
ROLLBACK;
BEGIN;
TRUNCATE wallet.txn;
\echo :SQLSTATE
ROLLBACK;
SELECT count(*) AS alice_rows FROM wallet.txn WHERE wallet_id = :alice;

------------------------------------------------------------------------------
-- Reconciliation
------------------------------------------------------------------------------
-- All checks hold: no rows. Each run is recorded.
SELECT count(*) AS runs FROM wallet.reconciliation_run \gset
SELECT * FROM wallet.reconcile();
SELECT count(*) - :runs AS new_runs FROM wallet.reconciliation_run;
SELECT discrepancies, details, finished_at >= started_at AS timed
  FROM wallet.reconciliation_run ORDER BY run_id DESC LIMIT 1;

-- Tampering shows. (As superuser, inside a transaction that is rolled back.)
-- 12.34 of cash appears in alice's row without any posting: her stored cash no longer
-- matches her postings.
BEGIN;
UPDATE wallet.wallet
   SET lots = wallet.lots_add(lots, 'cash', 1234, (SELECT max(txn_id) FROM wallet.txn WHERE wallet_id = :alice),
                              wallet.clock(), NULL, NULL)
 WHERE wallet_id = :alice;
SELECT check_name, wallet_id = :alice AS alice, currency, expected, actual FROM wallet.reconcile();
SELECT discrepancies FROM wallet.reconciliation_run ORDER BY run_id DESC LIMIT 1;
ROLLBACK;
-- A journal row whose postings do not balance: 5.00 posted to bob's cash with nothing
-- against it breaks the transaction, bob's cash and the currency.
BEGIN;
INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, postings)
VALUES (:bob, 'forged', 500, 'QJN', wallet.clock(),
        ARRAY[ROW('wallet', :bob, 'cash', 500)::wallet.posting]);
SELECT check_name, wallet_id = :bob AS bob, currency, expected, actual FROM wallet.reconcile();
ROLLBACK;
-- Rolled back, the books hold again, and the rolled-back runs left no record.
SELECT * FROM wallet.reconcile();
SELECT count(*) - :runs AS new_runs FROM wallet.reconciliation_run;

-- Idempotency keys are unique in the database itself (wallet.txn_key), not only by the
-- operations' locking: a second row for a (wallet, key) is refused even to the owner.
\set VERBOSITY terse
INSERT INTO wallet.txn_key (wallet_id, idempotency_key, txn_id, created_at)
SELECT wallet_id, idempotency_key, txn_id + 1000000, created_at FROM wallet.txn_key
 ORDER BY txn_id LIMIT 1;
\echo :SQLSTATE
\set VERBOSITY default
-- every keyed journal row has its key row, naming it
SELECT count(*) AS keyed_rows_without_key FROM wallet.txn t
 WHERE t.idempotency_key IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM wallet.txn_key k WHERE k.wallet_id = t.wallet_id
                     AND k.idempotency_key = t.idempotency_key AND k.txn_id = t.txn_id
                     AND k.created_at = t.created_at);
