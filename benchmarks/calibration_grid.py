"""Coverage and width of the seed-aware interval on the calibration grid, for three df rules.

The grid (:func:`hybrid_ir.evaluation.calibration.coverage_grid`): 3, 6 and 10 seeds, 12 seed shares
x 5 question / interaction splits of the cell variance, paired and unpaired seeds, ``--draws`` draws a
cell. Rules: ``guarded`` (what ``seed_question_test`` uses), ``satterthwaite`` (the same variance
estimate, plain Welch-Satterthwaite df) and ``double`` (the estimate before the decisive-verdicts
issue, which counted the run-by-question interaction twice). Width: the median over a row's cells of the mean interval width relative to ``guarded`` (plain Satterthwaite df can fall below 1, so a cell's mean width can be unbounded).

Run::

    .venv/bin/python benchmarks/calibration_grid.py      # writes benchmarks/results/calibration_grid.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from hybrid_ir.evaluation.calibration import coverage_grid

OUT = Path(__file__).resolve().parent / "results" / "calibration_grid.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    grids = {rule: coverage_grid(draws=args.draws, seed=1, rule=rule) for rule in ("guarded", "satterthwaite", "double")}
    rows = []
    for rule, grid in grids.items():
        grid = grid.assign(relative_width=grid.width / grids["guarded"].width)
        for (seeds, paired), cell in grid.groupby(["seeds", "paired"]):
            rows.append({"rule": rule, "seeds": seeds, "paired": paired, "min coverage": cell.coverage.min(),
                         "max coverage": cell.coverage.max(), "cells in 0.93-0.97": f"{cell.coverage.between(0.93, 0.97).sum()}/{len(cell)}",
                         "median width vs guarded": cell.relative_width.median()})
    table = pd.DataFrame(rows)
    text = (f"Calibration grid, {args.draws:,} draws a cell, 95% intervals (Q = 1,190 questions)\n\n"
            + table.to_string(index=False, float_format=lambda v: f"{v:.4f}") + "\n")
    print(text)
    if not args.no_write:
        OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
