"""The line "expected: ..." of a chapter's first cell: what it runs live in a profile, and for how long.

Computed from the profile's sizes and *measured* rates: the CPU rates are the medians of the recorded
runs (``results/``); the ``ci`` profile's times are measured, chapter by chapter, by a full build
(``book/chapter_times.json``, written by ``tools/build_book.py --record-times``); another profile's
times are measured where ``tools/time_chapters.py`` timed a chapter (``book/chapter_times_<profile>.json``)
and estimated elsewhere; GPU times are said to be unmeasured until they are.
"""

from __future__ import annotations

import json
from pathlib import Path

from hybrid_ir.book import profiles
from hybrid_ir.book.profiles import Profile
from hybrid_ir.book.recorded import repo_root, results_dir
from hybrid_ir.env import cpu_model
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
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged record gives no rate; `hybrid-ir reproduce --list` names it
        if not isinstance(run, dict) or (run.get("train_result") or {}).get("resumed_from") is not None:
            continue  # a resumed run's train_seconds counts only the time after the resume
        steps = (run.get("train_result") or {}).get("steps")
        batch = (run.get("train_config") or {}).get("batch_size")
        if steps and batch and run.get("train_seconds") and run.get("eval_seconds"):
            per_triplet.append(run["train_seconds"] / (steps * batch))
            per_text.append((XQUAD_R_LANGUAGES * XQUAD_R_QUESTIONS_PER_LANGUAGE + XQUAD_R_CANDIDATES)
                            / run["eval_seconds"])
    if not per_triplet:
        return None
    return statistics.median(per_triplet), statistics.median(per_text)


#: Where a full ``ci`` build records every chapter's execution time, relative to the repository root.
CHAPTER_TIMES = Path("book") / "chapter_times.json"


def chapter_times_path() -> Path | None:
    """The repository's :data:`CHAPTER_TIMES` file (None outside a checkout, e.g. a bare Colab)."""
    root = repo_root()
    return None if root is None else root / CHAPTER_TIMES


def measured_seconds(chapter: str) -> tuple[float, str] | None:
    """(seconds, machine) of ``chapter`` in the recorded ``ci`` build, or None when not recorded."""
    path = chapter_times_path()
    if path is None or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        seconds = record["seconds"].get(f"{chapter}.ipynb")
        return None if seconds is None else (float(seconds), str(record.get("machine", "unknown machine")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HybridIRError(f"{path}: not a record of chapter times ({exc}); rebuild it with "
                            "tools/build_book.py --record-times") from None


#: Where ``tools/time_chapters.py`` records the chapters it timed in a profile other than ``ci``,
#: chapter by chapter (``{profile}`` is the profile's name), relative to the repository root.
PROFILE_TIMES = "book/chapter_times_{profile}.json"


def machine_name() -> str:
    """'Intel(R) Xeon(R) Processor, 2 cores': this machine's CPU (from /proc/cpuinfo) and core count."""
    import os

    return f"{cpu_model()}, {os.cpu_count()} cores"


def profile_times_path(profile: str) -> Path | None:
    """The repository's :data:`PROFILE_TIMES` file of ``profile`` (None outside a checkout)."""
    root = repo_root()
    return None if root is None else root / PROFILE_TIMES.format(profile=profile)


def measured_in_profile(chapter: str, profile: str) -> dict | None:
    """What ``tools/time_chapters.py`` measured for ``chapter`` in ``profile``: ``seconds``,
    ``machine``, ``date``, ``commit``, ``network``; None when it was not timed there."""
    path = profile_times_path(profile)
    if path is None or not path.is_file():
        return None
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))["chapters"].get(f"{chapter}.ipynb")
        if entry is None:
            return None
        return {**entry, "seconds": float(entry["seconds"])}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HybridIRError(f"{path}: not a record of chapter times ({exc}); time the chapters again with "
                            "tools/time_chapters.py") from None


