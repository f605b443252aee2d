"""Checkpoints: atomic layout, exact round trip, refusal of corrupt or mismatched ones."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from hybrid_ir.errors import HybridIRError
from hybrid_ir.training import checkpoint as ckpt


class Net(torch.nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.a = torch.nn.Linear(3, width)
        self.norm = torch.nn.LayerNorm(width)
        self.b = torch.nn.Linear(width, 2)


def _state(model: torch.nn.Module) -> dict:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (s + 1))
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    sched.step()
    return {
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "sampler": {"epoch": 1, "position": 3, "seed": 0, "batches_per_epoch": 6},
        "rng": ckpt.capture_rng_state(),
        "trainer": {"best_val_loss": 1.25, "best_step": 4, "bad_evals": 0},
    }


def test_roundtrip_weights_state_and_rng(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Net()
    state = _state(model)
    d = ckpt.save_checkpoint(tmp_path, model, state, step=5, epoch=1, config_hash="abc", pointers=("latest", "best"))
    assert d.name == "step-000005" and ckpt.pointer_target(tmp_path, "best") == d
    expected = (random.random(), np.random.rand(), torch.rand(1).item())

    other = Net(); torch.manual_seed(1)  # noqa: E702
    loaded = ckpt.load_checkpoint(d, other, config_hash="abc")
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert loaded["step"] == 5 and loaded["sampler"]["position"] == 3 and loaded["trainer"]["best_step"] == 4
    opt = torch.optim.AdamW(other.parameters(), lr=1e-3)
    opt.load_state_dict(loaded["optimizer"])  # plain types + tensors: weights_only worked
    ckpt.restore_rng_state(loaded["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_pointers_and_pruning(tmp_path: Path) -> None:
    model = Net()
    state = _state(model)
    ckpt.save_checkpoint(tmp_path, model, state, step=1, epoch=0, config_hash="h", pointers=("latest", "best"))
    ckpt.save_checkpoint(tmp_path, model, state, step=2, epoch=0, config_hash="h")
    ckpt.save_checkpoint(tmp_path, model, state, step=3, epoch=0, config_hash="h")
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert names == ["step-000001", "step-000003"]  # best (1) and latest (3); 2 was pruned
    assert json.loads((tmp_path / "latest.json").read_text()) == {"dir": "step-000003", "step": 3}


def test_corrupt_file_refused(tmp_path: Path) -> None:
    model = Net()
    d = ckpt.save_checkpoint(tmp_path, model, _state(model), step=1, epoch=0, config_hash="h")
    blob = (d / ckpt.MODEL_FILE).read_bytes()
    (d / ckpt.MODEL_FILE).write_bytes(blob[:-7] + b"garbage")
    with pytest.raises(HybridIRError, match=r"is corrupt: SHA-256 of model\.safetensors"):
        ckpt.load_checkpoint(d, Net(), config_hash="h")
    (d / ckpt.MODEL_FILE).write_bytes(blob)
    (d / ckpt.STATE_FILE).unlink()
    with pytest.raises(HybridIRError, match=r"incomplete: training_state\.pt is missing"):
        ckpt.load_checkpoint(d, Net(), config_hash="h")


def test_truncated_state_refused_even_with_matching_meta(tmp_path: Path) -> None:
    model = Net()
    d = ckpt.save_checkpoint(tmp_path, model, _state(model), step=1, epoch=0, config_hash="h")
    (d / ckpt.STATE_FILE).write_bytes((d / ckpt.STATE_FILE).read_bytes()[:100])
    meta = json.loads((d / ckpt.META_FILE).read_text())
    from hybrid_ir.data.sources import sha256_file

    meta["files"][ckpt.STATE_FILE] = sha256_file(d / ckpt.STATE_FILE)
    (d / ckpt.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(HybridIRError, match="could not be read as a weights-only torch file"):
        ckpt.load_checkpoint(d, Net(), config_hash="h")


def test_pickled_object_refused(tmp_path: Path) -> None:
    """A state file holding an arbitrary object is not unpickled (weights_only=True)."""
    model = Net()
    d = ckpt.save_checkpoint(tmp_path, model, _state(model), step=1, epoch=0, config_hash="h")
    payload = torch.load(d / ckpt.STATE_FILE, weights_only=True)
    payload["evil"] = Path("/tmp")  # not an allowed type
    torch.save(payload, d / ckpt.STATE_FILE)
    meta = json.loads((d / ckpt.META_FILE).read_text())
    from hybrid_ir.data.sources import sha256_file

    meta["files"][ckpt.STATE_FILE] = sha256_file(d / ckpt.STATE_FILE)
    (d / ckpt.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(HybridIRError, match="weights-only"):
        ckpt.load_checkpoint(d, Net(), config_hash="h")


def test_config_hash_and_shape_mismatch_refused(tmp_path: Path) -> None:
    model = Net()
    d = ckpt.save_checkpoint(tmp_path, model, _state(model), step=1, epoch=0, config_hash="h1")
    with pytest.raises(HybridIRError, match="config hash h1, this configuration has h2"):
        ckpt.load_checkpoint(d, Net(), config_hash="h2")
    with pytest.raises(HybridIRError, match=r"shape mismatch for 5 \(e.g. a.bias: stored \(4,\), model \(5,\)\)"):
        ckpt.load_checkpoint(d, Net(width=5), config_hash="h1")

    class Bigger(Net):
        def __init__(self) -> None:
            super().__init__()
            self.c = torch.nn.Linear(2, 2)

    with pytest.raises(HybridIRError, match="missing 2"):
        ckpt.load_checkpoint(d, Bigger(), config_hash="h1")


def test_missing_meta_and_bad_pointer(tmp_path: Path) -> None:
    model = Net()
    d = ckpt.save_checkpoint(tmp_path, model, _state(model), step=1, epoch=0, config_hash="h")
    (tmp_path / "latest.json").write_text('{"dir": "../../etc"}')
    with pytest.raises(HybridIRError, match="invalid checkpoint folder"):
        ckpt.pointer_target(tmp_path, "latest")
    (d / ckpt.META_FILE).unlink()
    with pytest.raises(HybridIRError, match=r"checkpoint\.json is missing"):
        ckpt.read_meta(d)
