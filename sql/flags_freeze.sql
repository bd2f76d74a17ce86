-- flags_freeze: refund abuse (CONTRACT.md section 20). policy.flags_to_freeze (NULL: never):
-- a wallet that collects that many risk flags (wallet.risk_flag) in 30 days is frozen at once,
-- in the transaction that flags it, with a reason naming the flags. Every flag counts: a refund
-- request beyond max_refunds_per_30_days (section 6) and a payee's debt past payee_debt_flag
-- (section 5). Flags older than 30 days (by the wallet clock) do not.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8960000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8960000) AS t0,
       setval(pg_get_serial_sequence('wallet.refund', 'refund_id'), 8960000) AS r0,
       setval(pg_get_serial_sequence('wallet.risk_flag', 'flag_id'), 8960000) AS f0 \gset

-- Two currencies of this file's own: QFZ allows one refund request in 30 days, flags a payee
-- whose debt grows above 10.00 and freezes at 3 flags; QNF allows one request too but never
-- freezes (flags_to_freeze NULL, the default).
INSERT INTO wallet.currency (code, exponent) VALUES ('QFZ', 2), ('QNF', 2);
SELECT currency, max_refunds_per_30_days, payee_debt_flag, flags_to_freeze
  FROM wallet.set_policy('QFZ', max_refunds_per_30_days => 1, payee_debt_flag => 10, flags_to_freeze => 3);
SELECT currency, max_refunds_per_30_days, flags_to_freeze
  FROM wallet.set_policy('QNF', max_refunds_per_30_days => 1);

-- The setting is a count of at least 1: 0 or less is refused as it is written (22023), and
-- reset puts it back to NULL.
SELECT flags_to_freeze FROM wallet.set_policy('QNF', flags_to_freeze => 0);
\echo :SQLSTATE
SELECT flags_to_freeze FROM wallet.set_policy('QNF', flags_to_freeze => -2);
\echo :SQLSTATE
SELECT flags_to_freeze FROM wallet.set_policy('QNF', flags_to_freeze => 5);
SELECT flags_to_freeze FROM wallet.set_policy('QNF', reset => '{flags_to_freeze}');

-- pg_temp.state shows a wallet's freeze and its flags of the 30 days up to the clock.
CREATE FUNCTION pg_temp.state(wid bigint)
  RETURNS TABLE (frozen boolean, frozen_reason text, flags bigint, flags_30_days bigint)
  LANGUAGE sql AS $$
  SELECT w.frozen, w.frozen_reason,
         (SELECT count(*) FROM wallet.risk_flag f WHERE f.wallet_id = wid),
         (SELECT count(*) FROM wallet.risk_flag f
           WHERE f.wallet_id = wid AND f.created_at > wallet.clock() - interval '30 days')
    FROM wallet.wallet w WHERE w.wallet_id = wid $$;
-- pg_temp.txn returns the id of a wallet's transaction by its idempotency key.
CREATE FUNCTION pg_temp.txn(wid bigint, k text) RETURNS bigint
  LANGUAGE sql AS $$ SELECT txn_id FROM wallet.txn WHERE wallet_id = wid AND idempotency_key = k $$;

SELECT wallet.open('abuse-ann', 'QFZ') AS ann, wallet.open('abuse-bob', 'QFZ') AS bob,
       wallet.open('abuse-cara', 'QFZ') AS cara, wallet.open('abuse-dan', 'QFZ') AS dan,
       wallet.open('abuse-eve', 'QNF') AS eve \gset

------------------------------------------------------------------------------
-- Refund abuse reaching the threshold freezes the wallet at once
------------------------------------------------------------------------------
-- ann tops up four times. Her first refund request is accepted (pending); each later one in the
-- 30 days is beyond the limit: recorded as rejected, no money moves, and a refund_limit flag.
SELECT count(*) AS top_ups FROM (VALUES ('ann-t1'), ('ann-t2'), ('ann-t3'), ('ann-t4')) k(key), LATERAL wallet.top_up(:ann, 20, k.key);
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:ann, 'ann-t1'), 'ann-r1', 5);
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:ann, 'ann-t2'), 'ann-r2', 5);
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:ann, 'ann-t3'), 'ann-r3', 5);
-- Two flags: not frozen yet.
SELECT * FROM pg_temp.state(:ann);
-- The third flag reaches flags_to_freeze: the request is still recorded (rejected) and the
-- wallet is frozen in the same transaction, the reason naming the flags in the order they came.
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:ann, 'ann-t4'), 'ann-r4', 5);
SELECT * FROM pg_temp.state(:ann);
SELECT frozen FROM wallet.balance(:ann);
-- The freeze is journaled as kind freeze (as wallet.freeze journals it, naming the rule and the
-- flag that reached it) and audited.
SELECT kind, request->>'reason' AS reason, request->>'rule' AS rule,
       (request->>'flag_id')::bigint = (SELECT max(flag_id) FROM wallet.risk_flag WHERE wallet_id = :ann) AS by_last_flag
  FROM wallet.txn WHERE wallet_id = :ann AND kind = 'freeze';
