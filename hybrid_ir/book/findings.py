"""The introduction's results dashboard and findings, written from the recorded results at build time.

:func:`findings_markdown` reads ``claims.csv``, ``summary.json``, ``exposure.json`` and ``tatoeba.json``
of the recorded experiments and returns Markdown: the claims figure (:func:`hybrid_ir.book.dashboard.forest_plot`,
written into ``figure_dir``), a table of every claim in both directions, one sentence per claim made by
:mod:`hybrid_ir.book.vocabulary` from its claim row (so no sentence says more than its verdict), a table
of absolute levels, and the findings of the other experiments. ``tools/build_book.py`` puts it into the
introduction (at the ``<!-- findings -->`` marker), so no number on that page is typed by hand.

Example::

    >>> from hybrid_ir.book.recorded import results_dir     # doctest: +SKIP
    >>> print(findings_markdown(results_dir()))             # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hybrid_ir.book.dashboard import DIRECTIONS, claims_overview, forest_plot, levels_table
from hybrid_ir.book.recorded import recorded_experiment
from hybrid_ir.book.settings import number_word
from hybrid_ir.book.vocabulary import VERDICT_WORDS, claim_sentence, signed, strategy_name
from hybrid_ir.experiments.reproduce import UNTUNED, ExperimentConfig
from hybrid_ir.experiments.result_tables import exposure_table, finished, read_claims, tatoeba_table

__all__ = ["FIGURE", "findings_markdown"]

CH8 = "[chapter 8](../notebooks/08_reproduction.ipynb)"
CH11 = "[chapter 11](../notebooks/11_robustness.ipynb)"
FIGURE = "claims_dashboard.png"


def _where(exp: ExperimentConfig | None = None, chapter: str = CH8) -> str:
    """"(chapter 8)", with "k of n runs recorded so far" when the experiment is not complete."""
    if exp is not None:
        done, planned = finished(exp)
        if done < planned:
            return f"({done} of {planned} runs recorded so far; {chapter})"
    return f"({chapter})"


def _figure_block(overview: pd.DataFrame, figure_dir: Path) -> str:
    forest_plot(overview, figure_dir / FIGURE)
    return (
        f"```{{figure}} {FIGURE}\n:name: fig-claims-dashboard\n:width: 100%\n"
        ":alt: For each of the paper's claims, the difference between the two strategies it compares, with its "
        "95% interval, in both directions, and the paper's own differences\n\n"
        "Every claim of the paper, tested on the recorded runs. Each line is one claim (its short id; the table "
        "below gives the words): a − b with its 95% interval for MLQA-R → XQuAD-R (blue) and XQuAD-R → MLQA-R "
        "(orange). A filled marker is a decided verdict (a diamond: equivalent within the margin, a square: does "
        "not hold or the opposite holds), a hollow one is undecided. The grey band is the ±margin of a "
        "\"keeps\" / \"matches\" claim; black marks are the paper's differences on the same test set (x XLM-R, "
        "+ LaBSE). Left: mAP; right: rank distance in ranks (lower is less language bias).\n```\n\n"
    )


def _cell(row: pd.Series) -> str:
    digits = 1 if row["metric"] == "rank_distance" else 4
    paper = f"{signed(row['paper_xlmr'], digits)} / {signed(row['paper_labse'], digits)}"
    return f"{VERDICT_WORDS[row['verdict']]}: {signed(row['difference'], digits)} (paper {paper})"


def _claims_table(overview: pd.DataFrame) -> str:
    labels = [label for _, label, _ in DIRECTIONS if label in set(overview.transfer)]
    lines = ["```{table} The paper's claims in both directions: verdict and difference a − b (mean over seeds), "
             "with the paper's difference on the same test set (XLM-R / LaBSE). mAP in mAP units, rank "
             "distance in ranks.\n:name: tab-claims-overview\n",
             "| claim | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for claim_id, rows in overview.groupby("id", sort=False):
        by_direction = {r["transfer"]: _cell(r) for _, r in rows.iterrows()}
        lines.append(f"| {rows['claim'].iloc[0]} (`{claim_id}`) | "
                     + " | ".join(by_direction.get(label, "not run") for label in labels) + " |")
    return "\n".join(lines) + "\n```\n\n"


def _run_steps(root: Path, folder: str) -> frozenset[int]:
    """The optimiser steps of a direction's recorded runs (``train_result.steps`` of each run.json)."""
    return frozenset(
        int(json.loads(path.read_text(encoding="utf-8"))["train_result"]["steps"])
        for path in (root / folder).glob("*/seed*/run.json"))


