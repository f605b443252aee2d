"""Recorded results, checkpoints and ``evaluate`` against hostile or damaged files (issue 21).

Each test names the case it guards: items 3 (containment), 6 (broken is not pending), 7 (outputs
checked first), 8 (resume from a final-step checkpoint), 12 (the mAP the TREC files support),
13 (what produced an evaluation), and the tracebacks that became one-line errors (``run.json``
``"files"`` a list, a wrong ``trainer`` entry, a full disk during a checkpoint or an export).

Run folders of experiments are written from random vectors on a two-article copy of XQuAD-R (no
training); the training cases use the tiny ``smoke`` configuration.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from hybrid_ir.cli import main
from hybrid_ir.errors import HybridIRError

LANGS = ("de", "en")


# ------------------------------------------------------------------------------ small data, fake runs
@pytest.fixture(scope="module")
def small_copy(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first two XQuAD-R articles in German, English and Spanish (fast to evaluate)."""
    root = tmp_path_factory.mktemp("data")
    for lang in (*LANGS, "es"):
        doc = json.loads((data_dir / f"lareqa/xquad-r/{lang}.json").read_text(encoding="utf-8"))
        doc["data"] = doc["data"][:2]
        path = root / "lareqa" / "xquad-r" / f"{lang}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return root


@pytest.fixture
def small_data(small_copy: Path, monkeypatch) -> Path:
    """The small copy as the data folder, for one test (training tests read the real data)."""
    monkeypatch.setenv("HYBRID_IR_VERIFY_DATA", "0")  # a cut-down copy, edited on purpose
    monkeypatch.setenv("HYBRID_IR_DATA_DIR", str(small_copy))
    return small_copy


def experiment_file(tmp_path: Path, seeds: list[int], baseline: bool = False) -> Path:
    config = {
        "name": "hostile", "eval_dataset": "xquad-r", "eval_languages": list(LANGS), "base_config": "smoke",
        "strategies": {"hybrid": {"strategy": "hybrid", "alpha": 0.5}, "x-y": {"strategy": "cross"}},
        "seeds": seeds, "baseline": baseline,
        "results_dir": str(tmp_path / "results"), "runs_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def fake_run(exp, label: str, seed: int | None) -> Path:
    """A finished run folder, written as the runner writes it, from random vectors (no training)."""
    from hybrid_ir.data.lareqa import load_lareqa
    from hybrid_ir.evaluation.grid import evaluate_lareqa
    from hybrid_ir.experiments.records import write_run

    ds = load_lareqa("xquad-r", list(LANGS))
    rng = np.random.default_rng(hash((label, seed)) % 2**32)
    qv = rng.standard_normal((len(ds.questions), 8)).astype(np.float32)
    cv = rng.standard_normal((len(ds.candidates), 8)).astype(np.float32)
    out = exp.run_folder(label, seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "exposure.json").write_text("{}")  # what backfill would otherwise replay from the sampler
    write_run(out, evaluate_lareqa(ds, qv, cv), {"experiment": exp.name, "label": label, "seed": seed})
    return out


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def finished(small_data: Path, tmp_path: Path):
    """An experiment of 4 finished runs (hybrid and x-y, seeds 0 and 1); returns (config file, exp)."""
    from hybrid_ir.experiments.reproduce import load_experiment

    path = experiment_file(tmp_path, [0, 1])
    exp = load_experiment(path)
    for label, seed in exp.runs():
        fake_run(exp, label, seed)
    return path, exp


# ---------------------------------------------------------------- item 3: containment of every path
def test_records_doctests() -> None:
    import doctest

    import hybrid_ir.experiments.records as records

    assert doctest.testmod(records).failed == 0


def test_contained_helper(tmp_path: Path) -> None:
    from hybrid_ir.experiments.records import contained

    (tmp_path / "root" / "a").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "outside")
    assert contained(tmp_path / "root", tmp_path / "root" / "a" / "f", "file") == tmp_path / "root" / "a" / "f"
    for path in (tmp_path / "root" / ".." / "x", tmp_path / "root" / "link" / "f", Path("/etc/passwd")):
        with pytest.raises(HybridIRError, match=r"is outside .*: refused"):
            contained(tmp_path / "root", path, "file")


