-- stress_spend.sql (test/suites/stress.sh): a spend from one of the 10 shared
-- wallets with allow_partial (never refused), paying another of the 10 about
-- half of the time -- so A pays B while B pays A -- and else revenue.
-- Remembers the spend for stress_reverse.sql.
-- Ack: client seq spend txn_id wallet payee_or_0 charged_c bonus_used_c cash_used_c earnings_used_c
\set seq :seq + 1
\set w :wbase + random(0, 9)
\set p :wbase + random(0, 19)
\set payee CASE WHEN :p < :wbase + 10 AND :p <> :w THEN :p ELSE 0 END
\set amt_c random(1, 20000)
SELECT txn_id AS spend_id, (charged * 100)::bigint AS charged_c, (bonus_used * 100)::bigint AS bu_c, (cash_used * 100)::bigint AS cu_c, (earnings_used * 100)::bigint AS eu_c FROM wallet.spend(:w, round(:amt_c / 100.0, 2), 'stress-s-' || :client_id || '-' || :seq, NULL, NULL, true, nullif(:payee, 0)) \gset
\shell echo :client_id :seq spend :spend_id :w :payee :charged_c :bu_c :cu_c :eu_c >> ${WALLET_ACKS}
\set last_spend :spend_id
\set last_w :w
\set left_c :charged_c
