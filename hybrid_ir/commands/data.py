"""``hybrid-ir data stats|export``: look at a dataset or export a LAReQA set as JSON lines.

``data stats`` takes any ``datasets:`` entry of a training configuration: a LAReQA set (questions
and candidates per language), or a training set (``mmarco``, a ``.jsonl`` / ``.json`` / ``.parquet``
file of your own, ``hf:owner/name[:config][@revision]``: examples per language, parallel examples,
groups, and the files read with their SHA-256). A bad row is reported with its file, row and field;
what loading changed or dropped (duplicate rows, ``EN`` read as ``en``, ...) is one
``hybrid-ir: warning: ...`` line each on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from hybrid_ir.atomic import atomic_path, check_writable
from hybrid_ir.data.lareqa import CANDIDATE_TEXTS, DATASETS, load_lareqa


@contextmanager
def data_warnings_to_stderr() -> Iterator[None]:
    """Print each :class:`~hybrid_ir.data.parallel.DataWarning` raised inside the block as one line
    ``hybrid-ir: warning: ...`` on stderr (other warnings are shown as Python shows them)."""
    from hybrid_ir.data.parallel import DataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, DataWarning):
                    print(f"hybrid-ir: warning: {w.message}", file=sys.stderr)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    stats = sub.add_parser("stats", help="questions / examples per language of a dataset")
    stats.add_argument("dataset", help="xquad-r, mlqa-r, mmarco, a .jsonl/.json/.parquet file, a saved "
                                       "datasets folder (FOLDER or FOLDER:SPLIT) or hf:owner/name")
    stats.add_argument("--languages", nargs="+", help="restrict to these languages")
    stats.add_argument("--max-examples", type=int, default=0, metavar="N",
                       help="training sets: read only the first N examples (mmarco streams only those)")
    stats.add_argument("--data-dir", help="data root (default: $HYBRID_IR_DATA_DIR or download)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(func=run_stats)

    export = sub.add_parser("export", help="every query and candidate as one JSON object per line")
    export.add_argument("dataset")
    export.add_argument("--out", required=True, help="output .jsonl file (written atomically)")
    export.add_argument("--candidate-text", choices=CANDIDATE_TEXTS, default="sentence")
    export.add_argument("--languages", nargs="+")
    export.add_argument("--data-dir")
    export.set_defaults(func=run_export)


def run_stats(args: argparse.Namespace) -> int:
    if args.dataset not in DATASETS:
        return _training_set_stats(args)
    stats = load_lareqa(args.dataset, args.languages, args.data_dir).stats()
    if args.json:
        print(json.dumps(stats))
        return 0
    print(f"{stats['dataset']}: {stats['questions']} questions, {stats['candidates']} candidates, "
          f"{stats['parallel_ids']} parallel ids")
    print(f"{'lang':<6}{'questions':>10}{'candidates':>12}")
    for lang, row in stats["languages"].items():
        print(f"{lang:<6}{row['questions']:>10}{row['candidates']:>12}")
    return 0


def _training_set_stats(args: argparse.Namespace) -> int:
    from hybrid_ir.data.examples import load_training_set
    from hybrid_ir.sampling.sampler import _check_int

    limit = _check_int("--max-examples", args.max_examples, 0)
    with data_warnings_to_stderr():
        ts = load_training_set(args.dataset, languages=args.languages, data_dir=args.data_dir,
                               max_examples=limit)
    stats = ts.stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
        return 0
    print(f"{stats['dataset']}: {stats['examples']} examples ({stats['parallel_examples']} in two "
          f"languages or more), {stats['groups']} groups")
    print(f"{'lang':<6}{'examples':>10}")
    for lang, n in stats["languages"].items():
        print(f"{lang:<6}{n:>10}")
    for path, digest in stats["files"].items():
        print(f"file {path}  sha256 {digest or 'unknown'}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    check_writable(args.out, "--out")
    ds = load_lareqa(args.dataset, args.languages, args.data_dir)
    n = 0
    with atomic_path(args.out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for record in ds.export_records(args.candidate_text):
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    print(f"wrote {n} records to {args.out}")
    return 0
