"""Atomic file writes: write to a temporary name in the same folder, fsync, rename, fsync the folder.

A reader (or a crash, even a power cut) never sees a half-written file under the final name: the
data reaches the disk before the rename, and the rename reaches the disk before the call returns.
Files and folders get the usual permissions (``0666`` / ``0777`` minus the umask), not the private
ones of temporary files; the umask is read without being changed (see :func:`_umask`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hybrid_ir.errors import HybridIRError


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds.

    Example::

        with atomic_path("out.json") as tmp:
            tmp.write_text("{}")
    """
    target = Path(target)
    try:
        if target.is_dir():
            raise IsADirectoryError(21, "it is a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise HybridIRError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp creates 0600; give the file the usual permissions
            os.chmod(tmp, 0o666 & ~_umask())
            fsync_path(tmp)
        os.replace(tmp, target)
        fsync_path(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask_from_proc() -> int | None:
    """The process's umask from ``/proc/self/status`` (Linux 4.7+), or None where that is not there."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_at_import() -> int:
    """The umask when this module is imported: from ``/proc``, else (no ``/proc``: macOS, Windows) by
    setting it and putting it back, once, before this package starts threads of its own."""
    umask = _umask_from_proc()
    if umask is None:
        umask = os.umask(0o022)
        os.umask(umask)
    return umask


_UMASK_AT_IMPORT = _umask_at_import()


def _umask() -> int:
    """The process's current umask, read without changing it (from ``/proc``, else the one read at
    import): setting it, even for a moment, would give a file that another thread creates meanwhile
    the wrong permissions."""
    umask = _umask_from_proc()
    return _UMASK_AT_IMPORT if umask is None else umask


def fsync_path(path: str | Path) -> None:
    """Flush a file or a folder (its entries: a rename) to the disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; it replaces ``target`` if the block succeeds."""
    import shutil

    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise HybridIRError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
        for f in tmp.rglob("*"):
            if f.is_file():
                fsync_path(f)
        fsync_path(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
        fsync_path(target.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def check_writable(target: str | Path, what: str = "output") -> Path:
    """Raise a one-line error now when ``target`` could not be written later (checked before long work,
    so that no output is written when another cannot be)."""
    target = Path(target)
    parent = next((p for p in (target.parent, *target.parent.parents) if p.exists()), None)
    problem = None
    if target.is_dir():
        problem = "it is a folder"
    elif parent is None or not parent.is_dir():
        problem = f"{parent} is not a folder"
    elif not os.access(parent, os.W_OK | os.X_OK):
        problem = f"no permission to write in {parent}"
    elif target.exists() and not os.access(target, os.W_OK):
        problem = "the file is read-only"
    if problem:
        raise HybridIRError(f"cannot write {what} {target}: {problem}")
    return target


def write_json(target: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_text(target: str | Path, text: str) -> None:
    """Write text atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
