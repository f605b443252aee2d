"""Where and in which number format a model runs: device and precision, chosen once for every caller.

Training, encoding, evaluation, ``reproduce``, the book helpers and MIRACL all ask the same two
questions and get the same answers from here:

- **device** ``auto``: the CUDA GPU when there is one, else the CPU (``cpu`` / ``cuda`` / ``cuda:1``
  force one);
- **precision** ``auto``: what is fast *and* keeps the numbers. The answer differs by purpose:

  ==========  ===========================================  =====================================
  purpose     GPU                                          CPU
  ==========  ===========================================  =====================================
  training    bf16 autocast (fp16 + loss scaling before    fp32 (the recorded runs; bf16 only
              compute capability 8)                        when asked for)
  inference   bf16 autocast (fp16 before capability 8)     bf16 autocast when the CPU has native
                                                           bf16 (AVX-512 BF16 / AMX), else fp32
  ==========  ===========================================  =====================================

  The CPU inference rule comes from ``benchmarks/bench_precision.py`` (recorded in
  ``benchmarks/results/precision_cpu.txt``): on this project's 2-core CPU (a Xeon with AVX-512 BF16
  and AMX), a full XQuAD-R evaluation of multilingual-e5-small ran 2.37x faster under bf16 autocast
  than in fp32, with every mono / cross / multilingual mAP within 0.0005 of fp32. Without native
  bf16 the CPU emulates it, so ``auto`` keeps fp32 there.

  ``auto`` is asked for, never a default of the Python API: ``BiEncoder.encode``,
  ``encode_dataset`` and the ``evaluate_*_model`` functions encode in fp32 unless told otherwise (as
  sentence-transformers does), so their vectors are the same on every machine. The CLI
  (``--precision auto``) and the book choose ``auto`` and print and record what it resolved to.

Autocast keeps the weights in fp32 and runs the matrix products in the low precision; the pooled
embeddings are returned as float32 either way.

Example::

    >>> resolve_precision("auto", torch.device("cpu"), purpose="training")
    'fp32'
    >>> resolve_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from functools import partial
from typing import Literal

import torch

from hybrid_ir.errors import HybridIRError

__all__ = [
    "DEVICES",
    "PRECISIONS",
    "autocast_factory",
    "cpu_has_native_bf16",
    "resolve_device",
    "resolve_precision",
]

#: What ``--device`` accepts (``cuda:N`` too).
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
#: What ``--precision`` accepts.
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")

Purpose = Literal["training", "inference"]


def resolve_device(requested: str | torch.device | None = "auto") -> torch.device:
    """``auto`` (or ``None``) -> ``cuda`` when a CUDA GPU is visible, else ``cpu``; others as given.

    A CUDA device asked for on a machine without one is a one-line error, not a crash later.
    """
    if isinstance(requested, torch.device):
        requested = str(requested)
    name = (requested or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise HybridIRError(f"device '{name}' asked for, but torch sees no CUDA GPU here; use auto or cpu")
        try:
            device = torch.device(name)
        except RuntimeError as exc:
            raise HybridIRError(f"device '{name}' is not a valid torch device: {exc}") from None
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise HybridIRError(f"device '{name}' asked for, but this machine has {count} CUDA GPU(s): "
                                f"cuda:0 to cuda:{count - 1}")
        return device
    raise HybridIRError(f"unknown device '{requested}'; choose auto, cpu, cuda or cuda:N")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 matrix products natively (x86 AVX-512 BF16 or AMX-BF16).

    Read from ``/proc/cpuinfo`` (Linux); elsewhere False, which only means ``auto`` picks fp32.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_precision(requested: str, device: torch.device, purpose: Purpose = "training") -> str:
    """The precision actually used: ``fp32``, ``bf16`` or ``fp16`` (see the module's table for ``auto``).

    >>> resolve_precision("fp32", torch.device("cpu"))
    'fp32'
    """
    if requested not in PRECISIONS:
        raise HybridIRError(f"unknown precision '{requested}'; choose one of {', '.join(PRECISIONS)}")
    if device.type != "cuda":
        if requested == "fp16":
            raise HybridIRError("precision fp16 needs a CUDA GPU; use fp32 (or bf16) on the CPU")
        if requested != "auto":
            return requested
        if purpose == "inference" and device.type == "cpu" and cpu_has_native_bf16():
            return "bf16"
        return "fp32"
    major, _ = torch.cuda.get_device_capability(device)
    if requested == "auto":
        return "bf16" if major >= 8 else "fp16"
    if requested == "bf16" and major < 8:
        raise HybridIRError("this GPU has no native bf16 (compute capability < 8); use precision fp16 or auto")
    return requested


def autocast_factory(precision: str, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of the context that runs a forward pass in ``precision`` on ``device``.

    ``fp32`` -> no autocast; ``bf16`` / ``fp16`` -> ``torch.autocast`` with that dtype.
    """
    if precision == "fp32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return partial(torch.autocast, device_type=device.type, dtype=dtype)
