#!/usr/bin/env bash
# test/bench/run.sh: the wallet benchmark suite.
#
# `make bench` (test/run.sh bench) builds and installs the extension, starts a throwaway cluster,
# exports PGHOST/PGPORT/PGUSER (superuser postgres) and WALLET_PGDATA, and runs this script, which:
#   - prints the machine, the PostgreSQL version and the settings;
#   - loads 100,000 CNY wallets with the wallet's own functions (three top-ups each: 3 cash lots,
#     4 bonus lots of which one scoped), the floor's tables and THE PEER (peer.sql);
#   - runs each pgbench script at 1, 8 and 32 clients, alternating with THE FLOOR (floor.pgb: one
#     row update by primary key + one journal insert, one statement) so that drift cancels: each
#     figure is divided by the mean of the floor runs just before and just after it;
#   - measures expire_bonus over 1,000,000 expired lots against one plain UPDATE of as many rows,
#     the p99 latency of spends during expiry sweeps against the quiet windows between them, backend
#     memory after 10,000 and 1,000,000 spends in one session, reconcile() over a 10,000,000-row
#     journal against one sequential scan summing the journal's postings, and the BI views over
#     that journal (nothing rolled up, all rolled up, and with a tail of new spends);
#   - prints one markdown table with the targets beside the figures and writes it to
#     test/bench/results.md (the part of results.md after the line `<!-- analysis -->` is kept).
#
# Knobs (environment):
#   BENCH_SECONDS   seconds per pgbench run (default 10)
#   BENCH_JOURNAL   journal rows reconcile() runs over (default 10000000; e.g. 100000 for a quick run)
#   BENCH_WALLETS   CNY wallets (default 100000)       BENCH_EXPIRE_LOTS  lots per sweep (default 1000000)
#   BENCH_MEM_SPENDS spends in the memory session (default 1000000)
#   BENCH_STMT_ROWS journal rows of the large statement-page run (default BENCH_JOURNAL)
#   BENCH_CLIENTS   client counts (default "1 8 32")    BENCH_P99_LOAD  offered load of the p99 runs as
#                   a fraction of the 8-client spend TPS of this run (default 0.25)
#   BENCH_P99_WINDOW seconds of each window of the p99 run (default BENCH_SECONDS)
#   BENCH_P99_SWEEPS sweep windows of the p99 run, each between two quiet ones (default 3)
#   BENCH_SCRIPTS   pgbench scripts to run (default: all; e.g. "spend hold transfer")
#   BENCH_REPEAT    rounds of the alternating pgbench sequence (default 3); with more than one, each figure is
#                   the median over the rounds (a noisy machine)
#   BENCH_DIAG      1 (default): also collect evidence (pg_stat_statements, perf, EXPLAIN ANALYZE)
#   BENCH_DB        database name (default wallet_bench)   BENCH_OUT  results file (default results.md here)
set -euo pipefail
# a command that fails ends the run: say which
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

die() {
    echo "bench: $*" >&2
    exit 1
}

[[ -n ${PGHOST:-} && -n ${PGPORT:-} ]] ||
    die "PGHOST/PGPORT are not set: run 'make bench' (test/run.sh bench), which starts a throwaway cluster"
command -v pgbench >/dev/null || die "pgbench not found"

T=${BENCH_SECONDS:-10}
JOURNAL=${BENCH_JOURNAL:-10000000}
WALLETS=${BENCH_WALLETS:-100000}
EXPIRE_LOTS=${BENCH_EXPIRE_LOTS:-1000000}
MEM_SPENDS=${BENCH_MEM_SPENDS:-1000000}
STMT_ROWS=${BENCH_STMT_ROWS:-$JOURNAL}
read -r -a CLIENTS <<<"${BENCH_CLIENTS:-1 8 32}"
P99_LOAD=${BENCH_P99_LOAD:-0.25}
P99_WIN=${BENCH_P99_WINDOW:-$T}
P99_SWEEPS=${BENCH_P99_SWEEPS:-3}
DIAG=${BENCH_DIAG:-1}
REPEAT=${BENCH_REPEAT:-3}
DB=${BENCH_DB:-wallet_bench}
OUT=${BENCH_OUT:-$HERE/results.md}
EXPIRE_WALLETS=$((EXPIRE_LOTS / 4))
MEM_FIRST=10000
((MEM_SPENDS > MEM_FIRST)) || die "BENCH_MEM_SPENDS must be above $MEM_FIRST"

WORK=$(mktemp -d /tmp/wallet-bench.XXXXXX)
BG_PIDS=()
cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers

q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
# qv SQL: one value
qv() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
now_s() { date +%s.%N; }
# calc EXPR [DECIMALS]
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
# scalc EXPR [DECIMALS]: with its sign
scalc() { awk "BEGIN { printf \"%+.${2:-2}f\", $1 }"; }
since() { calc "$(now_s) - $1" 1; }
say() { echo "bench: $*"; }
tps() { [[ -n ${1:-} ]] && calc "$1" 0 || echo "FAILED"; }
section() {
    echo
    echo "=== $* ==="
}

MD=$WORK/results.md      # the table and the run's facts
EVIDENCE=$WORK/evidence.md
: >"$MD"
: >"$EVIDENCE"
md() { printf '%s\n' "$*" >>"$MD"; }
ev() { printf '%s\n' "$*" >>"$EVIDENCE"; }

# ---------------------------------------------------------------- settings and machine

section "machine and settings"
# pg_stat_statements needs shared_preload_libraries: add it on the throwaway cluster (evidence only;
# pg_stat_statements.track = none keeps it idle during the measured runs).
PGSS=0
if [[ $DIAG == 1 && -n ${WALLET_PGDATA:-} && -w ${WALLET_PGDATA:-/nonexistent}/postgresql.conf ]]; then
    # shellcheck source=test/cluster.sh
    . "$ROOT/test/cluster.sh"
    preload=$(psql -X -qAt -d postgres -c 'SHOW shared_preload_libraries')
    if [[ $preload != *pg_stat_statements* ]]; then
        {
            echo
            echo "# --- test/bench/run.sh: evidence for the benchmark ---"
            echo "shared_preload_libraries = '${preload:+$preload,}pg_stat_statements'"
            echo "pg_stat_statements.track = none"
            echo "pg_stat_statements.max = 1000"
        } >>"$WALLET_PGDATA/postgresql.conf"
        cluster_restart fast
    fi
    PGSS=1
fi

PGVERSION=$(psql -X -qAt -d postgres -c 'SELECT version()')
SETTINGS=$(psql -X -qAt -F ' = ' -d postgres -c "SELECT name, current_setting(name) FROM pg_settings
  WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections', 'wal_level',
                 'max_wal_size', 'checkpoint_timeout', 'work_mem', 'max_parallel_workers_per_gather',
                 'jit', 'autovacuum', 'full_page_writes', 'shared_preload_libraries') ORDER BY name")
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
NPROC=$(nproc)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
KERNEL=$(uname -r)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
LOADAVG=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo "machine: $NPROC CPUs ($CPU), $MEM RAM, Linux $KERNEL, load average $LOADAVG"
echo "postgres: $PGVERSION"
echo "settings:"
sed 's/^/  /' <<<"$SETTINGS"
echo "wallet: commit $COMMIT$( ((DIRTY > 0)) && echo " with $DIRTY uncommitted change(s) under src/")"
echo "run: BENCH_REPEAT=$REPEAT BENCH_SECONDS=$T BENCH_JOURNAL=$JOURNAL BENCH_WALLETS=$WALLETS BENCH_EXPIRE_LOTS=$EXPIRE_LOTS" \
    "BENCH_MEM_SPENDS=$MEM_SPENDS BENCH_CLIENTS=\"${CLIENTS[*]}\""

# ---------------------------------------------------------------- load

section "load"
. "$HERE/load.sh"
bench_load

# ---------------------------------------------------------------- pgbench, alternating with the floor

declare -A TPS FLOOR PGSS_TPS CPU_TPS CPU_FLOOR
RC_FAIL=0

