"""The plugin contract: its rules as data, and the checks that enforce them.

Two kinds of check:

* **registration checks** (:func:`class_violations`) look at a class when a plugin
  registers it: attributes, ``kind``, the hyperparameter/option dataclass, presets.
  The registry disables a class that breaks a rule and warns once.
* **boundary checks** (:func:`check_losses`, :func:`check_generated`, :func:`check_state`)
  look at what a plugin hands back during a run and raise
  :class:`~dg2bench.errors.PluginContractError`; the cell fails with that reason and the
  other cells go on.

An exception raised in a plugin's own code during a run (:func:`plugin_raised`) fails
its cell the same way, with one line naming the plugin and the method.

``docs/gen_tables.py`` writes :data:`RULES` into the "Plugin contract rules" table of
``docs/plugins/contracts.md`` (a test keeps the two equal).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import importlib.metadata
import inspect
import itertools
import traceback
import types
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from dg2bench.contracts.classifier import Classifier
from dg2bench.contracts.dataset import Dataset
from dg2bench.contracts.generator import Generator
from dg2bench.contracts.hyperparameters import check_ranges, coerce_value, hyperparameter_fields
from dg2bench.contracts.trainable import Trainable, TrainingState
from dg2bench.errors import PluginContractError, PluginError, SpecError

#: Allowed values of ``Generator.kind``.
GENERATOR_KINDS = ("translation", "unconditional")
#: Slack on the [-1, 1] range of generated images (float rounding of a tanh output).
RANGE_TOLERANCE = 1e-3
BASES: dict[str, type] = {"generator": Generator, "classifier": Classifier, "dataset": Dataset}
#: The contract's own classes: their code is the harness's, not a plugin's.
HARNESS_CLASSES = (Trainable, Generator, Classifier)
#: Where a cell whose plugin raised keeps the traceback (beside ``record.json``).
TRACEBACK_NAME = "traceback.txt"


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule of the plugin contract: a stable id (used in messages and docs) and its text."""

    id: str
    text: str


