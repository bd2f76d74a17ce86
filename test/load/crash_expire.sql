-- crash_expire.sql (test/suites/crash.sh): the sweeps, in small batches:
-- bonus expiry (the 'flash' and 'vip' campaigns' bonus expires seconds into
-- the load) and the roll-up of merchants' payee credits.
SELECT wallets, lots FROM wallet.expire_bonus(20);
SELECT wallet.rollup_credits(5);
