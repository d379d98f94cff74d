"""Each generator loss against numbers computed by hand (numpy / math, not the code under test).

Eq. N is the DG2GAN paper's equation N. Discriminator outputs are logits l with
D = sigmoid(l) for DG2GAN and D = softplus(l) for D2GAN.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dg2bench.plugins.generators import djs, losses


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


REAL = np.array([0.0, 2.0])
FAKE = np.array([0.0, -1.0])


def test_cycle_consistency_is_mean_l1_of_both_cycles_eq1():
    rec_n, n = torch.tensor([[0.5, -0.5]]), torch.zeros(1, 2)
    rec_d, d = torch.ones(1, 4), torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    # |0.5| and |-0.5| average 0.5; three errors of 1 and one of 0 average 0.75.
    assert losses.cycle_consistency_loss(rec_n, n, rec_d, d).item() == pytest.approx(1.25)


def test_gan1_discriminator_loss_is_minus_eq3():
    expected = -(np.log(sigmoid(REAL)).mean() + np.log(1 - sigmoid(FAKE)).mean())
    assert expected == pytest.approx(0.913242, abs=1e-6)
    assert losses.gan1_discriminator_loss(t(*REAL), t(*FAKE)).item() == pytest.approx(expected, rel=1e-6)


def test_gan1_generator_loss_is_non_saturating_eq3():
    expected = -np.log(sigmoid(FAKE)).mean()   # -E log D1(G(n))
    assert losses.gan1_generator_loss(t(*FAKE)).item() == pytest.approx(expected, rel=1e-6)


def test_gan2_discriminator_loss_is_minus_eq4_labels_swapped():
    # D2 maximises E log D2(G(n)) + E log(1 - D2(d)).
    expected = -(np.log(sigmoid(FAKE)).mean() + np.log(1 - sigmoid(REAL)).mean())
    assert losses.gan2_discriminator_loss(t(*REAL), t(*FAKE)).item() == pytest.approx(expected, rel=1e-6)


def test_gan2_generator_loss_is_non_saturating_eq4():
    expected = -np.log(1 - sigmoid(FAKE)).mean()   # -E log(1 - D2(G(n)))
    assert losses.gan2_generator_loss(t(*FAKE)).item() == pytest.approx(expected, rel=1e-6)


def test_log_forms_stay_finite_for_extreme_logits():
    big = t(-200.0, 200.0)
    for value in (losses.gan1_discriminator_loss(big, big), losses.gan2_generator_loss(big),
                  losses.d2gan_d2_loss(big, big, 0.1)):
        assert torch.isfinite(value)
    x = t(-200.0, -50.0).requires_grad_(True)
    losses.log_softplus(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert losses.log_softplus(t(-50.0)).item() == pytest.approx(-50.0)


def test_djs_loss_and_estimate_hand_values():
    # Sample logits m(S_g) = [0, 1] (two generated samples), m(S_r) = [0, -1]:
    # L_DJS = mean(softplus(0), softplus(-1)) + mean(softplus(0), softplus(-1))
    sp0, spm1 = math.log(2.0), math.log(1.0 + math.exp(-1.0))
    loss = (sp0 + spm1) / 2 + (sp0 + spm1) / 2
    assert loss == pytest.approx(1.006409, abs=1e-6)
    got = djs.djs_loss(t(0.0, 1.0), t(0.0, -1.0))
    assert got.item() == pytest.approx(loss, rel=1e-6)
    assert djs.djs_estimate(got).item() == pytest.approx(math.log(2.0) - loss / 2, rel=1e-6)


def test_djs_estimate_bounds():
    # A critic that cannot tell the samples apart (m = 0) estimates JS = 0.
    assert djs.djs_estimate(djs.djs_loss(t(0.0), t(0.0))).item() == pytest.approx(0.0, abs=1e-7)
    # Perfectly separated, generated rewarded: JS -> log 2, its maximum.
    assert djs.djs_estimate(djs.djs_loss(t(40.0), t(-40.0))).item() == pytest.approx(math.log(2.0), abs=1e-6)
    # Rewarding real above generated is the wrong direction: the estimate falls below 0.
    assert djs.djs_estimate(djs.djs_loss(t(-3.0), t(3.0))).item() < 0


def test_lsgan_d2_terms_swap_the_targets():
    # D2 rewards generated images: generated -> 1, real -> 0, halved as CycleGAN's D loss.
    expected = 0.5 * (((FAKE - 1) ** 2).mean() + (REAL ** 2).mean())
    assert losses.lsgan_d2_discriminator_loss(t(*REAL), t(*FAKE)).item() == pytest.approx(expected, rel=1e-6)
    # The generator pushes D2's output on its images to 0 (D2's "real" target).
    assert losses.lsgan_d2_generator_loss(t(*FAKE)).item() == pytest.approx((FAKE ** 2).mean(), rel=1e-6)


def test_dg2gan_objective_eq6():
    a, b, c = torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)
    assert losses.dg2gan_objective(a, b, c).item() == 6.0
    assert losses.dg2gan_objective(a, b, c, lambda_cycle=10.0).item() == 33.0


def test_lsgan_losses():
    # D: 0.5 * (mean((1-1)^2, (0-1)^2) + mean(0.5^2, 0^2)) = 0.5 * (0.5 + 0.125)
    assert losses.lsgan_discriminator_loss(t(1.0, 0.0), t(0.5, 0.0)).item() == pytest.approx(0.3125)
    # G: mean((0.5-1)^2, (0-1)^2) = (0.25 + 1) / 2
    assert losses.lsgan_generator_loss(t(0.5, 0.0)).item() == pytest.approx(0.625)
    assert losses.l1_loss(t(1.0, -1.0), t(0.0, 0.0)).item() == pytest.approx(1.0)


def test_wgan_losses():
    assert losses.wgan_critic_loss(t(1.0, 2.0, 3.0), t(0.0, 1.0)).item() == pytest.approx(0.5 - 2.0)
    assert losses.wgan_generator_loss(t(0.0, 1.0)).item() == pytest.approx(-0.5)


def test_gradient_penalty_linear_critic():
    # f(x) = sum(w * x): grad = w everywhere, ||w|| = sqrt(12 * 0.25) = sqrt(3).
    w = torch.full((3, 2, 2), 0.5, requires_grad=True)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    gp = losses.gradient_penalty(critic, torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2))
    assert gp.item() == pytest.approx((math.sqrt(3.0) - 1) ** 2, rel=1e-5)
    gp.backward()  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    expected = 2 * (math.sqrt(3.0) - 1) * 0.5 / math.sqrt(3.0)
    assert torch.allclose(w.grad, torch.full_like(w, expected), rtol=1e-5)


def test_gradient_penalty_interpolates_per_sample():
    # f(x) = sum(x^2): grad = 2 x_hat; x_hat = eps * 1 + (1 - eps) * 0 = eps.
    real, fake = torch.ones(2, 3, 2, 2), torch.zeros(2, 3, 2, 2)
    eps = torch.tensor([0.25, 1.0]).view(2, 1, 1, 1)
    gp = losses.gradient_penalty(lambda x: x.pow(2).flatten(1).sum(1), real, fake, eps)
    norms = [2 * 0.25 * math.sqrt(12), 2 * 1.0 * math.sqrt(12)]
    assert gp.item() == pytest.approx(sum((g - 1) ** 2 for g in norms) / 2, rel=1e-5)


def test_d2gan_losses():
    x, gz = np.array([0.0, 1.0]), np.array([-1.0, 0.5])
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731
    d1x, d1g, d2x, d2g = sp(x), sp(gz), sp(x + 1), sp(gz - 1)
    assert losses.d2gan_d1_loss(t(*x), t(*gz), alpha=0.2).item() == \
        pytest.approx(np.mean(-0.2 * np.log(d1x) + d1g), rel=1e-6)
    assert losses.d2gan_d2_loss(t(*(x + 1)), t(*(gz - 1)), beta=0.1).item() == \
        pytest.approx(np.mean(d2x - 0.1 * np.log(d2g)), rel=1e-6)
    assert losses.d2gan_generator_loss(t(*gz), t(*(gz - 1)), beta=0.1).item() == \
        pytest.approx(np.mean(-d1g + 0.1 * np.log(d2g)), rel=1e-6)
