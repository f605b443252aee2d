"""Sub-commands of ``hybrid-ir``: each module defines ``register(parser)`` that sets ``func``."""
