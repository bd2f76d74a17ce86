-- stress_balance.sql (test/suites/stress.sh): reads a balance during the load
-- (payee credits not rolled up yet included); load.check_balance raises on a
-- negative bucket or available <> cash + bonus + earnings.
\set w :wbase + random(0, 9)
SELECT load.check_balance(:w);
