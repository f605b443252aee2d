"""sentence-transformers folders from anyone: contained, typed, one-line errors; exact prompts and precision.

Issue 21, items 1, 2, 10 and 11 and the ST-folder tracebacks:

- every path read from a model folder (``modules.json``'s module paths, each config and weights
  file, the files of the Transformer folder, ``hybrid_ir_encoder.json``) must stay inside the
  folder, symlinks included (:func:`test_paths_leading_outside_are_refused`);
- a Dense activation comes from a fixed table, nothing is imported by a name read from the folder;
- configs of the wrong JSON type or size, deep nesting, huge or negative Dense sizes and weights
  files that are not plain state dicts are one-line :class:`HybridIRError` s (exit 2 in the CLI);
- ``BiEncoder`` encodes as ``SentenceTransformer.encode_query`` / ``encode_document`` do, for every
  pooling mode (prompt names, empty prompts, ``default_prompt_name``), in fp32 by default, and so
  does ``LareqaEvaluator``.

Every model is a random tiny BERT built here (tests/st_support.py), never downloaded.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from hybrid_ir.errors import HybridIRError
from hybrid_ir.modeling import runtime
from hybrid_ir.modeling.biencoder import ENCODER_FILE, BiEncoder
from hybrid_ir.modeling.st_folder import ST_POOLINGS, read_st_folder

st = pytest.importorskip("sentence_transformers")
from sentence_transformers.sentence_transformer.modules import Dense  # noqa: E402
from st_support import run_offline, st_model, tiny_bert_folder  # noqa: E402

TEXTS = ["where is the capital of a ?", "the capital", "b is c .", "what is the capital of b ? a b c"]
PROMPTS = {"query": "query : ", "passage": "passage : "}


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """CLS -> Dense 16 -> 8 (Tanh) -> Normalize with query / passage prompts, saved by sentence-transformers."""
    root = tmp_path_factory.mktemp("st-good")
    hf = tiny_bert_folder(root / "hf", seed=11)
    torch.manual_seed(0)
    model = st_model(hf, pooling="cls", dense=[Dense(16, 8, activation_function=torch.nn.Tanh())],
                     normalize=True, prompts=PROMPTS)
    model.save(str(root / "good"))
    return root / "good"


def _copy(good: Path, tmp_path: Path, name: str = "m") -> Path:
    folder = tmp_path / name
    shutil.copytree(good, folder)
    return folder


def _one_line_error(folder: Path, match: str) -> str:
    with pytest.raises(HybridIRError, match=match) as info:
        BiEncoder.from_pretrained(folder)
    assert "\n" not in str(info.value)
    return str(info.value)


def _write(path: Path, obj) -> None:
    """``obj`` as JSON; a string or bytes as they are."""
    if isinstance(obj, bytes):
        path.write_bytes(obj)
    else:
        path.write_text(obj if isinstance(obj, str) else json.dumps(obj))


def _edit(path: Path, change: Callable[[dict], None]) -> None:
    obj = json.loads(path.read_text())
    change(obj)
    _write(path, obj)


def _encoder_file(folder: Path, config: dict | None = None, **extra) -> None:
    settings = config or {"pooling": "cls", "query_prefix": "", "passage_prefix": "", "max_query_length": 16,
                          "max_passage_length": 16, "normalize": True}
    _write(folder / ENCODER_FILE, {"format": 1, "encoder_config": settings, **extra})


# ---------------------------------------------------------------------- item 1: containment
def _move_out(folder: Path, rel: str) -> Path:
    """Move ``folder/rel`` out of the folder and leave a symlink to it in its place."""
    inside = folder / rel
    outside = folder.parent / "outside" / rel.replace("/", "_")
    outside.parent.mkdir(exist_ok=True)
    shutil.move(str(inside), str(outside))
    inside.symlink_to(outside)
    return outside


@pytest.mark.slow
@pytest.mark.parametrize("rel", [
    "modules.json", "config_sentence_transformers.json", "sentence_bert_config.json", "1_Pooling",
    "1_Pooling/config.json", "2_Dense", "2_Dense/config.json", "2_Dense/model.safetensors",
    "model.safetensors", "config.json", "tokenizer.json", ENCODER_FILE,
])
def test_paths_leading_outside_are_refused(good, tmp_path, rel):
    """Every file and module folder read from an ST folder, replaced by a symlink to a copy outside."""
    folder = _copy(good, tmp_path)
    if rel == ENCODER_FILE:
        _encoder_file(folder)
    _move_out(folder, rel)
    _one_line_error(folder, "leads outside the model folder")


@pytest.mark.slow
def test_dense_pytorch_bin_leading_outside_is_refused(good, tmp_path):
    folder = _copy(good, tmp_path)
    dense = folder / "2_Dense"
    from safetensors.torch import load_file

    torch.save(load_file(str(dense / "model.safetensors")), dense / "pytorch_model.bin")
    (dense / "model.safetensors").unlink()
    assert BiEncoder.from_pretrained(folder).dim == 8  # a plain state dict inside the folder loads
    _move_out(folder, "2_Dense/pytorch_model.bin")
    _one_line_error(folder, r"pytorch_model\.bin leads outside the model folder")


@pytest.mark.slow
def test_plain_hugging_face_folder_leading_outside_is_refused(tmp_path):
    """No modules.json: the encoder's own files are checked too."""
    folder = tiny_bert_folder(tmp_path / "plain", seed=3)
    BiEncoder.from_pretrained(folder)
    _move_out(folder, "model.safetensors")
    _one_line_error(folder, r"model\.safetensors leads outside the model folder")


