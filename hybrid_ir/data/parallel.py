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
id         yes      the parallel id (string or integer): the rows of one id are translations of each
                    other. It is ``TrainingExample.parallel_id`` in Python; a column named
                    ``parallel_id`` is read as ``id`` too (when both are given they must agree)
lang       yes      language code of the row (layout 1)
query      yes      the question, without a prefix ("query: " is the model's business)
positive   yes      a passage that answers it
negative   no       a hard negative passage; when absent (or null), one is drawn (below)
group      no       article or topic: validation splits keep a group whole, drawn negatives come from
                    it first; default: the id itself
========== ======== ===================================================================================

Ids and groups are read in Unicode NFC, so "café" typed with a combining accent in one language and
precomposed in another is one id. A language code is an ISO 639-1 code (or one of a few ISO 639-3
codes, :data:`~hybrid_ir.data.languages.LANGUAGE_CODES`), optionally with a region or script
(``pt-br``, ``zh-hans``); codes are lower-cased with ``-`` between parts, so ``EN`` is read as
``en`` (said in a :class:`DataWarning`), and an unknown code is an error. A row identical to an
earlier one (same id, languages, texts and group) is dropped and counted in a :class:`DataWarning`;
two rows that give one (id, language) different texts are an error.

Files are UTF-8 (a BOM is fine). A FIFO, a device (``/dev/zero``) or a socket is refused before it
is opened; a JSONL line may hold :data:`MAX_LINE_BYTES`, a ``.json`` file :data:`MAX_JSON_BYTES`
(it is read whole), any file :data:`MAX_FILE_BYTES`. A folder saved by ``datasets`` gives its
``train`` split, or the one named as ``folder:split``.

A missing negative of (id, language) is the positive of another id of the same group and language,
else of any other id of that language, drawn with a generator seeded by ``(seed, id, lang)`` (the
choice does not depend on row order or on the other rows' languages).

An id with a single language is fine in a single-language dataset (it contributes monolingual
batches only, see :class:`~hybrid_ir.sampling.sampler.HybridBatchSampler`) and in the mono and
hybrid strategies; with ``require_parallel=True`` (the X-Y strategy) it is an error in a dataset
that has several languages, since X-Y pairs languages within an id, or with
``drop_single_language=True`` (what :func:`~hybrid_ir.data.examples.load_training_set` and so the
CLI and training do for ``strategy="cross"``) dropped and counted in a :class:`DataWarning`.

Every error names the source, the row (``line N`` of a JSONL file, ``row N`` otherwise, 1-based)
and the field, on one line. :func:`load_parallel_file` reads a file and records its SHA-256 in
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

import itertools
import json
import os
import random
import re
import stat
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from hybrid_ir.data.languages import normalise_language_code
from hybrid_ir.data.sources import sha256_file
from hybrid_ir.data.triplets import TrainingExample, TrainingSet, Triplet
from hybrid_ir.env import hub_offline
from hybrid_ir.errors import HybridIRError

__all__ = [
    "FILE_SUFFIXES",
    "DataWarning",
    "HFSpec",
    "check_regular_file",
    "is_file_spec",
    "load_hf_dataset",
    "load_parallel_file",
    "parse_hf_spec",
    "read_rows",
    "split_spec",
    "training_set_from_rows",
]

#: File name endings read by :func:`read_rows`.
FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".json", ".parquet")

#: (where, row): ``where`` is "line 3" (JSONL) or "row 3" (everything else), 1-based.
LocatedRow = tuple[str, Any]


# ------------------------------------------------------------------------------------ reading
#: The most bytes one JSONL line may hold; a longer line is refused before it is decoded.
MAX_LINE_BYTES: int = 64 << 20
#: The most bytes a ``.json`` file (read whole into memory) may hold; use JSONL for more.
MAX_JSON_BYTES: int = 2 << 30
#: The most bytes read from any one data file (JSONL, Parquet); more is refused.
MAX_FILE_BYTES: int = 64 << 30
#: The longest integer id, in bits (about 77 decimal digits); write longer ids as strings.
MAX_INT_ID_BITS: int = 256

_UTF8_BOM = b"\xef\xbb\xbf"


class DataWarning(UserWarning):
    """Your data was changed or trimmed on loading: the message says what, how often, and where first."""


def _warn(message: str) -> None:
    warnings.warn(message, DataWarning, stacklevel=3)


def split_spec(spec: str | Path) -> tuple[Path, str | None]:
    """``"folder:split"`` -> (folder, split) for a folder saved by ``datasets``; else (path, None).

    >>> split_spec("my-pairs.jsonl")[1] is None
    True
    """
    path = Path(spec).expanduser()
    text = str(spec)
    if path.exists() or ":" not in text:
        return path, None
    head, _, split = text.rpartition(":")
    folder = Path(head).expanduser()
    if head and re.fullmatch(r"[\w.-]+", split) and folder.is_dir() and _is_saved_dataset(folder):
        return folder, split
    return path, None


def is_file_spec(spec: str) -> bool:
    """True when a ``datasets:`` entry names a file of one of :data:`FILE_SUFFIXES` or a saved dataset
    folder (``folder`` or ``folder:split``)."""
    path, _ = split_spec(spec)
    return spec.lower().endswith(FILE_SUFFIXES) or (path.is_dir() and _is_saved_dataset(path))


def _is_saved_dataset(path: Path) -> bool:
    return (
        (path / "dataset_info.json").is_file()
        or (path / "state.json").is_file()
        or (path / "dataset_dict.json").is_file()
    )


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> int:
    """The size of ``path``; a one-line error when it is not a regular file (a FIFO, a device such as
    ``/dev/zero``, a socket: checked without opening it, so a FIFO never blocks) or is over ``limit``."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise HybridIRError(f"cannot read training data file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise HybridIRError(f"{path} is {_kind(info.st_mode)}, not a regular file of training data")
    if info.st_size > limit:
        raise HybridIRError(f"{path} has {info.st_size} bytes, more than the {limit} this format may have")
    return info.st_size


@contextmanager
def _open_regular(path: Path, limit: int) -> Iterator[BinaryIO]:
    """``path`` opened for reading in binary, after :func:`check_regular_file` (and again on the open
    descriptor, in case the file was swapped for a FIFO in between: opened non-blocking)."""
    check_regular_file(path, limit)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise HybridIRError(f"cannot read training data file {path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise HybridIRError(f"{path} is {_kind(mode)}, not a regular file of training data")
    with os.fdopen(fd, "rb") as f:
        yield f


def _check_head(path: Path, head: bytes, expected: str) -> None:
    """Refuse, by its first bytes, a file that is not UTF-8 JSON text (UTF-16/32, Parquet, binary)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise HybridIRError(f"{path} is UTF-16 or UTF-32 text; save it as UTF-8 {expected}")
    if head.startswith(b"PAR1"):
        raise HybridIRError(f"{path} is a Parquet file, not {expected}; name it .parquet")
    if b"\x00" in head:
        raise HybridIRError(f"{path} holds NUL bytes: not UTF-8 {expected} (UTF-16 without a BOM, or binary?)")


def _where(path: Path, where: str) -> str:
    """How a message names a place in a file: ``path, line 3``, or ``path`` for the whole file."""
    return f"{path}, {where}" if where else str(path)


def _decode(path: Path, where: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HybridIRError(
            f"{_where(path, where)}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None


def _parse_int(digits: str) -> int:
    """``json`` integers, refusing absurdly long ones before Python's own limit raises a bare error."""
    if len(digits) > 80:
        raise ValueError(f"an integer of {len(digits)} digits; write long ids as strings")
    return int(digits)


def _parse_json(path: Path, where: str, text: str) -> Any:
    """``json.loads`` with every way it can fail turned into a one-line error naming ``where``
    (a JSONL line, or "" for a whole ``.json`` file)."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        at = "" if where else f" at line {exc.lineno}"
        raise HybridIRError(f"{_where(path, where)}: not valid JSON ({exc.msg}{at})") from None
    except RecursionError:
        raise HybridIRError(f"{_where(path, where)}: JSON nested too deeply") from None
    except ValueError as exc:
        raise HybridIRError(f"{_where(path, where)}: {exc}") from None


def read_rows(path: str | Path, split: str | None = None) -> Iterator[LocatedRow]:
    """The rows of a JSONL, JSON (a list of objects) or Parquet file, or of a folder written by
    ``datasets``' ``save_to_disk`` (its ``split``, default ``train``), each with its location.

    Files must be regular files in UTF-8 (a BOM is fine); FIFOs and devices are refused without
    reading, and reads stop at :data:`MAX_LINE_BYTES` per line and :data:`MAX_FILE_BYTES` per file.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise HybridIRError(f"training data file not found: {path}")
    name = path.name.lower()
    if path.is_dir():
        if not _is_saved_dataset(path):
            raise HybridIRError(f"{path} is a folder, not a dataset saved with datasets' save_to_disk")
        yield from _read_saved_dataset(path, split)
        return
    if split is not None:
        raise HybridIRError(f"{path}:{split}: only a saved dataset folder has splits")
    if name.endswith(".jsonl"):
        yield from _read_jsonl(path)
    elif name.endswith(".json"):
        yield from _read_json(path)
    elif name.endswith(".parquet"):
        yield from _read_parquet(path)
    else:
        raise HybridIRError(f"{path}: unknown training data format; use one of {', '.join(FILE_SUFFIXES)}")


def _read_jsonl(path: Path) -> Iterator[LocatedRow]:
    with _open_regular(path, MAX_FILE_BYTES) as f:
        total = 0
        for n in itertools.count(1):
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES:
                raise HybridIRError(f"{path}, line {n}: longer than {MAX_LINE_BYTES} bytes")
            total += len(raw)
            if total > MAX_FILE_BYTES:
                raise HybridIRError(f"{path}: more than {MAX_FILE_BYTES} bytes")
            if n == 1:
                raw = raw.removeprefix(_UTF8_BOM)
                _check_head(path, raw[:4096], "JSON lines")
            text = _decode(path, f"line {n}", raw)
            if text.strip():
                yield f"line {n}", _parse_json(path, f"line {n}", text)


def _read_json(path: Path) -> Iterator[LocatedRow]:
    with _open_regular(path, MAX_JSON_BYTES) as f:
        raw = f.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise HybridIRError(f"{path}: more than {MAX_JSON_BYTES} bytes; write large data as JSONL")
    raw = raw.removeprefix(_UTF8_BOM)
    _check_head(path, raw[:4096], "JSON")
    data = _parse_json(path, "", _decode(path, "", raw))
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
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise HybridIRError("reading Parquet files needs pyarrow (pip install pyarrow)") from None
    with _open_regular(path, MAX_FILE_BYTES) as f:
        try:
            batches = pq.ParquetFile(f).iter_batches(batch_size=4096)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise HybridIRError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None
        yield from _rows_of_batches(path, batches, (pa.ArrowException, OSError, ValueError, TypeError))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _rows_of_batches(path: Path, batches: Iterator[Any], errors: tuple[type[BaseException], ...]
                     ) -> Iterator[LocatedRow]:
    """The rows of Arrow record batches; a damaged page (found only when it is read) is a one-line error."""
    n = 0
    while True:
        try:
            batch = next(batches, None)
            rows = [] if batch is None else batch.to_pylist()
        except errors as exc:
            raise HybridIRError(f"{path}, after row {n}: damaged data ({_first_line(exc)})") from None
        if batch is None:
            return
        for row in rows:
            n += 1
            yield f"row {n}", row


def _check_folder_files(path: Path) -> None:
    """Refuse a saved dataset folder holding anything but folders and regular files (a FIFO would block)."""
    for entry in sorted(path.rglob("*")):
        mode = os.stat(entry).st_mode if entry.exists() else 0
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise HybridIRError(f"{entry} is {_kind(mode)}, not a regular file of training data")


def _read_saved_dataset(path: Path, split: str | None) -> Iterator[LocatedRow]:
    import datasets
    import pyarrow as pa

    _check_folder_files(path)
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises several types for a damaged folder
        raise HybridIRError(f"{path}: could not load the saved dataset ({_first_line(exc)})") from None
    if isinstance(ds, datasets.DatasetDict):
        split = split or "train"
        if split not in ds:
            raise HybridIRError(
                f"{path} has the splits {sorted(ds)} and no {split!r} split; name one as {path}:<split>"
            )
        ds = ds[split]
    elif split is not None:
        raise HybridIRError(f"{path}:{split}: the saved dataset has no splits; name the folder alone")
    batches = iter(ds.with_format("arrow").iter(batch_size=4096))
    yield from _rows_of_batches(path, batches, (pa.ArrowException, OSError, ValueError, TypeError))


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
    """An id-like field: a non-empty string or an integer, returned as a string in Unicode NFC."""
    value = row.get(key)
    if value is None:
        if required:
            raise HybridIRError(f"{source}, {where}: field '{key}' is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise HybridIRError(
            f"{source}, {where}: field '{key}' must be a string or an integer, got {_short(value)}"
        )
    if isinstance(value, int) and value.bit_length() > MAX_INT_ID_BITS:
        raise HybridIRError(
            f"{source}, {where}: field '{key}' is an integer of more than {MAX_INT_ID_BITS} bits; "
            "write long ids as strings"
        )
    text = unicodedata.normalize("NFC", str(value).strip())
    if not text:
        raise HybridIRError(f"{source}, {where}: field '{key}' is empty")
    return text


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (an error line stays one short line)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parallel_id(source: str, where: str, row: Mapping[str, Any]) -> str:
    """The row's parallel id: field ``id``, or its older name ``parallel_id`` (both: they must agree)."""
    if row.get("id") is None and row.get("parallel_id") is not None:
        pid = _key(source, where, row, "parallel_id")
    else:
        pid = _key(source, where, row, "id")
        if row.get("parallel_id") is not None and _key(source, where, row, "parallel_id") != pid:
            raise HybridIRError(
                f"{source}, {where}: fields 'id' and 'parallel_id' (two names of the parallel id) differ"
            )
    assert pid is not None
    return pid


class _Notes:
    """What loading changed or dropped, counted, with the first place each happened (for warnings)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.first: dict[str, str] = {}

    def add(self, what: str, where: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
        self.first.setdefault(what, where)

    def warn(self, source: str) -> None:
        for what, n in self.counts.items():
            _warn(f"{source}: {what}: {n} row(s), first at {self.first[what]}")


def _lang(source: str, where: str, row: Mapping[str, Any], key: str, notes: _Notes | None = None) -> str:
    """A language code, lower-cased (``EN`` -> ``en``, noted for a warning) and checked against
    :data:`~hybrid_ir.data.languages.LANGUAGE_CODES`."""
    code = _key(source, where, row, key)
    assert code is not None
    lang = normalise_language_code(code)
    if lang is None:
        raise HybridIRError(
            f"{source}, {where}: field '{key}' must be a language code such as 'en' or 'pt-br' "
            f"(ISO 639-1, see hybrid_ir.data.languages.LANGUAGE_CODES), got {_short(code)}"
        )
    if lang != code and notes is not None:
        notes.add(f"language code {code!r} read as {lang!r}", where)
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


@dataclass(frozen=True)
class _Row:
    """One validated row: its parallel id, query and passage languages, texts and group."""

    pid: str
    query_lang: str
    passage_lang: str
    query: str
    positive: str
    negative: str | None
    group: str


def _layout(row: Mapping[str, Any]) -> str:
    """``"triplet"`` for rows with query_lang / passage_lang, else ``"lang"`` (decided by the first row)."""
    return "triplet" if "lang" not in row and ("query_lang" in row or "passage_lang" in row) else "lang"


def _read_row(source: str, where: str, row: Any, layout: str, notes: _Notes) -> _Row:
    """Validate one row of the given layout; ids and groups come back in NFC, languages normalised."""
    if not isinstance(row, Mapping):
        raise HybridIRError(
            f"{source}, {where}: expected an object with the fields id, lang, query, positive; "
            f"got {type(row).__name__}"
        )
    pid = _parallel_id(source, where, row)
    raw_id = row.get("id", row.get("parallel_id"))
    if isinstance(raw_id, str) and raw_id.strip() != pid:
        notes.add("ids not in Unicode NFC form read in NFC", where)
    if layout == "lang":
        if "lang" not in row and ("query_lang" in row or "passage_lang" in row):
            raise HybridIRError(
                f"{source}, {where}: has query_lang/passage_lang, but the first row uses 'lang'; "
                "use one layout per file"
            )
        ql = pl = _lang(source, where, row, "lang", notes)
    else:
        if "lang" in row:
            raise HybridIRError(
                f"{source}, {where}: has 'lang', but the first row uses query_lang/passage_lang; "
                "use one layout per file"
            )
        ql = _lang(source, where, row, "query_lang", notes)
        pl = _lang(source, where, row, "passage_lang", notes)
    query = _text(source, where, row, "query")
    positive = _text(source, where, row, "positive")
    negative = _text(source, where, row, "negative", required=False)
    if negative is not None and negative == positive:
        raise HybridIRError(f"{source}, {where}: field 'negative' is the same text as 'positive'")
    group = _key(source, where, row, "group", required=False) or pid
    return _Row(pid, ql, pl, query, positive, negative, group)  # type: ignore[arg-type]


def _duplicate(r: _Row, layout: str) -> tuple[tuple[str, ...], str]:
    """The key two rows may not share, and how a message names it."""
    if layout == "lang":
        return (r.pid, r.query_lang), f"duplicate (id, lang) ({r.pid!r}, {r.query_lang!r})"
    return ((r.pid, r.query_lang, r.passage_lang),
            f"duplicate (id, query_lang, passage_lang) ({r.pid!r}, {r.query_lang!r}, {r.passage_lang!r})")


def _collect(
    rows: Iterable[LocatedRow], source: str, notes: _Notes
) -> tuple[dict[str, dict[str, _Side]], dict[str, str], dict[tuple[str, str], str]]:
    """Validate every row; return per id its sides per language, per id its group, and per (id, lang)
    the first row that mentions it (for later messages). A row identical to an earlier one (same id,
    languages, texts and group) is dropped and counted in ``notes``; one that differs is an error."""
    sides: dict[str, dict[str, _Side]] = {}
    groups: dict[str, tuple[str, str]] = {}
    first_at: dict[tuple[str, str], str] = {}
    seen: dict[tuple[str, ...], tuple[str, _Row]] = {}
    layout: str | None = None
    for where, row in rows:
        if layout is None and isinstance(row, Mapping):
            layout = _layout(row)
        r = _read_row(source, where, row, layout or "lang", notes)
        dup_key, dup_what = _duplicate(r, layout or "lang")
        if dup_key in seen:
            first, earlier = seen[dup_key]
            if earlier == r:
                notes.add("identical duplicate rows dropped", where)
                continue
            raise HybridIRError(f"{source}, {where}: {dup_what}, already at {first} with other texts")
        seen[dup_key] = (where, r)
        _add_row(source, where, r, sides, groups)
        first_at.setdefault((r.pid, r.query_lang), where)
        first_at.setdefault((r.pid, r.passage_lang), where)
    if layout is None:
        raise HybridIRError(f"{source} has no rows")
    _check_complete(source, sides)
    return sides, {pid: g for pid, (g, _) in groups.items()}, first_at


def _add_row(source: str, where: str, r: _Row, sides: dict[str, dict[str, _Side]],
             groups: dict[str, tuple[str, str]]) -> None:
    """Merge one row into the texts of its id (two rows may not give one text differently)."""
    pid = r.pid
    if pid in groups and groups[pid][0] != r.group:
        raise HybridIRError(
            f"{source}, {where}: field 'group' is {r.group!r} for id {pid!r}, but {groups[pid][0]!r} at {groups[pid][1]}"
        )
    groups.setdefault(pid, (r.group, where))
    per_lang = sides.setdefault(pid, {})
    ql, pl = r.query_lang, r.passage_lang
    q_side = per_lang.setdefault(ql, _Side())
    _merge(source, where, q_side.query, q_side.query_at, r.query, f"field 'query' of ({pid!r}, {ql!r})")
    if q_side.query is None:
        q_side.query, q_side.query_at = r.query, where
    p_side = per_lang.setdefault(pl, _Side())
    _merge(source, where, p_side.positive, p_side.passage_at, r.positive, f"field 'positive' of ({pid!r}, {pl!r})")
    _merge(source, where, p_side.negative, p_side.passage_at, r.negative, f"field 'negative' of ({pid!r}, {pl!r})")
    if p_side.positive is None:
        p_side.positive, p_side.passage_at = r.positive, where
    if p_side.negative is None:
        p_side.negative = r.negative


def _check_complete(source: str, sides: dict[str, dict[str, _Side]]) -> None:
    """Every (id, language) needs both a query and a passage."""
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


def training_set_from_rows(
    rows: Iterable[Mapping[str, Any]] | Iterable[LocatedRow],
    name: str,
    *,
    source: str | None = None,
    languages: Sequence[str] | None = None,
    seed: int = 0,
    require_parallel: bool = False,
    drop_single_language: bool = False,
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
        require_parallel: an id with a single language in a set of several languages (which X-Y
            training cannot use) is an error, or with ``drop_single_language`` dropped and counted in
            a :class:`DataWarning`.
        files: ``{path: sha256}`` recorded in ``TrainingSet.files``.

    Identical duplicate rows are dropped, and language codes such as ``EN`` lower-cased, each counted
    in a :class:`DataWarning`.
    """
    source = source or name
    if isinstance(rows, Mapping):  # a datasets.DatasetDict is a dict of splits
        raise HybridIRError(f"{source}: give the rows of one split (e.g. dataset['train']), not a dict of splits")
    located_rows = rows if located else ((f"row {n}", r) for n, r in enumerate(rows, start=1))
    notes = _Notes()
    sides, groups, first_at = _collect(located_rows, source, notes)  # type: ignore[arg-type]
    notes.warn(source)
    if languages is not None:
        sides = _keep_languages(source, sides, languages)
    if require_parallel:
        sides = _single_language_ids(source, sides, first_at, drop_single_language)
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


def _keep_languages(source: str, sides: dict[str, dict[str, _Side]], languages: Sequence[str]
                    ) -> dict[str, dict[str, _Side]]:
    """Only the given languages (normalised like the rows' codes); each must occur."""
    all_langs = sorted({lang for per in sides.values() for lang in per})
    keep = [normalise_language_code(lang) or lang for lang in languages]
    unknown = [lang for lang in keep if lang not in all_langs]
    if unknown:
        raise HybridIRError(
            f"{source}: language(s) {unknown} do not occur; its languages are {', '.join(all_langs)}"
        )
    kept = {pid: {la: s for la, s in per.items() if la in keep} for pid, per in sides.items()}
    return {pid: per for pid, per in kept.items() if per}


def _single_language_ids(source: str, sides: dict[str, dict[str, _Side]], first_at: dict[tuple[str, str], str],
                         drop: bool) -> dict[str, dict[str, _Side]]:
    """X-Y training: refuse (or, with ``drop``, drop and count) ids with one language in a set of several."""
    if len({lang for per in sides.values() for lang in per}) < 2:
        return sides  # a single-language set gives mono batches
    solo = [pid for pid, per in sides.items() if len(per) == 1]
    if not solo:
        return sides
    (lang,) = sides[solo[0]]
    where = first_at[(solo[0], lang)]
    if not drop:
        raise HybridIRError(
            f"{source}, {where}: id {solo[0]!r} has only language {lang!r}, but the X-Y "
            "strategy pairs two languages of one id; add its translations, drop it, or use "
            "strategy hybrid / mono (a dataset in a single language is fine: it gives mono batches)"
        )
    if len(solo) == len(sides):
        raise HybridIRError(
            f"{source}: every id has a single language, so the X-Y strategy has no pair of languages to "
            "train on; use strategy hybrid / mono, or give ids with their translations"
        )
    _warn(f"{source}: dropped {len(solo)} of {len(sides)} ids that have a single language (the X-Y strategy "
          f"pairs two languages of one id), first {solo[0]!r} at {where}")
    return {pid: per for pid, per in sides.items() if len(per) >= 2}


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
    drop_single_language: bool = False,
) -> TrainingSet:
    """Read a JSONL / JSON / Parquet file (or a saved dataset folder, ``folder:split`` for a split
    other than ``train``) of the module's schema.

    The set is named after the file (``my-data.jsonl`` -> ``my-data``) and records the file's
    SHA-256 (for a folder: each of its files) in ``TrainingSet.files``.
    """
    p, split = split_spec(path)
    if not p.exists():
        raise HybridIRError(f"training data file not found: {p}")
    if p.is_dir():
        _check_folder_files(p)
        files = {str(p / f.relative_to(p)): sha256_file(f) for f in sorted(p.rglob("*")) if f.is_file()}
    else:
        check_regular_file(p)  # before hashing: a FIFO or a device is refused, not read
        files = {str(path): sha256_file(p)}
    stem = p.name if p.is_dir() else p.name.split(".")[0]
    return training_set_from_rows(
        read_rows(p, split), name or stem, source=str(path), languages=languages, seed=seed,
        require_parallel=require_parallel, drop_single_language=drop_single_language, files=files,
        located=True,
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
    drop_single_language: bool = False,
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
        require_parallel=require_parallel, drop_single_language=drop_single_language, files=files,
    )
