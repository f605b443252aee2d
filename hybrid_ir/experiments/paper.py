"""The paper's reported numbers (arXiv 2408.10536, Tables 3-8 and 12-13), for side-by-side tables.

``hybrid_ir/resources/paper_results.json`` holds, per initialisation (``xlmr``, ``labse``) and batch
strategy (``x-x-mono``, ``x-y``, ``hybrid``): the LAReQA mAP and recall (R@1 mono / cross, R@10 multi)
per query language and their ``Mean``, the rank distance, and MIRACL nDCG@10 / Recall@100 per
language (with ``Mean`` and ``Median``). The helpers return DataFrames with the column names of
:meth:`hybrid_ir.evaluation.grid.LareqaResult.per_language_table`, so that::

    side_by_side(result.per_language_table(), paper_lareqa_table("labse", "hybrid", "xquad-r"))

prints our numbers next to the paper's.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from hybrid_ir.errors import HybridIRError

INITS: dict[str, str] = {"xlmr": "xlmr", "xlm-r": "xlmr", "xlm-roberta": "xlmr", "labse": "labse"}
STRATEGIES: tuple[str, ...] = ("x-x-mono", "x-y", "hybrid")
_STRATEGY_ALIASES = {"mono": "x-x-mono", "xx-mono": "x-x-mono", "xy": "x-y", "cross": "x-y"}
DATASETS: tuple[str, ...] = ("xquad-r", "mlqa-r")
LAREQA_COLUMNS: tuple[str, ...] = (
    "mono_map", "cross_map", "multi_map", "mono_r1", "cross_r1", "multi_r10", "rank_distance",
)


@cache
def _load() -> dict[str, Any]:
    text = resources.files("hybrid_ir").joinpath("resources/paper_results.json").read_text("utf-8")
    return json.loads(text)


def paper_results() -> dict[str, Any]:
    """A copy of the whole bundled JSON (``source``, ``notes``, ``lareqa``, ``rank_distance``, ``miracl``)."""
    return copy.deepcopy(_load())


def _init(init: str) -> str:
    try:
        return INITS[init.lower()]
    except KeyError:
        raise HybridIRError(f"unknown initialisation '{init}'; choose xlmr or labse") from None


def _strategy(strategy: str) -> str:
    s = _STRATEGY_ALIASES.get(strategy.lower(), strategy.lower())
    if s not in STRATEGIES:
        raise HybridIRError(f"unknown strategy '{strategy}'; choose one of {STRATEGIES}")
    return s


def _dataset(dataset: str) -> str:
    if dataset.lower() not in DATASETS:
        raise HybridIRError(f"unknown dataset '{dataset}'; choose one of {DATASETS}")
    return dataset.lower()


def paper_lareqa_table(init: str, strategy: str, dataset: str, mean_row: bool = True) -> pd.DataFrame:
    """The paper's per-language LAReQA table (rows = query languages, then ``Mean``)."""
    i, s, d = _init(init), _strategy(strategy), _dataset(dataset)
    data = _load()
    block = data["lareqa"][i][d]
    rd = data["rank_distance"][i][d]
    rows = {}
    for lang in block["map"]:
        m, r = block["map"][lang][s], block["recall"][lang][s]
        rows[lang] = [m["mono"], m["cross"], m["multi"], r["mono"], r["cross"], r["multi"],
                      rd.get(lang, {}).get(s, np.nan)]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(LAREQA_COLUMNS))
    table.index.name = "lang"
    if not mean_row:
        table = table.drop(index="Mean", errors="ignore")
    return table.astype(float)


def paper_lareqa_summary(init: str, strategy: str, dataset: str) -> dict[str, float]:
    """The paper's macro means ``{"mono_map", "cross_map", "multi_map", "rank_distance"}``."""
    row = paper_lareqa_table(init, strategy, dataset).loc["Mean"]
    return {k: float(row[k]) for k in ("mono_map", "cross_map", "multi_map", "rank_distance")}


def paper_miracl_table(init: str, strategy: str) -> pd.DataFrame:
    """The paper's MIRACL dev table: rows = languages (then ``Mean``, ``Median``), columns
    ``ndcg@10``, ``recall@100``."""
    i, s = _init(init), _strategy(strategy)
    block = _load()["miracl"][i]
    table = pd.DataFrame.from_dict({lang: block[lang][s] for lang in block}, orient="index")
    table.index.name = "lang"
    return table[["ndcg@10", "recall@100"]].astype(float)


def paper_summary_table(dataset: str) -> pd.DataFrame:
    """Every (init, strategy) of the paper on one LAReQA dataset: mono / cross / multi mAP and
    rank distance (the headline table)."""
    rows = []
    for init in ("xlmr", "labse"):
        for s in STRATEGIES:
            rows.append({"init": init, "strategy": s, **paper_lareqa_summary(init, s, dataset)})
    return pd.DataFrame(rows).set_index(["init", "strategy"])


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Columns ``(metric, ours | paper | diff)`` for the rows and metrics both tables have.

    ``diff`` = ours - paper. Rows keep the order of ``ours``.
    """
    cols = columns or [c for c in ours.columns if c in paper.columns]
    rows = [r for r in ours.index if r in paper.index]
    if not cols or not rows:
        raise HybridIRError("the two tables share no metric column or no row (language)")
    parts = {}
    for c in cols:
        o = ours.loc[rows, c].astype(float)
        p = paper.loc[rows, c].astype(float)
        parts[(c, "ours")], parts[(c, "paper")], parts[(c, "diff")] = o, p, o - p
    out = pd.DataFrame(parts)
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["metric", "source"])
    return out
