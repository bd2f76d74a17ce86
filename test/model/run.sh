#!/usr/bin/env bash
# test/model/run.sh: the model-based randomized test of the wallet extension, one seed.
#
#   test/model/run.sh SEED STEPS
#
# Runs the plan of SEED (STEPS operations) against the extension and the
# reference model (test/model/model.sql) in a fresh database, comparing every
# result, every SQLSTATE, every balance after every step and wallet.reconcile().
# On a mismatch it prints the seed, the step, the operation and both sides,
# then looks for the shortest sequence of steps that still fails the same way
# (each attempt on a fresh database) and prints it as a psql script.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (superuser) where the
# extension is installed (see test/cluster.sh). Exit status: 0 agree,
# 1 mismatch, 2 the test itself could not run.
#
# Environment:
#   MODEL_SHRINK=0            do not shrink (report the mismatch only)
#   MODEL_SHRINK_BUDGET=300   seconds the shrinking may take
#   MODEL_RECONCILE_EVERY=100 also run wallet.reconcile() every N steps (0: at the end only;
#                             a reconcile failure is then pinned to its step with N=1)
#   MODEL_OUT=DIR             also write the repro to DIR/model-seed-SEED.sql
#   MODEL_KEEP_DB=1           keep the databases (for digging); they are dropped otherwise
#   MODEL_STATS=1             on success, print per operation how many ran, went through, were refused
#   MODEL_TARGET=router       the extension's side through a router database and two shard
#                             databases (wallet_router, PL/Proxy; test/model/router.sql): every
#                             database of a run comes in three (DB, DB_s0, DB_s1)
#   MODEL_ROUTER_GAPS=skip    (router, for diagnosis) leave out the steps that fall into a known gap
#                             of the router, counted (test/model/README.md); the suite never sets it
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ $# -ne 2 || ! $1 =~ ^[0-9]+$ || ! $2 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SEED STEPS" >&2
    exit 2
fi
SEED=$1
STEPS=$2
SHRINK=${MODEL_SHRINK:-1}
BUDGET=${MODEL_SHRINK_BUDGET:-300}
EVERY=${MODEL_RECONCILE_EVERY:-100}
KEEP_DB=${MODEL_KEEP_DB:-0}
TARGET=${MODEL_TARGET:-lone}
case $TARGET in
lone) SHARDS=() ;;
router) SHARDS=(0 1) ;;
*)
    echo "MODEL_TARGET must be lone or router" >&2
    exit 2
    ;;
esac

PREFIX=model_${SEED}_$$
TPL=${PREFIX}_tpl
RUNDB=${PREFIX}_run
TRYDB=${PREFIX}_try
LOG=$(mktemp "/tmp/model-${SEED}.XXXXXX")
PINS=$(mktemp "/tmp/model-${SEED}-pins.XXXXXX")
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

say() { echo "model[$SEED]: $*"; }

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_at() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }

# dbs DB...: each database with its shard databases (router mode)
dbs() {
    local db n
    for db in "$@"; do
        echo "$db"
        for n in "${SHARDS[@]}"; do echo "${db}_s$n"; done
    done
}

