"""Where things live (data, cache) and whether the Hugging Face Hub may be contacted.

Environment variables read here:

- ``HYBRID_IR_DATA_DIR``: a folder laid out like ``../shared/data`` (``lareqa/xquad-r/<lang>.json``, ...).
  When set, data is read from there and never downloaded.
- ``HYBRID_IR_CACHE_DIR``: where downloads and converted models go (default ``~/.cache/hybrid_ir``).
- ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``: when truthy, asking for a Hub model fails at once with a
  clear message instead of hanging in DNS retries.
"""

from __future__ import annotations

import os
from pathlib import Path

TRUTHY = {"1", "true", "yes", "on"}


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUTHY


def hub_offline() -> bool:
    """True when the environment forbids contacting the Hugging Face Hub."""
    return _truthy("HF_HUB_OFFLINE") or _truthy("TRANSFORMERS_OFFLINE")


def cache_dir() -> Path:
    """The package's cache folder (created on demand)."""
    root = os.environ.get("HYBRID_IR_CACHE_DIR")
    path = Path(root) if root else Path.home() / ".cache" / "hybrid_ir"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir_from_env() -> Path | None:
    """The folder named by ``HYBRID_IR_DATA_DIR``, or None when unset."""
    value = os.environ.get("HYBRID_IR_DATA_DIR")
    return Path(value).expanduser() if value else None


def cpu_model() -> str:
    """This machine's CPU as /proc/cpuinfo names it ("Intel(R) Xeon(R) Processor", "AMD EPYC 9B14"), or
    "unknown CPU" where there is no /proc/cpuinfo. Recorded with every run: the book's machines vary."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def in_colab() -> bool:
    """True inside Google Colab."""
    return "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ
