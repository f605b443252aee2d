"""Headless Chromium driven over the DevTools protocol, for checking the rendered book as a reader sees it.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol messages (JSON, each ending
with a NUL byte) on file descriptor 3 and writes its answers and events on descriptor 4. That needs
nothing beyond the standard library (no websocket client, no Selenium or Playwright). One
:class:`Browser` opens a page at a fixed window size, waits until it has loaded (scripts, MathJax,
fonts, images), and then answers questions about it:

- :meth:`Browser.evaluate` runs JavaScript in the page and returns its (JSON) value;
- :meth:`Browser.resources` lists every URL the page requested, with its size and whether it failed;
- :meth:`Browser.screenshot` writes a PNG of the window, :meth:`Browser.screenshots` one per
  screen of the whole page.

Example::

    with Browser("/usr/bin/chromium", width=1280, height=900) as browser:
        browser.open(Path("_build/html/index.html").as_uri())
        title = browser.evaluate("document.title")
        weight = sum(r.size for r in browser.resources())

:data:`PAGE_CHECKS` is the JavaScript that measures one page of the book (layout, figures, images);
the tests in ``test_book_html.py`` turn its answer into assertions.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio", "--disable-dev-shm-usage")


#: The one line a browser test is skipped with on a machine without Chromium.
MISSING_CHROMIUM = ("headless Chromium is not installed: the rendered-book tests are skipped "
                    "(sudo apt-get install chromium, or see the README)")


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) binary on this machine, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    """Chromium died, answered with an error, or did not answer in time."""


@dataclass(frozen=True)
class Resource:
    """One URL a page requested: its size in bytes (file URLs: the file's size) and its fate."""

    url: str
    kind: str  # the protocol's resource type: Document, Script, Stylesheet, Image, Font, ...
    size: int
    failed: bool


class Browser:
    """One headless Chromium tab at a fixed window size (CSS pixels, device scale 1)."""

    def __init__(self, binary: str, *, width: int = 1280, height: int = 900, timeout: float = 60.0) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self._profile = tempfile.mkdtemp(prefix="hybrid-ir-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:  # in the child: its fd 3 reads our messages, its fd 4 writes answers
            high_r, high_w = os.dup(to_browser_r), os.dup(from_browser_w)  # avoid clobbering 3 or 4
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._process = subprocess.Popen(
            [binary, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes, close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        self._session: str | None = None
        try:
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Network", "Runtime"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except Exception:
            self.close()
            raise

    # -- the protocol -------------------------------------------------------------------------
    def _write(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data):]

    def _read(self, deadline: float) -> dict:
        """The next message from the browser (answer or event)."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium closed the pipe (exit status {self._process.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def send(self, method: str, params: dict | None = None) -> dict:
        """Send one protocol command to the tab and return its result."""
        return self._call(method, params, self._session)

    def _wait_event(self, method: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(i)
            message = self._read(deadline)
            if "method" in message:
                self._events.append(message)

    # -- pages --------------------------------------------------------------------------------
    def open(self, url: str, *, settle: float = 0.3) -> None:
        """Load ``url`` and wait for its load event, MathJax's typesetting, its fonts and images."""
        self._events.clear()
        self._requests: dict[str, dict] = {}
        answer = self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"{url}: {answer['errorText']}")
        self._wait_event("Page.loadEventFired", self.timeout)
        self.evaluate(
            """(async () => {
                 for (const img of document.images) { img.loading = "eager"; }
                 if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
                   await MathJax.startup.promise;
                 }
                 await document.fonts.ready;
                 await Promise.all([...document.images].map((img) => img.complete ? null :
                   new Promise((done) => { img.onload = img.onerror = done; })));
                 return true;
               })()""",
        )
        time.sleep(settle)
        self._drain()

    def _drain(self) -> None:
        """Read the events already sent (requests, responses, failures) without waiting for more."""
        while True:
            ready, _, _ = select.select([self._from_browser], [], [], 0.05)
            if not ready and b"\0" not in self._buffer:
                break
            self._events.append(self._read(time.monotonic() + self.timeout))
        for event in self._events:
            params = event.get("params", {})
            request_id = params.get("requestId")
            if event.get("method") == "Network.requestWillBeSent":
                self._requests.setdefault(request_id, {"url": params["request"]["url"],
                                                       "kind": params.get("type", "Other"),
                                                       "bytes": 0, "failed": False})
            elif request_id in self._requests and event.get("method") == "Network.loadingFinished":
                self._requests[request_id]["bytes"] = int(params.get("encodedDataLength", 0))
            elif request_id in self._requests and event.get("method") == "Network.loadingFailed":
                self._requests[request_id]["failed"] = True
        self._events = [e for e in self._events if not e.get("method", "").startswith("Network.")]

    def resources(self) -> list[Resource]:
        """Every distinct URL the current page requested (the page itself included).

        ``file:`` URLs are sized by the file on disk (the protocol reports no transfer size for
        them); ``data:`` URLs are part of the page that contains them and are left out.
        """
        self._drain()
        out: dict[str, Resource] = {}
        for request in self._requests.values():
            url = request["url"]
            if url.startswith("data:"):
                continue
            parts = urlsplit(url)
            key = url.split("#")[0].split("?")[0] if parts.scheme == "file" else url
            size = request["bytes"]
            failed = request["failed"]
            if parts.scheme == "file":
                path = Path(unquote(parts.path))
                failed = failed or not path.is_file()
                size = path.stat().st_size if path.is_file() else 0
            out[key] = Resource(key, request["kind"], size, failed)
        return list(out.values())

    def evaluate(self, expression: str) -> Any:
        """Run JavaScript in the page (promises are awaited) and return its value as JSON."""
        answer = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True})
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return answer.get("result", {}).get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of what the window shows now."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def screenshots(self, stem: Path, *, overlap: int = 60, max_screens: int = 60) -> list[Path]:
        """The whole page as a reader scrolls through it: one window-sized PNG per screen
        (``<stem>-01.png``, ...), each overlapping the previous by ``overlap`` pixels."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        paths = []
        for i, top in enumerate(range(0, max(height - overlap, 1), self.height - overlap)):
            if i == max_screens:
                break
            self.evaluate(f"window.scrollTo(0, {top}); new Promise((r) => requestAnimationFrame(() => r(1)))")
            paths.append(self.screenshot(stem.with_name(f"{stem.name}-{i + 1:02d}.png")))
        self.evaluate("window.scrollTo(0, 0)")
        return paths

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                with suppress(BrowserError, OSError):
                    self._call("Browser.close")
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                with suppress(OSError):
                    os.close(fd)
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def browser(width: int = 1280, height: int = 900) -> Iterator[Browser]:
    """A :class:`Browser` on this machine's Chromium (raises FileNotFoundError when there is none)."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError(MISSING_CHROMIUM)
    with Browser(binary, width=width, height=height) as b:
        yield b


