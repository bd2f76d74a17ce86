-- holds: money reserved for a later capture (CONTRACT.md section 14). A hold takes in spending
-- order; what it reserves leaves available and counts in held at once. A capture is a spend of
-- the reserved money (reverse_spend takes its txn_id; the hold's payee is credited then);
-- final captures and releases give the rest back to the lots it came from. A hold past its
-- expiry reserves nothing, before any sweep: the next operation that spends from the wallet,
-- or wallet.expire_holds, gives it back and journals it.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-04-01 10:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 8600000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8600000) AS t0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 8600000) AS h0 \gset

-- A currency of this file's own: top-ups of 100 or more get a bonus of 10, valid 10 days; a
-- payee keeps 90 % of a sale.
INSERT INTO wallet.currency (code, exponent) VALUES ('QHD', 2);
SELECT currency, commission_rate FROM wallet.set_policy('QHD', commission_rate => 0.1);
SELECT wallet.add_bonus_rule('QHD', 100, bonus_fixed => 10, valid_for => '10 days') IS NOT NULL AS rule;

-- pg_temp.bal shows a wallet's balance without its id and currency.
CREATE FUNCTION pg_temp.bal(wid bigint)
  RETURNS TABLE (cash numeric, bonus numeric, earnings numeric, held numeric, available numeric)
  LANGUAGE sql AS $$ SELECT b.cash, b.bonus, b.earnings, b.held, b.available FROM wallet.balance(wid) b $$;
-- pg_temp.hold_of shows a hold as wallet.holds lists it, without its id and times.
CREATE FUNCTION pg_temp.hold_of(wid bigint, hid bigint)
  RETURNS TABLE (status text, amount numeric, captured numeric, released numeric, remaining numeric)
  LANGUAGE sql AS $$
  SELECT h.status, h.amount, h.captured, h.released, h.remaining FROM wallet.holds(wid) h WHERE h.hold_id = hid $$;

SELECT wallet.open('hold-ann', 'QHD') AS ann, wallet.open('hold-shop', 'QHD') AS shop,
       wallet.open('hold-bob', 'QHD') AS bob \gset
SELECT bonus FROM wallet.top_up(:ann, 100, 'h-t1');

------------------------------------------------------------------------------
-- A hold, captured in two parts
------------------------------------------------------------------------------
-- 50 reserved in spending order: the bonus 10 first, then cash 40
SELECT hold_id - :h0 AS hold_no, held, bonus_held, cash_held, earnings_held, shortfall, expires_at, replayed
  FROM wallet.hold(:ann, 50, 'h-1', ttl => '1 hour');
SELECT hold_id AS h1 FROM wallet.hold WHERE wallet_id = :ann ORDER BY hold_id DESC LIMIT 1 \gset
SELECT * FROM pg_temp.bal(:ann);
-- the same key and arguments: the first result; other arguments: WL003
SELECT hold_id - :h0 AS hold_no, held, replayed FROM wallet.hold(:ann, 50, 'h-1', ttl => '1 hour');
SELECT * FROM wallet.hold(:ann, 60, 'h-1', ttl => '1 hour');
-- a capture of 20 (not final): bonus first
SELECT txn_id - :t0 AS txn_no, captured, bonus_used, cash_used, earnings_used, released, remaining, status,
       replayed
  FROM wallet.capture_hold(:h1, 'h-c1', 20, final => false);
SELECT txn_id AS c1 FROM wallet.txn WHERE wallet_id = :ann AND kind = 'capture_hold' ORDER BY txn_id LIMIT 1 \gset
-- replayed while the hold is open with 30 left: its write finds the key taken, and the first
-- result comes back (the same transaction), nothing captured again
SELECT txn_id = :c1 AS same_txn, captured, remaining, replayed
  FROM wallet.capture_hold(:h1, 'h-c1', 20, final => false);
