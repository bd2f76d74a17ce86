------------------------------------------------------------------------------
-- The router's schemas
------------------------------------------------------------------------------
CREATE SCHEMA wallet_router;
CREATE SCHEMA wallet;
REVOKE ALL ON SCHEMA wallet_router, wallet FROM PUBLIC;
GRANT USAGE ON SCHEMA wallet_router, wallet TO wallet_app, wallet_admin, wallet_reader, wallet_verifier;

------------------------------------------------------------------------------
-- The cluster: one row per shard, the PL/Proxy server made from them
------------------------------------------------------------------------------
-- wallet_router.shard: shard i's libpq connection string (the PL/Proxy cluster
-- wallet_cluster is made from these rows by configure; both are kept by pg_dump).
CREATE TABLE wallet_router.shard (
  shard   int PRIMARY KEY CHECK (shard >= 0 AND shard < 1024),
  connstr text NOT NULL CHECK (connstr <> '')
);
COMMENT ON TABLE wallet_router.shard IS 'the shard databases: shard i answers at connstr';
SELECT pg_catalog.pg_extension_config_dump('wallet_router.shard', '');

-- shard_of is the shard an id lives on: its low bits (NULL goes to shard 0, which refuses it
-- with the error a lone database gives).
CREATE FUNCTION wallet_router.shard_of(id bigint) RETURNS int
  LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT coalesce((id & (count(*) - 1))::int, 0) FROM wallet_router.shard
$$;
COMMENT ON FUNCTION wallet_router.shard_of(bigint) IS 'the shard of an id: its low log2(shards) bits';

-- route is what a PL/Proxy function routes by (RUN ON wallet_router.route(id)): the id itself,
-- since PL/Proxy keeps the low log2(shards) bits of it as shard_of does (NULL goes to shard 0,
-- which refuses it with the error a lone database gives). A plain expression: the planner
-- inlines it into the routing query PL/Proxy plans once, where shard_of, which reads the
-- cluster's table, ran as a function of its own at every call.
CREATE FUNCTION wallet_router.route(id bigint) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(id, 0)
$$;
COMMENT ON FUNCTION wallet_router.route(bigint) IS
  'what a routed call hashes on: the id (PL/Proxy keeps its low bits, the shard), 0 for NULL';

-- shard_of_owner is the shard a new wallet of owner opens on (PL/Proxy masks the hash the same way).
CREATE FUNCTION wallet_router.shard_of_owner(owner text) RETURNS int
  LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT (hashtext(coalesce(owner, '')) & (count(*) - 1))::int FROM wallet_router.shard
$$;
COMMENT ON FUNCTION wallet_router.shard_of_owner(text) IS 'the shard wallet.open(owner, ...) creates its wallet on';

-- _shard_info reads shard part's own idea of its place in the cluster.
CREATE FUNCTION wallet_router._shard_info(part int, OUT shard int, OUT shards int)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON part;
  SELECT shard, shards FROM wallet.shard_info();
$$;

-- configure makes the cluster from one connection string per shard (a power of two of them);
-- each shard database must already be configured as its position (wallet.configure_shard(i, n)).
CREATE FUNCTION wallet_router.configure(shards text[]) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet_router, pg_temp AS $$
DECLARE
  n int := coalesce(cardinality(shards), 0);
  opts text := 'connection_lifetime ''1800''';
  i int;
  got record;
BEGIN
  IF n < 1 OR n > 1024 OR n & (n - 1) <> 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'shards must list a power of two of connection strings',
      DETAIL = format('Got %s.', n), HINT = 'Give 1, 2, 4, ... 1024 libpq connection strings, shard 0 first.';
  END IF;
  IF array_ndims(shards) <> 1 OR EXISTS (SELECT 1 FROM unnest(shards) c WHERE c IS NULL OR c = '') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'shards must not hold an empty connection string';
  END IF;
  FOR i IN 0 .. n - 1 LOOP
    opts := opts || format(', p%s %L', i, shards[i + array_lower(shards, 1)]);
  END LOOP;
  DELETE FROM wallet_router.shard;
  INSERT INTO wallet_router.shard
    SELECT o - 1, c FROM unnest(shards) WITH ORDINALITY AS u(c, o);
  DROP SERVER IF EXISTS wallet_cluster CASCADE;
  EXECUTE format('CREATE SERVER wallet_cluster FOREIGN DATA WRAPPER plproxy OPTIONS (%s)', opts);
  CREATE USER MAPPING FOR PUBLIC SERVER wallet_cluster;
  GRANT USAGE ON FOREIGN SERVER wallet_cluster TO wallet_app, wallet_admin, wallet_reader, wallet_verifier;
  -- every shard must know its place, or ids would be routed to the wrong database
  FOR i IN 0 .. n - 1 LOOP
    SELECT * INTO got FROM wallet_router._shard_info(i);
    IF got.shard <> i OR got.shards <> n THEN
      RAISE EXCEPTION USING ERRCODE = 'WL008',
        MESSAGE = format('connection string %s is not shard %s of %s', i + 1, i, n),
        DETAIL = format('That database says it is shard %s of %s.', got.shard, got.shards),
        HINT = format('Run SELECT wallet.configure_shard(%s, %s) in it first (an empty database).', i, n);
    END IF;
  END LOOP;
  RETURN n;
END $$;
COMMENT ON FUNCTION wallet_router.configure(text[]) IS
  'set up the PL/Proxy cluster wallet_cluster: one libpq connection string per shard, shard 0 first';

REVOKE ALL ON ALL TABLES IN SCHEMA wallet_router FROM PUBLIC;
GRANT SELECT ON wallet_router.shard TO wallet_admin;
