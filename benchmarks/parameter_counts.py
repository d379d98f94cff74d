"""Parameter counts of the generators beyond the paper at their ``paper`` presets (256 px),
beside the official implementations' (README "Methods beyond the paper").

    python benchmarks/parameter_counts.py

Built on the meta device: nothing is allocated or initialised, so it takes seconds.
Official counts: DFMGAN's README configuration under stylegan2-ada-pytorch's layer rules
(github.com/Ldhlwh/DFMGAN, cfg auto at 256 px, two GPUs: batch 32, 2 mapping layers,
channel base 16384 / max 512; D_match 4096 / 128); the 113,673,219 of DDPM's 256 px UNet
as diffusers' unconditional example builds it (3 input channels; the inpainting UNet takes 7).
"""

from __future__ import annotations

import torch

from dg2bench.plugins.generators.dfmgan import Dfmgan, official_parameter_counts, parameter_counts
from dg2bench.plugins.generators.diffusion_inpaint import DiffusionInpaint

DDPM_256_UNET = 113_673_219


def main() -> None:
    with torch.device("meta"):
        dfmgan = Dfmgan(Dfmgan.Hyperparameters(**Dfmgan.presets["paper"]), 256)
        diffusion = DiffusionInpaint(DiffusionInpaint.Hyperparameters(**DiffusionInpaint.presets["paper"]), 256)
    rows = [(f"dfmgan {part}", ours, official_parameter_counts()[part])
            for part, ours in parameter_counts(dfmgan).items()]
    rows.append(("diffusion-inpaint UNet", diffusion.parameter_count(), DDPM_256_UNET))
    print(f"| {'network (paper preset, 256 px)':<36} | {'dg2bench':>12} | {'official':>12} |")
    print(f"| {'-' * 36} | {'-' * 11}: | {'-' * 11}: |")
    for name, ours, official in rows:
        print(f"| {name:<36} | {ours:>12,} | {official:>12,} |")


if __name__ == "__main__":
    main()
