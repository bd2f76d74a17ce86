-- archive: the journal is partitioned by month (UTC); wallet.archive_journal(before) adds
-- the postings of the months that ended by `before` to a balance checkpoint and detaches
-- their partitions, and wallet.reconcile() stays exact without them (CONTRACT.md section 8,
-- "archival aside"; README, Operations: archival).
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2003-01-10 09:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8000000) AS t0,
       setval(pg_get_serial_sequence('wallet.refund', 'refund_id'), 8000000) AS r0 \gset

-- A currency of this file's own: a top-up of 100 gets a bonus of 10 valid 7 days;
-- payees pay 10 % commission.
INSERT INTO wallet.currency (code, exponent) VALUES ('QAJ', 2);
SELECT wallet.add_bonus_rule('QAJ', 100, 10, valid_for => '7 days') AS r_base \gset
SELECT currency, commission_rate FROM wallet.set_policy('QAJ', commission_rate => 0.1);
SELECT wallet.open('archive-alice', 'QAJ') AS alice, wallet.open('archive-bob', 'QAJ') AS bob,
       wallet.open('archive-shop', 'QAJ') AS shop \gset

------------------------------------------------------------------------------
-- January, February, March 2003
------------------------------------------------------------------------------
-- January: alice tops up 100 (bonus 10) and spends 30 at the shop (bonus 10 + cash 20;
-- the shop is credited 27, commission 3); bob tops up 50.
SELECT txn_id - :t0 AS txn, bonus FROM wallet.top_up(:alice, 100, 'archive-a1');
SELECT txn_id - :t0 AS txn, charged, bonus_used, cash_used FROM wallet.spend(:alice, 30, 'archive-a2', payee => :shop);
SELECT txn_id - :t0 AS txn, bonus FROM wallet.top_up(:bob, 50, 'archive-b1') \gset jan_bob_
-- February: the monthly partitions are created ahead (this month and the next); alice
-- spends 20 more; bob asks for 20 of his January top-up back (within its 30-day window).
SET wallet.now = '2003-02-03 09:00:00+00';
SELECT wallet.add_journal_partitions(1) AS created;
SELECT txn_id - :t0 AS txn, charged FROM wallet.spend(:alice, 20, 'archive-a3');
SELECT refund_id - :r0 AS refund, amount, status FROM wallet.request_refund(:t0 + :jan_bob_txn, 'archive-b3', 20);
-- January's rows wait in the default partition; February's have their own.
SELECT tableoid::regclass AS partition, count(*) AS rows
  FROM wallet.txn WHERE txn_id > :t0 GROUP BY 1 ORDER BY 1;
-- March: bob tops up 10.
SET wallet.now = '2003-03-05 09:00:00+00';
SELECT txn_id - :t0 AS txn FROM wallet.top_up(:bob, 10, 'archive-b2');

------------------------------------------------------------------------------
-- What archive_journal refuses
------------------------------------------------------------------------------
-- A month is kept while a top-up of it may still be refunded: here until 30 days (the
-- longest refund window) after it ended.
SELECT * FROM wallet.archive_journal('2003-03-01');
SET wallet.now = '2003-06-01 00:00:00+00';
-- Rows not rolled up into the reports yet (the report views read old rows by txn_id).
SELECT * FROM wallet.archive_journal('2003-03-01');
SELECT wallet.refresh_reports() > 0 AS rolled_up;
-- A month holding the top-up of an open refund (settling or reversing it needs the row).
SELECT * FROM wallet.archive_journal('2003-03-01');
SELECT wallet.review_refund(:r0 + 1, false, 'archive-ops', 'not eligible');
SELECT wallet.refresh_reports() > 0 AS rolled_up;
-- A month with a transaction whose postings do not sum to zero (shown in a transaction
-- rolled back: the journal is append-only).
BEGIN;
INSERT INTO wallet.txn (txn_id, wallet_id, kind, currency, created_at, postings)
VALUES (:t0 + 100, :bob, 'bad', 'QAJ', '2003-02-10 00:00:00+00',
        ARRAY[ROW('wallet', :bob, 'cash', 1)::wallet.posting]);
SELECT * FROM wallet.archive_journal('2003-03-01');
ROLLBACK;
-- Before must be a date.
SELECT * FROM wallet.archive_journal(NULL);

------------------------------------------------------------------------------
-- Archiving January and February
------------------------------------------------------------------------------
-- The books before: what the journal posted per account (minor units, this currency).
SELECT p.account, p.wallet_id - :w0 AS wallet, p.bucket, sum(p.amount) AS posted
  FROM wallet.txn t CROSS JOIN LATERAL unnest(t.postings) p WHERE t.currency = 'QAJ'
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT month, table_name, rows, first_txn - :t0 AS first_txn, last_txn - :t0 AS last_txn
  FROM wallet.archive_journal('2003-03-01');
