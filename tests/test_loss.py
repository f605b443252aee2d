"""InfoNCE against values worked out by hand, and a float64 gradient check."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hybrid_ir.errors import HybridIRError
from hybrid_ir.training.loss import info_nce, similarity_logits

E = math.e


def t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


# 2 triplets, hidden 2, temperature 1: all similarities are 0 or 1.
Q2 = t([[1, 0], [0, 1]])
P2 = t([[1, 0], [0, 1]])
N2 = t([[0, 1], [1, 0]])


def test_in_batch_2x2_by_hand() -> None:
    # q1 against [p1+, p2+, p1-, p2-] = [1, 0, 0, 1] -> l1 = -log(e / (e + 1 + 1 + e)); q2 the same.
    expected = math.log((2 * E + 2) / E)
    got = info_nce(Q2, P2, N2, temperature=1.0)
    assert got.item() == pytest.approx(expected, abs=1e-12)


def test_paper_2x2_by_hand() -> None:
    # q1 against [p1+, p1-, p2-] = [1, 0, 1] -> l1 = -log(e / (e + 1 + e)); q2: [1, 1, 0], the same.
    expected = math.log((2 * E + 1) / E)
    got = info_nce(Q2, P2, N2, temperature=1.0, negatives="paper")
    assert got.item() == pytest.approx(expected, abs=1e-12)


def test_symmetric_2x2_by_hand() -> None:
    # passage p1+ against [q1, q2] = [1, 0] -> -log(e / (e + 1)); p2+ the same.
    forward = math.log((2 * E + 2) / E)
    backward = math.log((E + 1) / E)
    got = info_nce(Q2, P2, N2, temperature=1.0, symmetric=True)
    assert got.item() == pytest.approx((forward + backward) / 2, abs=1e-12)


def test_without_hard_negatives_2x2_by_hand() -> None:
    # q1 against [p1+, p2+] = [1, 0] -> -log(e / (e + 1)).
    got = info_nce(Q2, P2, None, temperature=1.0)
    assert got.item() == pytest.approx(math.log((E + 1) / E), abs=1e-12)


# 3 triplets, hidden 2, temperature 0.5 (logit = 2 * similarity).
Q3 = t([[1, 0], [0, 1], [0.6, 0.8]])
P3 = t([[0.6, 0.8], [0, 1], [0.8, 0.6]])
N3 = t([[0, 1], [1, 0], [-0.6, 0.8]])
# Similarities worked out by hand (rows: queries; columns: p1+ p2+ p3+ | p1- p2- p3-).
SIM_POS = [[0.6, 0.0, 0.8], [0.8, 1.0, 0.6], [1.0, 0.8, 0.96]]
SIM_NEG = [[0.0, 1.0, -0.6], [1.0, 0.0, 0.8], [0.8, 0.6, 0.28]]


def _nll(own: float, others: list[float], tau: float) -> float:
    """-log exp(own/tau) / sum exp(c/tau) over all candidates (own included in ``others``)."""
    return -own / tau + math.log(sum(math.exp(c / tau) for c in others))


def test_in_batch_3x2_by_hand() -> None:
    tau = 0.5
    losses = [_nll(SIM_POS[i][i], SIM_POS[i] + SIM_NEG[i], tau) for i in range(3)]
    got = info_nce(Q3, P3, N3, temperature=tau)
    assert got.item() == pytest.approx(sum(losses) / 3, abs=1e-12)
    # the first one written out: -1.2 + log(e^1.2 + e^0 + e^1.6 + e^0 + e^2 + e^-1.2)
    l1 = -1.2 + math.log(math.exp(1.2) + 1 + math.exp(1.6) + 1 + math.exp(2.0) + math.exp(-1.2))
    assert losses[0] == pytest.approx(l1, abs=1e-12)


def test_paper_3x2_by_hand() -> None:
    tau = 0.5
    losses = [_nll(SIM_POS[i][i], [SIM_POS[i][i], *SIM_NEG[i]], tau) for i in range(3)]
    got = info_nce(Q3, P3, N3, temperature=tau, negatives="paper")
    assert got.item() == pytest.approx(sum(losses) / 3, abs=1e-12)


def test_symmetric_3x2_by_hand() -> None:
    tau = 0.5
    fwd = [_nll(SIM_POS[i][i], SIM_POS[i] + SIM_NEG[i], tau) for i in range(3)]
    # passage p_i+ against every query: column i of SIM_POS
    bwd = [_nll(SIM_POS[i][i], [SIM_POS[j][i] for j in range(3)], tau) for i in range(3)]
    got = info_nce(Q3, P3, N3, temperature=tau, symmetric=True)
    assert got.item() == pytest.approx((sum(fwd) / 3 + sum(bwd) / 3) / 2, abs=1e-12)


def test_rows_select_local_queries_against_all_passages() -> None:
    tau = 0.5
    fwd = [_nll(SIM_POS[i][i], SIM_POS[i] + SIM_NEG[i], tau) for i in range(3)]
    got = info_nce(Q3, P3, N3, temperature=tau, rows=slice(1, 3))
    assert got.item() == pytest.approx((fwd[1] + fwd[2]) / 2, abs=1e-12)
    # the means over the row slices, weighted by their sizes, give the full loss
    a = info_nce(Q3, P3, N3, temperature=tau, rows=slice(0, 1), symmetric=True)
    b = info_nce(Q3, P3, N3, temperature=tau, rows=slice(1, 3), symmetric=True)
    full = info_nce(Q3, P3, N3, temperature=tau, symmetric=True)
    assert ((a + 2 * b) / 3).item() == pytest.approx(full.item(), abs=1e-12)


def test_logits_shapes_and_targets() -> None:
    logits, targets = similarity_logits(Q3, P3, N3, temperature=0.5)
    assert logits.shape == (3, 6) and targets.tolist() == [0, 1, 2]
    logits, targets = similarity_logits(Q3, P3, N3, temperature=0.5, negatives="paper")
    assert logits.shape == (3, 4) and targets.tolist() == [0, 0, 0]
    assert logits[2].tolist() == pytest.approx([2 * 0.96, 1.6, 1.2, 0.56])


def test_perfect_separation_gives_small_loss() -> None:
    q = F.normalize(torch.eye(4), dim=-1)
    assert info_nce(q, q, -q, temperature=0.01).item() < 1e-10


@pytest.mark.parametrize("negatives", ["in-batch", "paper"])
@pytest.mark.parametrize("symmetric", [False, True])
def test_gradcheck_float64(negatives: str, symmetric: bool) -> None:
    g = torch.Generator().manual_seed(0)
    q, p, n = (torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))

    def fn(q: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        return info_nce(
            F.normalize(q, dim=-1), F.normalize(p, dim=-1), F.normalize(n, dim=-1),
            temperature=0.1, negatives=negatives, symmetric=symmetric,  # type: ignore[arg-type]
        )

    assert torch.autograd.gradcheck(fn, (q, p, n))


def test_bf16_logits_upcast() -> None:
    loss = info_nce(Q3.bfloat16(), P3.bfloat16(), N3.bfloat16(), temperature=0.5)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(info_nce(Q3, P3, N3, temperature=0.5).item(), abs=2e-2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p_pos": P3[:2]}, "same shape"),
        ({"p_neg": N3[:2]}, "p_neg must have"),
        ({"temperature": 0.0}, "temperature"),
        ({"negatives": "global"}, "negatives must be"),
        ({"negatives": "paper", "p_neg": None}, "hard negatives"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    args = {"q": Q3, "p_pos": P3, "p_neg": N3, **kwargs}
    with pytest.raises(HybridIRError, match=match):
        info_nce(**args)
