"""Cached-gradient training (GradCache, Gao et al. 2021, arXiv 2101.06983): a large contrastive batch
on a small accelerator.

The contrastive loss couples every triplet of the batch, so the batch cannot simply be split into
gradient-accumulation steps. GradCache splits the *encoder* work instead. For a batch whose inputs form
``T`` towers (queries, positives, negatives), each of ``N`` rows:

1. **embed without graph**: every tower in chunks of ``chunk_size`` rows under ``torch.no_grad()``,
   recording the random-number state before each chunk; memory holds only the ``(N, H)`` embeddings;
2. **loss and cached gradient**: ``L = loss_fn(E_1, ..., E_T)`` on the embeddings made leaf tensors, and
   ``G_t = dL / dE_t`` by one backward pass through the loss alone;
3. **re-embed with graph, chunk by chunk**: restore the chunk's random state (so dropout draws the same
   masks as in step 1), recompute ``E_t[c]`` with grad and back-propagate the cached ``G_t[c]``:
   ``backward(E_t[c], grad=G_t[c])``. By the chain rule the parameter gradients summed over chunks are
   ``sum_c (dE_t[c]/dtheta)^T G_t[c] = dL/dtheta``, the gradient of the full-batch loss.

Peak activation memory is that of one chunk; the cost is one extra forward pass per step.
The parameter gradients equal those of the plain computation that embeds the same chunks, in the
same order, from the same random state (``tests/test_gradcache.py`` checks this with dropout on).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch

from hybrid_ir.errors import HybridIRError

Inputs = Mapping[str, torch.Tensor]
Encode = Callable[..., torch.Tensor]
AutocastFactory = Callable[[], contextlib.AbstractContextManager]


@dataclass
class RngState:
    """The CPU random state and, on CUDA, the device's random state at one moment."""

    cpu: torch.Tensor
    cuda: torch.Tensor | None
    device: torch.device

    @classmethod
    def capture(cls, device: torch.device) -> RngState:
        cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        return cls(torch.get_rng_state(), cuda, device)

    @contextlib.contextmanager
    def replay(self) -> Iterator[None]:
        """Run the block from this random state; the outer random state is left as it was."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda, self.device)
            yield


def split_inputs(inputs: Inputs, chunk_size: int) -> list[dict[str, torch.Tensor]]:
    """Split every tensor of ``inputs`` (all ``(N, ...)``) into chunks of ``chunk_size`` rows."""
    if chunk_size <= 0:
        raise HybridIRError(f"chunk_size must be > 0, got {chunk_size}")
    sizes = {k: v.shape[0] for k, v in inputs.items()}
    if len(set(sizes.values())) != 1:
        raise HybridIRError(f"all inputs of one tower must have the same number of rows, got {sizes}")
    n = next(iter(sizes.values()))
    return [{k: v[i : i + chunk_size] for k, v in inputs.items()} for i in range(0, n, chunk_size)]


def _device_of(chunk: Inputs) -> torch.device:
    return next(iter(chunk.values())).device


def embed_chunks(
    encode: Encode,
    towers: Sequence[Inputs],
    chunk_size: int,
    *,
    autocast: AutocastFactory = contextlib.nullcontext,
) -> tuple[list[torch.Tensor], list[list[RngState]]]:
    """Step 1: embeddings ``(N_t, H)`` of every tower without a graph, and each chunk's random state."""
    reps: list[torch.Tensor] = []
    states: list[list[RngState]] = []
    with torch.no_grad():
        for tower in towers:
            chunks, tower_states = [], []
            for chunk in split_inputs(tower, chunk_size):
                tower_states.append(RngState.capture(_device_of(chunk)))
                with autocast():
                    chunks.append(encode(**chunk))
            reps.append(torch.cat(chunks, dim=0))
            states.append(tower_states)
    return reps, states


def cached_backward(
    encode: Encode,
    towers: Sequence[Inputs],
    loss_fn: Callable[..., torch.Tensor],
    chunk_size: int,
    *,
    autocast: AutocastFactory = contextlib.nullcontext,
    scale: Callable[[torch.Tensor], torch.Tensor] | None = None,
    sync_context: Callable[[bool], contextlib.AbstractContextManager] | None = None,
) -> torch.Tensor:
    """One GradCache step: accumulate ``dL/dtheta`` into the parameters' ``.grad``; return ``L``.

    Args:
        encode: ``encode(**chunk) -> (n, H)`` embeddings (e.g. ``BiEncoder.forward``).
        towers: one mapping of ``(N_t, ...)`` tensors per tower (``input_ids``, ``attention_mask``).
        loss_fn: ``loss_fn(E_1, ..., E_T) -> scalar`` on the full embeddings (fp32).
        chunk_size: rows per sub-batch.
        autocast: context factory entered around every encoder forward (mixed precision).
        scale: applied to the loss before its backward (``GradScaler.scale`` for fp16); the cached
            gradients, hence the parameter gradients, are then scaled the same way.
        sync_context: ``sync_context(is_last) -> context``, entered around each re-embedding backward
            (e.g. DDP's ``no_sync`` for all chunks but the last); default: none.

    Returns:
        The detached loss (unscaled).
    """
    reps, states = embed_chunks(encode, towers, chunk_size, autocast=autocast)
    leaves = [r.detach().float().requires_grad_() for r in reps]
    loss = loss_fn(*leaves)
    scaled = scale(loss) if scale is not None else loss
    grads = torch.autograd.grad(scaled, leaves, allow_unused=True)
    cached = [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads, strict=True)]

    jobs = [
        (chunk, state, grad)
        for tower, tower_states, tower_grad in zip(towers, states, cached, strict=True)
        for chunk, state, grad in zip(
            split_inputs(tower, chunk_size), tower_states, tower_grad.split(chunk_size), strict=True
        )
    ]
    for i, (chunk, state, grad) in enumerate(jobs):
        ctx = sync_context(i == len(jobs) - 1) if sync_context else contextlib.nullcontext()
        with ctx:
            with state.replay(), autocast():
                rep = encode(**chunk)
            torch.autograd.backward(rep, grad_tensors=grad.to(rep.dtype))
    return loss.detach()
