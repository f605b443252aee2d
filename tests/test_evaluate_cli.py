"""``hybrid-ir evaluate``: npz validation, JSON / table / CSV outputs, the --model path (stand-in),
and the paper's tables printed side by side."""

from __future__ import annotations

import json
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

from hybrid_ir.cli import main
from hybrid_ir.data.lareqa import load_lareqa
from hybrid_ir.errors import HybridIRError
from hybrid_ir.experiments.paper import (
    paper_lareqa_summary,
    paper_lareqa_table,
    paper_miracl_table,
    paper_summary_table,
    side_by_side,
)

LANGS = ["en", "de"]


@pytest.fixture(scope="module")
def ids(data_dir):
    ds = load_lareqa("xquad-r", LANGS, data_dir=data_dir)
    return np.array([r["id"] for r in ds.export_records()])


def save(path, ids, vectors=None, **extra):
    if vectors is None:
        vectors = np.random.default_rng(0).standard_normal((len(ids), 8)).astype(np.float32)
    np.savez(path, ids=ids, vectors=vectors, **extra)
    return str(path)


def run(capsys, *args):
    code = main(["evaluate", "xquad-r", "--languages", *LANGS, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_output_file_and_per_query_csv(tmp_path, ids, capsys):
    npz = save(tmp_path / "emb.npz", ids[::-1])  # any order of ids is fine
    out_json, csv = tmp_path / "res.json", tmp_path / "per_query.csv"
    code, out, err = run(capsys, "--embeddings", npz, "--json", "--out", str(out_json),
                         "--per-query", str(csv))
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"dataset", "summary", "per_language", "pairs", "produced_by"}
    assert result["dataset"] == "xquad-r" and set(result["per_language"]) == set(LANGS)
    assert set(result["pairs"]) == {"en-en", "en-de", "de-en", "de-de"}
    assert json.loads(out_json.read_text()) == result
    frame = pd.read_csv(csv)
    assert len(frame) == 2380 * 2 + 2380 and set(frame.setting) == {"mono", "cross", "multi"}


def test_vectors_are_matched_to_ids_not_rows(tmp_path, ids, capsys):
    vec = np.random.default_rng(1).standard_normal((len(ids), 8)).astype(np.float32)
    perm = np.random.default_rng(2).permutation(len(ids))
    a = save(tmp_path / "a.npz", ids, vec)
    b = save(tmp_path / "b.npz", ids[perm], vec[perm])
    first, second = (json.loads(run(capsys, "--embeddings", path, "--json")[1]) for path in (a, b))
    assert first.pop("produced_by")["embeddings_sha256"] != second.pop("produced_by")["embeddings_sha256"]
    assert first == second


def test_readable_tables(tmp_path, ids, capsys):
    code, out, _ = run(capsys, "--embeddings", save(tmp_path / "e.npz", ids))
    assert code == 0
    assert "mono mAP" in out and "rank_distance" in out and "Mean" in out


def bad_case(tmp_path, ids, case):
    vec = np.random.default_rng(0).standard_normal((len(ids), 8)).astype(np.float32)
    path = tmp_path / f"{case}.npz"
    if case == "missing":
        return save(path, ids[3:], vec[3:])
    if case == "extra":
        return save(path, np.append(ids, ["q:xx:1", "c:xx:2"]), np.vstack([vec, vec[:2]]))
    if case == "duplicated":
        return save(path, np.append(ids, ids[:2]), np.vstack([vec, vec[:2]]))
    if case == "nan":
        vec[[5, 9]] = np.nan
        vec[11, 0] = np.inf
        return save(path, ids, vec)
    if case == "float64":
        return save(path, ids, vec.astype(np.float64))
    if case == "ndim":
        return save(path, ids, vec[:, 0])
    if case == "rows":
        return save(path, ids, vec[:-1])
    if case == "no_vectors":
        np.savez(path, ids=ids)
        return str(path)
    if case == "object_ids":
        np.savez(path, ids=ids.astype(object), vectors=vec)
        return str(path)
    if case == "int_ids":
        return save(path, np.arange(len(ids)), vec)
    if case == "not_npz":
        np.save(tmp_path / "x.npy", vec)
        return str(tmp_path / "x.npy")
    if case == "absent":
        return str(tmp_path / "nothing.npz")
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "3 of the dataset's 4836 ids are missing"),
        ("duplicated", "2 ids appear more than once"),
        ("nan", "3 vectors hold NaN or infinite values"),
        ("float64", "must be float32, got float64"),
        ("ndim", "must be 2-D"),
        ("rows", "4836 ids but 4835 vector rows"),
        ("no_vectors", r"missing array\(s\) \['vectors'\]"),
        ("object_ids", "unicode string array"),
        ("int_ids", "1-D unicode string array"),
        ("not_npz", "single array"),
        ("absent", "not found"),
    ],
)
def test_npz_validation_errors(tmp_path, ids, capsys, case, message):
    code, out, err = run(capsys, "--embeddings", bad_case(tmp_path, ids, case), "--json")
    assert code == 2 and out == ""
    assert re.search(message, err), err


