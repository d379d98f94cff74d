"""Intervals and tests against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dg2bench.metrics.fid import fid_from_features
from dg2bench.metrics.statistics import (bootstrap_interval, holm, mcnemar_exact, paired_bootstrap, sign_flip_p,
                                         t_interval)


def test_t_interval_hand_value():
    mean, half, n = t_interval([1.0, 2.0, 3.0])
    # sd = 1, t_{0.975, 2} = 4.302653
    assert (mean, n) == (2.0, 3) and half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(t_interval([0.5])[1]) and t_interval([])[2] == 0


def test_mcnemar_exact_hand_values():
    a = [True] * 5 + [True, False]
    b = [False] * 5 + [True, False]
    assert mcnemar_exact(a, b) == pytest.approx(2 * 0.5 ** 5)        # 5 discordant, all one way
    assert mcnemar_exact([True, False], [False, True]) == 1.0         # one each way
    assert mcnemar_exact([True], [True]) == 1.0


def test_holm_hand_values():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.2, float("nan")])
    assert out[0] == pytest.approx(0.2) and math.isnan(out[1])


def test_paired_bootstrap():
    same = np.ones((3, 30), bool)
    assert paired_bootstrap(same, same)["p"] == 1.0
    better = paired_bootstrap(np.ones((2, 30), bool), np.zeros((2, 30), bool))
    assert better["diff"] == 1.0 and better["p"] < 0.01 and better["low"] == better["high"] == 1.0
    mixed = np.array([[True, False] * 15] * 2)
    result = paired_bootstrap(mixed, ~mixed)
    assert result["diff"] == 0.0 and result["low"] < 0 < result["high"] and result["p"] > 0.5


def test_bootstrap_interval_brackets_fid_of_shifted_sets():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(60, 8)), rng.normal(size=(60, 8)) + 1.0
    low, high = bootstrap_interval(fid_from_features, real, fake, resamples=50)
    assert low < fid_from_features(real, fake) < high


def test_one_seed_verdict_is_the_exact_mcnemar_test():
    # 60 images, 4 discordant all one way: no test on them can go below 2 / 2^4.
    a = np.zeros((1, 60), bool)
    b = a.copy()
    a[0, :4] = True
    assert paired_bootstrap(a, b)["p"] == pytest.approx(mcnemar_exact(a[0], b[0])) == pytest.approx(0.125)


def test_fid_interval_holds_the_estimate_in_high_dimension():
    # Resampling duplicates rows and pushes FID up; the basic interval reflects that away.
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(60, 256)), rng.normal(size=(60, 256)) + 0.3
    low, high = bootstrap_interval(fid_from_features, real, fake, resamples=40, lower_bound=0.0)
    assert low <= fid_from_features(real, fake) <= high


def test_sign_flip_is_exact_beyond_16_images():
    # 30 vs 2 discordant images with one seed: the exact McNemar p is 2.46e-7; the
    # Monte Carlo test this replaces could not go below 1 / 10001.
    a, b = np.zeros((1, 100), bool), np.zeros((1, 100), bool)
    a[0, :30], b[0, 30:32] = True, True
    p = paired_bootstrap(a, b)["p"]
    assert p == pytest.approx(mcnemar_exact(a[0], b[0]), rel=1e-9) and p == pytest.approx(2.4623e-7, rel=1e-3)


@pytest.mark.parametrize("seeds", [2, 3])
def test_sign_flip_with_seeds_matches_every_sign_pattern(seeds):
    rng = np.random.default_rng(seeds)
    for _ in range(5):
        a, b = rng.random((seeds, 14)) < 0.7, rng.random((seeds, 14)) < 0.5
        per_image = (a.astype(float) - b).mean(axis=0)
        nonzero = per_image[per_image != 0]
        signs = ((np.arange(2 ** nonzero.size)[:, None] >> np.arange(nonzero.size)) & 1) * 2 - 1
        brute = np.mean(np.abs(signs @ nonzero) >= abs(nonzero.sum()) - 1e-9)
        assert sign_flip_p(per_image, seeds=seeds) == pytest.approx(brute, rel=1e-12)


def test_sign_flip_exact_on_many_images_agrees_with_the_normal_limit():
    # 5 seeds, 3000 test images: T = sum(±k) is close to normal with variance sum(k^2).
    rng = np.random.default_rng(0)
    steps = rng.integers(-5, 6, 3000)
    steps[:40] = 5                                       # a small positive shift
    p = sign_flip_p(steps / 5, seeds=5)
    nonzero = steps[steps != 0]
    z = abs(nonzero.sum()) / math.sqrt((nonzero.astype(float) ** 2).sum())
    assert p == pytest.approx(2 * stats.norm.sf(z), rel=0.05) and 1e-4 < p < 0.5
    assert sign_flip_p(np.full(3000, 0.2), seeds=5) == 0.0   # 2 / 2^3000 underflows: no pattern but two


def test_sign_flip_with_seeds_drops_values_that_round_to_zero():
    # 1e-7 is within rounding of 0 on the 1/3 grid: left are +1 and -2 steps, so |T| >= 1 always.
    assert sign_flip_p(np.array([1e-7, 1 / 3, -2 / 3]), seeds=3) == 1.0


def test_paired_t_against_scipy_and_edge_cases():
    from scipy import stats as sps

    from dg2bench.metrics.statistics import paired_t, signs_disagree

    result = paired_t([0.15, 0.117, -0.05])
    assert result["p"] == pytest.approx(sps.ttest_1samp([0.15, 0.117, -0.05], 0).pvalue)
    assert result["diff"] == pytest.approx(0.0723333, rel=1e-5) and result["seeds"] == 3
    assert result["low"] < 0 < result["high"]
    assert math.isnan(paired_t([0.2])["p"])                       # one seed: no method-level test
    # Tied seeds give no spread to test against: no verdict (a p of 0 rejected true nulls).
    assert math.isnan(paired_t([0.1, 0.1])["p"]) and math.isnan(paired_t([0.0, 0.0])["p"])
    assert signs_disagree([0.2, -0.1]) and not signs_disagree([0.2, 0.0, 0.1])


def test_minimal_detectable_effect_hand_values():
    from dg2bench.metrics.power import minimal_detectable_effect, paired_t_power

    # Power at the MDE is 80 %; the normal approximation (z_.975 + z_.8) sd / sqrt(n)
    # is the large-sample limit, and with few seeds the t makes it larger.
    mde = minimal_detectable_effect(1.0, 100)
    assert paired_t_power(mde, 1.0, 100) == pytest.approx(0.8, abs=1e-6)
    assert mde == pytest.approx((1.959964 + 0.841621) / 10, rel=0.01)
    assert minimal_detectable_effect(1.0, 3) > 1.5 * (1.959964 + 0.841621) / 3 ** 0.5   # 2 df: far wider
    assert math.isnan(minimal_detectable_effect(1.0, 1))


def test_replicate_difference_shares_the_real_resample():
    from dg2bench.metrics.fid import fid_from_features
    from dg2bench.metrics.statistics import bootstrap_replicates, replicate_difference

    rng = np.random.default_rng(0)
    real = rng.normal(size=(40, 8))
    a, b = rng.normal(0.3, 1, (60, 8)), rng.normal(0.6, 1, (60, 8))
    ra = bootstrap_replicates(fid_from_features, real, a, 200)
    rb = bootstrap_replicates(fid_from_features, real, b, 200)
    shared = replicate_difference(fid_from_features(real, b), fid_from_features(real, a), rb, ra)
    # Unpaired (different real resamples) the real set's noise is counted twice.
    rb_other = bootstrap_replicates(fid_from_features, real, b, 200, real_seed=7)
    unpaired = replicate_difference(0, 0, rb_other, ra)
    assert shared["se"] < unpaired["se"]
    assert shared["diff"] > 0 and shared["p"] < 0.05
    assert math.isnan(replicate_difference(1.0, 0.0, [], [])["p"])
