#!/usr/bin/env bash
# crash.sh: durability and consistency across a crash of the server.
#
# In a fresh database it seeds customer and merchant wallets, runs pgbench
# (16 clients) mixing every operation (test/load/crash_*.sql), and every
# statement that returned -- in autocommit, so committed -- appends its
# txn/refund id to an acknowledgement file outside the data directory. After
# a few seconds it kills the postmaster with SIGKILL (only the one of this
# harness's data directory), waits for its children to go, restarts the
# cluster (crash recovery) and asserts:
#   1. every acknowledged top-up, spend and reversal is in wallet.txn, with
#      its kind and wallet; every acknowledged refund is in wallet.refund, in
#      the acknowledged status or a later one;
#   2. wallet.reconcile() returns no row;
#   3. no wallet has a negative bucket (balance() with no scene and in the
#      campaigns' scenes), and available = cash + bonus + earnings;
#   4. every wallet's lots print and parse back to the same value, and
#      wallet.lots() reads them;
#   5. replaying every acknowledged top-up with its key returns the same
#      txn_id with replayed = true (the idempotency index survived);
#   6. the B-tree indexes of the wallet tables pass amcheck;
#   7. operations work after the restart, and the books still hold.
# No pgbench client may fail before the kill (the load only calls operations
# that cannot be refused for a business reason, see test/load/).
#
# Run by test/run.sh (make test) with the cluster variables exported, or by
# hand: source test/cluster.sh; cluster_start; test/suites/crash.sh; cluster_stop
# Knobs: WALLET_CRASH_SECONDS (load before the kill, default 6).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=test/cluster.sh
. "$ROOT/test/cluster.sh"

if [[ -z ${WALLET_PGDATA:-} || -z ${PGHOST:-} ]]; then
    echo "crash.sh: no harness cluster (run via 'make test', or source test/cluster.sh and cluster_start first)" >&2
    exit 2
fi

LOAD=$ROOT/test/load
PSQL=$WALLET_PG_BIN/psql
PGBENCH=$WALLET_PG_BIN/pgbench
DB=wallet_crash
SECONDS_OF_LOAD=${WALLET_CRASH_SECONDS:-6}
CLIENTS=16
CUSTOMERS=$((2 * CLIENTS))
MERCHANTS=3

WORK=$(mktemp -d /tmp/wallet-crash.XXXXXX)
export WALLET_ACKS=$WORK/acks
: >"$WALLET_ACKS"
BENCH_PID=
FAILURES=0

