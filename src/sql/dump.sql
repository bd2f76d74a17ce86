------------------------------------------------------------------------------
-- pg_dump keeps the data of these tables
------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('wallet.currency',
  'WHERE code NOT IN (''CNY'', ''USD'', ''EUR'', ''GBP'', ''HKD'', ''JPY'', ''KRW'', ''KWD'', ''BHD'', ''PTS'')');
SELECT pg_catalog.pg_extension_config_dump('wallet.policy', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.bonus_rule', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.fx_rate', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.reward_rule', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.limit_rule', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.step_up_grant', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.wallet', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn_default', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn_key', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.journal_checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.journal_archive', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.payee_credit', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn_party', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.refund', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.hold', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.group_pay', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.group_pay_member', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.withdrawal', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.auto_withdrawal', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.risk_flag', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.coupon_template', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.coupon', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.reconciliation_run', '');
-- and the sequences of their identity columns, so that ids continue where they were (pg_dump
-- leaves out the identity sequence of an extension's table unless it is registered itself)
SELECT pg_catalog.pg_extension_config_dump('wallet.bonus_rule_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.fx_rate_rate_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.reward_rule_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.limit_rule_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.step_up_grant_grant_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.wallet_wallet_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.txn_txn_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.journal_archive_archive_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.payee_credit_credit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.refund_refund_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.hold_hold_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.group_pay_group_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.withdrawal_withdrawal_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.risk_flag_flag_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.reconciliation_run_run_id_seq', '');

