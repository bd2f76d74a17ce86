#!/usr/bin/env bash
# router: a router database and two shard databases on the test cluster (CONTRACT.md section 23).
#
#  1. a lone database is shard 0 of 1 and counts its ids in steps of 1; configure_shard refuses
#     bad arguments and a database that already has wallets;
#  2. wallet_shard0 and wallet_shard1 are configured as shards 0 and 1 of 2; the router's
#     functions (src/router/proxies.sql) are what test/router/gen_proxies.sql writes from the
#     shard's functions now (same signatures, results and grants);
#  3. wallet_router: CREATE EXTENSION wallet_router, configure() refuses a wrong count and shards
#     in the wrong order, then takes the two connection strings;
#  4. through the router: wallets open on both shards by the owner's hash, every id carries its
#     shard (low bit), top-up, spend (with a payee on the same shard), hold, capture, release,
#     reverse, refund request and review, withdrawal request, coupons and reads give what the
#     shard gives directly; replays return replayed = true; errors come back with their SQLSTATE;
#     a login role of wallet_app calls through the router; reconcile is clean on each shard and
#     through the router;
#  5. money between shards: a transfer to a wallet of another shard (and a spend's or a
#     captured hold's payee there)
#     debits the sender with an outbox message; the receiver's balance shows it as incoming; wallet_router.relay() applies it
#     once (a replay changes nothing), a refused one goes back to the sender; a relay killed
#     mid-batch and run again moves nothing twice; a shard down: the other shard goes on and the
#     messages wait, then arrive; reconcile_cluster() is clean after each step;
#  6. a group payment whose payee is on shard 0 and participants on both: joins through the
#     router (a participant of shard 1 holds its share there, the join is recorded on shard 0; a
#     join whose record did not land is recorded by its replay or the relay), open until the
#     last join, then paid once: holds on shard 0 captured at once, on shard 1 by the relay (one
#     capture applied by hand first, as by a relay killed before marking it: nothing twice), the
#     payee credited by the payee-credit messages; replays return the first result; a cancel by a
#     participant of shard 1 releases every hold on both shards, and a join arriving after it is
#     released; after the ttl the group is expired, and its shard's holds sweep (expire_group_pays)
#     releases the shares held on the other shard by message;
#     reconcile_cluster() is clean after each;
#  7. a shard dumped and restored keeps its place: its ids go on carrying its shard.
#
# Run by test/run.sh with PGHOST/PGPORT/PGUSER set for a running cluster where both extensions
# and PL/Proxy are installed. ROUTER_REGEN=1 rewrites src/router/proxies.sql instead of checking it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d /tmp/wallet-router.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILS=0

