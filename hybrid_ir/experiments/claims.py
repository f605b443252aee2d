"""The paper's claims as paired comparisons, with margins fixed in advance, verdicts and power.

Elmahdy et al. (2024) claim that hybrid batches (i) keep the monolingual quality of X-X-mono
training, (ii) match X-Y training on cross-lingual and multilingual retrieval and (iii) reduce
language bias. Each claim becomes one comparison ``a`` vs ``b`` on one per-question metric
(:data:`PAPER_CLAIMS`, each with a short ``id``).

**Vocabulary.** With d = mean(a - b), p its two-sided p-value (Holm-adjusted across the claims of
one experiment) and, for a claim with a margin m, p_eq the two one-sided tests' (TOST) p-value of
|d| < m (Holm-adjusted across the equivalence tests of the experiment); alpha_level = 0.05:

- ``higher`` (a > b claimed): "holds" if d > 0 and p < alpha; "opposite" if d < 0 and p < alpha;
  otherwise "undecided".
- ``lower`` (a < b claimed): the mirror image.
- ``matches`` (a as good as b; higher is better): "equivalent" if p_eq < alpha (the 90% interval
  lies inside (-m, m): any difference is smaller than the margin); else "does not hold" if a is
  significantly worse, "holds" if significantly better (better than "as good"); else "undecided".
- ``differs`` (no direction claimed; Tatoeba and alpha-sweep comparisons): "equivalent" as above,
  else "a higher" / "a lower" when significant, else "undecided".

"Undecided" always comes with what would decide it (:func:`power_table`: seeds per strategy for
80% power). "No significant difference" is no longer a verdict: it does not say "equal".

**Margins** (:data:`MARGINS`), fixed before the runs of the decisive-verdicts issue and shown in
``claims.csv``: 0.005 mAP for the "keeps" / "matches" claims (the smallest difference the paper
itself presents as a gain, so "as good as" must be tighter than that) and 0.01 Tatoeba accuracy.

Example:
    >>> verdict(-0.013, 0.0001, "matches", p_equivalence=0.9)
    'does not hold'
    >>> verdict(-0.002, 0.001, "matches", p_equivalence=0.01)
    'equivalent'
    >>> verdict(0.004, 0.2, "higher")
    'undecided'
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np
import pandas as pd

from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.significance import (
    guarded_df,
    holm,
    paired_randomisation_test,
    seed_question_test,
    variance_parts,
)

__all__ = [
    "CLAIMS_COLUMNS",
    "CONTROLLED_CLAIMS",
    "MARGINS",
    "PAPER_CLAIMS",
    "POWER_COLUMNS",
    "VERDICTS",
    "Claim",
    "Margin",
    "alpha_claims",
    "check_claims",
    "claim_by_id",
    "claims_table",
    "experiment_claims",
    "power_table",
    "verdict",
]

Direction = Literal["higher", "lower", "matches", "differs"]
VERDICTS: tuple[str, ...] = ("holds", "does not hold", "equivalent", "opposite", "undecided", "a higher",
                             "a lower", "not run")


@dataclass(frozen=True)
class Margin:
    """An equivalence margin in a metric's units, with the reason it was chosen."""

    value: float
    reason: str


#: The equivalence margins, one per metric family, fixed before the decisive-verdicts runs.
MARGINS: dict[str, Margin] = {
    "map": Margin(0.005, "the smallest difference the paper presents as a gain (hybrid over X-Y, cross-lingual "
                         "mAP on XQuAD-R: .705 vs .700 with XLM-R, .767 vs .762 with LaBSE); 'as good as' must "
                         "be tighter than a gain"),
    "tatoeba": Margin(0.01, "one point of accuracy: about the sampling error of one language's 1,000 Tatoeba "
                            "pairs at 90% accuracy (sd 0.0095)"),
}
_METRIC_MARGIN = {"mono_ap": "map", "cross_ap": "map", "multi_ap": "map", "mean": "tatoeba", "to_en": "tatoeba",
                  "from_en": "tatoeba"}


