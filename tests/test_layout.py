"""The layout's own rules: a small base at the top, and readers and models that know nothing of atlases."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import latentatlas

ROOT = Path(latentatlas.__file__).parent
BASE = {"__init__", "errors", "progress", "jsonable", "threads", "atlas", "checks"}


def _imports(path: Path, runtime: bool = False) -> set[str]:
    """Every latentatlas module a file imports, as an absolute dotted name (``runtime``: not those for type checkers)."""
    package = ".".join(("latentatlas", *path.relative_to(ROOT).parent.parts))
    found = set()
    for node in _nodes(ast.parse(path.read_text()), runtime):
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


def _nodes(tree: ast.AST, runtime: bool):
    """The nodes of ``tree``; with ``runtime``, none under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if runtime and isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_nodes(child, runtime)])
            continue
        yield node
        yield from _nodes(node, runtime)


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its ``__init__``)."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(("latentatlas", *(parts[:-1] if parts[-1] == "__init__" else parts)))] = path
    return found


def _import_graph() -> dict[str, set[str]]:
    """Which modules each module runs on import or later (a submodule runs its packages' ``__init__`` too)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path, runtime=True):
            while imported not in modules:  # "pkg.module.name" -> "pkg.module"
                imported = imported.rpartition(".")[0]
            parts = imported.split(".")
            targets |= {".".join(parts[:end]) for end in range(2, len(parts) + 1)}
        graph[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = stack[stack.index(node):]
                del stack[stack.index(node):]
                if len(group) > 1:
                    circles.append(sorted(group))
    return circles


def test_the_top_level_holds_the_base_and_the_facade_only():
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert modules <= BASE and len(modules) <= 8


@pytest.mark.parametrize("package, forbidden", [
    ("sources", ("models", "store", "search", "ops", "datasets", "pipeline")),
    ("models", ("store", "search", "ops", "pipeline")),
    ("search", ("ops", "cli", "server")),
    ("store", ("models", "ops", "search")),
    ("pipeline", ("ops", "cli", "server", "store")),  # the distributors run any command's work, own none
    ("analogues", ("cli", "server", "demos", "ops.search", "ops.search_picture")),
])
def test_packages_import_nothing_above_them(package, forbidden):
    for path in (ROOT / package).rglob("*.py"):
        for name in _imports(path):
            assert not any(name == f"latentatlas.{f}" or name.startswith(f"latentatlas.{f}.") for f in forbidden), \
                f"{path.relative_to(ROOT)} imports {name}"


def test_circles_are_found():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_round_a_circle():
    circles = _circles(_import_graph())
    assert not circles, f"import circles: {circles}"
