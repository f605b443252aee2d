"""``hybrid-ir reproduce``: run (or resume) a reproduction experiment and aggregate its results."""

from __future__ import annotations

import argparse


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML (e.g. results/configs/mlqa-to-xquad.yaml)")
    parser.add_argument("--only", nargs="+", help="run only these: a strategy label (hybrid) or label/seedK")
    parser.add_argument("--force", action="store_true", help="re-run finished runs (overwrites their results)")
    parser.add_argument("--aggregate-only", action="store_true", help="only rewrite summary and significance files")
    parser.add_argument("--list", action="store_true", help="list the runs and whether each is finished")
    parser.add_argument("--quiet", action="store_true", help="no progress bars while encoding (they go to stderr)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hybrid_ir.experiments.reproduce import aggregate, load_experiment, run_experiment

    exp = load_experiment(args.config)
    if args.list:
        from hybrid_ir.experiments.reproduce import verify_run

        for label, seed in exp.runs():
            folder = exp.run_folder(label, seed)
            key = label if seed is None else f"{label}/seed{seed}"
            if not (folder / "metrics.json").exists():
                print(f"pending  {key}")
                continue
            problems = verify_run(folder)
            print(f"broken   {key}: {'; '.join(problems)}" if problems else f"done     {key}")
        return 0
    if args.aggregate_only:
        from hybrid_ir.locks import FolderLock

        with FolderLock(exp.folder, "results folder"):
            aggregate(exp)
        print(f"aggregated into {exp.folder}")
        return 0
    run_experiment(exp, only=args.only, force=args.force, progress=not args.quiet)
    return 0
