"""Precision, recall, density and coverage of generated features against real ones.

Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020)
separate fidelity from diversity, the two things the paper claims DG2GAN trades off
(its eq. 5 weights them with λ and β). The formulas are those of the reference package
``prdc`` (clovaai/generative-evaluation-prdc), including its strict ``<`` comparisons.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.metrics import pairwise_distances


@dataclasses.dataclass(frozen=True)
class PrdcResult:
    """The four scores, each in ``[0, 1]`` except density (unbounded, 1 for matching sets)."""

    precision: float
    recall: float
    density: float
    coverage: float
    nearest_k: int

    def as_dict(self) -> dict[str, float | int]:
        """A JSON-friendly dict."""
        return dataclasses.asdict(self)


def knn_radii(features: np.ndarray, nearest_k: int) -> np.ndarray:
    """Distance from each row to its ``nearest_k``-th nearest other row.

    The self-distance 0 is the first smallest, hence the ``k + 1``-th smallest value,
    as in ``prdc.compute_nearest_neighbour_distances``.
    """
    distances = pairwise_distances(features, features, metric="euclidean")
    return np.partition(distances, nearest_k, axis=1)[:, nearest_k]


def prdc_from_features(real: np.ndarray, fake: np.ndarray, nearest_k: int = 5) -> PrdcResult:
    """P/R/D/C of ``fake`` ``(M, D)`` against ``real`` ``(N, D)`` with k-NN balls.

    * precision: share of fakes inside some real k-NN ball;
    * recall: share of reals inside some fake k-NN ball;
    * density: real balls containing each fake, divided by k, averaged over fakes;
    * coverage: share of real balls that contain at least one fake.
    """
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if min(real.shape[0], fake.shape[0]) <= nearest_k:
        raise ValueError(f"need more than k={nearest_k} features per set, got {real.shape[0]} real "
                         f"and {fake.shape[0]} fake")
    real_radii = knn_radii(real, nearest_k)
    fake_radii = knn_radii(fake, nearest_k)
    real_fake = pairwise_distances(real, fake, metric="euclidean")
    in_real_ball = real_fake < real_radii[:, None]
    return PrdcResult(
        precision=float(in_real_ball.any(axis=0).mean()),
        recall=float((real_fake < fake_radii[None, :]).any(axis=1).mean()),
        density=float(in_real_ball.sum(axis=0).mean() / nearest_k),
        coverage=float((real_fake.min(axis=1) < real_radii).mean()),
        nearest_k=nearest_k,
    )
