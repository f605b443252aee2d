"""Tables describing sampled batches (what the book's batch-composition heatmaps are drawn from).

:func:`describe_batches` gives one row per batch item; :func:`pair_counts` counts the items per
(query language, passage language): a mono sampler fills the diagonal only, a cross sampler the
off-diagonal cells only, a hybrid one both. pandas is imported when a function runs.

Example::

    >>> from hybrid_ir.sampling.batch import Batch, BatchItem
    >>> b = Batch(0, "cross", "toy", (BatchItem(0, 0, "id0", "en", "de"),
    ...                               BatchItem(0, 1, "id1", "de", "en")))
    >>> df = describe_batches([b]); list(df.columns)
    ['step', 'type', 'dataset', 'query_lang', 'passage_lang', 'parallel_id']
    >>> int(pair_counts(df).loc["en", "de"])
    1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from hybrid_ir.errors import HybridIRError
from hybrid_ir.sampling.batch import Batch

if TYPE_CHECKING:
    import pandas as pd


COLUMNS: tuple[str, ...] = ("step", "type", "dataset", "query_lang", "passage_lang", "parallel_id")


def describe_batches(batches: Iterable[Batch]) -> pd.DataFrame:
    """One row per item: step, type ("mono"/"cross"), dataset name, query_lang, passage_lang,
    parallel_id (an empty frame with these columns when there are no batches)."""
    import pandas as pd

    rows = [
        (b.step, b.type, b.dataset, it.query_lang, it.passage_lang, it.parallel_id)
        for b in batches
        for it in b.items
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def pair_counts(df: pd.DataFrame, languages: Sequence[str] | None = None) -> pd.DataFrame:
    """Square table of item counts: rows = query language, columns = passage language.

    ``languages`` fixes the order (and adds all-zero rows/columns); by default the sorted union of
    the languages in ``df``.
    """
    import pandas as pd

    missing = {"query_lang", "passage_lang"} - set(df.columns)
    if missing:
        raise HybridIRError(
            f"pair_counts needs the columns of describe_batches; missing {sorted(missing)}"
        )
    seen = sorted(set(df["query_lang"]) | set(df["passage_lang"]))
    if languages is None:
        order = seen
    else:
        order = list(languages)
        extra = sorted(set(seen) - set(order))
        if extra:
            raise HybridIRError(f"languages {extra} occur in the batches but not in {order}")
    table = pd.crosstab(df["query_lang"], df["passage_lang"])
    table = table.reindex(index=order, columns=order, fill_value=0).astype("int64")
    table.index.name, table.columns.name = "query_lang", "passage_lang"
    return table


def exposure(batches: Iterable[Batch], total_questions: int | None = None) -> dict[str, Any]:
    """What a sequence of batches puts in front of the model: the data a run was trained on.

    Returns a JSON-ready dict:

    - ``batches``: the number of batches, and ``batches_by_type`` ``{"mono": m, "cross": c}``;
    - ``triplets`` and ``triplets_by_pair`` ``{"de-en": n, ...}`` (query language - passage language);
    - ``english_share``: the share of triplets with English on either side (query or passages);
    - ``questions_seen``: distinct (dataset, parallel id) pairs trained on, and, when
      ``total_questions`` (the size of the training sets) is given, ``questions_share``.

    Strategies that see the same number of steps can see very different data: this is how the
    book compares them at equal exposure.

    >>> from hybrid_ir.sampling.batch import Batch, BatchItem
    >>> b = [Batch(0, "mono", "t", (BatchItem(0, 0, "a", "en", "en"), BatchItem(0, 1, "b", "en", "en"))),
    ...      Batch(1, "cross", "t", (BatchItem(0, 0, "a", "de", "en"), BatchItem(0, 2, "c", "de", "es")))]
    >>> e = exposure(b, total_questions=4)
    >>> e["batches_by_type"], e["triplets_by_pair"]["de-en"], e["english_share"], e["questions_seen"]
    ({'mono': 1, 'cross': 1}, 1, 0.75, 3)
    """
    by_type = {"mono": 0, "cross": 0}
    by_pair: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    n_batches = n_triplets = english = 0
    for b in batches:
        n_batches += 1
        by_type[b.type] = by_type.get(b.type, 0) + 1
        for it in b.items:
            n_triplets += 1
            key = f"{it.query_lang}-{it.passage_lang}"
            by_pair[key] = by_pair.get(key, 0) + 1
            english += "en" in (it.query_lang, it.passage_lang)
            seen.add((b.dataset, it.parallel_id))
    out: dict[str, Any] = {
        "batches": n_batches,
        "batches_by_type": by_type,
        "triplets": n_triplets,
        "triplets_by_pair": dict(sorted(by_pair.items())),
        "english_share": english / n_triplets if n_triplets else None,
        "questions_seen": len(seen),
    }
    if total_questions is not None:
        out["questions_total"] = total_questions
        out["questions_share"] = len(seen) / total_questions if total_questions else None
    return out
