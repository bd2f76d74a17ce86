-- reconcile.sql: every reconciliation check finds the fault it is for, with the expected and
-- actual figures (CONTRACT.md section 8). reconcile() reads the journal in one pass (the C
-- aggregate wallet._journal_sums) since 0.2; these figures are the ones 0.1's query gave on the
-- same faults. Run by pg_prove in database wallet_tap; everything is rolled back.
BEGIN;
SELECT plan(3);
SET wallet.now = '2026-02-01 00:00:00+00';
INSERT INTO wallet.currency (code, exponent) VALUES ('QZR', 2), ('QZS', 0);
SELECT wallet.open('rec-a', 'QZR') AS a, wallet.open('rec-b', 'QZR') AS b, wallet.open('rec-c', 'QZS') AS c \gset
SELECT txn_id AS t1 FROM wallet.top_up(:a, 100, 'rec-1') \gset
SELECT txn_id FROM wallet.top_up(:b, 50, 'rec-2') \gset
SELECT txn_id FROM wallet.top_up(:c, 30, 'rec-3') \gset
SELECT txn_id FROM wallet.spend(:a, 10, 'rec-4', payee => :b) \gset
SELECT refund_id FROM wallet.request_refund(:t1, 'rec-5', 20) \gset

SELECT is_empty($$ SELECT * FROM wallet.reconcile() WHERE currency IN ('QZR', 'QZS') $$,
                'the books of the new currencies hold after real operations');

-- Faults made outside the functions (as a superuser could): a transaction that does not
-- balance; legs to a missing wallet, an unknown bucket, a wallet of another currency, no
-- wallet at all; a stored bucket changed; a payee credit without its journal leg; a refund
-- row whose amount no longer matches what is held.
INSERT INTO wallet.txn (wallet_id, kind, currency, created_at, postings) VALUES
 (:a, 'fault', 'QZR', '2026-02-01', ARRAY[ROW('wallet', :a, 'cash', 5)::wallet.posting]),
 (:b, 'fault', 'QZR', '2026-02-01', ARRAY[ROW('wallet', -7, 'cash', 7)::wallet.posting,
                                          ROW('funding', NULL, NULL, -7)::wallet.posting]),
 (:b, 'fault', 'QZR', '2026-02-01', ARRAY[ROW('wallet', :b, 'weird', 3)::wallet.posting,
                                          ROW('funding', NULL, NULL, -3)::wallet.posting]),
 (:c, 'fault', 'QZR', '2026-02-01', ARRAY[ROW('wallet', :c, 'cash', 4)::wallet.posting,
                                          ROW('funding', NULL, NULL, -4)::wallet.posting]),
 (:c, 'fault', 'QZS', '2026-02-01', ARRAY[ROW('wallet', NULL, 'cash', 2)::wallet.posting,
                                          ROW('funding', NULL, NULL, -1)::wallet.posting]);
INSERT INTO wallet.payee_credit (wallet_id, amount, txn_id) VALUES (:b, 9, 1);
UPDATE wallet.refund SET amount = amount + 1 WHERE refund_id = :refund_id;

CREATE TEMP TABLE found AS
SELECT check_name, CASE wallet_id WHEN :a THEN 'a' WHEN :b THEN 'b' WHEN :c THEN 'c' ELSE wallet_id::text END AS wallet,
       currency, expected, actual
  FROM wallet.reconcile() WHERE currency IN ('QZR', 'QZS');
SELECT results_eq($$ SELECT * FROM found ORDER BY 1, 2, 3 $$, $$ VALUES
  ('currency_balanced'::text, NULL::text, 'QZR'::text, 0::numeric, 0.05::numeric),
  ('currency_balanced', NULL, 'QZS', 0, 1),
  ('held_matches_open_refunds_and_holds', 'a', 'QZR', 20.01, 20.00),
  ('posting_to_unknown_wallet', '-7', 'QZR', 0, 0.07),
  ('posting_to_unknown_wallet', 'b', 'QZR', 0, 0.03),
  ('posting_to_unknown_wallet', 'c', 'QZR', 0, 0.04),
  ('posting_to_unknown_wallet', NULL, 'QZS', 0, 2),
  ('transaction_balanced', 'a', 'QZR', 0, 0.05),
  ('transaction_balanced', 'c', 'QZS', 0, 1),
  ('wallet_bucket_cash', 'a', 'QZR', 70.05, 70.00),
  ('wallet_bucket_cash', 'c', 'QZS', 34, 30),
  ('wallet_bucket_earnings', 'b', 'QZR', 10.00, 10.09) $$,
  'each check reports its fault with the expected and actual figures');
SELECT is((SELECT discrepancies FROM wallet.reconciliation_run ORDER BY run_id DESC LIMIT 1) >= 12, true,
          'the run is recorded with its discrepancies');

SELECT * FROM finish();
ROLLBACK;
