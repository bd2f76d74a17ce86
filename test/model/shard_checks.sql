-- test/model/shard_checks.sql: the books of one shard database at the end of a run of the model
-- test through a router (MODEL_TARGET=router), the invariants test/invariants.sql checks after
-- every step of its own scenario, once the sweeps and roll-ups have run. Prints one line per
-- thing that does not hold, nothing when all holds. The shard's session runs on the run's last
-- clock (test/model/shard.sql sets it for the database).
--   1. wallet.reconcile() returns no row;
--   2. every transaction's postings sum to zero;
--   3. every wallet's balance() equals the sums of its postings per bucket: cash, earnings and
--      held as balance() reports them, and
--      available = cash + bonus + earnings;
--   4. every wallet's statement lists exactly the journal rows a scan of the whole journal finds
--      for it, and its bucket columns add up to its postings.
-- the sweeps and roll-ups first: a hold past its time counts in balance() where its pieces go
-- back, and a pending credit as it will be rolled up (a debt repaid first); the postings show
-- both once they are done
\o /dev/null
SELECT * FROM wallet.expire_holds();
SELECT * FROM wallet.expire_bonus();
SELECT wallet._rollup_wallet(wallet_id) FROM (SELECT DISTINCT wallet_id FROM wallet.payee_credit ORDER BY 1) p;
\o
SELECT format('reconcile: %s', to_jsonb(r)) FROM wallet.reconcile() r;

SELECT format('transaction %s: postings sum to %s', txn_id, sum(amount))
  FROM wallet.postings GROUP BY txn_id HAVING sum(amount) <> 0;

SELECT format('wallet %s (%s): balance %s, postings cash %s earnings %s held %s',
              w.wallet_id, w.owner, to_jsonb(b), p.cash, p.earnings, p.held)
  FROM wallet.wallet w
 CROSS JOIN LATERAL wallet.balance(w.wallet_id) b
 CROSS JOIN LATERAL (SELECT coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'cash'), 0) AS cash,
                            coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'earnings'), 0) AS earnings,
                            coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'held'), 0) AS held
                       FROM wallet.postings q
                      WHERE q.account = 'wallet' AND q.wallet_id = w.wallet_id) p
 WHERE b.cash <> p.cash OR b.earnings <> p.earnings OR b.held <> p.held
    OR b.available <> b.cash + b.bonus + b.earnings;

SELECT format('wallet %s (%s): statement %s, journal %s', w.wallet_id, w.owner, to_jsonb(st), to_jsonb(p))
  FROM wallet.wallet w
 CROSS JOIN LATERAL (SELECT array_agg(s.txn_id ORDER BY s.txn_id DESC) AS ids,
                            coalesce(sum(s.cash), 0) AS cash, coalesce(sum(s.bonus), 0) AS bonus,
                            coalesce(sum(s.earnings), 0) AS earnings, coalesce(sum(s.held), 0) AS held
                       FROM wallet.statement(w.wallet_id, max_rows => 1000) s) st
 CROSS JOIN LATERAL (SELECT array_agg(t.txn_id ORDER BY t.txn_id DESC) AS ids FROM wallet.txn t
                      WHERE t.wallet_id = w.wallet_id
                         OR EXISTS (SELECT 1 FROM unnest(t.postings) q WHERE q.wallet_id = w.wallet_id)) j
 CROSS JOIN LATERAL (SELECT coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'cash'), 0) AS cash,
                            coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'bonus'), 0) AS bonus,
                            coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'earnings'), 0) AS earnings,
                            coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'held'), 0) AS held
                       FROM wallet.postings q
                      WHERE q.account = 'wallet' AND q.wallet_id = w.wallet_id) p
 WHERE st.ids IS DISTINCT FROM j.ids OR st.cash <> p.cash OR st.bonus <> p.bonus
    OR st.earnings <> p.earnings OR st.held <> p.held;
