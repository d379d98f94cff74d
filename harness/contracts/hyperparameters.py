"""Typed hyperparameters: one frozen dataclass per plugin, presets as overrides.

Every plugin declares its defaults in one place, a dataclass whose fields carry their
types and documented allowed values. A spec may name a preset (``tiny``, ``paper``,
...) and override single fields; :func:`resolve_hyperparameters` checks every key and
type and says precisely what is wrong.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from dg2bench.errors import SpecError


def hyperparameter_fields(cls: type) -> dict[str, type]:
    """Map each field of the hyperparameter dataclass ``cls`` to its resolved type."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, expected: type, where: str) -> Any:
    origin = typing.get_origin(expected)
    if origin is typing.Literal:
        allowed = typing.get_args(expected)
        if value not in allowed:
            raise SpecError(where, f"must be one of {', '.join(map(repr, allowed))}, not {value!r}",
                            "pick one of the allowed values")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SpecError(where, f"must be a list, not {type(value).__name__}", "write e.g. [0.5, 0.999]")
        args = typing.get_args(expected)
        item_type = args[0] if args else float
        return tuple(_coerce(v, item_type, where) for v in value)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(expected) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected in (int, float, str, bool):
        if isinstance(value, bool) and expected is not bool:
            raise SpecError(where, f"must be {expected.__name__}, not bool", f"write {with_article(expected.__name__)}")
        if not isinstance(value, expected):
            raise SpecError(where, f"must be {expected.__name__}, not {type(value).__name__} {value!r}",
                            f"write {with_article(expected.__name__)}")
    return value


def with_article(word: str) -> str:
    """``"an int"``, ``"a str"``: a type name for "write ..." hints."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def coerce_value(value: Any, expected: type, where: str) -> Any:
    """``value`` as the field type ``expected`` (int to float, list to tuple, ...).

    :raises SpecError: naming ``where`` when ``value`` does not fit ``expected``.
    """
    return _coerce(value, expected, where)


def resolve_hyperparameters(cls: type, presets: Mapping[str, Mapping[str, Any]], preset: str | None,
                            overrides: Mapping[str, Any], where: str, table_keys: Sequence[str] = ()) -> Any:
    """Build an instance of the dataclass ``cls`` from a preset plus overrides.

    :param where: the spec location used in errors, e.g. ``smoke.toml: generators.dg2gan``.
    :param table_keys: the other keys the table accepts (``plugin``, ``preset``, ...),
        named with the fields when a key is unknown.
    :raises SpecError: on an unknown preset, an unknown key or a value of the wrong type.
    """
    fields = hyperparameter_fields(cls)
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in presets:
            raise SpecError(f"{where}.preset", f"unknown preset {preset!r}",
                            f"use one of: {', '.join(sorted(presets)) or '(none defined)'}")
        values.update(presets[preset])
    for key, value in overrides.items():
        if key not in fields:
            raise SpecError(f"{where}.{key}", "unknown hyperparameter",
                            f"known keys: {', '.join([*sorted(fields), *table_keys])}")
        values[key] = value
    for key, value in list(values.items()):
        values[key] = _coerce(value, fields[key], f"{where}.{key}")
    hparams = cls(**values)
    validate = getattr(hparams, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            # "epochs must be >= 1" names one field: say it as spec.toml: generators.x.epochs: must be >= 1.
            field, sep, rest = str(exc).partition(" ")
            if sep and field in fields and rest.startswith(("must ", "is ")):
                raise SpecError(f"{where}.{field}", rest, "fix the value") from None
            raise SpecError(where, str(exc), "fix the value") from None
    return hparams


def hyperparameters_as_dict(hparams: Any) -> dict[str, Any]:
    """A TOML-friendly dict of a hyperparameter dataclass (tuples become lists)."""
    out = {}
    for key, value in dataclasses.asdict(hparams).items():
        out[key] = list(value) if isinstance(value, tuple) else value
    return {k: v for k, v in out.items() if v is not None}


_FIELD_DOC = re.compile(r"^\s*:(?:ivar|param)\s+(\w+):\s*(.*)$")


def field_docs(cls: type) -> dict[str, str]:
    """Each field's documentation from the class docstring's ``:ivar name:`` / ``:param name:``
    entries (continuation lines joined); fields without one are left out."""
    docs: dict[str, list[str]] = {}
    current = None
    for line in (inspect.getdoc(cls) or "").splitlines():
        match = _FIELD_DOC.match(line)
        if match:
            current = match.group(1)
            docs[current] = [match.group(2).strip()]
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            docs[current].append(line.strip())
        else:
            current = None
    return {name: " ".join(parts) for name, parts in docs.items()}


def option_table(cls: type, presets: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per field of the dataclass ``cls``: ``option``, ``type``, ``default``, each
    preset's value under the preset's name (``""`` where it keeps the default) and ``doc``
    (``bench plugins NAME``)."""
    docs = field_docs(cls)
    defaults = {f.name: (f.default if f.default is not dataclasses.MISSING else
                         f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
                for f in dataclasses.fields(cls)}
    rows = []
    for name, kind in hyperparameter_fields(cls).items():
        row = {"option": name, "type": _type_name(kind), "default": _shown(defaults[name])}
        row.update({preset: _shown(values[name]) if name in values else "" for preset, values in presets.items()})
        rows.append({**row, "doc": docs.get(name, "")})
    return rows


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) is tuple:
        return f"list of {_type_name((typing.get_args(kind) or (float,))[0])}"
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) if a is not type(None) else "none" for a in typing.get_args(kind))
    if typing.get_origin(kind) is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(kind))
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")


def _shown(value: Any) -> str:
    """A value as a spec writes it: ``[0.5, 0.999]``, ``true``, ``"log"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return "–" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
