"""What a training run may do with its output folder: start, resume, replace, or nothing at all.

A run folder holds ``config.yaml``, ``metrics.jsonl``, ``checkpoints/``, and once the run has finished
``model/``, ``exposure.json`` and ``result.json`` (written last: its presence marks a finished run).
:func:`prepare_run_folder` decides, before any training, from what is there:

========================  =================  ===================================  =====================
folder holds              ``resume``         ``overwrite``                        neither
========================  =================  ===================================  =====================
nothing of a run          start              start                                start
a finished run            nothing to do *    empty it, start                      refused
an unfinished run         continue **        empty it, start                      refused
========================  =================  ===================================  =====================

\\* if it was trained with the same configuration (config hash), else refused; the recorded result
is returned and nothing is written. \\** from its latest checkpoint; one without a checkpoint (killed
before the first) starts again when its ``config.yaml`` has the same hash, else refused.
``overwrite`` empties the run's files *before* the new run writes anything, so an interrupted
overwrite never leaves old weights beside a new configuration. Files that are not a run's are never
touched. Hidden temporary folders left by a kill during an export are removed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

from hybrid_ir.errors import HybridIRError
from hybrid_ir.training import checkpoint as ckpt

RUN_FILES: tuple[str, ...] = ("result.json", "model", "exposure.json", "metrics.jsonl", "checkpoints", "config.yaml")
FolderState = Literal["start", "resume", "finished"]


def recorded_hash(out: Path) -> str | None:
    """The config hash of the run in ``out`` (from ``result.json``, else ``config.yaml``), or None."""
    result = out / "result.json"
    if result.is_file():
        try:
            return str(json.loads(result.read_text(encoding="utf-8"))["config_hash"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            return None
    config = out / "config.yaml"
    if config.is_file():
        from hybrid_ir.training.config import load_config

        try:
            return load_config(str(config)).hash()
        except HybridIRError:
            return None
    return None


def is_finished(out: Path) -> bool:
    """``result.json`` exists and parses (a run writes it last)."""
    try:
        return isinstance(json.loads((out / "result.json").read_text(encoding="utf-8")), dict)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False


def remove_stale_temporaries(out: Path) -> None:
    """Hidden folders a kill during an export leaves (``.model.*.tmp``, ``.model.old``)."""
    if not out.is_dir():
        return
    for child in out.iterdir():
        if child.is_dir() and child.name.startswith(".model.") and child.name.endswith((".tmp", ".old")):
            shutil.rmtree(child, ignore_errors=True)


def empty_run_folder(out: Path) -> None:
    """Delete the run's own files (never anything else in the folder)."""
    for name in RUN_FILES:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    remove_stale_temporaries(out)


def prepare_run_folder(out: Path, config_hash: str, *, resume: bool, overwrite: bool) -> FolderState:
    """Decide (and, for ``overwrite``, clear) as the module docstring's table says."""
    out = Path(out)
    present = [name for name in RUN_FILES if (out / name).exists()]
    if not present:
        remove_stale_temporaries(out)
        return "start"
    if overwrite:
        empty_run_folder(out)
        return "start"
    recorded = recorded_hash(out)
    hint = "pass --overwrite (overwrite=True) to replace it, or choose another output_dir"
    if is_finished(out):
        if resume and recorded == config_hash:
            return "finished"
        other = "" if recorded == config_hash else f" with another configuration (config hash {recorded})"
        raise HybridIRError(f"{out} already holds a finished run{other}; {hint}")
    ckpt.repair_pointers(out / "checkpoints")
    latest = ckpt.pointer_target(out / "checkpoints", "latest") if (out / "checkpoints").is_dir() else None
    if latest is not None:
        if resume:
            remove_stale_temporaries(out)
            return "resume"
        raise HybridIRError(
            f"{out} already holds a run (checkpoint {latest.name}); pass resume=True (--resume) to continue "
            f"it, overwrite=True (--overwrite) to start again, or choose another output_dir"
        )
    if resume and recorded == config_hash:
        empty_run_folder(out)  # an unfinished run without a checkpoint: the same run from the start
        return "start"
    raise HybridIRError(f"{out} already holds a run's files ({', '.join(present)}); {hint}")
