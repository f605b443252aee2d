"""The results dashboard of the introduction: every claim, both directions, next to the paper.

Built from ``claims.csv`` and ``summary.json`` of the two recorded directions when the book is built
(:func:`claims_overview`, :func:`levels_table`, :func:`forest_plot`); nothing is typed by hand.

- :func:`claims_overview`: one row per (claim, direction): the difference, its 95% interval, the
  verdict, the margin, the paper's differences (XLM-R and LaBSE, its tables on the same evaluation set);
- :func:`forest_plot`: the figure (difference and interval per claim and direction, the verdict as
  the marker, the equivalence band of a "matches" claim, the paper's differences beside);
- :func:`levels_table`: absolute levels (mono / cross / multi mAP, rank distance) per strategy, with
  the paper's XLM-R numbers, so that a difference can be read against the level it moves.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hybrid_ir.book.vocabulary import strategy_name
from hybrid_ir.experiments.claims import PAPER_CLAIMS
from hybrid_ir.experiments.paper import paper_lareqa_summary

__all__ = ["DIRECTIONS", "claims_overview", "forest_plot", "levels_table"]

#: The two recorded directions: (results folder, label, evaluation set of the paper's numbers).
DIRECTIONS: tuple[tuple[str, str, str], ...] = (
    ("mlqa-r_to_xquad-r", "MLQA-R → XQuAD-R", "xquad-r"),
    ("xquad-r_to_mlqa-r", "XQuAD-R → MLQA-R", "mlqa-r"),
)
_PAPER_KEY = {"mono_ap": "mono_map", "cross_ap": "cross_map", "multi_ap": "multi_map", "rank_distance": "rank_distance"}
#: Marker per verdict: filled for a decided claim, hollow for an undecided one.
MARKERS: dict[str, tuple[str, bool]] = {
    "holds": ("o", True), "equivalent": ("D", True), "does not hold": ("s", True), "opposite": ("s", True),
    "undecided": ("o", False),
}


def claims_overview(results: str | Path) -> pd.DataFrame:
    """One row per (claim, recorded direction): the claim row's columns and ``transfer`` (the
    direction's label, e.g. "MLQA-R → XQuAD-R"); empty when no direction has a ``claims.csv``."""
    rows = []
    for folder, label, dataset in DIRECTIONS:
        path = Path(results) / folder / "claims.csv"
        if not path.is_file():
            continue
        claims = pd.read_csv(path).set_index("id")
        for claim in PAPER_CLAIMS:
            if claim.id not in claims.index or claims.at[claim.id, "verdict"] == "not run":
                continue
            row = claims.loc[claim.id]
            paper = {init: (paper_lareqa_summary(init, claim.a, dataset)[_PAPER_KEY[claim.metric]]
                            - paper_lareqa_summary(init, claim.b, dataset)[_PAPER_KEY[claim.metric]])
                     for init in ("xlmr", "labse")}
            rows.append({"id": claim.id, "claim": claim.text, **row.to_dict(), "transfer": label,
                         "paper_xlmr": paper["xlmr"], "paper_labse": paper["labse"]})
    return pd.DataFrame(rows)


def levels_table(results: str | Path) -> pd.DataFrame:
    """Mean over seeds of mono / cross / multi mAP and rank distance per strategy (MLQA-R → XQuAD-R),
    with the paper's XLM-R numbers on XQuAD-R beside; empty without a recorded ``summary.json``."""
    import json

    path = Path(results) / DIRECTIONS[0][0] / "summary.json"
    if not path.is_file():
        return pd.DataFrame()
    stats = json.loads(path.read_text(encoding="utf-8"))["strategies"]
    rows = []
    for label in ("untuned", "x-x-mono", "x-y", "hybrid"):
        if label not in stats:
            continue
        s = stats[label]
        paper = paper_lareqa_summary("xlmr", label, "xquad-r") if label != "untuned" else {}
        rows.append({
            "strategy": strategy_name(label, prose=False), "runs": s["mono_map"]["n"],
            **{f"{m} (book)": s[f"{m}_map"]["mean"] for m in ("mono", "cross", "multi")},
            "rank distance (book)": s["rank_distance"]["mean"],
            **{f"{m} (paper)": paper.get(f"{m}_map", np.nan) for m in ("mono", "cross", "multi")},
            "rank distance (paper)": paper.get("rank_distance", np.nan),
        })
    return pd.DataFrame(rows)


