"""``diffusion-inpaint``: a denoising diffusion model that paints a defect into a
defect-free image inside a mask, trained from scratch on the split's training images.

The approach of mask-guided defect diffusion (AnomalyDiffusion, AAAI 2024; DefectDiffu,
ECCV 2024; DefectFill, CVPR 2025), without their pretrained text-to-image backbones:
those fine-tune Stable Diffusion, and dg2bench downloads nothing and trains every
method on the same split. The model is diffusers' ``UNet2DModel`` with the inpainting
input convention (Stable Diffusion's inpainting UNet, RePaint-free): seven input
channels, the noisy image, the masked context (the image with the defect region set
to 0) and the mask; it predicts the noise (epsilon, DDPM's loss, on the whole image).

* Training: real defect images with their masks (``uses_masks``: the harness adds
  ``"defect_mask"`` to every batch); timesteps uniform over the DDPM schedule.
* Sampling: for each defect-free source image, a real training mask, turned, flipped
  and moved as ``cutpaste`` moves its regions, marks where the defect goes; a DDIM or
  DPM-Solver++ sampler (``sampler``, ``sampling_steps``, recorded with the other
  hyperparameters) runs the EMA weights, as diffusion practice has it; outside the mask
  the source is kept exactly (the composite inpainting pipelines return).
* EMA: the decay at step ``s`` is ``min(ema_decay, (1 + s) / (10 + s))`` (the usual
  warm-up: 0.9955 at step 2,000, so ``ema_decay`` binds only in long runs).
* ``diffusers`` is imported when the plugin builds a model, not when it registers, so
  every ``bench`` command does not pay its import.

Where it departs from the literature: no pretrained weights and no text conditioning
(AnomalyDiffusion learns a textual embedding per defect type; DefectFill fine-tunes an
inpainting model with defect and object losses); a small UNet trained for the
benchmark's steps. Presets: ``tiny`` (tests), ``small`` (the 64 px CPU protocol),
``paper`` (256 px, the DDPM 256 px UNet widths).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from dg2bench import DataError, Generator, RealTrainingData, TrainingState, TrainPlan, hookimpl, option
from dg2bench.plugins.controls.cutpaste import random_placement


@dataclasses.dataclass(frozen=True)
class DiffusionInpaintHyperparameters:
    """Hyperparameters of ``diffusion-inpaint``; defaults are the ``paper`` (256 px) sizes."""

    batch_size: int = option(8, minimum=1, doc="defect images per step")
    epochs: int = option(500, minimum=1, doc="passes over the defect training images")
    lr: float = option(1e-4, above=0.0, doc="AdamW learning rate (diffusers' unconditional example: 1e-4)")
    betas: tuple[float, ...] = option((0.95, 0.999), length=2, doc="AdamW betas (diffusers' example)")
    weight_decay: float = option(1e-6, minimum=0.0, doc="AdamW weight decay (diffusers' example)")
    block_out_channels: tuple[int, ...] = option((128, 128, 256, 256, 512, 512), minimum=1,
                                                 doc="UNet widths, one per resolution level (DDPM 256 px)")
    layers_per_block: int = option(2, minimum=1, doc="ResNet blocks per UNet level")
    attention_levels: int = option(1, minimum=0,
                                   doc="self-attention in the middle block and in this many of the lowest-"
                                       "resolution levels (0: no attention at all)")
    train_timesteps: int = option(1000, minimum=2, doc="steps of the DDPM noise schedule")
    beta_schedule: Literal["linear", "squaredcos_cap_v2"] = option(
        "linear", doc="noise schedule: DDPM's linear or the improved-DDPM cosine")
    sampler: Literal["ddim", "dpm-solver"] = option("ddim", doc="ddim (eta 0) or dpm-solver (DPM-Solver++ 2M)")
    sampling_steps: int = option(50, minimum=1, doc="denoising steps when sampling")
    clip_sample: bool = option(True, doc="clip each step's predicted clean image to [-1, 1] (DDPM's sampling and "
                                         "diffusers' DDIM default; DPM-Solver: thresholding at 1)")
    ema_decay: float = option(0.9999, minimum=0.0, maximum=1.0,
                              doc="EMA decay of the sampling weights; at step s min(ema_decay, (1 + s) / (10 + s))")

    def validate(self) -> None:
        """Samplers step through a subset of the training timesteps; GroupNorm divides every width."""
        if self.sampling_steps > self.train_timesteps:
            raise ValueError(f"sampling_steps must be <= train_timesteps ({self.train_timesteps}), "
                             f"not {self.sampling_steps}", "use e.g. 50 (or raise train_timesteps)")
        groups = min(32, min(self.block_out_channels))
        if any(width % groups for width in self.block_out_channels):
            raise ValueError(f"block_out_channels must all be multiples of {groups} (GroupNorm groups: the "
                             f"smallest width, at most 32), not {list(self.block_out_channels)}",
                             "use e.g. [16, 32, 64] or [32, 64, 128]")


class DiffusionInpaint(Generator):
    """Mask-guided diffusion inpainting of defects into defect-free images."""

    name: ClassVar[str] = "diffusion-inpaint"
    summary: ClassVar[str] = "mask-guided diffusion inpainting (UNet2DModel from scratch, DDIM/DPM-Solver, EMA)"
    kind: ClassVar[str] = "translation"
    uses_masks: ClassVar[bool] = True
    trains_on_defect_free: ClassVar[bool] = False   # defect images and masks only; sources at generation
    Hyperparameters: ClassVar[type] = DiffusionInpaintHyperparameters
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"batch_size": 4, "epochs": 2, "block_out_channels": (16, 32), "layers_per_block": 1,
                 "attention_levels": 0, "train_timesteps": 100, "sampling_steps": 4, "ema_decay": 0.9},
        # The 64 px CPU protocol: 2,000 steps (~53 epochs of 300 defects at batch 8); widths 16-32-64
        # (0.69 M parameters): 0.39 s a step on one thread, where 32-64-128 (2.7 M) takes 1.02 s
        # (benchmarks/perf/diffusion_step.py).
        "small": {"batch_size": 8, "epochs": 53, "block_out_channels": (16, 32, 64), "layers_per_block": 1,
                  "attention_levels": 1, "sampling_steps": 25, "ema_decay": 0.999},
        "paper": {},
    }

    def __init__(self, hparams: DiffusionInpaintHyperparameters, image_size: int) -> None:
        from diffusers import DDPMScheduler, UNet2DModel

        super().__init__(hparams, image_size)
        h = hparams
        levels = len(h.block_out_channels)
        if image_size % 2 ** (levels - 1):
            raise ValueError(f"image_size {image_size} does not halve {levels - 1} times; use fewer "
                             "block_out_channels")
        attention = [k >= levels - h.attention_levels for k in range(levels)]
        self.unet = UNet2DModel(
            sample_size=image_size, in_channels=7, out_channels=3, layers_per_block=h.layers_per_block,
            block_out_channels=tuple(h.block_out_channels),
            down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attention),
            up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)),
            add_attention=h.attention_levels > 0, norm_num_groups=min(32, min(h.block_out_channels)))
        self.ema = copy.deepcopy(self.unet).requires_grad_(False)
        self.noise_schedule = DDPMScheduler(num_train_timesteps=h.train_timesteps, beta_schedule=h.beta_schedule)
        self.masks: torch.Tensor | None = None

    def networks(self) -> dict[str, nn.Module]:
        """The trained UNet and its EMA copy (the one that samples)."""
        return {"unet": self.unet, "ema": self.ema}

    def inference_networks(self) -> list[str]:
        """Sampling uses the EMA weights only."""
        return ["ema"]

    def averaged_networks(self) -> list[str]:
        """The EMA copy adds no parameters to train (Table 3 counts the UNet once)."""
        return ["ema"]

    def prepare(self, data: RealTrainingData) -> None:
        """Keep the real training masks that generation places on the sources."""
        masks = data.defect_masks
        usable = masks[masks.flatten(1).any(1)] if masks is not None else None
        if usable is None or not len(usable):
            raise DataError("generators.diffusion-inpaint", "the dataset gives no defect masks to paint inside",
                            "use a dataset with masks (crackforest, magnetic-tile, mvtec, folder with "
                            "masks_dir) or leave diffusion-inpaint out")
        self.masks = usable[:, 0].clone()

    def steps_per_epoch(self, n_defect_free: int, n_defect: int) -> int:
        """One pass over the defect images: the only ones it trains on."""
        return max(1, -(-n_defect // self.batch_size))

    def setup(self, plan: TrainPlan) -> TrainingState:
        """AdamW on the UNet; the learning rate stays constant."""
        h = self.hparams
        self.plan = plan
        self.opt = torch.optim.AdamW(self.unet.parameters(), lr=h.lr, betas=tuple(h.betas),
                                     weight_decay=h.weight_decay)
        return TrainingState(optimizers={"opt": self.opt})

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """Epsilon prediction at a uniform timestep, given the masked context and the mask."""
        images, mask = batch["defect"], batch["defect_mask"]
        noise = torch.randn_like(images)
        t = torch.randint(0, self.hparams.train_timesteps, (images.shape[0],), device=images.device)
        noisy = self.noise_schedule.add_noise(images, noise, t)
        with self.plan.autocast():
            predicted = self.unet(inpainting_input(noisy, images, mask), t).sample
        loss = F.mse_loss(predicted.float(), noise)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        decay = min(self.hparams.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for ema, live in zip(self.ema.parameters(), self.unet.parameters()):
                ema.lerp_(live, 1.0 - decay)
        return {"noise_mse": loss.detach()}

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None) -> torch.Tensor:
        """Paint a defect into each of the ``n`` defect-free ``source`` images, inside a
        placed real training mask; outside it the source stays as it is."""
        images, _ = self.generate_with_masks(n, source)
        return images

    @torch.no_grad()
    def generate_with_masks(self, n: int, source: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`generate` and the masks it painted inside (bool ``(n, 1, S, S)``)."""
        if source is None or source.shape[0] < n:
            raise ValueError("diffusion-inpaint paints into images: pass n defect-free images as source")
        if self.masks is None:
            raise ValueError("prepare() gave no masks: call it before generate")
        picks = torch.randint(0, len(self.masks), (n,)).tolist()
        masks = torch.stack([random_placement(self.masks[k]).moved_mask(self.masks[k]) for k in picks])[:, None]
        device = next(self.ema.parameters()).device
        plan = getattr(self, "plan", None)
        chunk = max(1, plan.inference_batch_size if plan is not None else self.batch_size)
        outs = [self._sample(source[start:start + chunk].float().to(device), masks[start:start + chunk].to(device))
                for start in range(0, n, chunk)]
        images = torch.cat(outs).cpu() if outs else torch.empty(0, 3, self.image_size, self.image_size)
        return images, masks

    def _sample(self, source: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.hparams
        maskf = mask.to(source.dtype)
        was_training = self.ema.training
        self.ema.eval()
        try:
            sample = denoise(self.ema, make_sampler(h.sampler, self.noise_schedule, h.clip_sample), source, maskf,
                             h.sampling_steps)
        finally:
            self.ema.train(was_training)
        return (maskf * sample.clamp(-1, 1) + (1 - maskf) * source).clamp(-1, 1)


def inpainting_input(noisy: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The UNet's seven channels: the noisy image, the image with the masked region set
    to 0 (the context) and the mask (float, 1 inside)."""
    return torch.cat([noisy, image * (1 - mask), mask], dim=1)


def denoise(unet: nn.Module, scheduler: Any, source: torch.Tensor, mask: torch.Tensor, steps: int) -> torch.Tensor:
    """The sampler's loop from noise (torch's global RNG), the UNet seeing the masked
    ``source`` and ``mask`` at every step; the raw last sample (not yet clamped)."""
    scheduler.set_timesteps(steps, device=source.device)
    sample = torch.randn_like(source)
    for t in scheduler.timesteps:
        predicted = unet(inpainting_input(sample, source, mask), t).sample
        sample = scheduler.step(predicted.float(), t, sample).prev_sample
    return sample


def make_sampler(kind: str, schedule: Any, clip_sample: bool = True) -> Any:
    """A fresh DDIM (eta 0) or DPM-Solver++ (2M) sampler on the training noise schedule
    (a ``diffusers`` ``DDPMScheduler``).

    ``clip_sample`` clips each step's predicted clean image to [-1, 1] (DPM-Solver:
    thresholding with ``sample_max_value`` 1, the same clip). Without it an undertrained
    model's samples run far outside the image range: 2,000 steps of the ``small`` model on
    CrackForest gave values from -28 to +35 inside the masks (colour noise once clamped).
    """
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if kind == "ddim":
        return DDIMScheduler.from_config(schedule.config, clip_sample=clip_sample)
    return DPMSolverMultistepScheduler.from_config(schedule.config, algorithm_type="dpmsolver++", solver_order=2,
                                                   thresholding=clip_sample, sample_max_value=1.0)


@hookimpl
def register_generators(register) -> None:
    """Register :class:`DiffusionInpaint`."""
    register(DiffusionInpaint)
