"""The package's architecture, read from its imports (``ast``; nothing is executed).

``hybrid_ir`` is split into subpackages by layer, lowest first::

    (top-level utilities: errors, atomic, env, the package root)
    data -> modeling -> sampling -> training -> evaluation -> experiments -> integrations -> book -> commands / cli

A module may import its own layer and the layers below it, never a higher one, and no chain of
imports may lead back to where it started (an import circle). Imports under ``if TYPE_CHECKING:``
and inside functions count too: a circle that only shows up at type-checking time or at call time
is still a circle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hybrid_ir"

#: Layer of each top-level name inside ``hybrid_ir`` (a subpackage or a top-level module).
LAYERS: dict[str, int] = {
    "": 0, "errors": 0, "atomic": 0, "env": 0, "locks": 0,
    "data": 1,
    "modeling": 2,
    "sampling": 3,
    "training": 4,
    "evaluation": 5,
    "experiments": 6,
    "integrations": 7,
    "book": 8,
    "commands": 9, "cli": 9, "__main__": 9,
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``hybrid_ir/training/trainer.py`` -> ``hybrid_ir.training.trainer`` (a package -> its name)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imported_modules(path: Path, modules: dict[str, Path], root: Path = PACKAGE) -> set[str]:
    """Every module of the package that ``path`` imports (``from pkg import submodule`` -> submodule)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            # ``import hybrid_ir.a.b`` names the innermost module that exists
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top not in LAYERS:
        raise KeyError(f"{module}: no layer assigned (add its subpackage to LAYERS and to the docs)")
    return LAYERS[top]


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = all_modules(root)
    return {m: imported_modules(p, modules, root) for m, p in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)})"
        for src, dsts in graph.items() for dst in dsts if layer_of(dst) > layer_of(src)
    )


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


# ---------------------------------------------------------------------------------------- tests
def test_every_module_has_a_layer() -> None:
    for module in all_modules():
        layer_of(module)


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_circles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_every_subpackage_says_what_it_holds() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.splitlines()) >= 2, f"{init}: a docstring saying what the subpackage holds"


# The checker itself must be able to fail: a small fake package with the faults it looks for.
def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "hybrid_ir"
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("files", "upward", "cycle"),
    [
        # data imports training: upward
        ({"__init__.py": "", "data/__init__.py": "", "data/a.py": "from hybrid_ir.training import t\n",
          "training/__init__.py": "", "training/t.py": "import hybrid_ir.data.a\n"}, True, True),
        # two modules of one layer importing each other, one of them only for type checking
        ({"__init__.py": "", "sampling/__init__.py": "", "sampling/s.py": "from .stats import f\n",
          "sampling/stats.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                               "    from hybrid_ir.sampling.s import Batch\n"}, False, True),
        # a module importing its own package's __init__, which imports it
        ({"__init__.py": "", "training/__init__.py": "from hybrid_ir.training.t import train\n",
          "training/t.py": "def f():\n    from hybrid_ir.training import train\n"}, False, True),
        # a clean package
        ({"__init__.py": "from hybrid_ir.errors import E\n", "errors.py": "",
          "data/__init__.py": "from hybrid_ir.data.a import x\n", "data/a.py": "from hybrid_ir import errors\n",
          "training/__init__.py": "", "training/t.py": "from hybrid_ir.data import a\n"}, False, False),
    ],
)
def test_checker_finds_deliberate_faults(tmp_path: Path, files: dict[str, str], upward: bool, cycle: bool) -> None:
    graph = import_graph(_fake_package(tmp_path, files))
    assert bool(upward_imports(graph)) is upward
    assert (find_cycle(graph) is not None) is cycle
