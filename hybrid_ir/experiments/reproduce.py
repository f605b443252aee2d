"""The reproduction experiments: train each batch strategy with several seeds, evaluate zero-shot.

An experiment (a YAML file, e.g. ``results/configs/mlqa-to-xquad.yaml``) names a base training
configuration (a :mod:`hybrid_ir.training.config` profile plus overrides), the strategies to compare (each a
set of overrides such as ``{strategy: hybrid, alpha: 0.5}``), the seeds, and the evaluation set.
:func:`run_experiment` runs, in order,

1. the **untuned** encoder (the base model without fine-tuning: the baseline row);
2. every (strategy, seed): train from the same initial weights (:func:`hybrid_ir.training.trainer.train`,
   resumable), then evaluate the exported model on the full LAReQA grid.

Each run writes a folder ``<results>/<experiment>/<strategy>/seed<k>/`` (``untuned/`` for the
baseline) holding only small text files:

- ``run.json``: configuration, package version, git commit, data checksums, hardware, wall times;
- ``metrics.json``: :meth:`~hybrid_ir.evaluation.grid.LareqaResult.to_json` (summary, per language, pairs);
- ``per_language.csv``, ``pairs.csv``: the same as tables; ``bias.json``: :func:`~hybrid_ir.evaluation.bias.bias_summary`;
- ``ranks.csv.gz``: per query, the multilingual-pool and own-language-pool rank of each relevant
  candidate and the top-10 candidates of the multilingual pool, from which every per-query metric
  (and the significance tests) is recomputed with :func:`load_run_result`;
- ``train_log.jsonl``: the trainer's metrics log (training runs);
- ``exposure.json``: what the run was trained on (batches by type, triplets per language pair, the
  English share, questions seen; for all steps and for the exported step), replayed from the sampler;
- ``tatoeba.json`` (experiments with ``tatoeba: true``): Tatoeba bitext acc@1 in both directions,
  with the per-pair hits (:mod:`hybrid_ir.evaluation.tatoeba`).

A run whose ``metrics.json`` exists is skipped, so an interrupted experiment resumes where it
stopped (a training run itself resumes from its last checkpoint in ``<runs>/``, which holds the
weights and is not committed). :func:`aggregate` then writes ``summary.csv`` (one row per run),
``summary.json`` (mean and standard deviation over seeds) and ``significance.csv`` (paired tests
between strategies over queries).
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from hybrid_ir import __version__
from hybrid_ir.atomic import atomic_path, write_json
from hybrid_ir.data.sources import sha256_file
from hybrid_ir.errors import HybridIRError
from hybrid_ir.locks import FolderLock
from hybrid_ir.modeling.encoders import hf_progress_bars

UNTUNED = "untuned"


@dataclass
class ExperimentConfig:
    """One experiment: base training config, strategies, seeds, evaluation set."""

    name: str
    eval_dataset: str = "xquad-r"
    eval_languages: list[str] | None = None
    candidate_text: str = "sentence"
    eval_batch_size: int = 64
    # Evaluation runs in fp32 unless a config asks otherwise: the recorded experiments were evaluated in
    # fp32 (run.json's "eval_precision"; runs recorded before the key existed are fp32 too), and
    # `reproduce` must give their numbers back. "auto" follows hybrid_ir.modeling.runtime.
    eval_precision: str = "fp32"
    eval_device: str = "auto"
    profile: str = "cpu"  # base hybrid_ir.training.config profile (or a YAML path)
    train: dict[str, Any] = field(default_factory=dict)  # overrides of the base profile
    strategies: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "x-x-mono": {"strategy": "mono"},
            "x-y": {"strategy": "cross"},
            "hybrid": {"strategy": "hybrid", "alpha": 0.5},
        }
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    baseline: bool = True
    tatoeba: bool = False  # also evaluate Tatoeba bitext retrieval (tatoeba.json per run)
    tatoeba_languages: list[str] | None = None  # default: the XQuAD-R languages other than English
    results_dir: str = "results"
    runs_dir: str = "runs"
    source: str = ""  # the YAML file it was read from

    @property
    def folder(self) -> Path:
        return Path(self.results_dir) / self.name

    def run_folder(self, label: str, seed: int | None) -> Path:
        return self.folder / label if label == UNTUNED else self.folder / label / f"seed{seed}"

    def runs(self) -> list[tuple[str, int | None]]:
        """Every run of the experiment in execution order: the baseline, then seed-major."""
        out: list[tuple[str, int | None]] = [(UNTUNED, None)] if self.baseline else []
        out += [(label, seed) for seed in self.seeds for label in self.strategies]
        return out


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read an experiment YAML file (unknown keys are an error)."""
    path = Path(path)
    if not path.is_file():
        raise HybridIRError(f"experiment config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise HybridIRError(f"{path}: not valid YAML ({exc})") from None
    known = set(ExperimentConfig.__dataclass_fields__) - {"source"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise HybridIRError(f"{path}: unknown keys {unknown}; known: {sorted(known)}")
    if "name" not in data:
        raise HybridIRError(f"{path}: 'name' is required")
    _check_types(path, data)
    exp = ExperimentConfig(**data, source=str(path))
    for label, overrides in exp.strategies.items():
        if label == UNTUNED:
            raise HybridIRError(f"{path}: '{UNTUNED}' is reserved for the baseline")
        if not isinstance(overrides, dict):
            raise HybridIRError(f"{path}: strategies.{label} must be a mapping of settings")
        train_config(exp, label, exp.seeds[0] if exp.seeds else 0)  # validates the overrides now
    _check_evaluation(path, exp)
    if exp.eval_precision not in ("auto", "fp32", "bf16", "fp16"):
        raise HybridIRError(f"{path}: eval_precision must be auto, fp32, bf16 or fp16, got '{exp.eval_precision}'")
    return exp


_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "eval_dataset": (str,), "eval_languages": (list, type(None)), "candidate_text": (str,),
    "eval_batch_size": (int,), "eval_precision": (str,), "eval_device": (str,), "profile": (str,), "train": (dict,), "strategies": (dict,), "seeds": (list,),
    "baseline": (bool,), "tatoeba": (bool,), "tatoeba_languages": (list, type(None)), "results_dir": (str,),
    "runs_dir": (str,),
}


def _check_types(path: Path, data: dict[str, Any]) -> None:
    for key, value in data.items():
        types = _TYPES.get(key)
        if types and (not isinstance(value, types) or (int in types and isinstance(value, bool))):
            wanted = " or ".join("none" if t is type(None) else {"dict": "a mapping", "list": "a list"}.get(
                t.__name__, t.__name__) for t in types)
            raise HybridIRError(f"{path}: '{key}' must be {wanted}, got {type(value).__name__} ({value!r})")
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in data.get("seeds", [])):
        raise HybridIRError(f"{path}: 'seeds' must be a list of non-negative integers")


