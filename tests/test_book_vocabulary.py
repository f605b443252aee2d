"""One vocabulary for results: sentences no stronger than their claim rows, in the code and on the pages."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from hybrid_ir.book.vocabulary import (
    FORBIDDEN,
    VERDICT_WORDS,
    claim_sentence,
    interval,
    p_text,
    signed,
    verdict_words,
)
from hybrid_ir.experiments.claims import VERDICTS

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def row(verdict: str, difference: float, direction: str = "matches", metric: str = "mono_ap") -> pd.Series:
    return pd.Series({"a": "hybrid", "b": "x-x-mono", "metric": metric, "direction": direction, "verdict": verdict,
                      "difference": difference, "ci_low": difference - 0.01, "ci_high": difference + 0.01,
                      "p_holm": 0.0004, "margin": 0.005, "decide": "about 7 seeds per strategy would ..."})


def test_formatter_never_writes_minus_zero_and_says_small_p() -> None:
    assert signed(-0.00004) == "0.0000" and signed(0.00004) == "0.0000" and signed(-0.012) == "-0.0120"
    assert signed(-0.04, 1) == "0.0" and interval(-0.00001, 0.0123) == "0.0000 to +0.0123"
    assert p_text(0.0) == "p < 0.001" and p_text(0.0496) == "p = 0.050" and p_text(1.0) == "p = 1.000"


@pytest.mark.parametrize("verdict", [v for v in VERDICTS if v != "not run"])
def test_each_verdict_gets_words_no_stronger_than_it(verdict: str) -> None:
    d = -0.012 if verdict in ("does not hold", "a lower") else 0.012
    words = verdict_words(row(verdict, d, "differs" if verdict.startswith("a ") else "matches"))
    assert ("equivalent" in words) == (verdict == "equivalent")
    significant = verdict in ("holds", "does not hold", "opposite", "a higher", "a lower")
    assert bool(re.search(r"\b(higher|lower)\b", words)) == significant, words
    assert ("cannot yet tell" in words) == (verdict == "undecided")
    sentence = claim_sentence(row(verdict, d))
    assert sentence.startswith(f"*{VERDICT_WORDS[verdict]}*")
    assert ("would" in sentence) == (verdict == "undecided")  # what would decide it
    for word in ("because", "costs", "causes", "so that"):
        assert word not in sentence


def test_rank_distance_is_said_as_bias() -> None:
    words = verdict_words(row("holds", -190.0, "lower", "rank_distance"))
    assert words == "hybrid has less language bias than X-X-mono"


def rendered_pages() -> list[Path]:
    if not (HTML / "index.html").is_file():
        pytest.skip(f"no rendered book in {HTML}: run `make book` first")
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts and "genindex" not in p.name)


def page_text(path: Path) -> str:
    html = path.read_text(encoding="utf-8")
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text.replace("&#8722;", "-").replace("−", "-"))


def test_rendered_pages_use_none_of_the_forbidden_phrases() -> None:
    """No forbidden phrase, and no negative zero at any precision ("-0.0000", "-0.00000"); a phrase
    that ends in a digit is matched as a whole number ("-0.00009" is not "-0.0000")."""
    import re

    patterns = [re.escape(p) + (r"(?!\d)" if p[-1].isdigit() else "") for p in FORBIDDEN]
    patterns.append(r"(?<![\w.])-0\.0+(?![\d])")
    found = []
    for path in rendered_pages():
        text = page_text(path)
        found += [f"{path.relative_to(HTML)}: {m.group(0)!r}" for p in patterns for m in re.finditer(p, text)]
    assert not found, "\n".join(found)


def test_the_negative_zero_check_tells_a_small_number_from_zero() -> None:
    import re

    zero = r"(?<![\w.])-0\.0+(?![\d])"
    assert re.search(zero, "CI -0.0000 to") and re.search(zero, "(-0.00000)")
    assert not re.search(zero, "CI -0.00009 to +0.0002") and not re.search(zero, "alpha-0.0/model")


def test_intro_verdicts_are_the_claim_rows() -> None:
    """Every verdict word on the intro's claims table is the one in claims.csv for that claim and direction."""
    text = page_text(HTML / "book" / "intro.html") if (HTML / "book" / "intro.html").is_file() else None
    if text is None:
        rendered_pages()
        text = page_text(HTML / "intro.html")
    for folder, label in (("mlqa-r_to_xquad-r", "MLQA-R → XQuAD-R"), ("xquad-r_to_mlqa-r", "XQuAD-R → MLQA-R")):
        claims = pd.read_csv(ROOT / "results" / folder / "claims.csv")
        for r in claims.itertuples():
            k = 1 if r.metric == "rank_distance" else 4
            sentence = f"{label}: {VERDICT_WORDS[r.verdict]}: {verdict_words(pd.Series(r._asdict()))}"
            squeezed = re.sub(r"\s+", "", text)  # markup leaves spaces around emphasis and code
            assert re.sub(r"\s+", "", sentence) in squeezed, sentence
            assert re.sub(r"\s+", "", f"{VERDICT_WORDS[r.verdict]}: {signed(r.difference, k)} (paper") in squeezed