@dataclass(frozen=True)
class Claim:
    """One claim: ``a`` compared with ``b`` on ``metric`` (a per-question value of each run)."""

    text: str
    a: str
    b: str
    metric: str  # mono_ap | cross_ap | multi_ap | rank_distance (Tatoeba: mean | to_en | from_en)
    direction: Direction
    source: str = ""  # where the paper states it
    id: str = ""  # short id, e.g. "keeps-mono"

    @property
    def margin(self) -> Margin | None:
        """The equivalence margin of a "matches" or "differs" claim (None otherwise or for rank distance)."""
        if self.direction not in ("matches", "differs"):
            return None
        family = _METRIC_MARGIN.get(self.metric)
        return MARGINS[family] if family else None


_MAP_TABLES = "arXiv 2408.10536, abstract; LAReQA mAP tables for XQuAD-R and MLQA-R (XLM-R and LaBSE)"
_BIAS_TABLES = "arXiv 2408.10536, abstract and language-bias section; rank-distance tables (XQuAD-R, MLQA-R)"

#: Every claim of the paper about the three strategies on XQuAD-R / MLQA-R: for mono, cross and
#: multilingual mAP and rank distance, hybrid against X-X-mono and against X-Y, in the paper's
#: direction (its tables: hybrid >= X-X-mono on mono, hybrid >= X-Y on cross and multi, hybrid below
#: both on rank distance), plus the trade-off the method starts from (X-Y loses mono quality).
PAPER_CLAIMS: tuple[Claim, ...] = (
    Claim("hybrid keeps the monolingual quality of X-X-mono", "hybrid", "x-x-mono", "mono_ap", "matches",
          _MAP_TABLES, "keeps-mono"),
    Claim("hybrid beats X-Y on monolingual retrieval", "hybrid", "x-y", "mono_ap", "higher", _MAP_TABLES,
          "beats-xy-mono"),
    Claim("hybrid matches X-Y on cross-lingual retrieval", "hybrid", "x-y", "cross_ap", "matches", _MAP_TABLES,
          "matches-xy-cross"),
    Claim("hybrid matches X-Y on multilingual retrieval", "hybrid", "x-y", "multi_ap", "matches", _MAP_TABLES,
          "matches-xy-multi"),
    Claim("hybrid beats X-X-mono on cross-lingual retrieval", "hybrid", "x-x-mono", "cross_ap", "higher",
          _MAP_TABLES, "beats-mono-cross"),
    Claim("hybrid beats X-X-mono on multilingual retrieval", "hybrid", "x-x-mono", "multi_ap", "higher",
          _MAP_TABLES, "beats-mono-multi"),
    Claim("hybrid has less language bias than X-X-mono", "hybrid", "x-x-mono", "rank_distance", "lower",
          _BIAS_TABLES, "less-bias-mono"),
    Claim("hybrid has less language bias than X-Y", "hybrid", "x-y", "rank_distance", "lower", _BIAS_TABLES,
          "less-bias-xy"),
    Claim("X-Y costs monolingual quality against X-X-mono", "x-y", "x-x-mono", "mono_ap", "lower",
          "arXiv 2408.10536, introduction and LAReQA mAP tables (the trade-off hybrid batches address)",
          "tradeoff"),
)


_CONTROLLED = ("this book's controlled exposure experiment (results/configs/mlqa-to-xquad-controlled.yaml): "
               "constant learning rate, last-step weights, exactly 64 mono + 64 cross batches for hybrid-128")

#: The controlled exposure experiment's questions (no claim of the paper): hybrid-128 has seen exactly
#: as many monolingual batches as X-X-mono-64, plus 64 cross-lingual ones.
CONTROLLED_CLAIMS: tuple[Claim, ...] = (
    Claim("at equal monolingual exposure, hybrid keeps the monolingual quality of X-X-mono", "hybrid-128",
          "x-x-mono-64", "mono_ap", "matches", _CONTROLLED, "controlled-keeps-mono"),
    Claim("64 more monolingual steps leave X-X-mono's monolingual quality unchanged", "x-x-mono-128",
          "x-x-mono-64", "mono_ap", "matches", _CONTROLLED, "controlled-more-mono-steps"),
    Claim("at equal steps (128), hybrid keeps the monolingual quality of X-X-mono", "hybrid-128", "x-x-mono-128",
          "mono_ap", "matches", _CONTROLLED, "controlled-keeps-mono-equal-steps"),
    Claim("at equal monolingual exposure, hybrid beats X-X-mono on cross-lingual retrieval", "hybrid-128",
          "x-x-mono-64", "cross_ap", "higher", _CONTROLLED, "controlled-beats-mono-cross"),
    Claim("at equal monolingual exposure, hybrid beats X-X-mono on multilingual retrieval", "hybrid-128",
          "x-x-mono-64", "multi_ap", "higher", _CONTROLLED, "controlled-beats-mono-multi"),
)


