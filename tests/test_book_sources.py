"""The committed chapters follow the book's rules for figures, code and glued numbers.

These checks read the notebooks only (nothing is executed), so they run in every test session;
``test_book_html.py`` checks the same rules on the rendered pages in a browser.

- Code lines fit the text column (88 characters).
- A cell that draws (``plt.show()``) is a numbered figure: cell metadata ``mystnb.figure`` with a
  ``name`` and a caption, ``mystnb.image.alt`` text, and no other displayed output (myst-nb wraps
  every displayed output of the cell in the figure); its image has no title (the caption says what
  it shows).
- Every figure is cited from the chapter's text with ``{numref}`` (no typed "Figure 4.2").
- Every ``{glue:...}`` role in the text has a ``glue("name", ...)`` in a code cell of its chapter.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_LINE = 88


def cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [{**c, "source": "".join(c["source"])} for c in nb["cells"]]


def tree(source: str) -> ast.Module:
    """A cell's syntax tree (IPython magics and shell escapes blanked out)."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _calls_outside_functions(node: ast.AST) -> list[str]:
    names = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(child, ast.Call):
            names.append(_call_name(child))
        names += _calls_outside_functions(child)
    return names


def drawing_functions(chapter: list[dict]) -> set[str]:
    """Functions defined in the chapter whose body calls ``plt.show()``."""
    names = set()
    for cell in chapter:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(tree(cell["source"])):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(n, ast.Call) and _call_name(n) == "plt.show" for n in ast.walk(node)
            ):
                names.add(node.name)
    return names


