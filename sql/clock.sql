-- clock: every time rule reads one clock, wallet.clock() (CONTRACT.md section 0):
-- the transaction timestamp, unless the superuser-only setting wallet.now (a
-- timestamptz) replaces it for tests and replays.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
-- Calling the clock loads the library, so that wallet.now is checked from here on.
SELECT wallet.clock() IS NOT NULL AS loaded;
SET wallet.now = '2026-01-01 00:00:00+00';

-- With wallet.now set, the clock is exactly that value, and it stands still.
SELECT wallet.clock();
SELECT wallet.clock() = '2026-01-01 00:00:00+00'::timestamptz AS is_wallet_now,
       wallet.clock() = current_setting('wallet.now')::timestamptz AS matches_setting;

-- Moving wallet.now moves the clock; a value without an offset is read in the session's TimeZone.
SET wallet.now = '2026-03-15 08:30:00+08';
SELECT wallet.clock();
SET wallet.now = '2026-06-30 23:59:59.5';
SELECT wallet.clock();

-- Inside a transaction the clock is wallet.now too, not the transaction timestamp.
BEGIN;
SELECT wallet.clock() = '2026-06-30 23:59:59.5+00'::timestamptz AS is_wallet_now,
       wallet.clock() <> now() AS not_transaction_time;
COMMIT;

-- SET LOCAL applies to one transaction only.
BEGIN;
SET LOCAL wallet.now = '2030-01-01 00:00:00+00';
SELECT wallet.clock();
COMMIT;
SELECT wallet.clock();

-- Reset (or set to empty), the clock is the transaction timestamp: it equals now()
-- and stays the same for the whole transaction.
RESET wallet.now;
SELECT wallet.clock() = now() AS is_transaction_time;
BEGIN;
SELECT wallet.clock() = now() AS is_transaction_time, wallet.clock() = transaction_timestamp() AS same;
SELECT pg_sleep(0.01);
SELECT wallet.clock() = now() AS still_transaction_time, wallet.clock() < clock_timestamp() AS before_wall_clock;
COMMIT;
SET wallet.now = '';
SELECT wallet.clock() = now() AS is_transaction_time;

-- Values that are not a finite timestamp with time zone are refused, and the clock keeps its value.
SET wallet.now = '2026-01-01 00:00:00+00';
SET wallet.now = 'garbage';
\echo :SQLSTATE
SET wallet.now = 'infinity';
\echo :SQLSTATE
SET wallet.now = '-infinity';
\echo :SQLSTATE
SET wallet.now = '2026-02-30 00:00:00+00';
\echo :SQLSTATE
SELECT set_config('wallet.now', 'tomorrow-ish', false);
\echo :SQLSTATE
SELECT wallet.clock();

-- Only a superuser may set it: an application role can read the clock but not move it.
CREATE ROLE regress_wallet_clock_app;
GRANT wallet_app TO regress_wallet_clock_app;
SET ROLE regress_wallet_clock_app;
SELECT current_user, wallet.clock();
SET wallet.now = '2000-01-01 00:00:00+00';
\echo :SQLSTATE
SELECT set_config('wallet.now', '2000-01-01 00:00:00+00', false);
\echo :SQLSTATE
RESET wallet.now;
\echo :SQLSTATE
SELECT wallet.clock();
RESET ROLE;
DROP ROLE regress_wallet_clock_app;
SELECT current_user = session_user AS back_to_superuser, wallet.clock();
