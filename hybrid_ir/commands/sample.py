"""``hybrid-ir sample``: print the batches a strategy draws from training sets (no model needed).

``--dataset`` takes one or more ``datasets:`` entries (a LAReQA set, ``mmarco``, a file of your own,
``hf:owner/name``); with several, each batch comes from one of them, drawn by size.

With ``--jsonl``, one JSON object per batch::

    {"batch": 0, "type": "mono", "dataset": "mlqa-r",
     "items": [{"id": "<parallel id>", "query_lang": "de", "passage_lang": "de"}, ...]}

otherwise a short summary (one line per batch, then the mono share and the most frequent pairs).
What loading changed or dropped (with ``--strategy cross``: the ids of your own data that have a
single language) is one ``hybrid-ir: warning: ...`` line each on stderr.

Example: ``hybrid-ir sample --dataset mlqa-r --strategy hybrid --alpha 0.5 --batch-size 100
--batches 5 --seed 0 --exclude-overlap-with xquad-r --jsonl``
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from itertools import islice

from hybrid_ir.sampling.sampler import STRATEGIES


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, nargs="+", metavar="DATASET",
                        help="xquad-r, mlqa-r, mmarco, a .jsonl/.json/.parquet file or hf:owner/name "
                             "(several: one batch comes from one of them, drawn by size)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="hybrid",
                        help="mono (X-X-mono), cross (X-Y) or hybrid (default)")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help="hybrid: probability of a mono batch (default 0.5)")
    parser.add_argument("--batch-size", type=int, default=100, help="triplets per batch (100)")
    parser.add_argument("--batches", type=int, default=10, help="number of batches to print (10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epoch", type=int, default=0)
    parser.add_argument("--languages", nargs="+", help="restrict to these languages")
    parser.add_argument("--exclude-overlap-with", nargs="+", default=[], metavar="DATASET",
                        help="drop the articles shared with these evaluation sets (e.g. xquad-r)")
    parser.add_argument("--max-examples", type=int, default=0, metavar="N",
                        help="use the first N examples of each set (mmarco streams only those; 0 = all)")
    parser.add_argument("--data-dir", help="data root (default: $HYBRID_IR_DATA_DIR or download)")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per batch")
    parser.set_defaults(func=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    from hybrid_ir.commands.data import data_warnings_to_stderr
    from hybrid_ir.data.examples import load_training_set
    from hybrid_ir.sampling.sampler import HybridBatchSampler, _check_int

    k = _check_int("--batches", args.batches, 1)
    limit = _check_int("--max-examples", args.max_examples, 0)
    with data_warnings_to_stderr():
        sets = [
            load_training_set(
                name,
                languages=args.languages,
                exclude_overlap_with=args.exclude_overlap_with,
                data_dir=args.data_dir,
                strategy=args.strategy,
                max_examples=limit,
            )
            for name in args.dataset
        ]
    total = sum(len(ts) for ts in sets)
    sampler = HybridBatchSampler(
        sets, args.batch_size, args.strategy, alpha=args.alpha, seed=args.seed,
        batches_per_epoch=max(k, total // max(args.batch_size, 1)),
    )
    sampler.set_epoch(args.epoch)
    batches = list(islice(sampler, k))  # the first k batches do not depend on the epoch length
    if args.jsonl:
        for b in batches:
            items = [
                {"id": it.parallel_id, "query_lang": it.query_lang, "passage_lang": it.passage_lang}
                for it in b.items
            ]
            print(json.dumps({"batch": b.step, "type": b.type, "dataset": b.dataset, "items": items},
                             ensure_ascii=False))
        return 0
    print(f"strategy {args.strategy}" + (f" (alpha={args.alpha})" if args.strategy == "hybrid" else "")
          + f", batch size {args.batch_size}, seed {args.seed}, epoch {args.epoch}")
    for ts in sets:
        mono_langs = ", ".join(sampler.mono_languages[ts.name]) or "none"
        only = " (single-language: mono batches only)" if ts.name in sampler.mono_only_datasets else ""
        print(f"{ts.name}: {len(ts)} examples in {', '.join(ts.languages)}{only}; "
              f"mono languages (>= {args.batch_size} examples): {mono_langs}")
    pairs: Counter[tuple[str, str]] = Counter()
    for b in batches:
        here = Counter((it.query_lang, it.passage_lang) for it in b.items)
        pairs.update(here)
        if b.type == "mono":
            what = f"{b.items[0].query_lang}"
        else:
            what = f"{len(here)} pairs, e.g. " + ", ".join(f"{q}->{p} x{n}"
                                                          for (q, p), n in here.most_common(3))
        print(f"batch {b.step:>4}  {b.type:<5}  {what}" + (f"  [{b.dataset}]" if len(sets) > 1 else ""))
    n_mono = sum(b.type == "mono" for b in batches)
    print(f"{n_mono}/{len(batches)} mono batches; most frequent pairs: "
          + ", ".join(f"{q}->{p} x{n}" for (q, p), n in pairs.most_common(5)))
    return 0
