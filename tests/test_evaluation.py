"""The LAReQA grid: a hand-made dataset, perfect and random embeddings on the real XQuAD-R / MLQA-R,
and the retrieval kernels it rests on."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from hybrid_ir.data.lareqa import Candidate, LareqaDataset, Question, load_lareqa
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.grid import LareqaResult, evaluate_lareqa, evaluate_lareqa_model
from hybrid_ir.evaluation.metrics import relevant_ranks
from hybrid_ir.evaluation.retrieval import (
    build_index,
    encode_dataset,
    flat_search,
    ranks_from_top_k,
    relevant_ranks_exact,
    search,
)

# ---- a hand-made dataset ------------------------------------------------------------------------
# candidates c0..c2 in en, c3..c5 in de; parallel question "1" answered by c0 (en) / c3 (de),
# question "2" by c1 (en) / c4 (de). Candidate vectors are one-hot, so a query vector IS its score row.
SCORES = {
    "q:en:1": [0.9, 0.1, 0.5, 0.7, 0.8, 0.2],
    "q:en:2": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # constant: every tie
    "q:de:1": [0.3, 0.6, 0.2, 0.4, 0.9, 0.1],
    "q:de:2": [0.0, 0.8, 0.0, 0.0, 0.8, 0.0],  # both answers tied at the top
}


def tiny_dataset(order: list[int] | None = None) -> tuple[LareqaDataset, np.ndarray, np.ndarray]:
    """The hand-made dataset (candidates listed in ``order`` of the original indices) and its vectors."""
    order = order or list(range(6))
    new = {old: i for i, old in enumerate(order)}
    base = [Candidate(f"c:{'en' if i < 3 else 'de'}:0:0:{i % 3}", "en" if i < 3 else "de",
                      f"sentence {i}", "paragraph", "A", 0, i % 3) for i in range(6)]
    cands = [base[old] for old in order]
    answers = {"q:en:1": 0, "q:en:2": 1, "q:de:1": 3, "q:de:2": 4}
    questions = [Question(qid, qid[-1], qid[2:4], f"question {qid}", "A", new[answers[qid]])
                 for qid in ("q:en:1", "q:en:2", "q:de:1", "q:de:2")]
    ds = LareqaDataset("tiny", ("en", "de"), questions, cands)
    qv = np.array([SCORES[q.id] for q in questions], dtype=np.float32)
    cv = np.eye(6, dtype=np.float32)[order]
    return ds, qv, cv


def check_tiny(res: LareqaResult) -> None:
    third = 1 / 3
    # per query (rows: en1, en2, de1, de2), columns: candidate language en, de
    np.testing.assert_allclose(res.pair_ap, [[1, 0.5], [third, third], [0.5, 0.5], [1, 1]])
    np.testing.assert_allclose(res.pair_r1, [[1, 0], [0, 0], [0, 0], [1, 1]])
    np.testing.assert_allclose(res.multi_ap, [(1 + 2 / 3) / 2, (1 / 5 + 2 / 6) / 2, (1 / 3 + 2 / 4) / 2, 1])
    np.testing.assert_allclose(res.multi_r10, [1, 1, 1, 1])
    np.testing.assert_allclose(res.rank_distance, [2, 1, 1, 1])
    s = res.summary()
    assert s["mono_map"] == pytest.approx(((1 + third) / 2 + (0.5 + 1) / 2) / 2)
    assert s["cross_map"] == pytest.approx(((0.5 + third) / 2 + (0.5 + 1) / 2) / 2)
    multi_en = ((1 + 2 / 3) / 2 + (1 / 5 + 2 / 6) / 2) / 2
    multi_de = ((1 / 3 + 2 / 4) / 2 + 1) / 2
    assert s["multi_map"] == pytest.approx((multi_en + multi_de) / 2)
    assert s["rank_distance"] == pytest.approx((1.5 + 1.0) / 2)


def test_tiny_grid_by_hand():
    ds, qv, cv = tiny_dataset()
    res = evaluate_lareqa(ds, qv, cv)
    check_tiny(res)
    # multilingual ranks: en1 -> c0 1st, c3 3rd; en2 (constant) -> both after the 4 non-relevant
    np.testing.assert_array_equal(res.multi_ranks, [[1, 3], [5, 6], [4, 3], [1, 2]])
    np.testing.assert_array_equal(res.pool_ranks, [[1, 2], [3, 3], [2, 2], [1, 1]])
    table = res.per_language_table()
    assert list(table.index) == ["en", "de", "Mean"]
    assert table.loc["en", "mono_map"] == pytest.approx((1 + 1 / 3) / 2)
    assert table.loc["de", "cross_map"] == pytest.approx(0.75)
    assert table.loc["en", "mono_r1"] == pytest.approx(0.5)
    assert table.loc["de", "rank_distance"] == pytest.approx(1.0)
    assert table.loc["Mean", "cross_r1"] == pytest.approx(0.25)
    m = res.pair_matrix("map")
    assert m.loc["en", "de"] == pytest.approx((0.5 + 1 / 3) / 2)
    assert m.loc["de", "en"] == pytest.approx(0.75)
    assert res.pair_matrix("n").to_numpy().tolist() == [[2, 2], [2, 2]]


def test_candidate_order_does_not_matter():
    # interleaved languages (keeps the relative order of tied relevant candidates)
    ds, qv, cv = tiny_dataset([0, 3, 1, 4, 2, 5])
    res = evaluate_lareqa(ds, qv, cv)
    check_tiny(res)
    assert res.top.shape == (4, 6)


def test_top_k_follows_the_tie_rule():
    ds, qv, cv = tiny_dataset()
    res = evaluate_lareqa(ds, qv, cv, top_k=3)
    # en2: all tied -> non-relevant first by index (c0, c2, c3); de2: c1, c4 (relevant, by index), c0
    assert res.top.tolist() == [[0, 4, 3], [0, 2, 3], [4, 1, 3], [1, 4, 0]]


def test_json_layout():
    ds, qv, cv = tiny_dataset()
    out = evaluate_lareqa(ds, qv, cv).to_json()
    assert set(out) == {"dataset", "summary", "per_language", "pairs"}
    assert set(out["summary"]) == {"mono_map", "cross_map", "multi_map", "rank_distance"}
    assert set(out["per_language"]["en"]) == {
        "mono_map", "cross_map", "multi_map", "mono_r1", "cross_r1", "multi_r10", "rank_distance"}
    assert set(out["pairs"]) == {"en-en", "en-de", "de-en", "de-de"}
    assert out["pairs"]["en-de"] == {"map": pytest.approx((0.5 + 1 / 3) / 2), "r1": 0.0}


def test_per_query_frame():
    ds, qv, cv = tiny_dataset()
    frame = evaluate_lareqa(ds, qv, cv).per_query_frame()
    assert len(frame) == 4 * 2 + 4  # every query x 2 candidate languages, plus multi
    row = frame[(frame.query_id == "q:en:1") & (frame.candidates == "de")].iloc[0]
    assert (row.setting, row.ap, row.recall, row.k) == ("cross", 0.5, 0.0, 1)
    multi = frame[frame.setting == "multi"]
    assert multi.k.eq(10).all() and len(multi) == 4


def test_bad_vectors_are_rejected():
    ds, qv, cv = tiny_dataset()
    with pytest.raises(HybridIRError, match="3 rows but 4"):
        evaluate_lareqa(ds, qv[:3], cv)
    with pytest.raises(HybridIRError, match="dimension 5"):
        evaluate_lareqa(ds, qv, cv[:, :5])
    bad = qv.copy()
    bad[1, 2] = np.nan
    with pytest.raises(HybridIRError, match="1 rows hold NaN"):
        evaluate_lareqa(ds, bad, cv)


class StandIn:
    """An encoder with the BiEncoder.encode signature: a deterministic hash of the text."""

    def __init__(self, dim: int = 8) -> None:
        self.dim, self.calls = dim, []

    def encode(self, texts, kind="query", batch_size=64, show_progress=False, **runtime):
        self.calls.append((kind, len(texts), batch_size))
        out = np.array([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dim)
                        for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_encode_dataset_and_model_evaluation_with_a_stand_in():
    ds, _, _ = tiny_dataset()
    model = StandIn()
    qv, cv = encode_dataset(model, ds, "sentence+context", batch_size=3)
    assert qv.shape == (4, 8) and cv.shape == (6, 8) and qv.dtype == np.float32
    assert model.calls == [("query", 4, 3), ("passage", 6, 3)]
    res = evaluate_lareqa_model(StandIn(), ds)
    assert res.multi_ap.shape == (4,)
    with pytest.raises(HybridIRError, match="candidate text"):
        encode_dataset(model, ds, "paragraph")


# ---- retrieval kernels ------------------------------------------------------------------------
def test_exact_ranks_match_sorting_with_many_ties():
    rng = np.random.default_rng(3)
    for _ in range(50):
        q, n, h = rng.integers(1, 12), rng.integers(2, 50), rng.integers(1, 3)
        qv = rng.integers(-1, 2, (q, h)).astype(np.float32)  # few distinct scores: many ties
        cv = rng.integers(-1, 2, (n, h)).astype(np.float32)
        r = int(rng.integers(1, min(n, 5) + 1))
        rel = np.full((q, r), -1)
        relevance = np.zeros((q, n))
        for i in range(q):
            m = rng.integers(1, r + 1)
            rel[i, :m] = np.sort(rng.choice(n, m, replace=False))
            relevance[i, rel[i, :m]] = 1
        ranks, seg, top = relevant_ranks_exact(qv, cv, rel, segment_starts=[0, n // 2], top_k=3,
                                               block_bytes=4 * n * 2)
        expected, _ = relevant_ranks(qv @ cv.T, relevance)
        np.testing.assert_array_equal(ranks[:, : expected.shape[1]], expected)
        assert np.isnan(ranks[:, expected.shape[1] :]).all()
        s = (qv @ cv.T).astype(np.float64)
        for i in range(q):
            order = np.lexsort((np.arange(n), relevance[i], -s[i]))
            assert top[i].tolist() == order[: top.shape[1]].tolist()
            for j in np.flatnonzero(rel[i] >= 0):
                c = rel[i, j]
                lo, hi = (0, n // 2) if c < n // 2 else (n // 2, n)
                sub, _ = relevant_ranks(s[i : i + 1, lo:hi], relevance[i : i + 1, lo:hi])
                rel_in_seg = np.flatnonzero(relevance[i, lo:hi]) + lo  # ranks listed in this order
                assert seg[i, j] == sub[0, np.searchsorted(rel_in_seg, c)]


@pytest.mark.parametrize("shuffle", [False, True])
def test_top_k_with_massive_ties(shuffle):
    rng = np.random.default_rng(5)
    q, n, k = 40, 3000, 5
    qv = rng.integers(0, 2, (q, 2)).astype(np.float32)
    cv = rng.integers(0, 2, (n, 2)).astype(np.float32)
    cv[:3] = 5  # a few clear winners for some queries
    rel = rng.integers(0, n, (q, 3))
    rel[:, 2] = -1
    order = rng.permutation(n) if shuffle else np.arange(n)
    _, _, top = relevant_ranks_exact(qv, cv, rel, top_k=k, tie_order=order if shuffle else None)
    s = qv @ cv.T
    for i in range(q):
        is_rel = np.isin(np.arange(n), rel[i][rel[i] >= 0])
        assert top[i].tolist() == np.lexsort((order, is_rel, -s[i]))[:k].tolist()


def test_faiss_search_and_ranks_from_top_k():
    rng = np.random.default_rng(0)
    cv = rng.standard_normal((500, 16)).astype(np.float32)
    qv = rng.standard_normal((20, 16)).astype(np.float32)
    scores, ids = flat_search(qv, cv, 10)
    np.testing.assert_array_equal(ids, np.argsort(-(qv @ cv.T), axis=1)[:, :10])
    np.testing.assert_allclose(scores, np.take_along_axis(qv @ cv.T, ids, axis=1), rtol=1e-5)
    for kind in ("hnsw", "ivf"):
        _, approx = search(build_index(cv, kind), qv, 10)
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx, ids, strict=True)])
        assert overlap > 0.8, kind
    rel = np.stack([ids[:, 2], ids[:, 0], np.full(20, -1)], axis=1)
    r = ranks_from_top_k(ids, rel)
    assert (r[:, 0] == 3).all() and (r[:, 1] == 1).all() and np.isnan(r[:, 2]).all()
    far = np.argsort(-(qv @ cv.T), axis=1)[:, -1:]
    assert np.isinf(ranks_from_top_k(ids, far)).all()
    with pytest.raises(HybridIRError, match="unknown index kind"):
        build_index(cv, "lsh")


# ---- the real benchmarks ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def xquad(data_dir):
    return load_lareqa("xquad-r", data_dir=data_dir)


def perfect_vectors(ds: LareqaDataset) -> tuple[np.ndarray, np.ndarray]:
    """Vectors that rank every relevant candidate above every other one, with exact float scores.

    Parallel groups that share an answer sentence are joined into components (union-find). A query
    of group g is e[component(g)] + e[C + position(g)] (position = index of g in its component); an
    answer sentence is e[component] + the sum of e[C + position] over the groups it answers; other
    sentences are zero. Relevant score = 2; non-relevant: <= 1 (same component, other position, or
    another component sharing at most the position); every relevant candidate ties with the others.
    """
    groups = {p: i for i, p in enumerate(ds.parallel_ids)}
    answered = defaultdict(set)
    for q in ds.questions:
        answered[q.answer].add(groups[q.parallel_id])
    parent = list(range(len(groups)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for gs in answered.values():
        first, *rest = sorted(gs)
        for g in rest:
            parent[find(g)] = find(first)
    roots = sorted({find(g) for g in range(len(groups))})
    comp = {r: i for i, r in enumerate(roots)}
    members = defaultdict(list)
    for g in range(len(groups)):
        members[find(g)].append(g)
    pos = {g: i for ms in members.values() for i, g in enumerate(ms)}
    n_comp, width = len(roots), max(len(ms) for ms in members.values())
    qv = np.zeros((len(ds.questions), n_comp + width), dtype=np.float32)
    for i, q in enumerate(ds.questions):
        g = groups[q.parallel_id]
        qv[i, comp[find(g)]] = 1
        qv[i, n_comp + pos[g]] = 1
    cv = np.zeros((len(ds.candidates), n_comp + width), dtype=np.float32)
    for c, gs in answered.items():
        cv[c, comp[find(next(iter(gs)))]] = 1
        for g in gs:
            cv[c, n_comp + pos[g]] = 1
    return qv, cv


def test_perfect_embeddings_on_xquad_r(xquad):
    qv, cv = perfect_vectors(xquad)
    res = evaluate_lareqa(xquad, qv, cv)
    s = res.summary()
    assert (s["mono_map"], s["cross_map"], s["multi_map"]) == (1.0, 1.0, 1.0)
    assert len(res.pair_matrix().stack()) == 121 and (res.pair_matrix().to_numpy() == 1).all()
    # 11 relevant candidates hold ranks 1..11: rank distance 10, R@10 = 10/11 (the ceiling)
    assert (res.rank_distance == 10).all() and s["rank_distance"] == 10
    np.testing.assert_allclose(res.multi_r10, 10 / 11)
    table = res.per_language_table()
    assert (table["mono_r1"] == 1).all() and (table["cross_r1"] == 1).all()
    # all relevant candidates tie: they are ranked in candidate order (= language order)
    np.testing.assert_array_equal(res.multi_ranks, np.tile(np.arange(1, 12), (len(qv), 1)))
    assert (res.pool_ranks == 1).all()
    out = res.to_json()
    assert len(out["pairs"]) == 121 and out["summary"]["rank_distance"] == 10


def expected_random_ap(n: int, r: int) -> float:
    """E[AP] of a uniformly random ranking of n items with r relevant ones.

    E[AP] = (1/n) * [H_n + (r - 1)/(n - 1) * (n - H_n)] (from E[rel_k * #rel in top k] per position).
    """
    h = float(np.sum(1.0 / np.arange(1, n + 1)))
    return (h + (r - 1) / (n - 1) * (n - h)) / n if n > 1 else 1.0


def test_random_embeddings_score_the_chance_level(xquad):
    rng = np.random.default_rng(0)
    qv = rng.standard_normal((len(xquad.questions), 64)).astype(np.float32)
    cv = rng.standard_normal((len(xquad.candidates), 64)).astype(np.float32)
    res = evaluate_lareqa(xquad, qv, cv)
    s = res.summary()
    sizes = {lang: sum(c.lang == lang for c in xquad.candidates) for lang in xquad.languages}
    mono = np.mean([expected_random_ap(sizes[x], 1) for x in xquad.languages])
    cross = np.mean([expected_random_ap(sizes[y], 1)
                     for x in xquad.languages for y in xquad.languages if x != y])
    n = len(xquad.candidates)
    assert s["mono_map"] == pytest.approx(mono, rel=0.2)
    assert s["cross_map"] == pytest.approx(cross, rel=0.2)
    assert s["multi_map"] == pytest.approx(expected_random_ap(n, 11), rel=0.1)
    # E[max - min] of 11 distinct uniform ranks among n = (n + 1) * 10 / 12
    assert s["rank_distance"] == pytest.approx((n + 1) * 10 / 12, rel=0.02)


def test_mlqa_r_skips_queries_without_a_relevant_candidate(data_dir):
    ds = load_lareqa("mlqa-r", data_dir=data_dir)
    rng = np.random.default_rng(1)
    qv = rng.standard_normal((len(ds.questions), 16)).astype(np.float32)
    cv = rng.standard_normal((len(ds.candidates), 16)).astype(np.float32)
    res = evaluate_lareqa(ds, qv, cv)
    langs_of = defaultdict(set)
    for q in ds.questions:
        langs_of[q.parallel_id].add(q.lang)
    counts = res.pair_matrix("n")
    for x in ds.languages:
        for y in ds.languages:
            expected = sum(1 for q in ds.questions if q.lang == x and y in langs_of[q.parallel_id])
            assert counts.loc[x, y] == expected, (x, y)
    assert counts.loc["ar", "de"] < counts.loc["ar", "en"] == counts.loc["ar", "ar"]
    assert len(res.to_json()["pairs"]) == 49
    frame = res.per_query_frame()
    assert len(frame) == int(counts.to_numpy().sum()) + len(ds.questions)
    # rank distance of a query with 2..4 relevant candidates
    n_rel = res.multi_frame()["n_relevant"]
    assert n_rel.min() == 2 and n_rel.max() == 4
