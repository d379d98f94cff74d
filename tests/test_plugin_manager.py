"""The plugin manager: entry points, duplicates, broken plugins, misspelt hooks."""

from __future__ import annotations

import dataclasses
import sys
import textwrap

import pytest

from dg2bench import Generator, hookimpl
from dg2bench.errors import PluginError
from dg2bench.plugin_manager import PluginLoadWarning, get_registry


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


def test_duplicate_name_names_both_packages():
    with pytest.raises(PluginError, match=r"generator 'dg2gan': registered twice, by dg2bench and by"):
        get_registry(extra_plugins=[_Plugin(_generator_named("dg2gan"))])


def test_registering_a_non_generator_is_an_error():
    class Bad:
        @hookimpl
        def register_generators(self, register):
            register(int)

    with pytest.raises(PluginError, match="not a Generator"):
        get_registry(load_entry_points=False, extra_plugins=[Bad()])


def test_misspelt_hook_fails_loudly():
    class Misspelt:
        @hookimpl
        def register_generator(self, register):  # missing "s"
            pass

    with pytest.raises(PluginError, match="register_generator"):
        get_registry(load_entry_points=False, extra_plugins=[Misspelt()])


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
    dist = tmp_path / "mygan_pkg-2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mygan-pkg\nVersion: 2.3\n")
    (dist / "entry_points.txt").write_text("[dg2bench]\nmygan = mygan_module\n")
    (tmp_path / "mygan_module.py").write_text(textwrap.dedent("""\
        import dataclasses
        from dg2bench import Generator, hookimpl

        @dataclasses.dataclass(frozen=True)
        class Hp:
            batch_size: int = 1
            epochs: int = 1

        class MyGan(Generator):
            name = "mygan"
            summary = "third-party test generator"
            kind = "unconditional"
            Hyperparameters = Hp
            def networks(self): return {}
            def setup(self, plan): pass
            def train_step(self, batch, step): return {}
            def generate(self, n, source): return None

        @hookimpl
        def register_generators(register):
            register(MyGan)
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    info = get_registry().get("generator", "mygan")
    assert (info.package, info.version, info.builtin) == ("mygan-pkg", "2.3", False)
    sys.modules.pop("mygan_module", None)
