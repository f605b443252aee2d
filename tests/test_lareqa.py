"""The LAReQA data layer against the facts of the real files, and its errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybrid_ir.cli import main
from hybrid_ir.data.lareqa import load_lareqa, normalise_title
from hybrid_ir.errors import HybridIRError

XQUAD_CANDIDATES = {
    "ar": 1222, "de": 1276, "el": 1234, "en": 1180, "es": 1215, "hi": 1244,
    "ru": 1219, "th": 852, "tr": 1167, "vi": 1209, "zh": 1196,
}
MLQA = {
    "en": (1148, 6264), "ar": (517, 2545), "de": (512, 2362), "es": (500, 1787),
    "hi": (507, 2426), "vi": (511, 2828), "zh": (504, 2322),
}


def test_xquad_r_counts(data_dir: Path) -> None:
    stats = load_lareqa("xquad-r").stats()
    assert stats["questions"] == 13_090
    assert stats["candidates"] == 13_014
    assert stats["parallel_ids"] == 1190
    for lang, n in XQUAD_CANDIDATES.items():
        assert stats["languages"][lang] == {"questions": 1190, "candidates": n}


def test_mlqa_r_counts(data_dir: Path) -> None:
    ds = load_lareqa("mlqa-r")
    stats = ds.stats()
    assert (stats["questions"], stats["candidates"], stats["parallel_ids"]) == (4199, 20_534, 1148)
    for lang, (nq, nc) in MLQA.items():
        assert stats["languages"][lang] == {"questions": nq, "candidates": nc}
    sizes = {len(v) for v in ds.relevant.values()}
    assert sizes == {2, 3, 4}


def test_relevance_crosses_languages(data_dir: Path) -> None:
    ds = load_lareqa("xquad-r")
    q = ds.questions[0]
    rel = ds.relevant_to(q)
    assert len(rel) == 11
    assert [ds.candidates[i].lang for i in rel] == list(ds.languages)
    # the answer text sits inside the answer sentence in the question's own language
    own = ds.candidates[q.answer]
    assert own.lang == q.lang and q.answer in rel
    raw = json.loads((data_dir / "lareqa/xquad-r/en.json").read_text(encoding="utf-8"))
    first = raw["data"][0]["paragraphs"][0]["qas"][0]
    en_q = next(x for x in ds.questions if x.lang == "en" and x.parallel_id == first["id"])
    assert first["answers"][0]["text"] in ds.candidates[en_q.answer].sentence


def test_ids_unique_and_stable(data_dir: Path) -> None:
    a = load_lareqa("mlqa-r", ["de", "en"])
    b = load_lareqa("mlqa-r", ["en", "de"])  # order of the request does not matter
    ids = [r["id"] for r in a.export_records()]
    assert len(ids) == len(set(ids))
    assert ids == [r["id"] for r in b.export_records()]


def test_language_subset_keeps_relevance_inside_subset(data_dir: Path) -> None:
    ds = load_lareqa("mlqa-r", ["ar", "zh"])
    assert set(ds.languages) == {"ar", "zh"}
    for rel in ds.relevant.values():
        assert all(ds.candidates[i].lang in {"ar", "zh"} for i in rel)


def test_candidate_text_modes(data_dir: Path) -> None:
    c = load_lareqa("xquad-r", ["de"]).candidates[3]
    assert c.text("sentence") == c.sentence
    assert c.text("sentence+context") == f"{c.sentence} {c.context}"
    with pytest.raises(HybridIRError, match="candidate text mode"):
        c.text("paragraph")  # type: ignore[arg-type]


def test_title_normalisation() -> None:
    assert normalise_title("Prime_number") == normalise_title("prime  number") == "prime number"


# ---- bad input ------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def edited_data_allowed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that write their own small files in the benchmark layout use edited data knowingly."""
    if "tmp_path" in request.fixturenames:
        monkeypatch.setenv("HYBRID_IR_VERIFY_DATA", "0")


