"""The introduction's findings are written from the recorded results, never typed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from hybrid_ir.book.chapters import results_dir
from hybrid_ir.book.findings import findings_markdown

ROOT = Path(__file__).resolve().parents[1]


def build_script():
    """``tools/build_book.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


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
    build = build_script()
    intro = tmp_path / "intro.md"
    intro.write_text("# Intro\n\n<!-- findings -->\n", encoding="utf-8")
    build.write_findings(intro)
    assert "<!-- findings -->" not in intro.read_text() and "- **" in intro.read_text()
    intro.write_text("# no marker\n")
    with pytest.raises(SystemExit, match="marker"):
        build.write_findings(intro)


# --- the Markdown pages' settings (MyST substitutions filled at build time) -----------------------

SUBSTITUTION = r"\{\{\s*([a-z_]+)\s*\}\}"


def test_every_substitution_of_the_pages_has_a_value() -> None:
    """A page asking for a setting the build does not compute would render ``{{ name }}`` as is."""
    import re

    from hybrid_ir.book.settings import book_settings

    values = book_settings(results_dir())
    asked = set()
    for page in (ROOT / "book").glob("*.md"):
        asked |= set(re.findall(SUBSTITUTION, page.read_text(encoding="utf-8")))
    assert {"train_questions", "cpu_lengths", "main_steps", "claims_tested"} <= asked
    assert asked <= set(values), f"no value for {sorted(asked - set(values))}"


def test_settings_are_the_recorded_ones() -> None:
    """The values come from the recorded runs and configs, not from the defaults."""
    import gzip
    import json

    import yaml

    from hybrid_ir.book.settings import book_settings, number_word
    from hybrid_ir.experiments.claims import PAPER_CLAIMS

    values = book_settings(results_dir())
    config = yaml.safe_load((results_dir() / "configs" / "mlqa-to-xquad.yaml").read_text())
    train = config["train"]
    assert values["cpu_lengths"] == f"{train['max_query_length']} / {train['max_passage_length']}"
    assert values["cpu_batch"] == str(train["batch_size"])
    run = results_dir() / "mlqa-r_to_xquad-r" / "hybrid" / "seed0"
    exposure = json.loads((run / "exposure.json").read_text())
    assert values["train_questions"] == f"{exposure['trained']['questions_total']:,}"
    assert values["main_steps"] == str(exposure["steps"])
    with gzip.open(run / "ranks.csv.gz", "rt") as f:
        queries = sum(1 for _ in f) - 1
    languages = len(json.loads((run / "metrics.json").read_text())["per_language"])
    assert int(values["eval_questions"].replace(",", "")) * languages == queries
    claims = pd.read_csv(results_dir() / "mlqa-r_to_xquad-r" / "claims.csv")
    assert len(claims) == len(PAPER_CLAIMS)
    assert values["claims_tested"] == number_word(len(claims))
    assert values["seeds"] == str(len(config["seeds"]))


def test_build_writes_the_settings(tmp_path: Path) -> None:
    import yaml

    build = build_script()
    config = tmp_path / "_config.yml"
    config.write_text("parse:\n  myst_enable_extensions: [substitution]\n", encoding="utf-8")
    build.write_settings(config)
    written = yaml.safe_load(config.read_text())["parse"]
    assert written["myst_enable_extensions"] == ["substitution"]
    assert written["myst_substitutions"]["cpu_lengths"].count("/") == 1


def test_exposure_finding_uses_the_last_step_runs(data_dir: Path, tmp_path: Path) -> None:
    """With the last-step runs recorded, the equal-exposure finding compares their weights; without
    them it says that the best-validation weights had seen fewer monolingual batches."""
    import shutil

    root = tmp_path / "results"
    shutil.copytree(results_dir(), root)
    last = root / "mlqa-r_to_xquad-r_128steps_last"
    if not any(last.glob("hybrid/seed*/metrics.json")):
        pytest.skip("the last-step runs are not recorded")
    assert "those of each run's last step" in findings_markdown(root)
    shutil.rmtree(last)
    without = findings_markdown(root)
    assert "those of each run's last step" not in without
    assert "weights kept by the lowest validation loss had seen" in without
