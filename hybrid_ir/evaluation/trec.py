"""TREC run and qrels files for every LAReQA setting, for trec_eval, ir_measures or ranx.

One pair of files per setting, named like the book's tables:

- ``mono.<X>.run`` / ``mono.<X>.qrels``: queries of language X against the candidates of X;
- ``cross.<X>-<Y>.run`` / ``.qrels``: queries of X against the candidates of Y (X != Y); a query
  without a relevant candidate in Y (MLQA-R) is left out of both files, as the package skips it;
- ``multi.<X>.run`` / ``.qrels``: queries of X against the multilingual pool (every language).

Run lines are ``query_id Q0 candidate_id rank score tag`` (the ids of ``hybrid-ir data export``), the
``depth`` best candidates per query by score (``0`` = the whole pool); qrels lines are
``query_id 0 candidate_id 1`` for the relevant candidates in that pool.

With the whole pool (``depth=0``), average precision computed by trec_eval / ir_measures from these
files equals the package's AP for every query, as long as no relevant candidate ties in score with
another candidate: trec_eval breaks ties by document id, the package pessimistically (see
:mod:`hybrid_ir.evaluation.metrics`). With a smaller depth, a relevant candidate below the cut counts
as not retrieved, so AP can only be lower than the package's; the default depth of 100 keeps the
files small (the full XQuAD-R cross-lingual settings alone would be about 157 million lines).

Example::

    >>> write_trec_files(ds, query_vectors, candidate_vectors, "trec/", depth=0)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hybrid_ir.atomic import atomic_path, check_writable
from hybrid_ir.data.lareqa import LareqaDataset
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.retrieval import as_vectors

__all__ = ["settings", "write_trec_files"]


def settings(languages: tuple[str, ...]) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(kind, name, candidate languages) of every setting: mono X, cross X-Y, multi X."""
    for x in languages:
        yield "mono", x, (x,)
    for x in languages:
        for y in languages:
            if x != y:
                yield "cross", f"{x}-{y}", (y,)
    for x in languages:
        yield "multi", x, tuple(languages)


def write_trec_files(
    ds: LareqaDataset, query_vectors: np.ndarray, candidate_vectors: np.ndarray, out_dir: str | Path,
    *, depth: int = 100, tag: str = "hybrid_ir",
) -> list[Path]:
    """Write the run and qrels files of every setting into ``out_dir``; returns the run files."""
    if depth < 0:
        raise HybridIRError(f"depth must be >= 0 (0 = the whole pool), got {depth}")
    out = Path(out_dir)
    check_writable(out / "mono.run", "--trec-run folder")
    qv = as_vectors(query_vectors, "query vectors", rows=len(ds.questions))
    cv = as_vectors(candidate_vectors, "candidate vectors", rows=len(ds.candidates), dim=qv.shape[1])
    q_of = {x: np.array([i for i, q in enumerate(ds.questions) if q.lang == x]) for x in ds.languages}
    c_of = {x: np.array([i for i, c in enumerate(ds.candidates) if c.lang == x]) for x in ds.languages}
    written = []
    for kind, name, targets in settings(ds.languages):
        query_lang = name.split("-")[0]
        pool = np.concatenate([c_of[y] for y in targets])
        run_lines, qrel_lines = [], []
        scores = qv[q_of[query_lang]] @ cv[pool].T  # (queries of X, pool)
        for row, qi in enumerate(q_of[query_lang]):
            q = ds.questions[qi]
            relevant = set(ds.relevant.get(q.parallel_id, ())) & set(pool.tolist())
            if not relevant:
                continue
            order = np.argsort(-scores[row], kind="stable")
            top = order if depth == 0 else order[:depth]
            run_lines += [f"{q.id} Q0 {ds.candidates[pool[j]].id} {r} {scores[row, j]:.7g} {tag}\n"
                          for r, j in enumerate(top, start=1)]
            qrel_lines += [f"{q.id} 0 {ds.candidates[c].id} 1\n" for c in sorted(relevant)]
        if not run_lines:
            continue
        for suffix, lines in (("run", run_lines), ("qrels", qrel_lines)):
            with atomic_path(out / f"{kind}.{name}.{suffix}") as tmp:
                tmp.write_text("".join(lines), encoding="utf-8")
        written.append(out / f"{kind}.{name}.run")
    return written
