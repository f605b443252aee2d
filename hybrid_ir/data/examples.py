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
from collections.abc import Sequence
from pathlib import Path

from hybrid_ir.data.lareqa import CandidateText, LareqaDataset, load_lareqa
from hybrid_ir.data.triplets import TrainingExample, TrainingSet, Triplet
from hybrid_ir.errors import HybridIRError

__all__ = [
    "NEGATIVE_SOURCES",
    "TrainingExample",
    "TrainingSet",
    "Triplet",
    "build_examples",
    "load_training_set",
    "negative_sources",
    "shared_articles",
    "split_by_article",
]


#: Where :func:`build_examples` takes a hard negative from, in order: the first pool that holds a
#: sentence other than the answer (the answer's paragraph, its article, any sentence of its language).
NEGATIVE_SOURCES = ("paragraph", "article", "language")


def _candidate_pools(ds: LareqaDataset):
    """Candidate indices by (lang, paragraph), (lang, article) and lang."""
    by_paragraph: dict[tuple[str, int], list[int]] = {}
    by_article: dict[tuple[str, str], list[int]] = {}
    by_lang: dict[str, list[int]] = {}
    for i, c in enumerate(ds.candidates):
        by_paragraph.setdefault((c.lang, c.paragraph), []).append(i)
        by_article.setdefault((c.lang, c.article), []).append(i)
        by_lang.setdefault(c.lang, []).append(i)
    return by_paragraph, by_article, by_lang


def _negative_pools(ds: LareqaDataset, pools, lang: str, answer: int) -> list[list[int]]:
    by_paragraph, by_article, by_lang = pools
    c = ds.candidates[answer]
    return [by_paragraph[(lang, c.paragraph)], by_article[(lang, c.article)], by_lang[lang]]


def negative_sources(ds: LareqaDataset, exclude_articles: set[str] | frozenset[str] = frozenset()
                     ) -> dict[str, int]:
    """How many questions of ``ds`` take their hard negative from each of :data:`NEGATIVE_SOURCES`.

    The source does not depend on the seed (only the sentence drawn from it does): a question whose
    answer is the only sentence of its paragraph falls back to its article, and one whose article
    has no other sentence in its language to any sentence of that language. Questions of the
    ``exclude_articles`` (normalised titles, as :func:`shared_articles` gives them) are not counted,
    as :func:`load_training_set` drops them.

    >>> # negative_sources(load_lareqa("mlqa-r"))  ->  {"paragraph": ..., "article": ..., "language": ...}
    """
    pools = _candidate_pools(ds)
    articles = ds.canonical_articles()
    counts = dict.fromkeys(NEGATIVE_SOURCES, 0)
    for q in ds.questions:
        if articles[q.parallel_id] in exclude_articles:
            continue
        for name, pool in zip(NEGATIVE_SOURCES, _negative_pools(ds, pools, q.lang, q.answer),
                              strict=True):
            if any(i != q.answer for i in pool):
                counts[name] += 1
                break
    return counts


def build_examples(
    ds: LareqaDataset,
    *,
    seed: int = 0,
    candidate_text: CandidateText = "sentence",
) -> TrainingSet:
    """One :class:`TrainingExample` per parallel id of ``ds`` (every language that has the question)."""
    pools = _candidate_pools(ds)

    def hard_negative(pid: str, lang: str, answer: int) -> int:
        rng = random.Random(f"{seed}:{pid}:{lang}")
        for pool in _negative_pools(ds, pools, lang, answer):
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
    return TrainingSet(ts.name, train, ts.files), TrainingSet(f"{ts.name}-validation", val, ts.files)


