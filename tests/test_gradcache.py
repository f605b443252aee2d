"""GradCache gives the parameter gradients of the plain full-batch loss (dropout on)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from hybrid_ir.errors import HybridIRError
from hybrid_ir.training.gradcache import RngState, cached_backward, split_inputs
from hybrid_ir.training.loss import info_nce


class ToyEncoder(torch.nn.Module):
    """Embedding -> dropout -> linear -> masked mean -> L2 norm: the shape of a bi-encoder."""

    def __init__(self, vocab: int = 50, hidden: int = 16, p: float = 0.3) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, hidden)
        self.drop = torch.nn.Dropout(p)
        self.lin = torch.nn.Linear(hidden, hidden)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.lin(self.drop(self.emb(input_ids)))  # (B, L, H)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)  # (B, H)


def towers(n: int = 10, length: int = 7, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(3):
        ids = torch.randint(0, 50, (n, length), generator=g)
        mask = (torch.rand(n, length, generator=g) > 0.2).long()
        mask[:, 0] = 1
        out.append({"input_ids": ids, "attention_mask": mask})
    return out


def loss_fn(q: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    return info_nce(q, p, n, temperature=0.05)


def plain_grads(model: torch.nn.Module, data: list, chunk: int) -> tuple[torch.Tensor, list]:
    """The reference: embed the same chunks in the same order with grad, one backward."""
    reps = [torch.cat([model(**c) for c in split_inputs(t, chunk)]) for t in data]
    loss = loss_fn(*reps)
    loss.backward()
    return loss.detach(), [None if p.grad is None else p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("chunk", [3, 4, 10])
def test_toy_gradients_match_plain_loss(chunk: int) -> None:
    torch.manual_seed(0)
    model = ToyEncoder()
    other = copy.deepcopy(model)
    data = towers()
    torch.manual_seed(123)
    ref_loss, ref = plain_grads(model, data, chunk)
    after_plain = torch.get_rng_state()
    torch.manual_seed(123)
    loss = cached_backward(other, data, loss_fn, chunk)
    assert torch.equal(torch.get_rng_state(), after_plain)  # same random numbers consumed
    assert loss.item() == pytest.approx(ref_loss.item(), abs=1e-6)
    for a, b in zip(ref, (p.grad for p in other.parameters()), strict=True):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_without_rng_replay_gradients_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: the dropout masks must be replayed, or the gradients are wrong."""
    import contextlib

    torch.manual_seed(0)
    model = ToyEncoder()
    other = copy.deepcopy(model)
    data = towers()
    torch.manual_seed(1)
    _, ref = plain_grads(model, data, 4)
    monkeypatch.setattr(RngState, "replay", lambda self: contextlib.nullcontext())
    torch.manual_seed(1)
    cached_backward(other, data, loss_fn, 4)
    diff = max((a - p.grad).abs().max().item() for a, p in zip(ref, other.parameters(), strict=True))
    assert diff > 1e-4


def test_scale_multiplies_gradients() -> None:
    torch.manual_seed(0)
    model = ToyEncoder(p=0.0)
    other = copy.deepcopy(model)
    data = towers()
    cached_backward(model, data, loss_fn, 5)
    loss = cached_backward(other, data, loss_fn, 5, scale=lambda x: x * 8.0)
    assert loss.item() == pytest.approx(loss_fn(*(model(**t) for t in data)).item(), abs=1e-6)
    for a, b in zip(model.parameters(), other.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad * 8.0, atol=1e-5, rtol=1e-5)


def test_bad_chunk_size() -> None:
    with pytest.raises(HybridIRError, match="chunk_size"):
        split_inputs(towers()[0], 0)


@pytest.mark.slow
def test_tiny_bi_encoder_gradients_match_plain_loss() -> None:
    """The same check on the package's tiny BERT bi-encoder, dropout on (train mode)."""
    from hybrid_ir.modeling.biencoder import BiEncoder

    model = BiEncoder.tiny(seed=0)
    model.train()
    assert any(m.p > 0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    other = copy.deepcopy(model)
    texts = [f"question number {i} about topic {i % 3}" for i in range(6)]
    data = [
        dict(model.tokenize(texts, "query")),
        dict(model.tokenize([f"answer {i} is here" for i in range(6)], "passage")),
        dict(model.tokenize([f"unrelated sentence {i}" for i in range(6)], "passage")),
    ]
    data = [{k: v for k, v in d.items() if k in ("input_ids", "attention_mask")} for d in data]
    torch.manual_seed(7)
    ref_loss, ref = plain_grads(model, data, 4)
    torch.manual_seed(7)
    loss = cached_backward(other, data, loss_fn, 4)
    assert loss.item() == pytest.approx(ref_loss.item(), abs=1e-5)
    for (name, p), a in zip(other.named_parameters(), ref, strict=True):
        if p.grad is None:
            assert a is None or not a.any(), name
            continue
        torch.testing.assert_close(p.grad, a, atol=1e-5, rtol=1e-4, msg=name)