def test_run_json_naming_other_files_never_opens_them(finished, monkeypatch, capsys) -> None:
    """Item 3: ``run.json`` names ``../`` files (and a link leads out): reported, never hashed or read."""
    import hybrid_ir.experiments.records as records

    path, exp = finished
    folder = exp.run_folder("hybrid", 0)
    secret = folder.parents[2] / "secret.txt"
    secret.write_text("not yours")
    run = json.loads((folder / "run.json").read_text())
    run["files"]["../../../secret.txt"] = "0" * 64
    run["files"]["/etc/passwd"] = "0" * 64
    (folder / "run.json").write_text(json.dumps(run))
    (folder / "bias.json").unlink()
    (folder / "bias.json").symlink_to(secret)
    opened: list[Path] = []
    real = records.sha256_file
    monkeypatch.setattr(records, "sha256_file", lambda p: (opened.append(Path(p)), real(p))[1])
    problems = records.verify_run(folder)
    assert "run.json names '../../../secret.txt', which is not a result file of a run: not read" in problems
    assert "run.json names '/etc/passwd', which is not a result file of a run: not read" in problems
    assert "bias.json links outside the run folder: not read" in problems
    assert all(p.parent == folder and p.name in records.RESULT_FILES and not p.is_symlink() for p in opened)
    code, out, _ = cli(capsys, "reproduce", "--config", str(path), "--list")
    assert code == 0 and "broken   hybrid/seed0: " in out and "secret" in out


def test_run_folder_linked_outside_is_refused(finished, tmp_path: Path, capsys) -> None:
    """Item 3: a run folder (or the experiment folder) that is a link out of the results folder is
    neither written nor read: the runner and the aggregation refuse it."""
    import shutil

    from hybrid_ir.experiments.runner import run_folder

    path, exp = finished
    elsewhere = tmp_path / "elsewhere"
    shutil.move(exp.run_folder("x-y", 1), elsewhere)
    exp.run_folder("x-y", 1).symlink_to(elsewhere)
    with pytest.raises(HybridIRError, match=r"run folder .* is outside"):
        run_folder(exp, "x-y", 1)
    code, out, _ = cli(capsys, "reproduce", "--config", str(path), "--list")  # listed, nothing in it read
    assert code == 0 and "broken   x-y/seed1: run folder" in out and "is outside" in out
    code, _, err = cli(capsys, "reproduce", "--config", str(path), "--only", "x-y/seed1", "--force")
    assert code == 2 and err.count("\n") == 1 and "is outside" in err
    exp.run_folder("x-y", 1).unlink()
    shutil.move(exp.folder, tmp_path / "moved")
    exp.folder.symlink_to(tmp_path / "moved")
    code, _, err = cli(capsys, "reproduce", "--config", str(path), "--aggregate-only")
    assert code == 2 and err.count("\n") == 1 and "results folder" in err and "is outside" in err


def test_run_json_files_a_list_is_a_one_line_error(finished, capsys) -> None:
    """Traceback (``AttributeError: 'list' object has no attribute 'items'``) -> named problem."""
    path, exp = finished
    folder = exp.run_folder("x-y", 0)
    run = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**run, "files": list(run["files"])}))
    code, out, _ = cli(capsys, "reproduce", "--config", str(path), "--list")
    assert code == 0 and "broken   x-y/seed0: run.json: 'files' must map file names to SHA-256 digests" in out
    summary = (exp.folder / "summary.json")
    code, out, err = cli(capsys, "reproduce", "--config", str(path), "--aggregate-only")
    assert code == 2 and err.count("\n") == 1 and "x-y/seed0" in err and "Traceback" not in err
    assert not summary.exists()  # nothing written


