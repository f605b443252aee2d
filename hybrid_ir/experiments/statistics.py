"""An experiment's statistics: summaries over seeds, paired tests, the claims table.

:func:`aggregate` writes ``summary.csv`` (one row per run), ``summary.json`` (mean and standard
deviation over seeds), ``significance.csv`` (question-level paired tests between strategies),
``claims.csv`` and ``power.csv`` (the paper's claims, seed-aware:
:mod:`hybrid_ir.experiments.claims`) and, where runs recorded Tatoeba, ``tatoeba_claims.csv``."""

from __future__ import annotations

import dataclasses
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hybrid_ir.atomic import atomic_path, write_json
from hybrid_ir.errors import HybridIRError
from hybrid_ir.experiments.config import UNTUNED, ExperimentConfig, alpha_points
from hybrid_ir.experiments.records import broken_message, contained, run_key, run_states
from hybrid_ir.experiments.results import (
    METRICS,
    alpha_sweep_values,
    collect,
    dataset_of,
    question_values,
    seed_folders,
    seed_question_values,
    tatoeba_seed_values,
)


def aggregate(exp: ExperimentConfig, n_permutations: int = 10_000, *, partial: bool = False) -> dict[str, Any]:
    """Write ``summary.csv``, ``summary.json``, ``significance.csv`` and the claims of the finished runs.

    Every run is *done*, *pending* (not started: no file of it) or *broken* (some file of it, but a
    required one missing or damaged: :func:`~hybrid_ir.experiments.records.run_state`).

    - Pending runs do not stop an aggregation: an experiment being run (``reproduce`` aggregates after
      every run) has an up-to-date summary of what has finished.
    - Broken runs do: the aggregation is refused, naming them, unless ``partial`` (``--partial``) asks
      for a summary of the done runs alone; nothing is ever read from a broken run.

    ``summary.json`` says which: ``runs`` (aggregated), ``runs_expected``, ``complete``, ``pending``
    and ``left_out`` (broken runs and their problems)."""
    states = run_states(exp)
    broken = {key: problems for key, (state, problems) in states.items() if state == "broken"}
    if broken and not partial:
        raise HybridIRError(broken_message(exp, broken))
    pending = [key for key, (state, _) in states.items() if state == "pending"]
    folder = contained(exp.results_dir, exp.folder, "results folder")
    done = _without(exp, set(broken)) if broken else exp
    runs = collect(done)
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder / "summary.csv", runs)
    stats: dict[str, Any] = {}
    for label, group in runs.groupby("strategy", sort=False):
        stats[label] = {
            m: {"mean": float(group[m].mean()),
                "std": float(group[m].std(ddof=1)) if len(group) > 1 else 0.0,
                "n": len(group)}
            for m in METRICS
        }
    sig = significance(done, n_permutations=n_permutations)
    write_table(folder / "significance.csv", sig)
    summary = {"experiment": exp.name, "eval_dataset": exp.eval_dataset, "strategies": stats,
               "runs": len(runs), "runs_expected": len(states), "complete": not pending and not broken,
               "pending": pending, "left_out": broken}
    write_json(folder / "summary.json", summary)
    write_claims(done, n_resamples=n_permutations)
    return summary


