-- write: top_up and spend write their key row, wallet row and journal row without going
-- through a statement where that gives the same rows, and through the statement where
-- something attached to those tables must act: triggers, check constraints, columns added
-- with a default. Whatever is attached, the outcome is the statement's.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2031-02-10 09:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9500000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9500000) AS t0 \gset

INSERT INTO wallet.currency (code, exponent) VALUES ('QWR', 2);
SELECT wallet.add_bonus_rule('QWR', 100, 10, valid_for => '7 days') AS r_base \gset
SELECT wallet.open('write-alice', 'QWR') AS alice, wallet.open('write-bob', 'QWR') AS bob \gset

-- A month partition made with the journal (laid out as it is, whatever columns come and go).
CREATE TABLE wallet.write_txn_2031_04 PARTITION OF wallet.txn
  FOR VALUES FROM ('2031-04-01 00:00:00+00') TO ('2031-05-01 00:00:00+00');

-- pg_temp.row shows what one operation wrote: its journal row (the partition it is in),
-- its key row and the wallet's version.
CREATE FUNCTION pg_temp.row(wid bigint, k text)
  RETURNS TABLE (part regclass, kind text, amount bigint, key_names_txn boolean, postings_sum bigint,
                 request jsonb, wallet_version bigint)
  LANGUAGE sql AS $$
  SELECT t.tableoid::regclass, t.kind, t.amount,
         EXISTS (SELECT 1 FROM wallet.txn_key y WHERE y.wallet_id = wid AND y.idempotency_key = k
                    AND y.txn_id = t.txn_id AND y.created_at = t.created_at),
         (SELECT sum(p.amount)::bigint FROM unnest(t.postings) p),
         t.request, (SELECT w.version FROM wallet.wallet w WHERE w.wallet_id = wid)
    FROM wallet.txn t WHERE t.wallet_id = wid AND t.idempotency_key = k $$;

------------------------------------------------------------------------------
-- Nothing attached: each operation writes one journal row, its key and the row
------------------------------------------------------------------------------
SELECT bonus, replayed FROM wallet.top_up(:alice, 100, 'wr-t1');
SELECT * FROM pg_temp.row(:alice, 'wr-t1');
SELECT charged, bonus_used, cash_used, replayed FROM wallet.spend(:alice, 15, 'wr-s1', payee => :bob);
SELECT * FROM pg_temp.row(:alice, 'wr-s1');
-- the payee's credit waits in wallet.payee_credit
SELECT c.wallet_id = :bob AS to_bob, c.amount, c.txn_id = t.txn_id AS of_the_spend
  FROM wallet.payee_credit c JOIN wallet.txn t ON t.txn_id = c.txn_id
 WHERE t.wallet_id = :alice AND t.idempotency_key = 'wr-s1';
-- a replay writes nothing and returns the first result
SELECT charged, replayed FROM wallet.spend(:alice, 15, 'wr-s1', payee => :bob);
SELECT count(*) AS rows_of_key FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'wr-s1';
-- the key taken by another operation: WL003, nothing written
SELECT * FROM wallet.spend(:alice, 1, 'wr-t1');
SELECT version AS v FROM wallet.wallet WHERE wallet_id = :alice \gset
SELECT :v = 2 AS unchanged_by_refusals;

------------------------------------------------------------------------------
-- A month partition whose columns are stored in another order than the journal's
------------------------------------------------------------------------------
-- (a column dropped before the others were added: the row is converted on its way in)
CREATE TABLE wallet.write_txn_2031_03 (gone int, LIKE wallet.txn INCLUDING DEFAULTS);
ALTER TABLE wallet.write_txn_2031_03 DROP COLUMN gone;
ALTER TABLE wallet.txn ATTACH PARTITION wallet.write_txn_2031_03
  FOR VALUES FROM ('2031-03-01 00:00:00+00') TO ('2031-04-01 00:00:00+00');
SET wallet.now = '2031-03-05 10:00:00+00';
SELECT bonus FROM wallet.top_up(:alice, 100, 'wr-t2');
SELECT * FROM pg_temp.row(:alice, 'wr-t2');
SELECT charged FROM wallet.spend(:alice, 40, 'wr-s2', scene => 'game');
SELECT * FROM pg_temp.row(:alice, 'wr-s2');
SELECT (SELECT count(*) FROM wallet.write_txn_2031_03) AS rows_in_partition;