cleanup() {
    local rc=$?
    set +e
    if [[ -n $BENCH_PID ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
        kill -TERM "$BENCH_PID" 2>/dev/null
        wait "$BENCH_PID" 2>/dev/null
    fi
    # the harness continues with other suites: leave the server running
    if ! cluster_ensure_running; then
        echo "crash.sh: could not start the cluster again" >&2
        rc=1
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

# shellcheck source=../load/lib.sh
. "$LOAD/lib.sh"

# ------------------------------------------------------------------ setup
fresh_db crash

# Policy and bonus rules: base tiers 100 -> 10, 200 -> 25, 500 -> 75 (no
# expiry); campaign 'flash' 5 % expiring 3 seconds after each top-up (it
# expires during the load, so the sweep and reversals of spends that used it
# write off breakage); campaign 'games' 8 in scene 'game' for a day, with its
# own refund fee; campaign 'vip' 10 % in scene 'vip', expiring after 2
# seconds (rarely spent in time: the sweep writes most of it off). Refund
# limit raised so refunds keep moving money.
q -o /dev/null <<SQL
SELECT wallet.set_policy('CNY', refund_fee_rate => 0.01, max_refunds_per_30_days => 1000000,
                         commission_rate => 0.05) IS NOT NULL AS policy_set;
SELECT wallet.add_bonus_rule('CNY', 100, bonus_fixed => 10);
SELECT wallet.add_bonus_rule('CNY', 200, bonus_fixed => 25);
SELECT wallet.add_bonus_rule('CNY', 500, bonus_fixed => 75);
SELECT wallet.add_bonus_rule('CNY', 100, bonus_rate => 0.05, valid_for => '3 seconds', campaign => 'flash');
SELECT wallet.add_bonus_rule('CNY', 200, bonus_fixed => 8, valid_for => '1 day', scope => ARRAY['game'],
                             campaign => 'games', refund_fee_rate => 0.02);
SELECT wallet.add_bonus_rule('CNY', 100, bonus_rate => 0.1, valid_for => '2 seconds', scope => ARRAY['vip'],
                             campaign => 'vip');
-- customers crash-c0 .. crash-c31 (client n uses 2n and 2n + 1), then merchants
SELECT count(wallet.open('crash-c' || i, 'CNY')) FROM generate_series(0, $((CUSTOMERS - 1))) i;
SELECT count(wallet.open('crash-m' || i, 'CNY')) FROM generate_series(0, $((MERCHANTS - 1))) i;
-- seed: every customer tops up in three tiers (some with the campaigns)
SELECT count(*) FROM wallet.wallet w,
       LATERAL (VALUES (1, 150), (2, 320), (3, 600)) v(n, amt),
       LATERAL wallet.top_up(w.wallet_id, v.amt, 'seed-' || v.n, 'card') t
 WHERE w.owner LIKE 'crash-c%';
SQL

# the scripts address wallet n as cbase + n: check the ids are contiguous
CBASE=$(val "SELECT wallet_id FROM wallet.wallet WHERE owner = 'crash-c0'")
MBASE=$(val "SELECT wallet_id FROM wallet.wallet WHERE owner = 'crash-m0'")
layout=$(val "SELECT count(*) FROM wallet.wallet w WHERE
                (w.owner LIKE 'crash-c%' AND w.wallet_id = $CBASE + substr(w.owner, 8)::int)
             OR (w.owner LIKE 'crash-m%' AND w.wallet_id = $MBASE + substr(w.owner, 8)::int)")
if [[ $layout != $((CUSTOMERS + MERCHANTS)) ]]; then
    echo "crash.sh: setup: wallet ids are not contiguous ($layout of $((CUSTOMERS + MERCHANTS)) in place)" >&2
    exit 1
fi
seed_txns=$(val "SELECT count(*) FROM wallet.txn")
echo "crash: seeded $CUSTOMERS customers (wallets $CBASE..$((CBASE + CUSTOMERS - 1))), $MERCHANTS merchants, $seed_txns txns"

# ------------------------------------------------------------------ load
echo "crash: pgbench -c $CLIENTS -j 2 for ${SECONDS_OF_LOAD}s, then kill -9 of the postmaster"
"$PGBENCH" -n -c "$CLIENTS" -j 2 -T 120 \
    -D seq=0 -D cbase="$CBASE" -D mbase="$MBASE" -D last_topup=0 -D last_spend=0 -D left_c=0 \
    -f "$LOAD/crash_topup.sql@3" -f "$LOAD/crash_spend.sql@6" -f "$LOAD/crash_reverse.sql@3" \
    -f "$LOAD/crash_refund.sql@2" -f "$LOAD/crash_expire.sql@1" -f "$LOAD/crash_balance.sql@2" \
    "$DB" >"$WORK/pgbench.out" 2>&1 &
BENCH_PID=$!

sleep "$SECONDS_OF_LOAD"
if ! kill -0 "$BENCH_PID" 2>/dev/null; then
    cat "$WORK/pgbench.out"
    echo "crash.sh: pgbench ended before the kill" >&2
    exit 1
fi
acks_before_kill=$(wc -l <"$WALLET_ACKS")
# pgbench's errors up to now: any is a failed operation under load
errors_before_kill=$(grep -c 'ERROR:' "$WORK/pgbench.out" || true)
cp "$WORK/pgbench.out" "$WORK/pgbench.before-kill"

# ------------------------------------------------------------------ crash
PMPID=$(head -n 1 "$WALLET_PGDATA/postmaster.pid")
if ! [[ $PMPID =~ ^[0-9]+$ ]] || ! kill -0 "$PMPID" 2>/dev/null; then
    echo "crash.sh: no running postmaster in $WALLET_PGDATA/postmaster.pid" >&2
    exit 1
fi
log_offset=$(stat -c %s "$WALLET_PG_TMP/log" 2>/dev/null || echo 0)
mapfile -t CHILDREN < <(pgrep -P "$PMPID" || true)
kill -KILL "$PMPID"
echo "crash: killed postmaster $PMPID (${#CHILDREN[@]} children) after $acks_before_kill acks"

# pgbench loses its connections and ends
for _ in $(seq 1 600); do
    kill -0 "$BENCH_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$BENCH_PID" 2>/dev/null; then
    echo "crash.sh: pgbench still running 60s after the kill" >&2
    exit 1
fi
wait "$BENCH_PID" || true
BENCH_PID=
# backends notice the postmaster's death and exit; the new postmaster
# refuses to start while they still hold the old shared memory
for _ in $(seq 1 600); do
    alive=0
    for c in "${CHILDREN[@]}"; do
        kill -0 "$c" 2>/dev/null && alive=$((alive + 1))
    done
    ((alive == 0)) && break
    sleep 0.1
done
if ((alive > 0)); then
    echo "crash.sh: $alive server processes still alive 60s after the kill" >&2
    exit 1
fi

echo "crash: restarting (crash recovery)"
# (pg_ctl warns that another server might be running: the stale pid file)
cluster_pg_ctl -w -t 120 start >"$WORK/pg_ctl.out" 2>&1 || {
    cat "$WORK/pg_ctl.out" >&2
    cluster_log_tail
    echo "crash.sh: the server did not come back" >&2
    exit 1
}
tail -c +$((log_offset + 1)) "$WALLET_PG_TMP/log" 2>/dev/null |
    grep -E 'not properly shut down|redo starts|redo done|ready to accept' | sed 's/^/  server: /' || true

# ------------------------------------------------------------------ checks
if ((errors_before_kill > 0)); then
    fail "pgbench reported $errors_before_kill error(s) before the kill:"
    grep 'ERROR:' "$WORK/pgbench.before-kill" | head -n 10 | sed 's/^/    /'
else
    echo "ok: no pgbench client failed before the kill"
fi

# line numbers keep the order in which each client acknowledged
awk '{ print NR, $0 }' "$WALLET_ACKS" >"$WORK/acks.numbered"
q <<SQL
CREATE TABLE load.ack (n int, client int, seq int, kind text, id bigint, a text, b text);
\copy load.ack FROM '$WORK/acks.numbered' WITH (FORMAT text, DELIMITER ' ')
CREATE VIEW load.op_ack AS   -- top-ups, spends, reversals: a is a wallet or spend id, b cents
  SELECT n, client, seq, kind, id, a::bigint AS a, b::bigint AS b FROM load.ack
   WHERE kind IN ('topup', 'spend', 'reverse') OFFSET 0;
SQL

echo "crash: acknowledged operations by kind:"
q -c "SELECT kind, count(*) AS acks FROM load.ack GROUP BY kind ORDER BY kind"
echo "crash: journal after recovery by kind:"
q -c "SELECT kind, count(*) AS txns FROM wallet.txn GROUP BY kind ORDER BY kind"

check "acknowledged top-ups, spends and reversals are in wallet.txn" "
  SELECT a.client, a.seq, a.kind, a.id, t.kind AS journal_kind, t.wallet_id
    FROM load.op_ack a LEFT JOIN wallet.txn t ON t.txn_id = a.id
   WHERE (t.txn_id IS NULL
          OR t.kind <> CASE a.kind WHEN 'topup' THEN 'top_up' WHEN 'spend' THEN 'spend' ELSE 'reverse_spend' END
          OR (a.kind IN ('topup', 'spend') AND t.wallet_id <> a.a)
          OR (a.kind = 'reverse' AND t.ref_txn IS DISTINCT FROM a.a))
   ORDER BY a.client, a.seq"

check "acknowledged refunds are in wallet.refund" "
  SELECT a.client, a.seq, a.id FROM load.ack a
   WHERE a.kind = 'refund' AND NOT EXISTS (SELECT 1 FROM wallet.refund r WHERE r.refund_id = a.id)
   ORDER BY a.client, a.seq"

check "refund statuses are the acknowledged ones or later" "
  WITH last AS (
    SELECT DISTINCT ON (a.id) a.id, CASE a.kind WHEN 'refund' THEN a.b ELSE a.a END AS acked
      FROM load.ack a WHERE a.kind IN ('refund', 'rstatus')
     ORDER BY a.id, a.n DESC)
  SELECT l.id, l.acked, r.status FROM last l LEFT JOIN wallet.refund r ON r.refund_id = l.id
   WHERE r.status IS NULL OR NOT (r.status = l.acked
      OR (l.acked = 'pending' AND r.status IN ('approved', 'rejected', 'succeeded', 'failed'))
      OR (l.acked = 'approved' AND r.status IN ('succeeded', 'failed')))"

check "wallet.reconcile() returns no rows" "SELECT * FROM wallet.reconcile()"

check "no negative balance, available = cash + bonus + earnings" "
  SELECT w.wallet_id, s.scene, b.cash, b.bonus, b.earnings, b.held, b.available
    FROM wallet.wallet w CROSS JOIN (VALUES (NULL::text), ('game')) s(scene)
   CROSS JOIN LATERAL wallet.balance(w.wallet_id, s.scene) b
   WHERE b.cash < 0 OR b.bonus < 0 OR b.earnings < 0 OR b.held < 0
      OR b.available <> b.cash + b.bonus + b.earnings"

check "every wallet's lots print and parse back; wallet.lots() reads them" "
  SELECT w.wallet_id, w.lots::text FROM wallet.wallet w
   WHERE w.lots::text::wallet.lotset::text <> w.lots::text
      OR (SELECT count(*) FROM wallet.lots(w.wallet_id) l WHERE l.amount < 0 OR l.held < 0) > 0"

check "replaying each acknowledged top-up returns its txn_id, replayed" "
  SELECT a.client, a.seq, a.id, t.txn_id, t.replayed
    FROM (SELECT * FROM load.op_ack WHERE kind = 'topup' OFFSET 0) a
   CROSS JOIN LATERAL wallet.top_up(a.a, round(a.b / 100.0, 2), 'crash-t-' || a.client || '-' || a.seq, 'card') t
   WHERE t.txn_id <> a.id OR NOT t.replayed"

# amcheck raises an error on a corrupt index
if q -c 'CREATE EXTENSION IF NOT EXISTS amcheck' -At -c "
     SELECT count(bt_index_check(i.indexrelid, true)::text) FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'wallet' AND am.amname = 'btree'
        AND c.relkind = 'i'  -- a partitioned index has no storage: its partitions' indexes are checked
     " >"$WORK/amcheck.out" 2>&1; then
    echo "ok: the $(tail -n 1 "$WORK/amcheck.out") B-tree indexes of schema wallet pass amcheck (heapallindexed)"
else
    fail "amcheck: $(cat "$WORK/amcheck.out")"
fi

# the wallets still work after the restart, and the books still hold
check "a top-up works after the restart" "
  SELECT t.* FROM wallet.top_up($CBASE, 250, 'after-crash-topup') t WHERE t.txn_id IS NULL OR t.replayed"
check "a spend paying a merchant works after the restart" "
  SELECT s.* FROM wallet.spend($CBASE, 40, 'after-crash-spend', payee => $MBASE) s
   WHERE s.charged <> 40 OR s.replayed"
check "wallet.reconcile() still returns no rows after new operations" "SELECT * FROM wallet.reconcile()"

acks=$(wc -l <"$WALLET_ACKS")
txns=$(val "SELECT count(*) FROM wallet.txn")
wallets=$(val "SELECT count(*) FROM wallet.wallet")
refunds=$(val "SELECT count(*) FROM wallet.refund")
unacked=$(val "SELECT count(*) FROM wallet.txn t WHERE t.txn_id > (SELECT max(txn_id) FROM wallet.txn WHERE idempotency_key LIKE 'seed-%')
                 AND t.kind IN ('top_up', 'spend', 'reverse_spend')
                 AND coalesce(t.idempotency_key, '') NOT LIKE 'after-crash-%'
                 AND NOT EXISTS (SELECT 1 FROM load.ack a WHERE a.id = t.txn_id)")
echo "crash: measured: $acks acks ($acks_before_kill when the kill was sent), $txns txns ($seed_txns seeded),"
echo "       $unacked committed top-ups/spends/reversals never acknowledged (in flight at the kill), $refunds refunds, $wallets wallets"

if ((FAILURES > 0)); then
    echo "crash: $FAILURES check(s) FAILED"
    exit 1
fi
echo "crash: all checks passed"
