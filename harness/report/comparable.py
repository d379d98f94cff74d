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
manifest hash pins the data. Cells without a ``config.json`` (written by hand, or by
an older version) are not checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dg2bench.errors import DataError
from dg2bench.store.cell_config import config_digest, describe_changes, read_cell_config
from dg2bench.store.results import CellId, ResultStore

#: Cells named in the error before "and N more".
SHOWN = 3


def shared_settings(config: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """What every cell of a dataset must share: its configuration but the generator, and how it ran.

    The data folder's path is left out (the split's manifest hash pins the data, wherever
    it lies); the device type and the classifiers' precision come from the record (a
    spec's ``precision = "auto"`` is bf16 on CUDA and fp32 on CPU).
    """
    code = {key: value for key, value in config.get("code", {}).items() if not key.startswith("generator:")}
    dataset = {key: value for key, value in (config.get("dataset") or {}).items() if key != "root"}
    ran = {"device": record.get("device", "unrecorded"),
           "classifier_precision": {label: result.get("precision")
                                    for label, result in sorted(record.get("classification", {}).items())}}
    kept = {key: value for key, value in config.items() if key not in ("generator", "code", "dataset")}
    return {**kept, "dataset": dataset, "code": code, "ran": ran}


def method_settings(config: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """What the seeds of one method must share: all of the above, its generator, and its training precision."""
    training = record.get("training") or {}
    return {**shared_settings(config, record), "generator": config.get("generator"),
            "generator_code": {k: v for k, v in config.get("code", {}).items() if k.startswith("generator:")},
            "generator_precision": training.get("precision")}


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
        odd = _odd_ones(cells, {cell: shared_settings(*found[cell]) for cell in cells})
        problems += [f"{cell} differs from the rest of {dataset} ({change})" for cell, change in odd.items()]
        for method in sorted({cell.method for cell in cells}):
            seeds = [cell for cell in cells if cell.method == method and cell not in odd]   # each cell named once
            problems += [f"{cell} differs from its other seeds ({change})" for cell, change in
                         _odd_ones(seeds, {cell: method_settings(*found[cell]) for cell in seeds}).items()]
    if problems:
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise DataError(str(store.root), "holds cells run under different settings, which a leaderboard would "
                        f"compare: {'; '.join(problems[:SHOWN])}{more}",
                        "move the cells you do not mean to compare out of cells/ (`bench run SPEC --on-change "
                        "restart` reruns a spec's cells and moves the old ones to superseded/), or keep each "
                        "configuration in its own --results folder")


def _odd_ones(cells: list[CellId], settings: dict[CellId, dict[str, Any]]) -> dict[CellId, str]:
    """The cells not on the most common settings, each with what differs."""
    if not cells:
        return {}
    digests = {cell: config_digest(settings[cell]) for cell in cells}
    common, _ = Counter(digests.values()).most_common(1)[0]
    reference = next(settings[cell] for cell in cells if digests[cell] == common)
    return {cell: describe_changes(reference, settings[cell], limit=2)
            for cell in sorted(cells, key=str) if digests[cell] != common}
