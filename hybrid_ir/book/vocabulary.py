"""One vocabulary for results: every sentence that states a result is made here, from a claim row.

The words follow the verdict of the row (``claims.csv``; :mod:`hybrid_ir.experiments.claims`), never
more:

- "equivalent within +-m" only for an ``equivalent`` verdict (two one-sided tests within the margin);
- "higher" / "lower" only for a significant difference (``holds``, ``opposite``, ``does not hold``,
  ``a higher``, ``a lower``);
- ``undecided`` is said as undecided, with the size of the difference and what would decide it;
- no causal words ("because", "costs", "so that"): no claim row carries a controlled comparison of
  causes except the controlled exposure experiment, whose sentences say what was held equal.

Numbers go through one formatter (:func:`signed`, :func:`interval`, :func:`p_text`): never
"-0.0000", p-values as "p < 0.001" below a thousandth. :data:`FORBIDDEN` lists the phrases the
rendered book must not contain (``tests/test_book_vocabulary.py`` scans the pages).

Example::

    >>> signed(-0.00001), interval(-0.0151, -0.0098), p_text(0.00004), p_text(0.0712)
    ('0.0000', '-0.0151 to -0.0098', 'p < 0.001', 'p = 0.071')
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = [
    "FORBIDDEN", "METRIC_NAMES", "STRATEGY_NAMES", "VERDICT_WORDS", "claim_sentence", "difference_text",
    "digits", "interval", "p_text", "p_value",
    "signed", "strategy_name", "verdict_words",
]

#: Readable names of the strategies, the one table for tables, figure legends and prose: the
#: experiments' labels, the sampler's strategy ids (``mono``, ``cross``) and the controlled
#: experiment's runs. In a sentence the untuned encoder is "the untuned encoder" (:func:`strategy_name`).
STRATEGY_NAMES: dict[str, str] = {
    "untuned": "untuned", "x-x-mono": "X-X-mono", "x-y": "X-Y", "hybrid": "hybrid", "mono": "X-X-mono",
    "cross": "X-Y", "hybrid-128": "hybrid (128 steps)", "x-x-mono-64": "X-X-mono (64 steps)",
    "x-x-mono-128": "X-X-mono (128 steps)",
}
_PROSE_NAMES = {"untuned": "the untuned encoder"}
#: Readable names of the per-question metrics.
METRIC_NAMES: dict[str, str] = {
    "mono_ap": "monolingual mAP", "cross_ap": "cross-lingual mAP", "multi_ap": "multilingual mAP",
    "rank_distance": "rank distance", "mean": "Tatoeba accuracy", "to_en": "Tatoeba accuracy into English",
    "from_en": "Tatoeba accuracy from English",
}
#: The verdict as a reader reads it (short form for tables and figure legends).
VERDICT_WORDS: dict[str, str] = {
    "holds": "holds", "does not hold": "does not hold", "equivalent": "equivalent within the margin",
    "opposite": "the opposite holds", "undecided": "undecided", "a higher": "higher", "a lower": "lower",
    "not run": "not run",
}
#: Phrases the rendered book must not contain: the vocabulary before the decisive-verdicts issue and
#: number formats the formatter never writes.
FORBIDDEN: tuple[str, ...] = (
    "no significant difference", "is level with", "are level with", "-0.0000", "corrected p 0.000", "p = 0.000",
    "barely move",
)


def strategy_name(label: str, *, prose: bool = True) -> str:
    """The readable name of a strategy label (:data:`STRATEGY_NAMES`; an alpha sweep's point as
    "alpha = 0.25"; unknown labels as they are), in a sentence unless ``prose`` is False.

    >>> strategy_name("x-x-mono"), strategy_name("untuned"), strategy_name("untuned", prose=False)
    ('X-X-mono', 'the untuned encoder', 'untuned')
    >>> strategy_name("alpha-0.25")
    'alpha = 0.25'
    """
    if prose and label in _PROSE_NAMES:
        return _PROSE_NAMES[label]
    if label.startswith("alpha-") and label not in STRATEGY_NAMES:
        return "alpha = " + label.removeprefix("alpha-")
    return STRATEGY_NAMES.get(label, label)


def signed(value: float, digits: int = 4) -> str:
    """``+0.0098``, ``-1,234.5``: a sign, ``digits`` decimals and thousands separators; zero after
    rounding without a sign (never ``-0.0000``); a missing value as ``–``.

    >>> signed(0.00981), signed(-1234.54, 1), signed(-0.00001), signed(float("nan"))
    ('+0.0098', '-1,234.5', '0.0000', '–')
    """
    if value is None or math.isnan(value):
        return "–"
    text = f"{value:+,.{digits}f}"
    return text[1:] if float(text.replace(",", "")) == 0 else text


def interval(low: float, high: float, digits: int = 4) -> str:
    """``-0.0151 to -0.0098``."""
    return f"{signed(low, digits)} to {signed(high, digits)}"


def p_value(p: float) -> str:
    """A p-value alone, for a table column headed "p": ``< 0.001`` below a thousandth, else three
    decimals; a missing value as ``–``.

    >>> p_value(0.00004), p_value(0.0712), p_value(float("nan"))
    ('< 0.001', '0.071', '–')
    """
    if p is None or math.isnan(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_text(p: float, name: str = "p") -> str:
    """``p < 0.001`` below a thousandth, else ``p = 0.071`` (three decimals); ``name`` replaces the
    ``p`` (e.g. ``"Holm-adjusted p"``).

    >>> p_text(0.0712, "Holm-adjusted p"), p_text(float("nan"))
    ('Holm-adjusted p = 0.071', 'p n/a')
    """
    if p is None or math.isnan(p):
        return f"{name} n/a"
    value = p_value(p)
    return f"{name} {value}" if value.startswith("<") else f"{name} = {value}"


def difference_text(difference: float, low: float, high: float, p: float, digits: int = 4,
                    p_name: str = "Holm-adjusted p", extra: str = "") -> str:
    """A difference with its 95% interval and p-value, as every chapter prints one.

    >>> difference_text(-0.0124, -0.0151, -0.0098, 0.0004)
    '-0.0124 (95% CI -0.0151 to -0.0098, Holm-adjusted p < 0.001)'
    """
    tail = f"; {extra}" if extra else ""
    return f"{signed(difference, digits)} (95% CI {interval(low, high, digits)}, {p_text(p, p_name)}{tail})"


def digits(metric: str) -> int:
    """Decimals a difference on ``metric`` is printed with: 1 for rank distance (ranks), 4 for mAP."""
    return 1 if metric == "rank_distance" else 4


def verdict_words(row: pd.Series) -> str:
    """What the verdict of a claim row says, in words no stronger than the verdict.

    >>> row = pd.Series({"a": "hybrid", "b": "x-y", "metric": "cross_ap", "verdict": "equivalent",
    ...                  "margin": 0.005, "direction": "matches"})
    >>> verdict_words(row)
    'hybrid and X-Y are equivalent on cross-lingual mAP within ±0.005'
    """
    a, b = strategy_name(row["a"]), strategy_name(row["b"])
    metric = METRIC_NAMES.get(row["metric"], row["metric"])
    verdict = row["verdict"]
    if row["metric"] == "rank_distance":
        more, less = f"more language bias than {b}", f"less language bias than {b}"
    else:
        more, less = f"higher than {b} on {metric}", f"lower than {b} on {metric}"
    if verdict == "equivalent":
        return f"{a} and {b} are equivalent on {metric} within ±{row['margin']:g}"
    if verdict == "undecided":
        return f"the data cannot yet tell whether {a} is above, below or level with {b} on {metric}"
    # every remaining verdict rests on a significant difference, so its sign is established
    higher = float(row["difference"]) > 0
    sentence = f"{a} has {more if higher else less}" if row["metric"] == "rank_distance" else (
        f"{a} is {more if higher else less}")
    if verdict == "does not hold":
        return f"{sentence}, by more than the ±{row['margin']:g} margin allows"
    if verdict == "opposite":
        return f"{sentence}: the opposite of the claim"
    return sentence


def claim_sentence(row: pd.Series, seeds: str = "", decide: bool = True) -> str:
    """One sentence for one claim row: verdict in words, the difference, its interval, p and (for an
    undecided claim, unless ``decide`` is False) what would decide it. ``seeds``: e.g. "3 seeds each"."""
    if row["verdict"] == "not run":
        return "not run yet"
    numbers = difference_text(row["difference"], row["ci_low"], row["ci_high"], row["p_holm"],
                              digits(row["metric"]), extra=seeds)
    text = f"*{VERDICT_WORDS[row['verdict']]}*: {verdict_words(row)}; {numbers}"
    what_decides = row.get("decide")
    if decide and row["verdict"] == "undecided" and isinstance(what_decides, str) and what_decides:
        text += f"; {what_decides}"
    return text
