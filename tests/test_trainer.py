"""The trainer: schedule, optimiser groups, overfitting, exact resume, NaN handling, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hybrid_ir.data.examples import TrainingExample, TrainingSet
from hybrid_ir.errors import HybridIRError
from hybrid_ir.training import checkpoint as ckpt
from hybrid_ir.training.config import load_config
from hybrid_ir.training.trainer import (
    TrainingDiverged,
    build_model,
    lr_factor,
    param_groups,
    resolve_precision,
    step_seed,
    train,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    """2 shared cores: one intra-op thread is ~10x faster than two fighting over them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def smoke(tmp_path: Path, *overrides: str, name: str = "run"):
    return load_config("smoke", [f"output_dir={tmp_path / name}", "progress=false", *overrides])


# ------------------------------------------------------------------------------------ fast
def test_lr_schedule_warmup_then_linear_decay() -> None:
    factors = [lr_factor(s, warmup=2, total=6) for s in range(6)]
    assert factors == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25])
    assert [lr_factor(s, 2, 6, "constant") for s in range(4)] == pytest.approx([0.5, 1.0, 1.0, 1.0])
    assert lr_factor(0, 0, 4) == pytest.approx(1.0)


def test_precision_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(HybridIRError, match="fp16 needs a CUDA GPU"):
        resolve_precision("fp16", cpu)


def test_step_seed_differs_by_step_and_rank() -> None:
    seeds = {step_seed(0, s, r) for s in range(20) for r in range(2)}
    assert len(seeds) == 40 and step_seed(0, 3, 1) == step_seed(0, 3, 1)


@pytest.mark.slow
def test_param_groups_no_decay_on_bias_and_layernorm(tmp_path: Path) -> None:
    model = build_model(smoke(tmp_path, "freeze_embeddings=true"))
    decay, no_decay = param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all(names[id(p)].endswith(".weight") and p.ndim == 2 for p in decay["params"])
    assert any("LayerNorm" in names[id(p)] for p in no_decay["params"])
    assert all(names[id(p)].endswith("bias") or "LayerNorm" in names[id(p)] for p in no_decay["params"])
    frozen = model.encoder.get_input_embeddings().weight
    assert all(p is not frozen for g in (decay, no_decay) for p in g["params"])


# ------------------------------------------------------------------------------------ slow
def _final_weights(result) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(result.latest_checkpoint / ckpt.MODEL_FILE))


@pytest.mark.slow
def test_tiny_model_overfits_64_pairs(tmp_path: Path, data_dir: Path) -> None:
    from hybrid_ir.data.examples import load_training_set

    ts = load_training_set("mlqa-r", languages=["en"], data_dir=data_dir)
    examples = tuple(
        TrainingExample(e.parallel_id, e.article, {"en": e.by_lang["en"]}) for e in ts.examples[:64]
    )
    cfg = smoke(
        tmp_path, "strategy=mono", "batch_size=32", "max_steps=120", "epochs=1000", "lr=3e-3",
        "warmup_ratio=0.05", "dropout=0.0", "freeze_embeddings=true",
    )
    model = build_model(cfg)
    result = train(cfg, model=model, train_sets=[TrainingSet("pairs", examples)], val_sets=[], export=False)
    assert result.steps == 120 and result.stopped == "max_steps"
    q = model.encode([e.by_lang["en"].query for e in examples], "query")
    p = model.encode([e.by_lang["en"].positive for e in examples], "passage")
    recall_at_1 = float(np.mean((q @ p.T).argmax(axis=1) == np.arange(64)))
    assert recall_at_1 == 1.0
    losses = [json.loads(x)["loss"] for x in result.metrics_path.read_text().splitlines() if '"train"' in x]
    assert losses[-1] < 0.2 < 3.0 < losses[0]


