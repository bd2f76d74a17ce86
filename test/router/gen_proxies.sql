-- gen_proxies.sql: prints src/router/proxies.sql, the router's wallet.* functions, from a database
-- with the wallet extension: each listed function with the shard function's own arguments, defaults,
-- result type and grants, and the PL/Proxy routing below. The router suite runs it again and
-- fails if the committed file differs (a function of the extension changed its signature).
--   psql -X -At -d SHARD_DB -f test/router/gen_proxies.sql > src/router/proxies.sql
WITH route(name, run, split) AS (VALUES
  -- a wallet: the wallet's shard
  ('balance', 'wallet_router.route(wallet_id)', NULL),
  ('lots', 'wallet_router.route(wallet_id)', NULL),
  ('freeze', 'wallet_router.route(wallet_id)', NULL),
  ('unfreeze', 'wallet_router.route(wallet_id)', NULL),
  ('top_up', 'wallet_router.route(wallet_id)', NULL),
  ('spend', 'wallet_router.route(wallet_id)', NULL),
  ('spend_preview', 'wallet_router.route(wallet_id)', NULL),
  ('spend_split', 'wallet_router.route(wallet_id)', NULL),
  ('coupons', 'wallet_router.route(wallet_id)', NULL),
  ('validate_coupon', 'wallet_router.route(wallet_id)', NULL),
  ('issue_coupon', 'wallet_router.route(wallet_id)', NULL),
  ('issue_coupons', 'wallet_router.route(wallet_ids)', 'wallet_ids'),
  ('hold', 'wallet_router.route(wallet_id)', NULL),
  ('holds', 'wallet_router.route(wallet_id)', NULL),
  ('transfer', 'wallet_router.route(from_wallet)', NULL),
  ('exchange', 'wallet_router.route(from_wallet)', NULL),
  ('withdraw_quote', 'wallet_router.route(wallet_id)', NULL),
  ('request_withdrawal', 'wallet_router.route(wallet_id)', NULL),
  ('withdrawals', 'wallet_router.route(wallet_id)', NULL),
  ('set_auto_withdrawal', 'wallet_router.route(wallet_id)', NULL),
  ('limit_usage', 'wallet_router.route(wallet_id)', NULL),
  ('statement', 'wallet_router.route(wallet_id)', NULL),
  ('grant_step_up', 'wallet_router.route(wallet_id)', NULL),
  ('adjust', 'wallet_router.route(wallet_id)', NULL),
  ('submit_cards', 'wallet_router.route(wallet_id)', NULL),
  ('intakes', 'wallet_router.route(wallet_id)', NULL),
  ('card_quote', 'wallet_router.route(wallet_id)', NULL),
  ('group_pay', 'wallet_router.route(payee)', NULL),
  -- an id of a wallet's transaction, refund, hold, group, withdrawal, intake or card: its shard
  ('reverse_spend', 'wallet_router.route(spend_txn_id)', NULL),
  ('transaction', 'wallet_router.route(txn_id)', NULL),
  ('refund_quote', 'wallet_router.route(topup_txn_id)', NULL),
  ('request_refund', 'wallet_router.route(topup_txn_id)', NULL),
  ('review_refund', 'wallet_router.route(refund_id)', NULL),
  ('refund_status', 'wallet_router.route(refund_id)', NULL),
  ('settle_refund', 'wallet_router.route(refund_id)', NULL),
  ('capture_hold', 'wallet_router.route(hold_id)', NULL),
  ('release_hold', 'wallet_router.route(hold_id)', NULL),
  ('extend_hold', 'wallet_router.route(hold_id)', NULL),
  ('join_group_pay', 'wallet_router.route(group_id)', NULL),
  ('cancel_group_pay', 'wallet_router.route(group_id)', NULL),
  ('group_pay_status', 'wallet_router.route(group_id)', NULL),
  ('review_withdrawal', 'wallet_router.route(withdrawal_id)', NULL),
  ('settle_withdrawal', 'wallet_router.route(withdrawal_id)', NULL),
  ('return_withdrawal', 'wallet_router.route(withdrawal_id)', NULL),
  ('intake_items', 'wallet_router.route(intake_id)', NULL),
  ('settle_intake', 'wallet_router.route(intake_id)', NULL),
  ('review_intake', 'wallet_router.route(intake_id)', NULL),
  ('verify_card', 'wallet_router.route(item_id)', NULL),
  -- a new wallet: a hash of its owner
  ('open', 'hashtext(owner)', NULL),
  -- reads of the settings every shard holds alike: shard 0
  ('bonus_preview', '0', NULL),
  ('exchange_quote', '0', NULL),
  -- every shard's discrepancies
  ('reconcile', 'ALL', NULL)
), fn AS (
  SELECT p.oid, p.proname, r.run, r.split,
         pg_get_function_arguments(p.oid) AS args,
         pg_get_function_identity_arguments(p.oid) AS idargs,
         pg_get_function_result(p.oid) AS result,
         -- the call the shard runs: every argument by name (PL/Proxy sends each as $n), and
         -- SELECT *, which the shard parses, checks and plans in less than the column list
         -- PL/Proxy writes by itself (one cast a column): this is done again at every call
         format('SELECT * FROM wallet.%I(%s)', p.proname,
                (SELECT string_agg(a.n, ', ' ORDER BY a.i)
                   FROM unnest(p.proargnames, coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[p.pronargs])))
                        WITH ORDINALITY AS a(n, m, i)
                  WHERE a.m IN ('i', 'b'))) AS call
    FROM route r
    JOIN pg_proc p ON p.proname = r.name AND p.pronamespace = 'wallet'::regnamespace
)
SELECT E'-- written by test/router/gen_proxies.sql from the wallet extension''s functions: do not edit\n\n'
       -- the composite result types of the listed functions, column for column
       || coalesce((SELECT string_agg(format(E'CREATE TYPE wallet.%I AS (%s);\n', t.typname,
                                           (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)),
                                                              ', ' ORDER BY a.attnum)
                                              FROM pg_attribute a
                                             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)),
                                    '' ORDER BY t.typname)
                      FROM pg_type t
                     WHERE t.typnamespace = 'wallet'::regnamespace AND t.typtype = 'c'
                       AND t.oid IN (SELECT p.prorettype FROM fn JOIN pg_proc p ON p.oid = fn.oid)), '')
       || E'\n'
       || string_agg(def, E'\n' ORDER BY proname, idargs)
  FROM (
    SELECT proname, idargs, call,
           CASE WHEN proname = 'balance' THEN
             -- the shard's balance, and what other shards' outboxes still owe the wallet (incoming)
             format(E'CREATE FUNCTION wallet_router.shard_balance(%s)\n  RETURNS %s\n  LANGUAGE plproxy AS $$\n  CLUSTER ''wallet_cluster'';\n  RUN ON %s;\n  %s;\n$$;\n'
                    'GRANT EXECUTE ON FUNCTION wallet_router.shard_balance(%s) TO wallet_admin, wallet_app;\n'
                    'CREATE FUNCTION wallet.balance(%s)\n  RETURNS %s, incoming numeric)\n  LANGUAGE sql STABLE AS $$\n'
                    '  SELECT b.*, (SELECT coalesce(sum(i), 0) FROM wallet_router._incoming($1) i)\n'
                    '    FROM wallet_router.shard_balance($1, $2) b\n$$;\n',
                    args, result, run, call, idargs, args, rtrim(result, ')'))
           WHEN proname = 'join_group_pay' THEN
             -- a join on the group's shard; wallet.join_group_pay (src/router/relay.sql) calls it for a
             -- participant of that shard, and joins one of another shard there first
             format(E'CREATE FUNCTION wallet_router.shard_join_group_pay(%s)\n  RETURNS %s\n  LANGUAGE plproxy AS $$\n  CLUSTER ''wallet_cluster'';\n  RUN ON %s;\n  %s;\n$$;\n'
                    'GRANT EXECUTE ON FUNCTION wallet_router.shard_join_group_pay(%s) TO wallet_app;\n',
                    args, result, run, call, idargs)
           ELSE
           format(E'CREATE FUNCTION wallet.%I(%s)\n  RETURNS %s\n  LANGUAGE plproxy AS $$\n  CLUSTER ''wallet_cluster'';\n%s  RUN ON %s;\n  %s;\n$$;\n',
                  proname, args, result,
                  CASE WHEN split IS NOT NULL THEN format(E'  SPLIT %s;\n', split) ELSE '' END, run, call)
           END
           || coalesce((SELECT format(E'GRANT EXECUTE ON FUNCTION wallet.%I(%s) TO %s;\n', fn.proname, fn.idargs,
                                      string_agg(a.grantee::regrole::text, ', ' ORDER BY a.grantee::regrole::text))
                          FROM pg_proc q, aclexplode(q.proacl) a
                         WHERE q.oid = fn.oid AND a.grantee <> q.proowner AND a.grantee <> 0
                           AND a.privilege_type = 'EXECUTE'), '') AS def
      FROM fn
  ) d;
