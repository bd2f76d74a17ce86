#!/usr/bin/env bash
# test/bench/instructions.sh: instructions a transaction takes, counted, not timed.
#
# Run by `make bench-instructions` (test/run.sh instructions), which starts a throwaway
# cluster. Timed figures on a shared machine move by 5-30 % from run to run; instruction
# counts do not, so a change of a few per cent in what an operation costs the server shows
# here when no timing can show it. This loads a small copy of the benchmark's data
# (test/bench/load.sh), restarts the server under valgrind's callgrind, and runs each pgbench
# script of the benchmark in one session of IR_SMALL and then of IR_BIG transactions
# (-M prepared, one client, pgbench's random seeds 1 and 2, so that a run can be repeated).
# The backend's count for the larger run less the smaller one,
# divided by the difference, is what one transaction costs: the session's start and the
# first calls' catalog look-ups and plans cancel out. Counted: the backend's user-space
# instructions (the kernel's work in system calls, the WAL writer and the commit flush are
# not). Printed as a table with each script's ratio to the floor and to the two-row floor
# (floor2, the floor of the transfers).
#
#   IR_WALLETS  wallets (and peer accounts) loaded (default 2000)
#   IR_SMALL    transactions of the smaller run (default 200)
#   IR_BIG      transactions of the larger run (default 800)
#   IR_SCRIPTS  pgbench scripts of test/bench (default "floor floor2 spend spend_reward spend_limits top_up spend_payee transfer
#               request_withdrawal peer_spend peer_top_up"); donate_one, donate_many and hold can be
#               named too (the load gives the earners their earnings and opens the charities), and
#               capture_hold and release_hold (each run gets its pool of holds first)
#   IR_KEEP     a directory to copy each larger run's callgrind file into (SCRIPT.callgrind), for
#               callgrind_annotate: where the instructions go
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/test/cluster.sh"
. "$HERE/load.sh"

die() {
    echo "instructions: $*" >&2
    exit 1
}
say() { echo "instructions: $*"; }
[[ -n ${WALLET_PG_TMP:-} && -n ${PGHOST:-} ]] || die "no cluster: run 'make bench-instructions'"
command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"

WALLETS=${IR_WALLETS:-2000}
SMALL=${IR_SMALL:-200}
BIG=${IR_BIG:-800}
read -r -a SCRIPTS <<<"${IR_SCRIPTS:-floor floor2 spend spend_reward spend_limits top_up spend_payee transfer request_withdrawal peer_spend peer_top_up}"
((BIG > SMALL && SMALL > 0)) || die "IR_BIG must be above IR_SMALL, and IR_SMALL above 0"
DB=wallet_ir
PGSS=0
BG_PIDS=()
trap 'for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
qv() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
now_s() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
since() { calc "$(now_s) - $1" 1; }

bench_load
say "loaded $WALLETS wallets and peer accounts in $(calc "$T_OPEN + $T_TOPUP + $T_PEER" 1)s"

# the same server, under callgrind: every backend writes its count when it exits; the
# log names each session's process; without autovacuum, whose ANALYZE of a table the runs
# write sends the sessions invalidations that make them look the schema up again mid-run
psql -X -q -d postgres -c "ALTER SYSTEM SET log_connections = on" -c "ALTER SYSTEM SET log_line_prefix = 'pid=%p '" \
    -c "ALTER SYSTEM SET autovacuum = off"
OUT=$WALLET_PG_TMP/callgrind
mkdir -p "$OUT"
chown postgres: "$OUT"
cluster_pg_ctl -w -m fast stop >/dev/null
_cluster_as_postgres valgrind --tool=callgrind --trace-children=yes -q \
    --callgrind-out-file="$OUT/cg.%p" "$WALLET_PG_BIN/postgres" -D "$WALLET_PGDATA" \
    >"$WALLET_PG_TMP/valgrind.log" 2>&1 &
VG_PID=$!
for ((i = 0; i < 240; i++)); do
    pg_isready -q -h "$PGHOST" -p "$PGPORT" && break
    sleep 0.5
done
pg_isready -q -h "$PGHOST" -p "$PGPORT" || die "the server did not start under valgrind (see $WALLET_PG_TMP/valgrind.log)"
say "server running under callgrind"

