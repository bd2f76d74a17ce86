-- errors: an error from an operation carries its SQLSTATE, message, detail and hint, and no
-- CONTEXT line of the extension's own functions and statements (DESIGN.md decision 8); the
-- CONTEXT lines of the caller's own code stay. Shown with SHOW_CONTEXT always: the stories
-- elsewhere hide CONTEXT, this one shows that there is none to hide.
\set SHOW_CONTEXT always
-- In a database of its own: its journal rows stay out of the other stories' reports.
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS wallet_errors_story;
CREATE DATABASE wallet_errors_story;
\c wallet_errors_story
CREATE EXTENSION wallet;
SET TimeZone = 'UTC';
SET wallet.now = '2026-04-01 00:00:00+00';
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9800000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9800000) AS t0 \gset
INSERT INTO wallet.currency (code, exponent) VALUES ('QER', 2);
SELECT wallet.open('err-a', 'QER') AS w \gset
SELECT txn_id - :t0 AS topup FROM wallet.top_up(:w, 100, 'err-1');

-- Operations in C: no CONTEXT, with or without a detail and a hint.
SELECT * FROM wallet.spend(:w, 1000, 'err-2');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM wallet.reverse_spend(:t0 + 999, 'err-3');
\echo :LAST_ERROR_SQLSTATE

-- Operations whose error is raised a few functions deep, by wallet._fail in PL/pgSQL (a
-- refund's request: the SQL function request_refund, _request_refund, _topup, _fail) or by a
-- C helper the PL/pgSQL calls (freeze: wallet._text): before, each showed the PL/pgSQL
-- functions and SQL statements it went through.
SELECT * FROM wallet.request_refund(:t0 + 999, 'err-4');
\echo :LAST_ERROR_SQLSTATE
SELECT wallet.freeze(:w, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM wallet.adjust(:w, 'nope', 1, 'a correction', 'err-5');
\echo :LAST_ERROR_SQLSTATE
SELECT wallet.issue_coupon('no-such-template', :w, 'err-6');
\echo :LAST_ERROR_SQLSTATE
-- a CHECK violation caught by set_policy and raised again as a bad argument
SELECT wallet.set_policy('QER', refund_fee_rate => 2);
\echo :LAST_ERROR_SQLSTATE

-- The caller's own CONTEXT stays: an application's function that calls an operation.
CREATE SCHEMA errors_app;
CREATE FUNCTION errors_app.app_charge(wid bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM wallet.adjust(wid, 'nope', 1, 'a correction', 'err-7');
END $$;
SELECT errors_app.app_charge(:w);

-- An application that catches the error reads the same five fields, and in PG_EXCEPTION_CONTEXT
-- only its own line.
CREATE FUNCTION errors_app.app_catch(wid bigint)
  RETURNS TABLE (code text, message text, detail text, hint text, context text)
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM wallet.spend(wid, 1000, 'err-8');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
    detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT, context = PG_EXCEPTION_CONTEXT;
  RETURN NEXT;
END $$;
\x on
SELECT * FROM errors_app.app_catch(:w);
\x off

-- Errors that are not the extension's keep all their lines.
CREATE FUNCTION errors_app.inner_fail() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the application''s own error' USING ERRCODE = 'P0001';
END $$;
CREATE FUNCTION errors_app.outer_call() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM errors_app.inner_fail();
END $$;
SELECT errors_app.outer_call();

-- Nothing was written by the failed calls: the top-up alone, and the books balance.
SELECT kind, amount FROM wallet.transactions WHERE wallet_id = :w ORDER BY txn_id;
SELECT count(*) AS discrepancies FROM wallet.reconcile();
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE wallet_errors_story;
