"""Documentation stays in step with the code (after datasette's test_docs).

The README is the front page; the rest lives in the MkDocs site under ``docs/``
(``mkdocs build --strict`` in ``.ci/run`` checks its links). These tests check what a
build cannot: that the pages' code runs, the paths they name exist, and the tables
that mirror code equal what ``docs/gen_tables.py`` makes from it.
"""

from __future__ import annotations

import importlib.util
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

DOCS = REPO / "docs"
TUTORIAL = DOCS / "plugins" / "tutorial.md"


def _hook_names() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]


def test_every_hook_is_documented_in_the_plugin_docs():
    page = (DOCS / "plugins" / "hooks.md").read_text()
    missing = [name for name in _hook_names() if f"`{name}" not in page]
    assert not missing, f"hooks missing from docs/plugins/hooks.md: {missing}"


def test_every_hookspec_has_a_docstring():
    for name in _hook_names():
        assert len((getattr(hookspecs, name).__doc__ or "").strip()) > 80, name


def test_changelog_has_an_unreleased_or_version_section():
    text = (REPO / "CHANGELOG.md").read_text()
    assert "## [" in text and "Keep a Changelog" in text


def _fenced(text: str, fence: str, after: str) -> str:
    """The first ``fence`` code block (e.g. ```` ```python ````) after the phrase ``after``."""
    start = text.index(fence, text.index(after)) + len(fence)
    return text[start:text.index("```", start)]


def _tutorial_plugin_code() -> str:
    """The tutorial's example generator package (``my_gan/__init__.py``), as it stands there."""
    return _fenced(TUTORIAL.read_text(), "```python", "A complete generator package")


def test_tutorial_plugin_example_works(tmp_path, monkeypatch):
    """The tutorial's generator example registers and trains through the harness loop."""
    import types

    import torch

    from dg2bench.contracts.plugin_manager import get_registry
    from dg2bench.contracts.trainable import TrainPlan
    from dg2bench.run.training import ImageBanks, train

    module = types.ModuleType("tutorial_example")
    monkeypatch.setitem(__import__("sys").modules, "tutorial_example", module)
    exec(compile(_tutorial_plugin_code(), str(TUTORIAL), "exec"), module.__dict__)
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


TESTING = DOCS / "plugins" / "testing.md"


def test_tutorial_plugin_contract_test_runs_the_kit_on_the_example(monkeypatch):
    """The testing page's `my-gan/tests/test_contract.py` passes on the tutorial's plugin (the kit runs)."""
    import types

    module = types.ModuleType("my_gan")
    monkeypatch.setitem(__import__("sys").modules, "my_gan", module)
    exec(compile(_tutorial_plugin_code(), str(TUTORIAL), "exec"), module.__dict__)
    test_module: dict = {}
    exec(compile(_fenced(TESTING.read_text(), "```python", "run the contract test kit"), str(TESTING), "exec"),
         test_module)
    test_module["test_noisegan_honours_the_dg2bench_contract"]()


#: Paths the docs show inside example output, not files of the repository.
EXAMPLE_PATHS = {"benchmarks/x.toml"}


def _doc_pages() -> list[Path]:
    """The README and every page of the docs site."""
    return [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]


def _named_paths(page: Path) -> set[str]:
    """Repository paths a page names (``benchmarks/...``, ``tests/...``, ...), in prose or commands.

    Link targets are left out: a docs page links relative to itself (``plugins/hooks.md``),
    and ``mkdocs build --strict`` checks those links.
    """
    text = re.sub(r"\]\([^)\s]*\)", "]", page.read_text())
    found = re.findall(r"(?<![\w/.-])((?:harness|plugins|benchmarks|tests|docs|\.ci)/[\w./-]*)", text)
    return {p.rstrip("/.,:") for p in found} - EXAMPLE_PATHS


