"""Where a chapter finds the recorded results (``results/``) and how it opens an experiment there."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hybrid_ir.errors import HybridIRError

#: The largest run file a chapter reads (a run's files are a few kB to a few MB).
MAX_RUN_FILE_BYTES = 64 * 2**20


def read_json(path: str | Path, *, lines: bool = False) -> Any:
    """One JSON file of a run folder (``lines``: a JSON-lines log, one object per non-blank line).

    A run folder may be a reader's own, so a file that is too large, unreadable or not JSON is a
    one-line :class:`HybridIRError` naming the file (and the line), never a traceback from ``json``.

    >>> read_json("no-such-run/run.json")
    Traceback (most recent call last):
    ...
    hybrid_ir.errors.HybridIRError: cannot read no-such-run/run.json: No such file or directory
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_RUN_FILE_BYTES:
            raise HybridIRError(f"{path} is over {MAX_RUN_FILE_BYTES // 2**20} MiB: not a run file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HybridIRError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not lines:
        return _parse(text, path)
    return [_parse(line, path, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _parse(text: str, path: Path, line: int | None = None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{path}, line {line}" if line else str(path)
        raise HybridIRError(f"{where} is not valid JSON ({exc.msg}): a damaged run file?") from None


def required(record: Any, path: str | Path, *keys: str) -> Any:
    """``record[keys[0]][keys[1]]...``, or a one-line error naming the file and the missing key.

    >>> required({"train_result": {"steps": 64}}, "run.json", "train_result", "steps")
    64
    >>> required({}, "run.json", "train_config", "lr")
    Traceback (most recent call last):
    ...
    hybrid_ir.errors.HybridIRError: run.json has no 'train_config.lr': not a run file of this package?
    """
    value = record
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise HybridIRError(f"{path} has no '{'.'.join(keys)}': not a run file of this package?")
        value = value[key]
    return value


def repo_root() -> Path | None:
    """The repository root when the chapter runs from a checkout (None in a bare Colab session)."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "results").is_dir() and (candidate / "hybrid_ir").is_dir():
            return candidate
    package_root = Path(__file__).resolve().parents[2]
    return package_root if (package_root / "results").is_dir() else None


def results_dir() -> Path:
    """The committed ``results/`` folder of the reproduction runs."""
    env = os.environ.get("HYBRID_IR_RESULTS_DIR")
    if env:
        return Path(env)
    root = repo_root()
    if root is None:
        raise HybridIRError(
            "the recorded results folder was not found; clone the repository (it holds results/) "
            "or set HYBRID_IR_RESULTS_DIR"
        )
    return root / "results"


def recorded_experiment(config: str, root: str | Path | None = None):
    """The experiment ``<root>/configs/<config>.yaml``, reading its runs from ``root`` (default: the
    book's :func:`results_dir`).

    Example: ``recorded_experiment("mlqa-to-xquad").folder`` is ``results/mlqa-r_to_xquad-r``.
    """
    from hybrid_ir.experiments.reproduce import load_experiment

    root = results_dir() if root is None else Path(root)
    exp = load_experiment(root / "configs" / f"{config}.yaml", results_root=root)
    return exp


#: The calibration grid's recorded output, written by ``benchmarks/calibration_grid.py``.
CALIBRATION_GRID = Path("benchmarks") / "results" / "calibration_grid.txt"


def calibration_coverage(path: str | Path | None = None, rule: str = "guarded") -> dict[str, Any] | None:
    """The lowest and highest 95% coverage of one df rule over the recorded calibration grid, and the
    seed counts the grid covers: what a chapter may say about the seed-aware test's calibration.

    Reads the table rows ``rule seeds paired min max cells width`` of ``path`` (default: the
    checkout's :data:`CALIBRATION_GRID`); None when the file is not there (a bare Colab session).

    >>> import tempfile
    >>> grid = Path(tempfile.mkdtemp()) / "grid.txt"
    >>> _ = grid.write_text("title\\n\\nrule seeds ...\\nguarded 3 False 0.9490 0.9617 60/60 1.0\\n"
    ...                     "guarded 6 True 0.9462 0.9555 60/60 1.0\\ndouble 3 True 0.9196 0.9892 40/60 0.9\\n")
    >>> calibration_coverage(grid)
    {'low': 0.9462, 'high': 0.9617, 'seeds': [3, 6]}
    >>> _ = grid.write_text("guarded 3 False 0.9490 0.9617 60/60 1.0\\nguarded 6 True 0.9462\\n")
    >>> calibration_coverage(grid)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hybrid_ir.errors.HybridIRError: ...: a 'guarded' row is not 'rule seeds paired min max cells width'
    """
    if path is None:
        root = repo_root()
        if root is None:
            return None
        path = root / CALIBRATION_GRID
    path = Path(path)
    if not path.is_file():
        return None
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r and r[0] == rule]
    if any(len(r) != 7 for r in rows):
        raise HybridIRError(f"{path}: a '{rule}' row is not 'rule seeds paired min max cells width'")
    if not rows:
        raise HybridIRError(f"{path} has no row of the '{rule}' rule: not the calibration grid's output?")
    try:
        low, high = min(float(r[3]) for r in rows), max(float(r[4]) for r in rows)
        seeds = sorted({int(r[1]) for r in rows})
    except ValueError:
        raise HybridIRError(f"{path}: a '{rule}' row is not 'rule seeds paired min max cells width'") from None
    return {"low": low, "high": high, "seeds": seeds}
