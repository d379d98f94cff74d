"""The "constant, then linear decay to zero" schedule of DG2GAN and CycleGAN."""

from __future__ import annotations

import pytest
import torch

from dg2bench.plugins.generators.lr_schedule import LinearDecay, linear_decay_scheduler, steps_epoch_end


def test_paper_schedule_100_plus_100():
    factor = LinearDecay(n_constant=100, n_decay=100)
    assert [factor(e) for e in (0, 99)] == [1.0, 1.0]
    # CycleGAN's formula: 1 - max(0, e + 1 - 100) / 101
    assert factor(100) == pytest.approx(1 - 1 / 101)
    assert factor(199) == pytest.approx(1 / 101)
    assert factor(500) == 0.0


def test_scheduler_steps_once_per_epoch_and_decays_over_second_half():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=2e-4)
    sched = linear_decay_scheduler(opt, epochs=4, decay_fraction=0.5)
    lrs = []
    for step in range(4 * 3):           # 4 epochs of 3 steps
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if steps_epoch_end(step, 3):
            sched.step()
    per_epoch = lrs[::3]
    assert per_epoch == pytest.approx([2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 * 1 / 3])
    with pytest.raises(ValueError):
        linear_decay_scheduler(opt, epochs=4, decay_fraction=1.5)