# pgb SCRIPT CLIENTS [pgbench args...]: one run after a checkpoint; sets RUN_TPS (empty on failure).
pgb() {
    local script=$1 c=$2
    shift 2
    local j=$((c < 2 ? c : 2)) out rc=0
    qv 'CHECKPOINT' >/dev/null
    out=$(pgbench -n -M prepared -c "$c" -j "$j" -T "$T" -f "$HERE/$script.pgb" "${DEFS[@]}" \
        -D nc="$c" -D per=$((WALLETS / c)) "$@" "$DB" 2>&1) || rc=$?
    RUN_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' <<<"$out")
    if ((rc != 0)) || grep -q 'aborted' <<<"$out" || [[ -z $RUN_TPS ]]; then
        echo "bench: pgbench $script at $c clients FAILED (exit $rc):" >&2
        grep -m 5 -E 'ERROR|aborted|FATAL' <<<"$out" >&2 || tail -n 5 <<<"$out" >&2
        RUN_TPS=
        RC_FAIL=1
    fi
    printf '  %-18s %2d clients  %8s tps\n' "$script" "$c" "$(tps "$RUN_TPS")"
}

# Before each script: what it needs (a pool of spends to reverse). The pool holds twice what
# the floor run just before did (FLOOR_TPS, at least 3,000 a second) in a run's time: no
# operation has run at more than the floor, and a run that used up the pool would fail.
prepare() { # SCRIPT CLIENTS
    case $1 in
    reverse_spend)
        local est n before first
        est=$(calc "(${FLOOR_TPS:-0} > 3000 ? ${FLOOR_TPS:-0} : 3000)" 0)
        n=$(calc "$est * $T * 2 + 2000" 0)
        before=$(qv "SELECT last_value + (CASE WHEN is_called THEN 1 ELSE 0 END) FROM wallet.txn_txn_id_seq")
        q -v n="$n" -v wmin="$WMIN" -v nw="$WALLETS" -v tag="$REP-$2" >/dev/null <<'SQL'
SELECT count((wallet.spend(w, 5.00, 'pool-' || :tag || '-' || g)).txn_id)
  FROM (SELECT g, :wmin + floor(random() * :nw)::bigint AS w FROM generate_series(1, :n) g) s;
