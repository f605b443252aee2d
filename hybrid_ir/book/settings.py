"""The settings the book's Markdown pages state, read from the recorded experiments at build time.

The introduction and the reproducibility page are plain Markdown, not notebooks, so they cannot
``glue`` a number. They write MyST substitutions instead (``{{ train_questions }}``), and
``tools/build_book.py`` fills them from :func:`book_settings` into the staged ``_config.yml``
(``parse.myst_substitutions``). Every value comes from a config under ``results/configs`` or from a
recorded run, so a page never states a step count, a length or a data size that the runs did not use.

Example::

    >>> from hybrid_ir.book.recorded import results_dir       # doctest: +SKIP
    >>> book_settings(results_dir())["train_questions"]       # doctest: +SKIP
    '1,030'
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

from hybrid_ir.book.profiles import PROFILES, Profile
from hybrid_ir.book.recorded import recorded_experiment
from hybrid_ir.errors import HybridIRError
from hybrid_ir.experiments.claims import MARGINS, PAPER_CLAIMS
from hybrid_ir.experiments.reproduce import ExperimentConfig, seed_folders, seeds_recorded
from hybrid_ir.training.config import TrainConfig

__all__ = ["DATASET_NAMES", "book_settings", "number_word"]

#: How the text writes the datasets the configs name in lower case.
DATASET_NAMES = {"xquad-r": "XQuAD-R", "mlqa-r": "MLQA-R"}

_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve"]


def number_word(n: int) -> str:
    """A count as English prose uses it: a word up to twelve, digits with separators above.

    >>> number_word(3), number_word(9), number_word(1030)
    ('three', 'nine', '1,030')
    """
    return _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"


def _first_run(exp: ExperimentConfig, strategy: str = "hybrid") -> Path:
    """The folder of the first recorded seed of ``strategy`` (its files describe the setting)."""
    for seed in exp.seeds:
        folder = Path(exp.folder) / strategy / f"seed{seed}"
        if (folder / "run.json").is_file():
            return folder
    raise FileNotFoundError(f"{exp.folder}: no recorded run of {strategy}")


def _training_questions(exp: ExperimentConfig) -> str:
    """The training questions of the recorded runs, e.g. "1,028 / 1,030": the validation split by
    article depends on the seed, so the count may differ between seeds."""
    totals = set()
    for label in exp.strategies:
        for folder in seed_folders(exp, label):
            path = folder / "exposure.json"
            if path.is_file():
                totals.add(json.loads(path.read_text(encoding="utf-8"))["trained"]["questions_total"])
    return " / ".join(f"{n:,}" for n in sorted(totals))


def _parallel_questions(run: Path) -> int:
    """Distinct parallel questions in a run's per-query ranks (one id per question, all languages)."""
    with gzip.open(run / "ranks.csv.gz", "rt", encoding="utf-8", newline="") as f:
        return len({row["parallel_id"] for row in csv.DictReader(f)})


def plan_text(exp: ExperimentConfig) -> str:
    """The runs of an experiment in words: ``3 strategies x 3 seeds``, or per strategy when they
    differ, with ``; k of n runs recorded so far`` until every planned run is recorded.

    Names the strategies as the configuration does (``x-x-mono-64 6, hybrid-128 6 ...``)."""
    from hybrid_ir.book.vocabulary import strategy_name
    from hybrid_ir.experiments.result_tables import finished

    counts = {label: len(exp.strategy_seeds(label)) for label in exp.strategies}
    if len(set(counts.values())) == 1:
        text = f"{len(counts)} strategies x {next(iter(counts.values()))} seeds"
    else:
        text = ", ".join(f"{strategy_name(label)}: {n} seeds" for label, n in counts.items())
    done, planned = finished(exp)
    return text if done >= planned else f"{text}; {done} of {planned} runs recorded so far"


