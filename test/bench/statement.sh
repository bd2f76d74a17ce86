#!/usr/bin/env bash
# test/bench/statement.sh: a page of a customer's statement on a journal of 10^4 rows and on the
# same database once its journal holds STMT_ROWS rows (default 10^7): the target (CONTRACT.md
# section 21's issue) is that the page costs at most 3 x as much on the large journal.
#
# The database: 1,000 CNY wallets, each with 5 top-ups and 5 spends paid to one merchant (10^4
# journal rows with the merchant's roll-ups). The page: test/bench/statement.pgb (the first page,
# 50 rows, of a random customer's statement), one client, -M prepared, STMT_SECONDS seconds; the
# figure is pgbench's average latency. Then the journal is grown to STMT_ROWS rows with the history
# of other wallets (pairs of a top-up and a spend of EUR wallets, balanced postings, in the same
# months as the customers' rows), VACUUM ANALYZE, and the same page is measured again. Each
# measurement runs STMT_ROUNDS times (default 3); the figures are the medians. Exits 1 when the
# target is missed.
#
# Runs against a cluster where the extension is installed, with PGHOST/PGPORT/PGUSER set (as
# test/bench/run.sh does). Knobs: STMT_ROWS, STMT_SECONDS (default 5), STMT_ROUNDS, BENCH_DB
# (default wallet_bench_stmt).
set -euo pipefail
: "${PGHOST:?statement bench: PGHOST is not set (run through test/run.sh bench)}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${WALLET_PG_BIN:-/usr/lib/postgresql/15/bin}
BIG=${STMT_ROWS:-10000000}
T=${STMT_SECONDS:-5}
ROUNDS=${STMT_ROUNDS:-3}
DB=${BENCH_DB:-wallet_bench_stmt}
q() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
qv() { "$BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q -d "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION wallet;
SET wallet.now = '2026-03-01 00:00:00+00';
SELECT wallet.open('stmt-merchant');
SELECT count(wallet.open('stmt-' || g)) FROM generate_series(1, 1000) g;
SELECT count((wallet.top_up(w.wallet_id, 100, 'load-' || i)).txn_id)
  FROM wallet.wallet w CROSS JOIN generate_series(1, 5) i WHERE w.owner LIKE 'stmt-%' AND w.owner <> 'stmt-merchant';
SELECT count((wallet.spend(w.wallet_id, 10 + i, 'buy-' || i,
                           payee => (SELECT wallet_id FROM wallet.wallet WHERE owner = 'stmt-merchant'))).txn_id)
  FROM wallet.wallet w CROSS JOIN generate_series(1, 5) i WHERE w.owner LIKE 'stmt-%' AND w.owner <> 'stmt-merchant';
SELECT wallet.rollup_credits();
VACUUM ANALYZE;
SQL
WMIN=$(qv "SELECT min(wallet_id) FROM wallet.wallet WHERE owner LIKE 'stmt-%' AND owner <> 'stmt-merchant'")
WMAX=$(qv "SELECT max(wallet_id) FROM wallet.wallet WHERE owner LIKE 'stmt-%' AND owner <> 'stmt-merchant'")
SMALL=$(qv 'SELECT count(*) FROM wallet.txn')
PAGE=$(qv "SELECT count(*) FROM wallet.statement($WMIN)")

# the average latency (ms) of the page, STMT_ROUNDS runs, the median
page_ms() {
    for _ in $(seq 1 "$ROUNDS"); do
        "$BIN/pgbench" -n -M prepared -c 1 -T "$T" -f "$HERE/statement.pgb" -D wmin="$WMIN" -D wmax="$WMAX" "$DB" 2>&1 |
            sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'
    done | median
}
L_SMALL=$(page_ms)
echo "statement page ($PAGE rows) on a journal of $SMALL rows: $L_SMALL ms"

# the other wallets' history, in two sessions
start=$(date +%s.%N)
q -d "$DB" >/dev/null <<'SQL'
SELECT count(wallet.open('stmt-other-' || g, 'EUR')) FROM generate_series(1, 100000) g;
SQL
EMIN=$(qv "SELECT min(wallet_id) FROM wallet.wallet WHERE currency = 'EUR'")
PAIRS=$(((BIG - SMALL) / 2))
grow() { # FIRST_PAIR LAST_PAIR
    q -d "$DB" -v p1="$1" -v p2="$2" -v emin="$EMIN" >/dev/null <<'SQL'
SET synchronous_commit = off;
INSERT INTO wallet.txn (wallet_id, kind, amount, currency, created_at, postings)
SELECT :emin + p % 100000, CASE WHEN up THEN 'top_up' ELSE 'spend' END, x, 'EUR', at,
       CASE WHEN up THEN ARRAY[ROW('wallet', :emin + p % 100000, 'cash', x)::wallet.posting,
                               ROW('funding', NULL, NULL, -x)::wallet.posting]
            ELSE ARRAY[ROW('wallet', :emin + p % 100000, 'cash', -x)::wallet.posting,
                       ROW('revenue', NULL, NULL, x)::wallet.posting] END
  FROM (SELECT p, 100 + p % 9900 AS x, s = 0 AS up,
               timestamptz '2026-01-01 00:00:00+00' + (p % 5000000) * interval '1 second' AS at
          FROM generate_series(:p1, :p2) p CROSS JOIN generate_series(0, 1) s) g;
SQL
}
if ((PAIRS > 0)); then
    half=$((PAIRS / 2))
    grow 0 $((half - 1)) &
    g0=$!
    grow "$half" $((PAIRS - 1)) &
    g1=$!
    trap 'kill $g0 $g1 2>/dev/null || true' EXIT
    wait "$g0"
    wait "$g1"
    trap - EXIT
fi
q -d "$DB" -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null
ROWS=$(qv 'SELECT count(*) FROM wallet.txn')
GROW_S=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
L_BIG=$(page_ms)
echo "statement page ($PAGE rows) on a journal of $ROWS rows: $L_BIG ms (grown in ${GROW_S}s)"
ratio=$(awk -v b="$L_BIG" -v s="$L_SMALL" 'BEGIN { printf "%.2f", b / s }')
q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE $DB"
echo "statement page on $ROWS journal rows / on $SMALL: $ratio (target <= 3)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 3) }' || { echo "statement bench: target missed" >&2; exit 1; }
