"""Build the book: execute every chapter with papermill, then render HTML with Jupyter Book 1.x.

Steps (``make book`` runs this):

1. copy the book sources (``_config.yml``, ``_toc.yml``, ``book/``, ``references.bib``) into
   ``_build/src``;
2. execute each notebook listed in ``_toc.yml`` with papermill into ``_build/src/notebooks``, passing
   ``profile`` (default ``ci``: offline, small, 2 CPU cores) to the cell tagged ``parameters``; the
   committed notebooks stay without outputs;
3. ``jupyter-book build`` with execution off and warnings as errors; the HTML lands in ``_build/html``.

A chapter that fails keeps its partly executed copy in ``_build/src/notebooks`` for inspection and
the build exits non-zero. Timings per chapter go to ``_build/execution.json``.

While editing one chapter, ``--only 04_evaluation --reuse`` executes that chapter and keeps the
executed copies of the others from the previous build (when newer than their source); the browser
tests (``tests/test_book_html.py``) then check the rendered pages.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
SRC = BUILD / "src"


def toc_files(toc_path: Path) -> list[str]:
    """Every file named in a jb-book ``_toc.yml`` (root, parts, chapters, sections), in order."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return files


def notebooks(toc_path: Path) -> list[Path]:
    """The chapter notebooks (``notebooks/*.ipynb``) in table-of-contents order."""
    out = []
    for f in toc_files(toc_path):
        path = ROOT / f"{f}.ipynb"
        if path.is_file():
            out.append(path)
    return out


MATHJAX = "3.2.2"


def local_mathjax() -> Path | None:
    """MathJax's ``es5`` folder from the npm registry (cached), so formulas render without a CDN.

    Returns None when npm is unavailable; the pages then load MathJax from its CDN as usual.
    """
    cache = Path(os.environ.get("HYBRID_IR_CACHE_DIR", Path.home() / ".cache" / "hybrid_ir"))
    target = cache / f"mathjax-{MATHJAX}" / "es5"
    if (target / "tex-chtml.js").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        return None
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", f"mathjax@{MATHJAX}", "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True, timeout=300)
        tarballs = list(Path(tmp).glob("mathjax-*.tgz"))
        if done.returncode != 0 or not tarballs:
            print(f"[book] MathJax not fetched (npm: {done.stderr.strip()[:200]}); using the CDN", flush=True)
            return None
        with tarfile.open(tarballs[0]) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/es5/")]
            tar.extractall(tmp, members=members, filter="data")
        staged = target.with_name("es5.tmp")
        if staged.exists():
            shutil.rmtree(staged)
        shutil.copytree(Path(tmp) / "package" / "es5", staged)
        os.replace(staged, target)
    return target


FINDINGS_MARKER = "<!-- findings -->"


def write_findings(intro: Path) -> None:
    """Put the dashboard and findings, computed from ``results/`` now, at the marker of the (staged)
    introduction; the claims figure is written beside it."""
    from hybrid_ir.book.findings import findings_markdown

    text = intro.read_text(encoding="utf-8")
    if FINDINGS_MARKER not in text:
        raise SystemExit(f"{intro}: the marker {FINDINGS_MARKER} for the findings is missing")
    findings = findings_markdown(ROOT / "results", figure_dir=intro.parent)  # the claims figure beside the page
    intro.write_text(text.replace(FINDINGS_MARKER, findings), encoding="utf-8")


TIMINGS_MARKER = "<!-- timings -->"


def machine() -> str:
    """'Intel(R) Xeon(R) Processor, 2 cores': the CPU this build ran on (from /proc/cpuinfo)."""
    from hybrid_ir.book.timing import machine_name

    return machine_name()


def chapter_title(nb: Path) -> str:
    """The chapter's title: the first heading of its first Markdown cell."""
    for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return nb.stem


def record_times(timings: dict[str, float], profile: str) -> None:
    """Keep this build's measured chapter times in ``book/chapter_times.json`` (committed): each
    chapter's first cell prints its time from there (``hybrid_ir.book.timing``)."""
    from hybrid_ir.atomic import write_json
    from hybrid_ir.book.timing import CHAPTER_TIMES

    expected = {nb.name for nb in notebooks(ROOT / "_toc.yml")}
    if profile != "ci" or set(timings) != expected:
        raise SystemExit("--record-times needs a full build in the ci profile (every chapter executed)")
    write_json(ROOT / CHAPTER_TIMES, {"profile": profile, "machine": machine(),
                                      "date": time.strftime("%Y-%m-%d"), "seconds": timings})
    print(f"[book] chapter times recorded in {CHAPTER_TIMES}")


