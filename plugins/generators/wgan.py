"""WGAN (Arjovsky et al. 2017), with WGAN-GP (Gulrajani et al. 2017) as a preset.

The default is the original WGAN, as the paper names it: DCGAN networks, RMSprop
lr 5e-5, critic weights clipped to [-0.01, 0.01] after every critic update, 5 critic
updates per generator update, except 100 for the first 25 generator updates and for
every 500th (Arjovsky's ``main.py``). Preset ``gp``: no clipping, gradient penalty
weight 10, Adam 1e-4 (0.5, 0.9), 5 critic updates, no warm-up, and a critic without
batch norm (layer norm), as Gulrajani et al. require. Trained on defect images only;
``generate`` samples from N(0, I) noise.

One ``train_step`` is one critic update on one batch of real images, so an epoch is
one pass of the critic over the data. The generator steps inside the ``train_step``
that completes its quota of critic updates *or ends an epoch*: the reference loop
(``main.py``) leaves its critic loop at the end of the data loader, so with 300
defect images at batch 64 (5 batches) an epoch is 5 critic updates and 1 generator
update, even in the 100-update warm-up, and 1200 epochs are 1200 generator updates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from dg2bench import Generator, TrainingState, TrainPlan, hookimpl, option
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.lr_schedule import steps_epoch_end
from dg2bench.plugins.generators.networks import DcganCritic, DcganGenerator
from dg2bench.plugins.generators.sampling import generate_in_chunks, set_requires_grad


@dataclasses.dataclass(frozen=True)
class WganHyperparameters:
    """WGAN's hyperparameters; defaults are the original WGAN at the paper's sizes.

    :ivar batch_size: real images per critic update (paper: 64).
    :ivar epochs: default training length (paper Table 3: 1200; its text says 2000).
    :ivar z_dim: noise dimension.
    :ivar ngf: generator width (channels at half the image side).
    :ivar ndf: critic width.
    :ivar critic_norm: ``"batch"`` (WGAN/DCGAN), ``"layer"`` or ``"none"`` (for GP).
    :ivar optimizer: ``"rmsprop"`` (WGAN) or ``"adam"`` (WGAN-GP).
    :ivar lr: learning rate of both networks.
    :ivar betas: Adam betas (ignored by RMSprop).
    :ivar clip: critic weight-clipping bound (0 disables clipping).
    :ivar lambda_gp: gradient-penalty weight (0 disables the penalty).
    :ivar n_critic: critic updates per generator update.
    :ivar n_critic_warmup: critic updates during warm-up generator steps (0: no warm-up).
    :ivar warmup_generator_steps: the first this many generator steps are warm-up steps.
    :ivar warmup_every: every this-many-th generator step is a warm-up step too.
    """

    batch_size: int = option(64, minimum=1)
    epochs: int = option(1200, minimum=1)
    z_dim: int = option(100, minimum=1)
    ngf: int = option(64, minimum=1)
    ndf: int = option(64, minimum=1)
    critic_norm: Literal["batch", "layer", "none"] = "batch"
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    lr: float = option(5e-5, above=0.0)
    betas: tuple[float, ...] = option((0.5, 0.9), length=2)
    clip: float = option(0.01, minimum=0)
    lambda_gp: float = option(0.0, minimum=0)
    n_critic: int = option(5, minimum=1)
    n_critic_warmup: int = option(100, minimum=0)
    warmup_generator_steps: int = option(25, minimum=0)
    warmup_every: int = option(500, minimum=1)

    def validate(self) -> None:
        """The gradient penalty needs a per-sample critic (the ranges are field metadata)."""
        if self.lambda_gp > 0 and self.critic_norm == "batch":
            raise ValueError("the gradient penalty is per sample: use critic_norm layer or none")


_GP = {"optimizer": "adam", "lr": 1e-4, "betas": (0.5, 0.9), "clip": 0.0, "lambda_gp": 10.0,
       "n_critic_warmup": 0, "critic_norm": "layer"}
_TINY = {"batch_size": 4, "epochs": 2, "z_dim": 16, "ngf": 8, "ndf": 8}
_SMALL = {"batch_size": 32, "epochs": 200, "ngf": 16, "ndf": 16}


class Wgan(Generator):
    """WGAN from noise (weight clipping by default, gradient penalty with preset ``gp``)."""

    name: ClassVar[str] = "wgan"
    summary: ClassVar[str] = "WGAN (Arjovsky et al. 2017), DCGAN nets; preset gp = WGAN-GP"
    kind: ClassVar[str] = "unconditional"
    Hyperparameters: ClassVar[type] = WganHyperparameters
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": dict(_TINY),
        "paper": {"batch_size": 64, "epochs": 1200, "ngf": 64, "ndf": 64},
        "gp": dict(_GP),
        "tiny-gp": {**_TINY, **_GP},
        # benchmarks/crackforest-cpu.toml: a quarter of the widths, batch 32, 2,000 steps
        # (200 epochs of 300 defects; paper: 1200 epochs).
        "small": dict(_SMALL),
        "small-gp": {**_SMALL, **_GP},
    }

    def __init__(self, hparams: WganHyperparameters, image_size: int) -> None:
        super().__init__(hparams, image_size)
        self.G = DcganGenerator(image_size, hparams.z_dim, hparams.ngf)
        self.C = DcganCritic(image_size, hparams.ndf, hparams.critic_norm)
        self.critic_steps = 0      # critic updates since the last generator update
        self.generator_steps = 0   # generator updates so far
        self._last_g_loss: torch.Tensor | None = None

    def networks(self) -> dict[str, nn.Module]:
        """The generator G and the critic C."""
        return {"G": self.G, "C": self.C}

    def inference_networks(self) -> list[str]:
        """Only G is needed to sample."""
        return ["G"]

    def _optimizer(self, net: nn.Module) -> torch.optim.Optimizer:
        h = self.hparams
        if h.optimizer == "adam":
            return self.plan.adam(net.parameters(), lr=h.lr, betas=tuple(h.betas))
        return torch.optim.RMSprop(net.parameters(), lr=h.lr)

    def setup(self, plan: TrainPlan) -> TrainingState:
        """One optimizer per network; the learning rate stays constant (both papers)."""
        self.plan = plan
        self.opt_g, self.opt_c = self._optimizer(self.G), self._optimizer(self.C)
        return TrainingState(optimizers={"opt_g": self.opt_g, "opt_c": self.opt_c})

    def critic_quota(self) -> int:
        """Critic updates required before the next generator update (warm-up rule).

        The end of an epoch cuts the quota short, as in the reference loop.
        """
        h, k = self.hparams, self.generator_steps
        if h.n_critic_warmup > 0 and (k < h.warmup_generator_steps or k % h.warmup_every == 0):
            return h.n_critic_warmup
        return h.n_critic

    def _noise(self, count: int, device: torch.device) -> torch.Tensor:
        return torch.randn(count, self.hparams.z_dim, device=device)

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """One critic update; a generator update too when the critic quota is reached."""
        h, real = self.hparams, batch["defect"]
        with self.plan.autocast():
            with torch.no_grad():
                fake = self.G(self._noise(real.shape[0], real.device))
            loss_c = losses.wgan_critic_loss(self.C(real), self.C(fake))
            gp = losses.gradient_penalty(self.C, real, fake) if h.lambda_gp > 0 \
                else torch.zeros((), device=real.device)
        self.opt_c.zero_grad(set_to_none=True)
        (loss_c + h.lambda_gp * gp).backward()
        self.opt_c.step()
        if h.clip > 0:
            with torch.no_grad():
                for p in self.C.parameters():
                    p.clamp_(-h.clip, h.clip)
        self.critic_steps += 1
        if self.critic_steps >= self.critic_quota() or steps_epoch_end(step, self.plan.steps_per_epoch):
            self._last_g_loss = self._generator_step(real.shape[0], real.device)
        elif self._last_g_loss is None:
            self._last_g_loss = torch.zeros((), device=real.device)
        # "generator" repeats the latest generator loss so every step has the same keys.
        return {"critic": loss_c.detach(), "wasserstein": -loss_c.detach(),
                "gradient_penalty": gp.detach(), "generator": self._last_g_loss}

    def _generator_step(self, count: int, device: torch.device) -> torch.Tensor:
        set_requires_grad([self.C], False)
        with self.plan.autocast():
            loss_g = losses.wgan_generator_loss(self.C(self.G(self._noise(count, device))))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad([self.C], True)
        self.critic_steps, self.generator_steps = 0, self.generator_steps + 1
        return loss_g.detach()

    def extra_state(self) -> dict[str, Any]:
        """Optimizers and the critic/generator step counters."""
        return {**super().extra_state(), "critic_steps": self.critic_steps, "generator_steps": self.generator_steps}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned (after :meth:`setup`)."""
        super().load_extra_state(state)
        self.critic_steps = int(state.get("critic_steps", 0))
        self.generator_steps = int(state.get("generator_steps", 0))

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None = None) -> torch.Tensor:
        """Sample ``n`` images from noise (``source`` is ignored)."""
        return generate_in_chunks(self.G, n, self.batch_size, self.image_size,
                                  lambda start, count, device: self._noise(count, device))


@hookimpl
def register_generators(register) -> None:
    """Register :class:`Wgan`."""
    register(Wgan)
