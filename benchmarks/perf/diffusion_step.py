"""Seconds per training step of ``diffusion-inpaint`` at 64 px, batch 8, one thread, for
two UNet widths (the ``small`` preset and the wider one it replaced).

    OMP_NUM_THREADS=1 python benchmarks/perf/diffusion_step.py
"""

from __future__ import annotations

import time

import torch

from dg2bench import TrainPlan
from dg2bench.plugins.generators.diffusion_inpaint import DiffusionInpaint
from dg2bench.run.training import set_up

torch.set_num_threads(1)
for widths in ((16, 32, 64), (32, 64, 128)):
    hparams = DiffusionInpaint.Hyperparameters(**{**DiffusionInpaint.presets["small"], "block_out_channels": widths})
    model = DiffusionInpaint(hparams, 64)
    set_up(model, TrainPlan(image_size=64, total_steps=10, steps_per_epoch=1, epochs=10, batch_size=8,
                            device=torch.device("cpu")))
    batch = {"defect": torch.rand(8, 3, 64, 64) * 2 - 1, "defect_mask": (torch.rand(8, 1, 64, 64) < 0.2).float()}
    model.train_step(batch, 0)   # warm-up
    began = time.perf_counter()
    for step in range(1, 6):
        model.train_step(batch, step)
    print(f"widths {widths}: {model.parameter_count() / 1e6:.2f} M parameters, "
          f"{(time.perf_counter() - began) / 5:.2f} s/step")