def write_timings(page: Path) -> None:
    """Fill the reproducibility page's table of chapter times with the recorded ones: the ci times of
    the last full build that recorded them (``book/chapter_times.json``, which each chapter's first
    cell prints too) and the default profile's measured times or estimates."""
    from hybrid_ir.book.profiles import PROFILES
    from hybrid_ir.book.timing import (
        CHAPTER_TIMES,
        _recorded_cpu_rates,
        measured_conditions,
        measured_seconds,
        profile_time_text,
    )

    text = page.read_text(encoding="utf-8")
    if TIMINGS_MARKER not in text:
        raise SystemExit(f"{page}: the marker {TIMINGS_MARKER} for the timings is missing")
    record = ROOT / CHAPTER_TIMES
    data = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else None
    when = f"{data.get('date', 'an unknown date')}, {data.get('machine', 'an unknown machine')}" if data else None
    stems = [nb.stem for nb in notebooks(ROOT / "_toc.yml")]
    how = measured_conditions("default", stems)
    ci = (f"the ci profile's times are those of the last full ci build that recorded them ({when}), the times "
          "each chapter's first cell prints" if when else
          "no ci build has recorded its times yet")
    default = (f"the default profile's times are measured where the cell says so (tools/time_chapters.py, alone "
               f"on the machine, {how}) and elsewhere " if how else "the default profile's times are ")
    rows = [f"```{{table}} Execution time of each chapter on a 2-core CPU: {ci}; {default}estimated from its "
            "sizes and the rates the recorded runs measured on 2 CPU cores; no GPU time is measured yet.\n"
            ":name: tab-chapter-times\n",
            "| chapter | ci profile | default profile | Colab profile, GPU |",
            "|---|---|---|---|"]
    rates = _recorded_cpu_rates()  # read the recorded runs once, not once per chapter
    for nb in notebooks(ROOT / "_toc.yml"):
        recorded = measured_seconds(nb.stem)
        ci_time = f"{recorded[0]:.0f} s" if recorded else "not recorded"
        estimate = profile_time_text(PROFILES["default"], nb.stem, rates)
        rows.append(f"| [{chapter_title(nb)}](../notebooks/{nb.stem}.ipynb) | {ci_time} | {estimate} "
                    "| not measured |")
    page.write_text(text.replace(TIMINGS_MARKER, "\n".join(rows) + "\n```\n"), encoding="utf-8")


def write_page_figures(folder: Path) -> None:
    """The Markdown pages' figures, drawn now by the package (the Background page's batch types)."""
    from hybrid_ir.book.pages import BATCH_TYPES_FIGURE, batch_types_figure

    batch_types_figure(folder / BATCH_TYPES_FIGURE)


def write_settings(config_file: Path) -> None:
    """Give the Markdown pages' substitutions (``{{ train_questions }}``) the recorded settings."""
    from hybrid_ir.book.settings import book_settings

    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    parse = config.setdefault("parse", {})
    parse["myst_substitutions"] = {**parse.get("myst_substitutions", {}), **book_settings(ROOT / "results")}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def copy_sources() -> None:
    if SRC.exists():
        shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml", "references.bib", "logo.png"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, SRC / name)
    shutil.copytree(ROOT / "book", SRC / "book")
    write_findings(SRC / "book" / "intro.md")
    write_page_figures(SRC / "book")
    write_settings(SRC / "_config.yml")
    if (ROOT / "_static").is_dir():  # the book's style sheet (Jupyter Book loads every .css in it)
        shutil.copytree(ROOT / "_static", SRC / "_static")
    (SRC / "notebooks").mkdir()
    mathjax = local_mathjax()
    if mathjax is not None:  # serve MathJax with the book (offline builds render formulas too)
        serve_mathjax(mathjax)


