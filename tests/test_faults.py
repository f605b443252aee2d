"""The fault campaign, kept as tests: crashes at every write of a checkpoint save, kills, two writers,
finished and foreign run folders, non-finite weights, leaks, corrupt pointers.

Each test names the finding of the campaign it guards against (issue "Nothing lost, nothing
silently wrong"). Training runs use the tiny ``smoke`` profile (6 batches per epoch).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hybrid_ir.errors import HybridIRError
from hybrid_ir.locks import FolderLock
from hybrid_ir.training import checkpoint as ckpt
from hybrid_ir.training import trainer as trainer_mod
from hybrid_ir.training.config import load_config
from hybrid_ir.training.trainer import TrainingDiverged, train

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
ARGS = ("max_steps=12", "eval_every=3", "log_every=1")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread for every run of the module: bit-identical comparisons need the same
    thread count (and 2 shared cores run one thread faster anyway)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def smoke(folder: Path, *overrides: str):
    return load_config("smoke", [f"output_dir={folder}", "progress=false", *ARGS, *overrides])


def exported(result) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors.torch import load_file

    model_dir = Path(result.model_dir)
    meta = json.loads((model_dir / "hybrid_ir_encoder.json").read_text())["extra"]
    return load_file(str(model_dir / "model.safetensors")), meta


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Crash(Exception):
    """Stands in for a kill or a full disk at one write."""


@pytest.fixture(scope="module")
def reference(one_thread, tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    """The uninterrupted run every interrupted one must end up equal to."""
    result = train(smoke(tmp_path_factory.mktemp("ref") / "run"))
    return result, *exported(result)


# ------------------------------------------------------------------ finding 1: silent wrong export
WRITES = ("save_weights", "torch.save", "os.replace", "best.json", "latest.json", "prune_checkpoints")


@pytest.mark.parametrize("crash_at", range(len(WRITES)))
def test_failure_between_any_two_writes_of_a_save(tmp_path: Path, reference, monkeypatch, crash_at: int) -> None:
    """A failure before write k of the checkpoint save at step 6 (a validation that improves), then a
    resume: the export has exactly the uninterrupted run's weights and reports their step."""
    _, ref_weights, ref_meta = reference
    state = {"armed": False, "calls": 0}

    def counting(name: str, fn):
        def wrapper(*args, **kwargs):
            if state["armed"]:
                if state["calls"] == crash_at:
                    state["armed"] = False
                    raise Crash(f"before {name}")
                state["calls"] += 1
            return fn(*args, **kwargs)
        return wrapper

    real_save = ckpt.save_checkpoint

    def save_checkpoint(root, model, st, *, step, **kw):
        state["armed"] = step == 6 and "best" in kw.get("pointers", ())
        try:
            return real_save(root, model, st, step=step, **kw)
        finally:
            state["armed"] = False

    real_write_json = ckpt.write_json
    monkeypatch.setattr(ckpt, "save_checkpoint", save_checkpoint)
    monkeypatch.setattr(ckpt, "save_weights", counting("save_weights", ckpt.save_weights))
    monkeypatch.setattr(ckpt.torch, "save", counting("torch.save", torch.save))
    monkeypatch.setattr(ckpt.os, "replace", counting("os.replace", os.replace))
    monkeypatch.setattr(ckpt, "prune_checkpoints", counting("prune", ckpt.prune_checkpoints))
    monkeypatch.setattr(ckpt, "write_json", counting("pointer", real_write_json))

    cfg = smoke(tmp_path / "run")
    with pytest.raises(Crash):
        train(cfg)
    monkeypatch.undo()
    result = train(cfg, resume=True)
    weights, meta = exported(result)
    assert meta["exported_step"] == ref_meta["exported_step"] == result.best_step
    assert meta["best_val_loss"] == ref_meta["best_val_loss"]
    assert same_weights(weights, ref_weights)


def test_best_pointer_left_ahead_of_latest_is_put_back(tmp_path: Path, reference) -> None:
    """The campaign's exact case: best.json and latest.json disagree with the latest state after a
    crash; the resumed run exports the weights of the step it reports."""
    _, ref_weights, ref_meta = reference
    cfg = smoke(tmp_path / "run")
    train(cfg, stop_after=7)  # checkpoints at steps 3 and 6 (validations)
    root = tmp_path / "run" / "checkpoints"
    (root / "best.json").write_text(json.dumps({"dir": "step-000003", "step": 3}))  # stale best pointer
    if not (root / "step-000003").exists():
        ckpt.save_checkpoint(root, trainer_mod.build_model(cfg), {}, step=3, epoch=0, config_hash="other",
                             pointers=())  # a folder for it to name (the wrong weights)
        (root / "best.json").write_text(json.dumps({"dir": "step-000003", "step": 3}))
    result = train(cfg, resume=True)
    weights, meta = exported(result)
    assert meta["exported_step"] == ref_meta["exported_step"]
    assert same_weights(weights, ref_weights)


