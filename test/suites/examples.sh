#!/usr/bin/env bash
# examples: the integration examples of docs/integration.md run and print what they should.
#
# In a fresh database with the extension, as login roles that are members of wallet_app and
# wallet_reader (as an application would connect), examples/python/wallet_example.py (psycopg 3)
# and examples/node/wallet_example.js (pg from ./node_modules) each run once; their output must
# equal examples/python/expected.out and examples/node/expected.out: amounts as Decimal / strings,
# a replayed retry, the errors WL001, WL003 and 22023 told apart by SQLSTATE, balances and the
# journal read as wallet_reader. Both print the same lines but for the types they name and the wallet
# ids (node runs second in the same database).
#
# Run by test/run.sh (make test) with PGHOST/PGPORT/PGUSER set for a running cluster where the
# extension is installed; needs python3-psycopg and node with ./node_modules/pg (make deps).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${PGHOST:?examples: PGHOST is not set (run through test/run.sh)}"
cd "$ROOT"
WORK=$(mktemp -d /tmp/wallet-examples.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DB=wallet_examples
FAILS=0

psql -X -q -d postgres -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $DB;
CREATE DATABASE $DB;
SQL
# the extension makes the roles wallet_app and wallet_reader; the examples log in as members
psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION wallet'
psql -X -q -d postgres -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wallet_example_app') THEN
    CREATE ROLE wallet_example_app LOGIN IN ROLE wallet_app;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wallet_example_reader') THEN
    CREATE ROLE wallet_example_reader LOGIN IN ROLE wallet_reader;
  END IF;
END \$\$;
SQL

# connection URIs, which libpq (psycopg) and pg read alike; the cluster listens on a Unix socket
export EXAMPLE_RUN=ci
export WALLET_APP_DSN="postgresql://wallet_example_app@/$DB?host=$PGHOST&port=${PGPORT:-5432}"
export WALLET_READER_DSN="postgresql://wallet_example_reader@/$DB?host=$PGHOST&port=${PGPORT:-5432}"

check() {
    local name=$1 expected=$2
    shift 2
    if ! "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        echo "FAIL: $name exited with an error:"
        cat "$WORK/$name.err"
        FAILS=$((FAILS + 1))
        return 0
    fi
    if diff -u "$expected" "$WORK/$name.out"; then
        echo "ok: $name prints $expected ($(wc -l <"$expected") lines)"
    else
        echo "FAIL: $name's output differs from $expected (above)"
        FAILS=$((FAILS + 1))
    fi
}

# Debian's python3 (python3-psycopg), also where another python3 comes first in PATH
PYTHON=python3
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import psycopg' 2>/dev/null && PYTHON=/usr/bin/python3
check python examples/python/expected.out "$PYTHON" examples/python/wallet_example.py
check node examples/node/expected.out node examples/node/wallet_example.js

# and the books hold after them
psql -X -q -A -t -d "$DB" -v ON_ERROR_STOP=1 -c 'SELECT count(*) FROM wallet.reconcile()' >"$WORK/reconcile"
if [[ $(cat "$WORK/reconcile") == 0 ]]; then echo "ok: reconcile is clean"; else echo "FAIL: reconcile found discrepancies"; FAILS=$((FAILS + 1)); fi

((FAILS == 0)) || { echo "examples: $FAILS failure(s)"; exit 1; }
echo "examples: PASS"
