#!/usr/bin/env bash
# readme.sh: the README's SQL runs as printed, and prints what the README says it prints.
#
# From the heading "A five-minute tour" to the end of README.md, every ```sql block is run, in
# order, in one psql session on a fresh database (the tour itself creates the extension). A
# ```sql block followed directly by a plain ``` block (blank lines between them allowed) states its
# output: what psql prints for that block (footers off, errors with their DETAIL and HINT but no
# CONTEXT, trailing spaces and blank lines at both ends ignored) must be exactly that, so an
# example may show an error it is meant to raise. An error in an example that states no output
# fails the suite.
# A block preceded by the line `<!-- readme-check: skip (why) -->` is not run (it needs something
# this database does not have, e.g. pg_cron; the reason names the suite that covers it instead).
#
# Run by test/run.sh (make test) with PGHOST/PGPORT/PGUSER set for a running cluster where the
# extension is installed. README_FILE overrides the file checked (for showing the check fails);
# README_KEEP=DIR keeps what each block printed (DIR/got/N, DIR/want/N, DIR/script.sql), to see
# the whole output of an example when writing one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
README=${README_FILE:-$ROOT/README.md}
: "${PGHOST:?readme: PGHOST is not set (run through test/run.sh)}"
WORK=$(mktemp -d /tmp/wallet-readme.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DB=wallet_readme

# Split the README into the psql script (a marker line before each block) and the stated outputs.
awk -v script="$WORK/script.sql" -v expected="$WORK/expected.txt" '
    BEGIN { n = 0; mode = ""; on = 0; skip = 0 }
    /^## A five-minute tour/ { on = 1 }
    !on { next }
    /^<!-- readme-check: skip/ { skip = 1; next }
    /^```sql[ \t]*$/ && skip { skip = 0; mode = "other"; after_sql = 0; next }
    /^```sql[ \t]*$/ {
        n++; mode = "sql"; after_sql = 0
        printf "\\echo @@block %d line %d@@\n", n, NR > script
        next
    }
    /^```[ \t]*$/ {
        if (mode == "sql") { mode = ""; after_sql = 1; last = n; next }
        if (mode != "") { mode = ""; after_sql = 0; next }
        if (after_sql) { mode = "out"; after_sql = 0; printf "@@block %d@@\n", last > expected; next }
        mode = "other"; next
    }
    /^```/ { mode = "other"; after_sql = 0; next }
    mode == "sql" { print > script; next }
    mode == "out" { print > expected; next }
    mode == "" && $0 !~ /^[ \t]*$/ { after_sql = 0 }
    END { printf "" > expected }
' "$README"

blocks=$(grep -c '^\\echo @@block' "$WORK/script.sql" || true)
stated=$(grep -c '^@@block' "$WORK/expected.txt" || true)
((blocks > 0)) || { echo "readme: FAIL: no \`\`\`sql block found after the tour's heading in $README" >&2; exit 1; }

psql -X -q -d postgres -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
    -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB TEMPLATE template0"

rc=0
# errors are part of what an example prints: psql goes on after one, without the script's name and
# line in front of it (psql:FILE:LINE:) and without CONTEXT (which names the extension's internals)
psql -X -q -d "$DB" -v SHOW_CONTEXT=never -P footer=off -f "$WORK/script.sql" 2>&1 |
    sed -e 's/^psql:[^:]*:[0-9]*: //' >"$WORK/got.txt" || rc=$?
if ((rc != 0)); then
    echo "readme: FAIL: psql exited $rc; the output's end:" >&2
    tail -n 15 "$WORK/got.txt" >&2
    exit 1
fi

# One file per block: got/N holds what block N printed, want/N what the README states.
mkdir "$WORK/got" "$WORK/want"
awk -v d="$WORK/got" '/^@@block [0-9]+ line [0-9]+@@$/ { f = $2; lines[f] = $4; next }
    f != "" { print > (d "/" f) }' "$WORK/got.txt"
awk -v d="$WORK/want" '/^@@block [0-9]+@@$/ { f = $2; sub(/@@/, "", f); printf "" > (d "/" f); next }
    f != "" { print > (d "/" f) }' "$WORK/expected.txt"

# Trailing spaces and leading/trailing blank lines do not count.
norm() {
    [[ -f $1 ]] || return 0
    sed -e 's/[ \t]*$//' "$1" | awk '{ a[NR] = $0 } END {
        n = NR; while (n > 0 && a[n] == "") n--
        s = 1; while (s <= n && a[s] == "") s++
        for (i = s; i <= n; i++) print a[i] }'
}

# readme_line N: the README line of example N's ```sql fence
readme_line() {
    sed -n "s/^\\\\echo @@block $1 line \\([0-9]*\\)@@\$/\\1/p" "$WORK/script.sql"
}

if [[ -n ${README_KEEP:-} ]]; then
    mkdir -p "$README_KEEP"
    cp -r "$WORK/got" "$WORK/want" "$WORK/script.sql" "$README_KEEP"/
fi

fails=0
for got in "$WORK"/got/*; do
    b=$(basename "$got")
    [[ -e $WORK/want/$b ]] && continue
    if grep -q '^ERROR:' "$got"; then
        line=$(readme_line "$b")
        echo "readme: FAIL: the example at README.md line $line raised an error and states no output:" >&2
        grep -A3 '^ERROR:' "$got" >&2
        fails=$((fails + 1))
    fi
done
for want in "$WORK"/want/*; do
    [[ -e $want ]] || continue
    b=$(basename "$want")
    line=$(readme_line "$b")
    if ! diff -u <(norm "$want") <(norm "$WORK/got/$b") >"$WORK/diff" 2>&1; then
        echo "readme: FAIL: the example at README.md line $line prints something else than the README states:" >&2
        sed -e '1,2d' "$WORK/diff" >&2
        fails=$((fails + 1))
    fi
done

if ((fails > 0)); then
    echo "readme: $fails examples failed ($blocks run, $stated with a stated output)" >&2
    exit 1
fi
echo "readme: $blocks examples ran without error; all $stated stated outputs match"
