"""Small helpers for the chapters that write results as text: show Markdown, find a claim, pair seeds.

The sentences themselves come from :mod:`hybrid_ir.book.vocabulary`; this module only carries what
chapters 8 and 11 would otherwise each define (``say``, the claim lookup by short id, the per-seed
differences of two strategies, where one mean sits between two others).

Example::

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"strategy": ["x-y", "x-y", "hybrid", "hybrid"], "seed": [0, 1, 0, 2],
    ...                      "mono_map": [0.80, 0.81, 0.82, 0.83]})
    >>> seed_differences(runs, "hybrid", "x-y", "mono_map").round(3).to_dict()
    {0: 0.02}
"""

from __future__ import annotations

import pandas as pd

from hybrid_ir.errors import HybridIRError


def say(text: str) -> None:
    """Show generated prose (Markdown) in the notebook and in the rendered book."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def claim_row(claims: pd.DataFrame, claim_id: str) -> pd.Series:
    """The row of ``claims`` (a ``claims.csv``) with the short id ``claim_id`` (``keeps-mono``, ...)."""
    rows = claims[claims["id"] == claim_id]
    if len(rows) != 1:
        raise HybridIRError(f"{len(rows)} claims with the id '{claim_id}' (one expected); ids: "
                            f"{', '.join(map(str, claims['id']))}")
    return rows.iloc[0]


def seed_differences(runs: pd.DataFrame, a: str, b: str, metric: str) -> pd.Series:
    """Seed k of strategy ``a`` minus seed k of strategy ``b`` on ``metric``, for every seed both have
    (``runs``: one row per run with ``strategy``, ``seed`` and the metric; a seed twice for one
    strategy is an error, never a silent cross product)."""
    table = runs.pivot(index="seed", columns="strategy", values=metric)  # raises on a repeated seed
    return (table[a] - table[b]).dropna()


def way_text(share: float, start: str, end: str) -> str:
    """Where a mean sits on the way from ``start`` to ``end``, in words, with
    ``share = (mean - mean_start) / (mean_end - mean_start)``: a percentage inside the range, the
    side it leaves the range on outside it, and "" when the share is undefined (NaN).

    >>> way_text(0.784, "X-Y", "X-X-mono")
    '78% of the way from X-Y to X-X-mono'
    >>> way_text(1.3, "X-Y", "X-X-mono")
    'beyond X-X-mono, 130% of the way from X-Y'
    >>> way_text(-0.2, "X-Y", "X-X-mono")
    'on the far side of X-Y from X-X-mono'
    >>> way_text(float("nan"), "X-Y", "X-X-mono")
    ''
    """
    if share != share:  # NaN
        return ""
    if share > 1:
        return f"beyond {end}, {share:.0%} of the way from {start}"
    if share < 0:
        return f"on the far side of {start} from {end}"
    return f"{share:.0%} of the way from {start} to {end}"
