"""Tables for the book's pages: readable headers, rounded numbers, no ``NaN`` or ``0.0`` seeds.

The chapters compute with the package's column names (``mono_map``, ``rank_distance``) and show
tables through :func:`readable`, which renames columns, index names and strategy labels for a
reader and formats every number as text with a fixed number of digits (so a column of mAP values
lines up, a seed is ``1`` and not ``1.0``, and a missing value is a dash).

A table the text refers to is shown with :func:`show_table`, which also glues it as Markdown, so that
the chapter's text can wrap it in a numbered, captioned ``{table}`` directive (the code cell is tagged
``remove-output``: the book shows the captioned copy, Jupyter and Colab the cell's own output)::

    show_table(readable(means), "tab-means")           # in a code cell tagged remove-output

    :::{table} Mean mAP of each strategy over the recorded seeds.
    :name: tab-means

    ```{glue:md} tab-means
    :format: gfm
    ```
    :::

Example::

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"strategy": ["untuned", "hybrid"], "seed": [None, 1.0],
    ...                      "mono_map": [0.78401, 0.80031], "rank_distance": [1385.52, 382.24]})
    >>> readable(runs.set_index(["strategy", "seed"])).reset_index().to_dict(orient="records")
    [{'strategy': 'untuned', 'seed': '–', 'mono mAP': '0.784', 'rank distance': '1,386'}, {'strategy': 'hybrid', 'seed': '1', 'mono mAP': '0.800', 'rank distance': '382'}]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from hybrid_ir.book.plotting import STRATEGY_LABELS
from hybrid_ir.book.vocabulary import p_value
from hybrid_ir.book.vocabulary import signed as signed_text

#: Column names of the package's frames and how the book prints them.
LABELS: dict[str, str] = {
    "mono_map": "mono mAP",
    "cross_map": "cross mAP",
    "multi_map": "multi mAP",
    "mono_ap": "mono AP",
    "cross_ap": "cross AP",
    "multi_ap": "multi AP",
    "mono_r1": "mono R@1",
    "cross_r1": "cross R@1",
    "multi_r10": "multi R@10",
    "rank_distance": "rank distance",
    "p_value": "p",
    "p_holm": "p (Holm)",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "train_seconds": "training (s)",
    "eval_seconds": "evaluation (s)",
    "train_s": "training (s)",
    "eval_s": "evaluation (s)",
    "lang": "language",
    "init": "encoder",
    "xlmr": "XLM-R",
    "labse": "LaBSE",
}

#: Digits after the decimal point by column (after renaming); other float columns get ``digits``.
DIGITS: dict[str, int] = {"rank distance": 0, "training (s)": 0, "evaluation (s)": 0}

DASH = "–"


def label(name: object) -> object:
    """The printed form of a column, index or strategy name (``mono_map`` -> ``mono mAP``,
    ``x-x-mono`` -> ``X-X-mono``, ``train_subset`` -> ``train subset``); others unchanged."""
    if not isinstance(name, str):
        return name
    if name in LABELS:
        return LABELS[name]
    if name in STRATEGY_LABELS:
        return STRATEGY_LABELS[name]
    return name.replace("_", " ")


def number(value: object, digits: int = 3, *, signed: bool = False) -> str:
    """A number as the book prints it: fixed digits, thousands separators, integers without a
    decimal point, a dash for a missing value.

    >>> number(0.70114), number(1385.5, 0), number(2.0), number(float("nan")), number(0.01, signed=True)
    ('0.701', '1,386', '2', '–', '+0.010')
    >>> number(-0.00001, 4, signed=True), number(-0.00001, 4)
    ('0.0000', '0.0000')

    A whole float prints as an integer (seeds and counts stored as floats); so does an mAP of
    exactly 1.0, which is rare and still reads correctly.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and not signed:
        value = int(value)  # a seed, count or step stored as a float (its column had a gap)
    if isinstance(value, int):
        return f"{value:+,d}" if signed else f"{value:,d}"
    if isinstance(value, float):
        if signed:
            return signed_text(value, digits)  # the vocabulary's one formatter of differences
        text = f"{value:,.{digits}f}"
        return text.lstrip("-") if float(text.replace(",", "")) == 0 else text  # never "-0.000"
    return str(value)


