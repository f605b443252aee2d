"""Reading a sentence-transformers model folder faithfully: ``modules.json`` and its module folders.

A sentence-transformers (ST) model folder lists its pipeline in ``modules.json``; each module keeps
its settings in its own folder. :func:`read_st_folder` reads the pipelines that a
:class:`~hybrid_ir.modeling.biencoder.BiEncoder` can reproduce exactly and refuses every other one
with a one-line :class:`~hybrid_ir.errors.HybridIRError` naming what is not supported::

    Transformer -> Pooling -> Dense* -> Normalize?

- **Transformer** (``sentence_bert_config.json``): a plain text encoder whose token states
  (``last_hidden_state``) are pooled. Refused: ``do_lower_case``, another ``transformer_task``,
  multi-vector settings (``query_length`` / ``document_length``).
- **Pooling** (``1_Pooling/config.json``, old boolean keys ``pooling_mode_*_tokens`` or the newer
  ``pooling_mode``): one of :data:`ST_POOLINGS` (``cls``, ``mean``, ``max``, ``lasttoken``,
  ``mean_sqrt_len_tokens``, ``weightedmean``); several modes concatenated are refused, and so is
  ``include_prompt: false`` when the model has a prompt (the bi-encoder pools prompt tokens too).
- **Dense** (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``):
  ``activation(W x + b)`` with one of the activations sentence-transformers writes, looked up by
  name in the fixed table :data:`DENSE_ACTIVATIONS` (LaBSE: 768 -> 768, ``Tanh``; this is LaBSE's
  pooler, kept as LaBSE defines it). Refused: ``use_residual``, other feature names, any other
  activation, sizes outside 1 .. :data:`MAX_DENSE_FEATURES`. A plain Hugging Face LaBSE without
  ``modules.json`` gets the same layer from its checkpoint's ``pooler.dense`` weights
  (``BiEncoder.from_pretrained``).
- **Normalize**: L2 normalisation, only as the last module.

The modules run in the order of ``modules.json`` (as sentence-transformers runs them; ``idx``
must be an integer when given).

Prompts (``config_sentence_transformers.json``) become the bi-encoder's prefixes exactly as
``SentenceTransformer.encode_query`` / ``encode_document`` choose them (:func:`st_prompts`,
:func:`choose_prompt`). A loaded model always has a ``"query"`` and a ``"document"`` prompt
(``""`` unless the folder sets them), so queries get the ``"query"`` prompt and passages the
``"document"`` prompt: a ``"passage"`` or ``"corpus"`` prompt beside ``"document": ""`` (what
sentence-transformers 6 saves) and ``default_prompt_name`` are not used by those two methods, and
not here. One exception, on purpose: when the folder names no prompt at all for a kind (no
``"query"`` key for queries; none of ``"document"``, ``"passage"``, ``"corpus"`` for passages) and
has no ``default_prompt_name``, the kind gets the prefix its model family is known to need
(:func:`~hybrid_ir.modeling.encoders.family_defaults`: multilingual-e5 folders often carry no
prompts but need ``"query: "`` / ``"passage: "``), where ``encode_query`` would use none; pass
``query_prefix=""`` / ``passage_prefix=""`` to ``BiEncoder.from_pretrained`` to match it there too.

Untrusted folders: every path read (``modules.json``'s module paths, each config and weights
file, the files of the Transformer folder) must resolve inside the model folder, symlinks
included (a Hugging Face cache snapshot may also point into its repository's ``blobs``). Configs
are JSON of a bounded size and depth with the types sentence-transformers writes; weights load
from safetensors or ``torch.load(weights_only=True)`` and must be a plain mapping of names to
tensors. Nothing is imported by a name read from the folder. Anything else is a one-line
:class:`~hybrid_ir.errors.HybridIRError` naming the file and what is wrong.

Maximum lengths stay the package's settings (:class:`~hybrid_ir.modeling.biencoder.EncoderConfig`,
64 / 128 tokens by default), capped at the folder's ``max_seq_length``: a text longer than that is
cut where the bi-encoder's setting says, which may be earlier than sentence-transformers cuts it.

Example::

    >>> spec = read_st_folder("runs/labse-st")                     # doctest: +SKIP
    >>> spec.pooling, len(spec.dense), spec.normalize              # doctest: +SKIP
    ('cls', 1, True)
"""

