-- expiry: bonus past its expiry is written off as breakage by wallet.expire_bonus
-- (CONTRACT.md section 7): one journal transaction per wallet, returning (wallets, lots);
-- wallet.expiring_bonus lists live bonus expiring within the currency's remind_before.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
-- This story runs in March 2025, before any other file's lots expire.
SET wallet.now = '2025-03-01 00:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 1000000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 1000000) AS t0 \gset

-- A currency of this file's own (user-assigned ISO 4217 code). A top-up of 100 gets four
-- bonus lots: base 10 (7 days), 'flash' 5 (2 days, scene 'game' only), 'tri' 2 (2 days
-- 12 hours) and 'forever' 1 (no expiry).
INSERT INTO wallet.currency (code, exponent) VALUES ('QEX', 2);
SELECT wallet.add_bonus_rule('QEX', 100, 10, valid_for => '7 days') AS r_base,
       wallet.add_bonus_rule('QEX', 100, 5, valid_for => '2 days', scope => ARRAY['game'], campaign => 'flash') AS r_flash,
       wallet.add_bonus_rule('QEX', 100, 2, valid_for => '2 days 12 hours', campaign => 'tri') AS r_tri,
       wallet.add_bonus_rule('QEX', 100, 1, campaign => 'forever') AS r_forever \gset

-- pg_temp.lots shows a wallet's live lots.
CREATE FUNCTION pg_temp.lots(wid bigint)
  RETURNS TABLE (lot_id int, bucket text, amount numeric, expires_at timestamptz, scope text[])
  LANGUAGE sql AS $$
  SELECT l.lot_id, l.bucket, l.amount, l.expires_at, l.scope FROM wallet.lots(wid) l ORDER BY l.lot_id $$;
-- pg_temp.expiring shows this file's rows of the wallet.expiring_bonus view.
CREATE FUNCTION pg_temp.expiring()
  RETURNS TABLE (owner text, lot_id int, amount numeric, expires_at timestamptz, scope text[])
  LANGUAGE sql AS $$
  SELECT e.owner, e.lot_id, e.amount, e.expires_at, e.scope FROM wallet.expiring_bonus e
   WHERE e.currency = 'QEX' ORDER BY e.expires_at, e.owner, e.lot_id $$;

SELECT wallet.open('expiry-alice', 'QEX') AS alice, wallet.open('expiry-bob', 'QEX') AS bob,
       wallet.open('expiry-carol', 'QEX') AS carol \gset

-- alice tops up at midnight and spends 3 in 'game' (from 'flash', which expires first);
-- bob tops up at noon; carol's 50 gets no bonus.
SELECT bonus FROM wallet.top_up(:alice, 100, 'alice-topup');
SELECT charged, bonus_used FROM wallet.spend(:alice, 3, 'alice-s1', 'game');
SET wallet.now = '2025-03-01 12:00:00+00';
SELECT bonus FROM wallet.top_up(:bob, 100, 'bob-topup');
SELECT bonus FROM wallet.top_up(:carol, 50, 'carol-topup');
SELECT * FROM pg_temp.lots(:alice);
SELECT * FROM pg_temp.lots(:bob);

------------------------------------------------------------------------------
-- Reminders
------------------------------------------------------------------------------
-- With the default remind_before (3 days), the view lists the live bonus expiring by
-- March 4th noon: flash and tri of both wallets, not the base lots (8th) nor 'forever'.
SELECT * FROM pg_temp.expiring();
-- With remind_before 1 day, on the 2nd at midnight only alice's flash lot (3rd, midnight) is listed.
SELECT currency, remind_before FROM wallet.set_policy('QEX', remind_before => '1 day');
SET wallet.now = '2025-03-02 00:00:00+00';
SELECT * FROM pg_temp.expiring();

------------------------------------------------------------------------------
-- The sweep
------------------------------------------------------------------------------
-- Nothing has expired yet.
SELECT * FROM wallet.expire_bonus();
-- The sweep compresses its own WAL (lz4, where the server has it); the setting ends with it.
SELECT current_setting('wal_compression') AS wal_compression_after_sweep;

-- On the 4th at 06:00 flash and tri have expired in both wallets. Before the sweep,
-- expired bonus is no longer counted (alice: base 10 + forever 1), though still stored.
SET wallet.now = '2025-03-04 06:00:00+00';
SELECT cash, bonus, available FROM wallet.balance(:alice, 'game');
SELECT count(*) AS expired_lots_stored
  FROM wallet.wallet w CROSS JOIN LATERAL wallet.lots_list(w.lots) l
 WHERE w.wallet_id IN (:alice, :bob) AND l.bucket = 'bonus' AND l.amount > 0 AND l.until <= wallet.clock();
SELECT * FROM pg_temp.expiring();

