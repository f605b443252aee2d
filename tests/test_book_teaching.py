"""Teaching aids and sources of the book (issue 13, points 4 and 6).

- the batch picture of chapter 2 (``hybrid_ir.book.plotting.batch_grid``) draws each triplet's
  languages where they belong;
- every chapter ends with 3 to 5 exercises, at least one that runs in the book build, every
  solution folded (a ``hide-cell`` code cell or an admonition with ``:class: dropdown``);
- every cited key is in ``references.bib`` and every entry there links to a DOI, arXiv id or URL;
  the book says nothing about the paper's reviews.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgb

from hybrid_ir.book.plotting import batch_grid, language_palette
from hybrid_ir.data.examples import TrainingExample, TrainingSet, Triplet
from hybrid_ir.sampling import HybridBatchSampler


def cells(ax: plt.Axes) -> dict[tuple[int, int, str], tuple[float, float, float]]:
    """Colour of every half-cell, keyed by (row, triplet, "query" | "passage")."""
    out = {}
    for patch in ax.patches:
        x, y = patch.get_xy()
        row = round(-(y + 0.21))  # both halves of row r lie around y = -r
        half = "query" if y > -row - 0.1 else "passage"
        out[(row, int(x), half)] = to_rgb(patch.get_facecolor())
    return out


def test_each_half_cell_has_its_language_colour() -> None:
    rows = [("mono", [("de", "de")] * 3), ("cross", [("en", "zh"), ("ar", "en")])]
    palette = language_palette()
    fig, ax = plt.subplots()
    batch_grid(rows, ax, palette=palette)
    drawn = cells(ax)
    assert len(drawn) == 2 * (3 + 2)
    for r, (_, items) in enumerate(rows):
        for j, (q, p) in enumerate(items):
            assert drawn[(r, j, "query")] == pytest.approx(to_rgb(palette[q]))
            assert drawn[(r, j, "passage")] == pytest.approx(to_rgb(palette[p]))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mono", "cross"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ar (Arabic)", "de (German)", "en (English)", "zh (Chinese)"]
    codes = [t.get_text() for t in ax.texts]
    assert codes == ["de", "de"] * 3 + ["en", "zh", "ar", "en"]
    plt.close(fig)


def test_long_batches_drop_the_codes_but_keep_the_colours() -> None:
    rows = [("big", [("en", "de")] * 50)]
    fig, ax = plt.subplots()
    batch_grid(rows, ax, max_labelled=40)
    assert not ax.texts
    assert len(ax.patches) == 100
    plt.close(fig)


def test_real_sampler_batches_read_as_the_strategy_says() -> None:
    """Rows built from HybridBatchSampler batches: mono rows one colour, cross rows never equal."""
    t = Triplet("q", "p+", "p-")
    ts = TrainingSet("toy", tuple(
        TrainingExample(f"id{i}", f"a{i}", {"en": t, "de": t, "zh": t}) for i in range(12)))
    rows = []
    for strategy in ("mono", "cross"):
        batch = next(iter(HybridBatchSampler(ts, batch_size=4, strategy=strategy, seed=0)))
        rows.append((strategy, [(i.query_lang, i.passage_lang) for i in batch.items]))
    fig, ax = plt.subplots()
    batch_grid(rows, ax)
    drawn = cells(ax)
    mono_colours = {drawn[(0, j, h)] for j in range(4) for h in ("query", "passage")}
    assert len(mono_colours) == 1
    assert all(drawn[(1, j, "query")] != drawn[(1, j, "passage")] for j in range(4))
    plt.close(fig)


# ---- exercises and sources (static: the committed notebooks and book pages) ----------------------
ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [{**c, "source": "".join(c["source"])} for c in nb["cells"]]


def exercise_section(path: Path) -> list[dict]:
    """The cells from ``## Exercises`` up to the next chapter-level section (or the end)."""
    cells = _cells(path)
    start = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             and re.search(r"^## Exercises\s*$", c["source"], re.M)]
    assert len(start) == 1, f"{path.name}: one '## Exercises' section expected, found {len(start)}"
    out = [cells[start[0]]]
    for c in cells[start[0] + 1:]:
        if c["cell_type"] == "markdown" and re.search(r"^## ", c["source"], re.M):
            break
        out.append(c)
    return out


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_ends_with_exercises_and_hidden_solutions(path: Path) -> None:
    section = exercise_section(path)
    exercises = []  # per exercise: the cells from its heading to the next
    for c in section:
        if c["cell_type"] == "markdown" and re.search(r"\*\*Exercise \d+", c["source"]):
            exercises.append([c])
        elif exercises:
            exercises[-1].append(c)
    assert 3 <= len(exercises) <= 5, f"{path.name}: {len(exercises)} exercises (3 to 5 expected)"
    runnable = 0
    for cells in exercises:
        title = re.search(r"\*\*(Exercise \d+[^*]*)\*\*", cells[0]["source"]).group(1)
        code = [c for c in cells if c["cell_type"] == "code"]
        if code:  # an exercise cell for the reader, then its solution folded in the book
            tags = code[-1].get("metadata", {}).get("tags", [])
            assert len(code) == 2 and "hide-cell" in tags, f"{path.name} {title}: solution not folded"
            assert not code[0].get("metadata", {}).get("tags"), f"{path.name} {title}: exercise hidden"
            runnable += 1
        else:
            text = "\n".join(c["source"] for c in cells)
            assert re.search(r"```\{admonition\} Solution\n:class: dropdown", text), (
                f"{path.name} {title}: no folded solution (admonition with :class: dropdown)")
    assert runnable >= 1, f"{path.name}: no exercise runs in the book build"


def test_every_citation_has_an_entry_with_a_link() -> None:
    """Cited keys exist in references.bib, and every entry links somewhere (DOI, arXiv or URL)."""
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    entries = dict(re.findall(r"@\w+\{([^,]+),(.*?)\n\}", bib, re.S))
    unlinked = [k for k, body in entries.items()
                if not re.search(r"^\s*(doi|eprint|url)\s*=", body, re.M)]
    assert not unlinked, f"bibliography entries without DOI, arXiv id or URL: {unlinked}"
    texts = [p.read_text(encoding="utf-8") for p in (ROOT / "book").glob("*.md")]
    texts += ["\n".join(c["source"] for c in _cells(p) if c["cell_type"] == "markdown") for p in CHAPTERS]
    cited = {k.strip() for t in texts for keys in re.findall(r"\{cite:\w+\}`([^`]+)`", t)
             for k in keys.split(",")}
    assert cited, "no citations found"
    assert not cited - set(entries), f"cited but not in references.bib: {sorted(cited - set(entries))}"


def test_no_unsourced_statements_about_reviews() -> None:
    """The paper's reviews are not described (they were not read for this book)."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "book").glob("*.md")}
    texts |= {p.name: "\n".join(c["source"] for c in _cells(p) if c["cell_type"] == "markdown")
              for p in CHAPTERS}
    found = {name: m.group(0) for name, t in texts.items()
             if (m := re.search(r"[^.\n]*\breview(er)?s?\b[^.\n]*", t, re.I))}
    assert not found, f"statements about reviews: {found}"
