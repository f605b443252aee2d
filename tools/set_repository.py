"""Set (or check) the book's public repository URL: one source, every place that needs it.

The source is ``repository.url`` and ``repository.branch`` in ``_config.yml``. The chapters need it in
two places that must agree with it: the "Open in Colab" link of each chapter (a text link, so it
renders offline too) and the ``git clone`` of each chapter's Colab set-up cell.

    python tools/set_repository.py https://github.com/OWNER/REPO [--branch main]   # set it everywhere
    python tools/set_repository.py --check                                          # exit 1 if anything disagrees

Run it once when the book is published under its final address.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GITHUB = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+$")
COLAB_LINK = re.compile(r"\[[^\]]*\]\(https://colab\.research\.google\.com/github/[^)]*\)|"
                        r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
CLONE_URL = re.compile(r'"https://github\.com/[\w.-]+/[\w.-]+"')


def configured(root: Path = ROOT) -> tuple[str, str]:
    """(url, branch) from ``_config.yml``."""
    import yaml

    repo = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))["repository"]
    return str(repo["url"]).rstrip("/"), str(repo.get("branch", "main"))


def colab_link(url: str, branch: str, notebook: str) -> str:
    slug = url.removeprefix("https://github.com/")
    return f"[Open this chapter in Colab](https://colab.research.google.com/github/{slug}/blob/{branch}/notebooks/{notebook})"


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb"))


def problems(root: Path = ROOT) -> list[str]:
    """Every place that disagrees with ``_config.yml`` (empty when all agree)."""
    url, branch = configured(root)
    found = []
    for nb_path in notebooks(root):
        cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
        first = "".join(cells[0]["source"])
        if colab_link(url, branch, nb_path.name) not in first:
            found.append(f"{nb_path.name}: the Colab link of the first cell is not {colab_link(url, branch, nb_path.name)}")
        if "colab-badge.svg" in first:
            found.append(f"{nb_path.name}: a remote badge image (broken offline)")
        for cell in cells:
            for clone in CLONE_URL.findall("".join(cell["source"])) if cell["cell_type"] == "code" else []:
                if clone.strip('"') != url:
                    found.append(f"{nb_path.name}: the set-up cell clones {clone}, not {url}")
    return found


def set_repository(url: str, branch: str, root: Path = ROOT) -> None:
    if not GITHUB.match(url):
        raise SystemExit(f"set_repository: {url!r} is not https://github.com/OWNER/REPO")
    config = root / "_config.yml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(  url: ).*$", rf"\g<1>{url}", text, count=1)
    text = re.sub(r"(?m)^(  branch: ).*$", rf"\g<1>{branch}", text, count=1)
    config.write_text(text, encoding="utf-8")
    for nb_path in notebooks(root):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            src = "".join(cell["source"])
            new = COLAB_LINK.sub(colab_link(url, branch, nb_path.name), src) if i == 0 else src
            if cell["cell_type"] == "code":
                new = CLONE_URL.sub(f'"{url}"', new)
            if new != src:
                cell["source"] = new.splitlines(keepends=True)
        nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="https://github.com/OWNER/REPO")
    parser.add_argument("--branch", default=None, help="default: the branch in _config.yml")
    parser.add_argument("--check", action="store_true", help="only report places that disagree")
    args = parser.parse_args(argv)
    if not args.check:
        if not args.url:
            parser.error("give the repository URL, or --check")
        set_repository(args.url.rstrip("/"), args.branch or configured()[1])
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
