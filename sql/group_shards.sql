-- group_shards: the shard-side functions of a group payment across shards (docs/scale-out.md),
-- on a lone database (shard 0 of 1), where every wallet and group is local: the router's read of
-- a share (group_share), and the refusals that keep a local group out of the message path (a
-- local group is joined with join_group_pay and moves its holds itself). The messages themselves
-- (a join recorded twice, a capture applied twice) are run by the router suite on two shards.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-06-01 18:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8850000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8850000) AS t0,
       setval(pg_get_serial_sequence('wallet.group_pay', 'group_id'), 8850000) AS g0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 8850000) AS h0 \gset

INSERT INTO wallet.currency (code, exponent) VALUES ('QGS', 2);
SELECT wallet.open('gs-ann', 'QGS') AS ann, wallet.open('gs-bob', 'QGS') AS bob,
       wallet.open('gs-shop', 'QGS') AS shop \gset
SELECT count(*) AS top_ups FROM (SELECT wallet.top_up(w, 50, 'gs-t') FROM unnest(ARRAY[:ann, :bob]::bigint[]) w) t;
SELECT wallet.group_pay(:shop, ARRAY[:ann, :bob]::bigint[], ARRAY[10, 15], 'gs-1', ttl => '2 hours',
                        order_ref => 'gs-order') - :g0 AS group_no;
SELECT :g0 + 1 AS g \gset

-- what the router reads before a participant of another shard joins: the payee, the share, the
-- group's expiry and status
SELECT payee - :shop AS payee, currency, share, expires_at, order_ref, status FROM wallet.group_share(:g, :bob);
-- not a participant, no such group: WL006
SELECT * FROM wallet.group_share(:g, :shop);
SELECT * FROM wallet.group_share(1, :bob);
SELECT * FROM wallet.group_share(NULL, :bob);

-- the group lives here: a participant joins it with join_group_pay, not by message
SELECT * FROM wallet.join_group_share(:g, :bob, 'gs-j', :shop, 'QGS', 15, '2026-06-01 20:00:00+00', NULL, 'open');
SELECT * FROM wallet.join_group_pay(:g, :ann, 'gs-j1');
SELECT hold_id - :h0 AS hold_no FROM wallet.holds(:ann);
-- a join recorded by message is for a wallet of another shard only
SELECT * FROM wallet.group_join_in(1, :g, :bob, :h0 + 1, 15, 'QGS', :t0);
-- a local group's hold is not captured or released by message
SELECT * FROM wallet.group_relay(1, 'group_release', :ann, :h0 + 1, :g, 10, 'QGS', :t0);
SELECT * FROM wallet.group_relay(1, 'group_pay', :ann, :h0 + 1, :g, 10, 'QGS', :t0);
SELECT status, remaining FROM wallet.holds(:ann);
-- nothing was sent: a lone database has no messages
SELECT count(*) AS messages FROM wallet.outbox;
-- a lone database has no group to write down when its time has passed (every share is held here
-- and expires with its group): expire_group_pays does nothing, even an hour after this one ends
SET wallet.now = '2026-06-01 21:00:00+00';
SELECT groups FROM wallet.expire_group_pays();
SELECT status FROM wallet.group_pay WHERE group_id = :g;
SET wallet.now = '2026-06-01 18:00:00+00';
SELECT * FROM wallet.expire_group_pays(0);
SELECT * FROM wallet.expire_group_pays(NULL);

-- the group goes on as on one database
SELECT hold_id - :h0 AS hold_no, status, joined, participants, replayed FROM wallet.join_group_pay(:g, :bob, 'gs-j2');
SELECT * FROM wallet.group_pay_status(:g) \gset gs_
SELECT :'gs_status' AS status, :gs_joined AS joined, :'gs_amount' AS amount;
SELECT available, held, earnings FROM wallet.balance(:shop);
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency = 'QGS';
