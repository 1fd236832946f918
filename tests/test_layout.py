"""The layout's own rules: a small base at the top, and readers and models that know nothing of atlases."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import latentatlas

ROOT = Path(latentatlas.__file__).parent
BASE = {"__init__", "errors", "progress", "jsonable", "threads", "atlas", "checks"}


def _imports(path: Path) -> set[str]:
    """Every latentatlas module a file imports, as an absolute dotted name."""
    package = ".".join(("latentatlas", *path.relative_to(ROOT).parent.parts))
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("latentatlas")}


def test_the_top_level_holds_the_base_and_the_facade_only():
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert modules <= BASE and len(modules) <= 8


@pytest.mark.parametrize("package, forbidden", [
    ("sources", ("models", "store", "search", "ops", "datasets", "pipeline")),
    ("models", ("store", "search", "ops", "pipeline")),
    ("search", ("ops", "cli", "server")),
    ("store", ("models", "ops", "search")),
])
def test_packages_import_nothing_above_them(package, forbidden):
    for path in (ROOT / package).rglob("*.py"):
        for name in _imports(path):
            assert not any(name == f"latentatlas.{f}" or name.startswith(f"latentatlas.{f}.") for f in forbidden), \
                f"{path.relative_to(ROOT)} imports {name}"
