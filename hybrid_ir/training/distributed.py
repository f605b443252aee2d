"""Multi-process training (``torchrun``): process group, global negatives, gradient averaging.

Launch: ``torchrun --nproc_per_node 2 -m hybrid_ir train --config paper`` (one process per GPU; on CPU
the ``gloo`` backend is used). Every rank takes its contiguous slice of the same global batch from
:class:`~hybrid_ir.sampling.sampler.HybridBatchSampler` (``num_replicas`` / ``rank``).

How the gradients stay those of one process on the global batch of ``N = W * b`` triplets:

1. each rank embeds its ``b`` triplets; :func:`gather_with_grad` concatenates the embeddings of all
   ``W`` ranks, ``(N, H)``, in rank order (= the single-process batch order), keeping the graph;
2. rank ``r``'s loss ``L_r`` is the mean InfoNCE over *its* ``b`` queries against all ``N`` passages
   (``info_nce(..., rows=slice(r*b, (r+1)*b))``); the global loss is ``L = (1/W) sum_r L_r``;
3. the backward of the gather sums, over ranks, the gradients that reach each rank's slice
   (an all-reduce of ``dL_r/dE``), so rank ``s`` holds ``sum_r dL_r/dtheta`` through its own
   embeddings;
4. :func:`allreduce_gradients` averages the parameter gradients over ranks:
   ``(1/W) sum_s sum_r dL_r/dtheta|_s = dL/dtheta``, the single-process gradient.

The averaging is an explicit all-reduce after the backward pass instead of
``DistributedDataParallel``'s hooks: a training step runs several forward passes before one backward
(queries, positives, negatives) and GradCache runs one backward per sub-batch, both outside DDP's
one-forward-one-backward bookkeeping. The arithmetic is the same as DDP's (a mean over ranks).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from hybrid_ir.errors import HybridIRError


@dataclass(frozen=True)
class DistInfo:
    """This process's place: ``rank`` of ``world_size``; ``local_rank`` picks the GPU."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise HybridIRError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group described by torchrun's variables (``RANK``, ``WORLD_SIZE``, ...).

    Without them (or with ``WORLD_SIZE=1``) nothing is initialised and a single-process
    :class:`DistInfo` is returned. Backend: ``nccl`` when CUDA is used, else ``gloo``.
    """
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", rank)
    if world <= 1:
        return DistInfo()
    if not 0 <= rank < world:
        raise HybridIRError(f"RANK={rank} is outside WORLD_SIZE={world}")
    use_cuda = torch.cuda.is_available() and not device.startswith("cpu")
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise HybridIRError(f"WORLD_SIZE={world} but {name} is not set: launch with torchrun")
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=timedelta(seconds=timeout_s))
    return DistInfo(rank, world, local_rank, dist.get_backend())


def current() -> DistInfo:
    """The :class:`DistInfo` of an initialised process group (single process otherwise)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    return DistInfo(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", dist.get_rank()), dist.get_backend())


def resolve_device(info: DistInfo, requested: str = "auto") -> torch.device:
    """``auto``: this rank's GPU when CUDA is available, else the CPU; otherwise as requested."""
    if requested == "auto":
        return torch.device("cuda", info.local_rank) if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(requested)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise HybridIRError(f"device {requested!r} asked for but CUDA is not available")
        if info.enabled and dev.index is None:
            dev = torch.device("cuda", info.local_rank)
    return dev


def cleanup() -> None:
    """Leave the process group (if one was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward all-reduces the incoming gradient and keeps this rank's slice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.rows = rank, x.shape[0]
        return torch.cat(parts, dim=0)  # (W * b, H)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)  # sum_r dL_r / dE
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """``(b, H)`` on every rank -> ``(W * b, H)`` in rank order, differentiable; identity without a group.

    Every rank must pass the same number of rows (the sampler gives equal slices).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


def allreduce_gradients(params: Iterable[torch.nn.Parameter], world_size: int | None = None) -> None:
    """Replace every parameter gradient by its mean over the ranks (one flat all-reduce per dtype)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    world = world_size or dist.get_world_size()
    if world == 1:
        return
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for p in params:
        if not p.requires_grad:
            continue
        if p.grad is None:  # keep the ranks' buffers aligned
            p.grad = torch.zeros_like(p)
        by_dtype.setdefault(p.grad.dtype, []).append(p.grad)
    for grads in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= world
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n


def all_reduce_mean(value: float, device: torch.device | None = None) -> float:
    """Mean of a number over the ranks (the number itself without a group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device or _comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / dist.get_world_size()


def broadcast_float(value: float | None, src: int = 0, device: torch.device | None = None) -> float | None:
    """Rank ``src``'s number on every rank (None is sent as NaN, so a NaN arrives as None)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    t = torch.tensor([float("nan") if value is None else value], dtype=torch.float64, device=device or _comm_device())
    dist.broadcast(t, src=src)
    out = float(t.item())
    return None if out != out else out


def broadcast_object(value: Any, src: int = 0) -> Any:
    """Rank ``src``'s picklable value on every rank (the value itself without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
