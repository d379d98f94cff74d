"""Refuse to put cells run under different settings into one leaderboard.

``bench run`` never reuses a cell folder made under another configuration, but a
results folder can still hold cells of two configurations: after a spec edit, a rerun
with ``--only`` or fewer seeds (with ``--on-change restart``) replaces only the cells
it plans. Averaging such seeds, or pairing such methods, would compare unlike things
without a word. So, per dataset, every cell must share the settings the comparison
rests on (split, image size, dataset options, classifiers, augmentation, metrics, the
dataset's and classifiers' plugin versions, the device type and the classifiers'
precision), and the seeds of one method must share its generator (options, plugin
version, training precision) too. The data folder's path may differ: the split's
manifest hash pins its files, regions and labels (not their pixels). Cells without a ``config.json`` (written by hand, or by
an older version) are not checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dg2bench.errors import DataError
from dg2bench.store.cell_config import config_digest, describe_changes, read_cell_config, without_location
from dg2bench.store.results import CellId, ResultStore

#: Cells named in the error before "and N more".
SHOWN = 3


def shared_settings(config: dict[str, Any]) -> dict[str, Any]:
    """What every cell of a dataset must share: its configuration but the generator.

    The data folder's path is left out (:func:`without_location`).
    """
    config = without_location(config)
    code = {key: value for key, value in config.get("code", {}).items() if not key.startswith("generator:")}
    kept = {key: value for key, value in config.items() if key not in ("generator", "code")}
    return {**kept, "dataset": config.get("dataset") or {}, "code": code}


def method_settings(config: dict[str, Any]) -> dict[str, Any]:
    """What the seeds of one method must share: all of the above and its generator."""
    return {**shared_settings(config), "generator": config.get("generator"),
            "generator_code": {k: v for k, v in config.get("code", {}).items() if k.startswith("generator:")}}


def run_facts(record: dict[str, Any], generator: bool = False) -> dict[str, Any]:
    """How a cell ran, as far as its record says: the device type, each classifier's
    precision (a spec's ``precision = "auto"`` is bf16 on CUDA, fp32 on CPU) and, with
    ``generator``, the generator's. Facts a record of an older version lacks are absent,
    and only cells that recorded a fact are compared on it.
    """
    facts = {"ran.device": record.get("device")}
    for label, result in sorted((record.get("classification") or {}).items()):
        facts[f"ran.{label}.precision"] = result.get("precision")
    if generator:
        facts["ran.generator.precision"] = (record.get("training") or {}).get("precision")
    return {key: value for key, value in facts.items() if value is not None}


def check_comparable(store: ResultStore, records: list[dict[str, Any]]) -> None:
    """Raise :class:`DataError` naming the cells whose settings differ from the rest of their dataset."""
    found: dict[CellId, tuple[dict[str, Any], dict[str, Any]]] = {}
    for record in records:
        if record.get("status", "complete") != "complete":
            continue                        # left out of every table anyway
        cell = CellId(record["dataset"], record["method"], record.get("seed", 0))
        config = read_cell_config(store.root / "cells" / cell.relative_path)
        if config is not None:
            found[cell] = (config, record)
    problems: list[str] = []
    for dataset in sorted({cell.dataset for cell in found}):
        cells = [cell for cell in found if cell.dataset == dataset]
        odd = _odd_ones(cells, {cell: shared_settings(found[cell][0]) for cell in cells})
        for cell, change in _odd_facts(cells, {cell: run_facts(found[cell][1]) for cell in cells}).items():
            odd.setdefault(cell, change)
        problems += [f"{cell} differs from the rest of {dataset} ({change})" for cell, change in sorted(
            odd.items(), key=lambda item: str(item[0]))]
        for method in sorted({cell.method for cell in cells}):
            seeds = [cell for cell in cells if cell.method == method and cell not in odd]   # each cell named once
            differ = _odd_ones(seeds, {cell: method_settings(found[cell][0]) for cell in seeds})
            for cell, change in _odd_facts(seeds, {cell: run_facts(found[cell][1], generator=True)
                                                   for cell in seeds}).items():
                differ.setdefault(cell, change)
            problems += [f"{cell} differs from its other seeds ({change})" for cell, change in sorted(
                differ.items(), key=lambda item: str(item[0]))]
    if problems:
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise DataError(str(store.root), "holds cells run under different settings, which a leaderboard would "
                        f"compare: {'; '.join(problems[:SHOWN])}{more}",
                        "move the cells you do not mean to compare out of cells/, or rerun them under the same "
                        "settings (for a changed spec, `bench run SPEC --on-change restart` does it, moving the "
                        "old cells to superseded/); or keep each configuration in its own --results folder")


def _odd_facts(cells: list[CellId], facts: dict[CellId, dict[str, Any]]) -> dict[CellId, str]:
    """Per recorded fact, the cells off its most common value (among the cells that recorded it)."""
    odd: dict[CellId, str] = {}
    for key in sorted({key for cell in cells for key in facts[cell]}):
        having = [cell for cell in cells if key in facts[cell]]
        for cell, change in _odd_ones(having, {cell: {key: facts[cell][key]} for cell in having}).items():
            odd.setdefault(cell, change)
    return odd


def _odd_ones(cells: list[CellId], settings: dict[CellId, dict[str, Any]]) -> dict[CellId, str]:
    """The cells not on the most common settings, each with what differs."""
    if not cells:
        return {}
    digests = {cell: config_digest(settings[cell]) for cell in cells}
    common, _ = Counter(digests.values()).most_common(1)[0]
    reference = next(settings[cell] for cell in cells if digests[cell] == common)
    return {cell: describe_changes(reference, settings[cell], limit=2)
            for cell in sorted(cells, key=str) if digests[cell] != common}
