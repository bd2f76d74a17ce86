#!/usr/bin/env bash
# stress.sh: many clients on few wallets, then the books must still hold.
#
# In a fresh database, pgbench runs 32 clients on 10 shared wallets for a
# fixed number of transactions each (test/load/stress_*.sql): spends with
# allow_partial, about half of them paying another of the 10 wallets (so A
# pays B while B pays A), top-ups, reversals of each client's last spend
# (which lock payer and payee), balance reads. Every operation that returned
# appends what it returned to an acknowledgement file. Then it asserts:
#   1. pgbench: every transaction processed, none failed (a deadlock or
#      serialization failure counts as failed), no client aborted; the server
#      log of the run has no 'deadlock detected';
#   2. the journal holds exactly the acknowledged operations (each ack's txn
#      with its kind, wallet and spend; no unacknowledged one);
#   3. every reversal returned what was asked, split so that no bucket got
#      back more than the spend took from it, exactly all of it when the spend
#      is fully reversed; no reversal was refused (a reversal never fails for
#      the payee's sake); the payee gave back its credit in proportion (within
#      one minor unit of credit * reversed / charged, exactly all at the end),
#      out of its earnings or, for what they no longer held, into its debt;
#   4. every wallet's balance() equals the model computed from the acks:
#        cash     = top-ups - cash used + cash returned
#        bonus    = bonus granted - bonus used + bonus returned
#        earnings - debt = credits as payee (charged - commission, rounded half
#                   away from zero) - earnings used + returned - credit given back
#        held     = 0
#   5. wallet.reconcile() returns no row;
#   6. per currency, from wallet.postings: the sum over wallets of cash +
#      bonus + earnings + held - debt = top-ups + bonus granted - breakage -
#      revenue - commission - refunds paid out - fees (all non-wallet legs but
#      payee_receivable, negated), and equals the same sum from the acks.
# Then 1,000 donations to one charity at once (CONTRACT section 17: a receiver
# of many concurrent transfers must not queue on its row): 1,000 CNY wallets,
# each given earnings, each transfer a distinct amount of kind 'donation' to
# one charity wallet, 40 pgbench clients (test/load/stress_donate.sql). It asserts:
#   7. every transfer processed, none failed; no deadlock, no lock timeout and
#      no lock wait over 10ms (deadlock_timeout in those sessions) in the
#      server log, but on extending a table;
#   8. the charity's balance is exactly the sum of the donations, with the
#      credits pending and after rollup_credits() (then in its earnings lots);
#      one transfer from each donor, of its amount, its earnings less it;
#      transfers_daily counts them, without fees; wallet.reconcile() no row.
#
# Run by test/run.sh (make test) with the cluster variables exported, or by
# hand: source test/cluster.sh; cluster_start; test/suites/stress.sh; cluster_stop
# Knobs: WALLET_STRESS_TXNS (transactions per client, default 200).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=test/cluster.sh
. "$ROOT/test/cluster.sh"

if [[ -z ${WALLET_PGDATA:-} || -z ${PGHOST:-} ]]; then
    echo "stress.sh: no harness cluster (run via 'make test', or source test/cluster.sh and cluster_start first)" >&2
    exit 2
fi

LOAD=$ROOT/test/load
PSQL=$WALLET_PG_BIN/psql
PGBENCH=$WALLET_PG_BIN/pgbench
DB=wallet_stress
CLIENTS=32
TXNS=${WALLET_STRESS_TXNS:-200}
WALLETS=10
COMMISSION=0.03
SERVER_LOG=$WALLET_PG_TMP/log

WORK=$(mktemp -d /tmp/wallet-stress.XXXXXX)
export WALLET_ACKS=$WORK/acks
: >"$WALLET_ACKS"
FAILURES=0

