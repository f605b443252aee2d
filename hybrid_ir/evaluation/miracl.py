"""MIRACL dev evaluation (monolingual retrieval over Wikipedia passages): nDCG@10 and Recall@100.

Data:

- **topics** ``miracl/topics/topics.miracl-v1.0-<lang>-dev.tsv``: ``qid<TAB>text``; **qrels**
  ``miracl/qrels/qrels.miracl-v1.0-<lang>-dev.tsv``: TREC ``qid Q0 docid rel``; both found by
  :func:`hybrid_ir.data.sources.resolve_file` (query ids are strings);
- **passages** (not in the shared data): any local JSON-lines file of ``{"docid", "title", "text"}``
  (:func:`read_corpus_jsonl`, what the offline fixture uses), or, online, the Hugging Face dataset
  ``miracl/miracl-corpus`` (:func:`load_corpus_hf`; files ``miracl-corpus-v1.0-<lang>/docs-*.jsonl.gz``
  read through ``datasets.load_dataset("json", ...)``; 132k passages for sw up to 33M for en).
  The text encoded for a passage is ``title + " " + text`` (:func:`passage_text`).

Protocol (:func:`evaluate_miracl`): queries and passages of one language (query language = corpus
language); qrels are restricted to the passages present in the given corpus; a query is **skipped**
when no passage of the corpus is judged relevant to it (``rel > 0``), or when it has no judgement at
all (both counted in ``MiraclResult.skipped``); the reported values are means over the evaluated
queries. With the full corpus every judged passage is present, so this matches the official
evaluation; with a sub-corpus the numbers are about that sub-corpus.

Ranks: ``method="exact"`` scores every passage (float32 inner products) and ranks the judged-relevant
ones by counting (:func:`hybrid_ir.evaluation.retrieval.relevant_ranks_exact`, the package's tie rule);
``"flat"`` / ``"hnsw"`` / ``"ivf"`` take FAISS's top 100 (``max(k)``) and give relevant passages
outside it rank ``inf`` (HNSW/IVF are approximate).
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hybrid_ir.data.sources import resolve_file
from hybrid_ir.env import hub_offline
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.metrics import _ndcg_kernel, _recall_kernel, mean_of
from hybrid_ir.evaluation.retrieval import (
    as_vectors,
    build_index,
    ranks_from_top_k,
    relevant_ranks_exact,
    search,
)

if TYPE_CHECKING:  # pragma: no cover
    from hybrid_ir.evaluation.retrieval import Encoder

#: the 15 languages of the paper's MIRACL table, in its order
PAPER_LANGUAGES: tuple[str, ...] = (
    "sw", "bn", "hi", "ko", "th", "te", "fi", "ja", "es", "fr", "ru", "zh", "fa", "ar", "id",
)
#: languages with dev topics and qrels in the pinned anserini-tools copy
DEV_LANGUAGES: tuple[str, ...] = (
    "ar", "bn", "de", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th",
    "yo", "zh",
)
HF_CORPUS = "miracl/miracl-corpus"
#: The commit of ``miracl/miracl-corpus`` the online path reads (never the moving ``main``). Taken from
#: public projects that pin the same commit; the Hub is unreachable where this package is developed,
#: so it was not re-checked from here.
MIRACL_CORPUS_REVISION = "d921ec7e349ce0d28daf30b2da9da5ee698bef0d"
METHODS: tuple[str, ...] = ("exact", "flat", "hnsw", "ivf")


def _check_lang(lang: str) -> str:
    if lang not in DEV_LANGUAGES:
        raise HybridIRError(f"no MIRACL dev set for language '{lang}'; available: {', '.join(DEV_LANGUAGES)}")
    return lang


def topics_path(lang: str) -> str:
    return f"miracl/topics/topics.miracl-v1.0-{_check_lang(lang)}-dev.tsv"


def qrels_path(lang: str) -> str:
    return f"miracl/qrels/qrels.miracl-v1.0-{_check_lang(lang)}-dev.tsv"


def load_topics(lang: str, data_dir: str | Path | None = None) -> dict[str, str]:
    """Dev queries of a language: ``{qid: text}`` in file order (qids kept as strings)."""
    path = resolve_file(topics_path(lang), data_dir)
    topics: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        qid, sep, text = line.partition("\t")
        if not sep or not qid.strip():
            raise HybridIRError(f"{path}, line {n}: expected 'qid<TAB>text', got {line[:80]!r}")
        if qid in topics:
            raise HybridIRError(f"{path}, line {n}: query id '{qid}' appears twice")
        topics[qid.strip()] = text.strip()
    return topics


def load_qrels(lang: str, data_dir: str | Path | None = None) -> dict[str, dict[str, int]]:
    """Dev judgements of a language: ``{qid: {docid: rel}}`` (TREC ``qid Q0 docid rel``)."""
    path = resolve_file(qrels_path(lang), data_dir)
    return read_qrels(path)


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Read a TREC qrels file (whitespace separated ``qid iteration docid rel``)."""
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise HybridIRError(f"{path}, line {n}: expected 'qid Q0 docid rel', got {line[:80]!r}")
        try:
            rel = int(parts[3])
        except ValueError:
            raise HybridIRError(f"{path}, line {n}: relevance '{parts[3]}' is not an integer") from None
        qrels.setdefault(parts[0], {})[parts[2]] = rel
    return qrels


