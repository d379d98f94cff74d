"""Fréchet Inception Distance (the paper's eq. 7) from precomputed features.

The distance itself is pytorch-fid's ``calculate_frechet_distance``, called rather than
rewritten, so a number here means exactly what it means in pytorch-fid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import warnings

import numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance

#: Below this many images per set FID is strongly biased upwards (pytorch-fid's README
#: advises at least 2,048, the feature dimension, so the covariance has full rank).
MIN_UNBIASED_FID_IMAGES = 2048


@dataclasses.dataclass(frozen=True)
class FeatureStats:
    """Mean ``mu`` (D,), covariance ``sigma`` (D, D) and count ``n`` of a feature set."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    @classmethod
    def of(cls, features: np.ndarray) -> "FeatureStats":
        """Statistics of ``features`` ``(N, D)`` as pytorch-fid computes them (``np.cov``, N - 1)."""
        feats = np.asarray(features, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[0] < 2:
            raise ValueError(f"need features (N >= 2, D), got shape {feats.shape}")
        return cls(mu=feats.mean(axis=0), sigma=np.cov(feats, rowvar=False), n=feats.shape[0])


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """FID between two sets of statistics (eq. 7: ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2)``)."""
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"feature dimensions differ: {a.mu.shape[0]} and {b.mu.shape[0]}")
    # pytorch-fid prints a note when it must regularise a singular product (common with
    # fewer images than dimensions); keep stdout clean and pass it on as a warning.
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), warnings.catch_warnings():
        # pytorch-fid passes scipy's deprecated `disp` argument; not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        value = calculate_frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    if captured.getvalue().strip():
        warnings.warn(captured.getvalue().strip(), RuntimeWarning, stacklevel=2)
    return float(value)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID between feature sets ``a`` ``(N, D)`` and ``b`` ``(M, D)``."""
    return frechet_distance(FeatureStats.of(a), FeatureStats.of(b))


def fid_sample_size_warning(n_a: int, n_b: int) -> str | None:
    """A warning to record with an FID computed on ``n_a`` and ``n_b`` images, or ``None``.

    FID's bias grows as the sets shrink, so FIDs on different set sizes are not
    comparable; the paper's sets (hundreds of images, Tables 4-6) are all below the
    threshold. KID (:mod:`dg2bench.metrics.kid`) is unbiased and is the safer comparison.
    """
    n = min(n_a, n_b)
    if n >= MIN_UNBIASED_FID_IMAGES:
        return None
    return (f"FID on {n_a} and {n_b} images is biased upwards (fewer than "
            f"{MIN_UNBIASED_FID_IMAGES}); compare it only with FIDs on equally sized sets, "
            f"and prefer KID")
