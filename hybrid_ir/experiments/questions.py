"""Per-language evidence for the book's questions page: does a strategy cost some languages?

The paper's claim "hybrid keeps the monolingual quality of X-X-mono" is tested on the mean over all
languages (``claims.csv``). A mean can hide a language family that loses while others gain, so
:func:`language_tests` repeats the same seed-aware test (:func:`~hybrid_ir.evaluation.significance.
seed_question_test`) language by language:

    for each language L:  d_L = mean over runs and L's queries of AP_a - AP_b

with one row per training run (seed) and one column per query of L, seeds paired when both
strategies have the same seeds. The p-values are Holm-adjusted across the languages (a family of
11 tests), and each row gets the same verdict words as ``claims.csv`` ("a higher", "a lower",
"undecided").

Example::

    >>> from hybrid_ir.book.recorded import recorded_experiment      # doctest: +SKIP
    >>> language_tests(recorded_experiment("mlqa-to-xquad"), "hybrid", "x-x-mono")  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybrid_ir.data.languages import LANGUAGES
from hybrid_ir.evaluation.significance import holm, seed_question_test
from hybrid_ir.experiments.claims import verdict
from hybrid_ir.experiments.reproduce import (
    ExperimentConfig,
    dataset_of,
    load_run_result,
    seed_folders,
)

__all__ = ["TEST_COLUMNS", "language_tests", "query_values_by_language"]

#: Columns of :func:`language_tests`.
TEST_COLUMNS = [
    "lang", "language", "family", "script", "mean_a", "mean_b", "difference", "ci_low", "ci_high",
    "p_value", "p_holm", "verdict", "seeds_a", "seeds_b", "queries",
]


def query_values_by_language(
    exp: ExperimentConfig, label: str, metric: str = "mono_ap", ds=None
) -> dict[str, pd.DataFrame]:
    """Per query language, a (runs x queries) table of ``metric`` for strategy ``label``.

    ``metric`` is ``mono_ap`` (AP against the query's own-language answer) or ``multi_ap``. Rows are
    the run folders (``seed0``, ...), columns the query ids of that language; empty when the
    strategy has no finished runs.
    """
    if metric not in ("mono_ap", "multi_ap"):
        raise ValueError(f"metric must be 'mono_ap' or 'multi_ap', not {metric!r}")
    folders = [f for f in seed_folders(exp, label) if (f / "ranks.csv.gz").is_file()]
    if not folders:
        return {}
    ds = ds if ds is not None else dataset_of(folders[0])
    per_run: dict[str, pd.DataFrame] = {}
    languages: tuple[str, ...] = ()
    for folder in folders:
        res = load_run_result(folder, ds)
        q = np.arange(len(res.query_ids))
        values = res.pair_ap[q, res.query_lang] if metric == "mono_ap" else res.multi_ap
        languages = res.languages
        per_run[folder.name] = pd.DataFrame(
            {"lang": np.asarray(languages)[res.query_lang], "value": values},
            index=pd.Index(res.query_ids, name="query_id"),
        )
    out = {}
    for lang in languages:
        out[lang] = pd.DataFrame(
            {run: frame.loc[frame["lang"] == lang, "value"] for run, frame in per_run.items()}
        ).T
    return out


def language_tests(
    exp: ExperimentConfig, a: str, b: str, metric: str = "mono_ap", ds=None
) -> pd.DataFrame:
    """One row per evaluation language: ``metric`` of strategy ``a`` minus strategy ``b``, tested.

    Columns :data:`TEST_COLUMNS`: the language's name, family and script
    (:data:`hybrid_ir.data.languages.LANGUAGES`), both means, the difference with its 95% interval,
    the seed-aware p-value, its Holm adjustment across the languages, and the verdict from the
    Holm-adjusted p ("a higher", "a lower" or "undecided"). Empty when either
    strategy has no finished runs.
    """
    if ds is None:
        folders = seed_folders(exp, a)
        if not folders:
            return pd.DataFrame(columns=TEST_COLUMNS)
        ds = dataset_of(folders[0])
    va = query_values_by_language(exp, a, metric, ds)
    vb = query_values_by_language(exp, b, metric, ds)
    rows = []
    for lang in [lang for lang in va if lang in vb]:
        x, y = va[lang], vb[lang][va[lang].columns]
        test = seed_question_test(x.to_numpy(), y.to_numpy())
        info = LANGUAGES.get(lang)
        rows.append({
            "lang": lang,
            "language": info.name if info else lang,
            "family": info.family if info else "unknown",
            "script": info.script if info else "unknown",
            "mean_a": float(x.to_numpy().mean()), "mean_b": float(y.to_numpy().mean()),
            "difference": test.difference, "ci_low": test.low, "ci_high": test.high,
            "p_value": test.p_value, "seeds_a": test.seeds_a, "seeds_b": test.seeds_b,
            "queries": test.questions,
        })
    if not rows:
        return pd.DataFrame(columns=TEST_COLUMNS)
    frame = pd.DataFrame(rows)
    frame["p_holm"] = holm(frame["p_value"].tolist())
    frame["verdict"] = [
        verdict(d, p, "differs") for d, p in zip(frame["difference"], frame["p_holm"], strict=True)
    ]
    return frame[TEST_COLUMNS]
