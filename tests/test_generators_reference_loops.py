"""Where WGAN and D2GAN follow their reference training loops step by step."""

from __future__ import annotations

import pytest
import torch

from dg2bench.run.training import set_up
from dg2bench import TrainPlan
from dg2bench.plugins.generators.d2gan import D2Gan
from dg2bench.plugins.generators.wgan import Wgan


def wgan(steps_per_epoch: int, epochs: int) -> Wgan:
    plan = TrainPlan(image_size=32, total_steps=steps_per_epoch * epochs, steps_per_epoch=steps_per_epoch,
                     epochs=epochs, batch_size=2, device=torch.device("cpu"))
    # The paper preset's critic schedule (5 per update, 100 in warm-up) at tiny sizes.
    model = Wgan(Wgan.Hyperparameters(**{**Wgan.presets["tiny"], "batch_size": 2}), image_size=32)
    set_up(model, plan)
    gen = torch.Generator().manual_seed(0)
    for step in range(plan.total_steps):
        model.train_step({"defect": torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1}, step)
    return model


def test_wgan_epoch_boundary_ends_the_critic_loop():
    # 300 defects at batch 64 are 5 batches: Arjovsky's main.py then makes one generator
    # update per epoch, warm-up (100 critic updates) included: 12 epochs -> 12 updates.
    assert wgan(steps_per_epoch=5, epochs=12).generator_steps == 12


@pytest.mark.slow
def test_wgan_quota_splits_a_long_epoch():
    # 7 batches with 5 critic updates per generator update (after warm-up): 5 + 2, so two
    # generator updates per epoch; warm-up epochs (the first 25 updates) give one.
    model = wgan(steps_per_epoch=7, epochs=30)
    assert model.hparams.n_critic == 5 and model.hparams.warmup_generator_steps == 25
    assert model.generator_steps == 25 + 2 * 5


def test_d2gan_generator_step_draws_fresh_noise(monkeypatch):
    torch.manual_seed(0)
    model = D2Gan(D2Gan.Hyperparameters(**{**D2Gan.presets["tiny"], "batch_size": 2}), image_size=32)
    set_up(model, TrainPlan(image_size=32, total_steps=1, steps_per_epoch=1, epochs=1, batch_size=2,
                          device=torch.device("cpu")))
    seen = []
    forward = model.G.forward
    monkeypatch.setattr(model.G, "forward", lambda z: seen.append(z.clone()) or forward(z))
    model.train_step({"defect": torch.rand(2, 3, 32, 32) * 2 - 1}, 0)
    assert len(seen) == 2 and not torch.equal(seen[0], seen[1])
