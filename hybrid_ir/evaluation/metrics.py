"""Ranking metrics on the ranks of the relevant items, one value per query.

Every metric here is computed from the **ranks of a query's relevant items** in one ranked pool:

- ``ranks``: float array ``(Q, R)``, row ``q`` holds the 1-based ranks of query ``q``'s relevant items in
  any order; ``NaN`` pads rows with fewer than ``R`` relevant items; ``inf`` marks a relevant item that
  was not ranked (outside a returned top-k list, or absent from the corpus): it counts in the
  denominators but never in a numerator;
- ``gains`` (nDCG only): float array ``(Q, R)`` aligned with ``ranks``, the graded relevance of each item.

Ranks must be a strict order (no two relevant items of a query share a rank). Scores become ranks
through :func:`relevant_ranks` (dense scores) or :mod:`hybrid_ir.evaluation.retrieval` (large pools, without
sorting), both with the package's one **tie rule**:

    rank(i) = 1 + #{j : s_j > s_i} + #{j non-relevant : s_j = s_i} + #{j relevant : s_j = s_i, j < i}

i.e. the pool is ordered by score (descending), then non-relevant before relevant (pessimistic: a
relevant item tied with non-relevant ones is ranked after all of them), then by candidate index
(stable). Continuous scores never tie, so the rule matters only for degenerate embeddings; it is what
makes a constant scorer score the chance level instead of a perfect one.

Queries without any relevant item get ``NaN`` (the callers skip them); the ``mean_*`` helpers average
over the remaining queries. With ``n_q`` relevant items with sorted ranks ``r_(1) < ... < r_(n_q)``:

- AP (non-interpolated, over the whole pool) = (1/n_q) * sum_k k / r_(k)   (one relevant item: 1/rank)
- R@k = Recall@k = |{i : r_i <= k}| / n_q
- RR = 1 / r_(1)     (reciprocal rank; MRR is its mean)
- nDCG@k = DCG@k / IDCG@k, DCG@k = sum_{i : r_i <= k} g_i / log2(r_i + 1),
  IDCG@k = sum_{j=1}^{min(k, n_q)} g*_j / log2(j + 1) with g* the gains sorted in decreasing order
  (linear gains and log2 discount, as trec_eval's ``ndcg_cut``).
"""

from __future__ import annotations

import numpy as np

from hybrid_ir.errors import HybridIRError

__all__ = [
    "average_precision",
    "mean_of",
    "ndcg_at_k",
    "rank_distance",
    "recall_at_k",
    "reciprocal_rank",
    "relevant_ranks",
]


