"""Paired randomisation test and bootstrap interval: sanity, exactness on small n, validation."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.significance import (
    paired_bootstrap_ci,
    paired_randomisation_test,
    paired_randomization_test,
    paired_values,
)


def test_identical_runs_give_p_one_and_a_zero_interval():
    a = np.random.default_rng(0).random(100)
    t = paired_randomisation_test(a, a.copy(), n_permutations=500)
    assert t.p_value == 1.0 and t.mean_difference == 0.0
    ci = paired_bootstrap_ci(a, a.copy(), n_resamples=200)
    assert (ci.low, ci.high) == (0.0, 0.0)


def test_strongly_shifted_runs_give_a_small_p_and_the_interval_covers_the_shift():
    rng = np.random.default_rng(1)
    b = rng.random(300)
    a = b + 0.05 + rng.normal(0, 0.1, 300)  # true mean shift 0.05
    t = paired_randomisation_test(a, b, n_permutations=2000, seed=3)
    assert t.p_value == pytest.approx(1 / 2001)  # no sign assignment is as extreme
    assert t.mean_a > t.mean_b and t.n == 300
    ci = paired_bootstrap_ci(a, b, n_resamples=2000, seed=3)
    assert ci.low < 0.05 < ci.high and ci.low > 0
    assert ci.low < ci.mean_difference < ci.high


def test_p_value_matches_exact_enumeration():
    d = np.array([0.3, -0.1, 0.2, 0.05, 0.4, -0.2, 0.1, 0.15, -0.05, 0.25])
    observed = abs(d.mean())
    flips = np.array(list(itertools.product([-1, 1], repeat=len(d))))
    exact = np.mean(np.abs(flips @ d) / len(d) >= observed - 1e-12)
    t = paired_randomization_test(d, np.zeros_like(d), n_permutations=40_000, seed=0)
    assert t.p_value == pytest.approx(exact, abs=0.01)


def test_seeded_and_reproducible():
    rng = np.random.default_rng(2)
    a, b = rng.random(50), rng.random(50)
    assert paired_randomisation_test(a, b, seed=7) == paired_randomisation_test(a, b, seed=7)
    assert paired_bootstrap_ci(a, b, seed=7) == paired_bootstrap_ci(a, b, seed=7)


def test_null_p_values_are_not_small():
    rng = np.random.default_rng(4)
    ps = [paired_randomisation_test(rng.random(40), rng.random(40), n_permutations=300, seed=s).p_value
          for s in range(40)]
    assert 0.3 < np.mean(ps) < 0.7  # roughly uniform under H0


def test_series_are_aligned_by_query_id():
    a = pd.Series([0.1, 0.2, 0.3], index=["q1", "q2", "q3"])
    b = pd.Series([0.3, 0.1, 0.2], index=["q3", "q1", "q2"])
    x, y = paired_values(a, b)
    np.testing.assert_array_equal(x, y)
    assert paired_randomisation_test(a, b).p_value == 1.0
    with pytest.raises(HybridIRError, match="1 only in a"):
        paired_values(a, b.drop("q2"))
    with pytest.raises(HybridIRError, match="twice"):
        paired_values(pd.Series([1.0, 2.0], index=["q1", "q1"]), pd.Series([1.0, 2.0], index=["q1", "q2"]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"a": [1.0, 2.0], "b": [1.0]}, "2 and 1"),
        ({"a": [1.0, np.nan], "b": [1.0, 2.0]}, "1 queries have a NaN"),
        ({"a": [], "b": []}, "no per-query values"),
        ({"a": [[1.0]], "b": [[1.0]]}, "1-D"),
        ({"a": [1.0, 2.0], "b": [1.0, 2.0], "ids_a": ["q1", "q2"], "ids_b": ["q2", "q1"]},
         "differ at 2 positions"),
        ({"a": [1.0], "b": [1.0], "ids_a": ["q1"]}, "neither"),
    ],
)
def test_validation(kwargs, message):
    with pytest.raises(HybridIRError, match=message):
        paired_values(**kwargs)


def test_bad_parameters():
    with pytest.raises(HybridIRError, match="n_permutations"):
        paired_randomisation_test([1.0], [2.0], n_permutations=0)
    with pytest.raises(HybridIRError, match="confidence"):
        paired_bootstrap_ci([1.0], [2.0], confidence=1.5)
