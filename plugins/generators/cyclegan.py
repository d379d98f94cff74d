"""CycleGAN (Zhu et al. 2017) as the reference code trains it, one of the paper's peers.

Recipe (junyanz/pytorch-CycleGAN-and-pix2pix, defaults of ``train.py``): ResNet-9
generators, 70 x 70 PatchGAN discriminators, instance norm, N(0, 0.02) init,
least-squares GAN loss, image pool of 50 fakes, lambda_cycle 10, identity weight 0.5
(i.e. 5 x L1), Adam lr 2e-4 betas (0.5, 0.999), discriminator loss halved, generators
stepped before discriminators, lr constant for half the epochs then linear decay,
inputs loaded at 286 px, randomly cropped to 256 and flipped (scaled to the image
size; ``load_crop_flip``, off in the ``tiny`` preset).
The paper trains it with batch 4 for 100 + 100 epochs.

Naming: ``G`` maps defect-free images n to defect images, ``F`` maps back; ``Dd``
judges the defect domain (G's opponent), ``Dn`` the defect-free domain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from dg2bench import Generator, LoadCropFlip, TrainingState, TrainPlan, hookimpl, option
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.image_pool import ImagePool
from dg2bench.plugins.generators.lr_schedule import linear_decay_scheduler
from dg2bench.plugins.generators.networks import (PatchDiscriminator, ResnetGenerator,
                                                   check_translation_size)
from dg2bench.plugins.generators.sampling import generate_in_chunks, set_requires_grad
from dg2bench.plugins.generators.translation import cycle_passes, joined_forward


@dataclasses.dataclass(frozen=True)
class CycleGanHyperparameters:
    """CycleGAN's hyperparameters; defaults are the reference recipe at the paper's sizes.

    :ivar batch_size: images per domain per step (paper: 4).
    :ivar epochs: default training length in epochs (paper: 100 + 100).
    :ivar lr: Adam learning rate of both optimizers.
    :ivar betas: Adam betas (two floats).
    :ivar ngf: generator width (channels of its first layer).
    :ivar ndf: discriminator width.
    :ivar n_res_blocks: residual blocks per generator (9 at 256 x 256, 6 at 128).
    :ivar d_layers: stride-2 layers of the PatchGAN (3 = the 70 x 70 PatchGAN).
    :ivar lambda_cycle: weight of each cycle-consistency L1 term.
    :ivar lambda_identity: identity weight *relative to* ``lambda_cycle``, as the reference's
        ``--lambda_identity`` (0.5: the identity L1 weighs 0.5 x 10 = 5; 0 disables). DG2GAN's
        option of this name is the absolute weight (its CycleGAN recipe sets 5.0); each keeps
        its name because specs and records hold it.
    :ivar pool_size: fakes kept in each image pool (0 disables the pool).
    :ivar decay_fraction: last fraction of the epochs over which lr decays to 0.
    :ivar load_crop_flip: train on load-286 / random-crop-256 / flip inputs, scaled to the
        image size (the reference's ``resize_and_crop`` with flips).
    """

    batch_size: int = option(4, minimum=1)
    epochs: int = option(200, minimum=1)
    lr: float = option(2e-4, above=0.0)
    betas: tuple[float, ...] = option((0.5, 0.999), length=2)
    ngf: int = option(64, minimum=1)
    ndf: int = option(64, minimum=1)
    n_res_blocks: int = option(9, minimum=0)
    d_layers: int = option(3, minimum=1)
    lambda_cycle: float = 10.0
    lambda_identity: float = option(0.5, minimum=0)
    pool_size: int = option(50, minimum=0)
    decay_fraction: float = option(0.5, minimum=0.0, maximum=1.0)
    load_crop_flip: bool = True


class CycleGan(Generator):
    """CycleGAN with the reference recipe; ``generate`` runs G on defect-free images."""

    name: ClassVar[str] = "cyclegan"
    summary: ClassVar[str] = "CycleGAN (Zhu et al. 2017): ResNet-9 + PatchGAN, LSGAN, cycle + identity"
    kind: ClassVar[str] = "translation"
    Hyperparameters: ClassVar[type] = CycleGanHyperparameters
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"batch_size": 4, "epochs": 2, "ngf": 8, "ndf": 8, "n_res_blocks": 1, "load_crop_flip": False},
        "paper": {"batch_size": 4, "epochs": 200, "ngf": 64, "ndf": 64, "n_res_blocks": 9, "load_crop_flip": True},
        # benchmarks/crackforest-cpu.toml: DG2GAN's small sizes, 2,000 steps at batch 1.
        "small": {"batch_size": 1, "epochs": 2, "ngf": 16, "ndf": 16, "n_res_blocks": 3, "load_crop_flip": True},
    }

    def __init__(self, hparams: CycleGanHyperparameters, image_size: int) -> None:
        super().__init__(hparams, image_size)
        check_translation_size(image_size)
        h = hparams
        self.G = ResnetGenerator(h.ngf, h.n_res_blocks)
        self.F = ResnetGenerator(h.ngf, h.n_res_blocks)
        self.Dd = PatchDiscriminator(h.ndf, h.d_layers)
        self.Dn = PatchDiscriminator(h.ndf, h.d_layers)
        self.pool_d = ImagePool(h.pool_size)
        self.pool_n = ImagePool(h.pool_size)

    def networks(self) -> dict[str, nn.Module]:
        """G (n -> d), F (d -> n), Dd and Dn."""
        return {"G": self.G, "F": self.F, "Dd": self.Dd, "Dn": self.Dn}

    def inference_networks(self) -> list[str]:
        """Only G is needed to make defect images."""
        return ["G"]

    def load_crop_flip(self) -> LoadCropFlip | None:
        """The reference's load / random-crop / flip inputs when ``load_crop_flip`` is on."""
        return LoadCropFlip() if self.hparams.load_crop_flip else None

    def setup(self, plan: TrainPlan) -> TrainingState:
        """Adam for both generators together and both discriminators together."""
        h = self.hparams
        self.plan = plan
        self.opt_g = plan.adam([*self.G.parameters(), *self.F.parameters()], lr=h.lr,
                                      betas=tuple(h.betas))
        self.opt_d = plan.adam([*self.Dd.parameters(), *self.Dn.parameters()], lr=h.lr,
                                      betas=tuple(h.betas))
        # The harness steps the epoch schedulers after the last step of each epoch.
        return TrainingState(
            optimizers={"opt_g": self.opt_g, "opt_d": self.opt_d},
            epoch_schedulers={"sched_g": linear_decay_scheduler(self.opt_g, plan.epochs, h.decay_fraction),
                              "sched_d": linear_decay_scheduler(self.opt_d, plan.epochs, h.decay_fraction)},
            stateful={"pool_d": self.pool_d, "pool_n": self.pool_n})

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """One generator step (both directions), then one discriminator step."""
        h, plan = self.hparams, self.plan
        n, d = batch["defect_free"], batch["defect"]
        w_idt = h.lambda_cycle * h.lambda_identity

        set_requires_grad([self.Dd, self.Dn], False)
        with plan.autocast():
            out = cycle_passes(self.G, self.F, n, d, identity=w_idt > 0)
            fake_d, fake_n = out.fake_d, out.fake_n
            adv = losses.lsgan_generator_loss(self.Dd(fake_d)) + losses.lsgan_generator_loss(self.Dn(fake_n))
        idt = losses.l1_loss(out.idt_d, d) + losses.l1_loss(out.idt_n, n) if w_idt > 0 \
            else torch.zeros((), device=n.device)
        cycle = losses.l1_loss(out.rec_n, n) + losses.l1_loss(out.rec_d, d)
        loss_g = adv + h.lambda_cycle * cycle + w_idt * idt
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()

        set_requires_grad([self.Dd, self.Dn], True)
        pooled_d, pooled_n = self.pool_d.query(fake_d), self.pool_n.query(fake_n)
        with plan.autocast():
            loss_dd = losses.lsgan_discriminator_loss(*joined_forward(self.Dd, d, pooled_d))
            loss_dn = losses.lsgan_discriminator_loss(*joined_forward(self.Dn, n, pooled_n))
        self.opt_d.zero_grad(set_to_none=True)
        (loss_dd + loss_dn).backward()
        self.opt_d.step()

        return {"g_total": loss_g.detach(), "g_adv": adv.detach(), "cycle": cycle.detach(),
                "identity": idt.detach(), "d_defect": loss_dd.detach(), "d_defect_free": loss_dn.detach()}

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None) -> torch.Tensor:
        """Translate ``n`` defect-free images ``source`` to defect images with G."""
        if source is None or source.shape[0] < n:
            raise ValueError("cyclegan translates images: pass n defect-free images as source")
        return generate_in_chunks(self.G, n, self.batch_size, self.image_size,
                                  lambda start, count, device: source[start:start + count].to(device))

    @torch.no_grad()
    def generate_defect_free(self, n: int, source: torch.Tensor) -> torch.Tensor:
        """Translate ``n`` defect images ``source`` to defect-free images with F (Table 8)."""
        return generate_in_chunks(self.F, n, self.batch_size, self.image_size,
                                  lambda start, count, device: source[start:start + count].to(device))


@hookimpl
def register_generators(register) -> None:
    """Register :class:`CycleGan`."""
    register(CycleGan)
