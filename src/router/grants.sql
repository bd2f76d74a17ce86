
------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each proxy is granted to the roles its shard function is
------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet_router FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wallet_router.shard_of(bigint), wallet_router.route(bigint), wallet_router.shard_of_owner(text)
  TO wallet_app, wallet_admin, wallet_reader, wallet_verifier;
GRANT EXECUTE ON FUNCTION wallet_router._incoming(bigint) TO wallet_admin, wallet_app;
GRANT EXECUTE ON FUNCTION wallet_router.relay(int), wallet.reconcile_cluster() TO wallet_admin;
-- join_group_pay runs as the application's role: a participant of another shard than the group's
-- joins there, then the join is recorded on the group's shard
GRANT EXECUTE ON FUNCTION wallet_router._group_share(bigint, bigint),
  wallet_router._join_group_share(bigint, bigint, text, bigint, text, numeric, timestamptz, text, text),
  wallet_router._group_join_in(bigint, bigint, bigint, bigint, numeric, text, bigint)
  TO wallet_app, wallet_admin;
