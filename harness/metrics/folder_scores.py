"""FID and KID between two image folders (``bench fid``), like ``python -m pytorch_fid``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dg2bench.data.image_folders import IMAGE_SUFFIXES, load_png_folder
from dg2bench.errors import DataError
from dg2bench.metrics.fid import fid_from_features, fid_sample_size_warning
from dg2bench.metrics.inception import InceptionFeatures
from dg2bench.metrics.kid import kid_from_features
from dg2bench.runtime.device import resolve_device


def _check_folder(folder: Path) -> None:
    paths = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if len(paths) < 2:
        raise DataError(str(folder), f"holds {len(paths)} images; FID needs at least 2",
                        "point at a folder of .png/.jpg images")


def score_folders(dir_a: Path, dir_b: Path, device: str = "auto", batch_size: int = 50,
                  extractor: str = "fid-helper") -> dict[str, Any]:
    """FID and KID between the images of two folders, with sample sizes and warnings."""
    for folder in (dir_a, dir_b):
        _check_folder(folder)
    images = [load_png_folder(folder) for folder in (dir_a, dir_b)]  # unreadable files fail here, fast
    features = InceptionFeatures(resolve_device(device), batch_size=batch_size, prefer=extractor)
    a, b = (features.extract(batch) for batch in images)
    kid = kid_from_features(a, b)
    warning = fid_sample_size_warning(len(a), len(b))
    return {"fid": float(fid_from_features(a, b)), "kid": kid.as_dict(), "n_a": len(a), "n_b": len(b),
            "extractor": features.name, "warnings": [warning] if warning else []}
