"""Time the chapters in a run profile on this machine, chapter by chapter, and record the times.

Each chapter is executed with papermill in the profile (into a temporary folder: the book and the
committed notebooks are not touched) with an empty cache of its own (it pays for the offline encoder
and every embedding it needs, as for a reader who opens only that chapter), and its wall time is
written at once to
``book/chapter_times_<profile>.json`` with the date, the commit, the machine and whether the Hugging
Face Hub was reachable (``offline`` here). The book prints these as measured times (the reproducibility
page's table, each chapter's first cell); chapters not timed keep their estimate.

Run it alone on the machine (pause the experiment runner): the times are the chapters' own. A chapter
already timed is skipped unless ``--again`` is given, so the slow chapters can be timed later:

    HYBRID_IR_DATA_DIR=../shared/data .venv/bin/python tools/time_chapters.py --profile default \\
        --only 01_data 02_batch_strategies
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_ir.atomic import write_json  # noqa: E402
from hybrid_ir.book.profiles import PROFILES  # noqa: E402
from hybrid_ir.book.timing import PROFILE_TIMES, machine_name  # noqa: E402


def commit() -> str:
    """The checkout's commit (short), with ``+changes`` when the working tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "notebooks", "hybrid_ir")
    return f"{head}+changes" if dirty else head


def record(path: Path, profile: str, chapter: str, seconds: float) -> None:
    """Add one chapter's time to the profile's record (written whole, atomically)."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"profile": profile, "chapters": {}}
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    data["chapters"][f"{chapter}.ipynb"] = {
        "seconds": round(seconds, 1), "machine": machine_name(), "date": time.strftime("%Y-%m-%d"),
        "commit": commit(), "network": "offline" if offline else "online", "cache": "empty",
    }
    data["chapters"] = dict(sorted(data["chapters"].items()))
    write_json(path, data)


def time_chapter(chapter: str, profile: str, timeout: int) -> float:
    """Execute one chapter in ``profile`` into a temporary folder; the wall time in seconds."""
    import papermill as pm

    with tempfile.TemporaryDirectory(prefix="hybrid-ir-timing-") as tmp:
        os.environ["HYBRID_IR_RECORD_DIR"] = str(Path(tmp) / "records")  # leave the build's records alone
        # an empty cache of its own: the chapter pays for everything it needs (the offline encoder, the
        # embeddings), as for a reader who opens only this chapter, whatever was timed before it
        os.environ["HYBRID_IR_CACHE_DIR"] = str(Path(tmp) / "cache")
        start = time.perf_counter()
        pm.execute_notebook(str(ROOT / "notebooks" / f"{chapter}.ipynb"), str(Path(tmp) / f"{chapter}.ipynb"),
                            parameters={"profile": profile}, kernel_name="python3",
                            cwd=str(ROOT / "notebooks"), progress_bar=False, execution_timeout=timeout,
                            log_output=False)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default", help="a run profile other than ci (ci: make book)")
    parser.add_argument("--only", nargs="*", help="these chapters (file stems); default: every chapter")
    parser.add_argument("--again", action="store_true", help="time chapters that are timed already")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.profile not in PROFILES or args.profile == "ci":
        parser.error(f"--profile must be one of {', '.join(p for p in PROFILES if p != 'ci')} "
                     "(the ci profile is timed by tools/build_book.py --record-times)")
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    unknown = sorted(set(args.only or []) - set(chapters))
    if unknown:
        parser.error(f"no chapter {', '.join(unknown)}; the chapters are {', '.join(chapters)}")
    data = os.environ.get("HYBRID_IR_DATA_DIR")
    if data:  # the chapters run in notebooks/: a relative data folder would point elsewhere there
        os.environ["HYBRID_IR_DATA_DIR"] = str(Path(data).resolve())
    path = ROOT / PROFILE_TIMES.format(profile=args.profile)
    done = json.loads(path.read_text(encoding="utf-8"))["chapters"] if path.is_file() else {}
    for chapter in args.only or chapters:
        if f"{chapter}.ipynb" in done and not args.again:
            print(f"[timing] {chapter}: timed already ({done[f'{chapter}.ipynb']['seconds']:.0f} s); --again to redo")
            continue
        print(f"[timing] {chapter} (profile {args.profile}) ...", flush=True)
        seconds = time_chapter(chapter, args.profile, args.timeout)
        record(path, args.profile, chapter, seconds)
        print(f"[timing] {chapter}: {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
