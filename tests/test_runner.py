"""The runner with in-process plugins: failing cells, fake counts, seeds."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dg2bench import hookimpl
from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.runner import run_benchmark
from dg2bench.spec import load_spec
from dg2bench.store.cell_config import read_cell_config
from dg2bench.store.results import ResultStore

from scalar_generator import ScalarGenerator, ScalarHyperparameters

from helpers import tiny_spec_text


@dataclasses.dataclass(frozen=True)
class _Hp(ScalarHyperparameters):
    explode_at: int = -1


class ConstantGenerator(ScalarGenerator):
    """Learns one scalar; its loss turns NaN at step ``explode_at`` when asked to."""

    name = "constant"
    Hyperparameters = _Hp

    def loss(self, batch, step):
        loss = super().loss(batch, step)
        return loss * float("nan") if step == self.hparams.explode_at else loss


class _Plugin:
    @hookimpl
    def register_generators(self, register):
        register(ConstantGenerator)


GENERATORS = """
[generators.stable]
plugin = "constant"

[generators.exploding]
plugin = "constant"
explode_at = 1
"""


def test_non_finite_loss_fails_its_cell_and_the_run_goes_on(tmp_path, write_spec, bench):
    registry = get_registry(extra_plugins=[_Plugin()])
    spec = load_spec(write_spec(generators=GENERATORS, fakes=3, classifier_steps=2), registry)
    summary = run_benchmark(spec, registry, ResultStore(tmp_path / "results"))
    assert summary.failed == ["crackforest/exploding/seed0"]
    assert sorted(summary.ran) == ["crackforest/baseline/seed0", "crackforest/stable/seed0"]
    records = {r["method"]: r for r in ResultStore(tmp_path / "results").records()}
    assert records["exploding"]["status"] == "failed"
    assert "non-finite loss at step 2: loss=nan" in records["exploding"]["reason"]
    # a failed cell has a record, so a rerun does not retry it forever
    again = run_benchmark(spec, registry, ResultStore(tmp_path / "results"))
    assert again.ran == [] and len(again.skipped) == 3
    assert again.skipped_failed == ["crackforest/exploding/seed0"]  # the summary line says so
    retried = run_benchmark(spec, registry, ResultStore(tmp_path / "results"), retry_failed=True)
    assert retried.failed == ["crackforest/exploding/seed0"] and len(retried.skipped) == 2
    code, out, err = bench("leaderboard", str(tmp_path / "results"), "--table", "classify", "--format", "csv")
    assert code == 0 and "stable+resnet34" in out and "exploding" not in out
    assert "note: crackforest/exploding/seed0 failed and is not in the table: non-finite loss" in err


def test_fakes_scored_are_at_least_the_real_set_and_training_gets_the_spec_count(tmp_path, write_spec):
    registry = get_registry(extra_plugins=[_Plugin()])
    text = tiny_spec_text(generators="[generators.stable]\nplugin = \"constant\"\n", fakes=3, classifier_steps=2)
    spec = load_spec(write_spec(text), registry)
    run_benchmark(spec, registry, ResultStore(tmp_path / "results"), only=["stable"])
    record = ResultStore(tmp_path / "results").records()[0]
    assert record["fakes"]["count"] == 8 and record["fakes"]["for_training"] == 3  # 8 real training defects
    assert record["classification"]["resnet34"]["train_images"]["fake_defect"] == 3


@pytest.mark.slow
def test_seeds_make_separate_cells(tmp_path, write_spec):
    registry = get_registry(extra_plugins=[_Plugin()])
    spec = load_spec(write_spec(generators="[generators.stable]\nplugin = \"constant\"\n", classifier_steps=2),
                     registry).with_seeds(2)
    summary = run_benchmark(spec, registry, ResultStore(tmp_path / "results"), only=["stable"])
    assert summary.ran == ["crackforest/stable/seed0", "crackforest/stable/seed1"]


def test_batch_sampler_is_a_shuffled_pass_per_cycle_and_stateless():
    from dg2bench.run.batches import BatchSampler

    sampler = BatchSampler({"a": 10}, batch_size=4, seed=3)
    stream = torch.cat([sampler.indices("a", s) for s in range(5)])  # 20 positions = 2 passes
    assert sorted(stream[:10].tolist()) == list(range(10)) and sorted(stream[10:].tolist()) == list(range(10))
    assert not torch.equal(stream[:10], stream[10:])
    fresh = BatchSampler({"a": 10}, batch_size=4, seed=3)
    assert torch.equal(fresh.indices("a", 3), sampler.indices("a", 3))
    assert not torch.equal(BatchSampler({"a": 10}, 4, seed=4).indices("a", 0), sampler.indices("a", 0))
    small = BatchSampler({"a": 3}, batch_size=8, seed=0).indices("a", 0)  # batch larger than the bank
    assert small.shape == (8,) and set(small.tolist()) == {0, 1, 2}


class CopyTranslator(ConstantGenerator):
    """A "translation" method whose fakes are its source images, unchanged."""

    name = "copy"
    kind = "translation"

    @torch.no_grad()
    def generate(self, n, source):
        return source[:n].cpu()


class _CopyPlugin:
    @hookimpl
    def register_generators(self, register):
        register(CopyTranslator)


def test_fake_source_order_is_a_seeded_permutation_cycled():
    from dg2bench.run.generation import fake_source_order
    order = fake_source_order(10, 25, seed=0)
    assert sorted(order[:10].tolist()) == list(range(10))      # every source once per cycle
    assert torch.equal(order[10:20], order[:10])
    assert order[:10].tolist() != list(range(10))               # not manifest order
    assert torch.equal(order, fake_source_order(10, 25, seed=0))
    assert not torch.equal(order, fake_source_order(10, 25, seed=1))
    # Fewer fakes than sources: drawn from the whole pool, not its first entries.
    assert fake_source_order(1000, 600, seed=0).max() > 900


@pytest.mark.slow
def test_translation_fakes_come_from_recorded_permuted_sources(tmp_path, write_spec):
    from dg2bench.data.image_folders import load_png_folder
    from dg2bench.data.loading import build_split, load_split_images
    registry = get_registry(extra_plugins=[_CopyPlugin()])
    text = tiny_spec_text(generators="[generators.copy]\nplugin = \"copy\"\n", fakes=10, classifier_steps=2)
    spec = load_spec(write_spec(text), registry)
    store = ResultStore(tmp_path / "results")
    run_benchmark(spec, registry, store, only=["copy"])
    info = store.records()[0]["fakes"]
    split = build_split(spec.datasets[0], registry, spec.benchmark.split_seed)
    free = split.select("train", 0)
    assert len(info["sources"]) == info["count"]
    assert info["sources"] != [item.id for item in free][:info["count"]]
    images = load_split_images(split, spec.benchmark.image_size)["train_defect_free"]
    index = [next(k for k, item in enumerate(free) if item.id == sid) for sid in info["sources"]]
    fakes = load_png_folder(next((tmp_path / "results").rglob("fakes")))
    assert torch.equal(fakes, images[index])


@pytest.mark.slow
def test_a_changed_split_refuses_to_mix_with_old_cells(tmp_path, write_spec, monkeypatch):
    # Same spec, same options, but the dataset labels differently (as when CrackForest
    # started counting thin cracks): the old cells must not be reused silently.
    import pytest
    from dg2bench.errors import SpecError
    from dg2bench.plugins.datasets.crackforest import CrackForestPatches
    registry = get_registry(extra_plugins=[_Plugin()])
    spec = load_spec(write_spec(tiny_spec_text(generators="", fakes=3, classifier_steps=2)), registry)
    store = ResultStore(tmp_path / "results")
    label = CrackForestPatches._label
    monkeypatch.setattr(CrackForestPatches, "_label",
                        lambda self, tile: 0 if tile.crack_pixels < 30 and label(self, tile) is not None else
                        label(self, tile))
    run_benchmark(spec, registry, store)
    monkeypatch.undo()
    with pytest.raises(SpecError, match="different configuration"):
        run_benchmark(spec, registry, store)


@pytest.mark.slow
@pytest.mark.parametrize("schedule, baseline_steps", [("epochs", 6), ("steps", 8)])
def test_classifier_schedule_steps_trains_every_cell_as_long_as_an_augmented_one(tmp_path, write_spec, schedule,
                                                                                  baseline_steps):
    # tiny resnet34: batch 8, 2 epochs; 20 real images -> 3 steps an epoch, 28 with 8 fakes -> 4.
    text = tiny_spec_text(generators="[generators.oversample]\npreset = \"tiny\"\n", classifier_steps=100)
    registry = get_registry()
    spec = load_spec(write_spec(text.replace("fakes = 8", f"fakes = 8\nclassifier_schedule = \"{schedule}\"")),
                     registry)
    store = ResultStore(tmp_path / "results")
    run_benchmark(spec, registry, store)
    results = {r["method"]: r["classification"]["resnet34"] for r in store.records()}
    assert results["oversample"]["steps"] == 8 and results["baseline"]["steps"] == baseline_steps
    assert results["baseline"]["schedule"] == schedule
    assert results["baseline"]["epochs"] == pytest.approx(baseline_steps / 3)
    configs = [read_cell_config(store.root / "cells" / "crackforest" / m / "seed0") for m in ("baseline", "oversample")]
    assert all(("classifier_schedule" in c["augmentation"]) == (schedule == "steps") for c in configs)
