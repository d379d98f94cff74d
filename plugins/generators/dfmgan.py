"""DFMGAN (Duan et al., "Few-Shot Defect Image Generation via Defect-Aware Feature
Manipulation", AAAI 2023): a StyleGAN2 trained on defect-free images, then frozen while
defect-aware residual blocks learn to paint defects and their masks.

Both stages are one training schedule: the first ``stage1_fraction`` of the steps train
the StyleGAN2 backbone (``stylegan2.py``) on the **defect-free** training images
(non-saturating logistic loss, lazy R1 on D, generator EMA); the rest train, with the
backbone frozen, a defect mapping network and residual blocks from ``image_size /
mask_scale`` up (their output added to the backbone's features, gated by a mask drawn at
that resolution and upsampled: ``x + r * (mask >= 0)``) on the few **defect** images with
their masks, against the backbone's discriminator (trained on) and a fresh
defect-matching discriminator on ``[image, tanh(10 m)]``, plus the mode-seeking loss
(:func:`~dg2bench.plugins.generators.losses.mode_seeking_loss`). ``generate`` draws z and
the defect z from noise and returns the image; :meth:`Dfmgan.generate_with_masks` also
returns the mask (``m >= 0``), which the harness saves beside the fakes.

Read from the official code (github.com/Ldhlwh/DFMGAN, on NVlabs/stylegan2-ada-pytorch);
the ``paper`` preset is its README's configuration at 256 px (``--cfg auto`` on 2 GPUs:
batch 32, 2 mapping layers, channel base 16384 / max 512, lr 0.0025, R1 gamma 0.4096;
stage 1 3000 kimg, stage 2 400 kimg with ``res_st`` 64 and D_match at 4096 / 128;
lambda_ms 0.1 as the code runs it). As there: each step runs G's phase, then D's main
phase and every ``r1_every`` steps its R1 phase as a separate optimiser step, then (stage
2) D_match's; Adam takes the lazy-regularisation ratios (G and the defect networks 4/5:
lr 0.002, beta2 0.99^0.8; D and D_match 16/17); the EMA ramp-up counts the images seen
before the step; stage 2, a resumed run there, has fresh optimisers for the stage-2
networks, D and D_match and an EMA without ramp-up (``stage2_ema_kimg``, which ``small``
shortens to keep the official 40 half-lives in its short stage 2).

Departures, for a CPU benchmark: no adaptive discriminator augmentation (at 2,000 steps
its p would barely move; at ``paper`` it would act: the official default is ADA with
target 0.6, so on a GPU at full length this is a real difference), no path-length
regularisation or style mixing (the repository's own ``cifar`` configuration turns both
off), and the resampling and precision departures of ``stylegan2.py``. Where the
official code trains stage 2 in a new process, here the harness's loop carries on, so
the lazy R1 counts the global step (at ``small`` the first stage-2 R1 falls on its 5th
step, not its 1st). D and D_match judge the same batch of fakes (official: fresh latents
per phase; the same expectation, correlated noise). The minibatch-std group falls back
to the largest divisor of an uneven batch (official: an error); with ``total_steps`` 1
there is no stage 2.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from dg2bench import Generator, TrainingState, TrainPlan, hookimpl, option
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.sampling import set_requires_grad
from dg2bench.plugins.generators.stylegan2 import (
    MappingNetwork,
    ResidualDiscriminator,
    SynthesisBlock,
    SynthesisNetwork,
    ToRGB,
    channels_at,
    upsample2x,
)


@dataclasses.dataclass(frozen=True)
class DfmganHyperparameters:
    """DFMGAN's hyperparameters; defaults are the official 256 px configuration (``paper``)."""

    batch_size: int = option(32, minimum=2, doc="images per step, even (mode seeking halves the batch)")
    epochs: int = option(3400, minimum=1, doc="passes over the defect-free images, both stages "
                                              "(paper: 3000 + 400 kimg = 3,400 epochs of 1,000)")
    stage1_fraction: float = option(3000 / 3400, above=0.0, below=1.0,
                                    doc="share of the steps that train the backbone on defect-free images "
                                        "(paper: 3000 of 3400 kimg)")
    z_dim: int = option(512, minimum=1, doc="latent and style width (z and w; both mapping networks)")
    mapping_layers: int = option(2, minimum=1, doc="layers of each mapping network (cfg auto: 2)")
    channel_base: int = option(16384, minimum=1, doc="synthesis and D channels: min(base / resolution, max)")
    channel_max: int = option(512, minimum=1, doc="the most channels at any resolution")
    match_channel_base: int = option(4096, minimum=1, doc="defect-matching discriminator's channel base")
    match_channel_max: int = option(128, minimum=1, doc="defect-matching discriminator's channel max")
    mask_scale: int = option(4, choices=(1, 2, 4, 8, 16),
                             doc="residual blocks start, and the mask is drawn, at image_size / mask_scale "
                                 "(DFMGAN: 64 of 256 px)")
    lr: float = option(0.0025, above=0.0, doc="Adam learning rate of every network, before the lazy ratios")
    beta2: float = option(0.99, minimum=0.0, below=1.0, doc="Adam beta2 (beta1 is 0), before the lazy ratios")
    g_reg_every: int = option(4, minimum=0,
                              doc="the official loop's G regularisation interval: G's and the defect networks' "
                                  "Adam take lr * k/(k+1) and beta2^(k/(k+1)) as there (0: no ratio); the "
                                  "path-length term itself is not implemented")
    r1_gamma: float = option(0.4096, minimum=0.0, doc="R1 weight on D and D_match (cfg auto: 0.0002 S^2 / batch)")
    r1_every: int = option(16, minimum=1, doc="lazy R1: every this many steps, scaled by it")
    ema_kimg: float = option(10.0, minimum=0.0, doc="stage-1 half-life of the generator EMA, thousands of images")
    ema_rampup: float = option(0.05, minimum=0.0, doc="stage-1 EMA half-life at most this times the images "
                                                     "seen before the step (0: no ramp-up)")
    stage2_ema_kimg: float = option(10.0, minimum=0.0,
                                    doc="stage-2 half-life of the generator EMA, no ramp-up (the official stage 2 "
                                        "resumes: 10 kimg, 40 half-lives in its 400 kimg)")
    lambda_match: float = option(1.0, minimum=0.0, doc="weight of the defect-matching adversarial loss")
    lambda_ms: float = option(0.1, minimum=0.0, doc="weight of the mode-seeking loss (official code: 0.1)")
    mbstd_group: int = option(4, minimum=1, doc="minibatch standard-deviation group size")

    def validate(self) -> None:
        """Mode seeking pairs the two halves of a batch."""
        if self.batch_size % 2:
            raise ValueError(f"batch_size must be even (mode seeking pairs the batch's halves), "
                             f"not {self.batch_size}", f"use {self.batch_size + 1}")


