-- step_up: a limit rule with action step_up asks for a verification instead of refusing
-- (CONTRACT.md section 20): the payment is refused with WL009 (the rule in the detail, how to get
-- a grant in the hint) and changes nothing; the service that checked the customer's second
-- factor (role wallet_verifier) calls wallet.grant_step_up, and the application makes the same
-- call again, with the same idempotency key and step_up => the token. A grant is used once, for
-- its wallet and operation, up to its amount, before it expires; the journal names it.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-09-01 10:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9750000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8400000) AS t0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 9750000) AS h0,
       setval(pg_get_serial_sequence('wallet.withdrawal', 'withdrawal_id'), 9750000) AS d0,
       setval(pg_get_serial_sequence('wallet.limit_rule', 'rule_id'), 9750000) AS r0,
       setval(pg_get_serial_sequence('wallet.step_up_grant', 'grant_id'), 9750000) AS g0 \gset

INSERT INTO wallet.currency (code, exponent) VALUES ('QSU', 2);
SELECT wallet.open('su-ann', 'QSU') AS ann, wallet.open('su-bob', 'QSU') AS bob,
       wallet.open('su-ann', 'USD') AS ann_usd \gset
SELECT bonus FROM wallet.top_up(:ann, 2000, 'a-t1');
SELECT replayed FROM wallet.adjust(:ann, 'earnings', 2000, 'sales', 'a-e1');
SELECT replayed FROM wallet.adjust(:bob, 'earnings', 2000, 'sales', 'b-e1');
SELECT wallet.set_fx_rate('QSU', 'USD', 0.5, valid_from => '2026-01-01') > 0 AS rate;
-- transfers above 100 a day, and any payment above 500, need a verification; transfers above
-- 1000 a day are refused whatever the verification
SELECT wallet.add_limit_rule('QSU', 'transfer', 'day', 100, action => 'step_up') - :r0 AS transfer_day,
       wallet.add_limit_rule('QSU', 'debit', 'operation', 500, action => 'step_up') - :r0 AS any_500,
       wallet.add_limit_rule('QSU', 'transfer', 'day', 1000) - :r0 AS transfer_cap;

-- pg_temp.grant_of shows a grant without its token's digest and times.
CREATE FUNCTION pg_temp.grant_of(gid bigint, g0 bigint, t0 bigint)
  RETURNS TABLE (grant_no bigint, wallet_id bigint, operation text, max_amount bigint, verifier text, used boolean,
                 used_txn bigint)
  LANGUAGE sql AS $$
  SELECT g.grant_id - g0, g.wallet_id, g.operation, g.max_amount, g.verifier, g.used_at IS NOT NULL,
         g.used_txn - t0 FROM wallet.step_up_grant g WHERE g.grant_id = gid $$;

------------------------------------------------------------------------------
-- Within the limits no verification is asked for
------------------------------------------------------------------------------
SELECT amount FROM wallet.transfer(:ann, :bob, 60, 'a-x1');

------------------------------------------------------------------------------
-- Past a step-up rule: WL009, nothing changes; with a grant, the same call goes through
------------------------------------------------------------------------------
SELECT * FROM wallet.transfer(:ann, :bob, 50, 'a-x2');
\echo :SQLSTATE
SELECT earnings FROM wallet.balance(:ann);
SELECT wallet.grant_step_up(:ann, 'transfer', 50, 'sms-otp:ann') AS tok \gset
-- the token: 128 random bits in hex after su_; only its SHA-256 is stored
SELECT :'tok' ~ '^su_[0-9a-f]{32}$' AS token_shape,
       (SELECT count(*) FROM wallet.step_up_grant g WHERE g.token_hash = sha256(convert_to(:'tok', 'UTF8'))) AS by_digest,
       (SELECT count(*) FROM wallet.step_up_grant g WHERE g::text LIKE '%' || substr(:'tok', 4) || '%') AS holding_token;
-- the same key again, with the token
SELECT txn_id - :t0 AS x2, amount, replayed FROM wallet.transfer(:ann, :bob, 50, 'a-x2', step_up => :'tok');
-- the journal names the grant that allowed it; the grant is used by that payment
SELECT (result->>'step_up_grant')::bigint - :g0 AS grant_no FROM wallet.transactions
 WHERE wallet_id = :ann AND idempotency_key = 'a-x2';
SELECT * FROM pg_temp.grant_of(:g0 + 1, :g0, :t0);
-- a replay returns the first result, token or not, and uses nothing
SELECT txn_id - :t0 AS x2, amount, replayed FROM wallet.transfer(:ann, :bob, 50, 'a-x2');
SELECT txn_id - :t0 AS x2, amount, replayed FROM wallet.transfer(:ann, :bob, 50, 'a-x2', step_up => :'tok');