# ---- passages -----------------------------------------------------------------------------------
def passage_text(title: str, text: str) -> str:
    """The text encoded for a passage: ``title + " " + text`` (the text alone when there is no title)."""
    title, text = (title or "").strip(), (text or "").strip()
    return f"{title} {text}" if title else text


@dataclass
class Corpus:
    """Passages of one language: ``docids[i]`` and the encoded text ``texts[i]`` (title + text)."""

    docids: list[str]
    texts: list[str]
    lang: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.docids) != len(self.texts):
            raise HybridIRError(f"corpus has {len(self.docids)} docids but {len(self.texts)} texts")
        seen: set[str] = set()
        dups = [d for d in self.docids if d in seen or seen.add(d)]
        if dups:
            raise HybridIRError(f"corpus lists {len(dups)} docids twice, e.g. {dups[:3]}")

    def __len__(self) -> int:
        return len(self.docids)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], lang: str = "", source: str = "",
                     limit: int | None = None) -> Corpus:
        docids, texts = [], []
        if limit is not None:  # stop pulling from a stream at the limit (nothing more is downloaded)
            records = itertools.islice(records, limit)
        for i, rec in enumerate(records):
            try:
                docids.append(str(rec["docid"]))
                texts.append(passage_text(rec.get("title", ""), rec["text"]))
            except (KeyError, TypeError) as exc:
                raise HybridIRError(f"{source or 'corpus'}: record {i} lacks field {exc}") from None
        return cls(docids, texts, lang, source)


def read_corpus_jsonl(path: str | Path, lang: str = "", limit: int | None = None) -> Corpus:
    """A corpus from a JSON-lines file (optionally ``.gz``) of ``{"docid", "title", "text"}`` records."""
    path = Path(path)
    if not path.is_file():
        raise HybridIRError(f"corpus file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open

    def records() -> Iterable[dict[str, Any]]:
        with opener(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise HybridIRError(f"{path}, line {n}: malformed JSON ({exc})") from exc

    return Corpus.from_records(records(), lang, str(path), limit)


def load_corpus_hf(lang: str, revision: str = MIRACL_CORPUS_REVISION, limit: int | None = None) -> Corpus:
    """The MIRACL passages of a language from the Hugging Face Hub (needs ``datasets`` and internet).

    The files are read at the pinned ``revision`` as a **stream**: with ``limit`` only the first
    ``limit`` passages (in the order of the shard files) are downloaded and parsed, not the whole
    corpus. No dataset script runs (the JSON-lines files are read directly). Raises at once when the
    Hub is switched off (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``).
    """
    _check_lang(lang)
    if hub_offline():
        raise HybridIRError(
            f"the MIRACL corpus ({HF_CORPUS}, {lang}) needs the Hugging Face Hub, but HF_HUB_OFFLINE / "
            "TRANSFORMERS_OFFLINE is set; pass a local JSON-lines corpus instead (read_corpus_jsonl)"
        )
    try:
        import datasets
    except ImportError as exc:
        raise HybridIRError("the online MIRACL corpus needs the 'datasets' package") from exc
    files = f"hf://datasets/{HF_CORPUS}@{revision}/miracl-corpus-v1.0-{lang}/docs-*.jsonl.gz"
    try:
        stream = datasets.load_dataset("json", data_files=files, split="train", streaming=True)
    except Exception as exc:  # network, missing files, ...
        raise HybridIRError(f"could not load {files}: {exc}") from exc
    return Corpus.from_records(stream, lang, f"{HF_CORPUS}:{lang}@{revision}", limit)


def load_corpus(lang: str, source: str | Path | None = None, limit: int | None = None) -> Corpus:
    """A local JSON-lines corpus when ``source`` is a path, else the Hugging Face corpus of ``lang``."""
    if source is not None:
        return read_corpus_jsonl(source, lang, limit)
    return load_corpus_hf(lang, limit=limit)


# ---- evaluation ---------------------------------------------------------------------------------
@dataclass
class MiraclResult:
    """Per-query nDCG@k and Recall@k of one language (skipped queries listed apart)."""

    lang: str
    query_ids: list[str]
    ndcg: np.ndarray
    recall: np.ndarray
    k_ndcg: int = 10
    k_recall: int = 100
    method: str = "exact"
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            f"ndcg@{self.k_ndcg}": mean_of(self.ndcg),
            f"recall@{self.k_recall}": mean_of(self.recall),
            "queries": len(self.query_ids),
            "skipped": len(self.skipped),
        }

    def per_query_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"query_id": self.query_ids, f"ndcg@{self.k_ndcg}": self.ndcg,
                             f"recall@{self.k_recall}": self.recall})

    def to_json(self) -> dict[str, Any]:
        return {"lang": self.lang, "method": self.method, **self.summary()}


