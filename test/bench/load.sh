# test/bench/load.sh: the benchmark's data, sourced by run.sh and instructions.sh.
#
# bench_load builds database $DB afresh: the floor's and the peer's tables (setup.sql,
# peer.sql), $WALLETS CNY wallets (and their owners' PTS wallets, for the reward) with three top-ups each (100, 200 and 500, set-based through
# wallet.top_up) and a merchant, as many earner wallets with earnings (wallet.adjust), a charity
# and 64 other receivers of donations, the peer's accounts with the same top-ups (peer.top_up, two
# sessions), then VACUUM ANALYZE and a CHECKPOINT. The caller defines q, qv, now_s, since,
# say, die and calc, and BG_PIDS (background loaders it kills on exit); PGSS=1 also creates
# pg_stat_statements. Sets WMIN, WMAX, T500BASE, MERCHANT, EMIN, EMAX, CHARITY, CAUSE0, NCAUSES,
# LOTS_CHECK, T_OPEN, T_TOPUP, T_EARN, T_PEER and DEFS (the pgbench -D arguments of the scripts).
bench_load() {
psql -X -q -d postgres -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
    -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q -v wallets="$WALLETS" -f "$HERE/setup.sql" >/dev/null
q -f "$HERE/peer.sql" >/dev/null
((PGSS)) && q -c 'CREATE EXTENSION pg_stat_statements' >/dev/null

start=$(now_s)
q -v n="$WALLETS" >/dev/null <<'SQL'
SELECT count(wallet.open('bench-' || g)) FROM generate_series(1, :n) g;
SQL
WMIN=$(qv "SELECT min(wallet_id) FROM wallet.wallet WHERE currency = 'CNY'")
WMAX=$(qv "SELECT max(wallet_id) FROM wallet.wallet WHERE currency = 'CNY'")
((WMAX - WMIN + 1 == WALLETS)) || die "wallet ids are not contiguous ($WMIN..$WMAX for $WALLETS wallets)"
q -v n="$WALLETS" >/dev/null <<'SQL'
SELECT count(wallet.open('bench-' || g, 'PTS')) FROM generate_series(1, :n) g;
SQL
T_OPEN=$(since "$start")

# Three top-ups per wallet, one set-based statement per tier. Each statement's top-ups take
# consecutive txn_ids (checked), so the 500s are txn_ids T500BASE .. T500BASE + WALLETS - 1.
topup_pass() { # AMOUNT -> prints the first txn_id of the pass
    local before first
    before=$(qv "SELECT last_value + (CASE WHEN is_called THEN 1 ELSE 0 END) FROM wallet.txn_txn_id_seq")
    q -v wmin="$WMIN" -v wmax="$WMAX" -v amt="$1" >/dev/null <<'SQL'
SELECT count((wallet.top_up(w, :amt, 'load-' || :amt)).txn_id) FROM generate_series(:wmin, :wmax) w;
SQL
    first=$(qv "SELECT min(txn_id) FROM wallet.txn WHERE txn_id >= $before")
    [[ $(qv "SELECT count(*) FROM wallet.txn WHERE txn_id BETWEEN $first AND $first + $WALLETS - 1
               AND kind = 'top_up' AND amount = $1 * 100") == "$WALLETS" ]] ||
        die "the top-ups of $1 did not get consecutive txn_ids"
    echo "$first"
}
start=$(now_s)
topup_pass 100 >/dev/null
topup_pass 200 >/dev/null
T500BASE=$(topup_pass 500)
T_TOPUP=$(since "$start")
MERCHANT=$(qv "SELECT wallet.open('bench-merchant')")
LOTS_CHECK=$(qv "SELECT count(*) FILTER (WHERE bucket = 'cash') || ' cash, ' ||
                        count(*) FILTER (WHERE bucket = 'bonus') || ' bonus (' ||
                        count(*) FILTER (WHERE scope IS NOT NULL) || ' scoped)'
                   FROM wallet.lots($WMIN)")
say "wallets: $WALLETS opened in ${T_OPEN}s; $((3 * WALLETS)) top-ups in ${T_TOPUP}s" \
    "($(calc "3 * $WALLETS / $T_TOPUP" 0)/s); lots of wallet $WMIN: $LOTS_CHECK"

# The earners (transfers, donations, withdrawals): as many CNY wallets again, each given 10,000.00
# of earnings by one wallet.adjust (one earnings lot, as a payee's rolled-up credits make), so
# they never run short; the buyers above stay as they were. Then the receivers of donations: one
# charity, and NCAUSES others for donate_many (one per client).
start=$(now_s)
q -v n="$WALLETS" >/dev/null <<'SQL'
SELECT count(wallet.open('bench-earner-' || g)) FROM generate_series(1, :n) g;
SQL
EMIN=$(qv "SELECT min(wallet_id) FROM wallet.wallet WHERE owner LIKE 'bench-earner-%'")
EMAX=$(qv "SELECT max(wallet_id) FROM wallet.wallet WHERE owner LIKE 'bench-earner-%'")
((EMAX - EMIN + 1 == WALLETS)) || die "earner wallet ids are not contiguous ($EMIN..$EMAX for $WALLETS wallets)"
q -v emin="$EMIN" -v emax="$EMAX" >/dev/null <<'SQL'
SELECT count(a.txn_id)
  FROM generate_series(:emin, :emax) w
 CROSS JOIN LATERAL wallet.adjust(w, 'earnings', 10000, 'bench: sales paid out', 'load-earnings') a;
SQL
T_EARN=$(since "$start")
CHARITY=$(qv "SELECT wallet.open('bench-charity')")
NCAUSES=64
CAUSE0=$(qv "SELECT min(w) FROM (SELECT wallet.open('bench-cause-' || g) AS w FROM generate_series(1, $NCAUSES) g) s")
[[ $(qv "SELECT count(*) FROM wallet.wallet WHERE owner LIKE 'bench-cause-%'
           AND wallet_id BETWEEN $CAUSE0 AND $CAUSE0 + $NCAUSES - 1") == "$NCAUSES" ]] ||
    die "the causes' wallet ids are not contiguous"
[[ $(qv "SELECT earnings FROM wallet.balance($EMAX)") == 10000.00 ]] || die "the earners have no earnings"
say "earners: $WALLETS wallets with 10000.00 of earnings each in ${T_EARN}s; charity $CHARITY, causes $CAUSE0..$((CAUSE0 + NCAUSES - 1))"

# THE PEER: the same accounts and top-ups through peer.top_up, two sessions in parallel.
start=$(now_s)
q -v n="$WALLETS" >/dev/null <<'SQL'
INSERT INTO peer.account (owner, currency, exponent) SELECT 'bench-' || g, 'CNY', 2 FROM generate_series(1, :n) g;
SQL
q >/dev/null <<'SQL'
INSERT INTO peer.bonus_rule (currency, campaign, min_amount, bonus_fixed, bonus_rate, valid_for, scope)
VALUES ('CNY', NULL, 10000, 1000, 0, NULL, NULL), ('CNY', NULL, 20000, 2500, 0, NULL, NULL),
       ('CNY', NULL, 50000, 7500, 0, NULL, NULL), ('CNY', 'bench-campaign', 50000, 0, 0.05, '30 days', '{game}');
SQL
peer_load() { # PARITY
    q -v n="$WALLETS" -v par="$1" >/dev/null <<'SQL'
SELECT count((peer.top_up(a, amt, 'load-' || amt)).txn_id)
  FROM generate_series(1, :n) a CROSS JOIN (VALUES (100), (200), (500)) v(amt) WHERE a % 2 = :par;
SQL
}
peer_load 0 &
p0=$!
peer_load 1 &
p1=$!
BG_PIDS+=("$p0" "$p1")
wait "$p0" || die "peer load failed"
wait "$p1" || die "peer load failed"
BG_PIDS=()
T_PEER=$(since "$start")
q -c 'ANALYZE peer.lot' -c 'ANALYZE peer.posting' >/dev/null
PEER_DIFF=$(qv 'SELECT count(*) FROM peer.check()')
((PEER_DIFF == 0)) || die "peer.check(): $PEER_DIFF accounts whose lots differ from their postings after the load"
say "peer: $WALLETS accounts, $((3 * WALLETS)) top-ups in ${T_PEER}s (2 sessions)"

q -c 'VACUUM ANALYZE' >/dev/null
q -c 'CHECKPOINT' >/dev/null
DEFS=(-D wmin="$WMIN" -D wmax="$WMAX" -D naccts="$WALLETS" -D merchant="$MERCHANT" -D t500base="$T500BASE"
    -D emin="$EMIN" -D emax="$EMAX" -D nearners="$WALLETS" -D charity="$CHARITY" -D cause0="$CAUSE0"
    -D ncauses="$NCAUSES")
}
