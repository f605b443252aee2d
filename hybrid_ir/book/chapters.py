"""Helpers shared by the book's chapters: profiles, set-up and recorded numbers.

Every chapter has one cell tagged ``parameters`` with ``profile = "auto"``: ``colab`` in Colab with
a GPU, ``colab-cpu`` in Colab without one, ``default`` anywhere else (:func:`resolve_profile`; the
chapter prints which and why). papermill overrides it (``make book`` passes ``ci``). A
:class:`Profile` says which encoder a chapter uses and how big the live runs are:

- ``ci``: offline, 2 CPU cores, a few minutes per chapter (small subsets, the tiny random model for
  live training, the offline multilingual-e5-small for live evaluation on a few languages);
- ``default``: what a reader runs locally: the real multilingual-e5-small (offline conversion, the
  same weights as ``intfloat/multilingual-e5-small``) on the full sets;
- ``colab``: a Colab GPU runtime: the Hub model, full sets, GPU-sized batches;
- ``colab-cpu``: a Colab runtime without a GPU: the Hub model with the ``default`` sizes.

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
        description="a reader's machine: real multilingual-e5-small (offline conversion), full sets",
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
        return PROFILES[name], why
    except KeyError:
        raise HybridIRError(f"unknown profile '{name}'; choose one of {sorted(PROFILES)} or 'auto'") from None


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (``"auto"``: see :func:`resolve_profile`)."""
    return resolve_profile(name)[0]


def setup_notebook(profile: str = "auto", seed: int = 0) -> Profile:
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


def recorded_experiment(config: str):
    """The experiment ``results/configs/<config>.yaml``, reading its runs from :func:`results_dir`.

    Example: ``recorded_experiment("mlqa-to-xquad").folder`` is ``results/mlqa-r_to_xquad-r``.
    """
    from hybrid_ir.experiments.reproduce import load_experiment

    root = results_dir()
    exp = load_experiment(root / "configs" / f"{config}.yaml")
    exp.results_dir = str(root)
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
    precision = resolve_precision("auto", resolve_device("auto"), purpose="inference")
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
    return ds, result, time.perf_counter() - start