class DefectAwareGenerator(nn.Module):
    """StyleGAN2 backbone (``mapping``, ``synthesis``) plus DFMGAN's ``defect_mapping``,
    residual blocks ``res_b{R}`` for R from the mask resolution up, and ``to_mask``."""

    def __init__(self, image_size: int, h: DfmganHyperparameters) -> None:
        super().__init__()
        self.mask_resolution = image_size // h.mask_scale
        if self.mask_resolution < 8:
            raise ValueError(f"image_size / mask_scale = {self.mask_resolution} px: the residual blocks need "
                             f"at least 8 px; lower mask_scale")
        self.z_dim = h.z_dim
        self.mapping = MappingNetwork(h.z_dim, h.z_dim, h.mapping_layers)
        self.synthesis = SynthesisNetwork(image_size, h.z_dim, h.channel_base, h.channel_max)
        self.defect_mapping = MappingNetwork(h.z_dim, h.z_dim, h.mapping_layers)
        self.residual_blocks = nn.ModuleDict({
            f"res_b{res}": SynthesisBlock(channels_at(res // 2, h.channel_base, h.channel_max),
                                          channels_at(res, h.channel_base, h.channel_max), h.z_dim, res,
                                          image_channels=None)
            for res in self.synthesis.resolutions if res >= self.mask_resolution})
        self.to_mask = ToRGB(channels_at(self.mask_resolution, h.channel_base, h.channel_max), 1, h.z_dim)

    def backbone(self) -> list[nn.Module]:
        """The stage-1 networks (frozen in stage 2)."""
        return [self.mapping, self.synthesis]

    def defect_networks(self) -> list[nn.Module]:
        """The stage-2 networks."""
        return [self.defect_mapping, self.residual_blocks, self.to_mask]

    def synthesize(self, w: torch.Tensor, defect_w: torch.Tensor | None = None,
                   noise_mode: str = "random") -> tuple[torch.Tensor, torch.Tensor | None]:
        """The image, and with ``defect_w`` the mask logits at image size (None without)."""
        x = image = mask = None
        for res in self.synthesis.resolutions:
            block = self.synthesis.blocks[f"b{res}"]
            below = x
            x = block.features(below, w, noise_mode)
            if defect_w is not None and res >= self.mask_resolution:
                residual = self.residual_blocks[f"res_b{res}"].features(below, defect_w, noise_mode)
                mask = self.to_mask(residual, defect_w) if res == self.mask_resolution else upsample2x(mask)
                x = x + residual * (mask >= 0).to(residual.dtype)   # hard gate: no gradient to the mask
            rgb = block.to_rgb(x, w)
            image = rgb if image is None else upsample2x(image) + rgb
        return image, mask

    def forward(self, z: torch.Tensor, defect_z: torch.Tensor | None = None,
                noise_mode: str = "random") -> tuple[torch.Tensor, torch.Tensor | None]:
        defect_w = None if defect_z is None else self.defect_mapping(defect_z)
        return self.synthesize(self.mapping(z), defect_w, noise_mode)


class Dfmgan(Generator):
    """DFMGAN: StyleGAN2 on defect-free images, then defect-aware residual blocks and masks."""

    name: ClassVar[str] = "dfmgan"
    summary: ClassVar[str] = "DFMGAN (Duan et al. 2023): StyleGAN2 + defect-aware residual blocks and masks"
    kind: ClassVar[str] = "unconditional"
    uses_masks: ClassVar[bool] = True
    trains_on_defect_free: ClassVar[bool] = True   # stage 1
    Hyperparameters: ClassVar[type] = DfmganHyperparameters
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"batch_size": 4, "epochs": 2, "z_dim": 16, "channel_base": 256, "channel_max": 32,
                 "match_channel_base": 64, "match_channel_max": 8, "stage1_fraction": 0.5, "r1_gamma": 0.05,
                 "r1_every": 2, "ema_kimg": 0.01, "stage2_ema_kimg": 0.01},
        # The 64 px CPU protocol: 2,000 steps (16 epochs of 1,000 defect-free images at batch 8),
        # 1,500 + 500 (a share for stage 2 that leaves it 500 steps); channels 64-64-64-32-16
        # and w 64; R1 gamma and the stage-1 EMA half-life by cfg auto's rules for 64 px at batch 8;
        # the stage-2 half-life keeps the official 40 half-lives in stage 2 (4,000 images / 40).
        "small": {"batch_size": 8, "epochs": 16, "stage1_fraction": 0.75, "z_dim": 64, "channel_base": 1024,
                  "channel_max": 64, "match_channel_base": 256, "match_channel_max": 16, "r1_gamma": 0.1024,
                  "ema_kimg": 2.5, "stage2_ema_kimg": 0.1},
        "paper": {},
    }

    def __init__(self, hparams: DfmganHyperparameters, image_size: int) -> None:
        super().__init__(hparams, image_size)
        h = hparams
        self.G = DefectAwareGenerator(image_size, h)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.D = ResidualDiscriminator(image_size, h.channel_base, h.channel_max, mbstd_group=h.mbstd_group)
        self.D_match = ResidualDiscriminator(image_size, h.match_channel_base, h.match_channel_max,
                                             image_channels=4, mbstd_group=h.mbstd_group)

    def networks(self) -> dict[str, nn.Module]:
        """Generator, its EMA (which generates), D, and the defect-matching D."""
        return {"G": self.G, "G_ema": self.G_ema, "D": self.D, "D_match": self.D_match}

    def inference_networks(self) -> list[str]:
        """Generation uses the EMA generator only."""
        return ["G_ema"]

    def averaged_networks(self) -> list[str]:
        """The EMA copy adds no parameters to train."""
        return ["G_ema"]

    def setup(self, plan: TrainPlan) -> TrainingState:
        """Adam (0, beta2) per network group and stage, with StyleGAN2's lazy-regularisation
        ratios: ``k / (k + 1)`` on lr and as beta2's power, k = ``g_reg_every`` for the
        generator's networks and ``r1_every`` for the discriminators."""
        h = self.hparams
        self.plan = plan
        self.stage1_steps = max(1, min(plan.total_steps - 1, round(h.stage1_fraction * plan.total_steps)))

        def adam(modules: list[nn.Module], reg_every: int) -> torch.optim.Adam:
            c = reg_every / (reg_every + 1) if reg_every else 1.0
            params = [p for m in modules for p in m.parameters()]
            return plan.adam(params, lr=h.lr * c, betas=(0.0, h.beta2 ** c), eps=1e-8)

        self.opt_g = adam(self.G.backbone(), h.g_reg_every)
        self.opt_d = adam([self.D], h.r1_every)
        self.opt_defect = adam(self.G.defect_networks(), h.g_reg_every)
        self.opt_d_stage2 = adam([self.D], h.r1_every)        # stage 2 starts a new run in the official code
        self.opt_match = adam([self.D_match], h.r1_every)
        return TrainingState(optimizers={"opt_g": self.opt_g, "opt_d": self.opt_d, "opt_defect": self.opt_defect,
                                         "opt_d_stage2": self.opt_d_stage2, "opt_match": self.opt_match})

    def stage(self, step: int) -> int:
        """1 (backbone on defect-free images) or 2 (defect blocks on defect images)."""
        return 1 if step < self.stage1_steps else 2

    def _noise(self, count: int, device: torch.device) -> torch.Tensor:
        return torch.randn(count, self.hparams.z_dim, device=device)

    def _discriminator_step(self, disc: nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor,
                            fake: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The main step (logistic loss), then every ``r1_every`` steps the R1 step of its own,
        scaled by ``r1_every`` (the official Dmain and Dreg phases)."""
        h = self.hparams
        with self.plan.autocast():
            loss = losses.logistic_discriminator_loss(disc(real), disc(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if h.r1_gamma == 0 or step % h.r1_every:
            return loss.detach(), torch.zeros((), device=real.device)
        r1 = h.r1_gamma / 2 * losses.r1_penalty(disc, real).mean()
        opt.zero_grad(set_to_none=True)
        (r1 * h.r1_every).backward()
        opt.step()
        return loss.detach(), r1.detach()

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """The official loop's phases for the step's stage: G's update, then D's (its R1 step
        every ``r1_every`` steps) and, in stage 2, D_match's, on fakes of the updated G."""
        stage = self.stage(step)
        out = self._stage1(batch["defect_free"], step) if stage == 1 \
            else self._stage2(batch["defect"], batch["defect_mask"], step)
        self._update_ema(step)
        zero = torch.zeros((), device=out["d"].device)
        return {key: out.get(key, zero) for key in ("d", "r1", "g", "d_match", "r1_match", "g_match",
                                                    "mode_seeking")} | {"stage": torch.full((), float(stage), device=zero.device)}

    def _stage1(self, real: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        n, device = real.shape[0], real.device
        set_requires_grad(self.G.defect_networks(), False)
        set_requires_grad([self.D], False)
        with self.plan.autocast():
            fake, _ = self.G(self._noise(n, device))
            g = losses.nonsaturating_generator_loss(self.D(fake))
        self.opt_g.zero_grad(set_to_none=True)
        g.backward()
        self.opt_g.step()
        set_requires_grad([self.D], True)
        with torch.no_grad(), self.plan.autocast():
            fake, _ = self.G(self._noise(n, device))
        d, r1 = self._discriminator_step(self.D, self.opt_d, real, fake.float(), step)
        return {"d": d, "r1": r1, "g": g.detach()}

    def _stage2(self, real: torch.Tensor, real_mask: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        h, n, device = self.hparams, real.shape[0], real.device
        set_requires_grad(self.G.backbone(), False)
        set_requires_grad(self.G.defect_networks(), True)
        set_requires_grad([self.D, self.D_match], False)
        half = n // 2
        with self.plan.autocast():
            w = self.G.mapping(self._noise(n, device))
            defect_w = self.G.defect_mapping(self._noise(n, device))
            fake, mask = self.G.synthesize(w, defect_w)
            # The first half's backgrounds with the second half's defect styles (mode seeking, "w/mask").
            _, swapped_mask = self.G.synthesize(w[:half], defect_w[half:2 * half])
            soft_mask = torch.tanh(10 * mask.float())
            g = losses.nonsaturating_generator_loss(self.D(fake))
            g_match = losses.nonsaturating_generator_loss(self.D_match(torch.cat([fake.float(), soft_mask], 1)))
        ms = losses.mode_seeking_loss(defect_w[:half], defect_w[half:2 * half], soft_mask[:half],
                                      torch.tanh(10 * swapped_mask.float()))
        self.opt_defect.zero_grad(set_to_none=True)
        (g + h.lambda_match * g_match + h.lambda_ms * ms).backward()
        self.opt_defect.step()
        set_requires_grad([self.D, self.D_match], True)

        with torch.no_grad(), self.plan.autocast():
            fake, mask = self.G(self._noise(n, device), self._noise(n, device))
        real_pair = torch.cat([real, real_mask * 2 - 1], dim=1)
        fake_pair = torch.cat([fake.float(), torch.tanh(10 * mask.float())], dim=1)
        d, r1 = self._discriminator_step(self.D, self.opt_d_stage2, real, fake.float(), step)
        d_match, r1_match = self._discriminator_step(self.D_match, self.opt_match, real_pair, fake_pair, step)
        return {"d": d, "r1": r1, "g": g.detach(), "d_match": d_match, "r1_match": r1_match,
                "g_match": g_match.detach(), "mode_seeking": ms.detach()}

    def ema_beta(self, step: int) -> float:
        """The EMA's weight on its old value after ``step``: half-life ``ema_kimg`` thousand
        images in stage 1, at most ``ema_rampup`` times the images seen before the step;
        ``stage2_ema_kimg`` in stage 2, without ramp-up (the official stage 2 resumes,
        which turns the ramp-up off)."""
        h, batch = self.hparams, self.hparams.batch_size
        if self.stage(step) == 2:
            half_life = h.stage2_ema_kimg * 1000
        else:
            half_life = h.ema_kimg * 1000
            if h.ema_rampup > 0:
                half_life = min(half_life, step * batch * h.ema_rampup)
        return 0.5 ** (batch / max(half_life, 1e-8))

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        """StyleGAN2's EMA of G's parameters (buffers copied), weight :meth:`ema_beta`."""
        beta = self.ema_beta(step)
        for ema, live in zip(self.G_ema.parameters(), self.G.parameters()):
            ema.copy_(live.detach().lerp(ema, beta))
        for ema, live in zip(self.G_ema.buffers(), self.G.buffers()):
            ema.copy_(live)

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` defect images from noise (``source`` is ignored)."""
        return self.generate_with_masks(n, source)[0]

    @torch.no_grad()
    def generate_with_masks(self, n: int, source: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and their defect masks (``m >= 0``) from the EMA generator, constant noise.
        Every latent is drawn first, so the fakes do not depend on the chunk size."""
        device = next(self.G_ema.parameters()).device
        plan = getattr(self, "plan", None)
        chunk = max(1, plan.inference_batch_size if plan is not None else self.batch_size)
        z, defect_z = self._noise(n, device), self._noise(n, device)
        images, masks = [], []
        for start in range(0, n, chunk):   # no batch norm or dropout: train/eval mode changes nothing
            part = slice(start, start + chunk)
            image, mask = self.G_ema(z[part], defect_z[part], noise_mode="const")
            images.append(image.float().clamp(-1, 1).cpu())
            masks.append((mask >= 0).cpu())
        if not images:
            return torch.empty(0, 3, self.image_size, self.image_size), \
                torch.empty(0, 1, self.image_size, self.image_size, dtype=torch.bool)
        return torch.cat(images), torch.cat(masks)


def official_parameter_counts() -> dict[str, int]:
    """The official 256 px networks' parameter counts (stylegan2-ada-pytorch layer rules,
    DFMGAN's README configuration), for the README's comparison with ``paper``."""
    return {"G (stage 1)": 23_191_522, "stage-2 additions": 3_669_703, "D": 24_001_089, "D_match": 1_502_113}


def parameter_counts(model: Dfmgan) -> dict[str, int]:
    """This implementation's counts, in the rows of :func:`official_parameter_counts`."""
    def count(modules: list[nn.Module]) -> int:
        return sum(p.numel() for m in modules for p in m.parameters())
    return {"G (stage 1)": count(model.G.backbone()), "stage-2 additions": count(model.G.defect_networks()),
            "D": count([model.D]), "D_match": count([model.D_match])}


@hookimpl
def register_generators(register) -> None:
    """Register :class:`Dfmgan`."""
    register(Dfmgan)

