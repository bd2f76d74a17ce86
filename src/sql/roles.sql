------------------------------------------------------------------------------
-- Roles (cluster-wide; created only if missing)
------------------------------------------------------------------------------
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'wallet_app') THEN
    CREATE ROLE wallet_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'wallet_admin') THEN
    CREATE ROLE wallet_admin NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'wallet_reader') THEN
    CREATE ROLE wallet_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'wallet_verifier') THEN
    CREATE ROLE wallet_verifier NOLOGIN;
  END IF;
END
$roles$;

CREATE SCHEMA wallet_report;
-- Helpers the report views call (a view calls a function with its reader's rights, so wallet_reader
-- may execute them), kept where no role but the owner may name them.
CREATE SCHEMA wallet_internal;
COMMENT ON SCHEMA wallet_internal IS 'internal: the look-ups the wallet_report views call; no role may use it by name';

