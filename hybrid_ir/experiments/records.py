"""One run's folder of results: writing it, checking it, reading it back.

A run folder (``<results>/<experiment>/<strategy>/seed<k>/``) holds small text files; ``run.json``
records a SHA-256 of each (:data:`RESULT_FILES`) and ``metrics.json``, written last, marks the run
finished. :func:`verify_run` says what is wrong with a folder; :func:`load_run_result` rebuilds the
full evaluation result from ``ranks.csv.gz``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hybrid_ir.atomic import atomic_path, write_json
from hybrid_ir.data.sources import sha256_file
from hybrid_ir.errors import HybridIRError
from hybrid_ir.experiments.config import ExperimentConfig


def write_run(out: Path, res, record: dict[str, Any], train_log: Path | None = None) -> None:
    """Write one run's files; ``metrics.json`` is written last (its presence marks a finished run)."""
    from hybrid_ir.evaluation.bias import bias_summary

    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("per_language.csv", res.per_language_table()), ("pairs.csv", res.pair_table())):
        with atomic_path(out / name) as tmp:
            frame.to_csv(tmp, float_format="%.6g")
    with atomic_path(out / "ranks.csv.gz") as tmp:
        ranks_frame(res).to_csv(tmp, index=False, compression="gzip")
    write_json(out / "bias.json", bias_summary(res))
    if train_log is not None and Path(train_log).is_file():
        with atomic_path(out / "train_log.jsonl") as tmp:
            shutil.copyfile(train_log, tmp)
    metrics_text = json.dumps(res.to_json(), indent=1, ensure_ascii=False) + "\n"
    files = {p.name: sha256_file(p) for p in sorted(out.iterdir()) if p.is_file() and p.name in RESULT_FILES}
    files["metrics.json"] = hashlib.sha256(metrics_text.encode("utf-8")).hexdigest()
    write_json(out / "run.json", {**record, "files": files})
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(metrics_text, encoding="utf-8")


#: The files of a run folder that ``run.json`` records checksums of.
RESULT_FILES = ("per_language.csv", "pairs.csv", "ranks.csv.gz", "bias.json", "train_log.jsonl", "exposure.json",
             "tatoeba.json", "metrics.json")


#: Every file of a run folder: what makes a folder hold a run (started, finished or damaged).
RUN_FOLDER_FILES = ("run.json", *RESULT_FILES)


def run_key(label: str, seed: int | None) -> str:
    """How a run is named on the command line and in messages: ``label/seedK`` (``untuned`` alone)."""
    return label if seed is None else f"{label}/seed{seed}"


def contained(root: str | Path, path: str | Path, what: str) -> Path:
    """``path`` when it resolves (symbolic links followed) inside ``root``, else a one-line error.

    Every path a command writes or hashes is checked with it: a name of a run folder, an experiment's
    results or training folder, a file that ``run.json`` names.

    >>> contained("results", "results/exp/hybrid", "run folder")
    PosixPath('results/exp/hybrid')
    >>> contained("results", "results/../x", "run folder")
    Traceback (most recent call last):
    ...
    hybrid_ir.errors.HybridIRError: run folder results/../x is outside results: refused
    """
    base = Path(root).resolve()
    resolved = Path(path).resolve()
    if resolved != base and base not in resolved.parents:
        raise HybridIRError(f"{what} {path} is outside {root}: refused")
    return Path(path)


def _inside(folder: Path, name: str) -> bool:
    """Whether ``folder / name`` stays inside ``folder`` (a link out of it is never read)."""
    try:
        contained(folder, folder / name, name)
    except HybridIRError:
        return False
    return True


