-- crash_balance.sql (test/suites/crash.sh): reads balances during the load;
-- load.check_balance raises (aborting the client, which crash.sh reports)
-- when a bucket is negative or available is not cash + bonus + earnings.
\set w :cbase + 2 * :client_id + random(0, 1)
\set m :mbase + random(0, 2)
SELECT load.check_balance(:w), load.check_balance(:w, 'game'), load.check_balance(:w, 'vip'), load.check_balance(:m);