# ------------------------------------------------------------- item 6: broken is not pending
def test_deleted_metrics_is_broken_and_refused(finished, capsys) -> None:
    """Item 6: before, ``--list`` said pending and ``--aggregate-only`` summarised 4 of 5 runs (exit 0)."""
    path, exp = finished
    (exp.run_folder("hybrid", 1) / "metrics.json").unlink()
    code, out, _ = cli(capsys, "reproduce", "--config", str(path), "--list")
    assert "broken   hybrid/seed1: metrics.json is missing" in out and "3 done, 0 pending, 1 broken" in out
    code, _, err = cli(capsys, "reproduce", "--config", str(path), "--aggregate-only")
    assert code == 2 and err.count("\n") == 1 and "hybrid/seed1: metrics.json is missing" in err
    assert "--partial" in err and not (exp.folder / "summary.json").exists()
    code, out, _ = cli(capsys, "reproduce", "--config", str(path), "--aggregate-only", "--partial")
    assert code == 0 and "3 of 4 runs (partial: left out as broken hybrid/seed1)" in out
    summary = json.loads((exp.folder / "summary.json").read_text())
    assert summary["complete"] is False and summary["runs"] == 3 and summary["runs_expected"] == 4
    assert summary["left_out"] == {"hybrid/seed1": ["metrics.json is missing"]}
    assert summary["strategies"]["hybrid"]["mono_map"]["n"] == 1
    assert len((exp.folder / "summary.csv").read_text().splitlines()) == 1 + 3


def test_pending_runs_are_summarised_and_said(small_data: Path, tmp_path: Path, capsys) -> None:
    """Item 6: runs not started (no folder) are pending, not broken; aggregation of the others works
    and says what is missing."""
    from hybrid_ir.experiments.reproduce import load_experiment

    path = experiment_file(tmp_path, [0, 1])
    exp = load_experiment(path)
    fake_run(exp, "hybrid", 0)
    fake_run(exp, "x-y", 0)
    (exp.run_folder("hybrid", 1)).mkdir(parents=True)  # an empty folder holds no run yet
    code, out, _ = cli(capsys, "reproduce", "--config", str(path), "--list")
    assert "pending  hybrid/seed1" in out and "2 done, 2 pending, 0 broken" in out
    code, out, _ = cli(capsys, "reproduce", "--config", str(path), "--aggregate-only")
    assert code == 0 and "2 of 4 runs (partial: pending hybrid/seed1, x-y/seed1)" in out
    summary = json.loads((exp.folder / "summary.json").read_text())
    assert summary["complete"] is False and summary["pending"] == ["hybrid/seed1", "x-y/seed1"]
    assert summary["left_out"] == {}


def test_runner_keeps_working_while_seeds_are_pending(small_data: Path, tmp_path: Path, monkeypatch) -> None:
    """Item 6, the background runner (``reproduce --only label/seedK``, one run at a time): each run
    aggregates the finished ones while later seeds are pending; an unfinished selected run is redone;
    another broken run stops everything before any work."""
    import hybrid_ir.experiments.runner as runner
    from hybrid_ir.experiments.reproduce import load_experiment

    exp = load_experiment(experiment_file(tmp_path, [0, 1]))
    ran: list[str] = []
    monkeypatch.setattr(runner, "run_one", lambda e, label, seed, **kw: (ran.append(f"{label}/seed{seed}"),
                                                                         fake_run(e, label, seed))[1])
    runner.run_experiment(exp, only=["hybrid/seed0"], log=lambda *_: None)
    summary = json.loads((exp.folder / "summary.json").read_text())
    assert summary["runs"] == 1 and summary["pending"] == ["x-y/seed0", "hybrid/seed1", "x-y/seed1"]
    runner.run_experiment(exp, only=["x-y/seed0"], log=lambda *_: None)
    assert json.loads((exp.folder / "summary.json").read_text())["runs"] == 2
    # a kill while x-y/seed0 wrote its files: run.json without metrics.json
    (exp.run_folder("x-y", 0) / "metrics.json").unlink()
    with pytest.raises(HybridIRError, match=r"x-y/seed0: metrics\.json is missing"):
        runner.run_experiment(exp, only=["hybrid/seed1"], log=lambda *_: None)
    assert ran == ["hybrid/seed0", "x-y/seed0"]  # refused before any work
    lines: list[str] = []
    runner.run_experiment(exp, only=["x-y/seed0"], log=lines.append)  # the unfinished run is redone
    assert any("x-y/seed0: unfinished" in line for line in lines) and ran[-1] == "x-y/seed0"
    runner.run_experiment(exp, log=lambda *_: None)
    summary = json.loads((exp.folder / "summary.json").read_text())
    assert summary["complete"] is True and summary["runs"] == 4 and summary["pending"] == []


# ------------------------------------------------- item 8, tracebacks: checkpoints, resumes, full disks
ARGS = ("max_steps=12", "eval_every=3", "log_every=1")  # 6 batches per epoch: step 12 closes an epoch