def _direction_differences(root: Path, overview: pd.DataFrame) -> str:
    """What the recorded directions differ in, e.g. "training set, evaluation set and steps": the data
    always, the steps and the number of seeds only when the recorded runs differ in them."""
    parts = ["training set", "evaluation set"]
    steps = {_run_steps(root, folder) for folder, label, _ in DIRECTIONS if label in set(overview.transfer)}
    if len(steps) > 1:
        parts.append("steps")
    seeds = {label: set(zip(rows.seeds_a, rows.seeds_b, strict=True))
             for label, rows in overview.groupby("transfer")}
    if len({frozenset(v) for v in seeds.values()}) > 1:
        parts.append("number of seeds")
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _claim_sentences(overview: pd.DataFrame, differences: str) -> list[str]:
    lines = []
    for claim_id, rows in overview.groupby("id", sort=False):
        parts = []
        for _, r in rows.iterrows():
            a, b = int(r["seeds_a"]), int(r["seeds_b"])
            runs = f"{a} seeds each" if a == b else f"{a} and {b} seeds"
            parts.append(f"{r['transfer']}: {claim_sentence(r, runs)}")
        verdicts = set(rows.verdict)
        agree = ("The two directions give the same verdict." if len(verdicts) == 1 else
                 f"**The two directions give different verdicts**; they differ in {differences}, so this "
                 "does not show which of these moves the verdict.")
        lines.append(f"**Claim: “{rows['claim'].iloc[0]}”** (`{claim_id}`). "
                     + " ".join(p + "." for p in parts) + (f" {agree}" if len(rows) > 1 else ""))
    return lines


