-- withdrawals_auto: automatic withdrawal and reminders of idle change (CONTRACT.md section 16).
-- wallet.auto_withdraw (a pg_cron job) requests, once a day at most per wallet, a withdrawal of
-- all the withdrawable earnings of each wallet at or above its threshold and withdraw_min,
-- through the same fees, limits and review as request_withdrawal. wallet.remind_idle (a pg_cron
-- job) queues an idle_balance notification for each wallet whose available balance is at least
-- idle_remind_min and that made no payment for idle_remind_after, once per period.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-06-01 09:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9450000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9450000) AS t0,
       setval(pg_get_serial_sequence('wallet.withdrawal', 'withdrawal_id'), 9450000) AS d0,
       setval(pg_get_serial_sequence('wallet.hold', 'hold_id'), 9450000) AS h0 \gset

-- QWA: withdrawals of at least 20, a fee of 1, approved at once up to 100, at most 500 a day.
-- QWI: idle reminders after 30 days without a payment, for 5 or more.
INSERT INTO wallet.currency (code, exponent) VALUES ('QWA', 2), ('QWI', 2);
SELECT withdraw_min, withdraw_fee_fixed, withdraw_auto_approve_max, withdraw_daily_max
  FROM wallet.set_policy('QWA', withdraw_min => 20, withdraw_fee_fixed => 1, withdraw_auto_approve_max => 100,
                         withdraw_daily_max => 500);
SELECT idle_remind_after, idle_remind_min FROM wallet.set_policy('QWI', idle_remind_after => '30 days', idle_remind_min => 5);

-- pg_temp.auto lists the automatic withdrawal settings of this file's wallets.
CREATE FUNCTION pg_temp.auto()
  RETURNS TABLE (wallet bigint, threshold bigint, destination text, checked_at timestamptz, last_day date,
                 last_result text)
  LANGUAGE sql AS $$
  SELECT a.wallet_id - 9450000, a.threshold, a.destination, a.checked_at, a.last_day,
         regexp_replace(a.last_result, 'withdrawal \d+', 'withdrawal #')
    FROM wallet.auto_withdrawal a WHERE a.wallet_id > 9450000 AND a.wallet_id < 9460000 ORDER BY 1 $$;
-- pg_temp.state shows a wallet's earnings and held, and the discrepancies reconciliation finds here.
CREATE FUNCTION pg_temp.state(wid bigint)
  RETURNS TABLE (earnings numeric, held numeric, discrepancies bigint)
  LANGUAGE sql AS $$
  SELECT b.earnings, b.held, (SELECT count(*) FROM wallet.reconcile() r WHERE r.currency IN ('QWA', 'QWI'))
    FROM wallet.balance(wid) b $$;

SELECT wallet.open('auto-a', 'QWA') AS a, wallet.open('auto-b', 'QWA') AS b, wallet.open('auto-c', 'QWA') AS c,
       wallet.open('auto-d', 'QWA') AS d, wallet.open('auto-e', 'QWA') AS e, wallet.open('auto-f', 'QWA') AS f \gset
SELECT count(*) FROM (SELECT wallet.adjust(w, 'earnings', amt, 'seller payout', 'seed')
                        FROM (VALUES (:a, 150), (:b, 30), (:c, 600), (:d, 100), (:e, 15), (:f, 80)) v(w, amt)) x;
SELECT wallet.freeze(:d, 'kyc expired');

------------------------------------------------------------------------------
-- set_auto_withdrawal: on with a threshold and a destination, off with NULL
------------------------------------------------------------------------------
SELECT wallet.set_auto_withdrawal(:a, 100, 'bank:a');
SELECT wallet.set_auto_withdrawal(:b, 50, 'bank:b');
SELECT wallet.set_auto_withdrawal(:c, 100, 'bank:c');
SELECT wallet.set_auto_withdrawal(:d, 50, 'bank:d');
SELECT wallet.set_auto_withdrawal(:e, 10, 'bank:e');
-- set again: the new threshold and destination replace the old
SELECT wallet.set_auto_withdrawal(:f, 90, 'bank:f-old');
SELECT wallet.set_auto_withdrawal(:f, 70, 'bank:f');
-- bad arguments: 22023; an unknown wallet: WL006
SELECT wallet.set_auto_withdrawal(:a, 0, 'bank:a');
\echo :SQLSTATE
SELECT wallet.set_auto_withdrawal(:a, 1.001, 'bank:a');
\echo :SQLSTATE
SELECT wallet.set_auto_withdrawal(:a, 100, NULL);
\echo :SQLSTATE
SELECT wallet.set_auto_withdrawal(:a, 100, E'bank:\u202Ea');
\echo :SQLSTATE
SELECT wallet.set_auto_withdrawal(-1, 100, 'bank:x');
\echo :SQLSTATE
SELECT wallet, threshold, destination FROM pg_temp.auto();

------------------------------------------------------------------------------
-- auto_withdraw: all the withdrawable earnings, through the same fees, limits and review
------------------------------------------------------------------------------
-- a: 150 >= 100, requested (pending: above the auto-approval maximum of 100); b: 30 < 50;
-- c: 600 is above the day's maximum of 500; d: frozen; e: 15 >= 10 but below withdraw_min 20;
-- f: 80 >= 70, requested (approved at once).
SELECT * FROM wallet.auto_withdraw();
SELECT * FROM pg_temp.auto();
SELECT withdrawal_id - :d0 AS w, status, amount, fee, net, destination, automatic
  FROM wallet.withdrawals(:a) UNION ALL
