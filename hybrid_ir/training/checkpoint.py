"""Atomic, verifiable training checkpoints: weights, optimiser, scheduler, sampler and random states.

Layout of ``<run>/checkpoints/``::

    step-000120/                  one complete checkpoint (never modified once it has its name)
        model.safetensors         the model's weights (safetensors: no code runs on load)
        training_state.pt         optimiser, scheduler, sampler, loss scaler, random states, counters
        checkpoint.json           format, step, epoch, config hash, SHA-256 of both files above
    latest.json                   {"dir": "step-000120", "step": 120}: the checkpoint to resume from
    best.json                     the same for the lowest validation loss

Writing is crash-safe: a checkpoint is written into a temporary folder, every file and the folder are
fsync'ed, the folder is renamed to ``step-N``, and only then are the small pointer files replaced
(``os.replace``, atomic), ``best`` before ``latest``. Folders that no pointer names are deleted
afterwards. Every state a crash can leave is therefore the old or the new consistent state:

- ``latest.json`` always names a complete checkpoint, and the checkpoint it names records (in its
  training state) the best step so far, whose folder still exists: ``best.json`` named it when
  ``latest.json`` moved, and pruning only deletes folders no pointer names;
- a crash between the two pointer writes leaves ``best.json`` ahead of ``latest.json``; resuming
  points ``best.json`` back at the best step recorded by the latest checkpoint (:func:`point_best`);
- a missing or corrupt pointer is rebuilt from the verified step folders (:func:`repair_pointers`).

Reading refuses, with a :class:`HybridIRError` that says why, a checkpoint whose files are missing or
whose SHA-256 differs from ``checkpoint.json`` (truncated / corrupt), one written for a different
configuration (config hash), and weights whose names or shapes do not match the model.
``training_state.pt`` is loaded with ``torch.load(weights_only=True)``: only tensors and plain
Python values are accepted, so a checkpoint cannot run code. Random states are stored as tensors and
numbers for that reason.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybrid_ir.atomic import fsync_path, write_json
from hybrid_ir.data.sources import sha256_file
from hybrid_ir.errors import HybridIRError

FORMAT = 1
MODEL_FILE = "model.safetensors"
STATE_FILE = "training_state.pt"
META_FILE = "checkpoint.json"
POINTERS: tuple[str, ...] = ("latest", "best")
_STEP_DIR = re.compile(r"^step-\d+$")


# ------------------------------------------------------------------------------- random states
def capture_rng_state() -> dict[str, Any]:
    """Python, numpy, torch (CPU) and CUDA random states as tensors and plain values."""
    version, internal, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
    }
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    try:
        py = state["python"]
        random.setstate((int(py["version"]), tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
        nps = state["numpy"]
        np.random.set_state(
            (nps["name"], nps["keys"].numpy().astype(np.uint32), int(nps["pos"]), int(nps["has_gauss"]), float(nps["gauss"]))
        )
        torch.set_rng_state(state["torch"])
        cuda = state.get("cuda") or []
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise HybridIRError(f"checkpoint random state is malformed: {exc}") from exc


# ------------------------------------------------------------------------------- weights
def _unique_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without aliases (tied weights): the first name of each storage is kept."""
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.numel() and key in seen:
            continue
        seen.add(key)
        out[name] = tensor
    return out


def save_weights(model: torch.nn.Module, path: str | Path) -> None:
    """The model's weights as one safetensors file (tied weights stored once)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in _unique_state(model).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load :func:`save_weights`' file into ``model``; names and shapes must match exactly."""
    from safetensors import SafetensorError, safe_open

    expected = {k: tuple(v.shape) for k, v in _unique_state(model).items()}
    try:
        with safe_open(str(path), framework="pt") as f:
            stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
            missing = sorted(set(expected) - set(stored))
            unexpected = sorted(set(stored) - set(expected))
            wrong = sorted(k for k in set(expected) & set(stored) if expected[k] != stored[k])
            if missing or unexpected or wrong:
                parts = []
                if missing:
                    parts.append(f"missing {len(missing)} (e.g. {missing[:3]})")
                if unexpected:
                    parts.append(f"unexpected {len(unexpected)} (e.g. {unexpected[:3]})")
                if wrong:
                    k = wrong[0]
                    parts.append(f"shape mismatch for {len(wrong)} (e.g. {k}: stored {stored[k]}, model {expected[k]})")
                raise HybridIRError(
                    f"{path} does not fit this model: {'; '.join(parts)}. Was it written for another model "
                    "or configuration?"
                )
            tensors = {k: f.get_tensor(k) for k in stored}
    except SafetensorError as exc:
        raise HybridIRError(f"{path} is not a readable safetensors file: {exc}") from exc
    model.load_state_dict(tensors, strict=False)


