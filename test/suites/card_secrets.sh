#!/usr/bin/env bash
# card_secrets: a submitted card's secret is stored nowhere (CONTRACT.md section 19): not in a
# table, not in a pg_dump of the database, not in the server log, even with every statement
# logged and errors raised about the secrets (too long, not ASCII, a key reused with other
# cards). The secrets are made inside the server (a temporary table), so no statement text the
# client sends holds them: what the log could show of them the extension would have put there.
# The dump holds the hashes' key (wallet.card_key), so a restored database still finds a card
# submitted before the dump a duplicate.
#
# Run by test/run.sh (or /work/.wt-test.sh ... suite card_secrets) with PGHOST/PGPORT/PGUSER set
# for a running harness cluster (WALLET_PG_TMP: its server log is $WALLET_PG_TMP/log).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d /tmp/wallet-secrets.XXXXXX)
chmod 777 "$WORK"
trap 'rm -rf "$WORK"' EXIT
: "${PGHOST:?card_secrets: PGHOST is not set (run through test/run.sh)}"
: "${WALLET_PG_TMP:?card_secrets: WALLET_PG_TMP is not set (the directory of the harness cluster)}"
BIN=${WALLET_PG_BIN:-/usr/lib/postgresql/15/bin}
SERVER_LOG=$WALLET_PG_TMP/log
cd "$ROOT"
FAILS=0
ok() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
q() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
DB=wallet_card_secrets
RESTORED=wallet_card_secrets_restored

q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" \
    -c "DROP DATABASE IF EXISTS $RESTORED" -c "CREATE DATABASE $DB" -c "CREATE DATABASE $RESTORED"
# everything the server logs, for both databases
for d in $DB $RESTORED; do
    q -d postgres -c "ALTER DATABASE $d SET log_statement = 'all'" \
        -c "ALTER DATABASE $d SET log_min_error_statement = 'debug5'" \
        -c "ALTER DATABASE $d SET log_error_verbosity = 'verbose'" \
        -c "ALTER DATABASE $d SET log_parameter_max_length = -1" \
        -c "ALTER DATABASE $d SET log_parameter_max_length_on_error = -1" \
        -c "ALTER DATABASE $d SET log_min_messages = 'info'"
done
q -d $DB -c 'CREATE EXTENSION wallet' >/dev/null
q -d $DB >/dev/null <<'SQL'
SELECT wallet.set_card_type('sec', 'Secret test card', 'CNY');
SELECT wallet.add_card_rate('sec', 0.9);
SELECT wallet.open('sec-a'), wallet.open('sec-b');
SELECT 'LOGPROBE-seen';
SQL

# the session that submits: its secrets never leave the server but to the file $WORK/secrets
q -d $DB -v ON_ERROR_STOP=0 >"$WORK/session.out" 2>&1 <<SQL
CREATE TEMP TABLE s AS SELECT g, 'SECRET' || upper(md5(random()::text || g)) AS secret FROM generate_series(1, 5) g;
SELECT items, duplicates FROM wallet.submit_cards(wallet.open('sec-a'), 'sec', array_fill(100::numeric, ARRAY[5]),
  (SELECT array_agg(secret ORDER BY g) FROM s), 'sec-1');
-- errors about the secrets: another wallet's duplicates (no error, counted), too long, not
-- ASCII, the same key with other cards (WL003, its detail the stored request)
SELECT items, duplicates FROM wallet.submit_cards(wallet.open('sec-b'), 'sec', array_fill(100::numeric, ARRAY[5]),
  (SELECT array_agg(secret ORDER BY g) FROM s), 'sec-2');
SELECT * FROM wallet.submit_cards(wallet.open('sec-b'), 'sec', '{100}', ARRAY[(SELECT repeat(secret, 5) FROM s WHERE g = 1)], 'sec-3');
SELECT * FROM wallet.submit_cards(wallet.open('sec-b'), 'sec', '{100}', ARRAY[(SELECT secret || 'é' FROM s WHERE g = 2)], 'sec-4');
SELECT * FROM wallet.submit_cards(wallet.open('sec-a'), 'sec', '{100}', ARRAY[(SELECT secret FROM s WHERE g = 3)], 'sec-1');
SELECT * FROM wallet.submit_cards(wallet.open('sec-a'), 'sec', '{100, 100}',
  ARRAY[(SELECT secret FROM s WHERE g = 4), NULL], 'sec-5');
\copy (SELECT secret FROM s ORDER BY g) TO '$WORK/secrets'
SQL
if [[ $(wc -l <"$WORK/secrets") -eq 5 ]]; then ok "5 secrets submitted"; else
    cat "$WORK/session.out"
    fail "the secrets were not submitted"
fi
grep -q 'idempotency key reused' "$WORK/session.out" && grep -q 'is too long' "$WORK/session.out" &&
    grep -q 'printable ASCII' "$WORK/session.out" && ok "the refusals were raised" || {
    cat "$WORK/session.out"
    fail "the refusals were not raised"
}

# pg_dump of the database (plain, data included), then restored into another database
"$BIN/pg_dump" -d $DB -f "$WORK/dump.sql"
grep -q '^COPY wallet.card_key' "$WORK/dump.sql" && ok "the dump holds the hashes' key" ||
    fail "the dump has no wallet.card_key"
grep -q '^COPY wallet.card_item' "$WORK/dump.sql" && ok "the dump holds the cards" ||
    fail "the dump has no wallet.card_item"
q -d $RESTORED -f "$WORK/dump.sql" >"$WORK/restore.out" 2>&1 || {
    cat "$WORK/restore.out"
    fail "the restore"
}
# after the restore the same secrets are duplicates; a new one is not
cat >"$WORK/restored.sql" <<SQL
CREATE TEMP TABLE s (secret text);
\copy s FROM '$WORK/secrets'
SELECT duplicates FROM wallet.submit_cards(wallet.open('sec-b'), 'sec', array_fill(100::numeric, ARRAY[6]),
  (SELECT array_agg(secret) FROM s) || 'NEWSECRET00000001'::text, 'sec-restored');
SQL
out=$(q -d $RESTORED -At -f "$WORK/restored.sql")
[[ $out == 5 ]] && ok "after a restore the 5 secrets are duplicates, a new one is not" ||
    fail "after a restore: $out duplicates of 6 (want 5)"

# nowhere: the dump, the server log (every statement logged, errors with their statements)
grep -q 'LOGPROBE-seen' "$SERVER_LOG" && grep -q "submit_cards(wallet.open('sec-b').*'sec-3')" "$SERVER_LOG" &&
    grep -q 'card_secrets\[1\] is too long' "$SERVER_LOG" && ok "the server log records the statements and the errors" ||
    fail "the server log records no statement (the search below would prove nothing)"
found=0
while read -r secret; do
    [[ -n $secret ]] || continue
    for f in "$WORK/dump.sql" "$SERVER_LOG"; do
        if grep -qF "$secret" "$f"; then
            fail "secret ${secret:0:4}... found in $(basename "$f")"
            found=1
        fi
    done
done <"$WORK/secrets"
((found == 0)) && ok "no secret in the dump nor in the server log"

q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE $DB" -c "DROP DATABASE $RESTORED"
if ((FAILS > 0)); then
    echo "Result: FAIL ($FAILS)"
    exit 1
fi
echo "Result: PASS"
