"""One plotting style for the whole book: seaborn theme, a fixed colour per language, readable labels.

Example::

    import matplotlib.pyplot as plt
    from hybrid_ir.book.plotting import use_style, language_palette
    use_style()
    ax = plt.gca()
    ax.bar(["en", "de"], [0.8, 0.7], color=[language_palette()[x] for x in ["en", "de"]])
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from hybrid_ir.book.vocabulary import STRATEGY_NAMES
from hybrid_ir.data.languages import LANGUAGES, language_name

#: Colour of each strategy, used in every chapter.
STRATEGY_COLORS: dict[str, str] = {
    "untuned": "#7f7f7f",
    "x-x-mono": "#1f77b4",
    "x-y": "#d62728",
    "hybrid": "#2ca02c",
}
STRATEGY_LABELS: dict[str, str] = STRATEGY_NAMES  # the one name table: hybrid_ir.book.vocabulary


#: Width of the book's text column at a 1280-pixel window (about 776 px), in inches at the 110 dpi
#: of the figures: a figure this wide is shown at its own size, so its fonts read as set. Keep at
#: most two panels side by side at this width (``figsize=(PAGE_WIDTH, h)``).
PAGE_WIDTH = 7.0


def use_style() -> None:
    """The book's seaborn theme: white grid, fonts sized for the text column, 110 dpi figures.

    Figures carry no title: the caption under the figure in the book says what it shows (panel
    labels of a multi-panel figure are fine).
    """
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.9)
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "figure.figsize": (PAGE_WIDTH, 3.8),
            "axes.titlesize": "medium",
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.constrained_layout.use": True,  # no overlapping colour-bar and axis labels
        }
    )


def language_palette(languages: Sequence[str] | None = None) -> dict[str, tuple[float, float, float]]:
    """A fixed colour per language code (the same language has the same colour in every figure)."""
    codes = list(LANGUAGES)
    colours = sns.color_palette("tab20", n_colors=20)
    palette = {code: colours[(2 * i) % 20 if i < 10 else (2 * i + 1) % 20] for i, code in enumerate(codes)}
    for extra in languages or ():
        if extra not in palette:
            palette[extra] = colours[(len(palette) * 3) % 20]
    return palette


def pair_heatmap(
    matrix: pd.DataFrame,
    ax: plt.Axes | None = None,
    *,
    title: str = "",
    cbar_label: str = "mAP",
    fmt: str = ".2f",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap: str = "viridis",
    annot: bool = True,
) -> plt.Axes:
    """Heatmap of a query-language (rows) x candidate-language (columns) matrix."""
    ax = ax or plt.gca()
    sns.heatmap(
        matrix,
        ax=ax,
        annot=annot,
        fmt=fmt,
        vmin=vmin,
        vmax=vmax,
        cmap=cmap,
        square=True,
        cbar_kws={"label": cbar_label, "shrink": 0.8},
        annot_kws={"size": 8},
    )
    ax.tick_params(axis="y", rotation=0)  # language codes read horizontally
    ax.set_xlabel(_axis_label(matrix.columns.name, "candidate (passage) language"))
    ax.set_ylabel(_axis_label(matrix.index.name, "query language"))
    if title:
        ax.set_title(title)
    return ax


def _axis_label(name: str | None, default: str) -> str:
    """An axis label from a column name: ``query_lang`` -> ``query language``."""
    if not name:
        return default
    if name in ("query", "queries"):
        return "query language"
    if name in ("candidate", "candidates"):
        return "candidate language"
    words = ["language" if w == "lang" else w for w in str(name).split("_")]
    return " ".join(words)


def count_heatmap(counts: pd.DataFrame, ax: plt.Axes | None = None, *, title: str = "") -> plt.Axes:
    """Heatmap of integer counts (e.g. query-language x passage-language pairs of sampled batches)."""
    vmax = float(np.nanmax(counts.to_numpy())) if counts.size else 1.0
    return pair_heatmap(
        counts, ax, title=title, cbar_label="triplets", fmt="d", vmin=0, vmax=vmax, cmap="rocket_r"
    )


def language_labels(codes: Sequence[str]) -> list[str]:
    """Tick labels like ``de (German)``."""
    return [f"{c} ({language_name(c)})" for c in codes]


def _text_colour(rgb: Sequence[float]) -> str:
    """Black on light cells, white on dark ones (relative luminance below 0.45 counts as dark)."""
    r, g, b = rgb[:3]
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 else "black"


def batch_grid(
    rows: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    ax: plt.Axes | None = None,
    *,
    palette: dict[str, tuple[float, float, float]] | None = None,
    max_labelled: int = 40,
) -> plt.Axes:
    """Draw batches as rows of cells: one row per batch, one cell per triplet.

    ``rows`` holds ``(row label, [(query_lang, passage_lang), ...])`` for each batch, top to bottom.
    Each triplet is a cell split in two: the **upper half** is coloured by the question's language,
    the **lower half** by the language of its passages (positive and hard negative), with the
    language codes written in when a row has at most ``max_labelled`` triplets. So an X-X-mono batch
    is one colour throughout, and an X-Y batch never has the same colour above and below.
    A legend below the grid names every language that occurs.

    Example::

        rows = [("X-X-mono", [("de", "de"), ("de", "de")]), ("X-Y", [("en", "zh"), ("ar", "en")])]
        batch_grid(rows)
    """
    ax = ax or plt.gca()
    palette = palette or language_palette([q for _, items in rows for pair in items for q in pair])
    width = max((len(items) for _, items in rows), default=1)
    seen: list[str] = []
    for r, (_, items) in enumerate(rows):
        y = -r  # first row on top
        for j, (q_lang, p_lang) in enumerate(items):
            for lang, bottom in ((q_lang, y), (p_lang, y - 0.42)):
                colour = palette[lang]
                ax.add_patch(plt.Rectangle((j + 0.05, bottom), 0.9, 0.4, facecolor=colour, lw=0))
                if len(items) <= max_labelled:
                    ax.text(j + 0.5, bottom + 0.2, lang, ha="center", va="center",
                            fontsize=6.5, color=_text_colour(colour))
                if lang not in seen:
                    seen.append(lang)
    ax.set_xlim(0, width)
    ax.set_ylim(-len(rows) + 0.45, 0.5)
    ax.set_yticks([-r + 0.19 for r in range(len(rows))], [label for label, _ in rows])
    ax.set_xticks([])
    ax.set_xlabel("one cell per triplet: question language (top), passage language (bottom)")
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=palette[lang]) for lang in sorted(seen)]
    ax.legend(handles, language_labels(sorted(seen)), loc="upper center", bbox_to_anchor=(0.5, -0.02),
              ncol=min(4, len(seen)), fontsize="small", frameon=False, borderaxespad=2.0)
    return ax