SQL
        first=$(qv "SELECT min(txn_id) FROM wallet.txn WHERE txn_id >= $before")
        [[ $(qv "SELECT count(*) FROM wallet.txn WHERE txn_id BETWEEN $first AND $first + $n - 1
                   AND kind = 'spend'") == "$n" ]] || die "the pool spends did not get consecutive txn_ids"
        qv "SELECT setval('bench.rev_seq', 1, false)" >/dev/null
        REV_ARGS=(-D revbase=$((first - 1)))
        ;;
    capture_hold | release_hold)
        local est n before first
        est=$(calc "(${FLOOR_TPS:-0} > 3000 ? ${FLOOR_TPS:-0} : 3000)" 0)
        n=$(calc "$est * $T * 2 + 2000" 0)
        before=$(qv "SELECT last_value + (CASE WHEN is_called THEN 1 ELSE 0 END) FROM wallet.hold_hold_id_seq")
        q -v n="$n" -v wmin="$WMIN" -v nw="$WALLETS" -v tag="$1-$REP-$2" >/dev/null <<'SQL'
SELECT count(h.hold_id)
  FROM (SELECT g, :wmin + floor(random() * :nw)::bigint AS w FROM generate_series(1, :n) g) s
 CROSS JOIN LATERAL wallet.hold(s.w, 2.00, 'pool-' || :'tag' || '-' || s.g, ttl => '1 hour') h;
SQL
        first=$(qv "SELECT min(hold_id) FROM wallet.hold WHERE hold_id >= $before")
        [[ $(qv "SELECT count(*) FROM wallet.hold WHERE hold_id BETWEEN $first AND $first + $n - 1
                   AND status = 'open'") == "$n" ]] || die "the pool holds did not get consecutive hold_ids"
        qv "SELECT setval('bench.rev_seq', 1, false)" >/dev/null
        REV_ARGS=(-D holdbase=$((first - 1)))
        ;;
    spend_limits)
        # its two limit rules (dropped again by finish)
        q -f "$HERE/spend_limits_setup.sql" >/dev/null
        REV_ARGS=()
        ;;
    *) REV_ARGS=() ;;
    esac
}

# After each script: what prepare set up for it alone is taken away (spend_limits' rules).
finish() { # SCRIPT
    case $1 in
    spend_limits)
        qv "SELECT count(wallet.drop_limit_rule(rule_id)) FROM wallet.limit_rule WHERE currency = 'CNY'" >/dev/null
        ;;
    esac
}

SCRIPTS=(spend spend_reward spend_limits top_up spend_payee reverse_spend refund peer_spend peer_top_up hold capture_hold
    release_hold request_withdrawal transfer donate_one donate_many)
# BENCH_SCRIPTS names a subset of them (in this order) for a shorter run; the targets of the others
# then read "not measured in this run"
if [[ -n ${BENCH_SCRIPTS:-} ]]; then
    read -r -a WANT <<<"$BENCH_SCRIPTS"
    KEEP=()
    for s in "${SCRIPTS[@]}"; do
        for w in "${WANT[@]}"; do [[ $s == "$w" ]] && KEEP+=("$s"); done
    done
    ((${#KEEP[@]} > 0)) || die "BENCH_SCRIPTS names none of: ${SCRIPTS[*]}"
    SCRIPTS=("${KEEP[@]}")
fi
# The floor each script is measured against: floor.pgb (one row updated), or floor2.pgb (two rows
# updated, sender and receiver) for the transfers. Each floor's scripts run in one sequence.
FLOORS=(floor floor2)
declare -A FLOOR_OF=([transfer]=floor2 [donate_one]=floor2 [donate_many]=floor2)
floor_of() { echo "${FLOOR_OF[$1]:-floor}"; }
declare -A TPSL FLOORL RATIOL RATIO ROUND
section "pgbench: ${T}s per run, -M prepared, each script between two runs of its floor"
for ((REP = 1; REP <= REPEAT; REP++)); do
    ((REPEAT == 1)) || echo "  -- round $REP of $REPEAT"
    for c in "${CLIENTS[@]}"; do
        for fl in "${FLOORS[@]}"; do
            REV_ARGS=()
            pgb "$fl" "$c"
            prev=$RUN_TPS
            for s in "${SCRIPTS[@]}"; do
                [[ $(floor_of "$s") == "$fl" ]] || continue
                FLOOR_TPS=$prev
                prepare "$s" "$c"
                pgb "$s" "$c" "${REV_ARGS[@]}"
                x=$RUN_TPS
                finish "$s"
                if [[ $s == hold || $s == capture_hold || $s == release_hold ]]; then
                    # the run's holds (and what is left of a pool) given back (not timed): a refund of
                    # a top-up waits while a hold reserves that top-up's bonus, and the other scripts'
                    # wallets keep their money
                    qv "SELECT count(r.txn_id) FROM wallet.hold h
                          CROSS JOIN LATERAL wallet.release_hold(h.hold_id, 'bench-release-' || h.hold_id) r
                         WHERE h.status = 'open'" >/dev/null
                fi
                pgb "$fl" "$c"
                if [[ -n $prev && -n $RUN_TPS && -n $x ]]; then
                    f=$(calc "($prev + $RUN_TPS) / 2" 1)
                    TPSL[$s:$c]+=" $x"
                    FLOORL[$s:$c]+=" $f"
                    ROUND[$s:$c:$REP]=$(calc "$x / $f" 3)
                    RATIOL[$s:$c]+=" ${ROUND[$s:$c:$REP]}"
                fi
                prev=$RUN_TPS
            done
        done
    done
done
# median WORDS: the median of a list of numbers (empty if none)
median() {
    tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for key in "${!TPSL[@]}"; do
    TPS[$key]=$(median "${TPSL[$key]}")
    FLOOR[$key]=$(median "${FLOORL[$key]}")
    RATIO[$key]=$(median "${RATIOL[$key]}")
done

# ratio NAME C: the figure over the floor measured next to it (median over the rounds), or empty
ratio() { echo "${RATIO[$1:$2]:-}"; }
# pair A B CA CB: A at CA clients over B at CB clients, each over its floor, in each round in
# which both ran; sets PAIR (the median of the rounds' quotients, empty if none) and PAIRS (the list)
pair() {
    local r
    PAIRS=
    for ((r = 1; r <= REPEAT; r++)); do
        [[ -n ${ROUND[$1:$3:$r]:-} && -n ${ROUND[$2:$4:$r]:-} ]] &&
            PAIRS+=" $(calc "${ROUND[$1:$3:$r]} / ${ROUND[$2:$4:$r]}" 2)"
    done
    PAIRS=${PAIRS# }
    PAIR=$(median "$PAIRS")
    [[ -z $PAIR ]] || PAIR=$(calc "$PAIR" 2)
}

# ---------------------------------------------------------------- evidence (runs)

if [[ $DIAG == 1 ]]; then
    section "evidence: where the time of the 8-client runs goes (same data as above)"
    # The same 8-client runs without waiting for the WAL flush at commit (synchronous_commit = off):
    # what is left is CPU. Alternating with the floor as above.
    PGOPTIONS='-c synchronous_commit=off' pgb floor 8 >/dev/null
    prev=$RUN_TPS
    for s in spend top_up peer_spend; do
        PGOPTIONS='-c synchronous_commit=off' pgb "$s" 8 >/dev/null
        CPU_TPS[$s]=$RUN_TPS
        PGOPTIONS='-c synchronous_commit=off' pgb floor 8 >/dev/null
        [[ -n $prev && -n $RUN_TPS ]] && CPU_FLOOR[$s]=$(calc "($prev + $RUN_TPS) / 2" 1)
        prev=$RUN_TPS
        echo "  synchronous_commit = off: $s $(tps "${CPU_TPS[$s]}") tps, floor $(tps "${CPU_FLOOR[$s]:-}") tps"
    done
    if ((PGSS)); then
        # per-statement profile of 8-client runs (statements inside the functions included)
        for s in floor spend top_up peer_spend; do
            qv 'SELECT pg_stat_statements_reset()' >/dev/null
            PGOPTIONS='-c pg_stat_statements.track=all' pgb "$s" 8 >/dev/null
            q -At -F $'\t' -o "$WORK/pgss-$s.tsv" -c "SELECT calls, round(total_exec_time::numeric, 1),
                round(mean_exec_time::numeric, 4), shared_blks_hit, shared_blks_read, shared_blks_dirtied,
                wal_bytes, regexp_replace(left(query, 110), '\s+', ' ', 'g')
              FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND query NOT LIKE '%pg_stat_statements%'
              ORDER BY total_exec_time DESC LIMIT 12"
            echo "  pg_stat_statements: $s at 8 clients, $(tps "$RUN_TPS") tps with track = all"
            PGSS_TPS[$s]=${RUN_TPS:-}
        done
    fi
    if command -v perf >/dev/null && [[ $(id -u) == 0 ]]; then
        # CPU profile of the server backends of an 8-client run
        for s in floor spend; do
            (sleep 2 && pids=$(qv "SELECT string_agg(pid::text, ',') FROM pg_stat_activity
                                   WHERE application_name = 'pgbench' AND datname = current_database()") &&
                timeout $((T > 5 ? T - 3 : 2)) perf record -F 4999 -o "$WORK/perf-$s.data" -p "$pids" \
                    >/dev/null 2>&1) &
            perf_pid=$!
            BG_PIDS+=("$perf_pid")
            pgb "$s" 8 >/dev/null
            wait "$perf_pid" || true
            BG_PIDS=()
            {
                perf report -i "$WORK/perf-$s.data" --no-children --sort dso --stdio 2>/dev/null |
                    grep -E '^# Samples|^ +[0-9]' | head -n 8
                echo
                perf report -i "$WORK/perf-$s.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
                    grep -E '^ +[0-9]' | head -n 30
            } | sed 's/[[:space:]]*-[[:space:]]*-[[:space:]]*$//; s/[[:space:]]*$//' >"$WORK/perf-$s.txt" || true
            echo "  perf: $s at 8 clients"
        done
    fi
fi

# ---------------------------------------------------------------- expiry

section "expire_bonus over $EXPIRE_LOTS lots"
# USD wallets, two top-ups each at past clocks: each top-up grants four bonus lots valid one day.
# The first sweep (clock 2025-01-15) expires the first four lots of every wallet (measured), the
# second (clock 2025-04-01) the other four (the background of the p99 test).
start=$(now_s)
q -v n="$EXPIRE_WALLETS" >/dev/null <<'SQL'
SELECT count(wallet.open('exp-' || g, 'USD')) FROM generate_series(1, :n) g;
SELECT min(wallet_id) AS lo, max(wallet_id) AS hi FROM wallet.wallet WHERE currency = 'USD' \gset
SET wallet.now = '2025-01-01 00:00:00+00';
SELECT count((wallet.top_up(w, 50, 'exp-1')).txn_id) FROM generate_series(:lo, :hi) w;
SET wallet.now = '2025-03-01 00:00:00+00';
SELECT count((wallet.top_up(w, 50, 'exp-2')).txn_id) FROM generate_series(:lo, :hi) w;
SQL
T_EXPLOAD=$(since "$start")
say "expiry set: $EXPIRE_WALLETS USD wallets x 2 top-ups x 4 bonus lots in ${T_EXPLOAD}s"

q -v n="$EXPIRE_LOTS" >/dev/null <<'SQL'
INSERT INTO bench.lot_plain (lot_id, wallet_id, bucket, amount, expires_at)
SELECT g, (g + 3) / 4, 'bonus', 100, '2025-01-02 00:00:00+00' FROM generate_series(1, :n) g;
VACUUM ANALYZE bench.lot_plain;
VACUUM ANALYZE wallet.wallet;
CHECKPOINT;
SQL
wal0=$(qv "SELECT pg_current_wal_insert_lsn()")
start=$(now_s)
PLAIN_ROWS=$(q -At -c "WITH u AS (UPDATE bench.lot_plain SET expired = amount, amount = 0
                                   WHERE expires_at <= '2025-01-15 00:00:00+00' AND amount > 0 RETURNING 1)
                       SELECT count(*) FROM u")
T_PLAIN=$(since "$start")
WAL_PLAIN=$(qv "SELECT round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal0') / 1048576)")
qv 'CHECKPOINT' >/dev/null
before=$(qv "SELECT last_value FROM wallet.txn_txn_id_seq")
wal0=$(qv "SELECT pg_current_wal_insert_lsn()")
start=$(now_s)
q -c "SET wallet.now = '2025-01-15 00:00:00+00'" -c 'CALL bench.sweep()' >/dev/null
T_SWEEP=$(since "$start")
WAL_SWEEP=$(qv "SELECT round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal0') / 1048576)")
SWEPT=$(qv "SELECT coalesce(sum((result->>'lots')::bigint), 0) FROM wallet.txn
             WHERE txn_id > $before AND kind = 'expire_bonus'")
say "plain UPDATE: $PLAIN_ROWS rows in ${T_PLAIN}s (WAL ${WAL_PLAIN} MB); expire_bonus: $SWEPT lots in ${T_SWEEP}s (WAL ${WAL_SWEEP} MB)"

# ---------------------------------------------------------------- p99 during a sweep

section "p99 latency of spends (8 clients): quiet windows alternating with expiry sweeps"
SPEND8=${TPS[spend:8]:-${TPS[spend:${CLIENTS[-1]}]:-1000}}
RATE=$(calc "$SPEND8 * $P99_LOAD" 0)
# One rate-limited 8-client spend run of 2 x P99_SWEEPS + 2 windows of P99_WIN seconds: a warm-up
# (not counted: the first touch of each page after the checkpoint logs it whole), then quiet, sweep,
# quiet, ..., quiet. A sweep window runs the extension's own catch-up sweep, CALL
# wallet.expire_bonus_all() with its default pacing (batches of 1,000 wallets, working at most a
# tenth of the time), and cancels it when the window ends if it is not done. A transaction that ends
# in a sweep window, or in the second after it, counts as *during*; every other one as *quiet*. The
# two sets of windows share the run's drift and the disk's stalls, where a quiet run before the sweep
# and one after it did not (a disturbed quiet run made the ratio say nothing).
P99_T=$(((2 * P99_SWEEPS + 2) * P99_WIN))
# the previous section's sweep left 250,000 rewritten wallets for autovacuum, which would otherwise
# run during the windows
q -c 'VACUUM ANALYZE' >/dev/null
qv 'CHECKPOINT' >/dev/null
((PGSS)) && qv 'SELECT pg_stat_statements_reset()' >/dev/null
SWEEP_LOG=$WORK/sweep.log
WINDOWS=$WORK/sweep.windows
: >"$WINDOWS"
: >"$SWEEP_LOG"
SWEEP_FIRST=$(qv "SELECT last_value FROM wallet.txn_txn_id_seq")
(
    if ((PGSS)); then export PGOPTIONS='-c pg_stat_statements.track=all'; fi
    sleep "$P99_WIN"
    now_s >"$WORK/warm.end"
    for ((i = 1; i <= P99_SWEEPS; i++)); do
        sleep "$P99_WIN"
        s=$(now_s)
        q -At -c "SET wallet.now = '2025-04-01 00:00:00+00'" -c 'CALL wallet.expire_bonus_all()' >>"$SWEEP_LOG" 2>&1 &
        sp=$!
        for ((k = 0; k < P99_WIN * 10; k++)); do
            kill -0 "$sp" 2>/dev/null || break
            sleep 0.1
        done
        qv "SELECT count(pg_cancel_backend(a.pid)) FROM pg_stat_activity a
             WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
               AND a.query = 'CALL wallet.expire_bonus_all()'" >/dev/null
        wait "$sp" || true
        echo "$s $(now_s)" >>"$WINDOWS"
    done
) &
sweep_pid=$!
BG_PIDS+=("$sweep_pid")
rc=0
out=$(pgbench -n -M prepared -c 8 -j 2 -T "$P99_T" -R "$RATE" -l --log-prefix="$WORK/p99log" \
    -f "$HERE/spend.pgb" "${DEFS[@]}" "$DB" 2>&1) || rc=$?
if ((rc != 0)) || grep -q aborted <<<"$out"; then
    echo "bench: the p99 run FAILED" >&2
    grep -m 5 -E 'ERROR|aborted' <<<"$out" >&2 || true
    RC_FAIL=1
fi
wait "$sweep_pid" || true
BG_PIDS=()
(($(wc -l <"$WINDOWS") == P99_SWEEPS)) || die "the background sweeps did not run: $(cat "$SWEEP_LOG")"
if grep -q ERROR "$SWEEP_LOG" && grep ERROR "$SWEEP_LOG" | grep -qv 'canceling statement due to user request'; then
    die "the background sweep failed: $(cat "$SWEEP_LOG")"
fi
SWEPT_B=$(qv "SELECT coalesce(sum((result->>'lots')::bigint), 0) FROM wallet.txn
               WHERE txn_id > $SWEEP_FIRST AND kind = 'expire_bonus'")
SWEEP_S=$(awk '{ t += $2 - $1 } END { printf "%.1f", t }' "$WINDOWS")
if ((PGSS)); then
    q -At -F $'\t' -o "$WORK/pgss-sweep.tsv" -c "SELECT calls, round(total_exec_time::numeric, 1),
        round(mean_exec_time::numeric, 4), shared_blks_hit, shared_blks_read, shared_blks_dirtied,
        wal_bytes, regexp_replace(left(query, 110), '\s+', ' ', 'g')
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC LIMIT 12"
fi
# each logged transaction as "CLASS WINDOW LATENCY_US": d (in sweep window WINDOW, 1..n, or the
# second after it), q (in the quiet window WINDOW, 0..n, after WINDOW sweeps) or w (the warm-up)
cat "$WORK"/p99log.* 2>/dev/null |
    awk -v wf="$WINDOWS" -v warm="$(cat "$WORK/warm.end")" 'BEGIN { while ((getline l < wf) > 0) { split(l, a, " "); n++; S[n] = a[1]; E[n] = a[2] + 1 } }
        { t = $5 + $6 / 1e6; c = "q"; k = 0
          if (t < warm) { print "w", 0, $3; next }
          for (i = 1; i <= n; i++) { if (t >= S[i] && t <= E[i]) { c = "d"; k = i; break } if (t > E[i]) k = i }
          print c, k, $3 }' >"$WORK/p99.classified"
# p99_of CLASS [WINDOW]: 99th percentile latency (ms) and count of the class's transactions
p99_of() {
    awk -v c="$1" -v k="${2:-}" '$1 == c && (k == "" || $2 == k) { print $3 }' "$WORK/p99.classified" |
        sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print ""; exit } i = int(NR * 0.99); if (i < NR * 0.99) i++;
                                          printf "%.2f %d", v[i] / 1000, NR }'
}
read -r P99_QUIET N_QUIET <<<"$(p99_of q)"
read -r P99_DURING N_DURING <<<"$(p99_of d)"
P99_QW="" P99_DW=""
for ((i = 0; i <= P99_SWEEPS; i++)); do
    read -r v _ <<<"$(p99_of q "$i")"
    P99_QW+="${P99_QW:+, }${v:-?}"
    if ((i > 0)); then
        read -r v _ <<<"$(p99_of d "$i")"
        P99_DW+="${P99_DW:+, }${v:-?}"
    fi
done
say "rate $RATE/s: p99 ${P99_QUIET} ms quiet ($N_QUIET txns; windows: $P99_QW), ${P99_DURING} ms during" \
    "the sweeps ($N_DURING txns; windows: $P99_DW; $SWEPT_B lots over ${SWEEP_S}s)"

# ---------------------------------------------------------------- memory

section "backend memory over $MEM_SPENDS spends in one session"
export MEMLOG=$WORK/mem.log
: >"$MEMLOG"
q -At -v wmin="$WMIN" -v nw="$WALLETS" -v n1="$MEM_FIRST" -v n2=$((MEM_SPENDS - MEM_FIRST)) >"$WORK/mem.out" <<'SQL'
SELECT pg_backend_pid() AS pid \gset
\setenv BPID :pid
\! awk -v at=0 '/^(VmRSS|RssAnon|RssShmem):/ { print at, $1, $2 }' /proc/$BPID/status >> $MEMLOG
SELECT 'ctx 0 ' || sum(total_bytes) FROM pg_backend_memory_contexts;
CALL bench.spend_loop(:wmin, :nw, :n1, 0);
\! awk -v at=1 '/^(VmRSS|RssAnon|RssShmem):/ { print at, $1, $2 }' /proc/$BPID/status >> $MEMLOG
SELECT 'ctx 1 ' || sum(total_bytes) FROM pg_backend_memory_contexts;
CALL bench.spend_loop(:wmin, :nw, :n2, :n1);
\! awk -v at=2 '/^(VmRSS|RssAnon|RssShmem):/ { print at, $1, $2 }' /proc/$BPID/status >> $MEMLOG
SELECT 'ctx 2 ' || sum(total_bytes) FROM pg_backend_memory_contexts;
SQL
memv() { awk -v at="$1" -v k="$2:" '$1 == at && $2 == k { print $3 }' "$MEMLOG"; } # kB
ctxv() { awk -v at="$1" '$1 == "ctx" && $2 == at { print $3 }' "$WORK/mem.out"; }  # bytes
RSS1=$(memv 1 VmRSS) RSS2=$(memv 2 VmRSS) ANON1=$(memv 1 RssAnon) ANON2=$(memv 2 RssAnon)
SHM1=$(memv 1 RssShmem) SHM2=$(memv 2 RssShmem)
CTX1=$(ctxv 1) CTX2=$(ctxv 2)
ANON_GROWTH=$(scalc "($ANON2 - $ANON1) / 1024" 1)
RSS_GROWTH=$(scalc "($RSS2 - $RSS1) / 1024" 1)
SHM_GROWTH=$(scalc "($SHM2 - $SHM1) / 1024" 1)
CTX_GROWTH=$(scalc "($CTX2 - $CTX1) / 1048576" 2)
say "VmRSS $(calc "$RSS1 / 1024" 1) -> $(calc "$RSS2 / 1024" 1) MB (shared memory touched" \
    "$(calc "$SHM1 / 1024" 1) -> $(calc "$SHM2 / 1024" 1) MB); private (RssAnon)" \
    "$(calc "$ANON1 / 1024" 1) -> $(calc "$ANON2 / 1024" 1) MB; memory contexts" \
    "$(calc "$CTX1 / 1048576" 2) -> $(calc "$CTX2 / 1048576" 2) MB"

# ---------------------------------------------------------------- journal and reconcile

section "reconcile() over a journal of $JOURNAL rows"
# Payee credits wait in wallet.payee_credit until rolled up (a pg_cron job every minute in
# production). Time wallet.balance() with the run's credits (to the one merchant, the earners and the
# charities) still pending and after rolling them up; reconcile is measured after the roll-up, the
# state the job keeps.
PENDING=$(qv 'SELECT count(*) FROM wallet.payee_credit')
BAL_BEFORE=$(qv "SELECT bench.balance_ms($WMIN, $WALLETS, 200)")
qv 'SELECT wallet.rollup_credits()' >/dev/null
q -c 'VACUUM ANALYZE wallet.payee_credit' >/dev/null
BAL_AFTER=$(qv "SELECT bench.balance_ms($WMIN, $WALLETS, 200)")
say "wallet.balance(): $BAL_BEFORE ms a call with $PENDING payee credits pending, $BAL_AFTER ms after rollup_credits()"
HAVE=$(qv 'SELECT count(*) FROM wallet.txn')
SYNTH=$(((JOURNAL - HAVE) / 4 * 4))
((SYNTH > 0)) || SYNTH=0
JW=$((SYNTH / 2 < 100000 ? SYNTH / 2 : 100000))
start=$(now_s)
if ((SYNTH > 0)); then
    # Synthetic history, inserted directly into wallet.txn (and its keys into wallet.txn_key) as
    # superuser: EUR wallets, each with pairs
    # of a top-up (wallet cash +x / funding -x) and a spend (wallet cash -x / revenue +x) carrying the
    # request and result a real one carries, so every transaction balances and every wallet's postings
    # sum to its (empty) lots. Two sessions in parallel.
    q -v n="$JW" >/dev/null <<'SQL'
SELECT count(wallet.open('journal-' || g, 'EUR')) FROM generate_series(1, :n) g;
SQL
    EMIN=$(qv "SELECT min(wallet_id) FROM wallet.wallet WHERE currency = 'EUR'")
    synth() { # FIRST_PAIR LAST_PAIR
        q -v p1="$1" -v p2="$2" -v emin="$EMIN" -v jw="$JW" >/dev/null <<'SQL'
WITH t AS (
INSERT INTO wallet.txn (txn_id, wallet_id, kind, amount, currency, created_at, idempotency_key, request,
                        result, postings)
SELECT id, w, CASE WHEN up THEN 'top_up' ELSE 'spend' END, x, 'EUR', at, 'j-' || id,
       CASE WHEN up THEN jsonb_build_object('amount', x, 'method', 'card', 'external_ref', 'psp-' || id)
            ELSE jsonb_build_object('amount', x, 'scene', NULL, 'coupon', NULL, 'allow_partial', false,
                                    'payee', NULL, 'order_ref', 'order-' || id) END,
       CASE WHEN up THEN jsonb_build_object('txn_id', id, 'bonus', 0, 'rules', '[]'::jsonb, 'coupons', '[]'::jsonb,
                                            'refundable_until', at + interval '30 days', 'campaign_fee_rate', 0)
            ELSE jsonb_build_object('txn_id', id, 'charged', x, 'discount', 0, 'bonus_used', 0, 'cash_used', x,
                                    'earnings_used', 0, 'shortfall', 0, 'payee', NULL, 'payee_credit', 0,
                                    'commission', 0) END,
       CASE WHEN up THEN ARRAY[ROW('wallet', w, 'cash', x)::wallet.posting, ROW('funding', NULL, NULL, -x)::wallet.posting]
            ELSE ARRAY[ROW('wallet', w, 'cash', -x)::wallet.posting, ROW('revenue', NULL, NULL, x)::wallet.posting] END
  FROM (SELECT nextval('wallet.txn_txn_id_seq') AS id, :emin + p % :jw AS w, 100 + p % 9900 AS x, s = 0 AS up,
               timestamptz '2025-06-01 00:00:00+00' + p * interval '1 second' AS at
          FROM generate_series(:p1, :p2) p CROSS JOIN generate_series(0, 1) s) g
RETURNING wallet_id, idempotency_key, txn_id, created_at)
INSERT INTO wallet.txn_key (wallet_id, idempotency_key, txn_id, created_at) SELECT * FROM t;
SQL
    }
    half=$((SYNTH / 4))
    synth 0 $((half - 1)) &
    s0=$!
    synth "$half" $((2 * half - 1)) &
    s1=$!
    BG_PIDS+=("$s0" "$s1")
    wait "$s0" || die "journal load failed"
    wait "$s1" || die "journal load failed"
    BG_PIDS=()
fi
q -c 'VACUUM ANALYZE wallet.txn' -c 'VACUUM ANALYZE wallet.wallet' -c 'CHECKPOINT' >/dev/null
T_JLOAD=$(since "$start")
JROWS=$(qv 'SELECT count(*) FROM wallet.txn')
JSIZE=$(qv "SELECT pg_size_pretty(sum(pg_table_size(i.inhrelid))) FROM pg_inherits i WHERE i.inhparent = 'wallet.txn'::regclass")
NWALLETS=$(qv 'SELECT count(*) FROM wallet.wallet')
say "journal: $JROWS rows ($JSIZE; $SYNTH synthetic, loaded and vacuumed in ${T_JLOAD}s), $NWALLETS wallets"

SCAN_SQL="SELECT sum(p.amount) FROM wallet.txn t CROSS JOIN LATERAL unnest(t.postings) p"
timed_sql() { # SETTING SQL -> seconds
    local s
    s=$(now_s)
    q -At -c "SET max_parallel_workers_per_gather = $1" -c "$2" >"$WORK/last.out"
    since "$s"
}
T_SCAN1=$(timed_sql 0 "$SCAN_SQL")
start=$(now_s)
DISCREP=$(q -At -c 'SELECT count(*) FROM wallet.reconcile()')
T_REC=$(since "$start")
T_SCAN2=$(timed_sql 0 "$SCAN_SQL")
T_SCANP=$(timed_sql 2 "$SCAN_SQL")
T_SCAN=$(calc "($T_SCAN1 + $T_SCAN2) / 2" 2)
say "seq scan ${T_SCAN1}s / ${T_SCAN2}s (parallel ${T_SCANP}s); reconcile ${T_REC}s, $DISCREP discrepancies"

# ---------------------------------------------------------------- BI views

section "BI views (wallet_report) over the same journal"
# The three views that read the journal, as a BI tool reads them (every row and column, serial as
# the scan above): first with nothing rolled up (the roll-up tables emptied and the watermark at 0, so
# each view aggregates the whole journal), then after wallet.refresh_reports() has rolled it all up
# (each view adds the roll-ups to the unrolled tail), then with a tail of BI_TAIL new spends. A view
# must give the same rows before and after the roll-up; the other three views, which do not read the
# journal, are read once.
JVIEWS=(topups_daily spending_daily bonus_daily)
OVIEWS=(refunds_daily coupons liability)
BI_TAIL=10000
declare -A BI_COLD BI_ROLLED BI_TAILMS BI_ROWS BI_DIGEST
read_view() { # VIEW -> ms rows digest
    q -At -F ' ' -c 'SET max_parallel_workers_per_gather = 0' -c "SELECT * FROM bench.read_view('wallet_report.$1')"
}
q >/dev/null <<'SQL'
TRUNCATE wallet.rollup_topup, wallet.rollup_spend, wallet.rollup_bonus, wallet.rollup_gap;
UPDATE wallet.rollup_state SET last_txn_id = 0, refreshed_at = NULL;
SQL
for v in "${JVIEWS[@]}"; do
    read -r BI_COLD[$v] BI_ROWS[$v] BI_DIGEST[$v] <<<"$(read_view "$v")"
done
start=$(now_s)
ROLLED=0
while :; do
    n=$(qv 'SELECT wallet.refresh_reports()')
    ((n > 0)) || break
    ROLLED=$((ROLLED + n))
done
T_REFRESH=$(since "$start")
R_REFRESH=$(calc "$T_REFRESH / $T_SCAN" 2)
BI_SAME=yes
for v in "${JVIEWS[@]}"; do
    read -r BI_ROLLED[$v] rows digest <<<"$(read_view "$v")"
    if [[ $rows != "${BI_ROWS[$v]}" || $digest != "${BI_DIGEST[$v]}" ]]; then
        BI_SAME=no
        echo "bench: wallet_report.$v gave other rows after the roll-up ($rows rows, ${BI_ROWS[$v]} before)" >&2
        RC_FAIL=1
    fi
done
q -v wmin="$WMIN" -v nw="$WALLETS" -v n="$BI_TAIL" -v off="$MEM_SPENDS" >/dev/null <<'SQL'
CALL bench.spend_loop(:wmin, :nw, :n, :off);
SQL
for v in "${JVIEWS[@]}"; do
    read -r BI_TAILMS[$v] _ _ <<<"$(read_view "$v")"
done
for v in "${OVIEWS[@]}"; do
    read -r BI_COLD[$v] BI_ROWS[$v] _ <<<"$(read_view "$v")"
done
say "refresh_reports(): $ROLLED transactions rolled up in ${T_REFRESH}s ($R_REFRESH x the seq scan); the same rows before and after: $BI_SAME"
for v in "${JVIEWS[@]}"; do
    say "  $v: ${BI_ROWS[$v]} rows; ${BI_COLD[$v]} ms with nothing rolled up, ${BI_ROLLED[$v]} ms rolled up, ${BI_TAILMS[$v]} ms with a tail of $BI_TAIL"
done
for v in "${OVIEWS[@]}"; do
    say "  $v: ${BI_ROWS[$v]} rows in ${BI_COLD[$v]} ms"
done

# ---------------------------------------------------------------- evidence (reconcile)

if [[ $DIAG == 1 ]]; then
    section "evidence: reconcile"
    # where reconcile's time goes
    q -c 'SET max_parallel_workers_per_gather = 0' \
        -c 'EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM wallet._discrepancies()' \
        >"$WORK/explain-reconcile.txt" 2>&1 || true
    q -c 'SET max_parallel_workers_per_gather = 0' \
        -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $SCAN_SQL" >"$WORK/explain-scan.txt" 2>&1 || true
    echo "  EXPLAIN ANALYZE: reconcile and the seq scan"
fi

# ---------------------------------------------------------------- results

met() { # CONDITION (awk) -> met/MISSED
    if [[ -z $1 ]]; then echo "n/a"; elif awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**MISSED**"; fi
}
fmt() { [[ -n ${1:-} ]] && echo "$1" || echo "n/a"; }
tpsn() { [[ -n ${1:-} ]] && calc "$1" 0 || echo "n/a"; }

section "card intake: a batch of 10,000 cards (test/bench/cards.sh)"
CARDS_LOG=$(BENCH_DB=wallet_bench_cards "$HERE/cards.sh" 2>&1) || true
echo "$CARDS_LOG"
R_CARDS=$(sed -n 's/.*: median \([0-9.]*\) (target.*/\1/p' <<<"$CARDS_LOG")
CARDS_ROUNDS_TXT=$(sed -n 's/^round [0-9]*: .*ratio \([0-9.]*\)$/\1/p' <<<"$CARDS_LOG" | paste -sd, - | sed 's/,/, /g')

section "statement page: a journal of 10^4 rows against one of $STMT_ROWS (test/bench/statement.sh)"
STMT_LOG=$(STMT_ROWS=$STMT_ROWS STMT_SECONDS=$T BENCH_DB=wallet_bench_stmt "$HERE/statement.sh" 2>&1) || true
echo "$STMT_LOG"
R_STMT=$(sed -n 's/^statement page on .*: \([0-9.]*\) (target.*/\1/p' <<<"$STMT_LOG")
STMT_SMALL=$(sed -n 's/^statement page (.*) on a journal of \([0-9]*\) rows: \([0-9.]*\) ms$/\1 rows: \2 ms/p' <<<"$STMT_LOG")
STMT_LARGE=$(sed -n 's/^statement page (.*) on a journal of \([0-9]*\) rows: \([0-9.]*\) ms (grown.*/\1 rows: \2 ms/p' <<<"$STMT_LOG")

section "spend through the router against a shard directly (test/bench/router.sh)"
ROUTER_LOG=$(ROUTER_SECONDS=$T ROUTER_ROUNDS=$REPEAT "$HERE/router.sh" 2>&1) || true
echo "$ROUTER_LOG"
R_ROUTER=$(sed -n 's/^spend through the router .*: median \([0-9.]*\) (target.*/\1/p' <<<"$ROUTER_LOG")
ROUTER_ROUNDS_TXT=$(sed -n 's/^round [0-9]*: .*ratio \([0-9.]*\)$/\1/p' <<<"$ROUTER_LOG" | paste -sd, - | sed 's/,/, /g')
ROUTER_PAPER=$(sed -n 's/^paper estimate at 16 shards: //p' <<<"$ROUTER_LOG")

R_SPEND8=$(ratio spend 8)
R_REWARD8=$(ratio spend_reward 8)
R_TOPUP8=$(ratio top_up 8)
R_LIMITS8=$(ratio spend_limits 8)
R_PEER8=$(ratio peer_spend 8)
R_PAYEE32=$(ratio spend_payee 32)
R_REVERSE8=$(ratio reverse_spend 8)
R_REFUND8=$(ratio refund 8)
R_HOLD8=$(ratio hold 8)
R_CAPTURE8=$(ratio capture_hold 8)
R_RELEASE8=$(ratio release_hold 8)
R_SPEND32=$(ratio spend 32)
R_WITHDRAW8=$(ratio request_withdrawal 8)
R_TRANSFER8=$(ratio transfer 8)
R_DONATE1_32=$(ratio donate_one 32)
R_DONATEN_32=$(ratio donate_many 32)
pair spend peer_spend 8 8
VS_PEER=$PAIR VS_PEER_ROUNDS=$PAIRS
pair spend_payee spend 32 32
VS_NOPAYEE=$PAIR VS_NOPAYEE_ROUNDS=$PAIRS
pair donate_one donate_many 32 32
VS_MANY=$PAIR VS_MANY_ROUNDS=$PAIRS
R_EXPIRE=$(calc "$T_SWEEP / $T_PLAIN" 2)
R_REC=$(calc "$T_REC / $T_SCAN" 2)
R_P99=$([[ -n $P99_DURING && -n $P99_QUIET ]] && calc "$P99_DURING / $P99_QUIET" 2 || true)

md "# wallet benchmark results"
md ""
md "Generated by \`make bench\` (test/bench/run.sh) on $STARTED; wallet commit $COMMIT$( ((DIRTY > 0)) && echo " plus $DIRTY uncommitted change(s) under src/")."
md ""
md "- Machine: $NPROC CPUs ($CPU), $MEM RAM, Linux $KERNEL; load average $LOADAVG at the start (other work may share the machine: the ratios to the floor measured next to each figure are what count)."
md "- PostgreSQL: $PGVERSION"
md "- Settings (defaults of a fresh initdb unless listed in the harness): $(tr '\n' ';' <<<"$SETTINGS" | sed 's/;$//; s/;/; /g')."
md "- Run: ${T}s per pgbench run (-M prepared, -j 2, a CHECKPOINT before each run), clients ${CLIENTS[*]}, $REPEAT round(s); $WALLETS CNY wallets; journal $JROWS rows."
md "- Load: $WALLETS wallets opened in ${T_OPEN}s, $((3 * WALLETS)) top-ups (100, 200, 500) in ${T_TOPUP}s ($(calc "3 * $WALLETS / $T_TOPUP" 0)/s, set-based \`SELECT wallet.top_up(...) FROM generate_series\`); each wallet holds $LOTS_CHECK. $WALLETS earners given 10000.00 of earnings each (\`wallet.adjust\`) in ${T_EARN}s. The peer's load: ${T_PEER}s (peer.top_up, 2 sessions)."
md ""
md "## Throughput, each beside the floor measured next to it"
md ""
md "The floor (floor.pgb) is one statement: update one row of a ${WALLETS}-row table by primary key and insert one journal row with a unique text key. The two-row floor (floor2.pgb), the floor of the transfers, is one statement too: update two rows of that table by primary key (a sender and a receiver) and insert one journal row. Each script runs between two runs of its floor at the same client count; *floor TPS* is their mean.$( ((REPEAT > 1)) && echo " The whole sequence ran $REPEAT times; each figure is the median over the rounds (the ratio is the median of the rounds' ratios); a comparison of two scripts in the targets is the median of the rounds' quotients of their two ratios.")"
md ""
md "| operation | clients | TPS | floor | floor TPS | ratio to floor |"
md "|---|---:|---:|---|---:|---:|"
for s in "${SCRIPTS[@]}"; do
    for c in "${CLIENTS[@]}"; do
        md "| $s | $c | $(tps "${TPS[$s:$c]:-}") | $(floor_of "$s") | $(tps "${FLOOR[$s:$c]:-}") | $(ratio "$s" "$c") |"
    done
done
md ""
md "refund = one request_refund + review_refund + settle_refund flow: three statements, three round trips, three transactions (the floor does one). spend_reward: as spend, in scene shop, where a reward rule gives a point per 1.00 to the owner's points wallet. spend_limits: spend's spends under two limit rules of CNY (test/bench/spend_limits_setup.sql: a day's amount of spends, a month's count of debits; never reached). reverse_spend reverses in full a spend made before the run. spend_payee: every client pays one merchant. hold: 1.00 to 15.00 held for an hour. capture_hold and release_hold take all of a hold of 2.00 made before the run. request_withdrawal: 1.00 to 15.00 of an earner's earnings, approved at once. transfer: 1.00 to 15.00 of earnings from a random earner to another. donate_one: the same from random earners, kind donation, every client to one charity; donate_many: each client to a charity of its own. peer_*: test/bench/peer.sql."
md ""
md "## Targets"
md ""
md "| target | measured | met? |"
md "|---|---|---|"
md "| spend at 8 clients >= 0.85 x floor | $(if [[ -n $R_SPEND8 ]]; then echo "$(fmt "$R_SPEND8") x floor ($(tpsn "${TPS[spend:8]:-}") vs $(tpsn "${FLOOR[spend:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_SPEND8:+$R_SPEND8 >= 0.85}") |"
md "| spend with a reward rule in force at 8 clients >= 0.8 x floor | $(if [[ -n $R_REWARD8 ]]; then echo "$(fmt "$R_REWARD8") x floor ($(tpsn "${TPS[spend_reward:8]:-}") vs $(tpsn "${FLOOR[spend_reward:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_REWARD8:+$R_REWARD8 >= 0.8}") |"
md "| spend with two limit rules in force at 8 clients >= 0.8 x floor | $(if [[ -n $R_LIMITS8 ]]; then echo "$(fmt "$R_LIMITS8") x floor ($(tpsn "${TPS[spend_limits:8]:-}") vs $(tpsn "${FLOOR[spend_limits:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_LIMITS8:+$R_LIMITS8 >= 0.8}") |"
md "| top_up at 8 clients >= 0.85 x floor | $(if [[ -n $R_TOPUP8 ]]; then echo "$(fmt "$R_TOPUP8") x floor ($(tpsn "${TPS[top_up:8]:-}") vs $(tpsn "${FLOOR[top_up:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_TOPUP8:+$R_TOPUP8 >= 0.85}") |"
md "| reverse_spend at 8 clients >= 0.7 x floor | $(if [[ -n $R_REVERSE8 ]]; then echo "$(fmt "$R_REVERSE8") x floor ($(tpsn "${TPS[reverse_spend:8]:-}") vs $(tpsn "${FLOOR[reverse_spend:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_REVERSE8:+$R_REVERSE8 >= 0.7}") |"
md "| refund flow at 8 clients >= 0.25 x floor | $(if [[ -n $R_REFUND8 ]]; then echo "$(fmt "$R_REFUND8") x floor ($(tpsn "${TPS[refund:8]:-}") flows vs $(tpsn "${FLOOR[refund:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_REFUND8:+$R_REFUND8 >= 0.25}") |"
md "| hold at 8 clients >= 0.8 x floor | $(if [[ -n $R_HOLD8 ]]; then echo "$(fmt "$R_HOLD8") x floor ($(tpsn "${TPS[hold:8]:-}") vs $(tpsn "${FLOOR[hold:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_HOLD8:+$R_HOLD8 >= 0.8}") |"
md "| capture_hold at 8 clients >= 0.8 x floor | $(if [[ -n $R_CAPTURE8 ]]; then echo "$(fmt "$R_CAPTURE8") x floor ($(tpsn "${TPS[capture_hold:8]:-}") vs $(tpsn "${FLOOR[capture_hold:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_CAPTURE8:+$R_CAPTURE8 >= 0.8}") |"
md "| release_hold at 8 clients >= 0.8 x floor | $(if [[ -n $R_RELEASE8 ]]; then echo "$(fmt "$R_RELEASE8") x floor ($(tpsn "${TPS[release_hold:8]:-}") vs $(tpsn "${FLOOR[release_hold:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_RELEASE8:+$R_RELEASE8 >= 0.8}") |"
md "| request_withdrawal at 8 clients >= 0.8 x floor | $(if [[ -n $R_WITHDRAW8 ]]; then echo "$(fmt "$R_WITHDRAW8") x floor ($(tpsn "${TPS[request_withdrawal:8]:-}") vs $(tpsn "${FLOOR[request_withdrawal:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_WITHDRAW8:+$R_WITHDRAW8 >= 0.8}") |"
md "| transfer at 8 clients >= 0.8 x two-row floor | $(if [[ -n $R_TRANSFER8 ]]; then echo "$(fmt "$R_TRANSFER8") x floor2 ($(tpsn "${TPS[transfer:8]:-}") vs $(tpsn "${FLOOR[transfer:8]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${R_TRANSFER8:+$R_TRANSFER8 >= 0.8}") |"
md "| spend at 8 clients >= 2 x peer | $(if [[ -n $VS_PEER ]]; then echo "$(fmt "$VS_PEER") x peer (rounds: ${VS_PEER_ROUNDS// /, }; medians $R_SPEND8 vs $R_PEER8 x floor, $(tpsn "${TPS[spend:8]:-}") vs $(tpsn "${TPS[peer_spend:8]:-}") TPS; 2 x the peer asks spend for $(calc "2 * $R_PEER8" 2) x floor)"; else echo "not measured in this run"; fi) | $(met "${VS_PEER:+$VS_PEER >= 2}") |"
md "| all pay one merchant at 32 clients >= 0.8 x without payee | $(if [[ -n $VS_NOPAYEE ]]; then echo "$(fmt "$VS_NOPAYEE") x (rounds: ${VS_NOPAYEE_ROUNDS// /, }; medians $R_PAYEE32 vs $R_SPEND32 x floor, $(tpsn "${TPS[spend_payee:32]:-}") vs $(tpsn "${TPS[spend:32]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${VS_NOPAYEE:+$VS_NOPAYEE >= 0.8}") |"
md "| all donate to one charity at 32 clients >= 0.8 x to distinct receivers | $(if [[ -n $VS_MANY ]]; then echo "$(fmt "$VS_MANY") x (rounds: ${VS_MANY_ROUNDS// /, }; medians $R_DONATE1_32 vs $R_DONATEN_32 x floor2, $(tpsn "${TPS[donate_one:32]:-}") vs $(tpsn "${TPS[donate_many:32]:-}") TPS)"; else echo "not measured in this run"; fi) | $(met "${VS_MANY:+$VS_MANY >= 0.8}") |"
md "| expire_bonus <= 2 x plain UPDATE | $R_EXPIRE x: $SWEPT lots in ${T_SWEEP}s ($(calc "$SWEPT / $T_SWEEP" 0) lots/s) vs $PLAIN_ROWS rows in ${T_PLAIN}s ($(calc "$PLAIN_ROWS / $T_PLAIN" 0) rows/s) | $(met "$R_EXPIRE <= 2") |"
md "| reconcile <= 2 x seq scan | $R_REC x: ${T_REC}s vs ${T_SCAN}s (serial scans ${T_SCAN1}s, ${T_SCAN2}s; parallel scan ${T_SCANP}s, $(calc "$T_REC / $T_SCANP" 2) x); $JROWS journal rows, $DISCREP discrepancies | $(met "$R_REC <= 2") |"
md "| p99 of spends during a sweep <= 2 x without | $(fmt "$R_P99") x: ${P99_DURING:-?} ms during the sweeps vs ${P99_QUIET:-?} ms in the quiet windows between them (each window: $P99_DW ms during, $P99_QW ms quiet); 8 clients at $RATE spends/s | $(met "${R_P99:+$R_P99 <= 2}") |"
md "| 10,000 cards submitted in one call < 2 x one INSERT of them with their hashes | $(if [[ -n $R_CARDS ]]; then echo "$R_CARDS x (rounds: $CARDS_ROUNDS_TXT; test/bench/cards.sh)"; else echo "not measured in this run"; fi) | $(met "${R_CARDS:+$R_CARDS < 2}") |"
md "| statement page on a large journal <= 3 x on 10^4 rows | $(if [[ -n $R_STMT ]]; then echo "$R_STMT x ($STMT_LARGE against $STMT_SMALL; test/bench/statement.sh)"; else echo "not measured in this run"; fi) | $(met "${R_STMT:+$R_STMT <= 3}") |"
md "| spend through the router at 8 clients >= 0.5 x on a shard directly | $(if [[ -n $R_ROUTER ]]; then echo "$R_ROUTER x (rounds: $ROUTER_ROUNDS_TXT; one machine holds the router and both shards; 16 shards on paper: $ROUTER_PAPER)"; else echo "not measured in this run"; fi) | $(met "${R_ROUTER:+$R_ROUTER >= 0.5}") |"
md "| memory growth <= 10 MB (10,000 -> $MEM_SPENDS spends, one session) | private (RssAnon) $ANON_GROWTH MB; VmRSS $RSS_GROWTH MB, of which shared buffers touched $SHM_GROWTH MB; memory contexts $CTX_GROWTH MB | $(met "$ANON_GROWTH <= 10") |"
md ""
md "How the batch figures are measured:"
md ""
md "- expire_bonus: $EXPIRE_WALLETS USD wallets, each with four expired bonus lots (and four live ones), swept by \`CALL bench.sweep()\` = \`wallet.expire_bonus(10000)\` in a loop, one transaction per batch, \`wallet.now\` set past the expiry. The comparison is one \`UPDATE\` of $PLAIN_ROWS rows of bench.lot_plain (a lot table: bigint id, wallet id, bucket, amounts, expiry, scope; two indexes). WAL written: $WAL_SWEEP MB by the sweep (which compresses its full-page images with lz4), $WAL_PLAIN MB by the UPDATE (the server default, no compression), each after a checkpoint."
md "- reconcile: \`SELECT count(*) FROM wallet.reconcile()\` against \`$SCAN_SQL\` with max_parallel_workers_per_gather = 0 (one scan before and one after; the parallel scan is shown too). The journal holds the rows of the whole run plus $SYNTH synthetic rows inserted directly into wallet.txn (pairs of a top-up and a spend of EUR wallets, with request/result jsonb like real ones, balanced postings), then VACUUM ANALYZE."
md "- p99: one pgbench run, -R $RATE (${P99_LOAD} x the 8-client spend TPS) -c 8, of $((2 * P99_SWEEPS + 2)) windows of ${P99_WIN}s: a warm-up (not counted), then alternately quiet and with a sweep (\`CALL wallet.expire_bonus_all()\`, the extension's paced catch-up sweep with its defaults, batches of 1,000 wallets working at most a tenth of the time, clock 2025-04-01; cancelled at the end of its window: $SWEPT_B lots over ${SWEEP_S}s in $P99_SWEEPS windows), after a VACUUM ANALYZE and a CHECKPOINT. Latency from the scheduled start (so queueing counts), from the per-transaction logs (-l); *during*: the $N_DURING transactions that ended in a sweep window or in the second after it; *quiet*: the other $N_QUIET."
md "- wallet.balance() of random wallets: $BAL_BEFORE ms a call while the run's $PENDING payee credits (to the merchant, the earners of transfers and the charities) were pending, $BAL_AFTER ms after \`wallet.rollup_credits()\` (reconcile was measured after it)."
md "- memory: one psql session runs \`CALL bench.spend_loop()\` (wallet.spend on random wallets, a commit every 1,000 spends); VmRSS/RssAnon/RssShmem read from /proc/<backend pid>/status (as root) after $MEM_FIRST and after $MEM_SPENDS spends. VmRSS grows with every shared-buffer page the backend touches (RssShmem), which is not memory it owns; RssAnon is its private memory, the target's measure. Sum of pg_backend_memory_contexts: $(calc "$CTX1 / 1048576" 2) -> $(calc "$CTX2 / 1048576" 2) MB."
md ""
md "## BI views over the journal (no target)"
md ""
md "Each view read whole, every row and column (\`bench.read_view\`), serial (max_parallel_workers_per_gather = 0) as the seq scan of the reconcile figure (${T_SCAN}s over the $JROWS-row journal). *Nothing rolled up*: the roll-up tables emptied and the watermark at 0, so the view aggregates the whole journal; *rolled up*: after \`wallet.refresh_reports()\` has rolled it all up; then after $BI_TAIL more spends, the unrolled tail the view adds to the roll-ups."
md ""
md "| view | rows | nothing rolled up | / seq scan | rolled up | rolled up + a tail of $BI_TAIL spends |"
md "|---|---:|---:|---:|---:|---:|"
for v in "${JVIEWS[@]}"; do
    md "| wallet_report.$v | ${BI_ROWS[$v]} | $(calc "${BI_COLD[$v]} / 1000" 1) s | $(calc "${BI_COLD[$v]} / 1000 / $T_SCAN" 2) | ${BI_ROLLED[$v]} ms | ${BI_TAILMS[$v]} ms |"
done
for v in "${OVIEWS[@]}"; do
    md "| wallet_report.$v (reads no journal) | ${BI_ROWS[$v]} | ${BI_COLD[$v]} ms | | | |"
done
md ""
md "\`wallet.refresh_reports()\` rolled up the $ROLLED transactions in ${T_REFRESH}s ($(calc "$ROLLED / $T_REFRESH" 0) a second; $R_REFRESH x the seq scan), called until it returned 0, each call at most its default batch of 1,000,000. The three views gave the same rows (count and digest) before and after the roll-up: $BI_SAME."

if [[ $DIAG == 1 ]]; then
    ev "## Evidence collected by this run"
    ev ""
    ev "### Without the commit flush: 8 clients, synchronous_commit = off, alternating with the floor"
    ev ""
    ev "| operation | TPS | floor TPS | ratio to floor | ratio with the flush (table above) |"
    ev "|---|---:|---:|---:|---:|"
    for s in spend top_up peer_spend; do
        r=$([[ -n ${CPU_TPS[$s]:-} && -n ${CPU_FLOOR[$s]:-} ]] && calc "${CPU_TPS[$s]} / ${CPU_FLOOR[$s]}" 3 || true)
        ev "| $s | $(tps "${CPU_TPS[$s]:-}") | $(tps "${CPU_FLOOR[$s]:-}") | $r | $(ratio "$s" 8) |"
    done
    ev ""
    for s in floor spend top_up peer_spend; do
        [[ -f $WORK/pgss-$s.tsv ]] || continue
        ev "### pg_stat_statements: $s, 8 clients, ${T}s, track = all ($(tps "${PGSS_TPS[$s]:-}") TPS with tracking on)"
        ev ""
        ev "| calls | total ms | mean ms | shared hit | read | dirtied | WAL bytes | statement |"
        ev "|---:|---:|---:|---:|---:|---:|---:|---|"
        awk -F '\t' '{ gsub(/\|/, "\\|", $8); printf "| %s | %s | %s | %s | %s | %s | %s | `%s` |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' \
            "$WORK/pgss-$s.tsv" >>"$EVIDENCE"
        ev ""
    done
    if [[ -f $WORK/pgss-sweep.tsv ]]; then
        ev "### pg_stat_statements: the background expiry sweep of the p99 test (track = all in that session only)"
        ev ""
        ev "| calls | total ms | mean ms | shared hit | read | dirtied | WAL bytes | statement |"
        ev "|---:|---:|---:|---:|---:|---:|---:|---|"
        awk -F '\t' '{ gsub(/\|/, "\\|", $8); printf "| %s | %s | %s | %s | %s | %s | %s | `%s` |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' \
            "$WORK/pgss-sweep.tsv" >>"$EVIDENCE"
        ev ""
    fi
    for s in floor spend; do
        [[ -s $WORK/perf-$s.txt ]] || continue
        ev "### perf: server backends of $s at 8 clients (self time by library, then the top 30 symbols)"
        ev ""
        ev '```'
        cat "$WORK/perf-$s.txt" >>"$EVIDENCE"
        ev '```'
        ev ""
    done
    for f in reconcile scan; do
        [[ -s $WORK/explain-$f.txt ]] || continue
        ev "### EXPLAIN (ANALYZE, BUFFERS): $([[ $f == scan ]] && echo "the seq scan" || echo "reconcile's query (wallet._discrepancies)"), serial"
        ev ""
        ev '```'
        cat "$WORK/explain-$f.txt" >>"$EVIDENCE"
        ev '```'
        ev ""
    done
fi

# keep the hand-written analysis of an earlier run
ANALYSIS=$WORK/analysis.md
: >"$ANALYSIS"
if [[ -f $OUT ]] && grep -q '^<!-- analysis -->' "$OUT"; then
    sed -n '/^<!-- analysis -->/,$p' "$OUT" >"$ANALYSIS"
fi
{
    cat "$MD"
    echo
    cat "$EVIDENCE"
    if [[ -s $ANALYSIS ]]; then
        cat "$ANALYSIS"
    else
        echo "<!-- analysis -->"
        echo "## Analysis"
        echo
        echo "(not written yet for this run)"
    fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

section "results (also in ${OUT#"$ROOT"/})"
cat "$MD"
((RC_FAIL == 0)) || die "some runs failed (see above); their figures are marked FAILED"
