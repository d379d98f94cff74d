"""Loss functions of the built-in generators: small pure functions, one job each.

Equation numbers "eq. N" refer to the DG2GAN paper, section Methods: F. Deng et al.,
"DG2GAN: improving defect recognition performance with generated defect image
sample", Scientific Reports (2024); the paper is not part of this repository. Discriminator outputs are taken
as logits (or raw scores) and every ``log D`` / ``log(1 - D)`` is written through
``softplus``, since ``log sigmoid(l) = -softplus(-l)`` and
``log(1 - sigmoid(l)) = -softplus(l)`` stay finite where ``log(sigmoid(l))`` would
give ``-inf``. Inputs are cast to float32 so bf16 autocast outputs lose nothing here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


# --- DG2GAN (eqs. 1-6) ---------------------------------------------------------------

def cycle_consistency_loss(reconstructed_n: torch.Tensor, n: torch.Tensor,
                           reconstructed_d: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Eq. 1: ``E|F(G(n)) - n|_1 + E|G(F(d)) - d|_1``.

    Each norm is the mean absolute error per pixel, as in the CycleGAN reference code
    (``nn.L1Loss``); the per-image L1 norm is that times C*H*W.
    """
    return (reconstructed_n.float() - n.float()).abs().mean() + \
        (reconstructed_d.float() - d.float()).abs().mean()


def gan1_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 3 from D1's side: D1 maximises ``E log D1(d) + E log(1 - D1(G(n)))``.

    Returned as the loss to minimise, ``-(eq. 3) = E softplus(-l_real) + E softplus(l_fake)``
    (binary cross-entropy with real = 1, fake = 0).
    """
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()


def gan1_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 3 from the generator's side, in the usual non-saturating form.

    The generator minimises ``E log(1 - D1(G(n)))``; as in Goodfellow et al. 2014 and
    the CycleGAN code it maximises ``E log D1(G(n))`` instead, which has the same
    fixed point and does not saturate early: ``E softplus(-l_fake)``.
    """
    return F.softplus(-fake_logits.float()).mean()


def gan2_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 4 from D2's side: D2 maximises ``E log D2(G(n)) + E log(1 - D2(d))``.

    D2 rewards generated images and penalises real ones (labels swapped relative to
    D1). Returned as the loss to minimise, ``-(eq. 4) = E softplus(-l_fake) +
    E softplus(l_real)``. Minimising eq. 2's log terms, ``E log D2(d) +
    E log(1 - D2(G(n)))``, drives D2 to the same optimum (D2(d) -> 0, D2(G(n)) -> 1);
    this bounded cross-entropy form is used because eq. 2's printed form is unbounded
    below and lets the logits diverge.
    """
    return F.softplus(-fake_logits.float()).mean() + F.softplus(real_logits.float()).mean()


def gan2_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 4 from the generator's side, in non-saturating form.

    The generator minimises ``E log D2(G(n))``; the non-saturating counterpart
    maximises ``E log(1 - D2(G(n)))``: ``E softplus(l_fake)``.
    """
    return F.softplus(fake_logits.float()).mean()


def dg2gan_objective(adversarial_g: torch.Tensor, adversarial_f: torch.Tensor,
                     cycle: torch.Tensor, lambda_cycle: float = 1.0) -> torch.Tensor:
    """Eq. 6, the generators' full objective: ``L_DG2gan(G) + L_DG2gan(F) + L_cycle``.

    Eq. 6 prints no weight on the cycle term (``lambda_cycle = 1``); CycleGAN uses 10.
    """
    return adversarial_g + adversarial_f + lambda_cycle * cycle


# --- CycleGAN (least-squares GAN, Mao et al. 2017) -----------------------------------

def lsgan_discriminator_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """CycleGAN's discriminator loss: ``0.5 * (E (D(y) - 1)^2 + E D(G(x))^2)`` (halved)."""
    return 0.5 * ((real_out.float() - 1).pow(2).mean() + fake_out.float().pow(2).mean())


def lsgan_generator_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """CycleGAN's generator adversarial loss: ``E (D(G(x)) - 1)^2``."""
    return (fake_out.float() - 1).pow(2).mean()


