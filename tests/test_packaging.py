"""environment.yml lists the same dependencies as pyproject.toml; the console script exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r for r in project["dependencies"]}
    for reqs in project["optional-dependencies"].values():
        for r in reqs:
            if not r.startswith("hybrid-ir"):
                wanted[_name(r)] = r
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r): r for r in pip_list if not r.startswith("-e")}
    assert set(listed) == set(wanted)
    for name, req in wanted.items():
        assert listed[name].replace(" ", "") == req.replace(" ", ""), name


def test_constraints_pin_torch() -> None:
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().split()


def test_module_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hybrid_ir", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("hybrid-ir ")


def test_import_hybrid_ir_does_not_need_sentence_transformers() -> None:
    """sentence-transformers is the optional ``st`` extra: the package and its command line import
    without it, and the integration says how to install it."""
    code = (
        "import sys; sys.modules['sentence_transformers'] = None\n"  # as if it were not installed
        "import hybrid_ir, hybrid_ir.cli, hybrid_ir.modeling, hybrid_ir.training, hybrid_ir.evaluation\n"
        "import hybrid_ir.integrations\n"
        "try:\n"
        "    import hybrid_ir.integrations.sentence_transformers\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "hybrid-ir[st]"' in out.stdout


def _notebook_imports(path: Path) -> set[str]:
    """Top-level module names imported by a notebook's code cells (magics and shell lines skipped)."""
    import ast
    import json

    names: set[str] = set()
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(line for line in "".join(cell["source"]).splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def _declared_distributions(extras: tuple[str, ...] = ()) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return {_name(r) for r in reqs}


def test_every_module_a_chapter_imports_is_declared() -> None:
    """A chapter must run where only the declared dependencies are installed (Colab installs the
    package without the dev / test / book extras): every import resolves to the standard library,
    Jupyter itself (IPython), the package, or a declared distribution (chapter 9: the `st` extra,
    which its set-up cell installs)."""
    import importlib.metadata as md

    owners = md.packages_distributions()
    always = set(sys.stdlib_module_names) | {"hybrid_ir", "IPython", "google"}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        extras = ("st",) if "sentence_transformers" in path.name else ()
        declared = _declared_distributions(extras)
        for module in sorted(_notebook_imports(path) - always):
            dists = {d.lower().replace("_", "-") for d in owners.get(module, [module])}
            assert dists & declared, f"{path.name} imports {module} ({sorted(dists)}), not a declared dependency"
