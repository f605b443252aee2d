"""Executed chapters for the notebook and HTML tests.

``make book`` executes every chapter into ``_build/src/notebooks`` and records its numbers in
``_build/records``. The tests reuse those copies when they are newer than the chapter and the
package sources (so CI executes each chapter once); otherwise they execute the chapter themselves
with papermill in the ``ci`` profile.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _newest_source_mtime() -> float:
    files = list((ROOT / "hybrid_ir").rglob("*.py")) + list((ROOT / "notebooks").glob("*.ipynb"))
    return max(f.stat().st_mtime for f in files)


def executed_chapter(name: str, tmp_root: Path) -> tuple[dict, dict]:
    """(executed notebook as JSON, recorded numbers) of a chapter, executing it if needed."""
    built = BUILD / "src" / "notebooks" / f"{name}.ipynb"
    record = BUILD / "records" / f"{name}.json"
    execution = BUILD / "execution.json"
    fresh = (
        built.is_file()
        and record.is_file()
        and execution.is_file()
        and json.loads(execution.read_text()).get("profile") == "ci"
        and f"{name}.ipynb" in json.loads(execution.read_text()).get("seconds", {})
        and built.stat().st_mtime >= _newest_source_mtime()
    )
    if not fresh:
        import papermill as pm

        records = tmp_root / "records"
        os.environ["HYBRID_IR_RECORD_DIR"] = str(records)
        built = tmp_root / f"{name}.ipynb"
        pm.execute_notebook(
            str(ROOT / "notebooks" / f"{name}.ipynb"), str(built), parameters={"profile": "ci"},
            kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False,
        )
        record = records / f"{name}.json"
    return json.loads(built.read_text(encoding="utf-8")), json.loads(record.read_text(encoding="utf-8"))