RULES: tuple[Rule, ...] = (
    Rule("hooks", "a plugin module implements at least one `register_*` hook, each marked "
                  "`@dg2bench.hookimpl` and named as in `dg2bench.contracts.hookspecs`"),
    Rule("subclass", "a registered class subclasses the hook's base: `Generator`, `Classifier` or `Dataset`"),
    Rule("name", "`name` is a non-empty string"),
    Rule("summary", "`summary` is a non-empty string"),
    Rule("kind", "a generator's `kind` is `\"translation\"` or `\"unconditional\"`"),
    Rule("abstract", "every abstract method of the base class is implemented"),
    Rule("hyperparameters", "`Hyperparameters` (generators, classifiers) or `Options` (datasets) is a dataclass "
                            "whose fields all have defaults"),
    Rule("batch-size-epochs", "a generator's or classifier's `Hyperparameters` has `batch_size` and `epochs` fields"),
    Rule("presets", "every preset in `presets` names only fields of the dataclass, with values of their types "
                    "and within their declared ranges (`option(minimum=..., choices=...)`)"),
    Rule("unique-name", "one name per kind across all packages; a built-in keeps its name"),
    Rule("losses", "`train_step` returns a non-empty mapping of str to 0-d floating-point tensors "
                   "(not Python floats)"),
    Rule("state", "`state_dict()` (network states and `extra_state()`) holds only tensors, numbers, strings, "
                  "bools, None, and lists, tuples and dicts of them (checkpoints load with `weights_only=True`)"),
    Rule("optimizers", "every optimiser and LR scheduler a plugin keeps after `setup` is declared in the "
                       "`TrainingState` that `setup` returns, under names unique across its entries"),
    Rule("generate-count", "`generate(n, source)` returns exactly n images"),
    Rule("generate-shape", "generated images have shape (n, 3, S, S), S the benchmark's image_size"),
    Rule("generate-dtype", "generated images are a floating-point torch tensor on the CPU"),
    Rule("generate-finite", "every generated pixel is finite (no NaN or infinity)"),
    Rule("generate-masks", "masks from generate_with_masks are bool or {0, 1}, shape (n, 1, S, S), on cpu"),
    Rule("generate-range", "generated pixels lie in [-1, 1], not [0, 1] or [0, 255]"),
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


@dataclasses.dataclass(frozen=True)
class Violation:
    """A broken rule: which one, what exactly is wrong, and how to fix it."""

    rule: Rule
    detail: str
    fix: str

    @property
    def problem(self) -> str:
        """``breaks rule <id>: <detail>`` (the middle of a one-line message)."""
        return f"breaks rule {self.rule.id}: {self.detail}"


def violation(rule_id: str, detail: str, fix: str) -> Violation:
    """A :class:`Violation` of the rule ``rule_id`` (a ``KeyError`` for an unknown id)."""
    return Violation(RULES_BY_ID[rule_id], detail, fix)


def describe_plugin(kind: str, name: str, package: str) -> str:
    """``generator 'mygan' (package my-gan 1.0)``: how messages name a plugin."""
    return f"{kind} {name!r} (package {package})"


# --- registration checks --------------------------------------------------------------


def class_violations(kind: str, cls: Any) -> list[Violation]:
    """Every rule the class ``cls`` registered as a ``kind`` plugin breaks (empty: none).

    Checks stop at the first broken rule a later one depends on (no name, no dataclass).
    """
    base = BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return [violation("subclass", f"registered {cls!r}, which is not a {base.__name__} subclass",
                          f"subclass dg2bench.{base.__name__} and register the class")]
    found = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        return [violation("name", f"{cls.__name__}.name is {name!r}", "set the class attribute name = \"...\"")]
    summary = getattr(cls, "summary", None)
    if not isinstance(summary, str) or not summary.strip():
        found.append(violation("summary", f"{cls.__name__}.summary is {summary!r}",
                               "set summary = \"<one line for bench plugins>\""))
    if kind == "generator" and getattr(cls, "kind", None) not in GENERATOR_KINDS:
        found.append(violation("kind", f"kind is {getattr(cls, 'kind', None)!r}",
                               "set kind = \"translation\" or kind = \"unconditional\""))
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        found.append(violation("abstract", f"{cls.__name__} does not implement {missing}",
                               f"define {missing} (see dg2bench.{base.__name__})"))
    found.extend(_dataclass_violations(kind, cls))
    return found


def _dataclass_violations(kind: str, cls: type) -> list[Violation]:
    attribute = "Options" if kind == "dataset" else "Hyperparameters"
    holder = getattr(cls, attribute, None)
    if not (isinstance(holder, type) and dataclasses.is_dataclass(holder)):
        return [violation("hyperparameters", f"{attribute} is {holder!r}, not a dataclass",
                          f"set {attribute} to a @dataclasses.dataclass(frozen=True) class")]
    try:
        types = hyperparameter_fields(holder)
        holder()
    except (TypeError, NameError) as exc:   # a field without default, an unresolvable annotation
        return [violation("hyperparameters", f"{attribute}() fails: {exc}",
                          "give every field a type annotation and a default")]
    except ValueError:
        pass   # validation in __post_init__ of defaults a spec must override (a required category)
    fields = set(types)
    found = []
    if kind != "dataset" and not {"batch_size", "epochs"} <= fields:
        missing = " and ".join(sorted({"batch_size", "epochs"} - fields))
        found.append(violation("batch-size-epochs", f"{attribute} has no {missing} field",
                               "add batch_size: int and epochs: float fields (the training loop reads them)"))
    found.extend(_preset_violations(holder, types, getattr(cls, "presets", {}), attribute))
    return found


def _preset_violations(holder: type, types: dict[str, type], presets: Any, attribute: str) -> list[Violation]:
    if not isinstance(presets, Mapping) or not all(isinstance(v, Mapping) for v in presets.values()):
        return [violation("presets", f"presets is {presets!r}",
                          "set presets = {\"tiny\": {...}, \"paper\": {...}} (field: value overrides)")]
    for preset, values in presets.items():
        for key, value in values.items():
            if key not in types:
                return [violation("presets", f"preset {preset!r} sets {key!r}, which {attribute} lacks",
                                  f"add the field to {attribute} or remove the key from the preset")]
            try:
                coerce_value(value, types[key], key)
            except SpecError as exc:
                return [violation("presets", f"preset {preset!r}: {exc.where}: {exc.problem}",
                                  "fix the preset's value")]
        try:
            check_ranges(holder(**{key: coerce_value(value, types[key], key) for key, value in values.items()}),
                         attribute)
        except SpecError as exc:
            return [violation("presets", f"preset {preset!r}: {exc.where}: {exc.problem}", "fix the preset's value")]
        except (TypeError, ValueError):
            pass   # a holder that cannot be built from a preset alone (a required category): not this rule's
    return []


# --- boundary checks --------------------------------------------------------------------


def check_losses(plugin: Any, losses: Any) -> None:
    """Raise :class:`PluginContractError` unless ``losses`` maps names to 0-d float tensors.

    Host-side only (types, shapes, dtypes): no device sync, so it is cheap every step.
    """
    fix = "return {\"loss_name\": loss.detach()} with 0-d float tensors, not .item() floats"
    if not isinstance(losses, Mapping):
        raise contract_error(plugin, violation("losses", f"train_step returned {type(losses).__name__}, "
                                                         "not a mapping", fix))
    if not losses:
        raise contract_error(plugin, violation("losses", "train_step returned no loss", fix))
    for key, value in losses.items():
        problem = None
        if not isinstance(key, str):
            problem = f"loss key {key!r} is not a str"
        elif not isinstance(value, torch.Tensor):
            problem = f"loss {key!r} is a Python {type(value).__name__}, not a tensor"
            if isinstance(value, float):
                problem = f"loss {key!r} is a Python float, not a tensor (.item() syncs the device every step)"
        elif value.ndim != 0:
            problem = f"loss {key!r} has shape {tuple(value.shape)}, not () (0-d)"
        elif not value.is_floating_point():
            problem = f"loss {key!r} has dtype {value.dtype}, not a floating-point dtype"
        if problem is not None:
            raise contract_error(plugin, violation("losses", problem, fix))


#: Exact types of the plain values a checkpoint may hold (subclasses such as numpy's
#: float64 would need a full pickle load) and of the containers around them.
STATE_VALUES = (bool, int, float, str, type(None), torch.dtype, torch.device, torch.Tensor, torch.nn.Parameter)
STATE_CONTAINERS = (dict, collections.OrderedDict, list, tuple, torch.Size)


def check_training_state(plugin: Any, declared: Any) -> TrainingState:
    """The :class:`TrainingState` that ``plugin.setup`` returned (``None``: an empty one).

    :raises PluginContractError: (rule ``optimizers``) when ``declared`` is something
        else, an entry is of the wrong type, a name is used twice, or an optimiser or LR
        scheduler held in the plugin's attributes (directly, or in a list, tuple or dict
        there) is not declared: the harness would not checkpoint it, and a resumed cell
        would silently restart its moments and schedule.
    """
    fix = "return TrainingState(optimizers={...}, epoch_schedulers={...}, stateful={...}) from setup()"
    if declared is None:
        declared = TrainingState()
    if not isinstance(declared, TrainingState):
        raise contract_error(plugin, violation("optimizers", f"setup() returned {type(declared).__name__}, "
                                                             "not a TrainingState or None", fix))
    for field, kind in (("optimizers", torch.optim.Optimizer),
                        ("epoch_schedulers", torch.optim.lr_scheduler.LRScheduler)):
        for name, obj in getattr(declared, field).items():
            if not isinstance(obj, kind):
                raise contract_error(plugin, violation("optimizers", f"{field}[{name!r}] is a "
                                                                     f"{type(obj).__name__}, not a {kind.__name__}",
                                                       fix))
    for name, obj in declared.epoch_schedulers.items():
        if isinstance(obj, torch.optim.lr_scheduler.ReduceLROnPlateau):
            raise contract_error(plugin, violation("optimizers", f"epoch_schedulers[{name!r}] is a ReduceLROnPlateau, "
                                                                 "which steps on a metric, not once per epoch",
                                                   "put it in TrainingState(stateful=...) and step it yourself"))
    if getattr(plugin, "stateful", None):
        raise contract_error(plugin, violation("optimizers", "self.stateful is set, but the harness no longer reads "
                                                             "it (its objects would be left out of checkpoints)",
                                               "return them in TrainingState(...) from setup() instead"))
    names = [*declared.optimizers, *declared.epoch_schedulers, *declared.stateful]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise contract_error(plugin, violation("optimizers", f"the name {twice[0]!r} is declared twice",
                                               "give every optimiser, scheduler and stateful object its own name"))
    check_undeclared_optimizers(plugin, declared)
    return declared


def check_undeclared_optimizers(plugin: Any, declared: TrainingState) -> None:
    """Raise :class:`PluginContractError` (rule ``optimizers``) when the plugin holds an
    optimiser or LR scheduler that ``declared`` does not: in an attribute, or anywhere
    inside its lists, tuples, dicts and plain (non-module) objects. Run after ``setup``
    and again before every checkpoint, so one made later, in ``train_step``, is caught
    before a checkpoint leaves it out."""
    known = {id(obj) for obj in declared.objects().values()}
    for path, obj in _held_objects(plugin):
        if _optimiser_like(obj) and id(obj) not in known:
            attribute = _path_text(path)
            what = "optimiser" if isinstance(obj, torch.optim.Optimizer) else "LR scheduler"
            field = "optimizers" if what == "optimiser" else "epoch_schedulers"
            raise contract_error(plugin, violation(
                "optimizers", f"self.{attribute} is an {what} that setup() did not declare (a resume would "
                              "restart it)", f"return it in TrainingState({field}={{...}}) from setup()"))


#: How deep :func:`_held_objects` looks into containers and plain objects, and how many
#: items of one container it looks at (a plugin's big caches are not walked whole before
#: every checkpoint).
HELD_DEPTH = 4
HELD_ITEMS = 10_000


def _held_objects(plugin: Any) -> Iterable[tuple[tuple, Any]]:
    """``(attribute path, value)`` of the plugin's attributes and, recursively (up to
    :data:`HELD_DEPTH` levels and :data:`HELD_ITEMS` items per container), of the items of
    its lists, tuples and dicts and the attributes of plain objects; networks, tensors,
    arrays and the optimisers themselves are not entered, and an object that cannot be
    looked into (a dead weak proxy, a raising ``__getattr__``) is passed over. A path is a
    tuple of steps, formatted by :func:`_path_text` only for a finding."""
    seen: set[int] = {id(plugin)}

    def children(value: Any) -> list[tuple[Any, Any]]:
        try:
            if isinstance(value, Mapping):
                return [(("[", key), item) for key, item in itertools.islice(value.items(), HELD_ITEMS)]
            if isinstance(value, (list, tuple)):
                return [(("[", k), item) for k, item in enumerate(value[:HELD_ITEMS])]
            if _plain_object(value):
                return [((".", name), item) for name, item in itertools.islice(vars(value).items(), HELD_ITEMS)]
        except Exception:   # noqa: BLE001 - whatever a plugin object does when looked into, skip it
            pass
        return []

    def walk(path: tuple, value: Any, depth: int) -> Iterable[tuple[tuple, Any]]:
        yield path, value
        if depth >= HELD_DEPTH or id(value) in seen:
            return
        seen.add(id(value))
        for step, child in children(value):
            yield from walk((*path, step), child, depth + 1)

    for attribute, value in vars(plugin).items():
        yield from walk(((".", attribute),), value, 1)


def _optimiser_like(value: Any) -> bool:
    """An optimiser or LR scheduler (False for what cannot even be asked: a dead weak proxy)."""
    try:
        return isinstance(value, (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler))
    except Exception:   # noqa: BLE001
        return False


def _path_text(path: tuple) -> str:
    """``opt``, ``parts['g'][0]``, ``parts.opt`` from the steps of a path."""
    text = ""
    for kind, key in path:
        text += f"[{key!r}]" if kind == "[" else f".{key}"
    return text.removeprefix(".")


def _plain_object(value: Any) -> bool:
    """An object of the plugin's own making worth looking into (not a network, tensor,
    optimiser, scheduler, class, function or Python module)."""
    try:
        return hasattr(value, "__dict__") and not isinstance(value, (
            torch.nn.Module, torch.Tensor, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, type,
            types.ModuleType, types.FunctionType, types.MethodType))
    except Exception:   # noqa: BLE001 - a dead weak proxy raises ReferenceError here
        return False


def check_state(plugin: Any, state: Any) -> None:
    """Raise :class:`PluginContractError` unless ``state`` (a ``state_dict()``) is plain data.

    Called before every checkpoint is written, so a plugin whose state would need a
    full pickle load fails its cell at the first checkpoint, not when someone resumes.
    """
    place = _first_unsafe_value(state, "state_dict()")
    if place is not None:
        raise contract_error(plugin, violation(
            "state", place, "keep only tensors, numbers, strings, bools, None, and lists, tuples and dicts of "
                            "them in extra_state() (an ndarray as torch.from_numpy(a), an object as a dict)"))


def _first_unsafe_value(value: Any, place: str) -> str | None:
    """``state_dict()['extra']['pool'] is a numpy.ndarray`` for the first non-plain value, or None."""
    kind = type(value)
    if kind in STATE_VALUES:
        return None
    if kind not in STATE_CONTAINERS:
        return f"{place} is a {_type_name(kind)}"
    keyed = isinstance(value, dict)
    for key, item in value.items() if keyed else enumerate(value):
        if keyed and type(key) not in STATE_VALUES:
            return f"a key of {place} is a {_type_name(type(key))}"
        found = _first_unsafe_value(item, f"{place}[{key!r}]")
        if found is not None:
            return found
    return None


def _type_name(kind: type) -> str:
    """``numpy.ndarray``: where a type comes from, as the weights-only unpickler would name it."""
    return f"{kind.__module__}.{kind.__qualname__}"


def check_generated(plugin: Any, images: Any, n: int, image_size: int,
                    reference: torch.Tensor | None = None) -> None:
    """Raise :class:`PluginContractError` unless ``images`` is ``n`` finite float CPU images in [-1, 1].

    :param reference: uint8 real images of the cell (optional); used only to tell an
        output in [0, 1] from a legitimately bright one.
    """
    found = generated_violation(images, n, image_size, reference)
    if found is not None:
        raise contract_error(plugin, found)


def generated_violation(images: Any, n: int, image_size: int,
                        reference: torch.Tensor | None = None) -> Violation | None:
    """The first rule ``images`` (``generate``'s output for ``n``) breaks, or None."""
    expected = (n, 3, image_size, image_size)
    if not isinstance(images, torch.Tensor):
        return violation("generate-dtype", f"generate returned {type(images).__name__}, not a tensor",
                         "return a float tensor")
    if images.ndim >= 1 and images.shape[0] != n:
        return violation("generate-count", f"generate returned {images.shape[0]} images, not {n}",
                         "return exactly n images (the record counts on it)")
    if tuple(images.shape) != expected:
        return violation("generate-shape", f"shape is {tuple(images.shape)}, not {expected}",
                         "return (n, 3, image_size, image_size) images")
    if not images.is_floating_point() or images.device.type != "cpu":
        return violation("generate-dtype", f"images are {images.dtype} on {images.device.type}, not float on cpu",
                         "return images.float().cpu()")
    if not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).sum())
        return violation("generate-finite", f"{bad} pixels are NaN or infinite",
                         "fix the generator (a diverged network or a division by zero)")
    low, high = float(images.min()), float(images.max())
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        if low >= 0 and high > 2:   # bytes: one precise fix, not a second, generic one beside it
            return violation("generate-range", f"values span [{low:.3g}, {high:.3g}] and look like [0, 255]",
                             "return images / 127.5 - 1 (the harness expects [-1, 1])")
        return violation("generate-range", f"values span [{low:.3g}, {high:.3g}]",
                         "return images in [-1, 1] (e.g. a tanh output)")
    if reference is not None and low >= 0 and high > low and _looks_unit_range(images, reference):
        return violation("generate-range", f"values span [{low:.3g}, {high:.3g}] and look like [0, 1] "
                         "(no pixel is darker than mid-grey, unlike the real images)",
                         "return images * 2 - 1 (the harness expects [-1, 1])")
    return None


