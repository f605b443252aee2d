"""The displays of the walk-through chapters (1 data, 3 training) that are bookkeeping, not the idea.

Chapter 1 counts the pool of each benchmark (:func:`pool_sizes`); chapter 3 reads the trainer's
logs (:func:`read_log`), draws its live and recorded loss curves (:func:`plot_live_training`,
:func:`plot_recorded_validation`) and lists a recorded run's settings (:func:`recorded_settings`).
The chapters keep the calls that teach (the sampler, the loss, ``train``) and call these in one
line each.

Example::

    >>> from types import SimpleNamespace
    >>> xquad = SimpleNamespace(stats=lambda: {"languages": {
    ...     "en": {"questions": 2, "candidates": 9}, "de": {"questions": 2, "candidates": 8}}})
    >>> mlqa = SimpleNamespace(stats=lambda: {"languages": {
    ...     "en": {"questions": 3, "candidates": 20}}})
    >>> pool_sizes({"XQuAD-R": xquad, "MLQA-R": mlqa}).loc["total"].tolist()
    [4.0, 17.0, 3.0, 20.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from hybrid_ir.book.plotting import STRATEGY_COLORS, STRATEGY_LABELS
from hybrid_ir.book.recorded import read_json, required
from hybrid_ir.errors import HybridIRError

__all__ = [
    "plot_live_training",
    "plot_recorded_validation",
    "pool_sizes",
    "read_log",
    "recorded_settings",
]


def pool_sizes(datasets: Mapping[str, Any]) -> pd.DataFrame:
    """Questions and candidate sentences per language of each dataset, with a ``total`` row.

    ``datasets`` maps a display name to a dataset with ``stats()`` (a
    :class:`~hybrid_ir.data.lareqa.LareqaDataset`). Columns are ``(name, "questions" |
    "candidates")``; rows the languages in order of first appearance, missing ones NaN.
    """
    columns: dict[tuple[str, str], dict[str, int]] = {}
    languages: list[str] = []
    for name, ds in datasets.items():
        per_language = ds.stats()["languages"]
        languages += [lang for lang in per_language if lang not in languages]
        for kind in ("questions", "candidates"):
            columns[(name, kind)] = {lang: row[kind] for lang, row in per_language.items()}
    sizes = pd.DataFrame(columns, index=pd.Index(languages, name="language"), dtype=float)
    sizes.loc["total"] = sizes.sum(min_count=1)
    return sizes


def read_log(path: str | Path) -> pd.DataFrame:
    """A trainer's metrics log (``metrics.jsonl`` / ``train_log.jsonl``): one row per JSON line,
    with ``event`` (``"train"`` or ``"val"``), ``step`` and the losses."""
    rows = read_json(path, lines=True)
    if any(not isinstance(row, dict) or "event" not in row for row in rows):
        raise HybridIRError(f"{path}: a line without an 'event': not a trainer's metrics log")
    return pd.DataFrame(rows)


def plot_live_training(
    results: Mapping[str, Any], axes: Sequence[plt.Axes], *, chance: float
) -> None:
    """Training loss (``axes[0]``) and validation loss (``axes[1]``) of each live run.

    ``results`` maps a strategy label (``x-x-mono``, ``x-y``, ``hybrid``) to what
    :func:`hybrid_ir.training.trainer.train` returned (its ``metrics_path`` is read); ``chance``
    is drawn as a dotted line in both panels.
    """
    for label, result in results.items():
        log = read_log(result.metrics_path)
        tr, va = log[log.event == "train"], log[log.event == "val"]
        style = {"color": STRATEGY_COLORS[label], "label": STRATEGY_LABELS[label]}
        axes[0].plot(tr.step, tr.loss, alpha=0.8, **style)
        axes[1].plot(va.step, va.val_loss, "o-", **style)
    for ax in axes:
        ax.axhline(chance, color="0.3", lw=1, ls=":", label="chance")
        ax.set_xlabel("step")
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel("validation loss")
    axes[1].legend(fontsize="small")


def plot_recorded_validation(logs: Sequence[Path], ax: plt.Axes) -> None:
    """Validation loss of recorded runs, one line per log, coloured by strategy.

    ``logs`` are ``<experiment>/<strategy>/seed<k>/train_log.jsonl`` files; each strategy is
    named once in the legend.
    """
    labelled: set[str] = set()
    for path in logs:
        label = Path(path).parts[-3]
        va = read_log(path).query("event == 'val'")
        if not {"step", "val_loss"} <= set(va.columns):
            raise HybridIRError(f"{path}: validation lines without 'step' and 'val_loss'")
        name = None if label in labelled else STRATEGY_LABELS.get(label, label)
        labelled.add(label)
        colour = STRATEGY_COLORS.get(label)
        ax.plot(va.step, va.val_loss, "o-", color=colour, alpha=0.7, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # beside the lines, not on them


def recorded_settings(run_json: str | Path) -> pd.DataFrame:
    """The training settings of a recorded run (its ``run.json``), one row per setting, in a
    column ``recorded runs``; learning rate, weight decay and temperature as short text."""
    recorded = read_json(run_json)
    run = required(recorded, run_json, "train_config")
    keys = ("model", "batch_size", "lr", "weight_decay", "temperature", "epochs", "max_query_length",
            "max_passage_length", "freeze_embeddings")
    for key in keys:
        value = required(recorded, run_json, "train_config", key)
        if key in ("lr", "weight_decay", "temperature") and not isinstance(value, (int, float)):
            raise HybridIRError(f"{run_json}: 'train_config.{key}' is {value!r}, not a number")
    settings = {
        "encoder": run["model"],
        "batch size (triplets)": run["batch_size"],
        "learning rate": f"{run['lr']:g}",
        "weight decay": f"{run['weight_decay']:g}",
        "temperature": f"{run['temperature']:g}",
        "epochs": run["epochs"],
        "steps": required(recorded, run_json, "train_result", "steps"),
        "max tokens (query / passage)": (
            f"{run['max_query_length']} / {run['max_passage_length']}"
        ),
        "word embeddings": "frozen" if run["freeze_embeddings"] else "trained",
    }
    return pd.DataFrame({"recorded runs": settings}).rename_axis("setting")

