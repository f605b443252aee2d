"""Folder locks: one writer per run folder and per results folder.

A second process that tries to write into a folder that another process holds gets a one-line
:class:`~hybrid_ir.errors.HybridIRError` at once, instead of the two interleaving their files. The lock
is an advisory ``fcntl.flock`` on ``<folder>/.lock`` (the file holds the owner's pid, for the
message); the operating system releases it when the process ends, however it ends, so a killed run
never leaves a stale lock. Where ``fcntl`` does not exist (Windows) locking is skipped.

Example::

    with FolderLock("runs/demo"):
        ...  # write run files
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from hybrid_ir.errors import HybridIRError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"


class FolderLock:
    """Exclusive, non-blocking lock on a folder (created if needed) for the duration of a ``with``."""

    def __init__(self, folder: str | Path, what: str = "folder") -> None:
        self.folder = Path(folder)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        if fcntl is None:
            return self
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise HybridIRError(f"cannot write to {self.what} {self.folder}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise HybridIRError(
                f"{self.what} {self.folder} is being written by another process (pid {owner}); wait for it "
                "to finish or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