def forest_plot(overview: pd.DataFrame, path: str | Path) -> Path:
    """Write the claims figure to ``path`` (PNG) and return it.

    Two panels: the mAP claims (left, differences in mAP) and the rank-distance claims (right, in
    ranks). One line per claim; per recorded direction a marker at the difference with its 95%
    interval (the verdict as the marker: filled decided, hollow undecided, a filled square for
    "does not hold" / "opposite"); the grey band is the equivalence margin of a "matches" claim;
    the paper's differences as small black marks drawn over ours (x XLM-R, + LaBSE).
    """
    from hybrid_ir.book.plotting import PAGE_WIDTH, use_style

    use_style()
    ids = [c.id for c in PAPER_CLAIMS if c.id in set(overview["id"])]
    panels = [[i for i in ids if overview.loc[overview.id == i, "metric"].iloc[0] != "rank_distance"],
              [i for i in ids if overview.loc[overview.id == i, "metric"].iloc[0] == "rank_distance"]]
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 4.6), gridspec_kw={"width_ratios": [2.2, 1]},
                             layout="constrained")
    colors = {label: c for (_, label, _), c in zip(DIRECTIONS, ("#1f77b4", "#ff7f0e"), strict=True)}
    for ax, panel in zip(axes, panels, strict=True):
        for y, claim_id in enumerate(panel):
            rows = overview[overview.id == claim_id]
            margin = rows["margin"].iloc[0]
            if pd.notna(margin):
                ax.fill_betweenx([y - 0.4, y + 0.4], -margin, margin, color="0.85", zorder=0)
            for k, row in enumerate(rows.itertuples()):
                offset = -0.15 + 0.3 * k
                marker, filled = MARKERS.get(row.verdict, ("o", False))
                color = colors[row.transfer]
                ax.errorbar(row.difference, y + offset, xerr=[[row.difference - row.ci_low], [row.ci_high - row.difference]],
                            fmt="none", ecolor=color, elinewidth=1.4, capsize=2)
                ax.plot(row.paper_xlmr, y + offset, marker="x", color="black", markersize=5, linestyle="none",
                        zorder=5)
                ax.plot(row.paper_labse, y + offset, marker="+", color="black", markersize=6, linestyle="none",
                        zorder=5)
                ax.plot(row.difference, y + offset, marker=marker, markersize=7, color=color,
                        markerfacecolor=color if filled else "white", linestyle="none", zorder=4)
        ax.axvline(0, color="0.4", linewidth=0.8)
        ax.margins(x=0.1)  # room for a marker at the end of an interval, inside the frame
        ax.set_yticks(range(len(panel)))
        ax.set_yticklabels(panel)
        ax.set_ylim(len(panel) - 0.5, -0.5)
        ax.set_xlabel("a − b, ranks" if panel and panel[0].startswith("less-bias") else "a − b, mAP")
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="none", label=label) for label, c in colors.items()]
    handles += [plt.Line2D([], [], color="0.3", marker="o", linestyle="none", label="holds"),
                plt.Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="none", label="undecided"),
                plt.Line2D([], [], color="0.3", marker="D", linestyle="none", label="equivalent"),
                plt.Line2D([], [], color="0.3", marker="s", linestyle="none", label="does not hold / opposite"),
                plt.Line2D([], [], color="black", marker="x", linestyle="none", label="paper, XLM-R"),
                plt.Line2D([], [], color="black", marker="+", linestyle="none", label="paper, LaBSE")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False, fontsize="small")
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
