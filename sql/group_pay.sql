-- group_pay: a split bill (CONTRACT.md section 14). The payee asks several wallets for their
-- shares; each participant agrees by placing a hold of its share (join_group_pay); the last
-- join captures every hold to the payee in its own transaction: the order is paid all at once
-- or not at all. A participant declining, or the payee calling it off, releases every hold
-- (cancel_group_pay); the ttl passing does too.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-06-01 18:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8800000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8800000) AS t0,
       setval(pg_get_serial_sequence('wallet.group_pay', 'group_id'), 8800000) AS g0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 8800000) AS h0 \gset

-- A currency of this file's own: the restaurant keeps 95 % of a sale.
INSERT INTO wallet.currency (code, exponent) VALUES ('QGP', 2);
SELECT commission_rate FROM wallet.set_policy('QGP', commission_rate => 0.05);
SELECT wallet.open('gp-ann', 'QGP') AS ann, wallet.open('gp-bob', 'QGP') AS bob,
       wallet.open('gp-cy', 'QGP') AS cy, wallet.open('gp-restaurant', 'QGP') AS rest,
       wallet.open('gp-other', 'JPY') AS yen \gset
SELECT count(*) AS top_ups FROM (SELECT wallet.top_up(w, 50, 'gp-t') FROM unnest(ARRAY[:ann, :bob, :cy]::bigint[]) w) t;

------------------------------------------------------------------------------
-- A dinner of 90 split three ways
------------------------------------------------------------------------------
SELECT wallet.group_pay(:rest, ARRAY[:ann, :bob, :cy]::bigint[], ARRAY[30, 30, 30], 'dinner-1',
                        ttl => '2 hours', order_ref => 'table-7') - :g0 AS group_no;
SELECT :g0 + 1 AS dinner \gset
-- the same key and arguments: the same group
SELECT wallet.group_pay(:rest, ARRAY[:ann, :bob, :cy]::bigint[], ARRAY[30, 30, 30], 'dinner-1',
                        ttl => '2 hours', order_ref => 'table-7') - :g0 AS group_no;
SELECT * FROM wallet.group_pay_status(:dinner);
-- ann and bob agree: their shares are held
SELECT status, joined, participants, replayed FROM wallet.join_group_pay(:dinner, :ann, 'dinner-1-ann');
SELECT status, joined, participants, replayed FROM wallet.join_group_pay(:dinner, :bob, 'dinner-1-bob');
SELECT cash, held, available FROM wallet.balance(:bob);
-- a share of a group is not captured or released by itself
SELECT * FROM wallet.capture_hold((SELECT hold_id FROM wallet.group_pay_member WHERE group_id = :dinner AND wallet_id = :ann), 'x');
-- cy, the last, pays for everyone: three captures to the restaurant in this transaction
SELECT status, joined, participants, replayed FROM wallet.join_group_pay(:dinner, :cy, 'dinner-1-cy');
SELECT status, joined, participants, amount, paid_txn IS NOT NULL AS has_paid_txn
  FROM wallet.group_pay_status(:dinner);
SELECT w.owner, b.cash, b.held FROM unnest(ARRAY[:ann, :bob, :cy]::bigint[]) x, wallet.wallet w,
       LATERAL wallet.balance(x) b WHERE w.wallet_id = x ORDER BY w.owner;
SELECT earnings FROM wallet.balance(:rest);
SELECT t.kind, count(*), sum(t.amount) FROM wallet.txn t
 WHERE t.wallet_id IN (:ann, :bob, :cy) AND t.kind IN ('join_group_pay', 'capture_hold') GROUP BY t.kind ORDER BY 1;
