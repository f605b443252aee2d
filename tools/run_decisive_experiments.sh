#!/usr/bin/env bash
# The runs of the decisive-verdicts issue, one at a time (two torch processes on 2 cores slow each
# other several-fold), seed by seed so that every stop leaves whole seeds: the main
# direction (MLQA-R -> XQuAD-R) and the reverse (XQuAD-R -> MLQA-R) from 3 to 6 seeds, the controlled
# exposure experiment, and the runs recorded before Tatoeba was added again (the reverse direction's
# X-Y and hybrid seed 0, the main direction's seeds 0-2: retrained with --force, which replaces the
# whole run, since a retrain's last digits can differ between machines and sessions). Each finished
# run's small files are committed (results/ only). Resumable: run it again and finished runs are skipped.
#
#   mkdir -p runs && nohup bash tools/run_decisive_experiments.sh > runs/decisive.log 2>&1 &
#
# To keep editing the package while the experiments run, run them from a fixed commit: make a git
# worktree of it and write its path into runs/code-dir. The file is read before every run, so
# pointing it at a newer worktree takes effect at the next run (each run.json records its commit):
#
#   git worktree add --detach ../hybrid-ir-snapshot HEAD && echo ../hybrid-ir-snapshot > runs/code-dir
set -uo pipefail
cd "$(dirname "$0")/.."
export HYBRID_IR_DATA_DIR="${HYBRID_IR_DATA_DIR:-$(cd .. && pwd)/shared/data}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=.venv/bin/python

commit() {  # commit the results folder of one experiment, nothing else (retried while git is busy)
  for _ in 1 2 3 4 5; do
    if git add -- "results/$1"; then
      git diff --cached --quiet -- "results/$1" && return 0   # a skipped run: nothing new to commit
      git commit -q -m "$2" -- "results/$1" && return 0
    fi
    sleep 5
  done
  echo "[runner] could not commit results/$1" >&2
}

run() {  # run CONFIG EXPERIMENT LABEL SEED [--force]: one run from the code named in runs/code-dir
  local config=$1 experiment=$2 label=$3 seed=$4 force=${5:-}
  local code="" env=()
  [ -f runs/code-dir ] && code=$(cat runs/code-dir)
  if [ -n "$code" ]; then
    # `python -m` puts the working directory (this checkout) first on sys.path, before PYTHONPATH:
    # PYTHONSAFEPATH keeps the frozen code first (Python >= 3.11).
    env=(PYTHONPATH="$(cd "$code" && pwd)" PYTHONSAFEPATH=1)
  fi
  echo "[runner] $(date -u +%H:%M:%S) $experiment $label/seed$seed ${force} (code: ${code:-this checkout})"
  env "${env[@]}" $PY -m hybrid_ir reproduce --config "results/configs/$config" --only "$label/seed$seed" --quiet $force \
    && commit "$experiment" "Results: $label seed $seed ($experiment)"
}

main() { run mlqa-to-xquad.yaml mlqa-r_to_xquad-r "$@"; }
reverse() { run xquad-to-mlqa.yaml xquad-r_to_mlqa-r "$@"; }
controlled() { run mlqa-to-xquad-controlled.yaml mlqa-r_to_xquad-r_controlled "$@"; }

# Everything below runs from one function that bash has read whole before it starts, and `exit`
# follows it: an edit of this file while it runs cannot reach the running copy mid-way.
all_runs() {
# The main direction first (its verdicts head the book), then the reverse: seeds 3, 4, 5 of each
for seed in 3 4 5; do
  for label in hybrid x-x-mono x-y; do main "$label" "$seed"; done
done
for seed in 3 4 5; do
  for label in hybrid x-x-mono x-y; do reverse "$label" "$seed"; done
done
for round in 0 1 2; do
  for seed in $((2 * round)) $((2 * round + 1)); do   # the controlled experiment, two seeds a round
    controlled x-x-mono-64 "$seed"
    controlled hybrid-128 "$seed"
  done
  controlled x-x-mono-128 "$round"
done
# Tatoeba for the runs recorded before it was added (the reverse direction's X-Y and hybrid seed 0, the
# main direction's seeds 0-2): retrained only while tatoeba.json is missing
for label in x-y hybrid; do
  [ -f "results/xquad-r_to_mlqa-r/$label/seed0/tatoeba.json" ] || reverse "$label" 0 --force
done
for seed in 0 1 2; do
  for label in hybrid x-x-mono x-y; do
    [ -f "results/mlqa-r_to_xquad-r/$label/seed$seed/tatoeba.json" ] || main "$label" "$seed" --force
  done
done
echo "[runner] $(date -u +%H:%M:%S) all runs done"
}

all_runs "$@"
exit
