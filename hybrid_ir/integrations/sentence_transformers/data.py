"""Training sets as one ``datasets.Dataset`` that a ``SentenceTransformerTrainer`` can read.

:func:`triplet_dataset` writes one row per triplet the samplers can ask for: for every example of
every :class:`~hybrid_ir.data.TrainingSet` and every ordered pair (query language X, passage
language Y) of the example's languages, the row ``(q_X, p+_Y, p-_Y)``. An example in k languages
gives k^2 rows (k mono rows X = Y, k(k - 1) cross rows); rows follow the sets, then the examples,
then X, then Y (languages sorted), so the row of a triplet is computed, never searched:

    row(d, e, X, Y) = start[d][e] + pos_e(X) * k_e + pos_e(Y)

with ``pos_e`` the position of a language among the example's sorted languages. Columns: ``anchor``,
``positive`` and ``negative`` (the hard negative; dropped when no triplet has one). Only texts go in
the columns, since the trainer feeds every column to the loss; which (set, example, languages) a row
holds is :meth:`TripletRows.item`.

Memory: every text is stored once per row that uses it, about k times over (XQuAD-R's 1,190 parallel
questions in 11 languages give 144k rows). For very large sets build the rows of a capped subset.

Example::

    >>> from hybrid_ir.data import TrainingExample, TrainingSet, Triplet
    >>> t = lambda lang: Triplet(f"q-{lang}", f"p+{lang}", f"p-{lang}")
    >>> ts = TrainingSet("toy", (TrainingExample("id0", "a", {"en": t("en"), "de": t("de")}),))
    >>> rows = triplet_dataset(ts)
    >>> len(rows), rows.dataset.column_names
    (4, ['anchor', 'positive', 'negative'])
    >>> rows.dataset[1], rows.item(1)
    ({'anchor': 'q-de', 'positive': 'p+en', 'negative': 'p-en'}, (0, 0, 'de', 'en'))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hybrid_ir.data import TrainingSet
from hybrid_ir.errors import HybridIRError
from hybrid_ir.sampling import BatchItem

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["COLUMNS", "TripletRows", "column_prompts", "triplet_dataset"]

#: Column names, in the order the losses read them (anchor, positive, negatives).
COLUMNS: tuple[str, ...] = ("anchor", "positive", "negative")


@dataclass(frozen=True, eq=False, repr=False)
class TripletRows:
    """A ``datasets.Dataset`` of triplet rows and the index from (set, example, languages) to a row.

    - ``dataset``: the rows (columns :data:`COLUMNS`, or without ``negative``);
    - ``sets``: the training sets, in the order the rows (and the samplers) number them;
    - ``languages[d]``: set d's languages, sorted (the codes of the samplers' index batches);
    - ``start[d]`` (n_d,): first row of each example; ``width[d]`` (n_d,): its k;
      ``position[d]`` (n_d, L_d): position of each language among the example's, -1 if absent;
    - ``bounds`` (len(sets) + 1,): first row of each set, then the number of rows.
    """

    dataset: Dataset
    sets: tuple[TrainingSet, ...]
    languages: tuple[tuple[str, ...], ...]
    start: tuple[np.ndarray, ...]
    width: tuple[np.ndarray, ...]
    position: tuple[np.ndarray, ...]
    bounds: np.ndarray

    def __len__(self) -> int:
        return int(self.dataset.num_rows)

    def __repr__(self) -> str:  # short: it shows up in the trainer's arguments and model cards
        names = [ts.name for ts in self.sets]
        return f"TripletRows(rows={len(self)}, sets={names}, columns={self.dataset.column_names})"

    @property
    def has_negatives(self) -> bool:
        return "negative" in self.dataset.column_names

    def rows_of(self, dataset: int, examples: np.ndarray, query_codes: np.ndarray,
                passage_codes: np.ndarray) -> np.ndarray:
        """Rows of the triplets (example, query language code, passage language code) of set ``dataset``.

        Codes index ``languages[dataset]`` (as in :class:`~hybrid_ir.sampling.IndexBatch`).
        """
        examples = np.asarray(examples, dtype=np.int64)
        pos = self.position[dataset]
        qp, pp = pos[examples, query_codes], pos[examples, passage_codes]
        if (qp < 0).any() or (pp < 0).any():
            raise HybridIRError(f"set '{self.sets[dataset].name}': a requested language is not in its example")
        return self.start[dataset][examples] + qp * self.width[dataset][examples] + pp

    def row(self, item: BatchItem) -> int:
        """The row of one :class:`~hybrid_ir.sampling.BatchItem`."""
        codes = {lang: i for i, lang in enumerate(self.languages[item.dataset])}
        try:
            q, p = codes[item.query_lang], codes[item.passage_lang]
        except KeyError as exc:
            raise HybridIRError(f"language {exc} is not in set '{self.sets[item.dataset].name}'") from None
        return int(self.rows_of(item.dataset, np.array([item.example]), np.array([q]), np.array([p]))[0])

    def item(self, row: int) -> tuple[int, int, str, str]:
        """``(set index, example index, query language, passage language)`` of a row."""
        if not 0 <= row < len(self):
            raise HybridIRError(f"row {row} is outside the {len(self)} rows")
        d = int(np.searchsorted(self.bounds, row, side="right")) - 1
        e = int(np.searchsorted(self.start[d], row, side="right")) - 1
        k = int(self.width[d][e])
        offset = row - int(self.start[d][e])
        ex_langs = [self.languages[d][c] for c in np.flatnonzero(self.position[d][e] >= 0)]
        return d, e, ex_langs[offset // k], ex_langs[offset % k]


def _negative(triplet: Any) -> str | None:
    neg = getattr(triplet, "negative", None)
    return neg if isinstance(neg, str) and neg else None


def triplet_dataset(
    datasets: TrainingSet | Sequence[TrainingSet],
    negatives: Literal["auto", "drop"] = "auto",
) -> TripletRows:
    """Every (example, query language, passage language) triplet of the sets as one row.

    ``negatives="auto"`` keeps the ``negative`` column when every triplet has a hard negative and
    drops it when none has (a set mixing both is an error naming an example without one);
    ``"drop"`` always leaves it out (in-batch negatives only).
    """
    from datasets import Dataset

    sets = (datasets,) if isinstance(datasets, TrainingSet) else tuple(datasets)
    if not sets:
        raise HybridIRError("datasets is empty: give at least one TrainingSet")
    for i, ts in enumerate(sets):
        if not isinstance(ts, TrainingSet):
            raise HybridIRError(f"datasets[{i}] must be a TrainingSet, got {type(ts).__name__}")
    if negatives not in ("auto", "drop"):
        raise HybridIRError(f"negatives must be 'auto' or 'drop', got {negatives!r}")
    anchors: list[str] = []
    positives: list[str] = []
    negs: list[str | None] = []
    languages, starts, widths, positions = [], [], [], []
    bounds = [0]
    for ts in sets:
        langs = ts.languages
        code = {lang: i for i, lang in enumerate(langs)}
        start = np.zeros(len(ts.examples), dtype=np.int64)
        width = np.zeros(len(ts.examples), dtype=np.int64)
        position = np.full((len(ts.examples), len(langs)), -1, dtype=np.int64)
        for e, ex in enumerate(ts.examples):
            ex_langs = sorted(ex.by_lang, key=code.__getitem__)
            start[e], width[e] = len(anchors), len(ex_langs)
            position[e, [code[lang] for lang in ex_langs]] = np.arange(len(ex_langs))
            for q in ex_langs:
                query = ex.by_lang[q].query
                for p in ex_langs:
                    passage = ex.by_lang[p]
                    anchors.append(query)
                    positives.append(passage.positive)
                    negs.append(_negative(passage))
        bounds.append(len(anchors))
        languages.append(langs)
        starts.append(start)
        widths.append(width)
        positions.append(position)
    columns: dict[str, list] = {"anchor": anchors, "positive": positives}
    if negatives == "auto":
        missing = [i for i, n in enumerate(negs) if n is None]
        if not missing:
            columns["negative"] = negs
        elif len(missing) < len(negs):
            rows = TripletRows(Dataset.from_dict(columns), sets, tuple(languages), tuple(starts),
                               tuple(widths), tuple(positions), np.array(bounds))
            d, e, q, p = rows.item(missing[0])
            raise HybridIRError(
                f"set '{sets[d].name}', example '{sets[d].examples[e].parallel_id}' ({p}) has no hard "
                "negative while others have one: give every triplet a negative or use negatives='drop'"
            )
    return TripletRows(Dataset.from_dict(columns), sets, tuple(languages), tuple(starts),
                       tuple(widths), tuple(positions), np.array(bounds))


def column_prompts(query_prompt: str, passage_prompt: str, rows: TripletRows) -> dict[str, str]:
    """The trainer's ``prompts`` argument: the query prompt on ``anchor``, the passage prompt on the rest.

    >>> column_prompts("query: ", "passage: ", rows)                       # doctest: +SKIP
    {'anchor': 'query: ', 'positive': 'passage: ', 'negative': 'passage: '}
    """
    return {c: query_prompt if c == "anchor" else passage_prompt for c in rows.dataset.column_names}
