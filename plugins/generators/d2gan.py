"""D2GAN, dual discriminator GAN (Nguyen et al. 2017), one of the paper's peers.

Generator G from noise and two DCGAN discriminators with positive outputs
``D = softplus(score)``: D1 rewards real data (a KL term), D2 rewards generated data
(a reverse-KL term). Losses as in the official code (tund/D2GAN), with alpha 0.2 and
beta 0.1 as image-scale ports use:

    L_D1 = E[-alpha log D1(x) + D1(G(z))],   L_D2 = E[D2(x) - beta log D2(G(z))],
    L_G  = E[-D1(G(z)) + beta log D2(G(z))].

The networks return the raw score and the losses apply softplus, so ``log D`` is
computed stably from the score (``losses.log_softplus``). One discriminator update
(D1 and D2 together) then one generator update on freshly drawn noise per step,
Adam 2e-4 (0.5, 0.999), constant learning rate. Trained on defect images only; the paper uses batch 64 and
1200 epochs (Table 3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from dg2bench import Generator, TrainingState, TrainPlan, hookimpl, option
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.networks import DcganCritic, DcganGenerator
from dg2bench.plugins.generators.sampling import generate_in_chunks, set_requires_grad


@dataclasses.dataclass(frozen=True)
class D2GanHyperparameters:
    """D2GAN's hyperparameters; defaults are the paper's sizes.

    :ivar batch_size: real images per step (paper: 64).
    :ivar epochs: default training length (paper Table 3: 1200).
    :ivar z_dim: noise dimension.
    :ivar ngf: generator width.
    :ivar ndf: width of each discriminator.
    :ivar lr: Adam learning rate.
    :ivar betas: Adam betas (two floats).
    :ivar alpha: weight of ``log D1(x)`` in L_D1 (0.2).
    :ivar beta: weight of ``log D2(G(z))`` in L_D2 and L_G (0.1).
    """

    batch_size: int = option(64, minimum=1)
    epochs: int = option(1200, minimum=1)
    z_dim: int = option(100, minimum=1)
    ngf: int = option(64, minimum=1)
    ndf: int = option(64, minimum=1)
    lr: float = option(2e-4, above=0.0)
    betas: tuple[float, ...] = option((0.5, 0.999), length=2)
    alpha: float = option(0.2, above=0.0)
    beta: float = option(0.1, above=0.0)


class D2Gan(Generator):
    """D2GAN from noise with two softplus discriminators."""

    name: ClassVar[str] = "d2gan"
    summary: ClassVar[str] = "D2GAN (Nguyen et al. 2017): dual discriminators, KL + reverse KL"
    kind: ClassVar[str] = "unconditional"
    Hyperparameters: ClassVar[type] = D2GanHyperparameters
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"batch_size": 4, "epochs": 2, "z_dim": 16, "ngf": 8, "ndf": 8},
        "paper": {"batch_size": 64, "epochs": 1200, "ngf": 64, "ndf": 64},
        # benchmarks/crackforest-cpu.toml: a quarter of the widths, batch 32, 2,000 steps
        # (200 epochs of 300 defects; paper: 1200 epochs).
        "small": {"batch_size": 32, "epochs": 200, "ngf": 16, "ndf": 16},
    }

    def __init__(self, hparams: D2GanHyperparameters, image_size: int) -> None:
        super().__init__(hparams, image_size)
        self.G = DcganGenerator(image_size, hparams.z_dim, hparams.ngf)
        self.D1 = DcganCritic(image_size, hparams.ndf, "batch")
        self.D2 = DcganCritic(image_size, hparams.ndf, "batch")

    def networks(self) -> dict[str, nn.Module]:
        """The generator G and the discriminators D1, D2."""
        return {"G": self.G, "D1": self.D1, "D2": self.D2}

    def inference_networks(self) -> list[str]:
        """Only G is needed to sample."""
        return ["G"]

    def setup(self, plan: TrainPlan) -> TrainingState:
        """Adam for G, Adam for D1 and D2 together; constant learning rate."""
        h = self.hparams
        self.plan = plan
        self.opt_g = plan.adam(self.G.parameters(), lr=h.lr, betas=tuple(h.betas))
        self.opt_d = plan.adam([*self.D1.parameters(), *self.D2.parameters()], lr=h.lr,
                                      betas=tuple(h.betas))
        return TrainingState(optimizers={"opt_g": self.opt_g, "opt_d": self.opt_d})

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """One update of D1 and D2, then one of G on fresh noise (as tund/D2GAN does)."""
        h, real = self.hparams, batch["defect"]
        z = torch.randn(real.shape[0], h.z_dim, device=real.device)
        with self.plan.autocast():
            with torch.no_grad():
                fake = self.G(z)
            loss_d1 = losses.d2gan_d1_loss(self.D1(real), self.D1(fake), h.alpha)
            loss_d2 = losses.d2gan_d2_loss(self.D2(real), self.D2(fake), h.beta)
        self.opt_d.zero_grad(set_to_none=True)
        (loss_d1 + loss_d2).backward()
        self.opt_d.step()

        set_requires_grad([self.D1, self.D2], False)
        with self.plan.autocast():
            fake = self.G(torch.randn(real.shape[0], h.z_dim, device=real.device))
            loss_g = losses.d2gan_generator_loss(self.D1(fake), self.D2(fake), h.beta)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad([self.D1, self.D2], True)
        return {"d1": loss_d1.detach(), "d2": loss_d2.detach(), "generator": loss_g.detach()}

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None = None) -> torch.Tensor:
        """Sample ``n`` images from noise (``source`` is ignored)."""
        return generate_in_chunks(self.G, n, self.batch_size, self.image_size,
                                  lambda start, count, device: torch.randn(count, self.hparams.z_dim,
                                                                           device=device))


@hookimpl
def register_generators(register) -> None:
    """Register :class:`D2Gan`."""
    register(D2Gan)
