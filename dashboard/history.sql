-- dashboard/history.sql: six weeks of everyday traffic in CNY after the demo's story, so that
-- the dashboard (make dashboard) has trends to draw. Run by test/run.sh after test/demo.sql in the
-- demo's database, as superuser (it moves the test clock, wallet.now, day by day).
--
-- Deterministic: the same journal every time. Each day from 2026-01-10 a growing set of customers
-- (6, then one more every third day) spend at one shop on most days, some of them top up (a
-- campaign grants bonus usable in scene game only, valid 5 days, on top of the demo's base rules:
-- the customers who spend on food let it expire), every sixth day a spend is reversed, every third
-- day some top-ups are partly refunded, every day expired bonus is swept and the reports rolled up.
\set ON_ERROR_STOP 1
SET TimeZone = 'UTC';
SET wallet.now = '2026-01-10 00:00:00+00';
SELECT wallet.add_bonus_rule('CNY', min_amount => 50, bonus_rate => 0.04, valid_for => '5 days',
                             scope => '{game}', campaign => 'dashboard-weekly') IS NOT NULL AS campaign;
DO $$
DECLARE
  shop bigint := wallet.open('dash-shop', 'CNY');
  w bigint;
  d int;
  c int;
  day timestamptz;
  amt numeric;
  sp record;
  tp record;
  q record;
  first_spend bigint;
BEGIN
  FOR d IN 0..41 LOOP
    day := timestamptz '2026-01-10 08:00:00+00' + d * interval '1 day';
    first_spend := NULL;
    FOR c IN 1..(6 + d / 3) LOOP
      PERFORM set_config('wallet.now', (day + c * interval '9 minutes')::text, true);
      w := wallet.open('dash-customer-' || c, 'CNY');
      -- a top-up every fourth day (and on the first day a customer shows up)
      IF (d + c) % 4 = 0 OR d = greatest(0, (c - 6) * 3) THEN
        amt := 50 + ((d * 37 + c * 53) % 10) * 25;
        SELECT * INTO tp FROM wallet.top_up(w, amt, format('dash-%s-%s-topup', d, c), CASE WHEN c % 3 = 0 THEN 'alipay' ELSE 'card' END);
        -- every third day some customers take part of that top-up back
        IF d % 3 = 1 AND c % 4 = 1 THEN
          SELECT * INTO q FROM wallet.refund_quote(tp.txn_id);
          IF q.max_amount > 0 THEN
            PERFORM set_config('wallet.now', (day + c * interval '9 minutes' + interval '1 minute')::text, true);
            PERFORM wallet.request_refund(tp.txn_id, format('dash-%s-%s-refund', d, c), least(q.max_amount, 20 + (d % 5) * 10));
          END IF;
        END IF;
      END IF;
      CONTINUE WHEN (d + c) % 3 = 0;  -- not every customer spends every day
      PERFORM set_config('wallet.now', (day + c * interval '9 minutes' + interval '2 minutes')::text, true);
      amt := 10 + ((d * 13 + c * 7) % 12) * 5;
      SELECT * INTO sp FROM wallet.spend(w, amt, format('dash-%s-%s-spend', d, c),
                                         CASE WHEN c % 2 = 0 THEN 'game' ELSE 'food' END,
                                         allow_partial => true, payee => shop);
      IF first_spend IS NULL AND sp.charged > 0 THEN first_spend := sp.txn_id; END IF;
    END LOOP;
    -- the afternoon: a reversal every sixth day, the refunds settled, the sweeps
    PERFORM set_config('wallet.now', (day + interval '8 hours')::text, true);
    IF d % 6 = 5 AND first_spend IS NOT NULL THEN
      PERFORM wallet.reverse_spend(first_spend, format('dash-%s-reverse', d));
    END IF;
    FOR q IN SELECT r.refund_id FROM wallet.refund r
              WHERE r.status = 'pending' AND r.requested_at < day + interval '8 hours' ORDER BY r.refund_id LOOP
      PERFORM wallet.review_refund(q.refund_id, true, 'dashboard');
      PERFORM wallet.settle_refund(q.refund_id, true, format('gw-%s', q.refund_id));
    END LOOP;
    PERFORM wallet.expire_bonus();
  END LOOP;
END $$;
SELECT wallet.refresh_reports() >= 0 AS rolled_up;
SELECT count(*) AS journal_rows, min(created_at)::date AS first_day, max(created_at)::date AS last_day FROM wallet.txn;
