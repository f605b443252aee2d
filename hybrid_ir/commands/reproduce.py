"""``hybrid-ir reproduce``: run (or resume) a reproduction experiment and aggregate its results.

Every run of an experiment is *done*, *pending* (not started: its folder holds no file of a run) or
*broken* (its folder holds a file of a run, e.g. ``run.json``, but a required one is missing or
damaged). ``--list`` shows which. Aggregating (after every run, and ``--aggregate-only``) summarises
the done runs while others are merely pending, and says so (``summary.json``: ``complete``,
``pending``); it is refused while a run is broken, unless ``--partial`` asks for a summary of the
done runs alone, which ``summary.json`` (``left_out``) and the printed line say.
"""

from __future__ import annotations

import argparse

from hybrid_ir.errors import HybridIRError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML (e.g. results/configs/mlqa-to-xquad.yaml)")
    parser.add_argument("--only", nargs="+", help="run only these: a strategy label (hybrid) or label/seedK")
    parser.add_argument("--force", action="store_true", help="re-run finished runs (overwrites their results)")
    parser.add_argument("--aggregate-only", action="store_true", help="only rewrite summary and significance files")
    parser.add_argument("--partial", action="store_true",
                        help="with --aggregate-only: summarise the done runs even though some are broken "
                             "(they are left out, and the summary says so)")
    parser.add_argument("--list", action="store_true", help="list the runs: done, pending or broken")
    parser.add_argument("--quiet", action="store_true", help="no progress bars while encoding (they go to stderr)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hybrid_ir.experiments.reproduce import aggregate, load_experiment, run_experiment

    if args.partial and not args.aggregate_only:
        raise HybridIRError("--partial goes with --aggregate-only (a run only ever aggregates intact runs)")
    exp = load_experiment(args.config)
    if args.list:
        list_runs(exp)
        return 0
    if args.aggregate_only:
        from hybrid_ir.experiments.statistics import completeness
        from hybrid_ir.locks import FolderLock

        with FolderLock(exp.folder, "results folder"):
            summary = aggregate(exp, partial=args.partial)
        print(f"aggregated {completeness(summary)} into {exp.folder}")
        return 0
    run_experiment(exp, only=args.only, force=args.force, progress=not args.quiet)
    return 0


def list_runs(exp) -> None:
    """One line per run (``done``, ``pending`` or ``broken`` with its problems), then the counts."""
    from hybrid_ir.experiments.records import run_states

    states = run_states(exp)
    for key, (state, problems) in states.items():
        print(f"{state:<8} {key}: {'; '.join(problems)}" if problems else f"{state:<8} {key}")
    counts = {s: sum(1 for state, _ in states.values() if state == s) for s in ("done", "pending", "broken")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
