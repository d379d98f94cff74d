"""A cell's configuration file (``config.json``): its digest, and what changed between two.

``bench run`` writes it before a cell starts and refuses to reuse a folder made under
another configuration; leaderboards read it to refuse comparing cells that were run
under different settings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CONFIG_NAME = "config.json"


def config_digest(config: dict[str, Any]) -> str:
    """SHA-256 of ``config`` as canonical JSON."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def without_location(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the data folder's path: the split's manifest hash pins the data's files,
    regions and labels (not their pixels) wherever they lie, so a results folder resumed or
    compared in another clone is the same work."""
    dataset = config.get("dataset")
    if not isinstance(dataset, dict) or "root" not in dataset:
        return config
    return {**config, "dataset": {key: value for key, value in dataset.items() if key != "root"}}


def same_work(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two cell configurations describe the same work (they may differ in the data's path)."""
    return config_digest(without_location(old)) == config_digest(without_location(new))


def read_cell_config(folder: Path) -> dict[str, Any] | None:
    """The configuration recorded in ``folder/config.json``, or None (absent or unreadable)."""
    try:
        return json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8")).get("config")
    except (OSError, ValueError, AttributeError):
        return None


def describe_changes(old: dict[str, Any], new: dict[str, Any], limit: int = 4) -> str:
    """``"generator.lr: 0.0002 -> 0.0001; code.dg2bench: 0.1 -> 0.2"`` (dotted keys, at most ``limit``)."""
    before, after = _flatten(old), _flatten(new)
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k, "<absent>") != after.get(k, "<absent>"))
    if not keys:
        return "unreadable old config.json" if not old else "same values, different digest"
    shown = [f"{k}: {before.get(k, '<absent>')} -> {after.get(k, '<absent>')}" for k in keys[:limit]]
    more = f"; and {len(keys) - limit} more" if len(keys) > limit else ""
    return "; ".join(shown) + more


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): json.dumps(value, default=str) if isinstance(value, (list, tuple)) else value}
