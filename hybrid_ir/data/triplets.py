"""The training-data types every loader produces: :class:`Triplet`, :class:`TrainingExample`, :class:`TrainingSet`.

A :class:`TrainingSet` is what the batch samplers draw from, whatever the data came from (a LAReQA
set, a researcher's own file, a Hugging Face dataset, mMARCO). One :class:`TrainingExample` is one
parallel id (a question and its translations) with one monolingual triplet per language it has:

- monolingual triplet in language X: ``(q_X, p+_X, p-_X)`` (``example.by_lang["X"]``);
- cross-lingual triplet for the pair (X, Y): ``(q_X, p+_Y, p-_Y)`` (``example.triplet("X", "Y")``).

``article`` groups examples (a Wikipedia article, a topic, an mMARCO query): splits into training and
validation keep a group on one side. ``TrainingSet.files`` records the files the set was read from
with their SHA-256, so a trained model's metadata can name its data exactly.

Example::

    >>> t_en, t_de = Triplet("q en", "p+ en", "p- en"), Triplet("q de", "p+ de", "p- de")
    >>> ex = TrainingExample("q1", "topic", {"en": t_en, "de": t_de})
    >>> ex.triplet("de", "en")
    Triplet(query='q de', positive='p+ en', negative='p- en')
    >>> TrainingSet("toy", (ex,)).languages
    ('de', 'en')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrainingExample", "TrainingSet", "Triplet"]


@dataclass(frozen=True)
class Triplet:
    """Texts of one training triplet (no prefixes: the model adds "query: " / "passage: ")."""

    query: str
    positive: str
    negative: str


@dataclass(frozen=True)
class TrainingExample:
    """One parallel question: ``by_lang[lang]`` is its monolingual triplet in ``lang``."""

    parallel_id: str
    article: str
    by_lang: Mapping[str, Triplet]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.by_lang)

    def triplet(self, query_lang: str, passage_lang: str) -> Triplet:
        """The query in ``query_lang`` with the positive and hard negative in ``passage_lang``."""
        q = self.by_lang[query_lang]
        p = self.by_lang[passage_lang]
        return Triplet(q.query, p.positive, p.negative)


@dataclass(frozen=True)
class TrainingSet:
    """A named list of examples (one training dataset for the samplers).

    ``files`` maps each file the set was read from (a path, or a path relative to the data root for
    the pinned benchmarks) to its SHA-256; empty for a set built in memory.
    """

    name: str
    examples: tuple[TrainingExample, ...]
    files: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def languages(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for ex in self.examples:
            for lang in ex.by_lang:
                seen.setdefault(lang, None)
        return tuple(sorted(seen))

    def without_articles(self, articles: Iterable[str]) -> TrainingSet:
        """The same set minus the examples whose (normalised) article is in ``articles``."""
        drop = set(articles)
        return TrainingSet(self.name, tuple(ex for ex in self.examples if ex.article not in drop), self.files)

    def subset(self, n: int) -> TrainingSet:
        """The first ``n`` examples (a CI-sized set)."""
        return TrainingSet(self.name, self.examples[:n], self.files)

    def stats(self) -> dict[str, Any]:
        """What ``hybrid-ir data stats`` prints for a training set: examples (parallel ids), those in
        two languages or more, groups, examples per language, and the files with their SHA-256."""
        per_lang: dict[str, int] = {}
        for ex in self.examples:
            for lang in ex.by_lang:
                per_lang[lang] = per_lang.get(lang, 0) + 1
        return {
            "dataset": self.name,
            "examples": len(self.examples),
            "parallel_examples": sum(len(ex.by_lang) >= 2 for ex in self.examples),
            "groups": len({ex.article for ex in self.examples}),
            "languages": {lang: per_lang[lang] for lang in sorted(per_lang)},
            "files": dict(self.files),
        }
