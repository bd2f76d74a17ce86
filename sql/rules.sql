-- rules: a rule (CREATE RULE) on a table the operations write is refused, the same way in
-- every backend (CONTRACT.md section 22). top_up and spend write wallet.wallet, wallet.txn,
-- wallet.txn_key and wallet.payee_credit straight into the heap, past the rewriter, and their
-- statements use INSERT ... ON CONFLICT, which a rule forbids: a rule would be skipped by a
-- backend that had run operations before and break one that had not. So CREATE RULE on a
-- table of the wallet schema is refused (an event trigger), and every operation refuses to
-- run while such a rule exists (one made while the event trigger did not fire), whether the
-- backend is warm or fresh.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET wallet.now = '2026-01-01 00:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9720000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9720000) AS t0 \gset
INSERT INTO wallet.currency (code, exponent) VALUES ('QRU', 2);
SELECT wallet.open('rules-alice', 'QRU') AS alice, wallet.open('rules-shop', 'QRU') AS shop \gset
CREATE TABLE rules_audit (what text);

-- This backend is warm: it has run both operations (plans prepared, direct writes taken).
SELECT txn_id - :t0 AS txn FROM wallet.top_up(:alice, 100, 'rules-1');
SELECT charged FROM wallet.spend(:alice, 10, 'rules-2', payee => :shop);

-- CREATE RULE on the extension's tables is refused.
CREATE RULE audit_wallet AS ON UPDATE TO wallet.wallet DO ALSO INSERT INTO rules_audit VALUES ('wallet');
CREATE RULE audit_txn AS ON INSERT TO wallet.txn DO ALSO INSERT INTO rules_audit VALUES ('txn');
CREATE RULE audit_credit AS ON INSERT TO wallet.payee_credit DO ALSO INSERT INTO rules_audit VALUES ('credit');
-- a rule elsewhere is not the extension's business
CREATE RULE audit_audit AS ON DELETE TO rules_audit DO INSTEAD NOTHING;
DROP RULE audit_audit ON rules_audit;

-- A rule made while the event trigger does not fire (a replica's role) is still refused, by
-- every operation, in this warm backend...
SET session_replication_role = replica;
CREATE RULE audit_wallet AS ON UPDATE TO wallet.wallet DO ALSO INSERT INTO rules_audit VALUES ('wallet');
RESET session_replication_role;
SELECT txn_id FROM wallet.top_up(:alice, 100, 'rules-3');
SELECT charged FROM wallet.spend(:alice, 10, 'rules-4');
SELECT bonus_returned FROM wallet.reverse_spend(:t0 + 2, 'rules-5');
SELECT wallet.open('rules-bob', 'QRU');
SELECT wallet.freeze(:alice, 'rules');
-- ...and in a fresh one
\c
\set SHOW_CONTEXT never
SET wallet.now = '2026-01-01 00:00:00+00';
SELECT txn_id FROM wallet.top_up(:alice, 100, 'rules-3');
SELECT charged FROM wallet.spend(:alice, 10, 'rules-4');
SELECT bonus_returned FROM wallet.reverse_spend(:t0 + 2, 'rules-5');
SELECT wallet.open('rules-bob', 'QRU');
-- nothing was written, nothing went past the rule
SELECT count(*) AS audited FROM rules_audit;
SELECT count(*) - 2 AS new_txns FROM wallet.txn WHERE wallet_id IN (:alice, :shop);

-- Once the rule is dropped, the operations run again, in this backend and the next.
DROP RULE audit_wallet ON wallet.wallet;
SELECT txn_id - :t0 AS txn FROM wallet.top_up(:alice, 100, 'rules-3');
\c
\set SHOW_CONTEXT never
SET wallet.now = '2026-01-01 00:00:00+00';
SELECT charged FROM wallet.spend(:alice, 10, 'rules-4', payee => :shop);

-- A rule on the payee credits or on the journal: refused the same way (this backend is warm).
SET session_replication_role = replica;
CREATE RULE audit_credit AS ON INSERT TO wallet.payee_credit DO ALSO INSERT INTO rules_audit VALUES ('credit');
RESET session_replication_role;
SELECT charged FROM wallet.spend(:alice, 10, 'rules-6', payee => :shop);
DROP RULE audit_credit ON wallet.payee_credit;
SELECT charged FROM wallet.spend(:alice, 10, 'rules-6', payee => :shop);
SET session_replication_role = replica;
CREATE RULE audit_txn AS ON INSERT TO wallet.txn DO ALSO INSERT INTO rules_audit VALUES ('txn');
RESET session_replication_role;
SELECT charged FROM wallet.spend(:alice, 10, 'rules-7');
SELECT bonus_returned FROM wallet.reverse_spend(:t0 + 2, 'rules-5');
-- the sweeps and bulk issuance refuse too
SELECT * FROM wallet.expire_bonus();
SELECT wallet.rollup_credits();
SELECT * FROM wallet.issue_coupons('rules-none', ARRAY[:alice], 'rules-8');
DROP RULE audit_txn ON wallet.txn;
SELECT charged FROM wallet.spend(:alice, 10, 'rules-7');
SELECT count(*) AS audited FROM rules_audit;
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency = 'QRU';
DROP TABLE rules_audit;
