"""The displays of the walk-through chapters 1 and 3 (hybrid_ir.book.walkthrough); no torch."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgb

from hybrid_ir.book import walkthrough
from hybrid_ir.book.plotting import STRATEGY_COLORS
from hybrid_ir.book.tables import markdown_table, readable
from hybrid_ir.book.walkthrough import (
    plot_live_training,
    plot_recorded_validation,
    pool_sizes,
    read_log,
    recorded_settings,
)


def dataset(per_language: dict[str, tuple[int, int]]) -> SimpleNamespace:
    """A stand-in for a LareqaDataset: only ``stats()``."""
    languages = {lang: {"questions": q, "candidates": c} for lang, (q, c) in per_language.items()}
    return SimpleNamespace(stats=lambda: {"languages": languages})


def write_log(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n", encoding="utf-8")
    return path


LOG = [
    {"event": "train", "step": 5, "loss": 1.4},
    {"event": "val", "step": 5, "val_loss": 1.2},
    {"event": "train", "step": 10, "loss": 1.1},
    {"event": "val", "step": 10, "val_loss": 0.9},
]


def test_doctests() -> None:
    assert doctest.testmod(walkthrough).failed == 0


def test_pool_sizes_union_of_languages_gaps_and_total() -> None:
    sizes = pool_sizes({"XQuAD-R": dataset({"en": (2, 9), "th": (2, 3)}),
                        "MLQA-R": dataset({"en": (5, 30), "de": (1, 7)})})
    assert list(sizes.index) == ["en", "th", "de", "total"]
    assert sizes.index.name == "language"
    assert list(sizes.columns) == [("XQuAD-R", "questions"), ("XQuAD-R", "candidates"),
                                   ("MLQA-R", "questions"), ("MLQA-R", "candidates")]
    assert math.isnan(sizes.loc["de", ("XQuAD-R", "questions")])
    assert sizes.loc["total"].tolist() == [4, 12, 6, 37]
    table = markdown_table(readable(sizes))  # as chapter 1 shows it: a dash for a gap
    assert table.splitlines()[0] == (
        "| language | XQuAD-R questions | XQuAD-R candidates | MLQA-R questions | MLQA-R candidates |")
    assert "| de | – | – | 1 | 7 |" in table


def test_read_log_skips_blank_lines(tmp_path: Path) -> None:
    log = read_log(write_log(tmp_path / "metrics.jsonl", LOG))
    assert len(log) == 4
    assert log[log.event == "val"].val_loss.tolist() == [1.2, 0.9]


def test_live_training_draws_both_panels_per_strategy(tmp_path: Path) -> None:
    results = {label: SimpleNamespace(metrics_path=write_log(tmp_path / label / "m.jsonl", LOG))
               for label in ("x-x-mono", "x-y", "hybrid")}
    fig, axes = plt.subplots(1, 2)
    plot_live_training(results, axes, chance=1.5)
    for ax in axes:
        curves = [line for line in ax.get_lines() if line.get_label() != "chance"]
        assert len(curves) == 3
        assert [to_rgb(c.get_color()) for c in curves] == [
            to_rgb(STRATEGY_COLORS[k]) for k in results]
        chance = [line for line in ax.get_lines() if line.get_label() == "chance"]
        assert chance and list(chance[0].get_ydata()) == [1.5, 1.5]
    assert list(axes[0].get_lines()[0].get_ydata()) == [1.4, 1.1]
    assert list(axes[1].get_lines()[0].get_ydata()) == [1.2, 0.9]
    legend = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert legend == ["X-X-mono", "X-Y", "hybrid", "chance"]
    plt.close(fig)


def test_recorded_validation_one_line_per_seed_one_legend_entry_per_strategy(
    tmp_path: Path,
) -> None:
    logs = [write_log(tmp_path / label / f"seed{k}" / "train_log.jsonl", LOG)
            for label in ("hybrid", "x-y") for k in (0, 1)]
    fig, ax = plt.subplots()
    plot_recorded_validation(logs, ax)
    assert len(ax.get_lines()) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["hybrid", "X-Y"]
    assert to_rgb(ax.get_lines()[3].get_color()) == pytest.approx(to_rgb(STRATEGY_COLORS["x-y"]))
    plt.close(fig)


def test_recorded_settings_reads_the_run_record(tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    run.write_text(json.dumps({
        "train_config": {"model": "offline-e5-small", "batch_size": 32, "lr": 3e-05,
                         "weight_decay": 0.01, "temperature": 0.01, "epochs": 2,
                         "max_query_length": 32, "max_passage_length": 64,
                         "freeze_embeddings": True},
        "train_result": {"steps": 1280},
    }), encoding="utf-8")
    settings = recorded_settings(run)
    assert settings.index.name == "setting"
    shown = readable(settings)["recorded runs"].to_dict()
    assert shown["encoder"] == "offline-e5-small"
    assert shown["learning rate"] == "3e-05"
    assert shown["steps"] == "1,280"
    assert shown["max tokens (query / passage)"] == "32 / 64"
    assert shown["word embeddings"] == "frozen"


def test_a_damaged_run_file_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader's own run folder is untrusted: a truncated log line, a run.json that is not JSON or
    lacks a setting, a file too large to be a run's, each is one HybridIRError naming the file."""
    from hybrid_ir.book import recorded
    from hybrid_ir.book.evaluation_views import run_files
    from hybrid_ir.errors import HybridIRError

    log = tmp_path / "train_log.jsonl"
    log.write_text('{"event": "train", "step": 1, "loss": 2.0}\n{"event": "val", "st\n', encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"train_log.jsonl, line 2 is not valid JSON"):
        read_log(log)
    log.write_text('[1, 2]\n', encoding="utf-8")
    with pytest.raises(HybridIRError, match="not a trainer's metrics log"):
        read_log(log)
    run = tmp_path / "run.json"
    run.write_text('{"train_config": {"model": "m"', encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"run.json is not valid JSON"):
        recorded_settings(run)
    with pytest.raises(HybridIRError, match=r"run.json is not valid JSON"):
        run_files([tmp_path], "run.json")
    run.write_text(json.dumps({"train_config": {"model": "m"}, "train_result": {"steps": 3}}), encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"run.json has no 'train_config.batch_size'"):
        recorded_settings(run)
    with pytest.raises(HybridIRError, match=r"run.json has no 'environment'"):
        run_files([tmp_path], "run.json", key="environment")
    settings = {"model": "m", "batch_size": 8, "lr": "fast", "weight_decay": 0.0, "temperature": 0.01,
                "epochs": 1, "max_query_length": 8, "max_passage_length": 8, "freeze_embeddings": True}
    run.write_text(json.dumps({"train_config": settings, "train_result": {"steps": 3}}), encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"'train_config.lr' is 'fast', not a number"):
        recorded_settings(run)
    log.write_text('{"event": "val", "step": 1}\n', encoding="utf-8")
    with pytest.raises(HybridIRError, match="without 'step' and 'val_loss'"):
        plot_recorded_validation([log], plt.subplots()[1])
    run.write_bytes(b"\xff\xfe{}")
    with pytest.raises(HybridIRError, match="cannot read"):
        recorded_settings(run)
    monkeypatch.setattr(recorded, "MAX_RUN_FILE_BYTES", 4)
    run.write_text("{}     ", encoding="utf-8")
    with pytest.raises(HybridIRError, match="not a run file"):
        run_files([tmp_path], "run.json")
    assert run_files([tmp_path / "missing"], "run.json") == []
