"""``hybrid-ir evaluate DATASET``: the LAReQA grid from saved embeddings or from a model.

Two sources of vectors:

- ``--embeddings FILE.npz`` with two arrays: ``ids`` (unicode strings: every id of
  ``hybrid-ir data export DATASET`` with the same ``--languages``, queries ``q:...`` and candidates
  ``c:...``, in any order) and ``vectors`` (float32, shape (len(ids), H), row i = vector of ids[i]).
  Vectors are used as given: scores are inner products, so L2-normalise them first when cosine
  similarity is meant (the bi-encoder does). Save with
  ``np.savez(path, ids=np.array(ids, dtype=str), vectors=vecs.astype(np.float32))``.
- ``--model NAME_OR_DIR``: encode with :class:`hybrid_ir.modeling.biencoder.BiEncoder` first.

Output: readable tables, or ``--json`` (``LareqaResult.to_json()`` with ``produced_by``: the model
path and the SHA-256 of its weight files, or the embeddings file and its SHA-256, languages, numbers
of questions and candidates, the subset drawn, package version, batch size, device and precision;
undefined values are null); ``--out FILE.json`` writes the JSON atomically, ``--per-query FILE.csv``
the per-query values (``LareqaResult.per_query_frame``), ``--trec-run DIR`` TREC run and qrels files
(:mod:`hybrid_ir.evaluation.trec`) and, in the JSON under ``trec``, the mAP those files support beside
the package's. ``--questions N --seed S`` evaluates N random parallel questions (in every language)
against the full candidate pool (:meth:`~hybrid_ir.data.lareqa.LareqaDataset.sample_questions`).

Every output is checked before any work (writable, not a folder, not named twice), and the JSON file
is written last: an error leaves none of them written.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
                        help="candidates per query in the TREC runs (default 100; 0 = the whole pool, large)")
    parser.add_argument("--questions", type=int, metavar="N",
                        help="a quick subset: N random parallel questions (each in every language), full pool")
    parser.add_argument("--seed", type=int, default=0, help="with --questions: which random subset (default 0)")
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


def check_outputs(args: argparse.Namespace) -> None:
    """Every output file, checked before any work: writable, not a folder, no two the same."""
    targets = [(args.out, "--out"), (args.per_query, "--per-query"),
               (args.trec_run and Path(args.trec_run) / "mono.run", "--trec-run folder")]
    seen: dict[Path, str] = {}
    for target, what in targets:
        if not target:
            continue
        check_writable(target, what)  # never one output written and not the other
        resolved = Path(target).resolve()
        if resolved in seen:
            raise HybridIRError(f"{what} and {seen[resolved]} name the same file {target}")
        seen[resolved] = what


def check_trec_files(args: argparse.Namespace, languages: tuple[str, ...]) -> None:
    """Every TREC file of these languages, checked before any encoding (and none is --out or --per-query)."""
    from hybrid_ir.evaluation.trec import trec_paths

    others = {Path(p).resolve() for p in (args.out, args.per_query) if p}
    for path in trec_paths(languages, args.trec_run):
        check_writable(path, "--trec-run file")
        if path.resolve() in others:
            raise HybridIRError(f"{path} would be both a TREC file and --out / --per-query")


def check_settings(args: argparse.Namespace) -> None:
    """The numeric options, before any data is read."""
    if args.trec_depth < 0:
        raise HybridIRError(f"--trec-depth must be >= 0 (0 = the whole pool), got {args.trec_depth}")
    if args.questions is not None and args.questions < 1:
        raise HybridIRError(f"--questions must be >= 1, got {args.questions}")
    if args.model and args.batch_size < 1:
        raise HybridIRError(f"--batch-size must be >= 1, got {args.batch_size}")


def run(args: argparse.Namespace) -> int:
    from hybrid_ir.data.lareqa import load_lareqa
    from hybrid_ir.evaluation.grid import evaluate_lareqa

    check_outputs(args)
    check_settings(args)
    from hybrid_ir.modeling.runtime import resolve_device, resolve_precision

    encoding = None
    if args.model:  # a bad --device / --precision fails before any data is read
        device = resolve_device(args.device)
        encoding = {"device": str(device),
                    "precision": resolve_precision(args.precision, device, purpose="inference")}
    ds = load_lareqa(args.dataset, args.languages, args.data_dir).sample_questions(args.questions, args.seed)
    if args.trec_run:
        check_trec_files(args, ds.languages)
    if args.embeddings:
        qv, cv = load_embeddings(args.embeddings, ds)
    else:
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
    payload["produced_by"] = provenance(args, ds, encoding)
    if args.trec_run:
        payload["trec"] = write_trec(args, ds, qv, cv, result)
    payload = finite_or_null(payload)
    if args.per_query:
        with atomic_path(args.per_query) as tmp:
            result.per_query_frame().to_csv(tmp, index=False)
    if args.out:
        write_json(args.out, payload)  # last: its presence means every output was written
    if args.json:
        print(json.dumps(payload, allow_nan=False))
    else:
        print_tables(result)
    return 0


def write_trec(args: argparse.Namespace, ds: LareqaDataset, qv: np.ndarray, cv: np.ndarray,
               result: LareqaResult) -> dict[str, Any]:
    """Write the TREC files; say (stderr) and return the mAP they support beside the package's."""
    from hybrid_ir.evaluation.trec import export_trec

    export = export_trec(ds, qv, cv, args.trec_run, depth=args.trec_depth, result=result)
    files = export.summary()
    ours = result.summary()
    depth = "the whole pool" if args.trec_depth == 0 else f"depth {args.trec_depth}"
    print(f"wrote {len(export.runs)} TREC runs and their qrels to {args.trec_run} ({depth}); the mAP they "
          "support (trec_eval, ir_measures): "
          + ", ".join(f"{k.split('_')[0]} {_fmt(files[k])}" for k in files)
          + "; the package's (whole pool): "
          + ", ".join(f"{k.split('_')[0]} {_fmt(ours[k])}" for k in files), file=sys.stderr)
    return export.to_json()


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.4f}"


