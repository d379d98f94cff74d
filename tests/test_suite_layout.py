"""How the test suite itself is laid out: fixtures in conftest.py, plain helpers in helpers.py."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports by name (``import a.b``, ``from a import b``, ``from . import b``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module:
                names.add(node.module)
            if not node.module or node.level:
                names.update(alias.name for alias in node.names)
    return names


def test_no_test_module_imports_conftest():
    """pytest loads conftest.py itself; importing it as a module loads it a second time
    (two copies of its fixtures and state). Plain helpers live in helpers.py."""
    importing = sorted(path.name for path in TESTS.glob("*.py")
                       if path.name != "conftest.py" and "conftest" in path.read_text(encoding="utf-8")  # parse few
                       and any(name.split(".")[-1] == "conftest" for name in _imported_modules(path)))
    assert not importing, f"{importing} import conftest: move what they use to tests/helpers.py"


def test_the_import_walk_sees_each_form(tmp_path):
    forms = ["import conftest", "from conftest import x", "from . import conftest", "import tests.conftest as c"]
    for k, line in enumerate(forms):
        path = tmp_path / f"m{k}.py"
        path.write_text(f"{line}\n", encoding="utf-8")
        assert any(name.split(".")[-1] == "conftest" for name in _imported_modules(path)), line
    (tmp_path / "ok.py").write_text("from helpers import REPO\n", encoding="utf-8")
    assert _imported_modules(tmp_path / "ok.py") == {"helpers"}
