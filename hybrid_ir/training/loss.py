"""Contrastive (InfoNCE) loss over a batch of triplets, as pure functions on embeddings.

A batch holds ``N`` triplets ``(q_i, p_i+, p_i-)``; every vector is L2-normalised, so a dot product is
the cosine similarity ``s(a, b) = a . b``. With temperature ``tau`` the loss of query ``i`` is

.. math::

    \\ell_i = -\\log \\frac{\\exp(s(q_i, p_i^+)/\\tau)}
                         {\\sum_{c \\in C_i} \\exp(s(q_i, c)/\\tau)}

and the batch loss is the mean of ``l_i``. The candidate set ``C_i`` depends on ``negatives``:

- ``"in-batch"`` (default; DPR / E5 / sentence-transformers' MultipleNegativesRankingLoss):
  ``C_i = {p_1+, ..., p_N+} U {p_1-, ..., p_N-}``, every positive and every hard negative of the batch
  (2N candidates; the other queries' positives act as negatives);
- ``"paper"`` (Eq. 1 of arXiv 2408.10536 as printed): ``C_i = {p_i+} U {p_1-, ..., p_N-}``, the query's
  own positive plus the hard negatives of every triplet (N + 1 candidates).

Without hard negatives (``p_neg=None``) the ``"in-batch"`` set is ``{p_1+, ..., p_N+}``; ``"paper"`` then
has nothing to contrast with and is refused.

``symmetric=True`` adds the passage-to-query direction (not in the paper, whose loss is one-directional):
``l'_i = -log exp(s(p_i+, q_i)/tau) / sum_j exp(s(p_i+, q_j)/tau)`` over the N queries, and the loss becomes
``(mean l_i + mean l'_i) / 2``.

Temperature: the paper does not report it. The default ``tau = 0.05`` is sentence-transformers' default
(scale 20) and suits a model that was not contrastively pre-trained (XLM-R); multilingual-e5 was trained
with ``tau = 0.01``.

Distributed training (see :mod:`hybrid_ir.training.distributed`): pass the embeddings gathered from all ranks
(``N`` = global batch) and ``rows`` = this rank's slice; the loss is then the mean over those rows only,
which, with gradients averaged over ranks, gives exactly the single-process gradient.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from hybrid_ir.errors import HybridIRError

NegativesMode = Literal["in-batch", "paper"]
NEGATIVES_MODES: tuple[str, ...] = ("in-batch", "paper")

#: Default temperature (sentence-transformers' scale 20); the paper does not report its value.
DEFAULT_TEMPERATURE = 0.05


def _check(q: torch.Tensor, p_pos: torch.Tensor, p_neg: torch.Tensor | None) -> None:
    if q.dim() != 2 or p_pos.dim() != 2:
        raise HybridIRError(
            f"embeddings must be 2-D (batch, hidden); got q {tuple(q.shape)}, p_pos {tuple(p_pos.shape)}"
        )
    if q.shape != p_pos.shape:
        raise HybridIRError(
            f"q and p_pos must have the same shape; got {tuple(q.shape)} and {tuple(p_pos.shape)}"
        )
    if p_neg is not None and p_neg.shape != q.shape:
        raise HybridIRError(
            f"p_neg must have the shape of q {tuple(q.shape)}; got {tuple(p_neg.shape)}"
        )
    if q.shape[0] == 0:
        raise HybridIRError("empty batch: no triplets to compute a loss on")


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """fp16 / bf16 logits go to fp32 for the softmax; fp32 and fp64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def similarity_logits(
    q: torch.Tensor,
    p_pos: torch.Tensor,
    p_neg: torch.Tensor | None = None,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    negatives: NegativesMode = "in-batch",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, K)`` and targets ``(N,)`` of the query-to-passage softmax for every query.

    - ``"in-batch"``: ``logits = [Q P+^T | Q P-^T] / tau`` (K = 2N, or N without ``p_neg``);
      target of row i is column i.
    - ``"paper"``: ``logits = [s(q_i, p_i+) | Q P-^T] / tau`` (K = N + 1); target of every row is column 0.
    """
    _check(q, p_pos, p_neg)
    if temperature <= 0:
        raise HybridIRError(f"temperature must be > 0, got {temperature}")
    if negatives not in NEGATIVES_MODES:
        raise HybridIRError(f"negatives must be one of {NEGATIVES_MODES}, got {negatives!r}")
    n = q.shape[0]
    if negatives == "in-batch":
        cands = p_pos if p_neg is None else torch.cat([p_pos, p_neg], dim=0)  # (K, H)
        logits = q @ cands.T / temperature  # (N, K)
        targets = torch.arange(n, device=q.device)
        return logits, targets
    if p_neg is None:
        raise HybridIRError('negatives="paper" needs hard negatives (p_neg), got None')
    own = (q * p_pos).sum(dim=-1, keepdim=True)  # (N, 1)
    logits = torch.cat([own, q @ p_neg.T], dim=1) / temperature  # (N, N + 1)
    targets = torch.zeros(n, dtype=torch.long, device=q.device)
    return logits, targets


def info_nce(
    q: torch.Tensor,
    p_pos: torch.Tensor,
    p_neg: torch.Tensor | None = None,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    negatives: NegativesMode = "in-batch",
    symmetric: bool = False,
    rows: slice | None = None,
) -> torch.Tensor:
    """Mean InfoNCE loss of a batch of triplets (see the module docstring for the formulas).

    Args:
        q: ``(N, H)`` L2-normalised query embeddings.
        p_pos: ``(N, H)`` positives; ``p_pos[i]`` answers ``q[i]``.
        p_neg: ``(N, H)`` hard negatives (``p_neg[i]`` belongs to triplet i), or None.
        temperature: ``tau`` > 0.
        negatives: ``"in-batch"`` or ``"paper"``.
        symmetric: add the passage-to-query term and average the two directions.
        rows: only these triplets contribute (the local rows of a distributed batch); their queries
            are still contrasted against all ``N`` passages. Default: all rows.

    Returns:
        A 0-d tensor, the mean over the selected rows.

    Example::

        >>> q = F.normalize(torch.randn(4, 8), dim=-1)
        >>> info_nce(q, q, None).item() < info_nce(q, q.roll(1, 0), None).item()
        True
    """
    logits, targets = similarity_logits(
        q, p_pos, p_neg, temperature=temperature, negatives=negatives
    )
    if rows is not None:
        logits, targets = logits[rows], targets[rows]
        if logits.shape[0] == 0:
            raise HybridIRError(f"rows {rows} selects no triplet of a batch of {q.shape[0]}")
    loss = F.cross_entropy(_upcast(logits), targets)
    if not symmetric:
        return loss
    back = p_pos @ q.T / temperature  # (N, N): row i = passage p_i+ against every query
    back_targets = torch.arange(q.shape[0], device=q.device)
    if rows is not None:
        back, back_targets = back[rows], back_targets[rows]
    return (loss + F.cross_entropy(_upcast(back), back_targets)) / 2