ok() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
: "${PGHOST:?router: PGHOST is not set (run through test/run.sh)}"
BIN=${WALLET_PG_BIN:-/usr/lib/postgresql/15/bin}
cd "$ROOT"

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# one value (or rows, |-separated) from a database
v() {
    local db=$1
    shift
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$*"
}
R() { v wallet_router "$@"; }
S0() { v wallet_shard0 "$@"; }
S1() { v wallet_shard1 "$@"; }
# S N SQL: on shard N
S() {
    local n=$1
    shift
    v "wallet_shard$n" "$@"
}
# eq WHAT EXPECTED ACTUAL
eq() {
    if [[ $2 == "$3" ]]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
# err WHAT SQLSTATE DB SQL: the statement fails with that SQLSTATE
err() {
    local what=$1 code=$2 db=$3 out
    shift 3
    out=$(psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$*" 2>&1) && {
        fail "$what: expected $code, it succeeded: $out"
        return
    }
    if grep -q "ERROR:  $code:" <<<"$out"; then ok "$what ($code)"; else fail "$what: expected $code, got: $out"; fi
}

q -d postgres -c 'SET client_min_messages = warning' \
    -c 'DROP DATABASE IF EXISTS wallet_router' -c 'DROP DATABASE IF EXISTS wallet_shard0' \
    -c 'DROP DATABASE IF EXISTS wallet_shard1' -c 'DROP DATABASE IF EXISTS wallet_lone' \
    -c 'DROP DATABASE IF EXISTS wallet_shard1_copy' \
    -c 'CREATE DATABASE wallet_router' -c 'CREATE DATABASE wallet_shard0' \
    -c 'CREATE DATABASE wallet_shard1' -c 'CREATE DATABASE wallet_lone' -c 'CREATE DATABASE wallet_shard1_copy'

# ---------------------------------------------------------------- 1. a lone database
v wallet_lone 'CREATE EXTENSION wallet'
eq "a lone database is shard 0 of 1" "0|1" "$(v wallet_lone 'SELECT * FROM wallet.shard_info()')"
eq "a lone database counts its ids in steps of 1" "1|2" \
    "$(v wallet_lone "SELECT wallet.open('lone-a'), wallet.open('lone-b')" | tr '\n' '|' | sed 's/|$//')"
eq "no sequence of a lone database steps by more than 1" "0" \
    "$(v wallet_lone "SELECT count(*) FROM pg_sequences WHERE schemaname IN ('wallet', 'wallet_report') AND increment_by <> 1")"
err "configure_shard on a database with wallets" WL008 wallet_lone 'SELECT wallet.configure_shard(0, 2)'
err "shards not a power of two" 22023 wallet_lone 'SELECT wallet.configure_shard(0, 3)'
err "shards above 1024" 22023 wallet_lone 'SELECT wallet.configure_shard(0, 2048)'
err "shard out of range" 22023 wallet_lone 'SELECT wallet.configure_shard(2, 2)'
err "a NULL shard" 22023 wallet_lone 'SELECT wallet.configure_shard(NULL, 2)'

# ---------------------------------------------------------------- 2. two shards
for n in 0 1; do
    S $n 'CREATE EXTENSION wallet' >/dev/null
    S $n "SELECT wallet.configure_shard($n, 2)" >/dev/null
done
eq "shard 1 knows its place" "1|2" "$(S1 'SELECT * FROM wallet.shard_info()')"
eq "configure_shard again with the same numbers changes nothing" "" "$(S1 'SELECT wallet.configure_shard(1, 2)')"
err "configure_shard with other numbers" WL008 wallet_shard1 'SELECT wallet.configure_shard(0, 2)'
eq "every sequence of shard 1 steps by 2" "0" \
    "$(S1 "SELECT count(*) FROM pg_sequences WHERE schemaname IN ('wallet', 'wallet_report') AND increment_by <> 2")"
eq "a wallet_admin may configure a shard (EXECUTE granted)" "t" \
    "$(S1 "SELECT has_function_privilege('wallet_admin', 'wallet.configure_shard(int, int)', 'EXECUTE')
             AND NOT has_function_privilege('wallet_app', 'wallet.configure_shard(int, int)', 'EXECUTE')")"

psql -X -q -At -v ON_ERROR_STOP=1 -d wallet_shard0 -f test/router/gen_proxies.sql >"$WORK/proxies.sql"
if [[ ${ROUTER_REGEN:-} == 1 ]]; then
    cp "$WORK/proxies.sql" src/router/proxies.sql
    ok "src/router/proxies.sql rewritten"
elif diff -u src/router/proxies.sql "$WORK/proxies.sql" >"$WORK/proxies.diff"; then
    ok "the router's functions have the shard functions' signatures, results and grants"
else
    cat "$WORK/proxies.diff"
    fail "src/router/proxies.sql differs from what test/router/gen_proxies.sql writes now (ROUTER_REGEN=1)"
fi

# ---------------------------------------------------------------- 3. the router
R 'CREATE EXTENSION wallet_router CASCADE' >/dev/null
C0="host=$PGHOST port=$PGPORT dbname=wallet_shard0 user=postgres"
C1="host=$PGHOST port=$PGPORT dbname=wallet_shard1 user=postgres"
err "configure with three shards" 22023 wallet_router "SELECT wallet_router.configure(ARRAY['a', 'b', 'c'])"
err "configure with the shards in the wrong order" WL008 wallet_router \
    "SELECT wallet_router.configure(ARRAY['$C1', '$C0'])"
eq "configure takes two shards" "2" "$(R "SELECT wallet_router.configure(ARRAY['$C0', '$C1'])")"
eq "the PL/Proxy cluster has them as p0 and p1" "p0=$C0|p1=$C1" \
    "$(R "SELECT string_agg(o, '|' ORDER BY o) FROM pg_foreign_server, unnest(srvoptions) o
           WHERE srvname = 'wallet_cluster' AND o ~ '^p[0-9]'")"

# ---------------------------------------------------------------- 4. through the router
declare -A W
for o in ann bob cat dan eve fay gus hal; do
    W[$o]=$(R "SELECT wallet.open('$o')")
done
mism=0
for o in "${!W[@]}"; do
    id=${W[$o]}
    [[ $((id & 1)) == "$(R "SELECT wallet_router.shard_of_owner('$o')")" ]] || mism=$((mism + 1))
    [[ $(S $((id & 1)) "SELECT count(*) FROM wallet.wallet WHERE wallet_id = $id AND owner = '$o'") == 1 ]] ||
        mism=$((mism + 1))
done
eq "each wallet opened on the shard of its owner's hash, and its id ends in that shard" 0 "$mism"
n0=$(S0 'SELECT count(*) FROM wallet.wallet')
n1=$(S1 'SELECT count(*) FROM wallet.wallet')
if ((n0 > 0 && n1 > 0 && n0 + n1 == 8)); then ok "owners landed on both shards ($n0 and $n1)"; else
    fail "owners on the shards: $n0 and $n1"; fi
eq "open is idempotent through the router" "${W[ann]}" "$(R "SELECT wallet.open('ann')")"
mism=0
for o in ann bob cat dan; do
    u=$(R "SELECT wallet.open('$o', 'USD')")
    (((u & 1) == (${W[$o]} & 1))) || mism=$((mism + 1))
done
eq "an owner's wallets of other currencies open on the same shard (so an exchange stays on one)" 0 "$mism"

# two wallets on each shard: a customer and a shop
A0='' A1='' P0='' P1=''
for o in ann bob cat dan eve fay gus hal; do
    id=${W[$o]}
    if ((id % 2 == 0)); then
        if [[ -z $A0 ]]; then A0=$id; elif [[ -z $P0 ]]; then P0=$id; fi
    else
        if [[ -z $A1 ]]; then A1=$id; elif [[ -z $P1 ]]; then P1=$id; fi
    fi
done
if [[ -z $A0 || -z $P0 || -z $A1 || -z $P1 ]]; then
    fail "need two wallets on each shard (got $A0 $P0 $A1 $P1)"
    exit 1
fi
echo "wallets: shard 0: $A0 $P0, shard 1: $A1 $P1"

for n in 0 1; do
    a=$([[ $n == 0 ]] && echo "$A0" || echo "$A1")
    p=$([[ $n == 0 ]] && echo "$P0" || echo "$P1")
    t=$(R "SELECT txn_id FROM wallet.top_up($a, 100, 'top-1')")
    eq "shard $n: a top-up's id carries the shard" "$n" "$((t & 1))"
    eq "shard $n: a top-up replayed through the router" "$t|t" \
        "$(R "SELECT txn_id, replayed FROM wallet.top_up($a, 100, 'top-1')")"
    err "shard $n: the same key with another amount" WL003 wallet_router "SELECT * FROM wallet.top_up($a, 99, 'top-1')"
    s=$(R "SELECT txn_id FROM wallet.spend($a, 30, 'spend-1', payee => $p)")
    eq "shard $n: a spend's id carries the shard" "$n" "$((s & 1))"
    eq "shard $n: the spend replayed" "$s|t" "$(R "SELECT txn_id, replayed FROM wallet.spend($a, 30, 'spend-1', payee => $p)")"
    eq "shard $n: the spend replayed through the router equals its replay on the shard" \
        "$(S $n "SELECT * FROM wallet.spend($a, 30, 'spend-1', payee => $p)")" \
        "$(R "SELECT * FROM wallet.spend($a, 30, 'spend-1', payee => $p)")"
    eq "shard $n: the spend is in the shard's journal, paying the payee" "spend|$a" \
        "$(S $n "SELECT kind, wallet_id FROM wallet.transactions WHERE txn_id = $s")"
    h=$(R "SELECT hold_id FROM wallet.hold($a, 20, 'hold-1')")
    eq "shard $n: a hold id carries the shard" "$n" "$((h & 1))"
    c=$(R "SELECT txn_id FROM wallet.capture_hold($h, 'cap-1', 5, false)")
    eq "shard $n: a capture's id carries the shard" "$n" "$((c & 1))"
    eq "shard $n: the capture replayed" "$c|t" "$(R "SELECT txn_id, replayed FROM wallet.capture_hold($h, 'cap-1', 5, false)")"
    R "SELECT * FROM wallet.release_hold($h, 'rel-1')" >/dev/null
    r=$(R "SELECT txn_id FROM wallet.reverse_spend($s, 'rev-1', 10)")
    eq "shard $n: a reversal's id carries the shard" "$n" "$((r & 1))"
    eq "shard $n: the reversal replayed" "$r|t" "$(R "SELECT txn_id, replayed FROM wallet.reverse_spend($s, 'rev-1', 10)")"
    eq "shard $n: the statement through the router is the shard's" \
        "$(S $n "SELECT txn_id, kind, cash, available_after, counterparty FROM wallet.statement($a)")" \
        "$(R "SELECT txn_id, kind, cash, available_after, counterparty FROM wallet.statement($a)")"
    eq "shard $n: a transaction read through the router" "$s|spend" "$(R "SELECT txn_id, kind FROM wallet.transaction($s)")"
    rf=$(R "SELECT refund_id FROM wallet.request_refund($t, 'ref-1', 10)")
    eq "shard $n: a refund id carries the shard" "$n" "$((rf & 1))"
    eq "shard $n: the refund replayed" "$rf|t" "$(R "SELECT refund_id, replayed FROM wallet.request_refund($t, 'ref-1', 10)")"
    eq "shard $n: the refund reviewed through the router" "approved" \
        "$(R "SELECT wallet.review_refund($rf, true, 'ops')")"
    eq "shard $n: and settled" "succeeded" "$(R "SELECT wallet.settle_refund($rf, true, 'gw-1')")"
    R "SELECT * FROM wallet.top_up($p, 50, 'top-e')" >/dev/null
    eq "shard $n: a coupon-free spend preview equals the shard's" \
        "$(S $n "SELECT * FROM wallet.spend_preview($a, 12)")" "$(R "SELECT * FROM wallet.spend_preview($a, 12)")"
    for b in "$a" "$p"; do
        eq "shard $n: wallet.balance($b) through the router is the shard's, with nothing incoming" \
            "$(S $n "SELECT * FROM wallet.balance($b)")|0" "$(R "SELECT * FROM wallet.balance($b)")"
    done
    for read in "lots($a)" "lots($p)" "holds($a)" "refund_quote($t)" \
        "coupons($a)" "limit_usage($a)" "withdrawals($p)"; do
        eq "shard $n: wallet.$read through the router equals the shard's" \
            "$(S $n "SELECT * FROM wallet.$read")" "$(R "SELECT * FROM wallet.$read")"
    done
    R "SELECT wallet.freeze($a, 'check')" >/dev/null
    err "shard $n: a frozen wallet refuses a spend through the router" WL002 wallet_router \
        "SELECT * FROM wallet.spend($a, 1, 'spend-frozen')"
    R "SELECT wallet.unfreeze($a)" >/dev/null
    eq "shard $n: the freeze and unfreeze reached the shard" "f" "$(S $n "SELECT frozen FROM wallet.balance($a)")"
done

err "an unknown wallet is WL006 from its shard" WL006 wallet_router "SELECT * FROM wallet.balance(1000001)"
err "a NULL wallet id is 22023" 22023 wallet_router "SELECT * FROM wallet.balance(NULL)"
err "not enough money is WL001" WL001 wallet_router "SELECT * FROM wallet.spend($A1, 100000, 'too-much')"
eq "a settings read runs on shard 0" "$(S0 "SELECT count(*) FROM wallet.bonus_preview('CNY', 100)")" \
    "$(R "SELECT count(*) FROM wallet.bonus_preview('CNY', 100)")"

# a login role that is a wallet_app calls through the router (PL/Proxy connects to the shard as it)
q -d postgres -c 'SET client_min_messages = warning' -c 'DROP ROLE IF EXISTS wallet_router_app' \
    -c 'CREATE ROLE wallet_router_app LOGIN IN ROLE wallet_app'
eq "wallet_app reads a balance through the router" "$(S1 "SELECT available FROM wallet.balance($A1)")" \
    "$(psql -X -q -At -U wallet_router_app -d wallet_router -c "SELECT available FROM wallet.balance($A1)")"
if psql -X -q -At -U wallet_router_app -d wallet_router -c "SELECT wallet.freeze($A1, 'x')" >/dev/null 2>&1; then
    fail "wallet_app froze a wallet through the router"
else ok "wallet_app may not freeze through the router (no EXECUTE, as on the shard)"; fi

for n in 0 1; do
    eq "reconcile is clean on shard $n" "" "$(S $n 'SELECT * FROM wallet.reconcile()')"
done
eq "reconcile through the router is clean (every shard's)" "" "$(R 'SELECT * FROM wallet.reconcile()')"

# ---------------------------------------------------------------- 5. money between shards
# the shops get earnings to send
R "SELECT * FROM wallet.adjust($P0, 'earnings', 100, 'router test', 'adj-1')" >/dev/null
R "SELECT * FROM wallet.adjust($P1, 'earnings', 100, 'router test', 'adj-1')" >/dev/null
e_a1=$(S1 "SELECT earnings FROM wallet.balance($A1)")
x=$(R "SELECT txn_id FROM wallet.transfer($P0, $A1, 10, 'x-1')")
eq "a transfer to a wallet of another shard commits on the sender's shard" 0 "$((x & 1))"
eq "the transfer replayed" "$x|t" "$(R "SELECT txn_id, replayed FROM wallet.transfer($P0, $A1, 10, 'x-1')")"
eq "one outbox message, pending, with the debit" "1|$x|$A1|1000|f" \
    "$(S0 "SELECT count(*), min(from_txn), min(to_wallet), min(amount), bool_or(applied) FROM wallet.outbox")"
eq "the sender's shard posts the amount to shard_transit" "10.00" \
    "$(S0 "SELECT amount FROM wallet.postings WHERE txn_id = $x AND account = 'shard_transit'")"
eq "the receiver's balance shows it as incoming until the relay" "$e_a1|10.00" \
    "$(R "SELECT earnings, incoming FROM wallet.balance($A1)")"
eq "reconcile is clean on the sender's shard with money in transit" "" "$(S0 'SELECT * FROM wallet.reconcile()')"
eq "reconcile_cluster is clean with a message on its way" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"
eq "the relay applies one message" 1 "$(R 'SELECT wallet_router.relay()')"
eq "the receiver has it, nothing incoming" "$(v postgres "SELECT $e_a1 + 10")|0" \
    "$(R "SELECT earnings, incoming FROM wallet.balance($A1)")"
eq "the message is marked applied by the receiver's transaction" \
    "t|$(S1 "SELECT txn_id FROM wallet.transactions WHERE kind = 'relay_in' AND wallet_id = $A1")" \
    "$(S0 "SELECT applied, applied_txn FROM wallet.outbox")"
eq "the relay again applies nothing" 0 "$(R 'SELECT wallet_router.relay()')"
eq "a message applied twice is applied once (its id is the key)" "t" \
    "$(R "SELECT replayed FROM wallet_router._relay_in((SELECT message_id FROM wallet_router._relay_check() WHERE item = 'sent'), $A1, 10, 'CNY', 'transfer', $P0, $x)")"
eq "reconcile_cluster is clean after the relay" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"

# a receiver that does not exist: the money goes back to the sender
e_p0=$(S0 "SELECT earnings FROM wallet.balance($P0)")
R "SELECT * FROM wallet.transfer($P0, 1000001, 5, 'x-nobody')" >/dev/null
eq "the relay bounces a message its receiver refuses" 1 "$(R 'SELECT wallet_router.relay()' 2>/dev/null)"
eq "the sender has it back" "$e_p0" "$(S0 "SELECT earnings FROM wallet.balance($P0)")"
eq "the message is marked bounced" "t|t" "$(S0 "SELECT applied, bounced FROM wallet.outbox WHERE to_wallet = 1000001")"
eq "reconcile_cluster is clean after a bounce" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"

# a spend whose payee lives on another shard: the payee's credit goes by the outbox
e_p0=$(S0 "SELECT earnings FROM wallet.balance($P0)")
sp=$(R "SELECT txn_id FROM wallet.spend($A1, 7, 'xs-1', payee => $P0)")
eq "a spend paying a wallet of another shard commits on the payer's shard" 1 "$((sp & 1))"
eq "the payee's credit is a message, its amount in shard_transit" "payee|700|7.00" \
    "$(S1 "SELECT o.kind, o.amount, p.amount FROM wallet.outbox o JOIN wallet.postings p ON p.txn_id = o.from_txn
             AND p.account = 'shard_transit' WHERE o.from_txn = $sp")"
eq "the payee sees it as incoming" "$e_p0|7.00" "$(R "SELECT earnings, incoming FROM wallet.balance($P0)")"
eq "the spend replayed" "$sp|t" "$(R "SELECT txn_id, replayed FROM wallet.spend($A1, 7, 'xs-1', payee => $P0)")"
eq "the relay applies it" 1 "$(R 'SELECT wallet_router.relay()')"
eq "the payee has it" "$(v postgres "SELECT $e_p0 + 7")|0" "$(R "SELECT earnings, incoming FROM wallet.balance($P0)")"
eq "reconcile_cluster is clean after a payee on another shard" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"
# its reversal: the payer gets it back at once, the payee gives its part back by a compensating message
a1_avail=$(S1 "SELECT available FROM wallet.balance($A1)")
rv=$(R "SELECT txn_id FROM wallet.reverse_spend($sp, 'xs-rev', 3)")
eq "the reversal gives the payer 3 back at once" "$(v postgres "SELECT $a1_avail + 3")" \
    "$(S1 "SELECT available FROM wallet.balance($A1)")"
eq "the reversal replayed" "$rv|t" "$(R "SELECT txn_id, replayed FROM wallet.reverse_spend($sp, 'xs-rev', 3)")"
eq "a payee_back message for the payee's part, out of shard_transit" "payee_back|$P0|300|-3.00" \
    "$(S1 "SELECT o.kind, o.to_wallet, o.amount, p.amount FROM wallet.outbox o JOIN wallet.postings p
             ON p.txn_id = o.from_txn AND p.account = 'shard_transit' WHERE o.from_txn = $rv")"
eq "money asked back is not incoming" "0" "$(R "SELECT incoming FROM wallet.balance($P0)")"
eq "reconcile_cluster is clean with money asked back on its way" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"
eq "the relay applies it" 1 "$(R 'SELECT wallet_router.relay()')"
eq "the payee gave 3 back" "$(v postgres "SELECT $e_p0 + 7 - 3")|0.00" \
    "$(S0 "SELECT earnings, debt FROM wallet.balance($P0)")"
eq "reconcile is clean on the payee's shard" "" "$(S0 'SELECT * FROM wallet.reconcile()')"
eq "reconcile_cluster is clean after the compensating message" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"
# a payee with nothing left gives the rest as debt (the reversal never fails for its sake)
R "SELECT * FROM wallet.adjust($P0, 'earnings', -(SELECT earnings FROM wallet.balance($P0)), 'empty it', 'adj-empty')" >/dev/null 2>&1 ||
    S0 "SELECT * FROM wallet.adjust($P0, 'earnings', -(SELECT earnings FROM wallet.balance($P0)), 'empty it', 'adj-empty')" >/dev/null
R "SELECT * FROM wallet.reverse_spend($sp, 'xs-rev-2')" >/dev/null
eq "the relay applies the rest" 1 "$(R 'SELECT wallet_router.relay()')"
eq "the emptied payee owes the 4 it could not give" "0.00|4.00" "$(S0 "SELECT earnings, debt FROM wallet.balance($P0)")"
eq "reconcile_cluster is clean with a payee in debt" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"
# a credit relayed to a payee in debt repays the debt first (relay_in writes the row as the repayment left it)
R "SELECT charged FROM wallet.spend($A1, 2, 'xs-debt', payee => $P0)" >/dev/null
eq "the relay applies a credit to a payee in debt" 1 "$(R 'SELECT wallet_router.relay()')"
eq "which repaid 2 of its debt" "0.00|2.00" "$(S0 "SELECT earnings, debt FROM wallet.balance($P0)")"
eq "reconcile_cluster is clean after a credit repaid a debt across shards" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"
R "SELECT * FROM wallet.adjust($P0, 'earnings', 100, 'refill', 'adj-refill')" >/dev/null
eq "a credit repays the debt first" "98.00|0.00" "$(S0 "SELECT earnings, debt FROM wallet.balance($P0)")"

# a hold whose payee lives on another shard: its capture pays the payee by the outbox
e_p0=$(S0 "SELECT earnings FROM wallet.balance($P0)")
h=$(R "SELECT hold_id FROM wallet.hold($A1, 4, 'xh-1', payee => $P0)")
c=$(R "SELECT txn_id FROM wallet.capture_hold($h, 'xh-cap')")
eq "a capture paying a wallet of another shard sends the payee's credit as a message" "payee|$P0|400|f" \
    "$(S1 "SELECT kind, to_wallet, amount, applied FROM wallet.outbox WHERE from_txn = $c")"
eq "the capture replayed" "$c|t" "$(R "SELECT txn_id, replayed FROM wallet.capture_hold($h, 'xh-cap')")"
eq "the relay applies it" 1 "$(R 'SELECT wallet_router.relay()')"
eq "the payee has it" "$(v postgres "SELECT $e_p0 + 4")|0" "$(R "SELECT earnings, incoming FROM wallet.balance($P0)")"
eq "reconcile is clean on the payer's shard after the capture" "" "$(S1 'SELECT * FROM wallet.reconcile()')"
eq "reconcile_cluster is clean after a capture across shards" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"

# a relay killed mid-batch: the second message's receiver is locked, the relay is killed there
e_p1=$(S1 "SELECT earnings FROM wallet.balance($P1)")
e_a1=$(S1 "SELECT earnings FROM wallet.balance($A1)")
m1=$(R "SELECT txn_id FROM wallet.transfer($P0, $P1, 1, 'k-1')")
m2=$(R "SELECT txn_id FROM wallet.transfer($P0, $A1, 2, 'k-2')")
m3=$(R "SELECT txn_id FROM wallet.transfer($P0, $P1, 4, 'k-3')")
psql -X -q -d wallet_shard1 -c "BEGIN" -c "SELECT 1 FROM wallet.wallet WHERE wallet_id = $A1 FOR UPDATE" \
    -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
lock_pid=$!
sleep 1
psql -X -q -d wallet_router -c "SELECT wallet_router.relay()" >"$WORK/relay.out" 2>&1 &
relay_pid=$!
waiting=0
for _ in $(seq 1 100); do
    waiting=$(v postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'wallet_shard1' AND wait_event_type = 'Lock'")
    [[ $waiting == 1 ]] && break
    sleep 0.2
done
eq "the relay waits on the second message's receiver" 1 "$waiting"
eq "the first message of the batch is applied and marked" "t" \
    "$(S0 "SELECT applied FROM wallet.outbox WHERE from_txn = $m1")"
v postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = 'wallet_router' AND query LIKE '%relay()%' AND pid <> pg_backend_pid()" >/dev/null
wait "$relay_pid" || true
v postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = 'wallet_shard1' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()" >/dev/null
wait "$lock_pid" || true
for _ in $(seq 1 50); do
    [[ $(v postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'wallet_shard1' AND state = 'active'") == 0 ]] && break
    sleep 0.2
done
eq "after the kill, the last two messages are not marked" "f|f" \
    "$(S0 "SELECT string_agg(applied::text, '|' ORDER BY message_id) FROM wallet.outbox WHERE from_txn IN ($m2, $m3)" | sed 's/true/t/g; s/false/f/g')"
R 'SELECT wallet_router.relay()' >/dev/null
eq "the rerun moves the rest, nothing twice: the first receiver got 1 + 4" "$(v postgres "SELECT $e_p1 + 5")" \
    "$(S1 "SELECT earnings FROM wallet.balance($P1)")"
eq "and the second receiver 2" "$(v postgres "SELECT $e_a1 + 2")" "$(S1 "SELECT earnings FROM wallet.balance($A1)")"
eq "every message is received once" "0" \
    "$(S1 "SELECT count(*) FROM (SELECT idempotency_key FROM wallet.transactions WHERE kind = 'relay_in'
                                  GROUP BY idempotency_key HAVING count(*) > 1) d")"
eq "nothing is pending" "0" "$(S0 'SELECT count(*) FROM wallet.outbox WHERE NOT applied')"
eq "reconcile_cluster is clean after the killed relay" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"

# a shard down: payments on the other shard go on, messages wait; restarted, nothing is lost
v postgres "ALTER DATABASE wallet_shard1 ALLOW_CONNECTIONS false" >/dev/null
v postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'wallet_shard1'" >/dev/null
R "SELECT * FROM wallet.top_up($A0, 10, 'down-1')" >/dev/null && ok "a top-up on shard 0 while shard 1 is down" ||
    fail "a top-up on shard 0 while shard 1 is down"
d=$(R "SELECT txn_id FROM wallet.transfer($P0, $A1, 3, 'down-2')")
[[ -n $d ]] && ok "a transfer to a wallet of the stopped shard commits on the sender's" ||
    fail "a transfer to the stopped shard"
eq "the relay applies nothing while the receiver's shard is down" 0 "$(R 'SELECT wallet_router.relay()' 2>/dev/null)"
eq "the message waits" "f" "$(S0 "SELECT applied FROM wallet.outbox WHERE from_txn = $d")"
v postgres "ALTER DATABASE wallet_shard1 ALLOW_CONNECTIONS true" >/dev/null
# shellcheck source=test/cluster.sh
. "$ROOT/test/cluster.sh"
cluster_restart fast
a1_before=$(S1 "SELECT earnings FROM wallet.balance($A1)")
eq "after a restart the relay applies the waiting message" 1 "$(R 'SELECT wallet_router.relay()')"
eq "the receiver has it" "$(v postgres "SELECT $a1_before + 3")" "$(S1 "SELECT earnings FROM wallet.balance($A1)")"
eq "reconcile_cluster is clean at the end" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"
# the check catches a message marked applied that never arrived
f=$(R "SELECT txn_id FROM wallet.transfer($P0, $A1, 6, 'fake-1')")
S0 "UPDATE wallet.outbox SET applied = true WHERE from_txn = $f" >/dev/null
eq "reconcile_cluster finds a message marked applied that was never received" \
    "message applied, not received|6.00|0" \
    "$(R "SELECT check_name, expected, actual FROM wallet.reconcile_cluster() ORDER BY check_name")"
S0 "UPDATE wallet.outbox SET applied = false WHERE from_txn = $f" >/dev/null
R 'SELECT wallet_router.relay()' >/dev/null
eq "relayed, it is clean again" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"

# ---------------------------------------------------------------- 6. a group payment across shards
# payee P0 on shard 0; participants A0 (shard 0), A1 and P1 (shard 1)
relay_all() { for _ in 1 2 3 4 5; do [[ $(R 'SELECT wallet_router.relay()') == 0 ]] && break; done; }
hold_of() { S "$(($1 & 1))" "SELECT status, remaining FROM wallet.holds($1) WHERE hold_id = $2"; }
for a in $A0 $A1 $P1; do R "SELECT 1 FROM wallet.top_up($a, 20, 'xg-top')" >/dev/null; done
relay_all
e_p0=$(S0 "SELECT earnings FROM wallet.balance($P0)")
av_a0=$(S0 "SELECT available FROM wallet.balance($A0)")
av_a1=$(S1 "SELECT available FROM wallet.balance($A1)")
av_p1=$(S1 "SELECT available FROM wallet.balance($P1)")
g=$(R "SELECT wallet.group_pay($P0, ARRAY[$A0, $A1, $P1], ARRAY[3, 4, 5], 'xg-1')")
eq "a group payment with participants on both shards is made on the payee's shard" 0 "$((g & 1))"
j1=$(R "SELECT hold_id, status, joined, participants, replayed FROM wallet.join_group_pay($g, $A1, 'xg-j1')")
h1=${j1%%|*}
eq "a participant of the other shard joins: its hold is on its shard, the group counts it" "1|open|1|3|f" \
    "$((h1 & 1))|${j1#*|}"
eq "its share is held on its shard" "$(v postgres "SELECT $av_a1 - 4")|4.00" \
    "$(S1 "SELECT available, held FROM wallet.balance($A1)")"
eq "the join replayed returns the first result" "$h1|open|1|3|t" \
    "$(R "SELECT hold_id, status, joined, participants, replayed FROM wallet.join_group_pay($g, $A1, 'xg-j1')")"
err "its hold cannot be captured by itself" WL008 wallet_router "SELECT * FROM wallet.capture_hold($h1, 'xg-own')"
j2=$(R "SELECT hold_id, status, joined FROM wallet.join_group_pay($g, $A0, 'xg-j2')")
h2=${j2%%|*}
eq "a participant of the payee's shard joins there" "open|2" "${j2#*|}"
eq "the group is open until the last join" "open|2|3|12.00|" "$(R "SELECT * FROM wallet.group_pay_status($g)")"
# the router's call after the hold did not land: the join waits in the outbox, and the relay records it
gexp=$(S0 "SELECT expires_at FROM wallet.group_pay WHERE group_id = $g")
j3=$(S1 "SELECT hold_id, message_id FROM wallet.join_group_share($g, $P1, 'xg-j3', $P0,
        (SELECT currency FROM wallet.wallet WHERE wallet_id = $P1), 5, '$gexp', NULL, 'open')")
h3=${j3%%|*}
eq "the last join's hold, its record not yet on the group's shard: still open" "open|2" \
    "$(R "SELECT status, joined FROM wallet.group_pay_status($g)")"
eq "the last join replayed through the router records it: paid (the first result of the record)" \
    "$h3|paid|3|3|t" \
    "$(R "SELECT hold_id, status, joined, participants, replayed FROM wallet.join_group_pay($g, $P1, 'xg-j3')")"
eq "the group is paid once" "paid|3|3|12.00" \
    "$(R "SELECT status, joined, participants, amount FROM wallet.group_pay_status($g)")"
eq "the hold on the payee's shard is captured at once" "captured|0.00" "$(hold_of "$A0" "$h2")"
eq "the holds on the other shard wait for the relay" "open|4.00 open|5.00" \
    "$(hold_of "$A1" "$h1") $(hold_of "$P1" "$h3")"
eq "capture messages wait in the group's outbox" "2" \
    "$(S0 "SELECT count(*) FROM wallet.outbox WHERE group_id = $g AND kind = 'group_capture' AND NOT applied")"
eq "messages of a group are not incoming money" "0" "$(R "SELECT incoming FROM wallet.balance($A1)")"
# a relay killed after applying the first capture, before marking it: applied by hand as the relay does
m=$(S0 "SELECT message_id, kind, to_wallet, hold_id, group_id, amount::numeric / 100, currency, from_txn
          FROM wallet.outbox WHERE group_id = $g AND kind = 'group_capture' ORDER BY message_id LIMIT 1")
IFS='|' read -r mid mkind mto mhold mgroup mamt mcur mtxn <<<"$m"
S1 "SELECT * FROM wallet.group_relay($mid, '$mkind', $mto, $mhold, $mgroup, $mamt, '$mcur', $mtxn)" >/dev/null
relay_all
eq "after the relay every hold is captured, each once" "captured|0.00 captured|0.00 1 1" \
    "$(hold_of "$A1" "$h1") $(hold_of "$P1" "$h3") $(S1 "SELECT count(*) FROM wallet.transactions WHERE kind = 'capture_hold' AND wallet_id = $A1 AND ref_txn = (SELECT hold_txn FROM wallet.hold WHERE hold_id = $h1)") $(S1 "SELECT count(*) FROM wallet.transactions WHERE kind = 'capture_hold' AND wallet_id = $P1 AND ref_txn = (SELECT hold_txn FROM wallet.hold WHERE hold_id = $h3)")"
eq "each participant paid its share once" \
    "$(v postgres "SELECT $av_a0 - 3")|$(v postgres "SELECT $av_a1 - 4")|$(v postgres "SELECT $av_p1 - 5")" \
    "$(S0 "SELECT available FROM wallet.balance($A0)")|$(S1 "SELECT available FROM wallet.balance($A1)")|$(S1 "SELECT available FROM wallet.balance($P1)")"
eq "the payee got the whole order once, the other shard's shares by the payee-credit messages" \
    "$(v postgres "SELECT $e_p0 + 12")|0" "$(R "SELECT earnings, incoming FROM wallet.balance($P0)")"
eq "nothing is pending" "0|0" \
    "$(S0 'SELECT count(*) FROM wallet.outbox WHERE NOT applied')|$(S1 'SELECT count(*) FROM wallet.outbox WHERE NOT applied')"
eq "the last join replayed again: paid" "$h3|paid|3|t" \
    "$(R "SELECT hold_id, status, joined, replayed FROM wallet.join_group_pay($g, $P1, 'xg-j3')")"
err "a join with another key after the payment" WL008 wallet_router "SELECT * FROM wallet.join_group_pay($g, $A1, 'xg-j9')"
eq "reconcile_cluster is clean after a group paid across shards" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"

# cancelled by a participant of the other shard: every hold released on both shards
g2=$(R "SELECT wallet.group_pay($P0, ARRAY[$A0, $A1, $P1], ARRAY[1, 2, 3], 'xg-2')")
k1=$(R "SELECT hold_id FROM wallet.join_group_pay($g2, $A0, 'xg2-j1')")
k2=$(R "SELECT hold_id FROM wallet.join_group_pay($g2, $A1, 'xg2-j2')")
eq "a participant of the other shard cancels" "cancelled|f" "$(R "SELECT * FROM wallet.cancel_group_pay($g2, $P1, 'xg2-c')")"
eq "the cancel replayed" "cancelled|t" "$(R "SELECT * FROM wallet.cancel_group_pay($g2, $P1, 'xg2-c')")"
eq "the hold on the group's shard is released at once, the other's by the relay" "released|0.00 open|2.00" \
    "$(hold_of "$A0" "$k1") $(hold_of "$A1" "$k2")"
relay_all
eq "after the relay both are released" "released|0.00 released|0.00" "$(hold_of "$A0" "$k1") $(hold_of "$A1" "$k2")"
err "a join after the cancel" WL008 wallet_router "SELECT * FROM wallet.join_group_pay($g2, $P1, 'xg2-j3')"
# a join whose record reaches the group after the cancel (the router read it open): released
late=$(S1 "SELECT hold_id FROM wallet.join_group_share($g2, $P1, 'xg2-late', $P0,
         (SELECT currency FROM wallet.wallet WHERE wallet_id = $P1), 3, now() + interval '1 hour', NULL, 'open')")
relay_all
eq "a join arriving after the cancel is released" "released|0.00" "$(hold_of "$P1" "$late")"
eq "the group stays cancelled (two had joined)" "cancelled|2" "$(R "SELECT status, joined FROM wallet.group_pay_status($g2)")"
eq "every participant has its money back" \
    "$(v postgres "SELECT $av_a0 - 3")|$(v postgres "SELECT $av_a1 - 4")|$(v postgres "SELECT $av_p1 - 5")" \
    "$(S0 "SELECT available FROM wallet.balance($A0)")|$(S1 "SELECT available FROM wallet.balance($A1)")|$(S1 "SELECT available FROM wallet.balance($P1)")"
eq "reconcile_cluster is clean after a group cancelled across shards" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"

# expired: the group's time passes, then its holds'
g3=$(R "SELECT wallet.group_pay($P0, ARRAY[$A0, $A1], ARRAY[1, 2], 'xg-3', ttl => '1 hour')")
x1=$(R "SELECT hold_id FROM wallet.join_group_pay($g3, $A1, 'xg3-j1')")
eq "a share held on another shard outlives its group by a day" "1 day 01:00:00" \
    "$(S1 "SELECT date_trunc('minute', expires_at - now() + interval '30 seconds') FROM wallet.hold WHERE hold_id = $x1")"
for d in wallet_shard0 wallet_shard1; do
    v postgres "ALTER DATABASE $d SET wallet.now = '$(v postgres "SELECT now() + interval '2 hours'")'" >/dev/null
done
eq "after its ttl the group is expired" "expired|1" "$(R "SELECT status, joined FROM wallet.group_pay_status($g3)")"
err "a join after the expiry" WL008 wallet_router "SELECT * FROM wallet.join_group_pay($g3, $A0, 'xg3-j2')"
eq "until the group's shard writes the group down, its share on the other shard stays held" "open|2.00" \
    "$(hold_of "$A1" "$x1")"
# the group's shard's holds sweep (its pg_cron job) writes the group down and releases the share by message
S0 'SELECT * FROM wallet.expire_holds()' >/dev/null
eq "the group is written down once" "expired|0" \
    "$(S0 "SELECT status, (SELECT * FROM wallet.expire_group_pays()) FROM wallet.group_pay WHERE group_id = $g3")"
eq "journaled on the payee, the share of the other shard named" "expire_group_pay|1" \
    "$(S0 "SELECT kind, result->>'released_remote' FROM wallet.txn WHERE wallet_id = $P0 ORDER BY txn_id DESC LIMIT 1")"
R 'SELECT wallet_router.relay()' >/dev/null
eq "the share held on the other shard is released there at the group's end, not a day later" "released|0.00" \
    "$(hold_of "$A1" "$x1")"
eq "its money is available again" "$(v postgres "SELECT $av_a1 - 4")|0.00" \
    "$(S1 "SELECT available, held FROM wallet.balance($A1)")"
for d in wallet_shard0 wallet_shard1; do
    v postgres "ALTER DATABASE $d SET wallet.now = '$(v postgres "SELECT now() + interval '2 days'")'" >/dev/null
done
S1 'SELECT wallet.expire_holds()' >/dev/null
eq "its grace over, the hold released stays released" "released|0.00" "$(hold_of "$A1" "$x1")"
for d in wallet_shard0 wallet_shard1; do v postgres "ALTER DATABASE $d RESET wallet.now" >/dev/null; done
eq "reconcile_cluster is clean after a group expired across shards" "" "$(R 'SELECT * FROM wallet.reconcile_cluster()')"

# ---------------------------------------------------------------- 7. a shard dumped and restored
"$BIN/pg_dump" -Fc -d wallet_shard1 -f "$WORK/shard1.dump"
"$BIN/pg_restore" -d wallet_shard1_copy "$WORK/shard1.dump" 2>"$WORK/restore.err" || true
if [[ -s $WORK/restore.err ]]; then cat "$WORK/restore.err"; fail "pg_restore of a shard printed errors"; fi
eq "a restored shard keeps its place" "1|2" "$(v wallet_shard1_copy 'SELECT * FROM wallet.shard_info()')"
eq "a restored shard's sequences step by 2 again" "0" \
    "$(v wallet_shard1_copy "SELECT count(*) FROM pg_sequences WHERE schemaname IN ('wallet', 'wallet_report') AND increment_by <> 2")"
nw=$(v wallet_shard1_copy "SELECT wallet.open('after-restore')")
nt=$(v wallet_shard1_copy "SELECT txn_id FROM wallet.top_up($nw, 5, 'after-restore')")
if ((nw % 2 == 1 && nt % 2 == 1 && nw > $(S1 'SELECT max(wallet_id) FROM wallet.wallet'))); then
    ok "ids made after the restore still end in shard 1 ($nw, $nt)"
else fail "ids after the restore: wallet $nw, txn $nt"; fi
eq "reconcile is clean on the restored shard" "" "$(v wallet_shard1_copy 'SELECT * FROM wallet.reconcile()')"

q -d postgres -c 'DROP ROLE IF EXISTS wallet_router_app' 2>/dev/null || true
if ((FAILS > 0)); then
    echo "router: $FAILS check(s) FAILED"
    exit 1
fi
echo "router: all checks passed"
