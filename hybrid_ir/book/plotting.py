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

from hybrid_ir.data.languages import LANGUAGES, language_name

#: Colour of each strategy, used in every chapter.
STRATEGY_COLORS: dict[str, str] = {
    "untuned": "#7f7f7f",
    "x-x-mono": "#1f77b4",
    "x-y": "#d62728",
    "hybrid": "#2ca02c",
}
STRATEGY_LABELS: dict[str, str] = {
    "untuned": "untuned",
    "x-x-mono": "X-X-mono",
    "x-y": "X-Y",
    "hybrid": "hybrid",
    "mono": "X-X-mono",
    "cross": "X-Y",
}


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
