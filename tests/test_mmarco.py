"""mMARCO loader (hybrid_ir.data.mmarco) on a small offline fixture.

``tests/fixtures/mmarco`` follows the published layout of the Hugging Face dataset
``unicamp-dl/mmarco`` (translation v2, as its loading script ``mmarco.py`` reads it) exactly::

    data/triples.train.ids.small.tsv                        qid TAB positive pid TAB negative pid
    data/google/queries/train/<language>_queries.train.tsv  qid TAB text
    data/google/collections/<language>_collection.tsv       pid TAB text

with 8 queries (3 triples each, the first triple of each query in order of first appearance),
45 passages and 4 languages (english, german, spanish, chinese). A text reveals where it came
from: ``"<language> question <qid>"``, ``"<language> passage <pid>"`` (translated words for
german, spanish and chinese).
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest

import hybrid_ir.data.mmarco as mm
from hybrid_ir.data.examples import load_training_set, split_by_article
from hybrid_ir.data.sources import sha256_file
from hybrid_ir.errors import HybridIRError

FIXTURE = Path(__file__).parent / "fixtures" / "mmarco"
WORDS = {"en": ("english", "question", "passage"), "de": ("german", "Frage", "Passage"),
         "es": ("spanish", "pregunta", "pasaje"), "zh": ("chinese", "问题", "段落")}


def first_triples(n: int | None = None) -> list[tuple[str, str, str]]:
    """The first triple of each query id, read independently of the loader."""
    seen: dict[str, tuple[str, str, str]] = {}
    for line in (FIXTURE / mm.TRIPLES_FILE).read_text(encoding="utf-8").splitlines():
        q, p, neg = line.split("\t")
        seen.setdefault(q, (q, p, neg))
    out = list(seen.values())
    return out if n is None else out[:n]


def test_layout_matches_the_published_file_names() -> None:
    assert mm.queries_file("de") == "data/google/queries/train/german_queries.train.tsv"
    assert mm.collection_file("zh") == "data/google/collections/chinese_collection.tsv"
    assert mm.TRIPLES_FILE == "data/triples.train.ids.small.tsv"
    for lang in WORDS:
        assert (FIXTURE / mm.queries_file(lang)).is_file() and (FIXTURE / mm.collection_file(lang)).is_file()
    assert set(mm.PAPER_LANGUAGES) <= set(mm.LANGUAGE_NAMES) and len(mm.PAPER_LANGUAGES) == 7
    assert len(mm.MMARCO_REVISION) == 40


@pytest.mark.parametrize("max_queries", [0, 1, 3, 8, 100])
def test_parallel_triplets_by_query_and_passage_id(max_queries: int) -> None:
    langs = ["en", "de", "zh"]
    ts = mm.load_mmarco(langs, max_queries=max_queries, root=FIXTURE)
    expected = first_triples(max_queries or None)
    assert [ex.parallel_id for ex in ts.examples] == [q for q, _, _ in expected]
    for ex, (q, p, neg) in zip(ts.examples, expected, strict=True):
        assert ex.article == q and ex.languages == ("de", "en", "zh")
        for lang in langs:
            name, qw, pw = WORDS[lang]
            t = ex.by_lang[lang]
            assert t.query == f"{name} {qw} {q}"
            assert t.positive.startswith(f"{name} {pw} {p}") and t.negative.startswith(f"{name} {pw} {neg}")
        cross = ex.triplet("zh", "de")  # the same ids across languages: a parallel example
        assert (cross.query, cross.positive) == (f"chinese 问题 {q}", ex.by_lang["de"].positive)
    read = {mm.TRIPLES_FILE, *(f(lang) for lang in langs for f in (mm.queries_file, mm.collection_file))}
    assert ts.files == {str(FIXTURE / rel): sha256_file(FIXTURE / rel) for rel in read}


def test_a_tab_inside_a_passage_is_kept() -> None:
    ts = mm.load_mmarco(["en"], root=FIXTURE)
    texts = {t.positive for ex in ts.examples for t in ex.by_lang.values()}
    assert "english passage 5390003\twith a tab inside" in texts


def test_streaming_stops_once_the_cap_and_the_needed_ids_are_read(monkeypatch) -> None:
    consumed: dict[str, int] = {}
    real = mm._tsv

    def counting(f, label, fields):
        for parts in real(f, label, fields):
            consumed[Path(label).name] = consumed.get(Path(label).name, 0) + 1
            yield parts

    monkeypatch.setattr(mm, "_tsv", counting)
    ts = mm.load_mmarco(["de"], max_queries=2, root=FIXTURE)
    assert len(ts) == 2
    assert consumed["triples.train.ids.small.tsv"] == 2  # not the 24 lines of the file
    needed = {p for _, p, n in first_triples(2) for p in (p, n)}
    collection_lines = (FIXTURE / mm.collection_file("de")).read_text(encoding="utf-8").splitlines()
    position = [line.split("\t")[0] for line in collection_lines]
    assert consumed["german_collection.tsv"] == max(position.index(p) for p in needed) + 1 < len(position)


def test_hub_files_are_streamed_at_the_pinned_revision(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.delenv("HYBRID_IR_DATA_DIR", raising=False)
    opened: list[tuple[str, str]] = []

    def fake_remote(relpath: str, revision: str):
        opened.append((relpath, revision))
        return io.BytesIO((FIXTURE / relpath).read_bytes()), f"sha-of-{Path(relpath).name}"

    monkeypatch.setattr(mm, "_open_remote", fake_remote)
    ts = mm.load_mmarco(["es", "en"], max_queries=3)
    assert {rev for _, rev in opened} == {mm.MMARCO_REVISION}
    assert [rel for rel, _ in opened] == [
        mm.TRIPLES_FILE, mm.queries_file("es"), mm.collection_file("es"), mm.queries_file("en"),
        mm.collection_file("en"),
    ]
    prefix = f"hf:{mm.MMARCO_REPO}@{mm.MMARCO_REVISION}/"
    assert ts.files[prefix + mm.collection_file("es")] == "sha-of-spanish_collection.tsv"
    assert len(ts) == 3 and ts.languages == ("en", "es")


def test_offline_without_a_copy_fails_at_once(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HYBRID_IR_DATA_DIR", raising=False)
    start = time.perf_counter()
    with pytest.raises(HybridIRError, match=r"mMARCO file data/triples.train.ids.small.tsv is not available offline"):
        mm.load_mmarco(["en"], max_queries=2)
    assert time.perf_counter() - start < 10


def test_resolved_from_the_data_root_as_a_datasets_entry(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "mmarco")
    ts = load_training_set("mmarco", languages=["en", "de"], data_dir=tmp_path, max_examples=5, strategy="cross")
    assert ts.name == "mmarco" and len(ts) == 5 and ts.languages == ("de", "en")
    assert all(path.startswith(str(tmp_path / "mmarco")) for path in ts.files)
    train, val = split_by_article(ts, 0.4, seed=0)  # groups are query ids: a split by query
    assert len(val) >= 2 and not {e.parallel_id for e in train.examples} & {e.parallel_id for e in val.examples}
    assert val.files == ts.files


def test_bad_requests(tmp_path: Path) -> None:
    with pytest.raises(HybridIRError, match=r"mMARCO has no language\(s\) \['el'\]"):
        mm.load_mmarco(["en", "el"], root=FIXTURE)
    with pytest.raises(HybridIRError, match=r"max_queries must be an integer >= 0"):
        mm.load_mmarco(["en"], max_queries=-1, root=FIXTURE)
    with pytest.raises(HybridIRError, match=r"mMARCO file not found: .*hindi_queries.train.tsv"):
        mm.load_mmarco(["hi"], root=FIXTURE)
    broken = tmp_path / "m"
    shutil.copytree(FIXTURE, broken)
    coll = broken / mm.collection_file("de")
    coll.write_text("".join(line + "\n" for line in coll.read_text(encoding="utf-8").splitlines()
                            if not line.startswith("5390001\t")), encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"mMARCO de: passage 5390001 of the triples file is missing"):
        mm.load_mmarco(["en", "de"], root=broken)
    triples = broken / mm.TRIPLES_FILE
    triples.write_text("1000094 5390000\n", encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"triples.train.ids.small.tsv, line 1: expected 3 tab-separated columns, got 1"):
        mm.load_mmarco(["en"], root=broken)


def test_paper_and_colab_profiles_train_on_mmarco() -> None:
    from hybrid_ir.training.config import NAMED_CONFIGS, load_config

    paper = load_config("paper")
    assert (paper.datasets, paper.model, paper.languages) == (["mmarco"], "xlm-roberta-base", None)
    colab = load_config("colab-mmarco")
    assert "colab-mmarco" in NAMED_CONFIGS and colab.datasets == ["mmarco"]
    assert colab.model.startswith("intfloat/multilingual-e5") and 0 < colab.train_subset <= 50_000
    assert sorted(colab.languages or []) == sorted(mm.PAPER_LANGUAGES)
