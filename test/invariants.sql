-- invariants.sql: the books hold after every operation (CONTRACT.md section 8).
--
-- One scenario runs every operation: open, top-up with bonus tiers and a
-- scoped campaign, a replay, a scoped spend, a partial spend, a spend paying a
-- payee, partial and full reversals, refunds approved and settled, rejected,
-- failed, the expiry sweep after moving the clock, freeze and unfreeze.
-- After each step four invariants are checked:
--   1. wallet.reconcile() returns no row;
--   2. every transaction's postings (wallet.postings) sum to zero;
--   3. every wallet's balance() equals the sums of its postings per bucket:
--      cash, earnings and held as balance() reports them, bonus as the live
--      bonus lots (balance() counts only unscoped bonus), and
--      available = cash + bonus + earnings;
--   4. every wallet's statement (wallet.statement, read by index) lists exactly the
--      journal rows a scan of the whole journal finds for it (its own rows and those
--      with a leg of it), and its bucket columns add up to the postings.
-- The values each step returns are checked too, from the contract's rules.
BEGIN;
SELECT plan(112);

SET wallet.now = '2026-04-01 00:00:00+00';

-- policy and rules (rolled back at the end like everything else)
SELECT wallet.set_policy('CNY', refund_fee_rate => 0.01, commission_rate => 0.02) IS NOT NULL AS policy \gset
SELECT wallet.add_bonus_rule('CNY', 100, bonus_fixed => 10, valid_for => '30 days') AS r100 \gset
SELECT wallet.add_bonus_rule('CNY', 200, bonus_fixed => 25, valid_for => '30 days') AS r200 \gset
SELECT wallet.add_bonus_rule('CNY', 500, bonus_fixed => 75, valid_for => '30 days') AS r500 \gset
SELECT wallet.add_bonus_rule('CNY', 100, bonus_rate => 0.05, valid_for => '7 days', scope => ARRAY['game'],
                             campaign => 'spring', refund_fee_rate => 0.02) AS rspring \gset

-- wallet_vs_postings lists the scenario's wallets whose balance() disagrees with their postings
CREATE TEMP VIEW wallet_vs_postings AS
  SELECT w.wallet_id, w.owner, b.cash, b.bonus, b.earnings, b.held, b.available, l.live_bonus,
         p.cash AS posted_cash, p.bonus AS posted_bonus, p.earnings AS posted_earnings, p.held AS posted_held
    FROM wallet.wallet w
   CROSS JOIN LATERAL wallet.balance(w.wallet_id) b
   CROSS JOIN LATERAL (SELECT coalesce(sum(x.amount), 0) AS live_bonus
                         FROM wallet.lots(w.wallet_id) x WHERE x.bucket = 'bonus') l
   CROSS JOIN LATERAL (SELECT coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'cash'), 0) AS cash,
                              coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'bonus'), 0) AS bonus,
                              coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'earnings'), 0) AS earnings,
                              coalesce(sum(q.amount) FILTER (WHERE q.bucket = 'held'), 0) AS held
                         FROM wallet.postings q
                        WHERE q.account = 'wallet' AND q.wallet_id = w.wallet_id) p
   WHERE w.owner LIKE 'inv-%'
     AND (b.cash <> p.cash OR l.live_bonus <> p.bonus OR b.earnings <> p.earnings OR b.held <> p.held
          OR b.available <> b.cash + b.bonus + b.earnings);

-- statement_vs_journal lists the scenario's wallets whose statement is not their journal rows
CREATE TEMP VIEW statement_vs_journal AS
  SELECT w.wallet_id, w.owner
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
   WHERE w.owner LIKE 'inv-%'
     AND (st.ids IS DISTINCT FROM j.ids OR st.cash <> p.cash OR st.bonus <> p.bonus
          OR st.earnings <> p.earnings OR st.held <> p.held);