@pytest.mark.slow
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path: Path, data_dir: Path) -> None:
    # smoke: 6 batches per epoch; validation every 3 steps, checkpoints every 5 and at validations.
    args = ("max_steps=14", "eval_every=3", "save_every=5", "log_every=1")
    full = train(smoke(tmp_path, *args, name="full"), export=False)

    cfg = smoke(tmp_path, *args, name="resumed")
    first = train(cfg, stop_after=7)  # latest checkpoint: step 6, which closes epoch 0
    assert first.stopped == "interrupted" and first.latest_checkpoint.name == "step-000006"
    second = train(cfg, resume=True, stop_after=11)  # resumes at 6; latest: step 10, mid-epoch 1
    assert second.resumed_from == 6 and second.latest_checkpoint.name == "step-000010"
    with pytest.raises(HybridIRError, match="already holds a run"):
        train(cfg)
    third = train(cfg, resume=True, export=False)
    assert third.resumed_from == 10 and third.steps == 14 and third.stopped == "max_steps"

    a, b = _final_weights(full), _final_weights(third)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert third.best_val_loss == full.best_val_loss and third.best_step == full.best_step

    def events(result) -> list[tuple]:
        recs = [json.loads(x) for x in result.metrics_path.read_text().splitlines()]
        return [(r["event"], r["step"], r.get("loss"), r.get("val_loss")) for r in recs if r["event"] != "end"]

    assert events(third) == events(full)  # the log was cut back to the checkpoint and rewritten
    # exposure.json replays the batches from fresh samplers: the same for the interrupted run
    exposure = [json.loads((r.output_dir / "exposure.json").read_text()) for r in (full, third)]
    assert exposure[0] == exposure[1] and exposure[0]["trained"]["batches"] == 14


@pytest.mark.slow
def test_exposure_is_what_the_trainer_consumed(tmp_path: Path, data_dir: Path, monkeypatch) -> None:
    """The replayed exposure equals the batches the optimisation steps really saw (across epochs)."""
    import hybrid_ir.training.trainer as trainer_mod
    from hybrid_ir.sampling.stats import exposure

    seen = []
    original = trainer_mod.optimisation_step

    def spy(run, batch):
        seen.append(batch)
        return original(run, batch)

    monkeypatch.setattr(trainer_mod, "optimisation_step", spy)
    result = train(smoke(tmp_path, "max_steps=9", "eval_every=3", "strategy=hybrid"), export=False)
    recorded = json.loads((result.output_dir / "exposure.json").read_text())
    assert len(seen) == 9 and recorded["steps"] == 9
    total = recorded["trained"]["questions_total"]
    assert recorded["trained"] == exposure(seen, total)
    assert recorded["exported_step"] == result.best_step
    assert recorded["exported"] == exposure(seen[: result.best_step], total)
    assert sum(recorded["trained"]["batches_by_type"].values()) == 9


@pytest.mark.slow
def test_resume_with_other_config_refused(tmp_path: Path, data_dir: Path) -> None:
    cfg = smoke(tmp_path, "max_steps=2", "eval_every=2")
    train(cfg, export=False)
    changed = smoke(tmp_path, "max_steps=2", "eval_every=2", "lr=5e-4")
    with pytest.raises(HybridIRError, match="config hash"):
        train(changed, resume=True)
    # run-control fields (log interval, folder, progress) do not change the hash
    assert smoke(tmp_path, "max_steps=2", "eval_every=2", "log_every=1").hash() == cfg.hash()


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_good_checkpoint(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hybrid_ir.training.trainer as trainer_mod

    real = trainer_mod.info_nce
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        loss = real(*args, **kwargs)
        if torch.is_grad_enabled():  # training batches only
            calls["n"] += 1
            if calls["n"] == 5:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(trainer_mod, "info_nce", poisoned)
    cfg = smoke(tmp_path, "max_steps=10", "eval_every=0", "save_every=2", "val_batches=1")
    with pytest.raises(TrainingDiverged, match="loss is nan at step 5"):
        train(cfg)
    root = Path(cfg.output_dir) / "checkpoints"
    latest = ckpt.pointer_target(root, "latest")
    assert latest is not None and latest.name == "step-000004"
    meta = ckpt.read_meta(latest)  # verifies the SHA-256 of both files
    assert meta["step"] == 4
    model = build_model(cfg)
    state = ckpt.load_checkpoint(latest, model, config_hash=cfg.hash())
    assert state["step"] == 4


@pytest.mark.slow
def test_gradcache_training_matches_plain_training(tmp_path: Path, data_dir: Path) -> None:
    common = ("max_steps=3", "eval_every=0", "val_batches=1", "dropout=0.0")  # same masks need same chunks
    plain = train(smoke(tmp_path, *common, name="plain"), export=False)
    cached = train(smoke(tmp_path, *common, "gradcache_chunk_size=5", name="cached"), export=False)
    a, b = _final_weights(plain), _final_weights(cached)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-5, rtol=1e-4, msg=k)


