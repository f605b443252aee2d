"""LAReQA during sentence-transformers training: mono / cross / multilingual mAP and rank distance.

:class:`LareqaEvaluator` is a ``SentenceEvaluator``: give it to ``SentenceTransformerTrainer(evaluator=...)``
(or call it on a model) and it encodes the questions and candidate sentences of a
:class:`~hybrid_ir.data.LareqaDataset` with the model, then computes the whole LAReQA grid with the
package's own evaluation (:func:`~hybrid_ir.evaluation.encode_dataset` and
:func:`~hybrid_ir.evaluation.evaluate_lareqa`: exact ranks over the full pool, the tie rule of
:mod:`hybrid_ir.evaluation.metrics`). It reports the macro means of the paper's table
(:data:`~hybrid_ir.evaluation.grid.TABLE_COLUMNS`): ``mono_map``, ``cross_map``, ``multi_map``,
``mono_r1``, ``cross_r1``, ``multi_r10`` and ``rank_distance`` (lower = less language bias); the
primary metric, used for ``load_best_model_at_end``, is ``multi_map``.

Questions are encoded with ``model.encode_query`` and candidates with ``model.encode_document``
(:class:`SentenceTransformerEncoder`), so they get exactly the prompts those choose: the model's
``"query"`` prompt, and its ``"document"`` prompt (a loaded model always has both, ``""`` unless
set; :func:`~hybrid_ir.modeling.st_folder.choose_prompt` is the rule, the one ``BiEncoder`` follows
when it loads the same folder), or the prompts you pass. Vectors are L2-normalised (scores =
cosine, as in the paper) unless ``normalize=False``.

Example::

    >>> from hybrid_ir.data import load_lareqa
    >>> ds = load_lareqa("xquad-r", ["en", "de", "es"]).sample_questions(200)   # doctest: +SKIP
    >>> evaluator = LareqaEvaluator(ds)                                          # doctest: +SKIP
    >>> evaluator(model)["xquad-r_multi_map"]                                    # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid_ir.data.lareqa import CANDIDATE_TEXTS, LareqaDataset
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation import encode_dataset
from hybrid_ir.evaluation.grid import TABLE_COLUMNS, LareqaResult, evaluate_lareqa
from hybrid_ir.modeling.st_folder import choose_prompt

try:
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "hybrid_ir.integrations.sentence_transformers needs sentence-transformers 6 or newer: "
        'pip install "hybrid-ir[st]"'
    ) from exc

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["LareqaEvaluator", "SentenceTransformerEncoder"]


class SentenceTransformerEncoder:
    """A ``SentenceTransformer`` seen through the package's encoder interface (``encode(texts, kind)``).

    ``kind="query"`` texts go through ``model.encode_query``, ``kind="passage"`` texts through
    ``model.encode_document``: with ``query_prompt`` / ``passage_prompt`` when given, else with the
    prompt those methods choose themselves (module docstring; :attr:`prompts` shows which, None for
    none). ``device`` / ``precision`` arguments of the package's callers are ignored: the model runs
    where sentence-transformers put it, in its own dtype (fp32 unless you changed it).
    """

    def __init__(self, model: SentenceTransformer, query_prompt: str | None = None,
                 passage_prompt: str | None = None, normalize: bool = True) -> None:
        self.model = model
        self.overrides = {"query": query_prompt, "passage": passage_prompt}
        prompts = dict(getattr(model, "prompts", None) or {})
        default = getattr(model, "default_prompt_name", None)
        self.prompts = {
            kind: given if given is not None else choose_prompt(prompts, default, kind)
            for kind, given in self.overrides.items()
        }
        self.normalize = normalize

    def encode(self, texts: Sequence[str], kind: str = "query", batch_size: int = 64,
               show_progress: bool = False, **_runtime: Any) -> np.ndarray:
        if kind not in self.prompts:
            raise HybridIRError(f"kind must be 'query' or 'passage', got {kind!r}")
        method = self.model.encode_query if kind == "query" else self.model.encode_document
        given = self.overrides[kind]
        vectors = method(
            list(texts), **({"prompt": given} if given is not None else {}), batch_size=batch_size,
            show_progress_bar=show_progress, convert_to_numpy=True, normalize_embeddings=self.normalize,
        )
        return np.asarray(vectors, dtype=np.float32)


class LareqaEvaluator(SentenceEvaluator):
    """LAReQA mAP (mono / cross / multi), R@1 / R@10 and rank distance of a model on ``dataset``.

    - ``dataset``: a :class:`~hybrid_ir.data.LareqaDataset` (XQuAD-R, MLQA-R, a language subset or
      ``sample_questions(n)`` of one: the candidate pool stays whole, so the ranks stay exact);
    - ``candidate_text``: ``"sentence"`` or ``"sentence+context"`` (LAReQA's);
    - ``name``: prefix of the metric names (default: the dataset's name), e.g. ``xquad-r_multi_map``;
    - ``query_prompt`` / ``passage_prompt`` / ``normalize``: see :class:`SentenceTransformerEncoder`;
    - ``write_csv``: append one row per call to ``lareqa_<name>_results.csv`` in ``output_path``.

    After a call, :attr:`last_result` holds the full :class:`~hybrid_ir.evaluation.LareqaResult`
    (per-language table, per-query ranks) for analysis.
    """

    def __init__(
        self,
        dataset: LareqaDataset,
        candidate_text: str = "sentence",
        batch_size: int = 64,
        name: str | None = None,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        normalize: bool = True,
        show_progress_bar: bool = False,
        write_csv: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(dataset, LareqaDataset):
            raise HybridIRError(f"dataset must be a LareqaDataset (load_lareqa(...)), got {type(dataset).__name__}")
        if candidate_text not in CANDIDATE_TEXTS:
            raise HybridIRError(f"unknown candidate text '{candidate_text}'; choose one of {CANDIDATE_TEXTS}")
        self.dataset = dataset
        self.candidate_text = candidate_text
        self.batch_size = batch_size
        self.name = dataset.name if name is None else name
        self.query_prompt, self.passage_prompt = query_prompt, passage_prompt
        self.normalize = normalize
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.primary_metric = "multi_map"
        self.greater_is_better = True
        self.last_result: LareqaResult | None = None

    def compute(self, model: SentenceTransformer) -> LareqaResult:
        """Encode the dataset with ``model`` and evaluate it (no logging, no files)."""
        encoder = SentenceTransformerEncoder(model, self.query_prompt, self.passage_prompt, self.normalize)
        qv, cv = encode_dataset(encoder, self.dataset, self.candidate_text, batch_size=self.batch_size,
                                show_progress=self.show_progress_bar)
        return evaluate_lareqa(self.dataset, qv, cv)

    def __call__(self, model: SentenceTransformer, output_path: str | None = None, epoch: int = -1,
                 steps: int = -1) -> dict[str, float]:
        result = self.compute(model)
        self.last_result = result
        means = result.per_language_table(mean_row=True).loc["Mean"]
        metrics = {key: float(means[key]) for key in TABLE_COLUMNS}
        if output_path is not None and self.write_csv:
            self._append_csv(output_path, epoch, steps, metrics)
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def _append_csv(self, output_path: str, epoch: int, steps: int, metrics: dict[str, float]) -> None:
        os.makedirs(output_path, exist_ok=True)
        path = os.path.join(output_path, f"lareqa_{self.name}_results.csv")
        new = not os.path.isfile(path)
        with open(path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["epoch", "steps", *metrics])
            writer.writerow([epoch, steps, *metrics.values()])
