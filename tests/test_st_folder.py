"""sentence-transformers model folders load faithfully in BiEncoder, or are refused in one line.

Each model is a random tiny BERT with a word-level tokenizer, wrapped in sentence-transformers
modules and saved by sentence-transformers itself; the bi-encoder's embeddings (``embed``, and
``encode`` at its default precision) must equal ``SentenceTransformer.encode_query`` /
``encode_document`` within 1e-5.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hybrid_ir.errors import HybridIRError
from hybrid_ir.modeling.biencoder import BiEncoder
from hybrid_ir.modeling.st_folder import ST_POOLINGS, extra_pool, read_st_folder

st = pytest.importorskip("sentence_transformers")
from sentence_transformers.sentence_transformer.modules import Dense, Pooling  # noqa: E402
from st_support import run_offline, st_model, tiny_bert_folder  # noqa: E402

TEXTS = ["where is the capital of a ?", "the capital", "b is c .", "what is the capital of b ? a b c"]


def _vectors(model: BiEncoder, texts, kind: str) -> np.ndarray:
    """The bi-encoder's embeddings in fp32 (``embed`` runs no autocast, unlike ``encode``'s ``auto``)."""
    model.eval()
    with torch.no_grad():
        return model.embed(texts, kind).numpy()


def _assert_same(model: BiEncoder, st_model_) -> None:
    """Queries as ``encode_query``, passages as ``encode_document`` encode them, by ``embed`` and by
    ``encode`` (its default precision: fp32 on every machine)."""
    theirs_q = st_model_.encode_query(TEXTS, convert_to_numpy=True)
    theirs_p = st_model_.encode_document(TEXTS, convert_to_numpy=True)
    for ours_q, ours_p in ((_vectors(model, TEXTS, "query"), _vectors(model, TEXTS, "passage")),
                           (model.encode(TEXTS, "query"), model.encode(TEXTS, "passage"))):
        assert ours_q.shape == theirs_q.shape
        np.testing.assert_allclose(ours_q, theirs_q, atol=1e-5)
        np.testing.assert_allclose(ours_p, theirs_p, atol=1e-5)


@pytest.mark.slow
def test_cls_pooling_dense_no_prompts(tmp_path):
    hf = tiny_bert_folder(tmp_path / "hf", seed=1)
    torch.manual_seed(0)
    model = st_model(hf, pooling="cls", dense=[Dense(16, 8, activation_function=torch.nn.Tanh())],
                     normalize=False)
    model.save(str(tmp_path / "cls-dense"))
    enc = BiEncoder.from_pretrained(tmp_path / "cls-dense")
    # the reported bug: mean pooling, E5 prefixes and the hidden size instead of the Dense output
    assert enc.config.pooling == "cls"
    assert (enc.config.query_prefix, enc.config.passage_prefix) == ("", "")
    assert enc.config.normalize is False
    assert enc.dim == 8
    _assert_same(enc, model)


@pytest.mark.slow
def test_mean_pooling_normalize_and_prompts(tmp_path):
    hf = tiny_bert_folder(tmp_path / "hf", seed=2)
    prompts = {"query": "query : ", "passage": "passage : "}
    model = st_model(hf, pooling="mean", normalize=True, prompts=prompts)
    model.save(str(tmp_path / "mean-prompts"))
    enc = BiEncoder.from_pretrained(tmp_path / "mean-prompts")
    # sentence-transformers adds "document": "", which encode_document uses before "passage"
    assert (enc.config.query_prefix, enc.config.passage_prefix) == ("query : ", "")
    assert enc.config.normalize is True
    _assert_same(enc, model)
    # and not what the model gives without its prompts
    bare = model.encode(TEXTS, convert_to_numpy=True)
    assert np.abs(_vectors(enc, TEXTS, "query") - bare).max() > 1e-3
    # a "document" prompt is the passage prompt
    model = st_model(hf, pooling="mean", normalize=True, prompts={**prompts, "document": "passage : "})
    model.save(str(tmp_path / "mean-document"))
    enc = BiEncoder.from_pretrained(tmp_path / "mean-document")
    assert (enc.config.query_prefix, enc.config.passage_prefix) == ("query : ", "passage : ")
    _assert_same(enc, model)


@pytest.mark.slow
def test_labse_shaped_model_keeps_its_pooler(tmp_path):
    """BERT, CLS pooling, Dense 16 -> 16 tanh holding BERT's pooler, Normalize (LaBSE in small)."""
    from transformers import BertModel

    hf = tiny_bert_folder(tmp_path / "hf", seed=3, pooler=True)
    bert = BertModel.from_pretrained(hf).eval()
    pooler = bert.pooler.dense
    dense = Dense(16, 16, activation_function=torch.nn.Tanh(),
                  init_weight=pooler.weight.detach().clone(), init_bias=pooler.bias.detach().clone())
    model = st_model(hf, pooling="cls", dense=[dense], normalize=True)
    model.save(str(tmp_path / "labse-tiny"))
    enc = BiEncoder.from_pretrained(tmp_path / "labse-tiny")
    assert enc.config.pooling == "cls" and enc.projection is not None
    _assert_same(enc, model)
    # LaBSE's own definition: the L2-normalised pooler output tanh(W h_[CLS] + b)
    batch = enc.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = bert(**batch).pooler_output
    expected = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    np.testing.assert_allclose(_vectors(enc, TEXTS, "passage"), expected, atol=1e-5)

    # saving keeps the Dense layer: both libraries read the saved folder back identically
    out = enc.save_pretrained(tmp_path / "saved")
    again = BiEncoder.from_pretrained(out)
    np.testing.assert_array_equal(_vectors(again, TEXTS, "query"),
                                  _vectors(enc, TEXTS, "query"))
    reloaded = st.SentenceTransformer(str(out), device="cpu")
    np.testing.assert_allclose(reloaded.encode(TEXTS, convert_to_numpy=True), expected, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["max", "lasttoken", "mean_sqrt_len_tokens", "weightedmean"])
