#!/usr/bin/env bash
# Test and demo harness for the wallet extension.
#
#   test/run.sh deps    install the Debian packages the build and suites need
#   test/run.sh build   make && make install
#   test/run.sh test    deps, build, throwaway cluster, every suite, summary
#   test/run.sh demo    deps, build, throwaway cluster, run test/demo.sql
#   test/run.sh dashboard [OUT]
#                       the trend page of the report views (dashboard/build.js) of the demo's
#                       data (throwaway cluster), or of database $WALLET_DASHBOARD_DB
#   test/run.sh bench   run test/bench/run.sh against a throwaway cluster
#   test/run.sh instructions
#                       run test/bench/instructions.sh (instruction counts under
#                       valgrind) against a throwaway cluster
#   test/run.sh soak [SEED [STEPS]]
#                       deps, build, throwaway cluster, the model-based test
#                       (test/model/) for one seed (default: random) and STEPS
#                       steps (default 20000); a mismatch is shrunk and printed
#
# Environment knobs:
#   WALLET_TEST_BUDGET     seconds the whole `test` run may take (default 900)
#   WALLET_SUITE_TIMEOUT   seconds one suite may take (default 600)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# WALLET_PG_BIN may point at another (relocated) PostgreSQL 15 installation,
# e.g. a private copy for working on two branches side by side.
PG_BIN=${WALLET_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BIN/pg_config
EXT_DIR=$( [[ -x $PG_CONFIG ]] && "$PG_CONFIG" --sharedir || echo /usr/share/postgresql/15)/extension
export WALLET_PG_BIN=$PG_BIN WALLET_ROOT=$ROOT

# shellcheck source=test/cluster.sh
. "$ROOT/test/cluster.sh"

die() {
    echo "run.sh: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- deps

# Print what is missing, one item a line; nothing if all is there.
deps_missing() {
    [[ -x $PG_BIN/postgres ]] || echo "server binary $PG_BIN/postgres"
    if [[ -x $PG_CONFIG ]]; then
        local inc pgxs
        inc=$("$PG_CONFIG" --includedir-server)
        pgxs=$("$PG_CONFIG" --pgxs)
        [[ -f $inc/postgres.h ]] || echo "server headers $inc/postgres.h"
        [[ -f $pgxs ]] || echo "PGXS $pgxs"
    else
        echo "pg_config $PG_CONFIG"
    fi
    [[ -f $EXT_DIR/pg_cron.control ]] || echo "pg_cron $EXT_DIR/pg_cron.control"
    [[ -f $EXT_DIR/pgtap.control ]] || echo "pgTAP $EXT_DIR/pgtap.control"
    [[ -f $EXT_DIR/plproxy.control ]] || echo "PL/Proxy $EXT_DIR/plproxy.control"
    command -v pg_prove >/dev/null 2>&1 || echo "pg_prove"
    command -v make >/dev/null 2>&1 || echo "make"
    command -v gcc >/dev/null 2>&1 || echo "gcc"
    id postgres >/dev/null 2>&1 || echo "user postgres"
    # the dashboard (node, chart.js, chromium) and the integration examples (python3-psycopg, pg)
    command -v node >/dev/null 2>&1 || echo "node"
    command -v npm >/dev/null 2>&1 || echo "npm"
    command -v chromium >/dev/null 2>&1 || echo "chromium"
    # Debian's python3 (another python3 may come first in PATH)
    local py=/usr/bin/python3
    [[ -x $py ]] || py=python3
    "$py" -c 'import psycopg' 2>/dev/null || echo "python3-psycopg"
    return 0
}

# Print what npm would install from package-lock.json if it is missing; nothing if all is there.
npm_missing() {
    local p
    for p in chart.js pg; do
        [[ -f node_modules/$p/package.json ]] || echo "node_modules/$p"
    done
    return 0
}

# Install the npm packages of package-lock.json into ./node_modules (the npm registry).
npm_deps() {
    [[ -z $(npm_missing) ]] && return 0
    echo "deps: npm ci (package-lock.json)"
    npm ci --no-audit --no-fund || die "npm ci failed"
    [[ -z $(npm_missing) ]] || die "still missing after npm ci: $(npm_missing)"
}

cmd_deps() {
    local missing
    missing=$(deps_missing)
    if [[ -z $missing ]]; then
        npm_deps
        echo "deps: all present"
        return 0
    fi
    echo "deps: missing:"
    printf '  %s\n' "${missing//$'\n'/$'\n'  }"
    if [[ $(id -u) -ne 0 ]]; then
        die "missing dependencies and not root: run 'sudo make deps' (or install postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap postgresql-15-plproxy libtap-parser-sourcehandler-pgtap-perl nodejs npm chromium python3-psycopg)"
    fi
    local pkgs=(postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap postgresql-15-plproxy libtap-parser-sourcehandler-pgtap-perl
                chromium python3-psycopg)
    # Debian's nodejs (18 on bookworm) with its npm; a node installed otherwise brings its own npm
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
    command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1 && pkgs+=(npm)
    [[ -x $PG_BIN/postgres ]] || pkgs+=(postgresql-15)
    command -v make >/dev/null 2>&1 || pkgs+=(make)
    command -v gcc >/dev/null 2>&1 || pkgs+=(gcc)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update || die "apt-get update failed"
    apt-get install -y "${pkgs[@]}" || die "apt-get install failed"
    missing=$(deps_missing)
    [[ -z $missing ]] || die "still missing after apt-get install: $missing"
    npm_deps
    echo "deps: installed"
}

# ---------------------------------------------------------------- build

cmd_build() {
    echo "build: make"
    make PG_CONFIG="$PG_CONFIG" || die "BUILD FAILED (make)"
    echo "build: make install"
    make PG_CONFIG="$PG_CONFIG" install || die "INSTALL FAILED (make install)"
}

# ---------------------------------------------------------------- suites
# Each suite body runs as `run.sh _suite NAME` in a child process (so it can
# be put under `timeout`); the cluster variables are inherited.

# pgTAP files directly in test/ (test/demo.sql is the demo, not a test).
pgtap_files() {
    local f
    for f in test/*.sql; do
        [[ -f $f && $f != test/demo.sql ]] && echo "$f"
    done
    return 0
}

# Create the extensions a pg_prove database needs.
psql_setup() {
    local db=$1
    shift
    local args=() stmt
    for stmt in "$@"; do args+=(-c "$stmt"); done
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" "${args[@]}"
}

suite_body() {
    case $1 in
    regress)
        if ! make PG_CONFIG="$PG_CONFIG" installcheck ISOLATION=; then
            [[ -s regression.diffs ]] && { echo "----- regression.diffs -----"; cat regression.diffs; }
            return 1
        fi
        ;;
    isolation)
        if ! make PG_CONFIG="$PG_CONFIG" installcheck REGRESS=; then
            [[ -s output_iso/regression.diffs ]] && { echo "----- output_iso/regression.diffs -----"; cat output_iso/regression.diffs; }
            return 1
        fi
        ;;
    pgtap)
        local files
        mapfile -t files < <(pgtap_files)
        psql -X -q -d postgres -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
            -c 'DROP DATABASE IF EXISTS wallet_tap' -c 'CREATE DATABASE wallet_tap'
        psql_setup wallet_tap 'CREATE EXTENSION pgtap' 'CREATE EXTENSION wallet'
        pg_prove -d wallet_tap "${files[@]}"
        ;;
    cron)
        # wallet_cron is pg_cron's database (cron.database_name); wallet_cron_b is a second
        # wallet database, whose jobs are scheduled from wallet_cron (cron.schedule_in_database)
        psql -X -q -d postgres -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
            -c 'DROP DATABASE IF EXISTS wallet_cron_b' -c 'CREATE DATABASE wallet_cron_b'
        psql_setup wallet_cron 'CREATE EXTENSION IF NOT EXISTS pg_cron' \
            'CREATE EXTENSION IF NOT EXISTS pgtap' 'CREATE EXTENSION IF NOT EXISTS wallet'
        psql_setup wallet_cron_b 'CREATE EXTENSION pgtap' 'CREATE EXTENSION wallet'
        pg_prove -d wallet_cron test/cron/*.sql
        pg_prove -d wallet_cron_b test/cron/other_db/*.sql
        ;;
    *)
        die "unknown suite $1"
        ;;
    esac
}

PASSED=()
FAILED=()
SUITE_PID=

# Stop a running suite (its whole process group, via timeout) on INT/TERM.
on_signal() {
    local code=$1
    trap - INT TERM
    if [[ -n $SUITE_PID ]]; then
        kill -TERM "$SUITE_PID" 2>/dev/null || true
        wait "$SUITE_PID" 2>/dev/null || true
    fi
    exit "$code"   # the EXIT trap stops the cluster
}

install_traps() {
    trap cluster_stop EXIT
    trap 'on_signal 130' INT
    trap 'on_signal 143' TERM
}

# run_suite NAME COMMAND...: run under the time limit, record the outcome.
run_suite() {
    local name=$1
    shift
    local remaining=$((DEADLINE - SECONDS))
    echo
    echo "=== suite: $name ==="
    if ((remaining <= 10)); then
        echo "--- $name: FAIL (not run: time budget of ${WALLET_TEST_BUDGET}s used up)"
        FAILED+=("$name")
        return 0
    fi
    local limit=$((remaining < SUITE_TIMEOUT ? remaining : SUITE_TIMEOUT))
    local start=$SECONDS rc=0
    # timeout puts the suite in its own process group and kills all of it
    timeout -k 10 "$limit" "$@" &
    SUITE_PID=$!
    wait "$SUITE_PID" || rc=$?
    SUITE_PID=
    if ((rc == 0)); then
        echo "--- $name: PASS ($((SECONDS - start))s)"
        PASSED+=("$name")
    else
        ((rc == 124)) && echo "--- $name: timed out after ${limit}s"
        echo "--- $name: FAIL (exit $rc, $((SECONDS - start))s)"
        FAILED+=("$name")
    fi
    # a crash test may leave the server down: bring it back for the next suite
    cluster_ensure_running || true
}

skip_suite() {
    echo
    echo "=== suite: $1 === skipped ($2)"
}

print_summary() {
    echo
    ((${#PASSED[@]} == 0)) || echo "passed suites: ${PASSED[*]}"
    ((${#FAILED[@]} == 0)) || echo "FAILED suites: ${FAILED[*]}"
    echo "${#PASSED[@]} passed, ${#FAILED[@]} failed"
}

# Setup (deps, build, cluster) failed: count it as a failed suite and stop.
setup_failed() {
    FAILED+=("$1")
    cluster_stop
    print_summary
    exit 1
}

cmd_test() {
    WALLET_TEST_BUDGET=${WALLET_TEST_BUDGET:-900}
    SUITE_TIMEOUT=${WALLET_SUITE_TIMEOUT:-600}
    DEADLINE=$((SECONDS + WALLET_TEST_BUDGET))
    install_traps

    (cmd_deps) || setup_failed deps
    (cmd_build) || setup_failed build
    cluster_start || setup_failed cluster

    local self=$ROOT/test/run.sh f

    if compgen -G 'sql/*.sql' >/dev/null; then
        run_suite regress "$self" _suite regress
    else
        skip_suite regress "no sql/*.sql"
    fi
    if compgen -G 'specs/*.spec' >/dev/null; then
        run_suite isolation "$self" _suite isolation
    else
        skip_suite isolation "no specs/*.spec"
    fi
    if [[ -n $(pgtap_files) ]]; then
        run_suite pgtap "$self" _suite pgtap
    else
        skip_suite pgtap "no test/*.sql"
    fi
    if compgen -G 'test/cron/*.sql' >/dev/null; then
        run_suite cron "$self" _suite cron
    else
        skip_suite cron "no test/cron/*.sql"
    fi
    for f in test/suites/*.sh; do
        [[ -f $f ]] || continue
        if [[ -x $f ]]; then
            run_suite "$(basename "$f" .sh)" "$ROOT/$f"
        else
            skip_suite "$f" "not executable"
        fi
    done

    # stop the server first so the summary is the last line printed
    cluster_stop
    print_summary
    ((${#FAILED[@]} == 0))
}

# ---------------------------------------------------------------- demo

cmd_demo() {
    install_traps
    cmd_deps
    cmd_build
    cluster_start
    psql -X -q -d postgres -v ON_ERROR_STOP=1 -c 'CREATE DATABASE wallet_demo'
    psql -X -q -d wallet_demo -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION wallet'
    if [[ -f test/demo.sql ]]; then
        psql -X -v ON_ERROR_STOP=1 -e -d wallet_demo -f test/demo.sql
    else
        echo "demo: test/demo.sql does not exist yet; the extension was created in database wallet_demo"
    fi
    cluster_stop
}

# ---------------------------------------------------------------- dashboard

# dashboard_demo_db DB: a database with the demo's story and six weeks of traffic after it
# (dashboard/history.sql), on the running cluster.
dashboard_demo_db() {
    local db=$1
    psql -X -q -d postgres -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
        -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql -X -q -d "$db" -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION wallet'
    psql -X -q -d "$db" -v ON_ERROR_STOP=1 -f test/demo.sql >/dev/null
    psql -X -q -d "$db" -v ON_ERROR_STOP=1 -f dashboard/history.sql
}

# dashboard [OUT]: the trend page of a database's report views, written to OUT (default
# dashboard/index.html). With WALLET_DASHBOARD_DB set, from that database (libpq's PGHOST, PGPORT,
# PGUSER say where); otherwise from the demo's data on a throwaway cluster.
cmd_dashboard() {
    local out=${1:-dashboard/index.html}
    if [[ -n ${WALLET_DASHBOARD_DB:-} ]]; then
        npm_deps
        PGDATABASE=$WALLET_DASHBOARD_DB node dashboard/build.js --out "$out"
        return
    fi
    install_traps
    cmd_deps
    cmd_build
    cluster_start
    dashboard_demo_db wallet_demo
    PGDATABASE=wallet_demo node dashboard/build.js --out "$out"
    cluster_stop
}

# ---------------------------------------------------------------- bench

# bench_on_cluster SCRIPT [args]: build, a throwaway cluster, test/bench/SCRIPT against it (the
# caller has installed what it needs)
bench_on_cluster() {
    local script=$1 rc=0
    shift
    install_traps
    cmd_build
    cluster_start
    bash "test/bench/$script" "$@" || rc=$?
    cluster_stop
    return "$rc"
}

cmd_bench() {
    if [[ ! -f test/bench/run.sh ]]; then
        echo "bench: no benchmarks yet (test/bench/run.sh does not exist)"
        return 0
    fi
    cmd_deps
    bench_on_cluster run.sh "$@"
}

cmd_instructions() {
    cmd_deps
    if ! command -v valgrind >/dev/null 2>&1; then
        [[ $(id -u) -eq 0 ]] || die "instructions: valgrind is missing and not root: install valgrind"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update && apt-get install -y valgrind; } || die "instructions: could not install valgrind"
    fi
    bench_on_cluster instructions.sh "$@"
}

# ---------------------------------------------------------------- soak

cmd_soak() {
    local seed=${1:-} steps=${2:-}
    if [[ -z $seed ]]; then
        seed=$(((RANDOM << 15) | RANDOM))
        echo "soak: no SEED given, using seed $seed"
    fi
    steps=${steps:-20000}
    [[ $seed =~ ^[0-9]+$ && $steps =~ ^[0-9]+$ ]] || die "soak: SEED and STEPS must be whole numbers"
    install_traps
    cmd_deps
    cmd_build
    cluster_start
    local rc=0
    MODEL_SHRINK_BUDGET=${MODEL_SHRINK_BUDGET:-900} MODEL_RECONCILE_EVERY=${MODEL_RECONCILE_EVERY:-1000} \
        "$ROOT/test/model/run.sh" "$seed" "$steps" || rc=$?
    cluster_stop
    if ((rc == 0)); then
        echo "soak: seed $seed, $steps steps: the extension and the model agree"
    else
        echo "soak: seed $seed, $steps steps: FAILED (exit $rc)"
    fi
    return "$rc"
}

# ---------------------------------------------------------------- main

case ${1:-} in
deps) cmd_deps ;;
build) cmd_build ;;
test) cmd_test ;;
demo) cmd_demo ;;
dashboard) shift; cmd_dashboard "$@" ;;
_dashboard_demo_db) dashboard_demo_db "$2" ;;
bench) shift; cmd_bench "$@" ;;
instructions) shift; cmd_instructions "$@" ;;
soak) shift; cmd_soak "$@" ;;
_suite) suite_body "$2" ;;
*)
    echo "usage: $0 deps|build|test|demo|dashboard [OUT]|bench|instructions|soak [SEED [STEPS]]" >&2
    exit 2
    ;;
esac
