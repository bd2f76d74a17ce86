
------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each proxy is granted to the roles its shard function is
------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet_router FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wallet_router.shard_of(bigint), wallet_router.route(bigint), wallet_router.shard_of_owner(text)
  TO wallet_app, wallet_admin, wallet_reader, wallet_verifier;
GRANT EXECUTE ON FUNCTION wallet_router._incoming(bigint) TO wallet_admin, wallet_app;
GRANT EXECUTE ON FUNCTION wallet_router.relay(int), wallet.reconcile_cluster() TO wallet_admin;
