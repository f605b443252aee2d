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
- ``matches`` (a is as good as b, higher is better): "does not hold" if a is significantly worse
  (d < 0 and p < alpha_level); "holds" if a is significantly better; otherwise "no significant
  difference": the data do not contradict the claim but, without an equivalence margin (the paper
  gives none), they cannot prove it either. With 1,190 questions even a loss of 0.005 mAP is
  detected, so "does not hold" can mean a small loss; the table always shows the size of the
  difference next to the verdict.

Example:
    >>> import pandas as pd
    >>> sig = pd.DataFrame([{"a": "hybrid", "b": "x-y", "metric": "cross_ap", "difference": 0.001,
    ...                      "ci_low": -0.001, "ci_high": 0.003, "p_value": 0.4}])
    >>> claim = Claim("hybrid matches X-Y (cross)", "hybrid", "x-y", "cross_ap", "matches")
    >>> check_claims(sig, [claim]).verdict.tolist()
    ['no significant difference']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.significance import holm, paired_randomisation_test, seed_question_test

__all__ = ["CLAIMS_COLUMNS", "PAPER_CLAIMS", "Claim", "check_claims", "claims_table", "verdict"]

Direction = Literal["higher", "lower", "matches", "differs"]


@dataclass(frozen=True)
class Claim:
    """One claim: ``a`` compared with ``b`` on ``metric`` (a per-query column of significance.csv)."""

    text: str
    a: str
    b: str
    metric: str  # mono_ap | cross_ap | multi_ap | rank_distance
    direction: Direction
    source: str = ""  # where the paper states it


_MAP_TABLES = "arXiv 2408.10536, abstract; LAReQA mAP tables for XQuAD-R and MLQA-R (XLM-R and LaBSE)"
_BIAS_TABLES = "arXiv 2408.10536, abstract and language-bias section; rank-distance tables (XQuAD-R, MLQA-R)"

