-- No function of the extension builds SQL from text: every dynamic statement
-- (EXECUTE in PL/pgSQL) is a constant string with its values passed by USING.
BEGIN;
SELECT plan(4);

CREATE TEMP TABLE plpgsql_fn AS
SELECT p.oid::regprocedure::text AS fn, p.prosrc
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace IN ('wallet'::regnamespace, 'wallet_report'::regnamespace)
   AND l.lanname = 'plpgsql';

SELECT cmp_ok((SELECT count(*) FROM plpgsql_fn), '>', 20::bigint,
              'the extension''s PL/pgSQL functions are found (so the checks below see something)');

-- every EXECUTE is followed by a string literal (and not by format(), a variable or a concatenation);
-- EXECUTE FUNCTION (a trigger) and EXECUTE ON (a GRANT quoted in a hint) are not dynamic SQL
SELECT is_empty($$
  SELECT fn FROM plpgsql_fn f,
         regexp_matches(f.prosrc, 'EXECUTE\s+([^\s''][^\s]*)', 'gi') AS m
   WHERE upper(m[1]) NOT IN ('FUNCTION', 'ON')
$$, 'every EXECUTE runs a string literal');

-- a literal that EXECUTE runs is never concatenated with anything
SELECT is_empty($$
  SELECT fn FROM plpgsql_fn f,
         regexp_matches(f.prosrc, 'EXECUTE\s+''(?:[^'']|'''')*''\s*\|\|', 'gi') AS m
$$, 'no EXECUTE concatenates its statement');

-- the checks would catch one: a function that does build SQL from an argument
CREATE FUNCTION pg_temp.bad(t text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  EXECUTE format('SELECT %s', t);
  EXECUTE 'SELECT ' || t;
END $f$;
SELECT is((SELECT count(*) FROM pg_proc p,
                 regexp_matches(p.prosrc, 'EXECUTE\s+([^\s''][^\s]*)', 'gi') AS m
            WHERE p.oid = 'pg_temp.bad(text)'::regprocedure)
          + (SELECT count(*) FROM pg_proc p,
                 regexp_matches(p.prosrc, 'EXECUTE\s+''(?:[^'']|'''')*''\s*\|\|', 'gi') AS m
            WHERE p.oid = 'pg_temp.bad(text)'::regprocedure),
          2::bigint, 'the patterns find both ways of building SQL in a known-bad function');

SELECT * FROM finish();
ROLLBACK;
