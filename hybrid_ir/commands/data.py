"""``hybrid-ir data stats|export``: look at a LAReQA dataset or export it as JSON lines."""

from __future__ import annotations

import argparse
import json

from hybrid_ir.atomic import atomic_path, check_writable
from hybrid_ir.data.lareqa import CANDIDATE_TEXTS, load_lareqa


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    stats = sub.add_parser("stats", help="questions, candidates and parallel ids per language")
    stats.add_argument("dataset", help="xquad-r or mlqa-r")
    stats.add_argument("--languages", nargs="+", help="restrict to these languages")
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
