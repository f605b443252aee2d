"""The evaluation layer: ranks, metrics, the LAReQA grid, language bias, MIRACL, significance.

- :mod:`~hybrid_ir.evaluation.retrieval`: encoding, exact ranks over the full pool, FAISS search;
- :mod:`~hybrid_ir.evaluation.metrics`: AP, R@k, nDCG, rank distance (formulas in the docstrings);
- :mod:`~hybrid_ir.evaluation.grid`: the LAReQA mono / cross / multi grid (:class:`LareqaResult`);
- :mod:`~hybrid_ir.evaluation.bias`: language bias in the multilingual pool;
- :mod:`~hybrid_ir.evaluation.miracl`: MIRACL topics, qrels and corpora, nDCG@10 / Recall@100;
- :mod:`~hybrid_ir.evaluation.tatoeba`: Tatoeba bitext retrieval (acc@1 both directions);
- :mod:`~hybrid_ir.evaluation.significance`: paired tests over questions, and over seeds and questions together.

Imports the data and modeling layers (never training).
"""

from __future__ import annotations

from hybrid_ir.evaluation.bias import bias_summary, language_share, rank_distance_by_language
from hybrid_ir.evaluation.grid import LareqaResult, evaluate_lareqa, evaluate_lareqa_model
from hybrid_ir.evaluation.metrics import average_precision, ndcg_at_k, rank_distance, recall_at_k
from hybrid_ir.evaluation.miracl import MiraclResult, evaluate_miracl, evaluate_miracl_model
from hybrid_ir.evaluation.retrieval import encode_dataset, relevant_ranks_exact
from hybrid_ir.evaluation.significance import (
    holm,
    paired_bootstrap_ci,
    paired_randomisation_test,
    seed_question_test,
    two_level_bootstrap,
)
from hybrid_ir.evaluation.tatoeba import bitext_accuracy, evaluate_tatoeba_model

__all__ = [
    "LareqaResult",
    "MiraclResult",
    "average_precision",
    "bias_summary",
    "bitext_accuracy",
    "encode_dataset",
    "evaluate_lareqa",
    "evaluate_lareqa_model",
    "evaluate_miracl",
    "evaluate_miracl_model",
    "evaluate_tatoeba_model",
    "holm",
    "language_share",
    "ndcg_at_k",
    "paired_bootstrap_ci",
    "paired_randomisation_test",
    "rank_distance",
    "rank_distance_by_language",
    "recall_at_k",
    "relevant_ranks_exact",
    "seed_question_test",
    "two_level_bootstrap",
]