def lsgan_d2_discriminator_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """Eq. 4's D2 loss in least-squares form: targets swapped, generated -> 1, real -> 0.

    ``0.5 * (E (D2(G(n)) - 1)^2 + E D2(d)^2)``, halved as CycleGAN halves its D loss
    (DG2GAN's ``cyclegan-recipe`` preset).
    """
    return lsgan_discriminator_loss(real_out=fake_out, fake_out=real_out)


def lsgan_d2_generator_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """Eq. 5's ``L_gan2`` in least-squares form: the generator pushes D2(G(n)) to 0."""
    return fake_out.float().pow(2).mean()


def l1_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute error (CycleGAN's cycle and identity losses)."""
    return (a.float() - b.float()).abs().mean()


# --- WGAN (Arjovsky et al. 2017) and WGAN-GP (Gulrajani et al. 2017) ------------------

def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss, ``E f(G(z)) - E f(x)`` (the negated Wasserstein estimate)."""
    return fake_scores.float().mean() - real_scores.float().mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss, ``-E f(G(z))``."""
    return -fake_scores.float().mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP penalty ``E (||grad f(x_hat)||_2 - 1)^2`` (Gulrajani et al. 2017, eq. 3).

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per sample
    (drawn from torch's global RNG unless given). The graph is kept so the penalty can
    be backpropagated into the critic. Multiply by ``lambda_gp`` (10) yourself.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grads,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
    return (grads.float().flatten(1).norm(2, dim=1) - 1).pow(2).mean()


# --- D2GAN (Nguyen et al. 2017) --------------------------------------------------------

def log_softplus(logits: torch.Tensor) -> torch.Tensor:
    """``log(softplus(l))`` without ``-inf``: for ``l < -15``, ``softplus(l) = e^l`` to fp32."""
    logits = logits.float()
    safe = torch.log(F.softplus(logits.clamp(min=-15.0)))
    return torch.where(logits < -15.0, logits, safe)


def d2gan_d1_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                  alpha: float) -> torch.Tensor:
    """D2GAN's D1 loss ``E[-alpha log D1(x) + D1(G(z))]`` with ``D1 = softplus(logit)``."""
    return (-alpha * log_softplus(real_logits)).mean() + F.softplus(fake_logits.float()).mean()


def d2gan_d2_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                  beta: float) -> torch.Tensor:
    """D2GAN's D2 loss ``E[D2(x) - beta log D2(G(z))]`` with ``D2 = softplus(logit)``."""
    return F.softplus(real_logits.float()).mean() - beta * log_softplus(fake_logits).mean()


def d2gan_generator_loss(d1_fake_logits: torch.Tensor, d2_fake_logits: torch.Tensor,
                         beta: float) -> torch.Tensor:
    """D2GAN's generator loss ``E[-D1(G(z)) + beta log D2(G(z))]``."""
    return (-F.softplus(d1_fake_logits.float())).mean() + beta * log_softplus(d2_fake_logits).mean()


# --- StyleGAN2 and DFMGAN (Karras et al. 2020; Duan et al. 2023) ----------------------

def logistic_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's logistic loss for a discriminator (DFMGAN's D and D_match):
    ``E softplus(l_fake) + E softplus(-l_real)``, the cross-entropy of eq. 3's D1."""
    return gan1_discriminator_loss(real_logits, fake_logits)


def nonsaturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's non-saturating generator loss ``E softplus(-l_fake)`` (as eq. 3's G)."""
    return gan1_generator_loss(fake_logits)


def r1_penalty(discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): ``||grad_x D(x)||^2`` per real image, shape ``(B,)``.

    The caller weighs it by ``gamma / 2`` (and by the lazy interval when applied lazily).
    """
    real = real.detach().float().requires_grad_(True)
    logits = discriminator(real)
    (grad,) = torch.autograd.grad(logits.float().sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3))


def mode_seeking_loss(defect_w1: torch.Tensor, defect_w2: torch.Tensor, mask1: torch.Tensor,
                      mask2: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """DFMGAN's mode-seeking loss ("w/mask", after Mao et al. 2019):
    ``mean|w1 - w2| / mean|m1 - m2|``, the masks ``tanh(10 m)`` made on the same
    backgrounds from defect styles w1 and w2. Minimising it spreads different defect
    styles over different masks. ``eps`` keeps two identical masks finite (the official
    code has none).
    """
    return (defect_w1.float() - defect_w2.float()).abs().mean() / \
        ((mask1.float() - mask2.float()).abs().mean() + eps)
