"""Ranking metrics: hand-computed values (ties included), scikit-learn AP, ir_measures / pytrec_eval."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.metrics import (
    average_precision,
    mean_of,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    relevant_ranks,
)

nan, inf = np.nan, np.inf


# ---- hand-computed values ------------------------------------------------------------------------
def test_average_precision_by_hand():
    ranks = [[1, 3, nan], [4, nan, nan], [2, inf, nan], [5, 2, 1]]
    expected = [(1 / 1 + 2 / 3) / 2, 1 / 4, (1 / 2 + 0) / 2, (1 / 1 + 2 / 2 + 3 / 5) / 3]
    np.testing.assert_allclose(average_precision(ranks), expected)


def test_query_without_relevant_is_nan_and_skipped_by_mean():
    ap = average_precision([[1.0, nan], [nan, nan]])
    assert ap[0] == 1.0 and np.isnan(ap[1])
    assert mean_of(ap) == 1.0
    assert np.isnan(mean_of([nan]))


def test_recall_reciprocal_rank_ndcg_by_hand():
    ranks = [[1, 3, 12], [11, inf, nan]]
    np.testing.assert_allclose(recall_at_k(ranks, 1), [1 / 3, 0])
    np.testing.assert_allclose(recall_at_k(ranks, 10), [2 / 3, 0])
    np.testing.assert_allclose(recall_at_k(ranks, 11), [2 / 3, 1 / 2])
    np.testing.assert_allclose(reciprocal_rank(ranks), [1.0, 1 / 11])
    np.testing.assert_allclose(reciprocal_rank(ranks, k=10), [1.0, 0.0])
    gains = [[2, 1, 1], [1, 3, nan]]
    dcg0 = 2 / np.log2(2) + 1 / np.log2(4)
    idcg0 = 2 / np.log2(2) + 1 / np.log2(3) + 1 / np.log2(4)
    dcg1, idcg1 = 0.0, 3 / np.log2(2) + 1 / np.log2(3)
    np.testing.assert_allclose(ndcg_at_k(ranks, gains, 10), [dcg0 / idcg0, dcg1 / idcg1])
    dcg1_11 = 1 / np.log2(12)
    np.testing.assert_allclose(ndcg_at_k(ranks, gains, 11)[1], dcg1_11 / idcg1)


def test_tie_rule_pessimistic_against_non_relevant_stable_among_relevant():
    # candidate:   0    1    2    3    4
    scores = [[0.5, 0.5, 0.9, 0.5, 0.9]]
    relevance = [[1, 0, 0, 1, 1]]
    ranks, gains = relevant_ranks(scores, relevance)
    # order: 2 (0.9, non-relevant), 4 (0.9, relevant); then 1 (0.5, non-relevant), 0, 3 (relevant, by index)
    assert ranks.tolist() == [[4.0, 5.0, 2.0]]
    assert gains.tolist() == [[1.0, 1.0, 1.0]]
    np.testing.assert_allclose(average_precision(ranks), [(1 / 2 + 2 / 4 + 3 / 5) / 3])


def test_constant_scores_give_the_pessimistic_chance_value():
    n, r = 10, 2
    ranks, _ = relevant_ranks(np.zeros((1, n)), np.eye(n)[:r].sum(axis=0)[None, :])
    assert ranks.tolist() == [[9.0, 10.0]]  # every non-relevant tie ranked first
    assert recall_at_k(ranks, 1)[0] == 0.0


def test_relevant_ranks_pads_rows_with_nan():
    ranks, gains = relevant_ranks([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]], [[0, 2, 1], [0, 0, 1]])
    np.testing.assert_array_equal(ranks, [[2.0, 3.0], [1.0, nan]])
    np.testing.assert_array_equal(gains, [[2.0, 1.0], [1.0, nan]])


@pytest.mark.parametrize(
    "ranks, message",
    [
        ([[0, 1]], "1-based"),
        ([[1.5]], "1-based"),
        ([[2, 2]], "same rank"),
        ([[[1]]], "dimensions"),
    ],
)
def test_bad_ranks_are_rejected(ranks, message):
    with pytest.raises(HybridIRError, match=message):
        average_precision(ranks)


def test_bad_inputs_are_rejected():
    with pytest.raises(HybridIRError, match="positive integer"):
        recall_at_k([[1]], 0)
    with pytest.raises(HybridIRError, match="shape"):
        ndcg_at_k([[1, 2]], [[1]], 10)
    with pytest.raises(HybridIRError, match="NaN"):
        relevant_ranks([[nan, 1.0]], [[1, 0]])
    with pytest.raises(HybridIRError, match="same"):
        relevant_ranks([[1.0, 2.0]], [[1, 0, 0]])


# ---- against scikit-learn --------------------------------------------------------------------------
def test_average_precision_matches_sklearn_on_continuous_scores():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    q, n = 300, 200
    scores = rng.standard_normal((q, n))  # float64: no ties
    relevance = rng.random((q, n)) < rng.uniform(0.005, 0.2, size=(q, 1))
    relevance[np.arange(q), rng.integers(0, n, q)] = True  # at least one relevant item each
    ranks, _ = relevant_ranks(scores, relevance)
    ours = average_precision(ranks)
    theirs = [average_precision_score(relevance[i], scores[i]) for i in range(q)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_properties_on_random_rankings(n, seed):
    rng = np.random.default_rng(seed)
    scores = rng.random((3, n))
    relevance = rng.random((3, n)) < 0.3
    relevance[:, 0] = True
    ranks, _ = relevant_ranks(scores, relevance)
    ap = average_precision(ranks)
    assert ((ap > 0) & (ap <= 1)).all()
    # AP is 1 exactly when the relevant items occupy ranks 1..n_q
    n_q = relevance.sum(axis=1)
    perfect = np.nanmax(ranks, axis=1) == n_q
    assert ((ap == 1.0) == perfect).all()
    # R@n_q (R-precision) <= 1 and R@N == 1
    assert (recall_at_k(ranks, n) == 1).all()
    assert (reciprocal_rank(ranks) >= ap / n_q).all()


# ---- against ir_measures (pytrec_eval backend) ------------------------------------------------------
def test_ndcg_recall_ap_rr_match_ir_measures():
    ir_measures = pytest.importorskip("ir_measures")
    from ir_measures import AP, RR, R, nDCG

    rng = np.random.default_rng(1)
    q, n = 60, 150
    scores = rng.standard_normal((q, n))
    grades = rng.choice([0, 0, 0, 0, 0, 0, 1, 2, 3], size=(q, n))
    grades[np.arange(q), rng.integers(0, n, q)] = rng.integers(1, 4, q)
    judged = (grades > 0) | (rng.random((q, n)) < 0.1)  # some judged non-relevant too
    qrels = [
        ir_measures.Qrel(f"q{i}", f"d{j}", int(grades[i, j]))
        for i in range(q) for j in range(n) if judged[i, j] or grades[i, j] > 0
    ]
    run = [ir_measures.ScoredDoc(f"q{i}", f"d{j}", float(scores[i, j])) for i in range(q) for j in range(n)]
    measures = [nDCG @ 10, R @ 100, R @ 10, AP, RR]
    theirs = {(m.query_id, str(m.measure)): m.value
              for m in ir_measures.pytrec_eval.iter_calc(measures, qrels, run)}
    ranks, gains = relevant_ranks(scores, grades)
    ours = {
        "nDCG@10": ndcg_at_k(ranks, gains, 10),
        "R@100": recall_at_k(ranks, 100),
        "R@10": recall_at_k(ranks, 10),
        "AP": average_precision(ranks),
        "RR": reciprocal_rank(ranks),
    }
    for name, values in ours.items():
        ref = np.array([theirs[(f"q{i}", name)] for i in range(q)])
        np.testing.assert_allclose(values, ref, rtol=1e-6, atol=1e-6, err_msg=name)
