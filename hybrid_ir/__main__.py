"""``python -m hybrid_ir`` runs the command line."""

import sys

from hybrid_ir.cli import main

sys.exit(main())
