"""The introduction's findings are written from the recorded results, never typed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from hybrid_ir.book.chapters import results_dir
from hybrid_ir.book.findings import findings_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_intro_has_the_marker_and_no_typed_findings() -> None:
    text = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert text.count("<!-- findings -->") == 1


def test_findings_quote_claims_csv(data_dir: Path) -> None:
    text = findings_markdown(results_dir())
    claims = pd.read_csv(results_dir() / "mlqa-r_to_xquad-r" / "claims.csv").set_index("claim")
    mono = claims.loc["hybrid keeps the monolingual quality of X-X-mono"]
    assert f"{mono.difference:+.4f} (95% CI {mono.ci_low:+.4f} to {mono.ci_high:+.4f})" in text
    xy = claims.loc["hybrid has less language bias than X-Y"]
    assert f"{xy.difference:+.1f}" in text and f"less than X-Y ({xy.verdict})" in text
    assert text.count("\n- ") >= 4


def test_headlines_follow_the_verdicts(data_dir: Path, tmp_path: Path) -> None:
    """Copy the results, flip one verdict, and the headline changes with it."""
    import shutil

    root = tmp_path / "results"
    shutil.copytree(results_dir(), root)
    path = root / "mlqa-r_to_xquad-r" / "claims.csv"
    claims = pd.read_csv(path)
    claims.loc[claims.claim == "hybrid keeps the monolingual quality of X-X-mono", "verdict"] = "no significant difference"
    claims.to_csv(path, index=False)
    text = findings_markdown(root)
    assert "Hybrid batches keep monolingual quality, as far as three seeds can tell." in text
    assert "do not keep the monolingual quality" not in text


def test_build_fills_the_marker(tmp_path: Path, data_dir: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    intro = tmp_path / "intro.md"
    intro.write_text("# Intro\n\n<!-- findings -->\n", encoding="utf-8")
    build.write_findings(intro)
    assert "<!-- findings -->" not in intro.read_text() and "- **" in intro.read_text()
    intro.write_text("# no marker\n")
    with pytest.raises(SystemExit, match="marker"):
        build.write_findings(intro)
