-- crash_spend.sql (test/suites/crash.sh): a spend from one of the client's
-- customer wallets, with or without a scene ('game' and 'vip' are campaigns'
-- scopes), with or without a merchant as payee, with or without allow_partial.
-- Without allow_partial the amount is capped, in the same statement (same
-- clock), at the wallet's cash + earnings, which no concurrent operation of
-- the load can lower (only this client spends or refunds from its wallets;
-- another client's expiry sweep can only take bonus), so WL001 can never be
-- a legitimate answer. Remembers the spend for crash_reverse.sql.
-- Ack: client seq spend txn_id wallet_id charged_in_cents
\set seq :seq + 1
\set w :cbase + 2 * :client_id + random(0, 1)
\set sc random(0, 3)
\set pm random(0, 3)
\set partial random(0, 1)
\set amt_c random(1, 30000)
SELECT s.txn_id AS spend_id, (s.charged * 100)::bigint AS charged_c FROM (SELECT (ARRAY[NULL, 'game', 'shop', 'vip'])[:sc + 1] AS scene, CASE WHEN :pm = 0 THEN NULL ELSE :mbase + :pm - 1 END::bigint AS payee, round(:amt_c / 100.0, 2) AS amt) a CROSS JOIN LATERAL (SELECT cash + earnings AS safe FROM wallet.balance(:w, a.scene)) b CROSS JOIN LATERAL wallet.spend(:w, CASE WHEN :partial = 1 OR b.safe = 0 THEN a.amt ELSE least(a.amt, b.safe) END, 'crash-s-' || :client_id || '-' || :seq, a.scene, NULL, :partial = 1 OR b.safe = 0, a.payee) s \gset
\shell echo :client_id :seq spend :spend_id :w :charged_c >> ${WALLET_ACKS}
\set last_spend :spend_id
\set left_c :charged_c
