"""Fine-tuning a bi-encoder with a batch strategy: ``train(config) -> TrainResult``.

One optimiser step on a batch of ``N`` triplets (``hybrid_ir.sampling.sampler``):

1. tokenize the queries, positives and hard negatives ("query: " / "passage: " prefixes);
2. embed them (``(N, H)`` each, L2-normalised), all at once or with GradCache sub-batches
   (``gradcache_chunk_size``); under torchrun the embeddings of all ranks are gathered so that the
   negatives come from the global batch (:mod:`hybrid_ir.training.distributed`);
3. InfoNCE (:func:`hybrid_ir.training.loss.info_nce`), backward (scaled by a ``GradScaler`` in fp16);
4. clip the gradient's global L2 norm to ``grad_clip``, AdamW step (weight decay on matrices only,
   not on biases / LayerNorm), learning rate ``lr * f(step)`` with a linear warm-up over ``w`` steps
   and a linear decay to 0 at the last step ``T``::

       f(s) = s / w            for s < w
       f(s) = (T - s) / (T - w) for s >= w     (schedule "constant": 1 after the warm-up)

Around the steps: a validation loss on fixed validation batches every ``eval_every`` steps (or each
epoch), early stopping after ``early_stopping_patience`` validations without a new best,
checkpoints (:mod:`hybrid_ir.training.checkpoint`: ``latest`` and ``best``), metrics appended to
``metrics.jsonl``, and at the end the best (or, with ``export_weights="last"``, the last) weights
exported with ``BiEncoder.save_pretrained`` to
``<output_dir>/model`` with the configuration, package version, git commit and data checksums.

Determinism: the dropout random state is re-seeded at every step from ``(seed, step, rank)`` and the
sampler's order depends only on ``(seed, epoch)``, so an interrupted run resumed from its checkpoint
(``resume=True``) ends with the same weights as an uninterrupted one (on the same device and
thread settings). A non-finite loss stops training with :class:`TrainingDiverged` before the step is
applied; the last good checkpoint is left as it was.

Example (a notebook)::

    >>> from hybrid_ir.training.config import load_config
    >>> result = train(load_config("smoke", ["output_dir=runs/demo"]))    # doctest: +SKIP
    >>> result.best_val_loss, result.model_dir                            # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybrid_ir.atomic import write_json, write_text
from hybrid_ir.data.examples import TrainingSet, Triplet
from hybrid_ir.errors import HybridIRError
from hybrid_ir.locks import FolderLock
from hybrid_ir.modeling.biencoder import BiEncoder
from hybrid_ir.modeling.encoders import hf_progress_bars
from hybrid_ir.modeling.runtime import autocast_factory, resolve_precision
from hybrid_ir.sampling.batch import Batch
from hybrid_ir.sampling.sampler import HybridBatchSampler, batch_triplets
from hybrid_ir.sampling.stats import exposure
from hybrid_ir.training import checkpoint as ckpt
from hybrid_ir.training import distributed as dist_utils
from hybrid_ir.training.config import TrainConfig, save_config
from hybrid_ir.training.gradcache import cached_backward
from hybrid_ir.training.loss import info_nce
from hybrid_ir.training.run_folder import prepare_run_folder

STATE_KEYS = ("optimizer", "scheduler", "sampler", "rng", "trainer")


class TrainingDiverged(HybridIRError):
    """The loss became NaN or infinite; the last good checkpoint is untouched."""


@dataclass
class TrainResult:
    """What a run produced (all paths absolute)."""

    output_dir: Path
    model_dir: Path | None
    best_checkpoint: Path | None
    latest_checkpoint: Path | None
    metrics_path: Path
    best_val_loss: float | None
    best_step: int | None
    steps: int
    epochs: int
    wall_time_s: float
    stopped: str  # "max_steps" | "epochs" | "early_stopping" | "interrupted"
    config_hash: str
    resumed_from: int | None = None
    #: True when ``train`` found the run already finished and returned its recorded result unchanged
    already_finished: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items() if k != "already_finished"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        """Inverse of :meth:`to_dict` (what ``result.json`` holds)."""
        paths = ("output_dir", "model_dir", "best_checkpoint", "latest_checkpoint", "metrics_path")
        fields = set(cls.__dataclass_fields__) - {"already_finished"}
        return cls(**{k: Path(v) if k in paths and v is not None else v for k, v in data.items() if k in fields})


# ----------------------------------------------------------------------------------- building
def build_model(cfg: TrainConfig) -> BiEncoder:
    """The bi-encoder of ``cfg`` with dropout / frozen embeddings / gradient checkpointing applied."""
    overrides: dict[str, Any] = {
        k: getattr(cfg, k) for k in ("pooling", "query_prefix", "passage_prefix") if getattr(cfg, k) is not None
    }
    overrides.update(max_query_length=cfg.max_query_length, max_passage_length=cfg.max_passage_length)
    if cfg.model == "tiny":
        model = BiEncoder.tiny(seed=cfg.seed, **overrides)
    else:
        model = BiEncoder.from_pretrained(cfg.model, **overrides)
    if cfg.dropout is not None:
        set_dropout(model, cfg.dropout)
    if cfg.freeze_embeddings:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    if cfg.gradient_checkpointing:
        kwargs = {"use_reentrant": False}  # non-reentrant: works with frozen inputs, keeps RNG state
        enc = model.encoder
        if hasattr(enc, "activation_checkpointing_enable"):  # transformers >= 5
            enc.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            enc.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    return model


def set_dropout(model: torch.nn.Module, p: float) -> None:
    """Set every dropout layer's probability (attention dropout included) to ``p``."""
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = p
    hf_config = getattr(getattr(model, "encoder", None), "config", None)
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
        if hf_config is not None and hasattr(hf_config, name):
            setattr(hf_config, name, p)