def figure_cells(chapter: list[dict]) -> list[dict]:
    """The code cells that draw: they call ``plt.show()`` or a function of the chapter that does."""
    drawing = drawing_functions(chapter) | {"plt.show"}
    return [c for c in chapter if c["cell_type"] == "code"
            and set(_calls_outside_functions(tree(c["source"]))) & drawing]


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_code_lines_fit_the_column(path: Path) -> None:
    long = [f"cell {i}: {line}" for i, c in enumerate(cells(path)) if c["cell_type"] == "code"
            for line in c["source"].splitlines() if len(line) > MAX_LINE]
    assert not long, f"code lines over {MAX_LINE} characters:\n" + "\n".join(long)


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_every_plot_is_a_named_captioned_figure(path: Path) -> None:
    chapter = cells(path)
    problems = []
    for cell in figure_cells(chapter):
        meta = cell.get("metadata", {}).get("mystnb", {})
        figure, image = meta.get("figure", {}), meta.get("image", {})
        where = cell["source"].splitlines()[0][:60]
        if not figure.get("name", "").startswith("fig-"):
            problems.append(f"{where!r}: no figure name (mystnb.figure.name = 'fig-...')")
        if len(figure.get("caption", "")) < 40:
            problems.append(f"{where!r}: no caption that says what to look at (mystnb.figure.caption)")
        if not image.get("alt", "").strip():
            problems.append(f"{where!r}: no alt text (mystnb.image.alt)")
        calls = set(_calls_outside_functions(tree(cell["source"])))
        if calls & {"display", "glue"}:
            problems.append(f"{where!r}: displays more than the figure ({sorted(calls & {'display', 'glue'})})")
        last = tree(cell["source"]).body[-1]
        if isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call):
            problems.append(f"{where!r}: ends with an expression whose value would be displayed")
        if re.search(r"suptitle\(|set_title\(f?[\"']Figure", cell["source"]):
            problems.append(f"{where!r}: a title baked into the image (the caption says it)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_every_figure_is_cited_by_number(path: Path) -> None:
    chapter = cells(path)
    text = "\n".join(c["source"] for c in chapter if c["cell_type"] == "markdown")
    names = [c["metadata"]["mystnb"]["figure"]["name"] for c in chapter
             if c["cell_type"] == "code" and "figure" in c.get("metadata", {}).get("mystnb", {})]
    uncited = [n for n in names if f"{{numref}}`{n}`" not in text]
    assert not uncited, f"figures the text never cites with {{numref}}: {uncited}"
    typed = re.findall(r"(?<![`\w])(?:Figure|Fig\.) \d+\.\d+", text)
    assert not typed, f"figure numbers typed by hand (use {{numref}}): {typed}"


def test_figure_names_are_unique() -> None:
    seen: dict[str, str] = {}
    for path in CHAPTERS:
        for c in cells(path):
            name = c.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
            if name:
                assert name not in seen, f"figure name {name} in {path.name} and {seen[name]}"
                seen[name] = path.name


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_glued_names_are_defined(path: Path) -> None:
    chapter = cells(path)
    text = "\n".join(c["source"] for c in chapter if c["cell_type"] == "markdown")
    used = {m.split(":")[0] for m in re.findall(r"\{glue(?::\w+)?\}`([^`]+)`", text)}
    code = "\n".join(c["source"] for c in chapter if c["cell_type"] == "code")
    defined = set(re.findall(r"glue\(\s*[\"']([^\"']+)[\"']", code))
    assert used <= defined, f"glued names used in the text but never glued: {sorted(used - defined)}"


#: Cell tags that keep a cell's code out of the rendered page (collapsed or removed).
HIDDEN_CODE_TAGS = {"hide-input", "remove-input", "hide-cell", "remove-cell"}
MAX_VISIBLE_CODE_LINES = 150
MAX_IMPORT_CELL_LINES = 10


def visible_code(chapter: list[dict]) -> list[dict]:
    """The code cells whose code the rendered page shows (no hiding tag)."""
    return [c for c in chapter if c["cell_type"] == "code"
            and not HIDDEN_CODE_TAGS & set(c.get("metadata", {}).get("tags", []))]


def code_lines(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip())


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_a_chapter_shows_the_idea_not_the_bookkeeping(path: Path) -> None:
    """At most 150 visible (non-blank) code lines per chapter, and no visible cell that opens with
    imports longer than 10 lines: set-up, glue and prose builders live in hidden cells or the package."""
    shown = visible_code(cells(path))
    total = sum(code_lines(c["source"]) for c in shown)
    assert total <= MAX_VISIBLE_CODE_LINES, f"{total} visible code lines (at most {MAX_VISIBLE_CODE_LINES})"
    for cell in shown:
        body = tree(cell["source"]).body
        if body and isinstance(body[0], (ast.Import, ast.ImportFrom)):
            n = code_lines(cell["source"])
            assert n <= MAX_IMPORT_CELL_LINES, f"a visible cell opening with imports has {n} lines:\n{cell['source'][:300]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_every_table_is_numbered_captioned_and_cited(path: Path) -> None:
    """A table a cell shows with ``show_table(frame, "tab-x")`` sits in a cell tagged ``remove-output``
    (the book shows the captioned copy), is pasted by a ``{table}`` directive named ``tab-x`` with a
    caption, and is cited with ``{numref}`tab-x```; a Markdown table in the text is a ``{table}`` too."""
    chapter = cells(path)
    text = "\n".join(c["source"] for c in chapter if c["cell_type"] == "markdown")
    shown = []
    for cell in chapter:
        if cell["cell_type"] != "code":
            continue
        keys = re.findall(r"show_table\([^\n]*?,\s*[\"'](tab-[\w-]+)[\"']\s*\)", cell["source"])
        if "show_table(" in cell["source"]:
            assert keys, f"show_table without a literal 'tab-...' name:\n{cell['source'][:200]}"
            assert "remove-output" in cell.get("metadata", {}).get("tags", []), (
                f"the cell showing {keys} is not tagged remove-output")
        shown += keys
    tables = re.findall(r":::\{table\}\s*(\S[^\n]*)\n:name: (tab-[\w-]+)\n", text)
    named = {name for _, name in tables}
    for key in shown:
        assert key in named, f"{key} is glued but no {{table}} directive named {key} pastes it"
        assert re.search(r"\{glue:md\} " + re.escape(key) + r"\n", text), f"no {{glue:md}} {key}"
    pasted = set(re.findall(r"\{glue:md\} (tab-[\w-]+)\n", text))
    assert pasted <= set(shown), f"tables pasted but never glued by show_table: {sorted(pasted - set(shown))}"
    for caption, name in tables:
        assert len(caption.split()) >= 4, f"{name}: caption '{caption}' says too little"
        assert f"{{numref}}`{name}`" in text, f"{name} is never cited with {{numref}}"
    inside = False
    for line in text.splitlines():
        if line.startswith(":::{table}"):
            inside = True
        elif line.strip() == ":::":
            inside = False
        elif re.match(r"\s*\|[-: |]+\|\s*$", line):
            assert inside, f"a Markdown table outside a captioned {{table}} directive (rule: {line})"
