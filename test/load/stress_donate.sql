-- stress_donate.sql (test/suites/stress.sh): one donation to the one charity, in one statement.
-- Donor n (n from a sequence, so that each of the donors gives exactly once) gives 100 + n cents
-- of its earnings, kind donation, key 'donate-<n>'. Never refused.
SELECT t.txn_id
  FROM (SELECT nextval('load.donor_seq') AS n) s
 CROSS JOIN LATERAL wallet.transfer(:dbase + s.n, :charity, (100 + s.n) / 100.0, 'donate-' || s.n,
                                    kind => 'donation') t;
