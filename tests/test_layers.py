"""The folders are the layers: the import-linter contract of pyproject.toml holds, and no
two packages of dg2bench import each other, directly or round a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

grimp = pytest.importorskip("grimp", reason="import-linter is not installed: pip install -e '.[test]'")


def _package_graph() -> dict[str, set[str]]:
    """``dg2bench.<package>`` -> the other packages of dg2bench it imports (the root module left out)."""
    graph = grimp.build_graph("dg2bench")

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            source, target = package(module), package(imported)
            if "dg2bench" not in (source, target) and source != target:
                edges.setdefault(source, set()).add(target)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``edges`` as ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_one_and_only_one_that_exists():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_the_packages_of_dg2bench():
    assert find_cycle(_package_graph()) is None


def test_the_layers_contract_holds():
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_the_harness_never_imports_a_plugin():
    """Plugins arrive through entry points; the core knows none by module (grimp cannot see
    ``plugins/``, which is installed as ``dg2bench.plugins`` from outside ``harness/``)."""
    offenders = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names
                          if name == "dg2bench.plugins" or name.startswith("dg2bench.plugins.")]
    assert not offenders
