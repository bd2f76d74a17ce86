-- snapshot.sql: what a restore must give back, printed the same way in the dumped database
-- and in each restored one (run by test/suites/dump.sh).
\pset pager off
SET wallet.now = '2026-03-25 10:00:00+00';
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
-- settings
SELECT * FROM wallet.currency ORDER BY code;
SELECT * FROM wallet.policy ORDER BY currency;
SELECT * FROM wallet.bonus_rule ORDER BY rule_id;
SELECT * FROM wallet.coupon_template ORDER BY template_id;
SELECT * FROM wallet.fx_rate ORDER BY rate_id;
SELECT * FROM wallet.reward_rule ORDER BY rule_id;
SELECT * FROM wallet.card_type ORDER BY card_type;
SELECT * FROM wallet.card_rate ORDER BY rate_id;
-- the key of the card secrets' hashes (its digest: a restore must keep it, or a card submitted
-- before would no longer be recognized)
SELECT key_id, md5(hmac_key) FROM wallet.card_key ORDER BY key_id;
-- wallets, lots and balances
SELECT w.wallet_id, w.owner, w.currency, w.frozen, w.frozen_reason, w.version, w.next_expiry, w.created_at,
       w.lots::text, b.*
  FROM wallet.wallet w CROSS JOIN LATERAL wallet.balance(w.wallet_id) b ORDER BY w.wallet_id;
SELECT w.wallet_id, l.* FROM wallet.wallet w CROSS JOIN LATERAL wallet.lots(w.wallet_id) l ORDER BY 1, 2;
-- the journal, where each row is, its keys, postings
SELECT tableoid::regclass AS partition, * FROM wallet.txn ORDER BY txn_id;
SELECT * FROM wallet.txn_key ORDER BY wallet_id, idempotency_key;
SELECT * FROM wallet.postings ORDER BY txn_id, account, wallet_id, bucket;
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'wallet.txn'::regclass ORDER BY 1;
-- refunds, coupons, credits, flags, outboxes, audit, reconciliation, archival
SELECT * FROM wallet.refund ORDER BY refund_id;
SELECT * FROM wallet.card_quotes ORDER BY quote_id;
SELECT * FROM wallet.card_intake ORDER BY intake_id;
SELECT * FROM wallet.card_item ORDER BY item_id;
SELECT w.wallet_id, k.* FROM wallet.wallet w CROSS JOIN LATERAL wallet.intakes(w.wallet_id) k ORDER BY 1, 2;
SELECT * FROM wallet.coupon ORDER BY code;
SELECT * FROM wallet.payee_credit ORDER BY credit_id;
SELECT * FROM wallet.risk_flag ORDER BY flag_id;
SELECT * FROM wallet.notification ORDER BY id;
SELECT * FROM wallet.alert ORDER BY id;
SELECT * FROM wallet.audit ORDER BY id;
SELECT * FROM wallet.reconciliation_run ORDER BY run_id;
SELECT * FROM wallet.journal_checkpoint ORDER BY 1, 2, 3, 4;
SELECT * FROM wallet.journal_archive ORDER BY archive_id;
-- reports (the roll-ups are not dumped: the views add what is not rolled up)
SELECT * FROM wallet_report.topups_daily ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.spending_daily ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.bonus_daily ORDER BY 1, 2;
SELECT * FROM wallet_report.refunds_daily ORDER BY 1, 2;
SELECT * FROM wallet_report.coupons ORDER BY 1;
SELECT * FROM wallet_report.liability ORDER BY 1;
SELECT * FROM wallet_report.liability_daily ORDER BY 1, 2;
SELECT * FROM wallet_report.payees_daily ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.wallets_daily ORDER BY 1, 2;
SELECT * FROM wallet_report.withdrawals_daily ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.card_intake_daily ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.topups_weekly ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.spending_monthly ORDER BY 1, 2, 3;
SELECT * FROM wallet_report.bonus_monthly ORDER BY 1, 2;
SELECT * FROM wallet_report.transfers_monthly ORDER BY 1, 2, 3;
-- every sequence of the extension where it was (the roll-ups' own bookkeeping is not dumped:
-- wallet.refresh_reports() rebuilds it)
SELECT s.schemaname, s.sequencename, s.last_value FROM pg_sequences s
 WHERE s.schemaname IN ('wallet', 'wallet_report') AND s.sequencename !~ '^rollup_' ORDER BY 1, 2;