def serve_mathjax(mathjax: Path) -> None:
    """Serve MathJax from the book itself: one bundle (``tex-chtml.js``) per page.

    MathJax goes to an *extra* path (copied as it is into the HTML root, as ``mathjax/``), not to
    ``_static``: Jupyter Book adds every ``.js`` file under a static path to every page as a
    ``<script>``, which made each page load all 69 MathJax files (about 20 MB). Of the combined
    bundles only ``tex-chtml.js`` is kept; the components it loads on demand (fonts, TeX
    extensions, the accessibility menu) stay beside it.
    """
    bundles = {p.name for p in mathjax.glob("*.js")} - {"tex-chtml.js"}
    shutil.copytree(mathjax, SRC / "_mathjax" / "mathjax", ignore=lambda folder, names:
                    [n for n in names if Path(folder) == mathjax and n in bundles])
    config = yaml.safe_load((SRC / "_config.yml").read_text(encoding="utf-8"))
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["mathjax_path"] = "../mathjax/tex-chtml.js"  # Sphinx puts it under _static/
    sphinx_config["html_extra_path"] = [*sphinx_config.get("html_extra_path", []), "_mathjax"]
    (SRC / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def execute(nb: Path, profile: str, timeout: int) -> float:
    """Run one notebook with papermill into the build tree; returns the wall time in seconds."""
    import papermill as pm

    out = SRC / "notebooks" / nb.name
    start = time.perf_counter()
    pm.execute_notebook(
        str(nb),
        str(out),
        parameters={"profile": profile},
        kernel_name="python3",
        cwd=str(SRC / "notebooks"),
        progress_bar=False,
        execution_timeout=timeout,
        log_output=False,
    )
    tidy(out)
    return time.perf_counter() - start


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def tidy(path: Path) -> None:
    """Prepare an executed chapter for the page.

    - Hide papermill's injected-parameters cell (the ``parameters`` cell above it already shows
      the knobs; the injected values are listed in the chapter's output).
    - Drop Jupyter widget outputs (library progress bars) and the notebook's widget state: with
      them, myst-nb makes the page load require.js and the widget manager from two CDNs, which
      fail offline, for a progress bar that shows nothing useful on a static page.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-input" not in tags:
            cell.metadata["tags"] = [*tags, "remove-input"]
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    nbformat.write(nb, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci", help="notebook profile (ci, default, colab)")
    parser.add_argument("--record-times", action="store_true",
                        help="write the chapters' measured times to book/chapter_times.json (a full build only)")
    parser.add_argument("--only", nargs="*", help="execute only these notebooks (file stems)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--no-execute", action="store_true", help="render the committed notebooks as they are")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the executed copy of a chapter from the previous build when it is newer "
                             "than the chapter (execute only the chapters edited since)")
    parser.add_argument("--build-dir", type=Path, default=None,
                        help="build folder (default _build); the HTML lands in its html/ folder")
    args = parser.parse_args(argv)
    if args.record_times and (args.profile != "ci" or args.only or args.reuse or args.no_execute):
        parser.error("--record-times needs a full build in the ci profile (no --only, --reuse or --no-execute)")
    global BUILD, SRC
    if args.build_dir is not None:
        BUILD = args.build_dir.resolve()
        SRC = BUILD / "src"
    reusable = {}
    if args.reuse and (SRC / "notebooks").is_dir():  # read before copy_sources() clears the folder
        for nb in notebooks(ROOT / "_toc.yml"):
            old = SRC / "notebooks" / nb.name
            if old.is_file() and old.stat().st_mtime > nb.stat().st_mtime:
                reusable[nb.name] = old.read_bytes()

    os.environ.setdefault("HYBRID_IR_RECORD_DIR", str(BUILD / "records"))
    shared = ROOT.parent / "shared" / "data"
    if "HYBRID_IR_DATA_DIR" not in os.environ and shared.is_dir():
        os.environ["HYBRID_IR_DATA_DIR"] = str(shared)
    copy_sources()
    timings: dict[str, float] = {}
    failed: list[str] = []
    for nb in notebooks(ROOT / "_toc.yml"):
        if nb.name in reusable and not (args.only and nb.stem in args.only):
            (SRC / "notebooks" / nb.name).write_bytes(reusable[nb.name])
            print(f"[book] reusing the executed {nb.name} of the previous build", flush=True)
            continue
        if args.no_execute or (args.only and nb.stem not in args.only):
            shutil.copy2(nb, SRC / "notebooks" / nb.name)
            continue
        print(f"[book] executing {nb.name} (profile {args.profile}) ...", flush=True)
        try:
            timings[nb.name] = round(execute(nb, args.profile, args.timeout), 1)
            print(f"[book]   done in {timings[nb.name]:.1f} s", flush=True)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            failed.append(nb.name)
            print(f"[book]   FAILED: {exc}", file=sys.stderr, flush=True)
    BUILD.mkdir(exist_ok=True)
    (BUILD / "execution.json").write_text(json.dumps({"profile": args.profile, "seconds": timings}, indent=1))
    write_timings(SRC / "book" / "reproducibility.md")
    if args.record_times and not failed:
        record_times(timings, args.profile)
    if failed:
        print(f"[book] {len(failed)} chapter(s) failed: {failed}; executed copies in {SRC / 'notebooks'}",
              file=sys.stderr)
        return 1
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(SRC), "--path-output", str(BUILD / "jb"), "-W", "--keep-going"]
    print("[book] " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    html = BUILD / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(BUILD / "jb" / "_build" / "html", html)
    print(f"[book] HTML: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
