#!/usr/bin/env bash
# Suite "model": the model-based randomized test (test/model/) on a few fixed
# seeds. Each seed runs in a fresh database of the harness cluster (PGHOST,
# PGPORT, PGUSER are exported by test/run.sh); the extension and the
# reference model must agree on every result, SQLSTATE and balance, and
# wallet.reconcile() must stay clean. The first mismatch is shrunk to a short
# psql script (printed); later ones are only reported, to keep the suite short.
#
# Knobs: MODEL_SEEDS="1 2 3 4", MODEL_STEPS=800, MODEL_SHRINK_BUDGET=120 (s).
# Long runs: ./test/run.sh soak SEED STEPS (make soak SEED=42 STEPS=100000).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SEEDS=${MODEL_SEEDS:-"1 2 3 4"}
STEPS=${MODEL_STEPS:-800}
export MODEL_SHRINK_BUDGET=${MODEL_SHRINK_BUDGET:-120}

failed=()
for seed in $SEEDS; do
    echo "--- model: seed $seed, $STEPS steps"
    rc=0
    if ((${#failed[@]} == 0)); then
        "$ROOT/test/model/run.sh" "$seed" "$STEPS" || rc=$?
    else
        MODEL_SHRINK=0 "$ROOT/test/model/run.sh" "$seed" "$STEPS" || rc=$?
    fi
    ((rc == 0)) || failed+=("$seed")
done

if ((${#failed[@]} > 0)); then
    echo "model: the extension and the reference model disagree for seed(s): ${failed[*]}"
    echo "model: rerun one with: test/model/run.sh SEED $STEPS (on a running cluster) or make soak SEED=... STEPS=$STEPS"
    exit 1
fi
echo "model: seeds $SEEDS agree ($STEPS steps each)"