def test_other_pooling_modes_match_sentence_transformers(tmp_path, mode):
    hf = tiny_bert_folder(tmp_path / "hf", seed=4)
    model = st_model(hf, pooling=mode, normalize=False)
    model.save(str(tmp_path / mode))
    enc = BiEncoder.from_pretrained(tmp_path / mode)
    assert enc.config.pooling == mode
    _assert_same(enc, model)


@pytest.mark.parametrize("mode", [m for m in ST_POOLINGS if m not in ("mean", "cls")])
@pytest.mark.parametrize("left_padding", [False, True])
def test_extra_pool_equals_the_pooling_module(mode, left_padding):
    torch.manual_seed(0)
    hidden = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    if left_padding:
        mask = mask.flip(1)
    expected = Pooling(4, pooling_mode=mode)({"token_embeddings": hidden, "attention_mask": mask})
    torch.testing.assert_close(extra_pool(hidden, mask, mode), expected["sentence_embedding"])


# ---------------------------------------------------------------------------- prompt choice
def _folder(tmp_path: Path, prompts=None, default=None, pooling=None, modules=None, transformer=None) -> Path:
    """A hand-written ST folder (no weights needed for the reading rules)."""
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    mods = modules or [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(mods))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling or {"pooling_mode": "mean"}))
    (folder / "sentence_bert_config.json").write_text(json.dumps(transformer or {"max_seq_length": 32}))
    if prompts is not None:
        (folder / "config_sentence_transformers.json").write_text(
            json.dumps({"prompts": prompts, "default_prompt_name": default})
        )
    return folder


