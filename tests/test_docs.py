"""Documentation stays in step with the code (after datasette's test_docs)."""

from __future__ import annotations

import inspect

from dg2bench import hookspecs

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
