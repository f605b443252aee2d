"""Tatoeba bitext test pairs (XTREME / XTREME-R's sentence-retrieval task), as used by LASER.

The LASER repository publishes, for each of 112 languages, up to 1,000 English sentences and their
translations as two line-aligned files ``tatoeba.<xxx>-eng.<xxx>`` and ``tatoeba.<xxx>-eng.eng``
(ISO 639-3 codes: ``deu``, ``cmn``, ...). Line i of one file translates line i of the other. The
English sides differ between languages, so scores are not comparable across languages.

This module maps the two-letter codes of the LAReQA languages onto those files and loads a language's
pairs. Files are found like every other benchmark file (:func:`hybrid_ir.data.sources.resolve_file`).

Example::

    >>> tatoeba_code("zh")
    'cmn'
    >>> pairs = load_tatoeba("de")                        # doctest: +SKIP
    >>> len(pairs), pairs.other[0], pairs.english[0]      # doctest: +SKIP
    (1000, ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hybrid_ir.data.sources import resolve_file
from hybrid_ir.errors import HybridIRError

#: LAReQA language -> the ISO 639-3 code of its Tatoeba file (every XQuAD-R language but English).
TATOEBA_CODES: dict[str, str] = {
    "ar": "ara", "de": "deu", "el": "ell", "es": "spa", "hi": "hin", "ru": "rus", "th": "tha",
    "tr": "tur", "vi": "vie", "zh": "cmn",
}
#: The XQuAD-R languages other than English, the default set of the book's Tatoeba evaluation.
TATOEBA_LANGUAGES: tuple[str, ...] = tuple(sorted(TATOEBA_CODES))


@dataclass(frozen=True)
class TatoebaPairs:
    """Aligned sentences of one language pair: ``other[i]`` translates ``english[i]``."""

    lang: str
    other: tuple[str, ...]
    english: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.other)


def tatoeba_code(lang: str) -> str:
    """The Tatoeba (ISO 639-3) code of a two-letter LAReQA language code."""
    try:
        return TATOEBA_CODES[lang]
    except KeyError:
        raise HybridIRError(
            f"no Tatoeba test set is mapped for language '{lang}'; known: {', '.join(TATOEBA_LANGUAGES)}"
        ) from None


def tatoeba_files(lang: str) -> tuple[str, str]:
    """Relative paths (under the data root) of the ``lang`` side and the English side."""
    code = tatoeba_code(lang)
    return f"tatoeba/tatoeba.{code}-eng.{code}", f"tatoeba/tatoeba.{code}-eng.eng"


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise HybridIRError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return [line.strip() for line in text.splitlines()]


def load_tatoeba(lang: str, data_dir: str | Path | None = None) -> TatoebaPairs:
    """The test pairs of ``lang`` and English; both files must have the same number of non-empty lines."""
    other_rel, eng_rel = tatoeba_files(lang)
    other_path, eng_path = resolve_file(other_rel, data_dir), resolve_file(eng_rel, data_dir)
    other, english = _read_lines(other_path), _read_lines(eng_path)
    if len(other) != len(english):
        raise HybridIRError(
            f"{other_path} has {len(other)} lines but {eng_path} has {len(english)}: the files must be aligned"
        )
    if not other:
        raise HybridIRError(f"{other_path}: no sentence pairs")
    empty = [i + 1 for i, (a, b) in enumerate(zip(other, english, strict=True)) if not a or not b]
    if empty:
        raise HybridIRError(f"{other_path}: empty sentence on line(s) {empty[:5]} (each line must hold one)")
    return TatoebaPairs(lang, tuple(other), tuple(english))
