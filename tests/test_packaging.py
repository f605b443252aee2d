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
