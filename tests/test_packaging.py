"""Installed import names are dg2bench / dg2bench.plugins, never bare harness / plugins."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile

import pytest

from helpers import REPO


def _declared_packages() -> list[str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]


def test_every_package_folder_is_declared():
    found = set()
    for top, name in (("harness", "dg2bench"), ("plugins", "dg2bench.plugins")):
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / top)
            found.add(".".join([name, *rel.parts]))
    assert found == set(_declared_packages())


def _run_outside_checkout(tmp_path, code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.slow
def test_installed_environment_has_no_bare_names(tmp_path):
    """The environment the tests run in (the README's editable install)."""
    assert _run_outside_checkout(tmp_path, "import plugins").returncode != 0
    assert _run_outside_checkout(tmp_path, "import harness").returncode != 0
    ok = _run_outside_checkout(tmp_path, "import dg2bench.plugins.datasets.crackforest, dg2bench; print('ok')")
    assert ok.stdout.strip() == "ok", ok.stderr
    bench = subprocess.run([sys.executable, "-c", "from dg2bench.cli import main; main(['plugins'])"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bench.returncode == 0 and "crackforest" in bench.stdout, bench.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("setuptools", minversion="69")  # the test extra installs it; no network needed
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(REPO)], check=True, capture_output=True, timeout=300)
    return next(out.glob("dg2bench-*.whl"))


@pytest.mark.slow
def test_wheel_maps_folders_under_dg2bench(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert "harness" not in tops and "plugins" not in tops
    assert "dg2bench/plugins/generators/dg2gan.py" in names
    # Every module of every subpackage ships (a subpackage missing from pyproject's list would not).
    core = {f"dg2bench/{p.relative_to(REPO / 'harness').as_posix()}" for p in (REPO / "harness").rglob("*.py")}
    assert core - set(names) == set()
    assert "dg2bench/contracts/hookspecs.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[dg2bench]" in text and "dg2gan = dg2bench.plugins.generators.dg2gan" in text
    assert "bench = dg2bench.cli:main" in text


@pytest.mark.slow
def test_wheel_install_imports_and_registers(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # Only the wheel's copy of dg2bench may be visible: drop the editable finder's path hooks.
    code = ("import sys; sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()];"
            "import dg2bench, dg2bench.plugins; assert dg2bench.__file__.startswith(%r), dg2bench.__file__;"
            "from dg2bench.contracts.plugin_manager import get_registry; r = get_registry();"
            "print(sorted(r.names('generator')))" % str(target))
    result = _run_outside_checkout(tmp_path, code, env={"PYTHONPATH": str(target)})
    assert "dg2gan" in result.stdout, result.stderr
    assert _run_outside_checkout(tmp_path, "import plugins", env={"PYTHONPATH": str(target)}).returncode != 0