-- invariants runs the four checks after a step
CREATE FUNCTION pg_temp.invariants(step text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN NEXT is((SELECT count(*) FROM wallet.reconcile()), 0::bigint, step || ': reconcile() finds nothing');
  RETURN NEXT is_empty($q$ SELECT txn_id, sum(amount) FROM wallet.postings GROUP BY txn_id HAVING sum(amount) <> 0 $q$,
                       step || ': every transaction''s postings sum to zero');
  RETURN NEXT is_empty($q$ SELECT * FROM wallet_vs_postings $q$,
                       step || ': every wallet''s balance equals the sums of its postings');
  RETURN NEXT is_empty($q$ SELECT * FROM statement_vs_journal $q$,
                       step || ': every wallet''s statement lists its journal rows and adds up to its postings');
END $$;

------------------------------------------------------------------------------
-- 1. open
------------------------------------------------------------------------------
SELECT wallet.open('inv-alice') AS alice, wallet.open('inv-bob') AS bob, wallet.open('inv-shop') AS shop \gset
SELECT is(wallet.open('inv-alice'), :alice::bigint, 'open is idempotent on (owner, currency)');
SELECT pg_temp.invariants('open');

------------------------------------------------------------------------------
-- 2. top-ups: tiers (300 -> 25) plus the scoped campaign (5 % of 300 = 15)
------------------------------------------------------------------------------
SELECT results_eq(format('SELECT bonus, replayed FROM wallet.top_up(%s, 300, %L, %L)', :alice, 'inv-a1', 'card'),
                  $$ VALUES (40.00::numeric, false) $$, 'top-up 300: bonus 25 (tier 200) + 15 (campaign)');
SELECT txn_id AS a1 FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'inv-a1' \gset
SELECT pg_temp.invariants('top-up with tiers and campaign');

SELECT results_eq(format('SELECT bonus, replayed FROM wallet.top_up(%s, 100, %L)', :bob, 'inv-b1'),
                  $$ VALUES (15.00::numeric, false) $$, 'top-up 100: bonus 10 (tier 100) + 5 (campaign)');
SELECT pg_temp.invariants('second top-up');

SELECT results_eq(format('SELECT txn_id, bonus, replayed FROM wallet.top_up(%s, 300, %L, %L)', :alice, 'inv-a1', 'card'),
                  format('VALUES (%s::bigint, 40.00::numeric, true)', :a1), 'replaying the top-up returns its result');
SELECT pg_temp.invariants('replayed top-up');

------------------------------------------------------------------------------
-- 3. scoped spend: in scene 'game' both bonus lots are usable, the one expiring
--    first (campaign, 7 days) goes first; 50 = bonus 15 + 25, cash 10
------------------------------------------------------------------------------
SELECT results_eq(format('SELECT charged, bonus_used, cash_used, earnings_used, shortfall FROM wallet.spend(%s, 50, %L, %L)',
                         :alice, 'inv-a2', 'game'),
                  $$ VALUES (50.00::numeric, 40.00::numeric, 10.00::numeric, 0.00::numeric, 0.00::numeric) $$,
                  'scoped spend of 50: bonus 40, cash 10');
SELECT txn_id AS a2 FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'inv-a2' \gset
SELECT pg_temp.invariants('scoped spend');

------------------------------------------------------------------------------
-- 4. partial spend: outside 'game' bob can pay 10 of bonus + 100 of cash
------------------------------------------------------------------------------
SELECT results_eq(format('SELECT charged, bonus_used, cash_used, shortfall FROM wallet.spend(%s, 500, %L, allow_partial => true)',
                         :bob, 'inv-b2'),
                  $$ VALUES (110.00::numeric, 10.00::numeric, 100.00::numeric, 390.00::numeric) $$,
                  'partial spend of 500: charged 110, shortfall 390');
SELECT pg_temp.invariants('partial spend');

------------------------------------------------------------------------------
-- 5. spend paying a payee: 2 % commission, the shop gets 98
------------------------------------------------------------------------------
SELECT results_eq(format('SELECT charged, cash_used FROM wallet.spend(%s, 100, %L, payee => %s)', :alice, 'inv-a3', :shop),
                  $$ VALUES (100.00::numeric, 100.00::numeric) $$, 'spend of 100 paying the shop');
SELECT txn_id AS a3 FROM wallet.txn WHERE wallet_id = :alice AND idempotency_key = 'inv-a3' \gset
SELECT is((SELECT earnings FROM wallet.balance(:shop)), 98.00::numeric, 'the shop is credited 100 less 2 % commission');
SELECT pg_temp.invariants('payee spend');

------------------------------------------------------------------------------
-- 6. reversals: 30 of the scoped spend (bonus floor(30*40/50) = 24, cash 6),
--    then all of the payee spend (the shop gives its 98 back)
------------------------------------------------------------------------------
SELECT results_eq(format('SELECT bonus_returned, cash_returned, earnings_returned, replayed FROM wallet.reverse_spend(%s, %L, 30)',
                         :a2, 'inv-a4'),
                  $$ VALUES (24.00::numeric, 6.00::numeric, 0.00::numeric, false) $$,
                  'partial reversal of 30: bonus 24, cash 6');
SELECT pg_temp.invariants('partial reversal');

SELECT results_eq(format('SELECT bonus_returned, cash_returned, earnings_returned, replayed FROM wallet.reverse_spend(%s, %L)',
                         :a3, 'inv-a5'),
                  $$ VALUES (0.00::numeric, 100.00::numeric, 0.00::numeric, false) $$,
                  'full reversal of the payee spend: cash 100');
SELECT is((SELECT earnings FROM wallet.balance(:shop)), 0.00::numeric, 'the shop gave its credit back');
SELECT pg_temp.invariants('full reversal with payee');

------------------------------------------------------------------------------
-- 7. refund approved and settled. Top-up a1's cash left: 300 - 10 - 100 + 6 + 100
--    = 296; its bonus spent and not given back: 40 - 24 = 16; so at most 280.
--    100 with reason 'user': fee 100 x (1 % + 2 % campaign) = 3, clawback 16,
--    the 24 of live bonus voided.
------------------------------------------------------------------------------
SELECT results_eq(format('SELECT max_amount, bonus_clawback, bonus_void, fee_rate FROM wallet.refund_quote(%s)', :a1),
                  $$ VALUES (280.00::numeric, 16.00::numeric, 24.00::numeric, 0.03::numeric) $$,
                  'refund quote of the top-up');
SELECT results_eq(format('SELECT amount, fee, net, bonus_clawback, bonus_void, status FROM wallet.request_refund(%s, %L, 100)',
                         :a1, 'inv-a6'),
                  $$ VALUES (100.00::numeric, 3.00::numeric, 97.00::numeric, 16.00::numeric, 24.00::numeric, 'pending'::text) $$,
                  'refund request of 100: pending');
SELECT refund_id AS rf1 FROM wallet.refund WHERE wallet_id = :alice ORDER BY refund_id DESC LIMIT 1 \gset
SELECT results_eq(format('SELECT cash, bonus, held FROM wallet.balance(%s)', :alice),
                  $$ VALUES (180.00::numeric, 0.00::numeric, 140.00::numeric) $$,
                  'the request holds 100 + 16 of cash and the 24 of bonus');
SELECT pg_temp.invariants('refund requested');

SELECT is(wallet.review_refund(:rf1, true, 'inv-ops'), 'approved', 'review: approved');
SELECT pg_temp.invariants('refund approved');

SELECT is(wallet.settle_refund(:rf1, true, 'gw-inv-1'), 'succeeded', 'settle: succeeded');
SELECT is((SELECT held FROM wallet.balance(:alice)), 0.00::numeric, 'nothing is held any more');
SELECT pg_temp.invariants('refund settled');

------------------------------------------------------------------------------
-- 8. refund rejected: a later partial refund owes no clawback again
------------------------------------------------------------------------------
SELECT results_eq(format('SELECT amount, fee, bonus_clawback, bonus_void, status FROM wallet.request_refund(%s, %L, 50)',
                         :a1, 'inv-a7'),
                  $$ VALUES (50.00::numeric, 1.50::numeric, 0.00::numeric, 0.00::numeric, 'pending'::text) $$,
                  'second refund request of 50: no clawback');
SELECT refund_id AS rf2 FROM wallet.refund WHERE wallet_id = :alice ORDER BY refund_id DESC LIMIT 1 \gset
SELECT pg_temp.invariants('second refund requested');
SELECT is(wallet.review_refund(:rf2, false, 'inv-ops', 'duplicate'), 'rejected', 'review: rejected');
SELECT results_eq(format('SELECT cash, held FROM wallet.balance(%s)', :alice),
                  $$ VALUES (180.00::numeric, 0.00::numeric) $$, 'the rejection gives everything back');
SELECT pg_temp.invariants('refund rejected');

------------------------------------------------------------------------------
-- 9. refund failed at the gateway (reason 'platform': no fee)
------------------------------------------------------------------------------
SELECT results_eq(format('SELECT bonus FROM wallet.top_up(%s, 200, %L)', :bob, 'inv-b3'),
                  $$ VALUES (35.00::numeric) $$, 'top-up 200: bonus 25 + 10');
SELECT txn_id AS b3 FROM wallet.txn WHERE wallet_id = :bob AND idempotency_key = 'inv-b3' \gset
SELECT results_eq(format('SELECT amount, fee, bonus_void, status FROM wallet.request_refund(%s, %L, reason => %L)',
                         :b3, 'inv-b4', 'platform'),
                  $$ VALUES (200.00::numeric, 0.00::numeric, 35.00::numeric, 'pending'::text) $$,
                  'platform refund of all 200: no fee, bonus voided');
SELECT refund_id AS rf3 FROM wallet.refund WHERE wallet_id = :bob ORDER BY refund_id DESC LIMIT 1 \gset
SELECT is(wallet.review_refund(:rf3, true, 'inv-ops'), 'approved', 'review: approved');
SELECT pg_temp.invariants('platform refund approved');
SELECT is(wallet.settle_refund(:rf3, false, 'gw-inv-2'), 'failed', 'settle: failed');
SELECT results_eq(format('SELECT cash, held FROM wallet.balance(%s)', :bob),
                  $$ VALUES (200.00::numeric, 0.00::numeric) $$, 'the failure gives the cash back');
SELECT is((SELECT sum(amount) FROM wallet.lots(:bob) WHERE bucket = 'bonus'), 40.00::numeric,
          'and the bonus: 25 + 10 of top-up b3, 5 left of b1');
SELECT pg_temp.invariants('refund failed');

------------------------------------------------------------------------------
-- 10. expiry: 8 days later the campaign lots (7 days) are expired; the sweep
--     writes off bob's 5 + 10, the tier bonus (30 days) stays
------------------------------------------------------------------------------
SET wallet.now = '2026-04-09 00:00:00+00';
SELECT is((SELECT count(*) FROM wallet.reconcile()), 0::bigint, 'clock moved: reconcile() finds nothing before the sweep');
SELECT lives_ok('SELECT * FROM wallet.expire_bonus()', 'the expiry sweep runs');
SELECT is((SELECT sum(amount) FROM wallet.transactions WHERE wallet_id = :bob AND kind = 'expire_bonus'), 15.00::numeric,
          'bob''s expired campaign bonus (5 + 10) is written off');
SELECT is((SELECT bonus FROM wallet.balance(:bob)), 25.00::numeric, 'bob keeps the tier bonus');
SELECT pg_temp.invariants('expiry');

------------------------------------------------------------------------------
-- 11. freeze and unfreeze: a frozen wallet takes top-ups, refuses spends
------------------------------------------------------------------------------
SELECT lives_ok(format('SELECT wallet.freeze(%s, %L)', :bob, 'chargeback review'), 'freeze');
SELECT is((SELECT frozen FROM wallet.balance(:bob)), true, 'the wallet is frozen');
SELECT lives_ok(format('SELECT * FROM wallet.top_up(%s, 10, %L)', :bob, 'inv-b5'), 'a frozen wallet accepts a top-up');
SELECT throws_ok(format('SELECT * FROM wallet.spend(%s, 5, %L)', :bob, 'inv-b6'), 'WL002', NULL,
                 'a frozen wallet refuses a spend');
SELECT pg_temp.invariants('frozen');
SELECT lives_ok(format('SELECT wallet.unfreeze(%s)', :bob), 'unfreeze');
SELECT results_eq(format('SELECT charged FROM wallet.spend(%s, 5, %L)', :bob, 'inv-b7'),
                  $$ VALUES (5.00::numeric) $$, 'after unfreezing, the spend goes through');
SELECT pg_temp.invariants('unfrozen');

SELECT * FROM finish();
ROLLBACK;
