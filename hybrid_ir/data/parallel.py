"""Your own training data: JSONL / JSON / Parquet files and Hugging Face datasets as a :class:`TrainingSet`.

Two row layouts are accepted (the first row decides which one a file uses).

**One row per (parallel id, language)** (the natural form of translated data)::

    {"id": "q17", "lang": "en", "query": "who wrote Faust?", "positive": "Goethe wrote ...",
     "negative": "Schiller wrote ...", "group": "Faust"}
    {"id": "q17", "lang": "de", "query": "Wer schrieb Faust?", "positive": "Goethe schrieb ...",
     "negative": "Schiller schrieb ...", "group": "Faust"}

**One row per triplet**, with ``query_lang`` and ``passage_lang`` instead of ``lang``: the query is in
``query_lang``, the positive and negative in ``passage_lang``. Rows of one id are merged into its
texts per language: a language must end up with both a query and a passage, and two rows may not
give one (id, language) different texts.

Fields (any other column is ignored):

========== ======== ===================================================================================
field      required meaning
========== ======== ===================================================================================
id         yes      parallel id (string or integer): the rows of one id are translations of each other
lang       yes      language code of the row (layout 1)
query      yes      the question, without a prefix ("query: " is the model's business)
positive   yes      a passage that answers it
negative   no       a hard negative passage; when absent (or null), one is drawn (below)
group      no       article or topic: validation splits keep a group whole, drawn negatives come from
                    it first; default: the id itself
========== ======== ===================================================================================

A missing negative of (id, language) is the positive of another id of the same group and language,
else of any other id of that language, drawn with a generator seeded by ``(seed, id, lang)`` (the
choice does not depend on row order or on the other rows' languages).

An id with a single language is fine in a single-language dataset (it contributes monolingual
batches only, see :class:`~hybrid_ir.sampling.sampler.HybridBatchSampler`) and in the mono and
hybrid strategies; with ``require_parallel=True`` (the X-Y strategy) it is an error in a dataset
that has several languages, since X-Y pairs languages within an id.

Every error names the source, the row (``line N`` of a JSONL file, ``row N`` otherwise, 1-based)
and the field. :func:`load_parallel_file` reads a file and records its SHA-256 in
``TrainingSet.files``; :func:`training_set_from_rows` takes any iterable of mappings (a list of
dicts, a ``datasets.Dataset``); :func:`load_hf_dataset` resolves ``hf:owner/name[:config][@revision]``.

Example::

    >>> rows = [{"id": i, "lang": lang, "query": f"q{i}{lang}", "positive": f"p{i}{lang}"}
    ...         for i in range(3) for lang in ("en", "de")]
    >>> ts = training_set_from_rows(rows, "toy")
    >>> len(ts), ts.languages, ts.examples[0].by_lang["de"].negative in {"p1de", "p2de"}
    (3, ('de', 'en'), True)
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybrid_ir.data.sources import sha256_file
from hybrid_ir.data.triplets import TrainingExample, TrainingSet, Triplet
from hybrid_ir.env import hub_offline
from hybrid_ir.errors import HybridIRError

__all__ = [
    "FILE_SUFFIXES",
    "HFSpec",
    "is_file_spec",
    "load_hf_dataset",
    "load_parallel_file",
    "parse_hf_spec",
    "read_rows",
    "training_set_from_rows",
]

#: File name endings read by :func:`read_rows`.
FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".json", ".parquet")

#: (where, row): ``where`` is "line 3" (JSONL) or "row 3" (everything else), 1-based.
LocatedRow = tuple[str, Any]


# ------------------------------------------------------------------------------------ reading
def is_file_spec(spec: str) -> bool:
    """True when a ``datasets:`` entry names a file of one of :data:`FILE_SUFFIXES` (or a saved dataset folder)."""
    path = Path(spec).expanduser()
    return spec.lower().endswith(FILE_SUFFIXES) or (path.is_dir() and _is_saved_dataset(path))


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_info.json").is_file() or (path / "state.json").is_file()


def read_rows(path: str | Path) -> Iterator[LocatedRow]:
    """The rows of a JSONL, JSON (a list of objects) or Parquet file, or of a folder written by
    ``datasets.Dataset.save_to_disk``, each with its location for error messages."""
    path = Path(path).expanduser()
    if not path.exists():
        raise HybridIRError(f"training data file not found: {path}")
    name = path.name.lower()
    if path.is_dir():
        if not _is_saved_dataset(path):
            raise HybridIRError(f"{path} is a folder, not a dataset saved with datasets' save_to_disk")
        yield from _read_saved_dataset(path)
    elif name.endswith(".jsonl"):
        yield from _read_jsonl(path)
    elif name.endswith(".json"):
        yield from _read_json(path)
    elif name.endswith(".parquet"):
        yield from _read_parquet(path)
    else:
        raise HybridIRError(f"{path}: unknown training data format; use one of {', '.join(FILE_SUFFIXES)}")


def _read_jsonl(path: Path) -> Iterator[LocatedRow]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield f"line {n}", json.loads(line)
            except json.JSONDecodeError as exc:
                raise HybridIRError(f"{path}, line {n}: not valid JSON ({exc.msg})") from None


def _read_json(path: Path) -> Iterator[LocatedRow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise HybridIRError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise HybridIRError(
            f"{path}: expected a JSON list of row objects (or {{\"data\": [...]}}), got {type(data).__name__}"
        )
    for n, row in enumerate(data, start=1):
        yield f"row {n}", row


def _read_parquet(path: Path) -> Iterator[LocatedRow]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise HybridIRError("reading Parquet files needs pyarrow (pip install pyarrow)") from None
    try:
        pfile = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise HybridIRError(f"{path}: not a readable Parquet file ({exc})") from None
    n = 0
    for batch in pfile.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            n += 1
            yield f"row {n}", row


def _read_saved_dataset(path: Path) -> Iterator[LocatedRow]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises several types for a damaged folder
        raise HybridIRError(f"{path}: could not load the saved dataset ({exc})") from None
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise HybridIRError(f"{path} has the splits {sorted(ds)} and no 'train' split")
        ds = ds["train"]
    for n, row in enumerate(ds, start=1):
        yield f"row {n}", row


# ---------------------------------------------------------------------------------- validation
def _text(source: str, where: str, row: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None:
        if required:
            raise HybridIRError(f"{source}, {where}: field '{key}' is missing")
        return None
    if not isinstance(value, str):
        raise HybridIRError(f"{source}, {where}: field '{key}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise HybridIRError(f"{source}, {where}: field '{key}' is empty")
    return value


def _key(source: str, where: str, row: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    """An id-like field: a non-empty string or an integer, returned as a string."""
    value = row.get(key)
    if value is None:
        if required:
            raise HybridIRError(f"{source}, {where}: field '{key}' is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise HybridIRError(
            f"{source}, {where}: field '{key}' must be a string or an integer, got {value!r}"
        )
    text = str(value).strip()
    if not text:
        raise HybridIRError(f"{source}, {where}: field '{key}' is empty")
    return text


_LANG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _lang(source: str, where: str, row: Mapping[str, Any], key: str) -> str:
    lang = _key(source, where, row, key)
    assert lang is not None
    if not _LANG.fullmatch(lang):
        raise HybridIRError(f"{source}, {where}: field '{key}' must be a language code such as 'en', got {lang!r}")
    return lang


@dataclass
class _Side:
    """What the rows say about one (id, language): its query and its passages, with where they came from."""

    query: str | None = None
    query_at: str = ""
    positive: str | None = None
    negative: str | None = None
    passage_at: str = ""


def _merge(source: str, where: str, old: str | None, old_at: str, new: str | None, what: str) -> None:
    if old is not None and new is not None and old != new:
        raise HybridIRError(f"{source}, {where}: {what} differs from the one given at {old_at}")


def _collect(
    rows: Iterable[LocatedRow], source: str
) -> tuple[dict[str, dict[str, _Side]], dict[str, str], dict[tuple[str, str], str]]:
    """Validate every row; return per id its sides per language, per id its group, and per (id, lang)
    the first row that mentions it (for later messages)."""
    sides: dict[str, dict[str, _Side]] = {}
    groups: dict[str, tuple[str, str]] = {}
    first_at: dict[tuple[str, str], str] = {}
    seen: dict[tuple[str, ...], str] = {}
    layout: str | None = None
    for where, row in rows:
        if not isinstance(row, Mapping):
            raise HybridIRError(
                f"{source}, {where}: expected an object with the fields id, lang, query, positive; "
                f"got {type(row).__name__}"
            )
        if layout is None:
            layout = "triplet" if "lang" not in row and ("query_lang" in row or "passage_lang" in row) else "lang"
        pid = _key(source, where, row, "id")
        assert pid is not None
        if layout == "lang":
            if "lang" not in row and ("query_lang" in row or "passage_lang" in row):
                raise HybridIRError(
                    f"{source}, {where}: has query_lang/passage_lang, but the first row uses 'lang'; "
                    "use one layout per file"
                )
            ql = pl = _lang(source, where, row, "lang")
            dup_key: tuple[str, ...] = (pid, ql)
            dup_what = f"duplicate (id, lang) ({pid!r}, {ql!r})"
        else:
            if "lang" in row:
                raise HybridIRError(
                    f"{source}, {where}: has 'lang', but the first row uses query_lang/passage_lang; "
                    "use one layout per file"
                )
            ql = _lang(source, where, row, "query_lang")
            pl = _lang(source, where, row, "passage_lang")
            dup_key = (pid, ql, pl)
            dup_what = f"duplicate (id, query_lang, passage_lang) ({pid!r}, {ql!r}, {pl!r})"
        if dup_key in seen:
            raise HybridIRError(f"{source}, {where}: {dup_what}, already at {seen[dup_key]}")
        seen[dup_key] = where
        query = _text(source, where, row, "query")
        positive = _text(source, where, row, "positive")
        negative = _text(source, where, row, "negative", required=False)
        if negative is not None and negative == positive:
            raise HybridIRError(f"{source}, {where}: field 'negative' is the same text as 'positive'")
        group = _key(source, where, row, "group", required=False) or pid
        if pid in groups and groups[pid][0] != group:
            raise HybridIRError(
                f"{source}, {where}: field 'group' is {group!r} for id {pid!r}, but {groups[pid][0]!r} at {groups[pid][1]}"
            )
        groups.setdefault(pid, (group, where))
        per_lang = sides.setdefault(pid, {})
        q_side = per_lang.setdefault(ql, _Side())
        _merge(source, where, q_side.query, q_side.query_at, query, f"field 'query' of ({pid!r}, {ql!r})")
        if q_side.query is None:
            q_side.query, q_side.query_at = query, where
        p_side = per_lang.setdefault(pl, _Side())
        _merge(source, where, p_side.positive, p_side.passage_at, positive, f"field 'positive' of ({pid!r}, {pl!r})")
        _merge(source, where, p_side.negative, p_side.passage_at, negative, f"field 'negative' of ({pid!r}, {pl!r})")
        if p_side.positive is None:
            p_side.positive, p_side.passage_at = positive, where
        if p_side.negative is None:
            p_side.negative = negative
        first_at.setdefault((pid, ql), where)
        first_at.setdefault((pid, pl), where)
    if layout is None:
        raise HybridIRError(f"{source} has no rows")
    for pid, per_lang in sides.items():
        for lang, side in per_lang.items():
            if side.query is None:
                raise HybridIRError(
                    f"{source}, {side.passage_at}: id {pid!r} has a passage in {lang!r} but no row gives its "
                    f"query in {lang!r} (field 'query' with query_lang {lang!r})"
                )
            if side.positive is None:
                raise HybridIRError(
                    f"{source}, {side.query_at}: id {pid!r} has a query in {lang!r} but no row gives its "
                    f"passages in {lang!r} (field 'positive' with passage_lang {lang!r})"
                )
    return sides, {pid: g for pid, (g, _) in groups.items()}, first_at


def training_set_from_rows(
    rows: Iterable[Mapping[str, Any]] | Iterable[LocatedRow],
    name: str,
    *,
    source: str | None = None,
    languages: Sequence[str] | None = None,
    seed: int = 0,
    require_parallel: bool = False,
    files: Mapping[str, str] | None = None,
    located: bool = False,
) -> TrainingSet:
    """A :class:`TrainingSet` from rows of the module's schema (a list of dicts, a ``datasets.Dataset``).

    Args:
        rows: mappings (``located=False``), or ``(where, row)`` pairs as :func:`read_rows` yields.
        name: the set's name (shown in batches and metrics).
        source: how errors name the data (default: ``name``).
        languages: keep only these languages (each must occur); None = all.
        seed: seed of the drawn hard negatives.
        require_parallel: refuse an id with a single language when the set has several (X-Y training).
        files: ``{path: sha256}`` recorded in ``TrainingSet.files``.
    """
    source = source or name
    if isinstance(rows, Mapping):  # a datasets.DatasetDict is a dict of splits
        raise HybridIRError(f"{source}: give the rows of one split (e.g. dataset['train']), not a dict of splits")
    located_rows = rows if located else ((f"row {n}", r) for n, r in enumerate(rows, start=1))
    sides, groups, first_at = _collect(located_rows, source)  # type: ignore[arg-type]
    all_langs = sorted({lang for per in sides.values() for lang in per})
    if languages is not None:
        unknown = [lang for lang in languages if lang not in all_langs]
        if unknown:
            raise HybridIRError(
                f"{source}: language(s) {unknown} do not occur; its languages are {', '.join(all_langs)}"
            )
        keep = set(languages)
        sides = {pid: {la: s for la, s in per.items() if la in keep} for pid, per in sides.items()}
        sides = {pid: per for pid, per in sides.items() if per}
        all_langs = sorted(keep)
    if require_parallel and len(all_langs) >= 2:
        for pid, per in sides.items():
            if len(per) == 1:
                (lang,) = per
                raise HybridIRError(
                    f"{source}, {first_at[(pid, lang)]}: id {pid!r} has only language {lang!r}, but the X-Y "
                    "strategy pairs two languages of one id; add its translations, drop it, or use "
                    "strategy hybrid / mono (a dataset in a single language is fine: it gives mono batches)"
                )
    negatives = _draw_negatives(sides, groups, first_at, source, seed)
    examples = tuple(
        TrainingExample(
            pid,
            groups[pid],
            {
                lang: Triplet(side.query, side.positive, negatives[(pid, lang)])  # type: ignore[arg-type]
                for lang, side in sorted(per.items())
            },
        )
        for pid, per in sides.items()
    )
    return TrainingSet(name, examples, dict(files or {}))


def _draw_negatives(
    sides: dict[str, dict[str, _Side]],
    groups: dict[str, str],
    first_at: dict[tuple[str, str], str],
    source: str,
    seed: int,
) -> dict[tuple[str, str], str]:
    """The given negative of each (id, lang), else a positive of another id (same group first)."""
    by_group: dict[tuple[str, str], list[str]] = {}
    by_lang: dict[str, list[str]] = {}
    for pid, per in sides.items():
        for lang in per:
            by_group.setdefault((groups[pid], lang), []).append(pid)
            by_lang.setdefault(lang, []).append(pid)
    for pool in (*by_group.values(), *by_lang.values()):
        pool.sort()  # the draw must not depend on the order of the rows
    out: dict[tuple[str, str], str] = {}
    for pid, per in sides.items():
        for lang, side in per.items():
            if side.negative is not None:
                out[(pid, lang)] = side.negative
                continue

            def usable(other: str, pid: str = pid, lang: str = lang, positive: str | None = side.positive) -> bool:
                return other != pid and sides[other][lang].positive != positive

            rng = random.Random(f"{seed}:{pid}:{lang}")
            for pool in (by_group[(groups[pid], lang)], by_lang[lang]):
                pick = _draw(pool, usable, rng)
                if pick is not None:
                    out[(pid, lang)] = sides[pick][lang].positive  # type: ignore[assignment]
                    break
            else:
                raise HybridIRError(
                    f"{source}, {first_at[(pid, lang)]}: field 'negative' is missing and no other id in "
                    f"{lang!r} has a different positive to draw one from; give a 'negative'"
                )
    return out


def _draw(pool: list[str], usable: Callable[[str], bool], rng: random.Random, tries: int = 16) -> str | None:
    """A uniform choice among the usable members of ``pool`` (None when there is none).

    A few rejection draws first (pools are mostly usable: O(1) instead of O(len(pool)) per draw),
    then an exact scan, so the result is uniform over the usable members either way.
    """
    for _ in range(tries):
        candidate = pool[rng.randrange(len(pool))]
        if usable(candidate):
            return candidate
    others = [o for o in pool if usable(o)]
    return rng.choice(others) if others else None


def load_parallel_file(
    path: str | Path,
    *,
    name: str | None = None,
    languages: Sequence[str] | None = None,
    seed: int = 0,
    require_parallel: bool = False,
) -> TrainingSet:
    """Read a JSONL / JSON / Parquet file (or a saved dataset folder) of the module's schema.

    The set is named after the file (``my-data.jsonl`` -> ``my-data``) and records the file's
    SHA-256 (for a folder: each of its files) in ``TrainingSet.files``.
    """
    p = Path(path).expanduser()
    rows = read_rows(p)  # raises at once for a missing file
    files = {str(path): sha256_file(p)} if p.is_file() else {
        str(Path(path) / f.relative_to(p)): sha256_file(f) for f in sorted(p.rglob("*")) if f.is_file()
    }
    stem = p.name.split(".")[0] if p.is_file() else p.name
    return training_set_from_rows(
        rows, name or stem, source=str(path), languages=languages, seed=seed,
        require_parallel=require_parallel, files=files, located=True,
    )


# ------------------------------------------------------------------------------ Hugging Face
@dataclass(frozen=True)
class HFSpec:
    """``hf:owner/name[:config][@revision]`` parsed."""

    repo: str
    config: str | None = None
    revision: str | None = None

    def __str__(self) -> str:
        return f"hf:{self.repo}" + (f":{self.config}" if self.config else "") + (f"@{self.revision}" if self.revision else "")


_HF = re.compile(r"hf:(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?::(?P<config>[\w.-]+))?(?:@(?P<rev>[\w./-]+))?")


def parse_hf_spec(spec: str) -> HFSpec:
    """``"hf:owner/name:config@rev"`` -> :class:`HFSpec`; a malformed entry is an error.

    >>> parse_hf_spec("hf:me/pairs:de-en@v1.0")
    HFSpec(repo='me/pairs', config='de-en', revision='v1.0')
    """
    m = _HF.fullmatch(spec.strip())
    if not m:
        raise HybridIRError(
            f"dataset {spec!r}: write a Hugging Face dataset as hf:owner/name, hf:owner/name:config "
            "or hf:owner/name:config@revision"
        )
    return HFSpec(m["repo"], m["config"], m["rev"])


def load_hf_dataset(
    spec: str | HFSpec,
    *,
    languages: Sequence[str] | None = None,
    seed: int = 0,
    require_parallel: bool = False,
    split: str = "train",
) -> TrainingSet:
    """The ``train`` split of a Hugging Face dataset in the module's schema, as a :class:`TrainingSet`.

    With ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` set only the local cache is used and a dataset
    that is not there fails at once with a message (no network wait). ``TrainingSet.files`` records
    the dataset's cached Arrow files (named ``<spec>/<file name>``) and their SHA-256.
    """
    import datasets

    hf = parse_hf_spec(spec) if isinstance(spec, str) else spec
    offline = hub_offline() or datasets.config.HF_DATASETS_OFFLINE
    try:
        ds = datasets.load_dataset(hf.repo, hf.config, revision=hf.revision, split=split)
    except Exception as exc:
        if offline:
            raise HybridIRError(
                f"{hf}: not in the local Hugging Face cache, and the Hub is off (HF_HUB_OFFLINE / "
                "HF_DATASETS_OFFLINE): load it once online, or export it to a .jsonl / .parquet file "
                f"and name the file instead ({type(exc).__name__})"
            ) from None
        raise HybridIRError(f"{hf}: could not load the dataset's '{split}' split ({exc})") from None
    files: dict[str, str] = {}
    for entry in getattr(ds, "cache_files", None) or []:
        path = Path(entry.get("filename", ""))
        if path.is_file():
            files[f"{hf}/{path.name}"] = sha256_file(path)
    return training_set_from_rows(
        ds, hf.repo.split("/")[-1], source=str(hf), languages=languages, seed=seed,
        require_parallel=require_parallel, files=files,
    )