def test_export_refuses_weights_of_another_step(tmp_path: Path, data_dir: Path, monkeypatch) -> None:
    """The export reloads the best step's folder only after checking that it holds that step."""
    cfg = smoke(tmp_path / "run")
    train(cfg, stop_after=7)  # checkpoints of steps 3 and 6
    run = trainer_mod.set_up(cfg, resume=True)
    best = run.progress.best_step
    run.progress.step = 12  # the best step is not the last one: the export must reload it
    real = ckpt.read_meta
    monkeypatch.setattr(ckpt, "read_meta", lambda d, **kw: {**real(d, **kw), "step": best + 100})
    with pytest.raises(HybridIRError, match="export refused"):
        trainer_mod._export(run, "max_steps")
    monkeypatch.undo()
    meta = json.loads((trainer_mod._export(run, "max_steps") / "hybrid_ir_encoder.json").read_text())["extra"]
    assert meta["exported_step"] == best


# ------------------------------------------------------------ findings 2, 4, 7: run folder rules
def test_finished_run_is_not_replaced_without_overwrite(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    first = train(smoke(out, "keep_checkpoints=false", "max_steps=3"))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != ".lock"}
    model_before = (out / "model" / "model.safetensors").read_bytes()
    with pytest.raises(HybridIRError, match="already holds a finished run with another configuration"):
        train(smoke(out, "keep_checkpoints=false", "max_steps=3", "lr=0.002"))
    with pytest.raises(HybridIRError, match="already holds a finished run"):
        train(smoke(out, "keep_checkpoints=false", "max_steps=3"))  # same config, no resume
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != ".lock"} == before
    assert (out / "model" / "model.safetensors").read_bytes() == model_before
    assert first.model_dir is not None
    # keep_checkpoints=false: no checkpoint left, and the result points at none
    assert not (out / "checkpoints").exists()
    assert first.best_checkpoint is None and first.latest_checkpoint is None


def test_resuming_a_finished_run_is_a_no_op(tmp_path: Path, data_dir: Path, capsys) -> None:
    out = tmp_path / "run"
    first = train(smoke(out, "max_steps=6"))
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    again = train(smoke(out, "max_steps=6"), resume=True)
    assert "already finished" in capsys.readouterr().err
    assert again.to_dict() == first.to_dict()
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"} == files


def test_interrupted_overwrite_leaves_no_mixed_folder(tmp_path: Path, data_dir: Path, monkeypatch) -> None:
    out = tmp_path / "run"
    train(smoke(out, "max_steps=3"))
    assert (out / "model").is_dir() and (out / "result.json").is_file()

    def killed(run, batch):
        raise Crash("killed during the first step")

    monkeypatch.setattr(trainer_mod, "optimisation_step", killed)
    with pytest.raises(Crash):
        train(smoke(out, "max_steps=3", "lr=0.002"), overwrite=True)
    assert not (out / "model").exists() and not (out / "result.json").exists()
    assert not (out / "exposure.json").exists()
    assert "lr: 0.002" in (out / "config.yaml").read_text()