cleanup() {
    if [[ $KEEP_DB != 1 ]]; then
        local db
        for db in $(dbs "$TRYDB" "$RUNDB" "$TPL"); do
            psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
        done
    else
        say "kept databases $RUNDB, $TRYDB, $TPL"
    fi
    rm -f "$LOG" "$PINS"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# wait_server: after a backend crash the server restarts; wait until it answers
wait_server() {
    local i
    for i in $(seq 1 60); do
        psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}

# shard_conns DB: the router's connection strings to the shard databases of DB
shard_conns() {
    local n out=
    for n in "${SHARDS[@]}"; do
        out+=${out:+, }"'host=$PGHOST port=$PGPORT dbname=${1}_s$n user=${PGUSER:-postgres}'"
    done
    echo "ARRAY[$out]"
}

make_template() {
    local n
    if [[ $TARGET == lone ]]; then
        psql_q -d postgres -c "DROP DATABASE IF EXISTS $TPL" -c "CREATE DATABASE $TPL" || return 1
        psql_q -d "$TPL" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION wallet' \
            -f "$HERE/model.sql" -f "$HERE/driver.sql" >/dev/null || return 1
        return 0
    fi
    # router: shard databases configured as shards i of n, a router database over them
    for n in "${SHARDS[@]}"; do
        psql_q -d postgres -c "DROP DATABASE IF EXISTS ${TPL}_s$n" -c "CREATE DATABASE ${TPL}_s$n" || return 1
        psql_q -d "${TPL}_s$n" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION wallet' \
            -c "SELECT wallet.configure_shard($n, ${#SHARDS[@]})" -f "$HERE/shard.sql" >/dev/null || return 1
    done
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $TPL" -c "CREATE DATABASE $TPL" || return 1
    psql_q -d "$TPL" -v host="$PGHOST" -v port="$PGPORT" -v s0="${TPL}_s0" \
        -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION wallet_router CASCADE' \
        -c "SELECT wallet_router.configure($(shard_conns "$TPL"))" \
        -f "$HERE/router.sql" -f "$HERE/model.sql" -f "$HERE/driver.sql" >/dev/null || return 1
}

fresh_db() {
    local db n
    if [[ $TARGET == lone ]]; then
        psql_q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 TEMPLATE $TPL" >/dev/null
        return
    fi
    for db in $(dbs "$1"); do
        psql_q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || return 1
    done
    for n in "${SHARDS[@]}"; do
        psql_q -d postgres -c "CREATE DATABASE ${1}_s$n TEMPLATE ${TPL}_s$n" >/dev/null || return 1
    done
    psql_q -d postgres -c "CREATE DATABASE $1 TEMPLATE $TPL" >/dev/null || return 1
    psql_q -d "$1" -c "SELECT wallet_router.configure($(shard_conns "$1"))" >/dev/null
}

# shard_checks DB: in router mode, after a run that agreed, the books of every shard database of
# DB (test/model/shard_checks.sql); prints what is wrong, nothing when all holds
shard_checks() {
    local n
    for n in "${SHARDS[@]}"; do
        psql_at -d "${1}_s$n" -f "$HERE/shard_checks.sql" | sed "s/^/shard $n: /"
    done
}

# run_case DB KEEP [EVERY [PINNED]]: run the plan (KEEP: NULL or a list of
# steps like {1,2,5}; PINNED=1: with the amounts and clock times of the run
# that failed, from $PINS); prints the outcome: "ok RUN SKIPPED",
# "fail STEP OP WHAT EXT MODEL" or "error STEP"
run_case() {
    local db=$1 keep=$2 every=${3:-$EVERY} pinned=${4:-0} rc=0 out pins=NULL
    fresh_db "$db" || { echo "error 0"; return; }
    if [[ $keep == NULL ]]; then keep=NULL; else keep="'$keep'::int[]"; fi
    if [[ $pinned == 1 ]]; then pins=":'pins'::jsonb"; fi
    psql_q -d "$db" >"$LOG" 2>&1 <<EOF || rc=$?
SET synchronous_commit = off;
SET mt.gaps = '${MODEL_ROUTER_GAPS:-off}';
\\set pins \`cat $PINS\`
CALL mt.run($SEED, $STEPS, $keep, $every, $pins);
EOF
    if ((rc != 0)); then
        wait_server
        # the step that was running: the first one asked for that left no trace
        out=$(psql_at -d "$db" -c "SELECT coalesce(min(p.step), 0) FROM mt.plan p
                                    WHERE ($keep IS NULL OR p.step = ANY ($keep))
                                      AND p.step NOT IN (SELECT step FROM mt.trace)" 2>/dev/null)
        echo "error ${out:-0}"
        return
    fi
    psql_at -d "$db" -c "SELECT mt.outcome() || coalesce(
        (SELECT ' ' || coalesce(t.ext_state, '-') || ' ' || coalesce(t.mod_state, '-')
           FROM mt.failure f JOIN mt.trace t USING (step)), '')"
}

# signature: what must stay the same while shrinking (all but the step number)
signature() {
    local w
    read -r -a w <<<"$1"
    if [[ ${w[0]} == fail && ${w[3]} == reconcile ]]; then
        echo "fail reconcile"     # found where it was checked, not where it went wrong
    elif [[ ${w[0]} == fail ]]; then
        echo "fail ${w[*]:2}"
    else
        echo "${w[0]}"
    fi
}

# keep_failing OUTCOME: the candidate just run in $TRYDB failed the same way:
# it becomes the sequence (cur), without what was skipped or came after the failure
keep_failing() {
    local f s
    read -r _ f _ <<<"$1"
    IFS=, read -r -a cur <<<"$(psql_at -d "$TRYDB" -c "SELECT mt.executed()")"
    cand=()
    for s in "${cur[@]}"; do ((s < f)) && cand+=("$s"); done
    cand+=("$f")       # a step that stopped the run left no trace
    cur=("${cand[@]}")
}

shrink() {
    local sig=$1 deadline=$((SECONDS + BUDGET)) chunk i n out f s tries=0
    local -a cur cand
    IFS=, read -r -a cur <<<"$2"
    say "shrinking ${#cur[@]} steps (budget ${BUDGET}s) ..."
    # first, all at once: only the steps on the wallets involved; only the
    # steps that changed something (not refused on both sides, no quotes);
    # then ever smaller chunks, down to single steps
    local pre
    local -A in_cur
    for pre in "${@:3}"; do
        # only what is still in the sequence, and only if that is shorter
        in_cur=()
        for s in "${cur[@]}"; do in_cur[$s]=1; done
        IFS=, read -r -a cand <<<"$pre"
        pre=
        n=0
        for s in "${cand[@]}"; do
            [[ -n ${in_cur[$s]:-} ]] && { pre+=${pre:+,}$s; n=$((n + 1)); }
        done
        ((n > 0 && n < ${#cur[@]})) || continue
        tries=$((tries + 1))
        out=$(run_case "$TRYDB" "{$pre}" "$SHRINK_EVERY" 1)
        [[ ${MODEL_DEBUG:-0} == 1 ]] && say "prepass ($(tr -cd , <<<"$pre" | wc -c) steps): $out"
        if [[ $(signature "$out") == "$sig" ]]; then
            keep_failing "$out"
            say "... ${#cur[@]} steps"
        fi
    done
    chunk=$(((${#cur[@]} + 1) / 2))
    while ((chunk >= 1)); do
        i=0
        while ((i < ${#cur[@]})); do
            if ((SECONDS >= deadline)); then
                say "shrink budget used up after $tries attempts"
                SHRUNK=$(IFS=,; echo "${cur[*]}")
                return
            fi
            cand=("${cur[@]:0:i}" "${cur[@]:i+chunk}")
            if ((${#cand[@]} == 0)); then
                i=$((i + chunk))
                continue
            fi
            tries=$((tries + 1))
            out=$(run_case "$TRYDB" "{$(IFS=,; echo "${cand[*]}")}" "$SHRINK_EVERY" 1)
            [[ ${MODEL_DEBUG:-0} == 1 ]] && say "try ${#cand[@]} steps: $out"
            if [[ $(signature "$out") == "$sig" ]]; then
                keep_failing "$out"
            else
                i=$((i + chunk))
            fi
        done
        if ((chunk == 1)); then break; fi
        chunk=$(((chunk + 1) / 2))
        ((chunk > ${#cur[@]})) && chunk=${#cur[@]}
    done
    say "shrunk to ${#cur[@]} steps in $tries attempts"
    SHRUNK=$(IFS=,; echo "${cur[*]}")
}

# ---------------------------------------------------------------- main
wait_server || { say "no server at PGHOST=${PGHOST:-} PGPORT=${PGPORT:-}"; exit 2; }
make_template || { say "could not create the template database"; exit 2; }

start=$SECONDS
say "running $STEPS steps"
OUT=$(run_case "$RUNDB" NULL)
read -r kind step _ <<<"$OUT"
case $kind in
ok)
    read -r _ ran skipped <<<"$OUT"
    if [[ $TARGET == router ]]; then
        BAD=$(shard_checks "$RUNDB")
        if [[ -n $BAD ]]; then
            say "the books of a shard do not hold after $ran steps:"
            echo "$BAD"
            exit 1
        fi
        say "OK through the router: $ran steps agreed ($skipped skipped), reconcile_cluster clean, every shard's books hold ($((SECONDS - start))s)"
        GAPS=$(psql_at -d "$RUNDB" -c "SELECT string_agg(format('%s %s (first: step %s)', g, n, f), ', ' ORDER BY f)
                                         FROM (SELECT res->>'gap' AS g, count(*) AS n, min(step) AS f FROM mt.trace
                                                WHERE res ? 'gap' GROUP BY 1) x")
        [[ -n $GAPS ]] && say "MODEL_ROUTER_GAPS=skip left out steps in known gaps of the router (and total_limit): $GAPS"
    else
        say "OK: $ran steps agreed ($skipped skipped), reconcile clean ($((SECONDS - start))s)"
    fi
    if [[ ${MODEL_STATS:-0} == 1 ]]; then
        # per operation: how many ran, went through, were refused (by SQLSTATE), were skipped
        psql_at -F ' ' -d "$RUNDB" -c "SELECT op, count(*) FILTER (WHERE status <> 'skip') AS ran,
                                              count(*) FILTER (WHERE ext_ok) AS ok,
                                              coalesce(string_agg(DISTINCT ext_state, ',') FILTER (WHERE NOT ext_ok), '-') AS refused,
                                              count(*) FILTER (WHERE status = 'skip') AS skipped
                                         FROM mt.trace GROUP BY op ORDER BY op"
        [[ $TARGET == router ]] && exit 0     # what follows reads the extension's tables
        # and what the steps of sections 18 and 19 reached (the model's state at the end)
        psql_at -F ' ' -d "$RUNDB" -c "SELECT 'reached: ' || what, n FROM (VALUES
          ('spends_and_captures_earning_points', (SELECT count(*) FROM model.spend WHERE points > 0)),
          ('reversals_taking_points_back', (SELECT count(*) FROM model.spend WHERE points_back > 0)),
          ('points_take_backs_into_debt', (SELECT count(DISTINCT p.txn_id) FROM wallet.postings p JOIN wallet.txn t USING (txn_id)
                                            WHERE t.kind = 'reward_back' AND p.account = 'payee_receivable')),
          ('points_lots_expired_or_spent', (SELECT count(*) FROM model.lot l JOIN model.wallet w ON w.wid = l.wid
                                             WHERE w.currency = 'PTS' AND l.expires_at IS NOT NULL
                                               AND (l.amount = 0 OR l.expires_at <= model.clock_now()))),
          ('exchanges_made', (SELECT count(*) FROM model.txn WHERE kind = 'exchange')),
          ('exchanges_into_points', (SELECT count(*) FROM model.txn t JOIN model.wallet w ON w.wid = (t.req->>'to')::bigint
                                      WHERE t.kind = 'exchange' AND w.currency = 'PTS')),
          ('card_quotes_used', (SELECT count(*) FROM model.card_quote WHERE used_by IS NOT NULL)),
          ('cards_duplicate', (SELECT count(*) FROM model.card_item WHERE status = 'duplicate')),
          ('cards_verified_short', (SELECT count(*) FROM model.card_item WHERE status = 'verified' AND actual < face)),
          ('cards_invalid', (SELECT count(*) FROM model.card_item WHERE status = 'invalid')),
          ('cards_at_a_member_rate', (SELECT count(*) FROM model.card_item WHERE rate = 0.96)),
          ('cards_at_a_market_rate', (SELECT count(*) FROM model.card_item i JOIN model.intake k ON k.kid = i.kid
                                       WHERE k.card_type IN ('game', 'jcard') AND i.rate NOT IN (0.8, 0.83, 0.88))),
          ('intakes_paid', (SELECT count(*) FROM model.intake WHERE status = 'paid')),
          ('intakes_sent_to_review', (SELECT count(*) FROM model.txn WHERE kind = 'settle_intake' AND result->>'status' = 'review')),
          ('intakes_rejected', (SELECT count(*) FROM model.intake WHERE status = 'rejected')),
          ('limit_rules_added', (SELECT count(*) FROM mt.trace WHERE op = 'lrule' AND ext_ok)),
          ('limit_rules_added_for_a_wallet', (SELECT count(*) FROM model.limit_rule_member)),
          ('limit_rules_dropped', (SELECT count(*) FROM mt.trace WHERE op = 'ldrop' AND ext_ok)),
          ('limits_refused', (SELECT count(*) FROM mt.trace WHERE ext_state = 'WL007' AND ext_msg = 'limit exceeded')),
          ('step_up_asked', (SELECT count(*) FROM mt.trace WHERE ext_msg = 'step-up verification required')),
          ('step_up_grants_made', (SELECT count(*) FROM mt.trace WHERE op = 'grant' AND ext_ok)),
          ('step_up_grants_used', (SELECT count(*) FROM wallet.step_up_grant WHERE used_txn IS NOT NULL)),
          ('step_up_grants_refused', (SELECT count(*) FROM mt.trace WHERE ext_msg = 'step-up grant does not allow this payment')),
          ('auto_withdraw_skipped_for_limits', (SELECT count(*) FROM wallet.auto_withdrawal WHERE last_result = 'limit')),
          ('limit_days_rolled_CNY', (SELECT count(*) FROM (SELECT (res->>'at')::timestamptz AS t,
                                            lag((res->>'at')::timestamptz, 1, mt.t0()) OVER (ORDER BY step) AS b
                                       FROM mt.trace WHERE op = 'clock' AND status <> 'skip') c, (SELECT coalesce((SELECT limit_time_zone FROM wallet.policy WHERE currency = 'CNY'), 'UTC') AS limit_time_zone) p
                                     WHERE date_trunc('day', c.t AT TIME ZONE p.limit_time_zone)
                                           <> date_trunc('day', c.b AT TIME ZONE p.limit_time_zone))),
          ('limit_months_rolled_CNY', (SELECT count(*) FROM (SELECT (res->>'at')::timestamptz AS t,
                                            lag((res->>'at')::timestamptz, 1, mt.t0()) OVER (ORDER BY step) AS b
                                       FROM mt.trace WHERE op = 'clock' AND status <> 'skip') c, (SELECT coalesce((SELECT limit_time_zone FROM wallet.policy WHERE currency = 'CNY'), 'UTC') AS limit_time_zone) p
                                     WHERE date_trunc('month', c.t AT TIME ZONE p.limit_time_zone)
                                           <> date_trunc('month', c.b AT TIME ZONE p.limit_time_zone))),
          ('risk_flags_raised', (SELECT count(*) FROM model.risk_flag)),
          ('wallets_frozen_by_flags', (SELECT count(*) FROM wallet.txn WHERE kind = 'freeze' AND request->>'rule' = 'flags_to_freeze'))) v(what, n)"
    fi
    exit 0
    ;;
fail)
    psql_at -d "$RUNDB" -c "SELECT mt.report()"
    ;;
error)
    say "ERROR at step $step: the run stopped (server crash or an error outside the compared calls)"
    cat "$LOG"
    ;;
*)
    say "could not run: $OUT"
    cat "$LOG"
    exit 2
    ;;
esac

SIG=$(signature "$OUT")
psql_at -d "$RUNDB" -c "SELECT mt.pins()" >"$PINS"
SHRINK_EVERY=0
if [[ $kind == fail && $OUT == *" reconcile "* ]]; then
    # pin the reconcile failure to the step that caused it
    SHRINK_EVERY=1
    if ((EVERY != 1)); then
        OUT1=$(run_case "$TRYDB" "{$(seq -s, 1 "$step")}" 1 1)
        if [[ $(signature "$OUT1") == "$SIG" ]]; then
            read -r _ step _ <<<"$OUT1"
            say "the books first go wrong at step $step"
        fi
    fi
fi
if [[ $kind == fail ]]; then
    EXECUTED=$(psql_at -d "$RUNDB" -c "SELECT string_agg(s, ',') FROM unnest(string_to_array(mt.executed(), ',')) s
                                        WHERE s::int <= $step")
    ACTIVE=$(psql_at -d "$RUNDB" -c "SELECT string_agg(step::text, ',' ORDER BY step) FROM mt.trace t
                                      WHERE status <> 'skip' AND step <= $step
                                        AND (step = $step OR NOT (op = 'quote' OR (ext_ok = false AND mod_ok = false))
                                             OR step IN (SELECT (args->>'ref')::int FROM mt.plan WHERE op = 'replay'))")
    RELATED=$(psql_at -d "$RUNDB" -c "SELECT mt.related($step)")
    BOTH=$(psql_at -d "$RUNDB" -c "SELECT string_agg(s, ',') FROM unnest(string_to_array('$RELATED', ',')) s
                                    WHERE s = ANY (string_to_array('$ACTIVE', ','))")
else
    EXECUTED=$(seq -s, 1 "$step")
    ACTIVE= RELATED= BOTH=
fi

if [[ $SHRINK == 1 ]]; then
    SHRUNK=$EXECUTED
    shrink "$SIG" "$EXECUTED" "$BOTH" "$RELATED" "$ACTIVE"
    OUT2=$(run_case "$TRYDB" "{$SHRUNK}" "$SHRINK_EVERY" 1)
    if [[ $(signature "$OUT2") == "$SIG" ]]; then
        REPRO_DB=$TRYDB
    else
        say "the shrunk sequence no longer fails the same way ($OUT2); printing the full one"
        REPRO_DB=$RUNDB
    fi
else
    REPRO_DB=$RUNDB
fi

echo
say "reproduce with (psql, fresh database, after CREATE EXTENSION wallet):"
echo "------------------------------------------------------------------------"
REPRO=$(psql_at -d "$REPRO_DB" -c "SELECT mt.repro()")
if [[ $kind == error ]]; then
    # the step that stopped the run left no trace: add it before the final reconcile
    STOPPED=$(psql_at -d "$REPRO_DB" -c "SELECT coalesce(mt.render(mt.resolve(p.step, p.op, p.args), 'repro') || ';',
                                                   '-- (' || p.op || ' ' || p.args || ': it refers to nothing that ran)')
                                          FROM mt.plan p WHERE p.step = $step")
    REPRO=$(sed '$d' <<<"$REPRO")$'\n'"-- step $step: the run stopped here"$'\n'"$STOPPED"$'\n'"SELECT * FROM wallet.reconcile();"
fi
echo "$REPRO"
echo "------------------------------------------------------------------------"
if [[ -n ${MODEL_OUT:-} ]]; then
    mkdir -p "$MODEL_OUT"
    echo "$REPRO" >"$MODEL_OUT/model-seed-$SEED.sql"
    say "repro written to $MODEL_OUT/model-seed-$SEED.sql"
fi
say "MISMATCH (seed $SEED, step $step) after $((SECONDS - start))s"
exit 1
