"""Build the pluggy manager and the registry of generators, classifiers and datasets.

A factory, not an import-time global: every call gives a fresh manager, so tests can
register in-process plugins without reload tricks.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import re
import sys
import types
import warnings
from collections.abc import Iterable
from typing import Any, Literal

import pluggy

from dg2bench.contracts import hookspecs
from dg2bench.contracts.classifier import Classifier
from dg2bench.contracts.contract import Violation, class_violations, describe_plugin, remember_package, violation
from dg2bench.contracts.dataset import Dataset
from dg2bench.contracts.generator import Generator

ENTRY_POINT_GROUP = "dg2bench"
BUILTIN_DISTRIBUTION = "dg2bench"

PluginKind = Literal["generator", "classifier", "dataset"]
_BASES: dict[PluginKind, type] = {"generator": Generator, "classifier": Classifier, "dataset": Dataset}
_HOOKS: dict[PluginKind, str] = {"generator": "register_generators", "classifier": "register_classifiers",
                                 "dataset": "register_datasets"}


class PluginLoadWarning(UserWarning):
    """A plugin failed to load or broke its contract; it is disabled and the others still load."""


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


@dataclasses.dataclass(frozen=True)
class DisabledPlugin:
    """A plugin the registry refused, and why.

    :param kind: ``generator``, ``classifier``, ``dataset``, or ``plugin`` for a module
        that failed to import or whose hooks are broken (no class came from it).
    :param name: the class's ``name`` (its class name if it has none), or the entry-point
        name of the module.
    :param problem: what is wrong (``breaks rule <id>: <detail>`` for a contract rule).
    :param rule: the id of the broken rule of :mod:`dg2bench.contracts.contract`, or None (an import error).
    """

    kind: str
    name: str
    package: str
    problem: str
    fix: str
    rule: str | None = None

    @classmethod
    def breaking(cls, kind: str, name: str, package: str, broken: Violation) -> "DisabledPlugin":
        """The entry for a plugin that breaks the rule of ``broken``."""
        return cls(kind, name, package, broken.problem, broken.fix, broken.rule.id)

    @property
    def statement(self) -> str:
        """``<kind> '<name>' (package <p>) is disabled: <problem>``."""
        return f"{describe_plugin(self.kind, self.name, self.package)} is disabled: {self.problem}"

    @property
    def reason(self) -> str:
        """One line: :attr:`statement` and the fix, ``; ``-separated."""
        return f"{self.statement}; {self.fix}"


@dataclasses.dataclass(frozen=True)
class _Candidate:
    cls: Any
    package: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.package == BUILTIN_DISTRIBUTION

    @property
    def label(self) -> str:
        return _labelled(self.package, self.version)


class Registry:
    """Every registered plugin class, by kind and name, and every disabled one with its reason.

    A class that breaks a rule of :mod:`dg2bench.contracts.contract` is disabled with one
    :class:`PluginLoadWarning`; the others work. On a name registered twice, a built-in
    keeps it and the other class is disabled; two third-party classes are both disabled
    (which one loads first depends on install order, so neither may win).
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._entries: dict[PluginKind, dict[str, PluginInfo]] = {k: {} for k in _BASES}
        self._disabled: list[DisabledPlugin] = list(getattr(pm, "disabled", []))
        for disabled in self._disabled:
            warnings.warn(disabled.reason, PluginLoadWarning, stacklevel=2)
        for kind in _BASES:
            self._collect(kind)

    def _collect(self, kind: PluginKind) -> None:
        origin = _plugin_origins(self.pm)
        candidates: list[_Candidate] = []
        for impl in getattr(self.pm.hook, _HOOKS[kind]).get_hookimpls():
            package, version = origin.get(id(impl.plugin), (self.pm.get_name(impl.plugin) or "?", "?"))
            found: list[_Candidate] = []
            try:
                impl.function(register=lambda cls, _p=package, _v=version: found.append(_Candidate(cls, _p, _v)))
            except Exception as exc:  # noqa: BLE001 - any error of foreign code disables that plugin only
                self._disable("plugin", self.pm.get_name(impl.plugin) or package, _labelled(package, version),
                              violation("hooks", f"{_HOOKS[kind]} raised {type(exc).__name__}: {_first_line(exc)}",
                                        f"fix the plugin's {_HOOKS[kind]} hook"))
                continue
            candidates.extend(found)
        valid = []
        for candidate in _unique(candidates):
            broken = class_violations(kind, candidate.cls)
            if broken:
                self._disable(kind, _class_name(candidate.cls), candidate.label, broken[0])
            else:
                valid.append(candidate)
        for name, group in _by_name(valid).items():
            keeper = _keeper(group)
            for candidate in group:
                if candidate is not keeper:
                    self._disable(kind, name, candidate.label, _duplicate_violation(kind, name, candidate, group))
            if keeper is not None:
                remember_package(keeper.cls, keeper.label)
                self._entries[kind][name] = PluginInfo(kind, name, keeper.cls, keeper.package, keeper.version,
                                                       keeper.builtin)

    def _disable(self, kind: str, name: str, package: str, broken: Violation) -> None:
        disabled = DisabledPlugin.breaking(kind, name, package, broken)
        self._disabled.append(disabled)
        warnings.warn(disabled.reason, PluginLoadWarning, stacklevel=2)

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

    def disabled(self, kind: str | None = None, name: str | None = None) -> list[DisabledPlugin]:
        """Disabled plugins (of ``kind`` and ``name`` where given), in the order they were found."""
        return [d for d in self._disabled if kind in (None, d.kind) and name in (None, d.name)]

    def distributions(self) -> dict[str, str]:
        """``{package: version}`` of every distribution that contributed a plugin."""
        return {info.package: info.version for info in self.all()}