def minutes_text(seconds: float) -> str:
    """``under a minute`` / ``12 min`` (rounded to whole minutes).

    >>> minutes_text(42.0), minutes_text(719.0)
    ('under a minute', '12 min')
    """
    return "under a minute" if seconds < 60 else f"{seconds / 60:,.0f} min"


def measured_text(entry: dict) -> str:
    """``12 min (measured 2026-12-01, offline, empty cache, Intel ..., 2 cores)`` for a
    :func:`measured_in_profile` entry."""
    cache = f", {entry['cache']} cache" if entry.get("cache") else ""
    return f"{minutes_text(entry['seconds'])} (measured {entry['date']}, {entry['network']}{cache}, {entry['machine']})"


def profile_time_text(prof: Profile, chapter: str, rates: tuple[float, float] | None = None) -> str:
    """The time of ``chapter`` in ``prof`` on a 2-core CPU for the reproducibility page's table:
    ``2 min (measured)`` where ``tools/time_chapters.py`` timed it (a chapter whose online run
    downloads a corpus, timed offline, keeps the online estimate beside it), else ``estimate: ...``
    or ``not estimated``. The table's caption says how and where (:func:`measured_conditions`)."""
    timed = measured_in_profile(chapter, prof.name)
    estimate = cpu_estimate(prof, chapter, rates)
    if timed is None:
        return estimate if estimate == "not estimated" else f"estimate: {estimate}"
    return f"{minutes_text(timed['seconds'])} (measured)" + _online_note(timed, chapter, estimate)


def elsewhere_time(prof: Profile, chapter: str) -> str | None:
    """The line under "expected: ..." in the ``ci`` profile (the rendered book): how long the chapter
    takes in the reader's profiles, the default profile on 2 CPU cores (measured or labelled an
    estimate, :func:`profile_time_text`) and the Colab profile on a GPU (not measured: no GPU time is
    written that was not measured). None in the other profiles, whose "expected" line says it."""
    if prof.name != "ci":
        return None
    default = profile_time_text(profiles.PROFILES["default"], chapter)
    return (f"default profile on 2 CPU cores: {default}; Colab profile on a GPU: not measured "
            "(every chapter's times: the reproducibility page)")


def measured_conditions(profile: str, chapters: list[str]) -> str | None:
    """How the timed chapters of ``profile`` were measured, for a caption: ``on 2026-12-01, offline,
    each chapter with an empty cache, on Intel ..., 2 cores``; None when none was timed."""
    entries = [e for e in (measured_in_profile(c, profile) for c in chapters) if e is not None]
    if not entries:
        return None

    def values(key: str) -> str:
        return " and ".join(sorted({str(e.get(key, "unknown")) for e in entries}))

    return (f"on {values('date')}, {values('network')}, each chapter with an {values('cache')} cache, "
            f"on {values('machine')}")


def _online_note(timed: dict, chapter: str, estimate: str) -> str:
    if timed.get("network") == "offline" and CHAPTER_WORK.get(chapter, {}).get("extra_texts"):
        return f"; online, with the corpus it downloads: estimate {estimate}"
    return ""


def cpu_estimate(prof: Profile, chapter: str, rates: tuple[float, float] | None = None) -> str:
    """``about 30 min``: the live work of ``chapter`` in ``prof`` at the recorded 2-core CPU rates
    (``rates``, default :func:`_recorded_cpu_rates`): an estimate, the profile's sizes times measured
    rates, not a timed run of the chapter. ``not estimated`` where the chapter's work is not listed
    in :data:`CHAPTER_WORK` or no rate was measured for the profile's encoders."""
    work = CHAPTER_WORK.get(chapter)
    rates = _recorded_cpu_rates() if rates is None else rates
    if work is None or rates is None or not _rates_apply(prof, work):
        return "not estimated"
    seconds = _live_triplets(prof, work) * rates[0] + _live_texts(prof, work) / rates[1]
    return "under a minute" if seconds < 60 else f"about {seconds / 60:,.0f} min"


