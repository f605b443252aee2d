"""The training layer: configuration, loss and the loop that fine-tunes a bi-encoder.

- :mod:`~hybrid_ir.training.config`: :class:`TrainConfig` and the named YAML configurations;
- :mod:`~hybrid_ir.training.loss`: InfoNCE (paper form and in-batch form);
- :mod:`~hybrid_ir.training.gradcache`: large batches in small memory, identical gradients;
- :mod:`~hybrid_ir.training.distributed`: torchrun helpers (gathered negatives, one batch type per step);
- :mod:`~hybrid_ir.training.checkpoint`: verified checkpoints and exact resume;
- :mod:`~hybrid_ir.training.trainer`: :func:`train`, in named phases.

Imports the data, modeling and sampling layers.
"""

from __future__ import annotations

from hybrid_ir.training.config import TrainConfig, load_config, save_config
from hybrid_ir.training.loss import info_nce
from hybrid_ir.training.trainer import TrainingDiverged, TrainResult, train

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "info_nce",
    "load_config",
    "save_config",
    "train",
]