def _class_name(cls: Any) -> str:
    name = getattr(cls, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(cls, "__name__", repr(cls))


def _unique(candidates: list[_Candidate]) -> list[_Candidate]:
    """``candidates`` without repeats: one class registered twice by one package counts once."""
    seen: list[tuple[Any, str]] = []
    out = []
    for candidate in candidates:
        if not any(cls is candidate.cls and package == candidate.package for cls, package in seen):
            seen.append((candidate.cls, candidate.package))
            out.append(candidate)
    return out


def _by_name(candidates: list[_Candidate]) -> dict[str, list[_Candidate]]:
    groups: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.cls.name, []).append(candidate)
    return groups


def _keeper(group: list[_Candidate]) -> _Candidate | None:
    """Who keeps a name: the only candidate, else the only built-in, else nobody."""
    if len(group) == 1:
        return group[0]
    builtins = [c for c in group if c.builtin]
    return builtins[0] if len(builtins) == 1 else None


def _duplicate_violation(kind: str, name: str, candidate: _Candidate, group: list[_Candidate]) -> Violation:
    others = [c for c in group if c is not candidate]
    if any(c.builtin for c in others):
        return violation("unique-name", f"the name is taken by the built-in {kind} {name!r} (package dg2bench)",
                         "rename the class's `name`")
    packages = ", ".join(sorted({c.label for c in others}))
    return violation("unique-name", f"package {packages} also registers a {kind} named {name!r}; both are disabled",
                     "rename one class's `name` or uninstall one of the packages")


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution (and version) gave each plugin."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.origins: dict[int, tuple[str, str]] = {}
        #: Plugins left out while loading (import failures, broken hooks).
        self.disabled: list[DisabledPlugin] = []


def _plugin_origins(pm: pluggy.PluginManager) -> dict[int, tuple[str, str]]:
    return dict(getattr(pm, "origins", {}))


