-- money: amounts cross the API as numeric major units and are stored as bigint
-- minor units (CONTRACT.md section 1). wallet.to_minor refuses, with 22023 and a
-- message naming the argument, NULL, amounts not above zero, NaN, infinities,
-- more decimals than the currency has and more than 10^15 minor units; nothing
-- is rounded silently. Computed amounts round half away from zero.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET wallet.now = '2026-01-01 00:00:00+00';

-- The three exponents used below, from the seeded currency table.
SELECT code, exponent FROM wallet.currency WHERE code IN ('CNY', 'JPY', 'KWD') ORDER BY code;

-- Exact conversions: 12.34 CNY is 1234 fen, 1234 JPY is 1234 yen, 12.345 KWD is 12345 fils.
SELECT c.code, v.amount, wallet.to_minor(v.amount, c.exponent) AS minor
  FROM (VALUES ('CNY', 12.34), ('CNY', 0.01), ('CNY', 7), ('JPY', 1234), ('JPY', 1),
               ('KWD', 12.345), ('KWD', 0.001), ('KWD', 5.5)) AS v(code, amount)
  JOIN wallet.currency c USING (code)
 ORDER BY c.code, v.amount;

-- Trailing zeros are not decimals: 12.340 CNY and 1234.000 JPY are accepted.
SELECT wallet.to_minor(12.340, 2) AS cny_12_340, wallet.to_minor(1234.000, 0) AS jpy_1234_000,
       wallet.to_minor(0.100, 3) AS kwd_0_100;

-- More decimals than the currency has is refused, never rounded.
SELECT wallet.to_minor(12.345, 2);
\echo :SQLSTATE
SELECT wallet.to_minor(12.5, 0);
\echo :SQLSTATE
SELECT wallet.to_minor(1.0005, 3);
\echo :SQLSTATE

-- NULL, zero and negative amounts are refused.
SELECT wallet.to_minor(NULL, 2);
\echo :SQLSTATE
SELECT wallet.to_minor(0, 2);
\echo :SQLSTATE
SELECT wallet.to_minor(0.00, 2);
\echo :SQLSTATE
SELECT wallet.to_minor(-5, 2);
\echo :SQLSTATE
SELECT wallet.to_minor(-0.01, 2);
\echo :SQLSTATE

-- NaN and the infinities are refused.
SELECT wallet.to_minor('NaN', 2);
\echo :SQLSTATE
SELECT wallet.to_minor('Infinity', 2);
\echo :SQLSTATE
SELECT wallet.to_minor('-Infinity', 0);
\echo :SQLSTATE

-- The message names the argument the caller passes.
SELECT wallet.to_minor(0, 2, 'bonus_fixed');
\echo :SQLSTATE
SELECT wallet.to_minor(1.5, 0, 'max_bonus');
\echo :SQLSTATE

-- 10^15 minor units is the largest amount: exactly 10^15 is accepted in each exponent ...
SELECT wallet.to_minor(10000000000000, 2) AS cny, wallet.to_minor(1000000000000000, 0) AS jpy,
       wallet.to_minor(1000000000000, 3) AS kwd;

-- ... one minor unit more is refused, and so is anything larger.
SELECT wallet.to_minor(10000000000000.01, 2);
\echo :SQLSTATE
SELECT wallet.to_minor(1000000000000001, 0);
\echo :SQLSTATE
SELECT wallet.to_minor(1000000000000.001, 3);
\echo :SQLSTATE
SELECT wallet.to_minor(1e20, 2);
\echo :SQLSTATE

-- wallet.to_major gives minor units back as exact major units, with the currency's decimals.
SELECT v.minor, v.exponent, wallet.to_major(v.minor, v.exponent) AS major
  FROM (VALUES (1234::bigint, 2), (5, 2), (0, 2), (1234, 0), (12345, 3), (-5, 3),
               (1000000000000000, 2)) AS v(minor, exponent)
 ORDER BY v.exponent, v.minor;
SELECT wallet.to_major(NULL, 2) IS NULL AS null_is_null;
-- Every exponent and sign, the extremes of bigint included: the same value and the same
-- number of decimals (the text) as dividing in numeric arithmetic.
SELECT count(*) AS checked,
       count(*) FILTER (WHERE wallet.to_major(m, e)::text <> round(m::numeric / 10::numeric ^ e, e)::text) AS differ
  FROM generate_series(0, 6) e,
       (SELECT unnest(ARRAY[0, 1, -1, 9, 10, 99, 100, 101, 9999, 10000, 10001, 123456789,
                            -123456789, 4611686018427387904, 9223372036854775807,
                            -9223372036854775807, -9223372036854775808]::bigint[])
        UNION ALL SELECT (g * 7919)::bigint - 500000 FROM generate_series(1, 300) g) v(m);

-- to_minor and to_major are inverses.
SELECT bool_and(wallet.to_major(wallet.to_minor(v.amount, v.exponent), v.exponent) = v.amount) AS round_trip
  FROM (VALUES (12.34, 2), (0.01, 2), (1234, 0), (12.345, 3), (10000000000000, 2)) AS v(amount, exponent);

-- rate_amount(minor, rate) rounds half away from zero:
-- 1 x 0.5 = 0.5 -> 1, 5 x 0.5 = 2.5 -> 3, 149 x 0.01 = 1.49 -> 1, 150 x 0.01 = 1.5 -> 2,
-- 333 x 0.1 = 33.3 -> 33, 335 x 0.1 = 33.5 -> 34, -5 x 0.5 = -2.5 -> -3, 10000 x 0.05 = 500.
SELECT v.amount, v.rate, wallet.rate_amount(v.amount, v.rate) AS rounded
  FROM (VALUES (1::bigint, 0.5), (5, 0.5), (149, 0.01), (150, 0.01), (333, 0.1), (335, 0.1),
               (-5, 0.5), (10000, 0.05), (10000, 0)) AS v(amount, rate)
 ORDER BY v.amount, v.rate;

-- A rate must be a finite number not below zero.
SELECT wallet.rate_amount(100, -0.1);
\echo :SQLSTATE
SELECT wallet.rate_amount(100, 'NaN');
\echo :SQLSTATE

-- bonus_amount(minor, fixed, rate, cap) = fixed + minor x rate (half away from zero), capped:
-- 300.00 at 5 % is 15.00; plus 10.00 fixed is 25.00; capped at 20.00 it is 20.00; a cap of 0 gives 0;
-- 100.01 at 5 % is 5.0005 -> 5.00; 100.10 at 5 % is 5.005 -> 5.01; no rate gives the fixed part only.
SELECT v.note, wallet.bonus_amount(v.amount, v.fixed, v.rate, v.cap) AS bonus
  FROM (VALUES (1, 'rate only', 30000::bigint, 0::bigint, 0.05, NULL::bigint),
               (2, 'fixed + rate', 30000, 1000, 0.05, NULL),
               (3, 'capped', 30000, 1000, 0.05, 2000),
               (4, 'cap 0', 30000, 0, 0.05, 0),
               (5, 'rounds down', 10001, 0, 0.05, NULL),
               (6, 'rounds half up', 10010, 0, 0.05, NULL),
               (7, 'fixed only', 30000, 1000, NULL, NULL),
               (8, 'cap above bonus', 30000, 0, 0.05, 5000)) AS v(n, note, amount, fixed, rate, cap)
 ORDER BY v.n;
SELECT wallet.bonus_amount(NULL, 1000, 0.05, NULL) IS NULL AS null_amount_gives_null;
