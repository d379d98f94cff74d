"""Generate fake defect images with a trained generator and store them as PNG files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dg2bench.contracts.contract import check_generated
from dg2bench.contracts.generator import Generator
from dg2bench.errors import DataError
from dg2bench.data.split import to_uint8, to_unit_range
from dg2bench.run.batches import stateless_seed
from dg2bench.run.interrupt import raise_if_stopped
from dg2bench.run.progress import ProgressCallback, ProgressEvent, ignore_progress
from dg2bench.store.atomic import write_atomic

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def fake_source_order(n_sources: int, n: int, seed: int, key: str = "fake-sources") -> torch.Tensor:
    """Which defect-free image each of ``n`` translated fakes starts from.

    A seeded permutation of all ``n_sources`` images, cycled when ``n`` exceeds them
    (each source is then used ``n // n_sources`` or one more times). Taking the first
    ``n`` in manifest order instead would draw from only some source photographs (with
    600 of CrackForest's 1000 patches, 56 of 94 images, darker and smoother than the
    rest), and FID/KID/PRDC would compare unlike with like.
    """
    if n_sources < 1:
        raise ValueError("no defect-free source images to translate")
    generator = torch.Generator().manual_seed(stateless_seed(seed, key, 0))
    return torch.randperm(n_sources, generator=generator)[torch.arange(n) % n_sources]


def generate_fakes(generator: Generator, n: int, source_pool: torch.Tensor | None, device: torch.device,
                   chunk: int = 64, cell: str = "", progress: ProgressCallback = ignore_progress,
                   source_order: torch.Tensor | None = None, defect_free: bool = False) -> torch.Tensor:
    """``n`` fake images as uint8 ``(n, 3, S, S)`` on CPU.

    Defect images by default: translation methods map defect-free images
    ``source_pool[source_order]`` (uint8; see :func:`fake_source_order`; pool order
    cycled if ``source_order`` is None); unconditional ones sample noise from the
    (seeded) global RNG. With ``defect_free`` the generator's
    :meth:`~dg2bench.Generator.generate_defect_free` maps defect images from the pool.

    :raises dg2bench.errors.PluginContractError: on a chunk of the wrong count, shape,
        dtype or range, or with non-finite pixels.
    """
    out = []
    stage = "generate defect-free" if defect_free else "generate"
    for start in range(0, n, chunk):
        raise_if_stopped(f"{stage} stopped after {start} of {n} images (they are made again on resume)")
        count = min(chunk, n - start)
        source = None
        if generator.kind == "translation" or defect_free:
            if source_pool is None or len(source_pool) == 0:
                raise ValueError(f"{generator.name} translates images but got no source images")
            index = source_order[start:start + count] if source_order is not None \
                else torch.arange(start, start + count) % len(source_pool)
            source = to_unit_range(source_pool[index]).to(device)
        images = generator.generate_defect_free(count, source) if defect_free else generator.generate(count, source)
        if images is None:
            raise ValueError(f"{generator.name} cannot make defect-free images")
        check_generated(generator, images, count, generator.image_size, reference=source_pool)
        out.append(to_uint8(images))
        progress(ProgressEvent(cell, stage, start + count, n))
    return torch.cat(out)


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
