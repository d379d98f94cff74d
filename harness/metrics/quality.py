"""Score fake images against real ones: FID, KID, precision/recall/density/coverage.

All four share one pass of the TF-FID Inception over the fakes; the real images'
features are cached per split (keyed by the manifest hash, the image size and the
extractor), so each method pays only for its own fakes. Sample sizes are recorded
next to every score, with a warning where FID is computed on fewer than 2,048 images,
and FID and KID get bootstrap 95 % intervals over fake and real images
(``bootstrap`` resamples of the cached features; 0 turns them off; above 2,048
images each resample runs scipy's ``sqrtm``, about a minute on 2 CPU cores). The
resampled values are kept in ``quality.json``: the real rows of resample ``b`` are the
same for every cell of a split, so two methods' FIDs and KIDs pair by resample.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from dg2bench.metrics.fid import fid_from_features, fid_sample_size_warning
from dg2bench.metrics.inception import InceptionFeatures
from dg2bench.metrics.kid import KernelMatrices, kid_from_kernels
from dg2bench.metrics.prdc import prdc_from_features
from dg2bench.metrics.statistics import bootstrap_index_replicates, bootstrap_replicates, centred_interval
from dg2bench.runtime.progress import ProgressCallback, ProgressEvent, ignore_progress
from dg2bench.settings import MetricsSettings
from dg2bench.store.atomic import write_atomic, write_json_atomic


class QualityScorer:
    """Inception features (with a real-image cache) and every image-quality metric."""

    def __init__(self, device: torch.device, cache_dir: Path, metrics: MetricsSettings) -> None:
        self.device = device
        self.cache_dir = Path(cache_dir)
        self.metrics = metrics
        self._extractor: InceptionFeatures | None = None

    @property
    def extractor(self) -> InceptionFeatures:
        """The feature extractor, loaded on first use (it takes seconds)."""
        if self._extractor is None:
            self._extractor = InceptionFeatures(self.device, batch_size=self.metrics.feature_batch_size,
                                                prefer=self.metrics.extractor)
        return self._extractor

    def features(self, images: torch.Tensor, cell: str = "", stage: str = "score",
                 progress: ProgressCallback = ignore_progress) -> np.ndarray:
        """Inception pool features ``(N, 2048)`` of uint8 images."""
        return self.extractor.extract(images, progress=lambda done, total: progress(
            ProgressEvent(cell, stage, done, total)))

    def real_features(self, images: torch.Tensor, key: str, cell: str = "",
                      progress: ProgressCallback = ignore_progress) -> np.ndarray:
        """Features of real images, from the cache when ``key`` (manifest hash + role) was seen."""
        slug = hashlib.sha256(f"{key}|{self.extractor.name}|{tuple(images.shape)}".encode()).hexdigest()[:24]
        path = self.cache_dir / f"{slug}.npy"
        if path.exists():
            return np.load(path)
        feats = self.features(images, cell, "score:real", progress)

        def write(handle: io.BufferedWriter) -> None:
            np.save(handle, feats)

        write_atomic(path, write)
        return feats

    def score(self, fake_features: np.ndarray, real_features: np.ndarray) -> dict[str, Any]:
        """Every metric on two feature sets, with their sample sizes."""
        m = self.metrics
        kernels = KernelMatrices.of(real_features, fake_features)   # once: subsets and resamples read it by index
        kid = kid_from_kernels(kernels, np.arange(len(real_features)), np.arange(len(fake_features)),
                               subset_size=m.kid_subset_size, n_subsets=m.kid_subsets)
        prdc = prdc_from_features(real_features, fake_features, nearest_k=m.prdc_k)
        warning = fid_sample_size_warning(len(fake_features), len(real_features))
        fid = float(fid_from_features(real_features, fake_features))
        intervals: dict[str, Any] = {}
        if m.bootstrap:
            # Replicates are kept (not only their interval): two methods scored against the
            # same real features drew the same real resample at each index, so their
            # difference can be tested pairwise later (``replicate_difference``).
            def kid_mean(r: np.ndarray, f: np.ndarray) -> float:
                return kid_from_kernels(kernels, r, f, subset_size=m.kid_subset_size,
                                        n_subsets=m.kid_subsets).mean

            replicates = {
                "fid": bootstrap_replicates(fid_from_features, real_features, fake_features, m.bootstrap),
                "kid": bootstrap_index_replicates(kid_mean, len(real_features), len(fake_features), m.bootstrap)}
            for key, estimate, bound in (("fid", fid, 0.0), ("kid", kid.mean, None)):
                intervals[f"{key}_ci"] = list(centred_interval(estimate, replicates[key], bound))
                intervals[f"{key}_replicates"] = [round(float(v), 9) for v in replicates[key]]
            intervals["bootstrap_resamples"] = m.bootstrap
        return {**intervals,
            "extractor": self.extractor.name,
            "n_fake": int(len(fake_features)), "n_real": int(len(real_features)),
            "fid": fid,
            "kid": kid.as_dict(),
            "prdc": prdc.as_dict(),
            "warnings": [warning] if warning else [],
        }

    def score_cell(self, fakes: torch.Tensor, reals: torch.Tensor, manifest_hash: str, folder: Path,
                   cell: str, progress: ProgressCallback = ignore_progress) -> dict[str, Any]:
        """Score a cell's fakes against the real training defects; cached in ``quality.json``."""
        done_path = folder / "quality.json"
        if done_path.exists():
            return json.loads(done_path.read_text())
        real = self.real_features(reals, f"{manifest_hash}|train_defect", cell, progress)
        fake = self.features(fakes, cell, "score", progress)
        result = {"reference": "real defect images of the training split", **self.score(fake, real)}
        write_json_atomic(done_path, result)
        return result
