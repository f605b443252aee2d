"""The sub-commands of ``hybrid-ir`` (the top layer, with :mod:`hybrid_ir.cli`).

Each module defines ``register(subparsers)``, which adds its parser and sets ``func``; the work itself
is done by the layers below (data, sampling, training, evaluation, experiments).
"""
