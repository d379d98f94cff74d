"""Benchmark specs: TOML files validated on load into a typed, resolved :class:`Spec`.

A spec is a short set of overrides; every default lives in a typed place (the
settings dataclasses of :mod:`dg2bench.settings` for the benchmark itself, each
plugin's ``Hyperparameters``/``Options`` dataclass for plugins). Every error names the file and the key::

    error: benchmarks/x.toml: generators.dg2gan.lamda: unknown hyperparameter; known keys: ...
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

from dg2bench.contracts.hyperparameters import hyperparameters_as_dict, resolve_hyperparameters
from dg2bench.contracts.plugin_manager import PluginKind, Registry, find_unlisted_plugin
from dg2bench.errors import SpecError
from dg2bench.runtime.device import PRECISIONS
from dg2bench.settings import AugmentationSettings, BenchmarkSettings, MetricsSettings, settings_as_dict

PLUGIN_CONTROL_KEYS = {"plugin", "preset", "max_steps", "precision"}
TOP_LEVEL = {"benchmark", "augmentation", "metrics", "datasets", "generators", "classifiers"}


def _resolved(plugin: str, preset: str | None, values: Any, extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"plugin": plugin, **extra}
    if preset:
        out["preset"] = preset
    out.update(hyperparameters_as_dict(values))
    return out


@dataclasses.dataclass(frozen=True)
class PluginChoice:
    """One configured plugin: ``label`` names it in results, ``plugin`` is the registered class.

    :param max_steps: cap on training steps (smoke runs); ``None`` trains ``epochs`` epochs.
    :param precision: ``auto``/``fp32``/``bf16`` for this plugin, or None for the benchmark's.
    """

    kind: PluginKind
    label: str
    plugin: str
    preset: str | None
    hparams: Any
    max_steps: int | None = None
    precision: str | None = None

    def training_length(self, steps_per_epoch: int) -> tuple[int, float]:
        """Training steps (``epochs`` epochs, capped by ``max_steps``) and the epochs they make."""
        steps = max(1, round(self.hparams.epochs * steps_per_epoch))
        if self.max_steps is not None:
            steps = min(steps, self.max_steps)
        return steps, steps / steps_per_epoch

    def resolved(self) -> dict[str, Any]:
        """TOML-friendly resolved configuration."""
        extra = {} if self.max_steps is None else {"max_steps": self.max_steps}
        if self.precision is not None:
            extra["precision"] = self.precision
        return _resolved(self.plugin, self.preset, self.hparams, extra)


@dataclasses.dataclass(frozen=True)
class DatasetChoice:
    """One configured dataset: plugin, data root (absolute) and resolved options."""

    label: str
    plugin: str
    root: Path
    preset: str | None
    options: Any

    def resolved(self) -> dict[str, Any]:
        """TOML-friendly resolved configuration."""
        return _resolved(self.plugin, self.preset, self.options, {"root": str(self.root)})


@dataclasses.dataclass(frozen=True)
class Spec:
    """A validated benchmark spec with every default filled in."""

    path: Path
    benchmark: BenchmarkSettings
    augmentation: AugmentationSettings
    metrics: MetricsSettings
    datasets: tuple[DatasetChoice, ...]
    generators: tuple[PluginChoice, ...]
    classifiers: tuple[PluginChoice, ...]
    #: Where ``benchmark.device`` came from, for errors: the spec file or ``--device``.
    device_source: str = ""

    @property
    def name(self) -> str:
        """The benchmark's name."""
        return self.benchmark.name

    @property
    def seeds(self) -> list[int]:
        """Seeds of every cell."""
        return list(range(self.benchmark.seeds))

    def with_seeds(self, seeds: int) -> "Spec":
        """The same spec with ``seeds`` seeds per cell (``bench run --seeds``)."""
        if seeds < 1:
            raise SpecError("--seeds", f"must be >= 1, not {seeds}", "pass a positive count")
        return dataclasses.replace(self, benchmark=dataclasses.replace(self.benchmark, seeds=seeds))

    def with_benchmark(self, settings: tuple[str, ...]) -> "Spec":
        """The same spec with ``[benchmark]`` keys set from ``KEY=VALUE`` strings (``--set``).

        Values are read as TOML (``compile=true``, ``precision="fp32"``; a bare word is
        taken as a string) and checked like the file's own.
        """
        raw = settings_as_dict(self.benchmark)
        for setting in settings:
            key, sep, text = setting.partition("=")
            key = key.strip().removeprefix("benchmark.")
            if not sep or key not in raw:
                raise SpecError(f"--set {setting}", "is not KEY=VALUE with a [benchmark] key",
                                f"known keys: {', '.join(raw)}")
            try:
                raw[key] = tomllib.loads(f"v = {text.strip()}")["v"]
            except tomllib.TOMLDecodeError:
                raw[key] = text.strip()
        bench = _settings(BenchmarkSettings, raw, "--set")
        source = "--set device" if bench.device != self.benchmark.device else self.device_source
        return dataclasses.replace(self, benchmark=bench, device_source=source)

    def with_device(self, device: str) -> "Spec":
        """The same spec on another device (``bench run --device``)."""
        return dataclasses.replace(self, benchmark=dataclasses.replace(self.benchmark, device=device),
                                   device_source="--device")

    def resolved(self) -> dict[str, Any]:
        """The whole resolved config as a TOML-friendly dict (written next to results)."""
        return {
            "benchmark": settings_as_dict(self.benchmark),
            "augmentation": settings_as_dict(self.augmentation),
            "metrics": settings_as_dict(self.metrics),
            "datasets": {d.label: d.resolved() for d in self.datasets},
            "generators": {g.label: g.resolved() for g in self.generators},
            "classifiers": {c.label: c.resolved() for c in self.classifiers},
        }

    def resolved_toml(self) -> str:
        """:meth:`resolved` as TOML text (``None`` values left out: TOML has no null)."""
        import tomli_w

        return tomli_w.dumps(_toml_safe(self.resolved()))


