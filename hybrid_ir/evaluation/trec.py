"""TREC run and qrels files for every LAReQA setting, for trec_eval, ir_measures or ranx.

One pair of files per setting, named like the book's tables:

- ``mono.<X>.run`` / ``mono.<X>.qrels``: queries of language X against the candidates of X;
- ``cross.<X>-<Y>.run`` / ``.qrels``: queries of X against the candidates of Y (X != Y); a query
  without a relevant candidate in Y (MLQA-R) is left out of both files, as the package skips it;
- ``multi.<X>.run`` / ``.qrels``: queries of X against the multilingual pool (every language).

Run lines are ``query_id Q0 candidate_id rank score tag`` (the ids of ``hybrid-ir data export``), the
``depth`` best candidates per query by score (``0`` = the whole pool); qrels lines are
``query_id 0 candidate_id 1`` for the relevant candidates in that pool.

Two mAPs, and which to compare with what:

- the package's mAP (:class:`~hybrid_ir.evaluation.grid.LareqaResult`, what ``evaluate`` prints and the
  book reports) ranks the whole pool, and breaks score ties pessimistically;
- the mAP the written files support (:func:`export_trec`'s ``map_at_depth``): average precision over
  the top ``depth`` candidates written, computed as trec_eval computes it (scores as written, ties
  broken by candidate id in descending order, a relevant candidate below the cut counts as not
  retrieved). trec_eval, ir_measures and ranx on these files give exactly this number.

With a depth, the files' AP can only be lower than the package's (by up to 5e-4 per setting at the
default depth of 100 on XQuAD-R); with the whole pool (``depth=0``) the two agree unless scores tie.
The whole pool is large (about 100 MB for two languages; the full XQuAD-R cross-lingual settings alone
would be about 157 million lines): compare the files with ``map_at_depth`` instead.

Example::

    >>> export = export_trec(ds, query_vectors, candidate_vectors, "trec/", result=result)  # doctest: +SKIP
    >>> export.table[["setting", "map", "map_at_depth"]]                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hybrid_ir.atomic import atomic_path, check_writable
from hybrid_ir.data.lareqa import LareqaDataset
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.retrieval import as_vectors

__all__ = ["TrecExport", "export_trec", "settings", "trec_paths", "write_trec_files"]


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


def trec_paths(languages: tuple[str, ...], out_dir: str | Path) -> list[Path]:
    """Every file :func:`write_trec_files` may write for these languages (checked before any work)."""
    out = Path(out_dir)
    return [out / f"{kind}.{name}.{suffix}" for kind, name, _ in settings(languages) for suffix in ("run", "qrels")]


@dataclass
class TrecExport:
    """What :func:`export_trec` wrote: the run files, and per setting (``mono.en``, ``cross.en-de``,
    ``multi.en``) the queries, the mAP the files support (``map_at_depth``, as trec_eval computes it)
    and, when a result was given, the package's mAP over the same queries (``map``)."""

    runs: list[Path]
    depth: int
    table: pd.DataFrame

    def summary(self) -> dict[str, float | None]:
        """Macro means of the files' mAP, as the package's summary averages its own: mono and multi
        over query languages, cross over language pairs."""
        out: dict[str, float | None] = {}
        for kind in ("mono", "cross", "multi"):
            values = self.table.loc[self.table.kind == kind, "map_at_depth"].dropna()
            out[f"{kind}_map"] = float(values.mean()) if len(values) else None
        return out

    def to_json(self) -> dict[str, Any]:
        """``{"depth", "summary", "settings"}``; undefined values are null."""
        rows = {r.setting: {"queries": int(r.queries), "map": _num(r.map), "map_at_depth": _num(r.map_at_depth)}
                for r in self.table.itertuples()}
        return {"depth": self.depth, "summary": self.summary(), "settings": rows}