def _drawn_range(exp: ExperimentConfig) -> str:
    """``55 to 62``: the fewest and most monolingual batches a hybrid run of ``exp`` drew."""
    from hybrid_ir.experiments.result_tables import exposure_table

    table = exposure_table([exp])
    drawn = table.loc[table.strategy == "hybrid", "mono batches"]
    return "not recorded yet" if drawn.empty else f"{int(drawn.min())} to {int(drawn.max())}"


def book_settings(results: str | Path) -> dict[str, str]:
    """Every value the Markdown pages substitute, as display strings, from the ``results/`` folder."""
    results = Path(results)
    main = recorded_experiment("mlqa-to-xquad", results)
    long = recorded_experiment("mlqa-to-xquad-128", results)
    run = _first_run(main)
    exposure = json.loads((run / "exposure.json").read_text(encoding="utf-8"))
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    train = json.loads((run / "run.json").read_text(encoding="utf-8"))["train_config"]
    default = TrainConfig()
    return {
        "train_questions": _training_questions(main),
        "train_dataset": ", ".join(DATASET_NAMES.get(d, d) for d in train["datasets"]),
        "eval_dataset": DATASET_NAMES.get(main.eval_dataset, main.eval_dataset),
        "eval_questions": f"{_parallel_questions(run):,}",
        "eval_languages": number_word(len(metrics["per_language"])),
        "seeds_per_strategy": number_word(seeds_recorded(main)),
        "seeds": str(seeds_recorded(main)),
        "train_languages": str(len({pair.split("-")[0] for pair in exposure["trained"]["triplets_by_pair"]})),
        "claims_tested": number_word(len(PAPER_CLAIMS)),
        "map_margin": f"{MARGINS['map'].value:g}",
        "main_steps": str(exposure["steps"]),
        "long_steps": str(_steps_of(long)),
        "cpu_batch": str(train["batch_size"]),
        "cpu_epochs": str(train["epochs"]),
        "cpu_lengths": f"{train['max_query_length']} / {train['max_passage_length']}",
        "default_lengths": f"{default.max_query_length} / {default.max_passage_length}",
        "cpu_temperature": f"{train['temperature']:g}",
        "default_temperature": f"{default.temperature:g}",
        "profile_lengths": _lengths(PROFILES["default"]),
        "colab_lengths": _lengths(PROFILES["colab"]),
        **_cut_shares(results / "token_lengths.json"),
        "main_plan": plan_text(main),
        "reverse_plan": plan_text(recorded_experiment("xquad-to-mlqa", results)),
        "long_plan": plan_text(long),
        "controlled_plan": plan_text(recorded_experiment("mlqa-to-xquad-controlled", results)),
        "long_drawn": _drawn_range(long),
    }


def _cut_shares(path: Path) -> dict[str, str]:
    """``xquad_c_cut_64`` -> ``16.6%``: the share of XQuAD-R candidate sentences longer than 64 tokens
    (``tools/token_lengths.py`` writes the file); ``q`` for questions, ``mlqa`` for MLQA-R."""
    if not path.is_file():
        raise HybridIRError(f"{path} is missing: write it with tools/token_lengths.py")
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for dataset, short in (("xquad-r", "xquad"), ("mlqa-r", "mlqa")):
        for kind, key in (("questions_cut", "q"), ("candidates_cut", "c")):
            for limit, share in data[dataset][kind].items():
                out[f"{short}_{key}_cut_{limit}"] = f"{share:.1%}"
    return out


def _lengths(prof: Profile) -> str:
    """``48 / 96``: a run profile's query / passage token limits."""
    return f"{prof.max_query_length} / {prof.max_passage_length}"


def _steps_of(exp: ExperimentConfig) -> int:
    """Training steps of the first recorded run of ``exp`` (0 when none is recorded yet)."""
    try:
        run = _first_run(exp)
    except FileNotFoundError:
        return 0
    return int(json.loads((run / "exposure.json").read_text(encoding="utf-8"))["steps"])
