"""Two processes (gloo) give the gradients and weights of one process on the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from hybrid_ir.training.config import TrainConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proj(torch.nn.Module):
    """A toy encoder: x (b, 6) -> normalize(tanh(x W1) W2) (b, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.l1 = torch.nn.Linear(6, 8)
        self.l2 = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.l2(torch.tanh(self.l1(x))), dim=-1)


CFG = dict(temperature=0.1, symmetric=True, negatives="in-batch")


def data(n: int = 8) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(n, 6, generator=g) for _ in range(3)]


def reference_grads(model: Proj, towers: list[torch.Tensor]) -> list[torch.Tensor]:
    from hybrid_ir.training.loss import info_nce

    q, p, n = (model(x) for x in towers)
    info_nce(q, p, n, **CFG).backward()  # type: ignore[arg-type]
    return [p.grad.clone() for p in model.parameters()]


def _worker(rank: int, world: int, port: int, state: dict, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    from hybrid_ir.training import distributed as D
    from hybrid_ir.training.gradcache import cached_backward
    from hybrid_ir.training.trainer import make_loss_fn

    info = D.init_distributed("cpu")
    try:
        towers = data()
        b = towers[0].shape[0] // world
        local = [x[rank * b : (rank + 1) * b] for x in towers]
        loss_fn = make_loss_fn(TrainConfig(**CFG), info)  # type: ignore[arg-type]
        results = {}
        for mode in ("plain", "gradcache"):
            model = Proj()
            model.load_state_dict(state)
            if mode == "plain":
                loss_fn(*(model(x) for x in local)).backward()
            else:
                cached_backward(model, [{"x": x} for x in local], loss_fn, chunk_size=3)
            D.allreduce_gradients(list(model.parameters()), world)
            results[mode] = [p.grad.clone() for p in model.parameters()]
        if info.is_main:
            torch.save(results, out)
    finally:
        D.cleanup()


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_gradients(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    torch.manual_seed(0)
    model = Proj()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ref = reference_grads(model, data())
    out = tmp_path / "grads.pt"
    mp.spawn(_worker, args=(2, free_port(), state, str(out)), nprocs=2, join=True)
    got = torch.load(out, weights_only=True)
    for mode in ("plain", "gradcache"):
        for a, b in zip(ref, got[mode], strict=True):
            torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5, msg=mode)


@pytest.mark.slow
def test_torchrun_two_processes_train_like_one(tmp_path: Path, data_dir: Path) -> None:
    """`torchrun --nproc_per_node 2 -m hybrid_ir train` == one process, same global batch of 16."""
    from safetensors.torch import load_file

    from hybrid_ir.training.checkpoint import MODEL_FILE, pointer_target
    from hybrid_ir.training.trainer import train

    sets = ["max_steps=3", "dropout=0.0", "eval_every=0", "val_batches=1", "progress=false"]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = train(load_config("smoke", [*sets, f"output_dir={tmp_path / 'one'}"]), export=False)
    finally:
        torch.set_num_threads(before)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYBRID_IR_DATA_DIR": str(data_dir)}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
        "-m", "hybrid_ir", "train", "--config", "smoke", "--no-export",
        *[a for s in [*sets, f"output_dir={tmp_path / 'two'}"] for a in ("--set", s)],
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "two" / "result.json").read_text())
    assert result["steps"] == 3
    a = load_file(str(single.latest_checkpoint / MODEL_FILE))
    b = load_file(str(pointer_target(tmp_path / "two" / "checkpoints", "latest") / MODEL_FILE))
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-5, rtol=1e-4, msg=k)
    one_log = [json.loads(x) for x in single.metrics_path.read_text().splitlines()]
    two_log = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    val = [(r["val_loss"]) for r in one_log if r["event"] == "val"]
    assert [r["val_loss"] for r in two_log if r["event"] == "val"] == pytest.approx(val, abs=1e-5)