SELECT * FROM pg_temp.hold_of(:ann, :h1);
SELECT * FROM pg_temp.bal(:ann);
-- more than is left: WL008, nothing changes
SELECT * FROM wallet.capture_hold(:h1, 'h-c2', 30.01);
-- the final capture of 5 gives back the other 25
SELECT captured, cash_used, released, remaining, status FROM wallet.capture_hold(:h1, 'h-c2', 5);
SELECT * FROM pg_temp.hold_of(:ann, :h1);
SELECT * FROM pg_temp.bal(:ann);
-- replayed, the capture returns its first result; a hold no longer open refuses
SELECT captured, released, status, replayed FROM wallet.capture_hold(:h1, 'h-c2', 5);
SELECT * FROM wallet.capture_hold(:h1, 'h-c3');
SELECT * FROM wallet.release_hold(:h1, 'h-r0');
-- the journal: the hold moves money into held, a capture from held to revenue
SELECT txn_id - :t0 AS txn_no, kind, amount, ref_txn - :t0 AS ref_no, postings
  FROM wallet.txn WHERE wallet_id = :ann AND kind <> 'top_up' ORDER BY txn_id;

------------------------------------------------------------------------------
-- A capture is a spend: reversed by reverse_spend
------------------------------------------------------------------------------
SELECT bonus_returned, cash_returned, replayed
  FROM wallet.reverse_spend(:c1, 'h-rev1');
SELECT * FROM pg_temp.bal(:ann);

------------------------------------------------------------------------------
-- A hold for a payee: credited at capture, less commission; partial release
------------------------------------------------------------------------------
SELECT held FROM wallet.hold(:ann, 30, 'h-2', payee => :shop, order_ref => 'order-7');
SELECT hold_id AS h2 FROM wallet.hold WHERE wallet_id = :ann ORDER BY hold_id DESC LIMIT 1 \gset
SELECT released, remaining, status FROM wallet.release_hold(:h2, 'h-r1', 10);
SELECT captured, remaining, status FROM wallet.capture_hold(:h2, 'h-c4');
SELECT * FROM pg_temp.bal(:shop);
SELECT status, amount, captured, released, remaining, payee = :shop AS to_shop, order_ref
  FROM wallet.holds(:ann) WHERE hold_id = :h2;
-- the shop's earnings wait as payee credits until it uses them: a hold that needs them rolls
-- them up first
SELECT count(*) AS credits_waiting FROM wallet.payee_credit WHERE wallet_id = :shop;
SELECT held, earnings_held, shortfall FROM wallet.hold(:shop, 5, 'h-s1');
SELECT count(*) AS credits_waiting FROM wallet.payee_credit WHERE wallet_id = :shop;
SELECT released, status FROM wallet.release_hold((SELECT max(hold_id) FROM wallet.hold WHERE wallet_id = :shop), 'h-s2');
SELECT * FROM pg_temp.bal(:shop);

------------------------------------------------------------------------------
-- Refusals
------------------------------------------------------------------------------
SELECT * FROM wallet.hold(:ann, 1000, 'h-3');
SELECT * FROM wallet.hold(:ann, 10, 'h-4', ttl => '30 seconds');
SELECT * FROM wallet.hold(:ann, 10, 'h-4', ttl => '31 days');
SELECT * FROM wallet.hold(:ann, 0, 'h-4');
SELECT * FROM wallet.hold(:ann, 10, 'h-4', payee => :ann);
SELECT * FROM wallet.hold(:ann, 10, 'h-4', payee => 1);
SELECT * FROM wallet.capture_hold(1, 'h-c9');
SELECT * FROM wallet.release_hold(NULL, 'h-c9');
-- with allow_partial, what is available, and the rest as shortfall; max_charge caps what is held
SELECT held, shortfall FROM wallet.hold(:bob, 10, 'h-5', allow_partial => true);
-- (nothing reserved: the hold is recorded, its key taken, and it is released at once)
SELECT status, amount, remaining FROM wallet.holds(:bob);
SELECT bonus FROM wallet.top_up(:bob, 100, 'h-t2');
SELECT held, bonus_held, cash_held, shortfall FROM wallet.hold(:bob, 80, 'h-6', max_charge => 30);
SELECT hold_id AS h4 FROM wallet.hold WHERE wallet_id = :bob ORDER BY hold_id DESC LIMIT 1 \gset
-- a frozen wallet's hold cannot be captured, but can be released
SELECT wallet.freeze(:bob, 'chargeback');
SELECT * FROM wallet.capture_hold(:h4, 'h-c5');
SELECT released, remaining, status FROM wallet.release_hold(:h4, 'h-r2');
SELECT wallet.unfreeze(:bob);
SELECT * FROM pg_temp.bal(:bob);

