#!/usr/bin/env bash
# dump: pg_dump / pg_restore give back a database with the extension exactly
# (CONTRACT.md section 22).
#
#  1. database wallet_dump_src: CREATE EXTENSION wallet, then every operation
#     (test/dump/ops.sql): settings, wallets, top-ups with bonus rules and a campaign, spends
#     with coupons and payees, reversals, refunds in every state, a risk flag, freezes, expiry,
#     reminders, credit roll-up, a payee in debt and adjustments, exchanges into another
#     currency and into points, points earned by spending and taken back (a points wallet in
#     debt), card intakes submitted, checked, paid, under review and rejected, quotes used and
#     unused, reports, reconciliation (and an alert), journal rows in the
#     default partition and in partitions made by the install and by add_journal_partitions.
#  2. every identity sequence of a table pg_dump keeps is registered too (else its ids would
#     start again at 1 after a restore).
#  3. it is dumped in the custom, directory and plain formats, and each dump is restored into
#     a new database (CREATE DATABASE, then pg_restore -d or psql -f; the dump holds the
#     CREATE EXTENSION) with and without --single-transaction: six restores. Each must run
#     without an error or a warning.
#  4. each restored database reads the same as the dumped one (test/dump/snapshot.sql:
#     settings, wallets, lots, balances, journal rows and their partitions, keys, postings,
#     refunds, coupons, credits, flags, notifications, alerts, audit, reconciliation, archival,
#     exchange rates, reward rules, card types, rates, quotes, intakes, cards and the card key's
#     digest, reports, sequences), and test/dump/after_restore.sql passes on it: reconcile is clean, new
#     ids continue above the old ones, operations and triggers work.
#
# Run by test/run.sh with PGHOST/PGPORT/PGUSER set for a running cluster where the
# extension is installed; uses pg_dump, pg_restore and psql of WALLET_PG_BIN.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d /tmp/wallet-dump.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILS=0

ok() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
: "${PGHOST:?dump: PGHOST is not set (run through test/run.sh)}"
BIN=${WALLET_PG_BIN:-/usr/lib/postgresql/15/bin}
cd "$ROOT"

q() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
SRC=wallet_dump_src
RESTORES=(custom custom_1 directory directory_1 plain plain_1)

