"""Refuse to put cells run under different settings into one leaderboard.

``bench run`` never reuses a cell folder made under another configuration, but a
results folder can still hold cells of two configurations: after a spec edit, a rerun
with ``--only`` or fewer seeds (with ``--on-change restart``) replaces only the cells
it plans. Averaging such seeds, or pairing such methods, would compare unlike things
without a word. So, per dataset, every cell must share the settings the comparison
rests on (split, image size, classifiers, augmentation, metrics, the dataset's and
classifiers' plugin versions), and the seeds of one method must share its whole
configuration (its generator too). Cells without a ``config.json`` (written by
hand, or by an older version) are not checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dg2bench.errors import DataError
from dg2bench.store.cell_config import config_digest, describe_changes, read_cell_config
from dg2bench.store.results import CellId, ResultStore

#: Cells named in the error before "and N more".
SHOWN = 3


def shared_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a cell's configuration that every cell of its dataset must share."""
    code = {key: value for key, value in config.get("code", {}).items() if not key.startswith("generator:")}
    return {**{key: value for key, value in config.items() if key not in ("generator", "code")}, "code": code}


def check_comparable(store: ResultStore, records: list[dict[str, Any]]) -> None:
    """Raise :class:`DataError` naming the cells whose settings differ from the rest of their dataset."""
    configs = {}
    for record in records:
        if record.get("status", "complete") != "complete":
            continue                        # left out of every table anyway
        cell = CellId(record["dataset"], record["method"], record.get("seed", 0))
        config = read_cell_config(store.root / "cells" / cell.relative_path)
        if config is not None:
            configs[cell] = config
    problems = []
    for dataset in sorted({cell.dataset for cell in configs}):
        cells = [cell for cell in configs if cell.dataset == dataset]
        problems += _odd_ones(cells, {cell: shared_settings(configs[cell]) for cell in cells}, f"the rest of {dataset}")
        for method in sorted({cell.method for cell in cells}):
            seeds = [cell for cell in cells if cell.method == method]
            problems += _odd_ones(seeds, {cell: configs[cell] for cell in seeds}, "its other seeds")
    if problems:
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise DataError(str(store.root), "holds cells run under different settings, which a leaderboard would "
                        f"compare: {'; '.join(problems[:SHOWN])}{more}",
                        "move the cells you do not mean to compare out of cells/ (`bench run SPEC --on-change "
                        "restart` reruns a spec's cells and moves the old ones to superseded/), or keep each "
                        "configuration in its own --results folder")


def _odd_ones(cells: list[CellId], settings: dict[CellId, dict[str, Any]], others: str) -> list[str]:
    """``"<cell> differs from <others> (<changes>)"`` for each cell not on the most common settings."""
    digests = {cell: config_digest(settings[cell]) for cell in cells}
    common, _ = Counter(digests.values()).most_common(1)[0]
    reference = next(settings[cell] for cell in cells if digests[cell] == common)
    return [f"{cell} differs from {others} ({describe_changes(reference, settings[cell], limit=2)})"
            for cell in sorted(cells, key=str) if digests[cell] != common]
