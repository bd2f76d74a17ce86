-- snapshot.sql: the data an upgrade must keep, printed the same way before and after it
-- (run by test/suites/upgrade.sh).
\pset pager off
SET wallet.now = '2026-01-20 10:00:00+00';
SET TimeZone = 'UTC';
SELECT txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, ref_txn, request, result
  FROM wallet.transactions ORDER BY txn_id;
SELECT * FROM wallet.postings ORDER BY txn_id, account, wallet_id, bucket;
-- balance's columns of 0.1 (0.2 appends debt, which the update adds as 0 for every wallet)
SELECT w.wallet_id, w.owner, w.currency, w.frozen, w.version, w.lots::text, b.wallet_id, b.currency,
       b.cash, b.bonus, b.earnings, b.held, b.available, b.withdrawable, b.frozen
  FROM wallet.wallet w CROSS JOIN LATERAL wallet.balance(w.wallet_id) b ORDER BY w.wallet_id;
-- the columns 0.1 has (later versions append theirs)
SELECT refund_id, wallet_id, topup_txn, request_txn, reason, amount, fee, net, clawback, bonus_void, status,
       note, reviewer, review_note, gateway_ref, requested_at, reviewed_at, settled_at
  FROM wallet.refund ORDER BY refund_id;
SELECT code, template_id, wallet_id, valid_from, valid_until, issued_at, issue_txn, redeemed_txn,
       redeemed_at, discount
  FROM wallet.coupon ORDER BY code;
SELECT credit_id, wallet_id, amount, txn_id FROM wallet.payee_credit ORDER BY credit_id;
-- (0.2 appends bucket and expires_at: every credit of 0.1 is to earnings and never expires)
SELECT count(*) FILTER (WHERE bucket <> 'earnings' OR expires_at IS NOT NULL) AS not_earnings
  FROM (SELECT to_jsonb(c) ->> 'bucket' AS bucket, to_jsonb(c) ->> 'expires_at' AS expires_at,
               to_jsonb(c) ? 'bucket' AS b FROM wallet.payee_credit c) x WHERE b;
SELECT * FROM wallet_report.topups_daily ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.spending_daily ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.bonus_daily ORDER BY 1, 2;
SELECT * FROM wallet_report.liability ORDER BY 1;
SELECT run_id, discrepancies, details FROM wallet.reconciliation_run ORDER BY run_id;
SELECT * FROM wallet.audit ORDER BY id;
SELECT * FROM wallet.rollup_state;
