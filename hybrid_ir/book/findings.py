"""The book's findings in a few sentences, written from the recorded results at build time.

:func:`findings_markdown` reads ``claims.csv``, ``summary.csv``, ``exposure.json`` and ``tatoeba.json``
of the recorded experiments and returns a Markdown list: each statement with its number, its 95%
interval and the chapter that shows the evidence. ``tools/build_book.py`` puts it into the
introduction (at the ``<!-- findings -->`` marker), so no number on that page is typed by hand and a
new recorded run changes the page on the next build. Statements about experiments that have no
recorded run yet are left out; an experiment with fewer runs than planned says so.

Example::

    >>> from hybrid_ir.book.chapters import results_dir     # doctest: +SKIP
    >>> print(findings_markdown(results_dir()))             # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hybrid_ir.book.chapters import recorded_experiment
from hybrid_ir.book.settings import DATASET_NAMES, number_word
from hybrid_ir.experiments.findings import (
    cross_experiment_test,
    exposure_table,
    finished,
    read_claims,
    tatoeba_table,
)
from hybrid_ir.experiments.reproduce import UNTUNED, ExperimentConfig, seeds_recorded

__all__ = ["findings_markdown"]

CH8 = "[chapter 8](../notebooks/08_reproduction.ipynb)"


def _diff(row: pd.Series, digits: int = 4) -> str:
    return f"{row.difference:+.{digits}f} (95% CI {row.ci_low:+.{digits}f} to {row.ci_high:+.{digits}f})"


def _claim(claims: pd.DataFrame, text: str) -> pd.Series | None:
    hit = claims[claims.claim == text]
    return None if hit.empty or hit.iloc[0].verdict == "not run" else hit.iloc[0]


def _where(exp: ExperimentConfig | None = None) -> str:
    """"(chapter 8)", with "k of n runs recorded so far" when the experiment is not complete."""
    if exp is not None:
        done, planned = finished(exp)
        if done < planned:
            return f"({done} of {planned} runs recorded so far; {CH8})"
    return f"({CH8})"


MONO_HEADLINE = {
    "does not hold": "Hybrid batches do not keep the monolingual quality of monolingual-only training here.",
    "no significant difference": "Hybrid batches keep monolingual quality, as far as {seeds} seeds can tell.",
    "holds": "Hybrid batches beat monolingual-only training even on monolingual retrieval.",
}


def findings_markdown(root: str | Path) -> str:
    """The findings list (Markdown) from the ``results/`` folder ``root``; every statement, including
    its headline, follows from the recorded numbers and verdicts."""
    root = Path(root)
    main = recorded_experiment("mlqa-to-xquad", root)
    claims = read_claims(main)
    lines: list[str] = []
    if not claims.empty:
        lines += _main_findings(claims, main)
    exp128 = recorded_experiment("mlqa-to-xquad-128", root)
    recorded = exposure_table([main, exp128])
    steps = recorded.groupby("experiment")["steps"].max() if len(recorded) else pd.Series(dtype=int)
    main_steps, long_steps = (int(steps.get(e.name, 0)) for e in (main, exp128))
    exp_last = recorded_experiment("mlqa-to-xquad-128-last", root)  # the same runs, last step exported
    exact = cross_experiment_test((exp_last, "hybrid"), (main, "x-x-mono"), "mono_ap")
    equal = exact if exact is not None else cross_experiment_test((exp128, "hybrid"), (main, "x-x-mono"), "mono_ap")
    if equal is not None:
        if equal.p_value < 0.05:
            head = ("Twice the training steps do not close the monolingual gap." if equal.difference < 0 else
                    "With twice the training steps, hybrid overtakes X-X-mono on monolingual retrieval.")
        else:
            head = "With twice the training steps, hybrid is level with X-X-mono on monolingual retrieval."
        exposure = exposure_table([exp128, main])
        hyb = exposure[(exposure.experiment == exp128.name) & (exposure.strategy == "hybrid")]
        mono = exposure[(exposure.experiment == main.name) & (exposure.strategy == "x-x-mono")]
        seen = ""
        if exact is not None:
            seen = (f" The hybrid weights compared are those of each run's last step, so they have seen as many "
                    f"monolingual batches as X-X-mono's in expectation ({hyb['mono batches'].mean():.0f} on average "
                    f"against {mono['mono batches'].mean():.0f}).")
        elif not hyb.empty and not mono.empty:
            seen = (f" Hybrid trained on {hyb['mono batches'].mean():.0f} monolingual batches on average, but the "
                    f"weights kept by the lowest validation loss had seen {hyb['mono batches at export'].mean():.0f}"
                    f" (X-X-mono at {main_steps} steps: {mono['mono batches at export'].mean():.0f}), so the match holds for "
                    "training, not for the exported weights.")
        lines.append(
            f"**{head}** Trained for {long_steps} steps, so that it trains on as many monolingual batches as "
            f"X-X-mono at {main_steps}, "
            f"hybrid minus X-X-mono on monolingual mAP is {equal.difference:+.4f} (95% CI {equal.low:+.4f} to "
            f"{equal.high:+.4f}).{seen} {_where(exp_last if exact is not None else exp128)}."
        )
    reverse = recorded_experiment("xquad-to-mlqa", root)
    rev = read_claims(reverse)
    if not rev.empty and not claims.empty:
        both = claims[["claim", "verdict"]].merge(rev[["claim", "verdict"]], on="claim", suffixes=("", "_rev"))
        ran = both[both.verdict_rev != "not run"]
        same = int((ran.verdict == ran.verdict_rev).sum())
        lines.append(
            f"**The reverse direction** (train on XQuAD-R, test on MLQA-R) gives the same verdict on {same} of "
            f"the {len(ran)} claims it can test {_where(reverse)}."
        )
    tatoeba = tatoeba_table(main)
    if not tatoeba.empty and (tatoeba.strategy == UNTUNED).any():
        base = float(tatoeba.loc[tatoeba.strategy == UNTUNED, "mean"].iloc[0])
        text = (f"**Tatoeba bitext retrieval**, which no strategy trains: the untuned encoder finds the "
                f"translation first for {base:.1%} of the sentences")
        t128 = tatoeba_table(exp128)
        if not t128.empty:
            text += f"; after {long_steps} steps of fine-tuning " + ", ".join(f"{r.strategy} {r.mean:.1%}" for r in t128.itertuples())
        lines.append(f"{text} {_where(exp128 if not t128.empty else None)}.")
    exposure = exposure_table([main])
    if not exposure.empty:
        share = exposure.groupby("strategy")["English share"].mean()
        lines.append(
            f"**Equal steps are not equal data.** At {main_steps} steps English is on one side of "
            f"{share.get('x-x-mono', float('nan')):.0%} of X-X-mono's training triplets, "
            f"{share.get('hybrid', float('nan')):.0%} of hybrid's and {share.get('x-y', float('nan')):.0%} of "
            f"X-Y's {_where()}."
        )
    if not lines:
        return "No recorded results yet: `hybrid-ir reproduce --config results/configs/mlqa-to-xquad.yaml`.\n"
    return "\n".join(f"- {line}" for line in lines) + "\n"


def _main_findings(claims: pd.DataFrame, main: ExperimentConfig) -> list[str]:
    lines = []
    xy = _claim(claims, "X-Y costs monolingual quality against X-X-mono")
    mono = _claim(claims, "hybrid keeps the monolingual quality of X-X-mono")
    cross = _claim(claims, "hybrid matches X-Y on cross-lingual retrieval")
    multi = _claim(claims, "hybrid matches X-Y on multilingual retrieval")
    bias_mono = _claim(claims, "hybrid has less language bias than X-X-mono")
    bias_xy = _claim(claims, "hybrid has less language bias than X-Y")
    if xy is not None:
        head = ("The trade-off the method addresses is real here." if xy.verdict == "holds" else
                "The trade-off the method addresses does not show clearly here.")
        lines.append(
            f"**{head}** Cross-lingual (X-Y) minus monolingual-only (X-X-mono) batches, monolingual mAP on "
            f"{DATASET_NAMES.get(main.eval_dataset, main.eval_dataset)}: {_diff(xy)}, "
            f"{number_word(seeds_recorded(main))} seeds each {_where(main)}."
        )
    if mono is not None:
        head = MONO_HEADLINE.get(mono.verdict, f"Hybrid against X-X-mono on monolingual retrieval: {mono.verdict}.")
        head = head.format(seeds=number_word(seeds_recorded(main)))
        lines.append(f"**{head}** Hybrid minus X-X-mono, monolingual mAP: {_diff(mono)} {_where(main)}.")
    if cross is not None and multi is not None:
        level = cross.verdict == multi.verdict == "no significant difference"
        head = ("On cross-lingual and multilingual retrieval hybrid is level with X-Y." if level else
                f"Hybrid against X-Y: cross-lingual *{cross.verdict}*, multilingual *{multi.verdict}*.")
        lines.append(
            f"**{head}** Hybrid minus X-Y: cross mAP {_diff(cross)}, multi mAP {_diff(multi)}, with the "
            f"run-to-run variation taken into account {_where(main)}."
        )
    if bias_mono is not None and bias_xy is not None:
        lines.append(
            f"**Language bias: less than X-X-mono ({bias_mono.verdict}), less than X-Y ({bias_xy.verdict}).** "
            f"Rank distance, hybrid minus X-X-mono {_diff(bias_mono, 1)}; hybrid minus X-Y "
            f"{_diff(bias_xy, 1)} {_where(main)}."
        )
    return lines
