"""Exact inner-product scoring, exact ranks of relevant items without sorting, FAISS search, encoding.

Scores are inner products ``q . c`` in float32 (cosine similarity when the vectors are L2-normalised,
as :class:`hybrid_ir.modeling.biencoder.BiEncoder` returns them). Ranks follow the tie rule of
:mod:`hybrid_ir.evaluation.metrics`:

    rank(i) = #{j in pool : s_j >= s_i} - #{j relevant in pool : s_j = s_i, j > i}

(every candidate scoring at least as high counts, minus the relevant items tied with ``i`` that come
after it in candidate order), which equals the position of ``i`` in the pool sorted by score
(descending), then non-relevant before relevant, then candidate index. Counting is O(N) per relevant
item instead of O(N log N) per query, and the thresholds are read from the very score block that is
counted, so a relevant item always counts itself (no float32 rounding mismatch).

FAISS (``faiss-cpu``) serves top-k search: :func:`build_index` makes an exact ``IndexFlatIP`` or an
approximate ``IndexHNSWFlat`` / ``IndexIVFFlat`` (inner-product metric) for MIRACL-sized corpora.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from hybrid_ir.errors import HybridIRError

if TYPE_CHECKING:  # pragma: no cover
    from hybrid_ir.data.lareqa import CandidateText, LareqaDataset

IndexKind = Literal["flat", "hnsw", "ivf"]
INDEX_KINDS: tuple[str, ...] = ("flat", "hnsw", "ivf")

#: bytes of float32 scores held at once by :func:`relevant_ranks_exact` (query rows x pool)
DEFAULT_BLOCK_BYTES = 128 * 2**20


class Encoder(Protocol):
    """What :func:`encode_dataset` needs (satisfied by :class:`hybrid_ir.modeling.biencoder.BiEncoder`)."""

    def encode(
        self,
        texts: Sequence[str],
        kind: str = ...,
        batch_size: int = ...,
        show_progress: bool = ...,
        device: str | None = ...,
        precision: str = ...,
    ) -> np.ndarray: ...


# ---- validation --------------------------------------------------------------------------------
def as_vectors(x: Any, what: str, rows: int | None = None, dim: int | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float32 ``(rows, dim)`` matrix of finite values, or HybridIRError."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise HybridIRError(f"{what} must be a 2-D (rows, dim) array, got shape {a.shape}")
    if a.shape[1] == 0:
        raise HybridIRError(f"{what} have dimension 0 (shape {a.shape}): every score would tie")
    if not np.issubdtype(a.dtype, np.floating):
        raise HybridIRError(f"{what} must hold floating-point numbers, got dtype {a.dtype}")
    if rows is not None and a.shape[0] != rows:
        raise HybridIRError(f"{what} has {a.shape[0]} rows but {rows} are needed (one per item)")
    if dim is not None and a.shape[1] != dim:
        raise HybridIRError(f"{what} has dimension {a.shape[1]} but the other side has {dim}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        raise HybridIRError(
            f"{what}: {int(bad.sum())} rows hold NaN or infinite values "
            f"(e.g. rows {np.flatnonzero(bad)[:5].tolist()})"
        )
    return a


# ---- exact scores and ranks --------------------------------------------------------------------
def score_matrix(queries: np.ndarray, candidates: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Inner products ``(B, N) = queries (B, H) @ candidates (N, H).T`` in float32."""
    return np.matmul(queries, candidates.T, out=out)


def _count_at_least(
    scores: np.ndarray, thresholds: np.ndarray, starts: np.ndarray, rows_per_step: int = 8
) -> np.ndarray:
    """counts[b, r, s] = #{j in segment s : scores[b, j] >= thresholds[b, r]} (kernel).

    scores (B, N) float32, thresholds (B, R) float32 (+inf padding counts 0), starts (S,) segment
    starts (first = 0). Works on ``rows_per_step`` rows at a time so the (rows, R, N) boolean
    temporary stays in cache.
    """
    b_total, _ = scores.shape
    counts = np.empty((b_total, thresholds.shape[1], len(starts)), dtype=np.int64)
    for a in range(0, b_total, rows_per_step):
        z = slice(a, a + rows_per_step)
        ge = scores[z, None, :] >= thresholds[z, :, None]  # (b, R, N)
        counts[z] = np.add.reduceat(ge, starts, axis=2, dtype=np.int64)
    return counts


