-- test/model/shard_checks.sql: the books of one shard database at the end of a run of the model
-- test through a router (MODEL_TARGET=router), the invariants test/invariants.sql checks after
-- every step of its own scenario. Prints one line per thing that does not hold, nothing when all
-- holds. The shard's session runs on the run's last clock (test/model/shard.sql sets it for the
-- database).
--   1. wallet.reconcile() returns no row;
--   2. every transaction's postings sum to zero;
--   3. every wallet's balance() equals the sums of its postings per bucket: cash, earnings and
--      held as balance() reports them (earnings with the credits still pending), and
--      available = cash + bonus + earnings;
--   4. every wallet's statement lists exactly the journal rows a scan of the whole journal finds
--      for it, and its bucket columns add up to its postings.
SELECT format('reconcile: %s', to_jsonb(r)) FROM wallet.reconcile() r;

SELECT format('transaction %s: postings sum to %s', txn_id, sum(amount))
  FROM wallet.postings GROUP BY txn_id HAVING sum(amount) <> 0;

SELECT format('wallet %s (%s): balance %s, postings cash %s earnings %s (pending %s) held %s',
              w.wallet_id, w.owner, to_jsonb(b), p.cash, p.earnings, c.pending, p.held)
  FROM wallet.wallet w
  JOIN wallet.currency e ON e.code = w.currency
 CROSS JOIN LATERAL wallet.balance(w.wallet_id) b
 CROSS JOIN LATERAL (SELECT coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'cash'), 0) AS cash,
                            coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'earnings'), 0) AS earnings,
                            coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'held'), 0) AS held
                       FROM wallet.postings q
                      WHERE q.account = 'wallet' AND q.wallet_id = w.wallet_id) p
 CROSS JOIN LATERAL (SELECT coalesce(sum(x.amount), 0) / 10::numeric ^ e.exponent AS pending
                       FROM wallet.payee_credit x WHERE x.wallet_id = w.wallet_id AND x.bucket = 'earnings') c
 WHERE b.cash <> p.cash OR b.earnings <> p.earnings + c.pending OR b.held <> p.held
    OR b.available <> b.cash + b.bonus + b.earnings;

SELECT format('wallet %s (%s): statement %s, journal %s', w.wallet_id, w.owner, to_jsonb(st), to_jsonb(p))
  FROM wallet.wallet w
 CROSS JOIN LATERAL (SELECT array_agg(s.txn_id ORDER BY s.txn_id DESC) AS ids,
                            coalesce(sum(s.cash), 0) AS cash, coalesce(sum(s.bonus), 0) AS bonus,
                            coalesce(sum(s.earnings), 0) AS earnings, coalesce(sum(s.held), 0) AS held
                       FROM wallet.statement(w.wallet_id, max_rows => 100000) s) st
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