@pytest.mark.parametrize("page", _doc_pages(), ids=lambda page: str(page.relative_to(REPO)))
def test_every_path_the_docs_name_is_in_the_repository(page):
    paths = _named_paths(page)
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"{page.name} names paths that do not exist: {missing}"
    if (REPO / ".git").exists():  # an ignored or unadded file exists here but not in a clone
        untracked = [p for p in sorted(paths) if not subprocess.run(
            ["git", "ls-files", "--", p], cwd=REPO, capture_output=True, text=True).stdout.strip()]
        assert not untracked, f"{page.name} names paths git does not track (ignored or not added): {untracked}"


def test_the_path_pattern_still_finds_the_paths():
    assert len(_named_paths(REPO / "README.md")) > 10
    assert len(set().union(*map(_named_paths, _doc_pages()))) > 50


def test_every_readme_link_into_the_docs_leads_to_a_page():
    links = re.findall(r"\]\(((?:docs/)[^)#\s]+)(?:#[^)]*)?\)", (REPO / "README.md").read_text())
    assert len(links) > 10
    missing = sorted({link for link in links if not (REPO / link).is_file()})
    assert not missing, f"README links to docs pages that do not exist: {missing}"


def test_the_readme_keeps_the_commands_ci_runs():
    """``.ci/run`` follows the README's "Install" and "Run the tests": the two must agree."""
    readme, ci = (REPO / "README.md").read_text(), (REPO / ".ci" / "run").read_text()
    for heading in ("## Install", "## Run the tests"):
        command = _fenced(readme, "```bash", heading).strip()
        assert command in ci, f"README '{heading}' command {command!r} is not in .ci/run"