#: Every claim of the paper about the three strategies on XQuAD-R / MLQA-R: for mono, cross and
#: multilingual mAP and rank distance, hybrid against X-X-mono and against X-Y, in the paper's
#: direction (its tables: hybrid >= X-X-mono on mono, hybrid >= X-Y on cross and multi, hybrid below
#: both on rank distance), plus the trade-off the method starts from (X-Y loses mono quality).
PAPER_CLAIMS: tuple[Claim, ...] = (
    Claim("hybrid keeps the monolingual quality of X-X-mono", "hybrid", "x-x-mono", "mono_ap", "matches",
          _MAP_TABLES),
    Claim("hybrid beats X-Y on monolingual retrieval", "hybrid", "x-y", "mono_ap", "higher", _MAP_TABLES),
    Claim("hybrid matches X-Y on cross-lingual retrieval", "hybrid", "x-y", "cross_ap", "matches", _MAP_TABLES),
    Claim("hybrid matches X-Y on multilingual retrieval", "hybrid", "x-y", "multi_ap", "matches", _MAP_TABLES),
    Claim("hybrid beats X-X-mono on cross-lingual retrieval", "hybrid", "x-x-mono", "cross_ap", "higher",
          _MAP_TABLES),
    Claim("hybrid beats X-X-mono on multilingual retrieval", "hybrid", "x-x-mono", "multi_ap", "higher",
          _MAP_TABLES),
    Claim("hybrid has less language bias than X-X-mono", "hybrid", "x-x-mono", "rank_distance", "lower",
          _BIAS_TABLES),
    Claim("hybrid has less language bias than X-Y", "hybrid", "x-y", "rank_distance", "lower", _BIAS_TABLES),
    Claim("X-Y costs monolingual quality against X-X-mono", "x-y", "x-x-mono", "mono_ap", "lower",
          "arXiv 2408.10536, introduction and LAReQA mAP tables (the trade-off hybrid batches address)"),
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
    if direction == "differs":  # no direction claimed: say which way it went, if anywhere
        if significant:
            return "a higher" if difference > 0 else "a lower"
        return "no significant difference"
    if direction == "matches":
        if significant:
            return "does not hold" if difference < 0 else "holds"
        return "no significant difference"
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


# ------------------------------------------------------------------------ seed-aware claims table
#: Columns of ``claims.csv``. ``difference, ci_low, ci_high, p_value, p_holm, verdict``: the
#: seed-aware test (:func:`~hybrid_ir.evaluation.significance.seed_question_test`: variance from the
#: training runs and from the parallel questions, Welch-Satterthwaite t), Holm-adjusted across the
#: claims of one experiment; ``df`` and ``seed_share`` say how much the runs' disagreement weighs;
#: ``q_*``: the question-level randomisation test on seed-averaged values (uncorrected), kept as a
#: second opinion; ``agree``: whether the two verdicts agree.
CLAIMS_COLUMNS: tuple[str, ...] = (
    "claim", "a", "b", "metric", "direction", "difference", "ci_low", "ci_high", "p_value", "p_holm",
    "verdict", "source", "seeds_a", "seeds_b", "questions", "df", "seed_share", "q_p_value", "q_verdict",
    "agree", "test",
)
SEED_AWARE_TEST = (
    "t-test with seed and question variance components (Welch-Satterthwaite df; seeds paired when both "
    "strategies have the same seeds), 95% interval; p Holm-adjusted across the experiment's claims"
)

# per-(seed, question) values of one strategy: metric -> DataFrame (rows = seeds, columns = question ids)
SeedValues = dict[str, pd.DataFrame]


def claims_table(
    values: dict[str, SeedValues],
    claims: tuple[Claim, ...] | list[Claim] = PAPER_CLAIMS,
    *,
    n_resamples: int = 10_000,
    alpha_level: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per claim with the columns :data:`CLAIMS_COLUMNS` (see there for the tests).

    ``values[label][metric]`` is a (seeds x parallel questions) table of one strategy. A claim whose
    strategies are not both present gets the verdict "not run" (and no Holm adjustment). The verdict
    rules are those of :func:`verdict`, applied to the Holm-adjusted seed-aware p-value; ``q_verdict``
    applies them to the question-level p-value, and ``agree`` says whether the two verdicts agree.
    """
    rows = []
    for claim in claims:
        row: dict[str, object] = {"claim": claim.text, "a": claim.a, "b": claim.b, "metric": claim.metric,
                                  "direction": claim.direction, "source": claim.source, "test": SEED_AWARE_TEST}
        if claim.a not in values or claim.b not in values:
            rows.append({**row, "verdict": "not run", "q_verdict": "not run"})
            continue
        a, b = values[claim.a][claim.metric], values[claim.b][claim.metric]
        in_b = set(b.columns)
        common = [q for q in a.columns if q in in_b]
        x, y = a[common].to_numpy(float), b[common].to_numpy(float)
        keep = np.isfinite(x).all(axis=0) & np.isfinite(y).all(axis=0)
        x, y = x[:, keep], y[:, keep]
        if x.shape[1] < 2:  # e.g. cross-lingual measures of a one-language evaluation: undefined
            rows.append({**row, "verdict": "not run", "q_verdict": "not run"})
            continue
        same_seeds = list(a.index) == list(b.index)
        test = seed_question_test(x, y, paired_seeds=same_seeds)
        q_test = paired_randomisation_test(x.mean(axis=0), y.mean(axis=0), n_permutations=n_resamples, seed=seed)
        rows.append({**row, "difference": test.difference, "ci_low": test.low, "ci_high": test.high,
                     "p_value": test.p_value, "seeds_a": test.seeds_a, "seeds_b": test.seeds_b,
                     "questions": test.questions, "df": test.df, "seed_share": test.seed_share,
                     "q_p_value": q_test.p_value})
    table = pd.DataFrame(rows).reindex(columns=list(CLAIMS_COLUMNS))
    table["p_holm"] = holm(table["p_value"].astype(float).to_numpy())
    for column in ("verdict", "q_verdict"):
        table[column] = table[column].astype(object)
    for i, claim in enumerate(claims):
        if table.at[i, "verdict"] == "not run":
            continue
        d = float(table.at[i, "difference"])
        table.at[i, "verdict"] = verdict(d, float(table.at[i, "p_holm"]), claim.direction, alpha_level)
        table.at[i, "q_verdict"] = verdict(d, float(table.at[i, "q_p_value"]), claim.direction, alpha_level)
    table["agree"] = table["verdict"] == table["q_verdict"]
    return table
