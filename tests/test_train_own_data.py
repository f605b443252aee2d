"""Training on your own files and on in-memory sets: the batches they give and the run's metadata.

A parallel JSONL file (de, en) and an English-only one are trained together with the X-Y strategy
for a few steps of the tiny model; the English-only set must give mono batches, and the exported
model must name both files with their SHA-256 (not the profile's ``mlqa-r``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hybrid_ir.cli import main
from hybrid_ir.data.parallel import training_set_from_rows
from hybrid_ir.data.sources import sha256_file
from hybrid_ir.training.config import load_config
from hybrid_ir.training.trainer import train


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_rows(path: Path, n: int, langs: tuple[str, ...], tag: str) -> Path:
    rows = [
        {"id": f"{tag}{i}", "lang": lang, "query": f"{tag} question {i} in {lang}",
         "positive": f"{tag} answer {i} in {lang}", "group": f"{tag}-topic{i % 5}"}
        for i in range(n) for lang in langs
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def metadata(out: Path) -> dict:
    return json.loads((out / "model" / "hybrid_ir_encoder.json").read_text(encoding="utf-8"))["extra"]


@pytest.mark.slow
def test_cli_train_on_a_parallel_file_and_an_english_only_file(tmp_path: Path, capsys) -> None:
    par = write_rows(tmp_path / "par.jsonl", 40, ("de", "en"), "p")
    en = write_rows(tmp_path / "en.jsonl", 30, ("en",), "e")
    out = tmp_path / "run"
    args = ["train", "--config", "smoke", "--set", f"datasets={par},{en}", "--set", "languages=none",
            "--set", "exclude_overlap_with=", "--set", "strategy=cross", "--set", "batch_size=8",
            "--set", "max_steps=12", "--set", "val_batch_size=8", "--set", "log_every=1", "--set", "progress=false",
            "--set", f"output_dir={out}"]
    assert main(args) == 0
    capsys.readouterr()
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    batches = {(s["dataset"], s["batch_type"]) for s in steps if "batch_type" in s}
    assert ("en", "mono") in batches and ("par", "cross") in batches
    assert not {("en", "cross"), ("par", "mono")} & batches
    extra = metadata(out)
    assert extra["training_config"]["datasets"] == [str(par), str(en)]
    assert extra["data_checksums"] == {str(par): sha256_file(par), str(en): sha256_file(en)}
    assert [(d["name"], d["languages"]) for d in extra["training_data"]] == [("par", ["de", "en"]), ("en", ["en"])]
    # a bad row stops training before anything is written, with file, row and field
    bad = tmp_path / "bad.jsonl"
    bad.write_text(par.read_text().replace('"query": "p question 3 in en", ', "", 1), encoding="utf-8")
    assert main([*args[:3], "--set", f"datasets={bad}", "--set", f"output_dir={tmp_path / 'bad-run'}"]) == 2
    assert capsys.readouterr().err.strip().endswith(f": {bad}, line 8: field 'query' is missing")
    assert [p.name for p in (tmp_path / "bad-run").iterdir()] == [".lock"]  # no config, metrics or model


@pytest.mark.slow
def test_in_memory_sets_are_recorded_as_what_was_trained(tmp_path: Path) -> None:
    rows = [{"id": i, "lang": lang, "query": f"q{i}{lang}", "positive": f"p{i}{lang}"}
            for i in range(24) for lang in ("ar", "zh")]
    ts = training_set_from_rows(rows, "mine")
    cfg = load_config("smoke", [f"output_dir={tmp_path / 'run'}", "progress=false", "max_steps=3",
                                "batch_size=8"])
    assert cfg.datasets == ["mlqa-r"] and cfg.languages == ["en", "de", "es"]  # the profile's
    result = train(cfg, train_sets=[ts])
    extra = metadata(result.output_dir)
    assert extra["training_config"]["datasets"] == ["mine"]
    assert extra["training_config"]["languages"] == ["ar", "zh"]
    assert extra["training_data"] == [{"name": "mine", "examples": 24, "languages": ["ar", "zh"], "files": {}}]
    assert extra["data_checksums"] == {}
