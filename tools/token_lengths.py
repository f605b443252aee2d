"""The share of LAReQA questions and candidate sentences each token limit of the book cuts.

Writes ``results/token_lengths.json``, which the reproducibility page reads (its "Token lengths"
section): for XQuAD-R and MLQA-R, with multilingual-e5-small's tokenizer (XLM-R's SentencePiece
vocabulary) and its ``query: `` / ``passage: `` prefixes, the share of questions longer than 32, 48
and 64 tokens and of candidate sentences longer than 64, 96 and 128. Offline; about a minute::

    HYBRID_IR_DATA_DIR=../shared/data .venv/bin/python tools/token_lengths.py
"""

from __future__ import annotations

from pathlib import Path

from hybrid_ir.atomic import write_json
from hybrid_ir.data.lareqa import load_lareqa
from hybrid_ir.data.lengths import truncated_shares
from hybrid_ir.modeling.encoders import xlmr_tokenizer

OUT = Path(__file__).resolve().parents[1] / "results" / "token_lengths.json"
QUERY_LIMITS, PASSAGE_LIMITS = (32, 48, 64), (64, 96, 128)


def main() -> None:
    tokenizer = xlmr_tokenizer()
    out: dict[str, dict] = {"tokenizer": "XLM-R SentencePiece (multilingual-e5-small's)"}
    for name in ("xquad-r", "mlqa-r"):
        ds = load_lareqa(name)
        out[name] = {
            "questions": len(ds.questions),
            "candidates": len(ds.candidates),
            "questions_cut": truncated_shares([q.text for q in ds.questions], tokenizer, QUERY_LIMITS, "query: "),
            "candidates_cut": truncated_shares([c.sentence for c in ds.candidates], tokenizer, PASSAGE_LIMITS,
                                               "passage: "),
        }
    write_json(OUT, out)
    print(OUT.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
