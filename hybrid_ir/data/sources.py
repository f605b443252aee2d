"""Where the benchmark files come from: an explicit folder, ``HYBRID_IR_DATA_DIR``, or a pinned download.

Every file is addressed by its path relative to a data root laid out like ``../shared/data``
(for example ``lareqa/xquad-r/en.json``). :func:`resolve_file` looks, in this order, in

1. the explicit ``data_dir`` argument;
2. the folder named by ``HYBRID_IR_DATA_DIR``;
3. the download cache (``<cache>/data``), filling it from the file's pinned public source when missing.

Downloads are pinned to one commit per repository and checked against the SHA-256 sums shipped in
``hybrid_ir/resources/sha256sums.txt``; a file is written under a temporary name and renamed only once
its checksum matches, so the cache never holds a half-written or wrong file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from hybrid_ir.atomic import atomic_path, write_json
from hybrid_ir.env import cache_dir, data_dir_from_env
from hybrid_ir.errors import HybridIRError

RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


@dataclass(frozen=True)
class PinnedSource:
    """A public repository at a fixed commit; ``prefix`` maps a local folder onto a repository path."""

    local_prefix: str  # folder under the data root, e.g. "lareqa/xquad-r/"
    repo: str
    commit: str
    remote_prefix: str  # the same folder inside the repository

    def url(self, relpath: str) -> str:
        return RAW_URL.format(
            repo=self.repo,
            commit=self.commit,
            path=self.remote_prefix + relpath[len(self.local_prefix) :],
        )


PINNED_SOURCES: tuple[PinnedSource, ...] = (
    PinnedSource(
        "lareqa/xquad-r/",
        "google-research-datasets/lareqa",
        "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c",
        "xquad-r/",
    ),
    PinnedSource(
        "lareqa/mlqa-r/",
        "google-research-datasets/lareqa",
        "354d67d1cd066854cdfbf5ad0e6105528976141d",
        "mlqa-r/",
    ),
    PinnedSource(
        "tatoeba/",
        "facebookresearch/LASER",
        "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821",
        "data/tatoeba/v1/",
    ),
    PinnedSource(
        "miracl/",
        "castorini/anserini-tools",
        "5b819c1a45c8a0a3ec9426f476694f44a29dfaf3",
        "",
    ),
)

Fetch = Callable[[str], bytes]


@cache
def pinned_checksums() -> dict[str, str]:
    """Map of relative path -> expected SHA-256 hex digest, from the package's resources."""
    text = resources.files("hybrid_ir").joinpath("resources/sha256sums.txt").read_text("utf-8")
    sums: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)
            sums[path.strip()] = digest
    return sums


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a regular file, read in 1 MiB chunks.

    Anything else (a FIFO, a device such as ``/dev/zero``) is a one-line error, found without
    blocking: the file is opened non-blocking and its type checked on the open descriptor.
    """
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise HybridIRError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise HybridIRError(f"{path} is not a regular file (a FIFO, a device or a socket); refusing to read it")
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_url(relpath: str) -> str:
    """The pinned public URL of a data file given by its path relative to the data root."""
    for source in PINNED_SOURCES:
        if relpath.startswith(source.local_prefix):
            return source.url(relpath)
    raise HybridIRError(f"no pinned public source is known for data file '{relpath}'")


def _urllib_fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise HybridIRError(
            f"could not download {url}: {exc}. Offline? Point HYBRID_IR_DATA_DIR at a local copy of the "
            "data (for example ../shared/data) or pass data_dir=..."
        ) from exc


def download(relpath: str, target: Path, fetch: Fetch | None = None) -> Path:
    """Download one pinned file to ``target`` and verify its SHA-256 before it appears there."""
    url = source_url(relpath)
    expected = pinned_checksums().get(relpath)
    payload = (fetch or _urllib_fetch)(url)
    digest = hashlib.sha256(payload).hexdigest()
    if expected is not None and digest != expected:
        raise HybridIRError(
            f"checksum mismatch for '{relpath}' downloaded from {url}: expected sha256 {expected}, "
            f"got {digest}. The file was not saved."
        )
    with atomic_path(target) as tmp:
        tmp.write_bytes(payload)
    return target


def resolve_file(
    relpath: str,
    data_dir: str | Path | None = None,
    *,
    fetch: Fetch | None = None,
    verify: bool | None = None,
) -> Path:
    """Find (or download) the data file ``relpath``; see the module docstring for the search order.

    A local file (``data_dir`` or ``HYBRID_IR_DATA_DIR``) with a pinned SHA-256 is checked against it
    (``verify=None``, the default, unless ``HYBRID_IR_VERIFY_DATA=0`` says the data is knowingly
    edited); ``verify=True`` / ``False`` forces the check on or off. A good verdict is cached per
    file (:func:`check_file_cached`), so an unchanged file is hashed once, not at every load.
    """
    if verify is None:
        verify = os.environ.get("HYBRID_IR_VERIFY_DATA", "1").strip().lower() not in ("0", "false", "no", "off")
    for root in (Path(data_dir) if data_dir else None, data_dir_from_env()):
        if root is None:
            continue
        path = root / relpath
        if not path.is_file():
            raise HybridIRError(f"data file not found: {path} (looked in data folder {root})")
        if verify:
            check_file_cached(path, relpath)
        return path
    cached = cache_dir() / "data" / relpath
    if cached.is_file():
        return cached
    return download(relpath, cached, fetch=fetch)


def check_file(path: Path, relpath: str) -> None:
    """Raise when ``path`` does not have the pinned SHA-256 of ``relpath``."""
    expected = pinned_checksums().get(relpath)
    if expected is None:
        return
    digest = sha256_file(path)
    if digest != expected:
        raise HybridIRError(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {digest}. The file differs from "
            "its pinned public version; restore it, or set HYBRID_IR_VERIFY_DATA=0 to use edited data knowingly"
        )


_VERIFIED = "verified-data.json"


def file_stamp(path: Path) -> list[int]:
    """What :func:`check_file_cached` trusts to say a file is unchanged since it was hashed: its device,
    inode, size, and modification and status-change times in nanoseconds.

    Any write changes the status-change time (``st_ctime_ns``) to the current time, and no ordinary
    program can set it back (``touch``/``os.utime`` restoring the modification time changes it too),
    so an edit of the same size with the old modification time restored is still seen; replacing the
    file changes its inode. Copying a folder or restoring a backup changes them all: those files are
    hashed again once.
    """
    info = path.stat()
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def check_file_cached(path: Path, relpath: str) -> None:
    """:func:`check_file`, remembering a good verdict per path and :func:`file_stamp` in the cache folder."""
    if relpath not in pinned_checksums():
        return
    key = str(path.resolve())
    stamp = [*file_stamp(path), pinned_checksums()[relpath]]
    record_path = cache_dir() / _VERIFIED
    try:
        known = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if known.get(key) == stamp:
        return
    check_file(path, relpath)
    known[key] = stamp
    with contextlib.suppress(OSError, HybridIRError):  # a read-only cache only costs the next check its hashing
        write_json(record_path, known)


def data_checksums(relpaths: list[str], data_dir: str | Path | None = None) -> dict[str, str]:
    """SHA-256 of each resolved file (recorded beside experiment results)."""
    return {rel: sha256_file(resolve_file(rel, data_dir)) for rel in relpaths}