def _num(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def write_trec_files(
    ds: LareqaDataset, query_vectors: np.ndarray, candidate_vectors: np.ndarray, out_dir: str | Path,
    *, depth: int = 100, tag: str = "hybrid_ir",
) -> list[Path]:
    """Write the run and qrels files of every setting into ``out_dir``; returns the run files."""
    return export_trec(ds, query_vectors, candidate_vectors, out_dir, depth=depth, tag=tag).runs


def export_trec(
    ds: LareqaDataset, query_vectors: np.ndarray, candidate_vectors: np.ndarray, out_dir: str | Path,
    *, depth: int = 100, tag: str = "hybrid_ir", result=None,
) -> TrecExport:
    """Write the run and qrels files of every setting into ``out_dir``; returns them with the mAP each
    supports (and, given the :class:`~hybrid_ir.evaluation.grid.LareqaResult` ``result``, the package's)."""
    if depth < 0:
        raise HybridIRError(f"depth must be >= 0 (0 = the whole pool), got {depth}")
    out = Path(out_dir)
    for path in trec_paths(ds.languages, out):
        check_writable(path, "--trec-run file")
    qv = as_vectors(query_vectors, "query vectors", rows=len(ds.questions))
    cv = as_vectors(candidate_vectors, "candidate vectors", rows=len(ds.candidates), dim=qv.shape[1])
    q_of = {x: np.array([i for i, q in enumerate(ds.questions) if q.lang == x]) for x in ds.languages}
    c_of = {x: np.array([i for i, c in enumerate(ds.candidates) if c.lang == x]) for x in ds.languages}
    written, rows = [], []
    for kind, name, targets in settings(ds.languages):
        query_lang = name.split("-")[0]
        pool = np.concatenate([c_of[y] for y in targets])
        run_lines, qrel_lines, aps, queries = _setting_lines(ds, qv, cv, q_of[query_lang], pool, depth, tag)
        if not run_lines:
            continue
        for suffix, lines in (("run", run_lines), ("qrels", qrel_lines)):
            with atomic_path(out / f"{kind}.{name}.{suffix}") as tmp:
                tmp.write_text("".join(lines), encoding="utf-8")
        written.append(out / f"{kind}.{name}.run")
        rows.append({"setting": f"{kind}.{name}", "kind": kind, "queries": len(aps),
                     "map": _package_map(result, kind, name, queries), "map_at_depth": float(np.mean(aps))})
    table = pd.DataFrame(rows, columns=["setting", "kind", "queries", "map", "map_at_depth"])
    return TrecExport(written, depth, table)


def _setting_lines(
    ds: LareqaDataset, qv: np.ndarray, cv: np.ndarray, query_rows: np.ndarray, pool: np.ndarray, depth: int,
    tag: str,
) -> tuple[list[str], list[str], list[float], list[int]]:
    """The run and qrels lines of one setting, the AP each query's written lines support, and the
    queries written (those with a relevant candidate in the pool)."""
    pool_ids = [ds.candidates[c].id for c in pool]
    # trec_eval breaks score ties by document id, descending: the rank of each id in that order
    id_rank = np.empty(len(pool), dtype=np.int64)
    id_rank[sorted(range(len(pool)), key=pool_ids.__getitem__, reverse=True)] = np.arange(len(pool))
    pool_set = set(pool.tolist())
    scores = qv[query_rows] @ cv[pool].T  # (queries of X, pool)
    run_lines, qrel_lines, aps, queries = [], [], [], []
    for row, qi in enumerate(query_rows):
        q = ds.questions[qi]
        relevant = set(ds.relevant.get(q.parallel_id, ())) & pool_set
        if not relevant:
            continue
        order = np.argsort(-scores[row], kind="stable")
        top = order if depth == 0 else order[:depth]
        written = [f"{scores[row, j]:.7g}" for j in top]
        run_lines += [f"{q.id} Q0 {pool_ids[j]} {r} {s} {tag}\n"
                      for r, (j, s) in enumerate(zip(top, written, strict=True), start=1)]
        qrel_lines += [f"{q.id} 0 {ds.candidates[c].id} 1\n" for c in sorted(relevant)]
        hits = np.isin(pool[top], list(relevant))
        aps.append(trec_eval_ap(np.array(written, dtype=np.float64), id_rank[top], hits, len(relevant)))
        queries.append(int(qi))
    return run_lines, qrel_lines, aps, queries


def trec_eval_ap(scores: np.ndarray, tie_rank: np.ndarray, relevant: np.ndarray, n_relevant: int) -> float:
    """Average precision of one query as trec_eval computes it from a run: documents sorted by score
    (as written) descending, ties by ``tie_rank`` (the document id's rank in descending id order);
    ``relevant`` marks the retrieved relevant documents, ``n_relevant`` counts all in the qrels."""
    order = np.lexsort((tie_rank, -scores))
    hits = relevant[order]
    ranks = np.flatnonzero(hits) + 1
    return float(np.sum(np.arange(1, len(ranks) + 1) / ranks) / n_relevant) if n_relevant else 0.0


def _package_map(result, kind: str, name: str, queries: list[int]) -> float | None:
    """The package's mAP (whole pool) over the queries of one setting, or None without a result."""
    if result is None:
        return None
    rows = np.asarray(queries, dtype=np.int64)
    if kind == "multi":
        values = result.multi_ap[rows]
    else:
        values = result.pair_ap[rows, list(result.languages).index(name.split("-")[-1])]
    return float(np.nanmean(values))