def load_data(cfg: TrainConfig) -> tuple[list[TrainingSet], list[TrainingSet], list[str]]:
    """Training sets, validation sets (held-out articles / groups) and the evaluation files read to
    remove shared articles (for checksums; each training set records its own files in ``.files``).

    Every ``cfg.datasets`` entry goes through :func:`hybrid_ir.data.examples.load_training_set`
    (LAReQA names, ``mmarco``, files of your own, ``hf:`` datasets); ``train_subset`` caps each set
    (mMARCO streams only that many queries)."""
    from hybrid_ir.data.examples import load_training_set, split_by_article
    from hybrid_ir.data.lareqa import dataset_files

    train_sets, val_sets, files = [], [], []
    for name in cfg.datasets:
        ts = load_training_set(
            name, languages=cfg.languages, exclude_overlap_with=cfg.exclude_overlap_with,
            seed=cfg.seed, candidate_text=cfg.candidate_text, data_dir=cfg.data_dir,  # type: ignore[arg-type]
            strategy=cfg.strategy, max_examples=cfg.train_subset,
        )
        for other in cfg.exclude_overlap_with:
            files += dataset_files(other)
        train, val = split_by_article(ts, cfg.validation_fraction, seed=cfg.seed)
        train_sets.append(train)
        if len(val):
            val_sets.append(val)
    return train_sets, val_sets, sorted(set(files))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters in two AdamW groups: matrices with weight decay; biases and LayerNorm without."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or name.endswith("bias") else decay).append(p)
    if not decay and not no_decay:
        raise HybridIRError("the model has no trainable parameter")
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; the fused kernel where this torch has it (CPU and CUDA since
    torch 2.4: ~7x faster than the default on a 16M-row embedding matrix on CPU), else the default."""
    groups = param_groups(model, cfg.weight_decay)
    try:
        return torch.optim.AdamW(groups, lr=cfg.lr, eps=cfg.adam_epsilon, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, eps=cfg.adam_epsilon)


def lr_factor(step: int, warmup: int, total: int, schedule: str = "linear") -> float:
    """Multiplier of the peak learning rate before optimiser step ``step + 1`` (see the module docstring)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    return max(0.0, (total - step) / max(1, total - warmup))


