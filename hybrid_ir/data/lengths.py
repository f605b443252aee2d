"""How many texts a token limit cuts: the share of queries and passages longer than a limit.

A bi-encoder truncates every query at ``max_query_length`` tokens and every passage at
``max_passage_length``, counting the special tokens and the model family's prefix (``query: `` /
``passage: `` for E5 and XLM-R). :func:`truncated_shares` gives, for each limit, the share of texts
whose tokenized length exceeds it, i.e. the share the limit cuts::

    >>> class Words:  # a stand-in tokenizer: one token per word, plus <s> and </s>
    ...     def __call__(self, texts):
    ...         return {"input_ids": [[0] * (len(t.split()) + 2) for t in texts]}
    >>> truncated_shares(["a b", "a b c d e"], Words(), [5, 8], prefix="query: ")
    {5: 0.5, 8: 0.0}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def token_lengths(texts: Sequence[str], tokenizer: Any, prefix: str = "") -> list[int]:
    """The tokenized length of ``prefix + text`` for every text (special tokens included)."""
    return [len(ids) for ids in tokenizer([prefix + t for t in texts])["input_ids"]]


def truncated_shares(texts: Sequence[str], tokenizer: Any, limits: Sequence[int], prefix: str = "") -> dict[int, float]:
    """For each limit, the share of ``texts`` longer than it in tokens (what that limit cuts)."""
    lengths = token_lengths(texts, tokenizer, prefix)
    if not lengths:
        return {limit: 0.0 for limit in limits}
    return {limit: sum(n > limit for n in lengths) / len(lengths) for limit in limits}