def check_generated_masks(plugin: Any, masks: Any, n: int, image_size: int) -> None:
    """Raise :class:`PluginContractError` unless ``masks`` (``generate_with_masks``'s) is
    ``n`` masks ``(n, 1, S, S)`` on CPU, bool or float/int with only 0 and 1."""
    expected = (n, 1, image_size, image_size)
    if not isinstance(masks, torch.Tensor) or tuple(masks.shape) != expected:
        shape = tuple(masks.shape) if isinstance(masks, torch.Tensor) else type(masks).__name__
        raise contract_error(plugin, violation("generate-masks", f"masks are {shape}, not {expected}",
                                               "return a bool tensor (n, 1, image_size, image_size), or None"))
    if masks.device.type != "cpu" or (masks.dtype != torch.bool and not bool(((masks == 0) | (masks == 1)).all())):
        raise contract_error(plugin, violation("generate-masks", f"masks are {masks.dtype} on {masks.device.type} "
                                               "with values other than 0 and 1", "return (masks > 0.5).cpu()"))


def _looks_unit_range(images: torch.Tensor, reference: torch.Tensor) -> bool:
    """True when ``images`` (all >= 0) would be implausible as [-1, 1] images like ``reference``.

    ``p``: the share of real images with no pixel below mid-grey (128), smoothed
    (Laplace) so that a few bright real images never look impossible. ``k`` fakes all
    that bright would happen with chance ``p**k`` if they resembled the real images.
    """
    if len(reference) == 0:
        return False
    bright = int((reference.reshape(len(reference), -1).amin(dim=1) >= 128).sum())
    p = (bright + 1) / (len(reference) + 2)
    return p ** len(images) < 1e-6