from __future__ import annotations

import json
import os
import pickle
import stat
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

import torch
from torch import Tensor, nn

from hybrid_ir.errors import HybridIRError

__all__ = [
    "DENSE_ACTIVATIONS",
    "MAX_DENSE_FEATURES",
    "ST_POOLINGS",
    "DenseLayer",
    "DenseStack",
    "STFolderSpec",
    "check_encoder_weights",
    "check_folder_files",
    "check_state_dict_file",
    "choose_prompt",
    "contained",
    "extra_pool",
    "read_config",
    "read_st_folder",
    "st_folder_for",
    "st_prompts",
    "write_dense_modules",
]

MODULES_FILE = "modules.json"
ST_CONFIG_FILE = "config_sentence_transformers.json"
TRANSFORMER_CONFIG_FILE = "sentence_bert_config.json"
#: Pooling modes a bi-encoder reproduces (sentence-transformers' names).
ST_POOLINGS: tuple[str, ...] = ("mean", "cls", "max", "lasttoken", "mean_sqrt_len_tokens", "weightedmean")
#: Old boolean keys of ``1_Pooling/config.json`` -> mode (sentence-transformers 2.x to 5.x files).
_LEGACY_POOLING_KEYS: dict[str, str] = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
#: Prompt names read for passages, in the order ``encode_document`` tries them.
PASSAGE_PROMPT_NAMES: tuple[str, ...] = ("document", "passage", "corpus")
#: The prompts every loaded ``SentenceTransformer`` has (``SentenceTransformer._default_prompts``).
ST_DEFAULT_PROMPTS: tuple[str, ...] = ("query", "document")
_KINDS = ("Transformer", "Pooling", "Dense", "Normalize")
#: Largest JSON config read from a model folder (configs are a few hundred bytes).
MAX_CONFIG_BYTES = 1 << 24
#: Largest ``in_features`` / ``out_features`` of a Dense layer (checked before allocating it).
MAX_DENSE_FEATURES = 1 << 17
#: Largest ``in_features * out_features`` of a Dense layer (2^28 weights: 1 GiB in fp32).
MAX_DENSE_WEIGHTS = 1 << 28


# ------------------------------------------------------------------------------------ pooling
def extra_pool(hidden: Tensor, mask: Tensor, mode: str) -> Tensor:
    """Pooling modes beyond mean and CLS, as sentence-transformers' ``Pooling`` computes them.

    ``hidden`` (B, L, H), ``mask`` (B, L) of 0/1 -> (B, H); ``m_t`` = mask, positions t = 1..L:

    - ``max``: ``max_{t: m_t=1} h_t`` (element-wise);
    - ``lasttoken``: ``h_T`` with T the last position where ``m_t = 1`` (left or right padding);
    - ``mean_sqrt_len_tokens``: ``sum_t m_t h_t / sqrt(sum_t m_t)``;
    - ``weightedmean``: ``sum_t w_t m_t h_t / sum_t w_t m_t`` with ``w_t = t - (leading padding)``.

    >>> h = torch.tensor([[[1.0, 5.0], [3.0, 2.0], [9.0, 9.0]]])
    >>> extra_pool(h, torch.tensor([[1, 1, 0]]), "max")
    tensor([[3., 5.]])
    >>> extra_pool(h, torch.tensor([[1, 1, 0]]), "lasttoken")
    tensor([[3., 2.]])
    """
    if mode == "max":
        keep = mask.unsqueeze(-1).expand_as(hidden).to(hidden.dtype)
        return hidden.masked_fill(keep == 0, float("-inf")).max(dim=1).values
    if mode == "lasttoken":
        seq_len, dim = hidden.shape[1], hidden.shape[2]
        values, indices = mask.flip(1).max(1)
        indices = torch.where(values == 0, seq_len - 1, indices)
        gather = (seq_len - indices - 1).unsqueeze(-1).unsqueeze(1).expand(-1, 1, dim)
        keep = mask.unsqueeze(-1).expand_as(hidden).to(hidden.dtype)
        return torch.gather(hidden * keep, 1, gather).squeeze(1)
    if mode == "mean_sqrt_len_tokens":
        keep = mask.unsqueeze(-1).to(hidden.dtype)
        total = (hidden * keep).sum(dim=1)
        return total / torch.sqrt(torch.clamp(keep.sum(dim=1), min=1e-9))
    if mode == "weightedmean":
        keep = mask.unsqueeze(-1).to(hidden.dtype)
        weights = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype).view(1, -1, 1)
        weights = weights - mask.to(torch.int32).argmax(dim=1).view(-1, 1, 1).to(hidden.dtype)
        weighted = keep * weights
        return (hidden * weighted).sum(dim=1) / torch.clamp(weighted.sum(dim=1), min=1e-9)
    raise HybridIRError(f"pooling {mode!r} is not supported; use one of {ST_POOLINGS}")


