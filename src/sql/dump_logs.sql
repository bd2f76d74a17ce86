------------------------------------------------------------------------------
-- pg_dump keeps the data of these tables (the roll-ups are not dumped: after a
-- restore, the watermark starts at 0 and wallet.refresh_reports() rebuilds them)
------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('wallet.notification', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.alert', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.audit', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.notification_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wallet.audit_id_seq', '');

