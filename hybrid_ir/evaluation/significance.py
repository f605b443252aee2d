"""Paired significance tests over per-query values of two runs (e.g. AP of hybrid vs X-Y).

Both tests work on the per-query differences d_i = a_i - b_i (i = 1..n, the same queries in both runs):

- **Paired randomisation (sign-flip) test**: under H0 (the two runs are exchangeable on every query),
  each d_i is as likely to be -d_i. The statistic is the mean difference; with n_perm random sign
  vectors e (e_i = +-1), the two-sided p-value is
  p = (1 + #{e : |mean(e * d)| >= |mean(d)|}) / (1 + n_perm)
  (the "+1" counts the observed assignment, so p > 0 and p = 1 for identical runs).
- **Paired bootstrap confidence interval** for the mean difference: resample the n queries with
  replacement n_boot times, take the mean of d over each resample; the (1 - confidence)/2 and
  (1 + confidence)/2 percentiles are the interval (percentile bootstrap).

Both are seeded (``numpy.random.default_rng(seed)``). Inputs: two arrays of equal length, or two
``pandas.Series`` indexed by query id (aligned by id; ids missing from one side are an error), or
arrays plus ``ids_a`` / ``ids_b`` (must list the same ids in the same order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hybrid_ir.errors import HybridIRError

__all__ = [
    "BootstrapInterval",
    "RandomisationTest",
    "paired_bootstrap_ci",
    "paired_randomisation_test",
    "paired_randomization_test",
    "paired_values",
]


@dataclass(frozen=True)
class RandomisationTest:
    """Result of :func:`paired_randomisation_test`."""

    mean_a: float
    mean_b: float
    mean_difference: float  # mean(a - b)
    p_value: float  # two-sided
    n: int
    n_permutations: int
    seed: int


@dataclass(frozen=True)
class BootstrapInterval:
    """Result of :func:`paired_bootstrap_ci`: the mean difference and its percentile interval."""

    mean_difference: float
    low: float
    high: float
    confidence: float
    n: int
    n_resamples: int
    seed: int


def paired_values(
    a: Any, b: Any, ids_a: Sequence[str] | None = None, ids_b: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two aligned float arrays of per-query values (validation described in the module doc)."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        for name, s in (("a", a), ("b", b)):
            dup = s.index[s.index.duplicated()]
            if len(dup):
                raise HybridIRError(f"run {name} lists {len(dup)} query ids twice, e.g. {list(dup[:3])}")
        only_a = a.index.difference(b.index)
        only_b = b.index.difference(a.index)
        if len(only_a) or len(only_b):
            raise HybridIRError(
                f"the runs cover different queries: {len(only_a)} only in a (e.g. {list(only_a[:3])}), "
                f"{len(only_b)} only in b (e.g. {list(only_b[:3])})"
            )
        b = b.reindex(a.index)
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise HybridIRError(f"per-query values must be 1-D, got shapes {x.shape} and {y.shape}")
    if len(x) != len(y):
        raise HybridIRError(f"the runs have {len(x)} and {len(y)} per-query values; they must be paired")
    if len(x) == 0:
        raise HybridIRError("no per-query values to compare")
    if ids_a is not None or ids_b is not None:
        if ids_a is None or ids_b is None:
            raise HybridIRError("give the query ids of both runs (ids_a and ids_b) or of neither")
        ia, ib = np.asarray(ids_a, dtype=str), np.asarray(ids_b, dtype=str)
        if len(ia) != len(x) or len(ib) != len(y):
            raise HybridIRError(f"{len(ia)} / {len(ib)} ids for {len(x)} values")
        diff = np.flatnonzero(ia != ib)
        if diff.size:
            raise HybridIRError(
                f"query ids differ at {diff.size} positions (e.g. position {diff[0]}: "
                f"'{ia[diff[0]]}' vs '{ib[diff[0]]}'); align the runs first"
            )
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise HybridIRError(f"{int(bad.sum())} queries have a NaN or infinite value; drop them in both runs")
    return x, y


def paired_randomisation_test(
    a: Any,
    b: Any,
    *,
    n_permutations: int = 10_000,
    seed: int = 0,
    ids_a: Sequence[str] | None = None,
    ids_b: Sequence[str] | None = None,
    chunk: int | None = None,
) -> RandomisationTest:
    """Two-sided paired randomisation (sign-flip) test of mean(a - b) = 0 (formula: module doc).

    >>> paired_randomisation_test([0.5, 0.7], [0.5, 0.7]).p_value
    1.0
    """
    x, y = paired_values(a, b, ids_a, ids_b)
    if n_permutations < 1:
        raise HybridIRError(f"n_permutations must be >= 1, got {n_permutations}")
    d = x - y
    n = len(d)
    chunk = chunk or max(1, 2_000_000 // n)  # bounds the (chunk, n) temporaries
    observed = abs(d.mean())
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))  # float noise must not flip a tie
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, n_permutations, chunk):
        m = min(chunk, n_permutations - start)
        signs = rng.integers(0, 2, size=(m, n), dtype=np.int8) * 2 - 1  # (m, n) of +-1
        means = np.abs(signs @ d) / n
        extreme += int(np.count_nonzero(means >= observed - tol))
    return RandomisationTest(
        mean_a=float(x.mean()), mean_b=float(y.mean()), mean_difference=float(d.mean()),
        p_value=(1 + extreme) / (1 + n_permutations), n=n, n_permutations=n_permutations, seed=seed,
    )


def paired_bootstrap_ci(
    a: Any,
    b: Any,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    ids_a: Sequence[str] | None = None,
    ids_b: Sequence[str] | None = None,
    chunk: int | None = None,
) -> BootstrapInterval:
    """Percentile bootstrap interval for mean(a - b) over queries resampled with replacement."""
    x, y = paired_values(a, b, ids_a, ids_b)
    if not 0 < confidence < 1:
        raise HybridIRError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise HybridIRError(f"n_resamples must be >= 1, got {n_resamples}")
    d = x - y
    n = len(d)
    chunk = chunk or max(1, 2_000_000 // n)  # bounds the (chunk, n) temporaries
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        m = min(chunk, n_resamples - start)
        means[start : start + m] = d[rng.integers(0, n, size=(m, n))].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return BootstrapInterval(
        mean_difference=float(d.mean()), low=float(low), high=float(high), confidence=confidence,
        n=n, n_resamples=n_resamples, seed=seed,
    )


#: American spelling
paired_randomization_test = paired_randomisation_test
