"""Know the cost before the run: time a few real steps of every method of a spec.

For every generator (per dataset) and every classifier of a spec, :func:`estimate_spec`
builds the model with its resolved hyperparameters at the spec's image size, runs a
few warm-up steps and then times single steps (synchronising the device), on
synthetic images of the real shapes: a step's cost does not depend on the pixels.
The median step time times the cell's number of steps (from the real split's counts,
exactly as ``bench run`` plans them) gives the projected training time; cells are
multiplied by the seeds. Evaluation is timed the same way (:func:`estimate_evaluation`):
Inception features of every scored fake and, once, of the real training defects, the
metrics after them (FID, KID, PRDC and their bootstrap replicates, timed once on random
features of the real sizes), and each classifier's predictions on the test split; on a
small CPU protocol they are a large share of the run, not a rounding error. Generation
is timed per method as one chunk of fakes (:data:`GENERATION_CHUNK` images, as a cell
makes them) from the untrained model (the cost does not depend on the weights):
a diffusion sampler's many network calls per image make it a real share of its cells.

Under ``--executor ray`` on a CPU, cells run side by side, each on
``cell_threads(cpus_per_cell)`` torch threads: every step is timed on that many threads
and the wall time is the total divided by the cells that fit (:func:`parallel_cells`;
an upper bound on the speed-up: the cells share memory bandwidth and the last ones run
alone).

Each method runs in its own ``try``: one out-of-memory error marks that row, the
others go on. FLOPs per step come from ``torch.utils.flop_counter.FlopCounterMode``;
on CUDA the achieved TFLOP/s is compared with the card's dense bf16 peak
(:data:`PEAK_TFLOPS`, or ``--peak-tflops``) as MFU. Nothing is written into results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import numbers
import os
import statistics
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from dg2bench.contracts.generator import Generator, RealTrainingData
from dg2bench.contracts.plugin_manager import Registry
from dg2bench.contracts.trainable import Trainable, TrainPlan, batch_load_crop_flip
from dg2bench.data.split import to_unit_range
from dg2bench.run.classify import schedule_images
from dg2bench.run.cell import BASELINE
from dg2bench.run.generation import GENERATION_CHUNK
from dg2bench.run.training import (
    ImageBanks,
    compile_networks,
    place_model,
    seed_everything,
    set_up,
    synchronize,
    training_step,
)
from dg2bench.runtime.device import (
    peak_memory_mb,
    plan_speed_options,
    precision_name,
    reset_peak_memory,
)
from dg2bench.spec import PluginChoice, Spec
from torch.utils.flop_counter import FlopCounterMode

#: Dense bf16 tensor-core peaks (TFLOP/s) by a substring of the CUDA device name.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0,
               "RTX 4090": 165.0, "RTX 3090": 71.0, "V100": 125.0, "T4": 65.0}


@dataclasses.dataclass
class StepEstimate:
    """One method's measured step and its projection over the spec's cells."""

    dataset: str
    role: str               # "generator", "classifier", "generation", "scoring" or "testing"
    label: str
    images_per_step: int = 0
    seconds_per_step: float = float("nan")
    flops_per_step: float = float("nan")
    peak_memory_mb: float = float("nan")
    warmup_seconds: float = float("nan")
    precision: str = "fp32"
    channels_last: bool = False
    compile_mode: str | None = None
    error: str = ""
    #: Steps of one cell per method whose cells train this network (a generator: its own;
    #: a classifier: every method's, the baseline's on real images only, so fewer steps).
    method_steps: dict[str, int] = dataclasses.field(default_factory=dict)
    seeds: int = 1

    @property
    def steps_per_cell(self) -> int:
        """Steps of this row's longest cell."""
        return max(self.method_steps.values(), default=0)

    @property
    def cells(self) -> int:
        """Cells that train this row's network: one per method and seed."""
        return len(self.method_steps) * self.seeds

    @property
    def projected_seconds(self) -> float:
        """Training time of all this row's cells."""
        return projected_seconds(self.seconds_per_step, self.method_steps, self.seeds)

    def as_dict(self, peak_tflops: float | None) -> dict[str, Any]:
        """Plain values for tables and JSON."""
        achieved = self.flops_per_step / self.seconds_per_step / 1e12 if self.seconds_per_step > 0 else float("nan")
        return {**dataclasses.asdict(self), "steps_per_cell": self.steps_per_cell, "cells": self.cells,
                "projected_seconds": self.projected_seconds,
                "images_per_second": self.images_per_step / self.seconds_per_step if self.seconds_per_step > 0
                else float("nan"),
                "achieved_tflops": achieved, "mfu": achieved / peak_tflops if peak_tflops else float("nan")}