_ALPHA_SWEEP = ("this book's alpha sweep (results/configs/alpha-sweep.yaml); arXiv 2408.10536 reports alpha = 0.5 "
                "and stable results for alpha in [0.4, 0.6], not steps of 0.25")
_METRIC_WORDS = {"mono_ap": ("mono", "monolingual AP"), "cross_ap": ("cross", "cross-lingual AP"),
                 "multi_ap": ("multi", "multilingual AP"), "rank_distance": ("bias", "rank distance")}


def alpha_claims(labels: list[str]) -> tuple[Claim, ...]:
    """Neighbouring points of an alpha sweep compared on each metric (two-sided: the paper makes no
    claim about steps of 0.25). ``labels`` are :func:`~hybrid_ir.experiments.results.alpha_label`
    names; ``a`` is the larger alpha.

    >>> [c.id for c in alpha_claims(["alpha-0", "alpha-0.25"])]
    ['alpha-0.25-vs-0-mono', 'alpha-0.25-vs-0-cross', 'alpha-0.25-vs-0-multi', 'alpha-0.25-vs-0-bias']
    """
    alphas = sorted({float(label.removeprefix("alpha-")) for label in labels})
    out = []
    for low, high in pairwise(alphas):
        for metric, (short, words) in _METRIC_WORDS.items():
            out.append(Claim(f"alpha = {high:g} against alpha = {low:g} on {words}", f"alpha-{high:g}",
                             f"alpha-{low:g}", metric, "differs", _ALPHA_SWEEP, f"alpha-{high:g}-vs-{low:g}-{short}"))
    return tuple(out)


def experiment_claims(labels: list[str] | set[str]) -> tuple[Claim, ...]:
    """The claims an experiment with these strategy labels answers: the paper's (when it has two of
    the paper's strategies) and the controlled experiment's whose two strategies it has (none for,
    e.g., the alpha sweep's labels).

    >>> [c.id for c in experiment_claims(["x-x-mono-64", "hybrid-128"])][:1], experiment_claims(["hybrid"])
    (['controlled-keeps-mono'], ())
    """
    labels = set(labels)
    paper = PAPER_CLAIMS if len(labels & {"x-x-mono", "x-y", "hybrid"}) >= 2 else ()
    return paper + tuple(c for c in CONTROLLED_CLAIMS if {c.a, c.b} <= labels)


def claim_by_id(claim_id: str, claims: tuple[Claim, ...] = PAPER_CLAIMS + CONTROLLED_CLAIMS) -> Claim:
    """The claim with this short id (a one-line error listing the ids otherwise)."""
    for claim in claims:
        if claim.id == claim_id:
            return claim
    raise HybridIRError(f"no claim '{claim_id}'; the ids are {', '.join(c.id for c in claims)}")