def _write(root: Path, lang: str, payload: str) -> None:
    path = root / "lareqa" / "xquad-r" / f"{lang}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload, encoding="utf-8")


def _doc(start: int = 0, breaks=((0, 5), (6, 11))) -> str:
    para = {
        "context": "Hello world",
        "sentences": ["Hello", "world"],
        "sentence_breaks": [list(b) for b in breaks],
        "qas": [{"id": "q1", "question": "Which?", "answers": [{"text": "w", "answer_start": start}]}],
    }
    return json.dumps({"data": [{"title": "T", "paragraphs": [para]}]})


def test_tiny_file_parses(tmp_path: Path) -> None:
    _write(tmp_path, "en", _doc(start=7))
    ds = load_lareqa("xquad-r", ["en"], data_dir=tmp_path)
    assert ds.candidates[ds.questions[0].answer].sentence == "world"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(HybridIRError, match=r"data file not found: .*xquad-r/en\.json"):
        load_lareqa("xquad-r", ["en"], data_dir=tmp_path)


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    _write(tmp_path, "en", '{"data": [')
    with pytest.raises(HybridIRError, match=r"en\.json: malformed JSON"):
        load_lareqa("xquad-r", ["en"], data_dir=tmp_path)


def test_answer_outside_every_break(tmp_path: Path) -> None:
    _write(tmp_path, "en", _doc(start=5))  # the space between the two sentences
    with pytest.raises(HybridIRError, match=r"en\.json.*'q1'.*outside every sentence break"):
        load_lareqa("xquad-r", ["en"], data_dir=tmp_path)


def test_missing_field(tmp_path: Path) -> None:
    _write(tmp_path, "en", json.dumps({"data": [{"title": "T", "paragraphs": [{"context": "x"}]}]}))
    with pytest.raises(HybridIRError, match="lacks field"):
        load_lareqa("xquad-r", ["en"], data_dir=tmp_path)


def test_unknown_dataset_and_language() -> None:
    with pytest.raises(HybridIRError, match="unknown dataset 'squad'"):
        load_lareqa("squad")
    with pytest.raises(HybridIRError, match=r"unknown language\(s\) \['fr'\]"):
        load_lareqa("mlqa-r", ["en", "fr"])


# ---- command line ---------------------------------------------------------------------------

def test_cli_stats_json(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "stats", "xquad-r", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"dataset", "questions", "candidates", "parallel_ids", "languages"}
    assert (out["questions"], out["candidates"], out["parallel_ids"]) == (13_090, 13_014, 1190)
    assert main(["data", "stats", "mlqa-r", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["questions"], out["candidates"], out["parallel_ids"]) == (4199, 20_534, 1148)


@pytest.mark.parametrize("mode", ["sentence", "sentence+context"])
def test_cli_export(data_dir: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "x.jsonl"
    assert main(["data", "export", "mlqa-r", "--out", str(out), "--candidate-text", mode]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4199 + 20_534
    assert {r["kind"] for r in rows} == {"query", "candidate"}
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(set(r) == {"id", "kind", "lang", "text"} for r in rows)
    cand = next(r for r in rows if r["kind"] == "candidate")
    assert (len(cand["text"]) > 200) == (mode == "sentence+context") or mode == "sentence"
    assert not list(tmp_path.glob(".x.jsonl.*"))  # no temporary file left behind


def test_cli_error_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "stats", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_sample_questions_keeps_pool_and_parallel_structure(data_dir: Path) -> None:
    ds = load_lareqa("xquad-r", ["en", "de"])
    small = ds.sample_questions(50, seed=1)
    assert len(small.candidates) == len(ds.candidates)
    assert len(small.relevant) == 50
    assert len(small.questions) == 100  # the same 50 ids in both languages
    assert {q.parallel_id for q in small.questions} == set(small.relevant)
    assert small.sample_questions(50, seed=1).relevant.keys() == small.relevant.keys()
    assert ds.sample_questions(None) is ds
    with pytest.raises(HybridIRError, match="n must be >= 1"):
        ds.sample_questions(0)
