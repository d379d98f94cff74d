"""CrackForest road-crack patches, labelled from the crack masks.

CrackForest (Shi et al. 2016) has 118 road images, every one with a crack, so the
paper's two classes (Table 1: train 1000 defect-free / 300 defect, test 330 / 60)
must be patches. Each image is cut into non-overlapping ``patch_size`` tiles; a tile
with at least ``min_crack_pixels`` crack pixels is a defect, a tile with no crack
pixel (and no enclosed-area pixel, see below) is defect-free, and tiles in between
are dropped as ambiguous.

Mask values (``groundTruth[0,0]['Segmentation']``): 1 background, 2 crack, 4 thin
crack (5 masks; visible in the images, e.g. ``102.jpg``), 3 area enclosed by cracks
(22 masks). Values 2 and 4 are crack pixels. Value 3 marks road surface inside a
crack loop: not a crack itself, but not intact surface either, so a tile holding it
and no crack is dropped rather than called defect-free (12 tiles at 32 px, 1 at 48,
none from 64 px up, where every such tile also touches a crack). Counting only value 2, as
the first version did, labelled 9 crack tiles defect-free at 80 px (3 of them in the
test split).

``min_crack_pixels`` defaults to 1, the paper's reading (a patch with any crack pixel
is a defect). At 80 px, 20 of the 360 defect tiles of the paper split hold fewer
than 20 crack pixels, a crack clipped by the tile's edge; raise the option (e.g. to
20) to drop such tiles as ambiguous.

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

from dg2bench import DataError, Dataset, SplitItem, hookimpl, option


CRACK_VALUES = (2, 4)   # crack, thin crack
ENCLOSED_VALUE = 3      # area enclosed by cracks: neither crack nor intact surface


@dataclasses.dataclass(frozen=True)
class CrackForestOptions:
    """Options of the CrackForest split; defaults follow the paper's Table 1.

    :param patch_size: side of the square tiles cut from each 480x320 image (px).
    :param min_crack_pixels: crack pixels that make a tile a defect (>= 1; default 1, the
        paper's reading; tiles with 1 .. min_crack_pixels - 1 are dropped).
    :param train_defect_free: defect-free training patches (Table 1: 1000).
    :param train_defect: defect training patches (Table 1: 300).
    :param test_defect_free: defect-free test patches (Table 1: 330).
    :param test_defect: defect test patches (Table 1: 60).
    """

    patch_size: int = option(64, minimum=16, maximum=320)
    min_crack_pixels: int = option(1, minimum=1)
    train_defect_free: int = option(1000, minimum=1)
    train_defect: int = option(300, minimum=1)
    test_defect_free: int = option(330, minimum=1)
    test_defect: int = option(60, minimum=1)


@dataclasses.dataclass(frozen=True)
class _Tile:
    source: str
    box: tuple[int, int, int, int]
    crack_pixels: int
    enclosed_pixels: int


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

    def segmentation(self, stem: str) -> np.ndarray:
        """The mask of image ``stem``: 1 background, 2 crack, 3 enclosed area, 4 thin crack."""
        path = self.root / "groundTruth" / f"{stem}.mat"
        try:
            return np.asarray(scipy.io.loadmat(path)["groundTruth"][0, 0]["Segmentation"])
        except (OSError, KeyError, ValueError, IndexError) as exc:
            raise DataError(str(path), f"cannot read the crack mask ({exc})", "restore the file") from None

    def crack_mask(self, stem: str) -> np.ndarray:
        """Boolean crack mask of image ``stem``: values 2 (crack) and 4 (thin crack)."""
        return np.isin(self.segmentation(stem), CRACK_VALUES)

    def _tiles(self, stem: str) -> list[_Tile]:
        segmentation = self.segmentation(stem)
        crack, enclosed = np.isin(segmentation, CRACK_VALUES), segmentation == ENCLOSED_VALUE
        size = self.options.patch_size
        height, width = segmentation.shape
        tiles = []
        for top in range(0, height - size + 1, size):
            for left in range(0, width - size + 1, size):
                window = np.s_[top:top + size, left:left + size]
                tiles.append(_Tile(f"image/{stem}.jpg", (left, top, left + size, top + size),
                                   int(crack[window].sum()), int(enclosed[window].sum())))
        return tiles

    def _label(self, tile: _Tile) -> int | None:
        if tile.crack_pixels == 0:
            return 0 if tile.enclosed_pixels == 0 else None
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
                class_name = "defect" if label else "defect_free"
                raise DataError(f"{side}_{class_name}",
                                f"asks for {count} patches but the {side} side holds {len(pool)} "
                                f"at patch_size {opts.patch_size}",
                                "lower the count or the patch_size")
            for tile in sorted(rng.sample(pool, count), key=lambda t: (t.source, t.box[1], t.box[0])):
                left, top = tile.box[:2]
                items.append(SplitItem(id=f"{Path(tile.source).name}@{left},{top}", source=tile.source,
                                       box=tile.box, label=label, side=side))
        return items

    def load_mask(self, item: SplitItem) -> Image.Image:
        """The crack mask of ``item``'s tile (values 2 and 4), 255 = crack."""
        mask = self.crack_mask(Path(item.source).stem)
        left, top, right, bottom = item.box
        return Image.fromarray((mask[top:bottom, left:right] * 255).astype(np.uint8))

    def load_image(self, item: SplitItem) -> Image.Image:
        """The RGB patch of ``item``."""
        with Image.open(self.root / item.source) as image:
            image = image.convert("RGB")
            return image.crop(item.box) if item.box else image


@hookimpl
def register_datasets(register):
    """Register the CrackForest patch dataset."""
    register(CrackForestPatches)
