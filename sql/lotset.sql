-- lotset: the C type wallet.lotset holds a wallet's live lots in one value
-- (DESIGN.md decision 1). It has a text form (for pg_dump, COPY and psql) and a
-- binary form; both read back exactly what was written, and malformed text is
-- refused with 22P02 and a detail saying what is wrong.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- Three values built by the engine itself (no text input involved):
--  1: a cash lot of top-up 7 with its refund window, a scoped bonus lot of the
--     same top-up expiring at a fractional second, and an earnings lot;
--  2: the same after 5.00 of the bonus was spent in scene 'game' (the top-up now owes 500);
--  3: the same after a refund of top-up 7 held 25.00 + 5.00 clawback and the live bonus;
--  4: the empty set.
CREATE TEMP TABLE ls (id int PRIMARY KEY, v wallet.lotset NOT NULL);
INSERT INTO ls
SELECT 1, wallet.lots_add(wallet.lots_add(wallet.lots_add(wallet.lots_empty(),
          'cash', 10000, 7, '2026-01-01 00:00:00+00', '2026-01-31 00:00:00+00', NULL),
          'bonus', 1000, 7, '2026-01-01 00:00:00+00', '2026-01-08 12:30:00.5+00', ARRAY['game', 'mall']),
          'earnings', 2500, 9, '2026-01-02 08:00:00+00', NULL, NULL);
INSERT INTO ls SELECT 2, (wallet.lots_spend(v, 500, 'game', '2026-01-03 00:00:00+00')).lots FROM ls WHERE id = 1;
INSERT INTO ls SELECT 3, (wallet.lots_refund_hold(v, 7, 3000, 500, '2026-01-03 00:00:00+00')).lots FROM ls WHERE id = 2;
INSERT INTO ls SELECT 4, wallet.lots_empty();

-- The text form: next lot id, then each lot as (id bucket amount [held=] txn= at= [until=]
-- [owed=] [clawed=] [scope=]), times in UTC with a Z.
SELECT id, v::text FROM ls ORDER BY id;

-- Text round trip: text -> wallet.lotset -> text gives the same text back.
SELECT id, v::text::wallet.lotset::text = v::text AS text_round_trip FROM ls ORDER BY id;

-- A literal reads back in canonical form: lots ordered by id, spaces normalised,
-- fractional seconds written with six digits.
SELECT 'next=9;(5 earnings 300 txn=4 at=2026-01-02T00:00:00Z) ;  (2 bonus 150 txn=3 at=2026-01-01T00:00:00Z until=2026-01-08T00:00:00.25Z scope=game)'::wallet.lotset;
SELECT 'next=1'::wallet.lotset;

-- Binary round trip: wallet.lotset_send writes the binary form, and COPY ... (FORMAT binary)
-- reads it back through wallet.lotset_recv (the only way SQL can call a receive function).
SELECT id, octet_length(wallet.lotset_send(v)) AS binary_bytes FROM ls ORDER BY id;
SELECT pg_backend_pid() AS pid \gset
\set tofile 'cat > /tmp/wallet_lotset_regress_' :pid '.bin'
\set fromfile 'cat /tmp/wallet_lotset_regress_' :pid '.bin && rm -f /tmp/wallet_lotset_regress_' :pid '.bin'
COPY ls TO PROGRAM :'tofile' (FORMAT binary);
CREATE TEMP TABLE ls_back (id int PRIMARY KEY, v wallet.lotset NOT NULL);
COPY ls_back FROM PROGRAM :'fromfile' (FORMAT binary);
SELECT a.id, b.v::text = a.v::text AS binary_round_trip,
       wallet.lotset_send(b.v) = wallet.lotset_send(a.v) AS same_bytes
  FROM ls a LEFT JOIN ls_back b USING (id) ORDER BY a.id;

-- wallet.lots_list shows a value as rows, with every counter.
SELECT * FROM wallet.lots_list((SELECT v FROM ls WHERE id = 3)) ORDER BY lot_id;
SELECT count(*) AS lots FROM wallet.lots_list((SELECT v FROM ls WHERE id = 4));

