-- adjust: the journaled, audited correction of a wallet (CONTRACT.md section 22) and how a
-- DBA puts a wallet right with reconcile and adjust (docs/runbook.md). A signed amount goes
-- into cash, bonus or earnings against the system account adjustment; it never takes a
-- bucket below zero (WL001); it is idempotent per wallet key; wallet_admin only.
\set SHOW_CONTEXT never
-- The story damages wallets on purpose: it runs in a database of its own, so that the other
-- stories (which reconcile and sum the whole journal) never see it.
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS wallet_adjust_story;
CREATE DATABASE wallet_adjust_story;
\c wallet_adjust_story
CREATE EXTENSION wallet;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-03-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9000000) AS t0 \gset

-- A currency of this file's own: a top-up of 100 or more gets a bonus of 10 usable in scene
-- games only, expiring in 30 days.
INSERT INTO wallet.currency (code, exponent) VALUES ('QAJ', 2);
SELECT wallet.add_bonus_rule('QAJ', 100, 10, valid_for => '30 days', scope => '{games}') AS r_base \gset

-- pg_temp.lots shows a wallet's lots with the kind and key of the transaction that made each.
CREATE FUNCTION pg_temp.lots(wid bigint)
  RETURNS TABLE (lot_id int, bucket text, amount numeric, source text, expires_at timestamptz, scope text[],
                 refundable_until timestamptz)
  LANGUAGE sql AS $$
  SELECT l.lot_id, l.bucket, l.amount, t.kind || ' ' || t.idempotency_key, l.expires_at, l.scope,
         l.refundable_until
    FROM wallet.lots(wid) l LEFT JOIN wallet.txn t ON t.txn_id = l.source_txn ORDER BY l.lot_id $$;
-- pg_temp.bal shows a wallet's balance without its id (bonus of every scope: scene games).
CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, bonus numeric, earnings numeric, held numeric, available numeric, frozen boolean)
  LANGUAGE sql AS $$
  SELECT b.cash, b.bonus, b.earnings, b.held, b.available, b.frozen FROM wallet.balance(wid, 'games') b $$;
-- pg_temp.recon reconciles and shows this file's discrepancies (wallet ids relative to w0).
CREATE FUNCTION pg_temp.recon(w0 bigint)
  RETURNS TABLE (check_name text, wallet bigint, expected numeric, actual numeric)
  LANGUAGE sql AS $$
  SELECT r.check_name, r.wallet_id - w0, r.expected, r.actual FROM wallet.reconcile() r
   WHERE r.currency = 'QAJ' ORDER BY 1, 2 $$;

SELECT wallet.open('adjust-alice', 'QAJ') AS alice, wallet.open('adjust-bob', 'QAJ') AS bob,
       wallet.open('adjust-carol', 'QAJ') AS carol \gset
SELECT txn_id AS alice_topup, bonus FROM wallet.top_up(:alice, 100, 'a-top-1') \gset
SELECT :bonus AS alice_bonus;
SELECT txn_id AS carol_topup FROM wallet.top_up(:carol, 200, 'c-top-1') \gset
SELECT txn_id AS bob_topup FROM wallet.top_up(:bob, 50, 'b-top-1') \gset
SELECT * FROM pg_temp.recon(:w0);

