"""What only the book's chapters need (the top layer with the command line).

- :mod:`~hybrid_ir.book.chapters`: profiles, notebook set-up, recorded results, the chapter recorder;
- :mod:`~hybrid_ir.book.plotting`: the seaborn style and one fixed colour per language;
- :mod:`~hybrid_ir.book.findings`: the introduction's findings, written from ``results/`` at build time.
"""

from __future__ import annotations

from hybrid_ir.book.chapters import (
    Profile,
    Recorder,
    get_profile,
    recorded_experiment,
    setup_notebook,
)
from hybrid_ir.book.plotting import language_palette, use_style

__all__ = [
    "Profile",
    "Recorder",
    "get_profile",
    "language_palette",
    "recorded_experiment",
    "setup_notebook",
    "use_style",
]