# ------------------------------------------------------------------------------- save / load
def save_checkpoint(
    ckpt_root: str | Path,
    model: torch.nn.Module,
    state: Mapping[str, Any],
    *,
    step: int,
    epoch: int,
    config_hash: str,
    pointers: tuple[str, ...] = ("latest",),
) -> Path:
    """Write checkpoint ``step-<step>`` under ``ckpt_root`` and point ``pointers`` at it.

    ``state`` holds tensors and plain values only (optimiser / scheduler / sampler state dicts,
    :func:`capture_rng_state`, counters); it is saved as ``training_state.pt``.
    Returns the checkpoint folder.
    """
    root = Path(ckpt_root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:06d}"
    final = root / name
    referenced = {t for t in (pointer_target(root, n) for n in POINTERS) if t is not None}
    if final.exists() and final not in referenced:  # left by an interrupted attempt: rewrite it
        shutil.rmtree(final)
    if not final.exists():
        _write_step_folder(root, name, model, state, step=step, epoch=epoch, config_hash=config_hash)
    unknown = [p for p in pointers if p not in POINTERS]
    if unknown:
        raise HybridIRError(f"unknown checkpoint pointer {unknown[0]!r}; use one of {POINTERS}")
    for pointer in sorted(pointers, key=("best", "latest").index):  # best first: see the module doc
        try:
            write_json(root / f"{pointer}.json", {"dir": name, "step": step})
        except OSError as exc:
            raise write_failure(root / f"{pointer}.json", exc, 4096) from None
    fsync_path(root)
    prune_checkpoints(root)
    return final


