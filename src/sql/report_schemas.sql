------------------------------------------------------------------------------
-- The schemas of the reports
------------------------------------------------------------------------------
CREATE SCHEMA wallet_report;
-- Helpers the report views call (a view calls a function with its reader's rights, so wallet_reader
-- may execute them), kept where no role but the owner may name them.
CREATE SCHEMA wallet_internal;
COMMENT ON SCHEMA wallet_internal IS 'internal: the look-ups the wallet_report views call; no role may use it by name';

