#!/usr/bin/env bash
# The runs of the claims issue, one at a time (two torch processes on 2 cores slow each other
# several-fold), interleaved so that every stop leaves whole seeds: the exposure-matched experiment
# (128 steps) and the reverse direction, seed by seed. Each finished run's small files are committed
# (results/ only). Resumable: run it again and finished runs are skipped.
#
#   nohup bash tools/run_claims_experiments.sh > runs/claims.log 2>&1 &
#
# To keep editing the package while the experiments run, run them from a fixed commit: make a git
# worktree of it and name it in HYBRID_IR_CODE (each run's run.json then records that commit):
#
#   git worktree add --detach ../hybrid-ir-snapshot HEAD
#   HYBRID_IR_CODE=../hybrid-ir-snapshot nohup bash tools/run_claims_experiments.sh > runs/claims.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -n "${HYBRID_IR_CODE:-}" ]; then
  export PYTHONPATH="$(cd "$HYBRID_IR_CODE" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
  # `python -m` puts the working directory (this checkout) first on sys.path, before PYTHONPATH:
  # without this the checkout's hybrid_ir, not the frozen one, would run (Python >= 3.11).
  export PYTHONSAFEPATH=1
fi
export HYBRID_IR_DATA_DIR="${HYBRID_IR_DATA_DIR:-$(cd .. && pwd)/shared/data}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=.venv/bin/python
commit() {  # commit the results folder of one experiment, nothing else
  git add -- "results/$1" results/configs && git commit -q -m "$2" -- "results/$1" results/configs || true
}
# exposure.json for the recorded main runs, Tatoeba for the untuned baseline
$PY -m hybrid_ir reproduce --config results/configs/mlqa-to-xquad.yaml && \
  commit mlqa-r_to_xquad-r "Results: exposure of the main runs (replayed from the sampler), Tatoeba of the untuned baseline"
for seed in 0 1 2; do
  for label in hybrid x-x-mono x-y; do
    $PY -m hybrid_ir reproduce --config results/configs/mlqa-to-xquad-128.yaml --only "$label/seed$seed" && \
      commit mlqa-r_to_xquad-r_128steps "Results: $label seed $seed, 128 steps (exposure-matched, MLQA-R -> XQuAD-R)"
  done
  for label in x-x-mono x-y hybrid; do
    $PY -m hybrid_ir reproduce --config results/configs/xquad-to-mlqa.yaml --only "$label/seed$seed" && \
      commit xquad-r_to_mlqa-r "Results: $label seed $seed, reverse direction (XQuAD-R -> MLQA-R)"
  done
done
# the 128-step hybrid runs with their last step exported (trains them again unless their run folders were
# seeded with those runs' checkpoints: see results/configs/mlqa-to-xquad-128-last.yaml)
$PY -m hybrid_ir reproduce --config results/configs/mlqa-to-xquad-128-last.yaml && \
  commit mlqa-r_to_xquad-r_128steps_last "Results: the 128-step hybrid runs with their last step exported"
