"""The figures and tables of chapters 7 and 10 (hybrid_ir.book.question_views), on small frames."""

from __future__ import annotations

import doctest

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from hybrid_ir.book import question_views
from hybrid_ir.book.plotting import STRATEGY_COLORS
from hybrid_ir.book.question_views import (
    language_table,
    plot_alpha_sweep,
    plot_alpha_tradeoff,
    plot_language_differences,
    tatoeba_view,
)
from hybrid_ir.book.tables import markdown_table, readable

SWEEP = pd.DataFrame({
    "alpha": [0.0, 0.5, 1.0],
    "mono_map": [0.79, 0.80, 0.81],
    "cross_map": [0.70, 0.69, 0.68],
    "multi_map": [0.50, 0.45, 0.40],
    "rank_distance": [380.0, 400.0, 570.0],
})


def language_frame(differences: list[float], verdicts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "lang": ["de", "th", "ar"],
        "language": ["German", "Thai", "Arabic"],
        "family": ["Indo-European (Germanic)", "Kra-Dai", "Afro-Asiatic"],
        "difference": differences,
        "ci_low": [d - 0.01 for d in differences],
        "ci_high": [d + 0.01 for d in differences],
        "verdict": verdicts,
    })


def test_doctests() -> None:
    assert doctest.testmod(question_views).failed == 0


def test_alpha_sweep_draws_three_maps_and_the_rank_distance() -> None:
    fig = plot_alpha_sweep(SWEEP)
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines()] == ["mono mAP", "cross mAP", "multi mAP"]
    assert list(left.get_lines()[0].get_ydata()) == [0.79, 0.80, 0.81]
    assert list(right.get_lines()[0].get_ydata()) == [380.0, 400.0, 570.0]
    assert not fig._suptitle and not left.get_title()  # the caption says what it shows
    plt.close(fig)


def test_alpha_tradeoff_labels_each_alpha() -> None:
    fig = plot_alpha_tradeoff(SWEEP)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["alpha=0", "alpha=0.5", "alpha=1"]
    assert list(ax.get_lines()[0].get_xdata()) == [0.70, 0.69, 0.68]
    plt.close(fig)


def test_tatoeba_view_names_strategies_and_keeps_the_accuracy_columns() -> None:
    rows = pd.DataFrame({
        "setting": ["A", "A"], "strategy": ["x-x-mono", "hybrid"], "runs": [2, 1],
        "to_en": [0.91, 0.9], "from_en": [0.8, 0.82], "mean": [0.855, 0.86],
    })
    view = tatoeba_view(rows)
    assert view.index.names == ["setting", "strategy"]
    assert list(view.index) == [("A", "X-X-mono"), ("A", "hybrid")]
    text = markdown_table(readable(view, 3, {"runs": 0}))
    assert text.splitlines()[0] == "| setting | strategy | runs | → English | English → | acc@1 (mean) |"
    assert "| A | X-X-mono | 2 | 0.910 | 0.800 | 0.855 |" in text


def test_an_empty_tatoeba_view_still_makes_a_table() -> None:
    text = markdown_table(readable(tatoeba_view(pd.DataFrame()), 3, {"runs": 0}))
    assert text.splitlines() == [
        "| setting | strategy | runs | → English | English → | acc@1 (mean) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]


def test_language_table_aligns_strategies_by_language_and_marks_verdicts() -> None:
    hybrid = language_frame([-0.012, 0.001, -0.02], ["a lower", "undecided", "a lower"])
    xy = language_frame([-0.015, 0.02, -0.0], ["a lower", "a higher", "undecided"])
    xy = xy.iloc[::-1]  # another row order: matched by language code, not by position
    table = language_table({"hybrid": hybrid, "x-y": xy}, unseen=["th"])
    assert table.index.name == "language"
    assert list(table.index) == ["Arabic", "German", "Thai *"]  # by family
    assert list(table.columns) == ["family", "hybrid − X-X-mono", "X-Y − X-X-mono"]
    assert table.loc["German"].tolist() == ["Indo-European (Germanic)", "-0.0120 ↓", "-0.0150 ↓"]
    assert table.loc["Thai *", "X-Y − X-X-mono"] == "+0.0200 ↑"
    assert table.loc["Arabic", "X-Y − X-X-mono"] == "0.0000"  # never "-0.0000"


def test_language_differences_are_drawn_in_family_order_with_intervals() -> None:
    hybrid = language_frame([-0.012, 0.001, -0.02], ["a lower", "undecided", "a lower"])
    xy = language_frame([-0.015, 0.02, -0.03], ["a lower", "a higher", "a lower"]).iloc[::-1]
    fig, ax = plt.subplots()
    plot_language_differences({"hybrid": hybrid, "x-y": xy}, unseen=["th"], ax=ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Arabic (Afro-Asiatic)", "German (Indo-European)", "Thai * (Kra-Dai)"]
    points = list(ax.containers)
    assert len(points) == 2
    hybrid_y = points[0].lines[0].get_ydata()
    xy_x = points[1].lines[0].get_xdata()
    assert list(hybrid_y) == pytest.approx([-0.18, 0.82, 1.82])
    assert list(xy_x) == pytest.approx([-0.03, -0.015, 0.02])  # aligned with the rows above
    assert points[0].lines[0].get_color() == STRATEGY_COLORS["hybrid"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["hybrid − X-X-mono", "X-Y − X-X-mono"]
    plt.close(fig)
