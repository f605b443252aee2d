"""The sentence-transformers route: triplet rows, the batch sampler (one and several processes),
a real SentenceTransformerTrainer run whose consumed batches are recorded, and the LAReQA evaluator.

Texts name their origin ("q id3 de" is the query of example id3 in German), so a batch read back from
the trainer's token ids tells which (example, query language, passage language) it held.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from hybrid_ir.data import TrainingExample, TrainingSet, Triplet
from hybrid_ir.data.lareqa import Candidate, LareqaDataset, Question
from hybrid_ir.errors import HybridIRError
from hybrid_ir.evaluation.grid import TABLE_COLUMNS, evaluate_lareqa
from hybrid_ir.sampling import HybridBatchSampler, batch_triplets

pytest.importorskip("sentence_transformers")
pytest.importorskip("accelerate")
from st_support import st_model, tiny_bert_folder

from hybrid_ir.integrations.sentence_transformers import (
    HybridSTBatchSampler,
    LareqaEvaluator,
    hybrid_batch_sampler,
    triplet_dataset,
)

LANGS = ("de", "en", "es")


def _triplet(pid: str, lang: str, negative: bool = True) -> Triplet:
    return Triplet(f"q {pid} {lang}", f"pos {pid} {lang}", f"neg {pid} {lang}" if negative else "")


def toy_sets() -> tuple[TrainingSet, TrainingSet]:
    """Set 'big': 24 examples, most in three languages, every fourth in two; set 'small': 8 in en/es."""
    big = tuple(
        TrainingExample(f"id{i}", f"art{i % 5}",
                        {lang: _triplet(f"id{i}", lang) for lang in (LANGS if i % 4 else ("de", "en"))})
        for i in range(24)
    )
    small = tuple(
        TrainingExample(f"s{i}", "x", {lang: _triplet(f"s{i}", lang) for lang in ("en", "es")}) for i in range(8)
    )
    return TrainingSet("big", big), TrainingSet("small", small)


def _row_triplet(rows, r: int) -> tuple[str, str, str]:
    row = rows.dataset[r]
    return row["anchor"], row["positive"], row.get("negative", "")


# ------------------------------------------------------------------------------- triplet rows
def test_triplet_rows_hold_every_language_pair_at_its_computed_row():
    sets = toy_sets()
    rows = triplet_dataset(sets)
    assert rows.dataset.column_names == ["anchor", "positive", "negative"]
    assert len(rows) == sum(len(ex.by_lang) ** 2 for ts in sets for ex in ts.examples) == 18 * 9 + 6 * 4 + 8 * 4
    seen = set()
    for r in range(len(rows)):
        d, e, q, p = rows.item(r)
        ex = sets[d].examples[e]
        t = ex.triplet(q, p)
        assert _row_triplet(rows, r) == (t.query, t.positive, t.negative)
        seen.add((d, e, q, p))
    assert len(seen) == len(rows)  # each (set, example, pair) exactly once
    # the inverse: items of a sampled batch -> rows holding their texts
    sampler = HybridBatchSampler(sets, 4, strategy="hybrid", seed=1)
    for batch in sampler:
        got = [_row_triplet(rows, rows.row(item)) for item in batch.items]
        assert got == [(t.query, t.positive, t.negative) for t in batch_triplets(batch, sets)]


def test_negatives_column_is_kept_dropped_or_refused():
    def ex(pid: str, neg: bool) -> TrainingExample:
        return TrainingExample(pid, "a", {"en": _triplet(pid, "en", neg), "de": _triplet(pid, "de", neg)})

    without = TrainingSet("plain", (ex("a", False), ex("b", False)))
    assert triplet_dataset(without).dataset.column_names == ["anchor", "positive"]
    assert triplet_dataset(toy_sets()[0], negatives="drop").dataset.column_names == ["anchor", "positive"]
    mixed = TrainingSet("mixed", (ex("a", True), ex("b", False)))
    with pytest.raises(HybridIRError, match=r"example 'b'.*no hard negative"):
        triplet_dataset(mixed)
    with pytest.raises(HybridIRError, match="must be a TrainingSet"):
        triplet_dataset([{"query": "q"}])


# ---------------------------------------------------------------------------------- sampler
def _texts(rows, batch_rows):
    return [_row_triplet(rows, r) for r in batch_rows]


def _expected(sets, batch):
    return [(t.query, t.positive, t.negative) for t in batch_triplets(batch, sets)]


@pytest.mark.parametrize("strategy", ["mono", "cross", "hybrid"])
def test_sampler_yields_exactly_the_project_batches(strategy):
    sets = toy_sets()
    rows = triplet_dataset(sets)
    ours = HybridSTBatchSampler(rows, 4, strategy=strategy, alpha=0.5, seed=7)
    ref = HybridBatchSampler(sets, 4, strategy=strategy, alpha=0.5, seed=7)
    assert len(ours) == len(ref) == 32 // 4
    for epoch in (0, 1, 0):  # set_epoch changes the order; coming back gives the same batches
        ours.set_epoch(epoch)
        ref.set_epoch(epoch)
        got = [_texts(rows, b) for b in ours]
        assert got == [_expected(sets, b) for b in ref]
        assert got == [_texts(rows, b) for b in ours]  # a second pass repeats the epoch
    ours.set_epoch(1)
    ref.set_epoch(1)
    assert [(b.type, b.items) for b in ours.iter_batches()] == [(b.type, b.items) for b in ref]


def test_factory_is_what_the_trainer_calls():
    rows = triplet_dataset(toy_sets())
    factory = hybrid_batch_sampler(rows, strategy="hybrid", alpha=0.5)
    sampler = factory(rows.dataset, batch_size=4, drop_last=False, valid_label_columns=["label"],
                      generator=None, seed=11)
    assert sampler.sampler.seed == 11 and sampler.num_processes == 1  # the trainer's seed
    assert hybrid_batch_sampler(rows, seed=3)(rows.dataset, batch_size=4, seed=11).sampler.seed == 3
    with pytest.raises(HybridIRError, match=r"pass rows\.dataset as train_dataset"):
        factory(rows.dataset.select(range(10)), batch_size=4)
    with pytest.raises(HybridIRError, match="alpha must be a number"):
        hybrid_batch_sampler(rows, alpha=2.0)  # checked before any training starts


# ------------------------------------------------------------------------- several processes
B = 2  # per-process batch size of the sharding tests

def _shard_batches(rows, factory, n: int, split_batches: bool = False) -> list[list[list[int]]]:
    """Per process: the row batches accelerate's own data-loader preparation gives it (simulated)."""
    from accelerate.data_loader import prepare_data_loader
    from torch.utils.data import DataLoader

    per_rank = []
    for r in range(n):
        index = list(range(len(rows)))  # the dataset of row numbers: a batch reads back as its rows
        batch_sampler = factory(index, batch_size=B if not split_batches else B * n, seed=0)
        loader = DataLoader(index, batch_sampler=batch_sampler, collate_fn=list)
        loader = prepare_data_loader(loader, num_processes=n, process_index=r, split_batches=split_batches,
                                     even_batches=False, put_on_device=False)
        loader.set_epoch(0)
        per_rank.append([list(b) for b in loader])
    return per_rank


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("split_batches", [False, True])
def test_all_processes_train_on_slices_of_one_batch(n, split_batches):
    """accelerate shards whole batches (or splits them): each step, every process holds a slice of the
    same global batch (same dataset, type, mono language), the slices are disjoint, their union is the
    single-process batch of n * B triplets, and process r's slice is HybridBatchSampler(rank=r)'s."""
    sets = toy_sets()
    rows = triplet_dataset(sets)
    factory = hybrid_batch_sampler(rows, strategy="hybrid", alpha=0.5, seed=5, batches_per_epoch=10,
                                   num_processes=None if split_batches else n, split_batches=split_batches)
    per_rank = _shard_batches(rows, factory, n, split_batches)
    single = list(HybridBatchSampler(sets, B * n, strategy="hybrid", alpha=0.5, seed=5, batches_per_epoch=10))
    assert all(len(batches) == len(single) for batches in per_rank)
    assert {b.type for b in single} == {"mono", "cross"}
    for step, batch in enumerate(single):
        slices = [per_rank[r][step] for r in range(n)]
        assert [x for part in slices for x in part] == [rows.row(item) for item in batch.items]
        for r in range(n):
            ranked = list(HybridBatchSampler(sets, B * n, strategy="hybrid", alpha=0.5, seed=5,
                                             batches_per_epoch=10, num_replicas=n, rank=r))[step]
            assert slices[r] == [rows.row(item) for item in ranked.items]
            types = {"mono" if rows.item(x)[2] == rows.item(x)[3] else "cross" for x in slices[r]}
            assert types == {batch.type}


