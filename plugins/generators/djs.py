"""The DJS term of DG2GAN (eq. 2): a distributional Jensen-Shannon critic on D2's features.

Where the DJS term lives, what it computes and why (the paper gives no formula).

**What the paper fixes.** D2d and D2n (only they, not D1) carry "DJS optimization" as a
supplementary objective with weight ``mu`` in their loss (eq. 2,
``L_D2d = mu * DJS + E log D2d(d) + E log(1 - D2d(G(n)))``); "new trainable parameters
are defined" in the discriminator's initialisation; its forward "not only returns the
traditional discrimination results but also computes and returns the DJS loss"; DJS
acts on "feature distributions" and controls their "overlap on the support set"; it
"gives higher rewards to generated images and smaller rewards to real images"; and the
paper takes the idea from its reference 34, Li et al., *Distributional Adversarial
Networks* (DAN, arXiv:1706.09549), which puts DJS into the *discriminator's* loss.

**DAN's construction.** A DAN discriminator judges *samples* (sets of points), not
single points. A deep mean encoder embeds a sample ``S = {x_1..x_m}`` as the mean of a
learned per-point feature map, ``eta(S) = 1/m sum_i phi(x_i)``, and a sample classifier
``M(S) = psi(eta(S))`` tells samples of ``P_r`` from samples of ``P_g`` with the log
loss (DAN-S). At the optimum of that log loss its value is ``2 log 2 - 2 JS(P_r^m ||
P_g^m)`` (Goodfellow et al. 2014, Thm. 1, applied to the sample distributions): the
term is a Jensen-Shannon objective between the *distributions*, which a per-point
head cannot be.

**The reading implemented here.** On D2's trunk features ``h(x)`` (the PatchGAN's
penultimate map, ``C = ndf * 8`` channels, one vector per patch):

* ``phi``: two 1x1 convolutions ``C -> w -> w``, each followed by LeakyReLU 0.2 (a
  per-patch encoder), averaged over the patches of every image and the images of the batch:
  ``eta(S) = mean_{x in S, p} phi(h(x))_p``. One batch is one sample, as in DAN.
* ``psi``: ``Linear(w, w)``, LeakyReLU 0.2, ``Linear(w, 1)``: the sample logit
  ``m(S)``.

These are D2's "new trainable parameters", ``w = djs_width`` sets their number. With
``s(t) = sigmoid(t)`` the estimate, in JS units (nats, at most ``log 2``), is

    DJS_hat(P_g || P_r) = log 2 + 1/2 [ log s(m(S_g)) + log(1 - s(m(S_r))) ]
                        = log 2 - 1/2 [ softplus(-m(S_g)) + softplus(m(S_r)) ],

high when the critic rewards the generated sample ``S_g`` over the real one ``S_r`` --
the direction the paper gives D2. D2 minimises DAN-S's log loss,

    L_DJS = softplus(-m(S_g)) + softplus(m(S_r)) = 2 log 2 - 2 DJS_hat,

i.e. it maximises the JS estimate ("by minimizing DJS [loss], the entire
discriminative loss is minimized"), trained through ``psi``, ``phi`` *and* D2's trunk,
so the trunk's features must separate the two *distributions*, not only points. The
generators never see this term directly (eqs. 5-6 hold no DJS; the paper contrasts
this with SDGAN, whose generator optimises DJS): it reaches them only through D2's
features and outputs in eq. 4.

Why not a per-patch head: ``log 2 - 1/2 [E_g softplus(-V) + E_r softplus(V)]`` over
patches with a 1x1 head ``V`` (the first reading of this project) equals
``1/2 * (eq. 4's loss on a second head) - log 2``: D2's own target again, at weight
``mu / 2``. ``L_DJS`` here depends on how points are grouped into samples (a
per-point loss cannot), which ``tests/test_generators_dg2gan.py`` checks.

**Sizing against Table 3.** Table 3 puts DG2GAN 0.60 "Mb" above DG2GAN-no-DJS
(32.32 vs 31.72, +1.89 %). With the paper preset (ndf 64, so ``C = 512``) the two
critics hold ``2 * (C w + w + w^2 + w + w^2 + w + w + 1)`` parameters; ``w = 288`` gives
628,994, +1.86 % over no-DJS's 33.82 M (``benchmarks/djs_probe.py`` prints both).

**Initialisation.** He-normal for LeakyReLU 0.2 (gain 1 on the output layer), not the
PatchGAN's N(0, 0.02) nor PyTorch's default Kaiming-uniform with ``a = sqrt(5)``: both
shrink the signal at every one of the four stacked layers, and with the default the
term's gradient into D2's trunk came out about ten times smaller on the tiny preset,
so at ``mu = 0.05`` it would again steer nothing. With He init the critic starts on the
same footing as D2's own head; ``benchmarks/djs_probe.py`` prints the DJS share of the
trunk gradient over a short training run.

The critic reads the trunk's output (instance norm, then LeakyReLU), the features D2's
head sees. Instance norm removes each image's per-channel mean before the LeakyReLU, so
the mean encoder must be nonlinear before the average (``phi`` ends in LeakyReLU) to
see more than that. It runs in fp32 even under bf16 autocast (``dg2gan.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG2 = math.log(2.0)


class DistributionalJsCritic(nn.Module):
    """DAN-S on a feature map: a deep mean encoder ``phi`` and a sample classifier ``psi``.

    :param in_channels: channels of the feature map it reads (D2's trunk output).
    :param width: width ``w`` of both hidden layers (the parameter budget).
    """

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"djs_width must be >= 1, not {width}")
        self.encoder = nn.Sequential(nn.Conv2d(in_channels, width, 1), nn.LeakyReLU(0.2),
                                     nn.Conv2d(width, width, 1), nn.LeakyReLU(0.2))
        self.classifier = nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))
        output = self.classifier[-1]
        for layer in self.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                # He init: variance-preserving through LeakyReLU 0.2, a gain of 1 for the
                # output layer (see the module docstring).
                nn.init.kaiming_normal_(layer.weight, a=1.0 if layer is output else 0.2,
                                        nonlinearity="leaky_relu")
                nn.init.zeros_(layer.bias)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """``eta(S)``: the mean of ``phi`` over every patch of every image, shape ``(w,)``."""
        return self.encoder(features).mean(dim=(0, 2, 3))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """The sample logit ``m(S)`` of one sample (a batch of feature maps), shape ``()``."""
        return self.classifier(self.embed(features)).squeeze(-1)


def djs_loss(m_generated: torch.Tensor, m_real: torch.Tensor) -> torch.Tensor:
    """``L_DJS``, DAN-S's log loss with generated samples as the rewarded class.

    ``softplus(-m(S_g)) + softplus(m(S_r))`` averaged over samples; equals
    ``2 log 2 - 2 DJS_hat`` (module docstring). Minimised by D2 with weight ``mu``
    (eq. 2).

    :param m_generated: sample logits of generated samples, any shape.
    :param m_real: sample logits of real samples, any shape.
    """
    return F.softplus(-m_generated.float()).mean() + F.softplus(m_real.float()).mean()


def djs_estimate(loss: torch.Tensor) -> torch.Tensor:
    """``DJS_hat(P_g || P_r) = log 2 - L_DJS / 2`` from :func:`djs_loss`, in nats (<= log 2)."""
    return LOG2 - 0.5 * loss
