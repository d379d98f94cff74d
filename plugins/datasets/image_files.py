"""Whole-image datasets on disk: reading and checking images and masks, framing them.

Shared by the ``mvtec``, ``magnetic-tile`` and ``folder`` dataset plugins. Every
problem with a file is one :class:`dg2bench.DataError` naming the file and the fix:
an unreadable or truncated image, a 16-bit, float or palette image (convert it to
8-bit grey or RGB), a mask whose size differs from its image.

Framing (``fit``): the networks see square images. ``"resize"`` squeezes the whole
image to a square (nothing is cut away; the aspect ratio changes). ``"crop"`` takes
the largest square that fits, centred on the defect mask's bounding box where there
is a mask (so the defect stays in view, as far as the square allows) and on the
image centre otherwise.
"""

from __future__ import annotations

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
    """Boolean defect mask (non-zero = defect) of an image of ``size`` (width, height)."""
    mask = open_checked(path)
    if mask.size != size:
        raise DataError(str(path), f"mask is {mask.size[0]}x{mask.size[1]} but its image is {size[0]}x{size[1]}",
                        "fix or remove the mask")
    return np.asarray(mask.convert("L")) > 0


def square_box(size: tuple[int, int], mask: np.ndarray | None) -> tuple[int, int, int, int]:
    """The largest square in an image of ``size``, centred on ``mask``'s defect if any."""
    width, height = size
    side = min(width, height)
    cx, cy = width / 2, height / 2
    if mask is not None and mask.any():
        rows, cols = np.nonzero(mask)
        cx, cy = (cols.min() + cols.max() + 1) / 2, (rows.min() + rows.max() + 1) / 2
    left = int(round(min(max(cx - side / 2, 0), width - side)))
    top = int(round(min(max(cy - side / 2, 0), height - side)))
    return left, top, left + side, top + side


def make_candidate(root: Path, path: Path, *, group: str, label: int, fit: str, defect_type: str | None = None,
                   mask_path: Path | None = None, prefer_test: bool = False) -> Candidate:
    """Check the image (and its mask, if any) at ``path`` and frame it as ``fit`` says."""
    image = open_checked(path)
    mask = read_mask(mask_path, image.size) if mask_path is not None else None
    box = square_box(image.size, mask) if fit == "crop" else None
    return Candidate(source=path.relative_to(root).as_posix(), group=group, label=label,
                     defect_type=defect_type, box=box, prefer_test=prefer_test,
                     mask=None if mask_path is None else mask_path.relative_to(root).as_posix())


def require_folder(folder: Path, what: str, remedy: str) -> Path:
    """``folder`` if it is a directory holding at least one image file, else a DataError."""
    if not folder.is_dir():
        raise DataError(str(folder), f"{what} folder does not exist", remedy)
    return folder


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