------------------------------------------------------------------------------
-- Triggers: one that an operation's write fires makes it write by the statement
------------------------------------------------------------------------------
CREATE TABLE pg_temp.fired (tbl text, op text, detail text);
CREATE FUNCTION pg_temp.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO pg_temp.fired VALUES (TG_TABLE_NAME, TG_OP,
    CASE TG_TABLE_NAME WHEN 'wallet' THEN 'version ' || (to_jsonb(NEW) ->> 'version')
                       WHEN 'txn_key' THEN to_jsonb(NEW) ->> 'idempotency_key'
                       WHEN 'hold' THEN (to_jsonb(NEW) ->> 'status') || ' ' || (to_jsonb(NEW) ->> 'captured')
                                        || '/' || (to_jsonb(NEW) ->> 'released')
                       WHEN 'refund' THEN to_jsonb(NEW) ->> 'status'
                       ELSE to_jsonb(NEW) ->> 'kind' END);
  RETURN NEW;
END $$;
-- on the journal (cloned onto its partitions)
CREATE TRIGGER write_note AFTER INSERT ON wallet.txn FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s3');
SELECT bonus FROM wallet.top_up(:alice, 10, 'wr-t3');
SELECT * FROM pg_temp.fired;
DROP TRIGGER write_note ON wallet.txn;
TRUNCATE pg_temp.fired;
-- on the key table
CREATE TRIGGER write_note BEFORE INSERT ON wallet.txn_key FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s4');
SELECT * FROM pg_temp.fired;
DROP TRIGGER write_note ON wallet.txn_key;
TRUNCATE pg_temp.fired;
-- on the wallet row: an UPDATE OF trigger fires when one of its columns is written ...
CREATE TRIGGER write_note AFTER UPDATE OF lots ON wallet.wallet FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s5');
SELECT * FROM pg_temp.fired;
DROP TRIGGER write_note ON wallet.wallet;
TRUNCATE pg_temp.fired;
-- ... and not when none is (the wallet's own audit trigger is UPDATE OF frozen)
CREATE TRIGGER write_note AFTER UPDATE OF owner ON wallet.wallet FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s6');
SELECT count(*) AS fired FROM pg_temp.fired;
DROP TRIGGER write_note ON wallet.wallet;
-- on the payees' credits
CREATE TRIGGER write_note AFTER INSERT ON wallet.payee_credit FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT charged FROM wallet.spend(:alice, 2, 'wr-s11', payee => :bob);
SELECT tbl, op FROM pg_temp.fired;
DROP TRIGGER write_note ON wallet.payee_credit;
TRUNCATE pg_temp.fired;
-- on the holds: a hold's row made and changed by the statement, with the same outcome
SELECT setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 9500000) AS h0 \gset
CREATE TRIGGER write_note AFTER INSERT OR UPDATE ON wallet.hold FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT hold_id AS wh1 FROM wallet.hold(:alice, 3, 'wr-h1') \gset
SELECT captured, status FROM wallet.capture_hold(:wh1, 'wr-h2', 1, final => false);
SELECT released, status FROM wallet.release_hold(:wh1, 'wr-h3');
SELECT tbl, op, detail FROM pg_temp.fired;
DROP TRIGGER write_note ON wallet.hold;
TRUNCATE pg_temp.fired;
-- and without one, written directly: the same rows
SELECT hold_id AS wh2 FROM wallet.hold(:alice, 3, 'wr-h4') \gset
SELECT captured, status FROM wallet.capture_hold(:wh2, 'wr-h5', 1, final => false);
SELECT released, status FROM wallet.release_hold(:wh2, 'wr-h6');
SELECT h.hold_id - :wh1 AS hold_no, h.status, h.amount, h.captured, h.released
  FROM wallet.hold h WHERE h.hold_id IN (:wh1, :wh2) ORDER BY h.hold_id;
-- a check constraint on the hold's row is checked on both its writes
ALTER TABLE wallet.hold ADD CONSTRAINT write_not_333 CHECK (captured <> 333);
SELECT hold_id AS wh3 FROM wallet.hold(:alice, 4, 'wr-h7') \gset
SELECT captured FROM wallet.capture_hold(:wh3, 'wr-h8', 3.33);
SELECT status, captured FROM wallet.holds(:alice) WHERE hold_id = :wh3;
ALTER TABLE wallet.hold DROP CONSTRAINT write_not_333;
ALTER TABLE wallet.hold ADD CONSTRAINT write_not_444 CHECK (amount <> 444);
SELECT held FROM wallet.hold(:alice, 4.44, 'wr-h9');
ALTER TABLE wallet.hold DROP CONSTRAINT write_not_444;
SELECT released FROM wallet.release_hold(:wh3, 'wr-h10');
-- on the refunds: a request, a review and a settlement write the refund's row, and the
-- audit rows of the review and the settlement, directly ...
SELECT wallet.open('write-carol', 'QWR') AS carol \gset
SELECT txn_id AS wt1 FROM wallet.top_up(:carol, 50, 'wr-rt1') \gset
SELECT refund_id AS wr1, status FROM wallet.request_refund(:wt1, 'wr-r1', 10) \gset
SELECT wallet.review_refund(:wr1, true, 'write-reviewer') AS review,
       wallet.settle_refund(:wr1, true, 'psp-1') AS settle;