def provenance(args: argparse.Namespace, ds: LareqaDataset, encoding: dict[str, str] | None) -> dict[str, Any]:
    """What produced an evaluation (``produced_by`` in the JSON); what does not apply is null."""
    from hybrid_ir import __version__
    from hybrid_ir.data.sources import sha256_file

    model = None
    if args.model:
        model = str(Path(args.model).resolve()) if Path(args.model).is_dir() else args.model
    return {
        "package_version": __version__,
        "dataset": ds.name,
        "languages": list(ds.languages),
        "questions": len(ds.questions),
        "parallel_questions": len(ds.relevant),
        "candidates": len(ds.candidates),
        "subset": {"questions": args.questions, "seed": args.seed} if args.questions else None,
        "model": model,
        "model_weights_sha256": weights_sha256(args.model) if args.model else None,
        "embeddings": str(Path(args.embeddings).resolve()) if args.embeddings else None,
        "embeddings_sha256": sha256_file(args.embeddings) if args.embeddings else None,
        "candidate_text": args.candidate_text if args.model else None,
        "batch_size": args.batch_size if args.model else None,
        "device": encoding["device"] if encoding else None,
        "precision": encoding["precision"] if encoding else None,
    }


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def weights_sha256(model: str) -> dict[str, str] | None:
    """SHA-256 of each weight file of a model folder (or of a Hugging Face model in the local cache),
    by path inside the folder; None when the files cannot be found here."""
    from hybrid_ir.data.sources import sha256_file

    folder = Path(model)
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(model, local_files_only=True))
        except Exception:  # not cached, not a model id: nothing to hash
            return None
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in files} or None


def finite_or_null(value: Any) -> Any:
    """``value`` with every NaN or infinite number replaced by None (null in JSON)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


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
