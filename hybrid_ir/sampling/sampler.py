"""Batch samplers of the paper: X-X-mono, X-Y (cross-lingual) and hybrid batches.

One :class:`HybridBatchSampler` implements the three strategies of arXiv 2408.10536 over one or
several :class:`~hybrid_ir.data.examples.TrainingSet` s (one example = one parallel id with a triplet per
language it has):

- ``strategy="mono"`` (X-X-mono): every triplet of a batch is in one language;
- ``strategy="cross"`` (X-Y): every triplet has its query and its passages in different languages;
- ``strategy="hybrid"``: each batch is mono with probability ``alpha``, cross otherwise.

The exact rules are listed in :class:`HybridBatchSampler`. The sampler yields :class:`Batch` es of
indices; :func:`batch_triplets` turns one into texts, :func:`~hybrid_ir.sampling.stats.describe_batches` into a table (one row
per item) and :func:`~hybrid_ir.sampling.stats.pair_counts` into the query-language x passage-language counts the book plots.

Example::

    >>> from hybrid_ir.data.examples import TrainingExample, TrainingSet, Triplet
    >>> t = Triplet("q", "p+", "p-")
    >>> ts = TrainingSet("toy", tuple(
    ...     TrainingExample(f"id{i}", "a", {"de": t, "en": t, "es": t}) for i in range(8)))
    >>> sampler = HybridBatchSampler(ts, batch_size=4, strategy="hybrid", alpha=0.5, seed=0)
    >>> len(sampler)                   # 8 examples // 4 per batch
    2
    >>> [(b.type, len(b.items)) for b in sampler]
    [('mono', 4), ('cross', 4)]
    >>> all(i.query_lang != i.passage_lang for b in sampler if b.type == "cross" for i in b.items)
    True
"""

from __future__ import annotations

import numbers
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal

import numpy as np

from hybrid_ir.data.examples import TrainingSet, Triplet
from hybrid_ir.errors import HybridIRError
from hybrid_ir.sampling.batch import Batch, BatchItem, IndexBatch, _make_item

__all__ = [
    "BATCH_SCHEDULES",
    "STRATEGIES",
    "Batch",
    "BatchItem",
    "HybridBatchSampler",
    "IndexBatch",
    "batch_triplets",
]

Strategy = Literal["mono", "cross", "hybrid"]
STRATEGIES: tuple[str, ...] = ("mono", "cross", "hybrid")
BatchSchedule = Literal["coin", "exact"]
BATCH_SCHEDULES: tuple[str, ...] = ("coin", "exact")

# Random-stream components: each generator is derived from (seed, epoch, component, ...) with
# numpy's SeedSequence, so no two components, epochs or seeds share a stream.
_DATASET, _TYPE, _MONO_LANG, _MONO_STREAM, _CROSS_STREAM, _CROSS_PAIRS = range(6)


class _Stream:
    """Examples of one pool drawn without replacement from a permutation, re-permuted when spent.

    When fewer than ``k`` examples remain, the batch takes them, then continues in a fresh
    permutation of the whole pool, skipping (and keeping for the next batch) the examples it
    already holds, so a batch never holds an example twice.
    """

    __slots__ = ("order", "pool", "pos", "rng")

    def __init__(self, pool: np.ndarray, rng: np.random.Generator) -> None:
        self.pool = pool
        self.rng = rng
        self.order = rng.permutation(pool)
        self.pos = 0

    def take(self, k: int) -> np.ndarray:
        end = self.pos + k
        if end <= len(self.order):
            out = self.order[self.pos:end]
            self.pos = end
            return out
        head = self.order[self.pos:]
        fresh = self.rng.permutation(self.pool)
        need = k - len(head)
        if len(head) == 0:
            self.order, self.pos = fresh, need
            return fresh[:need]
        clash = np.isin(fresh, head)
        cut = int(np.flatnonzero(~clash)[need - 1]) + 1
        window, window_clash = fresh[:cut], clash[:cut]
        self.order = np.concatenate([window[window_clash], fresh[cut:]])
        self.pos = 0
        return np.concatenate([head, window[~window_clash]])


