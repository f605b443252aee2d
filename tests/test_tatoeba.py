"""Tatoeba bitext retrieval: the loader on the real files and on broken ones, acc@1 against a reference."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import hybrid_ir.evaluation.tatoeba
from hybrid_ir.data.tatoeba import TATOEBA_LANGUAGES, load_tatoeba, tatoeba_code
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.tatoeba import bitext_accuracy, bitext_hits, evaluate_tatoeba_model


def test_doctests() -> None:
    assert doctest.testmod(hybrid_ir.evaluation.tatoeba).failed == 0


def test_real_files(data_dir: Path) -> None:
    sizes = {lang: len(load_tatoeba(lang)) for lang in TATOEBA_LANGUAGES}
    assert sizes["th"] == 548 and all(n == 1000 for lang, n in sizes.items() if lang != "th")
    de = load_tatoeba("de")
    assert de.english[0] and de.other[0] and len(de.other) == len(de.english)


def test_unknown_language() -> None:
    with pytest.raises(HybridIRError, match="no Tatoeba test set is mapped for language 'xx'"):
        tatoeba_code("xx")


@pytest.mark.parametrize(
    ("other", "english", "message"),
    [
        ("a\nb\n", "a\n", "must be aligned"),
        ("a\n\nc\n", "a\nb\nc\n", r"empty sentence on line\(s\) \[2\]"),
        ("", "", "no sentence pairs"),
    ],
)
def test_broken_files(tmp_path: Path, other: str, english: str, message: str, monkeypatch) -> None:
    monkeypatch.setenv("HYBRID_IR_VERIFY_DATA", "0")  # these files are edited on purpose
    folder = tmp_path / "tatoeba"
    folder.mkdir()
    (folder / "tatoeba.deu-eng.deu").write_text(other, encoding="utf-8")
    (folder / "tatoeba.deu-eng.eng").write_text(english, encoding="utf-8")
    with pytest.raises(HybridIRError, match=message):
        load_tatoeba("de", data_dir=tmp_path)


def _reference_hits(source: np.ndarray, target: np.ndarray) -> list[float]:
    """Loop-by-loop cosine nearest neighbour, independent of the vectorised code."""
    hits = []
    for i, s in enumerate(source):
        cos = [float(s @ t / (np.linalg.norm(s) * np.linalg.norm(t))) for t in target]
        hits.append(1.0 if all(c <= cos[i] for c in cos) else 0.0)
    return hits


def test_accuracy_against_reference() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    e = x + rng.normal(scale=1.0, size=x.shape).astype(np.float32)  # noisy translations: some misses
    assert bitext_hits(x, e).tolist() == _reference_hits(x, e)
    assert bitext_hits(e, x).tolist() == _reference_hits(e, x)
    to_en, from_en = bitext_accuracy(x, e)
    assert 0 < to_en < 1 and 0 < from_en < 1
    assert bitext_accuracy(x, 3 * x) == (1.0, 1.0)  # cosine ignores the scale


def test_bad_embeddings() -> None:
    with pytest.raises(HybridIRError, match="rows"):
        bitext_hits(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(HybridIRError, match="norm 0"):
        bitext_hits(np.zeros((2, 2)), np.ones((2, 2)))


class _LengthEncoder:
    """A deterministic fake encoder: an embedding from character counts (same text -> same vector)."""

    def encode(self, texts, kind="query", batch_size=64, show_progress=False, **runtime):
        assert kind == "query"
        return np.array([[len(t) + 1.0, t.count(" ") + 1.0, sum(map(ord, t)) % 97 + 1.0] for t in texts],
                        dtype=np.float32)


def test_evaluate_model_shapes(data_dir: Path) -> None:
    out = evaluate_tatoeba_model(_LengthEncoder(), ["de", "th"])
    assert set(out["per_language"]) == {"de", "th"}
    assert len(out["hits"]["th"]["to_en"]) == 548
    th = out["per_language"]["th"]
    assert th["to_en"] == pytest.approx(np.mean(out["hits"]["th"]["to_en"]))
    assert out["summary"]["mean"] == pytest.approx(np.mean([v["mean"] for v in out["per_language"].values()]))
