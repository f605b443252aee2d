"""Hostile own-data files, the data-verification cache, atomic writes and folder locks (issue 21).

Every case is a file a user (or an attacker) could hand to ``hybrid-ir data stats FILE``,
``hybrid-ir sample --dataset FILE`` or ``datasets=FILE`` of a training configuration: each must end
in one line ``hybrid-ir: error: ...`` and exit status 2, with no traceback, no hang, and nothing
written. Cases that blocked or read forever before run in a subprocess with a timeout, so that a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
import warnings
from pathlib import Path

import pytest
import tomllib

import hybrid_ir.data.parallel as parallel
from hybrid_ir.cli import main
from hybrid_ir.data.examples import load_training_set
from hybrid_ir.data.parallel import load_parallel_file, training_set_from_rows
from hybrid_ir.errors import HybridIRError

ROOT = Path(__file__).resolve().parents[1]


def rows_for(n: int, langs: tuple[str, ...] = ("de", "en"), tag: str = "q") -> list[dict]:
    return [{"id": f"{tag}{i}", "lang": lang, "query": f"{tag}:{i}:{lang}", "positive": f"p:{tag}{i}:{lang}",
             "negative": f"n:{tag}{i}:{lang}"} for i in range(n) for lang in langs]


def jsonl_bytes(rows: list) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_bytes(jsonl_bytes(rows))
    return path


def parquet_bytes(rows: list) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf, compression="snappy")
    return buf.getvalue()


def one_error_line(err: str) -> str:
    """The single stderr line of a failed command (asserting there is exactly one, and no traceback)."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hybrid-ir: error: "), err
    return lines[0]


# ---------------------------------------------------------------- tracebacks -> one-line errors
def _latin1(path: Path) -> None:
    path.write_bytes(jsonl_bytes(rows_for(2)).replace(b"q:0:de", "café".encode("latin-1")))


def _utf16_jsonl(path: Path) -> None:
    path.write_bytes(jsonl_bytes(rows_for(2)).decode().encode("utf-16"))


def _utf16_json(path: Path) -> None:
    path.write_bytes(json.dumps(rows_for(2)).encode("utf-16"))


def _utf16_no_bom(path: Path) -> None:
    path.write_bytes(jsonl_bytes(rows_for(2)).decode().encode("utf-16-le"))


def _parquet_named_json(path: Path) -> None:
    path.write_bytes(parquet_bytes(rows_for(2)))


def _nested_jsonl(path: Path) -> None:
    path.write_text(json.dumps(rows_for(1)[0]) + "\n" + "[" * 200_000 + "\n", encoding="utf-8")


def _nested_json(path: Path) -> None:
    path.write_text("[" * 200_000, encoding="utf-8")


def _long_int_id(path: Path) -> None:
    path.write_text('{"id": %s, "lang": "en", "query": "q", "positive": "p"}\n' % ("7" * 5000), encoding="utf-8")


def _damaged_parquet(path: Path) -> None:
    rows = [{"id": f"q{i}", "lang": lang, "query": f"question {i} {lang} " * 20, "positive": f"answer {i} " * 20}
            for i in range(300) for lang in ("de", "en")]
    data = bytearray(parquet_bytes(rows))
    for offset in range(200, 600):  # inside the first data page: the footer (metadata) stays readable
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


