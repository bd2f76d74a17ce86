-- stress_reverse.sql (test/suites/stress.sh): reverses part or all of what is
-- left of the client's last spend, through load.reverse_spend; when the payee
-- has meanwhile spent the credit the reversal must take back, the rest is the
-- payee's debt and the reversal goes through all the same.
-- Ack: client seq reverse txn_id payer spend_txn_id requested_c bonus_c cash_c earnings_c
--      (txn_id 0 would be a refusal: there is none)
\if :left_c > 0
\set seq :seq + 1
\set full random(0, 2)
\set x CASE WHEN :full = 0 THEN :left_c ELSE random(1, :left_c) END
SELECT txn_id AS rev_id, reversed_c, bonus_c, cash_c, earnings_c FROM load.reverse_spend(:last_spend, 'stress-r-' || :client_id || '-' || :seq, CASE WHEN :full = 0 THEN NULL ELSE round(:x / 100.0, 2) END) \gset
\shell echo :client_id :seq reverse :rev_id :last_w :last_spend :x :bonus_c :cash_c :earnings_c >> ${WALLET_ACKS}
\set left_c :left_c - :reversed_c
\endif