------------------------------------------------------------------------------
-- Expiry: a hold past its time reserves nothing, before anything is written
------------------------------------------------------------------------------
SELECT held, bonus_held, cash_held, expires_at FROM wallet.hold(:bob, 50, 'h-7', ttl => '1 hour');
SELECT hold_id AS h5 FROM wallet.hold WHERE wallet_id = :bob ORDER BY hold_id DESC LIMIT 1 \gset
-- extended to clock + 2 hours (never earlier than it was)
SELECT expires_at, replayed FROM wallet.extend_hold(:h5, '2 hours', 'h-e1');
SELECT expires_at, replayed FROM wallet.extend_hold(:h5, '2 hours', 'h-e1');
SELECT expires_at FROM wallet.extend_hold(:h5, '1 minute', 'h-e2');
SELECT * FROM pg_temp.bal(:bob);
SET wallet.now = '2026-04-01 12:30:00+00';
-- its time has passed: available again at once, the hold shows as expired
SELECT * FROM pg_temp.bal(:bob);
SELECT * FROM pg_temp.hold_of(:bob, :h5);
SELECT * FROM wallet.capture_hold(:h5, 'h-c6');
-- the books still hold it until it is journaled (reconcile agrees with both)
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency = 'QHD';
-- a spend gives it back first (kind expire_holds), then spends
SELECT charged, bonus_used, cash_used FROM wallet.spend(:bob, 105, 'h-s1');
SELECT kind, amount, ref_txn = (SELECT hold_txn FROM wallet.hold WHERE hold_id = :h5) AS of_the_hold, postings
  FROM wallet.txn WHERE wallet_id = :bob AND kind = 'expire_holds';
SELECT status, released FROM wallet.hold WHERE hold_id = :h5;
-- wallet.expire_holds journals the lapsed holds of wallets nobody touched
SELECT held FROM wallet.hold(:ann, 5, 'h-8', ttl => '1 minute');
SELECT hold_id AS h6 FROM wallet.hold WHERE wallet_id = :ann ORDER BY hold_id DESC LIMIT 1 \gset
SELECT * FROM wallet.expire_holds();
SET wallet.now = '2026-04-01 12:32:00+00';
SELECT * FROM wallet.expire_holds();
SELECT * FROM wallet.expire_holds();
SELECT status, released FROM wallet.hold WHERE hold_id = :h6;

------------------------------------------------------------------------------
-- Bonus reserved stays capturable past its own expiry; given back after it, written off
------------------------------------------------------------------------------
SET wallet.now = '2026-04-20 09:00:00+00';
SELECT bonus FROM wallet.top_up(:bob, 100, 'h-t3');
SELECT held, bonus_held, cash_held FROM wallet.hold(:bob, 20, 'h-9', ttl => '30 days');
SELECT hold_id AS h7 FROM wallet.hold WHERE wallet_id = :bob ORDER BY hold_id DESC LIMIT 1 \gset
SET wallet.now = '2026-05-05 09:00:00+00';
-- the bonus expired on 2026-04-30: captured all the same
SELECT captured, bonus_used, cash_used, released FROM wallet.capture_hold(:h7, 'h-c7', 5, final => false);
-- bonus given back after its expiry is written off (breakage): the cash 10 and the bonus 5 left
SELECT released, remaining, status FROM wallet.release_hold(:h7, 'h-r3');
SELECT kind, postings FROM wallet.txn WHERE wallet_id = :bob AND idempotency_key = 'h-r3';
SELECT * FROM pg_temp.bal(:bob);
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency = 'QHD';

------------------------------------------------------------------------------
-- A refund of a top-up waits while a hold reserves that top-up's bonus
------------------------------------------------------------------------------
SELECT txn_id AS t4 FROM wallet.top_up(:bob, 100, 'h-t4') \gset
SELECT held, bonus_held, cash_held FROM wallet.hold(:bob, 15, 'h-12', ttl => '1 day');
SELECT hold_id AS h9 FROM wallet.hold WHERE wallet_id = :bob ORDER BY hold_id DESC LIMIT 1 \gset
SELECT * FROM wallet.request_refund(:t4, 'h-rf1', 10);
SELECT released FROM wallet.release_hold(:h9, 'h-r4');
SELECT amount, bonus_clawback, status FROM wallet.request_refund(:t4, 'h-rf1', 10);
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency = 'QHD';