# ------------------------------------------------------------------------------ containment
def _allowed_roots(root: Path) -> tuple[Path, ...]:
    """Where a file of the (resolved) model folder ``root`` may lead: the folder, and for a Hugging
    Face cache snapshot (``.../snapshots/<revision>``) its repository's ``blobs`` folder."""
    if root.parent.name == "snapshots":
        return root, root.parent.parent / "blobs"
    return (root,)


def contained(path: Path, root: Path, what: str = "file") -> Path:
    """``path`` with symlinks resolved, or a one-line error when it leads outside the model folder.

    ``root``: the model folder. A file may also lead into the ``blobs`` folder of a Hugging Face
    cache snapshot (``what="file"``); a module folder (``what="folder"``) must stay in ``root``.
    """
    base = Path(root).resolve()
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise HybridIRError(f"{path}: cannot resolve the path ({type(exc).__name__})") from None
    roots = _allowed_roots(base) if what == "file" else (base,)
    if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
        raise HybridIRError(f"{path} leads outside the model folder {root} (to {resolved}); refused")
    return resolved


def check_folder_files(folder: Path, root: Path) -> None:
    """Refuse a ``folder`` (a Hugging Face model's) with an entry that leads outside ``root``.

    Transformers reads the files at the top of the folder (config, tokenizer, weights); each one,
    symlinks included, must stay in the model folder (:func:`contained`).
    """
    contained(folder, root, what="folder")
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError as exc:
        raise HybridIRError(f"cannot list {folder}: {exc.strerror or type(exc).__name__}") from None
    for entry in entries:
        contained(entry, root, what="file")


def _regular_file(path: Path, root: Path, limit: int | None) -> Path:
    """The contained, resolved ``path`` after checking it is a regular file of at most ``limit`` bytes."""
    resolved = contained(path, root)
    try:
        info = resolved.stat()
    except FileNotFoundError:
        raise HybridIRError(f"{path} is missing") from None
    except OSError as exc:
        raise HybridIRError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if not stat.S_ISREG(info.st_mode):
        raise HybridIRError(f"{path} is not a regular file")
    if limit is not None and info.st_size > limit:
        raise HybridIRError(f"{path} has {info.st_size} bytes; a model config has at most {limit}")
    return resolved


