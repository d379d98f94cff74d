"""Documentation stays in step with the code (after datasette's test_docs)."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dg2bench.contracts import hookspecs

from helpers import REPO, tiny_spec_text


def _hook_names() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]


def test_every_hook_is_documented_in_the_plugin_docs():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Writing a plugin"):]
    missing = [name for name in _hook_names() if f"`{name}" not in section]
    assert not missing, f"hooks missing from README 'Writing a plugin': {missing}"


def test_every_hookspec_has_a_docstring():
    for name in _hook_names():
        assert len((getattr(hookspecs, name).__doc__ or "").strip()) > 80, name


def test_changelog_has_an_unreleased_or_version_section():
    text = (REPO / "CHANGELOG.md").read_text()
    assert "## [" in text and "Keep a Changelog" in text


def _readme_plugin_code() -> str:
    """The README's example generator package (``my_gan/__init__.py``), as it stands there."""
    readme = (REPO / "README.md").read_text()
    start = readme.index("```python", readme.index("A complete generator package")) + len("```python")
    return readme[start:readme.index("```", start)]


def test_readme_plugin_example_works(tmp_path, monkeypatch):
    """The README's generator example registers and trains through the harness loop."""
    import types

    import torch

    from dg2bench.contracts.plugin_manager import get_registry
    from dg2bench.contracts.trainable import TrainPlan
    from dg2bench.run.training import ImageBanks, train

    module = types.ModuleType("readme_example")
    monkeypatch.setitem(__import__("sys").modules, "readme_example", module)
    exec(compile(_readme_plugin_code(), "README.md", "exec"), module.__dict__)
    registry = get_registry(extra_plugins=[module])
    info = registry.get("generator", "noisegan")
    assert not info.builtin
    cls = info.cls
    generator = cls(cls.Hyperparameters(**cls.presets["tiny"]), 32)
    plan = TrainPlan(image_size=32, total_steps=3, steps_per_epoch=1, epochs=3, batch_size=4,
                     device=torch.device("cpu"))
    banks = ImageBanks({"defect": torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)})
    train(generator, banks, plan, seed=0, log_every=1, checkpoint_path=tmp_path / "c.pt", stop_after=2)
    outcome = train(cls(generator.hparams, 32), banks, plan, seed=0, log_every=1, checkpoint_path=tmp_path / "c.pt")
    assert outcome.resumed_from_step == 2
    assert generator.generate(2, None).shape == (2, 3, 32, 32)


#: Paths the README shows inside example output, not files of the repository.
EXAMPLE_PATHS = {"benchmarks/x.toml"}


def _readme_paths() -> set[str]:
    """Repository paths the README names (``benchmarks/...``, ``tests/...``, ...), in prose or commands."""
    text = (REPO / "README.md").read_text()
    found = re.findall(r"(?<![\w/.-])((?:harness|plugins|benchmarks|tests|\.ci)/[\w./-]*)", text)
    return {p.rstrip("/.,:") for p in found} - EXAMPLE_PATHS


def test_every_path_the_readme_names_is_in_the_repository():
    paths = _readme_paths()
    assert len(paths) > 10  # the pattern still finds the README's paths
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"README names paths that do not exist: {missing}"
    if (REPO / ".git").exists():  # an ignored or unadded file exists here but not in a clone
        untracked = [p for p in sorted(paths) if not subprocess.run(
            ["git", "ls-files", "--", p], cwd=REPO, capture_output=True, text=True).stdout.strip()]
        assert not untracked, f"README names paths git does not track (ignored or not added): {untracked}"


#: The README plugin's cell, run with a quality score and one classifier: every stage.
README_PLUGIN_SPEC = """
[generators.noisegan]
preset = "tiny"
epochs = 3
"""
#: Stage boundaries in the order a run meets them; each run of the chain resumes from the last.
README_KILL_CHAIN = ["train:3", "generate", "score", "classify", "classify-resnet34:3", "write:record.json"]


def _readme_plugin_pyproject() -> str:
    """The README's complete ``pyproject.toml`` of the example package."""
    readme = (REPO / "README.md").read_text()
    start = readme.index("```toml", readme.index("its complete `pyproject.toml`")) + len("```toml")
    return readme[start:readme.index("```", start)]


