"""DG2GAN (Sci. Rep. 2024) and DG2GAN-no-DJS, the paper's method and its ablation.

Six networks (paper Fig. 2): generators ``G`` (defect-free n -> defect d) and ``F``
(d -> n); ``D1d``/``D1n`` reward real images over generated ones (eq. 3); ``D2d``/``D2n``
reward generated images over real ones (eq. 4) and carry the DJS term (eq. 2).
Architectures are not given by the paper; as PROTOCOL.md suggests, G/F are CycleGAN's
ResNet generators and all four discriminators 70 x 70 PatchGANs.

Objectives, as implemented (``losses.py`` holds each term):

* Generators minimise eq. 6, ``L_DG2gan(G) + L_DG2gan(F) + lambda_cycle * L_cycle``,
  with eq. 5 ``L_DG2gan(G) = lam * L_gan1(G, D1d) + beta * L_gan2(G, D2d)`` (likewise F
  with D1n, D2n) in non-saturating form: ``lam * E softplus(-D1d(G(n))) +
  beta * E softplus(D2d(G(n)))`` on logits. ``lambda_cycle = 1`` is eq. 6 as printed.
* D1d maximises eq. 3 (loss ``E softplus(-D1d(d)) + E softplus(D1d(G(n)))``).
* D2d minimises eq. 2, ``L_D2d = mu * L_DJS + E softplus(D2d(d)) + E softplus(-D2d(G(n)))``;
  the two log terms are eq. 2's (= -eq. 4) in bounded cross-entropy form.

Reading of the DJS term (the paper gives no formula; this is the choice made here).
"New trainable parameters" of D2: a 1x1 conv ``omega = (w, b)`` on the PatchGAN's
penultimate features ``h(x)`` (``ndf * 8`` channels), giving a variational function
per patch, ``V(x) = w . h(x) + b``. The discriminator's forward on a real and a
generated batch returns, besides its patch logits, the DJS loss

    L_DJS = -DJS_hat(P_g || P_r),
    DJS_hat = log 2 - 1/2 [ E_{x~P_g} softplus(-V(x)) + E_{x~P_r} softplus(V(x)) ],

the f-GAN lower bound on the Jensen-Shannon divergence (Nowozin et al. 2016, eq. 6
with Table 2's JS row, ``g(v) = log 2 - softplus(-v)``, ``f*(t) = -log(2 - e^t)``,
halved into JS units), taken over all patches of both batches, the patch features
being the "feature distributions" of the paper. It rewards generated features (V
high) over real ones (V low), the direction the paper gives D2. Minimising L_DJS
(weight ``mu``, eq. 2) trains ``omega`` and, through ``h``, the D2 trunk; generators
never see it directly (the paper contrasts this with SDGAN, where the generator
optimises DJS), only through D2's outputs in eq. 4. ``mu = 0`` makes the term and
every gradient into ``omega`` exactly zero: that is DG2GAN-no-DJS.

Left open by the paper, decided here (all hyperparameters): image pool of 50 fakes
for the discriminators and no identity loss (``lambda_identity = 0``), as CycleGAN
without its identity term; one Adam for G+F and one for the four discriminators;
losses not halved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from dg2bench import Generator, TrainPlan, hookimpl
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.image_pool import ImagePool
from dg2bench.plugins.generators.lr_schedule import linear_decay_scheduler, steps_epoch_end
from dg2bench.plugins.generators.networks import (PatchDiscriminator, ResnetGenerator,
                                                   check_translation_size, init_normal)
from dg2bench.plugins.generators.sampling import generate_in_chunks, set_requires_grad


class DjsPatchDiscriminator(PatchDiscriminator):
    """A PatchGAN with DG2GAN's extra trainable DJS head (see the module docstring)."""

    def __init__(self, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__(ndf, n_layers)
        self.djs_head = nn.Conv2d(self.feature_channels, 1, 1)
        init_normal(self.djs_head)

    def forward_with_djs(self, real: torch.Tensor, fake: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Patch logits on ``real`` and ``fake`` and the DJS loss between them.

        One pass over both batches (instance norm is per sample, so this equals two
        passes).
        """
        feats = self.trunk(torch.cat([real, fake], 0))
        logits, v = self.head(feats), self.djs_head(feats)
        k = real.shape[0]
        return logits[:k], logits[k:], losses.djs_loss(v[k:], v[:k])


@dataclasses.dataclass(frozen=True)
class Dg2GanHyperparameters:
    """DG2GAN's hyperparameters; defaults are the paper's values.

    :ivar batch_size: images per domain per step (paper: 8).
    :ivar epochs: default training length (paper: 100 constant + 100 decay).
    :ivar lr: Adam learning rate (paper: 2e-4).
    :ivar betas: Adam betas (two floats).
    :ivar ngf: generator width.
    :ivar ndf: discriminator width.
    :ivar n_res_blocks: residual blocks per generator.
    :ivar d_layers: stride-2 layers of each PatchGAN.
    :ivar lam: lambda of eq. 5, weight of the D1 (quality) terms (paper: 0.8).
    :ivar beta: beta of eq. 5, weight of the D2 (diversity) terms (paper: 0.5).
    :ivar mu: mu of eq. 2, weight of the DJS loss in D2's loss (paper: 0.05; 0 = off).
    :ivar lambda_cycle: weight of L_cycle in eq. 6 (printed without one: 1).
    :ivar lambda_identity: weight of an optional identity L1 loss (paper: none, 0).
    :ivar pool_size: fakes kept in each image pool (0 disables).
    :ivar decay_fraction: last fraction of the epochs over which lr decays to 0.
    """

    batch_size: int = 8
    epochs: int = 200
    lr: float = 2e-4
    betas: tuple[float, ...] = (0.5, 0.999)
    ngf: int = 64
    ndf: int = 64
    n_res_blocks: int = 9
    d_layers: int = 3
    lam: float = 0.8
    beta: float = 0.5
    mu: float = 0.05
    lambda_cycle: float = 1.0
    lambda_identity: float = 0.0
    pool_size: int = 50
    decay_fraction: float = 0.5

    def validate(self) -> None:
        """Raise ValueError on values the method cannot run with."""
        for key in ("batch_size", "epochs", "ngf", "ndf", "d_layers"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, not {getattr(self, key)}")
        for key in ("n_res_blocks", "pool_size", "lam", "beta", "mu", "lambda_cycle",
                    "lambda_identity"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, not {getattr(self, key)}")
        if self.lr <= 0 or len(self.betas) != 2:
            raise ValueError("lr must be > 0 and betas two floats")
        if not 0.0 <= self.decay_fraction <= 1.0:
            raise ValueError(f"decay_fraction must be in [0, 1], not {self.decay_fraction}")


@dataclasses.dataclass(frozen=True)
class Dg2GanNoDjsHyperparameters(Dg2GanHyperparameters):
    """DG2GAN's hyperparameters with the DJS term off by default (``mu = 0``)."""

    mu: float = 0.0


class Dg2Gan(Generator):
    """DG2GAN: CycleGAN-style translation with dual discriminators, DG2 and DJS losses."""

    name: ClassVar[str] = "dg2gan"
    summary: ClassVar[str] = "DG2GAN (Sci. Rep. 2024): cycle + DG2 adversarial (D1/D2) + DJS on D2"
    kind: ClassVar[str] = "translation"
    Hyperparameters: ClassVar[type] = Dg2GanHyperparameters
    # No preset sets mu, so DG2GAN-no-DJS inherits them unchanged.
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"batch_size": 4, "epochs": 2, "ngf": 8, "ndf": 8, "n_res_blocks": 1},
        "paper": {"batch_size": 8, "epochs": 200, "ngf": 64, "ndf": 64, "n_res_blocks": 9},
    }

    def __init__(self, hparams: Dg2GanHyperparameters, image_size: int) -> None:
        super().__init__(hparams, image_size)
        check_translation_size(image_size)
        h = hparams
        self.G = ResnetGenerator(h.ngf, h.n_res_blocks)
        self.F = ResnetGenerator(h.ngf, h.n_res_blocks)
        self.D1d = PatchDiscriminator(h.ndf, h.d_layers)
        self.D1n = PatchDiscriminator(h.ndf, h.d_layers)
        self.D2d = DjsPatchDiscriminator(h.ndf, h.d_layers)
        self.D2n = DjsPatchDiscriminator(h.ndf, h.d_layers)
        self.pool_d = ImagePool(h.pool_size)
        self.pool_n = ImagePool(h.pool_size)

    def networks(self) -> dict[str, nn.Module]:
        """G, F and the four discriminators."""
        return {"G": self.G, "F": self.F, "D1d": self.D1d, "D1n": self.D1n,
                "D2d": self.D2d, "D2n": self.D2n}

    def inference_networks(self) -> list[str]:
        """Only G is needed to make defect images."""
        return ["G"]

    def _discriminators(self) -> list[nn.Module]:
        return [self.D1d, self.D1n, self.D2d, self.D2n]

    def setup(self, plan: TrainPlan) -> None:
        """One Adam for G and F, one for the four discriminators, linear-decay schedules."""
        h = self.hparams
        self.plan = plan
        self.opt_g = torch.optim.Adam([*self.G.parameters(), *self.F.parameters()], lr=h.lr,
                                      betas=tuple(h.betas))
        self.opt_d = torch.optim.Adam([p for d in self._discriminators() for p in d.parameters()],
                                      lr=h.lr, betas=tuple(h.betas))
        self.stateful = {
            "opt_g": self.opt_g, "opt_d": self.opt_d, "pool_d": self.pool_d, "pool_n": self.pool_n,
            "sched_g": linear_decay_scheduler(self.opt_g, plan.epochs, h.decay_fraction),
            "sched_d": linear_decay_scheduler(self.opt_d, plan.epochs, h.decay_fraction),
        }

    def generator_step(self, n: torch.Tensor, d: torch.Tensor) -> dict[str, torch.Tensor]:
        """Update G and F on eq. 6; return the fakes and the loss terms."""
        h = self.hparams
        set_requires_grad(self._discriminators(), False)
        with self.plan.autocast():
            fake_d, fake_n = self.G(n), self.F(d)
            rec_n, rec_d = self.F(fake_d), self.G(fake_n)
            adv_g = losses.dg2_adversarial_loss(self.D1d(fake_d), self.D2d(fake_d), h.lam, h.beta)
            adv_f = losses.dg2_adversarial_loss(self.D1n(fake_n), self.D2n(fake_n), h.lam, h.beta)
            idt = (losses.l1_loss(self.G(d), d) + losses.l1_loss(self.F(n), n)) \
                if h.lambda_identity > 0 else torch.zeros((), device=n.device)
        cycle = losses.cycle_consistency_loss(rec_n, n, rec_d, d)
        total = losses.dg2gan_objective(adv_g, adv_f, cycle, h.lambda_cycle) + h.lambda_identity * idt
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        set_requires_grad(self._discriminators(), True)
        return {"fake_d": fake_d, "fake_n": fake_n, "g_total": total, "g_adv_G": adv_g,
                "g_adv_F": adv_f, "cycle": cycle, "identity": idt}

    def discriminator_losses(self, n: torch.Tensor, d: torch.Tensor, fake_n: torch.Tensor,
                             fake_d: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 3 losses of D1d/D1n and eq. 2 losses of D2d/D2n (with their DJS losses)."""
        mu = self.hparams.mu
        with self.plan.autocast():
            d1d = losses.gan1_discriminator_loss(self.D1d(d), self.D1d(fake_d))
            d1n = losses.gan1_discriminator_loss(self.D1n(n), self.D1n(fake_n))
            real_d, gen_d, djs_d = self.D2d.forward_with_djs(d, fake_d)
            real_n, gen_n, djs_n = self.D2n.forward_with_djs(n, fake_n)
            d2d = losses.d2_discriminator_loss(real_d, gen_d, djs_d, mu)
            d2n = losses.d2_discriminator_loss(real_n, gen_n, djs_n, mu)
        return {"d1_defect": d1d, "d1_defect_free": d1n, "d2_defect": d2d, "d2_defect_free": d2n,
                "djs_loss_defect": djs_d, "djs_loss_defect_free": djs_n}

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """One generator step (G and F), then one step of the four discriminators."""
        n, d = batch["defect_free"], batch["defect"]
        g = self.generator_step(n, d)
        dl = self.discriminator_losses(n, d, self.pool_n.query(g["fake_n"]), self.pool_d.query(g["fake_d"]))
        self.opt_d.zero_grad(set_to_none=True)
        (dl["d1_defect"] + dl["d1_defect_free"] + dl["d2_defect"] + dl["d2_defect_free"]).backward()
        self.opt_d.step()
        if steps_epoch_end(step, self.plan.steps_per_epoch):
            self.stateful["sched_g"].step()
            self.stateful["sched_d"].step()
        out = {k: v for k, v in g.items() if not k.startswith("fake")}
        return {k: v.detach() for k, v in {**out, **dl}.items()}

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None) -> torch.Tensor:
        """Translate ``n`` defect-free images ``source`` to defect images with G."""
        if source is None or source.shape[0] < n:
            raise ValueError(f"{self.name} translates images: pass n defect-free images as source")
        return generate_in_chunks(self.G, n, self.batch_size, self.image_size,
                                  lambda start, count, device: source[start:start + count].to(device))


class Dg2GanNoDjs(Dg2Gan):
    """The paper's ablation: DG2GAN with ``mu = 0`` (same code, DJS term switched off)."""

    name: ClassVar[str] = "dg2gan-no-djs"
    summary: ClassVar[str] = "DG2GAN without the DJS term (mu = 0), the paper's ablation"
    Hyperparameters: ClassVar[type] = Dg2GanNoDjsHyperparameters


@hookimpl
def register_generators(register) -> None:
    """Register :class:`Dg2Gan` and :class:`Dg2GanNoDjs`."""
    register(Dg2Gan)
    register(Dg2GanNoDjs)