def test_prompts_follow_encode_query_and_encode_document(tmp_path):
    """A loaded SentenceTransformer always holds "query" and "document" prompts ("" unless saved):
    encode_query takes "query", encode_document "document", even empty; default_prompt_name and the
    "passage" / "corpus" prompts are then never used by them."""
    spec = read_st_folder(_folder(tmp_path, {"query": "q: ", "document": "", "passage": "p: "}))
    assert (spec.prompt_for("query"), spec.prompt_for("passage")) == ("q: ", "")
    spec = read_st_folder(_folder(tmp_path, {"query": "", "document": "d: ", "corpus": "c: "}))
    assert (spec.prompt_for("query"), spec.prompt_for("passage")) == ("", "d: ")
    spec = read_st_folder(_folder(tmp_path, {"passage": "p: "}))
    assert (spec.prompt_for("query"), spec.prompt_for("passage")) == (None, "")
    spec = read_st_folder(_folder(tmp_path, {"retrieval": "r: ", "query": "q: "}, default="retrieval"))
    assert (spec.prompt_for("query"), spec.prompt_for("passage")) == ("q: ", "")
    spec = read_st_folder(_folder(tmp_path, {"query": None, "retrieval": "r: "}, default="retrieval"))
    assert (spec.prompt_for("query"), spec.prompt_for("passage")) == ("", "")
    assert spec.max_seq_length == 32 and spec.pooling == "mean" and spec.normalize
    # no prompts: the family's prefixes where it is known, none otherwise
    settings = read_st_folder(_folder(tmp_path, {})).encoder_settings({"query_prefix": "query: ",
                                                                       "passage_prefix": "passage: "})
    assert (settings["query_prefix"], settings["passage_prefix"]) == ("query: ", "passage: ")
    settings = read_st_folder(_folder(tmp_path, {})).encoder_settings(None)
    assert (settings["query_prefix"], settings["passage_prefix"]) == ("", "")
    assert read_st_folder(tmp_path / "nothing-here") is None


_T = "sentence_transformers.models."


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pooling": {"pooling_mode": ["cls", "mean"]}}, "concatenated pooling modes"),
        ({"pooling": {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True}}, "concatenated"),
        ({"pooling": {"pooling_mode": "attention"}}, "pooling mode 'attention' is not supported"),
        ({"pooling": {"pooling_mode": "mean", "include_prompt": False}, "prompts": {"query": "q: "}},
         "include_prompt=false"),
        ({"transformer": {"do_lower_case": True}}, "do_lower_case"),
        ({"transformer": {"transformer_task": "sequence-classification"}}, "transformer_task"),
        ({"modules": [{"idx": 0, "path": "", "type": _T + "Transformer"},
                      {"idx": 1, "path": "1_Pooling", "type": _T + "Pooling"},
                      {"idx": 2, "path": "2_Dropout", "type": _T + "Dropout"}]}, "Dropout is not supported"),
        ({"modules": [{"idx": 0, "path": "", "type": _T + "Transformer"},
                      {"idx": 1, "path": "1_Pooling", "type": _T + "Pooling"},
                      {"idx": 2, "path": "2_Normalize", "type": _T + "Normalize"},
                      {"idx": 3, "path": "3_Dense", "type": _T + "Dense"}]}, "Normalize -> Dense is not supported"),
        ({"modules": [{"idx": 0, "path": "", "type": "my_package.Encoder"}]}, "not a sentence-transformers module"),
        ({"prompts": {"query": "q: "}, "default": "missing"}, "default_prompt_name 'missing'"),
    ],
)
def test_unsupported_pipelines_are_refused_in_one_line(tmp_path, kwargs, match):
    with pytest.raises(HybridIRError, match=match) as info:
        read_st_folder(_folder(tmp_path, **kwargs))
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_bad_dense_folders_are_refused(tmp_path):
    hf = tiny_bert_folder(tmp_path / "hf", seed=5)
    model = st_model(hf, pooling="cls", dense=[Dense(16, 8)], normalize=False)
    model.save(str(tmp_path / "good"))

    def variant(name: str, edit) -> Path:
        folder = tmp_path / name
        shutil.copytree(tmp_path / "good", folder)
        edit(folder / "2_Dense")
        return folder

    def set_activation(d: Path, value: str) -> None:
        cfg = json.loads((d / "config.json").read_text())
        cfg["activation_function"] = value
        (d / "config.json").write_text(json.dumps(cfg))

    bad_act = variant("act", lambda d: set_activation(d, "my_module.Swish"))
    with pytest.raises(HybridIRError, match=r"activation_function 'my_module\.Swish' is not supported"):
        BiEncoder.from_pretrained(bad_act)
    no_weights = variant("noweights", lambda d: (d / "model.safetensors").unlink())
    with pytest.raises(HybridIRError, match=r"neither model\.safetensors nor pytorch_model\.bin"):
        BiEncoder.from_pretrained(no_weights)

    def wrong_in(d: Path) -> None:
        cfg = json.loads((d / "config.json").read_text())
        cfg["in_features"] = 12
        (d / "config.json").write_text(json.dumps(cfg))

    with pytest.raises(HybridIRError, match=r"do not match its config\.json"):
        BiEncoder.from_pretrained(variant("shape", wrong_in))
    # an identity activation is fine (sentence-transformers writes torch.nn.modules.linear.Identity)
    ident = variant("identity", lambda d: set_activation(d, "torch.nn.modules.linear.Identity"))
    enc = BiEncoder.from_pretrained(ident)
    assert isinstance(enc.projection[0].activation, torch.nn.Identity)


