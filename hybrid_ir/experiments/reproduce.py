"""The reproduction experiments: train each batch strategy with several seeds, evaluate zero-shot.

An experiment (a YAML file, e.g. ``results/configs/mlqa-to-xquad.yaml``) names a base training
configuration (a named :mod:`hybrid_ir.training.config` configuration plus overrides), the strategies to compare (each a
set of overrides such as ``{strategy: hybrid, alpha: 0.5}``), the seeds, and the evaluation set.
:func:`run_experiment` runs, in order,

1. the **untuned** encoder (the base model without fine-tuning: the baseline row);
2. every (strategy, seed): train from the same initial weights (:func:`hybrid_ir.training.trainer.train`,
   resumable), then evaluate the exported model on the full LAReQA grid.

Each run writes a folder ``<results>/<experiment>/<strategy>/seed<k>/`` (``untuned/`` for the
baseline) holding only small text files:

- ``run.json``: configuration, package version, git commit, data checksums, hardware, wall times;
- ``metrics.json``: :meth:`~hybrid_ir.evaluation.grid.LareqaResult.to_json` (summary, per language, pairs);
- ``per_language.csv``, ``pairs.csv``: the same as tables; ``bias.json``: :func:`~hybrid_ir.evaluation.bias.bias_summary`;
- ``ranks.csv.gz``: per query, the multilingual-pool and own-language-pool rank of each relevant
  candidate and the top-10 candidates of the multilingual pool, from which every per-query metric
  (and the significance tests) is recomputed with :func:`load_run_result`;
- ``train_log.jsonl``: the trainer's metrics log (training runs);
- ``exposure.json``: what the run was trained on (batches by type, triplets per language pair, the
  English share, questions seen; for all steps and for the exported step), replayed from the sampler;
- ``tatoeba.json`` (experiments with ``tatoeba: true``): Tatoeba bitext acc@1 in both directions,
  with the per-pair hits (:mod:`hybrid_ir.evaluation.tatoeba`).

A run whose ``metrics.json`` exists is skipped, so an interrupted experiment resumes where it
stopped (a training run itself resumes from its last checkpoint in ``<runs>/``, which holds the
weights and is not committed). :func:`aggregate` then writes ``summary.csv`` (one row per run),
``summary.json`` (mean and standard deviation over seeds) and ``significance.csv`` (paired tests
between strategies over queries), ``claims.csv`` and ``power.csv``.

The code is split by job: :mod:`~hybrid_ir.experiments.config` (the YAML file),
:mod:`~hybrid_ir.experiments.runner` (training and evaluating runs), :mod:`~hybrid_ir.experiments.records`
(one run folder: write, check, read back), :mod:`~hybrid_ir.experiments.results` (reading recorded runs)
and :mod:`~hybrid_ir.experiments.statistics` (summaries, tests, claims). This module gathers their public
names, so that ``from hybrid_ir.experiments.reproduce import ...`` keeps working.
"""

from __future__ import annotations

from hybrid_ir.experiments.config import (
    UNTUNED,
    ExperimentConfig,
    load_experiment,
    train_config,
)
from hybrid_ir.experiments.records import (
    RESULT_FILES,
    broken_runs,
    load_run_result,
    ranks_frame,
    require_intact,
    verify_run,
    write_run,
)
from hybrid_ir.experiments.results import (
    METRICS,
    alpha_sweep,
    collect,
    compare_runs,
    dataset_of,
    finished_labels,
    mean_pair_matrix,
    mean_per_language,
    per_query_values,
    question_values,
    seed_folders,
    seed_question_values,
    seeds_recorded,
    strategy_alpha,
    tatoeba_seed_values,
)
from hybrid_ir.experiments.runner import (
    ENCODER_FIELDS,
    backfill,
    environment,
    run_experiment,
    run_one,
    write_tatoeba,
)
from hybrid_ir.experiments.statistics import (
    aggregate,
    paired_tests,
    significance,
    tatoeba_comparisons,
    write_claims,
)

__all__ = [
    "ENCODER_FIELDS",
    "METRICS",
    "RESULT_FILES",
    "UNTUNED",
    "ExperimentConfig",
    "aggregate",
    "alpha_sweep",
    "backfill",
    "broken_runs",
    "collect",
    "compare_runs",
    "dataset_of",
    "environment",
    "finished_labels",
    "load_experiment",
    "load_run_result",
    "mean_pair_matrix",
    "mean_per_language",
    "paired_tests",
    "per_query_values",
    "question_values",
    "ranks_frame",
    "require_intact",
    "run_experiment",
    "run_one",
    "seed_folders",
    "seed_question_values",
    "seeds_recorded",
    "significance",
    "strategy_alpha",
    "tatoeba_comparisons",
    "tatoeba_seed_values",
    "train_config",
    "verify_run",
    "write_claims",
    "write_run",
    "write_tatoeba",
]