-- The checkpoint holds what they posted (minor units); the journal keeps March.
SELECT account, wallet_id - :w0 AS wallet, bucket, amount
  FROM wallet.journal_checkpoint WHERE currency = 'QAJ' ORDER BY 1, 2, 3;
SELECT txn_id - :t0 AS txn, kind, created_at FROM wallet.txn WHERE txn_id > :t0 ORDER BY txn_id;
-- Checkpoint plus journal equal the books before archival, and reconciliation holds.
SELECT x.account, x.wallet_id - :w0 AS wallet, x.bucket, sum(x.amount) AS posted
  FROM (SELECT c.account, c.wallet_id, c.bucket, c.amount FROM wallet.journal_checkpoint c WHERE c.currency = 'QAJ'
        UNION ALL
        SELECT p.account, p.wallet_id, p.bucket, p.amount
          FROM wallet.txn t CROSS JOIN LATERAL unnest(t.postings) p WHERE t.currency = 'QAJ') x
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT * FROM wallet.reconcile();
SELECT cash, bonus, earnings, held FROM wallet.balance(:alice);
SELECT cash, bonus, earnings, held FROM wallet.balance(:bob);
-- The detached tables stay for the DBA to dump and drop; wallet.journal_archive lists them.
SELECT month, table_name, rows, first_txn - :t0 AS first_txn, last_txn - :t0 AS last_txn, archived_at
  FROM wallet.journal_archive WHERE month < '2003-03-01' ORDER BY month;
SELECT count(*) AS rows FROM wallet.txn_2003_01;
-- Archiving again archives nothing more.
SELECT * FROM wallet.archive_journal('2003-03-01');

------------------------------------------------------------------------------
-- After archival
------------------------------------------------------------------------------
-- Operations on the wallets go on; reconciliation stays exact.
SELECT txn_id - :t0 AS txn, charged FROM wallet.spend(:bob, 5, 'archive-b4');
SELECT * FROM wallet.reconcile();
-- An archived top-up cannot be refunded any more (its refund window had closed anyway).
SELECT * FROM wallet.refund_quote(:t0 + :jan_bob_txn);
-- An idempotency key whose row was archived stays taken (wallet.txn_key is not archived):
-- a late retry is refused with WL008, never charged a second time.
SELECT txn_id - :t0 AS txn, replayed FROM wallet.top_up(:bob, 50, 'archive-b1');
\echo :SQLSTATE
-- Rows dated in an archived month land in the default partition and are reconciled there.
SET wallet.now = '2003-01-20 00:00:00+00';
SELECT txn_id - :t0 AS txn FROM wallet.top_up(:bob, 1, 'archive-b5');
SELECT tableoid::regclass AS partition FROM wallet.txn WHERE txn_id = currval(pg_get_serial_sequence('wallet.txn', 'txn_id'));
SELECT * FROM wallet.reconcile();
-- Its month cannot get a partition again while the detached table is there.
SELECT wallet._journal_partition('2003-01-01');
-- The DBA dumped the detached tables and drops them.
DROP TABLE wallet.txn_2003_01, wallet.txn_2003_02;
SELECT * FROM wallet.reconcile();
-- Each top-up keeps the refund window it was given: one made under a 90-day window keeps its
-- month online after the policy went back to 30 days.
SET wallet.now = '2003-04-10 09:00:00+00';
SELECT refund_window FROM wallet.set_policy('QAJ', refund_window => '90 days');
SELECT txn_id - :t0 AS txn FROM wallet.top_up(:alice, 10, 'archive-a5');
SELECT refund_window FROM wallet.set_policy('QAJ', refund_window => '30 days');
SET wallet.now = '2003-06-01 00:00:00+00';
SELECT wallet.refresh_reports() > 0 AS rolled_up;
SELECT * FROM wallet.archive_journal('2003-05-01');
SELECT * FROM wallet.reconcile();
-- Months before it go: March, and January again (the row dated into it after its archival).
SELECT month, table_name, rows FROM wallet.archive_journal('2003-04-01');
SELECT month, count(*) AS archivals, sum(rows) AS rows FROM wallet.journal_archive
 WHERE month < '2003-04-01' AND table_name LIKE 'txn_2003%' GROUP BY 1 ORDER BY 1;
SELECT * FROM wallet.reconcile();
