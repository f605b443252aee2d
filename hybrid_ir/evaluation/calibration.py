"""How well the seed-aware interval covers the truth: a simulation grid (the calibration test).

:func:`hybrid_ir.evaluation.significance.seed_question_test` is an interval for the difference of two
strategies' means over S training runs and Q questions. Its coverage depends on how the variance
splits between runs (seeds), questions and their interaction, and on S. This module measures it.

Under the normal two-way model of that docstring, the statistics the interval is built from are
independent and have known laws (a balanced design): per side k with S_k >= 2 runs,

    MS_S,k ~ (Q sigma_v^2 + sigma_w^2) chi2_{S_k - 1} / (S_k - 1)
    MS_E,k ~ sigma_w^2 chi2_{(S_k - 1)(Q - 1)} / ((S_k - 1)(Q - 1))
    var_q(c) ~ (sigma_u^2 + sum_k sigma_w^2 / S_k) chi2_{Q - 1} / (Q - 1)
    d - delta ~ N(0, Var(d)),

so one draw costs a handful of random numbers instead of an (S, Q) table, and a 2,000-draw cell takes
milliseconds. The draws go through the package's own :func:`~hybrid_ir.evaluation.significance.question_part`
and :func:`~hybrid_ir.evaluation.significance.guarded_df`, the functions ``seed_question_test`` uses
(``tests/test_significance.py`` also checks the full-table path against these statistics).

Example::

    >>> grid = coverage_grid(seeds=(3,), seed_shares=(0.0, 0.05), question_fractions=(0.5,), draws=500)
    >>> list(grid.columns)[:6]
    ['seeds', 'paired', 'seed_share', 'question_share', 'interaction_share', 'coverage']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hybrid_ir.evaluation.significance import DF_GUARD_QUANTILE, guarded_df, question_part

__all__ = ["GRID_QUESTION_FRACTIONS", "GRID_SEED_SHARES", "coverage", "coverage_grid"]

#: Seed shares of the cell variance on the grid: many small ones, where the seed part of Var(d)
#: (sigma_v^2 / S against sigma_u^2 / Q) changes from negligible to dominant.
GRID_SEED_SHARES: tuple[float, ...] = (0.0, 1e-4, 1e-3, 3e-3, 0.01, 0.02, 0.03, 0.05, 0.1, 0.3, 0.6, 0.9)
#: Share of the rest that is question variance (the remainder is run-by-question interaction).
GRID_QUESTION_FRACTIONS: tuple[float, ...] = (0.0, 0.1, 0.5, 0.9, 1.0)


def coverage(
    seeds: int, seed_share: float, question_share: float, interaction_share: float, *,
    paired: bool = True, questions: int = 1190, draws: int = 2000, confidence: float = 0.95,
    rule: str = "guarded", rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """(coverage, mean interval width) of one grid cell, by simulation (module doc).

    ``rule``: ``"guarded"`` (the package's test), ``"satterthwaite"`` (the same V, plain
    Welch-Satterthwaite df) or ``"double"`` (the earlier estimate var(m)/S + var(c)/Q, which counts
    the interaction twice), for comparison.
    """
    from scipy import stats

    rng = rng if rng is not None else np.random.default_rng(0)
    s, q, n = seeds, questions, draws
    sv, su, sw = seed_share, question_share, interaction_share
    sides = 1 if paired else 2
    k_s, k_e = s - 1, (s - 1) * (q - 1)
    var_d = su / q + sides * (sv / s + sw / (s * q))
    d = rng.normal(0.0, np.sqrt(var_d), n)
    seed = np.stack([(q * sv + sw) * rng.chisquare(k_s, n) / k_s / (s * q) for _ in range(sides)])
    resid = np.stack([sw * rng.chisquare(k_e, n) / k_e / s for _ in range(sides)])
    var_c = (su + sides * sw / s) * rng.chisquare(q - 1, n) / (q - 1)
    if rule == "double":
        v = seed.sum(axis=0) + var_c / q
        df = (v**2) / ((seed**2).sum(axis=0) / k_s + (var_c / q) ** 2 / (q - 1))
    else:
        part, part_df = question_part(var_c, resid, [k_e] * sides, q)
        v = seed.sum(axis=0) + part
        quantile = DF_GUARD_QUANTILE if rule == "guarded" else None
        df = guarded_df(seed, [k_s] * sides, part, part_df, quantile=quantile)
    half = stats.t.ppf((1 + confidence) / 2, df) * np.sqrt(v)
    return float(np.mean(np.abs(d) <= half)), float(np.mean(2 * half))


def coverage_grid(
    seeds: Sequence[int] = (3, 6, 10),
    seed_shares: Sequence[float] = GRID_SEED_SHARES,
    question_fractions: Sequence[float] = GRID_QUESTION_FRACTIONS,
    *, paired: Sequence[bool] = (True, False), draws: int = 2000, rule: str = "guarded", seed: int = 0,
) -> pd.DataFrame:
    """One row per cell: ``seeds, paired, seed_share, question_share, interaction_share, coverage,
    width`` (shares of the cell variance: seed, then the rest split question : interaction)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in seeds:
        for is_paired in paired:
            for share in seed_shares:
                for fraction in question_fractions:
                    su, sw = (1 - share) * fraction, (1 - share) * (1 - fraction)
                    cov, width = coverage(s, share, su, sw, paired=is_paired, draws=draws, rule=rule, rng=rng)
                    rows.append({"seeds": s, "paired": is_paired, "seed_share": share, "question_share": su,
                                 "interaction_share": sw, "coverage": cov, "width": width})
    return pd.DataFrame(rows)
