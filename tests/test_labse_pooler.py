"""A plain Hugging Face LaBSE (no ``modules.json``) keeps its BERT pooler, as LaBSE defines it.

LaBSE's sentence embedding is the L2-normalised pooler output ``tanh(W h_[CLS] + b)``. Ports such as
``setu4993/LaBSE`` are a ``BertModel`` checkpoint with ``pooler.dense.*`` weights and a WordPiece
tokenizer, and no sentence-transformers files. Here a random tiny BERT with a pooler and a WordPiece
tokenizer is saved in a folder named like such a port; the bi-encoder must give
``normalize(BertModel(...).pooler_output)`` and the same vectors as sentence-transformers'
Transformer -> Pooling(cls) -> Dense(tanh, the pooler's weights) -> Normalize.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from hybrid_ir.modeling.biencoder import BiEncoder
from hybrid_ir.modeling.encoders import keeps_pooler, model_family

st = pytest.importorskip("sentence_transformers")
from sentence_transformers.sentence_transformer.modules import Dense  # noqa: E402
from st_support import run_offline, st_model  # noqa: E402

WORDS = ["where", "is", "the", "capital", "of", "france", "paris", "lies", "on", "seine", "?", ".",
         "##s", "##ine", "a", "b", "query", "passage", ":"]
TEXTS = ["where is the capital of france ?", "paris lies on the seine .", "a b", "capitals of a b ? paris"]
HIDDEN = 16


def labse_port(folder: Path, seed: int = 0, pooler: bool = True) -> Path:
    """A random 1-layer ``BertModel`` (with its pooler unless ``pooler=False``) and a WordPiece
    ``BertTokenizerFast``, saved as a Hugging Face folder (the layout of ``setu4993/LaBSE``)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=False, model_max_length=512)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=2 * HIDDEN, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
        architectures=["BertModel"],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=pooler)
        if pooler:  # a visible pooler: random weights and bias, not the small default initialisation
            torch.nn.init.normal_(model.pooler.dense.weight, std=0.5)
            torch.nn.init.normal_(model.pooler.dense.bias, std=0.5)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _bert_outputs(folder: Path, texts: list[str]):
    """``(last_hidden_state, pooler_output)`` of the checkpoint loaded by transformers itself."""
    from transformers import AutoTokenizer, BertModel

    tok = AutoTokenizer.from_pretrained(folder)
    bert = BertModel.from_pretrained(folder).eval()
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = bert(**batch)
    return out.last_hidden_state, out.pooler_output, batch["attention_mask"]


def _pooler_tensors(folder: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's ``pooler.dense`` tensors, read from the file (not through hybrid_ir)."""
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "model.safetensors"))
    return {"weight": tensors["pooler.dense.weight"], "bias": tensors["pooler.dense.bias"]}


def _encode(enc: BiEncoder, kind: str = "passage") -> np.ndarray:
    return enc.encode(TEXTS, kind, precision="fp32", device="cpu")


def test_labse_family_names():
    assert model_family("setu4993/LaBSE") == "labse" and keeps_pooler("/models/LaBSE/")
    assert not keeps_pooler("bert-base-multilingual-cased") and not keeps_pooler("my-labse-finetune")