-- The sweep writes them off: 2 wallets, 4 lots; alice's breakage is what was left of
-- flash (2) plus tri (2) = 4, bob's 5 + 2 = 7.
SELECT * FROM wallet.expire_bonus();
-- One journal transaction per wallet, posting wallet bonus -x / breakage +x.
SELECT t.wallet_id = :alice AS alice, t.kind, t.amount, t.created_at, t.result->'lots' AS lots
  FROM wallet.transactions t
 WHERE t.wallet_id IN (:alice, :bob, :carol) AND t.kind = 'expire_bonus' ORDER BY t.wallet_id;
SELECT t.wallet_id = :alice AS alice, p.account, p.bucket, p.amount
  FROM wallet.transactions t JOIN wallet.postings p USING (txn_id)
 WHERE t.wallet_id IN (:alice, :bob) AND t.kind = 'expire_bonus'
 ORDER BY t.wallet_id, p.account DESC;
SELECT * FROM pg_temp.lots(:alice);
SELECT cash, bonus, available FROM wallet.balance(:alice, 'game');
-- A second run finds nothing.
SELECT * FROM wallet.expire_bonus();

------------------------------------------------------------------------------
-- Batches
------------------------------------------------------------------------------
-- On the 7th at noon the base lots (alice: 8th midnight, bob: 8th noon) are due within a day.
SET wallet.now = '2025-03-07 12:00:00+00';
SELECT * FROM pg_temp.expiring();
-- On the 9th both have expired. batch_size 1 takes one wallet per run, soonest expiry
-- first; the next run takes the next one.
SET wallet.now = '2025-03-09 00:00:00+00';
SELECT * FROM wallet.expire_bonus(1);
SELECT count(*) AS alice_sweeps FROM wallet.txn WHERE wallet_id = :alice AND kind = 'expire_bonus';
SELECT * FROM wallet.expire_bonus(1);
SELECT count(*) AS bob_sweeps FROM wallet.txn WHERE wallet_id = :bob AND kind = 'expire_bonus';
SELECT * FROM wallet.expire_bonus(1);
-- Only the bonus without expiry is left.
SELECT * FROM pg_temp.lots(:alice);
SELECT * FROM pg_temp.lots(:bob);
SELECT cash, bonus, available FROM wallet.balance(:bob);

-- batch_size must be between 1 and 1000000, and not null: 22023.
SELECT * FROM wallet.expire_bonus(0);
\echo :SQLSTATE
SELECT * FROM wallet.expire_bonus(-1);
\echo :SQLSTATE
SELECT * FROM wallet.expire_bonus(NULL);
\echo :SQLSTATE
SELECT * FROM wallet.expire_bonus(1000001);
\echo :SQLSTATE

-- expire_bonus_all sweeps every due wallet, batch after batch, each batch its own transaction
-- (a procedure: it commits), pausing between batches so that it works at most `duty` of the time.
-- Three more wallets, each with three bonus lots that expire (base, flash, tri) and one that
-- does not: batches of one wallet, no pause.
SELECT count(wallet.open('expiry-d' || g, 'QEX')) AS opened FROM generate_series(1, 3) g;
SELECT count(wallet.top_up(w.wallet_id, 100, 'd-topup'))
  FROM wallet.wallet w WHERE w.owner LIKE 'expiry-d%';
SET wallet.now = '2025-03-30 00:00:00+00';
CALL wallet.expire_bonus_all(1, 1);
SELECT count(*) AS d_sweeps, sum(amount) AS d_breakage_minor FROM wallet.txn t JOIN wallet.wallet w USING (wallet_id)
 WHERE w.owner LIKE 'expiry-d%' AND t.kind = 'expire_bonus';
-- nothing left: one empty batch
CALL wallet.expire_bonus_all(10, 0.5);
-- duty must be in (0, 1], batch_size as for expire_bonus: 22023
CALL wallet.expire_bonus_all(10, 0);
\echo :SQLSTATE
CALL wallet.expire_bonus_all(10, 1.5);
\echo :SQLSTATE
CALL wallet.expire_bonus_all(0, 1);
\echo :SQLSTATE
-- inside a transaction block it cannot commit: refused, nothing swept
BEGIN;
CALL wallet.expire_bonus_all(10, 1);
ROLLBACK;

-- The books hold for this file's wallets and currency.
SELECT * FROM wallet.reconcile()
 WHERE wallet_id IN (:alice, :bob, :carol) OR (wallet_id IS NULL AND currency = 'QEX');

------------------------------------------------------------------------------
-- Where the sweep's journal rows go
------------------------------------------------------------------------------
-- The journal is only appended to: the free space its map knows of is the tail of each full
-- page, left because the next row did not fit. The sweep appends its rows after the last row,
-- where the INSERT (which the sweep uses where the journal needs it, a trigger say) would put
-- them into those tails. A month partition of this file's own, 2031-07.
CREATE TABLE wallet.expiry_txn_2031_07 PARTITION OF wallet.txn
  FOR VALUES FROM ('2031-07-01 00:00:00+00') TO ('2031-08-01 00:00:00+00');
