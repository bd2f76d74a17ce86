
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
                 from_wallet bigint, from_txn bigint, group_id bigint, hold_id bigint)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON part;
  SELECT o.message_id, o.to_wallet, o.amount, o.currency, o.kind, o.from_wallet, o.from_txn, o.group_id,
         o.hold_id
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

-- a group payment's messages: a join made on the participant's shard, recorded on the group's
-- (group_join); the group's capture or release of a hold, on the participant's shard
CREATE FUNCTION wallet_router._group_join_in(message_id bigint, group_id bigint, wallet_id bigint, hold_id bigint,
                                             amount numeric, currency text, from_txn bigint)
  RETURNS TABLE (txn_id bigint, status text, joined int, participants int, refused text, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(group_id);
  TARGET wallet.group_join_in;
$$;

CREATE FUNCTION wallet_router._group_relay(message_id bigint, kind text, wallet_id bigint, hold_id bigint,
                                           group_id bigint, amount numeric, currency text, from_txn bigint)
  RETURNS TABLE (txn_id bigint, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  TARGET wallet.group_relay;
$$;

CREATE FUNCTION wallet_router._group_share(group_id bigint, wallet_id bigint)
  RETURNS TABLE (payee bigint, currency text, share numeric, expires_at timestamptz, order_ref text, status text)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(group_id);
  TARGET wallet.group_share;
$$;

CREATE FUNCTION wallet_router._join_group_share(group_id bigint, wallet_id bigint, idempotency_key text,
                                                payee bigint, currency text, share numeric, expires_at timestamptz,
                                                order_ref text, group_status text)
  RETURNS TABLE (hold_id bigint, message_id bigint, hold_txn bigint, replayed boolean)
  LANGUAGE plproxy AS $$
  CLUSTER 'wallet_cluster';
  RUN ON wallet_router.route(wallet_id);
  TARGET wallet.join_group_share;
$$;

-- join_group_pay: a participant of the group's shard joins there (wallet_router.shard_join_group_pay,
-- src/router/proxies.sql). One of another shard joins on its own shard first: its hold of the
-- share (wallet.join_group_share, with the participant's key, and a group_join message in the same
-- transaction), then the join recorded on the group's shard (wallet.group_join_in, idempotent on
-- that message id; the last join pays). If this stops between the two, the relay records the
-- join from the message; a replay of the key does the same and returns the first result. A join
-- the group refuses (no longer open, joined already) is WL008, and its hold is released by message.
CREATE FUNCTION wallet.join_group_pay(group_id bigint, wallet_id bigint, idempotency_key text)
  RETURNS TABLE (hold_id bigint, status text, joined int, participants int, replayed boolean)
  LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
  s record;
  h record;
  j record;
BEGIN
  IF wallet_router.shard_of(join_group_pay.wallet_id) = wallet_router.shard_of(join_group_pay.group_id) THEN
    RETURN QUERY SELECT * FROM wallet_router.shard_join_group_pay(join_group_pay.group_id, join_group_pay.wallet_id,
                                                                  join_group_pay.idempotency_key);
    RETURN;
  END IF;
  SELECT * INTO STRICT s FROM wallet_router._group_share(join_group_pay.group_id, join_group_pay.wallet_id);
  SELECT * INTO STRICT h
    FROM wallet_router._join_group_share(join_group_pay.group_id, join_group_pay.wallet_id,
                                         join_group_pay.idempotency_key, s.payee, s.currency, s.share,
                                         s.expires_at, s.order_ref, s.status);
  SELECT * INTO STRICT j
    FROM wallet_router._group_join_in(h.message_id, join_group_pay.group_id, join_group_pay.wallet_id, h.hold_id,
                                      s.share, s.currency, h.hold_txn);
  IF j.refused IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'WL008', MESSAGE = j.refused,
      DETAIL = format('Hold %s of wallet %s is released.', h.hold_id, join_group_pay.wallet_id);
  END IF;
  RETURN QUERY SELECT h.hold_id, j.status, j.joined, j.participants, h.replayed;
END $$;
COMMENT ON FUNCTION wallet.join_group_pay(bigint, bigint, text) IS
  'join a group payment: on the group''s shard, or on the participant''s and then recorded on the group''s';

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
-- how many it applied (marked applied in this run). Messages that applying others sends (a
-- group's captures, a capture's payee credit) are applied in the same run, in up to four rounds. A message the receiver refuses (no such
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
  before int;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('wallet_router.relay')) THEN
    RETURN 0;
  END IF;
  SELECT count(*) INTO n FROM wallet_router.shard;
  -- rounds: a message applied may send others (a group's last join sends its captures, a capture
  -- its payee's credit), which the next round applies, so that one call moves a chain to its end
  FOR round IN 1 .. 4 LOOP
  before := done;
  FOR p IN 0 .. n - 1 LOOP
    BEGIN
      FOR m IN SELECT * FROM wallet_router._outbox_pending(p, batch) LOOP
        BEGIN
          bounced := false;
          BEGIN
            IF m.kind = 'group_join' THEN
              -- a participant's join, recorded on the group's shard (a refusal there releases the hold)
              SELECT j.txn_id INTO STRICT r
                FROM wallet_router._group_join_in(m.message_id, m.group_id, m.from_wallet, m.hold_id, m.amount,
                                                  m.currency, m.from_txn) j;
            ELSIF m.kind IN ('group_capture', 'group_release') THEN
              -- the group's decision about a participant's hold, on the participant's shard
              SELECT * INTO STRICT r FROM wallet_router._group_relay(m.message_id, m.kind, m.to_wallet, m.hold_id,
                                                                     m.group_id, m.amount, m.currency, m.from_txn);
            ELSIF m.kind = 'payee_back' THEN
              -- a reversal's compensating message: the payee gives its part back (never refused)
              SELECT * INTO STRICT r FROM wallet_router._relay_back(m.message_id, m.to_wallet, m.amount, m.currency,
                                                                    m.from_wallet, m.from_txn);
            ELSE
              SELECT * INTO STRICT r FROM wallet_router._relay_in(m.message_id, m.to_wallet, m.amount, m.currency,
                                                                  m.kind, m.from_wallet, m.from_txn);
            END IF;
          EXCEPTION WHEN SQLSTATE 'WL006' OR SQLSTATE '22023' THEN
            IF m.kind = 'payee_back' OR m.group_id IS NOT NULL THEN
              RAISE;  -- money asked back, or a group's message, is never sent back: it waits, with a warning
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
  EXIT WHEN done = before;
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
