"""Numbers and sentences computed in a chapter's code, pasted into its text by the book (myst-nb glue).

A chapter's Markdown never types a number that comes from data: a code cell computes it and
*glues* it under a name, and the text pastes it with a role::

    glue("xquad_questions", len(xquad.questions))          # in a code cell
    glue("bias_reading", "hybrid is **less** biased")      # a sentence (Markdown)

    XQuAD-R has {glue:text}`xquad_questions:,d` questions; {glue:md}`bias_reading`.

This is myst-nb's own ``glue`` record format (a display output whose metadata names it), written
here without importing myst-nb, so a chapter also runs where myst-nb is not installed (Colab). In
Jupyter the glued value is not shown (``display=False``); the rendered book shows it where the text
asks for it.

Values are converted before they are recorded: numpy scalars become Python numbers (their
``repr``, e.g. ``np.float64(0.5)``, could not be formatted by ``{glue:text}`name:.3f```), and a
``str`` becomes Markdown for ``{glue:md}`` (use ``{glue:text}`` for plain text).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

GLUE_PREFIX = "application/papermill.record/"  # myst-nb's prefix for values not displayed


def plain(value: Any) -> Any:
    """A Python ``int``/``float``/``bool`` for numpy scalars; anything else unchanged.

    >>> import numpy as np
    >>> plain(np.int64(59)), plain(np.float64(0.5)), plain("x")
    (59, 0.5, 'x')
    """
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):  # numpy 2 / 1
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    return value


def glue_bundle(name: str, value: Any, display: bool = False) -> tuple[dict, dict]:
    """The (mime bundle, metadata) that :func:`glue` displays, for tests and other front ends.

    >>> bundle, meta = glue_bundle("n", 3)
    >>> bundle, meta["scrapbook"]
    ({'application/papermill.record/text/plain': '3'}, {'name': 'n', 'mime_prefix': 'application/papermill.record/'})
    >>> glue_bundle("s", "**bold**")[0]["application/papermill.record/text/markdown"]
    '**bold**'
    """
    value = plain(value)
    if isinstance(value, str):
        bundle = {"text/plain": repr(value), "text/markdown": value}
    else:
        bundle = {"text/plain": repr(value)}
    prefix = "" if display else GLUE_PREFIX
    metadata = {"scrapbook": {"name": name, "mime_prefix": prefix}}
    return {prefix + k: v for k, v in bundle.items()}, metadata


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record ``value`` under ``name`` for ``{glue:text}`` / ``{glue:md}`` in the chapter's text.

    Returns nothing, so a ``glue(...)`` that ends a cell adds no output of its own.
    """
    from IPython.display import display as ipy_display

    bundle, metadata = glue_bundle(name, value, display)
    ipy_display(bundle, raw=True, metadata=metadata)
