"""Language bias: rank distance, top-k language shares, same-language preference, heatmaps."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_ir.data.lareqa import Candidate, LareqaDataset, Question, load_lareqa
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.bias import (
    bias_summary,
    language_share,
    per_query_bias,
    preference_by_language,
    rank_distance,
    rank_distance_by_language,
    rank_heatmap,
    same_language_preference,
)
from hybrid_ir.evaluation.grid import evaluate_lareqa

nan = np.nan

# The hand-made dataset of test_evaluation: c0..c2 en, c3..c5 de; question "1" -> c0 / c3,
# question "2" -> c1 / c4; one-hot candidates, so a query vector is its score row.
SCORES = {
    "q:en:1": [0.9, 0.1, 0.5, 0.7, 0.8, 0.2],  # multi ranks: c0 1, c3 3
    "q:en:2": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # c1 5, c4 6 (ties: non-relevant first)
    "q:de:1": [0.3, 0.6, 0.2, 0.4, 0.9, 0.1],  # c0 4, c3 3
    "q:de:2": [0.0, 0.8, 0.0, 0.0, 0.8, 0.0],  # c1 1, c4 2 (relevant tie: candidate order)
}


@pytest.fixture(scope="module")
def tiny():
    cands = [Candidate(f"c:{'en' if i < 3 else 'de'}:0:0:{i % 3}", "en" if i < 3 else "de",
                       f"sentence {i}", "paragraph", "A", 0, i % 3) for i in range(6)]
    answers = {"q:en:1": 0, "q:en:2": 1, "q:de:1": 3, "q:de:2": 4}
    questions = [Question(qid, qid[-1], qid[2:4], qid, "A", answers[qid]) for qid in SCORES]
    ds = LareqaDataset("tiny", ("en", "de"), questions, cands)
    qv = np.array(list(SCORES.values()), dtype=np.float32)
    return evaluate_lareqa(ds, qv, np.eye(6, dtype=np.float32), top_k=4)


def test_rank_distance_kernel_by_hand():
    ranks = np.array([[1, 5, 2], [3, nan, nan], [nan, nan, nan], [2, np.inf, 1]])
    d = rank_distance(ranks)
    assert d[:2].tolist() == [4.0, 0.0] and np.isnan(d[2]) and np.isinf(d[3])
    with pytest.raises(HybridIRError, match="array"):
        rank_distance(np.array([1.0, 2.0]))


def test_rank_distance_per_language(tiny):
    np.testing.assert_array_equal(tiny.rank_distance, [2, 1, 1, 1])
    by_lang = rank_distance_by_language(tiny)
    assert by_lang.to_dict() == {"en": 1.5, "de": 1.0, "Mean": 1.25}


def test_language_share_by_hand(tiny):
    share = language_share(tiny, k=2)
    # en1 top 2: c0 (en), c4 (de); en2 (all tied): c0, c2 (non-relevant first) -> en, en
    # de1: c4 (de), c1 (en); de2: c1 (en), c4 (de)
    assert share.loc["en"].to_dict() == {"en": 0.75, "de": 0.25}
    assert share.loc["de"].to_dict() == {"en": 0.5, "de": 0.5}
    np.testing.assert_allclose(language_share(tiny, k=4).sum(axis=1), 1.0)
    with pytest.raises(HybridIRError, match="top_k=10"):
        language_share(tiny, k=10)


def test_same_language_preference_by_hand(tiny):
    pref = same_language_preference(tiny)
    assert pref["same_rank"].tolist() == [1, 5, 3, 2]
    assert pref["best_other_rank"].tolist() == [3, 6, 4, 1]
    assert pref["win"].tolist() == [1, 1, 1, 0]
    assert pref["first"].tolist() == [1, 1, 1, 0]
    table = preference_by_language(tiny)
    assert table.loc["en", "win"] == 1.0 and table.loc["de", "win"] == 0.5
    assert table.loc["Mean", "first"] == 0.75


def test_rank_heatmap_by_hand(tiny):
    mean = rank_heatmap(tiny)
    assert mean.loc["en"].to_dict() == {"en": 3.0, "de": 4.5}  # en answers (1, 5), de answers (3, 6)
    assert mean.loc["de"].to_dict() == {"en": 2.5, "de": 2.5}
    assert rank_heatmap(tiny, "median").loc["en", "de"] == 4.5
    with pytest.raises(HybridIRError, match="stat"):
        rank_heatmap(tiny, "max")


def test_per_query_frame_and_summary(tiny):
    frame = per_query_bias(tiny)
    assert list(frame.columns[:4]) == ["query_id", "parallel_id", "query_lang", "multi_ap"]
    assert frame["rank_distance"].tolist() == [2, 1, 1, 1]
    assert frame["best_rank"].tolist() == [1, 5, 3, 1] and frame["worst_rank"].tolist() == [3, 6, 4, 2]
    s = bias_summary(tiny, k=2)
    assert s == {"rank_distance": 1.25, "win": 0.75, "first": 0.75, "own_share": 0.625}


def test_queries_without_translation_are_skipped():
    cands = [Candidate("c:en:0:0:0", "en", "a", "p", "A", 0, 0),
             Candidate("c:de:0:0:0", "de", "b", "p", "A", 0, 0)]
    questions = [Question("q:en:1", "1", "en", "x", "A", 0), Question("q:de:2", "2", "de", "y", "A", 1)]
    ds = LareqaDataset("solo", ("en", "de"), questions, cands)
    res = evaluate_lareqa(ds, np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32))
    assert res.rank_distance.tolist() == [0, 0]
    assert same_language_preference(res)["win"].isna().all()


def test_xquad_r_language_share_rows_sum_to_one(data_dir):
    ds = load_lareqa("xquad-r", ["en", "de", "zh"], data_dir=data_dir)
    rng = np.random.default_rng(0)
    qv = rng.standard_normal((len(ds.questions), 32)).astype(np.float32)
    cv = rng.standard_normal((len(ds.candidates), 32)).astype(np.float32)
    res = evaluate_lareqa(ds, qv, cv)
    share = language_share(res)
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    # random vectors: every language gets about its share of the pool
    sizes = np.array([sum(c.lang == lang for c in ds.candidates) for lang in ds.languages])
    np.testing.assert_allclose(share.mean(axis=0), sizes / sizes.sum(), atol=0.02)
    pref = preference_by_language(res)
    assert 0.4 < pref.loc["Mean", "win"] < 0.6
    assert rank_heatmap(res).shape == (3, 3)
