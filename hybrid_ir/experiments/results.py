"""Reading recorded runs: per-run rows, per-query and per-question values, means over seeds.

Everything here reads run folders written by :mod:`hybrid_ir.experiments.runner` (through
:func:`hybrid_ir.experiments.records.load_run_result`) and computes nothing that is not in them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_ir.errors import HybridIRError
from hybrid_ir.experiments.config import (
    UNTUNED,
    ExperimentConfig,
    alpha_points,
    strategy_alpha,
    train_config,
)
from hybrid_ir.experiments.records import load_run_result


def collect(exp: ExperimentConfig) -> pd.DataFrame:
    """One row per finished run: label, seed, summary metrics, bias measures, wall times."""
    rows = []
    for label, seed in exp.runs():
        folder = exp.run_folder(label, seed)
        if not (folder / "metrics.json").is_file():
            continue
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        bias = json.loads((folder / "bias.json").read_text(encoding="utf-8"))
        table = pd.read_csv(folder / "per_language.csv", index_col=0)
        rows.append({
            "strategy": label, "seed": seed, **metrics["summary"],
            "mono_r1": float(table.loc["Mean", "mono_r1"]), "cross_r1": float(table.loc["Mean", "cross_r1"]),
            "multi_r10": float(table.loc["Mean", "multi_r10"]),
            **{f"bias_{k}": v for k, v in bias.items()},
            "train_seconds": run.get("train_seconds"), "eval_seconds": run.get("eval_seconds"),
            "steps": (run.get("train_result") or {}).get("steps"),
            # a resumed run's train_seconds counts only the time after the resume
            "resumed": (run.get("train_result") or {}).get("resumed_from") is not None,
        })
    return pd.DataFrame(rows)


METRICS = ("mono_map", "cross_map", "multi_map", "rank_distance", "mono_r1", "cross_r1", "multi_r10")


# ------------------------------------------------------------------------- reading results
def seed_folders(exp: ExperimentConfig, label: str) -> list[Path]:
    """The finished run folders of one strategy (the baseline has one)."""
    seeds: list[int | None] = [None] if label == UNTUNED else list(exp.strategy_seeds(label))
    folders = [exp.run_folder(label, s) for s in seeds]
    return [f for f in folders if (f / "metrics.json").is_file()]


def seeds_recorded(exp: ExperimentConfig) -> int:
    """The fewest finished seeds of any of the experiment's strategies (what "n seeds each" may say)."""
    return min((len(seed_folders(exp, label)) for label in exp.strategies), default=0)


def finished_labels(exp: ExperimentConfig) -> list[str]:
    """Labels (baseline first) with at least one finished run."""
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    return [label for label in labels if seed_folders(exp, label)]


def per_query_values(folder: Path, ds=None) -> pd.DataFrame:
    """Per query: mono AP, mean cross AP, multi AP, rank distance (indexed by query id)."""
    res = load_run_result(folder, ds)
    q = np.arange(len(res.query_ids))
    mono = res.pair_ap[q, res.query_lang]
    cross = res.pair_ap.copy()
    cross[q, res.query_lang] = np.nan
    with warnings.catch_warnings():  # a query without any cross-lingual pair gets NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        cross_mean = np.nanmean(cross, axis=1)
    return pd.DataFrame(
        {"parallel_id": res.parallel_ids, "mono_ap": mono, "cross_ap": cross_mean, "multi_ap": res.multi_ap,
         "rank_distance": res.rank_distance},
        index=pd.Index(res.query_ids, name="query_id"),
    )


def dataset_of(folder: str | Path):
    """The evaluation dataset (and languages) a run folder was evaluated on, loaded from the data."""
    from hybrid_ir.data.lareqa import load_lareqa

    meta = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
    return load_lareqa(meta["dataset"], list(meta["per_language"]))