SELECT action, object = 'wallet:' || :ann AS of_ann, new->>'frozen_reason' AS reason
  FROM wallet.audit WHERE action = 'freeze' AND object = 'wallet:' || :ann;
-- A replay of the request that froze the wallet returns its first result and flags nothing more.
SELECT amount, status, replayed FROM wallet.request_refund(pg_temp.txn(:ann, 'ann-t4'), 'ann-r4', 5);
SELECT flags FROM pg_temp.state(:ann);
-- Frozen, ann's debits are refused with the reason in the detail (WL002).
SELECT * FROM wallet.spend(:ann, 1, 'ann-s1');
\echo :SQLSTATE
-- choice: a wallet unfrozen by an administrator while its flags of 30 days are still at the
-- threshold is frozen again by its next flag (the count is the last 30 days, not since the
-- unfreeze).
SELECT wallet.unfreeze(:ann);
SELECT bonus FROM wallet.top_up(:ann, 20, 'ann-t5');
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:ann, 'ann-t5'), 'ann-r5', 5);
SELECT * FROM pg_temp.state(:ann);

------------------------------------------------------------------------------
-- Flags older than 30 days do not count; a payee_debt flag counts as well
------------------------------------------------------------------------------
-- bob is flagged once on 1 January.
SELECT count(*) AS top_ups FROM (VALUES ('bob-t1'), ('bob-t2')) k(key), LATERAL wallet.top_up(:bob, 20, k.key);
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:bob, 'bob-t1'), 'bob-r1', 5);
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:bob, 'bob-t2'), 'bob-r2', 5);
SELECT * FROM pg_temp.state(:bob);
-- 35 days later the January request and its flag are out of the 30 days: a new request is
-- accepted, the next two are flagged. bob has 3 flags, 2 of them in 30 days: not frozen.
SET wallet.now = '2026-02-05 00:00:00+00';
SELECT count(*) AS top_ups FROM (VALUES ('bob-t3'), ('bob-t4'), ('bob-t5')) k(key), LATERAL wallet.top_up(:bob, 20, k.key);
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:bob, 'bob-t3'), 'bob-r3', 5);
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:bob, 'bob-t4'), 'bob-r4', 5);
SELECT amount, status FROM wallet.request_refund(pg_temp.txn(:bob, 'bob-t5'), 'bob-r5', 5);
SELECT * FROM pg_temp.state(:bob);
-- bob also sells: cara pays him 30 (his earnings, commission 0), and he passes all his
-- earnings on to dan.
SELECT bonus FROM wallet.top_up(:cara, 50, 'cara-t1');
SELECT charged FROM wallet.spend(:cara, 30, 'cara-s1', payee => :bob);
SELECT amount FROM wallet.transfer(:bob, :dan, NULL, 'bob-give');
-- The sale is reversed: bob's earnings cannot give the 30 back, so he owes 30, above the
-- currency's payee_debt_flag of 10: a payee_debt flag, his third in 30 days, and the reversal
-- (cara's operation) freezes him. The reversal itself goes through.
SELECT cash_returned FROM wallet.reverse_spend(pg_temp.txn(:cara, 'cara-s1'), 'cara-rev');
SELECT debt, frozen FROM wallet.balance(:bob);
SELECT * FROM pg_temp.state(:bob);
SELECT kind FROM wallet.risk_flag WHERE wallet_id = :bob ORDER BY flag_id;
SELECT * FROM wallet.balance(:cara);

------------------------------------------------------------------------------
-- A currency whose flags_to_freeze is NULL never freezes
------------------------------------------------------------------------------
SELECT count(*) AS top_ups FROM (VALUES ('eve-t1'), ('eve-t2'), ('eve-t3'), ('eve-t4'), ('eve-t5')) k(key), LATERAL wallet.top_up(:eve, 20, k.key);
SELECT status FROM wallet.request_refund(pg_temp.txn(:eve, 'eve-t1'), 'eve-r1', 5);
SELECT status FROM wallet.request_refund(pg_temp.txn(:eve, 'eve-t2'), 'eve-r2', 5);
SELECT status FROM wallet.request_refund(pg_temp.txn(:eve, 'eve-t3'), 'eve-r3', 5);
SELECT status FROM wallet.request_refund(pg_temp.txn(:eve, 'eve-t4'), 'eve-r4', 5);
SELECT status FROM wallet.request_refund(pg_temp.txn(:eve, 'eve-t5'), 'eve-r5', 5);
SELECT * FROM pg_temp.state(:eve);
SELECT count(*) AS freezes FROM wallet.txn WHERE wallet_id = :eve AND kind = 'freeze';

-- Every transaction balances and every wallet matches its postings.
SELECT * FROM wallet.reconcile();
