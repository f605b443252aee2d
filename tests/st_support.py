"""Tiny sentence-transformers models built locally (no Hub): a word-level tokenizer and a random BERT.

The tokenizer knows a fixed word list, so every text made of those words encodes and decodes
exactly (the tests that record what a trainer consumed read the texts back from token ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BASE_WORDS = ["query", "passage", ":", "the", "capital", "of", "is", "where", "what", "a", "b", "c", "?", "."]


def word_tokenizer(words: Iterable[str] = ()) -> Any:
    """A ``PreTrainedTokenizerFast`` with a word-level vocabulary: specials + BASE_WORDS + ``words``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for word in [*SPECIALS, *BASE_WORDS, *words]:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )


def tiny_bert_folder(
    folder: Path, seed: int = 0, hidden: int = 16, words: Iterable[str] = (), pooler: bool = False
) -> Path:
    """Save a random 1-layer BERT (``hidden`` wide) and its word tokenizer as a Hugging Face folder."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = word_tokenizer(words)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=pooler)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def st_model(
    hf_folder: Path,
    pooling: str = "mean",
    dense: Sequence[Any] = (),
    normalize: bool = True,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
) -> Any:
    """A ``SentenceTransformer`` over ``hf_folder``: Transformer -> Pooling -> ``dense`` -> Normalize?"""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(hf_folder))
    modules = [transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling), *dense]
    if normalize:
        modules.append(Normalize())
    return SentenceTransformer(
        modules=modules, prompts=prompts, default_prompt_name=default_prompt_name, device="cpu"
    )


def run_offline(code: str, hub_cache: Path) -> None:
    """Run ``code`` in a fresh Python process that sees only ``hub_cache`` as its (offline) Hugging Face
    Hub cache, and check that it ended by printing ``ok``."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
