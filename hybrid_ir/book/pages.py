"""Figures of the Markdown pages (not notebooks), drawn when the book is built.

:func:`batch_types_figure` draws, for the Background page, one batch of each strategy as the
package's own sampler gives it (:class:`~hybrid_ir.sampling.HybridBatchSampler` on a small parallel
set in four languages), with what each batch type does to the in-batch negatives of a question.
``tools/build_book.py`` writes it beside the page; nothing in it is drawn by hand.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from hybrid_ir.data.examples import TrainingExample, TrainingSet, Triplet
from hybrid_ir.sampling import HybridBatchSampler

__all__ = ["BATCH_TYPES_FIGURE", "batch_types_figure"]

BATCH_TYPES_FIGURE = "batch_types.png"
_LANGS = ("de", "en", "es", "zh")
_NEGATIVES = {
    "X-X-mono": "negatives: the other questions' passages, all in the question's language",
    "X-Y": "negatives: passages in several languages, none in the question's own",
    "hybrid": "each batch one of the two above: mono with probability α, X-Y otherwise",
}


def _toy_set(n: int = 64) -> TrainingSet:
    t = Triplet("q", "p+", "p-")
    return TrainingSet("toy", tuple(TrainingExample(f"id{i}", f"a{i}", {lang: t for lang in _LANGS})
                                    for i in range(n)))


def _pairs(batch) -> list[tuple[str, str]]:
    return [(item.query_lang, item.passage_lang) for item in batch.items]


def batch_types_figure(path: str | Path, batch_size: int = 10, seed: int = 3) -> Path:
    """Write the figure (PNG) to ``path``: rows of triplets per strategy, the hybrid rows drawn by the
    sampler's coin, and each row's in-batch negatives in words."""
    from hybrid_ir.book.plotting import PAGE_WIDTH, batch_grid, use_style

    use_style()
    toy = _toy_set()
    rows = []
    for label, strategy in (("X-X-mono", "mono"), ("X-Y", "cross")):
        batch = next(iter(HybridBatchSampler(toy, batch_size, strategy, seed=seed)))  # type: ignore[arg-type]
        rows.append((label, _pairs(batch)))
    hybrid = HybridBatchSampler(toy, batch_size, "hybrid", alpha=0.5, seed=seed)
    for k, batch in zip(range(3), hybrid, strict=False):
        rows.append((f"hybrid, batch {k + 1} ({'mono' if batch.type == 'mono' else 'X-Y'})", _pairs(batch)))
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 3.6), layout="constrained")
    batch_grid(rows, ax)
    for r, (label, _) in enumerate(rows):
        if r < 3:
            text = _NEGATIVES["hybrid" if label.startswith("hybrid") else label]
            ax.text(batch_size + 0.2, -r + 0.19 - (0.5 if r == 2 else 0), text, va="center", fontsize=7.5, wrap=True)
    ax.set_xlim(0, batch_size + 5.2)
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
