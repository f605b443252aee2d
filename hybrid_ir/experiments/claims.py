"""The paper's claims as paired comparisons, and a verdict for each from a significance table.

Elmahdy et al. (2024) claim that hybrid batches (i) keep the monolingual quality of X-X-mono
training, (ii) match X-Y training on cross-lingual and multilingual retrieval and (iii) reduce
language bias. Each claim becomes one comparison ``a`` vs ``b`` on one per-query metric, read from
the ``significance.csv`` that :func:`hybrid_ir.experiments.reproduce.aggregate` writes (columns ``a, b, metric,
difference, ci_low, ci_high, p_value``; ``difference`` = mean(a - b) over parallel questions).

Verdict rules (``alpha_level`` = 0.05 by default), with d = mean(a - b), [lo, hi] its 95% interval
and p the two-sided randomisation p-value:

- ``higher`` (a > b claimed): "holds" if d > 0 and p < alpha_level; "opposite" if d < 0 and
  p < alpha_level; otherwise "no significant difference".
- ``lower`` (a < b claimed): the mirror image.
- ``matches`` (a is as good as b, higher is better): "holds" unless a is significantly worse
  (d < 0 and p < alpha_level), then "does not hold". This is a non-inferiority reading without a
  margin: with 1,190 questions even a loss of 0.005 mAP is detected, so "does not hold" can mean a
  small loss; the table always shows the size of the difference next to the verdict.

Example:
    >>> import pandas as pd
    >>> sig = pd.DataFrame([{"a": "hybrid", "b": "x-y", "metric": "cross_ap", "difference": 0.001,
    ...                      "ci_low": -0.001, "ci_high": 0.003, "p_value": 0.4}])
    >>> claim = Claim("hybrid matches X-Y (cross)", "hybrid", "x-y", "cross_ap", "matches")
    >>> check_claims(sig, [claim]).verdict.tolist()
    ['holds']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from hybrid_ir.errors import HybridIRError

__all__ = ["PAPER_CLAIMS", "Claim", "check_claims", "verdict"]

Direction = Literal["higher", "lower", "matches"]


@dataclass(frozen=True)
class Claim:
    """One claim: ``a`` compared with ``b`` on ``metric`` (a per-query column of significance.csv)."""

    text: str
    a: str
    b: str
    metric: str  # mono_ap | cross_ap | multi_ap | rank_distance
    direction: Direction


PAPER_CLAIMS: tuple[Claim, ...] = (
    Claim("hybrid keeps the monolingual quality of X-X-mono", "hybrid", "x-x-mono", "mono_ap", "matches"),
    Claim("hybrid matches X-Y on cross-lingual retrieval", "hybrid", "x-y", "cross_ap", "matches"),
    Claim("hybrid matches X-Y on multilingual retrieval", "hybrid", "x-y", "multi_ap", "matches"),
    Claim("hybrid beats X-X-mono on cross-lingual retrieval", "hybrid", "x-x-mono", "cross_ap", "higher"),
    Claim("hybrid beats X-X-mono on multilingual retrieval", "hybrid", "x-x-mono", "multi_ap", "higher"),
    Claim("hybrid has less language bias than X-X-mono", "hybrid", "x-x-mono", "rank_distance", "lower"),
    Claim("X-Y costs monolingual quality against X-X-mono", "x-y", "x-x-mono", "mono_ap", "lower"),
)


def verdict(difference: float, p_value: float, direction: Direction, alpha_level: float = 0.05) -> str:
    """The verdict of one comparison (rules in the module docstring).

    >>> verdict(-0.013, 0.0001, "matches")
    'does not hold'
    >>> verdict(-120.0, 0.0001, "lower")
    'holds'
    """
    significant = p_value < alpha_level
    if direction == "higher":
        if significant:
            return "holds" if difference > 0 else "opposite"
        return "no significant difference"
    if direction == "lower":
        if significant:
            return "holds" if difference < 0 else "opposite"
        return "no significant difference"
    if direction == "matches":
        return "does not hold" if significant and difference < 0 else "holds"
    raise HybridIRError(f"unknown claim direction {direction!r}; expected 'higher', 'lower' or 'matches'")


def _comparison(sig: pd.DataFrame, a: str, b: str, metric: str) -> dict[str, float] | None:
    """The row for a - b on metric, flipping a stored b - a row; None if neither is there."""
    for x, y, sign in ((a, b, 1.0), (b, a, -1.0)):
        hit = sig[(sig.a == x) & (sig.b == y) & (sig.metric == metric)]
        if not hit.empty:
            row = hit.iloc[0]
            lo, hi = sorted((sign * float(row.ci_low), sign * float(row.ci_high)))
            return {"difference": sign * float(row.difference), "ci_low": lo, "ci_high": hi,
                    "p_value": float(row.p_value)}
    return None


def check_claims(
    sig: pd.DataFrame, claims: tuple[Claim, ...] | list[Claim] = PAPER_CLAIMS, alpha_level: float = 0.05
) -> pd.DataFrame:
    """One row per claim: the comparison, d = mean(a - b), its 95% interval, p and the verdict.

    A claim whose two strategies are not both in ``sig`` gets the verdict "not run".
    """
    missing = {"a", "b", "metric", "difference", "ci_low", "ci_high", "p_value"} - set(sig.columns)
    if missing:
        raise HybridIRError(f"significance table lacks the columns {sorted(missing)}")
    rows = []
    for claim in claims:
        row = _comparison(sig, claim.a, claim.b, claim.metric)
        base = {"claim": claim.text, "comparison": f"{claim.a} - {claim.b}", "metric": claim.metric}
        if row is None:
            rows.append({**base, "difference": float("nan"), "ci_low": float("nan"),
                         "ci_high": float("nan"), "p_value": float("nan"), "verdict": "not run"})
        else:
            rows.append({**base, **row,
                         "verdict": verdict(row["difference"], row["p_value"], claim.direction, alpha_level)})
    return pd.DataFrame(rows)
