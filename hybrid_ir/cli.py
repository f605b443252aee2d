"""The ``hybrid-ir`` command line (also ``python -m hybrid_ir``).

Each sub-command lives in :mod:`hybrid_ir.commands` as a module with ``register(subparsers)``; the
module is imported only when its command runs, so ``hybrid-ir data stats`` does not import torch.
Errors of type :class:`~hybrid_ir.errors.HybridIRError` are printed without a traceback (exit 2).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hybrid_ir import __version__
from hybrid_ir.errors import HybridIRError

#: command name -> (module under hybrid_ir.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("data", "inspect and export the LAReQA benchmarks"),
    "sample": ("sample", "print the batches a sampling strategy draws"),
    "train": ("train", "fine-tune a bi-encoder with a batch strategy"),
    "evaluate": ("evaluate", "LAReQA evaluation (mono, cross, multi, language bias)"),
    "reproduce": ("reproduce", "run the reproduction experiments (train + evaluate, several seeds)"),
    "model": ("model", "prepare encoders (convert the offline multilingual-e5-small)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command`` only that sub-command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="hybrid-ir",
        description="Hybrid batch training for multilingual dense retrieval (arXiv 2408.10536).",
    )
    parser.add_argument("--version", action="version", version=f"hybrid-ir {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if name == command:
            mod = importlib.import_module(f"hybrid_ir.commands.{module}")
            mod.register(sub.add_parser(name, help=help_text, description=help_text))
        else:
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), None)
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 1
        return int(args.func(args) or 0)
    except HybridIRError as exc:
        print(f"hybrid-ir: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `hybrid-ir sample ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
