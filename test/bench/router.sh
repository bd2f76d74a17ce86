#!/usr/bin/env bash
# test/bench/router.sh: spend through the router (wallet_router, PL/Proxy) against spend on a
# shard directly, at ROUTER_CLIENTS clients (default 8): the price of the extra hop. The target
# (CONTRACT.md section 23's issue): through the router >= 0.5 x directly.
#
# One cluster holds a router database and two shard databases (as a test would; in production each
# shard is a server of its own). ROUTER_WALLETS wallets (default 10000) are opened and topped up
# through the router, so they land on both shards by their owners' hash. Each round runs, for
# ROUTER_SECONDS (default 8) each: spend on shard 0 directly (its own wallets), then spend through
# the router (the wallets of both shards), then shard 0 directly again; the round's ratio is the
# router's TPS over the mean of the two direct runs. The figure is the median over ROUTER_ROUNDS
# (default 3) rounds. It also prints a paper estimate for 16 shards: the measured TPS of one shard
# times 16 (shards share nothing on a payment's path), capped by what one router database handles
# (its TPS here, which spent the router's share of this machine), each as measured on this machine.
# Exits 1 when the target is missed.
#
# Runs against a cluster where both extensions are installed, with PGHOST/PGPORT/PGUSER set (as
# test/bench/run.sh does).
set -euo pipefail
: "${PGHOST:?router bench: PGHOST is not set (run through test/run.sh bench)}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${WALLET_PG_BIN:-/usr/lib/postgresql/15/bin}
N=${ROUTER_WALLETS:-10000}
T=${ROUTER_SECONDS:-8}
C=${ROUTER_CLIENTS:-8}
ROUNDS=${ROUTER_ROUNDS:-3}
q() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
qv() { "$BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
WORK=$(mktemp -d /tmp/wallet-router-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for db in wallet_bench_router wallet_bench_shard0 wallet_bench_shard1; do
    q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
for n in 0 1; do
    q -d wallet_bench_shard$n -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION wallet' \
        -c "SELECT wallet.configure_shard($n, 2)" >/dev/null
done
HOSTPART="host=$PGHOST port=${PGPORT:-5432} user=${PGUSER:-postgres}"
q -d wallet_bench_router -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION wallet_router CASCADE' \
    -c "SELECT wallet_router.configure(ARRAY['$HOSTPART dbname=wallet_bench_shard0', '$HOSTPART dbname=wallet_bench_shard1'])" >/dev/null
# the wallets, opened and topped up through the router (they land by their owners' hash)
q -d wallet_bench_router -v n="$N" >/dev/null <<'SQL'
CREATE TABLE bench_wallet (i int PRIMARY KEY, wallet_id bigint NOT NULL);
INSERT INTO bench_wallet SELECT g, wallet.open('rb-' || g) FROM generate_series(1, :n) g;
SELECT count((wallet.top_up(wallet_id, 1000000, 'load')).txn_id) FROM bench_wallet;
SQL
for n in 0 1; do
    q -d wallet_bench_shard$n -c 'VACUUM ANALYZE' >/dev/null
done
q -d wallet_bench_router -c 'VACUUM ANALYZE' >/dev/null
ON0=$(qv wallet_bench_shard0 'SELECT count(*) FROM wallet.wallet')
ON1=$(qv wallet_bench_shard1 'SELECT count(*) FROM wallet.wallet')
# shard 0's wallets, for the direct runs: ids 2, 4, ... (its ids end in 0), listed in a table there
q -d wallet_bench_shard0 >/dev/null <<'SQL'
CREATE TABLE bench_wallet (i int PRIMARY KEY, wallet_id bigint NOT NULL);
INSERT INTO bench_wallet SELECT row_number() OVER (ORDER BY wallet_id), wallet_id FROM wallet.wallet;
SQL

cat >"$WORK/spend.pgb" <<'EOF'
\set i random(1, :nw)
\set c random(100, 1500)
\set k random(1, 1000000000000000)
SELECT s.* FROM bench_wallet b, wallet.spend(b.wallet_id, :c * 0.01, 'rb' || :k) s WHERE b.i = :i;
EOF
run() { # DB NWALLETS -> tps
    "$BIN/pgbench" -n -M prepared -c "$C" -j 2 -T "$T" -f "$WORK/spend.pgb" -D nw="$2" "$1" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p'
}
ratios=()
routed=()
direct=()
for r in $(seq 1 "$ROUNDS"); do
    d1=$(run wallet_bench_shard0 "$ON0")
    x=$(run wallet_bench_router "$N")
    d2=$(run wallet_bench_shard0 "$ON0")
    ratio=$(awk -v x="$x" -v a="$d1" -v b="$d2" 'BEGIN { printf "%.2f", x / ((a + b) / 2) }')
    echo "round $r: shard 0 directly ${d1} / ${d2} tps, through the router ${x} tps, ratio $ratio"
    ratios+=("$ratio")
    routed+=("$x")
    direct+=("$(awk -v a="$d1" -v b="$d2" 'BEGIN { printf "%.1f", (a + b) / 2 }')")
done
med=$(printf '%s\n' "${ratios[@]}" | median)
med_direct=$(printf '%s\n' "${direct[@]}" | median)
med_routed=$(printf '%s\n' "${routed[@]}" | median)
# the relay has nothing to do here (every spend pays no payee); the books of both shards are clean
disc=$(( $(qv wallet_bench_shard0 'SELECT count(*) FROM wallet.reconcile()') + $(qv wallet_bench_shard1 'SELECT count(*) FROM wallet.reconcile()') ))
for db in wallet_bench_router wallet_bench_shard0 wallet_bench_shard1; do
    q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE $db"
done
echo "wallets: $ON0 on shard 0, $ON1 on shard 1; discrepancies after the runs: $disc"
echo "paper estimate at 16 shards: 16 x $med_direct = $(awk -v d="$med_direct" 'BEGIN { printf "%.0f", 16 * d }') spends/s if each shard has a machine like this one to itself, served by routers of $med_routed spends/s each (the router here): $(awk -v d="$med_direct" -v r="$med_routed" 'BEGIN { printf "%.0f", 16 * d / r }') routers"
echo "spend through the router / on a shard directly at $C clients: median $med (target >= 0.5)"
((disc == 0)) || { echo "router bench: reconcile found $disc discrepancies" >&2; exit 1; }
awk -v m="$med" 'BEGIN { exit !(m >= 0.5) }' || { echo "router bench: target missed" >&2; exit 1; }
