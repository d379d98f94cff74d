"""The plugin manager: entry points, duplicates, broken plugins, misspelt hooks (each disables one plugin)."""

from __future__ import annotations

import dataclasses
import sys
import textwrap

import pytest

from dg2bench import Generator, hookimpl
from dg2bench.contracts.plugin_manager import PluginLoadWarning, get_registry
from third_party import THIRD_PARTY_WGAN, install_distribution



@dataclasses.dataclass(frozen=True)
class _Hp:
    batch_size: int = 1
    epochs: int = 1


def _generator_named(name: str) -> type[Generator]:
    return type(f"Gen_{name}", (Generator,), {"name": name, "summary": "test", "kind": "unconditional",
                                               "Hyperparameters": _Hp, "networks": lambda self: {},
                                               "setup": lambda self, plan: None,
                                               "train_step": lambda self, batch, step: {},
                                               "generate": lambda self, n, source: None})


class _Plugin:
    def __init__(self, cls):
        self.cls = cls

    @hookimpl
    def register_generators(self, register):
        register(self.cls)


def test_builtins_arrive_through_entry_points(registry):
    names = registry.names("generator")
    assert {"dg2gan", "dg2gan-no-djs", "cyclegan", "wgan", "d2gan"} <= set(names)
    assert {"resnet34", "resnet50"} <= set(registry.names("classifier"))
    assert "crackforest" in registry.names("dataset")
    for info in registry.all():
        assert info.builtin and info.package == "dg2bench"


def test_in_process_plugin_registers_and_is_not_builtin():
    registry = get_registry(extra_plugins=[_Plugin(_generator_named("mygan"))])
    info = registry.get("generator", "mygan")
    assert not info.builtin


def test_duplicate_of_a_builtin_name_is_disabled_and_the_builtin_kept():
    with pytest.warns(PluginLoadWarning, match=r"generator 'dg2gan' \(package module .*\) is disabled: "
                                               r"breaks rule unique-name: the name is taken by the built-in"):
        registry = get_registry(extra_plugins=[_Plugin(_generator_named("dg2gan"))])
    assert registry.get("generator", "dg2gan").builtin


def test_registering_a_non_generator_is_an_error():
    class Bad:
        @hookimpl
        def register_generators(self, register):
            register(int)

    with pytest.warns(PluginLoadWarning, match="breaks rule subclass: registered <class 'int'>, which is not a Generator"):
        registry = get_registry(load_entry_points=False, extra_plugins=[Bad()])
    assert registry.disabled()[0].rule == "subclass"


def test_misspelt_hook_warns_and_disables_its_plugin():
    class Misspelt:
        @hookimpl
        def register_generator(self, register):  # missing "s"
            pass

    with pytest.warns(PluginLoadWarning, match="breaks rule hooks: register_generator matches no hook"):
        registry = get_registry(load_entry_points=False, extra_plugins=[Misspelt()])
    assert [d.name for d in registry.disabled("plugin")] == ["Misspelt"]


def test_broken_third_party_plugin_warns_once_and_the_rest_load(tmp_path, monkeypatch):
    dist = tmp_path / "brokenplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[dg2bench]\nbroken = brokenplug_module\n")
    (tmp_path / "brokenplug_module.py").write_text(textwrap.dedent("""\
        raise ImportError("needs libfoo")
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginLoadWarning) as caught:
        registry = get_registry()
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "brokenplug" in messages[0] and "needs libfoo" in messages[0]
    assert "dg2gan" in registry.names("generator")
    sys.modules.pop("brokenplug_module", None)


def test_third_party_entry_point_is_tagged_with_its_package(tmp_path, monkeypatch):
    source = THIRD_PARTY_WGAN.replace('"othergan"', '"mygan"')
    install_distribution(tmp_path, "mygan-pkg", "mygan_module", "mygan", source, version="2.3")
    monkeypatch.syspath_prepend(str(tmp_path))
    info = get_registry().get("generator", "mygan")
    assert (info.package, info.version, info.builtin) == ("mygan-pkg", "2.3", False)
    sys.modules.pop("mygan_module", None)
