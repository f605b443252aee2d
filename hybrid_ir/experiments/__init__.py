"""The experiment layer: recorded reproduction runs, the paper's numbers and its claims.

- :mod:`~hybrid_ir.experiments.reproduce`: ``hybrid-ir reproduce`` (train + evaluate + record, resumable);
- :mod:`~hybrid_ir.experiments.paper`: the numbers the paper reports;
- :mod:`~hybrid_ir.experiments.claims`: the paper's claims as data, with verdicts.

Imports every layer below it.
"""

from __future__ import annotations

from hybrid_ir.experiments.claims import PAPER_CLAIMS, Claim, check_claims, verdict
from hybrid_ir.experiments.paper import paper_results
from hybrid_ir.experiments.reproduce import (
    ExperimentConfig,
    collect,
    load_experiment,
    run_experiment,
)

__all__ = [
    "PAPER_CLAIMS",
    "Claim",
    "ExperimentConfig",
    "check_claims",
    "collect",
    "load_experiment",
    "paper_results",
    "run_experiment",
    "verdict",
]
