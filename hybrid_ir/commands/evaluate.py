"""``hybrid-ir evaluate DATASET``: the LAReQA grid from saved embeddings or from a model.

Two sources of vectors:

- ``--embeddings FILE.npz`` with two arrays: ``ids`` (unicode strings: every id of
  ``hybrid-ir data export DATASET`` with the same ``--languages``, queries ``q:...`` and candidates
  ``c:...``, in any order) and ``vectors`` (float32, shape (len(ids), H), row i = vector of ids[i]).
  Vectors are used as given: scores are inner products, so L2-normalise them first when cosine
  similarity is meant (the bi-encoder does). Save with
  ``np.savez(path, ids=np.array(ids, dtype=str), vectors=vecs.astype(np.float32))``.
- ``--model NAME_OR_DIR``: encode with :class:`hybrid_ir.modeling.biencoder.BiEncoder` first.

Output: readable tables, or ``--json`` (``LareqaResult.to_json()``); ``--out FILE.json`` writes the
JSON atomically, ``--per-query FILE.csv`` the per-query values (``LareqaResult.per_query_frame``).
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hybrid_ir.atomic import atomic_path, check_writable, write_json
from hybrid_ir.data.lareqa import CANDIDATE_TEXTS, DATASETS, dataset_languages
from hybrid_ir.errors import HybridIRError

if TYPE_CHECKING:  # pragma: no cover
    from hybrid_ir.data.lareqa import LareqaDataset
    from hybrid_ir.evaluation.grid import LareqaResult


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="xquad-r or mlqa-r")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--embeddings", metavar="FILE.npz",
                     help="saved vectors: arrays 'ids' (every exported id) and 'vectors' (float32)")
    src.add_argument("--model", metavar="NAME_OR_DIR", help="encode with this bi-encoder first")
    parser.add_argument("--candidate-text", choices=CANDIDATE_TEXTS, default="sentence",
                        help="with --model: encode the sentence alone or sentence + paragraph")
    parser.add_argument("--batch-size", type=int, default=64, help="with --model: encoding batch size")
    parser.add_argument("--device", default="auto", metavar="{auto,cpu,cuda,cuda:N}",
                        help="with --model: where to encode (auto: the GPU when there is one)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                        help="with --model: autocast precision (auto: bf16 on GPUs and on CPUs with native "
                             "bf16, else fp32; see hybrid_ir.modeling.runtime)")
    parser.add_argument("--languages", nargs="+", help="restrict to these languages")
    parser.add_argument("--data-dir", help="data root (default: $HYBRID_IR_DATA_DIR or download)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--out", metavar="FILE.json", help="also write the JSON result here (atomic)")
    parser.add_argument("--per-query", metavar="FILE.csv", help="write per-query AP / recall here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars while encoding (they go to stderr)")
    parser.add_argument("--trec-run", metavar="DIR",
                        help="write a TREC run and qrels file per setting here (trec_eval, ir_measures, ranx)")
    parser.add_argument("--trec-depth", type=int, default=100, metavar="K",
                        help="candidates per query in the TREC runs (default 100; 0 = the whole pool)")
    parser.set_defaults(func=run)


def load_embeddings(path: str | Path, ds: LareqaDataset) -> tuple[np.ndarray, np.ndarray]:
    """Query and candidate vectors, in dataset order, from an ``ids`` / ``vectors`` npz file.

    The file may hold more ids than the dataset needs (e.g. all languages when fewer are evaluated);
    only the needed rows are read. Raises HybridIRError for a missing file or array, non-string ids,
    duplicated or missing ids, vectors that are not a 2-D float32 array with one row per id, or NaN / inf values.
    """
    path = Path(path)
    if not path.is_file():
        raise HybridIRError(f"embeddings file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise HybridIRError(f"{path}: not a readable .npz file ({exc})") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise HybridIRError(f"{path}: expected an .npz archive with arrays 'ids' and 'vectors', "
                            f"got a single array")
    with loaded as npz:
        missing = [k for k in ("ids", "vectors") if k not in npz.files]
        if missing:
            raise HybridIRError(
                f"{path}: missing array(s) {missing}; found {npz.files}. Expected 'ids' and 'vectors'"
            )
        try:
            ids = npz["ids"]
            vectors = npz["vectors"]
        except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a damaged archive (bad CRC, cut short)
            raise HybridIRError(f"{path}: the archive is damaged ({exc})") from None
        except ValueError as exc:  # object arrays need pickle
            raise HybridIRError(
                f"{path}: could not read the arrays without pickle ({exc}); save ids as a unicode "
                "string array: np.array(ids, dtype=str)"
            ) from exc
    if ids.ndim != 1 or ids.dtype.kind != "U":
        raise HybridIRError(
            f"{path}: 'ids' must be a 1-D unicode string array, got dtype {ids.dtype} and shape {ids.shape}"
        )
    if vectors.ndim != 2:
        raise HybridIRError(f"{path}: 'vectors' must be 2-D (ids, dim), got shape {vectors.shape}")
    if vectors.dtype != np.float32:
        raise HybridIRError(
            f"{path}: 'vectors' must be float32, got {vectors.dtype}; save vectors.astype(np.float32)"
        )
    if len(vectors) != len(ids):
        raise HybridIRError(f"{path}: {len(ids)} ids but {len(vectors)} vector rows")
    uniq, counts = np.unique(ids, return_counts=True)
    dups = uniq[counts > 1]
    if dups.size:
        raise HybridIRError(f"{path}: {dups.size} ids appear more than once, e.g. {dups[:3].tolist()}")
    default = dataset_languages(ds.name) if ds.name in DATASETS else ds.languages
    wanted = [q.id for q in ds.questions] + [c.id for c in ds.candidates]
    row_of = {str(i): r for r, i in enumerate(ids.tolist())}
    absent = [i for i in wanted if i not in row_of]
    if absent:  # extra ids (e.g. every language when fewer are evaluated) are fine: they are not read
        raise HybridIRError(
            f"{path}: {len(absent)} of the dataset's {len(wanted)} ids are missing (e.g. {absent[:3]}). "
            f"The file must hold every id of `hybrid-ir data export {ds.name}"
            + (f" --languages {' '.join(ds.languages)}" if ds.languages != default else "")
            + "`"
        )
    rows = np.fromiter((row_of[i] for i in wanted), dtype=np.int64, count=len(wanted))
    vectors = vectors[rows]
    ids = ids[rows]
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise HybridIRError(
            f"{path}: {int(bad.sum())} vectors hold NaN or infinite values, e.g. ids "
            f"{ids[bad][:3].tolist()}"
        )
    nq = len(ds.questions)
    return vectors[:nq], vectors[nq:]


def run(args: argparse.Namespace) -> int:
    from hybrid_ir.data.lareqa import load_lareqa
    from hybrid_ir.evaluation.grid import evaluate_lareqa

    for target, what in ((args.out, "--out"), (args.per_query, "--per-query"),
                         (args.trec_run and Path(args.trec_run) / "mono.run", "--trec-run folder")):
        if target:
            check_writable(target, what)  # before any work: never one output written and not the other
    if args.trec_depth < 0:
        raise HybridIRError(f"--trec-depth must be >= 0 (0 = the whole pool), got {args.trec_depth}")
    from hybrid_ir.modeling.runtime import resolve_device, resolve_precision

    encoding = None
    if args.model:  # a bad --device / --precision fails before any data is read
        device = resolve_device(args.device)
        encoding = {"device": str(device),
                    "precision": resolve_precision(args.precision, device, purpose="inference")}
    ds = load_lareqa(args.dataset, args.languages, args.data_dir)
    if args.embeddings:
        qv, cv = load_embeddings(args.embeddings, ds)
    else:
        if args.batch_size < 1:
            raise HybridIRError(f"--batch-size must be >= 1, got {args.batch_size}")
        from hybrid_ir.evaluation.retrieval import encode_dataset
        from hybrid_ir.modeling.biencoder import BiEncoder

        model = BiEncoder.from_pretrained(args.model)
        if not args.quiet:
            print(f"encoding on {encoding['device']} in {encoding['precision']}", file=sys.stderr)
        qv, cv = encode_dataset(model, ds, args.candidate_text, batch_size=args.batch_size,
                                show_progress=not args.quiet, **encoding)
    result = evaluate_lareqa(ds, qv, cv)
    payload = result.to_json()
    if encoding:
        payload["encoding"] = encoding
    if args.out:
        write_json(args.out, payload)
    if args.per_query:
        with atomic_path(args.per_query) as tmp:
            result.per_query_frame().to_csv(tmp, index=False)
    if args.trec_run:
        from hybrid_ir.evaluation.trec import write_trec_files

        runs = write_trec_files(ds, qv, cv, args.trec_run, depth=args.trec_depth)
        print(f"wrote {len(runs)} TREC runs and their qrels to {args.trec_run}", file=sys.stderr)
    if args.json:
        print(json.dumps(payload))
    else:
        print_tables(result)
    return 0


def print_tables(result: LareqaResult) -> None:
    """The summary, the per-language table and the pair mAP matrix as text."""
    s = result.summary()
    print(f"{result.dataset}: mono mAP {s['mono_map']:.4f}, cross mAP {s['cross_map']:.4f}, "
          f"multi mAP {s['multi_map']:.4f}, rank distance {s['rank_distance']:.1f}")
    print()
    print(result.per_language_table().to_string(float_format=lambda v: f"{v:.4f}"))
    print()
    print("mAP per (query language, candidate language):")
    print(result.pair_matrix("map").to_string(float_format=lambda v: f"{v:.3f}"))
