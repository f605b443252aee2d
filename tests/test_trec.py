"""TREC export: ir_measures' AP on the written runs equals the package's AP; superset embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybrid_ir.cli import main
from hybrid_ir.data.lareqa import load_lareqa
from hybrid_ir.evaluation.grid import evaluate_lareqa
from hybrid_ir.evaluation.trec import settings, write_trec_files

ir_measures = pytest.importorskip("ir_measures")


LANGS = ("de", "en", "zh")
COPIED = (*LANGS, "es")


def small_copy(data_dir: Path, root: Path) -> Path:
    """The first two XQuAD-R articles in three languages; the Chinese file loses every other question,
    so some cross-lingual settings have queries without a relevant candidate (as on MLQA-R)."""
    import json

    for lang in COPIED:
        doc = json.loads((data_dir / f"lareqa/xquad-r/{lang}.json").read_text(encoding="utf-8"))
        doc["data"] = doc["data"][:2]
        if lang == "zh":
            for article in doc["data"]:
                for para in article["paragraphs"]:
                    para["qas"] = para["qas"][::2]
        path = root / "lareqa" / "xquad-r" / f"{lang}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def small_data(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    root = small_copy(data_dir, tmp_path_factory.mktemp("data"))
    mp.setenv("HYBRID_IR_VERIFY_DATA", "0")  # a cut-down copy, edited on purpose
    mp.setenv("HYBRID_IR_DATA_DIR", str(root))
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def setup(small_data: Path):
    ds = load_lareqa("xquad-r", list(LANGS))
    rng = np.random.default_rng(0)
    qv = rng.standard_normal((len(ds.questions), 16)).astype(np.float32)
    cv = rng.standard_normal((len(ds.candidates), 16)).astype(np.float32)
    for i, q in enumerate(ds.questions):  # make the answers findable, so APs spread over (0, 1]
        for c in ds.relevant[q.parallel_id]:
            cv[c] += 0.5 * qv[i]
    return ds, qv, cv, evaluate_lareqa(ds, qv, cv)


def _ap(run: Path) -> dict[str, float]:
    qrels = list(ir_measures.read_trec_qrels(str(run.with_suffix(".qrels"))))
    return {m.query_id: m.value for m in ir_measures.iter_calc([ir_measures.AP], qrels,
                                                               list(ir_measures.read_trec_run(str(run))))}


def test_full_depth_ap_equals_the_package(setup, tmp_path: Path) -> None:
    ds, qv, cv, res = setup
    runs = write_trec_files(ds, qv, cv, tmp_path, depth=0)
    assert len(runs) == len(list(settings(ds.languages)))  # 3 mono + 6 cross + 3 multi
    lang = {x: i for i, x in enumerate(ds.languages)}
    qindex = {q.id: i for i, q in enumerate(ds.questions)}
    checked = 0
    for run in runs:
        kind, name, _ = run.name.split(".")
        ap = _ap(run)
        for qid, value in ap.items():
            i = qindex[qid]
            expected = res.multi_ap[i] if kind == "multi" else res.pair_ap[i, lang[name.split("-")[-1]]]
            assert value == pytest.approx(expected, abs=1e-6), (run.name, qid)
            checked += 1
        if kind == "cross":  # queries without a relevant candidate in that language are left out
            x, y = name.split("-")
            expected_n = np.count_nonzero(~np.isnan(res.pair_ap[res.query_lang == lang[x], lang[y]]))
            assert len(ap) == expected_n
    assert checked > 500


def test_cut_runs_only_lose(setup, tmp_path: Path) -> None:
    ds, qv, cv, res = setup
    (run,) = [r for r in write_trec_files(ds, qv, cv, tmp_path, depth=10) if r.name == "multi.en.run"]
    assert max(len([x for x in run.read_text().splitlines() if x.startswith(q)]) for q in ("q:en:",)) >= 10
    qindex = {q.id: i for i, q in enumerate(ds.questions)}
    for qid, value in _ap(run).items():
        assert value <= res.multi_ap[qindex[qid]] + 1e-9


def test_cli_trec_and_superset_embeddings(setup, tmp_path: Path, capsys) -> None:
    ds, qv, cv, res = setup
    full = load_lareqa("xquad-r", ["de", "en", "es", "zh"])  # a superset of the ids of de, en, zh
    rng = np.random.default_rng(1)
    vectors = {q.id: v for q, v in zip(ds.questions, qv, strict=True)} | \
        {c.id: v for c, v in zip(ds.candidates, cv, strict=True)}
    ids = [q.id for q in full.questions] + [c.id for c in full.candidates]
    arr = np.stack([vectors.get(i, rng.standard_normal(16).astype(np.float32)) for i in ids]).astype(np.float32)
    path = tmp_path / "all.npz"
    np.savez(path, ids=np.array(ids, dtype=str), vectors=arr)
    out = tmp_path / "trec"
    code = main(["evaluate", "xquad-r", "--languages", "de", "en", "zh", "--embeddings", str(path), "--json",
                 "--trec-run", str(out), "--trec-depth", "0"])
    assert code == 0
    assert len(list(out.glob("*.run"))) == 12 and len(list(out.glob("*.qrels"))) == 12
    printed = capsys.readouterr()
    assert "wrote 12 TREC runs" in printed.err
    import json

    summary = json.loads(printed.out)["summary"]  # the extra ids were ignored, not used
    for key, value in res.summary().items():
        assert summary[key] == pytest.approx(value, rel=1e-6)


def test_train_without_config_lists_profiles(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    for profile in ("smoke", "cpu", "colab-gpu", "paper"):
        assert f"  {profile} " in err
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written


def test_encoding_progress_on_stderr_unless_quiet(small_data: Path, tmp_path: Path, capsys) -> None:
    from hybrid_ir.modeling.biencoder import BiEncoder

    model = BiEncoder.tiny(seed=0).save_pretrained(tmp_path / "model")
    capsys.readouterr()
    assert main(["evaluate", "xquad-r", "--languages", "de", "en", "--model", str(model), "--json"]) == 0
    loud = capsys.readouterr()
    assert "encode passage" in loud.err and "encode" not in loud.out
    assert main(["evaluate", "xquad-r", "--languages", "de", "en", "--model", str(model), "--json", "--quiet"]) == 0
    assert "encode" not in capsys.readouterr().err
