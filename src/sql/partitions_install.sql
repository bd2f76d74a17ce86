------------------------------------------------------------------------------
-- The journal's partitions of this month and the next (UTC, at the wallet clock), so that
-- journal rows never wait in the default partition in normal running (add_journal_partitions
-- keeps ahead). They are not members of the extension: pg_dump dumps them, definition and
-- rows, like the partitions add_journal_partitions makes later; a restore's CREATE EXTENSION
-- makes none (wallet._restoring): the dump brings its own.
------------------------------------------------------------------------------
SELECT wallet.add_journal_partitions(1) WHERE NOT wallet._restoring();
DO $$
DECLARE
  part regclass;
BEGIN
  IF NOT wallet._restoring() THEN
    FOR part IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
                 WHERE i.inhparent = 'wallet.txn'::regclass AND i.inhrelid <> 'wallet.txn_default'::regclass LOOP
      EXECUTE format('ALTER EXTENSION wallet DROP TABLE %s', part);
    END LOOP;
  END IF;
END $$;