@pytest.mark.slow
def test_family_prefixes_apply_when_the_folder_has_no_prompts(tmp_path):
    """An ST folder named like multilingual-e5 without prompts keeps E5's "query: " / "passage: "."""
    hf = tiny_bert_folder(tmp_path / "hf", seed=6)
    model = st_model(hf, pooling="mean", normalize=True)
    model.save(str(tmp_path / "multilingual-e5-tiny"))
    cfg = json.loads((tmp_path / "multilingual-e5-tiny" / "config_sentence_transformers.json").read_text())
    cfg["prompts"] = {}
    (tmp_path / "multilingual-e5-tiny" / "config_sentence_transformers.json").write_text(json.dumps(cfg))
    enc = BiEncoder.from_pretrained(tmp_path / "multilingual-e5-tiny")
    assert (enc.config.query_prefix, enc.config.passage_prefix) == ("query: ", "passage: ")
    # and the folder's max_seq_length caps the default lengths
    folder = tmp_path / "capped"
    model.save(str(folder))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 20}))
    enc = BiEncoder.from_pretrained(folder)
    assert (enc.config.max_query_length, enc.config.max_passage_length) == (20, 20)
    assert BiEncoder.from_pretrained(folder, max_passage_length=40).config.max_passage_length == 40


@pytest.mark.slow
def test_hub_name_in_the_local_cache_keeps_its_dense_layer(tmp_path):
    """A sentence-transformers model loaded by Hub name (offline, from the Hugging Face cache) reads
    its modules too: the LaBSE case, where a Hub name used to lose the Dense pooler."""

    hf = tiny_bert_folder(tmp_path / "hf", seed=7, pooler=True)
    model = st_model(hf, pooling="cls", dense=[Dense(16, 16)], normalize=True)
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--someone--labse-tiny"
    model.save(str(repo / "snapshots" / commit))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    expected = model.encode(TEXTS, convert_to_numpy=True)
    np.save(tmp_path / "expected.npy", expected)
    code = (
        "import numpy as np, torch\n"
        "from hybrid_ir.modeling.biencoder import BiEncoder\n"
        "enc = BiEncoder.from_pretrained('someone/labse-tiny').eval()\n"
        "assert enc.projection is not None and enc.config.pooling == 'cls', enc.config\n"
        "with torch.no_grad():\n"
        f"    got = enc.embed({TEXTS!r}, 'passage').numpy()\n"
        f"np.testing.assert_allclose(got, np.load({str(tmp_path / 'expected.npy')!r}), atol=1e-5)\n"
        "print('ok')\n"
    )
    run_offline(code, tmp_path / "cache")