@pytest.fixture(scope="module")
def one_thread():
    """Bit-identical comparisons need the same intra-op thread count in every run."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def smoke(folder: Path, *overrides: str):
    from hybrid_ir.training.config import load_config

    return load_config("smoke", [f"output_dir={folder}", "progress=false", *ARGS, *overrides])


def outcome(result) -> dict:
    """What must not depend on interruptions: weights, exported metadata, result.json, the log, exposure."""
    from safetensors.torch import load_file

    out = Path(result.output_dir)
    extra = json.loads((out / "model" / "hybrid_ir_encoder.json").read_text())["extra"]
    recorded = json.loads((out / "result.json").read_text())
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    timing = {"wall_s", "triplets_per_s", "tokens_per_s"}
    return {
        "weights": {k: v.tolist() for k, v in load_file(str(out / "model" / "model.safetensors")).items()},
        "extra": {k: extra[k] for k in ("exported_step", "steps", "best_val_loss", "best_step", "stopped")},
        "result": {k: v for k, v in recorded.items() if k not in {"wall_time_s", "resumed_from"} and "/" not in str(v)},
        "log": [{k: v for k, v in rec.items() if k not in timing} for rec in log],
        "exposure": json.loads((out / "exposure.json").read_text()),
    }


@pytest.fixture(scope="module")
def reference(one_thread, tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict:
    from hybrid_ir.training.trainer import train

    return outcome(train(smoke(tmp_path_factory.mktemp("ref") / "run")))


class Killed(Exception):
    """Stands in for a kill."""


def enospc(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device", "model.safetensors")


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["kill", "disk full"])
def test_resume_from_the_final_checkpoint_equals_an_uninterrupted_run(
    tmp_path: Path, reference: dict, monkeypatch, failure: str
) -> None:
    """Item 8: a kill or a full disk during the export leaves the final-step checkpoint; before, the
    resume added a validation line and counted one epoch more (7 -> 8) in result.json."""
    from hybrid_ir.modeling.biencoder import BiEncoder
    from hybrid_ir.training import trainer as trainer_mod

    cfg = smoke(tmp_path / "run")
    if failure == "kill":
        monkeypatch.setattr(trainer_mod, "_export", lambda *a, **k: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            trainer_mod.train(cfg)
    else:
        monkeypatch.setattr(BiEncoder, "save_pretrained", enospc)
        with pytest.raises(HybridIRError) as info:
            trainer_mod.train(cfg)
        message = str(info.value)
        assert "\n" not in message and "run/model/model.safetensors: no space left on device; it needs about" in message
        assert " MB free" in message
    monkeypatch.undo()
    assert not (tmp_path / "run" / "model").exists() and not (tmp_path / "run" / "result.json").exists()
    resumed = trainer_mod.train(cfg, resume=True)
    assert resumed.resumed_from == 12
    assert outcome(resumed) == reference


@pytest.mark.slow
def test_disk_full_during_a_checkpoint_is_one_line_and_resumes_exactly(
    tmp_path: Path, reference: dict, monkeypatch, capsys
) -> None:
    """Traceback (``OSError: [Errno 28]``) -> one line naming the file and the space needed; the folder
    keeps its last checkpoint and the resumed run equals the uninterrupted one."""
    from hybrid_ir.training import checkpoint as ckpt
    from hybrid_ir.training import trainer as trainer_mod

    real = ckpt.save_weights
    monkeypatch.setattr(ckpt, "save_weights", lambda model, path: enospc() if "step-000006" in str(path)
                        else real(model, path))
    code, _, err = cli(capsys, "train", "--config", "smoke", *(f"--set={a}" for a in
                         (f"output_dir={tmp_path / 'run'}", "progress=false", *ARGS)))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "step-000006/model.safetensors: no space left on device; it needs about" in err
    monkeypatch.undo()
    root = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["best.json", "latest.json", "step-000003"]
    resumed = trainer_mod.train(smoke(tmp_path / "run"), resume=True)
    assert resumed.resumed_from == 3 and outcome(resumed) == reference


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["garbage", {"best_val_loss": "low"}, {"bad_evals": "many"},
                                   {"best_step": -3}, [1, 2]])
def test_wrong_trainer_entry_with_right_checksums_is_one_line(tmp_path: Path, one_thread, data_dir: Path,
                                                              entry) -> None:
    """Traceback (``AttributeError`` / ``ValueError`` while resuming) -> one-line error naming the entry."""
    import torch

    from hybrid_ir.data.sources import sha256_file
    from hybrid_ir.training import checkpoint as ckpt
    from hybrid_ir.training.trainer import train

    cfg = smoke(tmp_path / "run", "max_steps=4", "eval_every=2")
    train(cfg, stop_after=3)  # a checkpoint at step 2
    latest = ckpt.pointer_target(tmp_path / "run" / "checkpoints", "latest")
    state = torch.load(latest / ckpt.STATE_FILE, weights_only=True)
    state["trainer"] = entry
    torch.save(state, latest / ckpt.STATE_FILE)
    meta = json.loads((latest / ckpt.META_FILE).read_text())
    meta["files"][ckpt.STATE_FILE] = sha256_file(latest / ckpt.STATE_FILE)  # right checksums
    (latest / ckpt.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(HybridIRError, match=r"checkpoint .*step-000002: 'trainer' must be a mapping|trainer\.") as info:
        train(cfg, resume=True)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ items 7, 12, 13: evaluate
def embeddings(tmp_path: Path, languages: tuple[str, ...] = LANGS, ties: bool = False) -> Path:
    """Vectors of every id of the small data, answers findable (APs spread over (0, 1]); with ``ties``
    some candidates share a vector, so scores tie and trec_eval's tie rule matters."""
    from hybrid_ir.data.lareqa import load_lareqa

    ds = load_lareqa("xquad-r", list(languages))
    rng = np.random.default_rng(0)
    qv = rng.standard_normal((len(ds.questions), 16)).astype(np.float32)
    cv = rng.standard_normal((len(ds.candidates), 16)).astype(np.float32)
    for i, q in enumerate(ds.questions):
        for c in ds.relevant[q.parallel_id]:
            cv[c] += 0.5 * qv[i]
    if ties:
        cv[1::7] = cv[0::7][: len(cv[1::7])]
    ids = [q.id for q in ds.questions] + [c.id for c in ds.candidates]
    path = tmp_path / "emb.npz"
    np.savez(path, ids=np.array(ids, dtype=str), vectors=np.vstack([qv, cv]).astype(np.float32))
    return path