def test_missing_ids_name_examples_and_the_export_command(tmp_path, ids, capsys):
    _, _, err = run(capsys, "--embeddings", bad_case(tmp_path, ids, "missing"))
    assert ids[0] in err and "hybrid-ir data export xquad-r --languages de en" in err


def test_model_path_with_a_stand_in_encoder(monkeypatch, capsys):
    calls = []

    class FakeBiEncoder:
        @classmethod
        def from_pretrained(cls, name):
            calls.append(("load", name))
            return cls()

        def encode(self, texts, kind="query", batch_size=64, show_progress=False, **runtime):
            calls.append((kind, len(texts), batch_size))
            rng = np.random.default_rng(len(texts))
            return rng.standard_normal((len(texts), 4)).astype(np.float32)

    monkeypatch.setitem(sys.modules, "hybrid_ir.modeling.biencoder", types.SimpleNamespace(BiEncoder=FakeBiEncoder))
    code, out, err = run(capsys, "--model", "some/model", "--batch-size", "7",
                         "--candidate-text", "sentence+context", "--json")
    assert code == 0, err
    assert calls == [("load", "some/model"), ("query", 2380, 7), ("passage", 2456, 7)]
    assert set(json.loads(out)["summary"]) == {"mono_map", "cross_map", "multi_map", "rank_distance"}


def test_embeddings_and_model_are_exclusive(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "xquad-r", "--embeddings", "a.npz", "--model", "m"])
    capsys.readouterr()


# ---- the paper's tables -------------------------------------------------------------------------
def test_paper_tables():
    t = paper_lareqa_table("LaBSE", "hybrid", "xquad-r")
    assert list(t.columns) == ["mono_map", "cross_map", "multi_map", "mono_r1", "cross_r1",
                               "multi_r10", "rank_distance"]
    assert len(t) == 12 and t.index[-1] == "Mean"
    labse = paper_lareqa_summary("labse", "hybrid", "xquad-r")
    assert labse == pytest.approx(
        {"mono_map": 0.817, "cross_map": 0.767, "multi_map": 0.682, "rank_distance": 221.1}, abs=1e-3)
    s = paper_lareqa_summary("xlmr", "x-x-mono", "mlqa-r")
    assert s["mono_map"] == pytest.approx(0.648, abs=1e-3) and s["rank_distance"] == 287.5
    # the per-language values average to the reported mean (as the JSON's source note says)
    body = t.drop(index="Mean")
    assert body["mono_map"].mean() == pytest.approx(t.loc["Mean", "mono_map"], abs=6e-4)
    m = paper_miracl_table("xlmr", "hybrid")
    assert m.loc["Mean", "ndcg@10"] == pytest.approx(0.405, abs=1e-3) and "sw" in m.index
    assert paper_summary_table("mlqa-r").shape == (6, 4)
    with pytest.raises(HybridIRError, match="unknown strategy"):
        paper_lareqa_table("labse", "best", "xquad-r")


def test_side_by_side():
    paper = paper_lareqa_table("labse", "hybrid", "xquad-r")
    ours = paper.loc[["en", "de", "Mean"], ["mono_map", "multi_map"]] - 0.01
    both = side_by_side(ours, paper)
    assert list(both.index) == ["en", "de", "Mean"]
    assert both[("mono_map", "diff")].round(6).eq(-0.01).all()
    assert set(both.columns.get_level_values("source")) == {"ours", "paper", "diff"}