@pytest.fixture(scope="module")
def readme_plugin_site(tmp_path_factory) -> Path:
    """The README's example package (its code and ``pyproject.toml``) pip-installed into a folder.

    ``--no-deps`` (dg2bench and torch are installed already) and no build isolation
    (setuptools comes with the test extra): no network needed.
    """
    package = tmp_path_factory.mktemp("my-gan")
    (package / "pyproject.toml").write_text(_readme_plugin_pyproject())
    (package / "my_gan").mkdir()
    (package / "my_gan" / "__init__.py").write_text(_readme_plugin_code())
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q",
                           "--target", str(site), str(package)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return site


@pytest.mark.slow
def test_readme_plugin_pyproject_is_complete_and_installs_the_entry_point(readme_plugin_site):
    pyproject = tomllib.loads(_readme_plugin_pyproject())
    assert pyproject["build-system"]["build-backend"] and pyproject["project"]["name"] == "my-gan"
    assert pyproject["project"]["version"] and "dg2bench" in pyproject["project"]["dependencies"]
    entry_points = next(readme_plugin_site.glob("my_gan-*.dist-info")) / "entry_points.txt"
    assert "[dg2bench]\nnoisegan = my_gan" in entry_points.read_text()


@pytest.mark.slow
@pytest.mark.faults
def test_readme_plugin_killed_at_every_stage_boundary_resumes_to_the_uninterrupted_records(tmp_path,
                                                                                           readme_plugin_site):
    """Installed beside the built-ins as the README says, killed at each stage boundary in turn.

    Each rerun resumes from the boundary the previous one was killed at (a trained
    generator loaded from ``generator.pt``, fakes read back, ...) and must reach the
    next; the last completes with the records of an uninterrupted run.
    """
    from test_faults import _env, _kill, _records, _run, _start_stalled

    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(readme_plugin_site), os.environ.get("PYTHONPATH")]))}
    spec = tmp_path / "spec.toml"
    spec.write_text(tiny_spec_text(generators=README_PLUGIN_SPEC, quality=True, fakes=8)
                    .replace("seeds = 1", "seeds = 1\nbaseline = false"))
    reference = _run(spec, tmp_path / "reference", env=_env(**env))
    assert reference.returncode == 0, reference.stdout + reference.stderr
    results = tmp_path / "results"
    record = results / "cells" / "crackforest" / "noisegan" / "seed0" / "record.json"
    for point in README_KILL_CHAIN:
        _kill(_start_stalled(spec, results, point, tmp_path, **env))
        assert not record.exists(), f"killed at {point}: {record.read_text()}"
    done = _run(spec, results, env=_env(**env))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert _records(results) == _records(tmp_path / "reference")
    assert json.loads(record.read_text())["status"] == "complete"


@pytest.mark.slow
def test_readme_plugin_fixed_and_retried_completes_as_an_uninterrupted_run(tmp_path, monkeypatch, write_spec):
    """Its ``generate`` raises: the cell fails with one line; fixed, ``--retry-failed`` reuses the training."""
    import types

    from test_faults import _records

    from dg2bench.contracts.plugin_manager import get_registry
    from dg2bench.runner import run_benchmark
    from dg2bench.spec import load_spec
    from dg2bench.store.results import ResultStore

    module = types.ModuleType("readme_example")
    monkeypatch.setitem(__import__("sys").modules, "readme_example", module)
    exec(compile(_readme_plugin_code(), "README.md", "exec"), module.__dict__)
    registry = get_registry(extra_plugins=[module])
    spec = load_spec(write_spec(tiny_spec_text(generators=README_PLUGIN_SPEC, classifier_steps=2)
                                .replace("seeds = 1", "seeds = 1\nbaseline = false")), registry)
    run_benchmark(spec, registry, ResultStore(tmp_path / "reference"))

    def generate(self, n, source):
        raise RuntimeError("a bug in generate")

    with monkeypatch.context() as patched:
        patched.setattr(module.NoiseGan, "generate", generate)
        failed = run_benchmark(spec, registry, ResultStore(tmp_path / "results"))
    assert failed.failed == ["crackforest/noisegan/seed0"]
    reason = ResultStore(tmp_path / "results").records()[0]["reason"]
    assert "generator 'noisegan'" in reason and "generate raised RuntimeError: a bug in generate" in reason
    retried = run_benchmark(spec, registry, ResultStore(tmp_path / "results"), retry_failed=True)
    assert retried.ran == ["crackforest/noisegan/seed0"] and not retried.failed, \
        ResultStore(tmp_path / "results").records()[0].get("reason")
    assert _records(tmp_path / "results") == _records(tmp_path / "reference")
