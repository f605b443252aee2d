"""The rendered book in a real browser: every chapter page exists, shows its figures, no errors.

Needs the HTML of ``make book`` (``_build/html``) and headless Chromium (``make test`` installs it
with apt when it can). Marked ``browser``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from notebook_support import BUILD, CHAPTERS

pytestmark = pytest.mark.browser
HTML = BUILD / "html"


FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-extensions", "--hide-scrollbars")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def render(page: Path, tmp_path: Path) -> str:
    """The DOM of ``page`` after Chromium has loaded it and run its scripts."""
    out = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return out.stdout


@pytest.fixture(scope="module")
def html() -> Path:
    if not (HTML / "index.html").is_file():
        pytest.skip("no rendered book: run `make book` first")
    return HTML


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_page(name: str, html: Path, tmp_path: Path) -> None:
    page = html / "notebooks" / f"{name}.html"
    assert page.is_file(), f"{page} was not rendered"
    dom = render(page, tmp_path)
    assert re.search(r"<h1[^>]*>\s*\d\.", dom), "the chapter title is missing"
    figures = re.findall(r'<img[^>]+src="[^"]*(?:\.png|data:image/png)', dom)
    assert figures, "no figure on the page"
    for marker in ("Traceback (most recent call last)", 'class="output traceback', "Error</span>"):
        assert marker not in dom, f"error output on the page: {marker}"
    assert "colab.research.google.com" in dom, "no Open-in-Colab link"


def test_index_links_every_chapter(html: Path, tmp_path: Path) -> None:
    dom = render(html / "index.html", tmp_path)
    for name in CHAPTERS:
        assert f"notebooks/{name}.html" in dom


def test_screenshots(html: Path, tmp_path: Path) -> None:
    """Screenshots of every chapter for a person to look at (kept in _build/screenshots)."""
    shots = BUILD / "screenshots"
    shots.mkdir(exist_ok=True)
    for name in ["index", *CHAPTERS]:
        page = html / ("index.html" if name == "index" else f"notebooks/{name}.html")
        target = shots / f"{name}.png"
        subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={tmp_path / name}", "--virtual-time-budget=3000",
             "--window-size=1280,2400", f"--screenshot={target}", page.as_uri()],
            capture_output=True, timeout=120, check=True,
        )
        assert target.stat().st_size > 10_000
