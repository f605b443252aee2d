"""Language bias in the multilingual pool: rank distance, top-k language shares, same-language preference.

All measures read the ranks of a query's relevant candidates in the **multilingual pool** (every
candidate of every loaded language; 1-based ranks with the tie rule of :mod:`hybrid_ir.evaluation.metrics`),
as kept by :class:`hybrid_ir.evaluation.grid.LareqaResult`.

- **Rank distance** (the paper's measure), per query q with relevant candidates rel(q):
  RD_q = max_{i in rel(q)} rank_i - min_{i in rel(q)} rank_i; averaged over the queries of a language,
  then macro-averaged over languages. 0 = the parallel answers sit side by side; with n relevant
  candidates the smallest possible value is n - 1 when they hold ranks 1..n.
- **Top-k language share**, for query language X and candidate language Y:
  share_k(X, Y) = (1 / (|Q_X| k)) * sum_{q in Q_X} |{top-k results of q in language Y}|.
  A language-neutral retriever of a parallel pool puts the same share on every language (1/L on
  XQuAD-R); a biased one piles the top k onto X.
- **Same-language preference**, for query q of language X with same-language answer a_q and
  translations T_q = relevant candidates in the other languages:
  win_q = (1 / |T_q|) * sum_{t in T_q} 1[rank(a_q) < rank(t)]  (fraction of the translations that the
  same-language answer outranks) and first_q = 1[rank(a_q) < min_{t in T_q} rank(t)] (the
  same-language answer beats every translation). Queries without a translation or without a
  same-language answer are skipped. The per-language means are the "preference rate" and the
  "same-language-first rate"; 1 = the own language always wins. Note that 0.5 is not a neutral
  point: the same-language answer is also the easiest one, so compare models, not against 0.5.
- **Rank heatmap**: the mean (or median) multilingual rank of the relevant candidate in language Y
  for the queries of language X (query language x candidate language).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.metrics import rank_distance

if TYPE_CHECKING:  # pragma: no cover
    from hybrid_ir.evaluation.grid import LareqaResult

__all__ = [
    "bias_summary",
    "language_share",
    "per_query_bias",
    "preference_by_language",
    "rank_distance",
    "rank_distance_by_language",
    "rank_heatmap",
    "same_language_preference",
]


def rank_distance_by_language(result: LareqaResult) -> pd.Series:
    """Mean rank distance per query language, plus the macro mean as ``Mean``."""
    table = result.per_language_table(mean_row=True)
    return table["rank_distance"]


def _langs(result: LareqaResult) -> np.ndarray:
    return np.array(result.languages)


def language_share(result: LareqaResult, k: int = 10) -> pd.DataFrame:
    """share_k(X, Y): mean fraction of the multilingual top-k of X's queries that is in language Y.

    Rows = query language, columns = candidate language; every row sums to 1. Needs ``k`` <= the
    ``top_k`` the result was computed with.
    """
    top = result.top
    if k < 1 or top.shape[1] < k:
        raise HybridIRError(
            f"language share at k={k} needs the top {k} results, but the evaluation kept "
            f"{top.shape[1]} (pass top_k={k} to evaluate_lareqa)"
        )
    lang_n = len(result.languages)
    cand_lang = result.candidate_lang[top[:, :k]]  # (Q, k)
    counts = np.zeros((len(top), lang_n))
    for y in range(lang_n):
        counts[:, y] = (cand_lang == y).sum(axis=1)
    share = np.array([counts[result.query_lang == x].mean(axis=0) / k if (result.query_lang == x).any()
                      else np.full(lang_n, np.nan) for x in range(lang_n)])
    langs = list(result.languages)
    return pd.DataFrame(share, index=pd.Index(langs, name="query"),
                        columns=pd.Index(langs, name="candidates"))


def same_language_preference(result: LareqaResult) -> pd.DataFrame:
    """Per query: rank of the same-language answer, best translation rank, ``win`` and ``first``.

    ``win`` = fraction of the query's translations ranked below its same-language answer; ``first``
    = 1.0 when the same-language answer outranks every translation (formulas in the module doc).
    Rows for skipped queries hold NaN.
    """
    r = result.multi_ranks
    same_mask = result.rel_lang == result.query_lang[:, None]
    other_mask = (result.rel_lang >= 0) & ~same_mask
    has_same = same_mask.sum(axis=1) == 1
    has_other = other_mask.any(axis=1)
    ok = has_same & has_other
    same_rank = np.where(has_same, np.where(same_mask, r, 0).sum(axis=1), np.nan)
    other = np.where(other_mask, r, np.nan)
    n_other = other_mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        wins = (other > same_rank[:, None]).sum(axis=1) / n_other
        best_other = np.where(has_other, np.where(other_mask, r, np.inf).min(axis=1), np.nan)
    first = (same_rank < best_other).astype(np.float64)
    langs = _langs(result)
    return pd.DataFrame({
        "query_id": result.query_ids, "query_lang": langs[result.query_lang],
        "same_rank": np.where(ok, same_rank, np.nan), "best_other_rank": np.where(ok, best_other, np.nan),
        "win": np.where(ok, wins, np.nan), "first": np.where(ok, first, np.nan),
    })


def preference_by_language(result: LareqaResult) -> pd.DataFrame:
    """Per query language: mean ``win`` (preference rate) and mean ``first`` (same-language-first
    rate) over the queries that have both a same-language answer and a translation; ``Mean`` row =
    macro mean."""
    frame = same_language_preference(result)
    table = frame.groupby("query_lang", sort=False)[["win", "first"]].mean()
    table = table.reindex(list(result.languages))
    table.index.name = "lang"
    table.loc["Mean"] = table.mean(axis=0)
    return table


def rank_heatmap(result: LareqaResult, stat: str = "mean") -> pd.DataFrame:
    """Query language x candidate language: mean (or ``median``) multilingual rank of the relevant
    candidate in the candidate language, over the queries of the query language that have one."""
    if stat not in ("mean", "median"):
        raise HybridIRError(f"stat must be 'mean' or 'median', got '{stat}'")
    langs = list(result.languages)
    out = np.full((len(langs), len(langs)), np.nan)
    for x in range(len(langs)):
        rows = result.query_lang == x
        for y in range(len(langs)):
            v = result.multi_ranks[rows][result.rel_lang[rows] == y]
            if v.size:
                out[x, y] = np.mean(v) if stat == "mean" else np.median(v)
    return pd.DataFrame(out, index=pd.Index(langs, name="query"),
                        columns=pd.Index(langs, name="candidates"))


def per_query_bias(result: LareqaResult) -> pd.DataFrame:
    """One row per query: rank distance, best/worst relevant rank, same-language rank, win, first,
    multilingual AP (for distribution plots)."""
    base = result.multi_frame()
    pref = same_language_preference(result)
    return base.assign(same_rank=pref["same_rank"].to_numpy(),
                       best_other_rank=pref["best_other_rank"].to_numpy(),
                       win=pref["win"].to_numpy(), first=pref["first"].to_numpy())


def bias_summary(result: LareqaResult, k: int = 10) -> dict[str, float]:
    """Macro means: ``rank_distance``, ``win``, ``first`` and ``own_share`` (share of the query's own
    language in its multilingual top k, mean over the diagonal of :func:`language_share`)."""
    pref = preference_by_language(result)
    out = {
        "rank_distance": float(result.summary()["rank_distance"]),
        "win": float(pref.loc["Mean", "win"]),
        "first": float(pref.loc["Mean", "first"]),
    }
    if result.top.shape[1] >= k:
        out["own_share"] = float(np.nanmean(np.diag(language_share(result, k).to_numpy())))
    return out
