"""KID and precision/recall/density/coverage against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dg2bench.metrics.kid import kid_from_features, mmd2_unbiased, polynomial_kernel
from dg2bench.metrics.prdc import knn_radii, prdc_from_features


def test_polynomial_kernel():
    x = np.array([[1.0, 2.0]])
    y = np.array([[3.0, 4.0]])
    assert polynomial_kernel(x, y)[0, 0] == pytest.approx((11 / 2 + 1) ** 3)


def test_mmd2_by_hand():
    # d = 1, x = {0, 1}, y = {1, 2}, k(a, b) = (ab + 1)^3:
    # within x: k(0,1) = 1, twice / (2*1) = 1; within y: k(1,2) = 27, twice / 2 = 27;
    # cross: k(0,1) + k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37, 2 * 37 / 4 = 18.5.
    x = np.array([[0.0], [1.0]])
    y = np.array([[1.0], [2.0]])
    assert mmd2_unbiased(x, y) == pytest.approx(1 + 27 - 18.5)


def test_kid_with_full_subsets_is_the_exact_mmd():
    # A subset as large as both sets is a permutation of them, so every subset gives
    # the same MMD² and the spread is zero.
    x = np.array([[0.0], [1.0]])
    y = np.array([[1.0], [2.0]])
    result = kid_from_features(x, y, subset_size=1000, n_subsets=5)
    assert result.subset_size == 2 and result.n_subsets == 5
    assert result.mean == pytest.approx(9.5) and result.std == pytest.approx(0.0, abs=1e-12)
    assert result.as_dict()["mean"] == pytest.approx(9.5)


def test_kid_is_deterministic_for_a_seed_and_near_zero_for_one_distribution():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(300, 16))
    first = kid_from_features(a, b, subset_size=100, n_subsets=20, seed=3)
    assert first == kid_from_features(a, b, subset_size=100, n_subsets=20, seed=3)
    assert abs(first.mean) < 3 * first.std + 1e-3
    shifted = kid_from_features(a, b + 1.0, subset_size=100, n_subsets=20, seed=3)
    assert shifted.mean > 10 * max(abs(first.mean), first.std)


def test_kid_from_precomputed_kernels_equals_kid_on_the_resampled_rows():
    """A bootstrap resample (rows repeated) read by index from kernels computed once gives the
    KID of the resampled rows themselves, subset draw for subset draw (the speed-up of scoring)."""
    from dg2bench.metrics.kid import KernelMatrices, kid_from_kernels
    from dg2bench.metrics.statistics import bootstrap_index_replicates, bootstrap_replicates

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(30, 8)), rng.normal(size=(25, 8)) + 0.2
    kernels = KernelMatrices.of(a, b)
    rows_a, rows_b = rng.integers(0, 30, 30), rng.integers(0, 25, 25)
    by_index = kid_from_kernels(kernels, rows_a, rows_b, subset_size=12, n_subsets=7, seed=5)
    direct = kid_from_features(a[rows_a], b[rows_b], subset_size=12, n_subsets=7, seed=5)
    assert by_index.mean == pytest.approx(direct.mean, rel=1e-12) and by_index.std == pytest.approx(direct.std, rel=1e-12)
    assert by_index.subset_size == direct.subset_size == 12
    # The same resamples, drawn by index or as rows.
    rows = bootstrap_replicates(lambda x, y: kid_from_features(x, y, 10, 3).mean, a, b, 4)
    indices = bootstrap_index_replicates(lambda i, j: kid_from_kernels(kernels, i, j, 10, 3).mean, 30, 25, 4)
    np.testing.assert_allclose(indices, rows, rtol=1e-12)


def test_kid_rejects_tiny_sets():
    with pytest.raises(ValueError, match="at least 2"):
        kid_from_features(np.zeros((1, 3)), np.zeros((5, 3)))


# Real points r0 = (0, 0), r1 = (1, 0), r2 = (0, 2): pairwise 1, 2, sqrt(5).
# With k = 1 their radii are 1, 1, 2. Fakes f0 = (0.5, 0), f1 = (3, 3): radii |f0 f1| = sqrt(15.25).
# f0 is 0.5 from r0 and r1 and sqrt(4.25) ~ 2.06 from r2; f1 is far from all reals.
REAL = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
FAKE = np.array([[0.5, 0.0], [3.0, 3.0]])


def test_knn_radii_by_hand():
    np.testing.assert_allclose(knn_radii(REAL, 1), [1.0, 1.0, 2.0])
    np.testing.assert_allclose(knn_radii(REAL, 2), [2.0, math.sqrt(5), math.sqrt(5)])


def test_prdc_by_hand():
    result = prdc_from_features(REAL, FAKE, nearest_k=1)
    # f0 lies in the balls of r0 and r1 (0.5 < 1), f1 in none.
    assert result.precision == pytest.approx(1 / 2)
    # Every real is within sqrt(15.25) ~ 3.9 of f0.
    assert result.recall == pytest.approx(1.0)
    # f0 sits in 2 real balls, f1 in 0: mean 1, divided by k = 1.
    assert result.density == pytest.approx(1.0)
    # r0 and r1 have a fake inside their radius; r2's nearest fake (2.06) is outside 2.
    assert result.coverage == pytest.approx(2 / 3)
    assert result.as_dict()["nearest_k"] == 1


def test_prdc_with_k2_by_hand():
    # Radii sqrt(5) for r1 and r2 now, 2 for r0: r2 catches f0 (2.06 < 2.24).
    result = prdc_from_features(REAL, np.vstack([FAKE, [[10.0, 10.0]]]), nearest_k=2)
    assert result.precision == pytest.approx(1 / 3)
    assert result.density == pytest.approx((3 / 2) / 3)
    assert result.coverage == pytest.approx(1.0)


def test_prdc_needs_more_points_than_k():
    with pytest.raises(ValueError, match="k=5"):
        prdc_from_features(REAL, FAKE)
