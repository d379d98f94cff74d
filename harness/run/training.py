"""The one training loop every generator and classifier runs through.

It draws batches (:mod:`dg2bench.run.batches`), calls ``train_step``, averages losses,
syncs with the device only every ``log_every`` steps (where it also checks that the
losses are finite), writes atomic checkpoints that hold the model's state, the step
and every global RNG state, and resumes from such a checkpoint. Resuming on CPU with
the same seed ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from dg2bench.contracts.contract import (check_losses, check_state, check_training_state, check_undeclared_optimizers,
                                         contract_error, violation)
from dg2bench.contracts.trainable import Trainable, TrainPlan, batch_load_crop_flip
from dg2bench.data.split import to_unit_range
from dg2bench.run.batches import BatchSampler
from dg2bench.runtime.fault_points import fault_point
from dg2bench.runtime.interrupt import RunInterrupted, stop_requested
from dg2bench.runtime.load_crop_flip import LoadCropFlip
from dg2bench.store.atomic import torch_save_atomic
from dg2bench.store.checkpoints import load_checkpoint


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the cell stops with this reason recorded."""

    def __init__(self, step: int, losses: Mapping[str, float]) -> None:
        bad = ", ".join(f"{k}={v}" for k, v in losses.items() if not math.isfinite(v))
        super().__init__(f"non-finite loss at step {step}: {bad}")
        self.step = step
        self.losses = dict(losses)


@dataclasses.dataclass
class TrainOutcome:
    """What a finished training run measured."""

    steps: int
    images_seen: int
    wall_seconds: float
    resumed_from_step: int
    history: list[dict[str, float]]
    #: Wall time of this process's first step (with ``torch.compile``, mostly compilation).
    first_step_seconds: float = float("nan")

    @property
    def images_per_second(self) -> float:
        """Training images processed per wall-clock second (over all resumed parts)."""
        return self.images_seen / self.wall_seconds if self.wall_seconds > 0 else float("nan")


def place_model(model: Trainable, plan: TrainPlan) -> None:
    """Move ``model`` to the plan's device and memory format, and compile it if asked.

    Networks are compiled in place (``nn.Module.compile``), so state dicts keep their
    keys and checkpoints stay interchangeable between compiled and eager runs.
    """
    for net in model.networks().values():
        net.to(plan.device, memory_format=plan.memory_format)
    if plan.compile_mode is not None:
        compile_networks(model, plan.compile_mode)


def compile_networks(model: Trainable, mode: str) -> None:
    """``torch.compile`` every network of ``model`` in place, with ``mode``."""
    for net in model.networks().values():
        net.compile(mode=mode)


