"""The DJS term of DG2GAN (eq. 2): a distributional Jensen-Shannon critic on D2's features.

Our reading (the paper gives no formula), after its reference 34, DAN (Li et al.,
arXiv:1706.09549): each D2 carries a DAN-S critic on its trunk features ``h(x)``. A
deep mean encoder ``phi`` (two 1x1 convolutions, LeakyReLU 0.2) is averaged over every
patch of every image of a batch, ``eta(S)``; a sample classifier ``psi`` (two linear
layers) gives one logit ``m(S)`` per batch. D2 minimises ``mu * L_DJS`` with
``L_DJS = softplus(-m(S_g)) + softplus(m(S_r)) = 2 log 2 - 2 DJS_hat``, rewarding the
generated sample over the real one; the generators never see it directly. He-normal
initialisation; fp32 under autocast (``dg2gan.py``). The derivation, why not a
per-point head, the sizing against Table 3 and the measured gradient share:
``docs/methods.md``, "The DJS term: our reading".
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
                # output layer (docs/methods.md, "Initialisation").
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
    ``2 log 2 - 2 DJS_hat`` (docs/methods.md, the DJS term). Minimised by D2 with weight ``mu``
    (eq. 2).

    :param m_generated: sample logits of generated samples, any shape.
    :param m_real: sample logits of real samples, any shape.
    """
    return F.softplus(-m_generated.float()).mean() + F.softplus(m_real.float()).mean()


def djs_estimate(loss: torch.Tensor) -> torch.Tensor:
    """``DJS_hat(P_g || P_r) = log 2 - L_DJS / 2`` from :func:`djs_loss`, in nats (<= log 2)."""
    return LOG2 - 0.5 * loss