def verdict(
    difference: float, p_value: float, direction: Direction, alpha_level: float = 0.05, *,
    p_equivalence: float | None = None,
) -> str:
    """The verdict of one comparison (rules in the module docstring).

    >>> verdict(-120.0, 0.0001, "lower")
    'holds'
    >>> verdict(0.03, 0.001, "differs"), verdict(0.0, 0.9, "differs", p_equivalence=0.001)
    ('a higher', 'equivalent')
    """
    if direction not in ("higher", "lower", "matches", "differs"):
        raise HybridIRError(
            f"unknown claim direction {direction!r}; expected 'higher', 'lower', 'matches' or 'differs'")
    significant = p_value < alpha_level
    if direction in ("matches", "differs") and p_equivalence is not None and p_equivalence < alpha_level:
        return "equivalent"
    if not significant:
        return "undecided"
    if direction == "higher":
        return "holds" if difference > 0 else "opposite"
    if direction == "lower":
        return "holds" if difference < 0 else "opposite"
    if direction == "differs":
        return "a higher" if difference > 0 else "a lower"
    return "does not hold" if difference < 0 else "holds"


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
    """One row per claim from a question-level ``significance.csv`` (no seeds, no margins): the
    comparison, d = mean(a - b), its 95% interval, p and the verdict (equivalence needs
    :func:`claims_table`). A claim whose two strategies are not both in ``sig`` gets "not run".
    """
    missing = {"a", "b", "metric", "difference", "ci_low", "ci_high", "p_value"} - set(sig.columns)
    if missing:
        raise HybridIRError(f"significance table lacks the columns {sorted(missing)}")
    rows = []
    for claim in claims:
        row = _comparison(sig, claim.a, claim.b, claim.metric)
        base = {"id": claim.id, "claim": claim.text, "comparison": f"{claim.a} - {claim.b}", "metric": claim.metric}
        if row is None:
            rows.append({**base, "difference": float("nan"), "ci_low": float("nan"),
                         "ci_high": float("nan"), "p_value": float("nan"), "verdict": "not run"})
        else:
            rows.append({**base, **row,
                         "verdict": verdict(row["difference"], row["p_value"], claim.direction, alpha_level)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------ seed-aware claims table
#: Columns of ``claims.csv``. ``difference, ci_low, ci_high, p_value, p_holm``: the seed-aware test
#: (:func:`~hybrid_ir.evaluation.significance.seed_question_test`: calibrated t with seed and question
#: variance parts), Holm-adjusted across the claims of one experiment; ``margin`` and its reason,
#: ``ci90_low, ci90_high`` (the 90% interval of the TOST), ``p_tost`` and ``p_tost_holm``;
#: ``verdict`` in the module's vocabulary and ``decide`` (for an undecided claim: the seeds per
#: strategy that would give 80% power); ``df`` and ``seed_share`` say how much the runs' disagreement
#: weighs; ``q_*``: the question-level tests on seed-averaged values (randomisation p, Holm-adjusted;
#: TOST from the question-level t interval), a second opinion; ``agree``: whether the two verdicts,
#: both Holm-adjusted, agree.
CLAIMS_COLUMNS: tuple[str, ...] = (
    "id", "claim", "a", "b", "metric", "direction", "difference", "ci_low", "ci_high", "p_value", "p_holm",
    "margin", "ci90_low", "ci90_high", "p_tost", "p_tost_holm", "verdict", "decide", "source", "seeds_a",
    "seeds_b", "questions", "df", "seed_share", "q_p_value", "q_p_holm", "q_p_tost", "q_p_tost_holm",
    "q_verdict", "agree", "margin_reason", "test",
)
SEED_AWARE_TEST = (
    "calibrated t-test with seed and question variance parts (guarded Satterthwaite df; seeds paired when "
    "both strategies have the same seeds), 95% interval; p Holm-adjusted across the experiment's claims; "
    "equivalence by two one-sided tests within the margin, Holm-adjusted"
)

# per-(seed, question) values of one strategy: metric -> DataFrame (rows = seeds, columns = question ids)
SeedValues = dict[str, pd.DataFrame]


def _tables(values: dict[str, SeedValues], claim: Claim) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The (seeds, questions) tables of a claim's two strategies on their common, finite questions.

    Seeds are paired by number (seed k of both strategies shares its validation split, so their
    runs vary together): when the two strategies have at least two seeds in common, only those are
    compared, paired, and a seed that one strategy has and the other not yet is left out until its
    partner is recorded. Otherwise (e.g. against the one untuned baseline) all runs are compared
    unpaired."""
    if claim.a not in values or claim.b not in values:
        return None
    a, b = values[claim.a][claim.metric], values[claim.b][claim.metric]
    common_seeds = [seed for seed in a.index if seed in set(b.index)]
    if len(common_seeds) >= 2:  # pair by seed; a seed only one side has waits for its partner
        a, b = a.loc[common_seeds], b.loc[common_seeds]
    in_b = set(b.columns)
    common = [q for q in a.columns if q in in_b]
    x, y = a[common].to_numpy(float), b[common].to_numpy(float)
    keep = np.isfinite(x).all(axis=0) & np.isfinite(y).all(axis=0)
    if keep.sum() < 2:  # e.g. cross-lingual measures of a one-language evaluation: undefined
        return None
    return x[:, keep], y[:, keep], list(a.index) == list(b.index)


def _question_level(x: np.ndarray, y: np.ndarray, margin: float | None, n_resamples: int, seed: int
                    ) -> tuple[float, float]:
    """Question-level randomisation p and TOST p (t on the seed-averaged per-question differences)."""
    from scipy import stats

    c = x.mean(axis=0) - y.mean(axis=0)
    p = paired_randomisation_test(x.mean(axis=0), y.mean(axis=0), n_permutations=n_resamples, seed=seed).p_value
    if margin is None:
        return p, float("nan")
    se, df = float(c.std(ddof=1) / np.sqrt(len(c))), len(c) - 1
    if se == 0:
        return p, 0.0 if abs(c.mean()) < margin else 1.0
    d = float(c.mean())
    return p, float(max(stats.t.sf((d + margin) / se, df), stats.t.cdf((d - margin) / se, df)))


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
    strategies are not both present gets the verdict "not run" (and no Holm adjustment).
    """
    rows = []
    for claim in claims:
        margin = claim.margin
        row: dict[str, object] = {
            "id": claim.id, "claim": claim.text, "a": claim.a, "b": claim.b, "metric": claim.metric,
            "direction": claim.direction, "source": claim.source, "test": SEED_AWARE_TEST,
            "margin": margin.value if margin else np.nan, "margin_reason": margin.reason if margin else "",
        }
        tables = _tables(values, claim)
        if tables is None:
            rows.append({**row, "verdict": "not run", "q_verdict": "not run"})
            continue
        x, y, same_seeds = tables
        test = seed_question_test(x, y, paired_seeds=same_seeds)
        lo90, hi90 = test.interval(0.90)
        q_p, q_tost = _question_level(x, y, margin.value if margin else None, n_resamples, seed)
        rows.append({**row, "difference": test.difference, "ci_low": test.low, "ci_high": test.high,
                     "p_value": test.p_value, "ci90_low": lo90, "ci90_high": hi90,
                     "p_tost": test.equivalence_p(margin.value) if margin else np.nan,
                     "seeds_a": test.seeds_a, "seeds_b": test.seeds_b, "questions": test.questions,
                     "df": test.df, "seed_share": test.seed_share, "q_p_value": q_p, "q_p_tost": q_tost})
    table = pd.DataFrame(rows).reindex(columns=list(CLAIMS_COLUMNS))
    holm_of = {"p_value": "p_holm", "p_tost": "p_tost_holm", "q_p_value": "q_p_holm", "q_p_tost": "q_p_tost_holm"}
    for column, adjusted in holm_of.items():
        table[adjusted] = holm(table[column].astype(float).to_numpy())
    for column in ("verdict", "q_verdict", "decide"):
        table[column] = table[column].astype(object)
    power = power_table(values, claims, alpha_level=alpha_level)
    for i, claim in enumerate(claims):
        if table.at[i, "verdict"] == "not run":
            continue
        d = float(table.at[i, "difference"])
        eq, q_eq = (float(table.at[i, c]) for c in ("p_tost_holm", "q_p_tost_holm"))
        table.at[i, "verdict"] = verdict(d, float(table.at[i, "p_holm"]), claim.direction, alpha_level,
                                         p_equivalence=None if np.isnan(eq) else eq)
        table.at[i, "q_verdict"] = verdict(d, float(table.at[i, "q_p_holm"]), claim.direction, alpha_level,
                                           p_equivalence=None if np.isnan(q_eq) else q_eq)
        if _one_trained_run(claim, table.loc[i]):
            table.at[i, "verdict"] = "undecided"
            table.at[i, "decide"] = ("at least 2 runs of each trained strategy: from one run the "
                                     "run-to-run variance cannot be estimated")
            table.at[i, "test"] = ONE_RUN_TEST
        elif table.at[i, "verdict"] == "undecided":
            table.at[i, "decide"] = _what_would_decide(power.iloc[i])
    table["agree"] = table["verdict"] == table["q_verdict"]
    return table


#: The ``test`` of a claim with a single run of a trained strategy on a side.
ONE_RUN_TEST = ("one run of a trained strategy on a side: the run-to-run variance cannot be estimated, so "
                "the interval and p-values measure the questions only; the verdict is undecided by rule")

#: The untuned encoder is one deterministic run: it has no run-to-run variance to estimate.
DETERMINISTIC_LABELS = frozenset({"untuned"})


def _one_trained_run(claim: Claim, row: pd.Series) -> bool:
    """A side that is a trained strategy has a single run: the seed part of the variance is unknown,
    so no verdict can rest on it (only the question-level test, reported beside it, can be run)."""
    return any(label not in DETERMINISTIC_LABELS and int(row[n]) < 2
               for label, n in ((claim.a, "seeds_a"), (claim.b, "seeds_b")))


def _what_would_decide(row: pd.Series) -> str:
    n = row["seeds_needed_observed"]
    tost = row["test"] == "equivalence" and abs(row["observed_difference"]) < row["margin"]
    what = "equivalence within the margin" if tost else "a significant difference"
    if not pd.isna(n):
        return f"about {int(n)} seeds per strategy would give 80% power for {what} at the observed difference"
    if row["power_limit"] < 0.8:
        return (f"no number of seeds: with the question-level variance alone, {what} at the observed "
                "difference has under 80% power; more questions (another evaluation set) would decide it")
    return f"more than {MAX_SEEDS} seeds per strategy: the observed difference is too small to decide"


# ------------------------------------------------------------------------------------- power
#: Columns of ``power.csv`` (see :func:`power_table`).
POWER_COLUMNS: tuple[str, ...] = (
    "id", "claim", "metric", "test", "margin", "alpha", "seeds_now", "observed_difference", "power_now",
    "seeds_needed_observed", "paper_xlmr_difference", "seeds_needed_paper_xlmr", "paper_labse_difference",
    "seeds_needed_paper_labse", "power_limit", "per_run_variance", "question_variance",
)
_PAPER_METRIC = {"mono_ap": "mono_map", "cross_ap": "cross_map", "multi_ap": "multi_map",
                 "rank_distance": "rank_distance"}
MAX_SEEDS = 100


def _power(difference: float, per_run: np.ndarray, question: float, seeds: int, alpha: float,
           margin: float | None) -> float:
    """Power at a true ``difference`` with ``seeds`` runs per strategy (parts: see :func:`power_table`)."""
    from scipy import stats

    seed_parts = per_run / seeds
    v = float(seed_parts.sum() + question)
    if v <= 0:
        return 1.0
    se = np.sqrt(v)
    dfs = np.full(len(per_run), seeds - 1)
    df = float(guarded_df(seed_parts.reshape(-1, 1), dfs, np.array([question]), np.array([float(10**6)]))[0])
    if margin is None:  # two-sided test of d = 0
        t, nc = stats.t.ppf(1 - alpha / 2, df), difference / se
        upper, lower = stats.nct.sf(t, df, nc), stats.nct.cdf(-t, df, nc)
        # scipy's non-central t returns NaN for a far tail (e.g. nc 20 at df 1e6): the normal limit there
        upper = upper if np.isfinite(upper) else stats.norm.sf(t - nc)
        lower = lower if np.isfinite(lower) else stats.norm.cdf(-t - nc)
        return float(upper + lower)
    t = stats.t.ppf(1 - alpha, df)  # TOST: both one-sided tests reject
    return float(max(0.0, stats.t.cdf((margin - difference) / se - t, df)
                     + stats.t.cdf((margin + difference) / se - t, df) - 1))


def _decisive_margin(difference: float, margin: float | None) -> float | None:
    """The test that could decide a claim at this true difference: the TOST inside the margin; at or
    beyond it no number of runs shows equivalence, so the difference test (which would then give
    "does not hold" or "holds")."""
    return margin if margin is not None and abs(difference) < margin else None


def _seeds_needed(difference: float, per_run: np.ndarray, question: float, alpha: float,
                  margin: float | None, target: float = 0.8) -> float:
    if not np.isfinite(difference):
        return np.nan
    margin = _decisive_margin(difference, margin)
    for seeds in range(2, MAX_SEEDS + 1):
        if _power(difference, per_run, question, seeds, alpha, margin) >= target:
            return float(seeds)
    return np.nan


def _paper_difference(claim: Claim, init: str, dataset: str | None) -> float:
    from hybrid_ir.experiments.paper import STRATEGIES, paper_lareqa_summary

    if dataset is None or claim.metric not in _PAPER_METRIC or not {claim.a, claim.b} <= set(STRATEGIES):
        return np.nan
    key = _PAPER_METRIC[claim.metric]
    return paper_lareqa_summary(init, claim.a, dataset)[key] - paper_lareqa_summary(init, claim.b, dataset)[key]


def power_table(
    values: dict[str, SeedValues],
    claims: tuple[Claim, ...] | list[Claim] = PAPER_CLAIMS,
    *,
    dataset: str | None = None,
    alpha_level: float = 0.05,
) -> pd.DataFrame:
    """Seeds per strategy for 80% power, per claim, from the recorded variance parts (:data:`POWER_COLUMNS`).

    From the recorded runs, :func:`~hybrid_ir.evaluation.significance.variance_parts` gives per side k
    a seed part A_k = var_s(m_s) / S_k, i.e. a per-run variance K_k = S_k A_k (run effect plus the
    run's share of the interaction, sigma_v^2 + sigma_w^2 / Q), and the question part B, which does
    not shrink with more runs. With S runs per strategy, Var(d) = sum_k K_k / S + B, with the df of the
    guarded rule. Power of the claim's test at a true difference delta, at ``alpha_level`` divided by
    the number of claims run (Bonferroni: the strictest step of Holm's procedure, so the count is
    enough whatever the other claims do):

    - a difference claim (higher / lower / differs without a margin): the two-sided t-test,
      P(|T| > t_crit) with T non-central t (df, delta / sqrt(Var(d)));
    - a "matches" or "differs" claim with a margin m: both one-sided tests of the TOST reject, when
      |delta| < m; at or beyond the margin equivalence cannot be shown, and the count is that of the
      two-sided test (which would decide "does not hold" or "holds").

    ``seeds_needed_*`` is the smallest S (2..100) with power >= 0.8, NaN when none; ``power_limit`` is
    the power at the observed difference with infinitely many runs (the question part alone): when
    it is below 0.8, no number of seeds decides the claim on this evaluation set. ``dataset`` (``xquad-r`` / ``mlqa-r``) adds the paper's differences
    (XLM-R and LaBSE, its tables) as targets.
    """
    ran = [c for c in claims if _tables(values, c) is not None]
    alpha = alpha_level / max(1, len(ran))
    rows = []
    for claim in claims:
        margin = claim.margin
        row: dict[str, object] = {"id": claim.id, "claim": claim.text, "metric": claim.metric,
                                  "test": "equivalence" if margin else "difference",
                                  "margin": margin.value if margin else np.nan, "alpha": alpha}
        tables = _tables(values, claim)
        if tables is None:
            rows.append(row)
            continue
        x, y, paired = tables
        parts = variance_parts(x, y, paired)
        seeds = min(x.shape[0], y.shape[0])
        per_run = np.array([a * (k + 1) for a, k in zip(parts.seed, parts.seed_df, strict=True)])
        m = margin.value if margin else None
        observed = float(x.mean() - y.mean())
        row.update({
            "seeds_now": seeds, "observed_difference": observed,
            "power_now": _power(observed, per_run, parts.question, max(seeds, 2), alpha, _decisive_margin(observed, m)),
            "seeds_needed_observed": _seeds_needed(observed, per_run, parts.question, alpha, m),
            "power_limit": _power(observed, per_run * 0, parts.question, MAX_SEEDS, alpha, _decisive_margin(observed, m)),
            "per_run_variance": float(per_run.sum()), "question_variance": parts.question,
        })
        for init in ("xlmr", "labse"):
            target = _paper_difference(claim, init, dataset)
            row[f"paper_{init}_difference"] = target
            row[f"seeds_needed_paper_{init}"] = _seeds_needed(target, per_run, parts.question, alpha, m)
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=list(POWER_COLUMNS))