def _check_evaluation(path: Path, exp: ExperimentConfig) -> None:
    """The evaluation settings, checked before any training (a bad one used to fail after a run)."""
    from hybrid_ir.data.lareqa import CANDIDATE_TEXTS, DATASETS, check_languages

    if exp.eval_dataset not in DATASETS:
        raise HybridIRError(f"{path}: eval_dataset must be one of {', '.join(DATASETS)}; got {exp.eval_dataset!r}")
    if exp.eval_languages is not None:
        check_languages(exp.eval_dataset, exp.eval_languages)
    if exp.candidate_text not in CANDIDATE_TEXTS:
        raise HybridIRError(f"{path}: candidate_text must be one of {', '.join(CANDIDATE_TEXTS)}")
    if exp.eval_batch_size < 1:
        raise HybridIRError(f"{path}: eval_batch_size must be >= 1, got {exp.eval_batch_size}")
    if exp.tatoeba_languages is not None:
        from hybrid_ir.data.tatoeba import tatoeba_code

        for lang in exp.tatoeba_languages:
            tatoeba_code(lang)


def train_config(exp: ExperimentConfig, label: str, seed: int):
    """The :class:`~hybrid_ir.training.config.TrainConfig` of one training run of the experiment."""
    from hybrid_ir.training.config import load_config, set_field

    cfg = load_config(exp.profile)
    settings = {**exp.train, **exp.strategies[label], "seed": seed,
                "output_dir": str(Path(exp.runs_dir) / exp.name / f"{label}-seed{seed}"),
                "progress": False}
    for key, value in settings.items():
        set_field(cfg, key, value, f"{exp.source or exp.name}: {label}")
    return cfg.validate()


