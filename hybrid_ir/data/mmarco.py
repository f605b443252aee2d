"""mMARCO (the paper's main training data) as parallel training triplets, streamed with a size cap.

mMARCO (Bonifacio et al., arXiv 2108.13897) is MS MARCO passage ranking machine-translated into 13
languages, with the English original; query and passage ids are the same in every language, so a
training triple ``(qid, positive pid, negative pid)`` of MS MARCO is a parallel example in every
language. The paper trains on 7 of them (:data:`PAPER_LANGUAGES`).

Files, as published in the Hugging Face dataset repository ``unicamp-dl/mmarco`` (read from its
loading script ``mmarco.py``, translation "v2", folder ``data/google``), at the pinned commit
:data:`MMARCO_REVISION`::

    data/triples.train.ids.small.tsv                          qid <TAB> positive pid <TAB> negative pid
    data/google/queries/train/<language>_queries.train.tsv    qid <TAB> query text
    data/google/collections/<language>_collection.tsv         pid <TAB> passage text

where ``<language>`` is the English name (``english``, ``german``, ... :data:`LANGUAGE_NAMES`).

:func:`load_mmarco` builds one example per query id: it streams the triples file until it has
``max_queries`` distinct query ids (the first triple of each query gives its positive and hard
negative), then, per language, streams the queries file and the collection keeping only the ids it
needs (it stops reading a collection once every needed passage was found). Nothing is downloaded
whole; memory holds only the kept texts. The rows go through
:func:`hybrid_ir.data.parallel.training_set_from_rows` (the own-data schema: ``id`` = query id,
``group`` = query id), so validation and the run's metadata work as for any file.

Where the files are read from, in this order:

1. ``root``: a folder laid out like the repository (``<root>/data/...``);
2. ``<data_dir>/mmarco`` or ``$HYBRID_IR_DATA_DIR/mmarco`` when that folder exists;
3. the local Hugging Face cache at the pinned revision (files fetched before with
   ``huggingface-cli download unicamp-dl/mmarco --repo-type dataset --revision <rev> --include ...``);
4. the Hub, streamed at the pinned revision, unless ``HF_HUB_OFFLINE`` is set (then: an error naming
   the missing files, immediately).

``TrainingSet.files`` records every file read with its SHA-256 (for the Hub: the SHA-256 the Hub
stores for the LFS file, so nothing is hashed or downloaded twice).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

from hybrid_ir.data.parallel import training_set_from_rows
from hybrid_ir.data.sources import sha256_file
from hybrid_ir.data.triplets import TrainingSet
from hybrid_ir.env import data_dir_from_env, hub_offline
from hybrid_ir.errors import HybridIRError

__all__ = [
    "LANGUAGE_NAMES",
    "MMARCO_REPO",
    "MMARCO_REVISION",
    "PAPER_LANGUAGES",
    "TRIPLES_FILE",
    "collection_file",
    "load_mmarco",
    "queries_file",
]

MMARCO_REPO = "unicamp-dl/mmarco"
#: The commit of ``unicamp-dl/mmarco`` this loader reads (the one HELM and others pin as well).
MMARCO_REVISION = "6d039c4638c0ba3e46a9cb7b498b145e7edc6230"
TRIPLES_FILE = "data/triples.train.ids.small.tsv"

#: Language code -> the name used in mMARCO's file names (translation v2, "google").
LANGUAGE_NAMES: dict[str, str] = {
    "ar": "arabic", "zh": "chinese", "nl": "dutch", "en": "english", "fr": "french", "de": "german",
    "hi": "hindi", "id": "indonesian", "it": "italian", "ja": "japanese", "pt": "portuguese",
    "ru": "russian", "es": "spanish", "vi": "vietnamese",
}
#: The seven mMARCO languages the paper trains on.
PAPER_LANGUAGES: tuple[str, ...] = ("en", "ar", "zh", "de", "es", "ru", "hi")


def queries_file(lang: str) -> str:
    """Repository path of the training queries of ``lang`` (a code such as ``"de"``)."""
    return f"data/google/queries/train/{LANGUAGE_NAMES[lang]}_queries.train.tsv"


def collection_file(lang: str) -> str:
    """Repository path of the passage collection of ``lang``."""
    return f"data/google/collections/{LANGUAGE_NAMES[lang]}_collection.tsv"


# ------------------------------------------------------------------------------- file access
class _Files:
    """Opens repository paths from a local folder, the HF cache or the Hub; remembers their SHA-256."""

    def __init__(self, root: Path | None, revision: str) -> None:
        self.root = root
        self.revision = revision
        self.checksums: dict[str, str] = {}

    def label(self, relpath: str) -> str:
        if self.root is not None:
            return str(self.root / relpath)
        return f"hf:{MMARCO_REPO}@{self.revision}/{relpath}"

    @contextmanager
    def open(self, relpath: str) -> Iterator[IO[str]]:
        local = self._local(relpath)
        label = self.label(relpath)
        if local is not None:
            self.checksums[label] = sha256_file(local)
            with open(local, encoding="utf-8", newline="") as f:
                yield f
            return
        raw, digest = _open_remote(relpath, self.revision)
        self.checksums[label] = digest
        with raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as f:
            yield f

    def _local(self, relpath: str) -> Path | None:
        if self.root is not None:
            path = self.root / relpath
            if not path.is_file():
                raise HybridIRError(f"mMARCO file not found: {path} (the folder must be laid out like {MMARCO_REPO})")
            return path
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(MMARCO_REPO, relpath, revision=self.revision, repo_type="dataset")
        return Path(cached) if isinstance(cached, str) else None


def _open_remote(relpath: str, revision: str) -> tuple[IO[bytes], str]:
    """A streaming binary handle on a repository file at ``revision`` and its SHA-256 (from the Hub)."""
    if hub_offline():
        raise HybridIRError(
            f"mMARCO file {relpath} is not available offline (HF_HUB_OFFLINE is set): put a copy laid out "
            f"like {MMARCO_REPO} in $HYBRID_IR_DATA_DIR/mmarco (or the Hugging Face cache at revision "
            f"{revision}), or unset HF_HUB_OFFLINE"
        )
    from huggingface_hub import HfFileSystem

    fs = HfFileSystem()
    path = f"datasets/{MMARCO_REPO}/{relpath}"
    try:
        info = fs.info(path, revision=revision)
        handle = fs.open(path, "rb", revision=revision, block_size=0)  # block_size 0: a streamed read
    except Exception as exc:  # network, missing file, unknown revision: all end the same way
        raise HybridIRError(f"could not open {MMARCO_REPO}@{revision}/{relpath} on the Hub: {exc}") from None
    lfs = info.get("lfs") or {}
    return handle, str(lfs.get("sha256") or info.get("sha256") or "")


def _tsv(f: IO[str], label: str, fields: int) -> Iterator[list[str]]:
    """Split each line of an mMARCO TSV file into ``fields`` columns (the last keeps any extra tab)."""
    for n, line in enumerate(f, start=1):
        line = line.rstrip("\r\n")
        if not line:
            continue
        parts = line.split("\t", fields - 1)
        if len(parts) != fields:
            raise HybridIRError(f"{label}, line {n}: expected {fields} tab-separated columns, got {len(parts)}")
        yield parts


# ------------------------------------------------------------------------------------ loading
def load_mmarco(
    languages: Sequence[str] | None = None,
    *,
    max_queries: int = 0,
    seed: int = 0,
    root: str | Path | None = None,
    data_dir: str | Path | None = None,
    revision: str = MMARCO_REVISION,
    require_parallel: bool = False,
) -> TrainingSet:
    """mMARCO training triplets, one example per query id, in each of ``languages``.

    Args:
        languages: language codes (default :data:`PAPER_LANGUAGES`); see :data:`LANGUAGE_NAMES`.
        max_queries: stop after this many distinct query ids of the triples file (0 = all of its
            about 400,000: reading every collection whole, several GB per language).
        seed: unused by mMARCO's given negatives; kept for the common loader signature.
        root / data_dir: where a local copy is (see the module docstring).
        revision: the repository commit (default: the pinned :data:`MMARCO_REVISION`).
        require_parallel: passed to :func:`~hybrid_ir.data.parallel.training_set_from_rows`.
    """
    langs = tuple(PAPER_LANGUAGES if languages is None else languages)
    unknown = [lang for lang in langs if lang not in LANGUAGE_NAMES]
    if unknown:
        raise HybridIRError(
            f"mMARCO has no language(s) {unknown}; its languages are {', '.join(sorted(LANGUAGE_NAMES))}"
        )
    if len(set(langs)) != len(langs) or not langs:
        raise HybridIRError(f"mMARCO languages must be distinct and non-empty, got {list(langs)}")
    if isinstance(max_queries, bool) or not isinstance(max_queries, int) or max_queries < 0:
        raise HybridIRError(f"max_queries must be an integer >= 0 (0 = all), got {max_queries!r}")
    files = _Files(_local_root(root, data_dir), revision)
    open_text = files.open

    # 1. the first triple of each query id, up to max_queries ids
    triples: dict[str, tuple[str, str]] = {}
    with open_text(TRIPLES_FILE) as f:
        for qid, pos, neg in _tsv(f, files.label(TRIPLES_FILE), 3):
            if qid not in triples:
                triples[qid] = (pos, neg)
                if len(triples) == max_queries:
                    break
    if not triples:
        raise HybridIRError(f"{files.label(TRIPLES_FILE)} holds no triple")
    pids = {pid for pair in triples.values() for pid in pair}

    # 2. per language, the texts of those ids only
    rows = []
    for lang in langs:
        queries = _keep(open_text, queries_file(lang), files.label(queries_file(lang)), set(triples))
        passages = _keep(open_text, collection_file(lang), files.label(collection_file(lang)), pids)
        for qid, (pos, neg) in triples.items():
            texts = (queries.get(qid), passages.get(pos), passages.get(neg))
            if None in texts:
                what = ["query " + qid, "passage " + pos, "passage " + neg][texts.index(None)]
                raise HybridIRError(f"mMARCO {lang}: {what} of the triples file is missing from its translation")
            rows.append({"id": qid, "lang": lang, "query": texts[0], "positive": texts[1], "negative": texts[2]})
    return training_set_from_rows(
        rows, "mmarco", source=f"mMARCO ({MMARCO_REPO}@{revision[:12]})", seed=seed,
        require_parallel=require_parallel, files=files.checksums,
    )


def _keep(open_text: Callable[[str], AbstractContextManager[IO[str]]], relpath: str, label: str, wanted: set[str]) -> dict[str, str]:
    """``{id: text}`` for the ``wanted`` ids of a two-column TSV file, read until all were found."""
    out: dict[str, str] = {}
    with open_text(relpath) as f:
        for key, text in _tsv(f, label, 2):
            if key in wanted:
                out[key] = text
                if len(out) == len(wanted):
                    break
    return out


def _local_root(root: str | Path | None, data_dir: str | Path | None) -> Path | None:
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise HybridIRError(f"mMARCO folder not found: {path}")
        return path
    for base in (Path(data_dir).expanduser() if data_dir else None, data_dir_from_env()):
        if base is not None and (base / "mmarco").is_dir():
            return base / "mmarco"
    return None
