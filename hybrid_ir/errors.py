"""The one exception type the package raises for bad input, with a message meant for people."""

from __future__ import annotations


class HybridIRError(Exception):
    """Bad input or an unusable environment: the message says what is wrong and what to do.

    The command line prints the message (no traceback) and exits with status 2.
    """