-- Malformed text is refused. An unknown bucket:
SELECT 'next=2; (1 gold 100 txn=1 at=2026-01-01T00:00:00Z)'::wallet.lotset;
\echo :SQLSTATE
-- A lot without txn= or without at=:
SELECT 'next=2; (1 cash 100 at=2026-01-01T00:00:00Z)'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; (1 cash 100 txn=1)'::wallet.lotset;
\echo :SQLSTATE
-- A negative amount (and a negative held amount):
SELECT 'next=2; (1 cash -100 txn=1 at=2026-01-01T00:00:00Z)'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; (1 cash 100 held=-1 txn=1 at=2026-01-01T00:00:00Z)'::wallet.lotset;
\echo :SQLSTATE
-- A lot id not below next, and a lot id of zero:
SELECT 'next=2; (2 cash 100 txn=1 at=2026-01-01T00:00:00Z)'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; (0 cash 100 txn=1 at=2026-01-01T00:00:00Z)'::wallet.lotset;
\echo :SQLSTATE
-- The same lot id twice:
SELECT 'next=3; (1 cash 100 txn=1 at=2026-01-01T00:00:00Z); (1 bonus 5 txn=1 at=2026-01-01T00:00:00Z)'::wallet.lotset;
\echo :SQLSTATE
-- Bad timestamps: a day that does not exist, a space instead of T, no Z:
SELECT 'next=2; (1 cash 100 txn=1 at=2026-02-30T00:00:00Z)'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; (1 cash 100 txn=1 at=2026-01-01 00:00:00)'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; (1 cash 100 txn=1 at=2026-01-01T00:00:00)'::wallet.lotset;
\echo :SQLSTATE
-- An unknown field:
SELECT 'next=2; (1 cash 100 txn=1 at=2026-01-01T00:00:00Z color=red)'::wallet.lotset;
\echo :SQLSTATE
-- A scope on a cash lot (only bonus has a scope), netting counters on a bonus lot,
-- and a malformed scope:
SELECT 'next=2; (1 cash 100 txn=1 at=2026-01-01T00:00:00Z scope=game)'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; (1 bonus 100 txn=1 at=2026-01-01T00:00:00Z owed=5)'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; (1 bonus 100 txn=1 at=2026-01-01T00:00:00Z scope=game,,mall)'::wallet.lotset;
\echo :SQLSTATE
-- Garbage, an empty string, a bad next and a missing parenthesis:
SELECT 'hello'::wallet.lotset;
\echo :SQLSTATE
SELECT ''::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=0'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; 1 cash 100 txn=1 at=2026-01-01T00:00:00Z'::wallet.lotset;
\echo :SQLSTATE
SELECT 'next=2; (1 cash 100 txn=1 at=2026-01-01T00:00:00Z'::wallet.lotset;
\echo :SQLSTATE

-- A lot set whose ids are used up refuses a new lot with a clear limit error (54000),
-- not a wrapped-around id.
SELECT wallet.lots_add('next=2147483646'::wallet.lotset, 'cash', 100, 1, '2026-01-01 00:00:00+00', NULL, NULL);
SELECT wallet.lots_add('next=2147483647'::wallet.lotset, 'cash', 100, 1, '2026-01-01 00:00:00+00', NULL, NULL);
\echo :SQLSTATE
-- The stored form is compact (variable-length integers; ids, transactions and times as
-- differences from the lot before), not the 72-byte structs of version 0.1, and reads back
-- the same.
SELECT pg_column_size(v) < 200 * 30 AS compact, pg_column_size(v),
       v::text::wallet.lotset::text = v::text AS round_trip
  FROM (SELECT ('next=201; ' || string_agg(format('(%s bonus 1 txn=1 at=2026-01-01T00:00:00Z scope=%s)',
                                                   g, CASE WHEN g % 2 = 0 THEN 'game,mall' ELSE 'shop' END), '; '))::wallet.lotset AS v
          FROM generate_series(1, 200) g) x;
