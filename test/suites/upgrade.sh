#!/usr/bin/env bash
# upgrade: a database that ran wallet 0.1 updates to 0.2 and equals a fresh 0.2 install.
#
#  1. database wallet_up_fresh: CREATE EXTENSION wallet (the default version, 0.2).
#  2. database wallet_up_old: CREATE EXTENSION wallet VERSION '0.1', real operations through
#     the 0.1 functions (test/upgrade/ops_0.1.sql), a snapshot of the data
#     (test/upgrade/snapshot.sql), ALTER EXTENSION wallet UPDATE.
#  3. the schemas are equal: test/upgrade/describe.sql prints every member of the extension
#     with its definition (functions, tables, views, sequences, types, grants, pg_dump
#     configuration) in both databases and the two outputs must not differ; the check is
#     shown to catch a changed function body;
#  4. the data is the same as before the update (snapshot again, diffed);
#  5. test/upgrade/after_update.sql (pgTAP): version, partitions, replays of 0.1 keys,
#     operations, reconcile, archival on the updated database;
#  6. META.json is well-formed and names the version the Makefile builds.
#
# Run by test/run.sh with PGHOST/PGPORT/PGUSER set for a running cluster where the
# extension (both versions' scripts) is installed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d /tmp/wallet-upgrade.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILS=0

ok() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
: "${PGHOST:?upgrade: PGHOST is not set (run through test/run.sh)}"
cd "$ROOT"

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
describe() { q -d "$1" -f test/upgrade/describe.sql; }

q -d postgres -c 'SET client_min_messages = warning' \
    -c 'DROP DATABASE IF EXISTS wallet_up_fresh' -c 'CREATE DATABASE wallet_up_fresh' \
    -c 'DROP DATABASE IF EXISTS wallet_up_old' -c 'CREATE DATABASE wallet_up_old'