def _toml_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_safe(v) for v in value]
    return value


def _table(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SpecError(where, f"must be a table, not {type(raw).__name__}", f"write [{where.split(': ')[-1]}]")
    return raw


def _settings(cls: type, raw: dict[str, Any], where: str) -> Any:
    """A settings dataclass of :mod:`dg2bench.settings` from its spec table (checked on the way)."""
    return resolve_hyperparameters(cls, {}, None, raw, where, unknown="unknown key")


def _check_plugin_known(registry: Registry, kind: PluginKind, plugin: Any, where: str) -> None:
    """Raise :class:`SpecError` unless ``plugin`` is a registered ``kind``; a disabled one says why."""
    if plugin in registry.names(kind):
        return
    disabled = registry.disabled(kind, plugin) or registry.disabled("plugin", plugin)
    if disabled:
        raise SpecError(where, disabled[0].statement, disabled[0].fix)
    unlisted = find_unlisted_plugin(kind, plugin) if isinstance(plugin, str) else None
    if unlisted is not None:   # installed, but without the entry-point table that makes it a plugin
        raise SpecError(where, f"unknown {kind} plugin {plugin!r}: {unlisted.problem}", unlisted.fix)
    raise SpecError(where, f"unknown {kind} plugin {plugin!r}",
                    f"installed: {', '.join(registry.names(kind)) or 'none'} (see `bench plugins`); a plugin "
                    f"package names its module in its pyproject.toml under [project.entry-points.dg2bench] "
                    f"(<name> = \"<module>\"), then pip install -e . (docs/plugins/tutorial.md)")


def _plugin_choices(raw: Any, kind: PluginKind, registry: Registry, where: str) -> tuple[PluginChoice, ...]:
    choices = []
    for label, table in _table(raw, where).items():
        table = _table(table, f"{where}.{label}")
        plugin = table.get("plugin", label)
        _check_plugin_known(registry, kind, plugin, f"{where}.{label}")
        cls = registry.get(kind, plugin).cls
        preset = table.get("preset")
        if preset is not None and not isinstance(preset, str):
            raise SpecError(f"{where}.{label}.preset", "must be a string", "write e.g. preset = \"tiny\"")
        max_steps = table.get("max_steps")
        if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1):
            raise SpecError(f"{where}.{label}.max_steps", f"must be a positive integer, not {max_steps!r}",
                            "write e.g. max_steps = 100")
        precision = table.get("precision")
        if precision is not None and precision not in PRECISIONS:
            raise SpecError(f"{where}.{label}.precision", f"unknown precision {precision!r}",
                            f"use one of: {', '.join(PRECISIONS)}")
        overrides = {k: v for k, v in table.items() if k not in PLUGIN_CONTROL_KEYS}
        hparams = resolve_hyperparameters(cls.Hyperparameters, cls.presets, preset, overrides, f"{where}.{label}",
                                          table_keys=sorted(PLUGIN_CONTROL_KEYS))
        choices.append(PluginChoice(kind, label, plugin, preset, hparams, max_steps, precision))
    return tuple(choices)


