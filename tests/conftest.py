"""Test-wide settings: never touch the network, find the shared benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
_SHARED = ROOT.parent / "shared" / "data"
if "HYBRID_IR_DATA_DIR" not in os.environ and _SHARED.is_dir():
    os.environ["HYBRID_IR_DATA_DIR"] = str(_SHARED)


def _data_dir() -> Path | None:
    value = os.environ.get("HYBRID_IR_DATA_DIR")
    return Path(value) if value and Path(value).is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real benchmark data (../shared/data or $HYBRID_IR_DATA_DIR); skips when absent."""
    path = _data_dir()
    if path is None:
        pytest.skip("benchmark data not found: set HYBRID_IR_DATA_DIR (see README)")
    return path
