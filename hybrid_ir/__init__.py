"""hybrid_ir: hybrid batch training for multilingual dense retrieval (arXiv 2408.10536).

The package holds what the book's chapters compute with:

- :mod:`hybrid_ir.sources` and :mod:`hybrid_ir.lareqa`: the LAReQA benchmarks (XQuAD-R, MLQA-R) as typed records;
- :mod:`hybrid_ir.examples`: training triplets per parallel question, article-level splits;
- :mod:`hybrid_ir.sampling`: the X-X-mono, X-Y and hybrid batch samplers;
- :mod:`hybrid_ir.encoders`: loading encoders (Hub, local, offline multilingual-e5-small, tiny test models);
- :mod:`hybrid_ir.model`, :mod:`hybrid_ir.loss`, :mod:`hybrid_ir.trainer`: the bi-encoder and its training;
- :mod:`hybrid_ir.gradcache`, :mod:`hybrid_ir.checkpoint`, :mod:`hybrid_ir.distributed`,
  :mod:`hybrid_ir.config`: large batches on small GPUs, exact resume, torchrun, YAML profiles;
- :mod:`hybrid_ir.metrics`, :mod:`hybrid_ir.retrieval`, :mod:`hybrid_ir.evaluation`,
  :mod:`hybrid_ir.bias`: LAReQA metrics, exact ranks over the full pool, language bias;
- :mod:`hybrid_ir.miracl`, :mod:`hybrid_ir.significance`, :mod:`hybrid_ir.paper`: MIRACL, paired
  tests, the paper's tables;
- :mod:`hybrid_ir.reproduce`, :mod:`hybrid_ir.book`, :mod:`hybrid_ir.plotting`: the experiments and
  the helpers of the book's chapters;
- :mod:`hybrid_ir.cli`: the ``hybrid-ir`` command.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["HybridIRError", "__version__"]

from hybrid_ir.errors import HybridIRError