def write_table(path: Path, table: pd.DataFrame) -> None:
    """One result table as CSV (six significant digits), written atomically."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


def completeness(summary: dict[str, Any]) -> str:
    """One line on what a summary covers, e.g. ``4 of 5 runs (partial: pending hybrid/seed2)``."""
    text = f"{summary['runs']} of {summary['runs_expected']} runs"
    parts = []
    if summary["pending"]:
        parts.append("pending " + ", ".join(summary["pending"]))
    if summary["left_out"]:
        parts.append("left out as broken " + ", ".join(summary["left_out"]))
    return f"{text} (partial: {'; '.join(parts)})" if parts else f"{text} (complete)"


def _without(exp: ExperimentConfig, keys: set[str]) -> ExperimentConfig:
    """``exp`` without the runs named in ``keys`` (``label/seedK``, ``untuned``): what a partial
    aggregation reads."""
    strategies = {
        label: {**overrides, "seeds": [s for s in exp.strategy_seeds(label) if run_key(label, s) not in keys]}
        for label, overrides in exp.strategies.items()
    }
    return dataclasses.replace(exp, strategies=strategies, baseline=exp.baseline and UNTUNED not in keys)


def write_claims(exp: ExperimentConfig, n_resamples: int = 10_000) -> None:
    """``claims.csv`` and ``power.csv`` (the experiment's claims, seed-aware:
    :func:`hybrid_ir.experiments.claims.claims_table`, :func:`~hybrid_ir.experiments.claims.power_table`)
    and, where runs recorded Tatoeba, ``tatoeba_claims.csv`` (differences between strategies). An
    alpha sweep (``alpha_reference``) gets ``claims.csv`` of neighbouring alphas
    (:func:`~hybrid_ir.experiments.claims.alpha_claims`) and nothing else: with one seed per alpha its
    verdicts are undecided by rule, and its ``q_verdict`` column is the question-level test of these
    runs."""
    from hybrid_ir.experiments.claims import (
        alpha_claims,
        claims_table,
        experiment_claims,
        power_table,
    )

    if exp.alpha_reference:  # an alpha sweep: neighbouring alphas (no power table: one seed per alpha)
        table = claims_table(alpha_sweep_values(exp), alpha_claims(list(alpha_points(exp))),
                             n_resamples=n_resamples)
        write_table(exp.folder / "claims.csv", table)
        return
    values = seed_question_values(exp)
    claims = experiment_claims(list(values))
    if claims:
        for name, table in (("claims.csv", claims_table(values, claims, n_resamples=n_resamples)),
                            ("power.csv", power_table(values, claims, dataset=exp.eval_dataset))):
            write_table(exp.folder / name, table)
    tatoeba = tatoeba_seed_values(exp)
    if len(tatoeba) >= 2:
        table = claims_table(tatoeba, tatoeba_comparisons(list(tatoeba)), n_resamples=n_resamples)
        write_table(exp.folder / "tatoeba_claims.csv", table)


def tatoeba_comparisons(labels: list[str]) -> list:
    """Every pair of strategies on Tatoeba, and each against the untuned baseline (a = the trained
    one): two-sided, since the paper claims nothing there."""
    from hybrid_ir.experiments.claims import Claim

    out = []
    for a, b in combinations(labels, 2):
        if a == UNTUNED:
            a, b = b, a
        for metric in ("mean", "to_en", "from_en"):
            out.append(Claim(f"{a} - {b}: Tatoeba acc@1 ({metric})", a, b, metric, "differs",
                             "no claim in arXiv 2408.10536 (XTREME-R's Tatoeba task; this book's question)",
                             f"tatoeba-{a}-vs-{b}-{metric}"))
    return out


def paired_tests(a: pd.DataFrame, b: pd.DataFrame, n_permutations: int = 10_000) -> pd.DataFrame:
    """Paired randomisation test and 95% paired-bootstrap interval of a - b, per metric column.

    ``a`` and ``b`` come from :func:`question_values` (same index). Columns of the result:
    ``metric, mean_a, mean_b, difference, ci_low, ci_high, p_value, questions``.
    """
    from hybrid_ir.evaluation.significance import paired_bootstrap_ci, paired_randomisation_test

    rows = []
    for metric in ("mono_ap", "cross_ap", "multi_ap", "rank_distance"):
        x, y = a[metric], b[metric]
        keep = x.notna() & y.notna()
        if keep.sum() < 2:  # undefined here (e.g. cross-lingual measures of a one-language evaluation)
            rows.append({"metric": metric, "mean_a": np.nan, "mean_b": np.nan, "difference": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "questions": int(keep.sum())})
            continue
        test = paired_randomisation_test(x[keep], y[keep], n_permutations=n_permutations, seed=0)
        ci = paired_bootstrap_ci(x[keep], y[keep], n_resamples=n_permutations, seed=0)
        rows.append({"metric": metric, "mean_a": test.mean_a, "mean_b": test.mean_b,
                     "difference": test.mean_difference, "ci_low": ci.low, "ci_high": ci.high,
                     "p_value": test.p_value, "questions": test.n})
    return pd.DataFrame(rows)


def significance(exp: ExperimentConfig, n_permutations: int = 10_000) -> pd.DataFrame:
    """Paired tests between every two strategies (and the baseline), over parallel questions.

    A strategy's per-question values are averaged over its finished seeds
    (:func:`question_values`); every pair of strategies is compared with :func:`paired_tests`, the
    randomisation test of :mod:`hybrid_ir.evaluation.significance` (10,000 sign flips) with a 95%
    paired-bootstrap interval for the mean difference.
    """
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    ds = None
    values: dict[str, pd.DataFrame] = {}
    for label in labels:
        folders = seed_folders(exp, label)
        if folders:
            ds = ds if ds is not None else dataset_of(folders[0])
            values[label] = question_values(folders, ds)
    frames = []
    for a, b in combinations(values, 2):
        table = paired_tests(values[a], values[b], n_permutations)
        table.insert(0, "b", b)
        table.insert(0, "a", a)
        frames.append(table)
    columns = ["a", "b", "metric", "mean_a", "mean_b", "difference", "ci_low", "ci_high", "p_value", "questions"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