@pytest.mark.slow
def test_plain_labse_folder_keeps_its_pooler(tmp_path):
    folder = labse_port(tmp_path / "setu4993" / "LaBSE", seed=1)
    assert not (folder / "modules.json").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checkpoint with its pooler loads without a warning
        enc = BiEncoder.from_pretrained(folder)
    assert enc.config.pooling == "cls" and (enc.config.query_prefix, enc.config.passage_prefix) == ("", "")
    assert enc.projection is not None and len(enc.projection) == 1
    assert isinstance(enc.projection[0].activation, torch.nn.Tanh) and enc.dim == HIDDEN
    assert enc.encoder.pooler is None  # applied once, by the projection

    # LaBSE's definition: normalize(tanh(W h_[CLS] + b)), from transformers' own pooler
    _, pooled, _ = _bert_outputs(folder, TEXTS)
    expected = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    np.testing.assert_allclose(_encode(enc, "passage"), expected, atol=1e-5)
    np.testing.assert_allclose(_encode(enc, "query"), expected, atol=1e-5)  # no prefixes
    # without the pooler the vectors would differ (the check above can fail)
    hidden, _, _ = _bert_outputs(folder, TEXTS)
    bare = torch.nn.functional.normalize(hidden[:, 0], dim=-1).numpy()
    assert np.abs(bare - expected).max() > 1e-2

    # sentence-transformers over the same weights: Transformer + Pooling(cls) + Dense(tanh) + Normalize
    state = _pooler_tensors(folder)
    dense = Dense(HIDDEN, HIDDEN, activation_function=torch.nn.Tanh(),
                  init_weight=state["weight"], init_bias=state["bias"])
    theirs = st_model(folder, pooling="cls", dense=[dense], normalize=True)
    np.testing.assert_allclose(_encode(enc), theirs.encode(TEXTS, convert_to_numpy=True), atol=1e-5)

    # saved back: a sentence-transformers Dense module, read identically by both libraries
    out = enc.save_pretrained(tmp_path / "saved")
    kinds = [m["type"].rsplit(".", 1)[-1] for m in json.loads((out / "modules.json").read_text())]
    assert kinds == ["Transformer", "Pooling", "Dense", "Normalize"]
    np.testing.assert_array_equal(_encode(BiEncoder.from_pretrained(out)), _encode(enc))
    reloaded = st.SentenceTransformer(str(out), device="cpu")
    np.testing.assert_allclose(reloaded.encode(TEXTS, convert_to_numpy=True), expected, atol=1e-5)


@pytest.mark.slow
def test_labse_folder_without_pooler_weights_warns(tmp_path):
    folder = labse_port(tmp_path / "LaBSE", seed=2, pooler=False)
    with pytest.warns(UserWarning, match=r"without pooler weights \(pooler\.dense\.\*\)") as record:
        enc = BiEncoder.from_pretrained(folder)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    assert enc.projection is None and enc.config.pooling == "cls"
    hidden, _, _ = _bert_outputs(folder, TEXTS)
    expected = torch.nn.functional.normalize(hidden[:, 0], dim=-1).numpy()
    np.testing.assert_allclose(_encode(enc), expected, atol=1e-5)


@pytest.mark.slow
def test_plain_bert_folder_other_than_labse_is_unchanged(tmp_path):
    """Another family's checkpoint keeps no pooler, even when its weights hold one."""
    folder = labse_port(tmp_path / "bert-base-multilingual-tiny", seed=3, pooler=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = BiEncoder.from_pretrained(folder)
    assert enc.projection is None and enc.encoder.pooler is None
    assert (enc.config.pooling, enc.config.passage_prefix) == ("mean", "passage: ")
    prefixed = ["passage: " + t for t in TEXTS]
    hidden, _, mask = _bert_outputs(folder, prefixed)
    m = mask.unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1).numpy()
    np.testing.assert_allclose(_encode(enc), expected, atol=1e-5)


@pytest.mark.slow
def test_labse_hub_name_in_the_local_cache_keeps_its_pooler(tmp_path):
    """``setu4993/LaBSE`` by Hub name, offline from the Hugging Face cache: no modules.json there."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--setu4993--LaBSE"
    snapshot = labse_port(repo / "snapshots" / commit, seed=4)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    _, pooled, _ = _bert_outputs(snapshot, TEXTS)
    np.save(tmp_path / "expected.npy", torch.nn.functional.normalize(pooled, dim=-1).numpy())
    code = (
        "import numpy as np\n"
        "from hybrid_ir.modeling.biencoder import BiEncoder\n"
        "enc = BiEncoder.from_pretrained('setu4993/LaBSE')\n"
        "assert enc.projection is not None and enc.config.pooling == 'cls', enc.config\n"
        f"got = enc.encode({TEXTS!r}, 'passage', precision='fp32', device='cpu')\n"
        f"np.testing.assert_allclose(got, np.load({str(tmp_path / 'expected.npy')!r}), atol=1e-5)\n"
        "print('ok')\n"
    )
    run_offline(code, tmp_path / "cache")