# ---- fast kernels (no validation) -----------------------------------------------------------
def _sorted_ranks(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted ascending (NaN padding last) and the number of relevant items per row."""
    r = np.sort(ranks, axis=1)  # NaN sorts last
    n = np.count_nonzero(~np.isnan(r), axis=1)
    return r, n


def _ap_kernel(ranks: np.ndarray) -> np.ndarray:
    r, n = _sorted_ranks(ranks)  # (Q, R), (Q,)
    k = np.arange(1, r.shape[1] + 1, dtype=np.float64)  # position among the relevant items
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = k[None, :] / r  # inf -> 0, NaN stays NaN
        out = np.nansum(prec, axis=1) / n
    out[n == 0] = np.nan
    return out


def _recall_kernel(ranks: np.ndarray, k: float) -> np.ndarray:
    n = np.count_nonzero(~np.isnan(ranks), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.count_nonzero(ranks <= k, axis=1) / n
    out[n == 0] = np.nan
    return out


def _rr_kernel(ranks: np.ndarray) -> np.ndarray:
    n = np.count_nonzero(~np.isnan(ranks), axis=1)
    best = np.full(ranks.shape[0], np.inf)
    if ranks.shape[1]:
        best = np.nanmin(np.where(n[:, None] > 0, ranks, np.inf), axis=1)
    out = 1.0 / best
    out[n == 0] = np.nan
    return out


def _ndcg_kernel(ranks: np.ndarray, gains: np.ndarray, k: int) -> np.ndarray:
    valid = ~np.isnan(ranks)
    g = np.where(valid, gains, 0.0)
    with np.errstate(invalid="ignore"):
        hit = valid & (ranks <= k)
    disc = np.where(hit, 1.0 / np.log2(np.where(hit, ranks, 1.0) + 1.0), 0.0)
    dcg = (g * disc).sum(axis=1)
    ideal = -np.sort(-g, axis=1)[:, :k]  # gains in decreasing order, top k
    idisc = 1.0 / np.log2(np.arange(2, ideal.shape[1] + 2, dtype=np.float64))
    idcg = (ideal * idisc[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = dcg / idcg
    out[idcg <= 0] = np.nan
    return out


# ---- validation ------------------------------------------------------------------------------
def _check_ranks(ranks: np.ndarray | list, what: str = "ranks") -> np.ndarray:
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2:
        raise HybridIRError(f"{what} must be a (queries, relevant items) array, got {r.ndim} dimensions")
    finite = np.isfinite(r)
    bad = finite & ((r < 1) | (r != np.round(r)))
    if bad.any():
        raise HybridIRError(
            f"{what} must be 1-based integers (NaN = padding, inf = not retrieved); "
            f"{int(bad.sum())} entries are not, e.g. {r[bad][:3].tolist()}"
        )
    if np.isneginf(r).any():
        raise HybridIRError(f"{what} holds {int(np.isneginf(r).sum())} entries equal to -inf")
    s = np.sort(np.where(finite, r, np.nan), axis=1)
    dup = (s[:, 1:] == s[:, :-1]).any(axis=1) if s.shape[1] > 1 else np.zeros(len(s), bool)
    if dup.any():
        raise HybridIRError(
            f"{what}: {int(dup.sum())} queries give two relevant items the same rank (e.g. row "
            f"{int(np.flatnonzero(dup)[0])}); ranks must be a strict order, see the tie rule"
        )
    return r


def _check_k(k: int) -> int:
    if int(k) != k or k < 1:
        raise HybridIRError(f"cutoff k must be a positive integer, got {k!r}")
    return int(k)


# ---- public functions --------------------------------------------------------------------------
def average_precision(ranks: np.ndarray) -> np.ndarray:
    """Per-query average precision over the whole ranked pool.

    AP_q = (1/n_q) * sum_{k=1}^{n_q} k / r_(k), where r_(1) < ... < r_(n_q) are the sorted ranks of
    the query's n_q relevant items (``inf`` = not ranked, contributes 0). With one relevant item,
    AP = 1/rank. mAP is the mean over queries (:func:`mean_of`). ``NaN`` for queries with no
    relevant item.

    >>> average_precision([[1, 3], [2, np.nan]]).round(4).tolist()
    [0.8333, 0.5]
    """
    return _ap_kernel(_check_ranks(ranks))


def recall_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-query R@k (= Recall@k): the fraction of the query's relevant items ranked in the top k.

    R@k_q = |{i : r_i <= k}| / n_q. LAReQA reports R@1 (mono, cross) and R@10 (multi); note that
    with 11 relevant items, R@10 is at most 10/11.

    >>> recall_at_k([[1, 3], [2, np.nan]], 2).tolist()
    [0.5, 1.0]
    """
    return _recall_kernel(_check_ranks(ranks), _check_k(k))


def reciprocal_rank(ranks: np.ndarray, k: int | None = None) -> np.ndarray:
    """Per-query reciprocal rank RR_q = 1 / r_(1) (0 when r_(1) > k); MRR = mean over queries.

    >>> reciprocal_rank([[3, 2], [np.inf, np.nan]]).tolist()
    [0.5, 0.0]
    """
    r = _check_ranks(ranks)
    out = _rr_kernel(r)
    if k is not None:
        k = _check_k(k)
        out = np.where(out < 1.0 / k, 0.0, out)
    return out


def ndcg_at_k(ranks: np.ndarray, gains: np.ndarray, k: int) -> np.ndarray:
    """Per-query nDCG@k with graded gains and a log2 discount (trec_eval ``ndcg_cut``).

    DCG@k = sum_{i : r_i <= k} g_i / log2(r_i + 1); IDCG@k = sum_{j=1}^{min(k, n_q)} g*_j / log2(j+1),
    g* = the query's gains sorted in decreasing order (every judged-relevant item must be listed, with
    rank ``inf`` when it was not retrieved); nDCG@k = DCG@k / IDCG@k. ``NaN`` when IDCG = 0.

    >>> ndcg_at_k([[1, 3]], [[1, 1]], 10).round(4).tolist()
    [0.9197]
    """
    r = _check_ranks(ranks)
    g = np.asarray(gains, dtype=np.float64)
    if g.ndim == 1:
        g = g[:, None]
    if g.shape != r.shape:
        raise HybridIRError(f"gains have shape {g.shape} but ranks have shape {r.shape}")
    bad = ~np.isnan(r) & ~(np.isfinite(g) & (g >= 0))
    if bad.any():
        raise HybridIRError(f"gains must be finite and >= 0; {int(bad.sum())} entries are not")
    return _ndcg_kernel(r, g, _check_k(k))


def mean_of(values: np.ndarray) -> float:
    """Mean of per-query values over the queries that have one (NaN = skipped query); NaN if none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def relevant_ranks(scores: np.ndarray, relevance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (with the module's tie rule) and gains of each query's relevant items, from dense scores.

    ``scores``: ``(Q, N)`` scores of every candidate for every query (higher = better);
    ``relevance``: ``(Q, N)`` gains (bool or numbers >= 0; > 0 = relevant). Returns ``(ranks, gains)``,
    both ``(Q, R)`` with ``R`` the largest number of relevant items of a query, NaN-padded, items in
    candidate order. Sorts every row (O(N log N) per query): for big pools use
    :func:`hybrid_ir.evaluation.retrieval.relevant_ranks_exact`, which counts instead of sorting.

    >>> r, g = relevant_ranks([[0.1, 0.9, 0.5]], [[1, 0, 1]])
    >>> r.tolist(), g.tolist()
    ([[3.0, 2.0]], [[1.0, 1.0]])
    """
    s = np.asarray(scores, dtype=np.float64)
    rel = np.asarray(relevance, dtype=np.float64)
    if s.ndim == 1:
        s, rel = s[None, :], rel.reshape(1, -1)
    if s.ndim != 2 or s.shape != rel.shape:
        raise HybridIRError(
            f"scores {s.shape} and relevance {rel.shape} must be two arrays of the same (queries, "
            "candidates) shape"
        )
    if not np.isfinite(s).all():
        raise HybridIRError(f"scores hold {int((~np.isfinite(s)).sum())} NaN or infinite values")
    if not (np.isfinite(rel).all() and (rel >= 0).all()):
        raise HybridIRError("relevance must hold finite gains >= 0")
    is_rel = rel > 0
    q, n = s.shape
    index = np.broadcast_to(np.arange(n), (q, n))
    # keys, last = primary: score descending, then non-relevant first, then candidate index
    order = np.lexsort((index, is_rel, -s), axis=-1)
    pos = np.empty_like(order)
    np.put_along_axis(pos, order, np.arange(1, n + 1)[None, :].repeat(q, 0), axis=1)
    width = int(is_rel.sum(axis=1).max()) if q else 0
    ranks = np.full((q, width), np.nan)
    gains = np.full((q, width), np.nan)
    rows, cols = np.nonzero(is_rel)
    slot = np.arange(len(rows)) - np.searchsorted(rows, rows)  # position within the row
    ranks[rows, slot] = pos[rows, cols]
    gains[rows, slot] = rel[rows, cols]
    return ranks, gains


def rank_distance(ranks: np.ndarray) -> np.ndarray:
    """Per-query rank distance RD_q = max_i rank_i - min_i rank_i over the query's relevant items.

    ``ranks`` (Q, R): multilingual-pool ranks, NaN = padding. NaN for a query without ranked items
    (a single relevant item gives 0). ``inf`` ranks (not retrieved) give ``inf``.

    >>> rank_distance(np.array([[1.0, 5.0, 2.0], [3.0, np.nan, np.nan]])).tolist()
    [4.0, 0.0]
    """
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 2:
        raise HybridIRError(f"ranks must be a (queries, relevant items) array, got shape {r.shape}")
    n = np.count_nonzero(~np.isnan(r), axis=1)
    filled_hi = np.where(np.isnan(r), -np.inf, r)
    filled_lo = np.where(np.isnan(r), np.inf, r)
    with np.errstate(invalid="ignore"):
        out = filled_hi.max(axis=1, initial=-np.inf) - filled_lo.min(axis=1, initial=np.inf)
    out[n == 0] = np.nan
    return out