EXTVERSION=$(sed -n 's/^EXTVERSION *= *//p' Makefile)
q -d wallet_up_fresh -c 'CREATE EXTENSION wallet'
v=$(q -At -d wallet_up_fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'wallet'")
[[ $v == "$EXTVERSION" ]] && ok "a fresh install is at $v (the Makefile's EXTVERSION)" \
    || fail "a fresh install is at $v, the Makefile builds $EXTVERSION"

q -d wallet_up_old -c "CREATE EXTENSION wallet VERSION '0.1'"
v=$(q -At -d wallet_up_old -c "SELECT extversion FROM pg_extension WHERE extname = 'wallet'")
[[ $v == 0.1 ]] && ok "installed 0.1 against the new library" || fail "installed $v instead of 0.1"
if q -d wallet_up_old -f test/upgrade/ops_0.1.sql >"$WORK/ops.out" 2>&1; then
    ok "operations through the 0.1 functions ($(q -At -d wallet_up_old -c 'SELECT count(*) FROM wallet.txn') journal rows)"
else
    cat "$WORK/ops.out"
    fail "operations on 0.1"
fi
q -d wallet_up_old -f test/upgrade/snapshot.sql >"$WORK/before.out" 2>&1

# A privilege granted since the install (here on spend, which the update makes again with a
# new result type) survives the update. Granted in both databases, so that their descriptions
# (which list every ACL entry) still compare equal.
# (0.2 appended max_charge and step_up to spend: the grant on 0.1's spend is found on the new one.)
SPEND_SIG_01='wallet.spend(bigint, numeric, text, text, text, boolean, bigint, text)'
SPEND_SIG='wallet.spend(bigint, numeric, text, text, text, boolean, bigint, text, numeric, text)'
q -d postgres -c 'SET client_min_messages = warning' -c 'DROP ROLE IF EXISTS wallet_up_cashier' \
    -c 'CREATE ROLE wallet_up_cashier NOLOGIN'
q -d wallet_up_fresh -c "GRANT EXECUTE ON FUNCTION $SPEND_SIG TO wallet_up_cashier WITH GRANT OPTION"
q -d wallet_up_old -c "GRANT EXECUTE ON FUNCTION $SPEND_SIG_01 TO wallet_up_cashier WITH GRANT OPTION"

if q -d wallet_up_old -c 'ALTER EXTENSION wallet UPDATE' >"$WORK/update.out" 2>&1; then
    ok "ALTER EXTENSION wallet UPDATE"
else
    cat "$WORK/update.out"
    fail "ALTER EXTENSION wallet UPDATE"
fi
v=$(q -At -d wallet_up_old -c "SELECT extversion FROM pg_extension WHERE extname = 'wallet'")
[[ $v == "$EXTVERSION" ]] && ok "the updated database is at $v" || fail "the updated database is at $v"
v=$(q -At -d wallet_up_old -c "SELECT has_function_privilege('wallet_up_cashier', '$SPEND_SIG', 'EXECUTE WITH GRANT OPTION'),
                                       has_function_privilege('public', '$SPEND_SIG', 'EXECUTE'),
                                       pg_get_function_result('$SPEND_SIG'::regprocedure)")
[[ $v == "t|f|wallet.spend_result" ]] && ok "spend returns wallet.spend_result after the update and keeps a grant made on 0.1 (not PUBLIC's)" \
    || fail "spend after the update (grant to wallet_up_cashier, PUBLIC, result type): $v"

# the schema of the updated database equals a fresh install's
describe wallet_up_fresh >"$WORK/fresh.desc"
describe wallet_up_old >"$WORK/updated.desc"
if diff -u "$WORK/fresh.desc" "$WORK/updated.desc" >"$WORK/schema.diff"; then
    ok "the updated schema equals a fresh $EXTVERSION install ($(grep -c '' "$WORK/fresh.desc") lines of description," \
        "$(q -At -d wallet_up_fresh -c "SELECT count(*) FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e' AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'wallet')") member objects)"
else
    echo "----- fresh install (-) vs updated (+) -----"
    head -n 200 "$WORK/schema.diff"
    fail "the updated schema differs from a fresh install: update upgrade/wallet--0.1--0.2.sql"
fi
# the comparison sees a changed function body (in a transaction rolled back)
q -d wallet_up_fresh -c 'BEGIN' \
    -c "CREATE OR REPLACE FUNCTION wallet._policy(cur text) RETURNS wallet.policy LANGUAGE sql STABLE AS \$\$ SELECT p FROM wallet.policy p WHERE p.currency = cur \$\$" \
    -f test/upgrade/describe.sql -c 'ROLLBACK' >"$WORK/changed.desc"
if ! diff -q "$WORK/fresh.desc" "$WORK/changed.desc" >/dev/null; then
    ok "the comparison catches a changed function body"
else
    fail "the comparison did not see a changed function body"
fi

# the data is kept
q -d wallet_up_old -f test/upgrade/snapshot.sql >"$WORK/after.out" 2>&1
if diff -u "$WORK/before.out" "$WORK/after.out" >"$WORK/data.diff"; then
    ok "the data reads the same after the update ($(grep -c '' "$WORK/after.out") lines: journal, postings, wallets, refunds, coupons, reports)"
else
    head -n 100 "$WORK/data.diff"
    fail "the data changed in the update"
fi

# the updated database keeps working (pgTAP)
q -d wallet_up_old -c 'CREATE EXTENSION pgtap'
if pg_prove -d wallet_up_old test/upgrade/after_update.sql; then
    ok "after_update.sql"
else
    fail "after_update.sql"
fi

# One session across the update: a backend that ran 0.1 operations (its plans and cached
# relations made for the 0.1 schema) keeps working after ALTER EXTENSION UPDATE in the same
# session: new operations write their keys to wallet.txn_key, and keys of both sides replay.
q -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS wallet_up_live' \
    -c 'CREATE DATABASE wallet_up_live'
if q -At -d wallet_up_live >"$WORK/live.out" 2>&1 <<'SQL'; then
CREATE EXTENSION wallet VERSION '0.1';
SELECT wallet.open('live') AS w \gset
SELECT replayed FROM wallet.top_up(:w, 100, 'live-1');
SELECT replayed FROM wallet.spend(:w, 10, 'live-2');
ALTER EXTENSION wallet UPDATE;
SELECT replayed FROM wallet.spend(:w, 10, 'live-3');
SELECT replayed FROM wallet.top_up(:w, 100, 'live-1');
SELECT replayed FROM wallet.spend(:w, 10, 'live-2');
SELECT replayed FROM wallet.spend(:w, 10, 'live-3');
SELECT count(*) FROM wallet.txn_key WHERE wallet_id = :w;
SELECT count(*) FROM wallet.reconcile();
SELECT cash FROM wallet.balance(:w);
SQL
    if [[ $(tr '\n' ' ' <"$WORK/live.out") == "f f f t t t 3 0 80.00 " ]]; then
        ok "one session across the update: operations go on, keys of 0.1 and 0.2 replay"
    else
        cat "$WORK/live.out"
        fail "one session across the update: unexpected results"
    fi
else
    cat "$WORK/live.out"
    fail "one session across the update"
fi
q -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS wallet_up_live'

# META.json (PGXN): well-formed, and the versions agree
if python3 - "$EXTVERSION" <<'PY'; then
import json, sys
ver = sys.argv[1]
m = json.load(open("META.json"))
for k in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec", "prereqs"):
    assert k in m, "META.json lacks " + k
assert m["name"] == "wallet", m["name"]
assert m["meta-spec"]["version"] == "1.0.0", m["meta-spec"]
assert m["version"] == ver + ".0", (m["version"], ver)
p = m["provides"]["wallet"]
assert p["version"] == ver + ".0" and p["file"], p
assert m["prereqs"]["runtime"]["requires"]["PostgreSQL"].startswith("15"), m["prereqs"]
ctl = open("wallet.control").read()
assert "default_version = '%s'" % ver in ctl, "wallet.control default_version is not " + ver
PY
    ok "META.json is well-formed JSON (PGXN 1.0.0), version $EXTVERSION.0, like wallet.control"
else
    fail "META.json"
fi

q -d postgres -c 'SET client_min_messages = warning' \
    -c 'DROP DATABASE IF EXISTS wallet_up_fresh' -c 'DROP DATABASE IF EXISTS wallet_up_old' -c 'DROP ROLE IF EXISTS wallet_up_cashier'
if ((FAILS > 0)); then
    echo "upgrade: $FAILS check(s) FAILED"
    exit 1
fi
echo "upgrade: all checks passed"
