"""Typed settings: field metadata (``option``) checked in one place, the spec's own tables as
dataclasses, and the records they write unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dg2bench import option
from dg2bench.contracts.contract import class_violations
from dg2bench.contracts.hyperparameters import allowed_text, option_table, resolve_hyperparameters
from dg2bench.errors import SpecError
from dg2bench.runner import PlannedCell, cell_config
from dg2bench.settings import AugmentationSettings, BenchmarkSettings, MetricsSettings
from dg2bench.spec import load_spec
from dg2bench.store.cell_config import same_work
from dg2bench.store.results import CellId

from helpers import REPO


@dataclasses.dataclass(frozen=True)
class Knobs:
    """Options of every shape ``option`` checks.

    :ivar steps: from the docstring.
    """

    steps: int = option(4, minimum=1)
    rate: float = option(0.5, above=0.0, below=1.0, doc="from the metadata")
    side: int = option(64, minimum=16, maximum=320)
    mode: str = option("a", choices=("a", "b"), what="mode")
    pair: tuple[float, ...] = option((0.5, 0.9), length=2, minimum=0.0)
    free: int = 3


@pytest.mark.parametrize("overrides, where, problem", [
    ({"steps": 0}, "t.steps", "must be >= 1, not 0"),
    ({"rate": 0.0}, "t.rate", "must be within (0, 1), not 0"),
    ({"rate": 1}, "t.rate", "must be within (0, 1), not 1"),
    ({"side": 321}, "t.side", "must be within 16..320, not 321"),
    ({"mode": "c"}, "t.mode", "unknown mode 'c'"),
    ({"pair": [0.5]}, "t.pair", "must hold 2 values, not 1"),
    ({"pair": [0.5, -1]}, "t.pair", "must be >= 0, not [0.5, -1]"),
])
def test_option_ranges_are_checked_centrally_naming_the_key(overrides, where, problem):
    with pytest.raises(SpecError) as caught:
        resolve_hyperparameters(Knobs, {}, None, overrides, "t")
    assert (caught.value.where, caught.value.problem) == (where, problem)
    assert caught.value.remedy.startswith(("use ", "write "))


def test_values_inside_their_ranges_resolve():
    knobs = resolve_hyperparameters(Knobs, {}, None, {"steps": 1, "rate": 0.99, "side": 16, "mode": "b",
                                                      "pair": [0, 1], "free": -5}, "t")
    assert (knobs.steps, knobs.side, knobs.mode, knobs.pair, knobs.free) == (1, 16, "b", (0.0, 1.0), -5)


def test_allowed_text_and_the_option_table_show_ranges_and_docs():
    fields = {f.name: f.metadata for f in dataclasses.fields(Knobs)}
    assert [allowed_text(fields[n]) for n in ("steps", "rate", "side", "mode", "pair", "free")] == [
        ">= 1", "(0, 1)", "16..320", "a, b", ">= 0; 2 values", ""]
    rows = {row["option"]: row for row in option_table(Knobs, {})}
    assert rows["rate"]["doc"] == "from the metadata" and rows["steps"]["doc"] == "from the docstring."
    assert rows["side"]["allowed"] == "16..320" and rows["free"]["allowed"] == ""


def test_a_required_setting_is_named():
    with pytest.raises(SpecError) as caught:
        resolve_hyperparameters(BenchmarkSettings, {}, None, {}, "s.toml: benchmark", unknown="unknown key")
    assert caught.value.where == "s.toml: benchmark.name" and caught.value.problem == "is required"
    assert option_table(BenchmarkSettings, {})[0]["default"] == "required"


def test_the_spec_tables_are_frozen_settings_dataclasses(registry, write_spec):
    spec = load_spec(write_spec(), registry)
    assert isinstance(spec.benchmark, BenchmarkSettings) and isinstance(spec.metrics, MetricsSettings)
    assert isinstance(spec.augmentation, AugmentationSettings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.benchmark.seeds = 3   # type: ignore[misc]
    assert spec.with_seeds(3).benchmark.seeds == 3 and spec.benchmark.seeds == 1


@pytest.mark.parametrize("key", ["kid_subset_size", "kid_subsets", "prdc_k", "feature_batch_size"])
def test_metric_settings_out_of_range_are_refused(registry, write_spec, key):
    """These were taken as given before (a KID of zero subsets failed late, in the first cell)."""
    path = write_spec()
    lines = [line for line in path.read_text().splitlines() if not line.startswith(f"{key} =")]
    path.write_text("\n".join(lines).replace("[metrics]", f"[metrics]\n{key} = 0") + "\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path, registry)
    assert caught.value.where.endswith(f"metrics.{key}") and caught.value.problem == "must be >= 1, not 0"


def test_a_preset_out_of_its_fields_range_breaks_the_presets_rule(registry):
    base = registry.get("generator", "cyclegan").cls

    class Broken(base):
        name = "broken-cyclegan"
        presets = {"bad": {"decay_fraction": 1.5}}

    found = [v for v in class_violations("generator", Broken) if v.rule.id == "presets"]
    assert found and "decay_fraction: must be within [0, 1], not 1.5" in found[0].detail


def test_published_cells_are_the_same_work_under_the_current_code(registry):
    """Records must not change: every committed cell of the CPU protocol still matches the
    configuration the current code computes for it, so a resume skips it."""
    results = REPO / "benchmarks" / "results" / "crackforest-cpu"
    configs = sorted((results / "cells").glob("*/*/*/config.json"))
    if not configs:
        pytest.skip("no published cells yet")
    spec = load_spec(REPO / "benchmarks" / "crackforest-cpu.toml", registry)
    generators = {choice.label: choice for choice in spec.generators}
    for path in configs:
        stored = json.loads(path.read_text())["config"]
        seed_dir = path.parent
        cell = CellId(seed_dir.parent.parent.name, seed_dir.parent.name, int(seed_dir.name.removeprefix("seed")))
        planned = PlannedCell(cell, spec.datasets[0], generators.get(cell.method))
        computed = cell_config(spec, planned, stored["split_manifest_sha256"], stored["code"])
        assert same_work(stored, computed), path
