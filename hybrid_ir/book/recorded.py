"""Where a chapter finds the recorded results (``results/``) and how it opens an experiment there."""

from __future__ import annotations

import os
from pathlib import Path

from hybrid_ir.errors import HybridIRError


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
