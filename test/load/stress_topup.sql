-- stress_topup.sql (test/suites/stress.sh): a top-up of one of the 10 shared
-- wallets, below or inside the bonus tiers. Never refused.
-- Ack: client seq topup txn_id wallet 0 amount_c bonus_c 0 0
\set seq :seq + 1
\set w :wbase + random(0, 9)
\set amt_c CASE WHEN random(0, 1) = 0 THEN random(1, 9999) ELSE 100 * random(100, 300) END
SELECT txn_id AS topup_id, (bonus * 100)::bigint AS bonus_c FROM wallet.top_up(:w, round(:amt_c / 100.0, 2), 'stress-t-' || :client_id || '-' || :seq) \gset
\shell echo :client_id :seq topup :topup_id :w 0 :amt_c :bonus_c 0 0 >> ${WALLET_ACKS}
