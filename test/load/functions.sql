-- functions.sql: helpers the load scripts of test/suites/crash.sh and
-- test/suites/stress.sh call, created by those suites in their own throwaway
-- databases (schema load). They let a pgbench script run an operation that
-- may be refused for a business reason the script cannot foresee, without
-- aborting the pgbench client: each catches only the SQLSTATEs listed in its
-- comment and re-raises everything else, so any error that reaches pgbench
-- is a real failure of the extension.
CREATE SCHEMA load;

-- load.request_refund asks for a refund of a top-up and returns (refund_id,
-- status, pending); refund_id 0 when the request is refused with WL004
-- (nothing refundable: the top-up's cash was spent, or its spent bonus eats
-- all of it). pending is 1 when the request waits for review, else 0.
CREATE FUNCTION load.request_refund(topup bigint, k text, amt numeric, why text,
                                    OUT refund_id bigint, OUT status text, OUT pending int)
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  SELECT r.refund_id, r.status INTO refund_id, status
    FROM wallet.request_refund(topup, k, amt, why) r;
  pending := (status = 'pending')::int;
EXCEPTION WHEN SQLSTATE 'WL004' THEN
  refund_id := 0;
  status := 'refused';
  pending := 0;
END $$;

-- load.reverse_spend reverses amt (NULL: all that is left) of a spend and
-- returns the reversal's txn_id and what it returned, in minor units (the
-- load's currencies have exponent 2). A reversal never fails for the payee's
-- sake (what the payee no longer has becomes its debt), so any error is raised.
CREATE FUNCTION load.reverse_spend(sp bigint, k text, amt numeric,
                                   OUT txn_id bigint, OUT reversed_c bigint, OUT bonus_c bigint,
                                   OUT cash_c bigint, OUT earnings_c bigint)
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  SELECT r.txn_id, (r.bonus_returned * 100)::bigint, (r.cash_returned * 100)::bigint,
         (r.earnings_returned * 100)::bigint
    INTO txn_id, bonus_c, cash_c, earnings_c
    FROM wallet.reverse_spend(sp, k, amt) r;
  reversed_c := bonus_c + cash_c + earnings_c;
END $$;

-- load.check_balance raises when any bucket of a wallet's balance (in the
-- given scene) is negative or available is not cash + bonus + earnings; it
-- returns available in minor units.
CREATE FUNCTION load.check_balance(wid bigint, scene text DEFAULT NULL) RETURNS bigint
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  b record;
BEGIN
  SELECT * INTO STRICT b FROM wallet.balance(wid, scene);
  IF b.cash < 0 OR b.bonus < 0 OR b.earnings < 0 OR b.held < 0 OR b.available < 0
     OR b.available <> b.cash + b.bonus + b.earnings THEN
    RAISE EXCEPTION 'load check failed: bad balance of wallet % in scene %: %', wid, scene, row_to_json(b);
  END IF;
  RETURN (b.available * 100)::bigint;
END $$;