@pytest.mark.parametrize("path", [
    "../2_Dense", "2_Dense/../../m/2_Dense", "/tmp", "..\\2_Dense", "C:\\models\\2_Dense", "\\\\server\\share",
    "2_Dense\x00",
])
def test_module_paths_outside_the_folder_are_refused(good, tmp_path, path):
    folder = _copy(good, tmp_path)
    shutil.copytree(folder / "2_Dense", tmp_path / "2_Dense")  # what "../2_Dense" would read
    _edit(folder / "modules.json", lambda mods: mods[2].__setitem__("path", path))
    with pytest.raises(HybridIRError, match="must be relative to the model folder") as info:
        read_st_folder(folder)
    assert "\n" not in str(info.value)
    _edit(folder / "modules.json", lambda mods: mods[2].__setitem__("path", str((folder / "2_Dense").resolve())))
    with pytest.raises(HybridIRError, match="must be relative"):
        read_st_folder(folder)  # an absolute path into the folder itself is refused too (as ST does)


@pytest.mark.slow
def test_symlinks_inside_the_folder_load(good, tmp_path):
    folder = _copy(good, tmp_path)
    shutil.move(str(folder / "2_Dense"), str(folder / "dense-weights"))
    (folder / "2_Dense").symlink_to("dense-weights")
    enc = BiEncoder.from_pretrained(folder)
    model = st.SentenceTransformer(str(good), device="cpu")
    np.testing.assert_allclose(enc.encode(TEXTS, "passage"), model.encode_document(TEXTS), atol=1e-5)


