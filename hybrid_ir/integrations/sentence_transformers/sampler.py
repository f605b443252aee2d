"""The paper's X-X-mono / X-Y / hybrid batches as a ``SentenceTransformerTrainer`` batch sampler.

:class:`HybridSTBatchSampler` draws its batches with :class:`~hybrid_ir.sampling.HybridBatchSampler`
(every rule of the project's sampler holds: one dataset per batch chosen by size, the type coin, one
language per mono batch, a language pair per triplet in cross batches, never a parallel id twice in
a batch) and yields each batch as the row numbers of a :func:`~.data.triplet_dataset`. Pass
:func:`hybrid_batch_sampler` (a factory) to ``SentenceTransformerTrainingArguments(batch_sampler=...)``;
the trainer calls it with its dataset, per-device batch size and seed.

**Several processes (DDP / accelerate).** Accelerate shards a batch sampler with ``BatchSamplerShard``:
without ``split_batches`` (the default), process r of n takes batches r, n + r, 2n + r, ... of the
sampler. A sampler that drew one batch per yield would then give the n processes n independently
drawn batches in the same optimizer step, each of its own type (with alpha = 0.5 and two processes,
half of the steps would mix a mono and a cross batch). This sampler therefore draws one *global*
batch of ``n * batch_size`` triplets and yields its n contiguous slices one after another, so in
every step all processes train on slices of the same batch: same dataset, same type, same mono
language, and the union of the slices is the single-process batch of size ``n * batch_size``
(exactly the slices ``HybridBatchSampler(num_replicas=n, rank=r)`` gives). With
``split_batches=True`` accelerate itself cuts each yielded batch into n slices; the sampler then
draws batches of the full size and yields them whole (``split_batches=True`` in the factory).
Each process computes the loss over its own slice, so in-batch negatives come from the slice only
unless the loss gathers across devices (``MultipleNegativesRankingLoss(gather_across_devices=True)``).

**Gradient accumulation.** Each micro-batch is one sampler batch (one type); an optimizer step then
averages the gradients of ``gradient_accumulation_steps`` batches of possibly different types.

**Epochs and resume.** ``set_epoch`` (called by the trainer each epoch) selects the epoch's order;
every iteration starts at the epoch's first batch and the trainer skips the batches already seen
when it resumes from a checkpoint. ``len(sampler)`` = ``batches_per_epoch * n``.

Example::

    >>> rows = triplet_dataset(train_set)                                        # doctest: +SKIP
    >>> args = SentenceTransformerTrainingArguments(                              # doctest: +SKIP
    ...     output_dir="out", per_device_train_batch_size=32,
    ...     batch_sampler=hybrid_batch_sampler(rows, strategy="hybrid", alpha=0.5))
    >>> SentenceTransformerTrainer(model=model, args=args, train_dataset=rows.dataset,  # doctest: +SKIP
    ...     loss=MultipleNegativesRankingLoss(model)).train()
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hybrid_ir.errors import HybridIRError
from hybrid_ir.integrations.sentence_transformers.data import TripletRows
from hybrid_ir.sampling import Batch, HybridBatchSampler

__all__ = ["HybridBatchSamplerFactory", "HybridSTBatchSampler", "hybrid_batch_sampler", "process_count"]


def process_count() -> int:
    """Processes that will shard the data loader: accelerate's state, else torch.distributed, else 1."""
    try:
        from accelerate.state import PartialState

        if PartialState._shared_state:  # initialised (the trainer has made its Accelerator)
            return int(PartialState().num_processes)
    except ImportError:
        pass
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return 1


