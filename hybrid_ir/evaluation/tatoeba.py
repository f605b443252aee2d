"""Tatoeba bitext retrieval: for each sentence, is its translation the nearest sentence of the other side?

XTREME and XTREME-R evaluate a multilingual encoder on Tatoeba without any fine-tuning on it: encode
the n sentences of language X and their n English translations, and for each X sentence retrieve the
English sentence with the highest cosine similarity among all n (and the other way round).

    acc@1(X -> en) = (1/n) * sum_i 1[ argmax_j cos(x_i, e_j) = i ]
    acc@1(en -> X) = (1/n) * sum_i 1[ argmax_j cos(e_i, x_j) = i ]

A tie with the true translation counts as a miss only when another sentence scores strictly higher
(the pessimistic rule is pointless here: the embeddings are continuous). Both sides are encoded as
*queries* (``"query: "`` prefix for multilingual-e5), the convention E5 uses for symmetric tasks such as
bitext mining. The paper (arXiv 2408.10536) makes no claim on Tatoeba; the book uses it to ask whether
a batch strategy costs the encoder an ability it was not trained for.

Example::

    >>> import numpy as np
    >>> x = np.eye(3, dtype=np.float32); e = np.eye(3, dtype=np.float32)[[0, 2, 1]]
    >>> bitext_accuracy(x, e)          # sentence 0 finds its translation, 1 and 2 find each other's
    (0.3333333333333333, 0.3333333333333333)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hybrid_ir.data.tatoeba import TATOEBA_LANGUAGES, load_tatoeba
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.retrieval import Encoder, as_vectors


def _normalise(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if (norms == 0).any():
        raise HybridIRError("an embedding has norm 0: cosine similarity is undefined")
    return a / norms


def bitext_hits(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per source row i: 1.0 when target row i has the highest cosine among all target rows, else 0.0."""
    s = as_vectors(source, "source embeddings")
    t = as_vectors(target, "target embeddings", rows=s.shape[0], dim=s.shape[1])
    scores = _normalise(s) @ _normalise(t).T  # (n, n)
    own = np.diagonal(scores)
    beaten_by = (scores > own[:, None]).sum(axis=1)  # target rows scoring strictly higher
    return (beaten_by == 0).astype(np.float64)


def bitext_accuracy(other: np.ndarray, english: np.ndarray) -> tuple[float, float]:
    """(acc@1 other -> English, acc@1 English -> other) for aligned embeddings (see the module doc)."""
    return float(bitext_hits(other, english).mean()), float(bitext_hits(english, other).mean())


def evaluate_tatoeba_model(
    model: Encoder,
    languages: Sequence[str] = TATOEBA_LANGUAGES,
    *,
    batch_size: int = 64,
    data_dir: str | None = None,
    show_progress: bool = False,
    device: str | None = "auto",
    precision: str = "fp32",
) -> dict[str, Any]:
    """Tatoeba acc@1 of ``model`` in both directions per language, their means, and the per-pair hits.

    Returns ``{"per_language": {lang: {"to_en", "from_en", "mean", "pairs"}}, "summary": {"to_en",
    "from_en", "mean"}, "hits": {lang: {"to_en": [0/1...], "from_en": [...]}}}``; the hits (one per
    sentence pair) are what the seed-aware tests resample. ``device`` / ``precision`` go to
    ``model.encode``.
    """
    runtime = {"device": device, "precision": precision}
    per_language: dict[str, dict[str, float]] = {}
    hits: dict[str, dict[str, list[int]]] = {}
    for lang in languages:
        pairs = load_tatoeba(lang, data_dir)
        xv = model.encode(list(pairs.other), kind="query", batch_size=batch_size, show_progress=show_progress,
                          **runtime)
        ev = model.encode(list(pairs.english), kind="query", batch_size=batch_size, show_progress=show_progress,
                          **runtime)
        to_en, from_en = bitext_hits(xv, ev), bitext_hits(ev, xv)
        per_language[lang] = {
            "to_en": float(to_en.mean()), "from_en": float(from_en.mean()),
            "mean": float((to_en.mean() + from_en.mean()) / 2), "pairs": len(pairs),
        }
        hits[lang] = {"to_en": to_en.astype(int).tolist(), "from_en": from_en.astype(int).tolist()}
    summary = {k: float(np.mean([v[k] for v in per_language.values()])) for k in ("to_en", "from_en", "mean")}
    return {"per_language": per_language, "summary": summary, "hits": hits}