#: The ``method_steps`` key of the scoring row of the real training defects: scored once per
#: results folder, for the first generator cell, whichever it is.
REAL_DEFECTS = "real defects"


def projected_seconds(seconds_per_step: float, method_steps: dict[str, int], seeds: int,
                      only: Collection[str] = ()) -> float:
    """Training time of the cells of ``method_steps`` (of ``only``'s methods, if given) over ``seeds``.

    Under ``only`` the real defects' scoring counts when any method but the baseline runs
    (a results folder that already holds their features skips it: the projection is then
    a little long)."""
    wanted = set(only) | ({REAL_DEFECTS} if set(only) - {BASELINE} else set())
    steps = sum(count for method, count in method_steps.items() if not only or method in wanted)
    return seconds_per_step * steps * seeds if steps else 0.0


def projected_total(rows: list[dict[str, Any]], only: Collection[str] = ()) -> float:
    """Sum of the projections of ``bench estimate``'s JSON ``rows``, for ``only``'s methods if given.

    Rows that failed (NaN seconds) are left out, as in the printed total.
    """
    total = 0.0
    for row in rows:
        if row["seconds_per_step"] is None:         # a failed row, as strict JSON writes it
            continue
        seconds = projected_seconds(row["seconds_per_step"], row["method_steps"], row["seeds"], only)
        if seconds == seconds:
            total += seconds
    return total


def strict_json(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None``, so that it is strict JSON (``null``)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):                 # float, numpy floats
        value = float(value)
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def peak_tflops_for(device: torch.device, override: float | None = None) -> float | None:
    """The card's dense bf16 peak, from ``override`` or :data:`PEAK_TFLOPS` (None on CPU/unknown)."""
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


def _counted_step(model: Trainable, batch: dict[str, torch.Tensor]) -> float:
    """Run step 0 under torch's FLOP counter and return its FLOPs (NaN where it cannot count).

    The counter cannot follow a double backward (``autograd.grad`` with
    ``create_graph``, as WGAN-GP's gradient penalty takes): torch raises "A leaf node
    was passed to _will_engine_execute_node ...". Such a step runs again uncounted.
    """
    try:
        with FlopCounterMode(display=False) as counter:
            model.train_step(batch, 0)
        return float(counter.get_total_flops())
    except RuntimeError as exc:
        if "_will_engine_execute_node" not in str(exc):
            raise
        model.train_step(batch, 0)     # a timing run: the half-done counted step does not matter
        return float("nan")


