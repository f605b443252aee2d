"""Property tests of the mono / cross / hybrid batch samplers (hybrid_ir.sampling.sampler).

The fake datasets reveal where a triplet came from: example ``i`` of set ``S`` has parallel id
``S-i`` and, in language ``L``, the texts ``q:S-i:L`` / ``p:S-i:L`` / ``n:S-i:L``.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hybrid_ir.cli import main
from hybrid_ir.data.examples import TrainingExample, TrainingSet, Triplet
from hybrid_ir.errors import HybridIRError
from hybrid_ir.sampling import (
    Batch,
    BatchItem,
    HybridBatchSampler,
    batch_triplets,
    describe_batches,
    pair_counts,
)

LANGS = ("ar", "de", "en", "es", "hi")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_set(name: str, masks: list[int]) -> TrainingSet:
    """Example i has the languages of bit mask ``masks[i]`` over LANGS."""
    examples = []
    for i, m in enumerate(masks):
        pid = f"{name}-{i}"
        by_lang = {
            lang: Triplet(f"q:{pid}:{lang}", f"p:{pid}:{lang}", f"n:{pid}:{lang}")
            for j, lang in enumerate(LANGS)
            if m >> j & 1
        }
        examples.append(TrainingExample(pid, f"art{i % 3}", by_lang))
    return TrainingSet(name, tuple(examples))


def full_set(name: str, n: int, n_langs: int) -> TrainingSet:
    return make_set(name, [(1 << n_langs) - 1] * n)


@st.composite
def training_sets(draw, name: str = "s", max_examples: int = 40) -> TrainingSet:
    """A random parallel set: 1-5 languages, each example covering a random non-empty subset
    (about half of them all languages, so that larger batch sizes stay feasible)."""
    n_langs = draw(st.integers(1, len(LANGS)))
    n = draw(st.integers(1, max_examples))
    full = (1 << n_langs) - 1
    masks = draw(st.lists(st.one_of(st.just(full), st.integers(1, full)), min_size=n, max_size=n))
    return make_set(name, masks)


def several_sets(max_size: int) -> st.SearchStrategy[list[TrainingSet]]:
    return st.integers(1, max_size).flatmap(
        lambda k: st.tuples(*(training_sets(f"s{i}") for i in range(k))).map(list))


def lang_counts(ts: TrainingSet) -> Counter:
    return Counter(lang for ex in ts.examples for lang in ex.by_lang)


def is_mono_only(ts: TrainingSet) -> bool:
    """No example in two languages: the sampler gives this dataset mono batches only."""
    return all(len(ex.by_lang) < 2 for ex in ts.examples)


def feasible_sets(sets: list[TrainingSet], b: int, strategy: str, alpha: float) -> bool:
    """Independent oracle: can these datasets fill batches of size b?

    A single-language dataset (no example in two languages) needs a mono language under every
    strategy; a strategy with cross batches needs one parallel dataset."""
    cross_wanted = strategy == "cross" or (strategy == "hybrid" and alpha < 1)
    if cross_wanted and all(is_mono_only(ts) for ts in sets):
        return False
    for ts in sets:
        mono_only = is_mono_only(ts)
        need_mono = strategy == "mono" or (strategy == "hybrid" and alpha > 0) or mono_only
        counts = lang_counts(ts)
        if need_mono and max(counts.values(), default=0) < b:
            return False
        multi = sum(len(ex.by_lang) >= 2 for ex in ts.examples)
        if cross_wanted and not mono_only and multi < b:
            return False
    return True


def feasible(ts: TrainingSet, b: int, strategy: str, alpha: float) -> bool:
    return feasible_sets([ts], b, strategy, alpha)


def check_invariants(sampler: HybridBatchSampler, sets: list[TrainingSet], batches: list[Batch]):
    """Every rule that a single batch must satisfy, plus the epoch length."""
    assert len(batches) == len(sampler)
    assert [b.step for b in batches] == list(range(len(sampler)))
    per_rank = sampler.batch_size // sampler.num_replicas
    for b in batches:
        assert len(b.items) == per_rank
        d = b.items[0].dataset
        ts = sets[d]
        assert b.dataset == ts.name and all(it.dataset == d for it in b.items)
        pids = [it.parallel_id for it in b.items]
        assert len(set(pids)) == len(pids), "parallel id twice in a batch"
        counts = lang_counts(ts)
        for it in b.items:
            ex = ts.examples[it.example]
            assert ex.parallel_id == it.parallel_id
            assert it.query_lang in ex.by_lang and it.passage_lang in ex.by_lang
        if b.type == "mono":
            assert sampler.strategy != "cross" or is_mono_only(ts)
            (lang,) = {it.query_lang for it in b.items} | {it.passage_lang for it in b.items}
            assert counts[lang] >= sampler.batch_size  # only languages with enough examples
        else:
            assert b.type == "cross" and sampler.strategy != "mono" and not is_mono_only(ts)
            assert all(it.query_lang != it.passage_lang for it in b.items)


# ------------------------------------------------------------------------------- invariants
@SETTINGS
@given(
    sets=several_sets(3),
    batch_size=st.integers(1, 12),
    strategy=st.sampled_from(["mono", "cross", "hybrid"]),
    alpha=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    seed=st.integers(0, 2**32),
    epoch=st.integers(0, 5),
    extra=st.one_of(st.none(), st.integers(1, 30)),
)
def test_batches_satisfy_every_rule(sets, batch_size, strategy, alpha, seed, epoch, extra):
    kwargs = dict(batch_size=batch_size, strategy=strategy, alpha=alpha, seed=seed,
                  batches_per_epoch=extra)
    if not feasible_sets(sets, batch_size, strategy, alpha):
        with pytest.raises(HybridIRError, match=rf"batch_size={batch_size}|single language|no example in two"):
            HybridBatchSampler(sets, **kwargs)
        return
    sampler = HybridBatchSampler(sets, **kwargs)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    expected_len = extra if extra is not None else max(1, sum(map(len, sets)) // batch_size)
    assert len(sampler) == expected_len
    check_invariants(sampler, sets, batches)
    # determinism: a second pass and a fresh sampler give the same batches
    assert list(sampler) == batches
    again = HybridBatchSampler(sets, **kwargs)
    again.set_epoch(epoch)
    assert list(again) == batches
    # the texts follow the items
    for b in batches[:3]:
        for it, t in zip(b.items, batch_triplets(b, sets), strict=True):
            assert t.query == f"q:{it.parallel_id}:{it.query_lang}"
            assert t.positive == f"p:{it.parallel_id}:{it.passage_lang}"
            assert t.negative == f"n:{it.parallel_id}:{it.passage_lang}"


@SETTINGS
@given(ts=training_sets(max_examples=30), batch_size=st.integers(1, 8), seed=st.integers(0, 10**6))
def test_alpha_one_and_zero_are_the_baselines(ts, batch_size, seed):
    if feasible(ts, batch_size, "mono", 1.0):
        mono = list(HybridBatchSampler(ts, batch_size, "mono", seed=seed))
        assert list(HybridBatchSampler(ts, batch_size, "hybrid", alpha=1.0, seed=seed)) == mono
        assert all(b.type == "mono" for b in mono)
    if feasible(ts, batch_size, "cross", 0.0):
        cross = list(HybridBatchSampler(ts, batch_size, "cross", seed=seed))
        assert list(HybridBatchSampler(ts, batch_size, "hybrid", alpha=0.0, seed=seed)) == cross
        assert all(b.type == "cross" for b in cross)


def test_alpha_reductions_with_several_datasets():
    sets = [full_set("a", 30, 3), full_set("b", 50, 4)]
    for strategy, alpha in (("mono", 1.0), ("cross", 0.0)):
        base = HybridBatchSampler(sets, 5, strategy, seed=3)
        hyb = HybridBatchSampler(sets, 5, "hybrid", alpha=alpha, seed=3)
        for epoch in (0, 2):
            base.set_epoch(epoch)
            hyb.set_epoch(epoch)
            assert list(hyb) == list(base)


# ------------------------------------------------------------------------------ frequencies
def within(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


@SETTINGS
@given(alpha=st.floats(0.05, 0.95), seed=st.integers(0, 2**32))
def test_mono_share_is_binomial(alpha, seed):
    n = 2000
    sampler = HybridBatchSampler(full_set("s", 40, 3), 4, alpha=alpha, seed=seed,
                                 batches_per_epoch=n)
    mono = sum(ib.type == "mono" for ib in sampler.iter_indices())
    assert within(mono, n, alpha)


@SETTINGS
@given(
    sizes=st.lists(st.integers(0, 60), min_size=2, max_size=4),
    weights=st.sampled_from(["size", "uniform", "explicit"]),
    seed=st.integers(0, 2**32),
    data=st.data(),
)
def test_dataset_frequencies_follow_the_weights(sizes, weights, seed, data):
    sizes = [max(s, 6) for s in sizes]
    sets = [full_set(f"d{i}", s, 2) for i, s in enumerate(sizes)]
    if weights == "explicit":
        w = data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=len(sets),
                               max_size=len(sets)))
        assume(sum(w) > 0)
        spec: object = w
    elif weights == "size":
        w, spec = [float(s) for s in sizes], "size"
    else:
        w, spec = [1.0] * len(sets), "uniform"
    n = 1500
    sampler = HybridBatchSampler(sets, 6, dataset_weights=spec, seed=seed, batches_per_epoch=n)
    counts = Counter(ib.dataset for ib in sampler.iter_indices())
    total = sum(w)
    for d, wd in enumerate(w):
        if wd == 0:
            assert counts[d] == 0
        else:
            assert within(counts[d], n, wd / total), (counts, w)


def test_mono_language_and_cross_pair_are_uniform():
    # 4 languages, all qualify for mono; cross pairs: 12 ordered pairs per example
    ts = full_set("s", 50, 4)
    n = 3000
    mono = HybridBatchSampler(ts, 5, "mono", seed=1, batches_per_epoch=n)
    langs = Counter(b.items[0].query_lang for b in mono)
    assert set(langs) == set(LANGS[:4]) and all(within(c, n, 1 / 4) for c in langs.values())
    cross = HybridBatchSampler(ts, 5, "cross", seed=1, batches_per_epoch=n)
    pairs = Counter((it.query_lang, it.passage_lang) for b in cross for it in b.items)
    assert len(pairs) == 12 and all(within(c, 5 * n, 1 / 12) for c in pairs.values())


def test_language_with_too_few_examples_is_never_mono_but_appears_in_cross():
    # ar in 30 examples, en in 20, de in 4: with batches of 10, de is never mono
    ts = make_set("s", [0b111] * 4 + [0b101] * 16 + [0b001] * 10)
    sampler = HybridBatchSampler(ts, 10, "hybrid", seed=0, batches_per_epoch=400)
    assert sampler.mono_languages == {"s": ("ar", "en")}
    batches = list(sampler)
    assert {b.items[0].query_lang for b in batches if b.type == "mono"} == {"ar", "en"}
    cross_langs = {la for b in batches if b.type == "cross" for it in b.items
                   for la in (it.query_lang, it.passage_lang)}
    assert cross_langs == {"ar", "de", "en"}
    # 20 examples have two languages or more: cross batches of 21 would repeat an id
    with pytest.raises(HybridIRError, match=r"has 20 examples in two or more languages"):
        HybridBatchSampler(ts, 21, "cross")


# ------------------------------------------------------------------------- streams, epochs
def stream_orders(sampler: HybridBatchSampler) -> dict:
    """Per component, the sequence it produced: dataset draws, types, mono languages per
    dataset, examples per (dataset, language) mono stream and per dataset cross stream."""
    out: dict = {"dataset": [], "type": []}
    for b in sampler:
        d = b.items[0].dataset
        out["dataset"].append(d)
        out["type"].append(b.type)
        if b.type == "mono":
            out.setdefault(("lang", d), []).append(b.items[0].query_lang)
            out.setdefault(("mono", d, b.items[0].query_lang), []).extend(
                it.example for it in b.items)
        else:
            out.setdefault(("cross", d), []).extend(it.example for it in b.items)
            out.setdefault(("pairs", d), []).extend(
                (it.query_lang, it.passage_lang) for it in b.items)
    return out


def test_set_epoch_changes_every_component():
    sets = [full_set("a", 60, 3), full_set("b", 80, 3)]
    sampler = HybridBatchSampler(sets, 4, "hybrid", seed=7, batches_per_epoch=60)
    orders = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        orders.append(stream_orders(sampler))
    e0, e1, e0_again = orders
    assert e0 == e0_again  # the epoch, not a shared generator state, decides the order
    assert len(e0) == 2 + 2 + 6 + 2 + 2
    for key, seq in e0.items():
        m = min(len(seq), len(e1[key]))
        assert m >= 4 and seq[:m] != e1[key][:m], f"component {key}: same order in epochs 0, 1"
    # different epochs and seeds -> the per-language order of the same examples differs
    sampler2 = HybridBatchSampler(sets, 4, "hybrid", seed=8, batches_per_epoch=60)
    assert stream_orders(sampler2)[("mono", 0, "ar")] != e0[("mono", 0, "ar")]


def test_stream_is_without_replacement_then_repermuted():
    # one language, 10 examples, batches of 3: the first 10 drawn examples are all 10
    ts = make_set("s", [1] * 10)
    for seed in range(20):
        sampler = HybridBatchSampler(ts, 3, "mono", seed=seed, batches_per_epoch=20)
        drawn = [it.example for b in sampler for it in b.items]
        assert sorted(drawn[:10]) == list(range(10))
        counts = Counter(drawn)
        assert max(counts.values()) - min(counts.values()) <= 2
    # exactly batch_size examples: every batch is the whole pool
    sampler = HybridBatchSampler(make_set("s", [1] * 4), 4, "mono", batches_per_epoch=5)
    assert all(sorted(it.example for it in b.items) == [0, 1, 2, 3] for b in sampler)


@SETTINGS
@given(ts=training_sets(), seed=st.integers(0, 10**6), extra=st.integers(1, 40),
       batch_size=st.integers(1, 6))
def test_first_batches_do_not_depend_on_epoch_length(ts, seed, extra, batch_size):
    assume(feasible(ts, batch_size, "hybrid", 0.5))
    short = list(HybridBatchSampler(ts, batch_size, seed=seed, batches_per_epoch=extra))
    long = list(HybridBatchSampler(ts, batch_size, seed=seed, batches_per_epoch=extra + 17))
    assert long[:extra] == short


# ------------------------------------------------------------------------------ distributed
@SETTINGS
@given(
    sets=several_sets(2),
    world=st.integers(1, 4),
    per_rank=st.integers(1, 3),
    alpha=st.sampled_from([0.0, 0.5, 1.0]),
    seed=st.integers(0, 2**32),
)
def test_rank_slices_partition_the_global_batch(sets, world, per_rank, alpha, seed):
    b = world * per_rank
    assume(feasible_sets(sets, b, "hybrid", alpha))
    single = list(HybridBatchSampler(sets, b, alpha=alpha, seed=seed))
    ranks = [list(HybridBatchSampler(sets, b, alpha=alpha, seed=seed, num_replicas=world, rank=r))
             for r in range(world)]
    assert all(len(r) == len(single) for r in ranks)
    for step, glob in enumerate(single):
        parts = [r[step] for r in ranks]
        assert {(p.step, p.type, p.dataset) for p in parts} == {(glob.step, glob.type, glob.dataset)}
        assert sum((p.items for p in parts), ()) == glob.items
        ids = [it.parallel_id for p in parts for it in p.items]
        assert len(set(ids)) == len(ids)
        if glob.type == "mono":
            assert len({it.query_lang for p in parts for it in p.items}) == 1


# --------------------------------------------------------------------------------- resume
@SETTINGS
@given(ts=training_sets(), batch_size=st.integers(1, 5), seed=st.integers(0, 10**6),
       epoch=st.integers(0, 3), data=st.data())
def test_state_dict_resumes_the_identical_stream(ts, batch_size, seed, epoch, data):
    assume(feasible(ts, batch_size, "hybrid", 0.5))
    kwargs = dict(batch_size=batch_size, seed=seed, batches_per_epoch=12)
    ref = HybridBatchSampler(ts, **kwargs)
    ref.set_epoch(epoch)
    full = list(ref)
    cut = data.draw(st.integers(0, len(full) - 1))
    s = HybridBatchSampler(ts, **kwargs)
    s.set_epoch(epoch)
    it = iter(s)
    consumed = [next(it) for _ in range(cut)]
    state = json.loads(json.dumps(s.state_dict()))  # a checkpoint survives JSON
    assert state["position"] == cut and state["epoch"] == epoch
    resumed = HybridBatchSampler(ts, **kwargs)
    resumed.load_state_dict(state)
    resumed.set_epoch(epoch)  # a training loop calling set_epoch(same) does not restart
    assert consumed + list(resumed) == full
    # the finished epoch starts over; a new epoch starts at 0
    assert list(resumed) == full
    resumed.set_epoch(epoch + 1)
    assert resumed.state_dict()["position"] == 0


# ------------------------------------------------------------------------------ bad input
TWO = [full_set("a", 10, 2), full_set("b", 10, 2)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(batch_size=0), r"batch_size must be >= 1, got 0"),
        (dict(batch_size=2.5), r"batch_size must be an integer, got 2.5"),
        (dict(batch_size=True), r"batch_size must be an integer, got True"),
        (dict(strategy="both"), r"strategy must be one of mono, cross, hybrid; got 'both'"),
        (dict(alpha=1.5), r"alpha must be a number in \[0, 1\], got 1.5"),
        (dict(alpha=float("nan")), r"alpha must be a number in \[0, 1\], got nan"),
        (dict(dataset_weights="sizes"), r"dataset_weights must be .* got 'sizes'"),
        (dict(dataset_weights=[1.0]), r"one weight per dataset \(2\), got 1: \[1.0\]"),
        (dict(dataset_weights=[-1, 2]), r"finite and >= 0, got \[-1.0, 2.0\]"),
        (dict(dataset_weights=[float("inf"), 1]), r"finite and >= 0, got \[inf, 1.0\]"),
        (dict(dataset_weights=[0, 0]), r"all zero: \[0.0, 0.0\]"),
        (dict(dataset_weights=["x", 1]), r"dataset_weights must be .* got \['x', 1\]"),
        (dict(seed=-1), r"seed must be >= 0, got -1"),
        (dict(num_replicas=0), r"num_replicas must be >= 1, got 0"),
        (dict(num_replicas=2, rank=2), r"rank must be in \[0, 1\], got 2"),
        (dict(batch_size=3, num_replicas=2), r"batch_size 3 is not divisible by num_replicas 2"),
        (dict(batches_per_epoch=0), r"batches_per_epoch must be >= 1, got 0"),
        (dict(batch_size=11, strategy="mono"),
         r"no language has batch_size=11 examples .*'ar' with 10 examples"),
        (dict(batch_size=11, strategy="cross"), r"has 10 examples in two or more languages"),
    ],
)
def test_bad_arguments_raise_with_the_value(kwargs, match):
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(HybridIRError, match=match):
        HybridBatchSampler(TWO, **kwargs)


def test_bad_datasets_and_states():
    with pytest.raises(HybridIRError, match="datasets is empty"):
        HybridBatchSampler([], 2)
    with pytest.raises(HybridIRError, match=r"datasets\[1\] must be a TrainingSet, got list"):
        HybridBatchSampler([TWO[0], []], 2)
    with pytest.raises(HybridIRError, match=r"single language \(ar\)"):
        HybridBatchSampler(make_set("one", [1] * 10), 2, "cross")
    with pytest.raises(HybridIRError, match=r"'empty' is empty"):
        HybridBatchSampler([TWO[0], TrainingSet("empty", ())], 2, dataset_weights="uniform")
    # an empty set with 'size' weight is never drawn and allowed
    assert len(HybridBatchSampler([TWO[0], TrainingSet("empty", ())], 2)) == 5
    dup = TrainingSet("dup", TWO[0].examples + TWO[0].examples[:1])
    with pytest.raises(HybridIRError, match=r"parallel id 'a-0' in more than one example"):
        HybridBatchSampler(dup, 2)
    s = HybridBatchSampler(TWO, 2)
    with pytest.raises(HybridIRError, match=r"epoch must be >= 0, got -1"):
        s.set_epoch(-1)
    with pytest.raises(HybridIRError, match=r"'epoch' and 'position', got \{'epoch': 0\}"):
        s.load_state_dict({"epoch": 0})
    with pytest.raises(HybridIRError, match=r"position must be in \[0, 10\], got 11"):
        s.load_state_dict({"epoch": 0, "position": 11})
    with pytest.raises(HybridIRError, match=r"saved with seed=5, this sampler has seed=0"):
        s.load_state_dict({"epoch": 0, "position": 1, "seed": 5})
    b = next(iter(s))
    with pytest.raises(HybridIRError, match=r"refers to dataset 1, but 1 dataset\(s\)"):
        batch_triplets(Batch(0, "mono", "b", (BatchItem(1, 0, "b-0", "ar", "ar"),)), [TWO[0]])
    with pytest.raises(HybridIRError, match=r"is not parallel id"):
        batch_triplets(b, [make_set("x", [3] * 10), make_set("y", [3] * 10)])


# ---------------------------------------------------------------------------------- tables
def test_describe_batches_and_pair_counts():
    ts = full_set("s", 20, 3)
    mono = list(HybridBatchSampler(ts, 4, "mono", seed=0))
    cross = list(HybridBatchSampler(ts, 4, "cross", seed=0))
    df = describe_batches(mono + cross)
    assert list(df.columns[:5]) == ["step", "type", "dataset", "query_lang", "passage_lang"]
    assert len(df) == 4 * (len(mono) + len(cross))
    pm = pair_counts(df[df["type"] == "mono"], languages=LANGS[:3])
    pc = pair_counts(df[df["type"] == "cross"], languages=LANGS[:3])
    assert pm.shape == (3, 3) and list(pm.index) == list(LANGS[:3])
    off = ~np.eye(3, dtype=bool)
    assert (pm.to_numpy()[off] == 0).all() and pm.to_numpy().sum() == 4 * len(mono)
    assert (np.diag(pc.to_numpy()) == 0).all() and pc.to_numpy().sum() == 4 * len(cross)
    assert pair_counts(describe_batches([])).shape == (0, 0)
    with pytest.raises(HybridIRError, match=r"occur in the batches but not in \['ar'\]"):
        pair_counts(df, languages=["ar"])


def test_items_are_plain_equal_picklable_dataclasses():
    import pickle

    b = next(iter(HybridBatchSampler(full_set("s", 10, 2), 2, "cross", seed=0)))
    it = b.items[0]
    assert it == BatchItem(it.dataset, it.example, it.parallel_id, it.query_lang, it.passage_lang)
    assert hash(it) == hash(BatchItem(**vars(it)))
    assert pickle.loads(pickle.dumps(b)) == b
    with pytest.raises(AttributeError):
        it.example = 3  # type: ignore[misc]


# ------------------------------------------------------------------- single-language datasets
def english_only(name: str, n: int) -> TrainingSet:
    return make_set(name, [1 << LANGS.index("en")] * n)


@SETTINGS
@given(
    n_parallel=st.integers(8, 60),
    n_english=st.integers(8, 60),
    strategy=st.sampled_from(["cross", "hybrid"]),
    alpha=st.sampled_from([0.0, 0.3, 0.5, 0.9]),
    seed=st.integers(0, 2**32),
)
def test_english_only_set_mixed_into_a_parallel_one(n_parallel, n_english, strategy, alpha, seed):
    """Rule 4b: the English-only set gives mono 'en' batches under X-Y and hybrid; the dataset draw
    stays proportional to size; alpha applies to the parallel set's batches."""
    sets = [full_set("par", n_parallel, 3), english_only("en-only", n_english)]
    n = 1500
    sampler = HybridBatchSampler(sets, 4, strategy, alpha=alpha, seed=seed, batches_per_epoch=n)
    assert sampler.mono_only_datasets == ("en-only",)
    batches = list(sampler)
    check_invariants(sampler, sets, batches)
    by_set = Counter(b.dataset for b in batches)
    w_en = n_english / (n_parallel + n_english)
    assert within(by_set["en-only"], n, w_en)  # "batches sampled based on dataset size"
    for b in batches:
        if b.dataset == "en-only":
            assert b.type == "mono" and {(it.query_lang, it.passage_lang) for it in b.items} == {("en", "en")}
    p_mono = 0.0 if strategy == "cross" else alpha
    par = [b for b in batches if b.dataset == "par"]
    mono_par = sum(b.type == "mono" for b in par)
    if p_mono in (0.0, 1.0):
        assert mono_par == p_mono * len(par)
    else:
        assert within(mono_par, len(par), p_mono)
    assert sampler.expected_mono_share == pytest.approx(p_mono + (1 - p_mono) * w_en)
    assert within(sum(b.type == "mono" for b in batches), n, sampler.expected_mono_share)