# count SCRIPT N SEED: the instructions of the backend that ran N transactions of SCRIPT
LOG=$WALLET_PG_TMP/valgrind.log
count() {
    local from pid ir="" i
    local pool=()
    if [[ $1 == capture_hold || $1 == release_hold ]]; then
        # a hold for each transaction, made before the counted session (as make bench does)
        local before first
        before=$(qv "SELECT last_value + (CASE WHEN is_called THEN 1 ELSE 0 END) FROM wallet.hold_hold_id_seq")
        q -v n="$2" -v wmin="$WMIN" -v nw="$WALLETS" -v tag="$1-$2" >/dev/null <<'SQL'
SELECT count(h.hold_id)
  FROM (SELECT g, :wmin + (g % :nw) AS w FROM generate_series(1, :n) g) s
 CROSS JOIN LATERAL wallet.hold(s.w, 2.00, 'pool-' || :'tag' || '-' || s.g, ttl => '1 hour') h;
SQL
        first=$(qv "SELECT min(hold_id) FROM wallet.hold WHERE hold_id >= $before")
        qv "SELECT setval('bench.rev_seq', 1, false)" >/dev/null
        pool=(-D holdbase=$((first - 1)))
    fi
    from=$(($(wc -l <"$LOG") + 1))
    pgbench -n -M prepared -c 1 -t "$2" --random-seed="$3" -f "$HERE/$1.pgb" "${DEFS[@]}" "${pool[@]}" "$DB" >"$WALLET_PG_TMP/pgbench.log" 2>&1 ||
        { cat "$WALLET_PG_TMP/pgbench.log" >&2; die "pgbench $1 failed"; }
    grep -q 'number of failed transactions: 0 ' "$WALLET_PG_TMP/pgbench.log" || die "pgbench $1: failed transactions"
    pid=$(tail -n "+$from" "$LOG" | sed -n 's/^pid=\([0-9]*\) .*connection authorized:.*application_name=pgbench.*/\1/p' | tail -n 1)
    [[ -n $pid ]] || die "pgbench $1: its session is not in the server log"
    # the backend writes its file as it exits, after the client has gone
    for ((i = 0; i < 240; i++)); do
        ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$OUT/cg.$pid" 2>/dev/null | head -n 1)
        [[ -n $ir ]] && break
        sleep 0.5
    done
    [[ -n $ir ]] || die "no callgrind count for $1 (process $pid)"
    echo "$pid" >"$WALLET_PG_TMP/last_pid"
    echo "$ir"
}

declare -A PER
TABLE="| script | instructions a transaction | ratio to the floor | ratio to the two-row floor |
|---|---:|---:|---:|"
for s in "${SCRIPTS[@]}"; do
    [[ -f $HERE/$s.pgb ]] || die "no script $s.pgb"
    # spend_limits runs under its two limit rules, which no other script sees
    [[ $s != spend_limits ]] || q -f "$HERE/spend_limits_setup.sql" >/dev/null
    a=$(count "$s" "$SMALL" 1)
    b=$(count "$s" "$BIG" 2)
    [[ $s != spend_limits ]] ||
        qv "SELECT count(wallet.drop_limit_rule(rule_id)) FROM wallet.limit_rule WHERE currency = 'CNY'" >/dev/null
    LAST_PID=$(cat "$WALLET_PG_TMP/last_pid")
    PER[$s]=$(((b - a) / (BIG - SMALL)))
    if [[ -n ${IR_KEEP:-} ]]; then
        mkdir -p "$IR_KEEP"
        cp "$OUT/cg.$LAST_PID" "$IR_KEEP/$s.callgrind"
    fi
    say "$s: $a instructions for $SMALL transactions, $b for $BIG: ${PER[$s]} a transaction"
done
for s in "${SCRIPTS[@]}"; do
    r=- r2=-
    [[ -n ${PER[floor]:-} ]] && r=$(calc "${PER[$s]} / ${PER[floor]}" 3)
    [[ -n ${PER[floor2]:-} ]] && r2=$(calc "${PER[$s]} / ${PER[floor2]}" 3)
    TABLE+="
| $s | ${PER[$s]} | $r | $r2 |"
done
# stop the server here and wait for valgrind to finish writing before the cluster is removed
cluster_pg_ctl -w -t 120 -m fast stop >/dev/null
wait "$VG_PID" 2>/dev/null || true

echo
echo "Instructions a transaction (callgrind, one backend, $BIG less $SMALL transactions; $WALLETS wallets;" \
    "wallet commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)):"
echo
echo "$TABLE"
