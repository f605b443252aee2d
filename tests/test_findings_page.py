"""The introduction's findings are written from the recorded results, never typed."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd
import pytest

from hybrid_ir.book.findings import findings_markdown
from hybrid_ir.book.recorded import results_dir

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
    """Every claim of both directions is in the table and in one sentence, with its number and verdict."""
    from hybrid_ir.book.vocabulary import VERDICT_WORDS, interval, signed

    text = findings_markdown(results_dir())
    for folder in ("mlqa-r_to_xquad-r", "xquad-r_to_mlqa-r"):
        claims = pd.read_csv(results_dir() / folder / "claims.csv")
        for row in claims.itertuples():
            k = 1 if row.metric == "rank_distance" else 4
            assert f"{signed(row.difference, k)} (95% CI {interval(row.ci_low, row.ci_high, k)}" in text
            assert f"{VERDICT_WORDS[row.verdict]}: {signed(row.difference, k)} (paper" in text
            assert f"(`{row.id}`)" in text
    assert "{numref}`tab-claims-overview`" in text and ":name: tab-levels" in text


def test_sentences_follow_the_verdicts(data_dir: Path, tmp_path: Path) -> None:
    """Copy the results, flip one verdict, and its sentence changes with it."""
    import shutil

    root = tmp_path / "results"
    shutil.copytree(results_dir(), root)
    path = root / "mlqa-r_to_xquad-r" / "claims.csv"
    claims = pd.read_csv(path)
    before = findings_markdown(root)
    assert "hybrid and X-Y are equivalent on cross-lingual mAP" not in before.split("XQuAD-R → MLQA-R")[0]
    claims.loc[claims.id == "matches-xy-cross", "verdict"] = "equivalent"
    claims.to_csv(path, index=False)
    after = findings_markdown(root)
    assert "hybrid and X-Y are equivalent on cross-lingual mAP within ±0.005" in after


def test_dashboard_figure_is_written_and_referred_to(data_dir: Path, tmp_path: Path) -> None:
    from hybrid_ir.book.findings import FIGURE

    text = findings_markdown(results_dir(), figure_dir=tmp_path)
    assert (tmp_path / FIGURE).stat().st_size > 10_000
    assert f"```{{figure}} {FIGURE}" in text and "{numref}`fig-claims-dashboard`" in text


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
    assert f"{exposure['trained']['questions_total']:,}" in values["train_questions"].split(" / ")
    assert values["main_steps"] == str(exposure["steps"])
    with gzip.open(run / "ranks.csv.gz", "rt") as f:
        queries = sum(1 for _ in f) - 1
    languages = len(json.loads((run / "metrics.json").read_text())["per_language"])
    assert int(values["eval_questions"].replace(",", "")) * languages == queries
    claims = pd.read_csv(results_dir() / "mlqa-r_to_xquad-r" / "claims.csv")
    assert len(claims) == len(PAPER_CLAIMS)
    assert values["claims_tested"] == number_word(len(claims))
    from hybrid_ir.experiments.reproduce import load_experiment, seeds_recorded

    recorded = seeds_recorded(load_experiment(results_dir() / "configs" / "mlqa-to-xquad.yaml", results_dir()))
    assert values["seeds"] == str(recorded) and recorded >= 3  # recorded, not planned


def test_build_writes_the_settings(tmp_path: Path) -> None:
    import yaml

    build = build_script()
    config = tmp_path / "_config.yml"
    config.write_text("parse:\n  myst_enable_extensions: [substitution]\n", encoding="utf-8")
    build.write_settings(config)
    written = yaml.safe_load(config.read_text())["parse"]
    assert written["myst_enable_extensions"] == ["substitution"]
    assert written["myst_substitutions"]["cpu_lengths"].count("/") == 1


def test_equal_steps_finding_gives_the_drawn_batches(data_dir: Path) -> None:
    """The 128-step finding states how many monolingual batches each hybrid run drew (a coin per
    batch), never that it saw as many as X-X-mono."""
    import json

    text = findings_markdown(results_dir())
    drawn = []
    for folder in sorted((results_dir() / "mlqa-r_to_xquad-r_128steps" / "hybrid").glob("seed*")):
        exposure = json.loads((folder / "exposure.json").read_text())
        drawn.append(str(exposure["trained"]["batches_by_type"]["mono"]))
    assert f"its runs drew {', '.join(drawn)} (mean" in text
    assert "as many monolingual batches as" not in text


def test_tatoeba_finding_counts_the_runs_scored_on_tatoeba(data_dir: Path) -> None:
    """The Tatoeba sentence says how many runs carry a Tatoeba score, not how many runs the experiment
    has recorded (a reader would take the second for the first)."""
    text = findings_markdown(results_dir())
    sentence = text[text.index("**Tatoeba bitext retrieval**"):].split("\n")[0]
    folder = results_dir() / "mlqa-r_to_xquad-r"
    scored = len(list(folder.glob("*/seed*/tatoeba.json"))) + (folder / "untuned" / "tatoeba.json").is_file()
    from hybrid_ir.book.recorded import recorded_experiment
    from hybrid_ir.experiments.result_tables import finished

    planned = finished(recorded_experiment("mlqa-to-xquad", results_dir()))[1]
    if scored < planned:
        assert f"({scored} of the experiment's {planned} planned runs scored on Tatoeba so far" in sentence
    assert "runs recorded so far" not in sentence


def test_build_draws_the_background_figure(tmp_path: Path) -> None:
    """The Background page's figure is drawn by the package's sampler at build time and referred to."""
    from hybrid_ir.book.pages import BATCH_TYPES_FIGURE

    build = build_script()
    build.write_page_figures(tmp_path)
    assert (tmp_path / BATCH_TYPES_FIGURE).stat().st_size > 10_000
    page = (ROOT / "book" / "background.md").read_text(encoding="utf-8")
    assert f"```{{figure}} {BATCH_TYPES_FIGURE}" in page and "{numref}`fig-batch-types`" in page


def test_build_writes_the_measured_chapter_times(tmp_path: Path) -> None:
    """The reproducibility page's table of chapter times gives the recorded ci times (the ones each
    chapter's first cell prints) and the default profile's measured times or estimates."""
    from hybrid_ir.book.timing import measured_seconds

    build = build_script()
    page = tmp_path / "reproducibility.md"
    page.write_text("# Page\n\n<!-- timings -->\n", encoding="utf-8")
    build.write_timings(page)
    text = page.read_text()
    assert "<!-- timings -->" not in text and ":name: tab-chapter-times" in text
    title = build.chapter_title(ROOT / "notebooks" / "01_data.ipynb")
    seconds, machine = measured_seconds("01_data")
    assert f"| [{title}](../notebooks/01_data.ipynb) | {seconds:.0f} s |" in text and machine in text
    assert "(measured)" in text or "estimate:" in text
    assert "<!-- timings -->" in (ROOT / "book" / "reproducibility.md").read_text(encoding="utf-8")


def test_the_time_tool_refuses_the_ci_profile_and_unknown_chapters(capsys) -> None:
    """tools/time_chapters.py times profiles other than ci (make book times ci), named chapters only."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("time_chapters", ROOT / "tools" / "time_chapters.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for argv, message in ((["--profile", "ci"], "the ci profile is timed by"),
                          (["--profile", "fast"], "--profile must be one of"),
                          (["--only", "99_nothing"], "no chapter 99_nothing")):
        with pytest.raises(SystemExit) as stop:
            tool.main(argv)
        assert stop.value.code == 2 and message in capsys.readouterr().err