SELECT pg_column_size('next=3; (1 cash 10000 txn=5 at=2026-01-01T00:00:00Z until=2026-01-31T00:00:00Z owed=300); (2 bonus 1000 txn=5 at=2026-01-01T00:00:00Z until=2026-02-01T12:30:00.5Z scope=game,mall)'::wallet.lotset) AS two_lots_bytes;

-- Values written by version 0.1 (fixed 72-byte lots and a scope pool) are still read: a 0.1
-- value, byte for byte, handed over unchanged (pg_temp.raw_lotset: the built-in function behind
-- varchar(n) returns its argument as it is when it fits). Its lots, counters, times and scope
-- come back, and writing it again gives the compact form of the same lots.
CREATE FUNCTION pg_temp.raw_lotset(bytea, int DEFAULT -1, bool DEFAULT false) RETURNS wallet.lotset
  LANGUAGE internal IMMUTABLE STRICT AS 'varchar';
SELECT v AS v01, v::text::wallet.lotset::text = v::text AS same_after_rewrite,
       wallet.lots_add(v, 'cash', 5, 9, '2026-01-03 00:00:00+00', NULL, NULL) AS added
  FROM (SELECT pg_temp.raw_lotset('\x03000000050000000a0000000100000000000000ffffffff000000001027000000000000000000000000000005000000000000000060e80a47ea020000a0258aa2ec02002c01000000000000000000000000000002000000010000000000000000000000e803000000000000000000000000000005000000000000000060e80a47ea020020233a22c1ec0200000000000000000000000000000000000400000002000000ffffffff00000000fa000000000000000000000000000000070000000000000000c0bf285bea0200ffffffffffffff7f0000000000000000000000000000000067616d652c6d616c6c00'::bytea) AS v) x;
-- Values of the compact layout written by 0.2 before the delta layout (ids, transactions and
-- times written whole) are read as well: these are the two lots above, 65 bytes as that layout
-- wrote them. Written again, they take the delta layout's size.
SELECT v AS compact_02, v::text::wallet.lotset::text = v::text AS same_after_rewrite,
       pg_column_size(v) AS bytes, pg_column_size(v::text::wallet.lotset) AS bytes_rewritten
  FROM (SELECT pg_temp.raw_lotset('\x02000040030000001401a09c010a8080c3aee191f5028080eaf3ef9601d8044502d00f0a8080c3aee191f502c08c8ef5c29e010967616d652c6d616c6c'::bytea) AS v) x;
-- the delta layout: times and transactions as differences, until - granted in seconds when whole
SELECT pg_column_size(v) AS bytes, v::text::wallet.lotset::text = v::text AS round_trip,
       wallet.lotset_send(v) = wallet.lotset_send(v::text::wallet.lotset) AS same_binary
  FROM (SELECT 'next=9; (2 cash 1 txn=9223372036854775807 at=9999-12-31T23:59:59.999999Z until=0001-01-01T00:00:00Z); (5 bonus 2 txn=1 at=0001-01-01T00:00:00Z until=9999-12-31T23:59:59.999999Z); (8 bonus 3 txn=9223372036854775807 at=2026-01-01T00:00:00.000001Z until=2026-01-01T00:00:01.000001Z)'::wallet.lotset AS v) x;
-- a truncated or garbled stored value is refused as corrupt (XX001), never read past its end;
-- the last three are delta-layout values: the seconds flag on a lot without an expiry, the flag
-- in the compact layout, and a lot id that the differences carry past 2^31 - 1
CREATE FUNCTION pg_temp.read_raw(bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN pg_temp.raw_lotset($1)::text;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT v, pg_temp.read_raw(v) AS read
  FROM unnest(ARRAY['\x0300000005000000', '\x03000040050000000107', '\x0100004002000000030180',
                    '\x01000060020000008001020202', '\x0100004002000000840102020202',
                    '\x0200006003000000000102020200ffffffff07020202']::bytea[]) WITH ORDINALITY u(v, n)
 ORDER BY n;
DROP FUNCTION pg_temp.read_raw;
DROP FUNCTION pg_temp.raw_lotset;