def question_values(folders: list[Path], ds=None) -> pd.DataFrame:
    """Per parallel question, the per-query values averaged over its queries and over ``folders``.

    The translations of one question are not independent samples, so the unit of a paired test is
    the *parallel question*: per parallel id, the values of its queries (one per language) are
    averaged (1,190 rows on XQuAD-R, not 13,090 queries). Several folders (the seeds of a strategy)
    are averaged query by query first.
    """
    if not folders:
        raise HybridIRError("question_values needs at least one run folder")
    ds = ds if ds is not None else dataset_of(folders[0])
    frames = [per_query_values(f, ds) for f in folders]
    numeric = [f.drop(columns="parallel_id") for f in frames]
    mean = sum(numeric) / len(numeric)
    return mean.groupby(frames[0]["parallel_id"]).mean()


def seed_question_values(exp: ExperimentConfig, ds=None) -> dict[str, dict[str, pd.DataFrame]]:
    """Per strategy and metric, a (seeds x parallel questions) table: each run's per-query values
    averaged over the queries of a parallel question (the input of the seed-aware claims tests)."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    for label in labels:
        folders = seed_folders(exp, label)
        if not folders:
            continue
        ds = ds if ds is not None else dataset_of(folders[0])
        per_seed = {}
        for folder in folders:
            values = per_query_values(folder, ds)
            per_seed[folder.name] = values.drop(columns="parallel_id").groupby(values["parallel_id"]).mean()
        out[label] = {
            metric: pd.DataFrame({seed: frame[metric] for seed, frame in per_seed.items()}).T
            for metric in ("mono_ap", "cross_ap", "multi_ap", "rank_distance")
        }
    return out


def tatoeba_seed_values(exp: ExperimentConfig) -> dict[str, dict[str, pd.DataFrame]]:
    """Per strategy, a (seeds x sentence pairs) table of Tatoeba hits for ``to_en``, ``from_en`` and
    ``mean`` (both directions), weighted so that the plain mean over pairs is the macro mean over
    languages (Thai has 548 pairs, the others 1,000)."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    for label in labels:
        rows: dict[str, dict[str, pd.Series]] = {"to_en": {}, "from_en": {}}
        for folder in seed_folders(exp, label):
            path = folder / "tatoeba.json"
            if not path.is_file():
                continue
            hits = json.loads(path.read_text(encoding="utf-8"))["hits"]
            total = sum(len(h["to_en"]) for h in hits.values())
            for direction in rows:
                parts = []
                for lang, h in sorted(hits.items()):
                    weight = total / (len(hits) * len(h[direction]))
                    parts.append(pd.Series(np.asarray(h[direction], float) * weight,
                                           index=[f"{lang}:{i}" for i in range(len(h[direction]))]))
                rows[direction][folder.name] = pd.concat(parts)
        if rows["to_en"]:
            to_en, from_en = pd.DataFrame(rows["to_en"]).T, pd.DataFrame(rows["from_en"]).T
            out[label] = {"to_en": to_en, "from_en": from_en, "mean": (to_en + from_en) / 2}
    return out


def mean_per_language(exp: ExperimentConfig, label: str) -> pd.DataFrame:
    """The paper-layout per-language table of one strategy, averaged over its finished seeds."""
    tables = [pd.read_csv(f / "per_language.csv", index_col=0) for f in seed_folders(exp, label)]
    if not tables:
        raise HybridIRError(f"no finished run of '{label}' in {exp.folder}")
    return sum(tables) / len(tables)


def mean_pair_matrix(exp: ExperimentConfig, label: str, metric: str = "map") -> pd.DataFrame:
    """Query-language x candidate-language matrix of a pair metric, averaged over seeds."""
    mats = []
    for f in seed_folders(exp, label):
        pairs = pd.read_csv(f / "pairs.csv", index_col=0)
        mats.append(pairs.pivot(index="query", columns="candidates", values=metric))
    if not mats:
        raise HybridIRError(f"no finished run of '{label}' in {exp.folder}")
    langs = list(json.loads((seed_folders(exp, label)[0] / "metrics.json").read_text())["per_language"])
    out = (sum(mats) / len(mats)).reindex(index=langs, columns=langs)
    out.index.name, out.columns.name = "query language", "candidate language"
    return out