def speed_record(plan: TrainPlan, outcome: TrainOutcome) -> dict[str, Any]:
    """What a record says about how fast a training run was set up to go."""
    return {"channels_last": plan.channels_last, "compile_mode": plan.compile_mode,
            "first_step_seconds": outcome.first_step_seconds}


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG a plugin may draw from: torch (CPU and CUDA), python, numpy.

    As tensors, lists and numbers only, so a checkpoint holding it loads with
    ``weights_only=True`` (python's and numpy's own states are a tuple and an ndarray).
    """
    version, internal, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
             "numpy": {"name": str(name), "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss),
                       "cached_gaussian": float(cached_gaussian)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Undo :func:`capture_rng_state` exactly."""
    # A checkpoint loaded with map_location=cuda holds the RNG tensors there; the setters take CPU bytes.
    torch.set_rng_state(state["torch"].cpu())
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))
    numpy = state["numpy"]
    np.random.set_state((numpy["name"], np.asarray(numpy["keys"], dtype=np.uint32), numpy["pos"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([cuda.cpu() for cuda in state["cuda"]])


def seed_everything(seed: int) -> None:
    """Seed torch, python and numpy global RNGs."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))


@dataclasses.dataclass
class ImageBanks:
    """Training images kept on the device as uint8, plus optional per-image labels and masks.

    ``images[key]`` is ``(N, 3, S, S)`` uint8; batches are converted to float ``[-1, 1]``
    on the device, so the host sends 1 byte per pixel once and never again.
    ``masks[key]``, bool ``(N, 1, S, S)``, go with the images of ``key``: a batch holds
    them as ``"<key>_mask"`` (float, 1 inside), drawn with the same indices and the
    same load/crop/flip.
    """

    images: dict[str, torch.Tensor]
    labels: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    masks: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)

    def to(self, device: torch.device) -> "ImageBanks":
        """Move every bank to ``device``."""
        return ImageBanks({k: v.to(device) for k, v in self.images.items()},
                          {k: v.to(device) for k, v in self.labels.items()},
                          {k: v.to(device) for k, v in self.masks.items()})

    def sizes(self) -> dict[str, int]:
        """Images per bank."""
        return {k: int(v.shape[0]) for k, v in self.images.items()}

    def batch(self, sampler: BatchSampler, step: int, device: torch.device,
              load_crop_flip: LoadCropFlip | None = None,
              memory_format: torch.memory_format = torch.contiguous_format) -> dict[str, torch.Tensor]:
        """The batch of ``step``: float images in ``[-1, 1]`` (and ``"labels"`` if any).

        :param load_crop_flip: random load/crop/flip applied to every image bank, drawn from the
            sampler's stateless per-step RNG.
        :param memory_format: ``torch.channels_last`` to match channels-last networks.
        """
        out: dict[str, torch.Tensor] = {}
        for key, bank in self.images.items():
            index = sampler.indices(key, step).to(device, non_blocking=True)
            out[key] = to_unit_range(bank.index_select(0, index))
            mask = self.masks[key].index_select(0, index).to(out[key].dtype) if key in self.masks else None
            if load_crop_flip is not None:
                if mask is None:
                    out[key] = load_crop_flip(out[key], sampler.generator(key, step))
                else:   # one transform for both: the mask rides as a fourth channel in {-1, 1}
                    both = load_crop_flip(torch.cat([out[key], mask * 2 - 1], 1), sampler.generator(key, step))
                    out[key], mask = both[:, :3], (both[:, 3:] > 0).to(both.dtype)
            if memory_format != torch.contiguous_format:
                out[key] = out[key].contiguous(memory_format=memory_format)
            if mask is not None:
                out[f"{key}_mask"] = mask
            if key in self.labels:
                out["labels"] = self.labels[key].index_select(0, index)
        return out


def train(model: Trainable, banks: ImageBanks, plan: TrainPlan, *, seed: int,
          checkpoint_path: Path | None = None, checkpoint_every: int = 0, log_every: int = 10,
          on_log: Callable[[int, dict[str, float], float], None] | None = None,
          stop_after: int | None = None, label: str = "train",
          on_resume: Callable[[int], None] | None = None) -> TrainOutcome:
    """Train ``model`` for ``plan.total_steps`` steps, resuming from ``checkpoint_path``.

    :param seed: seeds batch sampling (model RNG is seeded by the caller).
    :param checkpoint_every: steps between checkpoints (0: none but the resume point).
    :param log_every: steps between device syncs: loss averages, finiteness check, ``on_log``.
    :param on_log: ``on_log(step_done, mean_losses, images_per_second)``.
    :param stop_after: stop (as if interrupted) after this many steps; for resume tests.
    :param label: names the run in fault points and interruption messages.
    :param on_resume: ``on_resume(step)`` once, before the first step, when a checkpoint resumes at ``step``.
    :raises NonFiniteLossError: when a logged loss is NaN or infinite.
    :raises RunInterrupted: after SIGINT/SIGTERM (see :mod:`dg2bench.runtime.interrupt`), with a
        checkpoint of the last finished step saved.
    :raises dg2bench.errors.PluginContractError: when ``train_step`` returns anything but 0-d float tensors.
    :raises dg2bench.errors.UnsafeCheckpointError: when the checkpoint needs a full pickle load.
    """
    banks = banks.to(plan.device)
    sampler = BatchSampler(banks.sizes(), plan.batch_size, seed)
    place_model(model, plan)
    set_up(model, plan)
    start, history, earlier_wall = 0, [], 0.0
    if checkpoint_path is not None and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, plan.device)
        model.load_state_dict(state["model"])
        restore_rng_state(state["rng"])
        start, history = int(state["step"]), list(state["history"])
        earlier_wall = float(state.get("wall_seconds", 0.0))
    images_per_step = plan.batch_size * len(banks.images)
    load_crop_flip = batch_load_crop_flip(model)
    sums: dict[str, torch.Tensor] = {}
    since, since_step, began = time.perf_counter(), start, time.perf_counter()
    if checkpoint_path is not None and start:
        # A stop between two logs saved the partial loss sums: the resumed log is exact.
        pending = state.get("pending_log", {})
        sums = {k: torch.tensor(v, dtype=torch.float32, device=plan.device) for k, v in pending.get("sums", {}).items()}
        since_step = int(pending.get("since_step", start))
    last = plan.total_steps if stop_after is None else min(plan.total_steps, stop_after)
    first_step = float("nan")
    if start and on_resume is not None:
        on_resume(start)
    for step in range(start, last):
        fault_point(f"{label}:{step}")
        losses = training_step(model, banks.batch(sampler, step, plan.device, load_crop_flip, plan.memory_format), step,
                               plan)
        check_losses(model, losses)   # host-side types and shapes only: no device sync
        if step == start:
            synchronize(plan.device)   # once per run: the first step's cost (compilation) apart
            first_step = time.perf_counter() - began
        for key, value in losses.items():
            value = value.detach().float()
            sums[key] = sums[key] + value if key in sums else value
        done = step + 1
        if done % log_every == 0 or done == last:
            means = {k: float(v) / (done - since_step) for k, v in sums.items()}
            now = time.perf_counter()
            rate = (done - since_step) * images_per_step / max(now - since, 1e-9)
            if not all(math.isfinite(v) for v in means.values()):
                raise NonFiniteLossError(done, means)
            history.append({"step": done, **means})
            if on_log is not None:
                on_log(done, means, rate)
            sums, since, since_step = {}, now, done
        if checkpoint_path is not None and checkpoint_every and done % checkpoint_every == 0 and done < last:
            save_checkpoint(checkpoint_path, model, done, history, earlier_wall + time.perf_counter() - began)
        signum = stop_requested()
        if signum is not None and done < last:
            saved = "no checkpoint path"
            if checkpoint_path is not None:
                # Losses since the last log are dropped: the resumed run logs from here.
                save_checkpoint(checkpoint_path, model, done, history, earlier_wall + time.perf_counter() - began,
                                pending_log={"sums": {k: float(v) for k, v in sums.items()}, "since_step": since_step})
                saved = "checkpoint saved"
            raise RunInterrupted(signum, f"{label} stopped after step {done} of {plan.total_steps} ({saved})")
    wall = earlier_wall + time.perf_counter() - began
    if checkpoint_path is not None and last < plan.total_steps:
        save_checkpoint(checkpoint_path, model, last, history, wall)
    return TrainOutcome(steps=last, images_seen=last * images_per_step, wall_seconds=wall,
                        resumed_from_step=start, history=history, first_step_seconds=first_step)


def set_up(model: Trainable, plan: TrainPlan) -> None:
    """Call the plugin's ``setup(plan)`` and take over the :class:`TrainingState` it declares.

    From here the harness checkpoints every declared object and steps the epoch
    schedulers (:func:`training_step`).

    :raises dg2bench.errors.PluginContractError: rule ``optimizers`` (an undeclared
        optimiser or scheduler, a wrong type, a name used twice).
    """
    model.training_state = check_training_state(model, model.setup(plan))


def training_step(model: Trainable, batch: Mapping[str, torch.Tensor], step: int,
                  plan: TrainPlan) -> dict[str, torch.Tensor]:
    """One ``train_step``; after the last step of an epoch, every declared epoch scheduler steps once."""
    schedulers = model.training_state.epoch_schedulers
    before = {name: scheduler.last_epoch for name, scheduler in schedulers.items()}
    losses = model.train_step(batch, step)
    stepped = [name for name, scheduler in schedulers.items() if scheduler.last_epoch != before[name]]
    if stepped:   # an old habit: the plugin steps a scheduler the harness steps too
        raise contract_error(model, violation("optimizers", f"train_step stepped the epoch scheduler {stepped[0]!r}",
                                              "remove the .step() call: the harness steps epoch_schedulers"))
    if (step + 1) % max(1, plan.steps_per_epoch) == 0:
        for scheduler in schedulers.values():
            scheduler.step()
    return losses


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def save_checkpoint(path: Path, model: Trainable, step: int, history: list[dict[str, float]],
                    wall_seconds: float, pending_log: dict[str, Any] | None = None) -> None:
    """Write model state, step, loss history, wall-clock so far and RNG states atomically.

    Everything in it is plain data (see :mod:`dg2bench.store.checkpoints`); a plugin state
    that is not fails the cell here, at its first checkpoint.

    :param pending_log: loss sums since the last log (a stop between two logs).
    :raises dg2bench.errors.PluginContractError: when the model's state is not plain data.
    """
    declared = getattr(model, "training_state", None)
    if declared is not None:   # an optimiser made after setup (in train_step) is caught here
        check_undeclared_optimizers(model, declared)
    state = model.state_dict()
    check_state(model, state)
    torch_save_atomic(path, {"model": state, "step": step, "history": history,
                             "wall_seconds": wall_seconds, "rng": capture_rng_state(),
                             "pending_log": pending_log or {}})
