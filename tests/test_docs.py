"""Documentation stays in step with the code (after datasette's test_docs)."""

from __future__ import annotations

import inspect
import re
import subprocess

from dg2bench.contracts import hookspecs

from conftest import REPO


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


def test_readme_plugin_example_works(tmp_path, monkeypatch):
    """The README's generator example registers and trains through the harness loop."""
    import types

    import torch

    from dg2bench.contracts.plugin_manager import get_registry
    from dg2bench.contracts.trainable import TrainPlan
    from dg2bench.run.training import ImageBanks, train

    readme = (REPO / "README.md").read_text()
    start = readme.index("```python", readme.index("A complete generator package")) + len("```python")
    code = readme[start:readme.index("```", start)]
    module = types.ModuleType("readme_example")
    monkeypatch.setitem(__import__("sys").modules, "readme_example", module)
    exec(compile(code, "README.md", "exec"), module.__dict__)
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