def _tie_correction(
    thresholds: np.ndarray, valid: np.ndarray, order: np.ndarray, same_pool: np.ndarray | None
) -> np.ndarray:
    """#{r' relevant, same pool, tied with r, later in candidate order} for each (b, r) (kernel)."""
    eq = thresholds[:, :, None] == thresholds[:, None, :]  # (B, R, R')
    later = order[:, None, :] > order[:, :, None]
    m = eq & later & valid[:, None, :] & valid[:, :, None]
    if same_pool is not None:
        m &= same_pool
    return m.sum(axis=2)


def relevant_ranks_exact(
    queries: np.ndarray,
    candidates: np.ndarray,
    relevant: np.ndarray,
    *,
    segment_starts: Sequence[int] | np.ndarray | None = None,
    tie_order: np.ndarray | None = None,
    top_k: int = 0,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Exact ranks of each query's relevant candidates, in the whole pool and in their own segment.

    Parameters
    ----------
    queries : (Q, H) float32; candidates : (N, H) float32.
    relevant : (Q, R) int, candidate indices of each query's relevant items, ``-1`` = padding.
    segment_starts : optional sorted starts of contiguous candidate segments (e.g. one per
        language; the first must be 0). Then ``segment_ranks[q, r]`` is the rank of item r among
        the candidates of its own segment (the mono / cross pool of that language).
    tie_order : optional (N,) int, the candidate order used to break ties between relevant items
        (default: the candidate index).
    top_k : also return the indices of the ``top_k`` best candidates of each query (whole pool,
        same tie rule), ``(Q, min(top_k, N))``; 0 = do not.

    Returns ``(ranks, segment_ranks, top)``: ``ranks`` (Q, R) float64 1-based ranks in the whole
    pool, NaN where ``relevant`` is -1; ``segment_ranks`` likewise or None; ``top`` or None.
    Memory: about ``block_bytes`` of scores at a time (query rows x N).
    """
    q_total, n = queries.shape[0], candidates.shape[0]
    rel = np.asarray(relevant, dtype=np.int64)
    if rel.ndim != 2 or rel.shape[0] != q_total:
        raise HybridIRError(f"relevant must be a ({q_total}, R) index array, got shape {rel.shape}")
    if rel.size and (rel.max() >= n or rel.min() < -1):
        raise HybridIRError(f"relevant holds candidate indices outside [0, {n}) (padding is -1)")
    starts = np.asarray([0] if segment_starts is None else segment_starts, dtype=np.int64)
    if starts[0] != 0 or (np.diff(starts) <= 0).any() or starts[-1] >= max(n, 1):
        raise HybridIRError(f"segment_starts must increase from 0 and stay below {n}: {starts}")
    order = np.arange(n) if tie_order is None else np.asarray(tie_order, dtype=np.int64)
    seg_of = np.searchsorted(starts, np.arange(n), side="right") - 1  # (N,) segment of a candidate
    width = rel.shape[1]
    ranks = np.full((q_total, width), np.nan)
    seg_ranks = np.full((q_total, width), np.nan) if segment_starts is not None else None
    top_k = min(max(int(top_k), 0), n)
    top = np.empty((q_total, top_k), dtype=np.int64) if top_k else None
    step = max(1, min(q_total, block_bytes // max(4 * n, 1)))
    buf = np.empty((step, n), dtype=np.float32)
    for a in range(0, q_total, step):
        b = min(step, q_total - a)
        s = score_matrix(queries[a : a + b], candidates, out=buf[:b])  # (b, N)
        idx = rel[a : a + b]
        valid = idx >= 0
        safe = np.where(valid, idx, 0)
        thr = np.where(valid, np.take_along_axis(s, safe, axis=1), np.float32(np.inf))  # (b, R)
        counts = _count_at_least(s, thr, starts)  # (b, R, S)
        ordr = order[safe]
        total = counts.sum(axis=2) - _tie_correction(thr, valid, ordr, None)
        ranks[a : a + b] = np.where(valid, total, np.nan)
        if seg_ranks is not None:
            seg = seg_of[safe]  # (b, R)
            own = np.take_along_axis(counts, seg[:, :, None], axis=2)[:, :, 0]
            same = seg[:, :, None] == seg[:, None, :]
            own = own - _tie_correction(thr, valid, ordr, same)
            seg_ranks[a : a + b] = np.where(valid, own, np.nan)
        if top is not None:
            top[a : a + b] = _top_k_block(s, top_k, idx, order)
    return ranks, seg_ranks, top


def _top_k_block(
    scores: np.ndarray, k: int, relevant: np.ndarray, order: np.ndarray, rows_per_step: int = 128
) -> np.ndarray:
    """Indices of the k best candidates per row under the tie rule (score, non-relevant first, order).

    Fast path: the k-th largest score of a strided sample of a row is a lower bound of the row's k-th
    largest score, so the candidates at or above it (about ``stride * k`` per row) contain the top k
    and only those are sorted. Rows where that bound lets through too many candidates (massive ties,
    e.g. degenerate embeddings) go to :func:`_top_k_tied`.
    """
    b, n = scores.shape
    k = min(k, n)
    stride = max(1, min(8, n // (4 * k)))
    cap = 64 * k
    out = np.empty((b, k), dtype=np.int64)
    for a in range(0, b, rows_per_step):  # row chunks that stay in cache
        s = scores[a : a + rows_per_step]
        rel = relevant[a : a + rows_per_step]
        sample = s[:, ::stride]
        m = sample.shape[1]
        floor = np.partition(sample, m - k, axis=1)[:, m - k]  # <= the row's k-th largest score
        ge = s >= floor[:, None]
        hard = np.count_nonzero(ge, axis=1) > cap
        if hard.any():
            out[a : a + len(s)][hard] = _top_k_tied(s[hard], k, rel[hard], order, floor[hard])
            ge[hard] = False
        easy = ~hard
        if easy.any():
            rows, cols = np.nonzero(ge)
            out[a : a + len(s)][easy] = _sort_selected(s, rows, cols, rel, order, k)
    return out


def _sort_selected(
    s: np.ndarray, rows: np.ndarray, cols: np.ndarray, relevant: np.ndarray, order: np.ndarray, k: int
) -> np.ndarray:
    """The first k of each row's selected (rows, cols) under the tie rule, shape (rows present, k)."""
    is_rel = (relevant[rows] == cols[:, None]).any(axis=1)
    o = np.lexsort((order[cols], is_rel, -s[rows, cols], rows))
    rows, cols = rows[o], cols[o]
    pos = np.arange(len(rows)) - np.searchsorted(rows, rows)  # position within the row
    return cols[pos < k].reshape(-1, k)


def _top_k_tied(
    s: np.ndarray, k: int, relevant: np.ndarray, order: np.ndarray, floor: np.ndarray
) -> np.ndarray:
    """Exact top k when many candidates tie: the candidates above the k-th score, then the tied
    ones, non-relevant first, each group in ``order``. ``floor`` <= each row's k-th largest score."""
    b, n = s.shape
    cap = 64 * k
    kth = floor.astype(s.dtype, copy=True)
    above = s > floor[:, None]
    count = np.count_nonzero(above, axis=1)
    few = np.flatnonzero((count >= k) & (count <= cap))  # k-th score lies among a few values
    if few.size:
        rows, cols = np.nonzero(above[few])
        v = s[few][rows, cols]
        o = np.lexsort((-v, rows))
        rows, v = rows[o], v[o]
        pos = np.arange(len(rows)) - np.searchsorted(rows, rows)
        kth[few] = v[pos == k - 1]
    many = np.flatnonzero(count > cap)  # rare: no cheap bound, select on the whole row
    if many.size:
        kth[many] = np.partition(s[many], n - k, axis=1)[:, n - k]
    above = s > kth[:, None]  # fewer than k per row
    need = k - np.count_nonzero(above, axis=1)  # >= 1 tied candidates to take
    tied = s == kth[:, None]
    is_rel = np.zeros((b, n), dtype=bool)
    rows_r, slots = np.nonzero(relevant >= 0)
    is_rel[rows_r, relevant[rows_r, slots]] = True
    monotone = bool((np.diff(order) > 0).all())
    by_order = None if monotone else np.argsort(order, kind="stable")  # tie-break column order
    take = np.zeros((b, n), dtype=bool)
    for group in (tied & ~is_rel, tied & is_rel):  # non-relevant first
        g = group if by_order is None else group[:, by_order]
        first = g & (np.cumsum(g, axis=1, dtype=np.int32) <= need[:, None])
        if by_order is None:
            take |= first
        else:
            take[:, by_order] |= first
        need = need - first.sum(axis=1)
    rows, cols = np.nonzero(above | take)
    return _sort_selected(s, rows, cols, relevant, order, k)


# ---- FAISS top-k search ------------------------------------------------------------------------
def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a dependency
        raise HybridIRError("FAISS is not installed: pip install faiss-cpu") from exc
    return faiss


def build_index(
    vectors: np.ndarray,
    kind: IndexKind = "flat",
    *,
    hnsw_m: int = 32,
    ef_construction: int = 200,
    ef_search: int = 256,
    nlist: int | None = None,
    nprobe: int = 32,
    seed: int = 0,
) -> Any:
    """A FAISS inner-product index over ``vectors`` (N, H).

    ``flat``: exact ``IndexFlatIP``. ``hnsw``: ``IndexHNSWFlat`` (graph; ``hnsw_m`` links per node,
    ``ef_search`` beam width at query time). ``ivf``: ``IndexIVFFlat`` with ``nlist`` k-means cells
    (default about 4 * sqrt(N)), ``nprobe`` cells visited per query. Approximate indexes may miss
    relevant passages; report which index produced a number.
    """
    faiss = _faiss()
    x = as_vectors(vectors, "index vectors")
    n, dim = x.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    elif kind == "ivf":
        cells = nlist or max(1, min(n // 39, int(4 * np.sqrt(n))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(x)
        index.nprobe = min(nprobe, cells)
    else:
        raise HybridIRError(f"unknown index kind '{kind}'; choose one of {INDEX_KINDS}")
    index.add(x)
    return index


def search(index: Any, queries: np.ndarray, k: int, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Top-k ``(scores (Q, k) float32, indices (Q, k) int64)`` from a FAISS index; -1 = no result."""
    q = as_vectors(queries, "query vectors", dim=index.d)
    k = int(k)
    if k < 1:
        raise HybridIRError(f"k must be >= 1, got {k}")
    scores = np.empty((len(q), k), dtype=np.float32)
    ids = np.empty((len(q), k), dtype=np.int64)
    for a in range(0, len(q), batch_size):
        d, i = index.search(q[a : a + batch_size], k)
        scores[a : a + batch_size], ids[a : a + batch_size] = d, i
    return scores, ids


def flat_search(queries: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k inner-product search with ``IndexFlatIP`` (ties in FAISS's order)."""
    return search(build_index(candidates, "flat"), queries, min(int(k), len(candidates)))


def ranks_from_top_k(top: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Ranks (1-based position in each top-k list; ``inf`` = not retrieved) of the relevant items.

    ``top`` (Q, k) candidate indices as returned by :func:`search`; ``relevant`` (Q, R) candidate
    indices, -1 = padding (NaN in the result).
    """
    top = np.asarray(top)
    rel = np.asarray(relevant)
    hit = top[:, None, :] == rel[:, :, None]  # (Q, R, k)
    found = hit.any(axis=2)
    pos = hit.argmax(axis=2) + 1.0
    ranks = np.where(found, pos, np.inf)
    return np.where(rel >= 0, ranks, np.nan)


# ---- encoding ----------------------------------------------------------------------------------
def encode_dataset(
    model: Encoder,
    ds: LareqaDataset,
    candidate_text: CandidateText = "sentence",
    batch_size: int = 64,
    show_progress: bool = False,
    device: str | None = "auto",
    precision: str = "fp32",
) -> tuple[np.ndarray, np.ndarray]:
    """Encode every question (``kind="query"``) and candidate (``kind="passage"``) of a dataset.

    Returns ``(query_vectors (Q, H), candidate_vectors (N, H))`` float32, in dataset order. The
    candidate text is the sentence alone or LAReQA's sentence followed by its paragraph
    (``candidate_text="sentence+context"``). ``device`` / ``precision`` go to the model's ``encode``
    (``device="auto"``: the GPU when there is one; ``precision`` fp32 by default, the same vectors on
    every machine, ``"auto"`` for bf16 where it is fast; see :mod:`hybrid_ir.modeling.runtime`).
    """
    from hybrid_ir.data.lareqa import CANDIDATE_TEXTS

    if candidate_text not in CANDIDATE_TEXTS:
        raise HybridIRError(f"unknown candidate text '{candidate_text}'; choose one of {CANDIDATE_TEXTS}")
    runtime = {"device": device, "precision": precision}
    qv = model.encode(
        [q.text for q in ds.questions], kind="query", batch_size=batch_size, show_progress=show_progress, **runtime
    )
    cv = model.encode(
        [c.text(candidate_text) for c in ds.candidates],
        kind="passage",
        batch_size=batch_size,
        show_progress=show_progress,
        **runtime,
    )
    qv = as_vectors(qv, "query vectors", rows=len(ds.questions))
    cv = as_vectors(cv, "candidate vectors", rows=len(ds.candidates), dim=qv.shape[1])
    return qv, cv