dropdbs() {
    local args=(-c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $SRC") r
    for r in "${RESTORES[@]}"; do args+=(-c "DROP DATABASE IF EXISTS wallet_dump_$r"); done
    q -d postgres "${args[@]}"
}
dropdbs
q -d postgres -c "CREATE DATABASE $SRC"
q -d "$SRC" -c 'CREATE EXTENSION wallet'
if q -d "$SRC" -f test/dump/ops.sql >"$WORK/ops.out" 2>&1; then
    ok "every operation on $SRC ($(q -At -d "$SRC" -c 'SELECT count(*) FROM wallet.txn') journal rows in" \
        "$(q -At -d "$SRC" -c "SELECT count(DISTINCT tableoid) FROM wallet.txn") partitions)"
else
    cat "$WORK/ops.out"
    fail "the operations on $SRC"
fi

# Every sequence owned by a table whose rows pg_dump keeps is kept too.
missing=$(q -At -d "$SRC" <<'SQL'
WITH ext AS (SELECT e.extconfig FROM pg_extension e WHERE e.extname = 'wallet')
SELECT string_agg(d.objid::regclass::text || ' (of ' || d.refobjid::regclass::text || ')', ', ')
  FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S', ext
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
   AND d.refobjid = ANY (ext.extconfig) AND NOT d.objid = ANY (ext.extconfig)
SQL
)
[[ -z $missing ]] && ok "every identity sequence of a dumped table is registered with pg_extension_config_dump" \
    || fail "sequences pg_dump would leave out (their ids would start again at 1): $missing"

q -d "$SRC" -f test/dump/snapshot.sql >"$WORK/src.snap" 2>&1
if grep -q ERROR "$WORK/src.snap"; then
    grep ERROR "$WORK/src.snap"
    fail "snapshot of $SRC"
fi
# the greatest ids given so far, for after_restore.sql
vars=()
while IFS='|' read -r name value; do
    vars+=(-v "$name=$value")
done < <(q -At -d "$SRC" <<'SQL'
SELECT 'max_txn', max(txn_id) FROM wallet.txn
UNION ALL SELECT 'max_wallet', max(wallet_id) FROM wallet.wallet
UNION ALL SELECT 'max_refund', max(refund_id) FROM wallet.refund
UNION ALL SELECT 'max_rule', max(rule_id) FROM wallet.bonus_rule
UNION ALL SELECT 'max_audit', max(id) FROM wallet.audit
UNION ALL SELECT 'max_flag', max(flag_id) FROM wallet.risk_flag
UNION ALL SELECT 'max_run', max(run_id) FROM wallet.reconciliation_run
UNION ALL SELECT 'max_alert', max(id) FROM wallet.alert
UNION ALL SELECT 'max_notification', max(id) FROM wallet.notification
UNION ALL SELECT 'max_credit', max(credit_id) FROM wallet.payee_credit
UNION ALL SELECT 'max_quote', max(quote_id) FROM wallet.card_quotes
UNION ALL SELECT 'max_intake', max(intake_id) FROM wallet.card_intake
SQL
)

"$BIN/pg_dump" -Fc -f "$WORK/wallet.dump" "$SRC"
"$BIN/pg_dump" -Fd -f "$WORK/wallet.dir" "$SRC"
"$BIN/pg_dump" -Fp -f "$WORK/wallet.sql" "$SRC"

for r in "${RESTORES[@]}"; do
    db=wallet_dump_$r
    single=()
    [[ $r == *_1 ]] && single=(--single-transaction)
    q -d postgres -c "CREATE DATABASE $db"
    rc=0
    case $r in
    custom*) "$BIN/pg_restore" "${single[@]}" -d "$db" "$WORK/wallet.dump" >"$WORK/$r.out" 2>&1 || rc=$? ;;
    directory*) "$BIN/pg_restore" "${single[@]}" -d "$db" "$WORK/wallet.dir" >"$WORK/$r.out" 2>&1 || rc=$? ;;
    # (the script's SELECTs print rows: only errors and warnings count)
    plain*) q "${single[@]}" -d "$db" -f "$WORK/wallet.sql" >/dev/null 2>"$WORK/$r.out" || rc=$? ;;
    esac
    what="restore $r${single:+ (--single-transaction)}"
    if ((rc != 0)) || [[ -s $WORK/$r.out ]]; then
        head -n 40 "$WORK/$r.out"
        fail "$what: exit $rc, or errors and warnings"
        continue
    fi
    q -d "$db" -f test/dump/snapshot.sql >"$WORK/$r.snap" 2>&1
    if diff -u "$WORK/src.snap" "$WORK/$r.snap" >"$WORK/$r.diff"; then
        ok "$what reads the same as the dumped database ($(grep -c '' "$WORK/$r.snap") lines)"
    else
        head -n 80 "$WORK/$r.diff"
        fail "$what differs from the dumped database"
    fi
    if q -At -F ' | ' -d "$db" "${vars[@]}" -f test/dump/after_restore.sql >"$WORK/$r.after" 2>&1 \
        && ! grep -q ' | f$' "$WORK/$r.after" && (($(grep -c ' | t$' "$WORK/$r.after") == 17)); then
        ok "$what: reconcile is clean, new ids continue above the old ones, operations and triggers work"
    else
        cat "$WORK/$r.after"
        fail "$what: after_restore.sql"
    fi
done

dropdbs
if ((FAILS > 0)); then
    echo "dump: $FAILS check(s) FAILED"
    exit 1
fi
echo "dump: all checks passed"
