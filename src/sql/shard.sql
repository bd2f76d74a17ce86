------------------------------------------------------------------------------
-- Shards (CONTRACT.md section 23): every id carries its shard in its low bits
------------------------------------------------------------------------------
-- A shard database of a cluster of `shards` databases (a power of two) has one row here; a lone
-- database has none and is shard 0 of 1. Every identity sequence of the extension then counts
-- in steps of `shards` from a value congruent to `shard`, so id & (shards - 1) = shard for every
-- wallet, transaction, refund, hold, withdrawal, intake or group id, and a router sends a call
-- naming an id to its shard without a look-up (wallet_router.shard_of).
CREATE TABLE wallet.shard_config (
  one    boolean PRIMARY KEY DEFAULT true CHECK (one),
  shard  int NOT NULL,
  shards int NOT NULL,
  CONSTRAINT shard_config_shards_check
    CHECK (shards BETWEEN 1 AND 1024 AND shards & (shards - 1) = 0 AND shard >= 0 AND shard < shards)
);
COMMENT ON TABLE wallet.shard_config IS
  'the shard this database is (shard, shards); no row: a lone database, shard 0 of 1';

-- _shard_sequences lists the identity sequences of the extension's tables.
CREATE FUNCTION wallet._shard_sequences() RETURNS SETOF regclass
  LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT c.oid::regclass
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'S' AND n.nspname IN ('wallet', 'wallet_report')
   ORDER BY c.oid
$$;

-- _shard_step makes every sequence count in steps of the row's `shards` (the trigger of
-- wallet.shard_config: it runs when configure_shard writes the row and again when a restore
-- copies the row back, since pg_dump keeps the sequences' values but not their increments).
CREATE FUNCTION wallet._sequence_step(seq regclass, increment int) RETURNS void
  AS 'MODULE_PATHNAME', 'wallet_sequence_step' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION wallet._sequence_step(regclass, int) FROM PUBLIC;
CREATE FUNCTION wallet._shard_step() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  s regclass;
BEGIN
  FOR s IN SELECT * FROM wallet._shard_sequences() LOOP
    PERFORM wallet._sequence_step(s, NEW.shards);
  END LOOP;
  RETURN NULL;
END $$;
CREATE TRIGGER shard_config_step AFTER INSERT OR UPDATE ON wallet.shard_config
  FOR EACH ROW EXECUTE FUNCTION wallet._shard_step();

-- configure_shard makes this database shard `shard` of `shards`: once, before the first wallet.
CREATE FUNCTION wallet.configure_shard(shard int, shards int) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
DECLARE
  cur wallet.shard_config;
  s regclass;
  last bigint;
  called boolean;
  next bigint;
BEGIN
  IF shard IS NULL OR shards IS NULL THEN
    PERFORM wallet._fail('22023', 'shard and shards must not be null');
  END IF;
  IF shards < 1 OR shards > 1024 OR shards & (shards - 1) <> 0 THEN
    PERFORM wallet._fail('22023', 'shards must be a power of two from 1 to 1024',
                         format('Got %s.', shards));
  END IF;
  IF shard < 0 OR shard >= shards THEN
    PERFORM wallet._fail('22023', 'shard must be from 0 to shards - 1',
                         format('Got shard %s of %s.', shard, shards));
  END IF;
  -- one configuration at a time
  LOCK TABLE wallet.shard_config IN EXCLUSIVE MODE;
  SELECT * INTO cur FROM wallet.shard_config;
  IF FOUND THEN
    IF cur.shard = configure_shard.shard AND cur.shards = configure_shard.shards THEN
      RETURN;  -- already so
    END IF;
    PERFORM wallet._fail('WL008', 'this database is already a shard',
                         format('It is shard %s of %s.', cur.shard, cur.shards),
                         'A shard keeps its number: to change the cluster, move wallets into new shard databases.');
  END IF;
  IF EXISTS (SELECT 1 FROM wallet.wallet) OR EXISTS (SELECT 1 FROM wallet.txn) THEN
    PERFORM wallet._fail('WL008', 'a shard must be configured before its first wallet',
                         'The ids already given out do not carry a shard.',
                         'Configure a new, empty database, then move wallets into it.');
  END IF;
  INSERT INTO wallet.shard_config (shard, shards) VALUES (configure_shard.shard, configure_shard.shards);
  -- the trigger has set every increment; now start every sequence at a value of this shard
  FOR s IN SELECT * FROM wallet._shard_sequences() LOOP
    last := pg_sequence_last_value(s);
    called := last IS NOT NULL;
    IF NOT called THEN
      SELECT q.seqstart INTO last FROM pg_sequence q WHERE q.seqrelid = s;
    END IF;
    next := CASE WHEN called THEN last + 1 ELSE last END;
    next := next + ((configure_shard.shard - next) % configure_shard.shards + configure_shard.shards)
                   % configure_shard.shards;
    IF next < 1 THEN next := next + configure_shard.shards; END IF;
    PERFORM setval(s, next, false);
  END LOOP;
END $$;
COMMENT ON FUNCTION wallet.configure_shard(int, int) IS
  'make this empty database shard `shard` of `shards` (a power of two up to 1024): every id then ends in its shard number';

-- shard_info reads which shard this database is: (0, 1) for a lone database.
CREATE FUNCTION wallet.shard_info(OUT shard int, OUT shards int)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, wallet, pg_temp AS $$
  SELECT coalesce(max(c.shard), 0), coalesce(max(c.shards), 1) FROM wallet.shard_config c
$$;
COMMENT ON FUNCTION wallet.shard_info() IS 'this database''s shard and the number of shards ((0, 1) when alone)';

-- the backends keep the shard they are (store/shard.c) and read it again when this row changes
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON wallet.shard_config
  FOR EACH STATEMENT EXECUTE FUNCTION wallet._config_changed();
ALTER TABLE wallet.shard_config ENABLE ALWAYS TRIGGER config_changed;
SELECT pg_catalog.pg_extension_config_dump('wallet.shard_config', '');
REVOKE ALL ON wallet.shard_config FROM PUBLIC;
REVOKE ALL ON FUNCTION wallet._shard_sequences(), wallet._shard_step(), wallet.configure_shard(int, int),
  wallet.shard_info() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wallet.configure_shard(int, int) TO wallet_admin;
GRANT EXECUTE ON FUNCTION wallet.shard_info() TO wallet_admin;
GRANT SELECT ON wallet.shard_config TO wallet_admin;
