-- crash_topup.sql (test/suites/crash.sh): a top-up of one of the client's two
-- customer wallets, in one of the bonus tiers (none, 100, 200, 500 and the
-- campaigns), then the acknowledgement appended to $WALLET_ACKS outside the
-- database. Never refused: nothing in the load freezes a wallet.
-- Ack: client seq topup txn_id wallet_id amount_in_cents (the key is
-- 'crash-t-<client>-<seq>', so crash.sh can replay it).
\set seq :seq + 1
\set w :cbase + 2 * :client_id + random(0, 1)
\set tier random(1, 5)
\set amt_c CASE WHEN :tier = 1 THEN random(1, 9999) WHEN :tier = 2 THEN 100 * random(100, 199) WHEN :tier = 3 THEN 100 * random(200, 499) WHEN :tier = 4 THEN 100 * random(500, 700) ELSE random(100, 70000) END
SELECT txn_id AS topup_id FROM wallet.top_up(:w, round(:amt_c / 100.0, 2), 'crash-t-' || :client_id || '-' || :seq, 'card') \gset
\shell echo :client_id :seq topup :topup_id :w :amt_c >> ${WALLET_ACKS}
\set last_topup :topup_id