SELECT withdrawal_id - :d0, status, amount, fee, net, destination, automatic FROM wallet.withdrawals(:f) ORDER BY 1;
SELECT kind, amount, idempotency_key FROM wallet.transactions WHERE wallet_id = :a ORDER BY txn_id;
SELECT * FROM pg_temp.state(:a);
SELECT * FROM pg_temp.state(:f);
-- Once a day at most: a earns 200 more the same day, and a later run leaves it alone (the
-- others are looked at again; nothing changed for them).
SELECT replayed FROM wallet.adjust(:a, 'earnings', 200, 'seller payout', 'a-more');
SET wallet.now = '2026-06-01 21:00:00+00';
SELECT * FROM wallet.auto_withdraw();
SELECT wallet, last_day, last_result FROM pg_temp.auto();
-- b earns 40 more: 70 >= 50, withdrawn the same day (b had not withdrawn today)
SELECT replayed FROM wallet.adjust(:b, 'earnings', 40, 'seller payout', 'b-more');
SELECT * FROM wallet.auto_withdraw();
SELECT withdrawal_id - :d0 AS w, status, amount, fee, net FROM wallet.withdrawals(:b);
-- the next day a's 200 is withdrawn; b, withdrawn yesterday, has nothing left
SET wallet.now = '2026-06-02 09:00:00+00';
SELECT * FROM wallet.auto_withdraw();
SELECT wallet, last_day, last_result FROM pg_temp.auto();
SELECT withdrawal_id - :d0 AS w, status, amount, fee, net, requested_at FROM wallet.withdrawals(:a);
SELECT * FROM pg_temp.state(:a);
-- the automatic requests are withdrawals like any other: reviewed and paid out the same way
SELECT wallet.review_withdrawal(:d0 + 1, true, 'ops-anna');
SELECT wallet.settle_withdrawal(:d0 + 1, true, 'bank-a1');
SELECT * FROM pg_temp.state(:a);
-- turned off: a is looked at no more
SELECT wallet.set_auto_withdrawal(:a, NULL, NULL);
SELECT wallet FROM pg_temp.auto();
-- batch_size bounds a run: the least recently looked at first
SET wallet.now = '2026-06-03 09:00:00+00';
SELECT * FROM wallet.auto_withdraw(1);
SELECT wallet, checked_at FROM pg_temp.auto();
SELECT * FROM wallet.auto_withdraw(0);
\echo :SQLSTATE
SELECT * FROM wallet.auto_withdraw(NULL);
\echo :SQLSTATE
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency IN ('QWA', 'QWI');

------------------------------------------------------------------------------
-- remind_idle: wallets that made no payment for idle_remind_after
------------------------------------------------------------------------------
SET wallet.now = '2026-06-01 09:00:00+00';
SELECT wallet.open('idle-p', 'QWI') AS p, wallet.open('idle-q', 'QWI') AS q, wallet.open('idle-r', 'QWI') AS r,
       wallet.open('idle-s', 'QWI') AS s, wallet.open('idle-t', 'QWI') AS t \gset
-- p pays on 1 June; q pays on 1 June and again on 20 June; r has 3 (below idle_remind_min);
-- s has nothing; t holds money on 1 June and captures it (a payment) on 30 June.
SELECT count(*) FROM (SELECT wallet.top_up(w, amt, 'idle-topup') FROM (VALUES (:p, 50), (:q, 50), (:r, 3), (:t, 50)) v(w, amt)) x;
SELECT charged FROM wallet.spend(:p, 10, 'p-1');
SELECT charged FROM wallet.spend(:q, 10, 'q-1');
SELECT held FROM wallet.hold(:t, 10, 't-h1', ttl => '30 days');
SET wallet.now = '2026-06-20 09:00:00+00';
SELECT charged FROM wallet.spend(:q, 10, 'q-2');
SET wallet.now = '2026-06-30 09:00:00+00';
SELECT captured FROM wallet.capture_hold((SELECT hold_id FROM wallet.holds(:t)), 't-c1');
-- 30 days after the wallets were opened: nobody is idle for 30 days yet (p paid at 09:00)
SET wallet.now = '2026-07-01 08:59:59+00';
SELECT wallet.remind_idle();
-- 5 July: p made no payment since 1 June: reminded of its 40; q paid on 20 June, t on 30 June
SET wallet.now = '2026-07-05 09:00:00+00';
SELECT wallet.remind_idle();
SELECT wallet_id - :w0 AS w, kind, lot_id, amount, currency, expires_at, created_at
  FROM wallet.pending_notifications() WHERE currency = 'QWI';
-- at most once per period: again the same day, nothing; on 3 August, 29 days later, p is not
-- reminded again, but q (its last payment, 20 June, is 44 days old) and t (30 June: 34 days) are
SELECT wallet.remind_idle();
SET wallet.now = '2026-08-03 09:00:00+00';
SELECT wallet.remind_idle();
-- 5 August: a new period for p; q and t were reminded 2 days ago
SET wallet.now = '2026-08-05 09:00:01+00';
SELECT wallet.remind_idle();
SELECT wallet_id - :w0 AS w, kind, amount, created_at FROM wallet.pending_notifications()
 WHERE currency = 'QWI' ORDER BY created_at, wallet_id;
SELECT wallet.mark_notified(array_agg(id)) FROM wallet.pending_notifications() WHERE currency = 'QWI';
SELECT wallet.remind_idle(0);
\echo :SQLSTATE
SELECT count(*) AS discrepancies FROM wallet.reconcile() WHERE currency IN ('QWA', 'QWI');
