"""MIRACL dev: real topics and qrels, a synthetic passage corpus built here, metrics vs ir_measures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.miracl import (
    Corpus,
    evaluate_miracl,
    evaluate_miracl_model,
    load_corpus,
    load_corpus_hf,
    load_qrels,
    load_topics,
    passage_text,
    read_corpus_jsonl,
    read_qrels,
)


def test_topics_and_qrels(data_dir):
    topics = load_topics("sw", data_dir)
    qrels = load_qrels("sw", data_dir)
    assert len(topics) == 482 and all(isinstance(q, str) for q in topics)
    assert topics["6"] == "Bandari kubwa nchini Kenya iko wapi?"
    assert qrels["6"]["32589#0"] == 1 and qrels["6"]["33690#3"] == 0
    assert set(qrels) <= set(topics)
    with pytest.raises(HybridIRError, match="no MIRACL dev set"):
        load_topics("xx", data_dir)


def test_bad_qrels_file(tmp_path):
    path = tmp_path / "qrels.tsv"
    path.write_text("1 Q0 d1 1\n2 Q0 d2\n")
    with pytest.raises(HybridIRError, match="line 2"):
        read_qrels(path)
    path.write_text("1 Q0 d1 yes\n")
    with pytest.raises(HybridIRError, match="not an integer"):
        read_qrels(path)


def test_passage_text_and_corpus_validation(tmp_path):
    assert passage_text("Nairobi", "ni mji mkuu.") == "Nairobi ni mji mkuu."
    assert passage_text("", "text only") == "text only"
    with pytest.raises(HybridIRError, match="twice"):
        Corpus(["a", "a"], ["x", "y"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"docid": "1", "title": "t"}\n')
    with pytest.raises(HybridIRError, match="lacks field"):
        read_corpus_jsonl(bad)
    with pytest.raises(HybridIRError, match="not found"):
        read_corpus_jsonl(tmp_path / "missing.jsonl")


def test_online_corpus_fails_fast_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HybridIRError, match="HF_HUB_OFFLINE"):
        load_corpus_hf("sw")
    with pytest.raises(HybridIRError, match="HF_HUB_OFFLINE"):
        load_corpus("sw")


@pytest.fixture(scope="module")
def fixture_corpus(data_dir, tmp_path_factory):
    """Real sw query ids and judged docids, synthetic passages, plus distractors; written as JSONL.

    The judged passages of query ``DROPPED`` are left out, so that query must be skipped.
    """
    topics = load_topics("sw", data_dir)
    qrels = load_qrels("sw", data_dir)
    qids = [q for q in topics if q in qrels][:30]
    dropped = qids[-1]
    docids = sorted({d for q in qids[:-1] for d in qrels[q]})
    docids += [f"distractor#{i}" for i in range(300)]
    path = tmp_path_factory.mktemp("miracl") / "corpus-sw.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for d in docids:
            f.write(json.dumps({"docid": d, "title": f"Kichwa {d}", "text": f"Maandishi ya {d}."}) + "\n")
    return {"path": path, "qids": qids, "dropped": dropped, "qrels": qrels, "topics": topics}


def test_read_fixture_corpus(fixture_corpus):
    corpus = read_corpus_jsonl(fixture_corpus["path"], "sw")
    assert len(corpus) > 300 and corpus.lang == "sw"
    assert corpus.texts[0] == f"Kichwa {corpus.docids[0]} Maandishi ya {corpus.docids[0]}."
    assert len(read_corpus_jsonl(fixture_corpus["path"], limit=5)) == 5


@pytest.mark.parametrize("method", ["exact", "flat"])
def test_metrics_match_ir_measures_and_skip_unjudged(fixture_corpus, method):
    ir_measures = pytest.importorskip("ir_measures")
    from ir_measures import R, nDCG

    corpus = read_corpus_jsonl(fixture_corpus["path"], "sw")
    qids, qrels = fixture_corpus["qids"], fixture_corpus["qrels"]
    rng = np.random.default_rng(0)
    qv = rng.standard_normal((len(qids), 16)).astype(np.float32)
    pv = rng.standard_normal((len(corpus), 16)).astype(np.float32)
    # make retrieval better than chance: move each query toward one of its relevant passages
    pos = {d: i for i, d in enumerate(corpus.docids)}
    for i, q in enumerate(qids[:-1]):
        rel = [pos[d] for d, g in qrels[q].items() if g > 0 and d in pos]
        if rel:
            qv[i] += 2 * pv[rel[0]]
    res = evaluate_miracl(qv, pv, qids, corpus.docids, qrels, lang="sw", method=method)
    assert fixture_corpus["dropped"] in res.skipped
    assert fixture_corpus["dropped"] not in res.query_ids
    assert len(res.query_ids) + len(res.skipped) == len(qids)

    scores = qv @ pv.T
    kept = [qids.index(q) for q in res.query_ids]
    qrels_in = [ir_measures.Qrel(q, d, g) for q in res.query_ids for d, g in qrels[q].items() if d in pos]
    run = [ir_measures.ScoredDoc(qids[i], d, float(scores[i, j]))
           for i in kept for j, d in enumerate(corpus.docids)]
    ref = {(m.query_id, str(m.measure)): m.value
           for m in ir_measures.pytrec_eval.iter_calc([nDCG @ 10, R @ 100], qrels_in, run)}
    np.testing.assert_allclose(res.ndcg, [ref[(q, "nDCG@10")] for q in res.query_ids], atol=1e-6)
    np.testing.assert_allclose(res.recall, [ref[(q, "R@100")] for q in res.query_ids], atol=1e-6)
    s = res.summary()
    assert s["ndcg@10"] == pytest.approx(np.mean(res.ndcg)) and s["queries"] == len(res.query_ids)
    assert set(res.to_json()) == {"lang", "method", "ndcg@10", "recall@100", "queries", "skipped"}
    assert list(res.per_query_frame().columns) == ["query_id", "ndcg@10", "recall@100"]


def test_no_judged_passage_at_all_is_an_error():
    with pytest.raises(HybridIRError, match="none of the 2 queries"):
        evaluate_miracl(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), ["1", "2"],
                        ["a", "b"], {"1": {"z": 1}})
    with pytest.raises(HybridIRError, match="unknown method"):
        evaluate_miracl(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), ["1", "2"],
                        ["a", "b"], {"1": {"a": 1}}, method="bm25")


class StandIn:
    def encode(self, texts, kind="query", batch_size=64, show_progress=False, **runtime):
        out = np.array([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(8) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_model_evaluation_with_a_stand_in(fixture_corpus, data_dir):
    corpus = read_corpus_jsonl(fixture_corpus["path"], "sw")
    res = evaluate_miracl_model(StandIn(), "sw", corpus, data_dir=data_dir)
    # every topic is encoded; only the queries with a judged-relevant passage in this corpus count
    assert len(res.query_ids) + len(res.skipped) == len(fixture_corpus["topics"])
    present = set(corpus.docids)
    expected = [q for q in fixture_corpus["topics"]
                if any(g > 0 and d in present for d, g in fixture_corpus["qrels"].get(q, {}).items())]
    assert res.query_ids == expected and len(expected) >= 29
    assert ((res.ndcg >= 0) & (res.ndcg <= 1)).all()


def test_online_corpus_streams_the_pinned_revision_and_stops_at_the_limit(monkeypatch, tmp_path):
    """The Hub path reads miracl-corpus at the pinned commit as a stream and pulls only `limit` rows.

    The Hub is replaced by a local folder in the published layout (``miracl-corpus-v1.0-<lang>/
    docs-<i>.jsonl.gz``) read by the real ``datasets`` JSON streaming loader.
    """
    import gzip
    import json

    import datasets

    from hybrid_ir.evaluation import miracl

    folder = tmp_path / "miracl-corpus-v1.0-sw"
    folder.mkdir()
    for shard in range(2):
        with gzip.open(folder / f"docs-{shard}.jsonl.gz", "wt", encoding="utf-8") as f:
            for i in range(50):
                f.write(json.dumps({"docid": f"{shard}{i}#0", "title": "T", "text": f"kifungu {shard}-{i}"}) + "\n")
    calls, pulled = [], []
    real_load = datasets.load_dataset

    def fake_load(kind, data_files, split, streaming=False):
        calls.append((kind, data_files, split, streaming))
        prefix = f"hf://datasets/{miracl.HF_CORPUS}@{miracl.MIRACL_CORPUS_REVISION}/"
        assert data_files.startswith(prefix)
        local = str(tmp_path / data_files[len(prefix):])
        for row in real_load(kind, data_files=local, split=split, streaming=streaming):
            pulled.append(row["docid"])
            yield row

    monkeypatch.setattr(miracl, "hub_offline", lambda: False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    corpus = load_corpus_hf("sw", limit=7)
    assert len(corpus) == 7 and corpus.texts[0].startswith("T kifungu")
    assert calls == [("json", calls[0][1], "train", True)]
    assert len(pulled) == 7  # the stream was not read beyond the limit
    assert miracl.MIRACL_CORPUS_REVISION in corpus.source and len(miracl.MIRACL_CORPUS_REVISION) == 40