def verify_run(folder: str | Path) -> list[str]:
    """What is wrong with a finished run's files (empty when nothing): files that do not parse, are
    missing, or differ from the SHA-256 recorded in ``run.json`` (runs recorded before checksums were
    kept are checked by parsing only). Only the files of :data:`RESULT_FILES` inside the folder are
    ever opened: any other name in ``run.json``, or a link out of the folder, is reported, not read."""
    folder = Path(folder)
    problems = []
    parsed: dict[str, Any] = {}
    for name in ("metrics.json", "run.json", "bias.json"):
        if not _inside(folder, name):
            problems.append(f"{name} links outside the run folder: not read")
            continue
        try:
            parsed[name] = json.loads((folder / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{name} is missing")
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
            problems.append(f"{name} does not parse ({exc})")
    for name in ("per_language.csv", "pairs.csv", "ranks.csv.gz"):
        if not (folder / name).is_file():
            problems.append(f"{name} is missing")
    run = parsed.get("run.json")
    if "run.json" in parsed and not isinstance(run, dict):
        problems.append(f"run.json is not a JSON object (got {type(run).__name__})")
    recorded = run.get("files") if isinstance(run, dict) else None
    if recorded is not None and not isinstance(recorded, dict):
        problems.append(f"run.json: 'files' must map file names to SHA-256 digests, got a {type(recorded).__name__}")
    elif recorded:
        problems += _check_recorded(folder, recorded, problems)
    elif (folder / "ranks.csv.gz").is_file() and _inside(folder, "ranks.csv.gz"):
        problems += _check_gzip(folder / "ranks.csv.gz")
    return problems


def _check_recorded(folder: Path, recorded: dict[str, Any], known: list[str]) -> list[str]:
    """Problems with the files ``run.json`` records checksums of (only :data:`RESULT_FILES` are hashed)."""
    problems = []
    for name, digest in recorded.items():
        if name not in RESULT_FILES:
            problems.append(f"run.json names {name!r}, which is not a result file of a run: not read")
        elif not isinstance(digest, str):
            problems.append(f"run.json: the checksum of {name} is not a string")
        elif not _inside(folder, name):
            problems.append(f"{name} links outside the run folder: not read")
        elif not (folder / name).is_file():
            if f"{name} is missing" not in known:
                problems.append(f"{name} is missing")
        elif sha256_file(folder / name) != digest:
            problems.append(f"{name} differs from the checksum recorded in run.json")
    return problems


def _check_gzip(path: Path) -> list[str]:
    """A problem when the gzip file cannot be read to its end."""
    import gzip
    import zlib

    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return [f"{path.name} is damaged ({exc})"]
    return []


def run_state(folder: str | Path) -> tuple[str, list[str]]:
    """``("done", [])``, ``("pending", [])`` or ``("broken", problems)`` for one run folder.

    *pending*: the folder holds no file of a run (or does not exist): the run has not started.
    *broken*: it holds some file of a run (:data:`RUN_FOLDER_FILES`, e.g. ``run.json``) but a required
    one is missing, damaged or differs from its checksum (a run killed while writing its files, or
    files deleted or edited since). *done*: every file is there and verified."""
    folder = Path(folder)
    if not any((folder / name).exists() or (folder / name).is_symlink() for name in RUN_FOLDER_FILES):
        return "pending", []
    problems = verify_run(folder)
    return ("broken", problems) if problems else ("done", [])


def run_states(exp: ExperimentConfig) -> dict[str, tuple[str, list[str]]]:
    """``label/seedK`` -> :func:`run_state`, for every run of ``exp`` in execution order (a run folder
    that leads out of the results folder is broken, and nothing in it is read)."""
    states = {}
    for label, seed in exp.runs():
        folder = exp.run_folder(label, seed)
        try:
            contained(exp.results_dir, exp.folder, "results folder")
            contained(exp.folder, folder, "run folder")
        except HybridIRError as exc:
            states[run_key(label, seed)] = ("broken", [str(exc)])
            continue
        states[run_key(label, seed)] = run_state(folder)
    return states


def broken_runs(exp: ExperimentConfig) -> dict[str, list[str]]:
    """``label/seedK`` -> problems, for every run of ``exp`` whose folder is broken (:func:`run_state`)."""
    return {key: problems for key, (state, problems) in run_states(exp).items() if state == "broken"}


def broken_message(exp: ExperimentConfig, broken: dict[str, list[str]]) -> str:
    """The one-line error naming broken runs and what to do."""
    first = next(iter(broken))
    return (
        f"{len(broken)} recorded run(s) of {exp.name} are damaged or incomplete: "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in broken.items())
        + f". Redo them (e.g. --only {first} --force) or restore their files (or aggregate the finished "
        "runs alone with --aggregate-only --partial)"
    )


def require_intact(exp: ExperimentConfig) -> None:
    """Raise, naming them, when runs are broken (nothing is aggregated from broken files)."""
    broken = broken_runs(exp)
    if broken:
        raise HybridIRError(broken_message(exp, broken))


def clear_unfinished(folder: str | Path) -> list[str]:
    """Delete the run files of an unfinished run (no ``metrics.json``) before it is redone; returns
    their names. Nothing else in the folder is touched; a link is removed, never what it points at."""
    folder = Path(folder)
    if (folder / "metrics.json").exists():
        raise HybridIRError(f"{folder} holds a finished run (metrics.json): not cleared")
    removed = []
    for name in RUN_FOLDER_FILES:
        path = folder / name
        if path.is_symlink() or path.is_file():
            path.unlink()
            removed.append(name)
    return removed


def ranks_frame(res) -> pd.DataFrame:
    """One row per query: ids, and per relevant slot r its candidate index, multilingual-pool rank and
    own-language-pool rank (-1 = no such slot), then the top-k candidate indices of the multi pool."""
    cols: dict[str, Any] = {
        "query_id": res.query_ids,
        "parallel_id": res.parallel_ids,
        "query_lang": np.asarray(res.languages)[res.query_lang],
    }
    for r in range(res.rel_index.shape[1]):
        cols[f"rel{r}"] = res.rel_index[:, r]
        cols[f"multi{r}"] = np.nan_to_num(res.multi_ranks[:, r], nan=-1).astype(np.int64)
        cols[f"pool{r}"] = np.nan_to_num(res.pool_ranks[:, r], nan=-1).astype(np.int64)
    for j in range(res.top.shape[1]):
        cols[f"top{j + 1}"] = res.top[:, j]
    return pd.DataFrame(cols)


def load_run_result(folder: str | Path, ds=None):
    """Rebuild the :class:`~hybrid_ir.evaluation.grid.LareqaResult` of a recorded run from ``ranks.csv.gz``.

    ``ds`` (the evaluation :class:`~hybrid_ir.data.lareqa.LareqaDataset`) is loaded when not given; it
    supplies the candidates' languages. Every metric of the run is recomputed from the ranks.
    """
    from hybrid_ir.data.lareqa import load_lareqa
    from hybrid_ir.evaluation.grid import LareqaResult

    folder = Path(folder)
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    frame = pd.read_csv(folder / "ranks.csv.gz", dtype={"query_id": str, "parallel_id": str})
    langs = tuple(metrics["per_language"])
    if ds is None:
        ds = load_lareqa(metrics["dataset"], list(langs))
    lang_index = {lang: i for i, lang in enumerate(langs)}
    c_lang = np.array([lang_index[c.lang] for c in ds.candidates])
    slots = sorted(int(c[3:]) for c in frame.columns if c.startswith("rel"))
    rel = frame[[f"rel{r}" for r in slots]].to_numpy(np.int64, copy=True)
    multi = frame[[f"multi{r}" for r in slots]].to_numpy(np.float64, copy=True)
    pool = frame[[f"pool{r}" for r in slots]].to_numpy(np.float64, copy=True)
    multi[multi < 0] = np.nan
    pool[pool < 0] = np.nan
    top_cols = [c for c in frame.columns if c.startswith("top")]
    return LareqaResult(
        dataset=metrics["dataset"],
        languages=langs,
        query_ids=frame["query_id"].to_numpy(),
        parallel_ids=frame["parallel_id"].to_numpy(),
        query_lang=frame["query_lang"].map(lang_index).to_numpy(np.int64),
        rel_index=rel,
        rel_lang=np.where(rel >= 0, c_lang[np.maximum(rel, 0)], -1),
        multi_ranks=multi,
        pool_ranks=pool,
        candidate_lang=c_lang,
        top=frame[top_cols].to_numpy(np.int64) if top_cols else np.empty((len(frame), 0), np.int64),
    )
