"""Training examples built from a LAReQA-format set: one example per parallel question id.

An example holds, for every language that has the question, a triplet
``(question, positive sentence, hard negative sentence)``:

- the positive is the answer sentence (see :mod:`hybrid_ir.data.lareqa`);
- the hard negative is another sentence of the same paragraph, drawn with a generator seeded by
  ``(seed, parallel_id, lang)`` so it does not depend on load order; a one-sentence paragraph falls
  back to a sentence of another paragraph of the same article, then to any sentence of that language.

A monolingual triplet in language X is ``(q_X, p+_X, p-_X)``; a cross-lingual one for the pair (X, Y)
is ``(q_X, p+_Y, p-_Y)`` (:meth:`TrainingExample.triplet`). The split into training and validation
is by article, so no paragraph is seen on both sides, and :func:`shared_articles` finds the articles a
training set shares with an evaluation set (MLQA-R and XQuAD-R share "Prime number" and "Harvard
University") so they can be removed before training.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hybrid_ir.data.lareqa import CandidateText, LareqaDataset, load_lareqa
from hybrid_ir.errors import HybridIRError


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
    """A named list of examples (one training dataset for the samplers)."""

    name: str
    examples: tuple[TrainingExample, ...]

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
        return TrainingSet(self.name, tuple(ex for ex in self.examples if ex.article not in drop))

    def subset(self, n: int) -> TrainingSet:
        """The first ``n`` examples (a CI-sized set)."""
        return TrainingSet(self.name, self.examples[:n])


def build_examples(
    ds: LareqaDataset,
    *,
    seed: int = 0,
    candidate_text: CandidateText = "sentence",
) -> TrainingSet:
    """One :class:`TrainingExample` per parallel id of ``ds`` (every language that has the question)."""
    by_paragraph: dict[tuple[str, int], list[int]] = {}
    by_article: dict[tuple[str, str], list[int]] = {}
    by_lang: dict[str, list[int]] = {}
    for i, c in enumerate(ds.candidates):
        by_paragraph.setdefault((c.lang, c.paragraph), []).append(i)
        by_article.setdefault((c.lang, c.article), []).append(i)
        by_lang.setdefault(c.lang, []).append(i)

    def hard_negative(pid: str, lang: str, answer: int) -> int:
        rng = random.Random(f"{seed}:{pid}:{lang}")
        c = ds.candidates[answer]
        for pool in (
            by_paragraph[(lang, c.paragraph)],
            by_article[(lang, c.article)],
            by_lang[lang],
        ):
            others = [i for i in pool if i != answer]
            if others:
                return rng.choice(others)
        raise HybridIRError(f"{ds.name}/{lang} has a single candidate: no hard negative possible")

    articles = ds.canonical_articles()
    grouped: dict[str, dict[str, Triplet]] = {}
    for q in ds.questions:
        neg = hard_negative(q.parallel_id, q.lang, q.answer)
        grouped.setdefault(q.parallel_id, {})[q.lang] = Triplet(
            query=q.text,
            positive=ds.candidates[q.answer].text(candidate_text),
            negative=ds.candidates[neg].text(candidate_text),
        )
    order = {lang: i for i, lang in enumerate(ds.languages)}
    examples = tuple(
        TrainingExample(
            pid, articles[pid], dict(sorted(trip.items(), key=lambda kv: order[kv[0]]))
        )
        for pid, trip in grouped.items()
    )
    return TrainingSet(ds.name, examples)


def shared_articles(a: LareqaDataset, b: LareqaDataset) -> set[str]:
    """Normalised article titles present in both datasets (to remove from the training side)."""
    return set(a.canonical_articles().values()) & set(b.canonical_articles().values())


def split_by_article(
    ts: TrainingSet, validation_fraction: float = 0.1, seed: int = 0
) -> tuple[TrainingSet, TrainingSet]:
    """Split into (train, validation) by article: whole articles go to one side.

    Articles are shuffled with ``seed`` and taken for validation until at least
    ``validation_fraction`` of the examples are there.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise HybridIRError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    articles = sorted({ex.article for ex in ts.examples})
    random.Random(seed).shuffle(articles)
    sizes: dict[str, int] = {}
    for ex in ts.examples:
        sizes[ex.article] = sizes.get(ex.article, 0) + 1
    target = validation_fraction * len(ts)
    val_articles: set[str] = set()
    taken = 0
    for art in articles:
        if taken >= target:
            break
        val_articles.add(art)
        taken += sizes[art]
    train = tuple(ex for ex in ts.examples if ex.article not in val_articles)
    val = tuple(ex for ex in ts.examples if ex.article in val_articles)
    return TrainingSet(ts.name, train), TrainingSet(f"{ts.name}-validation", val)


def load_training_set(
    name: str,
    *,
    languages: Sequence[str] | None = None,
    exclude_overlap_with: Sequence[str] = (),
    seed: int = 0,
    candidate_text: CandidateText = "sentence",
    data_dir: str | Path | None = None,
) -> TrainingSet:
    """Load a LAReQA set as training examples, minus the articles it shares with the named eval sets.

    Example: ``load_training_set("mlqa-r", exclude_overlap_with=["xquad-r"])`` drops the MLQA-R
    questions about "Prime number" and "Harvard University".
    """
    ds = load_lareqa(name, languages, data_dir)
    ts = build_examples(ds, seed=seed, candidate_text=candidate_text)
    for other in exclude_overlap_with:
        if other == name:
            raise HybridIRError(f"cannot train and evaluate on the same dataset '{name}'")
        ts = ts.without_articles(shared_articles(ds, load_lareqa(other, data_dir=data_dir)))
    return ts