-- ... and by the statement when a trigger of its own is on wallet.refund: the same rows
CREATE TRIGGER write_note AFTER INSERT OR UPDATE ON wallet.refund FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT refund_id AS wr2, status FROM wallet.request_refund(:wt1, 'wr-r2', 10) \gset
SELECT wallet.review_refund(:wr2, true, 'write-reviewer') AS review,
       wallet.settle_refund(:wr2, true, 'psp-2') AS settle;
SELECT tbl, op, detail FROM pg_temp.fired;
DROP TRIGGER write_note ON wallet.refund;
TRUNCATE pg_temp.fired;
SELECT r.refund_id - :wr1 AS refund_no, r.status, r.amount, r.reviewer, r.gateway_ref,
       r.reviewed_at IS NOT NULL AS reviewed, r.settled_at IS NOT NULL AS settled
  FROM wallet.refund r WHERE r.refund_id IN (:wr1, :wr2) ORDER BY r.refund_id;
SELECT a.object = 'refund:' || :wr1 AS first, a.action, a.old ->> 'status' AS was, a.new ->> 'status' AS now,
       a.new ->> 'reviewer' AS reviewer, a.new ->> 'gateway_ref' AS gateway_ref
  FROM wallet.audit a WHERE a.object IN ('refund:' || :wr1, 'refund:' || :wr2) ORDER BY a.id;
-- a statement trigger on the journal
CREATE FUNCTION pg_temp.note_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO pg_temp.fired VALUES (TG_TABLE_NAME, TG_OP || ' ' || TG_LEVEL, NULL);
  RETURN NULL;
END $$;
CREATE TRIGGER write_note AFTER INSERT ON wallet.txn FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.note_stmt();
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s7');
SELECT * FROM pg_temp.fired;
DROP TRIGGER write_note ON wallet.txn;

------------------------------------------------------------------------------
-- A check constraint is checked; a column added with a default gets its default
------------------------------------------------------------------------------
ALTER TABLE wallet.txn ADD CONSTRAINT write_not_777 CHECK (amount <> 77777);
\set VERBOSITY terse
SELECT * FROM wallet.top_up(:alice, 777.77, 'wr-t5');
\set VERBOSITY default
SELECT count(*) AS written FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'wr-t5';
SELECT bonus FROM wallet.top_up(:alice, 7.77, 'wr-t5');
ALTER TABLE wallet.txn DROP CONSTRAINT write_not_777;
-- (a credit of 12.34: bob gets 100 %, no commission in this currency)
ALTER TABLE wallet.payee_credit ADD CONSTRAINT write_not_1234 CHECK (amount <> 1234);
\set VERBOSITY terse
SELECT * FROM wallet.spend(:alice, 12.34, 'wr-s12', payee => :bob);
\set VERBOSITY default
SELECT count(*) AS written FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'wr-s12';
ALTER TABLE wallet.payee_credit DROP CONSTRAINT write_not_1234;
-- wallet.wallet has a check of its own (debt >= 0), compiled once per backend: one added
-- later is checked all the same (here: the next version of alice's row is refused)
SELECT version + 1 AS next_version FROM wallet.wallet WHERE wallet_id = :alice \gset
ALTER TABLE wallet.wallet ADD CONSTRAINT write_not_next CHECK (version <> :next_version) NOT VALID;
\set VERBOSITY terse
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s13');
\set VERBOSITY default
SELECT count(*) AS written FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'wr-s13';
ALTER TABLE wallet.wallet DROP CONSTRAINT write_not_next;
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s13');

ALTER TABLE wallet.txn ADD COLUMN write_channel text DEFAULT 'till';
SELECT charged FROM wallet.spend(:alice, 2, 'wr-s9');
SELECT bonus FROM wallet.top_up(:alice, 5, 'wr-t4');
SELECT idempotency_key, write_channel FROM wallet.txn
 WHERE wallet_id = :alice AND idempotency_key IN ('wr-s9', 'wr-t4') ORDER BY 1;
ALTER TABLE wallet.txn DROP COLUMN write_channel;
-- with the column dropped, rows are written again as before
SELECT charged FROM wallet.spend(:alice, 3, 'wr-s10');
SELECT * FROM pg_temp.row(:alice, 'wr-s10');

------------------------------------------------------------------------------
-- Operations compress their own WAL's full-page images (lz4, where the server has it);
-- the setting is the session's again after each call, whether it succeeded or failed
------------------------------------------------------------------------------
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s13');
SELECT current_setting('wal_compression') AS after_spend;
SELECT * FROM wallet.spend(:alice, 100000, 'wr-s14');
SELECT current_setting('wal_compression') AS after_refused_spend;
SELECT bonus FROM wallet.top_up(:alice, 1, 'wr-t6');
SELECT current_setting('wal_compression') AS after_top_up;

------------------------------------------------------------------------------
-- A journal row goes to its month's partition (write_txn_2031_04 is laid out as the
-- journal, write_txn_2031_03 is not), or to the default partition for a month that has
-- none, as the statement routes it
------------------------------------------------------------------------------
SET wallet.now = '2031-04-30 23:59:59.999999+00';
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s15');
SET wallet.now = '2031-05-01 00:00:00+00';
SELECT bonus FROM wallet.top_up(:alice, 2, 'wr-t7');
SET wallet.now = '2031-04-01 00:00:00+00';
SELECT bonus FROM wallet.top_up(:alice, 3, 'wr-t8');
SET wallet.now = '2031-03-31 23:59:59.999999+00';
SELECT charged FROM wallet.spend(:alice, 1, 'wr-s16');
SELECT idempotency_key, created_at, tableoid::regclass AS partition
  FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key IN ('wr-s15', 'wr-t7', 'wr-t8', 'wr-s16')
 ORDER BY created_at;