def test_unusable_trec_folder_writes_nothing(small_data: Path, tmp_path: Path, capsys) -> None:
    """Item 7: before, ``--out X --trec-run D`` with D unusable (here one of its files is a folder)
    wrote X, then failed."""
    npz = embeddings(tmp_path)
    trec = tmp_path / "trec"
    (trec / "cross.de-en.run").mkdir(parents=True)
    out = tmp_path / "res.json"
    code, _, err = cli(capsys, "evaluate", "xquad-r", "--languages", *LANGS, "--embeddings", str(npz),
                       "--out", str(out), "--per-query", str(tmp_path / "q.csv"), "--trec-run", str(trec))
    assert code == 2 and err.count("\n") == 1 and "cross.de-en.run" in err and "folder" in err
    assert not out.exists() and not (tmp_path / "q.csv").exists() and list(trec.iterdir()) == [trec / "cross.de-en.run"]
    code, _, err = cli(capsys, "evaluate", "xquad-r", "--embeddings", str(npz), "--out", str(out),
                       "--per-query", str(out))
    assert code == 2 and "name the same file" in err and not out.exists()


@pytest.mark.parametrize(("depth", "ties"), [(100, False), (10, True), (0, True)])
def test_trec_map_equals_ir_measures_on_the_files(small_data: Path, tmp_path: Path, capsys, depth: int,
                                                  ties: bool) -> None:
    """Item 12: beside the package's mAP, the mAP the written files support, equal to ir_measures
    (pytrec_eval, trec_eval's code) on those files for every setting, score ties included."""
    ir_measures = pytest.importorskip("ir_measures")
    npz = embeddings(tmp_path, ties=ties)
    trec, out = tmp_path / "trec", tmp_path / "res.json"
    code, _, err = cli(capsys, "evaluate", "xquad-r", "--languages", *LANGS, "--embeddings", str(npz),
                       "--out", str(out), "--trec-run", str(trec), "--trec-depth", str(depth))
    assert code == 0, err
    assert "the mAP they support (trec_eval, ir_measures): mono " in err and "the package's (whole pool)" in err
    payload = json.loads(out.read_text())
    settings = payload["trec"]["settings"]
    assert payload["trec"]["depth"] == depth and len(settings) == 2 + 2 + 2
    for name, row in settings.items():
        run = trec / f"{name}.run"
        qrels = list(ir_measures.read_trec_qrels(str(run.with_suffix(".qrels"))))
        values = [m.value for m in ir_measures.iter_calc([ir_measures.AP], qrels,
                                                         list(ir_measures.read_trec_run(str(run))))]
        assert len(values) == row["queries"]
        assert row["map_at_depth"] == pytest.approx(float(np.mean(values)), abs=1e-12), name
        assert row["map_at_depth"] <= row["map"] + 1e-9 or ties
    for kind in ("mono", "cross", "multi"):
        mine = [r["map_at_depth"] for n, r in settings.items() if n.startswith(kind)]
        assert payload["trec"]["summary"][f"{kind}_map"] == pytest.approx(np.mean(mine), abs=1e-12)
    if depth == 0 and not ties:
        assert payload["trec"]["summary"]["mono_map"] == pytest.approx(payload["summary"]["mono_map"], abs=1e-6)


