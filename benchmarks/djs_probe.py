"""Probe DG2GAN's DJS term on real CrackForest patches: its gradient share, DJS_hat, sizes.

Trains DG2GAN (``tiny`` preset, mu = 0.05) on the smoke spec's split for a few hundred
steps on the CPU and prints, every ``--every`` steps:

* the L2 norm of the gradient of D2d's adversarial loss and of ``mu * L_DJS`` on D2d's
  trunk (the parameters both terms share), and their ratio, the DJS share;
* ``DJS_hat`` of D2d and D2n (nats, at most log 2), averaged since the last row.

Then the parameter counts of DG2GAN and DG2GAN-no-DJS at the ``tiny`` and ``paper``
presets. Usage (about half a minute on 2 CPU cores)::

    python benchmarks/djs_probe.py --size 64 --steps 200
    python benchmarks/djs_probe.py --size 64 --steps 200 --recipe   # cyclegan-recipe losses
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.contracts.trainable import TrainPlan
from dg2bench.run.batches import BatchSampler
from dg2bench.data.loading import build_split, load_split_images
from dg2bench.run.training import ImageBanks, seed_everything, set_up, training_step
from dg2bench.spec import load_spec

HERE = Path(__file__).resolve().parent


def parameter_table(registry) -> None:
    """Parameter counts of both variants at both presets (Table 3's difference)."""
    print("\npreset  dg2gan        dg2gan-no-djs  DJS critics   share")
    for preset in ("tiny", "paper"):
        counts = []
        for name in ("dg2gan", "dg2gan-no-djs"):
            cls = registry.get("generator", name).cls
            counts.append(cls(cls.Hyperparameters(**cls.presets[preset]), 32).parameter_count())
        extra = counts[0] - counts[1]
        print(f"{preset:6s}  {counts[0]:>12,}  {counts[1]:>13,}  {extra:>11,}  {extra / counts[1]:6.2%}")
    print("paper Table 3: 32.32 vs 31.72 'Mb', +1.89 %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="image side (32 or 64 on a CPU)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=25, help="steps between rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipe", action="store_true",
                        help="the cyclegan-recipe losses and weights (LSGAN, lam 1, cycle 10, identity 5)")
    args = parser.parse_args()

    registry = get_registry()
    spec = load_spec(HERE / "crackforest-smoke.toml", registry)
    split = build_split(spec.datasets[0], registry, spec.benchmark.split_seed)
    images = load_split_images(split, args.size)
    cls = registry.get("generator", "dg2gan").cls
    seed_everything(args.seed)
    recipe = {k: v for k, v in cls.presets["cyclegan-recipe"].items()
              if k in ("adversarial_loss", "lam", "lambda_cycle", "lambda_identity")} if args.recipe else {}
    model = cls(cls.Hyperparameters(**{**cls.presets["tiny"], **recipe}), args.size)
    banks = ImageBanks({"defect_free": images["train_defect_free"], "defect": images["train_defect"]})
    spe = model.steps_per_epoch(len(images["train_defect_free"]), len(images["train_defect"]))
    plan = TrainPlan(image_size=args.size, total_steps=args.steps, steps_per_epoch=spe,
                          epochs=args.steps / spe, batch_size=model.batch_size, device=torch.device("cpu"))
    set_up(model, plan)
    sampler = BatchSampler(banks.sizes(), model.batch_size, args.seed)
    load_crop_flip = model.load_crop_flip()
    print(f"dg2gan tiny, {model.hparams.adversarial_loss} losses, {args.size} px, mu = {model.hparams.mu}, "
          f"batch {model.batch_size}, "
          f"{len(images['train_defect_free'])} defect-free / {len(images['train_defect'])} defect patches")
    print(" step   |grad adv|  |grad mu*DJS|   share   DJS_hat(D2d)  DJS_hat(D2n)")
    shares, sums = [], {"djs_defect": 0.0, "djs_defect_free": 0.0}
    for step in range(args.steps):
        batch = banks.batch(sampler, step, torch.device("cpu"), load_crop_flip)
        if step % args.every == 0:
            with torch.no_grad():
                fake = model.G(batch["defect_free"])
            adversarial, djs = model.D2d.trunk_gradient_norms(batch["defect"], fake, model.form.d2, model.hparams.mu)
            shares.append(djs / adversarial)
        out = training_step(model, batch, step, plan)   # the harness steps the epoch schedulers
        for key in sums:
            sums[key] += float(out[key])
        if (step + 1) % args.every == 0:
            print(f"{step + 1:5d}  {adversarial:10.4f}  {djs:13.5f}  {shares[-1]:6.1%}  "
                  f"{sums['djs_defect'] / args.every:12.4f}  {sums['djs_defect_free'] / args.every:12.4f}")
            sums = dict.fromkeys(sums, 0.0)
    print(f"DJS share of D2d's trunk gradient: median {statistics.median(shares):.1%}, "
          f"min {min(shares):.1%}, max {max(shares):.1%} over {len(shares)} probes")
    parameter_table(registry)


if __name__ == "__main__":
    main()
