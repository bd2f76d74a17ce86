-- text: one definition of a control character for every text argument, in C (top_up,
-- spend) and in SQL (every other function, through wallet._text, which calls the same C
-- check). Refused with 22023, one message naming the argument, and a detail naming the
-- character: C0 controls (U+0000-U+001F), DEL (U+007F), C1 controls (U+0080-U+009F) and
-- the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which
-- make a key or a note read otherwise than it is stored.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET wallet.now = '2026-01-01 00:00:00+00';

SELECT setval(pg_get_serial_sequence('wallet.wallet', 'wallet_id'), 9730000) AS w0,
       setval(pg_get_serial_sequence('wallet.txn', 'txn_id'), 9730000) AS t0 \gset
INSERT INTO wallet.currency (code, exponent) VALUES ('QXT', 2);
SELECT wallet.open('text-alice', 'QXT') AS alice \gset
SELECT txn_id - :t0 AS topup FROM wallet.top_up(:alice, 100, 'text-1');
SELECT txn_id - :t0 AS spend FROM wallet.spend(:alice, 10, 'text-2');
SELECT wallet.add_coupon_template('text-coupon', 'QXT', 'amount', 1);

-- A C1 control (U+0085, next line), in a key given to top_up and spend (checked in C) and to
-- reverse_spend, request_refund and issue_coupon (checked in SQL): the same refusal.
SELECT * FROM wallet.top_up(:alice, 1, E'key\u0085');
SELECT * FROM wallet.spend(:alice, 1, E'key\u0085');
SELECT * FROM wallet.reverse_spend(:t0 + 2, E'key\u0085');
SELECT * FROM wallet.request_refund(:t0 + 1, E'key\u0085');
SELECT wallet.issue_coupon('text-coupon', :alice, E'key\u0085');

-- A right-to-left override (U+202E) makes "order-\u202Egpj.exe" read "order-exe.jpg".
SELECT * FROM wallet.spend(:alice, 1, 'text-3', order_ref => E'order-\u202Egpj.exe');
SELECT * FROM wallet.top_up(:alice, 1, 'text-3', external_ref => E'order-\u202Egpj.exe');
SELECT * FROM wallet.request_refund(:t0 + 1, 'text-3', 1, note => E'order-\u202Egpj.exe');
SELECT wallet.open(E'order-\u202Egpj.exe', 'QXT');

-- The other classes: a C0 control, DEL, an embedding and an isolate.
SELECT * FROM wallet.top_up(:alice, 1, 'text-4', method => E'card\r');
SELECT * FROM wallet.top_up(:alice, 1, 'text-4', method => E'card\x7f');
SELECT wallet.freeze(:alice, E'reason \u202A');
SELECT * FROM wallet.spend(:alice, 1, 'text-4', coupon => E'\u2068ABC');

-- Nothing was written.
SELECT count(*) - 2 AS new_txns FROM wallet.txn WHERE wallet_id = :alice;

-- Characters outside those ranges are text like any other: accented letters, a no-break space
-- (U+00A0), the right-to-left mark (U+200F), CJK.
SELECT txn_id - :t0 AS txn FROM wallet.top_up(:alice, 1, E'caf\u00e9\u00a0\u200f-\u5145\u503c', method => E'\u652f\u4ed8\u5b9d');
SELECT idempotency_key, request->>'method' AS method FROM wallet.transactions WHERE txn_id = :t0 + 3;