def _gen_tables():
    spec = importlib.util.spec_from_file_location("gen_tables", DOCS / "gen_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_docs_tables_equal_what_the_code_makes():
    """The tables that mirror code (spec keys, contract rules, presets, layers): regenerate, never edit."""
    gen = _gen_tables()
    text = "".join(page.read_text() for page in gen.pages())
    for name in gen.TABLES:   # every table is placed somewhere, once
        assert text.count(gen.BLOCK_START.format(name=name)) == 1, name
    stale = gen.stale_pages()
    assert not stale, f"out of date (run python docs/gen_tables.py): {sorted(str(p) for p in stale)}"


def test_generated_tables_follow_a_change_in_the_code():
    gen = _gen_tables()
    page = (DOCS / "specs.md").read_text()
    changed = gen.regenerate(page, {**{name: make() for name, make in gen.TABLES.items()},
                                    "spec-metrics": "| key |\n| --- |\n| `changed` |"})
    assert changed != page and "| `changed` |" in changed
    assert gen.regenerate(changed, {name: make() for name, make in gen.TABLES.items()}) == page
    with pytest.raises(ValueError, match="unknown generated table"):
        gen.regenerate(gen.BLOCK_START.format(name="nope") + "\n" + gen.BLOCK_END, {})


#: The tutorial plugin's cell, run with a quality score and one classifier: every stage.
TUTORIAL_PLUGIN_SPEC = """
[generators.noisegan]
preset = "tiny"
epochs = 3
"""
#: Stage boundaries in the order a run meets them; each run of the chain resumes from the last.
TUTORIAL_KILL_CHAIN = ["train:3", "generate", "score", "classify", "classify-resnet34:3", "write:record.json"]


def _tutorial_plugin_pyproject() -> str:
    """The tutorial's complete ``pyproject.toml`` of the example package."""
    return _fenced(TUTORIAL.read_text(), "```toml", "its complete `pyproject.toml`")


@pytest.fixture(scope="module")
def tutorial_plugin_site(tmp_path_factory) -> Path:
    """The tutorial's example package (its code and ``pyproject.toml``) pip-installed into a folder.

    ``--no-deps`` (dg2bench and torch are installed already) and no build isolation
    (setuptools comes with the test extra): no network needed.
    """
    package = tmp_path_factory.mktemp("my-gan")
    (package / "pyproject.toml").write_text(_tutorial_plugin_pyproject())
    (package / "my_gan").mkdir()
    (package / "my_gan" / "__init__.py").write_text(_tutorial_plugin_code())
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q",
                           "--target", str(site), str(package)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return site


@pytest.mark.slow
def test_tutorial_plugin_pyproject_is_complete_and_installs_the_entry_point(tutorial_plugin_site):
    pyproject = tomllib.loads(_tutorial_plugin_pyproject())
    assert pyproject["build-system"]["build-backend"] and pyproject["project"]["name"] == "my-gan"
    assert pyproject["project"]["version"] and "dg2bench" in pyproject["project"]["dependencies"]
    entry_points = next(tutorial_plugin_site.glob("my_gan-*.dist-info")) / "entry_points.txt"
    assert "[dg2bench]\nnoisegan = my_gan" in entry_points.read_text()


@pytest.mark.slow
def test_the_testing_page_tests_pass_on_the_tutorial_package(tmp_path, tutorial_plugin_site):
    """docs/plugins/testing.md's two test modules, run with pytest against the installed tutorial package."""
    tests = tmp_path / "tests"
    tests.mkdir()
    page = TESTING.read_text()
    (tests / "test_contract.py").write_text(_fenced(page, "```python", "run the contract test kit"))
    (tests / "test_my_gan.py").write_text(_fenced(page, "```python", "## More tests of your own"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tutorial_plugin_site),
                                                                     os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout, done.stdout


@pytest.mark.slow
@pytest.mark.faults
def test_tutorial_plugin_killed_at_every_stage_boundary_resumes_to_the_uninterrupted_records(tmp_path,
                                                                                           tutorial_plugin_site):
    """Installed beside the built-ins as the tutorial says, killed at each stage boundary in turn.

    Each rerun resumes from the boundary the previous one was killed at (a trained
    generator loaded from ``generator.pt``, fakes read back, ...) and must reach the
    next; the last completes with the records of an uninterrupted run.
    """
    from test_faults import _env, _kill, _records, _run, _start_stalled

    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tutorial_plugin_site), os.environ.get("PYTHONPATH")]))}
    spec = tmp_path / "spec.toml"
    spec.write_text(tiny_spec_text(generators=TUTORIAL_PLUGIN_SPEC, quality=True, fakes=8)
                    .replace("seeds = 1", "seeds = 1\nbaseline = false"))
    reference = _run(spec, tmp_path / "reference", env=_env(**env))
    assert reference.returncode == 0, reference.stdout + reference.stderr
    results = tmp_path / "results"
    record = results / "cells" / "crackforest" / "noisegan" / "seed0" / "record.json"
    for point in TUTORIAL_KILL_CHAIN:
        _kill(_start_stalled(spec, results, point, tmp_path, **env))
        assert not record.exists(), f"killed at {point}: {record.read_text()}"
    done = _run(spec, results, env=_env(**env))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert _records(results) == _records(tmp_path / "reference")
    assert json.loads(record.read_text())["status"] == "complete"


@pytest.mark.slow
def test_tutorial_plugin_fixed_and_retried_completes_as_an_uninterrupted_run(tmp_path, monkeypatch, write_spec):
    """Its ``generate`` raises: the cell fails with one line; fixed, ``--retry-failed`` reuses the training."""
    import types

    from test_faults import _records

    from dg2bench.contracts.plugin_manager import get_registry
    from dg2bench.runner import run_benchmark
    from dg2bench.spec import load_spec
    from dg2bench.store.results import ResultStore

    module = types.ModuleType("tutorial_example")
    monkeypatch.setitem(__import__("sys").modules, "tutorial_example", module)
    exec(compile(_tutorial_plugin_code(), str(TUTORIAL), "exec"), module.__dict__)
    registry = get_registry(extra_plugins=[module])
    spec = load_spec(write_spec(tiny_spec_text(generators=TUTORIAL_PLUGIN_SPEC, classifier_steps=2)
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
