"""The training-free controls: oversample, classic, cutpaste."""

from __future__ import annotations

import pytest
import torch

from dg2bench import DataError, RealTrainingData
from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.plugins.controls.classic import ClassicAugmentation
from dg2bench.plugins.controls.cutpaste import CutPaste, paste
from dg2bench.plugins.controls.oversample import Oversample
from dg2bench.runner import run_benchmark
from dg2bench.spec import load_spec
from dg2bench.store.results import ResultStore

from helpers import tiny_spec_text

S = 32


def data(masks: bool = True) -> RealTrainingData:
    g = torch.Generator().manual_seed(0)
    defect = torch.randint(0, 256, (5, 3, S, S), dtype=torch.uint8, generator=g)
    mask = torch.zeros(5, 1, S, S, dtype=torch.bool)
    mask[:, :, 4:9, 20:30] = True
    mask[2] = False                     # one defect image without a mask
    return RealTrainingData(torch.randint(0, 256, (8, 3, S, S), dtype=torch.uint8, generator=g), defect,
                            mask if masks else None)


def build(cls, real: RealTrainingData):
    control = cls(cls.Hyperparameters(), S)
    control.prepare(real)
    return control


def test_oversample_makes_exact_copies_of_real_defects():
    real = data()
    torch.manual_seed(0)
    fakes = build(Oversample, real).generate(12)
    originals = real.defect.float() / 127.5 - 1
    assert all(any(torch.equal(f, o) for o in originals) for f in fakes)
    assert len({int(f.sum() * 1000) for f in fakes}) > 1


def test_classic_jitters_real_defects_deterministically():
    real = data()
    torch.manual_seed(0)
    first = build(ClassicAugmentation, real).generate(6)
    torch.manual_seed(0)
    again = build(ClassicAugmentation, real).generate(6)
    assert torch.equal(first, again) and first.shape == (6, 3, S, S)
    assert first.min() >= -1 and first.max() <= 1
    originals = real.defect.float() / 127.5 - 1
    assert not all(any(torch.equal(f, o) for o in originals) for f in first)


def test_paste_replaces_only_masked_pixels_with_defect_pixels():
    target = torch.zeros(3, S, S)
    defect = torch.ones(3, S, S)
    mask = torch.zeros(S, S, dtype=torch.bool)
    mask[4:9, 20:30] = True
    torch.manual_seed(1)
    out = paste(target, defect, mask)
    changed = (out != 0).any(dim=0)
    assert int(changed.sum()) == int(mask.sum())        # a 5 x 10 region, rotated or not
    assert torch.equal(out[:, changed], torch.ones(3, int(changed.sum())))


def test_cutpaste_pastes_on_the_sources_and_skips_defects_without_masks():
    real = data()
    control = build(CutPaste, real)
    assert control.usable.tolist() == [0, 1, 3, 4]
    source = real.defect_free[:4].float() / 127.5 - 1
    torch.manual_seed(0)
    fakes = control.generate(4, source)
    differs = (fakes != source).any(dim=1).flatten(1).sum(dim=1)
    assert ((0 < differs) & (differs <= 50)).all()


def test_cutpaste_without_masks_is_a_clear_error():
    with pytest.raises(DataError, match="no defect masks"):
        build(CutPaste, data(masks=False))


@pytest.mark.slow
def test_controls_run_as_cells_without_training(tmp_path, write_spec):
    registry = get_registry()
    generators = "".join(f"[generators.{name}]\npreset = \"tiny\"\n\n" for name in ("oversample", "classic", "cutpaste"))
    spec = load_spec(write_spec(tiny_spec_text(generators=generators, fakes=6, classifier_steps=2)), registry)
    store = ResultStore(tmp_path / "results")
    run_benchmark(spec, registry, store, only=["oversample", "classic", "cutpaste"])
    records = {r["method"]: r for r in store.records()}
    assert set(records) == {"oversample", "classic", "cutpaste"}
    for record in records.values():
        assert record["status"] == "complete" and record["training"]["steps"] == 0
        assert record["classification"]["resnet34"]["train_images"]["fake_defect"] == 6
    assert records["cutpaste"]["fakes"]["sources"]   # pasted on recorded defect-free sources
