-- crash_refund.sql (test/suites/crash.sh): a refund of the client's last
-- top-up (all that is refundable or part of it, reason user or platform)
-- through load.request_refund, which turns WL004 (nothing refundable) into
-- refund_id 0; then, when the request waits for review, a review (approve 3
-- times in 4) and, when approved, a settlement (success 3 times in 4). Every
-- refund is driven to a final state in this one script, so a second request
-- for the same top-up never meets an open one (WL008 would be a bug).
-- Acks: client seq refund refund_id topup_txn_id status
--       client seq refused 0 topup_txn_id -
--       client seq rstatus refund_id status -
\if :last_topup > 0
\set seq :seq + 1
\set how random(0, 3)
\set part_c random(1, 30000)
SELECT refund_id AS rid, status AS rst, pending FROM load.request_refund(:last_topup, 'crash-f-' || :client_id || '-' || :seq, CASE WHEN :how % 2 = 1 THEN round(:part_c / 100.0, 2) END, CASE WHEN :how < 2 THEN 'user' ELSE 'platform' END) \gset
\if :rid > 0
\shell echo :client_id :seq refund :rid :last_topup :rst >> ${WALLET_ACKS}
\else
\shell echo :client_id :seq refused 0 :last_topup - >> ${WALLET_ACKS}
\endif
\if :pending = 1
\set approve random(0, 3)
SELECT wallet.review_refund(:rid, :approve > 0, 'crash-reviewer') AS st1 \gset
\shell echo :client_id :seq rstatus :rid :st1 - >> ${WALLET_ACKS}
\if :approve > 0
\set ok random(0, 3)
SELECT wallet.settle_refund(:rid, :ok > 0, 'gw-' || :rid) AS st2 \gset
\shell echo :client_id :seq rstatus :rid :st2 - >> ${WALLET_ACKS}
\endif
\endif
\endif
