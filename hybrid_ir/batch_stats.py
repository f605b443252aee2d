"""Tables describing sampled batches (what the book's batch-composition heatmaps are drawn from).

:func:`describe_batches` gives one row per batch item; :func:`pair_counts` counts the items per
(query language, passage language): a mono sampler fills the diagonal only, a cross sampler the
off-diagonal cells only, a hybrid one both. pandas is imported when a function runs.

Example::

    >>> from hybrid_ir.sampling import Batch, BatchItem
    >>> b = Batch(0, "cross", "toy", (BatchItem(0, 0, "id0", "en", "de"),
    ...                               BatchItem(0, 1, "id1", "de", "en")))
    >>> df = describe_batches([b]); list(df.columns)
    ['step', 'type', 'dataset', 'query_lang', 'passage_lang', 'parallel_id']
    >>> int(pair_counts(df).loc["en", "de"])
    1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from hybrid_ir.errors import HybridIRError

if TYPE_CHECKING:
    import pandas as pd

    from hybrid_ir.sampling import Batch

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
