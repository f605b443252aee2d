"""Download the pinned benchmark files (LAReQA, MIRACL topics/qrels) into a data folder.

For machines with internet and no copy of ``../shared/data``::

    python tools/fetch_data.py --out data
    export HYBRID_IR_DATA_DIR=$PWD/data

Every file is checked against the SHA-256 sums shipped with the package before it is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hybrid_ir.data.sources import download, pinned_checksums, source_url
from hybrid_ir.errors import HybridIRError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="data folder to fill")
    args = parser.parse_args()
    out = Path(args.out)
    for rel in sorted(pinned_checksums()):
        target = out / rel
        if target.is_file():
            continue
        try:
            source_url(rel)
        except HybridIRError:
            continue  # a README kept beside the data, not needed by the package
        download(rel, target)
        print(f"fetched {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
