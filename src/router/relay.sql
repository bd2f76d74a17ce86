
------------------------------------------------------------------------------
-- Money between shards: the relay and the cluster's books
------------------------------------------------------------------------------
-- A shard's outbox (wallet.outbox there) holds money bound for wallets of other shards (and a
-- reversal's payee_back messages: a payee of another shard gives its part back there). The relay
-- reads each shard's pending messages, applies each on the receiver's shard (wallet.relay_in,
-- idempotent on the message id, so a message applied twice is applied once) and then marks it
-- on the sender's shard. PL/Proxy runs each call in its own transaction on its shard: a relay
-- stopped anywhere leaves messages applied and marked, applied and not yet marked (the next run
-- finds them replayed and marks them), or not applied; never one applied twice.

CREATE FUNCTION wallet_router._outbox_pending(part int, batch int)
  RETURNS TABLE (message_id bigint, to_wallet bigint, amount numeric, currency text, kind text,
                 from_wallet bigint, from_txn bigint)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON part;
  SELECT o.message_id, o.to_wallet, o.amount, o.currency, o.kind, o.from_wallet, o.from_txn
    FROM wallet.outbox_pending(batch) o;
$$;

CREATE FUNCTION wallet_router._relay_in(message_id bigint, to_wallet bigint, amount numeric, currency text,
                                        kind text, from_wallet bigint, from_txn bigint)
  RETURNS TABLE (txn_id bigint, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(to_wallet);
  TARGET wallet.relay_in;
$$;

CREATE FUNCTION wallet_router._relay_back(message_id bigint, payee bigint, amount numeric, currency text,
                                          from_wallet bigint, from_txn bigint)
  RETURNS TABLE (txn_id bigint, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(payee);
  TARGET wallet.relay_back;
$$;

CREATE FUNCTION wallet_router._outbox_applied(part int, message_id bigint, txn_id bigint, bounced boolean)
  RETURNS boolean
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON part;
  SELECT wallet.outbox_applied(message_id, txn_id, bounced) AS _outbox_applied;
$$;

CREATE FUNCTION wallet_router._incoming(wallet_id bigint) RETURNS SETOF numeric
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON ALL;
  TARGET wallet.incoming;
$$;

CREATE FUNCTION wallet_router._relay_check()
  RETURNS TABLE (item text, message_id bigint, wallet_id bigint, currency text, amount numeric,
                 applied boolean, bounced boolean, txn_id bigint)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON ALL;
  TARGET wallet.relay_check;
$$;

CREATE FUNCTION wallet_router._reconcile_shard(part int)
  RETURNS TABLE (check_name text, wallet_id bigint, currency text, expected numeric, actual numeric)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON part;
  SELECT r.check_name, r.wallet_id, r.currency, r.expected, r.actual FROM wallet.reconcile() r;
$$;

-- relay moves up to batch pending messages of each shard to their receivers' shards and returns
-- how many it applied (marked applied in this run). A message the receiver refuses (no such
-- wallet, another currency: WL006, 22023) goes back to its sender instead (bounced). A shard that
-- cannot be reached is skipped with a warning: its messages, and messages bound for it, wait
-- for the next run. Runs one at a time (an advisory lock; a second caller returns 0 at once).
CREATE FUNCTION wallet_router.relay(batch int DEFAULT 1000) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet_router, pg_temp AS $$
DECLARE
  n int;
  p int;
  m record;
  r record;
  bounced boolean;
  done int := 0;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('wallet_router.relay')) THEN
    RETURN 0;
  END IF;
  SELECT count(*) INTO n FROM wallet_router.shard;
  FOR p IN 0 .. n - 1 LOOP
    BEGIN
      FOR m IN SELECT * FROM wallet_router._outbox_pending(p, batch) LOOP
        BEGIN
          bounced := false;
          BEGIN
            IF m.kind = 'payee_back' THEN
              -- a reversal's compensating message: the payee gives its part back (never refused)
              SELECT * INTO STRICT r FROM wallet_router._relay_back(m.message_id, m.to_wallet, m.amount, m.currency,
                                                                    m.from_wallet, m.from_txn);
            ELSE
              SELECT * INTO STRICT r FROM wallet_router._relay_in(m.message_id, m.to_wallet, m.amount, m.currency,
                                                                  m.kind, m.from_wallet, m.from_txn);
            END IF;
          EXCEPTION WHEN SQLSTATE 'WL006' OR SQLSTATE '22023' THEN
            IF m.kind = 'payee_back' THEN
              RAISE;  -- money asked back is never sent back: the message waits, with a warning
            END IF;
            -- the receiver refuses it: back to the sender, on the sender's shard, once
            RAISE WARNING 'message % bounced back to wallet %: %', m.message_id, m.from_wallet, SQLERRM;
            SELECT * INTO STRICT r FROM wallet_router._relay_in(m.message_id, m.from_wallet, m.amount, m.currency,
                                                                'bounce', m.from_wallet, m.from_txn);
            bounced := true;
          END;
          IF wallet_router._outbox_applied(p, m.message_id, r.txn_id, bounced) THEN
            done := done + 1;
          END IF;
        EXCEPTION WHEN OTHERS THEN
          -- the receiver's shard is down (or the call failed): the message waits
          RAISE WARNING 'message % of shard % waits: %', m.message_id, p, SQLERRM;
        END;
      END LOOP;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'shard % is not reachable, its outbox waits: %', p, SQLERRM;
    END;
  END LOOP;
  RETURN done;
END $$;
COMMENT ON FUNCTION wallet_router.relay(int) IS
  'apply pending outbox messages of every shard on their receivers'' shards, each exactly once; returns how many';

-- wallet.reconcile_cluster checks every shard (its own wallet.reconcile()) and the messages
-- between them: every message marked applied was received exactly once, on the receiver's shard
-- (or, bounced, on the sender's) by the transaction it names; none was received twice or without
-- being sent; and the sum of shard_transit over the shards equals what is still on its way
-- (sent, not yet received), per currency. No rows: the cluster's books hold.
CREATE FUNCTION wallet.reconcile_cluster()
  RETURNS TABLE (check_name text, shard int, message_id bigint, wallet_id bigint, currency text,
                 expected numeric, actual numeric)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, wallet_router, pg_temp AS $$
#variable_conflict use_column
DECLARE
  n int;
  p int;
BEGIN
  SELECT count(*) INTO n FROM wallet_router.shard;
  FOR p IN 0 .. n - 1 LOOP
    RETURN QUERY SELECT r.check_name, p, NULL::bigint, r.wallet_id, r.currency, r.expected, r.actual
                   FROM wallet_router._reconcile_shard(p) r;
  END LOOP;
  RETURN QUERY
    WITH rc AS MATERIALIZED (SELECT * FROM wallet_router._relay_check())
    -- a message received more than once
    SELECT 'message received twice', wallet_router.shard_of(min(c.wallet_id)), c.message_id, min(c.wallet_id),
           min(c.currency), 1::numeric, count(*)::numeric
      FROM rc c WHERE c.item = 'received'
     GROUP BY c.message_id HAVING count(*) > 1
    UNION ALL
    -- received, but no shard sent it
    SELECT 'message received, never sent', wallet_router.shard_of(c.wallet_id), c.message_id, c.wallet_id,
           c.currency, 0::numeric, c.amount
      FROM rc c
     WHERE c.item = 'received'
       AND NOT EXISTS (SELECT 1 FROM rc s WHERE s.item = 'sent' AND s.message_id = c.message_id)
    UNION ALL
    -- marked applied, but not received as marked (by its transaction, for its amount, where it belongs)
    SELECT 'message applied, not received', wallet_router.shard_of(s.message_id), s.message_id, s.wallet_id,
           s.currency, s.amount, coalesce(x.amount, 0)
      FROM rc s
      LEFT JOIN rc x ON x.item = 'received' AND x.message_id = s.message_id
     WHERE s.item = 'sent' AND s.applied
       AND (x.message_id IS NULL OR x.txn_id IS DISTINCT FROM s.txn_id OR x.amount <> s.amount
            OR x.bounced <> s.bounced)
    UNION ALL
    -- shard_transit over the cluster = what was sent and not yet received
    SELECT 'shard_transit', NULL::int, NULL::bigint, NULL::bigint, t.currency, t.expected, t.actual
      FROM (SELECT cur AS currency,
                   coalesce((SELECT sum(s.amount) FROM rc s
                              WHERE s.item = 'sent' AND s.currency = cur
                                AND NOT EXISTS (SELECT 1 FROM rc x
                                                 WHERE x.item = 'received' AND x.message_id = s.message_id)), 0)
                     AS expected,
                   coalesce((SELECT sum(s.amount) FROM rc s WHERE s.item = 'transit' AND s.currency = cur), 0)
                     AS actual
              FROM (SELECT DISTINCT c.currency AS cur FROM rc c) k) t
     WHERE t.expected <> t.actual;
END $$;
COMMENT ON FUNCTION wallet.reconcile_cluster() IS
  'every shard''s reconcile() and the messages between shards: each applied exactly once; no rows when the books hold';
