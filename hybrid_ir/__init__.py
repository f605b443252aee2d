"""hybrid_ir: hybrid batch training for multilingual dense retrieval (arXiv 2408.10536).

The package holds what the book's chapters compute with:

- :mod:`hybrid_ir.data.sources` and :mod:`hybrid_ir.data.lareqa`: the LAReQA benchmarks (XQuAD-R, MLQA-R) as typed records;
- :mod:`hybrid_ir.data.examples`: training triplets per parallel question, article-level splits;
- :mod:`hybrid_ir.sampling.sampler`: the X-X-mono, X-Y and hybrid batch samplers;
- :mod:`hybrid_ir.modeling.encoders`: loading encoders (Hub, local, offline multilingual-e5-small, tiny test models);
  :mod:`hybrid_ir.modeling.st_folder`: reading sentence-transformers folders faithfully;
- :mod:`hybrid_ir.modeling.biencoder`, :mod:`hybrid_ir.training.loss`, :mod:`hybrid_ir.training.trainer`: the bi-encoder and its training;
- :mod:`hybrid_ir.training.gradcache`, :mod:`hybrid_ir.training.checkpoint`, :mod:`hybrid_ir.training.distributed`,
  :mod:`hybrid_ir.training.config`: large batches on small GPUs, exact resume, torchrun, named YAML configurations;
- :mod:`hybrid_ir.evaluation.metrics`, :mod:`hybrid_ir.evaluation.retrieval`, :mod:`hybrid_ir.evaluation.grid`,
  :mod:`hybrid_ir.evaluation.bias`: LAReQA metrics, exact ranks over the full pool, language bias;
- :mod:`hybrid_ir.evaluation.miracl`, :mod:`hybrid_ir.evaluation.significance`, :mod:`hybrid_ir.experiments.paper`: MIRACL, paired
  tests, the paper's tables;
- :mod:`hybrid_ir.experiments.reproduce`, :mod:`hybrid_ir.book.profiles`, :mod:`hybrid_ir.book.plotting`: the experiments and
  the helpers of the book's chapters;
- :mod:`hybrid_ir.integrations.sentence_transformers`: the batch sampler, training rows and LAReQA evaluator for
  ``SentenceTransformerTrainer`` (optional extra ``st``; never imported by ``import hybrid_ir``);
- :mod:`hybrid_ir.cli`: the ``hybrid-ir`` command.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["HybridIRError", "__version__"]

from hybrid_ir.errors import HybridIRError