HOSTILE = {
    "latin-1": ("bad.jsonl", _latin1, r"bad.jsonl, line 1: not UTF-8 text \(byte 0xe9 at offset \d+\); save the file as UTF-8"),
    "utf-16 jsonl": ("bad.jsonl", _utf16_jsonl, r"bad.jsonl is UTF-16 or UTF-32 text; save it as UTF-8 JSON lines"),
    "utf-16 json": ("bad.json", _utf16_json, r"bad.json is UTF-16 or UTF-32 text; save it as UTF-8 JSON"),
    "utf-16 without BOM": ("bad.jsonl", _utf16_no_bom, r"bad.jsonl holds NUL bytes: not UTF-8 JSON lines"),
    "parquet named .json": ("bad.json", _parquet_named_json, r"bad.json is a Parquet file, not JSON; name it \.parquet"),
    "nested jsonl": ("bad.jsonl", _nested_jsonl, r"bad.jsonl, line 2: JSON nested too deeply"),
    "nested json": ("bad.json", _nested_json, r"bad.json: JSON nested too deeply"),
    "5000-digit id": ("bad.jsonl", _long_int_id, r"bad.jsonl, line 1: an integer of 5000 digits; write long ids as strings"),
    "damaged parquet page": ("bad.parquet", _damaged_parquet, r"bad.parquet, after row 0: damaged data \("),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_one_line_error_in_data_stats_and_sample(tmp_path: Path, case: str, capsys) -> None:
    name, make, message = HOSTILE[case]
    path = tmp_path / name
    make(path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(HybridIRError, match=message) as info:
        load_parallel_file(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    for argv in (["data", "stats", str(path)], ["sample", "--dataset", str(path), "--batch-size", "2"]):
        assert main(argv) == 2
        out = capsys.readouterr()
        assert out.out == ""
        line = one_error_line(out.err)
        assert str(path) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_hostile_file_in_training_config_writes_nothing(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    _latin1(bad)
    out = tmp_path / "run"
    argv = ["train", "--config", "smoke", "--set", f"datasets={bad}", "--set", "languages=none",
            "--set", "exclude_overlap_with=", "--set", "progress=false", "--set", f"output_dir={out}"]
    assert main(argv) == 2
    assert "line 1: not UTF-8 text" in one_error_line(capsys.readouterr().err)
    assert not out.exists() or [p.name for p in out.iterdir()] == [".lock"]  # no config, metrics or model


def test_jsonl_line_and_json_file_sizes_are_capped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(parallel, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(parallel, "MAX_JSON_BYTES", 2000)
    monkeypatch.setattr(parallel, "MAX_FILE_BYTES", 5000)
    long_line = write_jsonl(tmp_path / "long.jsonl", [*rows_for(1), {"id": "x", "lang": "en", "query": "q" * 2000,
                                                                     "positive": "p"}])
    with pytest.raises(HybridIRError, match=r"long.jsonl, line 3: longer than 1000 bytes"):
        load_parallel_file(long_line)
    big_json = tmp_path / "big.json"
    big_json.write_text(json.dumps(rows_for(30)), encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"big.json has \d+ bytes, more than the 2000 this format may have"):
        load_parallel_file(big_json)
    big_jsonl = write_jsonl(tmp_path / "big.jsonl", rows_for(60))
    with pytest.raises(HybridIRError, match=r"big.jsonl has \d+ bytes, more than the 5000"):
        load_parallel_file(big_jsonl)


def _run(code: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """Run Python code in a fresh process; a hang is a TimeoutExpired (a failure), not a stuck suite."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _cli_in_subprocess(*argv: str) -> subprocess.CompletedProcess:
    return _run(f"import sys; from hybrid_ir.cli import main; sys.exit(main({list(argv)!r}))")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_fifo_and_device_are_refused_without_reading(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "data.jsonl"
    if kind == "fifo":
        os.mkfifo(path)  # opening it to read would block until a writer comes: never
    else:
        path.symlink_to("/dev/zero")  # reading it never ends
    for argv in (("data", "stats", str(path)), ("sample", "--dataset", str(path))):
        done = _cli_in_subprocess(*argv)
        assert done.returncode == 2, done.stderr
        what = "a named pipe (FIFO)" if kind == "fifo" else "a device"
        assert one_error_line(done.stderr).endswith(f"{path} is {what}, not a regular file of training data")


def test_fifo_in_a_saved_dataset_folder_and_sha256_of_a_fifo(tmp_path: Path) -> None:
    import datasets

    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows_for(3)).save_to_disk(str(saved))
    arrow = next(saved.glob("*.arrow"))
    arrow.unlink()
    os.mkfifo(arrow)
    done = _cli_in_subprocess("data", "stats", str(saved))
    assert done.returncode == 2, done.stderr
    assert one_error_line(done.stderr).endswith(f"{arrow} is a named pipe (FIFO), not a regular file of training data")
    done = _run(f"from hybrid_ir.data.sources import sha256_file; sha256_file({str(arrow)!r})")
    assert done.returncode == 1 and "is not a regular file" in done.stderr.strip().splitlines()[-1]


# --------------------------------------------------------------- item 9: ids and language codes
def test_nfd_and_nfc_spellings_of_an_id_are_one_id() -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    rows = [{"id": nfd, "lang": "de", "query": "Wo ist das Café?", "positive": "Dort.", "negative": "Hier."},
            {"id": nfc, "lang": "en", "query": "Where is the café?", "positive": "There.", "negative": "Here."}]
    with pytest.warns(parallel.DataWarning, match=r"ids not in Unicode NFC form read in NFC: 1 row\(s\), first at row 1"):
        ts = training_set_from_rows(rows, "t")
    assert len(ts) == 1 and ts.examples[0].parallel_id == nfc and ts.languages == ("de", "en")


def test_language_codes_are_normalised_with_a_warning_or_refused() -> None:
    rows = rows_for(3)
    for r in rows:
        r["lang"] = r["lang"].upper() if r["lang"] == "en" else r["lang"]
    with pytest.warns(parallel.DataWarning, match=r"t: language code 'EN' read as 'en': 3 row\(s\), first at row 2"):
        ts = training_set_from_rows(rows, "t")
    assert ts.languages == ("de", "en")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", parallel.DataWarning)
        assert training_set_from_rows(rows, "t", languages=["EN"]).languages == ("en",)
    regional = [{**r, "lang": "pt_BR"} for r in rows_for(2, ("en",))]
    with pytest.warns(parallel.DataWarning, match="'pt_BR' read as 'pt-br'"):
        assert training_set_from_rows(regional, "t").languages == ("pt-br",)
    for bad in ("english", "xx", "e n", "en-"):
        rows = [{**rows_for(1, ("en",))[0], "lang": bad}]
        with pytest.raises(HybridIRError, match=r"t, row 1: field 'lang' must be a language code such as 'en' or "
                                                r"'pt-br' \(ISO 639-1, see hybrid_ir.data.languages.LANGUAGE_CODES\)"):
            training_set_from_rows(rows, "t")


# ------------------------------------------------------------------- item 14: real-world data
def test_saved_dataset_dict_gives_train_or_the_named_split(tmp_path: Path, capsys) -> None:
    import datasets

    saved = tmp_path / "dd"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_list(rows_for(4)),
        "validation": datasets.Dataset.from_list(rows_for(2, tag="v")),
    }).save_to_disk(str(saved))
    assert [ex.parallel_id for ex in load_training_set(str(saved)).examples] == ["q0", "q1", "q2", "q3"]
    assert [ex.parallel_id for ex in load_training_set(f"{saved}:validation").examples] == ["v0", "v1"]
    with pytest.raises(HybridIRError, match=r"has the splits \['train', 'validation'\] and no 'test' split"):
        load_training_set(f"{saved}:test")
    assert main(["data", "stats", f"{saved}:validation", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 2


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    rows = rows_for(3)
    plain = load_parallel_file(write_jsonl(tmp_path / "plain.jsonl", rows))
    bom_jsonl = tmp_path / "bom.jsonl"
    bom_jsonl.write_bytes(b"\xef\xbb\xbf" + jsonl_bytes(rows))
    bom_json = tmp_path / "bom.json"
    bom_json.write_bytes(b"\xef\xbb\xbf" + json.dumps(rows).encode())
    assert load_parallel_file(bom_jsonl).examples == plain.examples
    assert load_parallel_file(bom_json).examples == plain.examples


def test_identical_duplicate_rows_are_dropped_with_a_count(tmp_path: Path, capsys) -> None:
    rows = rows_for(3)
    path = write_jsonl(tmp_path / "dup.jsonl", [*rows, rows[0], rows[3], rows[0]])
    with pytest.warns(parallel.DataWarning, match=r"dup.jsonl: identical duplicate rows dropped: 3 row\(s\), first at line 7"):
        ts = load_parallel_file(path)
    assert ts.examples == training_set_from_rows(rows, "dup").examples
    assert main(["data", "stats", str(path)]) == 0
    err = capsys.readouterr().err
    assert err == f"hybrid-ir: warning: {path}: identical duplicate rows dropped: 3 row(s), first at line 7\n"
    changed = write_jsonl(tmp_path / "changed.jsonl", [*rows, {**rows[0], "positive": "other"}])
    with pytest.raises(HybridIRError, match=r"line 7: duplicate \(id, lang\) \('q0', 'de'\), already at line 1 with other texts"):
        load_parallel_file(changed)


def test_readme_cross_example_drops_single_language_ids_with_a_count(tmp_path: Path, capsys) -> None:
    """README: ``hybrid-ir sample --dataset my-pairs.jsonl en-only.jsonl --strategy cross ...`` on a file
    whose ids are not all translated."""
    pairs = write_jsonl(tmp_path / "my-pairs.jsonl", [*rows_for(10), *rows_for(3, ("de",), tag="solo")])
    en = write_jsonl(tmp_path / "en-only.jsonl", rows_for(8, ("en",), tag="e"))
    argv = ["sample", "--dataset", str(pairs), str(en), "--strategy", "cross", "--batch-size", "8", "--batches", "4"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "my-pairs: 10 examples in de, en" in out.out
    assert out.err == (f"hybrid-ir: warning: {pairs}: dropped 3 of 13 ids that have a single language (the X-Y "
                       "strategy pairs two languages of one id), first 'solo0' at line 21\n")
    # every id in a single language: nothing left to pair, said so
    apart = write_jsonl(tmp_path / "apart.jsonl", [*rows_for(3, ("de",), tag="a"), *rows_for(3, ("en",), tag="b")])
    assert main(["sample", "--dataset", str(apart), "--strategy", "cross"]) == 2
    assert "every id has a single language" in one_error_line(capsys.readouterr().err)
    # the Python API still refuses when asked to
    with pytest.raises(HybridIRError, match=r"id 'solo0' has only language 'de'"):
        load_parallel_file(pairs, require_parallel=True)


def test_parallel_id_column_is_read_as_id() -> None:
    rows = [{("parallel_id" if k == "id" else k): v for k, v in r.items()} for r in rows_for(3)]
    assert training_set_from_rows(rows, "t").examples == training_set_from_rows(rows_for(3), "t").examples
    both = [{**r, "parallel_id": r["id"]} for r in rows_for(2)]
    assert len(training_set_from_rows(both, "t")) == 2
    both[1]["parallel_id"] = "other"
    with pytest.raises(HybridIRError, match=r"t, row 2: fields 'id' and 'parallel_id' .* differ"):
        training_set_from_rows(both, "t")


def test_exclude_overlap_removing_every_row_names_the_setting(tmp_path: Path, data_dir: Path, capsys) -> None:
    rows = [{**r, "group": "Prime_number" if r["id"] in ("q0", "q2") else "harvard university"} for r in rows_for(4)]
    path = write_jsonl(tmp_path / "overlap.jsonl", rows)
    with pytest.raises(HybridIRError, match=r"overlap.jsonl: exclude_overlap_with=xquad-r removed all 4 examples"):
        load_training_set(str(path), exclude_overlap_with=["xquad-r"], data_dir=data_dir)
    assert main(["sample", "--dataset", str(path), "--exclude-overlap-with", "xquad-r", "--data-dir",
                 str(data_dir)]) == 2
    assert "--exclude-overlap-with" in one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------- item 4: the verification cache
def test_verification_cache_sees_a_same_size_edit_with_the_old_mtime(tmp_path: Path, data_dir: Path,
                                                                      monkeypatch) -> None:
    import time

    from hybrid_ir.data import sources

    rel = "lareqa/xquad-r/de.json"
    root = tmp_path / "data"
    (root / rel).parent.mkdir(parents=True)
    target = root / rel
    target.write_bytes((data_dir / rel).read_bytes())
    monkeypatch.setenv("HYBRID_IR_CACHE_DIR", str(tmp_path / "cache"))
    hashed: list[Path] = []
    real_check = sources.check_file
    monkeypatch.setattr(sources, "check_file", lambda p, r: (hashed.append(p), real_check(p, r)))
    assert sources.resolve_file(rel, root) == target
    assert sources.resolve_file(rel, root) == target and len(hashed) == 1  # the verdict is cached
    before = target.stat()
    time.sleep(0.05)  # past the file system's clock tick
    data = bytearray(target.read_bytes())
    at = data.index(b'"title"')
    data[at + 1:at + 6] = b"TITLE"  # same size
    with open(target, "r+b") as f:  # edited in place: same inode
        f.write(data)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # the old modification time put back
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    with pytest.raises(HybridIRError, match="checksum mismatch"):
        sources.resolve_file(rel, root)
    assert len(hashed) == 2


# -------------------------------------------------------------------- item 5: umask left alone
def test_atomic_writes_never_change_the_umask(tmp_path: Path, monkeypatch) -> None:
    import hybrid_ir.atomic as atomic

    umask = os.umask(0o027)
    os.umask(umask)

    def refuse(_mask: int) -> int:
        raise AssertionError("os.umask called: another thread could create a file with the wrong permissions")

    monkeypatch.setattr(atomic.os, "umask", refuse)
    atomic.write_json(tmp_path / "a.json", {"x": 1})
    with atomic.atomic_dir(tmp_path / "model") as d:
        (d / "w.bin").write_bytes(b"x")
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o777 & ~umask


# ------------------------------------------------------------- item 15: locks, make test, Chromium
def test_folder_lock_is_filelock_and_names_the_holder(tmp_path: Path) -> None:
    import filelock

    from hybrid_ir.locks import FolderLock

    folder = tmp_path / "run"
    with FolderLock(folder, "run folder"):
        assert (folder / ".lock.pid").read_text() == str(os.getpid())
        with pytest.raises(filelock.Timeout):  # the same lock any filelock user takes
            filelock.FileLock(str(folder / ".lock"), timeout=0).acquire()
        code = ("import sys; from hybrid_ir.locks import FolderLock; from hybrid_ir.errors import HybridIRError\n"
                f"try:\n    FolderLock({str(folder)!r}, 'run folder').acquire()\n"
                "except HybridIRError as e:\n    print(e, file=sys.stderr); sys.exit(2)")
        done = _run(code, timeout=60)
        assert done.returncode == 2
        assert done.stderr == (f"run folder {folder} is being written by another process (pid {os.getpid()}); "
                               "wait for it to finish or use another folder\n")
    assert [p.name for p in folder.iterdir()] == [".lock"]  # the pid goes with the holder
    with FolderLock(folder):  # free again
        pass
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("filelock") for d in deps)


def test_make_test_installs_no_system_packages() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "apt-get" not in makefile and "browser" not in makefile.split("\ntest:")[1].split("\n")[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install" in ci and ci.index("\ninstall_chromium\n") < ci.index("\nmake test\n")
    readme = (ROOT / "README.md").read_text()
    assert "Chromium" in readme and "apt-get install chromium" in readme


def test_browser_helper_without_chromium_says_so_in_one_line(monkeypatch) -> None:
    import browser_support

    monkeypatch.setattr(browser_support.shutil, "which", lambda name: None)
    assert browser_support.find_chromium() is None
    with pytest.raises(FileNotFoundError) as info, browser_support.browser():
        pass
    assert "\n" not in str(info.value) and "README" in str(info.value)