# --- naming plugins in errors -------------------------------------------------------------


def contract_error(plugin: Any, found: Violation) -> PluginContractError:
    """The one-line error for ``found`` in the plugin instance or class ``plugin``."""
    cls = plugin if isinstance(plugin, type) else type(plugin)
    kind = next((k for k, base in BASES.items() if issubclass(cls, base)), "plugin")
    where = describe_plugin(kind, str(getattr(cls, "name", cls.__name__)), package_of(cls))
    return PluginContractError(where, found.rule.id, found.detail, found.fix)


def plugin_raised(exc: BaseException, classes: Iterable[type | None]) -> PluginError | None:
    """The one-line error for ``exc`` if it came out of the code of one of the plugin ``classes``, else None.

    It did when its traceback passes through a method of the class (or of a base below
    the contract's ``Generator`` / ``Classifier``); the method named is the outermost
    such frame, the one the harness called (``generate``, not the helper that raised).
    An exception whose traceback holds no such frame is the harness's own: None, so
    that it is not passed off as the plugin's fault.
    """
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    for cls in filter(None, classes):
        codes = _method_codes(cls)
        called = next((f for f in frames if f.f_code in codes), None)
        if called is not None:
            kind = next((k for k, base in BASES.items() if issubclass(cls, base)), "plugin")
            where = describe_plugin(kind, str(getattr(cls, "name", cls.__name__)), package_of(cls))
            message = (str(exc).strip().splitlines() or [""])[0]
            return PluginError(where, f"{called.f_code.co_name} raised {type(exc).__name__}"
                                      f"{': ' + message if message else ''}",
                               f"fix the plugin (the traceback is in {TRACEBACK_NAME} in the cell folder)")
    return None


