"""CrackForest road-crack patches, labelled from the crack masks.

CrackForest (Shi et al. 2016) has 118 road images, every one with a crack, so the
paper's two classes (Table 1: train 1000 defect-free / 300 defect, test 330 / 60)
must be patches. Each image is cut into non-overlapping ``patch_size`` tiles; a tile
with at least ``min_crack_pixels`` crack pixels is a defect, a tile with none is
defect-free, and tiles in between are dropped as ambiguous.

The split is made per *source image* so no image contributes to both sides (a test
patch whose neighbour was trained on would leak): images are shuffled with the seed
and given to the test side until it holds enough patches of both classes; then each
side's patches are sampled down to the requested counts. Python's ``random.Random``
with an integer seed is the same on every platform, so the manifest hash is too.
"""

from __future__ import annotations

import dataclasses
import random
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from dg2bench import DataError, Dataset, SplitItem, hookimpl


@dataclasses.dataclass(frozen=True)
class CrackForestOptions:
    """Options of the CrackForest split; defaults follow the paper's Table 1.

    :param patch_size: side of the square tiles cut from each 480x320 image (px).
    :param min_crack_pixels: crack pixels that make a tile a defect (>= 1).
    :param train_defect_free: defect-free training patches (Table 1: 1000).
    :param train_defect: defect training patches (Table 1: 300).
    :param test_defect_free: defect-free test patches (Table 1: 330).
    :param test_defect: defect test patches (Table 1: 60).
    """

    patch_size: int = 64
    min_crack_pixels: int = 1
    train_defect_free: int = 1000
    train_defect: int = 300
    test_defect_free: int = 330
    test_defect: int = 60

    def validate(self) -> None:
        """Reject values no split can be made from."""
        if not 16 <= self.patch_size <= 320:
            raise ValueError(f"patch_size must be within 16..320, not {self.patch_size}")
        if self.min_crack_pixels < 1:
            raise ValueError("min_crack_pixels must be >= 1")
        for field in ("train_defect_free", "train_defect", "test_defect_free", "test_defect"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1")


@dataclasses.dataclass(frozen=True)
class _Tile:
    source: str
    box: tuple[int, int, int, int]
    crack_pixels: int


class CrackForestPatches(Dataset):
    """CrackForest images cut into crack / crack-free patches (the paper's Table 1)."""

    name = "crackforest"
    summary = "CrackForest road cracks: mask-labelled patches, image-disjoint split (Table 1)"
    Options = CrackForestOptions
    presets = {"paper": {"patch_size": 80}, "tiny": {"train_defect_free": 60, "train_defect": 20,
                                                     "test_defect_free": 40, "test_defect": 20}}

    def check_root(self) -> None:
        """Require ``image/NNN.jpg`` and ``groundTruth/NNN.mat`` pairs under the root."""
        if not (self.root / "image").is_dir() or not (self.root / "groundTruth").is_dir():
            raise DataError(str(self.root), "is not a CrackForest folder (no image/ and groundTruth/)",
                            "point `root` at the folder holding image/ and groundTruth/")
        if not self._stems:
            raise DataError(str(self.root / "image"), "holds no image with a groundTruth .mat mask",
                            "restore the dataset files")

    @cached_property
    def _stems(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "image").glob("*.jpg")
                      if (self.root / "groundTruth" / f"{p.stem}.mat").exists())

    def crack_mask(self, stem: str) -> np.ndarray:
        """Boolean crack mask of image ``stem`` (the .mat stores 1 = background, 2 = crack)."""
        path = self.root / "groundTruth" / f"{stem}.mat"
        try:
            segmentation = scipy.io.loadmat(path)["groundTruth"][0, 0]["Segmentation"]
        except (OSError, KeyError, ValueError, IndexError) as exc:
            raise DataError(str(path), f"cannot read the crack mask ({exc})", "restore the file") from None
        return np.asarray(segmentation) == 2

    def _tiles(self, stem: str) -> list[_Tile]:
        mask = self.crack_mask(stem)
        size = self.options.patch_size
        height, width = mask.shape
        tiles = []
        for top in range(0, height - size + 1, size):
            for left in range(0, width - size + 1, size):
                count = int(mask[top:top + size, left:left + size].sum())
                tiles.append(_Tile(f"image/{stem}.jpg", (left, top, left + size, top + size), count))
        return tiles

    def _label(self, tile: _Tile) -> int | None:
        if tile.crack_pixels == 0:
            return 0
        return 1 if tile.crack_pixels >= self.options.min_crack_pixels else None

    def build_split(self, seed: int) -> list[SplitItem]:
        """Image-disjoint split with the option's counts (see the module docstring)."""
        opts = self.options
        rng = random.Random(seed)
        stems = list(self._stems)
        rng.shuffle(stems)
        pools: dict[str, dict[int, list[_Tile]]] = {"train": {0: [], 1: []}, "test": {0: [], 1: []}}
        for stem in stems:
            test = pools["test"]
            side = "test" if len(test[0]) < opts.test_defect_free or len(test[1]) < opts.test_defect else "train"
            for tile in self._tiles(stem):
                label = self._label(tile)
                if label is not None:
                    pools[side][label].append(tile)
        wanted = {("train", 0): opts.train_defect_free, ("train", 1): opts.train_defect,
                  ("test", 0): opts.test_defect_free, ("test", 1): opts.test_defect}
        items: list[SplitItem] = []
        for (side, label), count in wanted.items():
            pool = pools[side][label]
            if len(pool) < count:
                kind = "defect" if label else "defect_free"
                raise DataError(f"datasets.crackforest.{side}_{kind}",
                                f"asks for {count} patches but the {side} side holds {len(pool)} "
                                f"at patch_size {opts.patch_size}",
                                "lower the count or the patch_size")
            for tile in sorted(rng.sample(pool, count), key=lambda t: (t.source, t.box[1], t.box[0])):
                left, top = tile.box[:2]
                items.append(SplitItem(id=f"{Path(tile.source).name}@{left},{top}", source=tile.source,
                                       box=tile.box, label=label, side=side))
        return items

    def load_image(self, item: SplitItem) -> Image.Image:
        """The RGB patch of ``item``."""
        with Image.open(self.root / item.source) as image:
            image = image.convert("RGB")
            return image.crop(item.box) if item.box else image


@hookimpl
def register_datasets(register):
    """Register the CrackForest patch dataset."""
    register(CrackForestPatches)
