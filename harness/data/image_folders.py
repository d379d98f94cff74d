"""Folders of images: the fakes a cell writes, the real samples, a user's folder to score."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from dg2bench.errors import DataError
from dg2bench.store.atomic import write_atomic
from PIL import Image

#: Suffixes read as images (any case).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def save_png_folder(images: torch.Tensor, folder: Path) -> list[Path]:
    """Write uint8 ``(N, 3, S, S)`` images as ``000000.png ...`` (each file atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, image in enumerate(images):
        array = image.permute(1, 2, 0).numpy()
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        paths.append(write_atomic(folder / f"{k:06d}.png", lambda f, b=buffer: f.write(b.getvalue())))
    return paths


def read_image_rgb(path: Path) -> Image.Image:
    """The image at ``path``, fully decoded, as RGB; a one-line :class:`DataError` if unreadable."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(str(path), f"cannot read the image ({exc})",
                        "replace or remove the file (truncated or not an image)") from None


def load_png_folder(folder: Path, image_size: int | None = None) -> torch.Tensor:
    """Every image file of ``folder`` (sorted) as uint8 ``(N, 3, S, S)``; resized if asked.

    :raises DataError: naming an unreadable image, or the folder if its images differ in size.
    """
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    arrays = []
    for path in paths:
        image = read_image_rgb(path)
        if image_size is not None and image.size != (image_size, image_size):
            image = image.resize((image_size, image_size), Image.Resampling.BICUBIC)
        arrays.append(np.asarray(image, dtype=np.uint8))
    if not arrays:
        return torch.empty((0, 3, image_size or 0, image_size or 0), dtype=torch.uint8)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(str(folder), f"images differ in size ({len(shapes)} sizes)",
                        "resize them to one size first (the Inception resizes to 299 itself)")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
