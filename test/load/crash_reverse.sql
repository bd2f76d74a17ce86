-- crash_reverse.sql (test/suites/crash.sh): reverses part or all of what is
-- left of the client's last spend (the client tracks what is left, in cents).
-- Never refused: the payees are merchants that never spend, so their credit
-- can always be taken back, and nothing in the load freezes a wallet.
-- Ack: client seq reverse txn_id spend_txn_id amount_in_cents
\if :left_c > 0
\set seq :seq + 1
\set full random(0, 2)
\set x CASE WHEN :full = 0 THEN :left_c ELSE random(1, :left_c) END
SELECT txn_id AS rev_id FROM wallet.reverse_spend(:last_spend, 'crash-r-' || :client_id || '-' || :seq, CASE WHEN :full = 0 THEN NULL ELSE round(:x / 100.0, 2) END) \gset
\shell echo :client_id :seq reverse :rev_id :last_spend :x >> ${WALLET_ACKS}
\set left_c :left_c - :x
\endif
