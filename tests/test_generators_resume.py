"""Checkpoint -> fresh instance -> resume gives bit-identical weights to an unbroken run (CPU).

Mirrors what the harness does: it saves ``state_dict()`` and the torch / python RNG
states, builds a new instance, calls ``setup`` and ``load_state_dict`` and goes on.
The split falls mid-epoch, mid-critic-quota (WGAN) and after the image pool is full
(CycleGAN, DG2GAN), so optimizer, scheduler, pool and counter states all matter.
"""

from __future__ import annotations

import io
import random

import pytest
import torch

from dg2bench import TrainPlan
from dg2bench.run.training import set_up, training_step
from dg2bench.plugins.generators.cyclegan import CycleGan
from dg2bench.plugins.generators.d2gan import D2Gan
from dg2bench.plugins.generators.dfmgan import Dfmgan
from dg2bench.plugins.generators.dg2gan import Dg2Gan
from dg2bench.plugins.generators.diffusion_inpaint import DiffusionInpaint
from dg2bench.plugins.generators.wgan import Wgan

STEPS, SPLIT = 9, 5
PLAN = TrainPlan(image_size=32, total_steps=STEPS, steps_per_epoch=2, epochs=STEPS / 2,
                 batch_size=2, device=torch.device("cpu"))

CASES = {
    "cyclegan": (CycleGan, {"batch_size": 2, "pool_size": 3}),
    "dg2gan": (Dg2Gan, {"batch_size": 2, "pool_size": 3}),
    "wgan": (Wgan, {"batch_size": 2, "n_critic": 2, "n_critic_warmup": 3,
                    "warmup_generator_steps": 1, "warmup_every": 2}),
    "wgan-gp": (Wgan, {"batch_size": 2, "optimizer": "adam", "clip": 0.0, "lambda_gp": 10.0,
                       "critic_norm": "layer", "n_critic": 2, "n_critic_warmup": 0}),
    "d2gan": (D2Gan, {"batch_size": 2}),
    "diffusion-inpaint": (DiffusionInpaint, {"batch_size": 2, "ema_decay": 0.9}),   # the EMA moved too
    # 4 stage-1 steps, then stage 2: the resume falls in stage 2, lazy R1 every other step.
    "dfmgan": (Dfmgan, {"batch_size": 2}),
}


def make(cls, overrides):
    model = cls(cls.Hyperparameters(**{**cls.presets["tiny"], **overrides}), image_size=32)
    set_up(model, PLAN)
    return model


def batch(step: int, cls: type) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(100 + step)
    out = {"defect_free": torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1,
           "defect": torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1,
           "defect_mask": (torch.rand(2, 1, 32, 32, generator=gen) < 0.3).float()}
    both = cls.kind == "translation" if cls.trains_on_defect_free is None else cls.trains_on_defect_free
    keep = {"defect"} | ({"defect_free"} if both else set()) | ({"defect_mask"} if cls.uses_masks else set())
    return {key: value for key, value in out.items() if key in keep}


def train(cls, overrides, split: int | None):
    torch.manual_seed(0)
    random.seed(0)
    model = make(cls, overrides)
    for step in range(STEPS):
        if step == split:
            buffer = io.BytesIO()
            torch.save(model.state_dict(), buffer)
            rng, py_rng = torch.get_rng_state(), random.getstate()
            torch.manual_seed(12345)   # the new process starts from another RNG state
            random.seed(12345)
            model = make(cls, overrides)
            buffer.seek(0)
            model.load_state_dict(torch.load(buffer, weights_only=True))
            torch.set_rng_state(rng)
            random.setstate(py_rng)
        training_step(model, batch(step, cls), step, PLAN)   # the harness steps epoch schedulers
    return model


#: Left to the full suite: diffusion-inpaint (diffusers' import) and cyclegan (the image pool
#: DG2GAN shares with it, which the fast loop resumes in dg2gan's case) and dfmgan (its stages and
#: optimisers are checked by the fast tests of test_generators_dfmgan).
SLOW = {"cyclegan", "diffusion-inpaint", "dfmgan"}


@pytest.mark.parametrize("case", [pytest.param(case, marks=pytest.mark.slow) if case in SLOW else case
                                  for case in sorted(CASES)])
def test_resume_is_bit_identical(case):
    cls, overrides = CASES[case]
    whole, resumed = train(cls, overrides, None), train(cls, overrides, SPLIT)
    for name, net in whole.networks().items():
        other = resumed.networks()[name].state_dict()
        for key, value in net.state_dict().items():
            assert torch.equal(value, other[key]), f"{name}.{key} differs after resume"
    assert whole.extra_state().keys() == resumed.extra_state().keys()
    for name, scheduler in whole.training_state.epoch_schedulers.items():
        # 4 epoch ends in 9 steps: the schedule moved (the harness stepped it), and resumed alike.
        assert scheduler.last_epoch == 4 == resumed.training_state.epoch_schedulers[name].last_epoch
        assert scheduler.get_last_lr() == resumed.training_state.epoch_schedulers[name].get_last_lr()
        assert scheduler.get_last_lr()[0] < whole.hparams.lr
