"""Bad input, case by case (the campaign's table): one line on stderr naming what is wrong, exit
status 2, no traceback, and nothing written that was not complete."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hybrid_ir.cli import main
from hybrid_ir.errors import HybridIRError

pytestmark = pytest.mark.slow


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()  # drop what fixtures printed
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("hybrid-ir: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


# ------------------------------------------------------------------------------ LAReQA files
def _para(**change) -> dict:
    para = {"context": "Hello world", "sentences": ["Hello", "world"], "sentence_breaks": [[0, 5], [6, 11]],
            "qas": [{"id": "q1", "question": "Which?", "answers": [{"text": "world", "answer_start": 6}]}]}
    para.update(change)
    return para


@pytest.fixture
def edited_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HYBRID_IR_VERIFY_DATA", "0")
    return tmp_path / "data"


def _write_lang(root: Path, doc: dict, lang: str = "en") -> None:
    path = root / "lareqa" / "xquad-r" / f"{lang}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"data": [{"title": "T", "paragraphs": [_para(sentence_breaks=[[0, 5], None])]}]}, "sentence_breaks[1]"),
        ({"data": [{"title": "T", "paragraphs": [_para(sentence_breaks=[[0, 5, 7], [6, 11]])]}]}, "sentence_breaks[0]"),
        ({"data": [{"title": "T", "paragraphs": [_para(qas={"id": "q1"})]}]}, "'qas' must be a list"),
        ({"data": [{"title": "T", "paragraphs": "none"}]}, "'paragraphs' must be a list"),
        ({"data": []}, "no questions"),
    ],
)
def test_malformed_lareqa_files(capsys, edited_data: Path, doc: dict, fragment: str) -> None:
    _write_lang(edited_data, doc)
    code, err = run_cli(capsys, "data", "stats", "xquad-r", "--languages", "en", "--data-dir", str(edited_data))
    assert_one_line_error(code, err, "en.json", fragment)


def test_edited_benchmark_file_is_refused_unless_allowed(capsys, data_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 8: an edited but valid file used to be accepted silently."""
    monkeypatch.setenv("HYBRID_IR_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "data" / "lareqa" / "xquad-r"
    copy.mkdir(parents=True)
    doc = json.loads((data_dir / "lareqa/xquad-r/en.json").read_text(encoding="utf-8"))
    doc["data"][0]["paragraphs"][0]["qas"][0]["question"] += " (edited)"
    (copy / "en.json").write_text(json.dumps(doc), encoding="utf-8")
    code, err = run_cli(capsys, "data", "stats", "xquad-r", "--languages", "en", "--data-dir", str(tmp_path / "data"))
    assert_one_line_error(code, err, "checksum mismatch", "HYBRID_IR_VERIFY_DATA=0")
    monkeypatch.setenv("HYBRID_IR_VERIFY_DATA", "0")
    code, _ = run_cli(capsys, "data", "stats", "xquad-r", "--languages", "en", "--data-dir", str(tmp_path / "data"))
    assert code == 0


def test_verdict_is_cached_by_size_and_mtime(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hybrid_ir.data import sources

    monkeypatch.setenv("HYBRID_IR_CACHE_DIR", str(tmp_path / "cache"))
    calls: list[Path] = []
    real = sources.sha256_file
    monkeypatch.setattr(sources, "sha256_file", lambda p: (calls.append(p), real(p))[1])
    sources.resolve_file("lareqa/xquad-r/de.json", data_dir)
    sources.resolve_file("lareqa/xquad-r/de.json", data_dir)
    assert len(calls) == 1


# ------------------------------------------------------------------------------ outputs
def test_unwritable_outputs(capsys, data_dir: Path, tmp_path: Path) -> None:
    code, err = run_cli(capsys, "data", "export", "xquad-r", "--languages", "en", "--out", "/proc/nope/x.jsonl")
    assert_one_line_error(code, err, "cannot write", "/proc/nope/x.jsonl")
    code, err = run_cli(capsys, "train", "--config", "smoke", "--set", "output_dir=/proc/forbidden",
                        "--set", "max_steps=1", "--set", "progress=false")
    assert_one_line_error(code, err, "/proc/forbidden")
    # --out would be fine, --per-query is not: neither is written
    emb = _embeddings(tmp_path, data_dir)
    out = tmp_path / "result.json"
    code, err = run_cli(capsys, "evaluate", "xquad-r", "--languages", "en", "--embeddings", str(emb),
                        "--out", str(out), "--per-query", str(tmp_path))
    assert_one_line_error(code, err, "--per-query", "it is a folder")
    assert not out.exists()


def _embeddings(tmp_path: Path, data_dir: Path, dim: int = 4) -> Path:
    from hybrid_ir.data.lareqa import load_lareqa

    ds = load_lareqa("xquad-r", ["en"])
    ids = np.array([q.id for q in ds.questions] + [c.id for c in ds.candidates], dtype=str)
    rng = np.random.default_rng(0)
    path = tmp_path / f"emb{dim}.npz"
    np.savez(path, ids=ids, vectors=rng.normal(size=(len(ids), dim)).astype(np.float32))
    return path


@pytest.mark.parametrize("damage", ["empty", "bad_crc", "zero_width"])
def test_damaged_embeddings(capsys, data_dir: Path, tmp_path: Path, damage: str) -> None:
    path = _embeddings(tmp_path, data_dir, dim=0 if damage == "zero_width" else 4)
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "bad_crc":
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("vectors.npy")
        raw = bytearray(path.read_bytes())
        start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
        raw[start] ^= 0xFF  # one flipped byte inside the stored vectors
        path.write_bytes(bytes(raw))
    code, err = run_cli(capsys, "evaluate", "xquad-r", "--languages", "en", "--embeddings", str(path))
    fragment = {"empty": "not a readable .npz", "bad_crc": "damaged", "zero_width": "dimension 0"}[damage]
    assert_one_line_error(code, err, fragment)


# ------------------------------------------------------------------------------ settings
@pytest.mark.parametrize(
    ("override", "fragment"),
    [("languages=[en", "is not a list"), ("device=banana", "device must be"), ("lr=inf", "finite")],
)
def test_bad_overrides(capsys, override: str, fragment: str) -> None:
    code, err = run_cli(capsys, "train", "--config", "smoke", "--set", override, "--print-config")
    assert_one_line_error(code, err, fragment)


# ------------------------------------------------------------------------------ model folders
@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    from hybrid_ir.modeling.biencoder import BiEncoder

    return BiEncoder.tiny(seed=0).save_pretrained(tmp_path / "model")


def test_truncated_weights(capsys, data_dir: Path, model_dir: Path) -> None:
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    code, err = run_cli(capsys, "evaluate", "xquad-r", "--languages", "en", "--model", str(model_dir))
    assert_one_line_error(code, err, "could not load the encoder")


@pytest.mark.parametrize("change", [{"num_hidden_layers": 3}, {"intermediate_size": 64}])
def test_config_that_does_not_match_the_weights(capsys, data_dir: Path, model_dir: Path, change: dict) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    (model_dir / "config.json").write_text(json.dumps({**config, **change}))
    code, err = run_cli(capsys, "evaluate", "xquad-r", "--languages", "en", "--model", str(model_dir))
    assert_one_line_error(code, err, "config.json does not match the weights")


# ------------------------------------------------------------------------------ checkpoints
def test_best_pointer_naming_a_deleted_folder_fails_before_training(tmp_path: Path, data_dir: Path) -> None:
    import time

    from hybrid_ir.training.config import load_config
    from hybrid_ir.training.trainer import train

    cfg = load_config("smoke", [f"output_dir={tmp_path / 'run'}", "progress=false", "max_steps=12", "eval_every=3",
                                "save_every=2"])
    train(cfg, stop_after=5)  # checkpoints: step 3 (validated: latest and best), then step 4 (latest only)
    root = tmp_path / "run" / "checkpoints"
    best = json.loads((root / "best.json").read_text())["dir"]
    assert best == "step-000003" and json.loads((root / "latest.json").read_text())["dir"] == "step-000004"
    shutil.rmtree(root / best)
    t = time.perf_counter()
    with pytest.raises(HybridIRError, match=f"{best} does not exist|{best}"):
        train(cfg, resume=True)
    assert time.perf_counter() - t < 30
