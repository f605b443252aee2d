"""The rendered book in a real browser, page by page, as a reader at a 1280 x 900 window sees it.

Needs the HTML of ``make book`` (``_build/html``, or the folder named by ``HYBRID_IR_BOOK_HTML``)
and headless Chromium (``make test`` installs it with apt when it can); marked ``browser``.
Every page listed in ``_toc.yml`` is opened once (``tests/browser_support.py`` drives Chromium
over the DevTools protocol) with every folded block opened, and checked for:

- nothing wider than the text column: no table, cell output, code block or formula that scrolls
  sideways or sticks out of the column;
- every image inside a numbered figure with a non-empty caption and alt text, and every figure
  referred to by its number ("Figure 4.2") from the text of its page;
- no broken image and no failed request with the network off (the Colab link is text);
- every table numbered ("Table 8.2"), captioned and referred to by its number from the text;
- at most 150 lines of code a reader sees on a chapter page without unfolding anything;
- weight: the page with everything it loads (HTML, scripts, styles, fonts, images) under 5 MB,
  and one MathJax bundle.

``test_screenshots`` leaves 1280 x 900 screenshots of every page, screen by screen, in
``_build/screenshots`` for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from browser_support import PAGE_CHECKS, Browser, find_chromium
from notebook_support import BUILD, CHAPTERS, ROOT

pytestmark = pytest.mark.browser
HTML = Path(os.environ.get("HYBRID_IR_BOOK_HTML", BUILD / "html"))
WIDTH, HEIGHT = 1280, 900
MAX_PAGE_BYTES = 5_000_000


def toc_pages() -> list[str]:
    """Every page of ``_toc.yml`` as its path without suffix (``book/intro``, ``notebooks/01_data``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return pages


PAGES = toc_pages()


@pytest.fixture(scope="module")
def html() -> Path:
    if not (HTML / "index.html").is_file():
        pytest.skip(f"no rendered book in {HTML}: run `make book` first")
    return HTML


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    with Browser(binary, width=WIDTH, height=HEIGHT) as b:
        yield b


@pytest.fixture(scope="module")
def measured(html: Path, browser: Browser):
    """``page -> (PAGE_CHECKS answer, requested resources)``, each page opened once."""
    cache: dict[str, tuple[dict, list]] = {}

    def measure(page: str) -> tuple[dict, list]:
        if page not in cache:
            path = html / f"{page}.html"
            assert path.is_file(), f"{path} was not rendered"
            browser.open(path.as_uri())
            cache[page] = (browser.evaluate(PAGE_CHECKS), browser.resources())
        return cache[page]

    return measure


@pytest.mark.parametrize("page", PAGES)
def test_nothing_wider_than_the_column(page: str, measured) -> None:
    checks, _ = measured(page)
    assert checks["pageWidth"] <= checks["viewport"], "the page scrolls sideways"
    wide = [f"{w['what']} ({w['width']} px)" for w in checks["wide"]]
    assert not wide, f"wider than the {checks['column']} px text column:\n" + "\n".join(wide)


@pytest.mark.parametrize("page", PAGES)
def test_every_image_is_a_captioned_figure(page: str, measured) -> None:
    checks, _ = measured(page)
    bare = [i["src"] for i in checks["images"] if i["inArticle"] and not i["caption"]]
    assert not bare, f"images without a figure caption: {bare}"
    no_alt = [i["src"] for i in checks["images"] if i["inArticle"] and not (i["alt"] or "").strip()]
    assert not no_alt, f"images without alt text: {no_alt}"


@pytest.mark.parametrize("page", PAGES)
def test_every_figure_is_referred_to_by_number(page: str, measured) -> None:
    checks, _ = measured(page)
    unnumbered = [f["id"] for f in checks["figures"] if not f["number"]]
    assert not unnumbered, f"figures without a number (give them a name): {unnumbered}"
    unreferenced = [f"{f['number']} ({f['id']})" for f in checks["figures"] if not f["references"]]
    assert not unreferenced, f"figures the text never refers to: {unreferenced}"


@pytest.mark.parametrize("page", PAGES)
def test_every_table_is_numbered_captioned_and_referred_to(page: str, measured) -> None:
    checks, _ = measured(page)
    bare = [t["head"] for t in checks["tables"] if not t["number"] or len(t["caption"].split()) < 4]
    assert not bare, f"tables without a number and caption (columns shown): {bare}"
    unreferenced = [t["number"] for t in checks["tables"] if not t["references"]]
    assert not unreferenced, f"tables the text never refers to: {unreferenced}"


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("notebooks/")])
def test_a_chapter_shows_at_most_150_lines_of_code(page: str, measured) -> None:
    checks, _ = measured(page)
    assert 0 < checks["codeLines"] <= 150, f"{checks['codeLines']} lines of visible code"


@pytest.mark.parametrize("page", PAGES)
def test_no_broken_image_offline(page: str, measured) -> None:
    checks, resources = measured(page)
    broken = [i["src"] for i in checks["images"] if i["broken"]]
    assert not broken, f"broken images: {broken}"
    failed = [r.url for r in resources if r.failed]
    assert not failed, f"requests that failed offline: {failed}"
    remote = [r.url for r in resources if not r.url.startswith(("file:", "data:"))]
    assert not remote, f"requests outside the book: {remote}"


@pytest.mark.parametrize("page", PAGES)
def test_page_weight(page: str, measured) -> None:
    checks, resources = measured(page)
    total = sum(r.size for r in resources)
    largest = sorted(resources, key=lambda r: -r.size)[:5]
    assert total < MAX_PAGE_BYTES, (
        f"{page} loads {total / 1e6:.1f} MB; largest: "
        + ", ".join(f"{Path(r.url).name} {r.size / 1e6:.2f} MB" for r in largest))
    mathjax = [s for s in checks["scripts"] if "mathjax" in s.lower()]
    assert len(mathjax) <= 1, f"{len(mathjax)} MathJax scripts: {mathjax[:5]}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_page(name: str, html: Path, browser: Browser) -> None:
    page = html / "notebooks" / f"{name}.html"
    assert page.is_file(), f"{page} was not rendered"
    browser.open(page.as_uri())
    dom = browser.evaluate("document.documentElement.outerHTML")
    title = browser.evaluate("document.querySelector('article h1').innerText")
    assert re.match(r"\d+\. \w", title), f"the chapter title has no number: {title!r}"
    errors = browser.evaluate(
        "[...document.querySelectorAll('.cell_output')].filter((o) =>"
        " o.querySelector('.traceback, .output.error') ||"
        " /Traceback \\(most recent call last\\)/.test(o.innerText)).length"
    )
    assert errors == 0, f"{errors} cell outputs on the page show an error"
    assert "colab.research.google.com" in dom, "no Open-in-Colab link"


def test_index_links_every_chapter(html: Path, browser: Browser) -> None:
    browser.open((html / "index.html").as_uri())
    dom = browser.evaluate("document.documentElement.outerHTML")
    for name in CHAPTERS:
        assert f"notebooks/{name}.html" in dom


def test_screenshots(html: Path, browser: Browser) -> None:
    """Screenshots of every page for a person to look at (kept in _build/screenshots): the page
    screen by screen at 1280 x 900, as a reader scrolls through it."""
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    for page in PAGES:
        browser.open((html / f"{page}.html").as_uri())
        screens = browser.screenshots(shots / page.replace("/", "_"))
        assert screens and all(p.stat().st_size > 10_000 for p in screens)