#: Measures one page of the book after every folded block (``<details>``) has been opened, since a
#: reader can open them too. The content column is the article's content box.
PAGE_CHECKS = r"""
(() => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  for (const d of article.querySelectorAll("details")) { d.open = true; }
  for (const t of article.querySelectorAll(".toggle-hidden")) { t.classList.remove("toggle-hidden"); }
  const box = article.getBoundingClientRect();
  const style = getComputedStyle(article);
  const left = box.left + parseFloat(style.paddingLeft), right = box.right - parseFloat(style.paddingRight);
  const describe = (el) => {
    const section = el.closest("section");
    const h = section ? section.querySelector("h1, h2, h3") : null;
    const heading = h ? h.textContent.replace(/[#¶]/g, "").trim() : "";
    const text = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 80);
    return `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} under "${heading}": ${text}`;
  };
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const wide = [];
  const seen = new Set();
  const selectors = "table, pre, .cell_output, div.output, .output_area, mjx-container[display='true'], " +
                    "div.math, .highlight, img, figure, .pst-scrollable-table-container, .table-wrapper";
  for (const el of article.querySelectorAll(selectors)) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    const scrolls = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 &&
                    getComputedStyle(el).overflowX !== "visible";
    const sticksOut = r.right > right + 1 || r.left < left - 1;
    if ((scrolls || sticksOut) && !seen.has(el)) {
      seen.add(el);
      wide.push({what: describe(el), width: Math.max(el.scrollWidth, Math.round(r.width)),
                 column: Math.round(right - left)});
    }
  }
  const images = [...document.images].map((img) => ({
    src: img.currentSrc.slice(0, 120),
    broken: !img.complete || img.naturalWidth === 0,
    inArticle: article.contains(img),
    caption: img.closest("figure") && img.closest("figure").querySelector("figcaption")
      ? img.closest("figure").querySelector("figcaption").innerText.replace(/¶/g, "").trim() : null,
    alt: img.getAttribute("alt"),
  }));
  const figures = [...article.querySelectorAll("figure")].map((fig) => {
    const ids = [fig.id, ...[...fig.querySelectorAll("[id]")].map((e) => e.id)].filter(Boolean);
    const refs = [...article.querySelectorAll("a[href]")].filter((a) =>
      !fig.contains(a) && !a.classList.contains("headerlink") &&
      ids.some((id) => a.getAttribute("href").endsWith("#" + id)) && /Fig/.test(a.innerText));
    const number = fig.querySelector(".caption-number");
    return {id: ids[0] || null, number: number ? number.innerText.trim() : null,
            references: refs.map((a) => a.innerText.trim())};
  });
  const tables = [...article.querySelectorAll("table")].map((table) => {
    const number = table.querySelector("caption .caption-number");
    const text = table.querySelector("caption") ? table.querySelector("caption").innerText.replace(/¶/g, "").trim() : "";
    const refs = table.id ? [...article.querySelectorAll("a[href]")].filter((a) =>
      !table.contains(a) && a.getAttribute("href").endsWith("#" + table.id) && /Table/.test(a.innerText)) : [];
    const head = [...table.querySelectorAll("th")].slice(0, 4).map((th) => th.innerText.trim()).join(" | ");
    return {id: table.id || null, number: number ? number.innerText.trim() : null, caption: text,
            references: refs.length, head};
  });
  // code a reader sees without opening anything: inputs of cells not tagged to hide or remove them
  const hiding = ["tag_hide-input", "tag_hide-cell", "tag_remove-input", "tag_remove-cell"];
  const codeLines = [...article.querySelectorAll(".cell .cell_input")].filter((input) => {
    const cell = input.closest(".cell");
    return !hiding.some((c) => cell.classList.contains(c)) && !input.closest("details");
  }).reduce((n, input) => n + input.innerText.split("\n").filter((line) => line.trim()).length, 0);
  const scripts = [...document.scripts].map((s) => s.getAttribute("src")).filter(Boolean);
  return {column: Math.round(right - left), pageWidth: document.documentElement.scrollWidth,
          viewport: window.innerWidth, wide, images, figures, tables, codeLines, scripts};
})()
"""
