"""Training examples: triplets per parallel id, hard negatives, article split, overlap guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybrid_ir.data.examples import (
    NEGATIVE_SOURCES,
    build_examples,
    load_training_set,
    negative_sources,
    shared_articles,
    split_by_article,
)
from hybrid_ir.data.lareqa import load_lareqa
from hybrid_ir.errors import HybridIRError


def test_examples_cover_every_parallel_id(data_dir: Path) -> None:
    ds = load_lareqa("mlqa-r")
    ts = build_examples(ds)
    assert len(ts) == 1148
    for ex in ts.examples[:200]:
        assert len(ex.by_lang) == len(ds.relevant[ex.parallel_id])
        for t in ex.by_lang.values():
            assert t.positive != t.negative


def test_hard_negative_from_same_paragraph(data_dir: Path) -> None:
    ds = load_lareqa("xquad-r", ["en", "de"])
    ts = build_examples(ds, seed=3)
    para_sentences = {}
    for c in ds.candidates:
        para_sentences.setdefault((c.lang, c.paragraph), set()).add(c.sentence)
    answer_para = {(q.parallel_id, q.lang): ds.candidates[q.answer].paragraph for q in ds.questions}
    fallbacks = 0
    for ex in ts.examples:
        for lang, t in ex.by_lang.items():
            sentences = para_sentences[(lang, answer_para[(ex.parallel_id, lang)])]
            if len(sentences) > 1:
                assert t.negative in sentences
            else:  # a one-sentence paragraph falls back to the same article
                fallbacks += 1
                assert t.negative not in sentences
    assert fallbacks < 0.05 * sum(len(ex.by_lang) for ex in ts.examples)


def test_seed_changes_negatives_deterministically(data_dir: Path) -> None:
    ds = load_lareqa("xquad-r", ["en"])
    a, b, c = build_examples(ds, seed=0), build_examples(ds, seed=0), build_examples(ds, seed=1)
    assert a == b
    assert a != c


def test_cross_lingual_triplet(data_dir: Path) -> None:
    ts = build_examples(load_lareqa("xquad-r", ["en", "de"]))
    ex = ts.examples[0]
    t = ex.triplet("en", "de")
    assert t.query == ex.by_lang["en"].query
    assert (t.positive, t.negative) == (ex.by_lang["de"].positive, ex.by_lang["de"].negative)


def test_overlap_guard(data_dir: Path) -> None:
    mlqa, xquad = load_lareqa("mlqa-r"), load_lareqa("xquad-r")
    assert shared_articles(mlqa, xquad) == {"prime number", "harvard university"}
    ts = load_training_set("mlqa-r", exclude_overlap_with=["xquad-r"])
    assert len(ts) == 1145
    assert not {ex.article for ex in ts.examples} & {"prime number", "harvard university"}
    with pytest.raises(HybridIRError, match="same dataset"):
        load_training_set("mlqa-r", exclude_overlap_with=["mlqa-r"])


def test_split_by_article_is_disjoint(data_dir: Path) -> None:
    ts = load_training_set("mlqa-r")
    train, val = split_by_article(ts, 0.1, seed=0)
    assert len(train) + len(val) == len(ts)
    assert 0.1 * len(ts) <= len(val) < 0.2 * len(ts)
    assert not {e.article for e in train.examples} & {e.article for e in val.examples}
    assert split_by_article(ts, 0.1, seed=0) == (train, val)
    with pytest.raises(HybridIRError, match="validation_fraction"):
        split_by_article(ts, 1.5)


def test_negative_sources_match_the_negatives_built(data_dir: Path) -> None:
    """Each question's hard negative lies in the pool negative_sources names for it: the answer's
    paragraph, else its article, else only its language; the counts add up to the triplets."""
    ds = load_lareqa("mlqa-r", ["en", "de", "zh"])
    counts = negative_sources(ds)
    assert set(counts) == set(NEGATIVE_SOURCES)
    assert sum(counts.values()) == len(ds.questions)
    assert counts["article"] > 0 and counts["language"] > 0  # MLQA-R has one-sentence paragraphs
    ts = build_examples(ds, seed=1)
    examples = {ex.parallel_id: ex for ex in ts.examples}
    places: dict[tuple[str, str], set[tuple[int, str]]] = {}  # a sentence may occur twice
    for c in ds.candidates:
        places.setdefault((c.lang, c.text("sentence")), set()).add((c.paragraph, c.article))
    seen = dict.fromkeys(NEGATIVE_SOURCES, 0)
    for q in ds.questions:
        answer = ds.candidates[q.answer]
        where = places[(q.lang, examples[q.parallel_id].by_lang[q.lang].negative)]
        if (answer.paragraph, answer.article) in where:
            seen["paragraph"] += 1
        elif answer.article in {article for _, article in where}:
            seen["article"] += 1
        else:
            seen["language"] += 1
    assert seen == counts
    shared = shared_articles(ds, load_lareqa("xquad-r", ["en"]))
    fewer = negative_sources(ds, shared)
    assert sum(fewer.values()) < sum(counts.values())
