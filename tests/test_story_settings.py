"""The settings the reproducibility page states are the ones the configs and the run files hold.

The page is Markdown (nothing executes there): it states its settings as MyST substitutions
(``{{ cpu_lengths }}``) that the build fills from :func:`hybrid_ir.book.settings.book_settings`.
The page is checked here as the build renders it, against the sources themselves:
``TrainConfig``'s defaults, the recorded experiment's YAML and the runs' ``exposure.json``. A
config change that the page does not follow fails this test (issue 13, point 5).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hybrid_ir.book.settings import book_settings
from hybrid_ir.experiments.reproduce import load_experiment, seed_folders
from hybrid_ir.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = book_settings(ROOT / "results")
PAGE = re.sub(  # the page as the build renders it
    r"\{\{\s*([a-z_]+)\s*\}\}",
    lambda m: SETTINGS[m.group(1)],
    (ROOT / "book" / "reproducibility.md").read_text(encoding="utf-8"),
)
MAIN = load_experiment(ROOT / "results" / "configs" / "mlqa-to-xquad.yaml")
MAIN.results_dir = str(ROOT / "results")


def row(name: str) -> str:
    """The table row of the page whose first cell is ``name``."""
    rows = [line for line in PAGE.splitlines() if line.startswith(f"| {name} |")]
    assert len(rows) == 1, f"one row '{name}' expected on the reproducibility page"
    return rows[0]


def test_sequence_lengths_match_the_configs() -> None:
    default, cpu = TrainConfig(), MAIN.train
    text = row("sequence lengths")
    assert f"{default.max_query_length} / {default.max_passage_length} by default" in text
    assert f"{cpu['max_query_length']} / {cpu['max_passage_length']} in the CPU runs" in text


def test_batch_and_epochs_match_the_recorded_config() -> None:
    assert f"| {MAIN.train['batch_size']}, {MAIN.train['epochs']} epochs (" in row("batch size, steps")


def test_temperatures_match_the_configs() -> None:
    text = row("temperature")
    assert f"{TrainConfig().temperature:g} by default" in text
    assert f"{MAIN.train['temperature']:g} for multilingual-e5" in text


def test_training_questions_match_the_runs() -> None:
    totals = {
        json.loads((folder / "exposure.json").read_text())["trained"]["questions_total"]
        for label in MAIN.strategies
        for folder in seed_folders(MAIN, label)
        if (folder / "exposure.json").is_file()
    }
    if not totals:
        pytest.skip("no recorded runs with exposure.json")
    stated = row("training data")
    assert " / ".join(f"{n:,}" for n in sorted(totals)) + " parallel questions" in stated
