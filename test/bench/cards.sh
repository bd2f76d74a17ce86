#!/usr/bin/env bash
# test/bench/cards.sh: a batch of 10,000 cards submitted in one wallet.submit_cards call against
# THE FLOOR of it: one INSERT of 10,000 rows with their hashes into a table like wallet.card_item
# (its indexes: the primary key, the intake's, the unique index on the hash), the hashes computed
# by that statement (sha256, built in). The target (CONTRACT.md section 19's issue): the submit
# takes less than 2 x the floor. Each round runs the floor and the submit alternately on fresh
# secrets; the figure is the median over the rounds of submit / floor. Exits 1 when the target is
# missed.
#
# Runs against a cluster where the extension is installed, with PGHOST/PGPORT/PGUSER set (as
# test/bench/run.sh does; test/run.sh bench starts one). Knobs: CARDS_ROUNDS (default 5),
# CARDS_BATCH (default 10000), BENCH_DB (default wallet_bench_cards).
set -euo pipefail
: "${PGHOST:?cards bench: PGHOST is not set (run through test/run.sh bench)}"
BIN=${WALLET_PG_BIN:-/usr/lib/postgresql/15/bin}
ROUNDS=${CARDS_ROUNDS:-5}
N=${CARDS_BATCH:-10000}
DB=${BENCH_DB:-wallet_bench_cards}
q() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q -d "$DB" >/dev/null <<'SQL'
CREATE EXTENSION wallet;
SELECT wallet.set_card_type('bench_card', 'Bench card', 'CNY', face_values => '{100}');
SELECT wallet.add_card_rate('bench_card', 0.92);
SELECT wallet.add_card_rate('bench_card', 0.93, min_quantity => 100);
SELECT wallet.open('bench-seller');
CREATE TABLE floor_item (LIKE wallet.card_item INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY);
ALTER TABLE floor_item ADD PRIMARY KEY (item_id);
CREATE UNIQUE INDEX floor_item_secret ON floor_item (secret_hash) WHERE counted;
CREATE INDEX floor_item_intake ON floor_item (intake_id, position);
SQL

# ms of one statement, by the server's clock (no client round trips counted)
timed() {
    q -d "$DB" -At -c "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN $1; \
        RAISE NOTICE 'ms=%', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1); END \$\$" 2>&1 |
        sed -n 's/.*ms=\([0-9.]*\).*/\1/p'
}
ratios=()
for r in $(seq 1 "$ROUNDS"); do
    f=$(timed "INSERT INTO floor_item (intake_id, position, face_value, secret_hash, last4, status, rate, counted)
               SELECT $r, g, 10000, sha256(convert_to('F$r-' || g || '-0000000000', 'UTF8')), right(g::text, 4),
                      'pending', 0.93, true FROM generate_series(1, $N) g")
    s=$(timed "PERFORM wallet.submit_cards(wallet.open('bench-seller'), 'bench_card', array_fill(100::numeric, ARRAY[$N]),
               ARRAY(SELECT 'S$r-' || g || '-0000000000' FROM generate_series(1, $N) g), 'bench-$r')")
    ratio=$(awk -v s="$s" -v f="$f" 'BEGIN { printf "%.2f", s / f }')
    echo "round $r: floor ${f} ms, submit_cards ${s} ms, ratio $ratio"
    ratios+=("$ratio")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE $DB"
echo "submit_cards of $N cards / one INSERT of $N rows with their hashes: median $median (target < 2)"
awk -v m="$median" 'BEGIN { exit !(m < 2) }' || { echo "cards bench: target missed" >&2; exit 1; }