def time_steps(model: Trainable, banks: ImageBanks, plan: TrainPlan, warmup: int, repeats: int
               ) -> tuple[float, float, float, float]:
    """Median seconds per step, FLOPs of one step, peak memory (MB) and warm-up seconds.

    FLOPs are counted on one eager step first (a compiled graph hides its operations);
    then the networks are compiled if the plan asks, and the warm-up steps (where
    ``torch.compile`` compiles and cuDNN autotunes) are timed apart, not in the median.
    """
    from dg2bench.run.batches import BatchSampler

    device = plan.device
    banks = banks.to(device)
    place_model(model, dataclasses.replace(plan, compile_mode=None))
    set_up(model, plan)
    sampler = BatchSampler(banks.sizes(), plan.batch_size, seed=0)
    load_crop_flip = batch_load_crop_flip(model)
    reset_peak_memory(device)
    flops = _counted_step(model, banks.batch(sampler, 0, device, load_crop_flip, plan.memory_format))
    if plan.compile_mode is not None:
        compile_networks(model, plan.compile_mode)
    step, began = 1, time.perf_counter()
    for _ in range(warmup):
        training_step(model, banks.batch(sampler, step, device, load_crop_flip, plan.memory_format), step, plan)
        step += 1
    synchronize(device)
    warmup_seconds = time.perf_counter() - began
    times = []
    for _ in range(repeats):
        batch = banks.batch(sampler, step, device, load_crop_flip, plan.memory_format)
        synchronize(device)
        began = time.perf_counter()
        training_step(model, batch, step, plan)
        synchronize(device)
        times.append(time.perf_counter() - began)
        step += 1
    memory = next(iter(peak_memory_mb(device).values()), float("nan"))   # none where the OS has no figure
    return statistics.median(times), flops, memory, warmup_seconds


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block on ``threads`` torch threads, then restore them (None: touch nothing;
    even setting the same count again can change the CPU kernels' summation order)."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def parallel_cells(spec: Spec, device: torch.device, executor: str, cores: int | None = None
                   ) -> tuple[int, int | None]:
    """Cells that run side by side under ``executor`` and each one's torch threads (None: the default).

    Only Ray on a CPU runs several cells on one machine: ``cores // cpus_per_cell`` of
    them, each on :func:`~dg2bench.executors.ray_task.cell_threads` threads.
    """
    from dg2bench.executors.ray_task import cell_threads

    if executor != "ray" or device.type != "cpu":
        return 1, None
    cpus, cores = spec.benchmark.cpus_per_cell, cores or os.cpu_count() or 1
    threads = cell_threads(cpus)
    # Ray starts cores / cpus cells, but no more than cores // threads make progress at once
    # (each step was timed alone, on its own threads).
    return max(1, min(math.floor(cores / cpus), cores // threads)), threads


def _random_bank(count: int, size: int) -> torch.Tensor:
    return torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8)


def _rectangle_masks(count: int, size: int) -> torch.Tensor:
    """Bool ``(count, 1, S, S)`` masks, a centred square each (for methods that train on masks)."""
    masks = torch.zeros(count, 1, size, size, dtype=torch.bool)
    masks[..., size // 4:3 * size // 4, size // 4:3 * size // 4] = True
    return masks


def _prepare_on_random_images(model: Generator, train: dict[str, int], size: int, keep: int,
                              banks: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Random images for ``banks`` (at most ``keep`` each) and square masks for the defects,
    handed to ``model.prepare``; the cost of a step does not depend on them."""
    images = {bank: _random_bank(min(train[bank], keep), size) for bank in banks}
    masks = _rectangle_masks(len(images["defect"]), size)
    model.prepare(RealTrainingData(images.get("defect_free", images["defect"]), images["defect"], masks))
    return images, masks


def estimate_spec(spec: Spec, registry: Registry, device: torch.device, counts: dict[str, dict[str, dict[str, int]]],
                  warmup: int = 2, repeats: int = 5,
                  on_method: Callable[[str], None] = lambda label: None) -> list[StepEstimate]:
    """Measure every generator and classifier of ``spec`` on ``device``.

    :param counts: per dataset label, the split's counts (``Split.counts()``).
    :param on_method: called with a label before each measurement (progress).
    """
    size, seeds = spec.benchmark.image_size, len(spec.seeds)
    out: list[StepEstimate] = []
    for dataset in spec.datasets:
        train = counts[dataset.label]["train"]
        for choice in spec.generators:
            cls: type[Generator] = registry.get("generator", choice.plugin).cls
            speed = plan_speed_options(device, spec.benchmark, choice.precision)
            row = _measure_generator(cls, choice, dataset.label, train, size, seeds, device, speed, warmup, repeats,
                                     on_method)
            out.append(row)
        # The fake images each method's classifier cells add: fakes, plus Table 8's
        # defect-free fakes from the methods that can make them (the baseline: none).
        extras = {BASELINE: 0} if spec.benchmark.baseline else {}
        for choice in spec.generators:
            makes_free = makes_defect_free(registry.get("generator", choice.plugin).cls)
            extras[choice.label] = spec.augmentation.fakes + (spec.augmentation.fakes_defect_free
                                                                 if makes_free else 0)
        for choice in spec.classifiers:
            cls = registry.get("classifier", choice.plugin).cls
            speed = plan_speed_options(device, spec.benchmark, choice.precision)
            out.append(_measure_classifier(cls, choice, dataset.label, train, extras, size, seeds, device, speed,
                                           warmup, repeats, on_method, spec.augmentation))
    return out


@contextlib.contextmanager
def _guarded(row: StepEstimate, device: torch.device) -> Iterator[None]:
    """Turn one method's failure (an OOM, a plugin error) into ``row.error``; free CUDA memory after."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        row.error = f"CUDA out of memory ({str(exc).splitlines()[0]})"
    except Exception as exc:   # noqa: BLE001 - a plugin may raise anything; its row says what, the others go on
        row.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _time_into(row: StepEstimate, model: Trainable, banks: ImageBanks, steps_per_epoch: int, size: int,
               device: torch.device, speed: dict[str, Any], warmup: int, repeats: int) -> None:
    """Time ``model``'s steps on ``banks`` under the cell's plan and fill ``row``."""
    plan = TrainPlan(image_size=size, total_steps=row.steps_per_cell, steps_per_epoch=steps_per_epoch,
                     epochs=row.steps_per_cell / steps_per_epoch, batch_size=model.batch_size, device=device,
                     **speed)
    row.channels_last, row.compile_mode = plan.channels_last, plan.compile_mode
    row.seconds_per_step, row.flops_per_step, row.peak_memory_mb, row.warmup_seconds = time_steps(
        model, banks, plan, warmup, repeats)


def _measure_generator(cls: type[Generator], choice: PluginChoice, dataset: str, train: dict[str, int], size: int,
                       seeds: int, device: torch.device, speed: dict[str, Any], warmup: int, repeats: int,
                       on_method: Callable[[str], None]) -> StepEstimate:
    on_method(f"{dataset}/{choice.label}")
    seed_everything(0)
    row = StepEstimate(dataset, "generator", choice.label, precision=precision_name(speed["amp_dtype"]),
                       method_steps={choice.label: 0}, seeds=seeds)
    with _guarded(row, device):
        model = cls(choice.hparams, size)
        spe = model.steps_per_epoch(train["defect_free"], train["defect"])
        if not model.needs_training:
            row.seconds_per_step = 0.0
            return row
        row.method_steps[choice.label] = choice.training_length(spe)[0]
        # Enough images for distinct batches.
        banks, masks = _prepare_on_random_images(model, train, size, 4 * model.batch_size, model.training_banks())
        row.images_per_step = model.batch_size * len(banks)
        _time_into(row, model, ImageBanks(banks, masks={"defect": masks} if model.uses_masks else {}), spe, size,
                   device, speed, warmup, repeats)
    return row


def makes_defect_free(cls: type[Generator]) -> bool:
    """Whether ``cls`` can make defect-free fakes (Table 8): it overrides ``generate_defect_free``.

    A plugin that overrides it but returns None in some settings is counted as making
    them, so its classifier cells err long.
    """
    return cls.generate_defect_free is not Generator.generate_defect_free


def _measure_classifier(cls: type, choice: PluginChoice, dataset: str, train: dict[str, int],
                        extras: dict[str, int], size: int, seeds: int, device: torch.device,
                        speed: dict[str, Any], warmup: int, repeats: int,
                        on_method: Callable[[str], None], augmentation: dict[str, Any] | None = None) -> StepEstimate:
    """One classifier's step, projected over each method's cells (``extras``: method -> fake images added)."""
    augmentation = augmentation or {}
    on_method(f"{dataset}/{choice.label}")
    seed_everything(0)
    row = StepEstimate(dataset, "classifier", choice.label, precision=precision_name(speed["amp_dtype"]),
                       method_steps=dict.fromkeys(extras, 0), seeds=seeds)
    with _guarded(row, device):
        model = cls(choice.hparams, size)
        real = train["defect_free"] + train["defect"]
        # A cell trains on its real images plus its method's fakes: the baseline's on the real ones only.
        row.method_steps = {method: choice.training_length(model.steps_per_epoch(
            schedule_images(real, extra, augmentation)))[0] for method, extra in extras.items()}
        spe = model.steps_per_epoch(real + max(extras.values(), default=0))
        row.images_per_step = model.batch_size
        images = _random_bank(min(4 * model.batch_size, 256), size)
        labels = torch.randint(0, 2, (len(images),))
        _time_into(row, model, ImageBanks({"images": images}, {"images": labels}), spe, size, device, speed, warmup,
                   repeats)
    return row


def estimate_evaluation(spec: Spec, registry: Registry, device: torch.device,
                        counts: dict[str, dict[str, dict[str, int]]], warmup: int = 2, repeats: int = 5,
                        on_method: Callable[[str], None] = lambda label: None) -> list[StepEstimate]:
    """Time what every cell does after training: Inception features and test predictions.

    A "step" here is one batch: of Inception features (``feature_batch_size``, at most
    16 timed images) or of classifier predictions. Per dataset, one row for the fakes
    of every generator cell, one for the real training defects (scored once per results
    folder, then cached), and one per classifier for the test split of every cell.
    """
    size, seeds = spec.benchmark.image_size, len(spec.seeds)
    methods = ([BASELINE] if spec.benchmark.baseline else []) + [choice.label for choice in spec.generators]
    out: list[StepEstimate] = []
    for dataset in spec.datasets:
        train, test = counts[dataset.label]["train"], counts[dataset.label]["test"]
        for choice in spec.generators:
            cls = registry.get("generator", choice.plugin).cls
            speed = plan_speed_options(device, spec.benchmark, choice.precision)
            # As a cell: enough fakes to score against every real training defect, and Table 8's
            # defect-free fakes from the methods that make them.
            count = max(spec.augmentation.fakes, train["defect"]) + (
                spec.augmentation.fakes_defect_free if makes_defect_free(cls) else 0)
            out.append(_measure_generation(cls, choice, dataset.label, train, count, size, seeds, device, speed,
                                           warmup, repeats, on_method))
        if spec.metrics.quality and spec.generators:
            out += _measure_scoring(spec, dataset.label, train["defect"], size, seeds, device, warmup, repeats,
                                    on_method)
        for choice in spec.classifiers:
            cls = registry.get("classifier", choice.plugin).cls
            speed = plan_speed_options(device, spec.benchmark, choice.precision)
            out.append(_measure_testing(cls, choice, dataset.label, sum(test.values()), methods, size, seeds,
                                        device, speed, warmup, repeats, on_method))
    return out


def _measure_generation(cls: type[Generator], choice: PluginChoice, dataset: str, train: dict[str, int], count: int,
                        size: int, seeds: int, device: torch.device, speed: dict[str, Any], warmup: int, repeats: int,
                        on_method: Callable[[str], None]) -> StepEstimate:
    """One chunk of a method's fakes, projected over the ``count`` fakes of each of its cells."""
    on_method(f"{dataset}/{choice.label} generation")
    seed_everything(0)
    chunk = min(GENERATION_CHUNK, count)
    row = StepEstimate(dataset, "generation", f"{choice.label} fakes", images_per_step=chunk,
                       precision=precision_name(speed["amp_dtype"]),
                       method_steps={choice.label: math.ceil(count / max(chunk, 1))}, seeds=seeds)
    with _guarded(row, device):
        model = cls(choice.hparams, size)
        _prepare_on_random_images(model, train, size, max(4 * model.batch_size, chunk), ("defect_free", "defect"))
        plan = TrainPlan(image_size=size, total_steps=1, steps_per_epoch=1, epochs=1.0, batch_size=model.batch_size,
                         device=device, **speed)
        place_model(model, dataclasses.replace(plan, compile_mode=None))
        set_up(model, plan)
        source = to_unit_range(_random_bank(chunk, size)).to(device) if model.kind == "translation" else None
        row.seconds_per_step, row.warmup_seconds = _median_call(lambda: model.generate(chunk, source), device,
                                                                min(warmup, 1), max(1, min(repeats, 3)))
    return row


def _measure_scoring(spec: Spec, dataset: str, real_defects: int, size: int, seeds: int, device: torch.device,
                     warmup: int, repeats: int, on_method: Callable[[str], None]) -> list[StepEstimate]:
    from dg2bench.metrics.inception import InceptionFeatures

    on_method(f"{dataset}/Inception features")
    batch = min(spec.metrics.feature_batch_size, 16)
    fakes = StepEstimate(dataset, "scoring", "Inception features of the fakes", images_per_step=batch,
                         method_steps={choice.label: math.ceil(spec.augmentation.fakes / batch)
                                       for choice in spec.generators}, seeds=seeds)
    real = StepEstimate(dataset, "scoring", "Inception features of the real defects (once)",
                        images_per_step=batch, method_steps={REAL_DEFECTS: math.ceil(real_defects / batch)})
    with _guarded(fakes, device):
        extractor = InceptionFeatures(device, batch_size=batch, prefer=spec.metrics.extractor)
        images = _random_bank(batch, size)
        fakes.seconds_per_step, fakes.warmup_seconds = _median_call(lambda: extractor.extract(images), device,
                                                                    warmup, repeats)
    real.seconds_per_step, real.warmup_seconds, real.error = fakes.seconds_per_step, 0.0, fakes.error
    metrics = StepEstimate(dataset, "scoring", "FID, KID, PRDC and their bootstrap", images_per_step=0,
                           method_steps={choice.label: 1 for choice in spec.generators}, seeds=seeds)
    with _guarded(metrics, device):
        # What follows the features, on random features of the real sizes (the cost does not
        # depend on the values): timed once, it takes seconds to a minute.
        from dg2bench.metrics.quality import QualityScorer

        scorer = QualityScorer(device, Path(os.devnull), spec.metrics)
        scorer._extractor = extractor
        rng = np.random.default_rng(0)
        features = rng.normal(size=(spec.augmentation.fakes, 2048)), rng.normal(size=(real_defects, 2048))
        metrics.seconds_per_step, metrics.warmup_seconds = _median_call(lambda: scorer.score(*features), device, 0, 1)
    return [fakes, real, metrics]


def _measure_testing(cls: type, choice: PluginChoice, dataset: str, test_images: int, methods: list[str],
                     size: int, seeds: int, device: torch.device, speed: dict[str, Any], warmup: int, repeats: int,
                     on_method: Callable[[str], None]) -> StepEstimate:
    on_method(f"{dataset}/{choice.label} test")
    seed_everything(0)
    row = StepEstimate(dataset, "testing", f"{choice.label} test predictions",
                       precision=precision_name(speed["amp_dtype"]), seeds=seeds)
    with _guarded(row, device):
        model = cls(choice.hparams, size)
        plan = TrainPlan(image_size=size, total_steps=1, steps_per_epoch=1, epochs=1.0,
                         batch_size=model.batch_size, device=device, **speed)
        place_model(model, dataclasses.replace(plan, compile_mode=None))
        set_up(model, plan)
        batch = plan.inference_batch_size
        row.images_per_step = batch
        row.method_steps = dict.fromkeys(methods, math.ceil(test_images / batch))
        images = to_unit_range(_random_bank(batch, size)).to(device)   # as the cell hands them: [-1, 1], on the device
        row.seconds_per_step, row.warmup_seconds = _median_call(lambda: model.predict_proba(images), device,
                                                                warmup, repeats)
    return row


def _median_call(call: Callable[[], Any], device: torch.device, warmup: int, repeats: int) -> tuple[float, float]:
    """Median seconds of ``call`` over ``repeats`` timed calls, and the seconds of ``warmup`` calls before."""
    began = time.perf_counter()
    for _ in range(warmup):
        call()
    synchronize(device)
    warmup_seconds = time.perf_counter() - began
    times = []
    for _ in range(repeats):
        synchronize(device)
        began = time.perf_counter()
        call()
        synchronize(device)
        times.append(time.perf_counter() - began)
    return statistics.median(times), warmup_seconds


def estimate_cache_path(spec: Spec, device: torch.device, executor: str) -> Path:
    """Where ``bench estimate`` leaves its total for ``bench run`` (a user cache, not results).

    Keyed by the resolved spec, the device type and the executor: under Ray cells run side
    by side, so its wall time is not a local run's."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dg2bench" / "estimates"
    # "rows": the version of the rows' meaning (3: method_steps per method, defect-free fakes only
    # where made; 4: scoring and testing rows, wall time under an executor; 5: generation rows), so files of older
    # versions are not read.
    key = json.dumps({"spec": spec.resolved(), "device": device.type, "executor": executor, "rows": 5},
                     sort_keys=True, default=str)
    return base / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def format_duration(seconds: float) -> str:
    """``"3 h 12 min"``, ``"4 min 10 s"``, ``"12 s"``, or ``"–"``."""
    if seconds != seconds:
        return "–"
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def run_summary(spec: Spec, device: torch.device, rows: list[StepEstimate], counts: dict[str, dict[str, dict[str, int]]],
                peak: float | None, executor: str, slots: int, threads: int | None, seed_sd: float) -> dict[str, Any]:
    """What ``bench estimate`` prints and keeps: the rows, the projection, the detectable differences.

    :param seed_sd: the assumed seed-to-seed sd of a classifier's accuracy, in pp.
    """
    import datetime

    from dg2bench.metrics.power import POWER, detectable_differences
    from dg2bench.runtime.device import amp_dtype_for, device_name

    data = [row.as_dict(peak) for row in rows]
    total = projected_total(data)
    methods = len(spec.generators)
    detectable = {label: detectable_differences(c["test"], len(spec.seeds), seed_sd / 100, methods)
                  for label, c in counts.items()}
    return {"spec": str(spec.path), "device": device_name(device),
            "precision": precision_name(amp_dtype_for(device, spec.benchmark.precision)),
            "total_seconds": total, "executor": executor, "parallel_cells": slots,
            "threads_per_cell": threads or torch.get_num_threads(), "wall_seconds": total / slots,
            "date": datetime.date.today().isoformat(), "methods": data,
            "detectable_difference": {"power": POWER, "seeds": len(spec.seeds), "seed_sd": seed_sd / 100,
                                      "methods": methods, "by_dataset": detectable}}


def save_estimate(summary: dict[str, Any], spec: Spec, device: torch.device, executor: str) -> Path:
    """Keep ``summary`` where ``bench run`` of the same spec, settings, device and executor finds it."""
    path = estimate_cache_path(spec, device, executor)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(strict_json(summary), indent=1, allow_nan=False), encoding="utf-8")
    return path


def load_estimate(spec: Spec, device: torch.device, executor: str) -> dict[str, Any] | None:
    """The kept estimate of ``spec`` on ``device`` under ``executor``, or None when none was made
    (or it is unreadable)."""
    try:
        return json.loads(estimate_cache_path(spec, device, executor).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def summary_line(known: dict, only: tuple[str, ...] = ()) -> str:
    """``"about 2 h 10 min (training 1 h 35 min, generation 5 min, scoring and testing 30 min; 2 cells
    side by side)"``."""
    def total(roles: tuple[str, ...]) -> float:
        return projected_total([r for r in known["methods"] if r["role"] in roles], only)

    training, generation = total(("generator", "classifier")), total(("generation",))
    evaluation = total(("scoring", "testing"))
    slots = known.get("parallel_cells", 1)
    side = f"; {slots} cells side by side ({known['executor']}), so the sum divided by {slots}" if slots > 1 else ""
    return (f"about {format_duration((training + generation + evaluation) / slots)} (training "
            f"{format_duration(training)}, generation {format_duration(generation)}, scoring and testing "
            f"{format_duration(evaluation)}{side})")


def detectable_line(dataset: str, by_class: dict[str, float], tests: dict[str, int], seeds: int,
                    seed_sd: float, methods: int) -> str:
    """``"crackforest: smallest accuracy difference detectable ..."`` for ``bench estimate``."""
    if seeds < 2:
        return (f"{dataset}: one seed: the classify table can compare two trained models, not two methods; "
                "run two or more seeds (e.g. --seeds 3) for a method-level test")
    parts = ", ".join(f"{cls.replace('_', '-')} {value * 100:.1f} pp ({tests[cls]} test images)"
                      for cls, value in by_class.items())
    return (f"{dataset}: smallest accuracy difference detectable at 80 % power with {seeds} seeds (paired t at "
            f"0.05 / {methods} methods, Holm's first level; assuming a seed-to-seed sd of {seed_sd:g} pp, "
            f"--seed-sd): {parts}")
