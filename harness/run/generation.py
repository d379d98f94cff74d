"""Generate fake defect images with a trained generator (stored by ``data.image_folders``)."""

from __future__ import annotations

import torch
from dg2bench.contracts.contract import check_generated, check_generated_masks
from dg2bench.contracts.generator import Generator
from dg2bench.data.split import to_uint8, to_unit_range
from dg2bench.run.batches import stateless_seed
from dg2bench.runtime.interrupt import raise_if_stopped
from dg2bench.runtime.progress import ProgressCallback, ProgressEvent, ignore_progress


#: Fakes per ``generate`` call when a cell makes them (``bench estimate`` times one such chunk).
GENERATION_CHUNK = 64


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
                   chunk: int = GENERATION_CHUNK, cell: str = "", progress: ProgressCallback = ignore_progress,
                   source_order: torch.Tensor | None = None, defect_free: bool = False) -> torch.Tensor:
    """``n`` fake images as uint8 ``(n, 3, S, S)`` on CPU (:func:`generate_fakes_and_masks`
    without the masks)."""
    return generate_fakes_and_masks(generator, n, source_pool, device, chunk, cell, progress, source_order,
                                    defect_free)[0]


def generate_fakes_and_masks(generator: Generator, n: int, source_pool: torch.Tensor | None,
                             device: torch.device, chunk: int = GENERATION_CHUNK, cell: str = "",
                             progress: ProgressCallback = ignore_progress, source_order: torch.Tensor | None = None,
                             defect_free: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` fake images as uint8 ``(n, 3, S, S)`` on CPU, and their masks as bool
    ``(n, 1, S, S)`` where the generator's :meth:`~dg2bench.Generator.generate_with_masks`
    gives them (None otherwise, and always for defect-free fakes).

    Defect images by default: translation methods map defect-free images
    ``source_pool[source_order]`` (uint8; see :func:`fake_source_order`; pool order
    cycled if ``source_order`` is None); unconditional ones sample noise from the
    (seeded) global RNG. With ``defect_free`` the generator's
    :meth:`~dg2bench.Generator.generate_defect_free` maps defect images from the pool.

    :raises dg2bench.errors.PluginContractError: on a chunk of the wrong count, shape,
        dtype or range, or with non-finite pixels.
    """
    out, masks = [], []
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
        if defect_free:
            images, chunk_masks = generator.generate_defect_free(count, source), None
            if images is None:
                raise ValueError(f"{generator.name} cannot make defect-free images")
        else:
            images, chunk_masks = generator.generate_with_masks(count, source)
        check_generated(generator, images, count, generator.image_size, reference=source_pool)
        out.append(to_uint8(images))
        if chunk_masks is not None:
            check_generated_masks(generator, chunk_masks, count, generator.image_size)
            masks.append(chunk_masks.bool())
        progress(ProgressEvent(cell, stage, start + count, n))
    if masks and len(masks) != len(out):
        raise ValueError(f"{generator.name} returned masks for some chunks of fakes and not for others")
    return torch.cat(out), (torch.cat(masks) if masks else None)
