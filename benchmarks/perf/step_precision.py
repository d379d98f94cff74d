"""Side by side: one training step in fp32 and in bf16 autocast, alternating timed blocks.

Builds a generator from its `paper` preset (CycleGAN by default: the reference's
networks, 28.3 M parameters) at 64 px, batch 4, and times blocks of steps of each
variant in turn in one process, so that machine load affects both alike; prints the
median seconds per step of each and their ratio. Usage (about a minute on 2 CPU
cores with the defaults)::

    python benchmarks/perf/step_precision.py
    python benchmarks/perf/step_precision.py --method dg2gan --batch 8 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dg2bench import TrainPlan
from dg2bench.device import resolve_device
from dg2bench.plugin_manager import get_registry


def build(method: str, size: int, batch: int, device: torch.device, amp: torch.dtype | None):
    cls = get_registry().get("generator", method).cls
    torch.manual_seed(0)
    model = cls(cls.Hyperparameters(**{**cls.presets["paper"], "batch_size": batch}), size)
    model.to(device)
    model.setup(TrainPlan(image_size=size, total_steps=10_000, steps_per_epoch=1000, epochs=10, batch_size=batch,
                          device=device, amp_dtype=amp))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="cyclegan")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the two variants")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per block")
    args = parser.parse_args()
    device = resolve_device(args.device)
    variants = {"fp32": build(args.method, args.size, args.batch, device, None),
                "bf16": build(args.method, args.size, args.batch, device, torch.bfloat16)}
    gen = torch.Generator().manual_seed(1)
    batch = {k: (torch.rand(args.batch, 3, args.size, args.size, generator=gen) * 2 - 1).to(device)
             for k in ("defect_free", "defect")}
    times: dict[str, list[float]] = {name: [] for name in variants}
    step = 0
    for name, model in variants.items():   # warm-up, untimed
        model.train_step(batch, step)
    for _ in range(args.rounds):
        for name, model in variants.items():
            for _ in range(args.steps):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                began = time.perf_counter()
                model.train_step(batch, step)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                times[name].append(time.perf_counter() - began)
                step += 1
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.method} step, {args.size} px, batch {args.batch}, {device} "
          f"({torch.get_num_threads()} threads, torch {torch.__version__})")
    for name, value in medians.items():
        print(f"  {name}: {value:.3f} s/step  ({args.batch * 2 / value:.1f} img/s)  over {len(times[name])} steps")
    print(f"  bf16 speed-up: {medians['fp32'] / medians['bf16']:.2f}x")


if __name__ == "__main__":
    main()