SET wallet.now = '2031-03-05 10:00:00+00';

------------------------------------------------------------------------------
-- The search path a direct write runs user code under: the extension's. A CHECK
-- constraint on the key table calls a SQL function that names key_limit() unqualified;
-- the caller's path offers one that refuses every key. spend and top_up write directly
-- and pin their path first, so wallet.key_limit() (200) is the one found, and the
-- caller's path is as it was afterwards.
------------------------------------------------------------------------------
CREATE FUNCTION wallet.key_limit() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 200 $$;
SET check_function_bodies = off;
CREATE FUNCTION public.key_ok(k text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT length(k) <= key_limit() $$;
RESET check_function_bodies;
CREATE SCHEMA write_evil;
CREATE FUNCTION write_evil.key_limit() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 0 $$;
ALTER TABLE wallet.txn_key ADD CONSTRAINT write_key_ok CHECK (public.key_ok(idempotency_key)) NOT VALID;
-- (in April 2031, whose partition is laid out as the journal: every row is written directly)
SET wallet.now = '2031-04-10 00:00:00+00';
SET search_path = write_evil, pg_catalog, public;
-- (the first call may prepare its statements, which pins the path anyway; the next ones do not)
SELECT charged, replayed FROM wallet.spend(:alice, 1, 'wr-s17');
SELECT charged, replayed FROM wallet.spend(:alice, 1, 'wr-s18');
SELECT bonus, replayed FROM wallet.top_up(:alice, 1, 'wr-t9');
SELECT current_setting('search_path') AS caller_path;
RESET search_path;
SELECT count(*) AS written FROM wallet.txn
 WHERE wallet_id = :alice AND idempotency_key IN ('wr-s17', 'wr-s18', 'wr-t9');
ALTER TABLE wallet.txn_key DROP CONSTRAINT write_key_ok;
SET wallet.now = '2031-03-05 10:00:00+00';
DROP SCHEMA write_evil CASCADE;
DROP FUNCTION public.key_ok(text);
DROP FUNCTION wallet.key_limit();

------------------------------------------------------------------------------
-- A session keeps what it knows of the indexes it writes (their IndexInfo, a partial
-- index's predicate compiled): an index made or replaced between two calls is written
-- all the same, with its own predicate. (The leaf of a small B-tree, page 1, lists its
-- entries.)
------------------------------------------------------------------------------
CREATE EXTENSION IF NOT EXISTS pageinspect;
SELECT charged FROM wallet.spend(:alice, 1, 'wr-i1');
CREATE INDEX write_key_i ON wallet.txn_key (idempotency_key) WHERE idempotency_key LIKE 'wr-i%';
SELECT charged FROM wallet.spend(:alice, 1, 'wr-i2');
SELECT charged FROM wallet.spend(:alice, 1, 'wr-x1');
-- wr-i1 (there when it was made) and wr-i2; wr-x1 is outside its predicate
SELECT count(*) AS entries FROM bt_page_items('wallet.write_key_i', 1);
DROP INDEX wallet.write_key_i;
CREATE INDEX write_key_i ON wallet.txn_key (idempotency_key) WHERE idempotency_key LIKE 'wr-j%';
SELECT charged FROM wallet.spend(:alice, 1, 'wr-i3');
SELECT charged FROM wallet.spend(:alice, 1, 'wr-j1');
SELECT count(*) AS entries FROM bt_page_items('wallet.write_key_i', 1);
DROP INDEX wallet.write_key_i;
DROP EXTENSION pageinspect;

------------------------------------------------------------------------------
-- The books hold
------------------------------------------------------------------------------
SELECT (wallet.balance(:alice)).* ;
SELECT count(*) AS discrepancies FROM wallet.reconcile();
