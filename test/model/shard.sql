-- test/model/shard.sql: what the model test's router mode (MODEL_TARGET=router, see README.md)
-- adds to each shard database, for the test only. The router database reaches it through
-- PL/Proxy (test/model/router.sql), on the connections the router's own functions use.

CREATE SCHEMA mt_shard;

-- exec: the rows of a statement as jsonb. The router mode reads the shards' tables (settings,
-- wallets, withdrawals, card items, pending credits) and applies settings through it.
CREATE FUNCTION mt_shard.exec(q text) RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT to_jsonb(r) FROM (%s) r', q);
END $$;

-- set_clock: the test clock (wallet.now) of this session, and of every session opened later
-- (ALTER DATABASE, committed with this call: PL/Proxy runs each remote statement on its own), so
-- a connection PL/Proxy opens again, after an error or at the end of its lifetime, starts on
-- the same clock. Returns the clock this session now runs on.
CREATE FUNCTION mt_shard.set_clock(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET wallet.now = %L', current_database(), t);
  RETURN set_config('wallet.now', t, false);
END $$;