def _rates_apply(prof: Profile, work: dict[str, float]) -> bool:
    """The recorded rates are multilingual-e5-small's: they apply when every encoder the chapter runs
    live (trained, evaluated) is one."""
    used = ([prof.train_encoder] if work["train_runs"] else []) + ([prof.encoder] if work["evaluations"] else [])
    return all("e5-small" in name for name in used)


def _live_triplets(prof: Profile, work: dict[str, float]) -> float:
    return work["train_runs"] * prof.train_steps * prof.batch_size


def _live_texts(prof: Profile, work: dict[str, float]) -> float:
    langs = len(prof.eval_languages) if prof.eval_languages else XQUAD_R_LANGUAGES
    questions = min(prof.max_queries_per_language or XQUAD_R_QUESTIONS_PER_LANGUAGE, XQUAD_R_QUESTIONS_PER_LANGUAGE)
    texts = work["evaluations"] * langs * (questions + XQUAD_R_CANDIDATES / XQUAD_R_LANGUAGES)
    return texts + (work.get("extra_texts", 0) if prof.name != "ci" else 0)


def _runs_text(runs: float) -> str:
    """``1 training run``, ``5 training runs``, ``3 training runs and half a run`` (3.5: the resume demo).

    >>> _runs_text(1), _runs_text(3.5)
    ('1 training run', '3 training runs and half a run')
    """
    whole = int(runs)
    text = f"{whole} training run{'s' if whole != 1 else ''}"
    return text + (" and half a run" if runs - whole else "")


def _two_figures(n: float) -> int:
    """``n`` rounded to two significant figures: an estimate printed no more precisely than it is.

    >>> _two_figures(4149), _two_figures(87.4), _two_figures(123456)
    (4100, 87, 120000)
    """
    whole = round(n)
    return round(whole, -max(0, len(str(abs(whole))) - 2))


def expected_time(prof: Profile, chapter: str) -> str:
    """One line: what ``chapter`` runs live in ``prof`` and how long that takes: the ``ci`` build's
    measured time of the whole chapter (:data:`CHAPTER_TIMES`), and for the other profiles an
    estimate from the profile's sizes and the rates the recorded runs measured (labelled so); GPU
    times are not measured and are given as such.
    """
    work = CHAPTER_WORK.get(chapter)
    measured = measured_seconds(chapter)
    ci = (f"the ci build ran this chapter in {measured[0]:.0f} s ({measured[1]})" if measured
          else "the ci build's time of this chapter is not recorded yet")
    if work is None:
        timed = None if prof.name == "ci" else measured_in_profile(chapter, prof.name)
        if timed is not None:
            return f"no live training or evaluation: the {prof.name} profile ran it in {measured_text(timed)}; {ci}"
        return f"no live training or evaluation: about a minute; {ci}"
    texts = _live_texts(prof, work)
    parts = []
    if work["train_runs"]:
        parts.append(f"{_runs_text(work['train_runs'])} of {prof.train_steps} steps x {prof.batch_size} triplets")
    if texts:
        online = " (online: with the corpus it downloads)" if work.get("extra_texts") and prof.name != "ci" else ""
        parts.append(f"about {_two_figures(texts):,} texts encoded{online}")
    plan = ", ".join(parts) or "no live training and no large encoding"
    if prof.name == "ci":
        return f"{plan}; {ci}"
    if profiles.has_gpu():
        return f"{plan}; on a GPU: not measured for this chapter (estimate: minutes); {ci}"
    timed = measured_in_profile(chapter, prof.name)
    if timed is not None:
        note = _online_note(timed, chapter, cpu_estimate(prof, chapter))
        return f"{plan}; the {prof.name} profile ran this chapter in {measured_text(timed)}{note}; {ci}"
    rates = _recorded_cpu_rates()
    if rates is None or not _rates_apply(prof, work):
        return f"{plan}; no measured rate for this model on a CPU; {ci}"
    return (f"{plan}; estimate {cpu_estimate(prof, chapter, rates)} at the rates the recorded runs measured on 2 CPU "
            f"cores ({rates[0]:.2f} s per training triplet, {rates[1]:.0f} texts/s in fp32); {ci}")
