------------------------------------------------------------------------------
-- Privileges (as in src/sql/grants.sql: nothing for PUBLIC, then per role)
------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA wallet, wallet_report FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA wallet, wallet_report FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet, wallet_report, wallet_internal FROM PUBLIC;

GRANT EXECUTE ON FUNCTION wallet.pending_notifications(int), wallet.mark_notified(bigint[]) TO wallet_app;

GRANT EXECUTE ON FUNCTION
  wallet.remind_expiring(int), wallet.remind_idle(int), wallet.refresh_reports(int),
  wallet.schedule_jobs(text, text, text, text, text, text, interval, text, text), wallet.unschedule_jobs(text)
  TO wallet_admin;
-- schedule_jobs and unschedule_jobs run with the caller's rights: the helpers they call
GRANT EXECUTE ON FUNCTION wallet._cron_check(text), wallet._fail(text, text, text, text),
  wallet._text(text, text, int, boolean) TO wallet_admin;
REVOKE ALL ON PROCEDURE wallet.reconcile_job() FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE wallet.reconcile_job() TO wallet_admin;
GRANT SELECT ON wallet.notification, wallet.alert, wallet.audit, wallet.reconciliation_latest TO wallet_admin;
GRANT EXECUTE ON FUNCTION wallet.add_journal_partitions(int), wallet.archive_journal(date) TO wallet_admin;
GRANT SELECT ON wallet.journal_checkpoint, wallet.journal_archive TO wallet_admin;

GRANT SELECT ON wallet_report.topups_daily, wallet_report.spending_daily, wallet_report.transfers_daily,
  wallet_report.bonus_daily,
  wallet_report.refunds_daily, wallet_report.coupons, wallet_report.liability,
  wallet_report.topups_weekly, wallet_report.topups_monthly, wallet_report.spending_weekly,
  wallet_report.spending_monthly, wallet_report.transfers_weekly, wallet_report.transfers_monthly,
  wallet_report.bonus_weekly, wallet_report.bonus_monthly, wallet_report.refunds_weekly,
  wallet_report.refunds_monthly, wallet_report.withdrawals_daily, wallet_report.withdrawals_weekly,
  wallet_report.withdrawals_monthly, wallet_report.card_intake_weekly, wallet_report.card_intake_monthly,
  wallet_report.liability_daily, wallet_report.payees_daily, wallet_report.wallets_daily
  TO wallet_reader, wallet_admin;
-- called by the views, so by whoever reads them
-- (in schema wallet_internal, which no role may use: they cannot be called by name)
GRANT EXECUTE ON FUNCTION wallet_internal._report_watermark(), wallet_internal._report_facts_between(bigint, bigint),
  wallet_internal._report_wallet_facts_between(bigint, bigint)
  TO wallet_reader, wallet_admin;

-- The roll-up's bookkeeping tables are tiny: say so to the planner from the start, so that
-- the views' plans (and their JIT thresholds) do not assume ten pages of gaps.
ANALYZE wallet.rollup_state, wallet.rollup_gap;