------------------------------------------------------------------------------
-- 1. A wallet row changed behind the API: 25 of alice's cash is gone from her lots
--    (a superuser's UPDATE), while the journal still says she has 100.
------------------------------------------------------------------------------
UPDATE wallet.wallet SET lots = (wallet.lots_take(lots, 'cash', 2500, wallet.clock())).lots
 WHERE wallet_id = :alice;
SELECT cash, bonus FROM pg_temp.bal(:alice);
-- reconcile sees it: the cash the journal posted (expected) is not what the lots hold (actual)
SELECT * FROM pg_temp.recon(:w0);
-- the run is recorded, with an alert
SELECT discrepancies, details->0->>'check_name' AS check_name FROM wallet.reconciliation_run
 ORDER BY run_id DESC LIMIT 1;
SELECT kind, (detail->>'discrepancies')::int AS discrepancies FROM wallet.alert
 WHERE run_id = (SELECT max(run_id) FROM wallet.reconciliation_run);

-- An ordinary adjustment moves the lots and the journal together: it cannot close the gap
-- between them (tried, and rolled back).
BEGIN;
SELECT replayed FROM wallet.adjust(:alice, 'cash', 25, 'tried: an ordinary credit', 'a-try');
SELECT * FROM pg_temp.recon(:w0);
ROLLBACK;

-- The journal is right: repair => 'lots' gives the lots back what they lost and journals
-- the repair (kind adjust) without postings.
SELECT txn_id - :t0 AS txn, replayed
  FROM wallet.adjust(:alice, 'cash', 25, 'lots lost 25 of cash to a manual UPDATE', 'a-fix-1', repair => 'lots');
SELECT cash, bonus FROM pg_temp.bal(:alice);
SELECT * FROM pg_temp.recon(:w0);
SELECT t.kind, t.amount, t.request->>'repair' AS repair, x.postings FROM wallet.transactions t
  JOIN wallet.txn x USING (txn_id) WHERE t.wallet_id = :alice AND t.kind = 'adjust';

------------------------------------------------------------------------------
-- 2. The other way round: a superuser credited bob 5 of earnings by hand, the money is
--    his (the platform stands by it), but nothing was journaled.
------------------------------------------------------------------------------
UPDATE wallet.wallet SET lots = wallet.lots_add(lots, 'earnings', 500, :bob_topup, wallet.clock(), NULL, NULL)
 WHERE wallet_id = :bob;
SELECT * FROM pg_temp.recon(:w0);
-- The lots are right: repair => 'journal' posts the credit against adjustment, lots untouched.
SELECT txn_id - :t0 AS txn, replayed
  FROM wallet.adjust(:bob, 'earnings', 5, 'journal the manual credit of ticket 4711', 'b-fix-1', repair => 'journal');
SELECT cash, earnings FROM pg_temp.bal(:bob);
SELECT account, wallet_id - :w0 AS wallet, bucket, amount FROM wallet.postings
 WHERE txn_id = (SELECT txn_id FROM wallet.txn WHERE wallet_id = :bob AND idempotency_key = 'b-fix-1');
SELECT * FROM pg_temp.recon(:w0);

------------------------------------------------------------------------------
-- 3. Corrections: a signed amount into one bucket, journaled against adjustment
------------------------------------------------------------------------------
SELECT * FROM pg_temp.lots(:carol);
-- cash +20: a lot of cash without a refund window (an adjustment is not a top-up)
SELECT txn_id AS carol_cash_adj, replayed FROM wallet.adjust(:carol, 'cash', 20, 'goodwill for order 81', 'c-adj-1') \gset
SELECT :'replayed' AS replayed;
SELECT * FROM pg_temp.lots(:carol);
-- it cannot be refunded as a top-up, and the top-up's refundable amount is unchanged
SELECT * FROM wallet.request_refund(:carol_cash_adj, 'c-ref-1');
SELECT max_amount FROM wallet.refund_quote(:carol_topup);
-- bonus +5: a bonus lot without expiry and without scope; earnings +7.50: earnings
SELECT replayed FROM wallet.adjust(:carol, 'bonus', 5, 'campaign bonus missed by the rule', 'c-adj-2');
SELECT replayed FROM wallet.adjust(:carol, 'earnings', 7.5, 'sale proceeds booked by hand', 'c-adj-3');
SELECT * FROM pg_temp.lots(:carol);
SELECT * FROM pg_temp.bal(:carol);
-- debits take from that bucket's lots in spending order: cash oldest first (the top-up's lot
-- before the adjustment's), bonus of any scope soonest expiry first (the scoped bonus of the
-- top-up, then the adjustment's bonus without expiry)
SELECT replayed FROM wallet.adjust(:carol, 'cash', -210, 'double top-up credited by the gateway', 'c-adj-4');
SELECT replayed FROM wallet.adjust(:carol, 'bonus', -12, 'bonus granted by mistake', 'c-adj-5');
SELECT replayed FROM wallet.adjust(:carol, 'earnings', -7.5, 'sale booked twice', 'c-adj-6');
SELECT * FROM pg_temp.lots(:carol);
SELECT * FROM pg_temp.bal(:carol);
-- the top-up's cash went first, so its refundable amount shrank with it
SELECT max_amount FROM wallet.refund_quote(:carol_topup);
-- every adjustment posts its wallet leg and the adjustment account, summing to zero
SELECT t.idempotency_key, p.account, p.bucket, p.amount
  FROM wallet.postings p JOIN wallet.txn t USING (txn_id)
 WHERE t.wallet_id = :carol AND t.kind = 'adjust' ORDER BY t.txn_id, p.account DESC;
SELECT t.idempotency_key, sum(p.amount) AS total
  FROM wallet.postings p JOIN wallet.txn t USING (txn_id)
 WHERE t.wallet_id = :carol AND t.kind = 'adjust' GROUP BY t.txn_id, t.idempotency_key ORDER BY t.txn_id;
-- each one is in the audit log, with who made it and why
SELECT action, object = 'wallet:' || :carol AS carol, actor = session_user AS by_me, new->>'bucket' AS bucket,
       (new->>'amount')::bigint AS amount_minor, new->>'reason' AS reason
  FROM wallet.audit WHERE action = 'adjust' AND object = 'wallet:' || :carol ORDER BY id;

------------------------------------------------------------------------------
-- 4. Replays and refusals
------------------------------------------------------------------------------
-- the same key with the same arguments returns the first result
SELECT txn_id = :carol_cash_adj AS same_txn, replayed
  FROM wallet.adjust(:carol, 'cash', 20, 'goodwill for order 81', 'c-adj-1');
-- the same key with other arguments (amount, bucket, reason) is WL003
SELECT * FROM wallet.adjust(:carol, 'cash', 21, 'goodwill for order 81', 'c-adj-1');
SELECT * FROM wallet.adjust(:carol, 'earnings', 20, 'goodwill for order 81', 'c-adj-1');
SELECT * FROM wallet.adjust(:carol, 'cash', 20, 'goodwill for order 82', 'c-adj-1');
-- never below zero: WL001, and nothing changes
SELECT * FROM wallet.adjust(:carol, 'cash', -10.01, 'too much', 'c-bad-1');
SELECT * FROM wallet.adjust(:carol, 'earnings', -0.01, 'nothing there', 'c-bad-2');
SELECT * FROM pg_temp.bal(:carol);
-- expired bonus is not there to take (the sweep writes it off)
SET wallet.now = '2026-04-15 00:00:00+00';
SELECT replayed FROM wallet.adjust(:alice, 'bonus', 2, 'expiring bonus', 'a-adj-2');

SELECT * FROM pg_temp.lots(:alice);
SELECT * FROM wallet.adjust(:alice, 'bonus', -12, 'more than the live bonus', 'a-bad-1');
-- bad arguments: 22023
SELECT * FROM wallet.adjust(:carol, 'held', 1, 'held is not adjustable', 'c-bad-3');
SELECT * FROM wallet.adjust(:carol, NULL, 1, 'no bucket', 'c-bad-4');
SELECT * FROM wallet.adjust(:carol, 'cash', 0, 'zero', 'c-bad-5');
SELECT * FROM wallet.adjust(:carol, 'cash', NULL, 'no amount', 'c-bad-6');
SELECT * FROM wallet.adjust(:carol, 'cash', 'NaN', 'not a number', 'c-bad-7');
SELECT * FROM wallet.adjust(:carol, 'cash', -1.001, 'finer than the currency', 'c-bad-8');
SELECT * FROM wallet.adjust(:carol, 'cash', -100000000000000, 'too large', 'c-bad-9');
SELECT * FROM wallet.adjust(:carol, 'cash', 1, NULL, 'c-bad-10');
SELECT * FROM wallet.adjust(:carol, 'cash', 1, '', 'c-bad-11');
SELECT * FROM wallet.adjust(:carol, 'cash', 1, 'bad repair', 'c-bad-12', repair => 'both');
SELECT * FROM wallet.adjust(:carol, 'cash', 1, 'no key', NULL);
SELECT * FROM wallet.adjust(:w0, 'cash', 1, 'no such wallet', 'x-bad-1');
-- none of the refusals wrote anything
SELECT count(*) AS refused_keys FROM wallet.txn_key WHERE idempotency_key LIKE '%-bad-%';

------------------------------------------------------------------------------
-- 5. A frozen wallet is corrected too: a correction is the platform's
------------------------------------------------------------------------------
SELECT wallet.freeze(:bob, 'chargeback under review');
SELECT replayed FROM wallet.adjust(:bob, 'cash', -5, 'chargeback of top-up b-top-1 (partial)', 'b-adj-1');
SELECT * FROM pg_temp.bal(:bob);
SELECT wallet.unfreeze(:bob);

------------------------------------------------------------------------------
-- 6. wallet_admin only: not wallet_app, not wallet_reader
------------------------------------------------------------------------------
SET ROLE wallet_app;
SELECT * FROM wallet.adjust(:carol, 'cash', 1, 'app tries', 'c-app-1');
SET ROLE wallet_reader;
SELECT * FROM wallet.adjust(:carol, 'cash', 1, 'reader tries', 'c-app-2');
SET ROLE wallet_admin;
SELECT replayed FROM wallet.adjust(:carol, 'cash', 1, 'admin corrects', 'c-adm-1');
RESET ROLE;

-- the books hold
SELECT * FROM pg_temp.recon(:w0);

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE wallet_adjust_story;
