"""The LAReQA evaluation grid (mono, cross, multi) and the language-bias rank distance.

Given one vector per question and per candidate of a :class:`~hybrid_ir.data.lareqa.LareqaDataset`,
:func:`evaluate_lareqa` computes, for every query:

- the rank of each of its relevant candidates (its answer sentence in every language) **in the
  multilingual pool** (all candidates of all loaded languages), and
- the rank of each relevant candidate **within the candidates of its own language** (the pool of the
  mono setting when that language is the query's, of the cross setting otherwise).

Both come from the same score block (a query chunk against all candidates, float32 inner products),
by counting instead of sorting (:func:`hybrid_ir.evaluation.retrieval.relevant_ranks_exact`). From these ranks:

- setting ``X-Y`` (query language X, candidate pool = candidates of language Y): per-query AP and R@1
  over the relevant candidates in Y; queries without a relevant candidate in Y are skipped (MLQA-R).
  ``X-X`` is the mono setting of X (11 on XQuAD-R, 7 on MLQA-R); ``X-Y`` with Y != X the cross
  settings (110 / 42);
- multi (query language X, pool = every candidate): per-query AP and R@10;
- rank distance: max - min of the multilingual-pool ranks of the query's relevant candidates
  (:mod:`hybrid_ir.evaluation.bias`).

Aggregation (the paper's layout): a setting's value is the mean over its queries; per query language
X: ``mono`` = setting X-X, ``cross`` = mean of the settings X-Y over the other corpus languages Y,
``multi`` = the multi setting of X, ``rank_distance`` = mean over X's queries; the summary values are
macro means over settings (mono: over the L mono settings; cross: over the L(L-1) cross settings, the
same as the mean of the per-language cross values when every pair has queries; multi and rank
distance: over the L query languages). A pair without any query (none on the shipped data) is NaN and
left out of the means.

Metrics and the tie rule: :mod:`hybrid_ir.evaluation.metrics`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.metrics import _ap_kernel, _recall_kernel, rank_distance
from hybrid_ir.evaluation.retrieval import as_vectors, encode_dataset, relevant_ranks_exact

if TYPE_CHECKING:  # pragma: no cover
    from hybrid_ir.data.lareqa import CandidateText, LareqaDataset
    from hybrid_ir.evaluation.retrieval import Encoder

#: columns of the per-language table, in the paper's order
TABLE_COLUMNS: tuple[str, ...] = (
    "mono_map", "cross_map", "multi_map", "mono_r1", "cross_r1", "multi_r10", "rank_distance",
)
SUMMARY_KEYS: tuple[str, ...] = ("mono_map", "cross_map", "multi_map", "rank_distance")


@dataclass
class LareqaResult:
    """Ranks of every query's relevant candidates and the LAReQA metrics derived from them.

    Arrays (Q = queries, R = most relevant candidates of a query, L = languages, k = ``top_k``):

    - ``query_ids``, ``parallel_ids`` (Q,) str; ``query_lang`` (Q,) index into ``languages``;
    - ``rel_index`` (Q, R) candidate indices of the relevant candidates (-1 = padding);
      ``rel_lang`` (Q, R) their language index (-1 = padding);
    - ``multi_ranks`` (Q, R) 1-based ranks in the multilingual pool (NaN = padding);
    - ``pool_ranks`` (Q, R) 1-based ranks among the candidates of the item's own language;
    - ``top`` (Q, k) indices of the k best candidates of the multilingual pool (for bias analysis).

    Derived per-query values (cached): ``pair_ap`` / ``pair_r1`` (Q, L) (NaN = query has no relevant
    candidate in that language), ``multi_ap`` / ``multi_r10`` / ``rank_distance`` (Q,).
    """

    dataset: str
    languages: tuple[str, ...]
    query_ids: np.ndarray
    parallel_ids: np.ndarray
    query_lang: np.ndarray
    rel_index: np.ndarray
    rel_lang: np.ndarray
    multi_ranks: np.ndarray
    pool_ranks: np.ndarray
    candidate_lang: np.ndarray
    top: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.int64))

    # ---- per-query values -------------------------------------------------------------------
    def _ranks_in(self, lang: int) -> np.ndarray:
        return np.where(self.rel_lang == lang, self.pool_ranks, np.nan)

    @cached_property
    def pair_ap(self) -> np.ndarray:
        """(Q, L) AP of each query against the candidates of each language (NaN = skipped)."""
        return np.stack([_ap_kernel(self._ranks_in(y)) for y in range(len(self.languages))], axis=1)

    @cached_property
    def pair_r1(self) -> np.ndarray:
        """(Q, L) R@1 of each query against the candidates of each language (NaN = skipped)."""
        cols = [_recall_kernel(self._ranks_in(y), 1) for y in range(len(self.languages))]
        return np.stack(cols, axis=1)

    @cached_property
    def multi_ap(self) -> np.ndarray:
        """(Q,) AP in the multilingual pool."""
        return _ap_kernel(self.multi_ranks)

    @cached_property
    def multi_r10(self) -> np.ndarray:
        """(Q,) R@10 in the multilingual pool (fraction of the query's relevant candidates in the top 10)."""
        return _recall_kernel(self.multi_ranks, 10)

    @cached_property
    def rank_distance(self) -> np.ndarray:
        """(Q,) worst minus best multilingual-pool rank of the query's relevant candidates."""
        return rank_distance(self.multi_ranks)

    # ---- aggregates -------------------------------------------------------------------------
    def _by_lang(self, values: np.ndarray) -> np.ndarray:
        """(L, ...) mean of per-query values over the queries of each language, NaN-skipping."""
        out = []
        for x in range(len(self.languages)):
            v = values[self.query_lang == x]
            n = np.count_nonzero(~np.isnan(v), axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(n > 0, np.nansum(v, axis=0) / np.maximum(n, 1), np.nan))
        return np.array(out)

    @cached_property
    def _pairs(self) -> dict[str, np.ndarray]:
        counts = np.array(
            [np.count_nonzero(~np.isnan(self.pair_ap[self.query_lang == x]), axis=0)
             for x in range(len(self.languages))]
        )
        return {"map": self._by_lang(self.pair_ap), "r1": self._by_lang(self.pair_r1), "n": counts}

    def pair_matrix(self, metric: str = "map") -> pd.DataFrame:
        """L x L table of a pair metric (``map``, ``r1`` or ``n`` queries): row = query language,
        column = candidate language; the diagonal holds the mono settings."""
        if metric not in self._pairs:
            raise HybridIRError(f"unknown pair metric '{metric}'; choose map, r1 or n")
        return pd.DataFrame(
            self._pairs[metric], index=pd.Index(self.languages, name="query"),
            columns=pd.Index(self.languages, name="candidates"),
        )

    def pair_table(self) -> pd.DataFrame:
        """One row per ordered language pair: query, candidates, setting (mono/cross), map, r1, n."""
        rows = []
        for x, lx in enumerate(self.languages):
            for y, ly in enumerate(self.languages):
                rows.append({
                    "query": lx, "candidates": ly, "setting": "mono" if x == y else "cross",
                    "map": self._pairs["map"][x, y], "r1": self._pairs["r1"][x, y],
                    "n": int(self._pairs["n"][x, y]),
                })
        return pd.DataFrame(rows)

    def per_language_table(self, mean_row: bool = True) -> pd.DataFrame:
        """The paper's per-language table: row = query language, columns :data:`TABLE_COLUMNS`.

        ``cross_*`` of a row = mean over the other corpus languages; the ``Mean`` row holds the macro
        means of :meth:`summary` (for ``cross_r1``: mean over the cross settings).
        """
        lang_n = len(self.languages)
        pm, pr = self._pairs["map"], self._pairs["r1"]
        off = ~np.eye(lang_n, dtype=bool)
        with np.errstate(invalid="ignore"):
            cross_map = np.array([np.nanmean(pm[x][off[x]]) if np.isfinite(pm[x][off[x]]).any()
                                  else np.nan for x in range(lang_n)])
            cross_r1 = np.array([np.nanmean(pr[x][off[x]]) if np.isfinite(pr[x][off[x]]).any()
                                 else np.nan for x in range(lang_n)])
        table = pd.DataFrame(
            {
                "mono_map": np.diag(pm), "cross_map": cross_map,
                "multi_map": self._by_lang(self.multi_ap), "mono_r1": np.diag(pr),
                "cross_r1": cross_r1, "multi_r10": self._by_lang(self.multi_r10),
                "rank_distance": self._by_lang(self.rank_distance),
            },
            index=pd.Index(self.languages, name="lang"),
        )
        if mean_row:
            s = self._summary_all()
            table.loc["Mean"] = [s[c] for c in TABLE_COLUMNS]
        return table

    def _summary_all(self) -> dict[str, float]:
        lang_n = len(self.languages)
        off = ~np.eye(lang_n, dtype=bool)
        pm, pr = self._pairs["map"], self._pairs["r1"]

        def mean(v: np.ndarray) -> float:
            v = np.asarray(v, dtype=np.float64)
            v = v[~np.isnan(v)]
            return float(v.mean()) if v.size else float("nan")

        return {
            "mono_map": mean(np.diag(pm)), "cross_map": mean(pm[off]),
            "multi_map": mean(self._by_lang(self.multi_ap)), "mono_r1": mean(np.diag(pr)),
            "cross_r1": mean(pr[off]), "multi_r10": mean(self._by_lang(self.multi_r10)),
            "rank_distance": mean(self._by_lang(self.rank_distance)),
        }

    def summary(self) -> dict[str, float]:
        """Macro means ``{"mono_map", "cross_map", "multi_map", "rank_distance"}`` (see module doc)."""
        s = self._summary_all()
        return {k: s[k] for k in SUMMARY_KEYS}

    # ---- per-query frames -------------------------------------------------------------------
    def per_query_frame(self) -> pd.DataFrame:
        """Long per-query table: one row per (query, setting) that the query takes part in.

        Columns: ``query_id, parallel_id, query_lang, setting`` (mono/cross/multi), ``candidates``
        (candidate language, ``"all"`` for multi), ``ap``, ``recall`` (R@1 for mono and cross, R@10 for
        multi), ``k`` (the recall cutoff). Pair rows by ``(query_id, setting, candidates)`` to compare
        two runs (:mod:`hybrid_ir.evaluation.significance`).
        """
        langs = np.array(self.languages)
        qi, yi = np.nonzero(~np.isnan(self.pair_ap))
        pairs = pd.DataFrame({
            "query_id": self.query_ids[qi], "parallel_id": self.parallel_ids[qi],
            "query_lang": langs[self.query_lang[qi]],
            "setting": np.where(self.query_lang[qi] == yi, "mono", "cross"),
            "candidates": langs[yi], "ap": self.pair_ap[qi, yi], "recall": self.pair_r1[qi, yi],
            "k": 1,
        })
        multi = pd.DataFrame({
            "query_id": self.query_ids, "parallel_id": self.parallel_ids,
            "query_lang": langs[self.query_lang], "setting": "multi", "candidates": "all",
            "ap": self.multi_ap, "recall": self.multi_r10, "k": 10,
        })
        return pd.concat([pairs, multi], ignore_index=True)

    def multi_frame(self) -> pd.DataFrame:
        """One row per query: multilingual AP, R@10, rank distance, best and worst relevant rank."""
        langs = np.array(self.languages)
        with np.errstate(invalid="ignore"):
            best = np.nanmin(self.multi_ranks, axis=1)
            worst = np.nanmax(self.multi_ranks, axis=1)
        return pd.DataFrame({
            "query_id": self.query_ids, "parallel_id": self.parallel_ids,
            "query_lang": langs[self.query_lang], "multi_ap": self.multi_ap,
            "multi_r10": self.multi_r10, "rank_distance": self.rank_distance,
            "best_rank": best, "worst_rank": worst,
            "n_relevant": np.count_nonzero(~np.isnan(self.multi_ranks), axis=1),
        })

    # ---- serialisation ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """``{"dataset", "summary", "per_language", "pairs"}``; ``pairs`` holds every ordered pair
        ``"X-Y"`` including the mono settings ``"X-X"``; NaN (a pair without queries) becomes null."""
        table = self.per_language_table(mean_row=False)
        pm, pr = self._pairs["map"], self._pairs["r1"]
        return {
            "dataset": self.dataset,
            "summary": {k: _num(v) for k, v in self.summary().items()},
            "per_language": {
                lang: {c: _num(table.loc[lang, c]) for c in TABLE_COLUMNS} for lang in self.languages
            },
            "pairs": {
                f"{lx}-{ly}": {"map": _num(pm[x, y]), "r1": _num(pr[x, y])}
                for x, lx in enumerate(self.languages) for y, ly in enumerate(self.languages)
            },
        }

    def to_json_str(self) -> str:
        return json.dumps(self.to_json(), indent=1)


def _num(v: Any) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v


# ---- building the result -------------------------------------------------------------------------
def relevance_arrays(ds: LareqaDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(query_lang (Q,), candidate_lang (N,), rel_index (Q, R), rel_lang (Q, R))`` of a dataset."""
    lang_of = {lang: i for i, lang in enumerate(ds.languages)}
    try:
        q_lang = np.array([lang_of[q.lang] for q in ds.questions], dtype=np.int64)
        c_lang = np.array([lang_of[c.lang] for c in ds.candidates], dtype=np.int64)
    except KeyError as exc:
        raise HybridIRError(f"dataset item in language {exc} not among {ds.languages}") from None
    groups = [ds.relevant_to(q) for q in ds.questions]
    width = max((len(g) for g in groups), default=0)
    rel = np.full((len(groups), width), -1, dtype=np.int64)
    for i, g in enumerate(groups):
        rel[i, : len(g)] = g
    if rel.size and rel.max() >= len(ds.candidates):
        raise HybridIRError("relevant candidate index outside the candidate list")
    rel_lang = np.where(rel >= 0, c_lang[np.maximum(rel, 0)], -1)
    return q_lang, c_lang, rel, rel_lang


def evaluate_lareqa(
    ds: LareqaDataset,
    query_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    *,
    top_k: int = 10,
    block_bytes: int | None = None,
) -> LareqaResult:
    """The whole LAReQA grid from embeddings (inner-product scores, vectors used as given).

    ``query_vectors`` (Q, H): one row per ``ds.questions``; ``candidate_vectors`` (N, H): one row per
    ``ds.candidates``. ``top_k``: how many multilingual-pool results per query to keep for the bias
    analysis (:func:`hybrid_ir.evaluation.bias.language_share`).
    """
    if not ds.questions or not ds.candidates:
        raise HybridIRError(
            f"dataset '{ds.name}' has {len(ds.questions)} questions and {len(ds.candidates)} candidates"
        )
    qv = as_vectors(query_vectors, "query vectors", rows=len(ds.questions))
    cv = as_vectors(candidate_vectors, "candidate vectors", rows=len(ds.candidates), dim=qv.shape[1])
    q_lang, c_lang, rel, rel_lang = relevance_arrays(ds)
    # candidates grouped by language (stable), so each language is one contiguous segment
    perm = np.argsort(c_lang, kind="stable")
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    present = np.unique(c_lang)
    starts = np.searchsorted(c_lang[perm], present)
    kwargs = {} if block_bytes is None else {"block_bytes": block_bytes}
    multi, pool, top = relevant_ranks_exact(
        qv, cv[perm], np.where(rel >= 0, inv[np.maximum(rel, 0)], -1),
        segment_starts=starts, tie_order=perm, top_k=top_k, **kwargs,
    )
    return LareqaResult(
        dataset=ds.name,
        languages=tuple(ds.languages),
        query_ids=np.array([q.id for q in ds.questions]),
        parallel_ids=np.array([q.parallel_id for q in ds.questions]),
        query_lang=q_lang,
        rel_index=rel,
        rel_lang=rel_lang,
        multi_ranks=multi,
        pool_ranks=pool,
        candidate_lang=c_lang,
        top=perm[top] if top is not None else np.empty((len(rel), 0), dtype=np.int64),
    )


def evaluate_lareqa_model(
    model: Encoder,
    ds: LareqaDataset,
    candidate_text: CandidateText = "sentence",
    batch_size: int = 64,
    show_progress: bool = False,
    top_k: int = 10,
    device: str | None = "auto",
    precision: str = "fp32",
) -> LareqaResult:
    """Encode the dataset with ``model`` (:func:`hybrid_ir.evaluation.retrieval.encode_dataset`, on
    ``device`` in ``precision``) and evaluate it."""
    qv, cv = encode_dataset(model, ds, candidate_text, batch_size=batch_size, show_progress=show_progress,
                            device=device, precision=precision)
    return evaluate_lareqa(ds, qv, cv, top_k=top_k)
