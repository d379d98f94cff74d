"""The translation generators learn: on a tiny synthetic domain pair the cycle loss falls.

Domain n: 16 stripe images (random frequency, phase and orientation); domain d: 16
other stripe images with a red 5 x 5 "defect" square at a random place. Stripes
rather than flat colours because instance norm erases a per-image colour offset, so
only spatial structure can be reconstructed. Freshly initialised G and F output
nearly constant images, so the initial cycle loss is about the mean |pixel| (~1.0
summed over both cycles); an identity-like F(G(.)) drives it toward 0. Requiring a
fall below half the initial value within 120 steps rules out chance: without
training the ratio is 1, and 120 steps of noise do not halve it.
"""

from __future__ import annotations

import random

import pytest
import torch

from dg2bench.run.training import set_up
from dg2bench import TrainPlan
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.cyclegan import CycleGan
from dg2bench.plugins.generators.dg2gan import Dg2Gan

STEPS = 120
FACTOR = 0.5


def stripe_domain(gen: torch.Generator, count: int = 16, defect: bool = False) -> torch.Tensor:
    """``count`` 32 x 32 stripe images in [-1, 1], optionally with a red square each."""
    x = torch.arange(32.0)
    freq = torch.randint(2, 5, (count, 1, 1, 1), generator=gen).float()
    phase = torch.rand(count, 1, 1, 1, generator=gen) * 2 * torch.pi
    img = (0.8 * torch.sin(2 * torch.pi * freq * x.view(1, 1, 1, 32) / 32 + phase)).expand(count, 3, 32, 32)
    img = img.clone()
    vertical = torch.rand(count, generator=gen) < 0.5
    img[vertical] = img[vertical].transpose(2, 3)
    if defect:
        for i in range(count):
            r, c = torch.randint(4, 24, (2,), generator=gen).tolist()
            img[i, :, r:r + 5, c:c + 5] = torch.tensor([0.9, -0.9, -0.9]).view(3, 1, 1)
    return img


def cycle_loss_on(model, n: torch.Tensor, d: torch.Tensor) -> float:
    """Eq. 1 on the whole domains with the model's current G and F."""
    with torch.no_grad():
        return losses.cycle_consistency_loss(model.F(model.G(n)), n, model.G(model.F(d)), d).item()


@pytest.mark.slow
@pytest.mark.parametrize("cls, overrides", [
    (CycleGan, {}),
    # Eq. 6's printed cycle weight (1) lets the adversarial terms dominate a short run;
    # the CycleGAN weight (10) tests the same machinery within the step budget.
    (Dg2Gan, {"lambda_cycle": 10.0}),
])
def test_translation_generator_reduces_cycle_loss(cls, overrides):
    torch.manual_seed(0)
    random.seed(0)
    data = torch.Generator().manual_seed(1)
    n, d = stripe_domain(data), stripe_domain(data, defect=True)
    model = cls(cls.Hyperparameters(**{**cls.presets["tiny"], **overrides}), image_size=32)
    # epochs far beyond the run: the learning rate stays at its constant phase.
    set_up(model, TrainPlan(image_size=32, total_steps=STEPS, steps_per_epoch=4, epochs=1000.0,
                          batch_size=4, device=torch.device("cpu")))
    initial = cycle_loss_on(model, n, d)
    assert initial > 0.5
    for step in range(STEPS):
        i, j = torch.randperm(16, generator=data)[:4], torch.randperm(16, generator=data)[:4]
        out = model.train_step({"defect_free": n[i], "defect": d[j]}, step)
        assert all(torch.isfinite(v) for v in out.values())
    final = cycle_loss_on(model, n, d)
    assert final < FACTOR * initial, f"cycle loss {initial:.3f} -> {final:.3f}"
