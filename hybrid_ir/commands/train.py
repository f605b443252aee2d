"""``hybrid-ir train``: fine-tune a bi-encoder from a named configuration or YAML file, with ``--set`` overrides.

Examples::

    hybrid-ir train --config smoke --set max_steps=5 --set output_dir=runs/try
    hybrid-ir train --config cpu --set strategy=mono --resume
    torchrun --nproc_per_node 2 -m hybrid_ir train --config paper     # one process per GPU
    hybrid-ir train --help-config                                    # every setting, with its help
"""

from __future__ import annotations

import argparse
import json
import sys

from hybrid_ir.training.config import NAMED_CONFIGS


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=None,
        help=f"a named configuration ({', '.join(NAMED_CONFIGS)}) or a YAML file; without it they are listed",
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one setting (repeatable), e.g. --set lr=1e-4 --set languages=en,de",
    )
    parser.add_argument("--resume", action="store_true", help="continue from output_dir/checkpoints/latest")
    parser.add_argument("--overwrite", action="store_true", help="start again in an output_dir that holds a run")
    parser.add_argument("--no-export", action="store_true", help="do not write output_dir/model at the end")
    parser.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")
    parser.add_argument("--help-config", action="store_true", help="list every setting with its help and exit")
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from hybrid_ir.training.config import TrainConfig, load_config

    if args.help_config:
        print(TrainConfig.describe())
        return 0
    if args.config is None:  # nothing is trained on a configuration nobody chose
        print(configs_text(), file=sys.stderr)
        return 2
    cfg = load_config(args.config, args.overrides)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True), end="")
        print(f"# config hash: {cfg.hash()}")
        return 0
    from hybrid_ir.training.distributed import cleanup
    from hybrid_ir.training.trainer import train

    try:
        result = train(cfg, resume=args.resume, overwrite=args.overwrite, export=not args.no_export)
    finally:
        cleanup()
    from hybrid_ir.training.distributed import current

    if current().is_main:
        print(json.dumps(result.to_dict(), indent=1))
    return 0


def configs_text() -> str:
    """What ``hybrid-ir train`` without ``--config`` prints: each named configuration with the first line of its
    description, then how to choose one (training never starts on a silently chosen configuration)."""
    from hybrid_ir.training.config import named_config_path

    lines = ["hybrid-ir train: choose a configuration with --config NAME or --config FILE.yaml", "", "named configurations:"]
    for name in NAMED_CONFIGS:
        comment = " ".join(line.lstrip("# ").strip() for line in
                           named_config_path(name).read_text(encoding="utf-8").splitlines() if line.startswith("#"))
        first = comment.removeprefix(f"{name}:").strip().split(". ")[0].rstrip(".")
        lines.append(f"  {name:<13} {first}")
    lines += ["", "e.g. hybrid-ir train --config smoke --set max_steps=5 --set output_dir=runs/try"]
    return "\n".join(lines)
