-- after_restore.sql: a restored database keeps working, and every new id is above the ids the
-- dumped database had given (run by test/suites/dump.sh with the dumped database's greatest ids
-- as variables max_txn, max_wallet, max_refund, max_rule, max_audit, max_flag, max_run,
-- max_alert, max_notification, max_credit, max_quote, max_intake). Prints one row per check, ok true or false.
\set ON_ERROR_STOP on
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET wallet.now = '2026-03-26 10:00:00+00';
CREATE TEMP TABLE checks (name text, ok boolean);
-- the books held across the dump
INSERT INTO checks SELECT 'reconcile is clean after the restore', NOT EXISTS (SELECT FROM wallet.reconcile());
-- new wallets, top-ups, spends with a payee, refunds, rules, flags, alerts, notifications and
-- audit entries get ids above the old ones
SELECT wallet.open('dump-new-owner') AS w \gset
INSERT INTO checks VALUES ('a new wallet id is above the old ones', :w > :max_wallet);
SELECT txn_id AS t, bonus FROM wallet.top_up(:w, 150, 'dump-new-top-up') \gset
INSERT INTO checks VALUES ('a top-up works (with its bonus) and its txn_id is above the old ones',
                           :t > :max_txn AND :bonus > 0);
INSERT INTO checks SELECT 'the top-up lands in the partition of its month, not the default',
                          tableoid = 'wallet.txn_2026_03'::regclass FROM wallet.txn WHERE txn_id = :t;
SELECT txn_id AS s FROM wallet.spend(:w, 20, 'dump-new-spend', payee => (SELECT wallet_id FROM wallet.wallet WHERE owner = 'dump-shop')) \gset
INSERT INTO checks SELECT 'a payee credit id is above the old ones', max(credit_id) > :max_credit FROM wallet.payee_credit;
SELECT refund_id AS r FROM wallet.request_refund(:t, 'dump-new-refund', 10) \gset
INSERT INTO checks VALUES ('a new refund id is above the old ones', :r > :max_refund);
-- the policy allows two refund requests in 30 days: the third is rejected and flagged
SELECT status AS second FROM wallet.request_refund((SELECT txn_id FROM wallet.top_up(:w, 10, 'dump-new-top-up-2')),
                                                   'dump-new-refund-2', 1) \gset
SELECT status AS third FROM wallet.request_refund((SELECT txn_id FROM wallet.top_up(:w, 10, 'dump-new-top-up-3')),
                                                  'dump-new-refund-3', 1) \gset
INSERT INTO checks SELECT 'the third refund request in 30 days is rejected, with a risk flag whose id is above the old ones',
                          :'third' = 'rejected' AND max(flag_id) > :max_flag FROM wallet.risk_flag;
SELECT wallet.add_bonus_rule('CNY', 5000, 1) AS rule \gset
INSERT INTO checks VALUES ('a new bonus rule id is above the old ones', :rule > :max_rule);
INSERT INTO checks SELECT 'a new audit entry id is above the old ones (and the audit trigger works again)',
                          max(id) > :max_audit FROM wallet.audit WHERE object = 'bonus_rule:' || :rule;
INSERT INTO wallet.reconciliation_run (started_at, finished_at, discrepancies, details)
VALUES (wallet.clock(), wallet.clock(), 1, '[]');
INSERT INTO checks SELECT 'new reconciliation run and alert ids are above the old ones (the alert trigger works again)',
                          (SELECT max(run_id) FROM wallet.reconciliation_run) > :max_run
                          AND (SELECT max(id) FROM wallet.alert) > :max_alert;
-- alice's campaign bonus expires within three days
SET wallet.now = '2026-04-17 11:00:00+00';
SELECT wallet.remind_expiring() > 0 AS reminded \gset
INSERT INTO checks SELECT 'a new notification id is above the old ones', :'reminded'::boolean AND max(id) > :max_notification
  FROM wallet.notification;
SELECT wallet.issue_coupon('DUMP-5OFF', :w, 'dump-new-coupon') AS code \gset
INSERT INTO checks SELECT 'a coupon is issued and counted after the restore',
                          (SELECT issued FROM wallet.coupon_template WHERE template_id = 'DUMP-5OFF') = 2
                          AND EXISTS (SELECT FROM wallet.coupon WHERE code = :'code' AND wallet_id = :w);
-- card intake: the database's key came back (a card submitted before is recognized), new
-- quote and intake ids continue above the old ones, the intake under review can be paid;
-- an exchange works
SELECT quote_id AS q FROM wallet.card_quote('dump_card', 100, 2, :w) \gset
SELECT intake_id AS k, duplicates FROM wallet.submit_cards(:w, 'dump_card', '{100, 100}',
                                                            '{DUMP-ALICE-0002, DUMP-NEW-0001}', 'dump-new-cards', :q) \gset
INSERT INTO checks VALUES ('a card submitted before the dump is a duplicate after the restore (the card key came back)',
                           :duplicates = 1);
INSERT INTO checks VALUES ('new quote and intake ids are above the old ones', :q > :max_quote AND :k > :max_intake);
INSERT INTO checks SELECT 'the intake under review is paid by its review after the restore',
                          wallet.review_intake(intake_id, true, 'ops') = 'paid'
                     FROM wallet.card_intake WHERE status = 'review';
INSERT INTO checks SELECT 'an exchange into points works after the restore', to_amount = 20
                     FROM wallet.exchange((SELECT wallet_id FROM wallet.wallet WHERE owner = 'dump-alice' AND currency = 'CNY'),
                                          (SELECT wallet_id FROM wallet.wallet WHERE owner = 'dump-alice' AND currency = 'PTS'),
                                          2, 'dump-new-fx');
INSERT INTO checks SELECT 'reconcile is clean after the new operations', NOT EXISTS (SELECT FROM wallet.reconcile());
SELECT name, ok FROM checks;
