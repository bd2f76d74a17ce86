#!/usr/bin/env bash
# memory: does a backend that keeps serving wallet operations keep its memory?
#
# In a fresh database one backend runs MEMORY_SPENDS operations (default
# 200000 spends, with payee credits, bonus in scenes, partial reversals,
# top-ups, refund requests and rejections, balance reads and credit roll-ups
# mixed in), committing every 500. Its memory is read from
# /proc/<pg_backend_pid()>/status after 10% of the spends and at the end; the
# suite fails if it grew by more than MEMORY_LIMIT_KB (default 10240 = 10 MB).
#
# What is compared is the backend's private memory, RssAnon (palloc'd memory
# lives there). VmRSS is printed too, but it also counts the shared buffers
# the backend has touched (RssShmem), which grows with the journal as pages
# are read and written, whatever the extension does.
#
# Then, when clang-14 is installed (`make fuzz` installs it), the engine's
# pure functions run under AddressSanitizer + UBSan over the kept fuzz
# corpus (test/fuzz/corpus/, a few seconds).
#
# Run by test/run.sh with PGHOST/PGPORT/PGUSER set for a running cluster that
# has the extension installed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SPENDS=${MEMORY_SPENDS:-200000}
LIMIT_KB=${MEMORY_LIMIT_KB:-10240}
DB=wallet_memory
WORK=$(mktemp -d /tmp/wallet-memory.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "memory: FAIL: $*" >&2
    exit 1
}

: "${PGHOST:?memory: PGHOST is not set (run through test/run.sh)}"
((SPENDS >= 10)) || fail "MEMORY_SPENDS must be at least 10"
FIRST=$((SPENDS / 10))

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'SET client_min_messages = warning' \
    -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >"$WORK/setup.log" 2>&1 <<'SQL' || { cat "$WORK/setup.log" >&2; fail "setting up the database failed"; }
SET client_min_messages = warning;
CREATE EXTENSION wallet;
SELECT wallet.add_bonus_rule('CNY', 100, 10, 0, NULL, '90 days', ARRAY['game']) IS NOT NULL AS rule;
SELECT (wallet.set_policy('CNY', max_refunds_per_30_days => 1000000)).currency;

-- mem_loop runs operations lo..hi on five funded customer wallets and a payee.
CREATE PROCEDURE mem_loop(lo int, hi int) LANGUAGE plpgsql AS $$
DECLARE
  ws bigint[] := ARRAY(SELECT wallet.open('mem-' || g) FROM generate_series(1, 5) g);
  payee bigint := wallet.open('mem-payee');
  w bigint;
  last_spend bigint;
  t bigint;
  r bigint;
BEGIN
  FOR i IN lo..hi LOOP
    w := ws[1 + i % 5];
    SELECT s.txn_id INTO last_spend
      FROM wallet.spend(w, 0.01 * (1 + i % 97), 's' || i,
                        scene => CASE WHEN i % 3 = 0 THEN 'game' END,
                        payee => CASE WHEN i % 4 = 0 THEN payee END) s;
    IF i % 100 = 0 THEN
      PERFORM wallet.reverse_spend(last_spend, 'r' || i, 0.01);
    END IF;
    IF i % 50 = 0 THEN
      PERFORM wallet.balance(w, 'game');
    END IF;
    IF i % 2000 = 0 THEN
      SELECT x.txn_id INTO t FROM wallet.top_up(w, 1000, 't' || i) x;
      SELECT x.refund_id INTO r FROM wallet.request_refund(t, 'q' || i, 1) x;
      PERFORM wallet.review_refund(r, false, 'memory test');
    END IF;
    IF i % 10000 = 0 THEN
      PERFORM wallet.rollup_credits(100000);
    END IF;
    IF i % 500 = 0 THEN
      COMMIT;
    END IF;
  END LOOP;
END $$;

-- fund the wallets
SET wallet.now = '2026-01-01 00:00:00+00';
SELECT count(wallet.top_up(wallet.open('mem-' || g), 100000, 'fund-' || g)) AS funded
  FROM generate_series(1, 5) g;
SQL

# One session: run 10%, read its memory, run the rest, read again.
start=$SECONDS
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >"$WORK/psql.log" 2>&1 <<SQL || { cat "$WORK/psql.log" >&2; fail "the operations failed"; }
SET wallet.now = '2026-01-01 00:00:00+00';
SELECT pg_backend_pid() AS pid \gset
\setenv MEM_PID :pid
CALL mem_loop(1, $FIRST);
\! cat /proc/\$MEM_PID/status > $WORK/status.first
CALL mem_loop($((FIRST + 1)), $SPENDS);
\! cat /proc/\$MEM_PID/status > $WORK/status.last
SQL
elapsed=$((SECONDS - start))

field() {
    awk -v k="$1:" '$1 == k { print $2 }' "$2"
}
[[ -s $WORK/status.first && -s $WORK/status.last ]] || fail "could not read /proc/<pid>/status of the backend"

printf 'memory: %d spends in one backend in %ds (reversals, top-ups, refunds, credits mixed in)\n' "$SPENDS" "$elapsed"
printf 'memory: %-9s %12s %12s %10s\n' "" "after $FIRST" "after $SPENDS" growth
for k in RssAnon VmRSS RssShmem RssFile VmHWM; do
    a=$(field "$k" "$WORK/status.first")
    b=$(field "$k" "$WORK/status.last")
    printf 'memory: %-9s %9s kB %9s kB %7s kB\n' "$k" "$a" "$b" "$((b - a))"
done
anon_growth=$(($(field RssAnon "$WORK/status.last") - $(field RssAnon "$WORK/status.first")))

# the books still hold after all that
problems=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT count(*) FROM wallet.reconcile()')
[[ $problems == 0 ]] || fail "reconcile() reports $problems discrepancies after the run"
spends=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "SELECT count(*) FROM wallet.txn WHERE kind = 'spend'")
[[ $spends == "$SPENDS" ]] || fail "$spends spends journaled, expected $SPENDS"

if ((anon_growth > LIMIT_KB)); then
    fail "the backend's private memory (RssAnon) grew by ${anon_growth} kB, more than ${LIMIT_KB} kB"
fi
echo "memory: backend private memory grew ${anon_growth} kB (limit ${LIMIT_KB} kB): ok"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" || true

# ---- the engine's pure functions under ASan + UBSan ----
if command -v clang-14 >/dev/null 2>&1 && compgen -G '/usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null; then
    "$ROOT/test/fuzz/run.sh" build >"$WORK/fuzzbuild.log" 2>&1 || { cat "$WORK/fuzzbuild.log" >&2; fail "fuzz build failed"; }
    for t in lotset_in lotset_recv money engine coupon; do
        n=$(find "$ROOT/test/fuzz/corpus/$t" -type f | wc -l)
        if ! "$ROOT/test/fuzz/build/fuzz_$t" -runs=0 "$ROOT/test/fuzz/corpus/$t" >"$WORK/asan-$t.log" 2>&1; then
            grep -A30 -E 'ERROR: |runtime error|property violated' "$WORK/asan-$t.log" | head -n 40 >&2
            fail "ASan/UBSan replay of the $t corpus failed"
        fi
        echo "memory: ASan+UBSan replay of $n $t inputs: ok"
    done
else
    echo "memory: ASan replay skipped: clang-14 / libclang-rt-14-dev not installed (make fuzz installs them)"
fi