-- a replay of a join returns its first result; a join after the payment is refused
SELECT status, joined, replayed FROM wallet.join_group_pay(:dinner, :cy, 'dinner-1-cy');
SELECT status, joined, replayed FROM wallet.join_group_pay(:dinner, :ann, 'dinner-1-ann');
SELECT * FROM wallet.join_group_pay(:dinner, :ann, 'dinner-1-ann-again');
SELECT * FROM wallet.cancel_group_pay(:dinner, :rest, 'dinner-1-cancel');
-- a capture of the group is a spend: reversed as one
SELECT cash_returned FROM wallet.reverse_spend(
  (SELECT txn_id FROM wallet.txn WHERE wallet_id = :ann AND kind = 'capture_hold'), 'dinner-1-refund-ann', 10);

------------------------------------------------------------------------------
-- Declined: every hold released
------------------------------------------------------------------------------
SELECT wallet.group_pay(:rest, ARRAY[:ann, :bob]::bigint[], ARRAY[15, 25], 'lunch-1') - :g0 AS group_no;
SELECT :g0 + 2 AS lunch \gset
SELECT status, joined FROM wallet.join_group_pay(:lunch, :ann, 'lunch-1-ann');
SELECT held FROM wallet.balance(:ann);
SELECT * FROM wallet.cancel_group_pay(:lunch, :bob, 'lunch-1-bob-declines');
SELECT * FROM wallet.cancel_group_pay(:lunch, :bob, 'lunch-1-bob-declines');
SELECT held FROM wallet.balance(:ann);
SELECT status, joined FROM wallet.group_pay_status(:lunch);
SELECT * FROM wallet.join_group_pay(:lunch, :bob, 'lunch-1-bob');
-- the payee calls one off
SELECT wallet.group_pay(:rest, ARRAY[:ann]::bigint[], ARRAY[5], 'tea-1') - :g0 AS group_no;
SELECT status FROM wallet.cancel_group_pay(:g0 + 3, :rest, 'tea-1-off');

------------------------------------------------------------------------------
-- Not enough: the join is refused, nothing is held; expiry
------------------------------------------------------------------------------
SELECT wallet.group_pay(:rest, ARRAY[:bob, :cy]::bigint[], ARRAY[100, 1], 'feast-1', ttl => '1 hour') - :g0 AS group_no;
SELECT :g0 + 4 AS feast \gset
SELECT * FROM wallet.join_group_pay(:feast, :bob, 'feast-1-bob');
SELECT status, joined FROM wallet.join_group_pay(:feast, :cy, 'feast-1-cy');
SET wallet.now = '2026-06-01 19:30:00+00';
SELECT status, joined FROM wallet.group_pay_status(:feast);
SELECT held, available FROM wallet.balance(:cy);
SELECT * FROM wallet.join_group_pay(:feast, :bob, 'feast-1-bob-late');

------------------------------------------------------------------------------
-- Refusals
------------------------------------------------------------------------------
SELECT wallet.group_pay(:rest, ARRAY[:ann, :ann]::bigint[], ARRAY[1, 2], 'bad-1');
SELECT wallet.group_pay(:rest, ARRAY[:ann, :rest]::bigint[], ARRAY[1, 2], 'bad-2');
SELECT wallet.group_pay(:rest, ARRAY[:ann]::bigint[], ARRAY[1, 2], 'bad-3');
SELECT wallet.group_pay(:rest, ARRAY[:ann, :yen]::bigint[], ARRAY[1, 2], 'bad-4');
SELECT wallet.group_pay(:rest, ARRAY[:ann]::bigint[], ARRAY[0.001], 'bad-5');
SELECT wallet.group_pay(:rest, '{}'::bigint[], '{}'::numeric[], 'bad-6');
SELECT wallet.group_pay(:rest, ARRAY[:ann]::bigint[], ARRAY[1], 'bad-7', ttl => '31 days');
SELECT wallet.group_pay(1, ARRAY[:ann]::bigint[], ARRAY[1], 'bad-8');
SELECT * FROM wallet.join_group_pay(:dinner, :rest, 'bad-9');
SELECT * FROM wallet.join_group_pay(1, :ann, 'bad-10');
SELECT * FROM wallet.cancel_group_pay(:dinner, :yen, 'bad-11');
SELECT * FROM wallet.group_pay_status(1);
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency = 'QGP';
