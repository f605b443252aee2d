"""The line "expected: ..." of a chapter's first cell: what it runs live in a profile, and for how long.

Computed from the profile's sizes and *measured* rates: the CPU rates are the medians of the recorded
runs (``results/``), the ``ci`` profile's times are measured by every build; GPU times are said to be
unmeasured until they are.
"""

from __future__ import annotations

import json

from hybrid_ir.book import profiles
from hybrid_ir.book.profiles import Profile
from hybrid_ir.book.recorded import results_dir
from hybrid_ir.errors import HybridIRError

#: What each chapter runs live, for :func:`expected_time`: training runs of ``train_steps`` steps and
#: full live evaluations (XQuAD-R, the profile's languages and question cap).
CHAPTER_WORK: dict[str, dict[str, float]] = {
    "03_training": {"train_runs": 3.5, "evaluations": 0},  # three strategies + a half run resumed
    "04_evaluation": {"train_runs": 0, "evaluations": 1},
    "05_language_bias": {"train_runs": 0, "evaluations": 1},
    "06_miracl": {"train_runs": 0, "evaluations": 0, "extra_texts": 132_000},  # online: MIRACL-sw's passages
    "07_choosing_alpha": {"train_runs": 5, "evaluations": 5},
    "09_sentence_transformers": {"train_runs": 1, "evaluations": 1},
}
#: XQuAD-R sizes (shared data README): questions per language and candidates in all 11 languages.
XQUAD_R_QUESTIONS_PER_LANGUAGE, XQUAD_R_CANDIDATES, XQUAD_R_LANGUAGES = 1190, 13014, 11


def _recorded_cpu_rates() -> tuple[float, float] | None:
    """(seconds per training triplet, texts encoded per second) of multilingual-e5-small on this
    project's 2-core CPU, as medians over the recorded main-experiment runs (``run.json``), or None."""
    import statistics

    try:
        folder = results_dir() / "mlqa-r_to_xquad-r"
    except HybridIRError:
        return None
    per_triplet, per_text = [], []
    for path in folder.glob("*/seed*/run.json"):
        run = json.loads(path.read_text(encoding="utf-8"))
        steps = (run.get("train_result") or {}).get("steps")
        batch = (run.get("train_config") or {}).get("batch_size")
        if steps and batch and run.get("train_seconds") and run.get("eval_seconds"):
            per_triplet.append(run["train_seconds"] / (steps * batch))
            per_text.append((XQUAD_R_LANGUAGES * XQUAD_R_QUESTIONS_PER_LANGUAGE + XQUAD_R_CANDIDATES)
                            / run["eval_seconds"])
    if not per_triplet:
        return None
    return statistics.median(per_triplet), statistics.median(per_text)


def expected_time(prof: Profile, chapter: str) -> str:
    """One line: what ``chapter`` runs live in ``prof`` and how long that should take, computed from
    the profile's sizes and *measured* rates, and labelled as an estimate where no rate was measured.

    CPU rates are the medians of the recorded runs (multilingual-e5-small, 2 cores, fp32); the
    ``ci`` profile's times are measured by every CI build (``_build/execution.json``); GPU times are
    not measured for the chapters and are given as such.
    """
    work = CHAPTER_WORK.get(chapter)
    if work is None:
        return "no live training or evaluation: about a minute"
    triplets = work["train_runs"] * prof.train_steps * prof.batch_size
    langs = len(prof.eval_languages) if prof.eval_languages else XQUAD_R_LANGUAGES
    questions = min(prof.max_queries_per_language or XQUAD_R_QUESTIONS_PER_LANGUAGE, XQUAD_R_QUESTIONS_PER_LANGUAGE)
    texts = work["evaluations"] * langs * (questions + XQUAD_R_CANDIDATES / XQUAD_R_LANGUAGES)
    texts += work.get("extra_texts", 0) if prof.name != "ci" else 0
    parts = []
    if work["train_runs"]:
        parts.append(f"{work['train_runs']:g} training run(s) of {prof.train_steps} steps x {prof.batch_size} triplets")
    if texts:
        parts.append(f"about {texts:,.0f} texts encoded")
    plan = ", ".join(parts) or "no live training and no large encoding"
    if prof.name == "ci":
        return f"{plan}; ci sizes: the time of each chapter is measured by every build (_build/execution.json)"
    if profiles.has_gpu():
        return f"{plan}; on a GPU: not measured for this chapter (estimate: minutes)"
    rates = _recorded_cpu_rates()
    if rates is None or "e5-small" not in prof.train_encoder + prof.encoder:
        return f"{plan}; no measured rate for this model on a CPU"
    seconds = triplets * rates[0] + texts / rates[1]
    when = "under a minute" if seconds < 60 else f"about {seconds / 60:,.0f} min"
    return (f"{plan}; {when} at the rates the recorded runs measured on 2 CPU cores "
            f"({rates[0]:.2f} s per training triplet, {rates[1]:.0f} texts/s in fp32)")
