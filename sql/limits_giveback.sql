-- limits_giveback: what a reversal gives back of a spend's limit usage (CONTRACT.md section 20):
-- its amount, and the spend's count when all of it is reversed, but only of what was counted. A
-- spend a coupon paid in full charged nothing and counted nothing, so its full reversal gives no
-- count back: the day's other spends stay counted.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-07-01 02:00:00+00';

-- Fixed id ranges, so that the ids quoted in messages read the same whatever ran before.
SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9760000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 8320000) AS t0,
       setval(pg_get_serial_sequence('wallet.limit_rule', 'rule_id'), 9760000) AS r0 \gset

INSERT INTO wallet.currency (code, exponent) VALUES ('QLG', 2);
SELECT wallet.add_coupon_template('lg-all', 'QLG', 'percent', 100);
SELECT wallet.open('lg-ann', 'QLG') AS ann \gset
SELECT bonus FROM wallet.top_up(:ann, 500, 'lg-t1');
-- at most 2 spends a day
SELECT wallet.add_limit_rule('QLG', 'spend', 'day', max_count => 2) - :r0 AS rule;

-- a spend of 30 counts once
SELECT charged FROM wallet.spend(:ann, 30, 'lg-s1') \gset
SELECT used_amount, used_count, remaining_count FROM wallet.limit_usage(:ann);

-- a spend the coupon pays in full charges nothing and counts nothing
SELECT wallet.issue_coupon('lg-all', :ann, 'lg-c1') AS code \gset
SELECT charged, discount FROM wallet.spend(:ann, 20, 'lg-s2', coupon => :'code');
SELECT used_amount, used_count, remaining_count FROM wallet.limit_usage(:ann);

-- its full reversal gives the coupon back, and no count: the spend of 30 stays counted
SELECT coupon_restored FROM wallet.reverse_spend((SELECT txn_id FROM wallet.transactions
                                                   WHERE idempotency_key = 'lg-s2'), 'lg-r2');
SELECT used_amount, used_count, remaining_count FROM wallet.limit_usage(:ann);

-- so a second spend still fits the day's 2, and a third does not (WL007)
SELECT charged FROM wallet.spend(:ann, 10, 'lg-s3');
SELECT charged FROM wallet.spend(:ann, 10, 'lg-s4');
SELECT used_amount, used_count, remaining_count FROM wallet.limit_usage(:ann);

-- a full reversal of a spend that charged something gives its amount and count back
SELECT bonus_returned + cash_returned AS returned FROM wallet.reverse_spend((SELECT txn_id FROM wallet.transactions
                                                   WHERE idempotency_key = 'lg-s3'), 'lg-r3');
SELECT used_amount, used_count, remaining_count FROM wallet.limit_usage(:ann);

SELECT count(*) AS discrepancies FROM wallet.reconcile();