------------------------------------------------------------------------------
-- The lot set's text form shows the reservations, and reads back
------------------------------------------------------------------------------
SELECT held FROM wallet.hold(:bob, 3, 'h-11', ttl => '1 day');
SELECT lots FROM wallet.wallet WHERE wallet_id = :bob;
SELECT lots::text = (lots::text::wallet.lotset)::text AS text_round_trip FROM wallet.wallet WHERE wallet_id = :bob;
SELECT 'next=3; (1 cash 100 txn=1 at=2026-01-01T00:00:00Z); [hold=7 expires=2026-02-01T00:00:00Z (1 cash 0 txn=1 at=2026-01-01T00:00:00Z)]'::wallet.lotset;
SELECT 'next=3; [hold=7 expires=2026-02-01T00:00:00Z (1 cash 5 txn=1 at=2026-01-01T00:00:00Z)]; (1 cash 100 txn=1 at=2026-01-01T00:00:00Z)'::wallet.lotset;

------------------------------------------------------------------------------
-- Reports count a capture as a spend (under the hold's scene)
------------------------------------------------------------------------------
SELECT day, scene, count, charged, bonus_used, cash_used, reversals, reversed
  FROM wallet_report.spending_daily WHERE currency = 'QHD' ORDER BY day, scene;
SELECT day, spent, returned, expired FROM wallet_report.bonus_daily WHERE currency = 'QHD' ORDER BY day;

------------------------------------------------------------------------------
-- The sweep's own index (hold_due): a capture or a release leaves it alone, so that their
-- update of the hold's row is a HOT one; the sweep marks a hold swept once its time has passed,
-- closed before it (by a spend's give-back, say) or given back by the sweep
------------------------------------------------------------------------------
SELECT hold_id = :h5 AS is_h5, status, swept FROM wallet.hold WHERE hold_id IN (:h5, :h6) ORDER BY hold_id;
SELECT held FROM wallet.hold(:bob, 1, 'h-sw1', ttl => '1 hour');
SELECT hold_id AS h_sw FROM wallet.hold WHERE wallet_id = :bob ORDER BY hold_id DESC LIMIT 1 \gset
-- pg_temp.hold_updates: the updates of wallet.hold's rows this session has not yet reported, and
-- how many of them were HOT
CREATE FUNCTION pg_temp.hold_updates(OUT updates bigint, OUT hot bigint) LANGUAGE sql AS $$
SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = 'wallet.hold'::regclass $$;
BEGIN;
SELECT updates AS upd0, hot AS hot0 FROM pg_temp.hold_updates() \gset
SELECT captured, status FROM wallet.capture_hold(:h_sw, 'h-sw-c');
-- one update of the hold's row, and a HOT one
SELECT updates - :upd0 AS updates, hot - :hot0 AS hot_updates FROM pg_temp.hold_updates();
COMMIT;
-- captured before its time: not swept until its time has passed
SELECT * FROM wallet.expire_holds();
SELECT status, swept FROM wallet.hold WHERE hold_id = :h_sw;
SET wallet.now = '2026-05-05 10:01:00+00';
SELECT * FROM wallet.expire_holds();
SELECT status, swept FROM wallet.hold WHERE hold_id = :h_sw;
-- nothing closed and past its time is left for the sweep
SELECT count(*) AS left_to_sweep FROM wallet.hold WHERE NOT swept AND status <> 'open' AND expires_at <= wallet.clock();
-- an open hold is never swept (the sweep would not see it again)
UPDATE wallet.hold SET swept = true WHERE wallet_id = :bob AND status = 'open';
-- a release's update is a HOT one too; batch_size holds to a statement, the sweep marks them all
SELECT hold_id AS h_a FROM wallet.hold(:bob, 1, 'h-sw2', ttl => '1 hour') \gset
SELECT hold_id AS h_b FROM wallet.hold(:bob, 1, 'h-sw3', ttl => '1 hour') \gset
BEGIN;
SELECT updates AS upd0, hot AS hot0 FROM pg_temp.hold_updates() \gset
SELECT released, status FROM wallet.release_hold(:h_a, 'h-sw-r1');
SELECT updates - :upd0 AS updates, hot - :hot0 AS hot_updates FROM pg_temp.hold_updates();
COMMIT;
SELECT released, status FROM wallet.release_hold(:h_b, 'h-sw-r2');
SET wallet.now = '2026-05-05 11:02:00+00';
SELECT * FROM wallet.expire_holds(1);
SELECT count(*) FILTER (WHERE swept) AS swept, count(*) AS of FROM wallet.hold WHERE hold_id IN (:h_a, :h_b);