def test_without_the_fix_processes_would_mix_batch_types():
    """What accelerate does to a one-batch-per-yield sampler: the processes of a step get different,
    independently drawn batches, and some steps mix a mono and a cross batch."""
    rows = triplet_dataset(toy_sets())
    naive = hybrid_batch_sampler(rows, strategy="hybrid", alpha=0.5, seed=5, batches_per_epoch=40,
                                 num_processes=1)
    per_rank = _shard_batches(rows, naive, 2)

    def kind(batch):
        _, _, q, p = rows.item(batch[0])
        return "mono" if q == p else "cross"

    mixed = [kind(a) != kind(b) for a, b in zip(*per_rank, strict=True)]
    assert any(mixed)


# -------------------------------------------------------------------- a real trainer run
def _words(sets) -> list[str]:
    words = {w for ts in sets for ex in ts.examples for t in ex.by_lang.values()
             for text in (t.query, t.positive, t.negative) for w in text.split()}
    return sorted(words)


def _lareqa_toy(seed: int = 0, n: int = 6, langs=("en", "de")) -> tuple[LareqaDataset, list[str]]:
    """A small parallel LAReQA set: n questions per language, 3 sentences per paragraph."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(40)]

    def words(k: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(k))

    questions, cands = [], []
    for lang in langs:
        offset = len(cands)
        for p in range(n // 3 + 1):
            sentences = [words(5) for _ in range(3)]
            for s, sentence in enumerate(sentences):
                cands.append(Candidate(f"c:{lang}:A:{p}:{s}", lang, sentence, " ".join(sentences), "A", p, s))
        for i in range(n):
            questions.append(Question(f"q:{lang}:{i}", str(i), lang, words(4), "A", offset + i))
    return LareqaDataset("toy-lareqa", tuple(langs), questions, cands), vocab


@pytest.mark.slow
def test_trainer_consumes_exactly_the_project_batches(tmp_path):
    """A real SentenceTransformerTrainer, 10 steps over two epochs: the loss records every batch it
    receives (decoded from token ids); they must be the project's sampler's batches, in order."""
    import torch
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    sets = toy_sets()
    lareqa, vocab = _lareqa_toy()
    hf = tiny_bert_folder(tmp_path / "hf", seed=0, words=[*_words(sets), *vocab, "pos", "neg", "q"])
    model = st_model(hf, pooling="mean", normalize=True)
    tokenizer = model.tokenizer

    class RecordingLoss(MultipleNegativesRankingLoss):
        def forward(self, sentence_features, labels):
            self.seen.append([tokenizer.batch_decode(f["input_ids"], skip_special_tokens=True)
                              for f in sentence_features])
            return super().forward(sentence_features, labels)

    loss = RecordingLoss(model)
    loss.seen = []
    rows = triplet_dataset(sets)
    evaluator = LareqaEvaluator(lareqa, name="toy")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, max_steps=10, seed=3,
        learning_rate=1e-3, batch_sampler=hybrid_batch_sampler(rows, strategy="hybrid", alpha=0.5),
        eval_strategy="steps", eval_steps=5, logging_steps=5, save_strategy="no", report_to="none",
        use_cpu=True, dataloader_drop_last=False, disable_tqdm=True,
    )
    torch.manual_seed(0)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=rows.dataset, loss=loss,
                                         evaluator=evaluator)
    trainer.train()

    ref = HybridBatchSampler(sets, 4, strategy="hybrid", alpha=0.5, seed=3)
    assert len(ref) == 8  # so 10 steps run into the second epoch
    expected = []
    for epoch in (0, 1):
        ref.set_epoch(epoch)
        expected += [(b.type, _expected(sets, b)) for b in ref]
    expected = expected[:10]
    consumed = [list(zip(*cols, strict=True)) for cols in loss.seen]
    assert consumed == [texts for _, texts in expected]
    assert {t for t, _ in expected} == {"mono", "cross"}
    # the recorded languages show the types: mono = query and passage in one language
    for (kind, _), batch in zip(expected, consumed, strict=True):
        same = {a.split()[-1] == p.split()[-1] for a, p, _ in batch}
        assert same == {kind == "mono"}
    # the evaluator ran during training and logged every LAReQA metric
    logged = [h for h in trainer.state.log_history if "eval_toy_multi_map" in h]
    assert len(logged) == 2
    assert {f"eval_toy_{k}" for k in TABLE_COLUMNS} <= set(logged[0])


# ------------------------------------------------------------------------------- evaluator
@pytest.mark.slow
def test_evaluator_reports_the_package_evaluation_of_the_same_embeddings(tmp_path):
    from hybrid_ir.modeling.biencoder import BiEncoder

    lareqa, vocab = _lareqa_toy(seed=1, n=9, langs=("en", "de", "es"))
    hf = tiny_bert_folder(tmp_path / "hf", seed=2, words=vocab)
    model = st_model(hf, pooling="cls", normalize=False, prompts={"query": "query : ", "passage": "passage : "})
    evaluator = LareqaEvaluator(lareqa)
    metrics = evaluator(model, output_path=str(tmp_path / "eval"), epoch=1, steps=7)
    assert evaluator.primary_metric == "toy-lareqa_multi_map"
    assert set(metrics) == {f"toy-lareqa_{k}" for k in TABLE_COLUMNS}

    # the same embeddings, computed here by encode_query / encode_document (whose prompts are the
    # "query" one and the "document" one, "" here: sentence-transformers adds it beside "passage")
    # and evaluated by the package: identical numbers
    assert model.prompts["document"] == ""
    qv = model.encode_query([q.text for q in lareqa.questions], normalize_embeddings=True)
    cv = model.encode_document([c.sentence for c in lareqa.candidates], normalize_embeddings=True)
    table = evaluate_lareqa(lareqa, qv, cv).per_language_table().loc["Mean"]
    for key in TABLE_COLUMNS:
        assert metrics[f"toy-lareqa_{key}"] == pytest.approx(float(table[key]), abs=1e-12)
    np.testing.assert_array_equal(evaluator.last_result.multi_ranks, evaluate_lareqa(lareqa, qv, cv).multi_ranks)
    # unprompted embeddings give other numbers: the prompts were really used
    bare = evaluate_lareqa(lareqa, model.encode([q.text for q in lareqa.questions], normalize_embeddings=True),
                           cv).per_language_table().loc["Mean"]
    assert any(abs(bare[k] - table[k]) > 1e-9 for k in TABLE_COLUMNS)

    # the saved model read by BiEncoder (its own encoding path) evaluates to the same numbers
    import torch

    model.save(str(tmp_path / "saved"))
    enc = BiEncoder.from_pretrained(tmp_path / "saved", normalize=True).eval()
    with torch.no_grad():  # embed: fp32, no autocast
        bq = enc.embed([q.text for q in lareqa.questions], "query").numpy()
        bc = enc.embed([c.sentence for c in lareqa.candidates], "passage").numpy()
    # (the same vectors up to float rounding; a random tiny model has near-ties, so its ranks may
    # differ by a swap: the numbers are compared on identical embeddings above)
    np.testing.assert_allclose(bq, qv, atol=1e-5)
    np.testing.assert_allclose(bc, cv, atol=1e-5)

    csv_text = (tmp_path / "eval" / "lareqa_toy-lareqa_results.csv").read_text().splitlines()
    assert csv_text[0].startswith("epoch,steps,mono_map") and csv_text[1].startswith("1,7,")
    with pytest.raises(HybridIRError, match="unknown candidate text"):
        LareqaEvaluator(lareqa, candidate_text="paragraph")


def _accelerate_worker(rank: int, world: int, port: int, out: str) -> None:
    """One process of a real 2-process (gloo) run: accelerate prepares the loader as the trainer does."""
    import json
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    import torch
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    accelerator = Accelerator(cpu=True)
    accelerator.even_batches = False  # what SentenceTransformerTrainer sets for training
    rows = triplet_dataset(toy_sets())
    index = list(range(len(rows)))
    factory = hybrid_batch_sampler(rows, strategy="hybrid", alpha=0.5, seed=5, batches_per_epoch=10)
    sampler = factory(index, batch_size=B, seed=0)  # num_processes read from the running state
    loader = accelerator.prepare(DataLoader(index, batch_sampler=sampler, collate_fn=list))
    loader.set_epoch(0)
    batches = [[int(x) for x in b] for b in loader]
    with open(f"{out}.{rank}.json", "w") as f:
        json.dump({"num_processes": sampler.num_processes, "batches": batches}, f)
    accelerator.end_training()


@pytest.mark.slow
def test_two_gloo_processes_train_on_slices_of_one_batch(tmp_path):
    import json

    import torch.multiprocessing as mp
    from test_distributed import free_port

    out = str(tmp_path / "shards")
    mp.spawn(_accelerate_worker, args=(2, free_port(), out), nprocs=2, join=True)
    got = [json.loads(Path(f"{out}.{r}.json").read_text()) for r in range(2)]
    assert [g["num_processes"] for g in got] == [2, 2]  # detected from accelerate's state
    sets = toy_sets()
    rows = triplet_dataset(sets)
    single = list(HybridBatchSampler(sets, 2 * B, strategy="hybrid", alpha=0.5, seed=5, batches_per_epoch=10))
    assert [got[0]["batches"][s] + got[1]["batches"][s] for s in range(len(single))] == \
        [[rows.row(item) for item in batch.items] for batch in single]
