"""Side by side: one training step under several speed variants, alternating timed blocks.

Builds a generator from its `paper` preset (CycleGAN by default: the reference's
networks, 28.3 M parameters) at 64 px, batch 4, once per variant, and times blocks of
steps of each variant in turn in one process, so that machine load affects all alike;
prints the median seconds per step of each and its speed-up over the first variant.
A variant is ``+``-joined words: ``fp32`` or ``bf16`` (autocast), ``cl`` (channels-last
networks and batches), ``compile`` (``torch.compile``, default mode), ``graphs``
(``torch.compile`` mode ``reduce-overhead``: CUDA graphs) and ``unfused`` (plain Adam
instead of the fused kernel on CUDA) and ``separate`` (CycleGAN's and DG2GAN's generator and
discriminator passes one batch at a time, as before they were joined; see
``dg2bench.plugins.generators.translation``). Warm-up (compilation, cuDNN autotuning) is timed
apart. ``--profile DIR`` then profiles ``--steps`` more steps of each variant with
``torch.profiler`` and writes, per variant, the operators that took the most device
time (CPU time on a CPU) as a table and as JSON. Usage (about a minute on 2 CPU cores
with the defaults)::

    python benchmarks/perf/step_variants.py
    python benchmarks/perf/step_variants.py --method dg2gan --size 256 --batch 8 --device cuda \\
        --variants fp32,bf16,bf16+cl,bf16+cl+compile --json out.json
    python benchmarks/perf/step_variants.py --method dg2gan --variants bf16 --profile /tmp/profile
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from dg2bench import TrainPlan
from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.runtime.device import resolve_device
from dg2bench.run.training import place_model, set_up, synchronize

WORDS = {"fp32", "bf16", "cl", "compile", "graphs", "unfused", "separate"}


@contextlib.contextmanager
def passes(variant: str) -> Iterator[None]:
    """Within this block, ``separate`` variants run every joined pass as separate passes."""
    if "separate" not in variant.split("+"):
        yield
        return
    def separate(net, *batches):
        return tuple(net(b) for b in batches)
    patched = [m for name, m in list(sys.modules.items())
               if name.startswith("dg2bench.plugins.generators") and hasattr(m, "joined_forward")]
    saved = [m.joined_forward for m in patched]
    for module in patched:
        module.joined_forward = separate
    try:
        yield
    finally:
        for module, original in zip(patched, saved):
            module.joined_forward = original


def build(method: str, size: int, batch: int, device: torch.device, variant: str):
    """The model of ``variant`` and its plan (same seed, so the same initial weights)."""
    words = set(variant.split("+"))
    if words - WORDS:
        raise SystemExit(f"--variants: unknown word(s) {sorted(words - WORDS)} in {variant!r}; use {sorted(WORDS)}")
    cls = get_registry().get("generator", method).cls
    torch.manual_seed(0)
    model = cls(cls.Hyperparameters(**{**cls.presets["paper"], "batch_size": batch}), size)
    mode = "reduce-overhead" if "graphs" in words else "default" if "compile" in words else None
    plan = TrainPlan(image_size=size, total_steps=10_000, steps_per_epoch=1000, epochs=10, batch_size=batch,
                     device=device, amp_dtype=torch.bfloat16 if "bf16" in words else None,
                     channels_last="cl" in words, compile_mode=mode)
    place_model(model, plan)
    if "unfused" in words:
        plan_adam = TrainPlan.adam
        TrainPlan.adam = lambda self, params, **options: torch.optim.Adam(params, **options)
        set_up(model, plan)
        TrainPlan.adam = plan_adam
    else:
        set_up(model, plan)
    return model, plan


def write_profile(folder: Path, method: str, name: str, model, batch, step: int, steps: int,
                  device: torch.device) -> None:
    """Profile ``steps`` steps of one variant; write its top operators (table and JSON)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for k in range(steps):
            with passes(name):
                model.train_step(batch, step + k)
        synchronize(device)
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, key), reverse=True)
    total = sum(getattr(e, key) for e in events)
    stem = folder / f"profile-{method}-{name}"
    stem.with_suffix(".txt").write_text(prof.key_averages().table(sort_by=key, row_limit=30), encoding="utf-8")
    top = [{"op": e.key, "calls": e.count // steps, "self_ms_per_step": getattr(e, key) / 1000 / steps,
            "share": getattr(e, key) / total if total else 0.0} for e in events[:30]]
    stem.with_suffix(".json").write_text(json.dumps(
        {"method": method, "variant": name, "steps": steps, "sorted_by": key,
         "self_ms_per_step_all_ops": total / 1000 / steps, "top": top}, indent=1), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="cyclegan")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default="fp32,bf16", help="comma-separated; the first is the reference")
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the variants")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per block")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per variant first")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--profile", default=None, metavar="DIR",
                        help="then profile --steps steps of each variant into DIR")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    names = args.variants.split(",")
    variants = {name: build(args.method, args.size, args.batch, device, name) for name in names}
    gen = torch.Generator().manual_seed(1)
    batch = {k: (torch.rand(args.batch, 3, args.size, args.size, generator=gen) * 2 - 1).to(device)
             for k in ("defect_free", "defect")}
    batches = {name: {k: v.contiguous(memory_format=plan.memory_format) for k, v in batch.items()}
               for name, (_, plan) in variants.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    warmup: dict[str, float] = {}
    first_losses: dict[str, dict[str, float]] = {}
    step = 0
    for name, (model, plan) in variants.items():
        synchronize(device)
        began = time.perf_counter()
        for k in range(args.warmup):
            with passes(name):
                losses = model.train_step(batches[name], k)
            if k == 0:
                first_losses[name] = {key: float(value) for key, value in losses.items()}
        synchronize(device)
        warmup[name] = time.perf_counter() - began
    step = args.warmup
    for _ in range(args.rounds):
        for name, (model, _plan) in variants.items():
            for _ in range(args.steps):
                synchronize(device)
                began = time.perf_counter()
                with passes(name):
                    model.train_step(batches[name], step)
                synchronize(device)
                times[name].append(time.perf_counter() - began)
                step += 1
    medians = {name: statistics.median(values) for name, values in times.items()}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"{args.method} step, {args.size} px, batch {args.batch}, {where}, torch {torch.__version__}")
    reference = medians[names[0]]
    for name, value in medians.items():
        print(f"  {name}: {value:.4f} s/step  ({args.batch * 2 / value:.1f} img/s)  {reference / value:.2f}x  "
              f"warm-up {warmup[name]:.1f} s  over {len(times[name])} steps")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"method": args.method, "size": args.size, "batch": args.batch, "device": where,
                       "torch": torch.__version__, "seconds_per_step": medians, "warmup_seconds": warmup,
                       "speedup_over_first": {n: reference / v for n, v in medians.items()},
                       "first_step_losses": first_losses}, out, indent=1)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        for name, (model, _plan) in variants.items():
            write_profile(Path(args.profile), args.method, name, model, batches[name], step, args.steps, device)
            step += args.steps


if __name__ == "__main__":
    main()
