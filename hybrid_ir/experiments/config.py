"""An experiment's configuration: base training settings, strategies, seeds, evaluation set.

:func:`load_experiment` reads an experiment YAML file (e.g. ``results/configs/mlqa-to-xquad.yaml``),
checks every key and type before any training, and :func:`train_config` gives the
:class:`~hybrid_ir.training.config.TrainConfig` of one (strategy, seed) run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hybrid_ir.errors import HybridIRError

UNTUNED = "untuned"

#: An experiment name or a strategy label becomes one folder name under the results and runs folders:
#: a single path component of letters, digits, ``.``, ``_`` and ``-`` that starts with a letter or digit.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(value: object, what: str) -> str:
    """``value`` if it is a safe folder name (:data:`SAFE_NAME`), else a one-line error naming ``what``.

    >>> check_name("mlqa-r_to_xquad-r", "name")
    'mlqa-r_to_xquad-r'
    >>> check_name("../x", "name")
    Traceback (most recent call last):
    ...
    hybrid_ir.errors.HybridIRError: name '../x' is not a plain folder name: use letters, digits, '.', '_' and '-' (at most 100, starting with a letter or digit)
    """
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise HybridIRError(
            f"{what} {value!r} is not a plain folder name: use letters, digits, '.', '_' and '-' (at most 100, "
            "starting with a letter or digit)"
        )
    return value


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
    base_config: str = "cpu"  # a named training configuration (hybrid_ir.training.config) or a YAML path
    train: dict[str, Any] = field(default_factory=dict)  # overrides of the base configuration
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
    # An alpha sweep's other points: an experiment file in the same folder (a plain file name) whose
    # x-y, hybrid and x-x-mono runs of this file's seeds are the sweep's alpha = 0, its hybrid alpha
    # and 1 (the sampler draws exactly their batches there); its claims compare neighbouring alphas.
    alpha_reference: str = ""
    results_dir: str = "results"
    runs_dir: str = "runs"
    source: str = ""  # the YAML file it was read from

    def __post_init__(self) -> None:
        check_name(self.name, "experiment name")
        for label in self.strategies:
            check_name(label, "strategy label")

    @property
    def folder(self) -> Path:
        return Path(self.results_dir) / self.name

    def run_folder(self, label: str, seed: int | None) -> Path:
        return self.folder / label if label == UNTUNED else self.folder / label / f"seed{seed}"

    def strategy_seeds(self, label: str) -> list[int]:
        """The seeds of one strategy: its own ``seeds`` entry if it has one, else the experiment's (also
        for a label the experiment does not have, whose runs are then simply not found)."""
        own = self.strategies.get(label, {}).get("seeds")
        return list(self.seeds if own is None else own)

    def runs(self) -> list[tuple[str, int | None]]:
        """Every run of the experiment in execution order: the baseline, then seed-major."""
        out: list[tuple[str, int | None]] = [(UNTUNED, None)] if self.baseline else []
        seeds = list(dict.fromkeys(self.seeds + [s for label in self.strategies for s in self.strategy_seeds(label)]))
        out += [(label, seed) for seed in seeds for label in self.strategies if seed in self.strategy_seeds(label)]
        return out


def load_experiment(path: str | Path, results_root: str | Path | None = None, *,
                    check_reference: bool = True) -> ExperimentConfig:
    """Read an experiment YAML file (unknown keys are an error). ``results_root`` replaces the file's
    ``results_dir`` (e.g. the book reads the recorded results wherever the repository is). An alpha
    sweep's ``alpha_reference`` is read and checked too (:func:`alpha_points`), unless
    ``check_reference`` is False (how the reference itself is read)."""
    path = Path(path)
    if not path.is_file():
        raise HybridIRError(f"experiment config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise HybridIRError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise HybridIRError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    if "profile" in data and "base_config" not in data:  # the key's name before the book's run profiles
        data["base_config"] = data.pop("profile")
    known = set(ExperimentConfig.__dataclass_fields__) - {"source"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise HybridIRError(f"{path}: unknown keys {unknown}; known: {sorted(known)}")
    if "name" not in data:
        raise HybridIRError(f"{path}: 'name' is required")
    _check_types(path, data)
    for label, overrides in data.get("strategies", {}).items():
        if label == UNTUNED:
            raise HybridIRError(f"{path}: '{UNTUNED}' is reserved for the baseline")
        if not isinstance(overrides, dict):
            raise HybridIRError(f"{path}: strategies.{label} must be a mapping of settings")
        _check_seeds(path, overrides.get("seeds", []), f"strategies.{label}.seeds")
    try:
        exp = ExperimentConfig(**data, source=str(path))
    except HybridIRError as exc:
        raise HybridIRError(f"{path}: {exc}") from None
    if results_root is not None:
        exp.results_dir = str(results_root)
    for label in exp.strategies:
        seeds = exp.strategy_seeds(label)
        train_config(exp, label, seeds[0] if seeds else 0)  # validates the overrides now
    _check_evaluation(path, exp)
    if exp.eval_precision not in ("auto", "fp32", "bf16", "fp16"):
        raise HybridIRError(f"{path}: eval_precision must be auto, fp32, bf16 or fp16, got '{exp.eval_precision}'")
    _check_alpha_reference(path, exp)
    if exp.alpha_reference and check_reference:
        alpha_points(exp)  # the reference is read and matched now, not after hours of training
    return exp


_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "eval_dataset": (str,), "eval_languages": (list, type(None)), "candidate_text": (str,),
    "eval_batch_size": (int,), "eval_precision": (str,), "eval_device": (str,), "base_config": (str,), "train": (dict,), "strategies": (dict,), "seeds": (list,),
    "baseline": (bool,), "tatoeba": (bool,), "tatoeba_languages": (list, type(None)), "alpha_reference": (str,), "results_dir": (str,),
    "runs_dir": (str,),
}


def _check_types(path: Path, data: dict[str, Any]) -> None:
    for key, value in data.items():
        types = _TYPES.get(key)
        if types and (not isinstance(value, types) or (int in types and isinstance(value, bool))):
            wanted = " or ".join("none" if t is type(None) else {"dict": "a mapping", "list": "a list"}.get(
                t.__name__, t.__name__) for t in types)
            raise HybridIRError(f"{path}: '{key}' must be {wanted}, got {type(value).__name__} ({value!r})")
    _check_seeds(path, data.get("seeds", []), "seeds")


def _check_seeds(path: Path, seeds: object, what: str) -> None:
    if not isinstance(seeds, list) or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise HybridIRError(f"{path}: '{what}' must be a list of non-negative integers")


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


def _check_alpha_reference(path: Path, exp: ExperimentConfig) -> None:
    """``alpha_reference`` names another experiment file beside this one (never a path elsewhere)."""
    name = exp.alpha_reference
    if not name:
        return
    if not SAFE_NAME.fullmatch(name) or not name.endswith((".yaml", ".yml")):
        raise HybridIRError(f"{path}: alpha_reference {name!r} must be the file name of an experiment YAML file "
                            "in the same folder (letters, digits, '.', '_', '-'; ending .yaml)")
    if name == path.name:
        raise HybridIRError(f"{path}: alpha_reference names the file itself")
    target = path.parent / name
    if not target.is_file():
        raise HybridIRError(f"{path}: alpha_reference {name!r} not found in {path.parent}")
    if target.resolve().parent != path.parent.resolve():
        raise HybridIRError(f"{path}: alpha_reference {name!r} leads out of {path.parent} (a link?)")


#: The settings in which the points of an alpha sweep may differ: the batch strategy and its alpha,
#: and what names the run (its seed and output folder).
_SWEEP_VARIES = frozenset({"strategy", "alpha", "seed", "output_dir"})


def alpha_reference(exp: ExperimentConfig) -> ExperimentConfig | None:
    """The experiment named by ``exp.alpha_reference`` (read from beside ``exp``'s file, its results
    under the same results root), or None without one. It must evaluate on the same questions and
    train with the same settings apart from the strategy and alpha, and name no reference itself."""
    if not exp.alpha_reference:
        return None
    where = f"{exp.source}: alpha_reference {exp.alpha_reference}"
    ref = load_experiment(Path(exp.source).parent / exp.alpha_reference, results_root=exp.results_dir,
                          check_reference=False)
    if ref.alpha_reference:
        raise HybridIRError(f"{where} names a reference of its own: one level only")
    differ = [key for key in ("eval_dataset", "eval_languages", "candidate_text", "eval_precision")
              if getattr(ref, key) != getattr(exp, key)]
    if differ:
        raise HybridIRError(f"{where} evaluates differently ({', '.join(differ)}): its runs cannot be points "
                            "of this sweep")
    seed = exp.seeds[0] if exp.seeds else 0
    configs = [train_config(e, label, seed).to_dict() for e in (ref, exp) for label in e.strategies]
    differ = sorted({key for c in configs[1:] for key in c
                     if key not in _SWEEP_VARIES and c[key] != configs[0].get(key)})
    if differ:
        raise HybridIRError(f"{where} trains differently ({', '.join(differ)}): its runs cannot be points of "
                            "this sweep")
    return ref


def strategy_alpha(strategy: str, alpha: float) -> float:
    """The share of monolingual batches a strategy gives: cross = 0, mono = 1, hybrid = ``alpha``.

    >>> strategy_alpha("cross", 0.5), strategy_alpha("hybrid", 0.25), strategy_alpha("mono", 0.5)
    (0.0, 0.25, 1.0)
    """
    shares = {"cross": 0.0, "mono": 1.0, "hybrid": float(alpha)}
    if strategy not in shares:
        raise HybridIRError(f"unknown strategy {strategy!r}; expected one of {sorted(shares)}")
    return shares[strategy]


def alpha_label(alpha: float) -> str:
    """The label of one point of an alpha sweep.

    >>> alpha_label(0.0), alpha_label(0.25), alpha_label(1.0)
    ('alpha-0', 'alpha-0.25', 'alpha-1')
    """
    return f"alpha-{alpha:g}"


def alpha_points(sweep: ExperimentConfig) -> dict[str, tuple[ExperimentConfig, str]]:
    """The points of an alpha sweep, in the order of alpha: label (``alpha-0.25``) -> (experiment,
    strategy label). The reference's strategies come first (X-Y is alpha = 0, X-X-mono alpha = 1),
    then the sweep's own; two strategies with the same alpha are an error."""
    reference = alpha_reference(sweep)
    seed = sweep.seeds[0] if sweep.seeds else 0
    points: dict[float, tuple[ExperimentConfig, str]] = {}
    for exp in ([reference] if reference else []) + [sweep]:
        for label in exp.strategies:
            cfg = train_config(exp, label, seed)
            alpha = strategy_alpha(cfg.strategy, cfg.alpha)
            if alpha in points:
                other = points[alpha]
                raise HybridIRError(f"{sweep.source}: {exp.name}/{label} and {other[0].name}/{other[1]} both have "
                                    f"alpha = {alpha:g}: one run per point of the sweep")
            points[alpha] = (exp, label)
    return {alpha_label(a): points[a] for a in sorted(points)}


def train_config(exp: ExperimentConfig, label: str, seed: int):
    """The :class:`~hybrid_ir.training.config.TrainConfig` of one training run of the experiment."""
    from hybrid_ir.training.config import load_config, set_field

    cfg = load_config(exp.base_config)
    overrides = {k: v for k, v in exp.strategies[label].items() if k != "seeds"}  # seeds: which runs, not how
    settings = {**exp.train, **overrides, "seed": seed,
                "output_dir": str(Path(exp.runs_dir) / exp.name / f"{label}-seed{seed}"),
                "progress": False}
    for key, value in settings.items():
        set_field(cfg, key, value, f"{exp.source or exp.name}: {label}")
    return cfg.validate()
