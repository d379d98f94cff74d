"""``diffusion-inpaint`` learns and paints only inside the mask.

A tiny problem: defect images are dark noisy backgrounds with a red 8 x 8 square
inside their mask. An untrained model fills the mask with noise (redness about 0); after
400 steps the noise-prediction loss has more than halved and the samples inside the
placed masks are clearly red, while every pixel outside them is the source's.
"""

from __future__ import annotations

import json

import pytest
import torch

from dg2bench import RealTrainingData, TrainPlan
from dg2bench.plugins.controls.cutpaste import random_placement
from dg2bench.plugins.generators.diffusion_inpaint import DiffusionInpaint, inpainting_input
from dg2bench.run.training import set_up

SIZE, STEPS = 32, 400
RED = torch.tensor([0.9, -0.9, -0.9]).view(1, 3, 1, 1)


def red_squares(count: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Defect images (a red square on a dark noisy background), their masks, and the
    backgrounds alone (defect-free sources)."""
    background = -0.4 + 0.1 * torch.randn(count, 3, SIZE, SIZE, generator=gen)
    masks = torch.zeros(count, 1, SIZE, SIZE, dtype=torch.bool)
    for i in range(count):
        r, c = torch.randint(2, 20, (2,), generator=gen).tolist()
        masks[i, :, r:r + 8, c:c + 8] = True
    return torch.where(masks, RED.expand(count, 3, SIZE, SIZE), background), masks, background


def redness_inside(model: DiffusionInpaint, sources: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
    torch.manual_seed(5)
    images, masks = model.generate_with_masks(len(sources), sources)
    red = (images[:, 0] - images[:, 1]).unsqueeze(1)
    return float(red[masks].mean()), images, masks


def test_inpainting_input_is_noise_context_and_mask():
    noisy, image = torch.full((1, 3, 4, 4), 0.5), torch.ones(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    x = inpainting_input(noisy, image, mask)
    assert x.shape == (1, 7, 4, 4) and torch.equal(x[:, :3], noisy) and torch.equal(x[:, 6:], mask)
    assert x[:, 3:6, :2].abs().sum() == 0 and torch.equal(x[:, 3:6, 2:], image[:, :, 2:])   # the defect hidden


@pytest.mark.slow
def test_generation_places_real_masks_and_keeps_the_source_outside_them():
    gen = torch.Generator().manual_seed(0)
    defects, masks, sources = red_squares(6, gen)
    model = DiffusionInpaint(DiffusionInpaint.Hyperparameters(**DiffusionInpaint.presets["tiny"]), SIZE)
    u8 = ((defects + 1) * 127.5).round().to(torch.uint8)
    model.prepare(RealTrainingData(u8, u8, masks))
    images, placed = model.generate_with_masks(6, sources)
    assert placed.shape == (6, 1, SIZE, SIZE) and placed.dtype == torch.bool
    assert torch.equal(placed.flatten(1).sum(1), torch.full((6,), 64))      # each a real 8 x 8 mask, moved
    outside = ~placed.expand(-1, 3, -1, -1)
    assert torch.equal(images[outside], sources.clamp(-1, 1)[outside])
    torch.manual_seed(3)
    first = random_placement(masks[0, 0])
    torch.manual_seed(3)
    assert random_placement(masks[0, 0]) == first                           # global RNG: reproducible


@pytest.mark.slow
def test_a_dataset_without_masks_is_refused_in_one_line():
    from dg2bench.errors import DataError

    model = DiffusionInpaint(DiffusionInpaint.Hyperparameters(**DiffusionInpaint.presets["tiny"]), SIZE)
    images = torch.zeros(2, 3, SIZE, SIZE, dtype=torch.uint8)
    with pytest.raises(DataError, match="gives no defect masks to paint inside"):
        model.prepare(RealTrainingData(images, images, None))


@pytest.mark.slow
def test_the_noise_loss_falls_and_samples_turn_red_inside_the_mask():
    gen = torch.Generator().manual_seed(1)
    defects, masks, _ = red_squares(32, gen)
    _, _, sources = red_squares(16, gen)
    torch.manual_seed(0)
    hparams = DiffusionInpaint.Hyperparameters(**{**DiffusionInpaint.presets["tiny"], "batch_size": 8,
                                                  "ema_decay": 0.95, "sampling_steps": 10})
    model = DiffusionInpaint(hparams, SIZE)
    u8 = ((defects + 1) * 127.5).round().to(torch.uint8)
    model.prepare(RealTrainingData(u8, u8, masks))
    set_up(model, TrainPlan(image_size=SIZE, total_steps=STEPS, steps_per_epoch=4, epochs=STEPS / 4, batch_size=8,
                            device=torch.device("cpu")))
    before, _, _ = redness_inside(model, sources)
    losses = []
    for step in range(STEPS):
        pick = torch.randint(0, 32, (8,))
        losses.append(float(model.train_step({"defect": defects[pick], "defect_mask": masks[pick].float()},
                                             step)["noise_mse"]))
    after, images, placed = redness_inside(model, sources)
    first, last = sum(losses[:50]) / 50, sum(losses[-50:]) / 50
    assert last < 0.5 * first, (first, last)
    assert after > 0.2 and after - before > 0.2, (before, after)   # red is 1.8 here; untrained: noise
    outside = ~placed.expand(-1, 3, -1, -1)
    assert torch.equal(images[outside], sources.clamp(-1, 1)[outside])


@pytest.mark.slow
def test_counts_train_banks_and_settings_say_what_it_is():
    from dg2bench.contracts.plugin_manager import get_registry
    from dg2bench.errors import SpecError
    from dg2bench.spec import _plugin_choices

    tiny = DiffusionInpaint.Hyperparameters(**DiffusionInpaint.presets["tiny"])
    model = DiffusionInpaint(tiny, SIZE)
    unet = sum(p.numel() for p in model.unet.parameters())
    assert model.parameter_count() == unet == model.parameter_count(inference_only=True)   # the EMA copy once
    assert model.training_banks() == ("defect",)                  # defect images and masks only
    assert model.steps_per_epoch(1000, 300) == 75                 # 300 defects at batch 4
    assert not any("Attention" in type(m).__name__ for m in model.unet.modules())   # attention_levels 0: none
    registry = get_registry()
    for overrides, problem in (({"sampling_steps": 200}, "sampling_steps: must be <= train_timesteps (100)"),
                               ({"block_out_channels": [24, 64]}, "must all be multiples of 24")):
        with pytest.raises(SpecError, match=problem.replace("(", r"\(").replace(")", r"\)")):
            _plugin_choices({"d": {"plugin": "diffusion-inpaint", "preset": "tiny", **overrides}}, "generator",
                            registry, "s.toml: generators")


def test_registering_the_plugin_reaches_for_no_diffusers_and_building_a_model_does(monkeypatch):
    """In-process and in the fast loop: with ``diffusers`` made unimportable, the plugin
    module imports and registers, and building a model fails on the missing import."""
    import importlib
    import sys

    import dg2bench.plugins.generators as package

    name = "dg2bench.plugins.generators.diffusion_inpaint"
    monkeypatch.setitem(sys.modules, "diffusers", None)          # `import diffusers` raises ImportError
    monkeypatch.delitem(sys.modules, name)                         # imported afresh below; both restored after
    monkeypatch.setattr(package, "diffusion_inpaint", package.diffusion_inpaint)
    module = importlib.import_module(name)
    registered = []
    module.register_generators(registered.append)
    assert registered == [module.DiffusionInpaint]
    with pytest.raises(ImportError, match="diffusers"):
        module.DiffusionInpaint(module.DiffusionInpaint.Hyperparameters(**module.DiffusionInpaint.presets["tiny"]),
                                SIZE)


@pytest.mark.slow
def test_registering_the_plugin_does_not_import_diffusers():
    """diffusers takes seconds to import: only building a model pays for it, not every `bench` command.

    In a fresh interpreter (a subprocess that imports dg2bench and torch: seconds of CPU,
    so slow), where nothing else can have imported it first.
    """
    import subprocess
    import sys

    code = ("import sys, dg2bench.plugins.generators.diffusion_inpaint as m; "
            "assert 'diffusers' not in sys.modules, 'imported at registration'; "
            "m.DiffusionInpaint(m.DiffusionInpaint.Hyperparameters(**m.DiffusionInpaint.presets['tiny']), 32); "
            "assert 'diffusers' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_a_cell_saves_the_masks_with_the_fakes_and_the_figure_shows_them(tmp_path, write_spec, bench):
    """fakes_masks/000000.png goes with fakes/000000.png; the figure has a mask row."""
    from dg2bench.data.image_folders import load_png_folder
    from dg2bench.report.figures import sources_vs_fakes

    spec = write_spec(generators='[generators.diffusion-inpaint]\npreset = "tiny"\nmax_steps = 2\n', fakes=9)
    results = tmp_path / "results"
    code, _, err = bench("run", str(spec), "--results", str(results), "--only", "diffusion-inpaint")
    assert code == 0, err
    cell = next(results.glob("cells/*/diffusion-inpaint/*"))
    fakes, masks = load_png_folder(cell / "fakes"), load_png_folder(cell / "fakes_masks")
    assert masks.shape == fakes.shape and set(masks.unique().tolist()) == {0, 255}
    source = load_png_folder(cell / "fakes_sources")[: len(fakes)]
    outside = (masks == 0).all(1, keepdim=True).expand_as(fakes)[: len(source)]
    assert torch.equal(fakes[: len(source)][outside], source[outside])   # painted only inside its mask
    record = json.loads((cell / "record.json").read_text())
    assert record["fakes"]["masks_folder"] == "fakes_masks" and 0 < record["fakes"]["mask_area"] < 1
    assert sources_vs_fakes(results, record) is not None


class _WildNoisePrediction(torch.nn.Module):
    """A UNet stand-in whose noise prediction is far too large (as an undertrained one's can be)."""

    def forward(self, x, t):
        return type("Out", (), {"sample": torch.full_like(x[:, :3], 4.0)})()


@pytest.mark.slow   # imports diffusers (seconds)
@pytest.mark.parametrize("sampler", ["ddim", "dpm-solver"])
def test_clipped_sampling_stays_in_the_image_range(sampler):
    """The small model's first CPU-protocol cells sampled -28 to +35 inside their masks (no clipping)."""
    from diffusers import DDPMScheduler

    from dg2bench.plugins.generators.diffusion_inpaint import denoise, make_sampler

    schedule = DDPMScheduler(num_train_timesteps=1000)
    source, mask = torch.zeros(2, 3, 8, 8), torch.ones(2, 1, 8, 8)
    torch.manual_seed(0)
    clipped = denoise(_WildNoisePrediction(), make_sampler(sampler, schedule), source, mask, 10)
    assert clipped.abs().max() <= 1.0 + 1e-5
    torch.manual_seed(0)
    free = denoise(_WildNoisePrediction(), make_sampler(sampler, schedule, clip_sample=False), source, mask, 10)
    assert free.abs().max() > 2.0     # what clipping prevents
