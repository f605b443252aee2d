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


def verify_run(folder: str | Path) -> list[str]:
    """What is wrong with a finished run's files (empty when nothing): files that do not parse, are
    missing, or differ from the SHA-256 recorded in ``run.json`` (runs recorded before checksums were
    kept are checked by parsing only)."""
    folder = Path(folder)
    problems = []
    parsed: dict[str, Any] = {}
    for name in ("metrics.json", "run.json", "bias.json"):
        try:
            parsed[name] = json.loads((folder / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{name} is missing")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"{name} does not parse ({exc})")
    for name in ("per_language.csv", "pairs.csv", "ranks.csv.gz"):
        if not (folder / name).is_file():
            problems.append(f"{name} is missing")
    recorded = (parsed.get("run.json") or {}).get("files") if isinstance(parsed.get("run.json"), dict) else None
    if recorded:
        for name, digest in recorded.items():
            path = folder / name
            if path.is_file() and sha256_file(path) != digest:
                problems.append(f"{name} differs from the checksum recorded in run.json")
            elif not path.is_file() and f"{name} is missing" not in problems:
                problems.append(f"{name} is missing")
    elif (folder / "ranks.csv.gz").is_file():
        import gzip
        import zlib

        try:
            with gzip.open(folder / "ranks.csv.gz", "rb") as f:
                while f.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as exc:
            problems.append(f"ranks.csv.gz is damaged ({exc})")
    return problems


def broken_runs(exp: ExperimentConfig) -> dict[str, list[str]]:
    """``label/seedK`` -> problems, for every finished run of ``exp`` whose files are damaged."""
    out = {}
    for label, seed in exp.runs():
        folder = exp.run_folder(label, seed)
        if (folder / "metrics.json").exists():
            problems = verify_run(folder)
            if problems:
                out[label if seed is None else f"{label}/seed{seed}"] = problems
    return out


def require_intact(exp: ExperimentConfig) -> None:
    """Raise, naming them, when recorded runs are damaged (nothing is aggregated from broken files)."""
    broken = broken_runs(exp)
    if broken:
        first = next(iter(broken))
        raise HybridIRError(
            f"{len(broken)} recorded run(s) of {exp.name} are damaged: "
            + "; ".join(f"{k}: {', '.join(v)}" for k, v in broken.items())
            + f". Redo them (e.g. --only {first} --force) or restore their files"
        )


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