def readable(
    frame: pd.DataFrame,
    digits: int = 3,
    column_digits: Mapping[str, int] | None = None,
    *,
    signed: tuple[str, ...] = (),
    row_digits: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """``frame`` renamed for a reader (:func:`label`) with every value formatted (:func:`number`).

    ``column_digits`` overrides :data:`DIGITS` by (renamed) column; ``row_digits`` by a row whose
    (renamed) index holds that label at any level (rows that mix metrics: ``{"rank distance": 1}``);
    columns named in ``signed`` print a sign (differences, through
    :func:`~hybrid_ir.book.vocabulary.signed`). Columns named ``p``/``p (Holm)`` print as
    :func:`~hybrid_ir.book.vocabulary.p_value`.

    >>> frame = pd.DataFrame({"seed 0": [0.01234, -187.528]},
    ...                      index=pd.Index(["mono_map", "rank_distance"], name="metric"))
    >>> readable(frame, 4, row_digits={"rank distance": 1})["seed 0"].tolist()
    ['0.0123', '-187.5']
    """
    out = frame.copy()
    out = out.rename(columns=label, index=label)
    out.columns = out.columns.set_names([label(n) for n in out.columns.names])
    out.index = out.index.set_names([label(n) for n in out.index.names])
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.MultiIndex.from_tuples([tuple(label(x) for x in t) for t in out.columns],
                                                names=out.columns.names)
    if isinstance(out.index, pd.MultiIndex):
        out.index = pd.MultiIndex.from_tuples(
            [tuple(_index_value(x) for x in t) for t in out.index],
            names=out.index.names,
        )
    else:
        out.index = pd.Index([_index_value(x) for x in out.index], name=out.index.name)
    wanted = {**DIGITS, **(column_digits or {})}
    by_row = [_row_digits(key, row_digits or {}) for key in out.index]
    for col in out.columns:
        name = col[-1] if isinstance(col, tuple) else col
        top = col[0] if isinstance(col, tuple) else col
        k = wanted.get(name, wanted.get(top, digits))
        if name in ("p", "p (Holm)"):
            out[col] = [v if isinstance(v, str) else p_value(_python(v)) for v in out[col]]
        else:
            sign = name in signed or top in signed
            out[col] = [number(_python(v), k if r is None else r, signed=sign)
                        for v, r in zip(out[col], by_row, strict=True)]
    return out


def _row_digits(key: object, row_digits: Mapping[str, int]) -> int | None:
    """The digits ``row_digits`` gives the row with index ``key`` (any level), or None."""
    for part in key if isinstance(key, tuple) else (key,):
        if part in row_digits:
            return row_digits[part]
    return None


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a GitHub-flavoured Markdown table, index levels first (unnamed levels get an
    empty header; an unnamed 0, 1, 2, ... index is left out, also after :func:`readable`), every value as text on one
    line (a newline inside a value would end the row), ``|`` escaped.

    >>> print(markdown_table(pd.DataFrame({"mono mAP": ["0.784"]}, index=pd.Index(["X-Y"], name="strategy"))))
    | strategy | mono mAP |
    | --- | --- |
    | X-Y | 0.784 |
    """
    flat = frame.copy()
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = [" ".join(str(x) for x in col if str(x)) for col in flat.columns]
    if flat.index.name is None and flat.index.nlevels == 1 and list(flat.index) == list(range(len(flat))):
        flat = flat.set_index(flat.columns[0])  # no row labels: the first column leads
    names = [str(n) if n is not None else "" for n in flat.index.names]
    header = names + [str(c) for c in flat.columns]
    rows = []
    for key, values in zip(flat.index, flat.itertuples(index=False), strict=True):
        keys = key if isinstance(key, tuple) else (key,)
        rows.append([*map(str, keys), *map(str, values)])

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def show_table(frame: pd.DataFrame, name: str) -> None:
    """Display ``frame`` and glue it under ``name`` as Markdown for a numbered ``{table}`` directive.

    Tag the cell ``remove-output``: the rendered book then shows only the captioned table that the
    text pastes with ``{glue:md}`` (see the module docstring), while Jupyter and Colab show the
    cell's own output.
    """
    from IPython.display import display

    from hybrid_ir.book.glue import glue

    display(frame)
    glue(name, markdown_table(frame))


def _index_value(value: object) -> object:
    """A row label: a float as its shortest form (seed ``1.0`` -> ``1``, alpha ``0.25`` stays),
    a missing one as a dash, a name through :func:`label`."""
    value = _python(value)
    if isinstance(value, float):
        return DASH if math.isnan(value) else f"{value:g}"
    return label(value)


def _python(value: object) -> object:
    """numpy scalars as Python numbers (``np.int64(59)`` -> ``59``)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value
