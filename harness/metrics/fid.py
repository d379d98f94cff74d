"""Fréchet Inception Distance (the paper's eq. 7) from precomputed features.

The distance is pytorch-fid's ``calculate_frechet_distance``, called rather than
rewritten, so a number here means exactly what it means in pytorch-fid.

One exception, for speed and accuracy: when a set has fewer images than feature
dimensions (every set in the paper's Tables 4-6), both covariances are singular and
pytorch-fid's ``scipy.linalg.sqrtm`` of the 2048 x 2048 product takes about a minute
on a 2-core CPU and loses digits. The same trace has an exact closed form in sample
space: with centred features ``A`` (n_a x D) and ``B`` (n_b x D),
``Tr (S_a S_b)^1/2 = ||A B^T||_* / sqrt((n_a - 1)(n_b - 1))`` (the nuclear norm, a sum
of singular values of an n_a x n_b matrix), because ``S_a S_b`` has the same non-zero
eigenvalues as ``(A B^T)(A B^T)^T / ((n_a - 1)(n_b - 1))``. Tests check agreement with
pytorch-fid on the same features.
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


def sample_space_frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Exact FID of feature sets ``a`` ``(N, D)`` and ``b`` ``(M, D)`` via the nuclear-norm form."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    if min(len(a), len(b)) < 2:
        raise ValueError("need at least 2 images per set")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ca, cb = a - mu_a, b - mu_b
    na, nb = len(a) - 1, len(b) - 1
    trace_a = float(np.einsum("ij,ij->", ca, ca)) / na
    trace_b = float(np.einsum("ij,ij->", cb, cb)) / nb
    cross = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / np.sqrt(na * nb)
    diff = mu_a - mu_b
    return float(diff @ diff + trace_a + trace_b - 2.0 * cross)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID between feature sets ``a`` ``(N, D)`` and ``b`` ``(M, D)``.

    Uses the exact sample-space form when a set has no more images than dimensions
    (singular covariances), pytorch-fid's ``calculate_frechet_distance`` otherwise.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim == 2 and b.ndim == 2 and min(len(a), len(b)) <= a.shape[1]:
        return sample_space_frechet_distance(a, b)
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