-- Forty wallets topped up (four bonus lots each): a-wallets on the 1st, b-wallets on the 2nd.
SELECT count(wallet.open('expiry-' || g || i, 'QEX')) AS opened
  FROM (VALUES ('a'), ('b')) v(g) CROSS JOIN generate_series(1, 20) i;
SET wallet.now = '2031-07-01 00:00:00+00';
SELECT count(wallet.top_up(w.wallet_id, 100, 'p-topup')) FROM wallet.wallet w WHERE w.owner ~ '^expiry-a[0-9]+$';
SET wallet.now = '2031-07-02 00:00:00+00';
SELECT count(wallet.top_up(w.wallet_id, 100, 'p-topup')) FROM wallet.wallet w WHERE w.owner ~ '^expiry-b[0-9]+$';
-- Spends of 0.01, three a wallet: rows of another size, so that pages end in tails.
SELECT count(wallet.spend(w.wallet_id, 0.01, 'p-spend-' || k))
  FROM wallet.wallet w CROSS JOIN generate_series(1, 3) k WHERE w.owner ~ '^expiry-[ab][0-9]+$';
-- The partition's free space map learns the tails of its pages.
VACUUM wallet.expiry_txn_2031_07;
SELECT max((ctid::text::point)[0]) AS last_block FROM wallet.expiry_txn_2031_07 \gset
SELECT :last_block > 0 AS several_pages;
-- A new session (no page to append to remembered), on the 5th: the a-wallets are due first
-- (flash expired on the 3rd). All twenty rows go on the last page or after it.
\c
SET wallet.now = '2031-07-05 00:00:00+00';
SELECT * FROM wallet.expire_bonus(20);
SELECT count(*) AS a_rows, count(*) FILTER (WHERE (t.ctid::text::point)[0] >= :last_block) AS a_appended
  FROM wallet.expiry_txn_2031_07 t JOIN wallet.wallet w USING (wallet_id)
 WHERE w.owner ~ '^expiry-a[0-9]+$' AND t.kind = 'expire_bonus';
-- With a row trigger on the partition the sweep's INSERT writes the b-wallets' rows, and
-- they go into the tails of the pages before.
CREATE FUNCTION public.expiry_pass() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER expiry_pass BEFORE INSERT ON wallet.expiry_txn_2031_07 FOR EACH ROW EXECUTE FUNCTION public.expiry_pass();
\c
SET wallet.now = '2031-07-05 00:00:00+00';
SELECT * FROM wallet.expire_bonus(20);
SELECT count(*) AS b_rows, count(*) FILTER (WHERE (t.ctid::text::point)[0] < :last_block) > 0 AS b_in_tails
  FROM wallet.expiry_txn_2031_07 t JOIN wallet.wallet w USING (wallet_id)
 WHERE w.owner ~ '^expiry-b[0-9]+$' AND t.kind = 'expire_bonus';
DROP TRIGGER expiry_pass ON wallet.expiry_txn_2031_07;
DROP FUNCTION public.expiry_pass();
-- Both ways write the same rows: txn_ids in wallet order, the same columns.
SELECT left(w.owner, 8) AS wallets, count(*) AS n,
       bool_and(t.txn_id > lag_id) IS NOT FALSE AS in_wallet_order,
       count(DISTINCT (t.amount, t.currency, t.created_at, t.result, t.idempotency_key, t.ref_txn, t.request,
                       replace(t.postings::text, t.wallet_id::text, 'W'))) AS distinct_rows,
       min(t.amount) AS amount, min(t.result::text) AS result, min(replace(t.postings::text, t.wallet_id::text, 'W')) AS postings,
       bool_and(t.idempotency_key IS NULL AND t.ref_txn IS NULL AND t.request IS NULL AND t.pieces IS NULL) AS nulls
  FROM (SELECT t.*, lag(t.txn_id) OVER (PARTITION BY left(w.owner, 8) ORDER BY t.wallet_id) AS lag_id
          FROM wallet.expiry_txn_2031_07 t JOIN wallet.wallet w USING (wallet_id)
         WHERE t.kind = 'expire_bonus' AND w.owner ~ '^expiry-[ab][0-9]+$') t
  JOIN wallet.wallet w USING (wallet_id)
 GROUP BY 1 ORDER BY 1;

-- wallet._journal_expired (the sweep's append; no role but the owner may call it) checks
-- its arguments: arrays of one length, without nulls, positive amounts.
SELECT wallet._journal_expired('{1}', '{QEX}', '{1,2}', '{1}', now());
SELECT wallet._journal_expired('{1}', '{QEX}', '{NULL}', '{1}', now());
SELECT wallet._journal_expired('{1}', '{QEX}', '{0}', '{1}', now());
SELECT wallet._journal_expired('{1}', '{QEX}', '{5}', '{-1}', now());
SELECT wallet._journal_expired('{1}', NULL, '{5}', '{1}', now());
SELECT wallet._journal_expired('{{1}}', '{{QEX}}', '{{5}}', '{{1}}', now());
SELECT wallet._journal_expired('{}', '{}', '{}', '{}', now()) AS nothing_to_write;

