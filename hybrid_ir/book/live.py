"""The chapters' live runs: a training configuration from a run profile, and a live LAReQA evaluation.

The live training runs of the chapters are built by :func:`live_train_config`, which trains exactly
the profile's ``train_steps`` (no epoch cap, no early stop), so the number a chapter states is the
number it trains.
"""

from __future__ import annotations

import json
from pathlib import Path

from hybrid_ir.book.profiles import Profile


def live_train_config(prof: Profile, seed: int, output_dir: str, overrides: list[str] | None = None):
    """The :class:`~hybrid_ir.training.config.TrainConfig` of a chapter's live training run.

    Base training configuration by encoder (``smoke`` for the tiny model, ``cpu`` for the offline
    multilingual-e5-small, ``colab-gpu`` for a Hub or local model), then the run profile's model,
    batch size and lengths, and exactly ``prof.train_steps`` optimiser steps: ``epochs`` is set high
    enough and early stopping is off, so that no epoch cap or early stop shortens the run. A finished
    run keeps its exported model, not its checkpoints (``keep_checkpoints=false``: for
    multilingual-e5-small a checkpoint with its optimiser state takes up to 1.3 GB, and the chapters
    read only the exported models); an interrupted run keeps them, so it can resume. ``overrides``
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
        "keep_checkpoints=false",
    ]
    return load_config(base, [*settings, *(overrides or [])])


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
    qv, cv = _cached_embeddings(path, name, ds, prof, candidate_text, precision)
    result = evaluate_lareqa(ds, qv, cv)
    shown = "/".join(Path(name).parts[-2:]) if Path(name).is_dir() else name  # a folder: no full path
    print(f"live evaluation of {shown}: {precision} on {device}")  # the book may pick bf16; it says so
    return ds, result, time.perf_counter() - start


def _cached_embeddings(path: Path, name: str, ds, prof: Profile, candidate_text: str, precision: str):
    """Query and candidate vectors of ``ds``: read from ``path`` for a named model that was encoded
    before, else encoded now (and cached for a named model; a trained folder may change)."""
    import numpy as np

    if path.is_file() and not Path(name).is_dir():
        data = np.load(path)
        return data["queries"], data["candidates"]
    from hybrid_ir.evaluation.retrieval import encode_dataset
    from hybrid_ir.modeling.biencoder import BiEncoder

    model = BiEncoder.from_pretrained(
        name, max_query_length=prof.max_query_length, max_passage_length=prof.max_passage_length
    )
    qv, cv = encode_dataset(model, ds, candidate_text, batch_size=prof.encode_batch_size,  # type: ignore[arg-type]
                            precision=precision)
    if not Path(name).is_dir():
        from hybrid_ir.atomic import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, queries=qv, candidates=cv)
    return qv, cv
