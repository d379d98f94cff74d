"""Build the pluggy manager and the registry of generators, classifiers and datasets.

A factory, not an import-time global: every call gives a fresh manager, so tests can
register in-process plugins without reload tricks.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import warnings
from collections.abc import Iterable
from typing import Literal

import pluggy

from dg2bench import hookspecs
from dg2bench.classifier import Classifier
from dg2bench.dataset import Dataset
from dg2bench.errors import PluginError
from dg2bench.generator import Generator

ENTRY_POINT_GROUP = "dg2bench"
BUILTIN_DISTRIBUTION = "dg2bench"

PluginKind = Literal["generator", "classifier", "dataset"]
_BASES: dict[PluginKind, type] = {"generator": Generator, "classifier": Classifier, "dataset": Dataset}
_HOOKS: dict[PluginKind, str] = {"generator": "register_generators", "classifier": "register_classifiers",
                                 "dataset": "register_datasets"}


class PluginLoadWarning(UserWarning):
    """A third-party plugin failed to import; the others still load."""


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """Where a registered class comes from (for ``bench plugins`` and result records)."""

    kind: PluginKind
    name: str
    cls: type
    package: str
    version: str
    builtin: bool

    @property
    def summary(self) -> str:
        """The class's one-line summary."""
        return getattr(self.cls, "summary", "")


class Registry:
    """Every registered plugin class, by kind and name."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._entries: dict[PluginKind, dict[str, PluginInfo]] = {k: {} for k in _BASES}
        for kind in _BASES:
            self._collect(kind)

    def _collect(self, kind: PluginKind) -> None:
        base = _BASES[kind]
        origin = _plugin_origins(self.pm)
        for impl in getattr(self.pm.hook, _HOOKS[kind]).get_hookimpls():
            package, version = origin.get(id(impl.plugin), (self.pm.get_name(impl.plugin) or "?", "?"))

            def register(cls: type, _package: str = package, _version: str = version) -> None:
                if not (isinstance(cls, type) and issubclass(cls, base)):
                    raise PluginError(f"plugin {_package}", f"registered {cls!r}, which is not a {base.__name__}",
                                      f"subclass dg2bench.{base.__name__}")
                name = getattr(cls, "name", None)
                if not isinstance(name, str) or not name:
                    raise PluginError(f"plugin {_package}", f"{cls.__name__} has no name",
                                      "set the class attribute `name`")
                existing = self._entries[kind].get(name)
                if existing is not None:
                    raise PluginError(f"{kind} {name!r}",
                                      f"registered twice, by {existing.package} and by {_package}",
                                      "uninstall one of the two packages or rename one class")
                self._entries[kind][name] = PluginInfo(kind, name, cls, _package, _version,
                                                       _package == BUILTIN_DISTRIBUTION)

            impl.function(register=register)

    def names(self, kind: PluginKind) -> list[str]:
        """Registered names of ``kind``, sorted."""
        return sorted(self._entries[kind])

    def get(self, kind: PluginKind, name: str) -> PluginInfo:
        """The entry for ``name``; ``KeyError`` if none."""
        return self._entries[kind][name]

    def all(self) -> Iterable[PluginInfo]:
        """Every entry, generators first."""
        for kind in _BASES:
            yield from (self._entries[kind][n] for n in self.names(kind))

    def distributions(self) -> dict[str, str]:
        """``{package: version}`` of every distribution that contributed a plugin."""
        return {info.package: info.version for info in self.all()}


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution (and version) gave each plugin."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.origins: dict[int, tuple[str, str]] = {}


def _plugin_origins(pm: pluggy.PluginManager) -> dict[int, tuple[str, str]]:
    return dict(getattr(pm, "origins", {}))


def get_plugin_manager(load_entry_points: bool = True, extra_plugins: Iterable[object] = ()) -> PluginManager:
    """A fresh plugin manager with the hook specs, entry-point plugins and ``extra_plugins``.

    A plugin whose import fails issues one :class:`PluginLoadWarning` naming its package
    and the error; the others still load. ``check_pending`` then fails loudly on a
    hook implementation whose name matches no spec (a misspelt hook).
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        _load_entry_points(pm)
    for plugin in extra_plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        raise PluginError(f"plugin {name}", str(exc).splitlines()[0],
                          "fix the hook name (see `bench plugins --hooks`)") from None
    return pm


def _load_entry_points(pm: PluginManager) -> None:
    # pluggy's load_setuptools_entrypoints stops at the first broken plugin; a harness
    # should name it and go on, so entry points are loaded one by one here.
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import error of foreign code
                warnings.warn(f"plugin {ep.name!r} from package {dist.metadata['name']} failed to load: "
                              f"{type(exc).__name__}: {exc}", PluginLoadWarning, stacklevel=2)
                continue
            pm.register(plugin, name=ep.name)
            pm.origins[id(plugin)] = (dist.metadata["name"], dist.version)


def get_registry(load_entry_points: bool = True, extra_plugins: Iterable[object] = ()) -> Registry:
    """Build a plugin manager and collect every registered class."""
    return Registry(get_plugin_manager(load_entry_points, extra_plugins))
