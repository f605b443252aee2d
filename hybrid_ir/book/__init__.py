"""What only the book's chapters need (the top layer with the command line).

- :mod:`~hybrid_ir.book.profiles`: the run profiles (``ci``, ``default``, ``colab``, ``colab-cpu``);
- :mod:`~hybrid_ir.book.notebook`: the set-up of a chapter's first cell;
  :mod:`~hybrid_ir.book.timing`: the time it expects;
- :mod:`~hybrid_ir.book.recorded`: where the recorded results are; :mod:`~hybrid_ir.book.recorder`: the
  numbers a chapter states, saved for the tests;
- :mod:`~hybrid_ir.book.live`: the chapters' live training configurations and live evaluation;
- :mod:`~hybrid_ir.book.tables`, :mod:`~hybrid_ir.book.vocabulary`: how numbers, tables and verdicts print;
  :mod:`~hybrid_ir.book.prose`: showing generated sentences, finding a claim by its id, pairing seeds;
- :mod:`~hybrid_ir.book.walkthrough` (chapters 1-3), :mod:`~hybrid_ir.book.evaluation_views` (4-5),
  :mod:`~hybrid_ir.book.question_views` (7, 10): what only lays a chapter's results out;
- :mod:`~hybrid_ir.book.plotting`: the seaborn style and one fixed colour per language;
- :mod:`~hybrid_ir.book.findings`: the introduction's findings, written from ``results/`` at build time.
"""

from __future__ import annotations

from hybrid_ir.book.notebook import setup_notebook
from hybrid_ir.book.plotting import language_palette, use_style
from hybrid_ir.book.profiles import Profile, get_profile
from hybrid_ir.book.recorded import recorded_experiment
from hybrid_ir.book.recorder import Recorder

__all__ = [
    "Profile",
    "Recorder",
    "get_profile",
    "language_palette",
    "recorded_experiment",
    "setup_notebook",
    "use_style",
]
