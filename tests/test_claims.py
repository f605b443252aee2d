"""Claim verdicts: every rule by hand, the b - a flip, missing strategies, bad input."""

from __future__ import annotations

import doctest
import math

import pandas as pd
import pytest

import hybrid_ir.experiments.claims
from hybrid_ir.errors import HybridIRError
from hybrid_ir.experiments.claims import PAPER_CLAIMS, Claim, check_claims, verdict


def test_doctests() -> None:
    assert doctest.testmod(hybrid_ir.experiments.claims).failed == 0


@pytest.mark.parametrize(
    ("difference", "p", "direction", "expected"),
    [
        (0.02, 0.001, "higher", "holds"),
        (-0.02, 0.001, "higher", "opposite"),
        (0.02, 0.2, "higher", "no significant difference"),
        (-50.0, 0.001, "lower", "holds"),
        (50.0, 0.001, "lower", "opposite"),
        (-50.0, 0.06, "lower", "no significant difference"),
        (-0.01, 0.001, "matches", "does not hold"),
        (-0.01, 0.3, "matches", "holds"),
        (0.01, 0.001, "matches", "holds"),  # significantly better also "matches"
        (-0.01, 0.05, "matches", "holds"),  # p must be strictly below the level
    ],
)
def test_verdict_rules(difference: float, p: float, direction: str, expected: str) -> None:
    assert verdict(difference, p, direction) == expected


def test_unknown_direction() -> None:
    with pytest.raises(HybridIRError, match="direction"):
        verdict(0.1, 0.01, "bigger")


def sig_table() -> pd.DataFrame:
    # stored as x-x-mono - hybrid: the claim hybrid - x-x-mono must flip sign and interval
    return pd.DataFrame([
        {"a": "x-x-mono", "b": "hybrid", "metric": "mono_ap", "difference": 0.013, "ci_low": 0.010,
         "ci_high": 0.017, "p_value": 0.0001},
        {"a": "hybrid", "b": "x-y", "metric": "cross_ap", "difference": 0.0004, "ci_low": -0.001,
         "ci_high": 0.002, "p_value": 0.61},
    ])


def test_check_claims_flips_and_marks_missing() -> None:
    out = check_claims(sig_table()).set_index("claim")
    mono = out.loc["hybrid keeps the monolingual quality of X-X-mono"]
    assert mono.difference == pytest.approx(-0.013)
    assert (mono.ci_low, mono.ci_high) == (pytest.approx(-0.017), pytest.approx(-0.010))
    assert mono.verdict == "does not hold"
    assert out.loc["hybrid matches X-Y on cross-lingual retrieval", "verdict"] == "holds"
    missing = out.loc["X-Y costs monolingual quality against X-X-mono"]
    assert missing.verdict == "not run" and math.isnan(missing.difference)
    assert len(out) == len(PAPER_CLAIMS)


def test_check_claims_custom_level() -> None:
    claim = Claim("c", "hybrid", "x-y", "cross_ap", "higher")
    assert check_claims(sig_table(), [claim], alpha_level=0.7).verdict.tolist() == ["holds"]


def test_check_claims_bad_table() -> None:
    with pytest.raises(HybridIRError, match="p_value"):
        check_claims(sig_table().drop(columns="p_value"))
