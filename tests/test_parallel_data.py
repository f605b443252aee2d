"""Your own training data (hybrid_ir.data.parallel): files, Hugging Face datasets, the schema's errors.

The rows reveal where a text came from: id ``i`` in language ``L`` has the texts ``q:i:L`` / ``p:i:L``
/ ``n:i:L``, so every loaded triplet can be checked against the rows it came from.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybrid_ir.cli import main
from hybrid_ir.data.examples import load_training_set
from hybrid_ir.data.parallel import (
    load_hf_dataset,
    load_parallel_file,
    parse_hf_spec,
    training_set_from_rows,
)
from hybrid_ir.data.sources import sha256_file
from hybrid_ir.data.triplets import Triplet
from hybrid_ir.errors import HybridIRError

LANGS = ("de", "en", "es")


def rows_for(n: int, langs=LANGS, negative: bool = True, group=None) -> list[dict]:
    rows = []
    for i in range(n):
        for lang in langs:
            row = {"id": f"q{i}", "lang": lang, "query": f"q:{i}:{lang}", "positive": f"p:{i}:{lang}"}
            if negative:
                row["negative"] = f"n:{i}:{lang}"
            if group is not None:
                row["group"] = group(i)
            rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def triplet_rows(rows: list[dict], pairs: list[tuple[str, str]]) -> list[dict]:
    """The same data as rows per triplet: query of the first language, passages of the second."""
    by = {(r["id"], r["lang"]): r for r in rows}
    ids = dict.fromkeys(r["id"] for r in rows)
    return [
        {"id": pid, "query_lang": ql, "passage_lang": pl, "query": by[(pid, ql)]["query"],
         "positive": by[(pid, pl)]["positive"], "negative": by[(pid, pl)]["negative"]}
        for pid in ids for ql, pl in pairs
    ]


# ------------------------------------------------------------------------------- formats
def test_jsonl_json_parquet_and_saved_dataset_give_the_same_set(tmp_path: Path) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = rows_for(5, group=lambda i: f"topic{i % 2}")
    jsonl = write_jsonl(tmp_path / "mine.jsonl", rows)
    as_json = tmp_path / "mine.json"
    as_json.write_text(json.dumps(rows), encoding="utf-8")
    parquet = tmp_path / "mine.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(saved))
    sets = [load_parallel_file(p) for p in (jsonl, as_json, parquet, saved)]
    assert all(ts.examples == sets[0].examples for ts in sets)
    ts = sets[0]
    assert ts.name == "mine" and len(ts) == 5 and ts.languages == LANGS
    assert ts.files == {str(jsonl): sha256_file(jsonl)}
    assert sets[2].files == {str(parquet): sha256_file(parquet)}
    assert sets[3].files and all(len(d) == 64 for d in sets[3].files.values())
    ex = ts.examples[3]
    assert (ex.parallel_id, ex.article) == ("q3", "topic1")
    assert ex.triplet("de", "es") == Triplet("q:3:de", "p:3:es", "n:3:es")
    # a Hugging Face Dataset object, as the rows
    from_ds = training_set_from_rows(datasets.Dataset.from_list(rows), "ds")
    assert from_ds.examples == ts.examples and from_ds.files == {}


def test_triplet_rows_equal_rows_per_language(tmp_path: Path) -> None:
    rows = rows_for(4)
    pairs = [("de", "en"), ("en", "de"), ("es", "es")]
    a = load_parallel_file(write_jsonl(tmp_path / "a.jsonl", rows))
    b = load_parallel_file(write_jsonl(tmp_path / "b.jsonl", triplet_rows(rows, pairs)))
    assert a.examples == b.examples


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 12),
    langs=st.lists(st.sampled_from(["ar", "de", "en", "es", "zh"]), min_size=1, max_size=4, unique=True),
    drop=st.sets(st.integers(0, 47)),
    with_negatives=st.booleans(),
    seed=st.integers(0, 10**6),
    shuffle=st.integers(0, 10**6),
)
def test_rows_round_trip_and_row_order_does_not_matter(n, langs, drop, with_negatives, seed, shuffle):
    rows = [r for k, r in enumerate(rows_for(n, langs, negative=with_negatives)) if k not in drop]
    if not rows:
        return
    per_lang = {lang: sum(r["lang"] == lang for r in rows) for lang in langs}
    try:
        ts = training_set_from_rows(rows, "t", seed=seed)
    except HybridIRError as exc:  # a language with one id and no negative: nothing to draw from
        assert not with_negatives and "field 'negative' is missing" in str(exc)
        assert min(per_lang[lang] for lang in per_lang if per_lang[lang]) == 1
        return
    given_rows = {(r["id"], r["lang"]): r for r in rows}
    assert sum(len(ex.by_lang) for ex in ts.examples) == len(rows)
    for ex in ts.examples:
        for lang, t in ex.by_lang.items():
            row = given_rows[(ex.parallel_id, lang)]
            assert (t.query, t.positive) == (row["query"], row["positive"])
            if with_negatives:
                assert t.negative == row["negative"]
            else:  # another id's positive in the same language, never its own
                assert t.negative.startswith("p:") and t.negative.endswith(f":{lang}")
                assert t.negative != t.positive
    shuffled = rows[:]
    random.Random(shuffle).shuffle(shuffled)
    again = training_set_from_rows(shuffled, "t", seed=seed)
    assert {ex.parallel_id: ex for ex in again.examples} == {ex.parallel_id: ex for ex in ts.examples}


def test_drawn_negatives_come_from_the_group_first() -> None:
    rows = rows_for(6, negative=False, group=lambda i: f"g{i // 2}")
    ts = training_set_from_rows(rows, "t", seed=1)
    for ex in ts.examples:
        i = int(ex.parallel_id[1:])
        partner = i + 1 if i % 2 == 0 else i - 1  # the only other id of its group
        for lang, t in ex.by_lang.items():
            assert t.negative == f"p:{partner}:{lang}"
    # without groups: any other id, deterministic in the seed
    plain = training_set_from_rows(rows_for(6, negative=False), "t", seed=1)
    assert plain.examples == training_set_from_rows(rows_for(6, negative=False), "t", seed=1).examples
    negatives = {
        tuple(t.negative for ex in training_set_from_rows(rows_for(6, negative=False), "t", seed=s).examples
              for t in ex.by_lang.values())
        for s in range(8)
    }
    assert len(negatives) > 1


def test_languages_filter_and_require_parallel() -> None:
    rows = [*rows_for(3), {"id": "solo", "lang": "en", "query": "q", "positive": "p", "negative": "n"}]
    ts = training_set_from_rows(rows, "t", languages=["en", "es"])
    assert ts.languages == ("en", "es") and len(ts) == 4
    with pytest.raises(HybridIRError, match=r"t, row 10: id 'solo' has only language 'en'.*X-Y"):
        training_set_from_rows(rows, "t", require_parallel=True)
    # a single-language dataset is fine for X-Y: it gives mono batches
    en = training_set_from_rows(rows_for(3, ["en"]), "en", require_parallel=True)
    assert en.languages == ("en",)
    with pytest.raises(HybridIRError, match=r"language\(s\) \['fr'\] do not occur; its languages are de, en, es"):
        training_set_from_rows(rows, "t", languages=["fr"])


# -------------------------------------------------------------------------------- errors
def _broken(kind: str) -> list:
    rows = rows_for(2)
    r = rows[2]  # line 3: (q0, es)
    if kind == "missing":
        del r["query"]
    elif kind == "empty":
        r["positive"] = "   "
    elif kind == "not_text":
        r["negative"] = 3
    elif kind == "duplicate":
        rows.append({**rows[0], "query": "another question"})
    elif kind == "bad_id":
        r["id"] = 1.5
    elif kind == "bool_id":
        r["id"] = True
    elif kind == "no_lang":
        del r["lang"]
    elif kind == "bad_lang":
        r["lang"] = "e n"
    elif kind == "same_negative":
        r["negative"] = r["positive"]
    elif kind == "group":
        rows[0]["group"], rows[1]["group"] = "a", "b"
    elif kind == "not_object":
        rows[2] = ["q0", "es"]
    elif kind == "mixed":
        rows[2] = {"id": "q9", "query_lang": "en", "passage_lang": "de", "query": "q", "positive": "p"}
    return rows


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("missing", r"line 3: field 'query' is missing"),
        ("empty", r"line 3: field 'positive' is empty"),
        ("not_text", r"line 3: field 'negative' must be a string, got int"),
        ("duplicate", r"line 7: duplicate \(id, lang\) \('q0', 'de'\), already at line 1 with other texts"),
        ("bad_id", r"line 3: field 'id' must be a string or an integer, got 1.5"),
        ("bool_id", r"line 3: field 'id' must be a string or an integer, got True"),
        ("no_lang", r"line 3: field 'lang' is missing"),
        ("bad_lang", r"line 3: field 'lang' must be a language code"),
        ("same_negative", r"line 3: field 'negative' is the same text as 'positive'"),
        ("group", r"line 2: field 'group' is 'b' for id 'q0', but 'a' at line 1"),
        ("not_object", r"line 3: expected an object with the fields id, lang, query, positive; got list"),
        ("mixed", r"line 3: has query_lang/passage_lang, but the first row uses 'lang'"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path: Path, kind: str, match: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", _broken(kind))
    with pytest.raises(HybridIRError, match=match) as info:
        load_parallel_file(path)
    assert str(info.value).startswith(f"{path}, line ")
    assert "\n" not in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows_for(1, ["en"])[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"bad.jsonl, line 2: not valid JSON"):
        load_parallel_file(bad)
    as_dict = tmp_path / "d.json"
    as_dict.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(HybridIRError, match=r"expected a JSON list of row objects"):
        load_parallel_file(as_dict)
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    with pytest.raises(HybridIRError, match=r"empty.jsonl has no rows"):
        load_parallel_file(empty)
    with pytest.raises(HybridIRError, match=r"training data file not found: .*nope.parquet"):
        load_parallel_file(tmp_path / "nope.parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(HybridIRError, match=r"broken.parquet: not a readable Parquet file"):
        load_parallel_file(broken)
    # triplet rows: a language with a query but without passages
    rows = [{"id": "a", "query_lang": "en", "passage_lang": "de", "query": "q", "positive": "p", "negative": "n"}]
    with pytest.raises(HybridIRError, match=r"t, row 1: id 'a' has a query in 'en' but no row gives its passages in 'en'"):
        training_set_from_rows(rows, "t")
    rows.append({"id": "a", "query_lang": "de", "passage_lang": "en", "query": "Q", "positive": "P", "negative": "N"})
    rows.append({"id": "a", "query_lang": "de", "passage_lang": "de", "query": "other", "positive": "p",
                 "negative": "n"})
    with pytest.raises(HybridIRError, match=r"row 3: field 'query' of \('a', 'de'\) differs from the one given at row 2"):
        training_set_from_rows(rows, "t")
    with pytest.raises(HybridIRError, match=r"not a dict of splits"):
        training_set_from_rows({"train": []}, "t")


# --------------------------------------------------------------------------- Hugging Face
def test_hf_spec_parsing() -> None:
    assert parse_hf_spec("hf:me/pairs") == parse_hf_spec("hf:me/pairs")
    spec = parse_hf_spec("hf:me/pairs.v2:de-en@0123abc")
    assert (spec.repo, spec.config, spec.revision, str(spec)) == ("me/pairs.v2", "de-en", "0123abc",
                                                                   "hf:me/pairs.v2:de-en@0123abc")
    for bad in ("hf:pairs", "hf:me/pairs:", "hf:/x", "hf:me/pairs@"):
        with pytest.raises(HybridIRError, match=r"write a Hugging Face dataset as hf:owner/name"):
            parse_hf_spec(bad)


def test_hf_dataset_offline_fails_at_once_with_a_message(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    start = time.perf_counter()
    with pytest.raises(HybridIRError, match=r"hf:nobody/nothing@abc: not in the local Hugging Face cache.*HF_HUB_OFFLINE"):
        load_hf_dataset("hf:nobody/nothing@abc")
    assert time.perf_counter() - start < 20  # no network retries


def test_hf_dataset_is_loaded_with_its_config_and_revision(monkeypatch) -> None:
    import datasets

    calls = []

    def fake_load_dataset(repo, config=None, *, revision=None, split=None):
        calls.append((repo, config, revision, split))
        return datasets.Dataset.from_list(rows_for(3))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ts = load_training_set("hf:me/pairs:v1@abc123", languages=["de", "en"])
    assert calls == [("me/pairs", "v1", "abc123", "train")]
    assert ts.name == "pairs" and ts.languages == ("de", "en") and len(ts) == 3


# ---------------------------------------------------------------------- resolution, CLI
def test_load_training_set_resolves_files_and_excludes_eval_articles(tmp_path: Path, data_dir: Path) -> None:
    rows = rows_for(4, group=lambda i: ["Prime_number", "Cats", "harvard university", "Dogs"][i])
    path = write_jsonl(tmp_path / "mine.jsonl", rows)
    ts = load_training_set(str(path), exclude_overlap_with=["xquad-r"], data_dir=data_dir)
    assert [ex.parallel_id for ex in ts.examples] == ["q1", "q3"]  # XQuAD-R's articles are dropped
    assert ts.files == {str(path): sha256_file(path)}
    assert len(load_training_set(str(path), max_examples=3)) == 3
    with pytest.raises(HybridIRError, match=r"unknown dataset 'mine.csv'.*\.jsonl / \.json / \.parquet"):
        load_training_set("mine.csv")
    lareqa = load_training_set("mlqa-r", languages=["en", "de"], data_dir=data_dir)
    assert set(lareqa.files) == {"lareqa/mlqa-r/de.json", "lareqa/mlqa-r/en.json"}


def test_cli_data_stats_and_sample_take_own_files(tmp_path: Path, capsys) -> None:
    par = write_jsonl(tmp_path / "par.jsonl", rows_for(12))
    en = write_jsonl(tmp_path / "en.jsonl", rows_for(8, ["en"]))
    assert main(["data", "stats", str(par), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["examples"] == 12 and stats["languages"] == {"de": 12, "en": 12, "es": 12}
    assert stats["files"] == {str(par): sha256_file(par)}
    assert main(["data", "stats", str(en)]) == 0
    assert "8 examples (0 in two languages or more)" in capsys.readouterr().out
    assert main(["sample", "--dataset", str(par), str(en), "--strategy", "cross", "--batch-size", "4",
                 "--batches", "30", "--jsonl"]) == 0
    batches = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {b["dataset"] for b in batches} == {"par", "en"}
    for b in batches:
        assert b["type"] == ("mono" if b["dataset"] == "en" else "cross")
    bad = write_jsonl(tmp_path / "bad.jsonl", _broken("missing"))
    assert main(["data", "stats", str(bad)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{bad}, line 3: field 'query' is missing")
    solo = write_jsonl(tmp_path / "solo.jsonl", [*rows_for(4), {"id": "x", "lang": "de", "query": "q", "positive": "p"}])
    # X-Y training drops an id in a single language, with a count (one warning line, no traceback)
    assert main(["sample", "--dataset", str(solo), "--strategy", "cross", "--batch-size", "2"]) == 0
    out = capsys.readouterr()
    assert "solo: 4 examples in de, en, es" in out.out
    assert out.err.strip() == (f"hybrid-ir: warning: {solo}: dropped 1 of 5 ids that have a single language "
                               "(the X-Y strategy pairs two languages of one id), first 'x' at line 13")