@dataclass(frozen=True)
class _Prepared:
    """Per-dataset arrays computed once: languages, per-example language table, pools."""

    name: str
    languages: tuple[str, ...]
    parallel_ids: np.ndarray  # (n_examples,) object array of str
    language_names: np.ndarray  # object array of the language names, indexed by code
    subset: np.ndarray  # (n_examples,) row of the example's language set in subset_flat
    subset_flat: np.ndarray  # (n_sets * width,) language codes of each set, -1 padded
    subset_n: np.ndarray  # (n_sets,) number of languages of each set
    width: int
    lang_pools: tuple[np.ndarray, ...]  # per language code: examples that have it
    cross_pool: np.ndarray  # examples with at least two languages
    mono_codes: np.ndarray  # language codes with at least batch_size examples


def _prepare(ts: TrainingSet, batch_size: int) -> _Prepared:
    n = len(ts.examples)
    pids = tuple(ex.parallel_id for ex in ts.examples)
    if len(set(pids)) != n:
        seen: set[str] = set()
        dup = next(p for p in pids if p in seen or seen.add(p))  # type: ignore[func-returns-value]
        raise HybridIRError(
            f"dataset '{ts.name}' has parallel id '{dup}' in more than one example; one example "
            "must hold all translations of a parallel id (else translations become false negatives)"
        )
    # Examples share a few language sets: map each distinct set to a row once.
    subset_id: dict[tuple[str, ...], int] = {}
    rows = np.fromiter(
        (subset_id.setdefault(tuple(ex.by_lang), len(subset_id)) for ex in ts.examples),
        dtype=np.int64, count=n,
    )
    languages = tuple(sorted({lang for s in subset_id for lang in s}))
    code = {lang: i for i, lang in enumerate(languages)}
    width = max((len(s) for s in subset_id), default=1)
    subset_table = np.full((max(len(subset_id), 1), width), -1, dtype=np.int64)
    subset_member = np.zeros((max(len(subset_id), 1), len(languages)), dtype=bool)
    for s, r in subset_id.items():
        codes = sorted(code[lang] for lang in s)
        subset_table[r, : len(codes)] = codes
        subset_member[r, codes] = True
    subset_n = (subset_table >= 0).sum(axis=1)
    n_langs = subset_n[rows]
    member = subset_member[rows]
    lang_pools = tuple(np.flatnonzero(member[:, c]) for c in range(len(languages)))
    counts = np.array([len(p) for p in lang_pools], dtype=np.int64)
    return _Prepared(
        name=ts.name,
        languages=languages,
        parallel_ids=np.array(pids, dtype=object),
        language_names=np.array(languages, dtype=object),
        subset=rows,
        subset_flat=subset_table.ravel(),
        subset_n=subset_n,
        width=subset_table.shape[1],
        lang_pools=lang_pools,
        cross_pool=np.flatnonzero(n_langs >= 2),
        mono_codes=np.flatnonzero(counts >= batch_size),
    )


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise HybridIRError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise HybridIRError(f"{name} must be {allowed}, got {value}")
    return value