def _dataset_choices(raw: Any, registry: Registry, spec_dir: Path, where: str) -> tuple[DatasetChoice, ...]:
    choices = []
    for label, table in _table(raw, where).items():
        table = _table(table, f"{where}.{label}")
        plugin = table.get("plugin", label)
        _check_plugin_known(registry, "dataset", plugin, f"{where}.{label}")
        cls = registry.get("dataset", plugin).cls
        env = cls.root_env
        from_env = "root" not in table and bool(env and os.environ.get(env))
        raw_root = os.environ[env] if from_env else table.get("root")
        if not isinstance(raw_root, str) or not raw_root:
            in_spec = f"add root = \"...\" to [datasets.{label}] (the data folder, relative to the spec file)"
            fix = f"set the environment variable {env} to the data folder, or {in_spec}" if env else in_spec
            hint = f"; {cls.data_hint}" if cls.data_hint else ""
            raise SpecError(f"{where}.{label}.root", "no data folder given", f"{fix}{hint}")
        # A root from the spec is relative to the spec file; one from the environment to the shell's folder.
        base = Path.cwd() if from_env else spec_dir
        root = (base / os.path.expandvars(os.path.expanduser(raw_root))).resolve()
        if not root.exists():
            origin = f"from {env}" if from_env else "relative to the spec file"
            hint = f"; {cls.data_hint}" if cls.data_hint else " or fetch the data"
            raise SpecError(f"{where}.{label}.root", f"data folder {root} does not exist",
                            f"fix the path ({origin}){hint}")
        preset = table.get("preset")
        overrides = {k: v for k, v in table.items() if k not in {"plugin", "preset", "root"}}
        options = resolve_hyperparameters(cls.Options, cls.presets, preset, overrides, f"{where}.{label}",
                                          table_keys=("plugin", "preset", "root"))
        choices.append(DatasetChoice(label, plugin, root, preset, options))
    return tuple(choices)


def load_spec(path: Path | str, registry: Registry) -> Spec:
    """Read, validate and resolve the spec at ``path``.

    :raises SpecError: naming the file and the key of the first problem found.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), "no such spec file", "pass the path of a .toml spec (see benchmarks/)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), f"is not valid TOML ({exc})", "fix the syntax") from None
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                        "save it as UTF-8 (TOML files are UTF-8)") from None
    where = str(path)
    for key in raw:
        if key not in TOP_LEVEL:
            raise SpecError(f"{where}: {key}", "unknown table", f"known tables: {', '.join(sorted(TOP_LEVEL))}")
    if "benchmark" not in raw:
        raise SpecError(f"{where}: benchmark", "is required", "add a [benchmark] table with at least name = ...")
    bench = _settings(BenchmarkSettings, _table(raw["benchmark"], f"{where}: benchmark"), f"{where}: benchmark")
    augmentation = _settings(AugmentationSettings, _table(raw.get("augmentation", {}), f"{where}: augmentation"),
                             f"{where}: augmentation")
    metrics = _settings(MetricsSettings, _table(raw.get("metrics", {}), f"{where}: metrics"), f"{where}: metrics")
    for section in ("datasets", "classifiers"):
        if not raw.get(section):
            raise SpecError(f"{where}: {section}", "needs at least one entry",
                            f"add a [{section}.<name>] table")
    datasets = _dataset_choices(raw["datasets"], registry, path.parent, f"{where}: datasets")
    generators = _plugin_choices(raw.get("generators", {}), "generator", registry, f"{where}: generators")
    classifiers = _plugin_choices(raw["classifiers"], "classifier", registry, f"{where}: classifiers")
    return Spec(path.resolve(), bench, augmentation, metrics, datasets, generators, classifiers,
                device_source=f"{where}: benchmark.device")