# ------------------------------------------------------------------------------------ one run
def run_one(
    exp: ExperimentConfig, label: str, seed: int | None, *, force: bool = False, progress: bool = False
) -> Path:
    """Train (unless ``label`` is the baseline) and evaluate one run; returns its results folder.
    ``progress``: progress bars (stderr) while the evaluation encodes."""
    out = exp.run_folder(label, seed)
    if (out / "metrics.json").is_file() and not force:
        return out
    base = train_config(exp, next(iter(exp.strategies)), seed if seed is not None else 0)
    record: dict[str, Any] = {
        "experiment": exp.name,
        "label": label,
        "seed": seed,
        "experiment_config": {k: v for k, v in exp.__dict__.items() if k != "source"},
        "environment": environment(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with hf_progress_bars(False):
        return _run_one(exp, label, seed, out, base, record, progress)


def _run_one(
    exp: ExperimentConfig, label: str, seed: int | None, out: Path, base, record: dict[str, Any],
    progress: bool = False,
) -> Path:
    from hybrid_ir.data.lareqa import dataset_files, load_lareqa
    from hybrid_ir.data.sources import data_checksums
    from hybrid_ir.evaluation.grid import evaluate_lareqa_model
    from hybrid_ir.modeling.biencoder import BiEncoder
    from hybrid_ir.modeling.runtime import resolve_device, resolve_precision

    t0 = time.perf_counter()
    train_log: Path | None = None
    if label == UNTUNED:
        model = BiEncoder.from_pretrained(
            base.model, **{k: getattr(base, k) for k in ENCODER_FIELDS if getattr(base, k) is not None}
        )
        record["train_config"] = None
        record["train_seconds"] = 0.0
    else:
        from hybrid_ir.training.trainer import train

        cfg = train_config(exp, label, seed or 0)
        result = train(cfg, resume=True)
        if result.model_dir is None:
            raise HybridIRError(f"{label} seed {seed}: training exported no model")
        model = BiEncoder.from_pretrained(result.model_dir)
        record["train_config"] = cfg.to_dict()
        record["train_result"] = result.to_dict()
        # a run that had finished training before (e.g. killed during its evaluation) keeps the
        # training time it recorded; this process only evaluates it
        record["train_seconds"] = round(result.wall_time_s if result.already_finished else time.perf_counter() - t0, 1)
        record["training_reused"] = result.already_finished
        train_log = result.metrics_path
    t1 = time.perf_counter()
    ds = load_lareqa(exp.eval_dataset, exp.eval_languages)
    device = resolve_device(exp.eval_device)
    record["eval_device"] = str(device)
    record["eval_precision"] = resolve_precision(exp.eval_precision, device, purpose="inference")
    res = evaluate_lareqa_model(model, ds, exp.candidate_text, batch_size=exp.eval_batch_size,
                                show_progress=progress, device=str(device), precision=record["eval_precision"])
    record["eval_seconds"] = round(time.perf_counter() - t1, 1)
    if exp.tatoeba:
        out.mkdir(parents=True, exist_ok=True)
        record["tatoeba_seconds"] = write_tatoeba(out, model, exp.eval_batch_size, exp.tatoeba_languages,
                                                  precision=record["eval_precision"])
    if label != UNTUNED:
        exposure_file = Path(result.output_dir) / "exposure.json"
        if exposure_file.is_file():
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / "exposure.json", json.loads(exposure_file.read_text(encoding="utf-8")))
    record["wall_seconds"] = round(time.perf_counter() - t0, 1)
    record["encoder_config"] = model.config.__dict__
    record["eval_data_checksums"] = data_checksums(dataset_files(exp.eval_dataset, exp.eval_languages))
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_run(out, res, record, train_log)
    return out


def write_tatoeba(
    out: Path, model, batch_size: int = 64, languages: list[str] | None = None, precision: str = "fp32"
) -> float:
    """Evaluate Tatoeba bitext retrieval (encoded in ``precision``) and write ``tatoeba.json``; returns
    the seconds it took."""
    from hybrid_ir.data.tatoeba import TATOEBA_LANGUAGES
    from hybrid_ir.evaluation.tatoeba import evaluate_tatoeba_model

    t = time.perf_counter()
    langs = languages or list(TATOEBA_LANGUAGES)
    write_json(out / "tatoeba.json", evaluate_tatoeba_model(model, langs, batch_size=batch_size, precision=precision))
    return round(time.perf_counter() - t, 1)


def backfill(exp: ExperimentConfig, log=print) -> None:
    """Add what a finished run lacks and can still get without retraining: ``exposure.json`` (replayed
    from the sampler for training runs) and, when the experiment asks for it, ``tatoeba.json`` (the
    untuned baseline, and trained runs whose exported model is still in ``runs_dir``)."""
    from hybrid_ir.modeling.biencoder import BiEncoder
    from hybrid_ir.training.trainer import load_data, replay_exposure

    for label, seed in exp.runs():
        out = exp.run_folder(label, seed)
        if not (out / "metrics.json").is_file():
            continue
        if label != UNTUNED and not (out / "exposure.json").is_file():
            run = json.loads((out / "run.json").read_text(encoding="utf-8"))
            tr = run.get("train_result") or {}
            cfg = train_config(exp, label, seed or 0)
            train_sets, _, _ = load_data(cfg)
            steps = int(tr["steps"])
            best = tr.get("best_step")
            write_json(out / "exposure.json", replay_exposure(cfg, train_sets, steps, best if best is not None else steps))
            log(f"[reproduce] {out}: exposure.json replayed from the sampler")
        if exp.tatoeba and not (out / "tatoeba.json").is_file():
            if label == UNTUNED:
                base = train_config(exp, next(iter(exp.strategies)), 0)
                model = BiEncoder.from_pretrained(
                    base.model, **{k: getattr(base, k) for k in ENCODER_FIELDS if getattr(base, k) is not None}
                )
            else:
                model_dir = Path(train_config(exp, label, seed or 0).output_dir) / "model"
                if not (model_dir / "config.json").is_file():
                    log(f"[reproduce] {out}: no tatoeba.json and no model in {model_dir} to evaluate")
                    continue
                model = BiEncoder.from_pretrained(model_dir)
            seconds = write_tatoeba(out, model, exp.eval_batch_size, exp.tatoeba_languages, exp.eval_precision)
            log(f"[reproduce] {out}: tatoeba.json ({seconds:.0f} s)")


ENCODER_FIELDS = ("pooling", "query_prefix", "passage_prefix", "max_query_length", "max_passage_length")


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


def environment() -> dict[str, Any]:
    """Package version, git commit, library versions and hardware of this process."""
    import torch
    import transformers

    from hybrid_ir.modeling.biencoder import _git_commit

    info: dict[str, Any] = {
        "hybrid_ir": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": __import__("os").cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


# ------------------------------------------------------------------------------- experiment
def run_experiment(
    exp: ExperimentConfig,
    *,
    only: list[str] | None = None,
    force: bool = False,
    log=print,
    progress: bool = False,
) -> list[Path]:
    """Run (or skip, when finished) every run of ``exp``; ``only`` selects runs by ``label`` or
    ``label/seedK``. Aggregates at the end. The results folder is locked for the duration: a second
    process on the same experiment stops at once with a one-line error."""
    with FolderLock(exp.folder, "results folder"):
        return _run_experiment(exp, only=only, force=force, log=log, progress=progress)


def _run_experiment(
    exp: ExperimentConfig, *, only: list[str] | None, force: bool, log, progress: bool = False
) -> list[Path]:
    broken = {k: v for k, v in broken_runs(exp).items() if not (force and only and (k in only or k.split("/")[0] in only))}
    if broken:
        require_intact(exp)
    done = []
    backfill(exp, log=log)
    for label, seed in exp.runs():
        key = label if seed is None else f"{label}/seed{seed}"
        if only and key not in only and label not in only:
            continue
        out = exp.run_folder(label, seed)
        if (out / "metrics.json").is_file() and not force:
            log(f"[reproduce] {key}: done already ({out})")
            done.append(out)
            continue
        log(f"[reproduce] {key}: running ...")
        t = time.perf_counter()
        done.append(run_one(exp, label, seed, force=force, progress=progress))
        summary = json.loads((out / "metrics.json").read_text())["summary"]
        log(f"[reproduce] {key}: {time.perf_counter() - t:.0f} s  "
            + "  ".join(f"{k}={v:.4f}" if isinstance(v, (int, float)) else f"{k}=n/a" for k, v in summary.items()))
        aggregate(exp)  # after every run, so a partial experiment has up-to-date summaries
    if done and not (exp.folder / "summary.json").is_file():
        aggregate(exp)
    return done


def collect(exp: ExperimentConfig) -> pd.DataFrame:
    """One row per finished run: label, seed, summary metrics, bias measures, wall times."""
    rows = []
    for label, seed in exp.runs():
        folder = exp.run_folder(label, seed)
        if not (folder / "metrics.json").is_file():
            continue
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        bias = json.loads((folder / "bias.json").read_text(encoding="utf-8"))
        table = pd.read_csv(folder / "per_language.csv", index_col=0)
        rows.append({
            "strategy": label, "seed": seed, **metrics["summary"],
            "mono_r1": float(table.loc["Mean", "mono_r1"]), "cross_r1": float(table.loc["Mean", "cross_r1"]),
            "multi_r10": float(table.loc["Mean", "multi_r10"]),
            **{f"bias_{k}": v for k, v in bias.items()},
            "train_seconds": run.get("train_seconds"), "eval_seconds": run.get("eval_seconds"),
            "steps": (run.get("train_result") or {}).get("steps"),
            # a resumed run's train_seconds counts only the time after the resume
            "resumed": (run.get("train_result") or {}).get("resumed_from") is not None,
        })
    return pd.DataFrame(rows)


METRICS = ("mono_map", "cross_map", "multi_map", "rank_distance", "mono_r1", "cross_r1", "multi_r10")


def aggregate(exp: ExperimentConfig, n_permutations: int = 10_000) -> dict[str, Any]:
    """Write ``summary.csv``, ``summary.json`` and ``significance.csv`` for the finished runs
    (refused, naming them, when a recorded run's files are damaged: :func:`require_intact`)."""
    require_intact(exp)
    runs = collect(exp)
    folder = exp.folder
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "summary.csv") as tmp:
        runs.to_csv(tmp, index=False, float_format="%.6g")
    stats: dict[str, Any] = {}
    for label, group in runs.groupby("strategy", sort=False):
        stats[label] = {
            m: {"mean": float(group[m].mean()),
                "std": float(group[m].std(ddof=1)) if len(group) > 1 else 0.0,
                "n": len(group)}
            for m in METRICS
        }
    sig = significance(exp, n_permutations=n_permutations)
    with atomic_path(folder / "significance.csv") as tmp:
        sig.to_csv(tmp, index=False, float_format="%.6g")
    summary = {"experiment": exp.name, "eval_dataset": exp.eval_dataset, "strategies": stats,
               "runs": len(runs)}
    write_json(folder / "summary.json", summary)
    write_claims(exp, n_resamples=n_permutations)
    return summary


def seed_question_values(exp: ExperimentConfig, ds=None) -> dict[str, dict[str, pd.DataFrame]]:
    """Per strategy and metric, a (seeds x parallel questions) table: each run's per-query values
    averaged over the queries of a parallel question (the input of the seed-aware claims tests)."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    for label in labels:
        folders = seed_folders(exp, label)
        if not folders:
            continue
        ds = ds if ds is not None else dataset_of(folders[0])
        per_seed = {}
        for folder in folders:
            values = per_query_values(folder, ds)
            per_seed[folder.name] = values.drop(columns="parallel_id").groupby(values["parallel_id"]).mean()
        out[label] = {
            metric: pd.DataFrame({seed: frame[metric] for seed, frame in per_seed.items()}).T
            for metric in ("mono_ap", "cross_ap", "multi_ap", "rank_distance")
        }
    return out


def tatoeba_seed_values(exp: ExperimentConfig) -> dict[str, dict[str, pd.DataFrame]]:
    """Per strategy, a (seeds x sentence pairs) table of Tatoeba hits for ``to_en``, ``from_en`` and
    ``mean`` (both directions), weighted so that the plain mean over pairs is the macro mean over
    languages (Thai has 548 pairs, the others 1,000)."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    for label in labels:
        rows: dict[str, dict[str, pd.Series]] = {"to_en": {}, "from_en": {}}
        for folder in seed_folders(exp, label):
            path = folder / "tatoeba.json"
            if not path.is_file():
                continue
            hits = json.loads(path.read_text(encoding="utf-8"))["hits"]
            total = sum(len(h["to_en"]) for h in hits.values())
            for direction in rows:
                parts = []
                for lang, h in sorted(hits.items()):
                    weight = total / (len(hits) * len(h[direction]))
                    parts.append(pd.Series(np.asarray(h[direction], float) * weight,
                                           index=[f"{lang}:{i}" for i in range(len(h[direction]))]))
                rows[direction][folder.name] = pd.concat(parts)
        if rows["to_en"]:
            to_en, from_en = pd.DataFrame(rows["to_en"]).T, pd.DataFrame(rows["from_en"]).T
            out[label] = {"to_en": to_en, "from_en": from_en, "mean": (to_en + from_en) / 2}
    return out


def tatoeba_comparisons(labels: list[str]) -> list:
    """Every pair of strategies on Tatoeba, and each against the untuned baseline (a = the trained
    one): two-sided, since the paper claims nothing there."""
    from hybrid_ir.experiments.claims import Claim

    out = []
    for a, b in combinations(labels, 2):
        if a == UNTUNED:
            a, b = b, a
        for metric in ("mean", "to_en", "from_en"):
            out.append(Claim(f"{a} - {b}: Tatoeba acc@1 ({metric})", a, b, metric, "differs",
                             "no claim in arXiv 2408.10536 (XTREME-R's Tatoeba task; this book's question)"))
    return out


def write_claims(exp: ExperimentConfig, n_resamples: int = 10_000) -> None:
    """``claims.csv`` (the paper's claims, seed-aware; :func:`hybrid_ir.experiments.claims.claims_table`)
    and, where runs recorded Tatoeba, ``tatoeba_claims.csv`` (differences between strategies)."""
    from hybrid_ir.experiments.claims import claims_table

    values = seed_question_values(exp)
    if values:
        table = claims_table(values, n_resamples=n_resamples)
        with atomic_path(exp.folder / "claims.csv") as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
    tatoeba = tatoeba_seed_values(exp)
    if len(tatoeba) >= 2:
        table = claims_table(tatoeba, tatoeba_comparisons(list(tatoeba)), n_resamples=n_resamples)
        with atomic_path(exp.folder / "tatoeba_claims.csv") as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")


def per_query_values(folder: Path, ds=None) -> pd.DataFrame:
    """Per query: mono AP, mean cross AP, multi AP, rank distance (indexed by query id)."""
    res = load_run_result(folder, ds)
    q = np.arange(len(res.query_ids))
    mono = res.pair_ap[q, res.query_lang]
    cross = res.pair_ap.copy()
    cross[q, res.query_lang] = np.nan
    with warnings.catch_warnings():  # a query without any cross-lingual pair gets NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        cross_mean = np.nanmean(cross, axis=1)
    return pd.DataFrame(
        {"parallel_id": res.parallel_ids, "mono_ap": mono, "cross_ap": cross_mean, "multi_ap": res.multi_ap,
         "rank_distance": res.rank_distance},
        index=pd.Index(res.query_ids, name="query_id"),
    )


def dataset_of(folder: str | Path):
    """The evaluation dataset (and languages) a run folder was evaluated on, loaded from the data."""
    from hybrid_ir.data.lareqa import load_lareqa

    meta = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
    return load_lareqa(meta["dataset"], list(meta["per_language"]))


def question_values(folders: list[Path], ds=None) -> pd.DataFrame:
    """Per parallel question, the per-query values averaged over its queries and over ``folders``.

    The translations of one question are not independent samples, so the unit of a paired test is
    the *parallel question*: per parallel id, the values of its queries (one per language) are
    averaged (1,190 rows on XQuAD-R, not 13,090 queries). Several folders (the seeds of a strategy)
    are averaged query by query first.
    """
    if not folders:
        raise HybridIRError("question_values needs at least one run folder")
    ds = ds if ds is not None else dataset_of(folders[0])
    frames = [per_query_values(f, ds) for f in folders]
    numeric = [f.drop(columns="parallel_id") for f in frames]
    mean = sum(numeric) / len(numeric)
    return mean.groupby(frames[0]["parallel_id"]).mean()


def paired_tests(a: pd.DataFrame, b: pd.DataFrame, n_permutations: int = 10_000) -> pd.DataFrame:
    """Paired randomisation test and 95% paired-bootstrap interval of a - b, per metric column.

    ``a`` and ``b`` come from :func:`question_values` (same index). Columns of the result:
    ``metric, mean_a, mean_b, difference, ci_low, ci_high, p_value, questions``.
    """
    from hybrid_ir.evaluation.significance import paired_bootstrap_ci, paired_randomisation_test

    rows = []
    for metric in ("mono_ap", "cross_ap", "multi_ap", "rank_distance"):
        x, y = a[metric], b[metric]
        keep = x.notna() & y.notna()
        if keep.sum() < 2:  # undefined here (e.g. cross-lingual measures of a one-language evaluation)
            rows.append({"metric": metric, "mean_a": np.nan, "mean_b": np.nan, "difference": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "questions": int(keep.sum())})
            continue
        test = paired_randomisation_test(x[keep], y[keep], n_permutations=n_permutations, seed=0)
        ci = paired_bootstrap_ci(x[keep], y[keep], n_resamples=n_permutations, seed=0)
        rows.append({"metric": metric, "mean_a": test.mean_a, "mean_b": test.mean_b,
                     "difference": test.mean_difference, "ci_low": ci.low, "ci_high": ci.high,
                     "p_value": test.p_value, "questions": test.n})
    return pd.DataFrame(rows)


def significance(exp: ExperimentConfig, n_permutations: int = 10_000) -> pd.DataFrame:
    """Paired tests between every two strategies (and the baseline), over parallel questions.

    A strategy's per-question values are averaged over its finished seeds
    (:func:`question_values`); every pair of strategies is compared with :func:`paired_tests`, the
    randomisation test of :mod:`hybrid_ir.evaluation.significance` (10,000 sign flips) with a 95%
    paired-bootstrap interval for the mean difference.
    """
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    ds = None
    values: dict[str, pd.DataFrame] = {}
    for label in labels:
        folders = seed_folders(exp, label)
        if folders:
            ds = ds if ds is not None else dataset_of(folders[0])
            values[label] = question_values(folders, ds)
    frames = []
    for a, b in combinations(values, 2):
        table = paired_tests(values[a], values[b], n_permutations)
        table.insert(0, "b", b)
        table.insert(0, "a", a)
        frames.append(table)
    columns = ["a", "b", "metric", "mean_a", "mean_b", "difference", "ci_low", "ci_high", "p_value", "questions"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


# ------------------------------------------------------------------------- reading results
def seed_folders(exp: ExperimentConfig, label: str) -> list[Path]:
    """The finished run folders of one strategy (the baseline has one)."""
    seeds: list[int | None] = [None] if label == UNTUNED else list(exp.seeds)
    folders = [exp.run_folder(label, s) for s in seeds]
    return [f for f in folders if (f / "metrics.json").is_file()]


def mean_per_language(exp: ExperimentConfig, label: str) -> pd.DataFrame:
    """The paper-layout per-language table of one strategy, averaged over its finished seeds."""
    tables = [pd.read_csv(f / "per_language.csv", index_col=0) for f in seed_folders(exp, label)]
    if not tables:
        raise HybridIRError(f"no finished run of '{label}' in {exp.folder}")
    return sum(tables) / len(tables)


def mean_pair_matrix(exp: ExperimentConfig, label: str, metric: str = "map") -> pd.DataFrame:
    """Query-language x candidate-language matrix of a pair metric, averaged over seeds."""
    mats = []
    for f in seed_folders(exp, label):
        pairs = pd.read_csv(f / "pairs.csv", index_col=0)
        mats.append(pairs.pivot(index="query", columns="candidates", values=metric))
    if not mats:
        raise HybridIRError(f"no finished run of '{label}' in {exp.folder}")
    langs = list(json.loads((seed_folders(exp, label)[0] / "metrics.json").read_text())["per_language"])
    out = (sum(mats) / len(mats)).reindex(index=langs, columns=langs)
    out.index.name, out.columns.name = "query language", "candidate language"
    return out


def finished_labels(exp: ExperimentConfig) -> list[str]:
    """Labels (baseline first) with at least one finished run."""
    labels = ([UNTUNED] if exp.baseline else []) + list(exp.strategies)
    return [label for label in labels if seed_folders(exp, label)]


def strategy_alpha(strategy: str, alpha: float) -> float:
    """The share of monolingual batches a strategy gives: cross = 0, mono = 1, hybrid = ``alpha``.

    >>> strategy_alpha("cross", 0.5), strategy_alpha("hybrid", 0.25), strategy_alpha("mono", 0.5)
    (0.0, 0.25, 1.0)
    """
    shares = {"cross": 0.0, "mono": 1.0, "hybrid": float(alpha)}
    if strategy not in shares:
        raise HybridIRError(f"unknown strategy {strategy!r}; expected one of {sorted(shares)}")
    return shares[strategy]


def alpha_sweep(experiments: list[ExperimentConfig], seed: int = 0) -> pd.DataFrame:
    """One row per finished run of ``seed`` in ``experiments``, sorted by its alpha.

    A run's alpha follows from its training configuration (:func:`train_config`,
    :func:`strategy_alpha`), so the X-Y and X-X-mono runs of the main experiment are the sweep's
    alpha = 0 and 1 (the sampler draws exactly their batches there). Columns: ``alpha``, ``run``
    (experiment/label/seedK) and the ``Mean`` row of the run's ``per_language.csv``.
    """
    rows = []
    for exp in experiments:
        for label in exp.strategies:
            folder = exp.run_folder(label, seed)
            if (folder / "metrics.json").is_file():
                cfg = train_config(exp, label, seed)
                table = pd.read_csv(folder / "per_language.csv", index_col=0)
                rows.append({"alpha": strategy_alpha(cfg.strategy, cfg.alpha),
                             "run": f"{exp.name}/{label}/seed{seed}", **table.loc["Mean"].to_dict()})
    frame = pd.DataFrame(rows)
    return frame.sort_values("alpha", kind="stable", ignore_index=True) if rows else frame


def compare_runs(first: str | Path, second: str | Path, ds=None) -> pd.DataFrame:
    """How far two runs of the same configuration are apart (the re-run tolerance).

    One row per quantity: the four summary metrics, the best validation loss of training, and the
    per-query values (mono / cross / multi AP and rank distance, compared query by query). Columns:
    ``first``, ``second`` (the means), ``max_abs_diff`` (over queries for per-query rows; for a
    summary row, |first - second|) and ``queries_differing`` (per-query rows only). Identical runs
    give 0 everywhere.
    """
    first, second = Path(first), Path(second)
    rows = []
    summaries = [json.loads((f / "metrics.json").read_text(encoding="utf-8"))["summary"] for f in (first, second)]
    for key in summaries[0]:
        a, b = float(summaries[0][key]), float(summaries[1][key])
        rows.append({"quantity": f"summary {key}", "first": a, "second": b, "max_abs_diff": abs(a - b),
                     "queries_differing": None})
    losses = []
    for f in (first, second):
        result = json.loads((f / "run.json").read_text(encoding="utf-8")).get("train_result") or {}
        losses.append(result.get("best_val_loss"))
    if None not in losses:
        rows.append({"quantity": "best validation loss", "first": float(losses[0]), "second": float(losses[1]),
                     "max_abs_diff": abs(float(losses[0]) - float(losses[1])), "queries_differing": None})
    qa, qb = per_query_values(first, ds), per_query_values(second, ds)
    if not qa.index.equals(qb.index):
        raise HybridIRError(f"{first} and {second} were evaluated on different queries")
    for column in ("mono_ap", "cross_ap", "multi_ap", "rank_distance"):
        diff = (qa[column] - qb[column]).abs()
        rows.append({"quantity": f"per query {column}", "first": float(qa[column].mean()),
                     "second": float(qb[column].mean()), "max_abs_diff": float(diff.max()),
                     "queries_differing": int((diff > 0).sum())})
    return pd.DataFrame(rows).set_index("quantity")