class HybridSTBatchSampler:
    """Row-index batches of ``rows`` in the project's mono / cross / hybrid order (see module doc).

    ``batch_size`` is one process's batch; ``num_processes`` (n) the processes accelerate shards this
    sampler over by whole batches (1 with ``split_batches``); the other arguments are
    :class:`~hybrid_ir.sampling.HybridBatchSampler`'s, which draws global batches of
    ``n * batch_size``. Yields lists of row numbers; :meth:`iter_batches` gives the same batches as
    :class:`~hybrid_ir.sampling.Batch` es (types, languages, parallel ids) in the same order.
    """

    def __init__(
        self,
        rows: TripletRows,
        batch_size: int,
        strategy: Literal["mono", "cross", "hybrid"] = "hybrid",
        alpha: float = 0.5,
        dataset_weights: Literal["size", "uniform"] | Sequence[float] = "size",
        seed: int = 0,
        batches_per_epoch: int | None = None,
        num_processes: int = 1,
        batch_schedule: Literal["coin", "exact"] = "coin",
    ) -> None:
        if not isinstance(rows, TripletRows):
            raise HybridIRError(f"rows must come from triplet_dataset(...), got {type(rows).__name__}")
        for name, value in (("batch_size", batch_size), ("num_processes", num_processes)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise HybridIRError(f"{name} must be a positive integer, got {value!r}")
        self.rows = rows
        self.batch_size = int(batch_size)
        self.num_processes = int(num_processes)
        self.drop_last = True  # every batch is full; accelerate reads this (no wrap-around padding)
        self.sampler = HybridBatchSampler(
            rows.sets, self.batch_size * self.num_processes, strategy=strategy, alpha=alpha,
            dataset_weights=dataset_weights, seed=seed, batches_per_epoch=batches_per_epoch,
            batch_schedule=batch_schedule,
        )
        if tuple(self.sampler.dataset_languages) != rows.languages:
            raise HybridIRError("rows and sampler disagree on the languages: rebuild rows from the same sets")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order (its own random streams) from its first batch."""
        self.sampler.set_epoch(epoch)
        self.epoch = self.sampler.epoch

    def __len__(self) -> int:
        return len(self.sampler) * self.num_processes

    def _global_batches(self) -> Iterator[Any]:
        self.sampler.load_state_dict({"epoch": self.epoch, "position": 0})
        return self.sampler.iter_indices()

    def __iter__(self) -> Iterator[list[int]]:
        b = self.batch_size
        for batch in self._global_batches():
            rows = self.rows.rows_of(batch.dataset, batch.examples, batch.query_langs, batch.passage_langs)
            for r in range(self.num_processes):
                yield rows[r * b:(r + 1) * b].tolist()

    def iter_batches(self) -> Iterator[Batch]:
        """The global batches of this epoch as :class:`~hybrid_ir.sampling.Batch` es (items in row order)."""
        self.sampler.load_state_dict({"epoch": self.epoch, "position": 0})
        yield from self.sampler


@dataclass(frozen=True)
class HybridBatchSamplerFactory:
    """What ``SentenceTransformerTrainingArguments(batch_sampler=...)`` calls (made by :func:`hybrid_batch_sampler`).

    The trainer calls it as ``factory(dataset, batch_size=..., drop_last=..., valid_label_columns=...,
    generator=..., seed=...)``; ``dataset`` must have the rows of ``rows`` (the trainer may add
    prompt columns, so only its length is checked); ``seed`` is the training arguments' seed unless
    the factory has its own.
    """

    rows: TripletRows
    strategy: Literal["mono", "cross", "hybrid"] = "hybrid"
    alpha: float = 0.5
    dataset_weights: Literal["size", "uniform"] | tuple[float, ...] = "size"
    seed: int | None = None
    batches_per_epoch: int | None = None
    num_processes: int | None = None
    split_batches: bool = False

    def __call__(self, dataset: Any, batch_size: int, drop_last: bool = True,
                 valid_label_columns: Any = None, generator: Any = None, seed: int | None = 0,
                 ) -> HybridSTBatchSampler:
        if len(dataset) != len(self.rows):
            raise HybridIRError(
                f"the trainer's train_dataset has {len(dataset)} rows but the sampler's rows have "
                f"{len(self.rows)}: pass rows.dataset as train_dataset"
            )
        if self.split_batches:
            n = 1
        else:
            n = self.num_processes if self.num_processes is not None else process_count()
        return HybridSTBatchSampler(
            self.rows, batch_size, strategy=self.strategy, alpha=self.alpha,
            dataset_weights=self.dataset_weights, seed=self.seed if self.seed is not None else int(seed or 0),
            batches_per_epoch=self.batches_per_epoch, num_processes=n,
        )


def hybrid_batch_sampler(
    rows: TripletRows,
    strategy: Literal["mono", "cross", "hybrid"] = "hybrid",
    alpha: float = 0.5,
    dataset_weights: Literal["size", "uniform"] | Sequence[float] = "size",
    seed: int | None = None,
    batches_per_epoch: int | None = None,
    num_processes: int | None = None,
    split_batches: bool = False,
) -> HybridBatchSamplerFactory:
    """The ``batch_sampler`` argument for ``SentenceTransformerTrainingArguments``.

    ``num_processes``: None reads it when the trainer builds its data loader (:func:`process_count`);
    ``split_batches``: set it when accelerate's ``split_batches`` is on (then the per-device batch size
    is the global one and accelerate cuts every batch itself). The rest: :class:`HybridSTBatchSampler`.
    The sampler's arguments are checked here, before training starts.
    """
    weights = dataset_weights if isinstance(dataset_weights, str) else tuple(dataset_weights)
    factory = HybridBatchSamplerFactory(rows, strategy, alpha, weights, seed, batches_per_epoch,
                                        num_processes, split_batches)
    HybridSTBatchSampler(rows, 1, strategy, alpha, weights, seed or 0, batches_per_epoch)  # fail early
    return factory
