"""Small helpers for the chapters that write results as text: show Markdown, find a claim, pair seeds.

The sentences themselves come from :mod:`hybrid_ir.book.vocabulary`; this module only carries what
chapters 8 and 11 would otherwise each define (``say``, the claim lookup by short id, the per-seed
differences of two strategies).

Example::

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"strategy": ["x-y", "x-y", "hybrid", "hybrid"], "seed": [0, 1, 0, 2],
    ...                      "mono_map": [0.80, 0.81, 0.82, 0.83]})
    >>> seed_differences(runs, "hybrid", "x-y", "mono_map").round(3).to_dict()
    {0: 0.02}
"""

from __future__ import annotations

import pandas as pd


def say(text: str) -> None:
    """Show generated prose (Markdown) in the notebook and in the rendered book."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def claim_row(claims: pd.DataFrame, claim_id: str) -> pd.Series:
    """The row of ``claims`` (a ``claims.csv``) with the short id ``claim_id`` (``keeps-mono``, ...)."""
    rows = claims.set_index("id")
    if claim_id not in rows.index:
        raise KeyError(f"no claim '{claim_id}'; claims: {', '.join(rows.index)}")
    return rows.loc[claim_id]


def seed_differences(runs: pd.DataFrame, a: str, b: str, metric: str) -> pd.Series:
    """Seed k of strategy ``a`` minus seed k of strategy ``b`` on ``metric``, for every seed both have
    (``runs``: one row per run with ``strategy``, ``seed`` and the metric)."""
    by_seed = runs.set_index("seed")
    return (by_seed.loc[by_seed.strategy == a, metric] - by_seed.loc[by_seed.strategy == b, metric]).dropna()