@SETTINGS
@given(seed=st.integers(0, 2**32), alpha=st.sampled_from([0.0, 0.5]), epoch=st.integers(0, 3))
def test_zero_weight_english_set_changes_no_batch(seed, alpha, epoch):
    """Adding a single-language set never alters the parallel set's own random streams."""
    par = full_set("par", 30, 3)
    alone = HybridBatchSampler(par, 5, "hybrid", alpha=alpha, seed=seed)
    mixed = HybridBatchSampler([par, english_only("en", 30)], 5, "hybrid", alpha=alpha, seed=seed,
                               dataset_weights=[1.0, 0.0])
    for s in (alone, mixed):
        s.set_epoch(epoch)
    assert list(mixed) == list(alone)


def test_single_language_sets_need_a_parallel_one_for_cross_batches():
    en = english_only("en", 20)
    for strategy in ("cross", "hybrid"):
        with pytest.raises(HybridIRError, match=r"'en' has a single language \(en\).*use strategy='mono'"):
            HybridBatchSampler(en, 4, strategy)
    with pytest.raises(HybridIRError, match=r"no other dataset is parallel"):
        HybridBatchSampler([en, english_only("en2", 20)], 4, "cross")
    # two languages, but never in the same example: still single-language per example
    split = make_set("split", [1] * 10 + [2] * 10)
    with pytest.raises(HybridIRError, match=r"'split' has no example in two languages"):
        HybridBatchSampler(split, 4, "cross")
    assert HybridBatchSampler([full_set("par", 10, 2), split], 4, "cross").mono_only_datasets == ("split",)
    # a single-language set must still fill its mono batches
    with pytest.raises(HybridIRError, match=r"'en'.*batch_size=8.*all its batches are mono"):
        HybridBatchSampler([full_set("par", 20, 2), english_only("en", 7)], 8, "cross")
    assert HybridBatchSampler(en, 4, "mono").expected_mono_share == 1.0


