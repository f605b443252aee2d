"""Data resolution and the pinned, checksum-verified download path (with a patched fetch)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from hybrid_ir.data import sources
from hybrid_ir.data.sources import pinned_checksums, resolve_file, source_url
from hybrid_ir.errors import HybridIRError

REL = "lareqa/xquad-r/en.json"


@pytest.fixture()
def no_data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("HYBRID_IR_DATA_DIR", raising=False)
    monkeypatch.setenv("HYBRID_IR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_urls_are_pinned() -> None:
    assert source_url(REL) == (
        "https://raw.githubusercontent.com/google-research-datasets/lareqa/"
        "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c/xquad-r/en.json"
    )
    assert "354d67d1cd066854cdfbf5ad0e6105528976141d/mlqa-r/de.json" in source_url("lareqa/mlqa-r/de.json")
    assert source_url("miracl/qrels/qrels.miracl-v1.0-sw-dev.tsv").endswith(
        "5b819c1a45c8a0a3ec9426f476694f44a29dfaf3/qrels/qrels.miracl-v1.0-sw-dev.tsv"
    )
    with pytest.raises(HybridIRError, match="no pinned public source"):
        source_url("mkqa/x.zip")


def test_shared_data_matches_pinned_sums(data_dir: Path) -> None:
    for rel in ("lareqa/xquad-r/en.json", "lareqa/mlqa-r/zh.json"):
        sources.check_file(data_dir / rel, rel)  # raises on mismatch


def test_download_verifies_and_caches(no_data_env: Path, data_dir: Path) -> None:
    payload = (data_dir / REL).read_bytes()
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return payload

    path = resolve_file(REL, fetch=fetch)
    assert path == no_data_env / "data" / REL
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pinned_checksums()[REL]
    assert resolve_file(REL, fetch=fetch) == path  # reused: no second fetch
    assert len(calls) == 1


def test_checksum_mismatch_leaves_nothing(no_data_env: Path) -> None:
    with pytest.raises(HybridIRError, match=r"checksum mismatch .*xquad-r/en\.json"):
        resolve_file(REL, fetch=lambda url: b'{"data": []}')
    target = no_data_env / "data" / REL
    assert not target.exists()
    assert not list(target.parent.glob("*")) if target.parent.exists() else True


def test_download_from_a_local_http_server(
    no_data_env: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real urllib path against a loopback server laid out like raw.githubusercontent.com."""
    url = source_url(REL)
    remote = tmp_path / "www" / url.split("githubusercontent.com/", 1)[1]
    remote.parent.mkdir(parents=True)
    remote.write_bytes((data_dir / REL).read_bytes())

    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path / "www"), **k
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/"
        monkeypatch.setattr(sources, "RAW_URL", base + "{repo}/{commit}/{path}")
        path = resolve_file(REL)
        assert path.read_bytes() == (data_dir / REL).read_bytes()
    finally:
        server.shutdown()


def test_unreachable_source_fails_clearly(no_data_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "RAW_URL", "http://127.0.0.1:9/{repo}/{commit}/{path}")
    with pytest.raises(HybridIRError, match=r"could not download .*HYBRID_IR_DATA_DIR"):
        resolve_file(REL)