def test_trec_eval_ap_independent_implementation() -> None:
    """Item 12 without ir_measures: trec_eval's AP (sorted by score, ties by id descending, relevant
    below the cut missing) written out by hand for a small run."""
    from hybrid_ir.evaluation.trec import trec_eval_ap

    ids = ["a", "b", "c", "d"]
    scores = np.array([0.5, 0.5, 0.9, 0.1])
    tie_rank = np.array([sorted(ids, reverse=True).index(i) for i in ids])
    relevant = np.array([True, False, False, True])
    # order: c (0.9), b (0.5, "b" > "a"), a (0.5), d (0.1): relevant at ranks 3 and 4, 3 in the qrels
    assert trec_eval_ap(scores, tie_rank, relevant, 3) == pytest.approx((1 / 3 + 2 / 4) / 3)


def test_evaluation_json_says_what_produced_it(small_data: Path, tmp_path: Path, capsys) -> None:
    """Item 13: model path and weights hash, languages, questions, version, batch size, device,
    precision; a quick subset with --questions / --seed; undefined values null (one language: no
    cross-lingual mAP), never NaN."""
    from hybrid_ir import __version__
    from hybrid_ir.data.sources import sha256_file
    from hybrid_ir.modeling.biencoder import BiEncoder

    model = BiEncoder.tiny(seed=0).save_pretrained(tmp_path / "model")
    out = tmp_path / "res.json"
    code, _, err = cli(capsys, "evaluate", "xquad-r", "--languages", "en", "--model", str(model), "--quiet",
                       "--questions", "5", "--seed", "3", "--batch-size", "16", "--precision", "fp32",
                       "--out", str(out))
    assert code == 0, err
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    payload = json.loads(text)
    assert payload["summary"]["cross_map"] is None
    produced = payload["produced_by"]
    assert produced["model"] == str(Path(model).resolve())
    assert produced["model_weights_sha256"] == {"model.safetensors": sha256_file(Path(model) / "model.safetensors")}
    assert produced["languages"] == ["en"] and produced["questions"] == 5 and produced["parallel_questions"] == 5
    assert produced["subset"] == {"questions": 5, "seed": 3}
    assert produced["package_version"] == __version__ and produced["batch_size"] == 16
    assert produced["device"] == "cpu" and produced["precision"] == "fp32"
    assert produced["embeddings"] is None and produced["embeddings_sha256"] is None
    code, out_text, _ = cli(capsys, "evaluate", "xquad-r", "--languages", "en", "--model", str(model), "--quiet",
                            "--questions", "5", "--seed", "4", "--precision", "fp32", "--json")
    other = json.loads(out_text)["produced_by"]
    assert other["subset"] == {"questions": 5, "seed": 4} and other["questions"] == 5
    code, _, err = cli(capsys, "evaluate", "xquad-r", "--model", str(model), "--questions", "0")
    assert code == 2 and "--questions must be >= 1" in err
