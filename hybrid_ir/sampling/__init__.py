"""The batch layer: the paper's X-X-mono, X-Y and hybrid batches.

- :mod:`~hybrid_ir.sampling.batch`: what a sampler yields (:class:`Batch` of :class:`BatchItem` s);
- :mod:`~hybrid_ir.sampling.sampler`: :class:`HybridBatchSampler` and :func:`batch_triplets`;
- :mod:`~hybrid_ir.sampling.stats`: tables of sampled batches (composition heatmaps, exposure).

Imports the data layer at most.
"""

from __future__ import annotations

from hybrid_ir.sampling.batch import Batch, BatchItem, IndexBatch
from hybrid_ir.sampling.sampler import STRATEGIES, HybridBatchSampler, batch_triplets
from hybrid_ir.sampling.stats import describe_batches, exposure, pair_counts

__all__ = [
    "STRATEGIES",
    "Batch",
    "BatchItem",
    "HybridBatchSampler",
    "IndexBatch",
    "batch_triplets",
    "describe_batches",
    "exposure",
    "pair_counts",
]