def _write_step_folder(
    root: Path, name: str, model: torch.nn.Module, state: Mapping[str, Any], *, step: int, epoch: int,
    config_hash: str,
) -> None:
    """Write ``root/name`` through a temporary folder (renamed only when complete). A failed write
    (a full disk) leaves nothing behind and raises a one-line error naming the file and the space needed."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=root))
    except OSError as exc:
        raise write_failure(root / name, exc, checkpoint_bytes(model, state)) from None
    current = tmp / MODEL_FILE
    try:
        save_weights(model, current)
        payload = {"format": FORMAT, "step": step, "epoch": epoch, "config_hash": config_hash, **state}
        current = tmp / STATE_FILE
        torch.save(payload, current)
        for f in (MODEL_FILE, STATE_FILE):
            fsync_path(tmp / f)
        meta = {
            "format": FORMAT,
            "step": step,
            "epoch": epoch,
            "config_hash": config_hash,
            "files": {f: sha256_file(tmp / f) for f in (MODEL_FILE, STATE_FILE)},
        }
        current = tmp / META_FILE
        current.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        fsync_path(tmp / META_FILE)
        fsync_path(tmp)
        os.replace(tmp, root / name)
        fsync_path(root)
    except Exception as exc:
        if is_write_failure(exc):
            raise write_failure(root / name / current.name, exc, checkpoint_bytes(model, state)) from None
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------- failed writes
def is_write_failure(exc: BaseException) -> bool:
    """An operating-system write error, also as safetensors and torch report it (a full disk shows
    as ``OSError`` ENOSPC, a ``SafetensorError`` naming ``StorageFull``, or torch's "file write failed")."""
    if isinstance(exc, OSError):
        return True
    text = str(exc)
    return any(m in text for m in ("No space left", "StorageFull", "file write failed", "os error 28"))


def write_failure(path: str | Path, exc: BaseException, needed_bytes: int) -> HybridIRError:
    """The one-line error of a failed write: which file, why, and (for a full disk) how much space is
    needed beside how much is free."""
    import errno

    path = Path(path)
    folder = next((p for p in path.parents if p.exists()), Path("."))
    free = shutil.disk_usage(folder).free
    full = getattr(exc, "errno", None) == errno.ENOSPC or not isinstance(exc, OSError) or free < needed_bytes
    why = "no space left on device" if full else (getattr(exc, "strerror", None) or str(exc))
    return HybridIRError(
        f"cannot write {path}: {why}; it needs about {_mb(needed_bytes)} and {folder} has {_mb(free)} free. "
        "The run folder is as it was before this write: free some space and resume (--resume)"
    )


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def tensor_bytes(obj: Any) -> int:
    """The bytes of every tensor in a (nested) state: about what writing it takes."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, Mapping):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def checkpoint_bytes(model: torch.nn.Module, state: Mapping[str, Any]) -> int:
    """About the size of one checkpoint: the weights (tied ones once) and the training state's tensors."""
    return tensor_bytes(_unique_state(model)) + tensor_bytes(state) + 65536


def prune_checkpoints(ckpt_root: str | Path) -> None:
    """Delete ``step-*`` folders (and stale temporary folders) that no pointer names."""
    root = Path(ckpt_root)
    keep = {p.name for p in (pointer_target(root, n) for n in POINTERS) if p is not None}
    for child in root.iterdir():
        stale_tmp = child.name.startswith(".step-") and child.name.endswith(".tmp")
        if child.is_dir() and ((_STEP_DIR.match(child.name) and child.name not in keep) or stale_tmp):
            shutil.rmtree(child, ignore_errors=True)


def pointer_target(ckpt_root: str | Path, pointer: str) -> Path | None:
    """The folder ``latest`` / ``best`` points at, or None when there is no such pointer."""
    path = Path(ckpt_root) / f"{pointer}.json"
    if not path.is_file():
        return None
    try:
        name = json.loads(path.read_text(encoding="utf-8"))["dir"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise HybridIRError(
            f"{path} is corrupt ({exc}); resuming rebuilds it from the verified step folders"
        ) from exc
    if not isinstance(name, str) or not _STEP_DIR.match(name):
        raise HybridIRError(f"{path} names an invalid checkpoint folder {name!r}")
    return Path(ckpt_root) / name


def step_folder(ckpt_root: str | Path, step: int) -> Path:
    return Path(ckpt_root) / f"step-{step:06d}"


def verified_steps(ckpt_root: str | Path) -> list[int]:
    """Steps of the complete checkpoints under ``ckpt_root`` whose files match their SHA-256, ascending."""
    root = Path(ckpt_root)
    steps = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child.is_dir() and _STEP_DIR.match(child.name):
            try:
                meta = read_meta(child)
            except HybridIRError:
                continue
            if meta.get("step") == int(child.name[5:]):
                steps.append(int(meta["step"]))
    return sorted(steps)


def repair_pointers(ckpt_root: str | Path) -> list[str]:
    """Rebuild a missing, corrupt or dangling ``latest.json`` from the newest verified step folder.

    Returns what it did, one sentence per repair (empty when nothing needed repairing). ``best.json``
    is set by :func:`point_best` from the training state of the latest checkpoint.
    """
    root = Path(ckpt_root)
    if not root.is_dir():
        return []
    try:
        target = pointer_target(root, "latest")
        if target is not None and target.is_dir():
            read_meta(target, verify=False)  # loading verifies the checksums
            return []
    except HybridIRError:
        pass
    steps = verified_steps(root)
    if not steps:
        if (root / "latest.json").exists():
            (root / "latest.json").unlink()
            return [f"{root / 'latest.json'} named no complete checkpoint and none is left: starting afresh"]
        return []
    write_json(root / "latest.json", {"dir": step_folder(root, steps[-1]).name, "step": steps[-1]})
    return [f"{root / 'latest.json'} was missing or corrupt: rebuilt from the verified folder step-{steps[-1]:06d}"]


def point_best(ckpt_root: str | Path, best_step: int | None) -> None:
    """Make ``best.json`` name ``best_step`` (the best step the latest checkpoint recorded).

    After a crash between the two pointer writes ``best.json`` can name a newer folder than the
    state being resumed; this puts it back. Raises when the folder of ``best_step`` is not a complete,
    verified checkpoint (the best weights would be lost)."""
    root = Path(ckpt_root)
    if best_step is None:
        if (root / "best.json").exists():
            (root / "best.json").unlink()
        return
    folder = step_folder(root, best_step)
    meta = read_meta(folder)
    if meta.get("step") != best_step:
        raise HybridIRError(f"{folder} holds step {meta.get('step')}, not the best step {best_step}")
    write_json(root / "best.json", {"dir": folder.name, "step": best_step})


def read_meta(ckpt_dir: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """``checkpoint.json`` of a checkpoint, after checking that its files exist and (``verify``) their SHA-256."""
    d = Path(ckpt_dir)
    if not d.is_dir():
        raise HybridIRError(f"checkpoint folder {d} does not exist")
    try:
        meta = json.loads((d / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HybridIRError(f"{d} is not a complete checkpoint: {META_FILE} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HybridIRError(f"{d / META_FILE} is corrupt: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("files"), dict):
        raise HybridIRError(f"{d / META_FILE}: unknown checkpoint format (expected format {FORMAT})")
    for fname in (MODEL_FILE, STATE_FILE):
        path = d / fname
        if not path.is_file():
            raise HybridIRError(f"checkpoint {d} is incomplete: {fname} is missing")
        if verify:
            expected = meta["files"].get(fname)
            actual = sha256_file(path)
            if actual != expected:
                raise HybridIRError(
                    f"checkpoint {d} is corrupt: SHA-256 of {fname} is {actual}, {META_FILE} records "
                    f"{expected}. Resume from another checkpoint or start a new run."
                )
    return meta


def load_checkpoint(
    ckpt_dir: str | Path,
    model: torch.nn.Module,
    *,
    config_hash: str | None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Verify a checkpoint, load its weights into ``model`` and return its training state.

    ``config_hash`` must equal the one recorded (None skips the check, e.g. to read weights only).
    The returned dict holds ``step``, ``epoch`` and whatever :func:`save_checkpoint` got as ``state``.
    """
    d = Path(ckpt_dir)
    meta = read_meta(d)
    if config_hash is not None and meta.get("config_hash") != config_hash:
        raise HybridIRError(
            f"checkpoint {d} was written by a run with config hash {meta.get('config_hash')}, this "
            f"configuration has {config_hash}: resuming would mix two experiments. Use the same settings "
            "(see config.yaml in the run folder) or another output_dir."
        )
    try:
        state = torch.load(d / STATE_FILE, map_location=map_location, weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError ...
        raise HybridIRError(
            f"{d / STATE_FILE} could not be read as a weights-only torch file ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise HybridIRError(f"{d / STATE_FILE}: unknown training-state format")
    if (state.get("step"), state.get("config_hash")) != (meta["step"], meta["config_hash"]):
        raise HybridIRError(f"{d}: {STATE_FILE} and {META_FILE} disagree (step / config hash)")
    load_weights(model, d / MODEL_FILE)
    return state


def check_trainer_state(trainer: Any, epoch: Any, where: str | Path) -> None:
    """Raise a one-line error when the ``trainer`` entry (or the epoch) of a training state is not
    what :func:`hybrid_ir.training.trainer.save` writes: a mapping with ``best_val_loss`` (a finite
    number or None), ``best_step`` (None or a step), ``bad_evals`` and ``last_eval_step`` (integers)."""

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(epoch) or epoch < 0:
        raise HybridIRError(f"checkpoint {where}: the epoch must be a non-negative integer, got {epoch!r}")
    if not isinstance(trainer, Mapping):
        raise HybridIRError(f"checkpoint {where}: 'trainer' must be a mapping, got {type(trainer).__name__}")
    best = trainer.get("best_val_loss")
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float)) or not np.isfinite(best)):
        raise HybridIRError(f"checkpoint {where}: trainer.best_val_loss must be a finite number or None, got {best!r}")
    for key, optional in (("best_step", True), ("bad_evals", False), ("last_eval_step", False)):
        value = trainer.get(key, None if optional else 0)
        if not (value is None and optional) and (not is_int(value) or value < (-1 if key == "last_eval_step" else 0)):
            raise HybridIRError(f"checkpoint {where}: trainer.{key} must be a step number, got {value!r}")


def require_keys(state: Mapping[str, Any], keys: tuple[str, ...], where: str | Path) -> None:
    """Raise when the training state lacks one of ``keys``."""
    missing = [k for k in keys if k not in state]
    if missing:
        raise HybridIRError(f"checkpoint {where} lacks {missing}: written by another version?")