def _judged(
    query_ids: Sequence[str], docids: Sequence[str], qrels: dict[str, dict[str, int]]
) -> tuple[list[int], list[str], np.ndarray, np.ndarray]:
    """Kept query rows, skipped ids, relevant passage indices (Q', R) (-1 pad) and gains (Q', R)."""
    pos = {d: i for i, d in enumerate(docids)}
    keep, skipped, groups = [], [], []
    for i, qid in enumerate(query_ids):
        rel = [(pos[d], g) for d, g in qrels.get(qid, {}).items() if g > 0 and d in pos]
        if rel:
            keep.append(i)
            groups.append(rel)
        else:
            skipped.append(qid)
    width = max((len(g) for g in groups), default=0)
    idx = np.full((len(groups), width), -1, dtype=np.int64)
    gains = np.full((len(groups), width), np.nan)
    for r, g in enumerate(groups):
        idx[r, : len(g)] = [i for i, _ in g]
        gains[r, : len(g)] = [v for _, v in g]
    return keep, skipped, idx, gains


def evaluate_miracl(
    query_vectors: np.ndarray,
    passage_vectors: np.ndarray,
    query_ids: Sequence[str],
    docids: Sequence[str],
    qrels: dict[str, dict[str, int]],
    *,
    lang: str = "",
    method: str = "exact",
    k_ndcg: int = 10,
    k_recall: int = 100,
) -> MiraclResult:
    """nDCG@``k_ndcg`` and Recall@``k_recall`` from embeddings (inner product, vectors as given).

    ``query_vectors`` (Q, H) aligned with ``query_ids``; ``passage_vectors`` (N, H) aligned with
    ``docids``; ``qrels`` ``{qid: {docid: rel}}``. Skipping rule and ``method``: module doc.
    """
    if method not in METHODS:
        raise HybridIRError(f"unknown method '{method}'; choose one of {METHODS}")
    qv = as_vectors(query_vectors, "query vectors", rows=len(query_ids))
    pv = as_vectors(passage_vectors, "passage vectors", rows=len(docids), dim=qv.shape[1])
    keep, skipped, rel, gains = _judged(list(query_ids), list(docids), qrels)
    ids = [query_ids[i] for i in keep]
    if not keep:
        raise HybridIRError(
            f"none of the {len(query_ids)} queries has a judged-relevant passage in the corpus of "
            f"{len(docids)} passages"
        )
    if method == "exact":
        ranks, _, _ = relevant_ranks_exact(qv[keep], pv, rel)
    else:
        index = build_index(pv, method)  # type: ignore[arg-type]
        _, top = search(index, qv[keep], min(max(k_ndcg, k_recall), len(docids)))
        ranks = ranks_from_top_k(top, rel)
    return MiraclResult(
        lang=lang, query_ids=ids, ndcg=_ndcg_kernel(ranks, np.nan_to_num(gains), k_ndcg),
        recall=_recall_kernel(ranks, k_recall), k_ndcg=k_ndcg, k_recall=k_recall, method=method,
        skipped=skipped,
    )


def evaluate_miracl_model(
    model: Encoder,
    lang: str,
    corpus: Corpus,
    *,
    data_dir: str | Path | None = None,
    batch_size: int = 64,
    show_progress: bool = False,
    method: str = "exact",
    device: str | None = "auto",
    precision: str = "fp32",
) -> MiraclResult:
    """Encode the dev queries (``kind="query"``) and the corpus (``kind="passage"``) on ``device``
    (``auto``: the GPU when there is one) in ``precision`` (fp32 unless asked), then evaluate."""
    topics = load_topics(lang, data_dir)
    qrels = load_qrels(lang, data_dir)
    qids = list(topics)
    runtime = {"device": device, "precision": precision}
    qv = model.encode([topics[q] for q in qids], kind="query", batch_size=batch_size,
                      show_progress=show_progress, **runtime)
    pv = model.encode(corpus.texts, kind="passage", batch_size=batch_size, show_progress=show_progress, **runtime)
    return evaluate_miracl(qv, pv, qids, corpus.docids, qrels, lang=lang, method=method)