def _method_codes(cls: type) -> set[Any]:
    """The code objects of every method ``cls`` and its plugin-side bases define (decorators unwrapped)."""
    codes = set()
    for owner in cls.__mro__:
        if owner in HARNESS_CLASSES or not issubclass(owner, Trainable):
            continue
        for value in vars(owner).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            elif isinstance(value, property):
                value = value.fget
            code = getattr(inspect.unwrap(value), "__code__", None) if callable(value) else None
            if code is not None:
                codes.add(code)
    return codes


#: Package (and version) of each class the registry accepted, so run-time errors name it.
_REGISTERED_PACKAGES: "weakref.WeakKeyDictionary[type, str]" = weakref.WeakKeyDictionary()


def remember_package(cls: type, package: str) -> None:
    """Note that ``cls`` came from ``package`` (the registry calls this on registration)."""
    _REGISTERED_PACKAGES[cls] = package


def package_of(cls: type) -> str:
    """The package ``cls`` was registered from, else the distribution of its module, else ``module <name>``."""
    if cls in _REGISTERED_PACKAGES:
        return _REGISTERED_PACKAGES[cls]
    top = cls.__module__.split(".")[0]
    names = _packages_by_module().get(top)
    return names[0] if names else f"module {cls.__module__}"


@functools.lru_cache(maxsize=1)
def _packages_by_module() -> dict[str, list[str]]:
    # Scans every installed distribution: cached, and only reached on an error path.
    return dict(importlib.metadata.packages_distributions())