class HybridBatchSampler:
    """Batches of the X-X-mono, X-Y and hybrid strategies (arXiv 2408.10536), exactly.

    Rules, per global batch of ``batch_size`` triplets (the paper's 100):

    1. **Dataset.** The batch comes from one dataset, drawn with probability proportional to its
       number of examples (``dataset_weights="size"``, the paper's "batches sampled based on dataset
       size"), uniformly (``"uniform"``) or with the given non-negative weights. A zero-weight
       dataset is never drawn (and not checked).
    2. **Type.** ``"mono"`` batches only, ``"cross"`` only, or for ``"hybrid"`` mono with probability
       ``alpha`` and cross otherwise. ``alpha=1`` / ``alpha=0`` give exactly the batches of
       ``"mono"`` / ``"cross"`` for the same seed: the type coin is a generator of its own and is
       not tossed when the type is certain. With ``batch_schedule="exact"`` (hybrid only) there is
       no coin: of the epoch's n batches from parallel datasets, exactly k = floor(alpha n + 1/2)
       are mono, at positions drawn uniformly without replacement from the same generator (a
       seeded random order; per epoch, so E epochs hold exactly E k mono batches). The coin gives
       k only on average (its count is Binomial(n, alpha): 16 +- 2.8 of 32 at alpha = 0.5), which
       confounds a comparison of runs by how many mono batches they saw.
    3. **X-X-mono.** The language is drawn uniformly per batch among the dataset's languages that
       have at least ``batch_size`` examples (:attr:`mono_languages`); **a language with fewer
       examples is never used for mono batches** (it still appears in cross batches). Every
       triplet has its query and passages in that language. No qualifying language -> error.
    4. **X-Y.** Only examples with at least two languages are used. For each triplet, the ordered
       pair (query_lang, passage_lang) is drawn uniformly among the ordered pairs of distinct
       languages of that example, so a batch mixes pairs.
    4b. **Single-language datasets** (no example in two languages, e.g. the English-only sets the
       paper mixes into its translated ones; :attr:`mono_only_datasets`) give **mono batches
       only, under every strategy**. Rule 1 is unchanged: a batch comes from dataset ``d`` with
       probability ``w_d`` (proportional to its size by default); for a batch of a single-language
       dataset the type coin of rule 2 is not used. So ``alpha`` is the mono probability of a
       batch of a *parallel* dataset, and the expected share of mono batches is
       ``alpha + (1 - alpha) * W_single`` (``W_single``: the summed weights of the single-language
       datasets; :attr:`expected_mono_share`), ``W_single`` for X-Y. Every example is still drawn
       about once per epoch (rule 7): "batches sampled based on dataset size" keeps its meaning.
       A strategy with cross batches needs at least one parallel dataset (else: error).
    5. **No parallel id twice in a batch** (a translation of the positive would be a false
       negative). Examples are drawn without replacement from a per-epoch permutation of each
       stream: one per (dataset, language) for mono, one per dataset for cross. A stream that runs
       out mid-epoch is re-permuted and drawing continues; the batch straddling the boundary skips
       the examples it already holds (they open the next batch). A parallel id held by two
       examples of one dataset, or a batch size larger than a stream's pool, is an error.
    6. **Epochs.** Each random stream (dataset draw, type coin, per-dataset mono language,
       per-(dataset, language) and per-dataset cross order, per-dataset pair draws) has its own
       generator derived from ``SeedSequence(seed, spawn_key=(epoch, component, ...))``: same seed
       and epoch -> same batches; :meth:`set_epoch` changes every component's order.
    7. **Length.** ``len(sampler)`` batches per epoch, by default ``batches_per_epoch =``
       (total examples of the datasets with non-zero weight) // ``batch_size``, i.e. each example
       is drawn about once per epoch (a language stream may be re-permuted within the epoch, see 5).
       The first k batches do not depend on ``batches_per_epoch`` (except under the exact
       schedule of rule 2, whose mono count is a share of the epoch's batches).
    8. **Distributed.** Every rank computes the same global batch (same dataset, type, language
       and items) and yields its contiguous slice of ``batch_size // num_replicas`` items, so the
       ranks' slices are disjoint and their union is the single-process batch.
    9. **Resume.** :meth:`state_dict` holds ``epoch`` and ``position`` (global batches already
       consumed); after :meth:`load_state_dict` the next iteration yields the rest of the epoch,
       identical to the uninterrupted run. A finished epoch starts again from batch 0 unless
       :meth:`set_epoch` moves on.

    Example::

        >>> from hybrid_ir.data.examples import TrainingExample, TrainingSet, Triplet
        >>> t = Triplet("q", "p+", "p-")
        >>> ts = TrainingSet("toy", tuple(
        ...     TrainingExample(f"id{i}", "a", {"en": t, "de": t}) for i in range(6)))
        >>> s = HybridBatchSampler(ts, batch_size=2, strategy="cross", seed=0)
        >>> b = next(iter(s)); b.type, len(b.items), b.items[0].query_lang != b.items[0].passage_lang
        ('cross', 2, True)
        >>> s.set_epoch(1); len(s)
        3
    """

    def __init__(
        self,
        datasets: TrainingSet | Sequence[TrainingSet],
        batch_size: int,
        strategy: Strategy = "hybrid",
        alpha: float = 0.5,
        dataset_weights: Literal["size", "uniform"] | Sequence[float] = "size",
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        batches_per_epoch: int | None = None,
        batch_schedule: BatchSchedule = "coin",
    ) -> None:
        sets = (datasets,) if isinstance(datasets, TrainingSet) else tuple(datasets)
        if not sets:
            raise HybridIRError("datasets is empty: give at least one TrainingSet")
        for i, ts in enumerate(sets):
            if not isinstance(ts, TrainingSet):
                raise HybridIRError(
                    f"datasets[{i}] must be a TrainingSet, got {type(ts).__name__}; build one from rows or a "
                    "datasets.Dataset with hybrid_ir.data.training_set_from_rows, or from a file with "
                    "hybrid_ir.data.load_training_set"
                )
        self.batch_size = _check_int("batch_size", batch_size, 1)
        if strategy not in STRATEGIES:
            raise HybridIRError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
        self.strategy: Strategy = strategy
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
            raise HybridIRError(f"alpha must be a number in [0, 1], got {alpha!r}")
        self.alpha = float(alpha)
        if batch_schedule not in BATCH_SCHEDULES:
            raise HybridIRError(f"batch_schedule must be one of {', '.join(BATCH_SCHEDULES)}; got {batch_schedule!r}")
        self.batch_schedule: BatchSchedule = batch_schedule
        self.seed = _check_int("seed", seed, 0)
        self.num_replicas = _check_int("num_replicas", num_replicas, 1)
        self.rank = _check_int("rank", rank, 0, self.num_replicas - 1)
        if self.batch_size % self.num_replicas:
            raise HybridIRError(
                f"batch_size {self.batch_size} is not divisible by num_replicas "
                f"{self.num_replicas}: the global batch is split evenly across ranks"
            )
        self.datasets = sets
        self.weights = self._weights(dataset_weights)
        if strategy == "mono" or (strategy == "hybrid" and self.alpha == 1.0):
            self._p_mono: float | None = 1.0
        elif strategy == "cross" or self.alpha == 0.0:
            self._p_mono = 0.0
        else:
            self._p_mono = None  # a coin per batch
        self._active = [i for i, w in enumerate(self.weights) if w > 0]
        self._prep = [_prepare(ts, self.batch_size) for ts in sets]
        # rule 4b: a dataset without any example in two languages gives mono batches only
        self._mono_only = np.array([len(p.cross_pool) == 0 for p in self._prep], dtype=bool)
        self._check_cross_possible()
        for d in self._active:
            self._check_dataset(self._prep[d], bool(self._mono_only[d]))
        if batches_per_epoch is None:
            total = sum(len(sets[d]) for d in self._active)
            batches_per_epoch = max(1, total // self.batch_size)
        self.batches_per_epoch = _check_int("batches_per_epoch", batches_per_epoch, 1)
        self.epoch = 0
        self.position = 0

    # ----------------------------------------------------------------------------- set-up
    def _weights(self, spec: object) -> np.ndarray:
        n = len(self.datasets)
        if isinstance(spec, str):
            if spec == "size":
                w = np.array([len(ts) for ts in self.datasets], dtype=float)
                if not w.sum():
                    raise HybridIRError("dataset_weights='size' but every dataset is empty")
            elif spec == "uniform":
                w = np.ones(n)
            else:
                raise HybridIRError(
                    f"dataset_weights must be 'size', 'uniform' or {n} numbers; got {spec!r}"
                )
        else:
            try:
                w = np.asarray(list(spec), dtype=float)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                raise HybridIRError(
                    f"dataset_weights must be 'size', 'uniform' or {n} numbers; got {spec!r}"
                ) from None
            if w.shape != (n,):
                raise HybridIRError(
                    f"dataset_weights needs one weight per dataset ({n}), got {len(w)}: {list(spec)}"  # type: ignore[call-overload]
                )
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise HybridIRError(f"dataset_weights must be finite and >= 0, got {w.tolist()}")
            if not w.sum():
                raise HybridIRError(f"dataset_weights are all zero: {w.tolist()}")
        return w / w.sum()

    def _check_cross_possible(self) -> None:
        """A strategy with cross batches needs one parallel dataset among those drawn."""
        active = [self._prep[d] for d in self._active if len(self._prep[d].parallel_ids)]
        if self._p_mono == 1.0 or not active or not all(len(p.cross_pool) == 0 for p in active):
            return
        p = active[0]
        if len(p.languages) == 1:
            what = f"dataset '{p.name}' has a single language ({p.languages[0]})"
        else:
            what = f"dataset '{p.name}' has no example in two languages"
        others = " and no other dataset is parallel" if len(active) > 1 else ""
        raise HybridIRError(
            f"{what}{others}: cross-lingual batches need examples in at least two languages (a "
            "single-language set only adds mono batches to a parallel one); use strategy='mono'"
        )

    def _check_dataset(self, p: _Prepared, mono_only: bool) -> None:
        b = self.batch_size
        if len(p.parallel_ids) == 0:
            raise HybridIRError(f"dataset '{p.name}' is empty (0 examples) but has a non-zero weight")
        if (self._p_mono != 0.0 or mono_only) and len(p.mono_codes) == 0:
            counts = [len(pool) for pool in p.lang_pools] or [0]
            top = int(np.argmax(counts))
            name = p.languages[top] if p.languages else "none"
            largest = f"the largest is '{name}' with {counts[top]} examples"
            fix = "lower batch_size (it has no parallel example: all its batches are mono)" if mono_only else (
                "lower batch_size or use strategy='cross'")
            raise HybridIRError(
                f"dataset '{p.name}': no language has batch_size={b} examples for a mono batch "
                f"({largest}); {fix}"
            )
        if self._p_mono != 1.0 and not mono_only and len(p.cross_pool) < b:
            raise HybridIRError(
                f"dataset '{p.name}' has {len(p.cross_pool)} examples in two or more "
                f"languages, fewer than batch_size={b}: a cross batch would repeat a parallel id"
            )

    # ------------------------------------------------------------------------------ public
    @property
    def dataset_languages(self) -> list[tuple[str, ...]]:
        """Per dataset, its languages (sorted); language codes index into these."""
        return [p.languages for p in self._prep]

    @property
    def mono_languages(self) -> dict[str, tuple[str, ...]]:
        """Per dataset name, the languages with at least ``batch_size`` examples (mono candidates)."""
        return {p.name: tuple(p.languages[c] for c in p.mono_codes) for p in self._prep}

    @property
    def mono_only_datasets(self) -> tuple[str, ...]:
        """Names of the datasets without any example in two languages: mono batches only (rule 4b)."""
        return tuple(p.name for p, m in zip(self._prep, self._mono_only, strict=True) if m)

    @property
    def expected_mono_share(self) -> float:
        """Expected share of mono batches: ``sum_d w_d * P(mono | d)``, with ``P(mono | d) = 1`` for a
        single-language dataset and ``alpha`` (1 for mono, 0 for cross) for a parallel one."""
        p_mono = self.alpha if self._p_mono is None else self._p_mono
        return float(np.sum(self.weights * np.where(self._mono_only, 1.0, p_mono)))

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order; a different epoch restarts at its first batch."""
        epoch = _check_int("epoch", epoch, 0)
        if epoch != self.epoch:
            self.position = 0
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches_per_epoch

    def state_dict(self) -> dict:
        """``{"epoch", "position", "seed", "batches_per_epoch"}``: where the next iteration starts."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "batches_per_epoch": self.batches_per_epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume at ``state["position"]`` of ``state["epoch"]`` (same seed and length required)."""
        if not isinstance(state, dict) or not {"epoch", "position"} <= state.keys():
            raise HybridIRError(f"state must be a dict with 'epoch' and 'position', got {state!r}")
        for key in ("seed", "batches_per_epoch"):
            if key in state and state[key] != getattr(self, key):
                raise HybridIRError(
                    f"state was saved with {key}={state[key]!r}, this sampler has "
                    f"{key}={getattr(self, key)!r}"
                )
        self.epoch = _check_int("epoch", state["epoch"], 0)
        self.position = _check_int("position", state["position"], 0, self.batches_per_epoch)

    def __iter__(self) -> Iterator[Batch]:
        for step, d, ex, q, pl in self._steps():
            p = self._prep[d]
            pids = p.parallel_ids[ex].tolist()
            if pl is None:
                ql = plangs = repeat(p.languages[q])
            else:
                ql = p.language_names[q].tolist()
                plangs = p.language_names[pl].tolist()
            items = tuple(map(_make_item, repeat(d), ex.tolist(), pids, ql, plangs))
            yield Batch(step, "cross" if pl is not None else "mono", p.name, items)

    def iter_indices(self) -> Iterator[IndexBatch]:
        """The batches of :meth:`__iter__` (this rank's slice) as numpy arrays (faster)."""
        for step, d, ex, q, pl in self._steps():
            if pl is None:
                qs = ps = np.full(len(ex), q, dtype=np.int64)
                yield IndexBatch(step, "mono", d, ex, qs, ps)
            else:
                yield IndexBatch(step, "cross", d, ex, q, pl)

    # --------------------------------------------------------------------------- internals
    def _rng(self, epoch: int, *key: int) -> np.random.Generator:
        return np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=(epoch, *key)))
        )

    def _plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per global step: dataset index, is-mono flag, mono language code (-1 for cross)."""
        n_steps = self.batches_per_epoch
        if len(self._active) == 1:
            ds = np.full(n_steps, self._active[0], dtype=np.int64)
        else:
            ds = self._rng(epoch, _DATASET).choice(len(self.weights), size=n_steps, p=self.weights)
        if self._p_mono is None and self.batch_schedule == "exact":
            mono = self._exact_types(epoch, ~self._mono_only[ds])
        elif self._p_mono is None:
            mono = self._rng(epoch, _TYPE).random(n_steps) < self.alpha
        else:
            mono = np.full(n_steps, self._p_mono == 1.0)
        mono |= self._mono_only[ds]  # rule 4b; the coin of the other steps is unchanged
        lang = np.full(n_steps, -1, dtype=np.int64)
        for d in self._active:
            steps = np.flatnonzero((ds == d) & mono)
            codes = self._prep[d].mono_codes
            if len(steps):
                pick = self._rng(epoch, _MONO_LANG, d).integers(0, len(codes), size=len(steps))
                lang[steps] = codes[pick]
        return ds, mono, lang

    def _exact_types(self, epoch: int, parallel: np.ndarray) -> np.ndarray:
        """Rule 2, exact schedule: of the n steps with ``parallel`` True, exactly floor(alpha n + 1/2)
        are mono, at positions drawn uniformly without replacement."""
        steps = np.flatnonzero(parallel)
        k = int(np.floor(self.alpha * len(steps) + 0.5))
        mono = np.zeros(len(parallel), dtype=bool)
        mono[self._rng(epoch, _TYPE).permutation(steps)[:k]] = True
        return mono

    def _steps(self) -> Iterator[tuple[int, int, np.ndarray, Any, np.ndarray | None]]:
        """This rank's slices from ``self.position`` on: (step, dataset, examples, q, p).

        Mono: ``q`` is the language code, ``p`` is None; cross: ``q``, ``p`` are code arrays. Steps
        before the start position are drawn (to advance every stream) but not yielded; the position
        counts the batches handed out and returns to 0 when the epoch is exhausted.
        """
        start = self.position if self.position < self.batches_per_epoch else 0
        self.position = start
        epoch, b = self.epoch, self.batch_size
        lo = self.rank * (b // self.num_replicas)
        hi = lo + b // self.num_replicas
        ds, mono, lang = self._plan(epoch)
        streams: dict[tuple[int, int], _Stream] = {}
        pair_rngs: dict[int, np.random.Generator] = {}
        for step, d, is_mono, code in zip(
            range(self.batches_per_epoch), ds.tolist(), mono.tolist(), lang.tolist(), strict=True
        ):
            p = self._prep[d]
            if is_mono:
                stream = streams.get((d, code))
                if stream is None:
                    key = zlib.crc32(p.languages[code].encode())
                    stream = _Stream(p.lang_pools[code], self._rng(epoch, _MONO_STREAM, d, key))
                    streams[(d, code)] = stream
                ex = stream.take(b)
                if step >= start:
                    self.position = step + 1
                    yield step, d, ex[lo:hi], code, None
                continue
            stream = streams.get((d, -1))
            if stream is None:
                stream = _Stream(p.cross_pool, self._rng(epoch, _CROSS_STREAM, d))
                streams[(d, -1)] = stream
                pair_rngs[d] = self._rng(epoch, _CROSS_PAIRS, d)
            ex = stream.take(b)
            # Ordered pair of distinct languages, uniform among the example's k(k-1) pairs: the
            # query is language qi of k, the passage language pi of the k-1 others.
            u = pair_rngs[d].random((2, b))
            if step < start:
                continue
            self.position = step + 1
            ex, u = ex[lo:hi], u[:, lo:hi]
            sub = p.subset[ex]
            k = p.subset_n[sub]
            qi = np.minimum((u[0] * k).astype(np.int64), k - 1)
            pi = np.minimum((u[1] * (k - 1)).astype(np.int64), k - 2)
            pi += pi >= qi
            base = sub * p.width
            yield step, d, ex, p.subset_flat[base + qi], p.subset_flat[base + pi]
        self.position = 0


def batch_triplets(batch: Batch, datasets: TrainingSet | Sequence[TrainingSet]) -> list[Triplet]:
    """The texts of ``batch``: one :class:`~hybrid_ir.data.examples.Triplet` per item, in order.

    ``datasets`` must be the list given to the sampler (checked through the parallel ids).
    """
    sets = (datasets,) if isinstance(datasets, TrainingSet) else tuple(datasets)
    out: list[Triplet] = []
    for item in batch.items:
        if not 0 <= item.dataset < len(sets):
            raise HybridIRError(
                f"batch item refers to dataset {item.dataset}, but {len(sets)} dataset(s) were given"
            )
        examples = sets[item.dataset].examples
        if not 0 <= item.example < len(examples) or (
            examples[item.example].parallel_id != item.parallel_id
        ):
            raise HybridIRError(
                f"example {item.example} of dataset '{sets[item.dataset].name}' is not parallel id "
                f"'{item.parallel_id}': pass the datasets the sampler was built with"
            )
        out.append(examples[item.example].triplet(item.query_lang, item.passage_lang))
    return out
