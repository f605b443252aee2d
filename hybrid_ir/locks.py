"""Folder locks: one writer per run folder and per results folder.

A second process that tries to write into a folder that another process holds gets a one-line
:class:`~hybrid_ir.errors.HybridIRError` at once, instead of the two interleaving their files. The lock
is the `filelock <https://py-filelock.readthedocs.io>`_ package's :class:`filelock.FileLock` on
``<folder>/.lock`` (``flock`` on Unix, ``msvcrt.locking`` on Windows); the operating system releases
it when the process ends, however it ends, so a killed run never leaves a stale lock. The holder's
pid is written to ``<folder>/.lock.pid`` for the message (removed on release).

Example::

    with FolderLock("runs/demo"):
        ...  # write run files
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType

import filelock

from hybrid_ir.errors import HybridIRError

LOCK_FILE = ".lock"
PID_FILE = ".lock.pid"


class FolderLock:
    """Exclusive, non-blocking lock on a folder (created if needed) for the duration of a ``with``."""

    def __init__(self, folder: str | Path, what: str = "folder") -> None:
        self.folder = Path(folder)
        self.what = what
        self._lock: filelock.FileLock | None = None

    def acquire(self) -> FolderLock:
        """Take the lock now, or raise a one-line error naming the holder's pid."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock = filelock.FileLock(str(self.folder / LOCK_FILE), timeout=0, thread_local=False)
            lock.acquire()
        except filelock.Timeout:
            raise HybridIRError(
                f"{self.what} {self.folder} is being written by another process (pid {self._owner()}); wait "
                "for it to finish or use another folder"
            ) from None
        except OSError as exc:
            raise HybridIRError(f"cannot write to {self.what} {self.folder}: {exc.strerror or exc}") from None
        self._lock = lock
        with contextlib.suppress(OSError):  # the pid only improves the other process's message
            (self.folder / PID_FILE).write_text(str(os.getpid()), encoding="ascii")
        return self

    def _owner(self) -> str:
        try:
            return (self.folder / PID_FILE).read_text(encoding="ascii", errors="replace").strip()[:32] or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""
        if self._lock is not None:
            with contextlib.suppress(OSError):
                (self.folder / PID_FILE).unlink()
            self._lock.release()
            self._lock = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
