# test/load/lib.sh: helpers shared by the load suites (crash.sh, stress.sh).
# The caller sets PSQL, DB, LOAD and FAILURES=0 before sourcing it.

q() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
val() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

fail() {
    echo "FAIL: $*"
    FAILURES=$((FAILURES + 1))
}

# check NAME SQL: SQL returns the offending rows; none means pass.
check() {
    local name=$1 sql=$2 out
    out=$("$PSQL" -X -q -At -F ' | ' -v ON_ERROR_STOP=1 -d "$DB" -c "$sql") || {
        fail "$name: the check query failed"
        return 0
    }
    if [[ -n $out ]]; then
        fail "$name: $(wc -l <<<"$out") offending row(s); first ones:"
        head -n 10 <<<"$out" | sed 's/^/    /'
    else
        echo "ok: $name"
    fi
}

# fresh_db NAME: a new database $DB with the extension and the load helpers.
fresh_db() {
    echo "$1: fresh database $DB"
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'SET client_min_messages = warning' \
        -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
    q -c 'CREATE EXTENSION wallet' -f "$LOAD/functions.sql"
}
