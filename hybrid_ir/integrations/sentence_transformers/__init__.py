"""sentence-transformers: train with ``SentenceTransformerTrainer`` on the paper's batches, evaluate LAReQA.

- :mod:`~.data`: :func:`triplet_dataset`, the training sets as a ``datasets.Dataset`` (one row per
  example and language pair) with the index the sampler needs (:class:`TripletRows`);
- :mod:`~.sampler`: :func:`hybrid_batch_sampler` for ``SentenceTransformerTrainingArguments(batch_sampler=...)``,
  yielding exactly :class:`~hybrid_ir.sampling.HybridBatchSampler`'s X-X-mono / X-Y / hybrid batches
  (all processes of a multi-GPU run train on slices of the same batch);
- :mod:`~.evaluator`: :class:`LareqaEvaluator`, mono / cross / multilingual mAP and rank distance
  during training.

Needs ``pip install "hybrid-ir[st]"`` (sentence-transformers 6+, accelerate). A model trained this way
is a sentence-transformers folder that :meth:`hybrid_ir.modeling.BiEncoder.from_pretrained` reads
faithfully (:mod:`hybrid_ir.modeling.st_folder`), so the package's full evaluation runs on it too.

Example::

    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from hybrid_ir.data import load_lareqa, load_training_set
    from hybrid_ir.integrations.sentence_transformers import LareqaEvaluator, hybrid_batch_sampler, triplet_dataset

    rows = triplet_dataset(load_training_set("mlqa-r", exclude_overlap_with=["xquad-r"]))
    model = SentenceTransformer("intfloat/multilingual-e5-small")
    args = SentenceTransformerTrainingArguments(
        output_dir="out", per_device_train_batch_size=32, max_steps=500,
        batch_sampler=hybrid_batch_sampler(rows, strategy="hybrid", alpha=0.5),
        prompts={"anchor": "query: ", "positive": "passage: ", "negative": "passage: "},
        eval_strategy="steps", eval_steps=100)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=rows.dataset,
                               loss=MultipleNegativesRankingLoss(model),
                               evaluator=LareqaEvaluator(load_lareqa("xquad-r"))).train()
"""

from __future__ import annotations

from hybrid_ir.integrations.sentence_transformers.data import (
    COLUMNS,
    TripletRows,
    column_prompts,
    triplet_dataset,
)
from hybrid_ir.integrations.sentence_transformers.evaluator import (
    LareqaEvaluator,
    SentenceTransformerEncoder,
)
from hybrid_ir.integrations.sentence_transformers.sampler import (
    HybridBatchSamplerFactory,
    HybridSTBatchSampler,
    hybrid_batch_sampler,
    process_count,
)

__all__ = [
    "COLUMNS",
    "HybridBatchSamplerFactory",
    "HybridSTBatchSampler",
    "LareqaEvaluator",
    "SentenceTransformerEncoder",
    "TripletRows",
    "column_prompts",
    "hybrid_batch_sampler",
    "process_count",
    "triplet_dataset",
]
