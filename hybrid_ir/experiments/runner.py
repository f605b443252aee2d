"""Running an experiment: train and evaluate each (strategy, seed), resumably, one at a time.

:func:`run_experiment` runs the untuned baseline and every (strategy, seed) of an
:class:`~hybrid_ir.experiments.config.ExperimentConfig` whose ``metrics.json`` is not there yet,
adds what finished runs lack (:func:`backfill`) and aggregates after every run
(:func:`hybrid_ir.experiments.statistics.aggregate`)."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from hybrid_ir import __version__
from hybrid_ir.atomic import write_json
from hybrid_ir.errors import HybridIRError
from hybrid_ir.experiments.config import UNTUNED, ExperimentConfig, train_config
from hybrid_ir.experiments.records import (
    broken_message,
    broken_runs,
    clear_unfinished,
    contained,
    run_key,
    write_run,
)
from hybrid_ir.experiments.statistics import aggregate
from hybrid_ir.locks import FolderLock
from hybrid_ir.modeling.encoders import hf_progress_bars


# ------------------------------------------------------------------------------------ one run
def run_folder(exp: ExperimentConfig, label: str, seed: int | None) -> Path:
    """The results folder of one run, checked to stay inside the experiment's results folder (and
    that one inside ``results_dir``), symbolic links followed."""
    contained(exp.results_dir, exp.folder, "results folder")
    return contained(exp.folder, exp.run_folder(label, seed), "run folder")


def run_one(
    exp: ExperimentConfig, label: str, seed: int | None, *, force: bool = False, progress: bool = False
) -> Path:
    """Train (unless ``label`` is the baseline) and evaluate one run; returns its results folder.
    ``progress``: progress bars (stderr) while the evaluation encodes."""
    out = run_folder(exp, label, seed)
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
        contained(exp.runs_dir, cfg.output_dir, "training folder")
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
        out = run_folder(exp, label, seed)
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
                differs = trained_elsewhere(out / "run.json", model_dir.parent / "result.json")
                if differs:
                    log(f"[reproduce] {out}: no tatoeba.json; the model in {model_dir} is not this run's "
                        f"({differs}): retrain the run with --force to score it")
                    continue
                model = BiEncoder.from_pretrained(model_dir)
            seconds = write_tatoeba(out, model, exp.eval_batch_size, exp.tatoeba_languages, exp.eval_precision)
            log(f"[reproduce] {out}: tatoeba.json ({seconds:.0f} s)")


#: What a training run's result.json and the recorded run.json's ``train_result`` must share for a model
#: left in ``runs_dir`` to count as the recorded run's model (a retrain of the same configuration on
#: another machine or torch build can differ in the last digits).
SAME_TRAINING = ("config_hash", "steps", "best_step", "best_val_loss")


def trained_elsewhere(run_json: Path, result_json: Path) -> str | None:
    """None when the training run that left ``result_json`` (beside its exported model) is the one
    recorded in ``run_json``; otherwise what differs, in words. Compared exactly: the training
    configuration's hash, the steps, the best step and its validation loss.

    A model may outlive its run: a retrain stopped before its evaluation leaves a new model beside
    the old run's results, and scoring that model would attach its numbers to the other run.
    """
    if not result_json.is_file():
        return f"no {result_json.name} beside it"
    try:
        recorded = json.loads(run_json.read_text(encoding="utf-8")).get("train_result") or {}
        found = json.loads(result_json.read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):  # unreadable, not JSON, or not a JSON object
        return f"{run_json.name} or {result_json.name} unreadable"
    if not isinstance(found, dict) or not isinstance(recorded, dict):
        return f"{run_json.name} or {result_json.name} unreadable"
    differ = [k for k in SAME_TRAINING if recorded.get(k) != found.get(k)]
    return f"{', '.join(differ)} differ from run.json" if differ else None


ENCODER_FIELDS = ("pooling", "query_prefix", "passage_prefix", "max_query_length", "max_passage_length")


def environment() -> dict[str, Any]:
    """Package version, git commit, library versions and hardware of this process."""
    import torch
    import transformers

    from hybrid_ir.env import cpu_model
    from hybrid_ir.modeling.biencoder import _git_commit

    info: dict[str, Any] = {
        "hybrid_ir": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
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
    selected = [(label, seed) for label, seed in exp.runs()
                if not only or run_key(label, seed) in only or label in only]
    redo = _check_broken(exp, {run_key(label, seed): exp.run_folder(label, seed) for label, seed in selected},
                         force=force and bool(only))
    for label, seed in selected:
        key = run_key(label, seed)
        if key in redo and not (exp.run_folder(label, seed) / "metrics.json").exists():
            removed = clear_unfinished(run_folder(exp, label, seed))
            log(f"[reproduce] {key}: unfinished ({', '.join(removed)} without metrics.json): redone")
    done = []
    backfill(exp, log=log)
    for label, seed in selected:
        key = run_key(label, seed)
        out = run_folder(exp, label, seed)
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
        # after every run, so a partial experiment has up-to-date summaries (the runs not done yet are
        # pending: statistics.aggregate summarises the finished ones and says so)
        aggregate(exp)
    if done and not (exp.folder / "summary.json").is_file():
        aggregate(exp)
    return done


def _check_broken(exp: ExperimentConfig, selected: dict[str, Path], *, force: bool) -> set[str]:
    """The broken runs this call may redo; raises, naming them, when others are broken.

    A selected run without ``metrics.json`` (killed while writing its files, or its ``metrics.json``
    deleted) is redone; a selected finished run with damaged files only with ``force`` (``--only X
    --force``). Any other broken run stops everything before any work: the aggregation after each
    run would refuse it anyway."""
    broken = broken_runs(exp)
    redo = {key for key in broken if key in selected and (force or not (selected[key] / "metrics.json").exists())}
    others = {key: problems for key, problems in broken.items() if key not in redo}
    if others:
        raise HybridIRError(broken_message(exp, others))
    return redo
