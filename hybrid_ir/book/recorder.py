"""Numbers a chapter states in its text, saved so that tests can check them against the package.

Numbers a chapter states are recorded with :class:`Recorder`; tests read them back and check them
against the package's own computation.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any


class Recorder:
    """Numbers a chapter states, saved as ``$HYBRID_IR_RECORD_DIR/<chapter>.json`` (when set).

    Example::

        rec = Recorder("01_data")
        rec["xquad_r_questions"] = 13090
    """

    def __init__(self, chapter: str) -> None:
        self.chapter = chapter
        self.values: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = _plain(value)
        self._save()

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def update(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            self.values[k] = _plain(v)
        self._save()

    def _save(self) -> None:
        folder = os.environ.get("HYBRID_IR_RECORD_DIR")
        if not folder:
            return
        from hybrid_ir.atomic import write_json

        write_json(Path(folder) / f"{self.chapter}.json", self.values)


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and dataclasses as plain JSON values."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
