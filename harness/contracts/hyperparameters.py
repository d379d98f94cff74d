"""Typed hyperparameters: one frozen dataclass per plugin, presets as overrides.

Every plugin declares its defaults in one place, a dataclass whose fields carry their
types and, through :func:`option`, their allowed values (``minimum``, ``choices``, ...)
and docs. A spec may name a preset (``tiny``, ``paper``, ...) and override single
fields; :func:`resolve_hyperparameters` checks every key, type and range centrally and
says precisely what is wrong. The spec's own tables (``[benchmark]``, ``[metrics]``,
``[augmentation]``) are such dataclasses too, and ``bench plugins NAME`` prints the
same metadata.
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


def option(default: Any = dataclasses.MISSING, *, doc: str = "", minimum: float | None = None,
           maximum: float | None = None, above: float | None = None, below: float | None = None,
           choices: Sequence[Any] | None = None, length: int | None = None, what: str | None = None) -> Any:
    """A dataclass field whose allowed values are data, checked by :func:`check_ranges`.

    :param minimum: / :param maximum: inclusive bounds; ``above`` / ``below``: exclusive ones.
        On a tuple field the bounds hold for every item.
    :param choices: the allowed values (``"unknown <what> 'x'"`` when ``what`` is given).
    :param length: the exact number of items of a tuple field.
    :param doc: one line for ``bench plugins`` and the docs (else the class docstring's
        ``:ivar name:`` entry is used).
    """
    metadata = {key: value for key, value in {"doc": doc, "minimum": minimum, "maximum": maximum, "above": above,
                                              "below": below, "choices": tuple(choices) if choices else None,
                                              "length": length, "what": what}.items() if value not in (None, "")}
    return dataclasses.field(default=default, metadata=metadata)


def allowed_text(metadata: Mapping[str, Any]) -> str:
    """The allowed values a field's metadata declares: ``">= 1"``, ``"16..320"``, ``"[0, 1)"``,
    ``"auto, fp32, bf16"``; ``""`` when it declares none."""
    low = metadata.get("minimum", metadata.get("above"))
    high = metadata.get("maximum", metadata.get("below"))
    parts = []
    if low is not None and high is not None:
        if "minimum" in metadata and "maximum" in metadata and all(isinstance(v, int) for v in (low, high)):
            parts.append(f"{low}..{high}")
        else:
            parts.append(f"{'[' if 'minimum' in metadata else '('}{_number(low)}, {_number(high)}"
                         f"{']' if 'maximum' in metadata else ')'}")
    elif low is not None:
        parts.append(f"{'>=' if 'minimum' in metadata else '>'} {_number(low)}")
    elif high is not None:
        parts.append(f"{'<=' if 'maximum' in metadata else '<'} {_number(high)}")
    if "choices" in metadata:
        parts.append(", ".join(map(str, metadata["choices"])))
    if "length" in metadata:
        parts.append(f"{metadata['length']} values")
    return "; ".join(parts)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _in_range(value: Any, metadata: Mapping[str, Any]) -> bool:
    return not (("minimum" in metadata and value < metadata["minimum"])
                or ("maximum" in metadata and value > metadata["maximum"])
                or ("above" in metadata and value <= metadata["above"])
                or ("below" in metadata and value >= metadata["below"]))


def field_path(where: str, key: str) -> str:
    """Where ``key`` of the table at ``where`` is: ``spec.toml: benchmark.seeds``, or ``--set seeds``."""
    return f"{where} {key}" if where.startswith("--") else f"{where}.{key}"


def check_ranges(values: Any, where: str) -> None:
    """Check every field of the dataclass instance ``values`` against its :func:`option` metadata.

    :raises SpecError: naming ``where.<field>``, what is allowed and the value found.
    """
    for field in dataclasses.fields(values):
        meta, value = field.metadata, getattr(values, field.name)
        if value is None or not meta:
            continue
        at = field_path(where, field.name)
        if "choices" in meta and value not in meta["choices"]:
            listed = ", ".join(map(str, meta["choices"]))
            if "what" in meta:
                raise SpecError(at, f"unknown {meta['what']} {value!r}", f"use one of: {listed}")
            raise SpecError(at, f"must be one of {listed}, not {value!r}", f"use one of: {listed}")
        if "length" in meta and len(value) != meta["length"]:
            raise SpecError(at, f"must hold {meta['length']} values, not {len(value)}",
                            f"write {meta['length']} values, e.g. {_shown(field.default)}")
        items = value if isinstance(value, tuple) else (value,)
        bounded = [item for item in items if isinstance(item, (int, float)) and not isinstance(item, bool)]
        for item in bounded:
            if not _in_range(item, meta):
                found = _shown(value)
                default = "" if field.default is dataclasses.MISSING else f" (default {_shown(field.default)})"
                raise SpecError(at, f"must be {_range_phrase(meta)}, not {found}",
                                f"use a value {_range_phrase(meta)}{default}")


def _range_phrase(metadata: Mapping[str, Any]) -> str:
    text = allowed_text({k: v for k, v in metadata.items() if k in ("minimum", "maximum", "above", "below")})
    return text if text.startswith((">", "<")) else f"within {text}"


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
                            overrides: Mapping[str, Any], where: str, table_keys: Sequence[str] = (),
                            unknown: str = "unknown hyperparameter") -> Any:
    """Build an instance of the dataclass ``cls`` from a preset plus overrides.

    Types are checked and coerced per field, then every :func:`option` range
    (:func:`check_ranges`), then the rules that tie fields together (the dataclass's
    own ``validate()``, where it has one: it raises ``ValueError("<field> must ...")``,
    optionally with the fix as a second argument).

    :param where: the spec location used in errors, e.g. ``smoke.toml: generators.dg2gan``.
    :param table_keys: the other keys the table accepts (``plugin``, ``preset``, ...),
        named with the fields when a key is unknown.
    :param unknown: how an unknown key is called (``"unknown key"`` for the spec's tables).
    :raises SpecError: on an unknown preset, an unknown or missing key, a value of the
        wrong type or out of range.
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
            raise SpecError(field_path(where, key), unknown,
                            f"known keys: {', '.join([*sorted(fields), *table_keys])}")
        values[key] = value
    for field in dataclasses.fields(cls):
        if field.name not in values and field.default is dataclasses.MISSING \
                and field.default_factory is dataclasses.MISSING:
            raise SpecError(field_path(where, field.name), "is required",
                            f"add {field.name} = ... to [{where.split(': ')[-1]}]")
    for key, value in list(values.items()):
        values[key] = _coerce(value, fields[key], field_path(where, key))
    hparams = cls(**values)
    check_ranges(hparams, where)
    validate = getattr(hparams, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            # ValueError("epochs must be >= 1"[, "use e.g. 10"]) names one field: say it as
            # spec.toml: generators.x.epochs: must be >= 1; the second argument, if any, is the fix.
            message, fix = (exc.args[0], exc.args[1]) if len(exc.args) == 2 else (str(exc), "fix the value")
            field, sep, rest = message.partition(" ")
            if sep and field in fields:
                raise SpecError(field_path(where, field), rest, fix) from None
            raise SpecError(where, message, fix) from None
    return hparams


def hyperparameters_as_dict(hparams: Any) -> dict[str, Any]:
    """A TOML-friendly dict of a hyperparameter dataclass (tuples become lists)."""
    out = {}
    for key, value in dataclasses.asdict(hparams).items():
        out[key] = list(value) if isinstance(value, tuple) else value
    return {k: v for k, v in out.items() if v is not None}


_FIELD_DOC = re.compile(r"^\s*:(?:ivar|param)\s+(\w+):\s*(.*)$")


def field_docs(cls: type) -> dict[str, str]:
    """Each field's documentation: its :func:`option` ``doc``, else the class docstring's
    ``:ivar name:`` / ``:param name:`` entry (continuation lines joined); fields without
    either are left out."""
    docs: dict[str, list[str]] = {}
    current = None
    # Base classes first, so a subclass (ResNet34's hyperparameters) keeps its base's entries.
    lines = [line for base in reversed(cls.__mro__) if base is not object
             for line in (inspect.cleandoc(base.__doc__) if base.__doc__ else "").splitlines() + [""]]
    for line in lines:
        match = _FIELD_DOC.match(line)
        if match:
            current = match.group(1)
            docs[current] = [match.group(2).strip()]
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            docs[current].append(line.strip())
        else:
            current = None
    joined = {name: " ".join(parts) for name, parts in docs.items()}
    if dataclasses.is_dataclass(cls):
        joined.update({f.name: f.metadata["doc"] for f in dataclasses.fields(cls) if f.metadata.get("doc")})
    return joined


def option_table(cls: type, presets: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per field of the dataclass ``cls``: ``option``, ``type``, ``default``,
    ``allowed`` (its :func:`option` range or choices), each preset's value under the
    preset's name (``""`` where it keeps the default) and ``doc`` (``bench plugins NAME``).
    A required field's default shows as ``required``."""
    docs = field_docs(cls)
    metadata = {f.name: f.metadata for f in dataclasses.fields(cls)}
    defaults = {f.name: (_shown(f.default) if f.default is not dataclasses.MISSING else
                         _shown(f.default_factory()) if f.default_factory is not dataclasses.MISSING else "required")
                for f in dataclasses.fields(cls)}
    rows = []
    for name, annotation in hyperparameter_fields(cls).items():
        row = {"option": name, "type": _type_name(annotation), "default": defaults[name],
               "allowed": allowed_text(metadata[name])}
        row.update({preset: _shown(values[name]) if name in values else "" for preset, values in presets.items()})
        rows.append({**row, "doc": docs.get(name, "")})
    return rows


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is tuple:
        return f"list of {_type_name((typing.get_args(annotation) or (float,))[0])}"
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) if a is not type(None) else "none" for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _shown(value: Any) -> str:
    """A value as a spec writes it: ``[0.5, 0.999]``, ``true``, ``"log"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return "–" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
