"""Figures and tables of the chapters on MIRACL, alpha, sentence-transformers and the questions.

Each chapter computes its numbers with the package (``alpha_sweep``, ``language_tests``,
``tatoeba_table``) and calls one of these functions to draw or lay them out, so that the chapter
shows the computation and not the matplotlib or pandas bookkeeping around it:

- :func:`plot_alpha_sweep`, :func:`plot_alpha_tradeoff`: chapter 7's sweep over alpha;
- :func:`tatoeba_view`: chapter 10's Tatoeba accuracies, one row per setting and strategy;
- :func:`language_table`, :func:`plot_language_differences`: chapter 10's per-language tests.

A figure cell calls the function and then ``plt.show()``; a table cell passes the frame to
:func:`hybrid_ir.book.tables.show_table`.

Example::

    >>> import pandas as pd
    >>> tests = {s: pd.DataFrame({"lang": ["de", "th"], "language": ["German", "Thai"],
    ...                           "family": ["Indo-European", "Kra-Dai"],
    ...                           "difference": [d, -0.02], "verdict": ["undecided", "a lower"]})
    ...          for s, d in (("hybrid", 0.004), ("x-y", -0.01))}
    >>> language_table(tests, unseen=["th"]).to_dict(orient="index")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'German': {'family': 'Indo-European', 'hybrid − X-X-mono': '+0.0040',
                'X-Y − X-X-mono': '-0.0100'},
     'Thai *': {'family': 'Kra-Dai', 'hybrid − X-X-mono': '-0.0200 ↓',
                'X-Y − X-X-mono': '-0.0200 ↓'}}
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hybrid_ir.book.plotting import PAGE_WIDTH, STRATEGY_COLORS
from hybrid_ir.book.tables import label as _name
from hybrid_ir.book.vocabulary import signed

__all__ = [
    "MARKS",
    "language_table",
    "plot_alpha_sweep",
    "plot_alpha_tradeoff",
    "plot_language_differences",
    "tatoeba_view",
]

#: The mark a per-language verdict gets after its difference (↓ / ↑: significant after Holm).
MARKS: dict[str, str] = {"a lower": " ↓", "a higher": " ↑", "equivalent": " ≈", "undecided": ""}

#: Columns of :func:`tatoeba_view` and the headers they print under.
TATOEBA_COLUMNS: dict[str, str] = {
    "runs": "runs",
    "to_en": "→ English",
    "from_en": "English →",
    "mean": "acc@1 (mean)",
}


def plot_alpha_sweep(frame: pd.DataFrame) -> Figure:
    """mono, cross and multi mAP (left) and mean rank distance (right) against alpha.

    ``frame``: one row per alpha with the columns ``alpha``, ``mono_map``, ``cross_map``,
    ``multi_map`` and ``rank_distance`` (what :func:`hybrid_ir.experiments.reproduce.alpha_sweep`
    returns). The caller shows the figure (``plt.show()``).
    """
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.2))
    for metric, marker in (("mono_map", "o"), ("cross_map", "s"), ("multi_map", "^")):
        label = metric.replace("_map", " mAP")
        axes[0].plot(frame["alpha"], frame[metric], marker + "-", label=label)
    axes[0].set_xlabel("alpha (share of mono batches)")
    axes[0].set_ylabel("mAP")
    axes[0].legend(fontsize="small")
    axes[1].plot(frame["alpha"], frame["rank_distance"], "o-", color=STRATEGY_COLORS["x-y"])
    axes[1].set_xlabel("alpha")
    axes[1].set_ylabel("mean rank distance")
    return fig


def plot_alpha_tradeoff(frame: pd.DataFrame) -> Figure:
    """mono mAP against cross mAP, one labelled point per alpha, joined in the order of ``frame``.

    ``frame``: as for :func:`plot_alpha_sweep`. The caller shows the figure (``plt.show()``).
    """
    fig, ax = plt.subplots(figsize=(0.8 * PAGE_WIDTH, 3.4))
    ax.plot(frame["cross_map"], frame["mono_map"], "-", color="0.6")
    ax.scatter(frame["cross_map"], frame["mono_map"], s=50, color=STRATEGY_COLORS["hybrid"],
               zorder=3)
    middle = (frame["cross_map"].min() + frame["cross_map"].max()) / 2
    rightmost = frame["cross_map"].max()
    for alpha, cross, mono in zip(frame["alpha"], frame["cross_map"], frame["mono_map"],
                                  strict=True):
        # the rightmost label to the right of its point; the others in the right half below and
        # to the left, clear of the line that comes from above; the left half above and right
        if cross == rightmost:
            where = {"xytext": (8, 0), "ha": "left", "va": "center"}
        elif cross > middle:
            where = {"xytext": (-7, -5), "ha": "right", "va": "top"}
        else:
            where = {"xytext": (7, 5), "ha": "left", "va": "bottom"}
        ax.annotate(f"alpha={alpha:g}", (cross, mono), textcoords="offset points", fontsize=8,
                    **where)
    ax.margins(x=0.25, y=0.15)  # room for the labels inside the axes
    ax.set_xlabel("cross mAP")
    ax.set_ylabel("mono mAP")
    return fig


def tatoeba_view(tatoeba: pd.DataFrame) -> pd.DataFrame:
    """Tatoeba acc@1 by setting and strategy (readable strategy names), for a table.

    ``tatoeba``: the rows of :func:`hybrid_ir.experiments.result_tables.tatoeba_table` of one or
    more experiments, with a ``setting`` column added. Empty input gives an empty table with the
    same columns.

    >>> rows = pd.DataFrame({"setting": ["A"], "strategy": ["x-y"], "runs": [2], "to_en": [0.9],
    ...                      "from_en": [0.8], "mean": [0.85], "other": [1]})
    >>> tatoeba_view(rows).reset_index().columns.tolist()
    ['setting', 'strategy', 'runs', '→ English', 'English →', 'acc@1 (mean)']
    >>> tatoeba_view(rows).index.tolist(), len(tatoeba_view(pd.DataFrame()))
    ([('A', 'X-Y')], 0)
    """
    if tatoeba.empty:
        index = pd.MultiIndex.from_arrays([[], []], names=["setting", "strategy"])
        return pd.DataFrame(columns=list(TATOEBA_COLUMNS.values()), index=index)
    shown = tatoeba.assign(strategy=tatoeba["strategy"].map(_name))
    shown = shown.set_index(["setting", "strategy"])[list(TATOEBA_COLUMNS)]
    return shown.rename(columns=TATOEBA_COLUMNS)


def language_table(
    tests: Mapping[str, pd.DataFrame],
    unseen: Collection[str] = (),
    against: str = "x-x-mono",
) -> pd.DataFrame:
    """One row per language, sorted by family: its family and, per strategy of ``tests``, the
    difference against ``against`` with the mark of its verdict (:data:`MARKS`).

    ``tests``: per strategy, the frame of :func:`hybrid_ir.experiments.questions.language_tests`
    (columns ``lang``, ``language``, ``family``, ``difference``, ``verdict``); the first sets the
    rows. Languages in ``unseen`` (codes) are marked ``*``. The differences are signed
    (:func:`hybrid_ir.book.vocabulary.signed`).
    """
    frames = [f.set_index("lang") for f in tests.values()]
    first = frames[0]
    table = pd.DataFrame({"family": first["family"]}, index=first.index)
    for strategy, frame in zip(tests, frames, strict=True):
        f = frame.reindex(first.index)
        table[f"{_name(strategy)} − {_name(against)}"] = [
            signed(d) + MARKS.get(v, "") for d, v in zip(f["difference"], f["verdict"],
                                                         strict=True)
        ]
    table.index = pd.Index([f"{first.loc[c, 'language']}{' *' if c in unseen else ''}"
                            for c in first.index], name="language")
    return table.sort_values("family", kind="stable")


def plot_language_differences(
    tests: Mapping[str, pd.DataFrame],
    unseen: Collection[str] = (),
    ax: plt.Axes | None = None,
    against: str = "x-x-mono",
) -> plt.Axes:
    """Each strategy's difference against ``against`` per language, with its 95% interval.

    ``tests``: as for :func:`language_table`, with ``ci_low`` and ``ci_high`` too. Languages are
    grouped by family and, within a family, ordered by the first strategy's difference; ``unseen``
    languages are marked ``*``. Draws on ``ax`` (a new figure when None) and returns it.
    """
    ax = plt.subplots(figsize=(PAGE_WIDTH, 4.6))[1] if ax is None else ax
    frames = {s: f.set_index("lang") for s, f in tests.items()}
    first = next(iter(frames.values()))
    order = first.sort_values(["family", "difference"], kind="stable").index
    y = np.arange(len(order))
    shifts = np.linspace(-0.18, 0.18, len(frames)) if len(frames) > 1 else [0.0]
    for shift, (strategy, frame) in zip(shifts, frames.items(), strict=True):
        f = frame.reindex(order)  # a language one strategy lacks is left out of its markers
        err = [f["difference"] - f["ci_low"], f["ci_high"] - f["difference"]]
        ax.errorbar(f["difference"], y + shift, xerr=err, fmt="o", capsize=2,
                    color=STRATEGY_COLORS.get(strategy),
                    label=f"{_name(strategy)} − {_name(against)}")
    names = [f"{first.loc[c, 'language']}{' *' if c in unseen else ''} "
             f"({first.loc[c, 'family'].split(' (')[0]})" for c in order]
    ax.set_yticks(y, names)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("difference in mono AP (95% interval, seeds and questions)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=len(frames))
    return ax
