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
  ``activation(W x + b)`` with a ``torch.nn`` activation class (LaBSE: 768 -> 768, ``Tanh``; this
  is LaBSE's pooler, kept as LaBSE defines it). Refused: ``use_residual``, other feature names, an
  activation outside ``torch``. A plain Hugging Face LaBSE without ``modules.json`` gets the same
  layer from its checkpoint's ``pooler.dense`` weights (``BiEncoder.from_pretrained``).
- **Normalize**: L2 normalisation, only as the last module.

Prompts (``config_sentence_transformers.json``) become the bi-encoder's prefixes, chosen as
``SentenceTransformer.encode_query`` / ``encode_document`` choose them: the query prefix is the
``"query"`` prompt, the passage prefix the first non-empty of ``"document"``, ``"passage"``,
``"corpus"``; a kind without a prompt of its own takes ``default_prompt_name``'s prompt when one is
set. A kind with no prompt at all gets the prefix its model family is known to need
(:func:`~hybrid_ir.modeling.encoders.family_defaults`: multilingual-e5 folders often carry no
prompts but need ``"query: "`` / ``"passage: "``), else none.

Maximum lengths stay the package's settings (:class:`~hybrid_ir.modeling.biencoder.EncoderConfig`,
64 / 128 tokens by default), capped at the folder's ``max_seq_length``: a text longer than that is
cut where the bi-encoder's setting says, which may be earlier than sentence-transformers cuts it.

Example::

    >>> spec = read_st_folder("runs/labse-st")                     # doctest: +SKIP
    >>> spec.pooling, len(spec.dense), spec.normalize              # doctest: +SKIP
    ('cls', 1, True)
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from hybrid_ir.errors import HybridIRError

__all__ = [
    "ST_POOLINGS",
    "DenseLayer",
    "DenseStack",
    "STFolderSpec",
    "choose_prompt",
    "extra_pool",
    "read_st_folder",
    "st_folder_for",
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
_KINDS = ("Transformer", "Pooling", "Dense", "Normalize")


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


# -------------------------------------------------------------------------------------- Dense
def _activation(path: str | None, where: Path) -> nn.Module:
    """A ``torch.nn`` activation module from its dotted class path (``torch.nn.modules.activation.Tanh``)."""
    if path is None:
        return nn.Tanh()  # sentence-transformers' default
    module_name, _, class_name = str(path).rpartition(".")
    target = None
    if module_name.startswith("torch"):
        try:
            target = getattr(importlib.import_module(module_name), class_name, None)
        except ImportError:
            target = None
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise HybridIRError(
            f"{where}: Dense activation_function {path!r} is not a torch.nn module class; "
            "only torch activations (e.g. torch.nn.modules.activation.Tanh) are supported"
        )
    return target()


def _class_path(module: nn.Module) -> str:
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


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
    def load(cls, folder: Path) -> DenseLayer:
        """Read a ``Dense`` module folder (config and weights); refuse what it cannot reproduce."""
        config = _read_json(folder / "config.json")
        for key in ("module_input_name", "module_output_name"):
            if config.get(key, "sentence_embedding") not in (None, "sentence_embedding"):
                raise HybridIRError(f"{folder}: Dense with {key}={config[key]!r} is not supported")
        if config.get("use_residual"):
            raise HybridIRError(f"{folder}: Dense with use_residual=true is not supported")
        try:
            layer = cls(int(config["in_features"]), int(config["out_features"]), bool(config.get("bias", True)),
                        _activation(config.get("activation_function"), folder))
        except (KeyError, TypeError, ValueError) as exc:
            raise HybridIRError(f"{folder}/config.json is not a valid Dense configuration: {exc}") from None
        state = _read_weights(folder)
        expected = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in state.items()}
        if found != expected:
            raise HybridIRError(
                f"{folder}: Dense weights do not match its config.json (weights {found}, config {expected})"
            )
        layer.load_state_dict(state)
        return layer


class DenseStack(nn.Sequential):
    """The Dense layers of a model, applied in order between pooling and normalisation."""

    @property
    def out_features(self) -> int:
        return self[-1].out_features  # type: ignore[no-any-return]


