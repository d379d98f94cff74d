"""DG2GAN specifics: the no-DJS ablation is mu = 0 and nothing else; mu = 0 removes DJS."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dg2bench import TrainPlan
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.dg2gan import Dg2Gan, Dg2GanNoDjs


def plan(steps: int = 4) -> TrainPlan:
    return TrainPlan(image_size=32, total_steps=steps, steps_per_epoch=2, epochs=steps / 2,
                     batch_size=4, device=torch.device("cpu"))


def build(cls=Dg2Gan, **overrides) -> Dg2Gan:
    model = cls(cls.Hyperparameters(**{**cls.presets["tiny"], **overrides}), image_size=32)
    model.setup(plan())
    return model


def batch(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {"defect_free": torch.rand(4, 3, 32, 32, generator=gen) * 2 - 1,
            "defect": torch.rand(4, 3, 32, 32, generator=gen) * 2 - 1}


def test_no_djs_differs_from_dg2gan_only_by_mu():
    assert issubclass(Dg2GanNoDjs, Dg2Gan)
    assert (Dg2Gan.name, Dg2GanNoDjs.name) == ("dg2gan", "dg2gan-no-djs")
    assert Dg2GanNoDjs.kind == Dg2Gan.kind == "translation"
    # Same code path: no method is overridden.
    for attr in ("train_step", "generator_step", "discriminator_losses", "setup", "generate"):
        assert getattr(Dg2GanNoDjs, attr) is getattr(Dg2Gan, attr)
    assert Dg2GanNoDjs.presets == Dg2Gan.presets
    for preset in [None, *Dg2Gan.presets]:
        values = Dg2Gan.presets.get(preset, {})
        full = dataclasses.asdict(Dg2Gan.Hyperparameters(**values))
        ablated = dataclasses.asdict(Dg2GanNoDjs.Hyperparameters(**values))
        assert {k for k in full if full[k] != ablated[k]} == {"mu"}
        assert (full["mu"], ablated["mu"]) == (0.05, 0.0)
    assert (full["lam"], full["beta"]) == (0.8, 0.5)


def test_djs_head_is_new_trainable_parameters_of_d2_only():
    model = build()
    assert hasattr(model.D2d, "djs_head") and hasattr(model.D2n, "djs_head")
    assert not hasattr(model.D1d, "djs_head")
    head = sum(p.numel() for p in model.D2d.djs_head.parameters())
    assert head == model.D2d.feature_channels + 1   # a 1x1 conv: weights + bias
    assert sum(p.numel() for p in model.D2d.parameters()) == \
        sum(p.numel() for p in model.D1d.parameters()) + head


def test_joint_pass_equals_separate_passes():
    model = build()
    b = batch(0)
    real_logits, fake_logits, djs = model.D2d.forward_with_djs(b["defect"], b["defect_free"])
    torch.testing.assert_close(real_logits, model.D2d(b["defect"]))
    torch.testing.assert_close(fake_logits, model.D2d(b["defect_free"]))
    assert djs.shape == ()


def test_mu_zero_makes_djs_contribute_nothing():
    torch.manual_seed(0)
    model = build(mu=0.0)
    b = batch(1)
    fake_d = model.G(b["defect_free"]).detach()
    fake_n = model.F(b["defect"]).detach()
    d2 = model.discriminator_losses(b["defect_free"], b["defect"], fake_n, fake_d)["d2_defect"]
    model.D2d.zero_grad()
    d2.backward()
    with_mu = {k: p.grad.clone() for k, p in model.D2d.named_parameters()}
    for name, grad in with_mu.items():
        if name.startswith("djs_head"):
            assert torch.count_nonzero(grad) == 0, name
    # The trunk gradient equals that of D2's adversarial loss alone.
    model.D2d.zero_grad()
    losses.gan2_discriminator_loss(model.D2d(b["defect"]), model.D2d(fake_d)).backward()
    # Tolerance: the joint pass over real + fake rounds differently from two passes.
    for name, p in model.D2d.named_parameters():
        if not name.startswith("djs_head"):
            torch.testing.assert_close(with_mu[name], p.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mu, moves", [(0.0, False), (0.05, True)])
def test_djs_head_trains_only_when_mu_positive(mu, moves):
    torch.manual_seed(0)
    model = build(mu=mu)
    before = [p.detach().clone() for p in model.D2d.djs_head.parameters()]
    for step in range(3):
        out = model.train_step(batch(step), step)
    after = list(model.D2d.djs_head.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after)) == moves
    assert {"djs_loss_defect", "djs_loss_defect_free", "cycle", "d2_defect"} <= set(out)
