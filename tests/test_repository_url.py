"""The repository URL has one source (_config.yml); the Colab links and set-up cells agree with it."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("set_repository", ROOT / "tools" / "set_repository.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def test_everything_agrees_with_config() -> None:
    assert tool.problems() == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copy2(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    return tmp_path


def test_setting_a_new_address_changes_every_place(copy: Path) -> None:
    tool.set_repository("https://github.com/someone/multilingual-book", "pages", copy)
    assert tool.configured(copy) == ("https://github.com/someone/multilingual-book", "pages")
    assert tool.problems(copy) == []
    text = "".join(p.read_text() for p in (copy / "notebooks").glob("*.ipynb"))
    assert "hybrid-ir/hybrid-ir-book" not in text
    chapters = len(list((copy / "notebooks").glob("[0-9][0-9]_*.ipynb")))  # one link each
    assert text.count("colab.research.google.com/github/someone/multilingual-book/blob/pages/notebooks/") == chapters


def test_disagreement_is_reported(copy: Path) -> None:
    nb_path = copy / "notebooks" / "03_training.ipynb"
    nb = json.loads(nb_path.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and "https://github.com/" in src:
            cell["source"] = src.replace("hybrid-ir/hybrid-ir-book", "old/place").splitlines(keepends=True)
    nb_path.write_text(json.dumps(nb))
    assert any("03_training.ipynb: the set-up cell clones" in p for p in tool.problems(copy))


def test_bad_address_refused(copy: Path) -> None:
    with pytest.raises(SystemExit, match=r"not https://github\.com/OWNER/REPO"):
        tool.set_repository("https://example.org/x", "main", copy)