# ------------------------------------------------------------------------- finding 3: one writer
def test_locked_run_folder_is_refused(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    with FolderLock(out, "run folder"), pytest.raises(HybridIRError, match="being written by another process"):
        train(smoke(out, "max_steps=3"))
    train(smoke(out, "max_steps=3"))  # the lock is gone with its holder


def _tiny_experiment(tmp_path: Path) -> Path:
    import yaml

    config = {
        "name": "locked", "eval_dataset": "xquad-r", "eval_languages": ["en", "de"], "profile": "smoke",
        "train": {"max_steps": 4, "train_subset": 48, "batch_size": 8, "eval_every": 2, "val_batch_size": 8,
                  "val_batches": 1},
        "strategies": {"hybrid": {"strategy": "hybrid", "alpha": 0.5}}, "seeds": [0], "baseline": False,
        "results_dir": str(tmp_path / "results"), "runs_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_two_reproduce_processes_on_one_results_folder(tmp_path: Path, data_dir: Path) -> None:
    """The second process stops at once with one line on stderr and exit status 2; the first finishes."""
    exp = _tiny_experiment(tmp_path)
    env = {**os.environ, "HYBRID_IR_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "hybrid_ir", "reproduce", "--config", str(exp)]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "results" / "locked" / ".lock.pid"  # written once the first process holds the lock
    deadline = time.time() + 60
    while time.time() < deadline and not (lock.is_file() and lock.read_text().strip()):
        time.sleep(0.2)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and "being written by another process" in second.stderr
    assert "Traceback" not in second.stderr
    log = (tmp_path / "results" / "locked" / "hybrid" / "seed0" / "train_log.jsonl").read_text().splitlines()
    steps = [json.loads(x)["step"] for x in log if '"train"' in x]
    assert steps == sorted(steps)  # one writer: no interleaved events


# ------------------------------------------------------------------- finding 5: non-finite weights
def test_non_finite_weights_are_never_saved(tmp_path: Path, data_dir: Path) -> None:
    cfg = smoke(tmp_path / "run", "save_every=1")
    train(cfg, stop_after=2)
    root = tmp_path / "run" / "checkpoints"
    before = sorted(p.name for p in root.iterdir())
    run = trainer_mod.set_up(cfg, resume=True)
    with torch.no_grad():
        next(run.model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="NaN or infinite"):
        trainer_mod.save(run, ("latest",))
    assert sorted(p.name for p in root.iterdir()) == before


@pytest.mark.parametrize("override", ["lr=inf", "temperature=inf", "lr=nan", "weight_decay=inf", "lr=5"])
def test_non_finite_and_absurd_settings_refused(override: str) -> None:
    with pytest.raises(HybridIRError, match=r"finite|below 1"):
        load_config("smoke", [override])


# ---------------------------------------------------------------------- finding 11: leaks, pointers
def test_kill_during_export_leaves_nothing_behind(tmp_path: Path, data_dir: Path) -> None:
    """A real kill -9 while the model folder is written; the next run removes the hidden folder."""
    out = tmp_path / "run"
    code = (
        "import os, sys, signal\n"
        "import hybrid_ir.modeling.biencoder as b\n"
        "from hybrid_ir.training.config import load_config\n"
        "from hybrid_ir.training.trainer import train\n"
        "real = b.BiEncoder.save_pretrained\n"
        "def dying(self, path, **kw):\n"
        "    import hybrid_ir.atomic as a\n"
        "    with a.atomic_dir(path) as tmp:\n"
        "        (tmp / 'partial').write_text('x')\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "b.BiEncoder.save_pretrained = dying\n"
        f"train(load_config('smoke', {[f'output_dir={out}', 'progress=false', *ARGS, 'max_steps=3']!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "HYBRID_IR_DATA_DIR": str(data_dir)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [p.name for p in out.iterdir() if p.name.startswith(".model.")]
    result = train(smoke(out, "max_steps=3"), resume=True)
    assert result.model_dir is not None
    assert not [p.name for p in out.iterdir() if p.name.startswith(".model.")]


@pytest.mark.parametrize("damage", ["garbage", "missing", "dangling"])
def test_corrupt_latest_pointer_is_rebuilt(tmp_path: Path, reference, damage: str) -> None:
    _, ref_weights, ref_meta = reference
    cfg = smoke(tmp_path / "run")
    train(cfg, stop_after=7)
    pointer = tmp_path / "run" / "checkpoints" / "latest.json"
    if damage == "garbage":
        pointer.write_text("{not json")
    elif damage == "missing":
        pointer.unlink()
    else:
        pointer.write_text(json.dumps({"dir": "step-000099", "step": 99}))
    result = train(cfg, resume=True)
    assert result.resumed_from == 6  # from the newest verified step folder, not from step 0
    weights, meta = exported(result)
    assert meta["exported_step"] == ref_meta["exported_step"] and same_weights(weights, ref_weights)


# ------------------------------------------- findings 6, 10, 12: results, late errors, one language
def test_broken_results_are_named_not_treated_as_done(tmp_path: Path, data_dir: Path, capsys) -> None:
    from hybrid_ir.cli import main
    from hybrid_ir.experiments.reproduce import load_experiment, run_experiment

    path = _tiny_experiment(tmp_path)
    exp = load_experiment(path)
    run_experiment(exp, log=lambda *_: None)
    folder = exp.run_folder("hybrid", 0)
    run = json.loads((folder / "run.json").read_text())
    assert set(run["files"]) >= {"metrics.json", "ranks.csv.gz", "per_language.csv", "exposure.json"}
    assert main(["reproduce", "--config", str(path), "--list"]) == 0
    assert "done     hybrid/seed0" in capsys.readouterr().out

    (folder / "metrics.json").write_text((folder / "metrics.json").read_text()[:100])  # truncated
    (folder / "ranks.csv.gz").unlink()
    assert main(["reproduce", "--config", str(path), "--list"]) == 0
    listed = capsys.readouterr().out
    assert "broken   hybrid/seed0" in listed and "metrics.json does not parse" in listed
    assert "ranks.csv.gz is missing" in listed
    summary_before = (exp.folder / "summary.csv").read_text()
    assert main(["reproduce", "--config", str(path), "--aggregate-only"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged" in err and "--only hybrid/seed0 --force" in err
    assert main(["reproduce", "--config", str(path)]) == 2  # nothing runs on top of broken results
    capsys.readouterr()
    assert (exp.folder / "summary.csv").read_text() == summary_before
    assert main(["reproduce", "--config", str(path), "--only", "hybrid/seed0", "--force"]) == 0
    assert json.loads((folder / "metrics.json").read_text()) != {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eval_dataset": "xquad"}, "eval_dataset must be one of"),
        ({"eval_languages": ["en", "xx"]}, "xx"),
        ({"eval_batch_size": 0}, "eval_batch_size must be >= 1"),
        ({"strategies": ["hybrid", "x-y"]}, "'strategies' must be a mapping"),
        ({"train": 5}, "'train' must be a mapping"),
        ({"seeds": [0, "one"]}, "seeds"),
        ({"tatoeba_languages": ["en"]}, "no Tatoeba test set"),
    ],
)
def test_experiment_validated_before_any_training(tmp_path: Path, data_dir: Path, change: dict, message: str,
                                                  capsys) -> None:
    import yaml

    from hybrid_ir.cli import main

    path = _tiny_experiment(tmp_path)
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, **change}))
    t = time.perf_counter()
    assert main(["reproduce", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert time.perf_counter() - t < 20 and not (tmp_path / "runs").exists()  # no training started


def test_one_language_experiment_runs_to_its_summary(tmp_path: Path, data_dir: Path) -> None:
    import yaml

    from hybrid_ir.experiments.reproduce import load_experiment, run_experiment

    path = _tiny_experiment(tmp_path)
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, "eval_languages": ["en"], "baseline": True}))
    exp = load_experiment(path)
    lines: list[str] = []
    run_experiment(exp, log=lines.append)
    assert any("cross_map=n/a" in line for line in lines)
    # (no claims.csv: the paper's claims need two of its strategies, this experiment has one)
    assert (exp.folder / "summary.json").is_file() and (exp.folder / "significance.csv").is_file()


# --------------------------------------------------- finding 13: fsync, permissions, quiet loading
def test_atomic_writes_fsync_and_keep_usual_permissions(tmp_path: Path, monkeypatch) -> None:
    import hybrid_ir.atomic as atomic

    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                       real_fsync(fd)))
    atomic.write_json(tmp_path / "a.json", {"x": 1})
    assert any(s.endswith(".tmp") for s in synced) and str(tmp_path) in synced  # the file, then its folder
    with atomic.atomic_dir(tmp_path / "model") as d:
        (d / "w.bin").write_bytes(b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_no_loading_bars_when_progress_is_off(tmp_path: Path, data_dir: Path) -> None:
    code = (
        "from hybrid_ir.training.config import load_config\n"
        "from hybrid_ir.training.trainer import train\n"
        f"train(load_config('smoke', ['output_dir={tmp_path / 'run'}', 'progress=false', 'max_steps=2']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "HYBRID_IR_DATA_DIR": str(data_dir)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Writing model shards" not in proc.stderr and "Loading weights" not in proc.stderr
    assert "it/s]" not in proc.stderr


def test_reproduce_after_a_kill_during_evaluation_only_evaluates(tmp_path: Path, data_dir: Path,
                                                                 monkeypatch) -> None:
    """Finding 4 through ``reproduce``: the rerun evaluates; the training record stays as it was."""
    import hybrid_ir.evaluation.grid as grid
    from hybrid_ir.experiments.reproduce import collect, load_experiment, run_experiment

    exp = load_experiment(_tiny_experiment(tmp_path))
    real = grid.evaluate_lareqa_model

    def killed(*args, **kwargs):
        raise Crash("killed during the evaluation")

    monkeypatch.setattr(grid, "evaluate_lareqa_model", killed)
    with pytest.raises(Crash):
        run_experiment(exp, log=lambda *_: None)
    run_dir = Path(exp.runs_dir) / exp.name / "hybrid-seed0"
    recorded = json.loads((run_dir / "result.json").read_text())
    log_before = (run_dir / "metrics.jsonl").read_text()
    monkeypatch.setattr(grid, "evaluate_lareqa_model", real)
    run_experiment(exp, log=lambda *_: None)
    run = json.loads((exp.run_folder("hybrid", 0) / "run.json").read_text())
    assert run["training_reused"] is True
    assert run["train_seconds"] == round(recorded["wall_time_s"], 1)
    assert run["train_result"] == recorded
    assert (run_dir / "metrics.jsonl").read_text() == log_before  # no second validation line
    assert not collect(exp).resumed.any()