def _hub_cache(good: Path, cache: Path, repo: str) -> Path:
    """``good`` laid out as the Hugging Face cache does: files in ``blobs``, symlinks in the snapshot."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    base = cache / f"models--{repo.replace('/', '--')}"
    snapshot = base / "snapshots" / commit
    (base / "blobs").mkdir(parents=True)
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text(commit)
    for n, src in enumerate(sorted(p for p in good.rglob("*") if p.is_file())):
        blob = base / "blobs" / f"blob{n:03d}"
        shutil.copyfile(src, blob)
        link = snapshot / src.relative_to(good)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


@pytest.mark.slow
def test_hugging_face_cache_snapshots_with_blob_symlinks_load(good, tmp_path):
    """The cache's snapshot files are symlinks into the repository's blobs: allowed, as a folder and by name."""
    snapshot = _hub_cache(good, tmp_path / "cache", "someone/tiny-st")
    expected = st.SentenceTransformer(str(good), device="cpu").encode_document(TEXTS)
    enc = BiEncoder.from_pretrained(snapshot)
    np.testing.assert_allclose(enc.encode(TEXTS, "passage"), expected, atol=1e-5)
    np.save(tmp_path / "expected.npy", expected)
    code = (
        "import numpy as np\n"
        "from hybrid_ir.modeling.biencoder import BiEncoder\n"
        "enc = BiEncoder.from_pretrained('someone/tiny-st')\n"
        "assert enc.projection is not None, enc\n"
        f"got = enc.encode({TEXTS!r}, 'passage')\n"
        f"np.testing.assert_allclose(got, np.load({str(tmp_path / 'expected.npy')!r}), atol=1e-5)\n"
        "print('ok')\n"
    )
    run_offline(code, tmp_path / "cache")
    # a snapshot file leading elsewhere than its blobs is still refused
    (snapshot / "1_Pooling" / "config.json").unlink()
    (snapshot / "1_Pooling" / "config.json").symlink_to(good / "1_Pooling" / "config.json")
    _one_line_error(snapshot, "leads outside the model folder")


# -------------------------------------------------------------------- item 2: activations
@pytest.mark.parametrize("name", [
    "torch.nn.Transformer", "torch.nn.modules.transformer.Transformer", "torch.nn.modules.linear.Linear",
    "torch.nn.modules.activation.MultiheadAttention", "torch.nn.modules.activation.PReLU",
    "torch.nn.modules.activation.Softmax", "os.system", "builtins.print", "Tanh", "", 3, None, ["Tanh"],
])
def test_dense_activation_outside_the_table_is_refused(good, tmp_path, name):
    folder = _copy(good, tmp_path)
    _edit(folder / "2_Dense" / "config.json", lambda c: c.__setitem__("activation_function", name))
    spec = read_st_folder(folder)
    with pytest.raises(HybridIRError, match=r"activation_function .* is not supported") as info:
        spec.load_dense(16)
    assert "\n" not in str(info.value)


def test_activation_table_holds_what_sentence_transformers_writes():
    """Each entry is a parameter-free module whose class path is the name ST's Dense saves."""
    from sentence_transformers.util import fullname

    from hybrid_ir.modeling.st_folder import DENSE_ACTIVATIONS

    for name, cls in DENSE_ACTIVATIONS.items():
        module = cls()
        assert not list(module.parameters())
        assert name in (fullname(module), f"torch.nn.{cls.__qualname__}")
    for cls in (torch.nn.Tanh, torch.nn.Identity, torch.nn.ReLU, torch.nn.GELU, torch.nn.Sigmoid):
        assert fullname(cls()) in DENSE_ACTIVATIONS


@pytest.mark.slow
def test_dense_activation_is_not_imported_by_name(good, tmp_path, monkeypatch):
    folder = _copy(good, tmp_path)
    _edit(folder / "2_Dense" / "config.json",
          lambda c: c.__setitem__("activation_function", "torch.nn.modules.activation.GELU"))
    imported = []
    real = importlib.import_module

    def spy(name, *args, **kwargs):
        imported.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", spy)
    enc = BiEncoder.from_pretrained(folder)
    assert isinstance(enc.projection[0].activation, torch.nn.GELU)
    assert "torch.nn.modules.activation" not in imported
    monkeypatch.undo()
    model = st.SentenceTransformer(str(folder), device="cpu")  # and it is ST's GELU layer
    np.testing.assert_allclose(enc.encode(TEXTS, "query"), model.encode_query(TEXTS), atol=1e-5)


# ------------------------------------------------------------------- tracebacks -> one line
def _set(rel: str, obj) -> Callable[[Path], None]:
    return lambda folder: _write(folder / rel, obj)