def load_training_set(
    name: str,
    *,
    languages: Sequence[str] | None = None,
    exclude_overlap_with: Sequence[str] = (),
    seed: int = 0,
    candidate_text: CandidateText = "sentence",
    data_dir: str | Path | None = None,
    strategy: str | None = None,
    max_examples: int = 0,
) -> TrainingSet:
    """Load one training set named by a ``datasets:`` entry, minus what it shares with the eval sets.

    ``name`` is one of:

    - a LAReQA set (``"mlqa-r"``, ``"xquad-r"``): examples built by :func:`build_examples`;
    - ``"mmarco"`` (or ``"mmarco@<revision>"``): :func:`hybrid_ir.data.mmarco.load_mmarco`, default
      languages the paper's seven, ``max_examples`` query ids streamed;
    - a ``.jsonl`` / ``.json`` / ``.parquet`` file or a folder saved by ``datasets``:
      :func:`hybrid_ir.data.parallel.load_parallel_file` (schema in :mod:`hybrid_ir.data.parallel`);
    - ``"hf:owner/name[:config][@revision]"``: :func:`hybrid_ir.data.parallel.load_hf_dataset`.

    ``strategy="cross"`` drops the ids in a single language from a multi-language set of your own
    (X-Y training cannot use them), counted in a :class:`~hybrid_ir.data.parallel.DataWarning`. Examples whose article (LAReQA) or group (your own data,
    compared case-folded, underscores as spaces) is an article of an ``exclude_overlap_with`` set
    are dropped: ``load_training_set("mlqa-r", exclude_overlap_with=["xquad-r"])`` drops the MLQA-R
    questions about "Prime number" and "Harvard University"; dropping every example is an error. ``max_examples > 0`` keeps the first
    that many examples. ``TrainingSet.files`` holds the files read and their SHA-256.
    """
    from hybrid_ir.data.lareqa import DATASETS, dataset_files, normalise_title
    from hybrid_ir.data.mmarco import load_mmarco
    from hybrid_ir.data.parallel import is_file_spec, load_hf_dataset, load_parallel_file
    from hybrid_ir.data.sources import data_checksums

    require_parallel = strategy == "cross"
    if name in DATASETS:
        ds = load_lareqa(name, languages, data_dir)
        ts = build_examples(ds, seed=seed, candidate_text=candidate_text)
        ts = TrainingSet(ts.name, ts.examples, data_checksums(dataset_files(name, languages), data_dir))
        for other in exclude_overlap_with:
            if other == name:
                raise HybridIRError(f"cannot train and evaluate on the same dataset '{name}'")
            ts = _exclude(ts, name, other, shared_articles(ds, load_lareqa(other, data_dir=data_dir)))
        return ts.subset(max_examples) if max_examples else ts
    if name == "mmarco" or name.startswith("mmarco@"):
        revision = name.partition("@")[2]
        extra = {"revision": revision} if revision else {}
        ts = load_mmarco(languages, max_queries=max_examples, seed=seed, data_dir=data_dir,
                         require_parallel=require_parallel, **extra)
    elif name.startswith("hf:"):
        ts = load_hf_dataset(name, languages=languages, seed=seed, require_parallel=require_parallel,
                             drop_single_language=True)
    elif is_file_spec(name):
        ts = load_parallel_file(name, languages=languages, seed=seed, require_parallel=require_parallel,
                                drop_single_language=True)
    else:
        raise HybridIRError(
            f"unknown dataset '{name}': use {', '.join(sorted(DATASETS))}, mmarco, a .jsonl / .json / "
            ".parquet file (see hybrid_ir.data.parallel) or hf:owner/name[:config][@revision]"
        )
    for other in exclude_overlap_with:
        articles = set(load_lareqa(other, data_dir=data_dir).canonical_articles().values())
        ts = _exclude(ts, name, other,
                      {ex.article for ex in ts.examples if normalise_title(ex.article) in articles})
    return ts.subset(max_examples) if max_examples else ts


def _exclude(ts: TrainingSet, name: str, other: str, articles: set[str]) -> TrainingSet:
    """``ts`` without ``articles`` (those it shares with the evaluation set ``other``); removing every
    example is an error that names the setting."""
    kept = ts.without_articles(articles)
    if len(ts) and not len(kept):
        raise HybridIRError(
            f"{name}: exclude_overlap_with={other} removed all {len(ts)} examples (every group or article "
            f"of {name} is an article of {other}); train on other data, or drop {other} from "
            "exclude_overlap_with (--exclude-overlap-with) knowingly"
        )
    return kept
