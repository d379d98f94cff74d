"""Whole-image datasets on disk: reading and checking images and masks, framing them.

Shared by the ``mvtec``, ``magnetic-tile`` and ``folder`` dataset plugins. Every
problem with a file is one :class:`dg2bench.DataError` naming the file and the fix:
an unreadable or truncated image, a 16-bit, float or palette image (convert it to
8-bit grey or RGB), a mask whose size differs from its image.

Framing (``fit``): the networks see square images. ``"resize"`` squeezes the whole
image to a square (nothing is cut away; the aspect ratio changes). ``"crop"`` takes the
largest square that fits, at a position drawn from a seeded RNG per file: uniformly
among all positions for an image without a mask, and among the positions whose square
holds the centre of the mask's bounding box for a defect image (so the defect stays in
view). Drawing both, rather than centring defect-free images and the defect on its
mask, keeps the crop position from telling the classes apart.
"""

from __future__ import annotations

import hashlib
import random
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from dg2bench import DataError, Dataset, SplitItem
from dg2bench.plugins.datasets.group_split import Candidate

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: 8-bit modes taken as they are ("1": bilevel, "L": grey, "LA"/"RGBA": with alpha).
ACCEPTED_MODES = ("1", "L", "LA", "RGB", "RGBA")


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (sorted by name; masks are not told apart here)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_checked(path: Path) -> Image.Image:
    """Open and fully decode ``path``; raise a one-line :class:`DataError` if it is unusable."""
    try:
        with Image.open(path) as image:
            image.load()
            loaded = image.copy()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(str(path), f"cannot read the image ({exc})",
                        "replace or remove the file (truncated or not an image)") from None
    if loaded.mode == "P":
        raise DataError(str(path), "is a palette image", "convert it to 8-bit grey or RGB (e.g. PIL .convert('RGB'))")
    if loaded.mode not in ACCEPTED_MODES:
        raise DataError(str(path), f"has pixel mode {loaded.mode} (16-bit, float or CMYK)",
                        "convert it to 8-bit grey or RGB")
    return loaded


def read_rgb(path: Path) -> Image.Image:
    """The image at ``path`` as 8-bit RGB (alpha dropped), checked by :func:`open_checked`."""
    return open_checked(path).convert("RGB")


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Boolean defect mask (> 127 = defect, robust to lossy files) of an image of ``size``."""
    mask = open_checked(path)
    if mask.size != size:
        raise DataError(str(path), f"mask is {mask.size[0]}x{mask.size[1]} but its image is {size[0]}x{size[1]}",
                        "fix or remove the mask")
    return np.asarray(mask.convert("L")) > 127


def square_box(size: tuple[int, int], mask: np.ndarray | None, key: str) -> tuple[int, int, int, int]:
    """The largest square in an image of ``size``, placed as the module docstring says.

    :param key: seeds the position (the file's path relative to the root).
    """
    width, height = size
    side = min(width, height)
    rng = random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))
    low_x, high_x, low_y, high_y = 0, width - side, 0, height - side
    if mask is not None and mask.any():
        rows, cols = np.nonzero(mask)
        cx, cy = (int(cols.min()) + int(cols.max())) // 2, (int(rows.min()) + int(rows.max())) // 2
        low_x, high_x = max(low_x, cx - side + 1), min(high_x, cx)
        low_y, high_y = max(low_y, cy - side + 1), min(high_y, cy)
    left, top = rng.randint(low_x, high_x), rng.randint(low_y, high_y)
    return left, top, left + side, top + side


def make_candidate(root: Path, path: Path, *, group: str, label: int, fit: str, defect_type: str | None = None,
                   mask_path: Path | None = None, prefer_test: bool = False) -> Candidate:
    """Check the image (and its mask, if any) at ``path`` and frame it as ``fit`` says."""
    image = open_checked(path)
    mask = read_mask(mask_path, image.size) if mask_path is not None else None
    source = path.relative_to(root).as_posix()
    box = square_box(image.size, mask, source) if fit == "crop" else None
    return Candidate(source=source, group=group, label=label,
                     defect_type=defect_type, box=box, prefer_test=prefer_test,
                     mask=None if mask_path is None else mask_path.relative_to(root).as_posix())


def require_folder(folder: Path, what: str, remedy: str) -> Path:
    """``folder`` if it is a directory, else a DataError."""
    if not folder.is_dir():
        raise DataError(str(folder), f"{what} folder does not exist", remedy)
    return folder


def require_images(folder: Path) -> list[Path]:
    """The image files of ``folder``; an empty class folder is a DataError naming it."""
    files = image_files(folder)
    if not files:
        raise DataError(str(folder), "holds no image (png, jpg, jpeg, bmp, tif, tiff)",
                        "put the images there or remove the folder")
    return files


def check_relative(value: str, option: str) -> None:
    """Reject a folder option that is absolute or leaves the dataset root (ValueError)."""
    if Path(value).is_absolute() or ".." in Path(value).parts:
        raise ValueError(f"{option} must be a folder inside root, not {value!r}")


class WholeImageDataset(Dataset):
    """Base of datasets whose items are image files (optionally cropped to a box).

    Subclasses provide ``candidates`` (every checked image, see ``group_split.py``).
    """

    candidates: list[Candidate]

    @cached_property
    def mask_paths(self) -> dict[str, str]:
        """Mask path (relative to the root) of every image that has one."""
        return {c.source: c.mask for c in self.candidates if c.mask}

    def load_image(self, item: SplitItem) -> Image.Image:
        """The RGB image of ``item``, cropped to its box."""
        image = read_rgb(self.root / item.source)
        return image.crop(item.box) if item.box else image

    def load_mask(self, item: SplitItem) -> Image.Image | None:
        """The defect mask of ``item`` (cropped to its box), or None if it has none."""
        if item.source not in self.mask_paths:
            return None
        mask = open_checked(self.root / self.mask_paths[item.source]).convert("L")
        return mask.crop(item.box) if item.box else mask
