"""CycleGAN's load / random-crop / flip of training batches: what it does, masks with it, exact resume."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dg2bench import LoadCropFlip, TrainPlan
from dg2bench.plugins.generators.cyclegan import CycleGan
from dg2bench.plugins.generators.dg2gan import Dg2Gan
from dg2bench.run.batches import BatchSampler
from dg2bench.run.training import ImageBanks, train


def test_load_size_scales_286_over_256():
    load_crop_flip = LoadCropFlip()
    assert load_crop_flip.load_size(256) == 286
    assert load_crop_flip.load_size(64) == 72 and load_crop_flip.load_size(32) == 36


def test_crop_is_a_window_of_the_resized_image_and_flip_mirrors():
    images = torch.linspace(-1, 1, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32)
    out = LoadCropFlip(load_scale=1.0, flip=False)(images, torch.Generator().manual_seed(0))
    assert torch.equal(out, images)   # nothing to crop, no flip: the identity
    flipped = [LoadCropFlip(load_scale=1.0)(images, torch.Generator().manual_seed(s)) for s in range(20)]
    assert any(torch.equal(f[0], images[0].flip(-1)) for f in flipped)
    assert any(torch.equal(f[0], images[0]) for f in flipped)
    # At 286/256 the output is a 32 px window of the 36 px bicubic resize.
    cropped = LoadCropFlip(flip=False)(images, torch.Generator().manual_seed(1))
    resized = F.interpolate(images, size=(36, 36), mode="bicubic", align_corners=False).clamp(-1, 1)
    windows = [resized[0, :, top:top + 32, left:left + 32] for top in range(5) for left in range(5)]
    assert any(torch.equal(cropped[0], w) for w in windows)
    assert not torch.equal(cropped[0], images[0])


def test_load_crop_flip_is_stateless_per_step():
    bank = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    banks, load_crop_flip = ImageBanks({"defect": bank}), LoadCropFlip()
    first = banks.batch(BatchSampler({"defect": 6}, 4, seed=3), 5, torch.device("cpu"), load_crop_flip)
    again = banks.batch(BatchSampler({"defect": 6}, 4, seed=3), 5, torch.device("cpu"), load_crop_flip)
    other = banks.batch(BatchSampler({"defect": 6}, 4, seed=3), 6, torch.device("cpu"), load_crop_flip)
    assert torch.equal(first["defect"], again["defect"])
    assert not torch.equal(first["defect"], other["defect"])


def test_paper_presets_load_crop_flip_tiny_does_not():
    for cls in (CycleGan, Dg2Gan):
        assert cls.Hyperparameters(**cls.presets["paper"]).load_crop_flip
        assert not cls.Hyperparameters(**cls.presets["tiny"]).load_crop_flip
    model = Dg2Gan(Dg2Gan.Hyperparameters(**Dg2Gan.presets["tiny"]), 32)
    assert model.load_crop_flip() is None
    assert isinstance(Dg2Gan(Dg2Gan.Hyperparameters(**{**Dg2Gan.presets["tiny"], "load_crop_flip": True}),
                             32).load_crop_flip(), LoadCropFlip)


def test_resume_with_load_crop_flip_equals_an_unbroken_run(tmp_path):
    gen = torch.Generator().manual_seed(0)
    banks = ImageBanks({"defect_free": torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=gen),
                        "defect": torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=gen)})
    plan = TrainPlan(image_size=32, total_steps=6, steps_per_epoch=3, epochs=2, batch_size=2,
                     device=torch.device("cpu"))

    def run(stop_after):
        torch.manual_seed(0)
        model = CycleGan(CycleGan.Hyperparameters(**{**CycleGan.presets["tiny"], "batch_size": 2,
                                                     "load_crop_flip": True}), 32)
        if stop_after:
            train(model, banks, plan, seed=1, checkpoint_path=tmp_path / "ck.pt", stop_after=stop_after)
            torch.manual_seed(99)
            model = CycleGan(model.hparams, 32)
        train(model, banks, plan, seed=1, checkpoint_path=tmp_path / ("ck.pt" if stop_after else "none.pt"))
        return model

    whole, resumed = run(None), run(4)
    for a, b in zip(whole.G.parameters(), resumed.G.parameters()):
        assert torch.equal(a, b)


def test_load_crop_flip_changes_training_and_leaves_the_global_rng_alone():
    bank = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    sampler = BatchSampler({"defect": 6}, 4, seed=3)
    state = torch.get_rng_state()
    plain = ImageBanks({"defect": bank}).batch(sampler, 0, torch.device("cpu"))
    cropped = ImageBanks({"defect": bank}).batch(sampler, 0, torch.device("cpu"), LoadCropFlip())
    assert torch.equal(torch.get_rng_state(), state)
    assert not torch.equal(plain["defect"], cropped["defect"])


def test_a_plugin_that_still_defines_input_jitter_keeps_its_crops():
    """``input_jitter`` was the method's name before ``load_crop_flip``: a 0.1 plugin, or one
    that subclasses a built-in and overrides only the old name, keeps its crops."""
    from dg2bench import Generator
    from dg2bench.contracts.trainable import batch_load_crop_flip

    class OldStyle(Dg2Gan):
        def input_jitter(self):
            return LoadCropFlip(flip=False)

    class NewStyle(OldStyle):
        def load_crop_flip(self):
            return LoadCropFlip(load_scale=1.5)

    tiny = Dg2Gan.Hyperparameters(**Dg2Gan.presets["tiny"])
    assert batch_load_crop_flip(OldStyle(tiny, 32)) == LoadCropFlip(flip=False)
    assert batch_load_crop_flip(NewStyle(tiny, 32)) == LoadCropFlip(load_scale=1.5)   # the newer name wins below
    assert batch_load_crop_flip(Dg2Gan(tiny, 32)) is None and Generator.load_crop_flip(Dg2Gan(tiny, 32)) is None


def _masked_bank(count: int = 5, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Images white inside their (random rectangle) mask and black outside, and the masks."""
    gen = torch.Generator().manual_seed(4)
    masks = torch.zeros(count, 1, size, size, dtype=torch.bool)
    for k in range(count):
        top, left = torch.randint(0, size // 2, (2,), generator=gen).tolist()
        masks[k, :, top:top + size // 3, left:left + size // 4] = True
    return (masks.expand(-1, 3, -1, -1).to(torch.uint8) * 255), masks


@pytest.mark.parametrize("transform", [None, LoadCropFlip()])
def test_masks_ride_with_their_images_through_load_crop_flip(transform):
    images, masks = _masked_bank()
    sampler = BatchSampler({"defect": 5}, 4, seed=1)
    with_masks = ImageBanks({"defect": images}, masks={"defect": masks}).batch(sampler, 3, torch.device("cpu"),
                                                                               transform)
    without = ImageBanks({"defect": images}).batch(sampler, 3, torch.device("cpu"), transform)
    assert torch.equal(with_masks["defect"], without["defect"]) and "defect_mask" not in without
    mask = with_masks["defect_mask"]
    assert mask.shape == (4, 1, 32, 32) and mask.dtype == torch.float32 and set(mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(mask, (with_masks["defect"][:, :1] > 0).float())   # the same pixels, crop and flip


def test_a_generator_that_uses_masks_needs_one_for_every_defect_image():
    from dg2bench.errors import DataError
    from dg2bench.run.cell import training_masks

    model = Dg2Gan(Dg2Gan.Hyperparameters(**Dg2Gan.presets["tiny"]), 32)
    images, masks = _masked_bank()
    assert training_masks(model, {"train_defect": images}, "crackforest") is None   # uses_masks False
    model.uses_masks = True
    assert torch.equal(training_masks(model, {"train_defect": images, "train_defect_mask": masks}, "x"), masks)
    with pytest.raises(DataError, match=r"datasets\.x: generator 'dg2gan' trains on defect masks, but 5 of the 5"):
        training_masks(model, {"train_defect": images}, "x")
    masks[1] = False
    with pytest.raises(DataError, match=r"but 1 of the 5 defect training images have none"):
        training_masks(model, {"train_defect": images, "train_defect_mask": masks}, "x")
