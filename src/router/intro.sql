\echo Use "CREATE EXTENSION wallet_router" to load this file. \quit

-- wallet_router 0.2: the router database of a sharded wallet. Each shard database has
-- CREATE EXTENSION wallet and wallet.configure_shard(i, n); this database has the same wallet.*
-- functions, written in PL/Proxy, each of which runs the call on the shard its id names (the low
-- bits of every id are its shard), so an application changes only its connection string.
-- The roles of the wallet (src/sql/roles.sql) follow: the same, created only where missing.