def _levels_block(levels: pd.DataFrame) -> str:
    if levels.empty:
        return ""
    head = ("```{table} Absolute levels, MLQA-R → XQuAD-R: mean over the recorded runs of the book's encoder, "
            "with the paper's XLM-R numbers on XQuAD-R (its strongest setting is LaBSE; see chapter 4). "
            "Rank distance in ranks.\n:name: tab-levels\n")
    rows = ["| strategy | runs | mono | cross | multi | rank dist. | paper mono | paper cross | paper multi | "
            "paper rank dist. |", "|---" * 10 + "|"]
    for r in levels.itertuples(index=False):
        values = list(r)
        cells = [str(values[0]), str(values[1])] + [
            "–" if pd.isna(v) else (f"{v:,.1f}" if i in (3, 7) else f"{v:.3f}") for i, v in enumerate(values[2:])]
        rows.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n```\n\n"


def _controlled_design(controlled: ExperimentConfig) -> str:
    """The controlled experiment's pair in words, from its recorded runs and configuration: the
    batches of hybrid and X-X-mono and what still differs (the passes over the data)."""
    exposure = exposure_table([controlled])
    design = exposure.groupby("strategy")[["steps", "mono batches"]].max() if len(exposure) else None
    passes = {label: s.get("epochs") for label, s in controlled.strategies.items()}
    if design is None or not {"hybrid-128", "x-x-mono-64"} <= set(design.index):
        return "hybrid at equal monolingual batches against X-X-mono"
    hybrid, mono = design.loc["hybrid-128"], design.loc["x-x-mono-64"]
    return (f"hybrid with exactly {int(hybrid['mono batches'])} monolingual and "
            f"{int(hybrid['steps'] - hybrid['mono batches'])} cross-lingual batches against X-X-mono with "
            f"the same {int(mono['mono batches'])} monolingual batches alone; what still differs is "
            f"{number_word(passes['hybrid-128'])} passes over the data instead of "
            f"{number_word(passes['x-x-mono-64'])} and where the monolingual batches sit")


def _other_findings(root: Path) -> list[str]:
    lines = []
    main = recorded_experiment("mlqa-to-xquad", root)
    controlled = recorded_experiment("mlqa-to-xquad-controlled", root)
    claims = read_claims(controlled)
    ran = claims[claims.verdict != "not run"] if not claims.empty else claims
    if not ran.empty:
        sentences = " ".join(f"Claim “{r['claim']}”: {claim_sentence(r)}." for _, r in ran.iterrows())
        lines.append(
            "**The controlled exposure experiment** (constant learning rate, last-step weights, "
            f"{_controlled_design(controlled)}). {sentences} {_where(controlled, CH11)}.")
    exp128 = recorded_experiment("mlqa-to-xquad-128", root)
    exposure = exposure_table([main, exp128])
    if not exposure.empty and (exposure.experiment == exp128.name).any():
        hyb = exposure[(exposure.experiment == exp128.name) & (exposure.strategy == "hybrid")]
        mono = exposure[(exposure.experiment == main.name) & (exposure.strategy == "x-x-mono")]
        lines.append(
            f"**Equal steps are not equal data.** Trained for twice the steps, hybrid expects the number of "
            f"monolingual batches X-X-mono trains on in the main experiment (a coin decides each batch); "
            f"its runs drew {', '.join(str(int(v)) for v in hyb['mono batches'])} "
            f"(mean {hyb['mono batches'].mean():.0f}) against X-X-mono's "
            f"{mono['mono batches'].mean():.0f}, with a different learning-rate schedule and number of epochs; "
            f"the controlled exposure experiment {'above' if not ran.empty else '(no verdict recorded yet)'} "
            f"holds the schedule and the monolingual batch count equal {_where(exp128, CH11)}.")
    tatoeba = tatoeba_table(main)
    if not tatoeba.empty and (tatoeba.strategy == UNTUNED).any():
        base = float(tatoeba.loc[tatoeba.strategy == UNTUNED, "mean"].iloc[0])
        trained = ", ".join(f"{strategy_name(r.strategy)} {r.mean:.1%} ({r.runs} run{'s' if r.runs > 1 else ''})"
                            for r in tatoeba.itertuples() if r.strategy != UNTUNED)
        scored, planned = int(tatoeba["runs"].sum()), finished(main)[1]
        where = (f"({scored} of the experiment's {planned} planned runs scored on Tatoeba so far; {CH11})"
                 if scored < planned else f"({CH11})")
        lines.append(f"**Tatoeba bitext retrieval**, which no strategy trains: the untuned encoder finds the "
                     f"translation first for {base:.1%} of the sentences; after fine-tuning {trained} {where}.")
    return lines


def findings_markdown(root: str | Path, figure_dir: str | Path | None = None) -> str:
    """The dashboard and findings (Markdown) from the ``results/`` folder ``root``. With ``figure_dir``
    the claims figure is written there and shown; without it the page gets the tables and sentences."""
    root = Path(root)
    overview = claims_overview(root)
    if overview.empty:
        return "No recorded results yet: `hybrid-ir reproduce --config results/configs/mlqa-to-xquad.yaml`.\n"
    text = ""
    if figure_dir is not None:
        text += _figure_block(overview, Path(figure_dir))
        text += ("{numref}`fig-claims-dashboard` and {numref}`tab-claims-overview` give every claim in both "
                 "directions; the sentences below say each in words, and {numref}`tab-levels` gives the "
                 "levels the differences move.\n\n")
    else:
        text += ("{numref}`tab-claims-overview` gives every claim in both directions; the sentences below say "
                 "each in words, and {numref}`tab-levels` gives the levels the differences move.\n\n")
    text += _claims_table(overview)
    text += ("How to read the verdicts: each interval is the 95% interval of one difference on its own, while "
             "a verdict is decided on Holm-adjusted p-values (one family per experiment), so an interval that "
             "excludes zero can still go with an undecided verdict when the adjusted p-value is 0.05 or more.\n\n")
    text += "\n".join(f"- {line}" for line in _claim_sentences(overview, _direction_differences(root, overview))) + "\n\n"
    text += _levels_block(levels_table(root))
    other = _other_findings(root)
    if other:
        text += "\n".join(f"- {line}" for line in other) + "\n"
    return text