def alpha_sweep(experiments: list[ExperimentConfig], seed: int = 0) -> pd.DataFrame:
    """One row per finished run of ``seed`` in ``experiments``, sorted by its alpha.

    A run's alpha follows from its training configuration (:func:`train_config`,
    :func:`strategy_alpha`), so the X-Y and X-X-mono runs of the main experiment are the sweep's
    alpha = 0 and 1 (the sampler draws exactly their batches there). Columns: ``alpha``, ``run``
    (experiment/label/seedK) and the ``Mean`` row of the run's ``per_language.csv``.
    """
    rows = []
    for exp in experiments:
        for label in exp.strategies:
            folder = exp.run_folder(label, seed)
            if (folder / "metrics.json").is_file():
                cfg = train_config(exp, label, seed)
                table = pd.read_csv(folder / "per_language.csv", index_col=0)
                rows.append({"alpha": strategy_alpha(cfg.strategy, cfg.alpha),
                             "run": f"{exp.name}/{label}/seed{seed}", **table.loc["Mean"].to_dict()})
    frame = pd.DataFrame(rows)
    return frame.sort_values("alpha", kind="stable", ignore_index=True) if rows else frame


def alpha_sweep_values(sweep: ExperimentConfig) -> dict[str, dict[str, pd.DataFrame]]:
    """:func:`seed_question_values` of every point of an alpha sweep (:func:`alpha_points`), keyed
    by :func:`alpha_label`, each with the runs of the sweep's seeds only, so that every point has
    the same seeds. A point without such a finished run is left out (its comparisons: "not run")."""
    seeds = {f"seed{s}" for s in sweep.seeds}
    by_experiment: dict[str, dict[str, dict[str, pd.DataFrame]]] = {}
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for key, (exp, label) in alpha_points(sweep).items():
        if exp.name not in by_experiment:
            by_experiment[exp.name] = seed_question_values(exp)
        tables = by_experiment[exp.name].get(label)
        if tables is None:
            continue
        kept = {metric: table[table.index.isin(seeds)] for metric, table in tables.items()}
        if len(kept["mono_ap"]):
            out[key] = kept
    return out


def compare_runs(first: str | Path, second: str | Path, ds=None) -> pd.DataFrame:
    """How far two runs of the same configuration are apart (the re-run tolerance).

    One row per quantity: the four summary metrics, the best validation loss of training, and the
    per-query values (mono / cross / multi AP and rank distance, compared query by query). Columns:
    ``first``, ``second`` (the means), ``max_abs_diff`` (over queries for per-query rows; for a
    summary row, |first - second|) and ``queries_differing`` (per-query rows only). Identical runs
    give 0 everywhere.
    """
    first, second = Path(first), Path(second)
    rows = []
    summaries = [json.loads((f / "metrics.json").read_text(encoding="utf-8"))["summary"] for f in (first, second)]
    for key in summaries[0]:
        a, b = float(summaries[0][key]), float(summaries[1][key])
        rows.append({"quantity": f"summary {key}", "first": a, "second": b, "max_abs_diff": abs(a - b),
                     "queries_differing": None})
    losses = []
    for f in (first, second):
        result = json.loads((f / "run.json").read_text(encoding="utf-8")).get("train_result") or {}
        losses.append(result.get("best_val_loss"))
    if None not in losses:
        rows.append({"quantity": "best validation loss", "first": float(losses[0]), "second": float(losses[1]),
                     "max_abs_diff": abs(float(losses[0]) - float(losses[1])), "queries_differing": None})
    qa, qb = per_query_values(first, ds), per_query_values(second, ds)
    if not qa.index.equals(qb.index):
        raise HybridIRError(f"{first} and {second} were evaluated on different queries")
    for column in ("mono_ap", "cross_ap", "multi_ap", "rank_distance"):
        diff = (qa[column] - qb[column]).abs()
        rows.append({"quantity": f"per query {column}", "first": float(qa[column].mean()),
                     "second": float(qb[column].mean()), "max_abs_diff": float(diff.max()),
                     "queries_differing": int((diff > 0).sum())})
    return pd.DataFrame(rows).set_index("quantity")