# ------------------------------------------------------------------------ real data, CLI
@pytest.fixture(scope="module")
def mlqa(data_dir):
    from hybrid_ir.data.examples import load_training_set

    return load_training_set("mlqa-r", exclude_overlap_with=["xquad-r"], data_dir=data_dir)


def test_real_mlqa_examples(mlqa):
    assert len(mlqa) == 1145
    sampler = HybridBatchSampler(mlqa, 100, "hybrid", alpha=0.5, seed=0)
    assert len(sampler) == 11
    assert sampler.mono_languages["mlqa-r"] == ("ar", "de", "en", "es", "hi", "vi", "zh")
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        check_invariants(sampler, [mlqa], batches)
    for b in batches:
        for it, t in zip(b.items, batch_triplets(b, [mlqa]), strict=True):
            ex = mlqa.examples[it.example]
            assert t.query == ex.by_lang[it.query_lang].query
            assert t.positive == ex.by_lang[it.passage_lang].positive
    # with batch size 600 only English (1145 examples) can fill a mono batch
    assert HybridBatchSampler(mlqa, 600, "mono").mono_languages["mlqa-r"] == ("en",)


def test_cli_sample_jsonl_and_summary(capsys, data_dir):
    args = ["sample", "--dataset", "mlqa-r", "--strategy", "hybrid", "--alpha", "0.5",
            "--batch-size", "20", "--batches", "7", "--seed", "3", "--epoch", "1",
            "--exclude-overlap-with", "xquad-r", "--data-dir", str(data_dir)]
    assert main([*args, "--jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["batch"] for r in lines] == list(range(7))
    for r in lines:
        assert r["dataset"] == "mlqa-r" and r["type"] in ("mono", "cross")
        assert len(r["items"]) == 20 and len({i["id"] for i in r["items"]}) == 20
        pairs = {(i["query_lang"], i["passage_lang"]) for i in r["items"]}
        if r["type"] == "mono":
            ((q, p),) = pairs
            assert q == p
        else:
            assert all(q != p for q, p in pairs)
    # the CLI shows the batches the sampler gives in training (same seed and epoch)
    from hybrid_ir.data.examples import load_training_set

    ts = load_training_set("mlqa-r", exclude_overlap_with=["xquad-r"], data_dir=data_dir)
    sampler = HybridBatchSampler(ts, 20, "hybrid", seed=3)
    sampler.set_epoch(1)
    first = [b for b, _ in zip(sampler, range(7), strict=False)]
    assert [[i["id"] for i in r["items"]] for r in lines] == [
        [it.parallel_id for it in b.items] for b in first]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "mono languages" in out and "mono batches" in out
    assert main(["sample", "--dataset", "mlqa-r", "--batch-size", "5000", "--strategy", "mono",
                 "--data-dir", str(data_dir)]) == 2
    assert "batch_size=5000" in capsys.readouterr().err


# ------------------------------------------------------------------------ exact batch schedule
@SETTINGS
@given(
    sets=several_sets(3),
    batch_size=st.integers(1, 6),
    alpha=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32),
    epoch=st.integers(0, 4),
    extra=st.one_of(st.none(), st.integers(1, 60)),
)
def test_exact_schedule_has_exactly_round_alpha_n_mono_batches(sets, batch_size, alpha, seed, epoch, extra):
    """Rule 2, exact schedule: every batch obeys the other rules, and of the epoch's batches from
    parallel datasets exactly floor(alpha n + 1/2) are mono (the coin only gets it on average)."""
    assume(feasible_sets(sets, batch_size, "hybrid", alpha))
    sampler = HybridBatchSampler(sets, batch_size, "hybrid", alpha=alpha, seed=seed, batches_per_epoch=extra,
                                 batch_schedule="exact")
    sampler.set_epoch(epoch)
    batches = list(sampler)
    check_invariants(sampler, sets, batches)
    mono_only = {ts.name for ts in sets if is_mono_only(ts)}
    parallel = [b for b in batches if b.dataset not in mono_only]
    assert sum(b.type == "mono" for b in parallel) == math.floor(alpha * len(parallel) + 0.5)
    assert all(b.type == "mono" for b in batches if b.dataset in mono_only)
    assert list(sampler) == batches  # deterministic


def test_exact_schedule_over_epochs_and_its_order():
    """Four epochs of 32 batches at alpha 0.5 hold exactly 64 mono batches (16 per epoch, in an order
    that changes with the epoch and the seed); the coin with the same seed does not, in general."""
    ts = full_set("s", 128, 3)
    exact = HybridBatchSampler(ts, 4, "hybrid", alpha=0.5, seed=7, batch_schedule="exact")
    assert len(exact) == 32
    orders = []
    for epoch in range(4):
        exact.set_epoch(epoch)
        types = [b.type for b in exact]
        assert types.count("mono") == 16
        orders.append(types)
    assert len({tuple(o) for o in orders}) == 4
    other_seed = HybridBatchSampler(ts, 4, "hybrid", alpha=0.5, seed=8, batch_schedule="exact")
    assert [b.type for b in other_seed] != orders[0]
    coin_counts = set()
    for seed in range(20):
        coin = HybridBatchSampler(ts, 4, "hybrid", alpha=0.5, seed=seed)
        coin_counts.add(sum(b.type == "mono" for b in coin))
    assert len(coin_counts) > 1  # the coin's count varies from seed to seed


def test_exact_schedule_changes_nothing_at_alpha_zero_or_one_and_is_checked():
    ts = full_set("s", 40, 3)
    for strategy, alpha in (("mono", 1.0), ("cross", 0.0)):
        base = list(HybridBatchSampler(ts, 4, strategy, seed=3))
        assert list(HybridBatchSampler(ts, 4, "hybrid", alpha=alpha, seed=3, batch_schedule="exact")) == base
    assert list(HybridBatchSampler(ts, 4, "hybrid", seed=3, batch_schedule="coin")) == list(
        HybridBatchSampler(ts, 4, "hybrid", seed=3))
    with pytest.raises(HybridIRError, match="batch_schedule must be one of coin, exact; got 'exactly'"):
        HybridBatchSampler(ts, 4, "hybrid", batch_schedule="exactly")  # type: ignore[arg-type]