def read_config(path: Path, root: Path, kind: type = dict) -> Any:
    """A JSON config of the model folder ``root``, checked to be a ``kind`` (``dict`` or ``list``).

    The file must be contained (:func:`contained`), regular, at most :data:`MAX_CONFIG_BYTES` and
    nested at most as deep as Python's recursion limit allows; else a one-line error naming it.
    """
    resolved = _regular_file(path, root, MAX_CONFIG_BYTES)
    try:
        value = json.loads(resolved.read_text(encoding="utf-8"))
    except RecursionError:
        raise HybridIRError(f"{path} is nested too deeply to be a model config") from None
    except UnicodeDecodeError as exc:
        raise HybridIRError(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except (OSError, ValueError) as exc:
        raise HybridIRError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        expected = "an object" if kind is dict else "a list"
        raise HybridIRError(f"{path} must hold {expected}, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


_TYPE_NAMES = {int: "an integer", str: "a string", bool: "true or false", dict: "an object", list: "a list"}


def _typed(config: dict[str, Any], key: str, kind: type, where: Path, default: Any = None,
           label: str | None = None) -> Any:
    """``config[key]`` (``default`` when absent or null) checked to be a ``kind`` (booleans are not
    integers); else a one-line error naming ``where`` and the key (``label``, default ``key``)."""
    value = config.get(key)
    if value is None:
        return default
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise HybridIRError(f"{where}: {label or key} must be {_TYPE_NAMES[kind]}, "
                            f"not {_json_type(value)} ({value!r:.40})")
    return value


# -------------------------------------------------------------------------------------- Dense
#: The activations a Dense module may name, by the class paths sentence-transformers writes
#: (``torch.nn.modules.activation.Tanh``) or their ``torch.nn.Tanh`` aliases: parameter-free,
#: element-wise, built with their defaults. A fixed table: nothing is imported by name.
DENSE_ACTIVATIONS: dict[str, type[nn.Module]] = {
    name: cls
    for cls in (
        nn.Tanh, nn.Identity, nn.ReLU, nn.GELU, nn.Sigmoid, nn.SiLU, nn.Mish, nn.LeakyReLU, nn.ELU,
        nn.SELU, nn.CELU, nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.Hardtanh, nn.Hardswish,
        nn.Hardsigmoid, nn.ReLU6, nn.LogSigmoid,
    )
    for name in (f"{cls.__module__}.{cls.__qualname__}", f"torch.nn.{cls.__qualname__}")
}


def _activation(config: dict[str, Any], where: Path) -> nn.Module:
    """The Dense activation named in ``config`` (:data:`DENSE_ACTIVATIONS`); ``Tanh`` when none is named."""
    if "activation_function" not in config:
        return nn.Tanh()  # sentence-transformers' default
    name = config["activation_function"]
    if not isinstance(name, str) or name not in DENSE_ACTIVATIONS:
        raise HybridIRError(
            f"{where}: Dense activation_function {name!r:.80} is not supported; use one of the torch "
            "activations sentence-transformers writes (e.g. torch.nn.modules.activation.Tanh)"
        )
    return DENSE_ACTIVATIONS[name]()


def _class_path(module: nn.Module) -> str:
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


def _dense_sizes(config: dict[str, Any], where: Path) -> tuple[int, int, bool]:
    """``in_features``, ``out_features``, ``bias`` of a Dense config, bounded before anything is allocated."""
    sizes = []
    for key in ("in_features", "out_features"):
        if key not in config:
            raise HybridIRError(f"{where}: Dense config has no {key}")
        value = _typed(config, key, int, where)
        if value is None or not 1 <= value <= MAX_DENSE_FEATURES:
            raise HybridIRError(f"{where}: Dense {key} must be an integer from 1 to {MAX_DENSE_FEATURES}, "
                                f"got {value!r}")
        sizes.append(value)
    if sizes[0] * sizes[1] > MAX_DENSE_WEIGHTS:
        raise HybridIRError(f"{where}: a Dense layer of {sizes[0]} x {sizes[1]} weights is larger than "
                            f"{MAX_DENSE_WEIGHTS}; refused")
    return sizes[0], sizes[1], _typed(config, "bias", bool, where, default=True)


class DenseLayer(nn.Module):
    """sentence-transformers' ``Dense``: ``activation(linear(x))``; weights named ``linear.*`` as there."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 activation: nn.Module | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.activation = activation if activation is not None else nn.Tanh()

    @property
    def out_features(self) -> int:
        return int(self.linear.out_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.linear(x))

    def st_config(self) -> dict[str, Any]:
        """The module's ``config.json`` as sentence-transformers writes it."""
        return {
            "in_features": int(self.linear.in_features),
            "out_features": self.out_features,
            "bias": self.linear.bias is not None,
            "activation_function": _class_path(self.activation),
        }

    @classmethod
    def load(cls, folder: Path, root: Path | None = None) -> DenseLayer:
        """Read a ``Dense`` module folder (config and weights) of the model folder ``root`` (default:
        ``folder``); refuse what it cannot reproduce, before allocating anything."""
        root = Path(folder) if root is None else Path(root)
        where = folder / "config.json"
        config = read_config(where, root)
        for key in ("module_input_name", "module_output_name"):
            if config.get(key, "sentence_embedding") not in (None, "sentence_embedding"):
                raise HybridIRError(f"{where}: Dense with {key}={config[key]!r:.40} is not supported")
        if _typed(config, "use_residual", bool, where, default=False):
            raise HybridIRError(f"{where}: Dense with use_residual=true is not supported")
        in_features, out_features, bias = _dense_sizes(config, where)
        activation = _activation(config, where)
        state = _read_weights(folder, root)
        expected = {"linear.weight": (out_features, in_features), **({"linear.bias": (out_features,)} if bias else {})}
        found = {k: tuple(v.shape) for k, v in state.items()}
        if found != expected:
            raise HybridIRError(
                f"{folder}: Dense weights do not match its config.json (weights {found}, config {expected})"
            )
        layer = cls(in_features, out_features, bias, activation)
        layer.load_state_dict(state)
        return layer


class DenseStack(nn.Sequential):
    """The Dense layers of a model, applied in order between pooling and normalisation."""

    @property
    def out_features(self) -> int:
        return self[-1].out_features  # type: ignore[no-any-return]


def check_state_dict_file(path: Path, root: Path) -> dict[str, Tensor]:
    """Load a ``pytorch_model.bin`` safely (``torch.load(weights_only=True)``): a plain mapping of
    names to tensors, or a one-line error naming the file."""
    resolved = _regular_file(path, root, None)
    try:
        try:
            state = torch.load(resolved, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:  # an old (not zip) file cannot be memory-mapped
            if "mmap" not in str(exc):
                raise
            state = torch.load(resolved, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused what it read: nothing of it was run
        raise HybridIRError(f"{path} is not a plain state dict of tensors (damaged, or holding other "
                            "objects, which are never loaded)") from None
    except Exception as exc:  # a damaged file: one line naming it
        raise HybridIRError(f"could not read {path} as a state dict: {_first_line(exc)}") from None
    _check_state_dict(state, path)
    return state


def _check_state_dict(state: Any, path: Path) -> None:
    """Refuse anything but a mapping of string names to tensors."""
    if not isinstance(state, dict):
        raise HybridIRError(f"{path} is not a state dict (a mapping of names to tensors): it holds "
                            f"an object of type {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str):
            raise HybridIRError(f"{path} is not a plain state dict: the name {key!r:.60} is not a string")
        if not isinstance(value, Tensor):
            raise HybridIRError(f"{path} is not a plain state dict: {key!r:.60} holds an object of type "
                                f"{type(value).__name__}, not a tensor")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def check_encoder_weights(folder: Path, root: Path) -> None:
    """Before transformers loads the model in ``folder``: when it has no safetensors weights (which
    transformers would prefer), each ``pytorch_model*.bin`` must be a plain state dict
    (:func:`check_state_dict_file`); else a one-line error naming the file."""
    folder = Path(folder)
    if any(folder.glob("*.safetensors")):
        return
    for path in sorted(folder.glob("pytorch_model*.bin")):
        check_state_dict_file(path, root)


def _read_weights(folder: Path, root: Path) -> dict[str, Tensor]:
    st_file, bin_file = folder / "model.safetensors", folder / "pytorch_model.bin"
    if os.path.lexists(st_file):
        resolved = _regular_file(st_file, root, None)
        try:
            from safetensors.torch import load_file

            return load_file(str(resolved))
        except Exception as exc:  # damaged file: one line naming it
            raise HybridIRError(f"could not read the Dense weights in {folder}: {_first_line(exc)}") from None
    if os.path.lexists(bin_file):
        return check_state_dict_file(bin_file, root)
    raise HybridIRError(f"{folder} has neither model.safetensors nor pytorch_model.bin (Dense weights)")


def write_dense_modules(folder: Path, stack: DenseStack, first_idx: int) -> list[dict[str, Any]]:
    """Save each Dense layer as sentence-transformers does (``{idx}_Dense/config.json`` +
    ``model.safetensors``); returns their ``modules.json`` entries."""
    from safetensors.torch import save_file

    entries = []
    for offset, layer in enumerate(stack):
        idx = first_idx + offset
        sub = Path(folder) / f"{idx}_Dense"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / "config.json").write_text(json.dumps(layer.st_config(), indent=2) + "\n", encoding="utf-8")
        tensors = {k: v.detach().cpu().contiguous() for k, v in layer.state_dict().items()}
        save_file(tensors, str(sub / "model.safetensors"))
        entries.append({"idx": idx, "name": str(idx), "path": sub.name,
                        "type": "sentence_transformers.models.Dense"})
    return entries


# ------------------------------------------------------------------------------- the folder
def st_prompts(saved: dict[str, str | None]) -> dict[str, str]:
    """The prompts a ``SentenceTransformer`` loaded with ``saved`` (its config's prompts) holds:
    ``"query"`` and ``"document"`` always (``""`` unless saved), then the saved ones; null -> ``""``.

    >>> st_prompts({"passage": "p: "})
    {'query': '', 'document': '', 'passage': 'p: '}
    """
    prompts: dict[str, str | None] = dict.fromkeys(ST_DEFAULT_PROMPTS)
    for name, text in saved.items():
        if prompts.get(name) is None:
            prompts[name] = text
    return {name: text if text is not None else "" for name, text in prompts.items()}


def choose_prompt(prompts: dict[str, Any], default_prompt_name: str | None, kind: str) -> str | None:
    """The prompt ``SentenceTransformer.encode_query`` (``kind="query"``) or ``encode_document``
    (``kind="passage"``) uses for a model holding ``prompts``: the ``"query"`` prompt, or the first
    of :data:`PASSAGE_PROMPT_NAMES` the model has, even an empty one; else ``default_prompt_name``'s
    prompt; else None (no prompt).

    ``prompts``: what the model holds (a loaded model's ``model.prompts``; for a folder's saved
    prompts, :func:`st_prompts` of them).

    >>> choose_prompt({"query": "q: ", "document": "", "passage": "p: "}, None, "passage")
    ''
    >>> choose_prompt({"passage": "p: ", "corpus": "c: "}, None, "passage")
    'p: '
    >>> choose_prompt({"s2p": "Retrieve: "}, "s2p", "query")
    'Retrieve: '
    """
    names = ("query",) if kind == "query" else PASSAGE_PROMPT_NAMES
    for name in names:
        if name in prompts:
            return prompts[name]
    if default_prompt_name is not None:
        return prompts.get(default_prompt_name)
    return None


@dataclass(frozen=True)
class STFolderSpec:
    """What a sentence-transformers folder says about encoding (see the module docstring).

    ``transformer_dir``: the folder of the Hugging Face model (the folder itself, or a sub-folder in
    old layouts); ``dense``: the Dense module folders, in pipeline order.
    """

    folder: Path
    transformer_dir: Path
    pooling: str
    normalize: bool
    dense: tuple[Path, ...] = ()
    prompts: dict[str, str | None] = field(default_factory=dict)
    default_prompt_name: str | None = None
    max_seq_length: int | None = None

    def prompt_for(self, kind: str) -> str | None:
        """The prompt ``encode_query`` / ``encode_document`` use for ``kind`` (``query`` / ``passage``;
        :func:`choose_prompt` of :func:`st_prompts`), or None when the folder names no prompt for
        ``kind`` and has no ``default_prompt_name`` (then the family's prefix applies)."""
        names = ("query",) if kind == "query" else PASSAGE_PROMPT_NAMES
        if self.default_prompt_name is None and not any(name in self.prompts for name in names):
            return None
        return choose_prompt(st_prompts(self.prompts), self.default_prompt_name, kind)

    def encoder_settings(self, family: dict[str, Any] | None = None) -> dict[str, Any]:
        """:class:`~hybrid_ir.modeling.biencoder.EncoderConfig` fields: pooling, prefixes, normalize.

        ``family``: the known defaults of the model's family (prefixes used where the folder names no
        prompt for a kind, :meth:`prompt_for`), or None.
        """
        family = family or {}
        out: dict[str, Any] = {"pooling": self.pooling, "normalize": self.normalize}
        for kind in ("query", "passage"):
            prompt = self.prompt_for(kind)
            out[f"{kind}_prefix"] = prompt if prompt is not None else family.get(f"{kind}_prefix", "")
        return out

    def load_dense(self, in_features: int) -> DenseStack | None:
        """The Dense layers with their weights, or None when the pipeline has none.

        ``in_features``: the pooled size (the encoder's hidden size) the first layer must take.
        """
        if not self.dense:
            return None
        stack = DenseStack(*(DenseLayer.load(p, self.folder) for p in self.dense))
        sizes = [in_features] + [layer.out_features for layer in stack]
        for layer, size, path in zip(stack, sizes, self.dense, strict=False):
            if layer.linear.in_features != size:
                raise HybridIRError(
                    f"{path}: Dense takes {layer.linear.in_features} features but receives {size}"
                )
        return stack


def _module_kind(entry: dict[str, Any], where: Path) -> str:
    type_name = entry.get("type", "")
    if not isinstance(type_name, str) or not type_name.startswith("sentence_transformers."):
        raise HybridIRError(
            f"{where}: module {entry!r:.200} is not a sentence-transformers module; "
            f"hybrid_ir reads {' -> '.join(_KINDS)} only"
        )
    kind = type_name.rsplit(".", 1)[-1]
    if kind not in _KINDS:
        raise HybridIRError(
            f"{where}: module type {kind} is not supported; hybrid_ir reads "
            "Transformer -> Pooling -> Dense* -> Normalize only"
        )
    return kind


def _module_path(entry: dict[str, Any], folder: Path, where: Path) -> Path:
    """The module's folder: a relative path (no ``..``, no drive or root, as sentence-transformers
    requires) that resolves inside ``folder``, symlinks included."""
    raw = entry.get("path", "")
    if not isinstance(raw, str):
        raise HybridIRError(f"{where}: module path {raw!r:.80} must be a string")
    pure = PureWindowsPath(raw)
    if "\0" in raw or pure.anchor or Path(raw).is_absolute() or ".." in pure.parts:
        raise HybridIRError(f"{where}: module path {raw!r:.200} must be relative to the model folder, "
                            "without '..'; refused")
    path = folder / raw
    contained(path, folder, what="folder")
    return path


def _modules(folder: Path) -> tuple[list[str], list[Path]]:
    """The kinds and folders of the modules listed in ``modules.json``, in the file's order."""
    where = folder / MODULES_FILE
    entries = read_config(where, folder, list)
    if not entries:
        raise HybridIRError(f"{where} must hold a non-empty list of modules")
    for entry in entries:
        if not isinstance(entry, dict):
            raise HybridIRError(f"{where}: each module must be an object, not {_json_type(entry)}")
        idx = entry.get("idx", 0)
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise HybridIRError(f"{where}: module idx {idx!r:.40} must be an integer")
    return [_module_kind(e, where) for e in entries], [_module_path(e, folder, where) for e in entries]


def _pooling_mode(config: dict[str, Any], where: Path) -> tuple[str, bool]:
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        modes = tuple(mode) if isinstance(mode, list) else (mode,)
    else:
        for key in _LEGACY_POOLING_KEYS:
            _typed(config, key, bool, where)
        modes = tuple(m for key, m in _LEGACY_POOLING_KEYS.items() if config.get(key)) or ("mean",)
    if len(modes) != 1:
        raise HybridIRError(f"{where}: concatenated pooling modes {list(modes)!r:.200} are not supported; use one mode")
    if not isinstance(modes[0], str) or modes[0] not in ST_POOLINGS:
        raise HybridIRError(f"{where}: pooling mode {modes[0]!r:.80} is not supported; use one of {ST_POOLINGS}")
    return modes[0], _typed(config, "include_prompt", bool, where, default=True)


def _transformer_max_length(config: dict[str, Any], where: Path) -> int | None:
    if _typed(config, "do_lower_case", bool, where, default=False):
        raise HybridIRError(f"{where}: do_lower_case=true is not supported (the bi-encoder does not lower-case)")
    task = _typed(config, "transformer_task", str, where, default="feature-extraction")
    if task != "feature-extraction":
        raise HybridIRError(f"{where}: transformer_task {task!r:.80} is not supported (a text encoder is needed)")
    for key in ("query_length", "document_length", "query_expansion"):
        if config.get(key) is not None:
            raise HybridIRError(f"{where}: {key} (a multi-vector setting) is not supported")
    modality = _typed(config, "modality_config", dict, where, default={})
    text = _typed(modality, "text", dict, where, label="modality_config.text")
    if text is not None:
        output = _typed(text, "method_output_name", str, where, default="last_hidden_state",
                        label="modality_config.text.method_output_name")
        if output != "last_hidden_state":
            raise HybridIRError(f"{where}: text output {output!r:.80} is not supported")
    value = _typed(config, "max_seq_length", int, where)
    if value is None:
        kwargs = _typed(config, "processing_kwargs", dict, where, default={})
        text_kwargs = _typed(kwargs, "text", dict, where, default={}, label="processing_kwargs.text")
        common_kwargs = _typed(kwargs, "common", dict, where, default={}, label="processing_kwargs.common")
        value = _typed(text_kwargs, "max_length", int, where, label="processing_kwargs.text.max_length")
        if value is None:
            value = _typed(common_kwargs, "max_length", int, where, label="processing_kwargs.common.max_length")
    if value is not None and value < 1:
        raise HybridIRError(f"{where}: max_seq_length must be a positive integer, got {value}")
    return value


def _read_prompts(folder: Path) -> tuple[dict[str, str | None], str | None]:
    """The saved prompts and ``default_prompt_name`` of ``config_sentence_transformers.json``."""
    where = folder / ST_CONFIG_FILE
    if not os.path.lexists(where):
        return {}, None
    config = read_config(where, folder)
    raw = _typed(config, "prompts", dict, where, default={})
    for name, text in raw.items():
        if text is not None and not isinstance(text, str):
            raise HybridIRError(f"{where}: prompt {name!r:.40} must be a string, not {_json_type(text)}")
    default_name = _typed(config, "default_prompt_name", str, where)
    if default_name is not None and default_name not in st_prompts(raw):
        raise HybridIRError(f"{where}: default_prompt_name {default_name!r:.40} is not among the prompts")
    return dict(raw), default_name


def read_st_folder(folder: str | Path) -> STFolderSpec | None:
    """Read a sentence-transformers folder; None when ``folder`` has no ``modules.json``.

    Raises :class:`~hybrid_ir.errors.HybridIRError` (one line) for a pipeline the bi-encoder cannot
    reproduce exactly, naming the module and the setting, and for a file that is not what
    sentence-transformers writes or leads outside the folder (module docstring).
    """
    folder = Path(folder)
    if not os.path.lexists(folder / MODULES_FILE):
        return None
    kinds, paths = _modules(folder)
    order_ok = (
        kinds[0] == "Transformer" and len(kinds) >= 2 and kinds[1] == "Pooling"
        and all(k == "Dense" for k in kinds[2:-1])
        and kinds[-1] in ("Dense", "Normalize", "Pooling")
    )
    if not order_ok:
        raise HybridIRError(
            f"{folder / MODULES_FILE}: pipeline {' -> '.join(kinds)} is not supported; hybrid_ir reads "
            "Transformer -> Pooling -> Dense* -> Normalize only"
        )
    transformer_dir = paths[0]
    check_folder_files(transformer_dir, folder)
    t_file = transformer_dir / TRANSFORMER_CONFIG_FILE
    max_len = _transformer_max_length(read_config(t_file, folder), t_file) if os.path.lexists(t_file) else None
    p_file = paths[1] / "config.json"
    pooling, include_prompt = _pooling_mode(read_config(p_file, folder), p_file)
    prompts, default_name = _read_prompts(folder)
    spec = STFolderSpec(
        folder=folder,
        transformer_dir=transformer_dir,
        pooling=pooling,
        normalize=kinds[-1] == "Normalize",
        dense=tuple(p for p, k in zip(paths, kinds, strict=True) if k == "Dense"),
        prompts=prompts,
        default_prompt_name=default_name,
        max_seq_length=max_len,
    )
    if not include_prompt and any(spec.prompt_for(kind) for kind in ("query", "passage")):
        raise HybridIRError(
            f"{p_file}: include_prompt=false with a prompt is not supported "
            "(the bi-encoder pools the prompt tokens too)"
        )
    return spec


#: Files of an ST pipeline fetched for a Hub name (small: configs and the Dense weights).
_HUB_PATTERNS = [MODULES_FILE, ST_CONFIG_FILE, TRANSFORMER_CONFIG_FILE, "*_Pooling/*", "*_Dense/*", "*_Normalize/*"]


def st_folder_for(name_or_path: str | Path, offline: bool) -> Path | None:
    """The folder holding ``modules.json`` for a local directory or a Hugging Face Hub name.

    A directory is its own answer. For a Hub name, the pipeline files (:data:`_HUB_PATTERNS`) are
    taken from the local Hugging Face cache (``offline``) or downloaded; None when the repository
    has no ``modules.json`` (not a sentence-transformers model) or its files cannot be had.
    """
    path = Path(str(name_or_path)).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        snapshot = Path(snapshot_download(str(name_or_path), allow_patterns=_HUB_PATTERNS,
                                          local_files_only=offline))
    except Exception:  # not in the cache, no network, no such repository: no ST pipeline known
        return None
    return snapshot if (snapshot / MODULES_FILE).is_file() else None