def make_grad_scaler() -> torch.amp.GradScaler:
    """A CUDA loss scaler for fp16 (``torch.amp`` since torch 2.3, ``torch.cuda.amp`` before)."""
    try:
        return torch.amp.GradScaler("cuda")
    except (AttributeError, TypeError):  # pragma: no cover - torch < 2.3
        return torch.cuda.amp.GradScaler()


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's (CPU and CUDA) global generators."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def step_seed(seed: int, step: int, rank: int) -> int:
    """The torch seed of optimiser step ``step`` on ``rank`` (dropout masks)."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0])


# ----------------------------------------------------------------------------------- one step
@dataclass
class Towers:
    """Token tensors of a batch: queries, positives, negatives; and the number of real tokens."""

    tensors: list[dict[str, torch.Tensor]]
    tokens: int


def tokenize_triplets(model: BiEncoder, triplets: Sequence[Triplet], device: torch.device) -> Towers:
    towers, tokens = [], 0
    for texts, kind in (
        ([t.query for t in triplets], "query"),
        ([t.positive for t in triplets], "passage"),
        ([t.negative for t in triplets], "passage"),
    ):
        enc = model.tokenize(texts, kind)  # type: ignore[arg-type]
        towers.append({k: enc[k].to(device) for k in ("input_ids", "attention_mask")})
        tokens += int(enc["attention_mask"].sum())
    return Towers(towers, tokens)


def make_loss_fn(cfg: TrainConfig, info: dist_utils.DistInfo) -> Callable[..., torch.Tensor]:
    """``loss(q, p, n)`` on this rank's embeddings; under torchrun, against the gathered global batch."""

    def loss(q: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        rows = None
        if info.enabled:
            b = q.shape[0]
            q, p, n = (dist_utils.gather_with_grad(x) for x in (q, p, n))
            rows = slice(info.rank * b, (info.rank + 1) * b)
        return info_nce(
            q, p, n, temperature=cfg.temperature, negatives=cfg.negatives,  # type: ignore[arg-type]
            symmetric=cfg.symmetric, rows=rows,
        )

    return loss


def forward_backward(
    model: BiEncoder,
    towers: Towers,
    loss_fn: Callable[..., torch.Tensor],
    *,
    chunk_size: int,
    autocast: Callable[[], contextlib.AbstractContextManager],
    scaler: torch.amp.GradScaler | None,
) -> torch.Tensor:
    """Loss of one batch with its gradient accumulated into the parameters (plain or GradCache)."""
    scale = scaler.scale if scaler is not None else None
    if chunk_size:
        return cached_backward(model, towers.tensors, loss_fn, chunk_size, autocast=autocast, scale=scale)
    with autocast():
        reps = [model(**t) for t in towers.tensors]
    loss = loss_fn(*(r.float() for r in reps))
    (scale(loss) if scale else loss).backward()
    return loss.detach()


@torch.no_grad()
def validation_loss(
    model: BiEncoder,
    batches: Sequence[Towers],
    cfg: TrainConfig,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> float:
    """Mean loss over the fixed validation batches, eval mode (no dropout), no gradient."""
    was_training = model.training
    model.eval()
    try:
        total = 0.0
        for towers in batches:
            with autocast():
                q, p, n = (model(**t).float() for t in towers.tensors)
            total += info_nce(
                q, p, n, temperature=cfg.temperature, negatives=cfg.negatives,  # type: ignore[arg-type]
                symmetric=cfg.symmetric,
            ).item()
        return total / len(batches)
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------------- the run
def _truncate_metrics(path: Path, step: int) -> None:
    """Keep the log lines of steps <= ``step`` (a resumed run rewrites what came after)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the interruption
        if rec.get("step", 0) <= step and rec.get("event") != "end":
            kept.append(line)
    write_text(path, "".join(x + "\n" for x in kept))


def _append(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


@dataclass
class Progress:
    """Where a run stands: what a checkpoint saves (``trainer``) and a resume restores."""

    step: int = 0
    epoch: int = 0
    best_val: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    resumed_from: int | None = None
    last_eval_step: int = -1
    last_save_step: int = -1

    def trainer_state(self) -> dict[str, Any]:
        return {"best_val_loss": self.best_val, "best_step": self.best_step, "bad_evals": self.bad_evals,
                "last_eval_step": self.last_eval_step}


@dataclass
class Run:
    """Everything one training run holds while it runs (built by :func:`set_up`)."""

    cfg: TrainConfig
    info: dist_utils.DistInfo
    device: torch.device
    out: Path
    chash: str
    t_start: float
    data_files: list[str]
    train_sets: list[TrainingSet]
    sampler: HybridBatchSampler
    model: BiEncoder
    trainable: list[torch.nn.Parameter]  # the parameters the optimiser updates (fixed for the run)
    val_batches: list[Towers]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler | None
    autocast: Callable[[], contextlib.AbstractContextManager]
    loss_fn: Callable[..., torch.Tensor]
    total_steps: int
    progress: Progress
    bar: Any = None

    @property
    def ckpt_root(self) -> Path:
        return self.out / "checkpoints"

    @property
    def metrics_path(self) -> Path:
        return self.out / "metrics.jsonl"


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    model: BiEncoder | None = None,
    train_sets: Sequence[TrainingSet] | None = None,
    val_sets: Sequence[TrainingSet] | None = None,
    stop_after: int | None = None,
    export: bool = True,
) -> TrainResult:
    """Train as ``config`` says; see the module docstring. Returns a :class:`TrainResult`.

    The run goes through four phases, each a function of this module: :func:`set_up` (data, model,
    optimiser, resume), :func:`optimisation_step` (one batch), :func:`validate` (validation loss, early
    stopping, checkpoint) and :func:`finish` (export the weights, write ``result.json``).

    Args:
        config: a validated :class:`~hybrid_ir.training.config.TrainConfig`.
        resume: continue from ``<output_dir>/checkpoints/latest.json`` (same config hash required);
            without a checkpoint the run starts from scratch.
        overwrite: allow starting from scratch in a folder that already holds checkpoints.
        model: a ready bi-encoder (default: :func:`build_model`); trained in place, it holds the
            exported (best) weights afterwards.
        train_sets / val_sets: training data (default: both from :func:`load_data`); ``val_sets=[]``
            (or ``train_sets`` given without ``val_sets``) turns validation off.
        stop_after: stop after this global step without any extra checkpoint, as an interruption
            would (for tests and demonstrations of resuming).
        export: write the final model to ``<output_dir>/model``.
    """
    cfg = config.validate()
    if train_sets is not None:  # the run records the data it trains on, not the configuration's datasets
        cfg = describe_sets(cfg, train_sets)
    out = Path(cfg.output_dir).expanduser().resolve()
    is_main = dist_utils.init_distributed(cfg.device).is_main
    with FolderLock(out, "run folder") if is_main else contextlib.nullcontext(), hf_progress_bars(cfg.progress):
        state = prepare_run_folder(out, cfg.hash(), resume=resume, overwrite=overwrite) if is_main else None
        state = dist_utils.broadcast_object(state)
        if state == "finished":
            print(f"{out}: this run has already finished (result.json); nothing to do", file=sys.stderr)
            recorded = TrainResult.from_dict(json.loads((out / "result.json").read_text(encoding="utf-8")))
            recorded.already_finished = True
            return recorded
        run = set_up(cfg, resume=state == "resume", model=model, train_sets=train_sets, val_sets=val_sets)
        try:
            stopped = train_loop(run, stop_after)
        finally:
            if run.bar is not None:
                run.bar.close()
        if stopped == "interrupted":
            return _result(run, None, stopped)
        return finish(run, stopped, export=export)


def describe_sets(cfg: TrainConfig, train_sets: Sequence[TrainingSet]) -> TrainConfig:
    """``cfg`` with ``datasets`` / ``languages`` naming the given in-memory training sets (what the
    run's ``config.yaml``, config hash and exported metadata then record)."""
    languages = sorted({lang for ts in train_sets for lang in ts.languages})
    return dataclasses.replace(cfg, datasets=[ts.name for ts in train_sets], languages=languages)


def training_done(run: Run) -> bool:
    """Whether the run has nothing left to train: its last step, or early stopping, was reached (a run
    resumed from its final checkpoint only exports)."""
    p, patience = run.progress, run.cfg.early_stopping_patience
    return p.step >= run.total_steps or bool(patience and p.bad_evals >= patience)


def train_loop(run: Run, stop_after: int | None = None) -> str:
    """Optimisation steps until the last step, early stopping or ``stop_after``; returns why it stopped."""
    cfg, progress, sampler = run.cfg, run.progress, run.sampler
    stopped = "max_steps" if run.total_steps == cfg.max_steps else "epochs"
    patience = cfg.early_stopping_patience
    if progress.step < run.total_steps and patience and progress.bad_evals >= patience:
        return "early_stopping"  # resumed from the checkpoint of the validation that stopped the run
    log = StepLog()
    while progress.step < run.total_steps:
        sampler.set_epoch(progress.epoch)
        for batch in sampler:
            loss_value, lr, tokens = optimisation_step(run, batch)
            log.add(run, batch, loss_value, lr, tokens)
            if progress.step >= run.total_steps:
                break
            if _eval_due(run) and validate(run):
                return "early_stopping"
            if cfg.save_every and progress.step % cfg.save_every == 0 and progress.last_eval_step != progress.step:
                save(run, ("latest",))
                progress.last_save_step = progress.step
            if stop_after is not None and progress.step >= stop_after:
                return "interrupted"
        else:
            progress.epoch += 1
    if run.val_batches and progress.last_eval_step != progress.step:
        validate(run)  # the final weights are validated (and checkpointed) too
    elif not run.val_batches and progress.last_save_step != progress.step:
        save(run, ("latest",))
    return stopped


def _eval_due(run: Run) -> bool:
    if not run.val_batches:
        return False
    if run.cfg.eval_every:
        return run.progress.step % run.cfg.eval_every == 0
    return run.sampler.position >= len(run.sampler)  # the end of an epoch


# ------------------------------------------------------------------------------ phase 1: set-up
def set_up(
    config: TrainConfig,
    *,
    resume: bool = False,
    model: BiEncoder | None = None,
    train_sets: Sequence[TrainingSet] | None = None,
    val_sets: Sequence[TrainingSet] | None = None,
) -> Run:
    """Data, sampler, model, validation batches, optimiser and schedule; then resume or start afresh.

    The output folder has been prepared (:func:`~hybrid_ir.training.run_folder.prepare_run_folder`):
    ``resume`` means it holds a checkpoint of this configuration."""
    cfg = config.validate()
    t_start = time.perf_counter()
    seed_everything(cfg.seed)
    info = dist_utils.init_distributed(cfg.device)
    device = dist_utils.resolve_device(info, cfg.device)
    out = Path(cfg.output_dir).expanduser().resolve()
    ckpt_root = out / "checkpoints"
    latest = ckpt.pointer_target(ckpt_root, "latest") if resume and ckpt_root.is_dir() else None

    data_files: list[str] = []
    if train_sets is None:
        loaded_train, loaded_val, data_files = load_data(cfg)
        train_sets = loaded_train
        val_sets = loaded_val if val_sets is None else val_sets
    train_sets, val_sets = list(train_sets), list(val_sets or [])
    sampler = HybridBatchSampler(
        train_sets, cfg.batch_size, strategy=cfg.strategy, alpha=cfg.alpha,  # type: ignore[arg-type]
        dataset_weights=cfg.dataset_weights, seed=cfg.seed,  # type: ignore[arg-type]
        num_replicas=info.world_size, rank=info.rank, batches_per_epoch=cfg.batches_per_epoch or None,
        batch_schedule=cfg.batch_schedule,  # type: ignore[arg-type]
    )
    epoch_total = cfg.epochs * len(sampler)
    total_steps = min(s for s in (cfg.max_steps, epoch_total) if s > 0)
    warmup = cfg.warmup_steps or math.ceil(cfg.warmup_ratio * total_steps)

    model = model if model is not None else build_model(cfg)
    model.to(device).train()
    precision = resolve_precision(cfg.precision, device)
    autocast = autocast_factory(precision, device)
    optimizer = make_optimizer(model, cfg)
    run = Run(
        cfg=cfg, info=info, device=device, out=out, chash=cfg.hash(), t_start=t_start, data_files=data_files,
        train_sets=train_sets, sampler=sampler, model=model,
        trainable=[p for p in model.parameters() if p.requires_grad],
        val_batches=validation_batches(model, val_sets, cfg, device),
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, warmup, total_steps, cfg.schedule)
        ),
        scaler=make_grad_scaler() if precision == "fp16" else None,
        autocast=autocast, loss_fn=make_loss_fn(cfg, info), total_steps=total_steps, progress=Progress(),
    )
    if latest is not None:
        restore(run, latest)
    elif info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_text(run.metrics_path, "")
    if info.is_main:
        save_config(cfg, out / "config.yaml")
    dist_utils.barrier()
    if cfg.progress and info.is_main:
        from tqdm.auto import tqdm

        run.bar = tqdm(total=total_steps, initial=run.progress.step, desc="train", unit="step", dynamic_ncols=True)
    return run


def validation_batches(
    model: BiEncoder, val_sets: Sequence[TrainingSet], cfg: TrainConfig, device: torch.device
) -> list[Towers]:
    """The fixed validation batches, tokenized once (none without validation sets)."""
    if not val_sets:
        return []
    try:
        val_sampler = HybridBatchSampler(
            val_sets, cfg.val_batch_size or cfg.batch_size, strategy=cfg.val_strategy,  # type: ignore[arg-type]
            alpha=0.5, seed=cfg.seed + 1, batches_per_epoch=cfg.val_batches,
        )
    except HybridIRError as exc:
        raise HybridIRError(
            f"validation batches: {exc} (validation has {sum(map(len, val_sets))} examples; lower "
            "val_batch_size, raise validation_fraction or use val_strategy=cross)"
        ) from None
    return [tokenize_triplets(model, batch_triplets(b, val_sets), device) for b in val_sampler]


def restore(run: Run, latest: Path) -> None:
    """Load weights, optimiser, schedule, sampler position and random states from checkpoint ``latest``."""
    state = ckpt.load_checkpoint(latest, run.model, config_hash=run.chash, map_location=run.device)
    ckpt.require_keys(state, STATE_KEYS, latest)
    try:
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        if run.scaler is not None and state.get("scaler"):
            run.scaler.load_state_dict(state["scaler"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise HybridIRError(f"checkpoint {latest}: optimiser state does not fit this model ({exc})") from exc
    ckpt.check_trainer_state(state["trainer"], state["epoch"], latest)
    run.sampler.load_state_dict(state["sampler"])
    ckpt.restore_rng_state(state["rng"])
    tr = state["trainer"]
    p = run.progress
    p.step, p.epoch = int(state["step"]), int(state["epoch"])
    p.best_val, p.best_step, p.bad_evals = tr.get("best_val_loss"), tr.get("best_step"), int(tr.get("bad_evals", 0))
    # the checkpoint was saved at its step; a final one (what a kill or a full disk during the export
    # leaves) was validated there too (checkpoints written before "last_eval_step" was kept included)
    p.last_save_step = p.step
    p.last_eval_step = int(tr.get("last_eval_step", p.step if p.step >= run.total_steps else -1))
    p.resumed_from = p.step
    if run.info.is_main:
        ckpt.point_best(run.ckpt_root, p.best_step)  # undo a crash between the two pointer writes
    if run.sampler.position >= len(run.sampler) and not training_done(run):  # the checkpoint closed an epoch
        p.epoch += 1  # (an uninterrupted run that stops there does not count the next epoch either)
        run.sampler.set_epoch(p.epoch)
    if run.info.is_main:
        _truncate_metrics(run.metrics_path, p.step)


# ------------------------------------------------------------------- phase 2: one optimisation step
def optimisation_step(run: Run, batch: Batch) -> tuple[float, float, int]:
    """Forward, backward, clip, AdamW step on one batch; returns (loss, learning rate used, tokens)."""
    cfg, progress, optimizer, scaler = run.cfg, run.progress, run.optimizer, run.scaler
    torch.manual_seed(step_seed(cfg.seed, progress.step, run.info.rank))
    towers = tokenize_triplets(run.model, batch_triplets(batch, run.train_sets), run.device)
    loss = forward_backward(
        run.model, towers, run.loss_fn, chunk_size=cfg.gradcache_chunk_size, autocast=run.autocast, scaler=scaler
    )
    loss_value = dist_utils.all_reduce_mean(float(loss), device=None)
    if not math.isfinite(loss_value):
        optimizer.zero_grad(set_to_none=True)
        raise TrainingDiverged(
            f"loss is {loss_value} at step {progress.step + 1} (epoch {progress.epoch}, {batch.type} batch of "
            f"{batch.dataset}); training stopped before applying it. The last good checkpoint is "
            f"kept in {run.ckpt_root}. Lower lr, raise temperature, or use precision=fp32/bf16."
        )
    trainable = run.trainable
    dist_utils.allreduce_gradients(trainable, run.info.world_size)
    if scaler is not None:
        scaler.unscale_(optimizer)
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
    lr = optimizer.param_groups[0]["lr"]
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    run.scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    progress.step += 1
    return loss_value, lr, towers.tokens * run.info.world_size


class StepLog:
    """Averages over the steps since the last ``train`` line of ``metrics.jsonl`` (every ``log_every``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss, self.n, self.triplets, self.tokens = 0.0, 0, 0, 0
        self.types: dict[str, int] = {}
        self.t = time.perf_counter()

    def add(self, run: Run, batch: Batch, loss_value: float, lr: float, tokens: int) -> None:
        step = run.progress.step
        self.loss += loss_value
        self.n += 1
        self.triplets += run.cfg.batch_size
        self.tokens += tokens
        self.types[batch.type] = self.types.get(batch.type, 0) + 1
        if run.bar is not None:
            run.bar.update(1)
            run.bar.set_postfix_str(f"loss={loss_value:.4f} {batch.type}", refresh=False)
        if run.info.is_main and (step % run.cfg.log_every == 0 or step == run.total_steps):
            elapsed = max(time.perf_counter() - self.t, 1e-9)
            _append(run.metrics_path, {
                "event": "train", "step": step, "epoch": run.progress.epoch, "loss": self.loss / self.n,
                "loss_last": loss_value, "lr": lr, "batch_type": batch.type, "dataset": batch.dataset,
                "batch_types": self.types, "triplets_per_s": self.triplets / elapsed,
                "tokens_per_s": self.tokens / elapsed, "wall_s": time.perf_counter() - run.t_start,
            })
            self.reset()


# ------------------------------------------------------- phase 3: validation, early stopping, checkpoint
def validate(run: Run) -> bool:
    """Validation loss at the current step, best tracking, checkpoint; True when early stopping says stop."""
    cfg, p = run.cfg, run.progress
    p.last_eval_step = p.step
    val = dist_utils.broadcast_float(validation_loss(run.model, run.val_batches, cfg, run.autocast), device=None)
    assert val is not None
    if not math.isfinite(val):
        raise TrainingDiverged(f"validation loss is {val} at step {p.step}; the last good checkpoint is kept")
    improved = p.best_val is None or val < p.best_val
    if improved:
        p.best_val, p.best_step, p.bad_evals = val, p.step, 0
    else:
        p.bad_evals += 1
    if run.info.is_main:
        _append(run.metrics_path, {
            "event": "val", "step": p.step, "epoch": p.epoch, "val_loss": val, "best_val_loss": p.best_val,
            "is_best": improved, "bad_evals": p.bad_evals,
        })
    save(run, ("latest", "best") if improved else ("latest",))
    if run.bar is not None:
        run.bar.set_postfix(val=f"{val:.4f}", best=f"{p.best_val:.4f}")
    return bool(cfg.early_stopping_patience) and p.bad_evals >= cfg.early_stopping_patience


def save(run: Run, pointers: tuple[str, ...]) -> None:
    """Checkpoint the current step (main process) and move the named pointers to it.

    Weights with a NaN or infinite value are never saved: training stops with
    :class:`TrainingDiverged` and the last good checkpoint stays the last one."""
    bad = [name for name, t in run.model.named_parameters() if not torch.isfinite(t).all()]
    if bad:
        raise TrainingDiverged(
            f"{len(bad)} weight tensors hold NaN or infinite values at step {run.progress.step} (e.g. {bad[0]}); "
            f"nothing was saved and the last good checkpoint in {run.ckpt_root} is kept. Lower lr."
        )
    if run.info.is_main:
        state = {
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "sampler": run.sampler.state_dict(),
            "scaler": run.scaler.state_dict() if run.scaler is not None else None,
            "rng": ckpt.capture_rng_state(),
            "trainer": run.progress.trainer_state(),
        }
        ckpt.save_checkpoint(
            run.ckpt_root, run.model, state, step=run.progress.step, epoch=run.progress.epoch,
            config_hash=run.chash, pointers=pointers,
        )
    dist_utils.barrier()


# ------------------------------------------------------------------ phase 4: finish and export
def finish(run: Run, stopped: str, *, export: bool = True) -> TrainResult:
    """Export the weights of :func:`exported_step`, log the end, write ``result.json``; drop
    checkpoints if not kept."""
    p = run.progress
    model_dir = _export(run, stopped) if export else None
    if run.info.is_main:
        _append(run.metrics_path, {"event": "end", "step": p.step, "epoch": p.epoch, "stopped": stopped,
                                   "best_val_loss": p.best_val, "best_step": p.best_step,
                                   "wall_s": time.perf_counter() - run.t_start})
    result = _result(run, model_dir, stopped)
    if run.info.is_main:
        exposed = replay_exposure(run.cfg, run.train_sets, p.step, exported_step(run), world_size=run.info.world_size)
        for name, data in (("exposure.json", exposed), ("result.json", result.to_dict())):
            try:
                write_json(run.out / name, data)
            except OSError as exc:
                raise ckpt.write_failure(run.out / name, exc, 1 << 20) from None
        if not run.cfg.keep_checkpoints:
            import shutil

            shutil.rmtree(run.ckpt_root, ignore_errors=True)
    dist_utils.barrier()
    return result


def exported_step(run: Run) -> int:
    """The step whose weights the run exports: with ``export_weights="best"`` (the default) the best
    validated step when a ``best`` checkpoint exists, else the last step; with ``"last"`` the last."""
    p = run.progress
    if run.cfg.export_weights == "last" or p.best_step is None:
        return p.step
    return p.best_step


def replay_exposure(
    cfg: TrainConfig, train_sets: Sequence[TrainingSet], steps: int, exported: int | None = None,
    *, world_size: int = 1,
) -> dict[str, Any]:
    """What the first ``steps`` optimisation steps trained on (and the first ``exported`` ones: the
    exported weights), replayed from fresh samplers: their order depends only on (seed, epoch), so
    the replay yields exactly the batches the run consumed, on every rank. See
    :func:`hybrid_ir.sampling.stats.exposure` for the fields."""
    total = sum(len(ts) for ts in train_sets)

    def batches(n: int) -> Iterator[Batch]:
        for rank in range(world_size):
            sampler = HybridBatchSampler(
                list(train_sets), cfg.batch_size, strategy=cfg.strategy, alpha=cfg.alpha,  # type: ignore[arg-type]
                dataset_weights=cfg.dataset_weights, seed=cfg.seed,  # type: ignore[arg-type]
                num_replicas=world_size, rank=rank, batches_per_epoch=cfg.batches_per_epoch or None,
                batch_schedule=cfg.batch_schedule,  # type: ignore[arg-type]
            )
            yield from islice(_all_epochs(sampler), n)

    exported = steps if exported is None else exported
    return {
        "steps": steps, "exported_step": exported, "world_size": world_size,
        "trained": exposure(batches(steps), total), "exported": exposure(batches(exported), total),
    }


def _all_epochs(sampler: HybridBatchSampler) -> Iterator[Batch]:
    epoch = 0
    while True:
        sampler.set_epoch(epoch)
        yield from sampler
        epoch += 1


def _result(run: Run, model_dir: Path | None, stopped: str) -> TrainResult:
    ckpt_root, p = run.ckpt_root, run.progress
    # a finished run without keep_checkpoints removes them right after this result is written
    keep = ckpt_root.is_dir() and (run.cfg.keep_checkpoints or stopped == "interrupted")
    return TrainResult(
        output_dir=run.out, model_dir=model_dir,
        best_checkpoint=ckpt.pointer_target(ckpt_root, "best") if keep else None,
        latest_checkpoint=ckpt.pointer_target(ckpt_root, "latest") if keep else None,
        metrics_path=run.metrics_path, best_val_loss=p.best_val, best_step=p.best_step, steps=p.step,
        epochs=p.epoch, wall_time_s=time.perf_counter() - run.t_start, stopped=stopped, config_hash=run.chash,
        resumed_from=p.resumed_from,
    )


def _export(run: Run, stopped: str) -> Path | None:
    """Write the exported weights (:func:`exported_step`) as a model folder with the run's provenance."""
    if not run.info.is_main:
        dist_utils.barrier()
        return run.out / "model"
    from hybrid_ir.data.sources import data_checksums

    cfg, p, model = run.cfg, run.progress, run.model
    step = exported_step(run)
    if step != p.step:
        best = ckpt.step_folder(run.ckpt_root, step)
        meta = ckpt.read_meta(best)  # the weights exist and match their checksums ...
        if meta.get("step") != step:  # ... and are those of the step the export reports
            raise HybridIRError(f"{best} holds step {meta.get('step')}, not the best step {step}: export refused")
        ckpt.load_weights(model, best / ckpt.MODEL_FILE)
    extra = {
        "training_config": cfg.to_dict(),
        "config_hash": run.chash,
        "data_checksums": {
            **{path: digest for ts in run.train_sets for path, digest in ts.files.items()},
            **(data_checksums(run.data_files, cfg.data_dir) if run.data_files else {}),
        },
        "training_data": [
            {"name": ts.name, "examples": len(ts), "languages": list(ts.languages), "files": dict(ts.files)}
            for ts in run.train_sets
        ],
        "exported_step": step,
        "steps": p.step,
        "best_val_loss": p.best_val,
        "best_step": p.best_step,
        "stopped": stopped,
    }
    try:
        target = model.save_pretrained(run.out / "model", extra_metadata=extra)
    except Exception as exc:  # a full disk: the hidden temporary folder is already gone
        if not ckpt.is_write_failure(exc):
            raise
        written = getattr(exc, "filename", None)  # a file of the hidden temporary folder: named as in model/
        path = run.out / "model" / Path(written).name if written else run.out / "model"
        raise ckpt.write_failure(path, exc, ckpt.tensor_bytes(dict(model.state_dict())) + (16 << 20)) from None
    dist_utils.barrier()
    return target
