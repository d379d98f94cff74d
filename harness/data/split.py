"""A built split: counts, the manifest file with its hash, and images as tensors."""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from dg2bench.contracts.dataset import Dataset, Side, SplitItem
from dg2bench.store.atomic import write_text_atomic
from PIL import Image

MANIFEST_COLUMNS = ("id", "source", "left", "top", "right", "bottom", "label", "side", "defect_type")



def resize_mask(mask: Image.Image, size: int) -> torch.Tensor:
    """A defect mask as bool ``(size, size)``: defect where any defect pixel falls.

    Binarised first (> 127, robust to lossy files), then an area (BOX) resize in float
    mode, so a thin crack that nearest-neighbour sampling would break up stays
    connected; in 8 bits the resize rounded a pixel's share below 1/510 to 0, so a
    single crack pixel vanished beyond a 22x downscale.
    """
    binary = Image.fromarray((np.asarray(mask.convert("L")) > 127).astype(np.float32))
    return torch.from_numpy(np.asarray(binary.resize((size, size), Image.Resampling.BOX)) > 0)

class Split:
    """The items a :class:`Dataset` produced for one seed, with their manifest."""

    def __init__(self, dataset: Dataset, items: Sequence[SplitItem]) -> None:
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            dup = next(i for i, c in Counter(ids).items() if c > 1)
            raise ValueError(f"dataset {dataset.name!r} produced the id {dup!r} twice")
        self.dataset = dataset
        self.items = list(items)

    def select(self, side: Side, label: int | None = None) -> list[SplitItem]:
        """Items on ``side`` (and with ``label`` if given), in manifest order."""
        return [i for i in self.items if i.side == side and (label is None or i.label == label)]

    def counts(self) -> dict[str, dict[str, int]]:
        """``{"train": {"defect_free": n, "defect": n}, "test": {...}}``."""
        out = {side: {"defect_free": 0, "defect": 0} for side in ("train", "test")}
        for item in self.items:
            out[item.side]["defect" if item.label else "defect_free"] += 1
        return out

    def manifest_csv(self) -> str:
        """The manifest as CSV text (one row per item, stable column order)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        for item in self.items:
            box = item.box or ("", "", "", "")
            writer.writerow([item.id, item.source, *box, item.label, item.side, item.defect_type or ""])
        return buffer.getvalue()

    @property
    def manifest_hash(self) -> str:
        """SHA-256 of :meth:`manifest_csv`: equal hashes mean identical splits."""
        return hashlib.sha256(self.manifest_csv().encode()).hexdigest()

    def write_manifest(self, path: Path) -> Path:
        """Write the manifest CSV atomically, and its hash next to it (``.sha256``)."""
        write_text_atomic(path, self.manifest_csv())
        write_text_atomic(path.with_suffix(path.suffix + ".sha256"), f"{self.manifest_hash}  {path.name}\n")
        return path

    def load_uint8(self, items: Sequence[SplitItem], image_size: int) -> torch.Tensor:
        """Images of ``items`` resized to ``image_size``: uint8 ``(N, 3, S, S)`` on CPU."""
        out = torch.empty((len(items), 3, image_size, image_size), dtype=torch.uint8)
        for k, item in enumerate(items):
            image = self.dataset.load_image(item).convert("RGB")
            if image.size != (image_size, image_size):
                image = image.resize((image_size, image_size), Image.Resampling.BICUBIC)
            out[k] = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)
        return out


    def load_masks(self, items: Sequence[SplitItem], image_size: int) -> torch.Tensor | None:
        """Masks of ``items`` resized to ``image_size``: bool ``(N, 1, S, S)``.

        Not nearest-neighbour: binarised, then an area (BOX) resize, and an output pixel
        is defect where any defect pixel falls inside it. Nearest sampling would break a
        1-2 px crack into dashes or drop it; the price is a crack up to one output pixel
        wider than its exact area share.

        None when the dataset gives no mask at all; an item without a mask gets an
        all-False one.
        """
        out = torch.zeros((len(items), 1, image_size, image_size), dtype=torch.bool)
        found = False
        for k, item in enumerate(items):
            mask = self.dataset.load_mask(item)
            if mask is None:
                continue
            found = True
            out[k, 0] = resize_mask(mask, image_size)
        return out if found else None


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` images to float ``[-1, 1]`` (the generators' range)."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float ``[-1, 1]`` images to uint8 ``[0, 255]`` (rounded, clamped)."""
    return images.detach().float().add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8).cpu()
