"""The data layer (lowest): everything read from disk before a model exists.

- :mod:`~hybrid_ir.data.sources`: pinned public sources of the benchmark files, SHA-256 checks, downloads;
- :mod:`~hybrid_ir.data.lareqa`: XQuAD-R / MLQA-R as typed records (questions, sentence candidates);
- :mod:`~hybrid_ir.data.triplets`: the training-data types (:class:`TrainingSet` of :class:`TrainingExample` s);
- :mod:`~hybrid_ir.data.examples`: training triplets per parallel question, article-level splits, and
  :func:`load_training_set`, which resolves every kind of ``datasets:`` entry;
- :mod:`~hybrid_ir.data.parallel`: your own data (JSONL / JSON / Parquet, Hugging Face datasets) and its schema;
- :mod:`~hybrid_ir.data.mmarco`: mMARCO's parallel training triplets, streamed with a size cap;
- :mod:`~hybrid_ir.data.tatoeba`: Tatoeba bitext test pairs (XTREME-R's sentence-retrieval task);
- :mod:`~hybrid_ir.data.languages`: language codes and names.

Imports only the top-level utilities (:mod:`hybrid_ir.errors`, :mod:`hybrid_ir.atomic`, :mod:`hybrid_ir.env`).
"""

from __future__ import annotations

from hybrid_ir.data.examples import (
    TrainingExample,
    TrainingSet,
    Triplet,
    build_examples,
    load_training_set,
    shared_articles,
    split_by_article,
)
from hybrid_ir.data.languages import Language, language_name
from hybrid_ir.data.lareqa import (
    Candidate,
    LareqaDataset,
    Question,
    dataset_languages,
    load_lareqa,
)
from hybrid_ir.data.mmarco import load_mmarco
from hybrid_ir.data.parallel import load_hf_dataset, load_parallel_file, training_set_from_rows
from hybrid_ir.data.sources import data_checksums, resolve_file, sha256_file
from hybrid_ir.data.tatoeba import TATOEBA_LANGUAGES, TatoebaPairs, load_tatoeba

__all__ = [
    "TATOEBA_LANGUAGES",
    "Candidate",
    "Language",
    "LareqaDataset",
    "Question",
    "TatoebaPairs",
    "TrainingExample",
    "TrainingSet",
    "Triplet",
    "build_examples",
    "data_checksums",
    "dataset_languages",
    "language_name",
    "load_hf_dataset",
    "load_lareqa",
    "load_mmarco",
    "load_parallel_file",
    "load_tatoeba",
    "load_training_set",
    "resolve_file",
    "sha256_file",
    "shared_articles",
    "split_by_article",
    "training_set_from_rows",
]