------------------------------------------------------------------------------
-- A grant that does not allow the payment: WL009 with the reason
------------------------------------------------------------------------------
-- used twice
SELECT * FROM wallet.transfer(:ann, :bob, 10, 'a-x3', step_up => :'tok');
\echo :SQLSTATE
-- another wallet's token reads as an unknown one
SELECT wallet.grant_step_up(:bob, 'transfer', 10, 'sms-otp:bob') AS bob_tok \gset
SELECT * FROM wallet.transfer(:ann, :bob, 10, 'a-x3', step_up => :'bob_tok');
SELECT * FROM wallet.transfer(:ann, :bob, 10, 'a-x3', step_up => 'su_00000000000000000000000000000000');
\echo :SQLSTATE
-- another operation
SELECT wallet.grant_step_up(:ann, 'spend', 10, 'sms-otp:ann') AS spend_tok \gset
SELECT * FROM wallet.transfer(:ann, :bob, 10, 'a-x3', step_up => :'spend_tok');
-- less than the payment
SELECT wallet.grant_step_up(:ann, 'transfer', 9.99, 'sms-otp:ann') AS small_tok \gset
SELECT * FROM wallet.transfer(:ann, :bob, 10, 'a-x3', step_up => :'small_tok');
-- expired
SELECT wallet.grant_step_up(:ann, 'transfer', 10, 'sms-otp:ann', ttl => '1 minute') AS old_tok \gset
SET wallet.now = '2026-09-01 10:01:00+00';
SELECT * FROM wallet.transfer(:ann, :bob, 10, 'a-x3', step_up => :'old_tok');
\echo :SQLSTATE
-- none of them was used; the refused calls changed nothing
SELECT g.operation, g.max_amount, g.used_at IS NOT NULL AS used FROM wallet.step_up_grant g
 WHERE g.grant_id > :g0 + 1 ORDER BY g.grant_id;
SELECT earnings FROM wallet.balance(:ann);

------------------------------------------------------------------------------
-- A refusing rule is not lifted by a grant (WL007), and the grant stays unused
------------------------------------------------------------------------------
SELECT wallet.grant_step_up(:ann, 'transfer', 950, 'sms-otp:ann') AS big_tok \gset
SELECT * FROM wallet.transfer(:ann, :bob, 950, 'a-x4', step_up => :'big_tok');
\echo :SQLSTATE
SELECT used_at IS NULL AS unused FROM wallet.step_up_grant WHERE grant_id = :g0 + 6;
-- a token passed where no verification is needed is left unused
SELECT charged FROM wallet.spend(:ann, 20, 'a-s1', step_up => :'spend_tok');
SELECT used_at IS NULL AS unused FROM wallet.step_up_grant WHERE grant_id = :g0 + 3;

------------------------------------------------------------------------------
-- hold, request_withdrawal and exchange take a grant the same way (any payment above 500)
------------------------------------------------------------------------------
SELECT * FROM wallet.hold(:ann, 600, 'a-h1');
\echo :SQLSTATE
SELECT wallet.grant_step_up(:ann, 'spend', 600, 'app-push:ann') AS hold_tok \gset
SELECT held FROM wallet.hold(:ann, 600, 'a-h1', step_up => :'hold_tok');
SELECT * FROM wallet.request_withdrawal(:ann, 501, 'a-w1', 'bank:ann');
\echo :SQLSTATE
SELECT wallet.grant_step_up(:ann, 'withdraw', 501, 'app-push:ann') AS w_tok \gset
SELECT amount, status FROM wallet.request_withdrawal(:ann, 501, 'a-w1', 'bank:ann', step_up => :'w_tok');
SELECT * FROM wallet.exchange(:ann, :ann_usd, 600, 'a-fx1');
\echo :SQLSTATE
SELECT wallet.grant_step_up(:ann, 'exchange', 600, 'app-push:ann') AS fx_tok \gset
SELECT to_amount FROM wallet.exchange(:ann, :ann_usd, 600, 'a-fx1', step_up => :'fx_tok');
SELECT t.kind, (t.result->>'step_up_grant')::bigint - :g0 AS grant_no, g.operation, g.used_txn = t.txn_id AS matches
  FROM wallet.transactions t JOIN wallet.step_up_grant g ON g.grant_id = (t.result->>'step_up_grant')::bigint
 WHERE t.wallet_id = :ann ORDER BY t.txn_id;
-- a split payment has no step_up argument: a step-up rule refuses it with WL009
SELECT * FROM wallet.spend_split(:ann, 600, 'a-sp1', ARRAY[:bob]::bigint[], '{600}');
\echo :SQLSTATE

------------------------------------------------------------------------------
-- grant_step_up checks its arguments
------------------------------------------------------------------------------
SELECT wallet.grant_step_up(:ann, 'card_payout', 10, 'v');
SELECT wallet.grant_step_up(:ann, 'transfer', 0, 'v');
SELECT wallet.grant_step_up(:ann, 'transfer', 10, NULL);
SELECT wallet.grant_step_up(:ann, 'transfer', 10, 'v', ttl => '2 days');
SELECT wallet.grant_step_up(-1, 'transfer', 10, 'v');
\echo :SQLSTATE

-- Every story ends with a clean reconciliation.
SELECT count(*) AS discrepancies FROM wallet.reconcile();
