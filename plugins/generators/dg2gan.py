"""DG2GAN (Sci. Rep. 2024) and DG2GAN-no-DJS, the paper's method and its ablation.

Six networks (paper Fig. 2): generators ``G`` (defect-free n -> defect d) and ``F``
(d -> n); ``D1d``/``D1n`` reward real images over generated ones (eq. 3); ``D2d``/``D2n``
reward generated images over real ones (eq. 4) and carry the DJS term (eq. 2).
Architectures are not given by the paper: G/F are CycleGAN's ResNet generators and all
four discriminators 70 x 70 PatchGANs.

Objectives, as implemented (``losses.py`` holds each term):

* Generators minimise eq. 6, ``L_DG2gan(G) + L_DG2gan(F) + lambda_cycle * L_cycle``,
  with eq. 5 ``L_DG2gan(G) = lam * L_gan1(G, D1d) + beta * L_gan2(G, D2d)`` (likewise F
  with D1n, D2n) in non-saturating form: ``lam * E softplus(-D1d(G(n))) +
  beta * E softplus(D2d(G(n)))`` on logits. ``lambda_cycle = 1`` is eq. 6 as printed.
* D1d maximises eq. 3 (loss ``E softplus(-D1d(d)) + E softplus(D1d(G(n)))``).
* D2d minimises eq. 2, ``L_D2d = mu * L_DJS + E softplus(D2d(d)) + E softplus(-D2d(G(n)))``;
  the two log terms are eq. 2's (= -eq. 4) in bounded cross-entropy form.

Preset ``cyclegan-recipe`` keeps D2 and DJS but takes everything else from the CycleGAN
reference: least-squares adversarial terms (``adversarial_loss = "lsgan"``, D losses
halved, D2 with swapped targets), D1 weight ``lam = 1``, ``lambda_cycle = 10``, identity
weight 5 (CycleGAN's 0.5 x 10), batch 4. DG2GAN with this preset and CycleGAN then
differ only by D2 + DJS (and ``beta``), which isolates the paper's contribution. Both
translation recipes train on load / random-crop / flip inputs
(:class:`dg2bench.LoadCropFlip`, ``load_crop_flip``); the ``tiny`` preset turns it off.

The DJS term (eq. 2) is a distributional Jensen-Shannon critic on D2's trunk features,
after the paper's reference 34 (DAN): a deep mean encoder averages per-patch features
over the batch and a small sample classifier tells a generated batch from a real one
with the log loss. ``djs.py`` holds it; its derivation and sizing against Table 3 are
in ``docs/methods.md``. ``mu = 0`` builds no DJS parameters at all: that is DG2GAN-no-DJS.

Left open by the paper, decided here (all hyperparameters): image pool of 50 fakes
for the discriminators and no identity loss (``lambda_identity = 0``, an absolute
weight here), as CycleGAN without its identity term; one Adam for G+F and one for the
four discriminators and their DJS critics; log losses not halved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, NamedTuple

import torch
from torch import nn

from dg2bench import Generator, LoadCropFlip, TrainingState, TrainPlan, hookimpl, option
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.djs import DistributionalJsCritic, djs_estimate, djs_loss
from dg2bench.plugins.generators.image_pool import ImagePool
from dg2bench.plugins.generators.lr_schedule import linear_decay_scheduler
from dg2bench.plugins.generators.networks import (PatchDiscriminator, ResnetGenerator,
                                                   check_translation_size)
from dg2bench.plugins.generators.sampling import generate_in_chunks, set_requires_grad
from dg2bench.plugins.generators.translation import cycle_passes, joined_forward

Loss = Callable[..., torch.Tensor]


class AdversarialForm(NamedTuple):
    """The four adversarial terms of eqs. 3-5 in one loss family."""

    d1: Loss   # D1's loss (real rewarded), eq. 3
    d2: Loss   # D2's adversarial loss (generated rewarded), eq. 4 / eq. 2's log terms
    g1: Loss   # generator vs D1, eq. 5's L_gan1
    g2: Loss   # generator vs D2, eq. 5's L_gan2


ADVERSARIAL_FORMS: dict[str, AdversarialForm] = {
    "log": AdversarialForm(losses.gan1_discriminator_loss, losses.gan2_discriminator_loss,
                           losses.gan1_generator_loss, losses.gan2_generator_loss),
    "lsgan": AdversarialForm(losses.lsgan_discriminator_loss, losses.lsgan_d2_discriminator_loss,
                             losses.lsgan_generator_loss, losses.lsgan_d2_generator_loss),
}


class D2Discriminator(PatchDiscriminator):
    """A PatchGAN that also returns the DJS loss when it holds a DJS critic (eq. 2).

    The critic (:class:`DistributionalJsCritic`, D2's "new trainable parameters") is
    added by :meth:`add_djs_critic`; without it D2 is a plain PatchGAN (no-DJS).
    """

    def __init__(self, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__(ndf, n_layers)
        self.djs: DistributionalJsCritic | None = None

    def add_djs_critic(self, width: int) -> None:
        """Create the DJS critic on this discriminator's trunk features."""
        self.djs = DistributionalJsCritic(self.feature_channels, width)

    def forward_with_djs(self, real: torch.Tensor, generated: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Patch logits on ``real`` and ``generated`` and the DJS loss between the two batches.

        One trunk pass over both batches (instance norm is per sample, so this equals
        two passes); each batch is one sample of the critic, which runs in fp32. The
        DJS loss is ``None`` without a critic.
        """
        feats = self.trunk(torch.cat([real, generated], 0))
        logits, k = self.head(feats), real.shape[0]
        if self.djs is None:
            return logits[:k], logits[k:], None
        # fp32 even under autocast: the critic's signal is a small difference between two
        # mean embeddings, which bf16 rounding distorts.
        with torch.autocast(feats.device.type, enabled=False):
            feats = feats.float()
            djs = djs_loss(self.djs(feats[k:]), self.djs(feats[:k]))
        return logits[:k], logits[k:], djs

    def trunk_gradient_norms(self, real: torch.Tensor, generated: torch.Tensor, adversarial: Loss,
                             mu: float) -> tuple[float, float]:
        """L2 norms of the gradients of D2's adversarial loss and of ``mu * L_DJS`` on the trunk.

        The trunk is what both terms share; their ratio says how much the DJS term
        steers D2's features (a diagnostic for tests and ``benchmarks/djs_probe.py``).
        """
        if self.djs is None:
            raise ValueError("this discriminator has no DJS critic (mu = 0)")
        trunk = [p for p in self.trunk.parameters() if p.requires_grad]
        real_logits, fake_logits, djs = self.forward_with_djs(real, generated)
        norms = []
        for loss in (adversarial(real_logits, fake_logits), mu * djs):
            grads = torch.autograd.grad(loss, trunk, retain_graph=True)
            norms.append(float(torch.sqrt(sum(g.float().pow(2).sum() for g in grads))))
        return norms[0], norms[1]


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
    :ivar mu: mu of eq. 2, weight of the DJS loss in D2's loss (paper: 0.05; 0 = off,
        and then no DJS critic is built).
    :ivar djs_width: hidden width of each DJS critic (288: Table 3's size difference
        at ndf 64; see ``docs/methods.md``).
    :ivar adversarial_loss: ``"log"`` (the paper's eqs. 3-4) or ``"lsgan"`` (CycleGAN's).
    :ivar lambda_cycle: weight of L_cycle in eq. 6 (printed without one: 1).
    :ivar lambda_identity: *absolute* weight of an optional identity L1 loss (paper: 0; the
        CycleGAN recipe's 5.0 is CycleGAN's relative 0.5 x its lambda_cycle 10). Unlike
        CycleGAN's option of this name, not relative to ``lambda_cycle``.
    :ivar pool_size: fakes kept in each image pool (0 disables).
    :ivar decay_fraction: last fraction of the epochs over which lr decays to 0.
    :ivar load_crop_flip: train on load / random-crop / flip inputs (CycleGAN's).
    """

    batch_size: int = option(8, minimum=1)
    epochs: int = option(200, minimum=1)
    lr: float = option(2e-4, above=0.0)
    betas: tuple[float, ...] = option((0.5, 0.999), length=2)
    ngf: int = option(64, minimum=1)
    ndf: int = option(64, minimum=1)
    n_res_blocks: int = option(9, minimum=0)
    d_layers: int = option(3, minimum=1)
    lam: float = option(0.8, minimum=0)
    beta: float = option(0.5, minimum=0)
    mu: float = option(0.05, minimum=0)
    djs_width: int = option(288, minimum=1)
    adversarial_loss: Literal["log", "lsgan"] = "log"
    lambda_cycle: float = option(1.0, minimum=0)
    lambda_identity: float = option(0.0, minimum=0)
    pool_size: int = option(50, minimum=0)
    decay_fraction: float = option(0.5, minimum=0.0, maximum=1.0)
    load_crop_flip: bool = True


@dataclasses.dataclass(frozen=True)
class Dg2GanNoDjsHyperparameters(Dg2GanHyperparameters):
    """DG2GAN's hyperparameters with the DJS term off (``mu = 0``, and only 0)."""

    mu: float = option(0.0, minimum=0)

    def validate(self) -> None:
        """``mu`` must stay 0: with a DJS critic this would be DG2GAN (the ranges are DG2GAN's)."""
        if self.mu != 0:
            raise ValueError(f"mu must be 0 in dg2gan-no-djs (the ablation without the DJS term), not {self.mu}; "
                             "for a DJS term use plugin = \"dg2gan\"")


_PAPER_SIZES = {"ngf": 64, "ndf": 64, "n_res_blocks": 9, "djs_width": 288, "load_crop_flip": True}
_SMALL_SIZES = {"ngf": 16, "ndf": 16, "n_res_blocks": 3, "djs_width": 72, "load_crop_flip": True}
_CYCLEGAN_RECIPE = {"adversarial_loss": "lsgan", "lam": 1.0, "lambda_cycle": 10.0, "lambda_identity": 5.0}


class Dg2Gan(Generator):
    """DG2GAN: CycleGAN-style translation with dual discriminators, DG2 and DJS losses."""

    name: ClassVar[str] = "dg2gan"
    summary: ClassVar[str] = "DG2GAN (Sci. Rep. 2024): cycle + DG2 adversarial (D1/D2) + DJS on D2"
    kind: ClassVar[str] = "translation"
    Hyperparameters: ClassVar[type] = Dg2GanHyperparameters
    # No preset sets mu, so DG2GAN-no-DJS inherits them unchanged.
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"batch_size": 4, "epochs": 2, "ngf": 8, "ndf": 8, "n_res_blocks": 1, "djs_width": 16,
                 "load_crop_flip": False},
        "paper": {"batch_size": 8, "epochs": 200, **_PAPER_SIZES},
        "cyclegan-recipe": {"batch_size": 4, "epochs": 200, **_PAPER_SIZES, **_CYCLEGAN_RECIPE},
        # benchmarks/crackforest-cpu.toml: a quarter of the widths, a third of the residual
        # blocks, batch 1 (CycleGAN's own) for 2,000 steps over 1,000 defect-free patches
        # (docs/methods.md, "Presets").
        "small": {"batch_size": 1, "epochs": 2, **_SMALL_SIZES},
        "small-cyclegan-recipe": {"batch_size": 1, "epochs": 2, **_SMALL_SIZES, **_CYCLEGAN_RECIPE},
    }

    def __init__(self, hparams: Dg2GanHyperparameters, image_size: int) -> None:
        super().__init__(hparams, image_size)
        check_translation_size(image_size)
        h = hparams
        self.G = ResnetGenerator(h.ngf, h.n_res_blocks)
        self.F = ResnetGenerator(h.ngf, h.n_res_blocks)
        self.D1d = PatchDiscriminator(h.ndf, h.d_layers)
        self.D1n = PatchDiscriminator(h.ndf, h.d_layers)
        self.D2d = D2Discriminator(h.ndf, h.d_layers)
        self.D2n = D2Discriminator(h.ndf, h.d_layers)
        if h.mu > 0:
            # Built last, so every other network starts as in DG2GAN-no-DJS (same seed).
            self.D2d.add_djs_critic(h.djs_width)
            self.D2n.add_djs_critic(h.djs_width)
        self.form = ADVERSARIAL_FORMS[h.adversarial_loss]
        self.pool_d = ImagePool(h.pool_size)
        self.pool_n = ImagePool(h.pool_size)

    def networks(self) -> dict[str, nn.Module]:
        """G, F and the four discriminators (D2d/D2n with their DJS critics, if any)."""
        return {"G": self.G, "F": self.F, "D1d": self.D1d, "D1n": self.D1n,
                "D2d": self.D2d, "D2n": self.D2n}

    def inference_networks(self) -> list[str]:
        """Only G is needed to make defect images."""
        return ["G"]

    def load_crop_flip(self) -> LoadCropFlip | None:
        """CycleGAN's load / random-crop / flip inputs when ``load_crop_flip`` is on."""
        return LoadCropFlip() if self.hparams.load_crop_flip else None

    def _discriminators(self) -> list[nn.Module]:
        return [self.D1d, self.D1n, self.D2d, self.D2n]

    def setup(self, plan: TrainPlan) -> TrainingState:
        """One Adam for G and F, one for the four discriminators, linear-decay schedules."""
        h = self.hparams
        self.plan = plan
        self.opt_g = plan.adam([*self.G.parameters(), *self.F.parameters()], lr=h.lr,
                                      betas=tuple(h.betas))
        self.opt_d = plan.adam([p for d in self._discriminators() for p in d.parameters()],
                                      lr=h.lr, betas=tuple(h.betas))
        # The harness steps the epoch schedulers after the last step of each epoch.
        return TrainingState(
            optimizers={"opt_g": self.opt_g, "opt_d": self.opt_d},
            epoch_schedulers={"sched_g": linear_decay_scheduler(self.opt_g, plan.epochs, h.decay_fraction),
                              "sched_d": linear_decay_scheduler(self.opt_d, plan.epochs, h.decay_fraction)},
            stateful={"pool_d": self.pool_d, "pool_n": self.pool_n})

    def _adversarial(self, d1_fake: torch.Tensor, d2_fake: torch.Tensor) -> torch.Tensor:
        """Eq. 5 for one generator: ``lam * L_gan1 + beta * L_gan2``."""
        h = self.hparams
        return h.lam * self.form.g1(d1_fake) + h.beta * self.form.g2(d2_fake)

    def generator_step(self, n: torch.Tensor, d: torch.Tensor) -> dict[str, torch.Tensor]:
        """Update G and F on eq. 6; return the fakes and the loss terms."""
        h = self.hparams
        set_requires_grad(self._discriminators(), False)
        with self.plan.autocast():
            out = cycle_passes(self.G, self.F, n, d, identity=h.lambda_identity > 0)
            fake_d, fake_n = out.fake_d, out.fake_n
            adv_g = self._adversarial(self.D1d(fake_d), self.D2d(fake_d))
            adv_f = self._adversarial(self.D1n(fake_n), self.D2n(fake_n))
        idt = losses.l1_loss(out.idt_d, d) + losses.l1_loss(out.idt_n, n) if h.lambda_identity > 0 \
            else torch.zeros((), device=n.device)
        cycle = losses.cycle_consistency_loss(out.rec_n, n, out.rec_d, d)
        total = losses.dg2gan_objective(adv_g, adv_f, cycle, h.lambda_cycle) + h.lambda_identity * idt
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        set_requires_grad(self._discriminators(), True)
        return {"fake_d": fake_d, "fake_n": fake_n, "g_total": total, "g_adv_G": adv_g,
                "g_adv_F": adv_f, "cycle": cycle, "identity": idt}

    def discriminator_losses(self, n: torch.Tensor, d: torch.Tensor, fake_n: torch.Tensor,
                             fake_d: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 3 losses of D1d/D1n and eq. 2 losses of D2d/D2n.

        With a DJS critic (``mu > 0``) also ``djs_defect``/``djs_defect_free``, the
        estimates ``DJS_hat`` in nats (the D2 losses hold ``mu * L_DJS``).
        """
        mu = self.hparams.mu
        out = {}
        with self.plan.autocast():
            out["d1_defect"] = self.form.d1(*joined_forward(self.D1d, d, fake_d))
            out["d1_defect_free"] = self.form.d1(*joined_forward(self.D1n, n, fake_n))
            for key, d2, real, fake in (("defect", self.D2d, d, fake_d), ("defect_free", self.D2n, n, fake_n)):
                real_logits, fake_logits, djs = d2.forward_with_djs(real, fake)
                out[f"d2_{key}"] = self.form.d2(real_logits, fake_logits)
                if djs is not None:
                    out[f"d2_{key}"] = out[f"d2_{key}"] + mu * djs
                    out[f"djs_{key}"] = djs_estimate(djs.detach())
        return out

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """One generator step (G and F), then one step of the four discriminators."""
        n, d = batch["defect_free"], batch["defect"]
        g = self.generator_step(n, d)
        dl = self.discriminator_losses(n, d, self.pool_n.query(g["fake_n"]), self.pool_d.query(g["fake_d"]))
        self.opt_d.zero_grad(set_to_none=True)
        (dl["d1_defect"] + dl["d1_defect_free"] + dl["d2_defect"] + dl["d2_defect_free"]).backward()
        self.opt_d.step()
        out = {k: v for k, v in g.items() if not k.startswith("fake")}
        return {k: v.detach() for k, v in {**out, **dl}.items()}

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None) -> torch.Tensor:
        """Translate ``n`` defect-free images ``source`` to defect images with G."""
        if source is None or source.shape[0] < n:
            raise ValueError(f"{self.name} translates images: pass n defect-free images as source")
        return generate_in_chunks(self.G, n, self.batch_size, self.image_size,
                                  lambda start, count, device: source[start:start + count].to(device))

    @torch.no_grad()
    def generate_defect_free(self, n: int, source: torch.Tensor) -> torch.Tensor:
        """Translate ``n`` defect images ``source`` to defect-free images with F (Table 8)."""
        return generate_in_chunks(self.F, n, self.batch_size, self.image_size,
                                  lambda start, count, device: source[start:start + count].to(device))


class Dg2GanNoDjs(Dg2Gan):
    """The paper's ablation: DG2GAN with ``mu = 0`` (same code, no DJS critic built)."""

    name: ClassVar[str] = "dg2gan-no-djs"
    summary: ClassVar[str] = "DG2GAN without the DJS term (mu = 0), the paper's ablation"
    Hyperparameters: ClassVar[type] = Dg2GanNoDjsHyperparameters


@hookimpl
def register_generators(register) -> None:
    """Register :class:`Dg2Gan` and :class:`Dg2GanNoDjs`."""
    register(Dg2Gan)
    register(Dg2GanNoDjs)