def test_the_time_tool_gives_the_chapters_an_absolute_data_folder(monkeypatch, tmp_path) -> None:
    """The chapters run with notebooks/ as their folder: a relative HYBRID_IR_DATA_DIR (the docstring's
    ``../shared/data``) is made absolute first, or every chapter that reads data fails there."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("time_chapters", ROOT / "tools" / "time_chapters.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    seen = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HYBRID_IR_DATA_DIR", "some/data")
    monkeypatch.setattr(tool, "time_chapter", lambda *a: seen.append(os.environ["HYBRID_IR_DATA_DIR"]) or 1.0)
    monkeypatch.setattr(tool, "record", lambda *a: None)  # the recorded times stay as they are
    assert tool.main(["--only", "01_data", "--again"]) == 0
    assert seen == [str(tmp_path / "some" / "data")]


def test_the_directions_differ_only_in_what_their_runs_differ_in(tmp_path: Path) -> None:
    """The different-verdicts sentence names steps and seed counts only when the recorded runs differ."""
    import json

    from hybrid_ir.book.dashboard import DIRECTIONS
    from hybrid_ir.book.findings import _direction_differences

    def record(steps: dict[str, int]) -> None:
        for folder, run_steps in steps.items():
            path = tmp_path / folder / "hybrid" / "seed0" / "run.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"train_result": {"steps": run_steps}}), encoding="utf-8")

    (main, main_label, _), (reverse, reverse_label, _) = DIRECTIONS
    overview = pd.DataFrame({"transfer": [main_label, reverse_label], "seeds_a": [6, 6], "seeds_b": [6, 6]})
    record({main: 64, reverse: 64})
    assert _direction_differences(tmp_path, overview) == "training set and evaluation set"
    record({reverse: 62})
    assert _direction_differences(tmp_path, overview) == "training set, evaluation set and steps"
    overview.loc[1, "seeds_b"] = 3
    assert _direction_differences(tmp_path, overview).endswith("steps and number of seeds")


def test_the_controlled_design_is_read_from_its_runs(data_dir: Path) -> None:
    """The intro's description of the controlled pair comes from the recorded runs and config."""
    from hybrid_ir.book.findings import _controlled_design
    from hybrid_ir.book.recorded import recorded_experiment
    from hybrid_ir.experiments.result_tables import exposure_table

    controlled = recorded_experiment("mlqa-to-xquad-controlled", results_dir())
    design = exposure_table([controlled]).groupby("strategy")[["steps", "mono batches"]].max()
    hybrid = design.loc["hybrid-128"]
    text = _controlled_design(controlled)
    assert f"exactly {int(hybrid['mono batches'])} monolingual and " in text
    assert f"{int(hybrid['steps'] - hybrid['mono batches'])} cross-lingual batches" in text
    assert "passes over the data instead of" in text
