-- partitions: CREATE EXTENSION makes the journal partitions of the clock's month and the next
-- (UTC), so that journal rows never wait in the default partition in normal running; a month's
-- rows that did wait there are moved into its partition when it is made, and a move is a delete
-- and a new insert (README, Operations: journal partitions).
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

-- The install made this month's and next month's partitions (months at the real clock: no
-- wallet.now is set in this file until below). They are not members of the extension, so
-- pg_dump dumps them with their rows, and each has the journal's indexes and TRUNCATE guard.
SELECT g AS months_ahead, pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM%' AS ranged,
       NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e') AS not_an_extension_member,
       (SELECT string_agg(regexp_replace(pg_get_indexdef(x.indexrelid), 'txn_[0-9]{4}_[0-9]{2}', 'txn_M', 'g'), '; '
                          ORDER BY x.indexrelid::regclass::text)
          FROM pg_index x WHERE x.indrelid = c.oid) AS indexes,
       (SELECT string_agg(t.tgname, ', ' ORDER BY t.tgname) FROM pg_trigger t WHERE t.tgrelid = c.oid) AS triggers
  FROM generate_series(0, 1) g
  JOIN pg_class c ON c.relname = 'txn_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + g * interval '1 month', 'YYYY_MM')
  JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'wallet.txn'::regclass
 ORDER BY g;

-- A top-up now lands in its month's partition, not in wallet.txn_default.
SELECT wallet.open('partitions-alice') AS alice \gset
SELECT txn_id AS t FROM wallet.top_up(:alice, 10, 'partitions-1') \gset
SELECT tableoid <> 'wallet.txn_default'::regclass AS not_in_default,
       tableoid::regclass::text = 'wallet.txn_' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY_MM') AS in_its_month
  FROM wallet.txn WHERE txn_id = :t;

-- A month without a partition: its rows wait in the default partition. Making the partition
-- moves them: deleted from the default partition (the append-only guard is left out of the
-- move) and inserted again into the new partition, so that a trigger on the journal (here a
-- trigger of the DBA's, in a transaction rolled back) sees each moved row as a new insert, and
-- logical decoding sees a delete and an insert.
BEGIN;
CREATE TEMP TABLE seen (op text, partition text, txn_id bigint);
CREATE FUNCTION pg_temp.seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO seen VALUES (TG_OP, TG_TABLE_NAME, NEW.txn_id);
  RETURN NULL;
END $$;
CREATE TRIGGER seen AFTER INSERT ON wallet.txn FOR EACH ROW EXECUTE FUNCTION pg_temp.seen();
SET LOCAL wallet.now = '2041-05-10 00:00:00+00';
SELECT txn_id - :t AS top_up FROM wallet.top_up(:alice, 20, 'partitions-2');
SELECT tableoid::regclass AS partition, txn_id - :t AS txn FROM wallet.txn WHERE created_at >= '2041-05-01';
SELECT wallet.add_journal_partitions(0) AS created;
SELECT tableoid::regclass AS partition, txn_id - :t AS txn FROM wallet.txn WHERE created_at >= '2041-05-01';
SELECT op, partition, txn_id - :t AS txn FROM seen ORDER BY 2;
-- the books still hold
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE wallet_id = :alice;
ROLLBACK;
