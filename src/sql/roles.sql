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