def _change(rel: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    return lambda folder: _edit(folder / rel, change)


def _bin(obj, rel: str = "pytorch_model.bin") -> Callable[[Path], None]:
    """Replace the safetensors weights beside ``rel`` by ``torch.save(obj)`` (raw bytes as they are)."""
    def edit(folder: Path) -> None:
        (folder / rel).with_name("model.safetensors").unlink()
        if isinstance(obj, bytes):
            (folder / rel).write_bytes(obj)
        else:
            torch.save(obj, folder / rel)
    return edit


def _fifo(rel: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / rel).unlink()
        os.mkfifo(folder / rel)
    return edit


_VALID = {"pooling": "cls", "query_prefix": "", "passage_prefix": "", "normalize": True}

HOSTILE = {
    "pooling config a list": (_set("1_Pooling/config.json", []), r"1_Pooling/config\.json must hold an object, not a list"),
    "pooling mode a number": (_set("1_Pooling/config.json", {"pooling_mode": 3}), "pooling mode 3 is not supported"),
    "pooling legacy key a string": (_set("1_Pooling/config.json", {"pooling_mode_cls_token": "yes"}),
                                    "pooling_mode_cls_token must be true or false"),
    "include_prompt a string": (_set("1_Pooling/config.json", {"pooling_mode": "cls", "include_prompt": "no"}),
                                "include_prompt must be true or false"),
    "sentence_bert_config []": (_set("sentence_bert_config.json", []), "must hold an object, not a list"),
    "max_seq_length a string": (_set("sentence_bert_config.json", {"max_seq_length": "128"}),
                                "max_seq_length must be an integer, not a string"),
    "max_seq_length a float": (_set("sentence_bert_config.json", {"max_seq_length": 64.5}),
                               "max_seq_length must be an integer, not a number"),
    "max_seq_length negative": (_set("sentence_bert_config.json", {"max_seq_length": -4}),
                                "max_seq_length must be a positive integer"),
    "modality_config.text a string": (_set("sentence_bert_config.json", {"modality_config": {"text": "x"}}),
                                      "modality_config.text must be an object, not a string"),
    "modality_config a list": (_set("sentence_bert_config.json", {"modality_config": []}),
                               "modality_config must be an object"),
    "processing_kwargs.text a list": (_set("sentence_bert_config.json", {"processing_kwargs": {"text": [1]}}),
                                      "processing_kwargs.text must be an object"),
    "st config []": (_set("config_sentence_transformers.json", []),
                     r"config_sentence_transformers\.json must hold an object, not a list"),
    "prompts a list": (_set("config_sentence_transformers.json", {"prompts": ["q"]}), "prompts must be an object"),
    "prompt a number": (_set("config_sentence_transformers.json", {"prompts": {"query": 5}}),
                        "prompt 'query' must be a string"),
    "default_prompt_name a list": (_set("config_sentence_transformers.json",
                                        {"prompts": {"q": "x"}, "default_prompt_name": ["q"]}),
                                   "default_prompt_name must be a string"),
    "modules.json idx mixed": (_change("modules.json", lambda m: m[1].__setitem__("idx", "1")),
                               "module idx '1' must be an integer"),
    "modules.json an object": (_set("modules.json", {"0": {}}), r"modules\.json must hold a list, not an object"),
    "modules.json entry a string": (_change("modules.json", lambda m: m.__setitem__(1, "Pooling")),
                                    "each module must be an object"),
    "modules.json path a number": (_change("modules.json", lambda m: m[1].__setitem__("path", 1)),
                                   "module path 1 must be a string"),
    "modules.json 200,000 brackets": (_set("modules.json", "[" * 200_000 + "]" * 200_000), "nested too deeply"),
    "modules.json not UTF-8": (_set("modules.json", '["caf\xe9"]'.encode("latin-1")), "is not UTF-8 text"),
    "modules.json a FIFO": (_fifo("modules.json"), "is not a regular file"),
    "pooling config a FIFO": (_fifo("1_Pooling/config.json"), "is not a regular file"),
    "modules.json 20 MB": (_set("modules.json", " " * (20 << 20) + "[]"), "a model config has at most"),
    "Dense in_features 10^7": (_change("2_Dense/config.json", lambda c: c.update(in_features=10**7, out_features=10**7)),
                               "in_features must be an integer from 1 to"),
    "Dense out_features -1": (_change("2_Dense/config.json", lambda c: c.update(out_features=-1)),
                              "out_features must be an integer from 1 to"),
    "Dense out_features 0": (_change("2_Dense/config.json", lambda c: c.update(out_features=0)),
                             "out_features must be an integer from 1 to"),
    "Dense 100,000 x 100,000": (_change("2_Dense/config.json", lambda c: c.update(in_features=100_000,
                                                                                out_features=100_000)),
                                "is larger than"),
    "Dense in_features a string": (_change("2_Dense/config.json", lambda c: c.update(in_features="16")),
                                   "in_features must be an integer, not a string"),
    "Dense bias a string": (_change("2_Dense/config.json", lambda c: c.update(bias="false")),
                            "bias must be true or false"),
    "Dense no out_features": (_change("2_Dense/config.json", lambda c: c.pop("out_features")), "has no out_features"),
    "Dense config a list": (_set("2_Dense/config.json", []), "must hold an object"),
    "Dense weights a list": (_bin([1, 2], "2_Dense/pytorch_model.bin"), "is not a state dict"),
    "Dense weights a module": (_bin(torch.nn.Linear(16, 8), "2_Dense/pytorch_model.bin"),
                               "not a plain state dict of tensors"),
    "encoder .bin a list": (_bin([1, 2]), r"pytorch_model\.bin is not a state dict"),
    "encoder .bin a tensor": (_bin(torch.zeros(3)), r"pytorch_model\.bin is not a state dict"),
    "encoder .bin None": (_bin(None), r"pytorch_model\.bin is not a state dict"),
    "encoder .bin int names": (_bin({1: torch.zeros(2)}), "the name 1 is not a string"),
    "encoder .bin numbers": (_bin({"a": 1}), "'a' holds an object of type int"),
    "encoder .bin a module": (_bin(torch.nn.Linear(2, 2)), "not a plain state dict of tensors"),
    "encoder .bin damaged": (_bin(b"not a zip"), r"pytorch_model\.bin is not a plain state dict of tensors"),
    "encoder config.json hidden_size a string": (_change("config.json", lambda c: c.update(hidden_size="16")),
                                                 "could not load the encoder in .*hidden_size"),
    "tokenizer.json a list": (_set("tokenizer.json", []), "could not load the encoder in"),
    "tokenizer_config.json a list": (_set("tokenizer_config.json", []), "could not load the encoder in"),
    "hybrid_ir_encoder.json []": (_set(ENCODER_FILE, []), r"hybrid_ir_encoder\.json must hold an object, not a list"),
    "hybrid_ir_encoder.json config a list": (_set(ENCODER_FILE, {"encoder_config": []}),
                                             "encoder_config must be an object"),
    "hybrid_ir_encoder.json no config": (_set(ENCODER_FILE, {"format": 1}), "encoder_config must be an object"),
    "hybrid_ir_encoder.json bad pooling": (_set(ENCODER_FILE, {"encoder_config": {**_VALID, "pooling": ["x"]}}),
                                           r"hybrid_ir_encoder\.json: pooling \['x'\] is not supported"),
    "hybrid_ir_encoder.json unknown key": (_set(ENCODER_FILE, {"encoder_config": {**_VALID, "x": 1}}),
                                           r"hybrid_ir_encoder\.json: unknown encoder setting"),
    "hybrid_ir_encoder.json newer format": (_set(ENCODER_FILE, {"format": 99, "encoder_config": _VALID}),
                                            "format 99 is not one this package reads"),
    "hybrid_ir_encoder.json nested": (_set(ENCODER_FILE, "[" * 200_000 + "]" * 200_000), "nested too deeply"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_folders_give_one_line_errors(good, tmp_path, case):
    edit, match = HOSTILE[case]
    folder = _copy(good, tmp_path)
    edit(folder)
    _one_line_error(folder, match)


@pytest.mark.slow
def test_the_cli_turns_them_into_exit_status_2(good, tmp_path, capsys):
    """``hybrid-ir evaluate --model`` on a hostile folder: status 2, one line on stderr, nothing written."""
    from hybrid_ir.cli import main

    folder = _copy(good, tmp_path)
    _write(folder / "1_Pooling" / "config.json", [])
    out = tmp_path / "eval.json"
    code = main(["evaluate", "xquad-r", "--model", str(folder), "--languages", "en", "de",
                 "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "1_Pooling/config.json must hold an object" in err and "Traceback" not in err
    assert not out.exists()


# --------------------------------------------------------- item 10: encode_query / encode_document
def _parity(enc: BiEncoder, model) -> None:
    np.testing.assert_allclose(enc.encode(TEXTS, "query"), model.encode_query(TEXTS), atol=1e-5)
    np.testing.assert_allclose(enc.encode(TEXTS, "passage"), model.encode_document(TEXTS), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ST_POOLINGS)
def test_every_pooling_mode_encodes_as_encode_query_and_encode_document(tmp_path, pooling):
    """sentence-transformers 6 saves "document": "" beside a "passage" prompt: encode_document uses
    the empty one (and never default_prompt_name); so must the bi-encoder."""
    hf = tiny_bert_folder(tmp_path / "hf", seed=5)
    torch.manual_seed(1)
    dense = [Dense(16, 8, activation_function=torch.nn.Tanh())] if pooling in ("cls", "lasttoken") else []
    model = st_model(hf, pooling=pooling, dense=dense, normalize=pooling != "lasttoken",
                     prompts={**PROMPTS, "retrieval": "what is : "}, default_prompt_name="retrieval")
    model.save(str(tmp_path / "st"))
    saved = json.loads((tmp_path / "st" / "config_sentence_transformers.json").read_text())
    assert saved["prompts"]["document"] == ""  # what the installed sentence-transformers writes
    enc = BiEncoder.from_pretrained(tmp_path / "st")
    assert (enc.config.query_prefix, enc.config.passage_prefix) == ("query : ", "")
    loaded = st.SentenceTransformer(str(tmp_path / "st"), device="cpu")
    _parity(enc, loaded)
    _parity(enc, model)


@pytest.mark.slow
@pytest.mark.parametrize(("prompts", "default", "expected"), [
    ({"retrieval": "what is : "}, "retrieval", ("", "")),
    ({"query": "query : ", "corpus": "passage : "}, None, ("query : ", "")),
    ({"query": "", "document": "passage : ", "passage": "the : "}, None, ("", "passage : ")),
])
def test_default_prompt_name_and_other_names_as_sentence_transformers(tmp_path, prompts, default, expected):
    hf = tiny_bert_folder(tmp_path / "hf", seed=6)
    model = st_model(hf, pooling="mean", normalize=True, prompts=prompts, default_prompt_name=default)
    model.save(str(tmp_path / "st"))
    enc = BiEncoder.from_pretrained(tmp_path / "st")
    assert (enc.config.query_prefix, enc.config.passage_prefix) == expected
    _parity(enc, st.SentenceTransformer(str(tmp_path / "st"), device="cpu"))


@pytest.mark.slow
def test_lareqa_evaluator_encodes_as_encode_query_and_encode_document(tmp_path):
    from hybrid_ir.integrations.sentence_transformers.evaluator import SentenceTransformerEncoder

    hf = tiny_bert_folder(tmp_path / "hf", seed=7)
    for prompts, default in ((PROMPTS, None), ({"retrieval": "what is : "}, "retrieval")):
        model = st_model(hf, pooling="cls", normalize=False, prompts=prompts, default_prompt_name=default)
        encoder = SentenceTransformerEncoder(model)
        assert encoder.prompts["passage"] == ""
        np.testing.assert_allclose(encoder.encode(TEXTS, "query"),
                                   model.encode_query(TEXTS, normalize_embeddings=True), atol=1e-6)
        np.testing.assert_allclose(encoder.encode(TEXTS, "passage"),
                                   model.encode_document(TEXTS, normalize_embeddings=True), atol=1e-6)
        given = SentenceTransformerEncoder(model, query_prompt="", passage_prompt="passage : ")
        np.testing.assert_allclose(given.encode(TEXTS, "passage"),
                                   model.encode(TEXTS, prompt="passage : ", normalize_embeddings=True), atol=1e-6)
        np.testing.assert_allclose(given.encode(TEXTS, "query"),
                                   model.encode(TEXTS, prompt="", normalize_embeddings=True), atol=1e-6)


# ------------------------------------------------------------------------ item 11: fp32
@pytest.mark.slow
def test_encode_defaults_to_fp32_even_on_a_cpu_with_native_bf16(good, monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert runtime.resolve_precision("auto", torch.device("cpu"), purpose="inference") == "bf16"
    from hybrid_ir.evaluation.grid import evaluate_lareqa_model
    from hybrid_ir.evaluation.miracl import evaluate_miracl_model
    from hybrid_ir.evaluation.retrieval import encode_dataset
    from hybrid_ir.evaluation.tatoeba import evaluate_tatoeba_model

    for function in (BiEncoder.encode, encode_dataset, evaluate_lareqa_model, evaluate_tatoeba_model,
                     evaluate_miracl_model):  # the Python API: fp32 unless asked, as sentence-transformers
        assert inspect.signature(function).parameters["precision"].default == "fp32", function
    enc = BiEncoder.from_pretrained(good)
    model = st.SentenceTransformer(str(good), device="cpu")
    default = enc.encode(TEXTS, "passage", device="cpu")
    np.testing.assert_array_equal(default, enc.encode(TEXTS, "passage", device="cpu", precision="fp32"))
    np.testing.assert_allclose(default, model.encode_document(TEXTS), atol=1e-5)
    # what "auto" gives here (bf16 autocast) is measurably another vector
    auto = enc.encode(TEXTS, "passage", device="cpu", precision="auto")
    assert np.abs(auto - default).max() > 1e-4
