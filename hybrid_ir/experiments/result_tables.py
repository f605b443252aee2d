"""Reading the recorded experiments for the book: claims tables, exposure, Tatoeba, cross-experiment tests.

Every function reads only the small files under ``results/`` (``claims.csv``, ``exposure.json``,
``tatoeba.json``, ``ranks.csv.gz``) and returns a table; the chapters format them. A file that is not
there yet (an experiment still running) gives an empty table, never an error, so the pages show
whatever has been recorded.

Example::

    >>> from hybrid_ir.book.recorded import recorded_experiment   # doctest: +SKIP
    >>> exposure_table([recorded_experiment("mlqa-to-xquad")])     # doctest: +SKIP
"""

from __future__ import annotations

import json

import pandas as pd

from hybrid_ir.evaluation.significance import SeedQuestionTest, seed_question_test
from hybrid_ir.experiments.reproduce import (
    UNTUNED,
    ExperimentConfig,
    seed_folders,
    seed_question_values,
    tatoeba_seed_values,
)

__all__ = ["cross_experiment_test", "exposure_table", "finished", "read_claims", "tatoeba_table"]


def read_claims(exp: ExperimentConfig, name: str = "claims.csv") -> pd.DataFrame:
    """``claims.csv`` (or ``tatoeba_claims.csv``) of an experiment; empty when not written yet."""
    path = exp.folder / name
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def exposure_table(experiments: list[ExperimentConfig]) -> pd.DataFrame:
    """One row per recorded training run: what it was trained on (see
    :func:`hybrid_ir.sampling.stats.exposure`): steps, exported step, mono and cross batches, the
    English share of triplets and the share of training questions seen."""
    rows = []
    for exp in experiments:
        for label in exp.strategies:
            for folder in seed_folders(exp, label):
                path = folder / "exposure.json"
                if not path.is_file():
                    continue
                e = json.loads(path.read_text(encoding="utf-8"))
                t, x = e["trained"], e["exported"]
                rows.append({
                    "experiment": exp.name, "strategy": label, "seed": int(folder.name.removeprefix("seed")),
                    "steps": e["steps"], "exported step": e["exported_step"],
                    "mono batches": t["batches_by_type"].get("mono", 0),
                    "cross batches": t["batches_by_type"].get("cross", 0),
                    "mono batches at export": x["batches_by_type"].get("mono", 0),
                    "English share": t["english_share"],
                    "questions seen": t["questions_seen"], "questions": t.get("questions_total"),
                })
    return pd.DataFrame(rows)


def tatoeba_table(exp: ExperimentConfig) -> pd.DataFrame:
    """Per strategy: Tatoeba acc@1 (both directions and their mean), mean over the recorded seeds and
    the number of runs; empty without ``tatoeba.json`` files."""
    rows = []
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    for label in labels:
        found = [json.loads((f / "tatoeba.json").read_text(encoding="utf-8"))["summary"]
                 for f in seed_folders(exp, label) if (f / "tatoeba.json").is_file()]
        if found:
            frame = pd.DataFrame(found)
            rows.append({"strategy": label, "runs": len(found),
                         **{k: float(frame[k].mean()) for k in ("to_en", "from_en", "mean")},
                         "sd of mean": float(frame["mean"].std(ddof=1)) if len(found) > 1 else float("nan")})
    return pd.DataFrame(rows)


def cross_experiment_test(
    a: tuple[ExperimentConfig, str], b: tuple[ExperimentConfig, str], metric: str
) -> SeedQuestionTest | None:
    """The seed-aware test of ``a`` minus ``b`` for strategies of two experiments evaluated on the same
    data (e.g. hybrid at 128 steps against X-X-mono at 64): seeds paired by their number when both
    have the same ones. ``metric``: ``mono_ap``, ``cross_ap``, ``multi_ap``, ``rank_distance`` or, for
    Tatoeba, ``tatoeba:mean`` / ``tatoeba:to_en`` / ``tatoeba:from_en``. None when a side has no run."""
    tables = []
    for exp, label in (a, b):
        values = tatoeba_seed_values(exp) if metric.startswith("tatoeba:") else seed_question_values(exp)
        key = metric.removeprefix("tatoeba:")
        if label not in values:
            return None
        tables.append(values[label][key])
    x, y = tables
    common = [c for c in x.columns if c in set(y.columns)]
    paired = list(x.index) == list(y.index)
    return seed_question_test(x[common].to_numpy(float), y[common].to_numpy(float), paired_seeds=paired)


def finished(exp: ExperimentConfig) -> tuple[int, int]:
    """(recorded runs, planned runs) of an experiment."""
    runs = exp.runs()
    done = sum((exp.run_folder(label, seed) / "metrics.json").is_file() for label, seed in runs)
    return done, len(runs)

