"""Teaching aids of the book: the batch picture of chapter 2 (hybrid_ir.book.plotting.batch_grid)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgb

from hybrid_ir.book.plotting import batch_grid, language_palette
from hybrid_ir.data.examples import TrainingExample, TrainingSet, Triplet
from hybrid_ir.sampling import HybridBatchSampler


def cells(ax: plt.Axes) -> dict[tuple[int, int, str], tuple[float, float, float]]:
    """Colour of every half-cell, keyed by (row, triplet, "query" | "passage")."""
    out = {}
    for patch in ax.patches:
        x, y = patch.get_xy()
        row = round(-(y + 0.21))  # both halves of row r lie around y = -r
        half = "query" if y > -row - 0.1 else "passage"
        out[(row, int(x), half)] = to_rgb(patch.get_facecolor())
    return out


def test_each_half_cell_has_its_language_colour() -> None:
    rows = [("mono", [("de", "de")] * 3), ("cross", [("en", "zh"), ("ar", "en")])]
    palette = language_palette()
    fig, ax = plt.subplots()
    batch_grid(rows, ax, palette=palette)
    drawn = cells(ax)
    assert len(drawn) == 2 * (3 + 2)
    for r, (_, items) in enumerate(rows):
        for j, (q, p) in enumerate(items):
            assert drawn[(r, j, "query")] == pytest.approx(to_rgb(palette[q]))
            assert drawn[(r, j, "passage")] == pytest.approx(to_rgb(palette[p]))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mono", "cross"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ar (Arabic)", "de (German)", "en (English)", "zh (Chinese)"]
    codes = [t.get_text() for t in ax.texts]
    assert codes == ["de", "de"] * 3 + ["en", "zh", "ar", "en"]
    plt.close(fig)


def test_long_batches_drop_the_codes_but_keep_the_colours() -> None:
    rows = [("big", [("en", "de")] * 50)]
    fig, ax = plt.subplots()
    batch_grid(rows, ax, max_labelled=40)
    assert not ax.texts
    assert len(ax.patches) == 100
    plt.close(fig)


def test_real_sampler_batches_read_as_the_strategy_says() -> None:
    """Rows built from HybridBatchSampler batches: mono rows one colour, cross rows never equal."""
    t = Triplet("q", "p+", "p-")
    ts = TrainingSet("toy", tuple(
        TrainingExample(f"id{i}", f"a{i}", {"en": t, "de": t, "zh": t}) for i in range(12)))
    rows = []
    for strategy in ("mono", "cross"):
        batch = next(iter(HybridBatchSampler(ts, batch_size=4, strategy=strategy, seed=0)))
        rows.append((strategy, [(i.query_lang, i.passage_lang) for i in batch.items]))
    fig, ax = plt.subplots()
    batch_grid(rows, ax)
    drawn = cells(ax)
    mono_colours = {drawn[(0, j, h)] for j in range(4) for h in ("query", "passage")}
    assert len(mono_colours) == 1
    assert all(drawn[(1, j, "query")] != drawn[(1, j, "passage")] for j in range(4))
    plt.close(fig)
