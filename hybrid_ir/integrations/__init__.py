"""Layer 7: bridges from ``hybrid_ir`` to the libraries researchers already train with.

- :mod:`~hybrid_ir.integrations.sentence_transformers`: the X-X-mono / X-Y / hybrid batches as a
  ``SentenceTransformerTrainer`` batch sampler, the training data as a ``datasets.Dataset``, and a
  LAReQA evaluator (``pip install "hybrid-ir[st]"``).

Imports every layer below it (data to experiments), never ``book`` or the command line. Nothing here
is imported by ``import hybrid_ir``: the optional libraries are needed only when a bridge is used.
"""
