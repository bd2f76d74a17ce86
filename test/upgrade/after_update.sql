-- after_update.sql (pgTAP): a database that ran wallet 0.1 and was updated to 0.2 keeps its
-- data and keeps working (run by test/suites/upgrade.sh after ALTER EXTENSION wallet UPDATE;
-- that the schema equals a fresh 0.2 install is checked there, by diffing test/upgrade/describe.sql).
\set ON_ERROR_STOP on
BEGIN;
SELECT plan(26);
SET wallet.now = '2026-01-21 10:00:00+00';
SELECT id AS alice FROM upgrade_ids WHERE name = 'alice' \gset
SELECT id AS bob FROM upgrade_ids WHERE name = 'bob' \gset
SELECT id AS shop FROM upgrade_ids WHERE name = 'shop' \gset
SELECT max(txn_id) AS last_old FROM wallet.txn \gset

SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'wallet'), '0.2', 'the extension is at 0.2');
SELECT is((SELECT c.relkind::text FROM pg_class c WHERE c.oid = 'wallet.txn'::regclass), 'p',
          'wallet.txn is a partitioned table');
SELECT is((SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = 'wallet.txn_default'::regclass),
          'DEFAULT', 'the 0.1 journal is its default partition');
SELECT is((SELECT count(*) FROM wallet.txn_default), (SELECT count(*) FROM wallet.txn),
          'every journal row of 0.1 is in the default partition');
SELECT is_empty('SELECT * FROM wallet.reconcile()', 'reconcile is clean after the update');

-- the report views of 0.2 over the 0.1 journal: the update filled their roll-ups
SELECT isnt_empty('SELECT * FROM wallet.rollup_balance', 'the update rolled the 0.1 journal up into rollup_balance');
SELECT set_eq($$SELECT d.currency, d.wallets, d.cash, d.bonus, d.earnings, d.held
                  FROM wallet_report.liability_daily d
                 WHERE d.day = (SELECT max(x.day) FROM wallet_report.liability_daily x WHERE x.currency = d.currency)$$,
              $$SELECT currency, wallets, cash, bonus, earnings, held FROM wallet_report.liability$$,
              'liability_daily''s last day is what the wallets hold');
SELECT set_eq($$SELECT payee, sum(net) FROM wallet_report.payees_daily GROUP BY payee$$,
              $$SELECT p.wallet_id, sum(p.amount) FROM wallet.postings p JOIN wallet.transactions t USING (txn_id)
                 WHERE t.kind IN ('spend', 'spend_split', 'capture_hold', 'reverse_spend') AND t.wallet_id <> p.wallet_id
                   AND p.account IN ('wallet', 'payee_receivable')
                 GROUP BY p.wallet_id$$,
              'payees_daily''s net is each payee''s legs in sales and reversals');
SELECT is((SELECT sum(new_wallets) FROM wallet_report.wallets_daily), (SELECT count(*) FROM wallet.wallet)::numeric,
          'wallets_daily counts every wallet opened');

-- idempotency keys of 0.1 operations still replay
SELECT is((SELECT row(t.txn_id, t.replayed)::text FROM wallet.top_up(:alice, 200, 'up-top-a1', 'card') t),
          row((SELECT id FROM upgrade_ids WHERE name = 'top_a1'), true)::text,
          'a 0.1 top-up key replays: same txn_id, replayed');
SELECT is((SELECT row(t.txn_id, t.replayed)::text FROM wallet.spend(:bob, 25, 'up-spend-b1', payee => :shop) t),
          row((SELECT id FROM upgrade_ids WHERE name = 'spend_b1'), true)::text,
          'a 0.1 spend key replays: same txn_id, replayed');
SELECT throws_ok($$SELECT * FROM wallet.top_up($$ || :alice || $$, 999, 'up-top-a1', 'card')$$, 'WL003', NULL,
                 'a 0.1 key with other arguments is WL003');

-- operations go on, ids after the old ones
SELECT cmp_ok((SELECT txn_id FROM wallet.top_up(:alice, 40, 'up-top-a3')), '>', :last_old::bigint,
              'a new top-up gets a txn_id after every 0.1 one');
SELECT is((SELECT charged FROM wallet.spend(:alice, 15, 'up-spend-a3', payee => :shop)), 15.00::numeric,
          'a spend paying the shop works');
SELECT is((SELECT bonus_returned + cash_returned + earnings_returned
             FROM wallet.reverse_spend((SELECT id FROM upgrade_ids WHERE name = 'spend_a1'), 'up-rev-a2', 10)),
          10.00::numeric,
          'a spend made under 0.1 can be reversed further');
SELECT is((SELECT wallet.review_refund((SELECT id FROM upgrade_ids WHERE name = 'refund_a2'),
                                                    true, 'ops')), 'approved',
          'a refund requested under 0.1 is approved');
SELECT is((SELECT wallet.settle_refund((SELECT id FROM upgrade_ids WHERE name = 'refund_a2'),
                                                    true, 'gw-2')), 'succeeded',
          'and settled');
SELECT is((SELECT status FROM wallet.request_refund((SELECT id FROM upgrade_ids WHERE name = 'top_a1'),
                                                     'up-ref-a1', 5)), 'pending',
          'a top-up made under 0.1 can be refunded');
SELECT is((SELECT count(*) FROM wallet.issue_coupons('UP-5OFF', ARRAY[:alice, :bob]::bigint[], 'up-bulk')), 2::bigint,
          'coupons are issued');
SELECT is_empty('SELECT * FROM wallet.reconcile()', 'reconcile is clean after the new operations');

-- partitions and archival on the updated database
SELECT is(wallet.add_journal_partitions(1), 2, 'add_journal_partitions creates this month''s and next month''s partitions');
SELECT is((SELECT count(*) FROM wallet.txn_2026_01), (SELECT count(*) FROM wallet.txn
                                                       WHERE created_at >= '2026-01-01' AND created_at < '2026-02-01'),
          'the month''s rows moved from the default partition into wallet.txn_2026_01');
SELECT throws_ok($$SELECT * FROM wallet.archive_journal('2026-02-01')$$, '55000', NULL,
                 'a month within the refund window is not archived');
SET wallet.now = '2026-04-01 00:00:00+00';
SELECT wallet.review_refund((SELECT refund_id FROM wallet.refund WHERE status = 'pending' LIMIT 1), false, 'ops');
-- twice: the replays above drew transaction ids they did not use, and the first refresh keeps
-- such gaps until every transaction running when it saw them has ended (here: the second call)
SELECT wallet.refresh_reports();
SELECT wallet.refresh_reports();
SELECT is((SELECT month::text || ' ' || rows FROM wallet.archive_journal('2026-02-01')),
          '2026-01-01 ' || (SELECT count(*) FROM wallet.txn_2026_01),
          'January 2026 is archived once the window has passed');
SELECT is((SELECT count(*) FROM wallet.txn WHERE created_at < '2026-02-01'), 0::bigint,
          'its rows are out of the journal');
SELECT is_empty('SELECT * FROM wallet.reconcile()', 'reconcile is clean with the checkpoint instead of the archived month');

SELECT * FROM finish();
ROLLBACK;