def _read_weights(folder: Path) -> dict[str, Tensor]:
    st_file, bin_file = folder / "model.safetensors", folder / "pytorch_model.bin"
    try:
        if st_file.is_file():
            from safetensors.torch import load_file

            return load_file(str(st_file))
        if bin_file.is_file():
            return torch.load(bin_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged file: one line naming it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HybridIRError(f"could not read the Dense weights in {folder}: {first}") from exc
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
def choose_prompt(prompts: dict[str, Any], default_prompt_name: str | None, kind: str) -> str | None:
    """The prompt a ``kind`` of text gets: ``"query"`` for queries, the first non-empty of
    :data:`PASSAGE_PROMPT_NAMES` for passages, else the default prompt; None when there is none.

    >>> choose_prompt({"query": "q: ", "document": "", "passage": "p: "}, None, "passage")
    'p: '
    >>> choose_prompt({"query": None, "s2p": "Retrieve: "}, "s2p", "query")
    'Retrieve: '
    """
    names = ("query",) if kind == "query" else PASSAGE_PROMPT_NAMES
    for name in names:
        if prompts.get(name):
            return prompts[name]
    if default_prompt_name is not None:
        return prompts.get(default_prompt_name) or None
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
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    max_seq_length: int | None = None

    def prompt_for(self, kind: str) -> str | None:
        """The prompt for ``kind`` (``query`` / ``passage``) by :func:`choose_prompt`, or None."""
        return choose_prompt(self.prompts, self.default_prompt_name, kind)

    def encoder_settings(self, family: dict[str, Any] | None = None) -> dict[str, Any]:
        """:class:`~hybrid_ir.modeling.biencoder.EncoderConfig` fields: pooling, prefixes, normalize.

        ``family``: the known defaults of the model's family (prefixes used where the folder has no
        prompt), or None.
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
        stack = DenseStack(*(DenseLayer.load(p) for p in self.dense))
        sizes = [in_features] + [layer.out_features for layer in stack]
        for layer, size, path in zip(stack, sizes, self.dense, strict=False):
            if layer.linear.in_features != size:
                raise HybridIRError(
                    f"{path}: Dense takes {layer.linear.in_features} features but receives {size}"
                )
        return stack


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HybridIRError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise HybridIRError(f"{path} is not valid JSON: {exc}") from None


def _module_kind(entry: Any, folder: Path) -> str:
    type_name = entry.get("type", "") if isinstance(entry, dict) else ""
    if not isinstance(type_name, str) or not type_name.startswith("sentence_transformers."):
        raise HybridIRError(
            f"{folder / MODULES_FILE}: module {entry!r} is not a sentence-transformers module; "
            f"hybrid_ir reads {' -> '.join(_KINDS)} only"
        )
    kind = type_name.rsplit(".", 1)[-1]
    if kind not in _KINDS:
        raise HybridIRError(
            f"{folder / MODULES_FILE}: module type {kind} is not supported; hybrid_ir reads "
            "Transformer -> Pooling -> Dense* -> Normalize only"
        )
    return kind


def _pooling_mode(config: dict[str, Any], where: Path) -> tuple[str, bool]:
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        modes = tuple(mode) if isinstance(mode, (list, tuple)) else (mode,)
    else:
        modes = tuple(m for key, m in _LEGACY_POOLING_KEYS.items() if config.get(key)) or ("mean",)
    if len(modes) != 1:
        raise HybridIRError(f"{where}: concatenated pooling modes {list(modes)} are not supported; use one mode")
    if modes[0] not in ST_POOLINGS:
        raise HybridIRError(f"{where}: pooling mode {modes[0]!r} is not supported; use one of {ST_POOLINGS}")
    return modes[0], bool(config.get("include_prompt", True))


def _transformer_max_length(config: dict[str, Any], where: Path) -> int | None:
    if config.get("do_lower_case"):
        raise HybridIRError(f"{where}: do_lower_case=true is not supported (the bi-encoder does not lower-case)")
    task = config.get("transformer_task", "feature-extraction")
    if task != "feature-extraction":
        raise HybridIRError(f"{where}: transformer_task {task!r} is not supported (a text encoder is needed)")
    for key in ("query_length", "document_length", "query_expansion"):
        if config.get(key) is not None:
            raise HybridIRError(f"{where}: {key} (a multi-vector setting) is not supported")
    text = (config.get("modality_config") or {}).get("text")
    if text is not None and text.get("method_output_name", "last_hidden_state") != "last_hidden_state":
        raise HybridIRError(f"{where}: text output {text.get('method_output_name')!r} is not supported")
    value = config.get("max_seq_length")
    if value is None:
        kwargs = config.get("processing_kwargs") or {}
        value = (kwargs.get("text") or {}).get("max_length", (kwargs.get("common") or {}).get("max_length"))
    return int(value) if value is not None else None


def read_st_folder(folder: str | Path) -> STFolderSpec | None:
    """Read a sentence-transformers folder; None when ``folder`` has no ``modules.json``.

    Raises :class:`~hybrid_ir.errors.HybridIRError` (one line) for a pipeline the bi-encoder cannot
    reproduce exactly, naming the module and the setting.
    """
    folder = Path(folder)
    if not (folder / MODULES_FILE).is_file():
        return None
    entries = _read_json(folder / MODULES_FILE)
    if not isinstance(entries, list) or not entries:
        raise HybridIRError(f"{folder / MODULES_FILE} must hold a non-empty list of modules")
    entries = sorted(entries, key=lambda e: e.get("idx", 0) if isinstance(e, dict) else 0)
    kinds = [_module_kind(e, folder) for e in entries]
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
    paths = [folder / str(e.get("path", "")) for e in entries]
    transformer_dir = paths[0]
    t_file = transformer_dir / TRANSFORMER_CONFIG_FILE
    max_len = _transformer_max_length(_read_json(t_file), t_file) if t_file.is_file() else None
    pooling, include_prompt = _pooling_mode(_read_json(paths[1] / "config.json"), paths[1] / "config.json")

    prompts: dict[str, str] = {}
    default_name = None
    st_file = folder / ST_CONFIG_FILE
    if st_file.is_file():
        st_config = _read_json(st_file)
        raw = st_config.get("prompts") or {}
        if not isinstance(raw, dict):
            raise HybridIRError(f"{st_file}: prompts must be a mapping of name to text")
        prompts = {str(k): v for k, v in raw.items() if isinstance(v, str)}
        default_name = st_config.get("default_prompt_name")
        if default_name is not None and default_name not in raw:
            raise HybridIRError(f"{st_file}: default_prompt_name {default_name!r} is not among the prompts")
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
            f"{paths[1] / 'config.json'}: include_prompt=false with a prompt is not supported "
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