def get_plugin_manager(load_entry_points: bool = True, extra_plugins: Iterable[object] = ()) -> PluginManager:
    """A fresh plugin manager with the hook specs, entry-point plugins and ``extra_plugins``.

    A plugin that fails to import, implements no hook (a forgotten ``@hookimpl``) or a
    hook the specs lack (a misspelt name) is left out and remembered in ``pm.disabled``;
    :class:`Registry` warns once for each. The others load.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    if load_entry_points:
        _load_entry_points(pm)
    for plugin in extra_plugins:
        module = plugin.__name__ if isinstance(plugin, types.ModuleType) else type(plugin).__module__
        _register(pm, plugin, None, getattr(plugin, "__name__", type(plugin).__name__), f"module {module}", "?")
    pm.check_pending()   # cannot fail: a plugin with an unknown hook was unregistered above
    return pm


def _load_entry_points(pm: PluginManager) -> None:
    # pluggy's load_setuptools_entrypoints stops at the first broken plugin; a harness
    # should name it and go on, so entry points are loaded one by one here.
    seen: set[str] = set()
    for dist in importlib.metadata.distributions():
        package = dist.metadata["name"]
        # An editable install can list one distribution twice (src layout): load it once.
        if _normalized(package) in seen:
            continue
        seen.add(_normalized(package))
        for ep in dist.entry_points:
            # Plugins are named <package>:<entry point>, so an entry point of a third-party
            # package that is named like a built-in's (wgan) hides nothing.
            name = f"{package}:{ep.name}"
            if ep.group != ENTRY_POINT_GROUP or pm.get_plugin(name) or pm.is_blocked(name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import error of foreign code
                problem = f"failed to import: {type(exc).__name__}: {_first_line(exc)}"
                pm.disabled.append(DisabledPlugin("plugin", ep.name, _labelled(package, dist.version), problem,
                                                  f"fix or reinstall {package} (python -c 'import {ep.module}' "
                                                  "shows the traceback)"))
                continue
            _register(pm, plugin, name, ep.name, package, dist.version)


def _register(pm: PluginManager, plugin: object, name: str | None, label: str, package: str, version: str) -> None:
    """Register ``plugin`` if its hooks are sound; otherwise remember it as disabled."""
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        pm.disabled.append(DisabledPlugin.breaking("plugin", label, _labelled(package, version), violation(
            "hooks", _first_line(exc), "match the hook's signature in `bench plugins --hooks`")))
        return
    broken = _hook_violation(pm, plugin)
    if broken is not None:
        pm.unregister(plugin)
        pm.disabled.append(DisabledPlugin.breaking("plugin", label, _labelled(package, version), broken))
        return
    pm.origins[id(plugin)] = (package, version)


def _hook_violation(pm: PluginManager, plugin: object) -> Violation | None:
    """The ``hooks`` rule broken by a registered ``plugin``: an unknown hook, or none at all."""
    callers = pm.get_hookcallers(plugin) or []
    unknown = sorted(caller.name for caller in callers if not caller.has_spec())
    known = ", ".join(_HOOKS.values())
    if unknown:
        return violation("hooks", f"{', '.join(unknown)} matches no hook", f"rename it to one of {known}")
    if not callers:
        unmarked = [hook for hook in _HOOKS.values() if callable(getattr(plugin, hook, None))]
        if unmarked:
            return violation("hooks", f"{', '.join(unmarked)} is not marked as a hook, so it registers nothing",
                             "decorate it with @dg2bench.hookimpl")
        return violation("hooks", "the module implements no hook",
                         f"define {known} as needed, each decorated with @dg2bench.hookimpl")
    return None


def _labelled(package: str, version: str) -> str:
    """``my-gan 1.0``, or just the package where the version is unknown (in-process plugins)."""
    return package if version == "?" else f"{package} {version}"


def _normalized(package: str) -> str:
    return package.lower().replace("_", "-").replace(".", "-")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


@dataclasses.dataclass(frozen=True)
class UnlistedPlugin:
    """A class an installed distribution defines under a requested name, but never lists as a plugin."""

    kind: PluginKind
    requested: str
    package: str
    module: str
    cls: type

    @property
    def problem(self) -> str:
        """``package my-gan 1.0 defines it (my_gan.NoiseGan) but lists no dg2bench entry point``."""
        named = "" if self.cls.name == self.requested else f", whose name is {self.cls.name!r}"
        return (f"package {self.package} defines it ({self.module}.{self.cls.__name__}{named}) but lists no "
                f"{ENTRY_POINT_GROUP} entry point")

    @property
    def fix(self) -> str:
        """The entry-point table to add (and the hook, where the module has none), and the reinstall."""
        hook = _HOOKS[self.kind]
        missing = "" if callable(getattr(sys.modules.get(self.module), hook, None)) else \
            f" and a @dg2bench.hookimpl {hook}(register) that calls register({self.cls.__name__})"
        return (f"add to its pyproject.toml: [project.entry-points.{ENTRY_POINT_GROUP}] {self.cls.name} = "
                f"\"{self.module}\"{missing}, then install it again (pip install -e .)")


def find_unlisted_plugin(kind: PluginKind, name: str) -> UnlistedPlugin | None:
    """A ``kind`` class named ``name`` (its ``name``, or its class name in lower case) in an
    installed distribution without ``dg2bench`` entry points.

    Only on an error path (a spec names an unknown plugin). Imports the top-level modules of
    distributions that list no ``dg2bench`` entry point but require dg2bench or are
    named like ``name``: plugin packages whose author left out the entry-point table;
    any other package is not imported.
    """
    modules_of: dict[str, list[str]] = {}
    for module, packages in importlib.metadata.packages_distributions().items():
        for package in packages:
            modules_of.setdefault(_normalized(package), []).append(module)
    for dist in importlib.metadata.distributions():
        package = dist.metadata["name"] or ""
        if any(ep.group == ENTRY_POINT_GROUP for ep in dist.entry_points) or not _may_be_plugin(dist, name):
            continue
        for module_name in sorted(set(modules_of.get(_normalized(package), []))):
            found = _class_named(module_name, _BASES[kind], name)
            if found is not None:
                return UnlistedPlugin(kind, name, _labelled(package, dist.version), module_name, found)
    return None


def _may_be_plugin(dist: importlib.metadata.Distribution, name: str) -> bool:
    """True when ``dist`` requires dg2bench or is named like the plugin ``name`` (``noisegan``, ``noisegan-plugin``)."""
    requires = [re.split(r"[\s;<>=!~\[(]", line, maxsplit=1)[0] for line in dist.requires or []]
    package = _normalized(dist.metadata["name"] or "")
    return BUILTIN_DISTRIBUTION in map(_normalized, requires) or _normalized(name) in (package, *package.split("-"))


def _class_named(module_name: str, base: type, name: str) -> type | None:
    """The ``base`` subclass that module ``module_name`` defines named ``name`` (or ``Name``), if it imports."""
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - foreign code on an error path: no hint, no crash
        return None
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, base) and value is not base \
                and name in (getattr(value, "name", None), value.__name__.lower()):
            return value
    return None


def get_registry(load_entry_points: bool = True, extra_plugins: Iterable[object] = ()) -> Registry:
    """Build a plugin manager and collect every registered class."""
    return Registry(get_plugin_manager(load_entry_points, extra_plugins))
