"""Build a dataset plugin's split for a spec, and load its images once per run."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from dg2bench.contracts.classifier import DEFECT, DEFECT_FREE
from dg2bench.contracts.plugin_manager import Registry
from dg2bench.data.split import Split
from dg2bench.errors import DataError
from dg2bench.spec import DatasetChoice

#: A plugin's ``DataError.where`` that names an option (not a file): re-raised with the spec's table.
OPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def build_split(choice: DatasetChoice, registry: Registry, split_seed: int, spec_path: Path | None = None) -> Split:
    """Instantiate the dataset plugin of ``choice`` and build its split.

    A plugin's :class:`DataError` naming an option (``train_defect``) is raised again
    naming the spec file and table too (``spec.toml: datasets.<label>.train_defect``).
    """
    dataset = registry.get("dataset", choice.plugin).cls(choice.options, choice.root)
    dataset.check_root()
    try:
        return Split(dataset, dataset.build_split(split_seed))
    except DataError as exc:
        if exc.where and not OPTION_NAME.fullmatch(exc.where):
            raise                                   # a file or folder: precise as it is
        table = f"datasets.{choice.label}" + (f".{exc.where}" if exc.where else "")
        raise DataError(f"{spec_path}: {table}" if spec_path else table, exc.problem, exc.remedy) from exc


def load_split_images(split: Split, image_size: int) -> dict[str, torch.Tensor]:
    """The four image groups of a split as uint8 tensors, loaded once per run.

    Plus ``"train_defect_mask"`` (bool ``(M, 1, S, S)``) when the dataset has masks.
    """
    images = {f"{side}_{name}": split.load_uint8(split.select(side, label), image_size)
              for side in ("train", "test") for name, label in (("defect_free", DEFECT_FREE), ("defect", DEFECT))}
    masks = split.load_masks(split.select("train", DEFECT), image_size)
    if masks is not None:
        images["train_defect_mask"] = masks
    return images
