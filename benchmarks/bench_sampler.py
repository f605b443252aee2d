"""Speed of :class:`hybrid_ir.sampling.sampler.HybridBatchSampler` on a large synthetic parallel dataset.

The dataset has ``--examples`` parallel ids (1M by default) in 7 languages; language ``i`` covers an
example with probability ``coverage[i]`` (drawn in [0.3, 0.95], at least one language per example),
like a machine-translated collection with uneven coverage. The sampler is timed per strategy over
``--batches`` batches of ``--batch-size`` items (the paper's 100), single process, through
``__iter__`` (``Batch`` objects with one ``BatchItem`` per triplet: what a trainer consumes) and
through ``iter_indices`` (numpy arrays only). Construction (per-example language tables and pools)
is timed separately; building the synthetic ``TrainingSet`` is not timed.

Run::

    .venv/bin/python benchmarks/bench_sampler.py            # writes benchmarks/results/sampler.json
    .venv/bin/python benchmarks/bench_sampler.py --examples 100000 --batches 2000 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from hybrid_ir.data.examples import TrainingExample, TrainingSet, Triplet
from hybrid_ir.sampling.sampler import HybridBatchSampler

LANGS = ("ar", "de", "en", "es", "hi", "ru", "zh")
RESULTS = Path(__file__).resolve().parent / "results"


def synthetic_set(n: int, seed: int = 0) -> tuple[TrainingSet, dict[str, float]]:
    """``n`` examples; the triplet texts are shared (the sampler never reads them)."""
    rng = np.random.default_rng(seed)
    coverage = rng.uniform(0.3, 0.95, size=len(LANGS))
    member = rng.random((n, len(LANGS))) < coverage
    member[~member.any(axis=1), rng.integers(0, len(LANGS))] = True
    t = Triplet("query", "positive", "negative")
    shared: dict[int, dict[str, Triplet]] = {}
    masks = member @ (1 << np.arange(len(LANGS)))
    examples = []
    for i, m in enumerate(masks.tolist()):
        by_lang = shared.get(m)
        if by_lang is None:
            by_lang = shared[m] = {lang: t for j, lang in enumerate(LANGS) if m >> j & 1}
        examples.append(TrainingExample(f"p{i}", f"a{i // 50}", by_lang))
    return TrainingSet("synthetic", tuple(examples)), dict(zip(LANGS, coverage.round(3).tolist(), strict=True))


def timed(fn, repeat: int) -> tuple[float, float]:
    """(best, median) wall time of ``repeat`` runs; on a shared machine the best run is the least
    disturbed one, the median shows the spread."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--batches", type=int, default=10_000, help="batches timed per strategy")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    ts, coverage = synthetic_set(args.examples)
    build_s = time.perf_counter() - t0
    result: dict = {
        "examples": args.examples,
        "languages": len(LANGS),
        "coverage": coverage,
        "batch_size": args.batch_size,
        "batches_timed": args.batches,
        "repeat": args.repeat,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), single process",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "synthetic_set_build_s": round(build_s, 2),
        "strategies": {},
    }
    for strategy in ("mono", "cross", "hybrid"):
        ctor = []

        def make(strategy: str = strategy, ctor: list = ctor) -> HybridBatchSampler:
            t = time.perf_counter()
            s = HybridBatchSampler(ts, args.batch_size, strategy, alpha=0.5,
                                   batches_per_epoch=args.batches, seed=0)
            ctor.append(time.perf_counter() - t)
            return s

        sampler = make()
        for _ in range(args.repeat - 1):
            make()

        def run_objects(s: HybridBatchSampler = sampler) -> None:
            for _ in s:
                pass

        def run_arrays(s: HybridBatchSampler = sampler) -> None:
            for _ in s.iter_indices():
                pass

        t_obj, med_obj = timed(run_objects, args.repeat)
        t_arr, med_arr = timed(run_arrays, args.repeat)
        row = {
            "construction_s": round(min(ctor), 3),
            "batches_per_s": round(args.batches / t_obj),
            "batches_per_s_median": round(args.batches / med_obj),
            "batches_per_s_arrays": round(args.batches / t_arr),
            "batches_per_s_arrays_median": round(args.batches / med_arr),
        }
        result["strategies"][strategy] = row
        print(f"{strategy:>6}: {row['batches_per_s']:>7,} batches/s (Batch objects; median "
              f"{row['batches_per_s_median']:,}), {row['batches_per_s_arrays']:>7,} batches/s "
              f"(iter_indices; median {row['batches_per_s_arrays_median']:,}), "
              f"construction {row['construction_s']:.2f} s", flush=True)
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / "sampler.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
