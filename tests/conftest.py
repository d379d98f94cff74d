"""Shared fixtures: the registry, tiny specs, the CLI runner, a finished tiny run.

Plain helpers live in ``helpers.py``; test modules import those, never this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import PUBLISHABLE_GENERATORS, finished_tiny_run, tiny_spec_text

# One torch (OpenMP) thread, in this process and every `bench run` subprocess, set before
# any test module imports torch: the tiny networks run no faster on two, and on cores
# shared with other work the waiting thread's spin multiplied the CPU time (a contract-kit
# test took 15-90 CPU s instead of under 1 s beside a running benchmark). A value set
# outside pytest wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def registry():
    """The registry of every installed plugin (built-ins through entry points)."""
    from dg2bench.contracts.plugin_manager import get_registry

    return get_registry()


@pytest.fixture
def write_spec(tmp_path):
    """Write a tiny spec to ``tmp_path/spec.toml``; keyword arguments as :func:`tiny_spec_text`."""

    def write(text: str | None = None, **kwargs) -> Path:
        path = tmp_path / "spec.toml"
        path.write_text(text if text is not None else tiny_spec_text(**kwargs))
        return path

    return write


@pytest.fixture
def bench(capsys):
    """Run ``bench ARGS`` in-process through its real entry point; returns (exit code, stdout, stderr)."""
    from dg2bench.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished tiny `bench run` (cyclegan, wgan, baseline; quality scored): ``(spec, results)``.

    Session-scoped: the export, figures and published-tables tests share it (never write into it).
    """
    # 12 fakes: more than a figure shows (8), so an export has some to leave out.
    return finished_tiny_run(tmp_path_factory.mktemp("tiny-run"), PUBLISHABLE_GENERATORS, fakes=12)