cleanup() {
    local rc=$?
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

# shellcheck source=../load/lib.sh
. "$LOAD/lib.sh"

# ------------------------------------------------------------------ setup
fresh_db stress
# this run's lock waits and deadlocks show in the server log
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "ALTER DATABASE $DB SET deadlock_timeout = '100ms'" -c "ALTER DATABASE $DB SET log_lock_waits = on"

# USD: commission on payee spends; base bonus tiers, no expiry (so nothing is
# written off and the model is exact).
q -o /dev/null <<SQL
SELECT wallet.set_policy('USD', commission_rate => $COMMISSION);
SELECT wallet.add_bonus_rule('USD', 100, bonus_fixed => 5);
SELECT wallet.add_bonus_rule('USD', 200, bonus_rate => 0.05, max_bonus => 12.34);
SELECT count(wallet.open('stress-' || i, 'USD')) FROM generate_series(0, $((WALLETS - 1))) i;
SQL
WBASE=$(val "SELECT wallet_id FROM wallet.wallet WHERE owner = 'stress-0'")
layout=$(val "SELECT count(*) FROM wallet.wallet WHERE wallet_id = $WBASE + substr(owner, 8)::int")
if [[ $layout != "$WALLETS" ]]; then
    echo "stress.sh: setup: wallet ids are not contiguous" >&2
    exit 1
fi
# seed top-ups, acknowledged like the load's (client -1)
val "SELECT -1, v.n, 'topup', t.txn_id, w.wallet_id, 0, v.amt * 100, (t.bonus * 100)::bigint, 0, 0
       FROM wallet.wallet w, (VALUES (1, 500), (2, 150)) v(n, amt),
            LATERAL wallet.top_up(w.wallet_id, v.amt, 'seed-' || v.n) t
      ORDER BY w.wallet_id, v.n" | tr '|' ' ' >>"$WALLET_ACKS"

# ------------------------------------------------------------------ load
log_offset=$(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0)
echo "stress: pgbench -c $CLIENTS -j 2 -t $TXNS on $WALLETS wallets (ids $WBASE..$((WBASE + WALLETS - 1)))"
start=$SECONDS
bench_rc=0
"$PGBENCH" -n -c "$CLIENTS" -j 2 -t "$TXNS" \
    -D seq=0 -D wbase="$WBASE" -D last_spend=0 -D last_w=0 -D left_c=0 \
    -f "$LOAD/stress_spend.sql@5" -f "$LOAD/stress_topup.sql@2" -f "$LOAD/stress_reverse.sql@3" \
    -f "$LOAD/stress_balance.sql@1" \
    "$DB" >"$WORK/pgbench.out" 2>&1 || bench_rc=$?
elapsed=$((SECONDS - start))
sed -n '/^transaction type/,$p' "$WORK/pgbench.out" | grep -E '^(number of transactions|number of failed|latency average|tps|.*aborted)' | sed 's/^/  pgbench: /' || true

expected=$((CLIENTS * TXNS))
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
if ((bench_rc != 0)) || [[ $processed != "$expected" || $failed != 0 ]]; then
    fail "pgbench: exit $bench_rc, processed ${processed:-?} of $expected, failed ${failed:-?}"
    grep -E 'ERROR|FATAL|aborted|DETAIL|CONTEXT' "$WORK/pgbench.out" | head -n 20 | sed 's/^/    /'
else
    echo "ok: pgbench processed $processed of $expected transactions in ${elapsed}s, 0 failed"
fi

tail -c +$((log_offset + 1)) "$SERVER_LOG" >"$WORK/server.log" 2>/dev/null || : >"$WORK/server.log"
deadlocks=$(grep -c 'deadlock detected' "$WORK/server.log" || true)
lock_waits=$(grep -c 'still waiting for' "$WORK/server.log" || true)
if ((deadlocks > 0)); then
    fail "the server log reports $deadlocks deadlock(s):"
    grep -A 3 'deadlock detected' "$WORK/server.log" | head -n 20 | sed 's/^/    /'
else
    echo "ok: no deadlock in the server log ($lock_waits lock waits longer than 100ms logged)"
fi

# ------------------------------------------------------------------ checks
awk '{ print NR, $0 }' "$WALLET_ACKS" >"$WORK/acks.numbered"
q <<SQL
CREATE TABLE load.ack (n int, client int, seq int, kind text, id bigint, w bigint, ref bigint,
                       x bigint, b bigint, c bigint, e bigint);
\copy load.ack FROM '$WORK/acks.numbered' WITH (FORMAT text, DELIMITER ' ')
-- spends with their payee credit in the contract's terms (cents)
CREATE VIEW load.spend AS
  SELECT a.*, nullif(a.ref, 0) AS payee,
         CASE WHEN a.ref = 0 THEN 0 ELSE a.x - round(a.x * $COMMISSION) END::bigint AS credit
    FROM load.ack a WHERE a.kind = 'spend';
-- reversals done (not refused), with the spend and what its payee gave back (postings, cents):
-- out of its earnings, or owed (payee_receivable in its name)
CREATE VIEW load.rev AS
  SELECT a.*, s.payee, s.x AS charged, s.credit, s.b AS bonus_used, s.c AS cash_used, s.e AS earnings_used,
         coalesce((SELECT -sum(p.amount * 100) FROM wallet.postings p
                    WHERE p.txn_id = a.id AND p.wallet_id = s.payee
                      AND ((p.account = 'wallet' AND p.bucket = 'earnings')
                           OR p.account = 'payee_receivable')), 0)::bigint AS payee_back
    FROM load.ack a JOIN load.spend s ON s.id = a.ref
   WHERE a.kind = 'reverse' AND a.id <> 0;
SQL

echo "stress: acknowledged operations:"
q -c "SELECT kind, count(*) FILTER (WHERE id <> 0) AS done, count(*) FILTER (WHERE id = 0) AS refused,
             sum(x) FILTER (WHERE id <> 0) / 100.0 AS amount
        FROM load.ack GROUP BY kind ORDER BY kind"
q -c "SELECT count(*) AS spends, count(payee) AS paying_another_wallet,
             count(*) FILTER (WHERE x = 0) AS charged_nothing,
             count(*) FILTER (WHERE e > 0) AS using_earnings FROM load.spend"

check "every acknowledged operation is in the journal, with its kind and wallet" "
  SELECT a.n, a.kind, a.id, t.kind, t.wallet_id, t.ref_txn FROM load.ack a
    LEFT JOIN wallet.txn t ON t.txn_id = a.id
   WHERE a.id <> 0 AND (t.txn_id IS NULL
      OR t.kind <> CASE a.kind WHEN 'topup' THEN 'top_up' WHEN 'spend' THEN 'spend' ELSE 'reverse_spend' END
      OR t.wallet_id <> a.w OR (a.kind = 'reverse' AND t.ref_txn IS DISTINCT FROM a.ref))"

check "every operation in the journal was acknowledged" "
  SELECT t.txn_id, t.kind, t.wallet_id FROM wallet.txn t
   WHERE t.kind IN ('top_up', 'spend', 'reverse_spend')
     AND NOT EXISTS (SELECT 1 FROM load.ack a WHERE a.id = t.txn_id)"

check "spends: charged = bonus + cash + earnings used" "
  SELECT id, x, b, c, e FROM load.spend WHERE x <> b + c + e OR b < 0 OR c < 0 OR e < 0"

check "reversals return what was asked, no bucket more than the spend took" "
  SELECT r.n, r.ref, r.x, r.b, r.c, r.e, 'asked' FROM load.rev r
   WHERE r.b + r.c + r.e <> r.x OR r.b < 0 OR r.c < 0 OR r.e < 0
  UNION ALL
  SELECT NULL, s.id, sum(r.x), sum(r.b), sum(r.c), sum(r.e), 'over or not all back' FROM load.spend s JOIN load.rev r ON r.ref = s.id
   GROUP BY s.id, s.x, s.b, s.c, s.e
  HAVING sum(r.x) > s.x OR sum(r.b) > s.b OR sum(r.c) > s.c OR sum(r.e) > s.e
      OR (sum(r.x) = s.x AND (sum(r.b) <> s.b OR sum(r.c) <> s.c OR sum(r.e) <> s.e))"

check "spends paying a wallet credit it charged - commission (rounded half away from zero)" "
  SELECT s.id, s.x, s.credit, p.amount FROM load.spend s
    LEFT JOIN wallet.postings p ON p.txn_id = s.id AND p.account = 'wallet' AND p.wallet_id = s.payee
   WHERE s.payee IS NOT NULL AND coalesce(p.amount * 100, 0) <> s.credit"

check "no reversal is refused" "
  SELECT a.n, a.ref FROM load.ack a WHERE a.kind = 'reverse' AND a.id = 0"

check "payees give back their credit in proportion, all of it on a full reversal" "
  SELECT r.ref, r.n, r.credit, r.charged, r.cum_x, r.cum_back FROM (
    SELECT r.*, sum(r.x) OVER w AS cum_x, sum(r.payee_back) OVER w AS cum_back
      FROM load.rev r WHERE r.payee IS NOT NULL
    WINDOW w AS (PARTITION BY r.ref ORDER BY r.n)) r
   WHERE r.cum_back < floor(r.credit::numeric * r.cum_x / r.charged)
      OR r.cum_back > ceil(r.credit::numeric * r.cum_x / r.charged)
      OR (r.cum_x = r.charged AND r.cum_back <> r.credit)"

# the model: per wallet, from the acks alone (plus each payee's give-back,
# checked just above to be the contract's proportion)
q <<'SQL'
CREATE VIEW load.model AS
  WITH flows AS (
    SELECT w AS wallet_id, x AS cash, b AS bonus, 0 AS earnings FROM load.ack WHERE kind = 'topup'
    UNION ALL SELECT w, -c, -b, -e FROM load.spend
    UNION ALL SELECT payee, 0, 0, credit FROM load.spend WHERE payee IS NOT NULL
    UNION ALL SELECT w, c, b, e FROM load.rev
    UNION ALL SELECT payee, 0, 0, -payee_back FROM load.rev WHERE payee IS NOT NULL)
  SELECT wallet_id, sum(cash)::bigint AS cash, sum(bonus)::bigint AS bonus, sum(earnings)::bigint AS earnings
    FROM flows GROUP BY wallet_id;
SQL
check "every wallet's balance() equals the model of what was acknowledged" "
  SELECT w.wallet_id, b.cash, m.cash / 100.0 AS model_cash, b.bonus, m.bonus / 100.0 AS model_bonus,
         b.earnings, b.debt, m.earnings / 100.0 AS model_earnings_less_debt, b.held, b.available
    FROM wallet.wallet w CROSS JOIN LATERAL wallet.balance(w.wallet_id) b
    LEFT JOIN load.model m ON m.wallet_id = w.wallet_id
   WHERE m.wallet_id IS NULL OR b.cash * 100 <> m.cash OR b.bonus * 100 <> m.bonus
      OR (b.earnings - b.debt) * 100 <> m.earnings OR b.held <> 0
      OR b.available <> b.cash + b.bonus + b.earnings"

check "wallet.reconcile() returns no rows" "SELECT * FROM wallet.reconcile()"

echo "stress: the books per currency (wallet.postings, system accounts negated):"
q -c "SELECT p.currency, sum(-p.amount) FILTER (WHERE p.account = 'funding') AS top_ups,
             sum(-p.amount) FILTER (WHERE p.account = 'bonus_expense') AS bonus_granted,
             sum(p.amount) FILTER (WHERE p.account = 'breakage') AS breakage,
             sum(p.amount) FILTER (WHERE p.account = 'revenue') AS revenue,
             sum(p.amount) FILTER (WHERE p.account = 'commission') AS commission,
             sum(p.amount) FILTER (WHERE p.account IN ('refund_payout', 'fee_income')) AS refunds_and_fees,
             sum(-p.amount) FILTER (WHERE p.account = 'payee_receivable') AS payee_debt,
             sum(p.amount) FILTER (WHERE p.account = 'wallet') AS in_wallets
        FROM wallet.postings p GROUP BY p.currency"
check "per currency: wallets' balances = top-ups + bonus - breakage - revenue - commission - refunds (postings) = acks" "
  WITH books AS (
    SELECT p.currency, -sum(p.amount) FILTER (WHERE p.account NOT IN ('wallet', 'payee_receivable')) AS by_accounts
      FROM wallet.postings p GROUP BY p.currency),
  held AS (
    SELECT b.currency, sum(b.cash + b.bonus + b.earnings + b.held - b.debt) AS in_wallets
      FROM wallet.wallet w CROSS JOIN LATERAL wallet.balance(w.wallet_id) b GROUP BY b.currency),
  acked AS (
    SELECT 'USD'::text AS currency, sum(cash + bonus + earnings) / 100.0 AS by_acks FROM load.model)
  SELECT h.currency, h.in_wallets, b.by_accounts, a.by_acks
    FROM held h FULL JOIN books b USING (currency) FULL JOIN acked a USING (currency)
   WHERE h.in_wallets IS DISTINCT FROM b.by_accounts
      OR (h.currency = 'USD' AND h.in_wallets IS DISTINCT FROM a.by_acks)"

# ------------------------------------------------------------------ donations to one charity
# DONORS CNY wallets, each given 20.00 of earnings (wallet.adjust), each donate once to one charity
# wallet (test/load/stress_donate.sql: donor n gives 100 + n cents), DCLIENTS pgbench clients at
# once. A receiver of many concurrent transfers must not queue on its row (CONTRACT section 17):
# in these sessions deadlock_timeout is 10ms and log_lock_waits on, so a wait of 10ms for any lock
# is logged (the relation extension lock of a growing table aside, which is no row lock), and
# lock_timeout is 5s, so a wait that long fails the transaction.
DONORS=1000
DCLIENTS=40
q -o /dev/null <<SQL
SELECT count(wallet.open('donor-' || i, 'CNY')) FROM generate_series(0, $((DONORS - 1))) i;
SELECT wallet.open('charity', 'CNY');
CREATE SEQUENCE load.donor_seq MINVALUE 0 START 0;
SQL
DBASE=$(val "SELECT wallet_id FROM wallet.wallet WHERE owner = 'donor-0'")
CHARITY=$(val "SELECT wallet_id FROM wallet.wallet WHERE owner = 'charity'")
layout=$(val "SELECT count(*) FROM wallet.wallet WHERE owner LIKE 'donor-%' AND wallet_id = $DBASE + substr(owner, 7)::int")
if [[ $layout != "$DONORS" ]]; then
    echo "stress.sh: setup: donor wallet ids are not contiguous" >&2
    exit 1
fi
funded=$(val "SELECT count(a.txn_id) FROM generate_series(0, $((DONORS - 1))) i
               CROSS JOIN LATERAL wallet.adjust($DBASE + i, 'earnings', 20, 'stress: donation funds', 'fund') a")
log_offset=$(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0)
echo "stress: $DONORS donations to one charity (wallet $CHARITY) from $DONORS donors ($funded funded), pgbench -c $DCLIENTS"
start=$SECONDS
bench_rc=0
PGOPTIONS='-c deadlock_timeout=10ms -c log_lock_waits=on -c lock_timeout=5s' \
    "$PGBENCH" -n -c "$DCLIENTS" -j 2 -t $((DONORS / DCLIENTS)) -D dbase="$DBASE" -D charity="$CHARITY" \
    -f "$LOAD/stress_donate.sql" "$DB" >"$WORK/donate.out" 2>&1 || bench_rc=$?
delapsed=$((SECONDS - start))
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/donate.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/donate.out")
if ((bench_rc != 0)) || [[ $processed != "$DONORS" || $failed != 0 ]]; then
    fail "donations: pgbench exit $bench_rc, processed ${processed:-?} of $DONORS, failed ${failed:-?}"
    grep -E 'ERROR|FATAL|aborted|DETAIL' "$WORK/donate.out" | head -n 20 | sed 's/^/    /'
else
    echo "ok: donations: pgbench processed $processed of $DONORS transfers in ${delapsed}s, 0 failed"
fi
tail -c +$((log_offset + 1)) "$SERVER_LOG" >"$WORK/donate.log" 2>/dev/null || : >"$WORK/donate.log"
grep -E 'deadlock detected|lock timeout|still waiting for' "$WORK/donate.log" | grep -v 'on extension of relation' \
    >"$WORK/donate.waits" || true
ext_waits=$(grep -c 'still waiting for .* on extension of relation' "$WORK/donate.log" || true)
if [[ -s $WORK/donate.waits ]]; then
    fail "donations: $(wc -l <"$WORK/donate.waits") deadlock(s), lock timeout(s) or lock wait(s) over 10ms in the server log:"
    head -n 10 "$WORK/donate.waits" | sed 's/^/    /'
else
    echo "ok: donations: no deadlock, no lock timeout, no lock wait over 10ms ($ext_waits on extending a table)"
fi
DSUM=$((DONORS * 100 + DONORS * (DONORS - 1) / 2)) # cents: 100 + n for n = 0 .. DONORS - 1
check "donations: the charity's balance is exactly the sum of the $DONORS donations (credits pending)" "
  SELECT b.earnings, b.available, b.held, (SELECT count(*) FROM wallet.payee_credit c WHERE c.wallet_id = $CHARITY)
    FROM wallet.balance($CHARITY) b
   WHERE b.earnings * 100 <> $DSUM OR b.available <> b.earnings OR b.held <> 0"
val "SELECT wallet.rollup_credits()" >/dev/null
check "donations: and after wallet.rollup_credits(), in its earnings lots, no credit left pending" "
  SELECT b.earnings, b.available, l.lots, l.amount, c.pending
    FROM wallet.balance($CHARITY) b,
         (SELECT count(*) AS lots, sum(amount) AS amount FROM wallet.lots($CHARITY) WHERE bucket = 'earnings') l,
         (SELECT count(*) AS pending FROM wallet.payee_credit WHERE wallet_id = $CHARITY) c
   WHERE b.earnings * 100 <> $DSUM OR b.available <> b.earnings OR l.amount * 100 IS DISTINCT FROM $DSUM
      OR c.pending <> 0"
check "donations: one transfer from each donor, of its amount, and each donor's earnings less it" "
  SELECT i, t.n, t.amount, b.earnings FROM generate_series(0, $((DONORS - 1))) i
    LEFT JOIN (SELECT wallet_id, count(*) AS n, sum(amount) AS amount FROM wallet.transactions
                WHERE kind = 'transfer' GROUP BY wallet_id) t ON t.wallet_id = $DBASE + i
   CROSS JOIN LATERAL wallet.balance($DBASE + i) b
   WHERE t.n IS DISTINCT FROM 1 OR t.amount * 100 <> 100 + i OR (20 - b.earnings) * 100 <> 100 + i"
check "donations: wallet_report.transfers_daily counts them, no fee" "
  SELECT sum(count), sum(amount), sum(fees) FROM wallet_report.transfers_daily
   WHERE currency = 'CNY' AND kind = 'donation'
  HAVING sum(count) IS DISTINCT FROM $DONORS OR sum(amount) * 100 IS DISTINCT FROM $DSUM
      OR sum(fees) <> 0"
check "wallet.reconcile() returns no rows after the donations" "SELECT * FROM wallet.reconcile()"

ops=$(val "SELECT count(*) FROM load.ack WHERE id <> 0 AND client >= 0")
refused=$(val "SELECT count(*) FROM load.ack WHERE id = 0")
txns=$(val "SELECT count(*) FROM wallet.txn")
debts=$(val "SELECT count(*) FROM wallet.wallet WHERE debt > 0")
echo "stress: measured: $ops acknowledged operations ($refused reversals refused, $debts payees in debt at the end),"
echo "        $txns txns, $WALLETS wallets, ${elapsed}s of load, $deadlocks deadlocks, $lock_waits lock waits > 100ms;"
echo "        $DONORS donations to one charity in ${delapsed}s"

if ((FAILURES > 0)); then
    echo "stress: $FAILURES check(s) FAILED"
    exit 1
fi
echo "stress: all checks passed"