@pytest.mark.slow
def test_cli_train_smoke_end_to_end(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "cli"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYBRID_IR_DATA_DIR": str(data_dir)}
    cmd = [
        sys.executable, "-m", "hybrid_ir", "train", "--config", "smoke",
        "--set", "max_steps=5", "--set", f"output_dir={out}", "--set", "progress=false",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert result["steps"] == 5 and result["stopped"] == "max_steps"
    meta = json.loads((out / "model" / "hybrid_ir_encoder.json").read_text())
    extra = meta["extra"]
    assert extra["training_config"]["max_steps"] == 5
    assert any(k.startswith("lareqa/mlqa-r/") for k in extra["data_checksums"])
    assert extra["config_hash"] == result["config_hash"]
    from hybrid_ir.modeling.biencoder import BiEncoder

    reloaded = BiEncoder.from_pretrained(out / "model")
    assert reloaded.encode(["hello"], "query").shape == (1, 64)
    # a bad override fails cleanly (exit 2, no traceback)
    bad = subprocess.run(
        [*cmd[:6], "--set", "lr=fast"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert bad.returncode == 2 and "lr must be a number" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_gradient_checkpointing_and_cpu_bf16_paths(tmp_path: Path, data_dir: Path) -> None:
    """Gradient checkpointing gives the plain run's weights; bf16 autocast (CPU) trains without NaN."""
    common = ("max_steps=2", "eval_every=0", "val_batches=1", "dropout=0.0")
    plain = train(smoke(tmp_path, *common, name="plain"), export=False)
    ckpointed = train(smoke(tmp_path, *common, "gradient_checkpointing=true", name="gc"), export=False)
    a, b = _final_weights(plain), _final_weights(ckpointed)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-5, rtol=1e-4, msg=k)
    bf16 = train(smoke(tmp_path, *common, "precision=bf16", name="bf16"), export=False)
    assert bf16.steps == 2 and bf16.best_val_loss is not None and np.isfinite(bf16.best_val_loss)


def test_precision_auto_differs_by_purpose(monkeypatch):
    """auto: fp32 for training on a CPU (the recorded runs); for inference bf16 only with native bf16."""
    from hybrid_ir.modeling import runtime

    cpu = torch.device("cpu")
    for native in (True, False):
        monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda native=native: native)
        assert runtime.resolve_precision("auto", cpu, purpose="training") == "fp32"
        assert runtime.resolve_precision("auto", cpu, purpose="inference") == ("bf16" if native else "fp32")
        assert runtime.resolve_precision("fp32", cpu, purpose="inference") == "fp32"


def test_resolve_device_names_a_missing_gpu_index(monkeypatch):
    """cuda:7 on a one-GPU machine is a one-line error (seen on an H100 machine: a traceback before)."""
    from hybrid_ir.modeling import runtime

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert runtime.resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(HybridIRError, match="has 1 CUDA GPU"):
        runtime.resolve_device("cuda:7")
    with pytest.raises(HybridIRError, match="unknown device"):
        runtime.resolve_device("gpu")


@pytest.mark.slow
def test_export_last_step_from_a_finished_runs_checkpoints(tmp_path: Path, data_dir: Path) -> None:
    """``export_weights=last`` exports the final step; a finished run's checkpoints, copied into a new
    folder, are resumed without a step of training and exported that way (the exposure-matched
    experiment's last-step variant does this)."""
    import shutil

    from safetensors.torch import load_file

    args = ("max_steps=9", "eval_every=2", "save_every=9", "lr=5e-3")  # overshoots: best step < 9
    best = train(smoke(tmp_path, *args, name="best"))
    cfg = smoke(tmp_path, *args, "export_weights=last", name="last")
    assert cfg.hash() == smoke(tmp_path, *args, name="best").hash()  # the same training
    out = Path(cfg.output_dir)
    out.mkdir()
    shutil.copytree(best.output_dir / "checkpoints", out / "checkpoints")
    for name in ("config.yaml", "metrics.jsonl"):
        shutil.copy2(best.output_dir / name, out / name)
    last = train(cfg, resume=True)
    assert last.resumed_from == 9 and last.steps == 9

    def exported(result) -> tuple[int, dict[str, torch.Tensor]]:
        meta = json.loads((result.model_dir / "hybrid_ir_encoder.json").read_text())["extra"]
        return meta["exported_step"], load_file(str(result.model_dir / "model.safetensors"))

    step, weights = exported(last)
    # the step-9 checkpoint of the first run, named as in the exported folder
    final = {k.removeprefix("encoder."): v for k, v in _final_weights(best).items()}
    final = {k: v for k, v in final.items() if k in weights}
    assert len(final) == len(weights)
    assert step == 9 and json.loads((out / "exposure.json").read_text())["exported_step"] == 9
    assert all(torch.equal(weights[k], final[k]) for k in final)
    best_step, best_weights = exported(best)
    assert best_step == best.best_step < 9  # the default export is another step's weights
    assert any(not torch.equal(best_weights[k], final[k]) for k in final)
