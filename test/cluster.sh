# shellcheck shell=bash
# Throwaway PostgreSQL 15 cluster for the test and demo harness.
#
# Source this file, then:
#   cluster_start   create, configure and start a private cluster; exports
#                   PGHOST, PGPORT, PGUSER (and PATH, WALLET_PG_*) so that
#                   psql, pg_regress, pg_prove, pgbench ... connect to it
#   cluster_stop    stop that cluster and delete its directory (idempotent)
#
# Callers must install the cleanup themselves, before cluster_start:
#   trap cluster_stop EXIT
#   trap 'exit 130' INT; trap 'exit 143' TERM   # both end up in the EXIT trap
#
# The server runs as the Debian `postgres` user (PostgreSQL refuses root);
# clients may run as root and connect as PGUSER=postgres over a Unix socket
# in the private directory. Scripts run by the harness (test/suites/*.sh)
# inherit the exported variables and may source this file again to use
# cluster_pg_ctl / cluster_restart / cluster_ensure_running on that cluster.

WALLET_PG_BIN=${WALLET_PG_BIN:-/usr/lib/postgresql/15/bin}
export WALLET_PG_BIN

# Run a command as the postgres user, from a directory it can read.
_cluster_as_postgres() {
    (cd "${WALLET_PG_TMP:-/}" && runuser -u postgres -- "$@")
}

# pg_ctl on the harness cluster (data dir, log file fixed).
cluster_pg_ctl() {
    _cluster_as_postgres "$WALLET_PG_BIN/pg_ctl" -D "$WALLET_PGDATA" -l "$WALLET_PG_TMP/log" "$@"
}

# Last lines of the server log (WALLET_LOG_TAIL of them), for diagnosing failures.
cluster_log_tail() {
    local n=${WALLET_LOG_TAIL:-60}
    if [[ -n ${WALLET_PG_TMP:-} && -f $WALLET_PG_TMP/log ]]; then
        echo "----- last $n lines of the server log ($WALLET_PG_TMP/log) -----" >&2
        tail -n "$n" "$WALLET_PG_TMP/log" >&2 || true
        echo "----- end of server log -----" >&2
    fi
}

# True if nothing seems to use this port (TCP on loopback or a socket file).
_cluster_port_free() {
    local port=$1 dir
    for dir in /tmp /var/run/postgresql /run/postgresql; do
        [[ -e $dir/.s.PGSQL.$port ]] && return 1
    done
    if command -v ss >/dev/null 2>&1; then
        ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 1
    fi
    # a successful connect means something listens there
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 1
    return 0
}

cluster_start() {
    if [[ -n ${WALLET_PG_TMP:-} ]]; then
        echo "cluster_start: a cluster is already running in $WALLET_PG_TMP" >&2
        return 1
    fi
    if [[ ! -x $WALLET_PG_BIN/initdb ]]; then
        echo "cluster_start: $WALLET_PG_BIN/initdb not found (run 'make deps')" >&2
        return 1
    fi
    if ! id postgres >/dev/null 2>&1; then
        echo "cluster_start: the 'postgres' user does not exist (run 'make deps')" >&2
        return 1
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "cluster_start: must run as root (the server is started via runuser -u postgres)" >&2
        return 1
    fi

    # short path under /tmp: Unix socket paths are limited to ~107 bytes
    WALLET_PG_TMP=$(mktemp -d /tmp/wallet-pg.XXXXXX) || return 1
    export WALLET_PG_TMP
    export WALLET_PGDATA=$WALLET_PG_TMP/data
    chown postgres: "$WALLET_PG_TMP" && chmod 700 "$WALLET_PG_TMP" || return 1

    local port=54320
    while ! _cluster_port_free "$port"; do
        port=$((port + 1))
        if ((port > 54420)); then
            echo "cluster_start: no free port in 54320-54420" >&2
            return 1
        fi
    done

    echo "cluster: initdb in $WALLET_PGDATA (port $port)"
    if ! _cluster_as_postgres "$WALLET_PG_BIN/initdb" -D "$WALLET_PGDATA" -A trust -U postgres \
        --no-sync --encoding=UTF8 --locale=C >"$WALLET_PG_TMP/initdb.log" 2>&1; then
        echo "cluster_start: initdb failed:" >&2
        cat "$WALLET_PG_TMP/initdb.log" >&2
        return 1
    fi

    # pg_cron's launcher connects to wallet_cron: create it before the first
    # start (single-user mode, no listener) so the launcher finds it at once
    if ! _cluster_as_postgres "$WALLET_PG_BIN/postgres" --single -D "$WALLET_PGDATA" postgres \
        <<<'CREATE DATABASE wallet_cron' >"$WALLET_PG_TMP/single.log" 2>&1; then
        echo "cluster_start: could not create database wallet_cron:" >&2
        cat "$WALLET_PG_TMP/single.log" >&2
        return 1
    fi

    cat >>"$WALLET_PGDATA/postgresql.conf" <<EOF

# --- throwaway test cluster ---
listen_addresses = ''
unix_socket_directories = '$WALLET_PG_TMP'
port = $port
max_connections = 100
timezone = 'UTC'
log_timezone = 'UTC'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'wallet_cron'
# pg_cron's job connections go through the Unix socket (no TCP listener)
cron.host = '$WALLET_PG_TMP'
EOF

    export PGHOST=$WALLET_PG_TMP PGPORT=$port PGUSER=postgres
    unset PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS 2>/dev/null || true
    export PATH=$WALLET_PG_BIN:$PATH

    if ! cluster_pg_ctl -w -t 60 start >/dev/null; then
        echo "cluster_start: the server did not start" >&2
        cluster_log_tail
        return 1
    fi
    echo "cluster: running, PGHOST=$PGHOST PGPORT=$PGPORT"
}

# Restart the harness cluster (mode: fast, immediate, smart).
cluster_restart() {
    local mode=${1:-fast}
    cluster_pg_ctl -w -t 60 -m "$mode" restart >/dev/null
}

# Start the cluster again if a suite left it stopped or crashed.
cluster_ensure_running() {
    [[ -n ${WALLET_PGDATA:-} ]] || return 1
    if ! cluster_pg_ctl status >/dev/null 2>&1; then
        echo "cluster: server not running, starting it again" >&2
        cluster_pg_ctl -w -t 60 start >/dev/null || { cluster_log_tail; return 1; }
    fi
}

# Stop the cluster started by cluster_start and delete its directory.
# Safe to call more than once and from an EXIT trap; never fails.
cluster_stop() {
    local rc=$? errexit=0
    [[ -n ${WALLET_PG_TMP:-} ]] || return 0
    [[ $- == *e* ]] && errexit=1
    set +e
    if ((rc != 0)); then
        cluster_log_tail
    fi
    if [[ -f $WALLET_PGDATA/postmaster.pid ]]; then
        # stop only the server of this data dir (pg_ctl reads its pid file)
        if ! cluster_pg_ctl -w -t 30 -m fast stop >/dev/null 2>&1; then
            cluster_pg_ctl -w -t 30 -m immediate stop >/dev/null 2>&1
            local pid
            pid=$(head -n 1 "$WALLET_PGDATA/postmaster.pid" 2>/dev/null)
            if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null
            fi
        fi
    fi
    rm -rf "$WALLET_PG_TMP"
    echo "cluster: stopped and removed $WALLET_PG_TMP"
    unset WALLET_PG_TMP WALLET_PGDATA
    ((errexit)) && set -e
    return 0
}
